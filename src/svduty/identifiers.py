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

A pseudonymised extract made with `--encoding bloom` brings no identifier but its Bloom filters
and encoded blocking keys (svduty.linkage.bloom): an encoding of identifiers, so they are kept
here too, in `encodings` (base64 text, as the extract holds them), with the note of each batch
saying which partnership key and parameters made them (`encoding_notes`). They are read through
`read_encodings`, audited as reads of identifiers are.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from svduty.errors import InputError, WorkspaceError
from svduty.identity.normalise import IDENTIFIER_FIELDS
from svduty.linkage.bloom import BLOCK_KEYS, SUFFIX
from svduty.settings import load_settings

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from svduty.web.accounts import User
    from svduty.workspace import Workspace

IDENTIFIERS_FILE = "identifiers.duckdb"
SCHEMA_VERSION = 2
"""2: the encodings of a Bloom-encoded extract (tables made when missing, so a file of
version 1 gains them when the writer next opens it)."""
READER_ROLES = ("analyst", "admin")
OPEN_WAIT = 30.0
"""Seconds a read waits for the writer to finish writing a batch's identifiers."""

COLUMNS: dict[str, str] = {
    "batch_id": "INTEGER NOT NULL",
    "source_line": "BIGINT NOT NULL",
    **{f.name: ("DATE" if f.kind == "date" else "VARCHAR") for f in IDENTIFIER_FIELDS},
}
ENCODED: tuple[str, ...] = (
    *(f.name + SUFFIX for f in IDENTIFIER_FIELDS),
    *(b.name for b in BLOCK_KEYS),
)
"""The encoding columns a batch may bring: a filter per identifier, the encoded blocking keys."""
_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS identifiers (
    {", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())},
    PRIMARY KEY (batch_id, source_line)
);
CREATE TABLE IF NOT EXISTS encodings (
    batch_id INTEGER NOT NULL, source_line BIGINT NOT NULL,
    {", ".join(f"{name} VARCHAR" for name in ENCODED)},
    PRIMARY KEY (batch_id, source_line)
);
CREATE TABLE IF NOT EXISTS encoding_notes (
    batch_id INTEGER PRIMARY KEY, file VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL,
    params VARCHAR NOT NULL, note VARCHAR NOT NULL
);
INSERT OR REPLACE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
"""


TABLES = ("identifiers", "encodings", "encoding_notes")
"""Every table holding rows of a batch."""


@dataclass(frozen=True)
class EncodingNote:
    """Who made a batch's Bloom filters and how: the note line of its extract."""

    file: str
    fingerprint: str
    """The partnership key's fingerprint."""
    params: str
    """The filters' parameters (q, bits, hashes), as the note words them."""
    note: str


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


def store_encodings(
    root: Path, batch_id: int, rows: pa.RecordBatchReader, note: EncodingNote
) -> int:
    """Replace the batch's encodings (batch_id, source_line and `ENCODED` columns) and its note
    in one transaction of the identifiers file; the number of rows stored."""
    with closing(_connect(root)) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for table in ("encodings", "encoding_notes"):
                con.execute(f"DELETE FROM {table} WHERE batch_id = ?", [batch_id])
            names = ["batch_id", "source_line", *(n for n in rows.schema.names if n in ENCODED)]
            listed = ", ".join(names)
            con.register("_encoded_rows", rows)
            con.execute(f"INSERT INTO encodings ({listed}) SELECT {listed} FROM _encoded_rows")
            con.unregister("_encoded_rows")
            con.execute(
                "INSERT INTO encoding_notes VALUES (?, ?, ?, ?, ?)",
                [batch_id, note.file, note.fingerprint, note.params, note.note],
            )
            [(stored,)] = con.execute(
                "SELECT count(*) FROM encodings WHERE batch_id = ?", [batch_id]
            ).fetchall()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return int(stored)


def discard(root: Path, batch_id: int) -> None:
    """Remove a batch's rows (identifiers and encodings) after its main transaction rolled
    back."""
    if not (root / IDENTIFIERS_FILE).exists():
        return
    with closing(_connect(root)) as con:
        for table in TABLES:
            con.execute(f"DELETE FROM {table} WHERE batch_id = ?", [batch_id])


def reconcile(root: Path, committed: Iterable[int]) -> int:
    """Remove rows of batches the main database never committed (a writer killed between the
    two commits); the number removed."""
    if not (root / IDENTIFIERS_FILE).exists():
        return 0
    keep = sorted(set(committed))
    orphans = 0
    with closing(_connect(root)) as con:
        for table in TABLES:
            found = con.execute(
                f"SELECT count(*) FROM {table} WHERE NOT list_contains(?, batch_id)", [keep]
            ).fetchall()[0][0]
            if found:
                con.execute(f"DELETE FROM {table} WHERE NOT list_contains(?, batch_id)", [keep])
            if table != "encoding_notes":
                orphans += int(found)
    return orphans


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


def encodings_per_batch(workspace: Workspace) -> dict[int, int]:
    """How many records of each committed batch have Bloom filters stored (counts only)."""
    con = _open_for_reading(workspace)
    if con is None:
        return {}
    with closing(con):
        if not _has(con, "encodings"):
            return {}
        found = con.execute(
            "SELECT batch_id, count(*) FROM encodings GROUP BY 1 ORDER BY 1"
        ).fetchall()
    committed = workspace.batch_ids
    return {int(b): int(n) for b, n in found if b in committed}


def encoding_notes(workspace: Workspace) -> dict[int, EncodingNote]:
    """The note of each committed batch's encodings: which key and parameters made them (no
    identifier, so not audited)."""
    con = _open_for_reading(workspace)
    if con is None:
        return {}
    with closing(con):
        if not _has(con, "encoding_notes"):
            return {}
        found = con.execute(
            "SELECT batch_id, file, fingerprint, params, note FROM encoding_notes ORDER BY 1"
        ).fetchall()
    committed = workspace.batch_ids
    return {int(b): EncodingNote(*rest) for b, *rest in found if b in committed}


def read_encodings(
    workspace: Workspace, batches: Iterable[int], columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """The Bloom filters (base64) and encoded blocking keys of whole batches, for an analyst;
    `columns` limits those returned. Audited as a read of identifiers, refused ones too."""
    wanted = sorted({int(b) for b in batches})
    chosen = list(ENCODED) if columns is None else list(columns)
    unknown = [c for c in chosen if c not in ENCODED]
    if unknown:
        raise InputError(
            f"columns: unknown encoding(s) {', '.join(unknown)}; encodings: {', '.join(ENCODED)}"
        )
    asked: dict[str, Any] = {"batches": wanted, "fields": chosen}
    require_reader(workspace, "read identifier encodings", asked, "identifier encodings")
    committed = sorted(workspace.batch_ids)
    con = _open_for_reading(workspace)
    if con is None or not _has(con, "encodings"):
        frame = _empty(chosen)
        if con is not None:
            con.close()
    else:
        with closing(con):
            frame = con.execute(
                f"SELECT {', '.join(['batch_id', 'source_line', *chosen])} FROM encodings "
                "WHERE list_contains($committed, batch_id) AND list_contains($batches, batch_id) "
                "ORDER BY batch_id, source_line",
                {"committed": committed, "batches": wanted},
            ).df()
    workspace.audit("read identifier encodings", {**asked, "allowed": True, "rows": len(frame)})
    return frame


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the file has the table: one of version 1, opened read-only, has no encodings."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'ids' AND table_name = ?",
        [table],
    ).fetchall()
    return bool(found[0][0])


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
    require_role(workspace, action, asked, f"{what} are for analysts")


def require_role(
    workspace: Workspace,
    action: str,
    asked: dict[str, Any],
    said: str,
    roles: tuple[str, ...] = READER_ROLES,
    advice: str | None = None,
    denied: type[WorkspaceError] = IdentifiersDenied,
    grant: str = "analyst",
) -> User:
    """The actor's account when its role is one of `roles`. Otherwise the refusal is audited as
    `action` with what was `asked` and raised as `denied` in one line: `said`, who the actor
    is, and `advice` (default: the command an admin runs to give them the role `grant`)."""
    user = _user(workspace)
    role = None if user is None else user.role
    if user is not None and role in roles:
        return user
    workspace.audit(action, {**asked, "allowed": False, "role": role})
    if advice is None:
        verb = "add" if role is None else "set-role"
        advice = (
            f"an admin can give the role with `svduty users {verb} {workspace.actor} "
            f"--role {grant}`"
        )
    who = "not a user of this workspace" if role is None else f"a {role}"
    raise denied(f"{said}: {workspace.actor!r} is {who}; {advice}")


def _empty(chosen: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=["batch_id", "source_line", *chosen])


def _user(workspace: Workspace) -> User | None:
    """The actor's account in the workspace's accounts (None: not a user, or disabled)."""
    from svduty.web.accounts import find_user

    user = find_user(workspace.root, workspace.actor)
    return None if user is None or user.disabled else user


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
