"""svduty: a toolkit for Serious Violence Duty partnerships (England and Wales)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from svduty.workspace import Say, Workspace

__version__ = "0.1.0"


def open(
    path: Path | str,
    read_only: bool = False,
    actor: str | None = None,
    wait: float | None = None,
    say: Say | None = None,
) -> Workspace:
    """Open a workspace: `read_only=True` for any number of readers at once (the data as the last
    writer left them), else as its one writer, waiting up to `wait` seconds (default: the
    workspace's `writer_wait` setting) for another to finish. `actor` is who the audit log
    names (default: the operating-system user)."""
    from svduty.workspace import Workspace

    return Workspace.open(Path(path), read_only=read_only, actor=actor, wait=wait, say=say)
