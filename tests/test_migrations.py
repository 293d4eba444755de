"""Workspaces written by released versions of svduty open in this one: backed up, migrated in
order, nothing lost. Each old workspace is built by that version's own code (extracted from the
repository's history with git archive) in a subprocess, from real data."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from read_only_folder import read_only

from svduty import audit
from svduty.errors import WorkspaceError
from svduty.migrations import MIGRATIONS
from svduty.reference import data_path
from svduty.schema import SCHEMA_VERSION
from svduty.workspace import DATABASE_FILE, SNAPSHOT_FILE, Workspace

V1_COMMIT = "692dfee"  # the first package: schema version 1
V2_COMMIT = "a3c20b6"  # the last commit with schema version 2
V3_COMMIT = "fb18d52"  # the last commit with schema version 3
V6_COMMIT = "36e71ca"  # the last commit with schema version 6

REPO = Path(
    subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=Path(__file__).parent, capture_output=True, text=True, check=True,
    ).stdout.strip()
)  # fmt: skip


def _extract(commit: str, target: Path) -> Path:
    """The package source of a commit, as git holds it."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "src"], cwd=REPO, capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def _run_old(source: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(source)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def _state(path: Path) -> dict[str, Any]:
    """Every table's row count, and the rows of batches, rejects, classifications and the old
    audit table, read straight from the DuckDB file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        state: dict[str, Any] = {
            "counts": {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        }
        for table, order in (
            ("batches", "batch_id"),
            ("rejects", "batch_id, line, field"),
            ("classifications", "definition_id, batch_id, source_line"),
            ("audit", "logged_at"),
        ):
            if table in tables:
                state[table] = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
        state["schema_version"] = con.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()[0]
    finally:
        con.close()
    return state


@pytest.fixture(scope="module")
def v2_workspace(tmp_path_factory, west_mercia: Path) -> tuple[Path, dict[str, Any]]:
    """Open data and a generated partner extract, classified under two definitions, by the code
    of the last schema-2 commit through its command line."""
    scratch = tmp_path_factory.mktemp("v2")
    source = _extract(V2_COMMIT, scratch / "code")
    root = scratch / "ws"
    cli = ("-m", "svduty.cli")
    _run_old(source, *cli, "init", str(root), "--example")
    _run_old(source, *cli, "ingest", "-w", str(root), str(west_mercia / "2025-01"))
    syn = scratch / "syn"
    _run_old(source, *cli, "synth", "--out", str(syn), "--scale", "0.05", "--corrupt", "0.01")
    files = [str(syn / n) for n in ("crimes.csv", "people.csv", "istv.csv", "admissions.csv")]
    mappings = [a for p in sorted((syn / "mappings").glob("*.yaml")) for a in ("--mapping", str(p))]
    _run_old(source, *cli, "ingest", "-w", str(root), *files, *mappings)
    _run_old(source, *cli, "classify", "-w", str(root), "--definition", "police-uk-open-data")
    state = _state(root / DATABASE_FILE)
    assert state["schema_version"] == "2"
    assert state["counts"]["involvements"] > 0 and state["counts"]["classifications"] > 0
    assert state["rejects"], "the corrupted rows of the synthetic extract are rejected"
    return root, state


@pytest.fixture(scope="module")
def v1_workspace(tmp_path_factory, west_mercia: Path) -> tuple[Path, dict[str, Any]]:
    """Open data ingested by the code of the first package (which had no command line)."""
    scratch = tmp_path_factory.mktemp("v1")
    source = _extract(V1_COMMIT, scratch / "code")
    root = scratch / "ws"
    script = f"""
from pathlib import Path
from svduty.ingest import ingest
from svduty.settings import Settings
from svduty.workspace import Workspace
ws = Workspace.init(Path({str(root)!r}), Settings(area="West Mercia", forces=("West Mercia",),
    csps={{"North Worcestershire": ("E07000234", "E07000236", "E07000239")}}))
ingest(ws, [Path({str(west_mercia / "2025-02")!r})])
ws.audit("ingest", "2025-02")
ws.close()
"""
    _run_old(source, "-c", script)
    state = _state(root / DATABASE_FILE)
    assert state["schema_version"] == "1" and state["counts"]["incidents"] > 0
    return root, state


@pytest.fixture(scope="module")
def v3_workspace(tmp_path_factory, west_mercia: Path) -> tuple[Path, dict[str, Any]]:
    """A month of open data ingested by the code of the last schema-3 commit."""
    scratch = tmp_path_factory.mktemp("v3")
    source = _extract(V3_COMMIT, scratch / "code")
    root = scratch / "ws"
    _run_old(source, "-m", "svduty.cli", "init", str(root), "--example")
    _run_old(source, "-m", "svduty.cli", "ingest", "-w", str(root), str(west_mercia / "2025-01"))
    state = _state(root / DATABASE_FILE)
    assert state["schema_version"] == "3" and state["counts"]["incidents"] > 0
    return root, state


def _copy(workspace: tuple[Path, dict[str, Any]], target: Path) -> Path:
    shutil.copytree(workspace[0], target)
    return target


def _bundled_rows(name: str) -> int:
    path = Path(data_path(name))
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def test_migrations_reach_the_current_version():
    assert [m.version for m in MIGRATIONS] == list(range(2, SCHEMA_VERSION + 1))


def test_v2_workspace_opens_backed_up_and_migrated(v2_workspace, tmp_path):
    old = v2_workspace[1]
    root = _copy(v2_workspace, tmp_path / "ws")
    said: list[str] = []
    with Workspace.open(root, say=said.append, actor="tester") as ws:
        assert ws.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
    [backup] = sorted((root / "backups").glob("svduty-v2-*.duckdb"))
    assert any(str(backup) in line for line in said), said
    assert _state(backup) == old
    new = _state(root / DATABASE_FILE)
    assert new["schema_version"] == str(SCHEMA_VERSION)
    assert "audit" not in new["counts"]
    kept = {t: n for t, n in old["counts"].items() if t not in ("audit", "meta")}
    kept["measure_values"] = 0  # the table of external series (schema 5), empty
    kept["interventions"] = 0  # the catalogue of interventions (schema 6), empty
    kept["youth_justice"] = kept["exclusions"] = 0  # partner sources of schema 7, empty
    assert {t: n for t, n in new["counts"].items() if t != "meta"} == kept
    for table in ("batches", "rejects", "classifications"):
        assert new[table] == old[table], table
    log = audit.read(root)
    migrated = log[log["parameters"].map(lambda p: json.loads(p).get("migrated") == 1)]
    assert [(r.action, json.loads(r.parameters)["detail"]) for r in migrated.itertuples()] == [
        (action, detail) for _, action, detail in old["audit"]
    ]
    assert list(log["action"])[-1] == "upgrade"
    # readers read the same data from the published copy
    with Workspace.open(root, read_only=True) as reader:
        assert sorted(reader.batch_ids) == [b[0] for b in old["batches"]]
        assert _state(root / SNAPSHOT_FILE)["counts"] == new["counts"]


def test_a_v2_workspace_keeps_its_attendances_and_gains_their_person_key(v2_workspace, tmp_path):
    """Schema 7 adds `person_key` to A&E attendances: every old row keeps its values, with no key;
    the new tables take the columns `schema.py` gives them."""
    from svduty.schema import FACT_TABLES

    columns = [c for c in FACT_TABLES["ae_attendances"] if c != "person_key"]
    listed = ", ".join(f'"{c}"' for c in columns)
    con = duckdb.connect(str(v2_workspace[0] / DATABASE_FILE), read_only=True)
    try:
        before = con.execute(f"SELECT {listed} FROM ae_attendances ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert before
    root = _copy(v2_workspace, tmp_path / "ws")
    with Workspace.open(root, say=lambda _: None) as ws:
        after = ws.con.execute(f"SELECT {listed} FROM ae_attendances ORDER BY ALL").fetchall()
        keys = ws.con.execute("SELECT count(person_key) FROM ae_attendances").fetchone()
        for table in ("youth_justice", "exclusions", "ae_attendances"):
            described = ws.con.execute(f"DESCRIBE {table}").fetchall()
            assert {name: kind for name, kind, *_ in described} == FACT_TABLES[table], table
    assert after == before and keys == (0,)


def test_a_v6_spark_workspace_gains_the_person_key_and_the_new_tables(tmp_path):
    """On the Spark engine the migrations rewrite the A&E Parquet files with an empty person
    key, then turn the warehouse into Delta Lake tables holding the committed rows (the old
    files kept in backups/); a youth justice extract then lands."""
    from deltalake import DeltaTable

    source = _extract(V6_COMMIT, tmp_path / "code")
    root, syn = tmp_path / "ws", tmp_path / "syn"
    script = f"""
from pathlib import Path
from svduty.ingest import ingest
from svduty.settings import Settings
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.workspace import Workspace
generate(load_profile("west-mercia"), Path({str(syn)!r}), scale=0.01, seed=2)
ws = Workspace.init(Path({str(root)!r}), Settings(area="West Mercia", forces=("West Mercia",),
    engine="spark"))
ingest(ws, [Path({str(syn / "istv.csv")!r})], mappings=[Path({str(syn / "mappings")!r})])
ws.close()
"""
    _run_old(source, "-c", script)
    warehouse = root / "warehouse"
    files = sorted((warehouse / "ae_attendances").glob("*.parquet"))
    old = duckdb.sql(f"SELECT * FROM read_parquet({[str(f) for f in files]})").fetchall()
    areas = duckdb.sql(f"SELECT count(*) FROM '{warehouse / 'areas' / 'data.parquet'}'").fetchall()
    assert len(files) == 2 and old  # the empty file and one batch
    with Workspace.open(root, say=lambda _: None) as ws:
        rows = ws.ingest(_youth_justice_extract(tmp_path), mappings=[_youth_justice_mapping()])
        assert [r.rows_accepted for r in rows] == [1]
    from svduty.schema import FACT_TABLES

    def delta(table: str) -> duckdb.DuckDBPyRelation:
        return duckdb.from_arrow(DeltaTable(str(warehouse / table)).to_pyarrow_table())

    attendances = delta("ae_attendances")
    assert attendances.columns == list(FACT_TABLES["ae_attendances"])
    assert sorted(attendances.select("* EXCLUDE (person_key)").fetchall()) == sorted(old)
    assert delta("areas").count("*").fetchall() == areas and areas[0][0] > 0
    for table in ("youth_justice", "exclusions"):
        assert delta(table).columns == list(FACT_TABLES[table]), table
    landed = delta("youth_justice").select("contact_type, month").fetchall()
    assert [(kind, str(month)) for kind, month in landed] == [("prevention", "2025-02-01")]
    assert len(list((root / "backups").glob("warehouse-v7-*/ae_attendances/*.parquet"))) == 2


def _youth_justice_mapping() -> Path:
    from svduty.example import example_archive

    return example_archive().parent / "mappings" / "youth-justice.yaml"


def _youth_justice_extract(folder: Path) -> Path:
    """One made-up contact (a name no register holds, a postcode area that does not exist)."""
    path = folder / "youth.csv"
    path.write_text(
        "Contact ID,Start Date,Intervention Type,HO Class,Offence Description,Age at Start,"
        "Gender,LA Code,Forename,Surname,DOB,Postcode\n"
        "YJ1,14/02/2025,PREV,,,14,F,E06000051,Quenbyra,Vellacourt,01/03/2010,QX5 5QQ\n",
        encoding="utf-8",
    )
    return path


def test_v1_workspace_gains_the_partner_tables(v1_workspace, tmp_path):
    old = v1_workspace[1]
    root = _copy(v1_workspace, tmp_path / "ws")
    with Workspace.open(root, say=lambda _: None) as ws:
        columns = {d[0] for d in ws.con.execute("SELECT * FROM incidents LIMIT 0").description}
        assert {"statute", "location_type", "marker_knife"} <= columns
        assert ws.con.execute("SELECT count(*) FROM incidents WHERE marker_knife").fetchone() == (
            0,
        )
    assert len(list((root / "backups").glob("svduty-v1-*.duckdb"))) == 1
    new = _state(root / DATABASE_FILE)
    reference = {"areas": _bundled_rows("areas.csv.gz"), "offences": _bundled_rows("offences.csv")}
    for table, rows in old["counts"].items():
        if table in reference:  # reloaded from this svduty's bundled reference data
            assert new["counts"][table] == reference[table], table
        elif table not in ("audit", "meta"):
            assert new["counts"][table] == rows, table
    for table in (
        "involvements", "ae_attendances", "admissions", "classifications", "youth_justice",
        "exclusions",
    ):  # fmt: skip
        assert new["counts"][table] == 0
    assert new["batches"] == old["batches"] and new["rejects"] == old["rejects"]
    assert new["schema_version"] == str(SCHEMA_VERSION)


def test_v3_workspace_gains_wards_and_the_bundled_deciles(v3_workspace, tmp_path):
    root = _copy(v3_workspace, tmp_path / "ws")
    with Workspace.open(root, say=lambda _: None):
        pass
    assert len(list((root / "backups").glob("svduty-v3-*.duckdb"))) == 1
    bundled = duckdb.sql(
        f"SELECT lsoa_code, ward_code, ward_name, imd2025_decile FROM read_csv('"
        f"{data_path('areas.csv.gz')}', header=true, all_varchar=true) ORDER BY lsoa_code"
    ).fetchall()
    con = duckdb.connect(str(root / DATABASE_FILE), read_only=True)
    try:
        stored = con.execute(
            "SELECT lsoa_code, ward_code, ward_name, CAST(imd2025_decile AS VARCHAR) FROM areas "
            "ORDER BY lsoa_code"
        ).fetchall()
    finally:
        con.close()
    assert stored == bundled
    assert any(ward for _, ward, _, _ in stored)
    new = _state(root / DATABASE_FILE)
    assert new["schema_version"] == str(SCHEMA_VERSION)
    assert new["batches"] == v3_workspace[1]["batches"]


def test_a_migrated_workspace_takes_external_series(v3_workspace, tmp_path):
    """Schema 5's table of external series, made by the migration, is the one ingest fills."""
    root = _copy(v3_workspace, tmp_path / "ws")
    series = tmp_path / "series.csv"
    series.write_text(
        "measure,area,period,numerator,denominator,source,published\n"
        "neet,Shropshire,2024-Q1,12,400,SYNTHETIC test,2024-06-01\n"
    )
    with Workspace.open(root, say=lambda _: None) as ws:
        [report] = ws.ingest(series, kind="measure_series")
        assert report.rows_accepted == 1
        stored = ws.con.execute(
            "SELECT measure, period_kind, numerator, denominator, synthetic FROM measure_values"
        ).fetchall()
    assert stored == [("neet", "quarter", 12.0, 400.0, True)]


def test_a_reader_upgrades_through_a_brief_writer(v2_workspace, tmp_path):
    root = _copy(v2_workspace, tmp_path / "ws")
    said: list[str] = []
    with Workspace.open(root, read_only=True, say=said.append) as reader:
        assert reader.read_only
        assert len(reader.batch_ids) == len(v2_workspace[1]["batches"])
    assert len(list((root / "backups").glob("svduty-v2-*.duckdb"))) == 1
    assert any(f"older than this svduty's {SCHEMA_VERSION}" in line for line in said), said


def test_a_read_only_share_of_an_old_workspace_says_to_upgrade_a_copy(v2_workspace, tmp_path):
    root = _copy(v2_workspace, tmp_path / "ws")
    with read_only(root), pytest.raises(WorkspaceError) as error:
        Workspace.open(root, read_only=True)
    message = str(error.value)
    assert f"schema version 2 is older than this svduty's {SCHEMA_VERSION}" in message
    assert "read-only" in message and "writable copy" in message


def test_a_newer_workspace_is_refused(v2_workspace, tmp_path):
    root = _copy(v2_workspace, tmp_path / "ws")
    Workspace.open(root, say=lambda _: None).close()
    con = duckdb.connect(str(root / DATABASE_FILE))
    con.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    con.close()
    (root / SNAPSHOT_FILE).unlink()
    for read in (False, True):
        with pytest.raises(WorkspaceError) as error:
            Workspace.open(root, read_only=read)
        assert "schema version 9" in str(error.value)
        assert f"reads schema version {SCHEMA_VERSION}" in str(error.value)
    assert not list((root / "backups").glob("svduty-v9-*"))
