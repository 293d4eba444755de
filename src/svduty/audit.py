"""The audit log: who did what to a workspace, with which data and which outputs.

It lives apart from the DuckDB file, in `audit.sqlite` (SQLite in WAL mode with a busy timeout),
because DuckDB lets only one process write a file while every process, readers included, must be
able to append. A folder that cannot be written (a read-only share) cannot hold new rows: that is
said once on standard error and the work goes on.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

AUDIT_FILE = "audit.sqlite"
BUSY_TIMEOUT_MS = 30_000

_DDL = """
CREATE TABLE IF NOT EXISTS audit (
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    parameters TEXT NOT NULL,
    data_version TEXT,
    outputs TEXT NOT NULL,
    engine TEXT,
    svduty_version TEXT
)
"""
COLUMNS = (
    "at", "actor", "action", "parameters", "data_version", "outputs", "engine", "svduty_version",
)  # fmt: skip

_warned: set[Path] = set()


@dataclass(frozen=True)
class Entry:
    at: str
    actor: str
    action: str
    parameters: dict[str, Any]
    data_version: str | None
    outputs: list[dict[str, str]]
    engine: str | None
    svduty_version: str | None

    def row(self) -> tuple[Any, ...]:
        return (
            self.at, self.actor, self.action, json.dumps(self.parameters, default=str),
            self.data_version, json.dumps(self.outputs), self.engine, self.svduty_version,
        )  # fmt: skip


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def sha256_of(path: Path) -> str:
    """A file's SHA-256, read a megabyte at a time (inputs may be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def output_digests(paths: Iterable[Path | str]) -> list[dict[str, str]]:
    """Each output file's absolute path and SHA-256, so a published file can be checked later."""
    resolved = [Path(path).resolve() for path in paths]
    return [{"path": str(path), "sha256": sha256_of(path)} for path in resolved]


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        con.execute("PRAGMA journal_mode = WAL")
    con.execute(_DDL)
    return con


def connect(root: Path) -> sqlite3.Connection:
    """The workspace's audit log, for a writer that appends many times (`append_on`)."""
    return _connect(root / AUDIT_FILE)


def append_on(con: sqlite3.Connection, entries: list[Entry]) -> None:
    """Append rows in one transaction on an open connection (`connect`)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        con.executemany(
            f"INSERT INTO audit VALUES ({', '.join('?' * len(COLUMNS))})",
            [e.row() for e in entries],
        )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def append(root: Path, entries: list[Entry], say: Callable[[str], None] | None = None) -> bool:
    """Append rows in one transaction; False (said once per workspace) when the folder cannot
    be written."""
    path = root / AUDIT_FILE
    try:
        with closing(_connect(path)) as con:
            append_on(con, entries)
        return True
    except sqlite3.OperationalError as error:
        key = path.resolve()
        if key not in _warned:
            _warned.add(key)
            (say or _stderr)(
                f"{path}: cannot write the audit log ({error}); this folder is read-only, so "
                "this run is not audited"
            )
        return False


def replace_migrated(root: Path, entries: list[Entry]) -> None:
    """Rows copied from an older workspace's own audit table, replacing any copied before (so a
    migration that is run again does not double them)."""
    with closing(_connect(root / AUDIT_FILE)) as con:
        con.execute("BEGIN IMMEDIATE")
        con.execute("DELETE FROM audit WHERE json_extract(parameters, '$.migrated') = 1")
        con.executemany(
            f"INSERT INTO audit VALUES ({', '.join('?' * len(COLUMNS))})",
            [e.row() for e in entries],
        )
        con.execute("COMMIT")


def read(root: Path) -> pd.DataFrame:
    """Every row, oldest first (empty when nothing was audited yet)."""
    import pandas as pd

    path = root / AUDIT_FILE
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        con.execute("SELECT 1 FROM audit LIMIT 1").fetchall()
    except sqlite3.OperationalError:  # WAL files cannot be made on a read-only share
        con = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    with closing(con):
        return pd.read_sql_query(f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY rowid", con)


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
