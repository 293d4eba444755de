"""The partnership's recommendations: a Markdown file in the workspace that the SNA includes as
written, dated by its last change. svduty never edits it; a report without one says where to
write it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from svduty.errors import InputError
from svduty.settings import SETTINGS_FILE, Settings

MAX_BYTES = 1 << 20  # a board paper, not a data file


def read_recommendations(root: Path, settings: Settings) -> dict[str, Any]:
    """The file's name, text, date of last change and SHA-256; `text` None when there is none."""
    name = settings.recommendations
    path = root / name if name else None
    found: dict[str, Any] = {"file": name, "setting": "recommendations", "text": None}
    if path is None or not path.exists():
        return found
    if not path.is_file():
        raise InputError(f"{root / SETTINGS_FILE}: recommendations names {path}, not a file")
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise InputError(
            f"{path}: {len(data):,} bytes; recommendations are a Markdown board paper of at most "
            f"{MAX_BYTES:,} bytes"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: byte {error.start} is not UTF-8; save the recommendations as UTF-8 text"
        ) from error
    changed = datetime.fromtimestamp(path.stat().st_mtime)
    return {
        **found,
        "text": text,
        "date": changed.strftime("%Y-%m-%d"),
        "changed": changed.isoformat(timespec="seconds"),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
