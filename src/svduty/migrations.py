"""Schema migrations: every released schema version upgrades to the current one.

Each migration takes a workspace from one version to the next. Their DDL is written out here as
it was at that version (not read from `schema.py`, which moves on), so a migration does the same
thing forever. The workspace opens them as a writer: it copies the DuckDB file to
`backups/svduty-v<N>-<time>.duckdb` first, then applies every migration due in one transaction
and records the new version in `meta`.

Released versions: 1 (the first package), 2 (markers, involvements, A&E and admissions), 3 (the
audit log moves to `audit.sqlite` so readers can append to it; derived tables are versioned),
4 (each LSOA's electoral ward in the areas table), 5 (external series of success measures),
6 (the catalogue of interventions, every version kept), 7 (youth justice contacts and school
exclusions; a person key on A&E attendances), 8 (a Spark warehouse holds Delta Lake tables).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from svduty import audit
from svduty.engine import rollback
from svduty.schema import SCHEMA_VERSION, create_table_sql

BACKUPS_DIR = "backups"


@dataclass(frozen=True)
class Context:
    con: duckdb.DuckDBPyConnection
    root: Path
    engine: str


@dataclass(frozen=True)
class Migration:
    version: int
    """The version the migration produces, from the one before it."""
    summary: str
    apply: Callable[[Context], None]


_MARKERS_V2 = (
    "domestic_abuse", "knife", "firearm", "corrosive", "county_lines", "hate", "alcohol",
    "night_time_economy", "intimidation", "modern_slavery",
)  # fmt: skip

_INCIDENT_COLUMNS_V2 = {
    "statute": "VARCHAR",
    "recorded_at": "TIMESTAMP",
    "location_type": "VARCHAR",
    **{f"marker_{m}": "BOOLEAN" for m in _MARKERS_V2},
}

_NEW_TABLES_V2 = {
    "involvements": {
        "batch_id": "INTEGER", "source_line": "BIGINT", "force": "VARCHAR",
        "crime_ref": "VARCHAR", "role": "VARCHAR", "person_key": "VARCHAR", "age": "INTEGER",
        "sex": "VARCHAR", "ethnicity": "VARCHAR", "relationship": "VARCHAR",
        "synthetic": "BOOLEAN",
    },
    "ae_attendances": {
        "batch_id": "INTEGER", "source_line": "BIGINT", "site": "VARCHAR",
        "attendance_ref": "VARCHAR", "arrived_at": "TIMESTAMP", "occurred_at": "TIMESTAMP",
        "month": "DATE", "location_type": "VARCHAR", "location_text": "VARCHAR",
        "means_of_assault": "VARCHAR", "age": "INTEGER", "sex": "VARCHAR",
        "synthetic": "BOOLEAN",
    },
    "admissions": {
        "batch_id": "INTEGER", "source_line": "BIGINT", "month": "DATE",
        "area_code": "VARCHAR", "age_band": "VARCHAR", "sex": "VARCHAR",
        "cause_code": "VARCHAR", "count": "BIGINT", "synthetic": "BOOLEAN",
    },
}  # fmt: skip

_CLASSIFICATIONS_V3 = {
    "definition_id": "VARCHAR", "definition_version": "VARCHAR",
    "definition_sha256": "VARCHAR", "batch_id": "INTEGER", "source_line": "BIGINT",
    "in_definition": "BOOLEAN", "clauses": "VARCHAR", "unassessed": "VARCHAR",
}  # fmt: skip


def _create(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str]) -> None:
    con.execute(create_table_sql(name, columns))


def _conform_parquet(con: duckdb.DuckDBPyConnection, path: Path, added: dict[str, str]) -> None:
    """Add missing columns (as NULL) to a Spark warehouse file; a file that has them is left."""
    present = {
        d[0] for d in con.execute(f"SELECT * FROM read_parquet('{path}') LIMIT 0").description
    }
    missing = {c: kind for c, kind in added.items() if c not in present}
    if not missing:
        return
    extra = ", ".join(f'NULL::{kind} AS "{c}"' for c, kind in missing.items())
    staging = path.with_name(f".{path.name}.migrating")
    con.execute(
        f"COPY (SELECT *, {extra} FROM read_parquet('{path}')) TO '{staging}' (FORMAT parquet)"
    )
    os.replace(staging, path)


def _to_v2(ctx: Context) -> None:
    """Markers, statute, recorded time and location type on incidents; the tables of partner
    data: people in crimes, A&E attendances and admissions."""
    for column, kind in _INCIDENT_COLUMNS_V2.items():
        ctx.con.execute(f'ALTER TABLE incidents ADD COLUMN IF NOT EXISTS "{column}" {kind}')
    for name, columns in _NEW_TABLES_V2.items():
        _create(ctx.con, name, columns)
    if ctx.engine == "spark":
        for path in sorted((ctx.root / "warehouse" / "incidents").glob("*.parquet")):
            _conform_parquet(ctx.con, path, _INCIDENT_COLUMNS_V2)


def _to_v3(ctx: Context) -> None:
    """The audit log leaves the DuckDB file for audit.sqlite; stored classifications get a
    version in meta (so the data version covers them)."""
    _create(ctx.con, "classifications", _CLASSIFICATIONS_V3)
    if ctx.engine == "spark":
        folder = ctx.root / "warehouse" / "classifications"
        for path in sorted(folder.glob("set-*")) if folder.is_dir() else []:
            ctx.con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [f"derived:classifications:{path.name.removeprefix('set-')}", path.name],
            )
    else:
        for (definition,) in ctx.con.execute(
            "SELECT DISTINCT definition_id FROM classifications ORDER BY 1"
        ).fetchall():
            ctx.con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [f"derived:classifications:{definition}", secrets.token_hex(6)],
            )
    tables = {r[0] for r in ctx.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "audit" not in tables:
        return
    rows = ctx.con.execute(
        "SELECT logged_at, action, detail FROM audit ORDER BY logged_at"
    ).fetchall()
    audit.replace_migrated(
        ctx.root,
        [
            audit.Entry(
                # stored by now() into a plain TIMESTAMP: the machine's local time
                at=logged_at.astimezone(UTC).isoformat(timespec="milliseconds"),
                actor="unrecorded",
                action=action,
                parameters={"detail": detail, "migrated": 1},
                data_version=None,
                outputs=[],
                engine=None,
                svduty_version=None,
            )
            for logged_at, action, detail in rows
        ],
    )
    ctx.con.execute("DROP TABLE audit")


_AREA_COLUMNS_V4 = {"ward_code": "VARCHAR", "ward_name": "VARCHAR"}


def _to_v4(ctx: Context) -> None:
    """Areas gain the ward of each 2021 LSOA (filled when the reference tables next load, which
    the new bundled areas file makes happen on this same open)."""
    tables = {r[0] for r in ctx.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for column, kind in _AREA_COLUMNS_V4.items() if "areas" in tables else ():
        ctx.con.execute(f'ALTER TABLE areas ADD COLUMN IF NOT EXISTS "{column}" {kind}')
    if ctx.engine == "spark":
        for path in sorted((ctx.root / "warehouse" / "areas").glob("*.parquet")):
            _conform_parquet(ctx.con, path, _AREA_COLUMNS_V4)


_MEASURE_VALUES_V5 = {
    "batch_id": "INTEGER", "source_line": "BIGINT", "measure": "VARCHAR", "area": "VARCHAR",
    "period": "VARCHAR", "period_kind": "VARCHAR", "numerator": "DOUBLE",
    "denominator": "DOUBLE", "source": "VARCHAR", "published": "DATE", "synthetic": "BOOLEAN",
}  # fmt: skip


def _to_v5(ctx: Context) -> None:
    """The table of external series (success measures published by others, as rows of
    measure, area, period, numerator, denominator); empty until a series is ingested."""
    _create(ctx.con, "measure_values", _MEASURE_VALUES_V5)
    if ctx.engine == "spark":
        folder = ctx.root / "warehouse" / "measure_values"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "empty.parquet").exists():
            body = ", ".join(f'NULL::{k} AS "{c}"' for c, k in _MEASURE_VALUES_V5.items())
            ctx.con.execute(f"COPY (SELECT {body} LIMIT 0) TO '{folder / 'empty.parquet'}'")


_INTERVENTIONS_V6 = """
CREATE TABLE IF NOT EXISTS interventions (
    id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_to TIMESTAMP,
    changed_by VARCHAR NOT NULL,
    change VARCHAR NOT NULL,
    changes VARCHAR NOT NULL,
    record VARCHAR NOT NULL,
    PRIMARY KEY (id, version)
)
"""


def _to_v6(ctx: Context) -> None:
    """The catalogue of interventions (every version of each, in the DuckDB file with either
    engine); empty until one is imported or added."""
    ctx.con.execute(_INTERVENTIONS_V6)


_AE_COLUMNS_V7 = {"person_key": "VARCHAR"}

_NEW_TABLES_V7 = {
    "youth_justice": {
        "batch_id": "INTEGER", "source_line": "BIGINT", "contact_ref": "VARCHAR",
        "person_key": "VARCHAR", "started_on": "DATE", "month": "DATE",
        "contact_type": "VARCHAR", "offence_code": "VARCHAR", "offence": "VARCHAR",
        "age": "INTEGER", "sex": "VARCHAR", "la_code": "VARCHAR", "synthetic": "BOOLEAN",
    },
    "exclusions": {
        "batch_id": "INTEGER", "source_line": "BIGINT", "exclusion_ref": "VARCHAR",
        "person_key": "VARCHAR", "started_on": "DATE", "month": "DATE",
        "exclusion_type": "VARCHAR", "reason": "VARCHAR", "school": "VARCHAR",
        "age": "INTEGER", "sex": "VARCHAR", "la_code": "VARCHAR", "synthetic": "BOOLEAN",
    },
}  # fmt: skip


def _to_v7(ctx: Context) -> None:
    """Youth justice contacts and school exclusions become partner sources; an A&E attendance
    may carry a person key (all empty until such extracts are ingested)."""
    tables = {r[0] for r in ctx.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for column, kind in _AE_COLUMNS_V7.items() if "ae_attendances" in tables else ():
        ctx.con.execute(f'ALTER TABLE ae_attendances ADD COLUMN IF NOT EXISTS "{column}" {kind}')
    for name, columns in _NEW_TABLES_V7.items():
        _create(ctx.con, name, columns)
    if ctx.engine != "spark":
        return
    for path in sorted((ctx.root / "warehouse" / "ae_attendances").glob("*.parquet")):
        _conform_parquet(ctx.con, path, _AE_COLUMNS_V7)
    for name, columns in _NEW_TABLES_V7.items():
        folder = ctx.root / "warehouse" / name
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "empty.parquet").exists():
            body = ", ".join(f'NULL::{k} AS "{c}"' for c, k in columns.items())
            ctx.con.execute(f"COPY (SELECT {body} LIMIT 0) TO '{folder / 'empty.parquet'}'")


_PARTITIONS_V8 = {"incidents": ["force", "month"]}


def _to_v8(ctx: Context) -> None:
    """On Spark, the warehouse's Parquet files (one per table and batch) become Delta Lake
    tables holding the committed batches and the classification sets the catalogue names; the
    old warehouse is kept in `backups/`."""
    old = ctx.root / "warehouse"
    if ctx.engine != "spark" or not old.is_dir():
        return
    from deltalake import DeltaTable, write_deltalake
    from deltalake.transaction import AddAction, RemoveAction

    new = ctx.root / "warehouse.v8"
    shutil.rmtree(new, ignore_errors=True)
    committed = {r[0] for r in ctx.con.execute("SELECT batch_id FROM batches").fetchall()}
    named = dict(
        ctx.con.execute("SELECT key, value FROM meta WHERE key LIKE 'derived:%'").fetchall()
    )
    for folder in sorted(p for p in old.iterdir() if p.is_dir() and p.name != "_staging"):
        table, empty = folder.name, folder / "empty.parquet"
        if not empty.exists():
            continue
        described = ctx.con.execute(f"DESCRIBE SELECT * FROM read_parquet('{empty}')").fetchall()
        columns = ", ".join(f'CAST("{c}" AS {kind}) AS "{c}"' for c, kind, *_ in described)
        uri = str(new / table)
        write_deltalake(
            uri,
            ctx.con.sql(f"SELECT {columns} FROM read_parquet('{empty}')").to_arrow_table(),
            partition_by=_PARTITIONS_V8.get(table),
        )
        sets = [
            (key, folder / value)
            for key, value in named.items()
            if key.startswith(f"derived:{table}:") and (folder / value).is_dir()
        ]
        if sets:  # a derived table: each set in a folder of its own, which the catalogue names
            actions: list[AddAction | RemoveAction] = []
            for key, source in sets:
                target = f"svduty-{secrets.token_hex(8)}"
                (new / table / target).mkdir()
                ctx.con.execute(
                    f"COPY (SELECT {columns} FROM read_parquet('{source}/*.parquet')) "
                    f"TO '{new / table / target / 'part-0.parquet'}' (FORMAT parquet)"
                )
                path = new / table / target / "part-0.parquet"
                held = ctx.con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()
                stats = f'{{"numRecords": {held[0][0]}}}'
                actions.append(
                    AddAction(
                        f"{target}/part-0.parquet",
                        path.stat().st_size,
                        {},
                        int(path.stat().st_mtime * 1000),
                        True,
                        stats,
                    )
                )
                ctx.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, target])
            delta = DeltaTable(uri)
            delta.create_write_transaction(actions, "append", delta.schema())
        else:
            files = (
                [folder / "data.parquet"]
                if (folder / "data.parquet").exists()
                else [
                    path
                    for path in sorted(folder.glob("batch-*.parquet"))
                    if int(path.stem.removeprefix("batch-")) in committed
                ]
            )
            if files:
                listed = ", ".join(f"'{f}'" for f in files)
                rows = ctx.con.sql(
                    f"SELECT {columns} FROM read_parquet([{listed}], union_by_name = true)"
                )
                write_deltalake(
                    uri,
                    rows.to_arrow_reader(),
                    mode="append",
                    partition_by=_PARTITIONS_V8.get(table),
                )
        ctx.con.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [f"delta:{table}", str(DeltaTable(uri).version())],
        )
    kept = ctx.root / BACKUPS_DIR / f"warehouse-v7-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    kept.parent.mkdir(exist_ok=True)
    os.replace(old, kept)
    os.replace(new, old)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "partner data: markers, involvements, A&E attendances, admissions", _to_v2),
    Migration(3, "audit log in audit.sqlite; versioned derived tables", _to_v3),
    Migration(4, "wards of LSOAs in the areas table", _to_v4),
    Migration(5, "external series of success measures", _to_v5),
    Migration(6, "the catalogue of interventions", _to_v6),
    Migration(7, "youth justice and exclusions; person keys on A&E attendances", _to_v7),
    Migration(8, "Spark warehouses become Delta Lake tables", _to_v8),
)


def backup(root: Path, database: Path, version: int) -> Path:
    """A copy of the (closed, checkpointed) DuckDB file before it is changed."""
    folder = root / BACKUPS_DIR
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"svduty-v{version}-{stamp}.duckdb"
    counter = 1
    while target.exists():
        counter += 1
        target = folder / f"svduty-v{version}-{stamp}-{counter}.duckdb"
    shutil.copyfile(database, target)
    return target


def upgrade(con: duckdb.DuckDBPyConnection, root: Path, engine: str, found: int) -> list[str]:
    """Apply every migration after `found` in one transaction; the summaries of those applied."""
    due = [m for m in MIGRATIONS if m.version > found]
    context = Context(con, root, engine)
    con.execute("BEGIN TRANSACTION")
    try:
        for migration in due:
            migration.apply(context)
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    return [f"v{m.version}: {m.summary}" for m in due]
