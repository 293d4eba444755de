"""The restricted linkage store: `linkage.duckdb` in the workspace, beside `identifiers.duckdb`,
holding linkage runs (the model's parameters, never an identifier), the pairs scored above the
threshold and the clusters of records, by record id (batch and source line).

Which records are one person is personal data even without names, so nothing else in svduty
reads this file (not the analyses, not the dashboard): `read_clusters` is for analysts and
admins, audited, refused reads too. Each step of a run is written by the workspace's one writer
in one transaction: a run killed half way leaves its previous step, never half a step.
"""

from __future__ import annotations

import json
import secrets
import time
from contextlib import closing
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from svduty.errors import InputError, WorkspaceError
from svduty.identifiers import restrict

if TYPE_CHECKING:
    import pandas as pd

    from svduty.workspace import Workspace

LINKAGE_FILE = "linkage.duckdb"
SCHEMA_VERSION = 1
STATUSES = ("trained", "predicted", "clustered")
OPEN_WAIT = 30.0

_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, preset VARCHAR, mode VARCHAR, created_at TIMESTAMP,
    created_by VARCHAR, threshold_match_weight DOUBLE, threshold_probability DOUBLE,
    data_version VARCHAR, model_json VARCHAR, sources VARCHAR, records BIGINT, pairs BIGINT,
    clusters BIGINT, status VARCHAR
);
CREATE TABLE IF NOT EXISTS clusters (
    run_id VARCHAR, cluster_id VARCHAR, batch_id INTEGER, source_line BIGINT, source_table VARCHAR
);
CREATE TABLE IF NOT EXISTS pairs (
    run_id VARCHAR, batch_id_l INTEGER, source_line_l BIGINT, batch_id_r INTEGER,
    source_line_r BIGINT, match_weight DOUBLE, match_probability DOUBLE
);
"""


@dataclass(frozen=True)
class Run:
    """A row of `runs`."""

    run_id: str
    preset: str
    mode: str  # 'plain' (identifiers in the clear) or 'bloom' (Bloom-filter encodings)
    created_at: datetime
    created_by: str
    threshold_match_weight: float
    threshold_probability: float
    data_version: str
    model_json: str
    sources: str  # JSON list of canonical tables
    records: int | None
    pairs: int | None
    clusters: int | None
    status: str


COLUMNS = [f.name for f in fields(Run)]


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%dT%H%M%S-") + secrets.token_hex(3)


def _connect(workspace: Workspace) -> duckdb.DuckDBPyConnection:
    """The linkage file for writing, with the workspace's memory limit and threads."""
    root = workspace.root
    con = duckdb.connect(str(root / LINKAGE_FILE), config=workspace.settings.duckdb_config())
    restrict(root / LINKAGE_FILE)
    con.execute(_DDL)
    restrict(root / LINKAGE_FILE)
    return con


def _open_for_reading(workspace: Workspace) -> duckdb.DuckDBPyConnection | None:
    """The file read-only (None when no run was ever stored), waiting while a writer stores."""
    path = workspace.root / LINKAGE_FILE
    config = workspace.settings.duckdb_config()
    if not path.exists():
        return None
    deadline = time.monotonic() + OPEN_WAIT
    while True:
        try:
            return duckdb.connect(str(path), read_only=True, config=config)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                reason = str(error).splitlines()[0]
                raise WorkspaceError(f"{path}: cannot be read ({reason})") from error
            time.sleep(0.2)


# -- the writer's side (under the workspace's writer lock) -------------------------------------


def save_trained(workspace: Workspace, run: Run) -> None:
    workspace.store.require_writer("store a linkage run")
    with closing(_connect(workspace)) as con:
        marks = ", ".join("?" for _ in COLUMNS)
        con.execute(
            f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({marks})",
            [getattr(run, c) for c in COLUMNS],
        )


def save_predicted(
    workspace: Workspace, run: Run, pairs: pd.DataFrame, records: int, data_version: str
) -> None:
    """Replace the run's pairs (batch_id_l, source_line_l, batch_id_r, source_line_r,
    match_weight, match_probability) and clusters in one transaction."""
    workspace.store.require_writer("store linkage pairs")
    with closing(_connect(workspace)) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM pairs WHERE run_id = ?", [run.run_id])
            con.execute("DELETE FROM clusters WHERE run_id = ?", [run.run_id])
            con.register("_pairs", pairs)
            con.execute(
                "INSERT INTO pairs SELECT ?, batch_id_l, source_line_l, batch_id_r, "
                "source_line_r, match_weight, match_probability FROM _pairs",
                [run.run_id],
            )
            con.unregister("_pairs")
            con.execute(
                "UPDATE runs SET status = 'predicted', records = ?, pairs = ?, clusters = NULL, "
                "data_version = ?, threshold_match_weight = ?, threshold_probability = ? "
                "WHERE run_id = ?",
                [
                    records, len(pairs), data_version, run.threshold_match_weight,
                    run.threshold_probability, run.run_id,
                ],
            )  # fmt: skip
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def save_clustered(workspace: Workspace, run: Run, clusters: pd.DataFrame) -> None:
    """Replace the run's clusters (cluster_id, batch_id, source_line, source_table) in one
    transaction."""
    workspace.store.require_writer("store linkage clusters")
    with closing(_connect(workspace)) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM clusters WHERE run_id = ?", [run.run_id])
            con.register("_clusters", clusters)
            con.execute(
                "INSERT INTO clusters SELECT ?, cluster_id, batch_id, source_line, source_table "
                "FROM _clusters",
                [run.run_id],
            )
            con.unregister("_clusters")
            count = clusters["cluster_id"].nunique()
            con.execute(
                "UPDATE runs SET status = 'clustered', clusters = ? WHERE run_id = ?",
                [count, run.run_id],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


# -- the reader's side -------------------------------------------------------------------------


def latest_run(workspace: Workspace, status: str = "clustered") -> Run | None:
    """The newest run that has reached `status` (a later step counts: a clustered run was
    predicted), or None."""
    if status not in STATUSES:
        raise InputError(f"status {status!r}: one of {', '.join(STATUSES)}")
    reached = list(STATUSES[STATUSES.index(status) :])
    con = _open_for_reading(workspace)
    if con is None:
        return None
    with closing(con):
        found = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM runs WHERE list_contains(?, status) "
            "ORDER BY created_at DESC, run_id DESC LIMIT 1",
            [reached],
        ).fetchall()
    return Run(*found[0]) if found else None


def find_run(workspace: Workspace, run_id: str | None, status: str) -> Run:
    """The run named, or the newest at `status`; an error saying what to run otherwise."""
    if run_id is None:
        found = latest_run(workspace, status)
        if found is None:
            step = {"trained": "train", "predicted": "predict", "clustered": "cluster"}[status]
            raise InputError(
                f"{workspace.root}: no linkage run has been {status}; run `svduty link {step}`"
            )
        return found
    con = _open_for_reading(workspace)
    rows = []
    if con is not None:
        with closing(con):
            rows = con.execute(
                f"SELECT {', '.join(COLUMNS)} FROM runs WHERE run_id = ?", [run_id]
            ).fetchall()
    if not rows:
        stored = [f"{r.run_id} ({r.status}, {r.preset})" for r in reversed(runs(workspace))]
        have = f"runs, newest first: {', '.join(stored)}" if stored else "no run is stored"
        raise InputError(f"--run {run_id}: no linkage run of that id; {have}")
    run = Run(*rows[0])
    if STATUSES.index(run.status) < STATUSES.index(status):
        raise InputError(f"--run {run_id}: the run is {run.status}, not yet {status}")
    return run


def is_current(workspace: Workspace, run: Run) -> bool:
    """Whether the run's data version is that of the batches of its sources now: False once a
    batch with identifiers was ingested (or removed) since its pairs were scored."""
    from svduty.linkage import records

    wanted = json.loads(run.sources)
    batches = {t: b for t, b in records.batches_by_table(workspace).items() if t in wanted}
    return records.data_version(batches) == run.data_version


def runs(workspace: Workspace) -> list[Run]:
    con = _open_for_reading(workspace)
    if con is None:
        return []
    with closing(con):
        rows = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY created_at, run_id"
        ).fetchall()
    return [Run(*row) for row in rows]


def read_clusters(workspace: Workspace, run_id: str) -> pd.DataFrame:
    """The run's clusters (cluster_id, batch_id, source_line, source_table), for an analyst
    or admin; every call audited, refused ones too."""
    from svduty.identifiers import require_reader

    asked = {"run_id": run_id}
    require_reader(workspace, "read linked records", asked, "linked records")
    con = _open_for_reading(workspace)
    if con is None:
        raise InputError(f"{workspace.root}: no linkage run; run `svduty link train`")
    with closing(con):
        if not con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchall():
            raise InputError(f"run_id: no linkage run {run_id!r}")
        frame = con.execute(
            "SELECT cluster_id, batch_id, source_line, source_table FROM clusters "
            "WHERE run_id = ? ORDER BY cluster_id, batch_id, source_line",
            [run_id],
        ).df()
    workspace.audit("read linked records", {**asked, "allowed": True, "rows": len(frame)})
    return frame


def read_pairs(workspace: Workspace, run_id: str) -> pd.DataFrame:
    """The run's scored pairs (for clustering and the report; callers check the role)."""
    con = _open_for_reading(workspace)
    if con is None:
        raise InputError(f"{workspace.root}: no linkage run; run `svduty link train`")
    with closing(con):
        return con.execute(
            "SELECT batch_id_l, source_line_l, batch_id_r, source_line_r, match_weight, "
            "match_probability FROM pairs WHERE run_id = ?",
            [run_id],
        ).df()
