"""The restricted identifiers store: who each record is about, apart from the analytic tables.

Identifiers a mapping declares (names, date of birth, postcode, NHS number...) are kept in
`identifiers.duckdb` in the workspace, one row per record: its id (batch id and source line, as
the analytic tables name records, so the record's person key is found there) and identifiers.
Nothing else in svduty reads this file: the analytic tables, reports, exports and the dashboard
hold person keys only.

Reading goes through `read`, which requires the workspace's actor to be an analyst (or admin)
of the workspace's accounts and records every read in the audit log: who, which batches or
records, how many rows and which fields (never a value). A refused read is audited too.

The file is written by the workspace's one writer, batch by batch, before the batch commits in
the main database (DuckDB commits one database file per transaction): a writer killed between
the two commits leaves rows of a batch that never committed, which the next writer removes on
opening (`reconcile`), and readers only ever see rows of committed batches.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from svduty.errors import InputError, WorkspaceError
from svduty.identity.normalise import IDENTIFIER_FIELDS
from svduty.settings import load_settings

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from svduty.workspace import Workspace

IDENTIFIERS_FILE = "identifiers.duckdb"
SCHEMA_VERSION = 1
READER_ROLES = ("analyst", "admin")
OPEN_WAIT = 30.0
"""Seconds a read waits for the writer to finish writing a batch's identifiers."""

COLUMNS: dict[str, str] = {
    "batch_id": "INTEGER NOT NULL",
    "source_line": "BIGINT NOT NULL",
    **{f.name: ("DATE" if f.kind == "date" else "VARCHAR") for f in IDENTIFIER_FIELDS},
}
_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS identifiers (
    {", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())},
    PRIMARY KEY (batch_id, source_line)
);
INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
"""


class IdentifiersDenied(WorkspaceError):
    """The actor may not read identifiers."""


def restrict(path: Path) -> None:
    """Make a file of identifiers (or of what they yield) readable by its owner only, with its
    DuckDB write-ahead log: the workspace folder is shared with its readers, and a file anyone
    can open bypasses every role check."""
    for each in (path, path.with_name(path.name + ".wal")):
        if each.exists():
            each.chmod(0o600)


def _connect(root: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The identifiers file, within the workspace's memory limit and threads."""
    path = root / IDENTIFIERS_FILE
    config = load_settings(root).duckdb_config()
    if read_only:
        return duckdb.connect(str(path), read_only=True, config=config)
    con = duckdb.connect(str(path), config=config)
    restrict(path)
    con.execute(_DDL)
    restrict(path)
    return con


# -- the writer's side (called by ingest, under the writer lock) --------------------------------


def store_batch(root: Path, batch_id: int, rows: pa.RecordBatchReader) -> int:
    """Replace the batch's rows with `rows` (batch_id, source_line and identifier columns) in
    one transaction of the identifiers file; the number stored."""
    with closing(_connect(root)) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM identifiers WHERE batch_id = ?", [batch_id])
            names = [n for n in rows.schema.names if n in COLUMNS]
            listed = ", ".join(names)
            con.register("_identifier_rows", rows)
            con.execute(f"INSERT INTO identifiers ({listed}) SELECT {listed} FROM _identifier_rows")
            con.unregister("_identifier_rows")
            [(stored,)] = con.execute(
                "SELECT count(*) FROM identifiers WHERE batch_id = ?", [batch_id]
            ).fetchall()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return int(stored)


def discard(root: Path, batch_id: int) -> None:
    """Remove a batch's rows after its main transaction rolled back."""
    if not (root / IDENTIFIERS_FILE).exists():
        return
    with closing(_connect(root)) as con:
        con.execute("DELETE FROM identifiers WHERE batch_id = ?", [batch_id])


def reconcile(root: Path, committed: Iterable[int]) -> int:
    """Remove rows of batches the main database never committed (a writer killed between the
    two commits); the number removed."""
    if not (root / IDENTIFIERS_FILE).exists():
        return 0
    keep = sorted(set(committed))
    with closing(_connect(root)) as con:
        orphans = con.execute(
            "SELECT count(*) FROM identifiers WHERE NOT list_contains(?, batch_id)", [keep]
        ).fetchall()[0][0]
        if orphans:
            con.execute("DELETE FROM identifiers WHERE NOT list_contains(?, batch_id)", [keep])
    return int(orphans)


# -- the reader's side ------------------------------------------------------------------------


def rows_per_batch(workspace: Workspace) -> dict[int, int]:
    """How many records of each committed batch have identifiers stored (counts only, so not
    audited as a read of identifiers)."""
    con = _open_for_reading(workspace)
    if con is None:
        return {}
    with closing(con):
        found = con.execute(
            "SELECT batch_id, count(*) FROM identifiers GROUP BY 1 ORDER BY 1"
        ).fetchall()
    committed = workspace.batch_ids
    return {int(b): int(n) for b, n in found if b in committed}


def read(
    workspace: Workspace,
    records: Iterable[tuple[int, int]] | None = None,
    batches: Iterable[int] | None = None,
    fields: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Identifiers of records (`records`: (batch_id, source_line) pairs) or of whole batches,
    for an analyst; `fields` limits the identifier columns returned. Every call is audited,
    refused ones too."""
    wanted_records = sorted({(int(b), int(line)) for b, line in records or ()})
    wanted_batches = sorted({int(b) for b in batches or ()})
    chosen = list(fields) if fields is not None else [f.name for f in IDENTIFIER_FIELDS]
    unknown = [f for f in chosen if f not in COLUMNS or f in ("batch_id", "source_line")]
    if unknown:
        raise InputError(
            f"fields: unknown identifier(s) {', '.join(unknown)}; identifiers: "
            f"{', '.join(f.name for f in IDENTIFIER_FIELDS)}"
        )
    asked: dict[str, Any] = {
        "records": [f"{b}-{line}" for b, line in wanted_records],
        "batches": wanted_batches,
        "fields": chosen,
    }
    require_reader(workspace, "read identifiers", asked, "identifiers")
    if not wanted_records and not wanted_batches:
        raise InputError("name the records or batches whose identifiers are wanted")
    committed = sorted(workspace.batch_ids)
    columns = ", ".join(["batch_id", "source_line", *chosen])
    con = _open_for_reading(workspace)
    if con is None:
        frame = _empty(chosen)
    else:
        with closing(con):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _wanted AS SELECT * FROM (VALUES (NULL::INTEGER, "
                "NULL::BIGINT)) w(batch_id, source_line) WHERE false"
            )
            if wanted_records:
                con.executemany("INSERT INTO _wanted VALUES (?, ?)", wanted_records)
            frame = con.execute(
                f"SELECT {columns} FROM identifiers i WHERE list_contains($committed, batch_id) "
                "AND (list_contains($batches, batch_id) OR EXISTS (SELECT 1 FROM _wanted w "
                "WHERE w.batch_id = i.batch_id AND w.source_line = i.source_line)) "
                "ORDER BY batch_id, source_line",
                {"committed": committed, "batches": wanted_batches},
            ).df()
    workspace.audit("read identifiers", {**asked, "allowed": True, "rows": len(frame)})
    return frame


def require_reader(workspace: Workspace, action: str, asked: dict[str, Any], what: str) -> None:
    """Refuse an actor who is not an analyst (or admin) of the workspace's accounts; the refusal
    is audited as `action` with what was `asked`."""
    role = _role(workspace)
    if role not in READER_ROLES:
        workspace.audit(action, {**asked, "allowed": False, "role": role})
        raise IdentifiersDenied(
            f"{what} are for analysts: {workspace.actor!r} is "
            f"{'not a user of this workspace' if role is None else f'a {role}'}; an admin can "
            f"add them with `svduty users add {workspace.actor} --role analyst`"
        )


def _empty(chosen: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=["batch_id", "source_line", *chosen])


def _role(workspace: Workspace) -> str | None:
    """The actor's role in the workspace's accounts (None: not a user, or disabled)."""
    from svduty.web.accounts import find_user

    user = find_user(workspace.root, workspace.actor)
    return None if user is None or user.disabled else user.role


def _open_for_reading(workspace: Workspace) -> duckdb.DuckDBPyConnection | None:
    """The identifiers file read-only (None when nothing was ever stored), waiting while the
    writer stores a batch's rows: it holds the file only for that long."""
    path = workspace.root / IDENTIFIERS_FILE
    if not path.exists():
        return None
    deadline = time.monotonic() + OPEN_WAIT
    while True:
        try:
            con = duckdb.connect(":memory:")
            quoted = str(path).replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS ids (READ_ONLY)")
            con.execute("USE ids")
            return con
        except duckdb.IOException as error:
            con.close()
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                reason = str(error).splitlines()[0]
                raise WorkspaceError(f"{path}: cannot be read ({reason})") from error
            time.sleep(0.2)
