"""A folder made truly read-only, as on a read-only share, with everything in it: by
permissions, or (for root, whom permissions do not stop) by the immutable attribute."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    entries = [folder, *folder.rglob("*")]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, entries)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in entries}
        for path in entries:
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        assert not os.access(folder, os.W_OK), f"{folder} is still writable"
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *map(str, entries)], check=True)
        else:
            for path, mode in modes.items():
                path.chmod(mode)
