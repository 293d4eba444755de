"""Who a request is from: a session kept on the server, named by a signed, HttpOnly,
SameSite=Strict cookie that expires, with the CSRF token every form must return; and a limit on
failed logins.

The signing key is `web-secret.key` in the workspace (made on first use, readable by its owner
only), so sessions outlive a restart; a workspace that cannot be written gets a key for the life
of the process, and its users sign in again after a restart.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections import defaultdict, deque
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from svduty.web.accounts import USERS_FILE

SECRET_FILE = "web-secret.key"
COOKIE = "svduty_session"
LOGIN_COOKIE = "svduty_login"
SESSION_SECONDS = 8 * 3600
LOGIN_FAILURES = 5
"""Failed logins allowed for one name from one address within LOGIN_WINDOW seconds."""
LOGIN_WINDOW = 15 * 60
_DDL = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL, expires REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str


def secret_key(root: Path) -> str:
    path = root / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(key)
    except FileExistsError:  # another server made it first
        return path.read_text().strip()
    except OSError:
        pass  # a read-only workspace: this process's key only
    return key


class Sessions:
    """Sessions kept server-side (in `users.sqlite`), so signing out or disabling a user ends
    them at once; the cookie carries only the session's signed id."""

    def __init__(self, root: Path, key: str) -> None:
        self.root = root
        self._cookie = URLSafeTimedSerializer(key, salt="svduty-session")
        self._login = URLSafeTimedSerializer(key, salt="svduty-login")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.root / USERS_FILE, timeout=30)
        con.execute(_DDL)
        return con

    def start(self, user: str) -> str:
        """A new session for `user`; the cookie's value."""
        made = secrets.token_urlsafe(24)
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            con.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)",
                (made, user, secrets.token_urlsafe(24), time.time() + SESSION_SECONDS),
            )
        return self._cookie.dumps(made)

    def read(self, cookie: str | None) -> Session | None:
        found = self.lookup(cookie)
        return found[0] if found else None

    def lookup(self, cookie: str | None) -> tuple[Session, float] | None:
        """The cookie's session and when it expires (seconds since the epoch), if it is live."""
        if not cookie:
            return None
        try:
            made = self._cookie.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT user, csrf, expires FROM sessions WHERE id = ? AND expires >= ?",
                (str(made), time.time()),
            ).fetchone()
        return (Session(row[0], row[1]), float(row[2])) if row else None

    def end(self, cookie: str | None) -> None:
        if not cookie:
            return
        try:
            made = self._cookie.loads(cookie)
        except BadSignature:
            return
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM sessions WHERE id = ?", (str(made),))

    def login_token(self) -> tuple[str, str]:
        """A token for the login form and the signed cookie that must come back with it."""
        token = secrets.token_urlsafe(24)
        return token, self._login.dumps(token)

    def login_token_matches(self, cookie: str | None, token: str) -> bool:
        if not cookie or not token:
            return False
        try:
            expected = self._login.loads(cookie, max_age=3600)
        except BadSignature:
            return False
        return secrets.compare_digest(str(expected), token)


class LoginLimiter:
    """Failed logins by (address, name) over a sliding window."""

    def __init__(self, limit: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        seen = self._failures[key]
        while seen and seen[0] < time.monotonic() - self.window:
            seen.popleft()
        return seen

    def blocked(self, address: str, name: str) -> bool:
        return len(self._recent((address, name.lower()))) >= self.limit

    def failed(self, address: str, name: str) -> None:
        self._recent((address, name.lower())).append(time.monotonic())

    def succeeded(self, address: str, name: str) -> None:
        self._failures.pop((address, name.lower()), None)
