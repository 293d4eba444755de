"""Who a request is from, without a database read per request.

Sessions and accounts live in `users.sqlite`, which `svduty users` changes from another process
while the server runs. Reading them afresh at every request made each page open SQLite twice;
here the answers are kept in memory and all of them dropped whenever the file has changed. The
check is a `stat` and the 4-byte change counter SQLite writes into the file's header at every
commit (so two changes within one tick of the file system's clock are still seen): a disabled
user, a removed one or an ended session is out at the very next request, as before.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from svduty.web.accounts import USERS_FILE, User, find_user
from svduty.web.sessions import Session, Sessions

KEPT = 10_000
"""Sessions and users remembered at most (past that, all are forgotten and read again)."""

Stamp = tuple[int, ...] | None
_UNKNOWN: Any = object()


def stamp(path: Path) -> Stamp:
    """What changes whenever a commit changes the SQLite file (or its write-ahead log)."""
    try:
        with open(path, "rb") as handle:
            found = os.fstat(handle.fileno())
            header = handle.read(100)
    except FileNotFoundError:
        return None
    counter = int.from_bytes(header[24:28], "big") if len(header) >= 28 else -1
    parts = [found.st_ino, found.st_mtime_ns, found.st_size, counter]
    try:
        wal = os.stat(f"{path}-wal")
        parts += [wal.st_ino, wal.st_mtime_ns, wal.st_size]
    except FileNotFoundError:
        pass
    return tuple(parts)


class Known:
    """The sessions and users asked about since `users.sqlite` last changed."""

    def __init__(self, root: Path, signer: Sessions) -> None:
        self.root = root
        self.signer = signer
        self._lock = threading.Lock()
        self._stamp: Stamp = None
        self._sessions: dict[str, Any] = {}  # a cookie's (session, expiry), or None
        self._users: dict[str, Any] = {}  # a name's user, or None

    def _fresh(self) -> Stamp:
        """The file's stamp, everything remembered dropped if it differs from the last one."""
        now = stamp(self.root / USERS_FILE)
        with self._lock:
            if now != self._stamp or len(self._sessions) + len(self._users) > KEPT:
                self._stamp = now
                self._sessions.clear()
                self._users.clear()
        return now

    def peek(self, cookie: str | None) -> tuple[Session | None, User | None] | None:
        """The answer `who` would give, if it needs no database read (None: it does)."""
        if not cookie:
            return None, None
        seen = self._fresh()
        with self._lock:
            if self._stamp != seen:
                return None
            kept = self._sessions.get(cookie, _UNKNOWN)
            if kept is _UNKNOWN:
                return None
            if kept is None:
                return None, None
            session, expires = kept
            user = self._users.get(session.user, _UNKNOWN)
        if user is _UNKNOWN:
            return None
        if expires < time.time():
            return None, None
        return session, user

    def who(self, cookie: str | None) -> tuple[Session | None, User | None]:
        """The request's session and its user (None, None: not signed in, or no longer)."""
        if not cookie:
            return None, None
        seen = self._fresh()  # taken before any read, so a change during the read is seen next
        with self._lock:
            kept = self._sessions.get(cookie, _UNKNOWN)
        if kept is _UNKNOWN:
            kept = self.signer.lookup(cookie)
            self._keep(seen, self._sessions, cookie, kept)
        if kept is None or kept[1] < time.time():
            return None, None
        session = kept[0]
        with self._lock:
            user = self._users.get(session.user, _UNKNOWN)
        if user is _UNKNOWN:
            user = find_user(self.root, session.user)
            self._keep(seen, self._users, session.user, user)
        return session, user

    def _keep(self, seen: Stamp, into: dict[str, Any], key: str, value: object) -> None:
        with self._lock:
            if self._stamp == seen:  # not kept when the file changed while it was read
                into[key] = value
