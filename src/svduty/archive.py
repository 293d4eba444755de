"""Zip archives read safely: members are streamed, never extracted by the names they carry.

A member's name is only a label. Each member svduty reads is copied as a stream into a file the
tool names itself (`member-0001.csv` in a scratch folder), so an absolute name, `..` or a symlink
can never make svduty read or write anything outside the archive. Names that try to (absolute,
`..`, a drive letter, backslash traversal, a symlink) are refused outright, because an archive
holding them was crafted or broken. Sizes are bounded twice: by the sizes the archive declares,
before anything is read, and by counting the bytes actually decompressed, so a header that lies
cannot get past the limits either.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from svduty.errors import InputError

GIB = 1 << 30
CHUNK = 1 << 16
"""Bytes asked of the decompressor at a time: deflate then never inflates more than this."""
READABLE_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
"""Python's bzip2 and LZMA readers inflate a whole compressed block at once, without a bound,
so only stored and deflated members (what data.police.uk and every common tool write) are read."""

_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError, OSError)
"""What Python's zipfile raises on a broken or crafted member (OSError: a header offset that
points before the file's start)."""


_DRIVE = re.compile(r"^[A-Za-z]:")


class CorruptArchive(InputError):
    """The archive or one of its members cannot be decoded (a broken download or a crafted
    file): worth fetching again, unlike an archive refused for what it holds."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Ceilings on what one archive may expand to (the workspace settings of the same names)."""

    archive_member_max_bytes: int = 2 * GIB
    archive_max_bytes: int = 20 * GIB


@dataclass(frozen=True)
class Member:
    """A member read from an archive: its name in the archive and the file holding its bytes."""

    name: str
    path: Path


def unsafe_name(name: str, info: zipfile.ZipInfo) -> str | None:
    """Why a member's name (or type) is refused, or None when it is a plain relative file."""
    if not name:
        return "has no name"
    if _is_symlink(info):
        return "is a symbolic link"
    if "\x00" in name:
        return "has a NUL byte in its name"
    if name.startswith(("/", "\\")):
        return "has an absolute path"
    if _DRIVE.match(name):
        return "names a drive (e.g. C:)"
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        kind = "backslash " if "\\" in name else ""
        return f"climbs out of the archive ({kind}'..' in its path)"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """Symlink bits in the Unix mode, whatever system the archive says made it."""
    return stat.S_ISLNK(info.external_attr >> 16)


def read_members(
    archive: Path,
    scratch: Path,
    wanted: Callable[[str], bool],
    limits: ArchiveLimits | None = None,
) -> list[Member]:
    """Copy the members whose name `wanted` accepts into tool-named files in `scratch`.

    Every member's name is checked first (all problems reported at once), then the declared
    sizes, then each wanted member is streamed with its bytes counted. Nothing is returned
    unless every wanted member was read whole and intact."""
    limits = limits or ArchiveLimits()
    scratch.mkdir(parents=True, exist_ok=True)
    with _open_archive(archive) as zipped:
        infos = zipped.infolist()
        problems = [
            f"  {info.filename!r} {why}"
            for info in infos
            if (why := unsafe_name(info.filename, info)) is not None
        ]
        if problems:
            raise InputError(
                f"{archive}: refused, {len(problems)} member(s) with unsafe names "
                "(nothing was read from the archive):\n" + "\n".join(problems)
            )
        chosen = sorted(
            (i for i in infos if not i.is_dir() and wanted(i.filename)),
            key=lambda i: i.filename,
        )
        _check_declared(archive, chosen, limits)
        members, total = [], 0
        for number, info in enumerate(chosen, start=1):
            target = scratch / f"member-{number:04d}{Path(info.filename).suffix.lower()}"
            total += _copy_member(archive, zipped, info, target, limits, total)
            members.append(Member(info.filename, target))
        return members


def _open_archive(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except IsADirectoryError as error:
        raise InputError(f"{archive}: cannot be read ({error})") from error
    except (*_CORRUPT, NotImplementedError) as error:
        raise CorruptArchive(f"{archive}: not a readable zip archive ({error})") from error


def _check_declared(archive: Path, chosen: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    problems = []
    for info in chosen:
        if info.compress_type not in READABLE_COMPRESSION:
            problems.append(
                f"  {info.filename!r}: compression method {info.compress_type} is not read "
                "(re-pack the archive with deflate)"
            )
        if info.flag_bits & 0x1:
            problems.append(f"  {info.filename!r}: encrypted (give the file unencrypted)")
        if info.file_size > limits.archive_member_max_bytes:
            problems.append(
                f"  {info.filename!r}: declares {info.file_size:,} bytes, over the limit of "
                f"{limits.archive_member_max_bytes:,} (setting archive_member_max_bytes)"
            )
    declared = sum(info.file_size for info in chosen)
    if declared > limits.archive_max_bytes:
        problems.append(
            f"  the members declare {declared:,} bytes in all, over the limit of "
            f"{limits.archive_max_bytes:,} (setting archive_max_bytes)"
        )
    if problems:
        raise InputError(f"{archive}: refused (nothing from it is stored):\n" + "\n".join(problems))


def _copy_member(
    archive: Path,
    zipped: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    limits: ArchiveLimits,
    before: int,
) -> int:
    """Stream one member into `target`, counting bytes against both limits; its size."""
    where = f"{archive}!{info.filename}"
    written = 0
    try:
        with _member_stream(where, zipped, info) as stream, target.open("wb") as handle:
            while block := _read_block(where, stream):
                written += len(block)
                if written > limits.archive_member_max_bytes:
                    raise InputError(
                        f"{where}: expands past {limits.archive_member_max_bytes:,} bytes, the "
                        "limit per member (setting archive_member_max_bytes); nothing from the "
                        "archive is stored"
                    )
                if before + written > limits.archive_max_bytes:
                    raise InputError(
                        f"{archive}: expands past {limits.archive_max_bytes:,} bytes, the limit "
                        f"per archive (setting archive_max_bytes), at {info.filename!r}; nothing "
                        "from it is stored"
                    )
                try:
                    handle.write(block)
                except OSError as error:
                    raise InputError(
                        f"{where}: cannot be copied to the temp folder ({error}); free space "
                        "there or point TMPDIR elsewhere"
                    ) from error
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return written


def _member_stream(where: str, zipped: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    try:
        return zipped.open(info)
    except _CORRUPT as error:
        raise _corrupt(where, error) from error
    except (NotImplementedError, RuntimeError) as error:
        raise InputError(
            f"{where}: cannot be read ({error}); nothing from the archive is stored"
        ) from error


def _read_block(where: str, stream: IO[bytes]) -> bytes:
    try:
        return stream.read(CHUNK)
    except _CORRUPT as error:
        raise _corrupt(where, error) from error


def _corrupt(where: str, error: Exception) -> CorruptArchive:
    return CorruptArchive(
        f"{where}: the member is corrupt ({error}); nothing from the archive is stored. "
        "Download or re-pack the archive and ingest it again"
    )
