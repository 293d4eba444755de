"""Where reports land: names that say what a file holds, and a manifest of what each run wrote.

A report's files share one name, `<report>-<area>-<from>-to-<to>[-<definition>][-internal]`,
so reports of different areas, periods, definitions or publication policies never share a
file. Internal builds (nothing hidden, NOT FOR PUBLICATION) go to `internal/` below the output
folder, and a folder that holds one kind refuses the other, so an internal file never sits
beside a published one.

A run stages its files in the output folder, then, holding the folder's lock, renames each into
place (nobody sees half a file), deletes the files of the same report that this run did not
write (an earlier PDF is not left beside a newer HTML) and records what it wrote in the folder's
`manifest.json`: one entry per report, replaced by each run of that report, with every file's
size and SHA-256, the selection, the policy, the run, the time and svduty's version."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from svduty import __version__
from svduty.audit import sha256_of
from svduty.errors import InputError

MANIFEST = "manifest.json"
INTERNAL_FOLDER = "internal"
_LOCK = ".manifest.lock"
_FORMAT = 1


def slug(text: str) -> str:
    """Lower case, runs of anything but letters and digits as one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def period_label(start: str | None, end: str | None) -> str:
    """`2025-04-to-2025-09`; `2025-04-onwards` or `up-to-2025-09` with one bound known,
    `all-months` with none."""
    if start and end:
        return f"{start}-to-{end}"
    if start:
        return f"{start}-onwards"
    return f"up-to-{end}" if end else "all-months"


def report_name(
    report: str,
    area: str,
    period: tuple[str | None, str | None],
    definition: str | None = None,
    internal: bool = False,
) -> str:
    """The name every file of one report starts with."""
    parts = [report, slug(area), period_label(*period)]
    if definition:
        parts.append(slug(definition))
    if internal:
        parts.append("internal")
    return "-".join(parts)


def folder_for(out: Path, internal: bool) -> Path:
    """Internal builds go below the output folder, never into it."""
    return out / INTERNAL_FOLDER if internal else out


def new_run() -> str:
    """An id shared by every report one command writes: UTC time and a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def new_entry(run: str | None, actor: str, **about: Any) -> dict[str, Any]:
    """The manifest entry of one report, before its files are known."""
    return {
        "run": run or new_run(),
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "actor": actor,
        "svduty_version": __version__,
        **about,
    }


@contextmanager
def staging(folder: Path) -> Iterator[Path]:
    """A hidden scratch folder inside `folder` (so files are renamed, not copied, into place),
    removed afterwards whatever happens."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The folder's manifest (an empty one when there is none)."""
    path = folder / MANIFEST
    if not path.exists():
        return {"format": _FORMAT, "reports": {}}
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(
            f"{path}: cannot read the manifest ({error}); move it aside and run again"
        ) from error
    if not isinstance(found, dict) or not isinstance(found.get("reports"), dict):
        raise InputError(f"{path}: not an svduty manifest; move it aside and run again")
    return found


def check_folder(folder: Path, publication: str) -> None:
    """Refuse, before any work, a folder that holds reports of the other kind (published or
    internal)."""
    if (folder / MANIFEST).exists():
        _refuse_mixing(read_manifest(folder), folder, publication)


def _refuse_mixing(manifest: dict[str, Any], folder: Path, publication: str) -> None:
    kinds = {
        e["policy"].get("publication")
        for e in manifest["reports"].values()
        if isinstance(e, dict) and isinstance(e.get("policy"), dict)
    }
    other = sorted(kinds - {publication})
    if other:
        raise InputError(
            f"{folder} holds {other[0]} reports; {publication} reports are written to another "
            "folder, so the two never sit side by side"
        )


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / _LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _any_left(folder: Path, entry: Any) -> bool:
    """Whether any file an entry lists is still in the folder (else the entry is dropped)."""
    files = entry.get("files") if isinstance(entry, dict) else None
    return any(
        isinstance(f, dict) and isinstance(f.get("name"), str) and (folder / f["name"]).is_file()
        for f in files or []
    )


def place(
    staged: dict[str, Path],
    folder: Path,
    name: str,
    suffixes: dict[str, str],
    entry: dict[str, Any],
) -> tuple[dict[str, Path], Path]:
    """Move one report's staged files (kind -> path, named `name` + its kind's suffix) into
    `folder`, delete the report's other files and record the run in the manifest. Returns the
    files' final paths and the manifest's."""
    with _locked(folder):
        manifest = read_manifest(folder)
        _refuse_mixing(manifest, folder, entry["policy"]["publication"])
        files, placed = [], {}
        for kind in (k for k in suffixes if k in staged):  # the order the caller gave
            path = staged[kind]
            target = folder / f"{name}{suffixes[kind]}"
            size, digest = path.stat().st_size, sha256_of(path)
            files.append({"name": target.name, "kind": kind, "bytes": size, "sha256": digest})
            os.replace(path, target)
            placed[kind] = target
        for kind, suffix in suffixes.items():
            if kind not in placed:
                (folder / f"{name}{suffix}").unlink(missing_ok=True)
        reports = {
            key: e for key, e in manifest["reports"].items() if key != name and _any_left(folder, e)
        }
        reports[name] = {**entry, "files": files}
        manifest = {"format": _FORMAT, "reports": dict(sorted(reports.items()))}
        path, temporary = folder / MANIFEST, folder / f".{MANIFEST}.tmp"  # ours while locked
        temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    return placed, path
