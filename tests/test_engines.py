"""DuckDB and Spark hold the same ingested data and give identical counts and quality figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import make_workspace
from partner_files import FORCE_MAPPING, random_extract, write_force_extract
from test_classification import YOUTH

from svduty.counting import Filter, counts
from svduty.definitions import load_definition, shipped_definitions
from svduty.definitions.classify import classify
from svduty.ingest import ingest
from svduty.quality import quality
from svduty.workspace import Workspace

pytestmark = pytest.mark.spark

COUNTS = [
    ("incidents", ["month"], []),
    ("incidents", ["csp", "category"], []),
    ("incidents", ["la", "financial_year"], ["force=West Mercia"]),
    ("incidents", ["quarter", "lsoa"], ["category=Robbery", "category=Possession of weapons"]),
    ("incidents", ["force", "source_kind", "offence_group"], []),
    ("incidents", [], []),
    ("offence_counts", ["offence_subgroup"], ['force="West Mercia"', "financial_year=2017/18"]),
    ("offence_counts", ["force", "quarter", "category"], []),
]


@pytest.fixture(scope="module")
def both(tmp_path_factory, shared: Path):
    files = [
        shared / "police-uk-west-mercia" / "2024-01",
        shared / "police-uk-west-mercia" / "2024-02",
        shared / "police-uk-west-mercia" / "2025-01",
        shared / "police-uk-west-mercia" / "2025-02",
        shared / "police-uk-west-midlands",
        shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv",
    ]
    crimes, people = random_extract(seed=21, n=2000)
    extract = write_force_extract(tmp_path_factory.mktemp("extract"), crimes, people)
    workspaces = {}
    for engine in ("duckdb", "spark"):
        ws = make_workspace(tmp_path_factory.mktemp(engine) / "ws", engine)
        ingest(ws, files)
        ingest(ws, extract, mappings=[FORCE_MAPPING])
        workspaces[engine] = ws
    yield workspaces
    for ws in workspaces.values():
        ws.close()


@pytest.mark.parametrize(("table", "by", "filters"), COUNTS)
def test_counts_agree(both, table, by, filters):
    parsed = [Filter.parse(f) for f in filters]
    duck = counts(both["duckdb"].store, table, by, parsed)
    spark = counts(both["spark"].store, table, by, parsed)
    assert (duck.engine, spark.engine) == ("duckdb", "spark")
    assert duck.total > 0
    pd.testing.assert_frame_equal(duck.frame, spark.frame, check_dtype=False)


def test_quality_agrees(both):
    duck = quality(both["duckdb"].store, both["duckdb"].settings)
    spark = quality(both["spark"].store, both["spark"].settings)
    pd.testing.assert_frame_equal(duck.incidents, spark.incidents, check_dtype=False)
    pd.testing.assert_frame_equal(duck.offence_counts, spark.offence_counts, check_dtype=False)
    pd.testing.assert_frame_equal(duck.gaps, spark.gaps)
    gaps = duck.gaps.to_dict(orient="records")
    assert gaps == [
        {
            "source_kind": "police_uk_street",
            "force": "West Mercia",
            "from": "2024-03",
            "to": "2024-12",
            "months": 10,
        }
    ]


def test_lineage_is_the_same(both):
    sql = "SELECT source_kind, sha256, rows_read, rows_accepted, rows_rejected FROM batches"
    duck = both["duckdb"].con.execute(sql + " ORDER BY batch_id").fetchall()
    spark = both["spark"].con.execute(sql + " ORDER BY batch_id").fetchall()
    assert duck == spark and len(duck) == 8


@pytest.mark.parametrize("name", [*shipped_definitions(), "youth-violence"])
def test_classification_agrees(both, name):
    definition = load_definition(YOUTH if name == "youth-violence" else name)
    frames = {}
    for engine, ws in both.items():
        summary = classify(ws.store, definition)
        assert summary.engine == engine
        table = ws.store.table("classifications")
        frames[engine] = (
            table.filter(table.definition_id == name)
            .to_pandas()
            .sort_values(["batch_id", "source_line"])
            .reset_index(drop=True)
        )
        frames[engine + "_summary"] = summary.clauses
    stored = both["duckdb"].con.execute("SELECT count(*) FROM incidents").fetchone()[0]
    assert len(frames["duckdb"]) == stored  # every incident classified once
    pd.testing.assert_frame_equal(frames["duckdb"], frames["spark"], check_dtype=False)
    pd.testing.assert_frame_equal(frames["duckdb_summary"], frames["spark_summary"])
    assert frames["duckdb"]["in_definition"].sum() > 0


def test_counts_by_definition_agree(both):
    definition = load_definition("west-mercia-2022")
    duck = counts(both["duckdb"].store, "incidents", ["clause", "quarter"], [], definition)
    spark = counts(both["spark"].store, "incidents", ["clause", "quarter"], [], definition)
    pd.testing.assert_frame_equal(duck.frame, spark.frame, check_dtype=False)
    assert set(duck.frame["clause"]) >= {"robbery", "serious_injury", "county_lines"}


def test_spark_readers_read_what_the_catalogue_copy_names(tmp_path, shared: Path):
    """A Spark reader reads the Delta versions the published catalogue names, although a
    writer has since committed newer ones."""
    months = [shared / "police-uk-west-mercia" / m for m in ("2025-01", "2025-02")]
    with make_workspace(tmp_path / "ws", "spark") as ws:
        ws.ingest([months[0]])
        ws.classify("police-uk-open-data")
        published = counts(ws.store, "incidents", ["month"]).frame
        classified = ws.store.table("classifications").count().to_pandas()
    writer = Workspace.open(tmp_path / "ws")
    writer.ingest([months[1]])
    writer.classify("police-uk-open-data")
    with Workspace.open(tmp_path / "ws", read_only=True) as reader:
        pd.testing.assert_frame_equal(counts(reader.store, "incidents", ["month"]).frame, published)
        assert reader.store.table("classifications").count().to_pandas() == classified
        assert reader.store.name == "spark"
    writer.close()
    with Workspace.open(tmp_path / "ws", read_only=True) as reader:
        months_held = counts(reader.store, "incidents", ["month"]).frame["month"]
        assert len(months_held) == 2
        assert reader.store.table("classifications").count().to_pandas() > classified
    # the replaced set's files stay for readers of the older version; the newest names one set
    import pyarrow
    from deltalake import DeltaTable

    folder = tmp_path / "ws" / "warehouse" / "classifications"
    assert len(list(folder.glob("svduty-*"))) == 2
    paths = pyarrow.table(DeltaTable(str(folder)).get_add_actions(flatten=True))["path"]
    assert len({path.split("/")[0] for path in paths.to_pylist()}) == 1


def test_health_of_a_workspace_with_no_partner_data_agrees(both):
    """No admissions held: both engines count none (Spark's sum of nothing is NaN, not null)."""
    from svduty.analysis.health import health

    definition = load_definition("west-mercia-2022")
    duck, spark = (health(both[e].store, definition) for e in ("duckdb", "spark"))
    assert (duck.admissions, duck.attendances) == (spark.admissions, spark.attendances) == (0, 0)
