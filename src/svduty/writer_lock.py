"""The writer lock: one process at a time may change a workspace.

An exclusive `flock` on `svduty.lock` in the workspace, which holds who took it (actor, pid,
host, command line, since) so a second writer can say whom it waits for. The kernel drops the
lock when its process dies; the record stays behind, which tells the next opener that a writer
stopped before it finished (and the read copy must be brought up to date). A lock still held
although its recorded process is gone (a child that inherited the descriptor) is taken over.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from svduty.errors import WorkspaceError

LOCK_FILE = "svduty.lock"

_HELD: dict[Path, WriterLock] = {}
"""Locks this process holds, by lock file: a second writer in the same process would wait for
itself, so it is refused at once."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the writer lock."""

    actor: str
    pid: int
    host: str
    command: str
    action: str
    since: str  # UTC, ISO 8601

    @classmethod
    def now(cls, actor: str, action: str | None = None) -> Holder:
        return cls(
            actor=actor,
            pid=os.getpid(),
            host=socket.gethostname(),
            command=" ".join(sys.argv),
            action=action or action_of(sys.argv),
            since=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def _when(self) -> str:
        """The start in local time: '14:02' today, else with its date."""
        try:
            since = datetime.fromisoformat(self.since).astimezone()
        except ValueError:
            return self.since or "an unknown time"
        today = since.date() == datetime.now().date()
        return since.strftime("%H:%M" if today else "%Y-%m-%d %H:%M")

    def _who(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"{self.actor} (pid {self.pid}{where})"

    def describe(self) -> str:
        """'ingest is running since 14:02 by alice (pid 123)'."""
        return f"{self.action} is running since {self._when()} by {self._who()}"

    def started(self) -> str:
        """'ingest started 14:02 by alice (pid 123)'."""
        return f"{self.action} started {self._when()} by {self._who()}"

    def process_gone(self) -> bool:
        """True only when the holder ran on this machine and its process no longer exists."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def action_of(argv: list[str]) -> str:
    """The svduty command a process runs ('ingest'), or a plain description of a script."""
    if argv and Path(argv[0]).name in ("svduty", "cli.py"):
        words = [a for a in argv[1:] if not a.startswith("-")]
        if words:
            return words[0]
    return "svduty write session"


def _read_holder(fd: int) -> Holder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 1 << 16).decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        raw = json.loads(text)
        fields = {k: str(raw.get(k, "")) for k in Holder.__dataclass_fields__ if k != "pid"}
        return Holder(**fields, pid=int(raw.get("pid") or 0))
    except (ValueError, TypeError, AttributeError):
        return Holder("unknown", 0, "", "", "a writer", "")


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


class WriterLock:
    """The exclusive writer lock of one workspace."""

    def __init__(self, root: Path) -> None:
        self.path = (root / LOCK_FILE).resolve()
        self._fd: int | None = None

    def acquire(self, holder: Holder, wait: float, say: Callable[[str], None]) -> Holder | None:
        """Take the lock, waiting up to `wait` seconds for another writer. Returns the record of
        a writer that stopped before it finished (its lock was free, or taken over), if any."""
        if self.path in _HELD:
            raise WorkspaceError(
                f"{self.path.parent}: this process already has the workspace open for writing; "
                "close that Workspace first (or use it)"
            )
        deadline = time.monotonic() + wait
        announced = False
        taken_over: Holder | None = None
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o664)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = _read_holder(fd)
                if other is not None and other.process_gone():
                    if self._take_over(fd, other, say):
                        taken_over = other
                    os.close(fd)
                    continue
                os.close(fd)
                described = other.describe() if other else "writer is running"
                if time.monotonic() >= deadline:
                    raise WorkspaceError(
                        f"{self.path.parent}: another {described}; waited {wait:g} s, try again "
                        "when it finishes"
                    ) from None
                if not announced:
                    say(f"another {described}; waiting (up to {wait:g} s)")
                    announced = True
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
                continue
            if not _same_file(fd, self.path):  # replaced by a take-over while we waited
                os.close(fd)
                continue
            stopped = _read_holder(fd) or taken_over
            self._write(fd, holder)
            self._fd = fd
            _HELD[self.path] = self
            return stopped

    def _take_over(self, fd: int, other: Holder, say: Callable[[str], None]) -> bool:
        """Unlink a lock file whose holder's process is gone, so a fresh one can be taken; under
        a mutex so two processes cannot both take over. False: another process took it over
        first (and the caller starts again)."""
        mutex = os.open(
            self.path.parent / (LOCK_FILE + ".takeover"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        )
        try:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            if not _same_file(fd, self.path) or _read_holder(fd) != other:
                return False
            self.path.unlink()
            say(f"taking over the writer lock of {other.started()}: that process is gone")
            return True
        finally:
            os.close(mutex)

    @staticmethod
    def _write(fd: int, holder: Holder) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        os.fsync(fd)

    def release(self, finished: bool) -> None:
        """Drop the lock. `finished`: the session ended cleanly (its read copy is published), so
        the record is cleared; otherwise it stays for the next writer to act on."""
        if self._fd is None:
            return
        try:
            if finished:
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None
            _HELD.pop(self.path, None)


def writer_state(root: Path) -> tuple[str, Holder | None]:
    """What a reader needs to know, without waiting: 'idle' (no writer, the last one finished),
    'active' (a writer holds the lock) or 'stopped' (the last writer stopped before finishing)."""
    path = (root / LOCK_FILE).resolve()
    if path in _HELD:
        return "active", None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return "idle", None
    try:
        holder = _read_holder(fd)
        if holder is None:
            return "idle", None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "active", holder
        if _read_holder(fd) is None:  # finished between the two reads
            return "idle", None
        return "stopped", holder
    finally:
        os.close(fd)
