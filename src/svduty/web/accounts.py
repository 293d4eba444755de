"""The dashboard's users: a name, an argon2 hash of the password, a role and, for a partner, the
areas they may see.

They live in `users.sqlite` in the workspace folder, beside the audit log and apart from the
DuckDB file, for the same reason: the server opens the data read-only, and the accounts must be
changed while it runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from svduty.audit import now
from svduty.errors import InputError

USERS_FILE = "users.sqlite"
ROLES = ("admin", "analyst", "partner")
"""admin: users and everything an analyst has; analyst: everything, the unsuppressed views and
record look-ups too; partner: published figures only, of their areas where named."""
MIN_PASSWORD = 12
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("a password no account has")
_DDL = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password TEXT NOT NULL,
    role TEXT NOT NULL,
    areas TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    changed TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    areas: tuple[str, ...]  # a partner's areas (CSPs); empty: every area
    disabled: bool

    def may_see(self, area: str | None) -> bool:
        """The whole area (None) is everyone's; a CSP is a scoped partner's only if named."""
        return area is None or self.role != "partner" or not self.areas or area in self.areas


def _connect(root: Path) -> sqlite3.Connection:
    con = sqlite3.connect(root / USERS_FILE, timeout=30)
    con.execute(_DDL)
    return con


def _check(name: str, role: str | None = None, password: str | None = None) -> None:
    if not _NAME.fullmatch(name):
        raise InputError(
            f"user name {name!r}: letters, digits, '.', '_', '@' or '-', up to 64 characters"
        )
    if role is not None and role not in ROLES:
        raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InputError(f"the password needs at least {MIN_PASSWORD} characters")


def add_user(root: Path, name: str, password: str, role: str, areas: tuple[str, ...] = ()) -> User:
    _check(name, role, password)
    if areas and role != "partner":
        raise InputError("only a partner is limited to areas; give --area with --role partner")
    stamp = now()
    with closing(_connect(root)) as con, con:
        same = con.execute(
            "SELECT name FROM users WHERE lower(name) = lower(?)", (name,)
        ).fetchone()
        if same is not None and same[0] != name:
            raise InputError(
                f"user {same[0]!r} exists; a name differing only in case would pass for it"
            )
        try:
            con.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, 0, ?, ?)",
                (name, _HASHER.hash(password), role, json.dumps(list(areas)), stamp, stamp),
            )
        except sqlite3.IntegrityError:
            raise InputError(
                f"user {name!r} exists; use `svduty users set-role` or `reset-password`"
            ) from None
    return User(name, role, tuple(areas), False)


def users(root: Path) -> list[User]:
    if not (root / USERS_FILE).exists():
        return []
    with closing(_connect(root)) as con:
        rows = con.execute("SELECT name, role, areas, disabled FROM users ORDER BY name").fetchall()
    return [User(n, r, tuple(json.loads(a)), bool(d)) for n, r, a, d in rows]


def find_user(root: Path, name: str) -> User | None:
    return next((u for u in users(root) if u.name == name), None)


def _update(root: Path, name: str, column: str, value: object) -> None:
    with closing(_connect(root)) as con, con:
        done = con.execute(
            f"UPDATE users SET {column} = ?, changed = ? WHERE name = ?",
            (value, now(), name),
        )
        if done.rowcount == 0:
            raise InputError(f"no user {name!r}; `svduty users list` shows them")


def set_password(root: Path, name: str, password: str) -> None:
    """A new password; the user's open sessions end with the old one (a reset often follows
    a password's loss)."""
    _check(name, password=password)
    _update(root, name, "password", _HASHER.hash(password))
    _end_sessions(root, name)


def _end_sessions(root: Path, name: str) -> None:
    with closing(_connect(root)) as con, con:
        has_sessions = con.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sessions'"
        ).fetchone()[0]
        if has_sessions:
            con.execute("DELETE FROM sessions WHERE user = ?", (name,))


def set_role(root: Path, name: str, role: str, areas: tuple[str, ...] = ()) -> None:
    _check(name, role)
    if areas and role != "partner":
        raise InputError("only a partner is limited to areas; give --area with --role partner")
    _update(root, name, "role", role)
    _update(root, name, "areas", json.dumps(list(areas)))


def set_disabled(root: Path, name: str, disabled: bool = True) -> None:
    """Disabled, the user cannot sign in, and their open sessions end at their next request
    (the server checks the account on every request)."""
    _update(root, name, "disabled", int(disabled))


def authenticate(root: Path, name: str, password: str) -> User | None:
    """The user, if the password is theirs and the account is enabled. A name no account has
    is checked against a dummy hash, so the time taken does not tell which names exist."""
    row = None
    if (root / USERS_FILE).exists():
        with closing(_connect(root)) as con:
            row = con.execute(
                "SELECT password, role, areas, disabled FROM users WHERE name = ?", (name,)
            ).fetchone()
    try:
        _HASHER.verify(row[0] if row else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row[3]:
        return None
    return User(name, row[1], tuple(json.loads(row[2])), False)


def remove_user(root: Path, name: str) -> None:
    """The user and their sessions, gone."""
    with closing(_connect(root)) as con, con:
        con.execute("DELETE FROM users WHERE name = ?", (name,))
    _end_sessions(root, name)
