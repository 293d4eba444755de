"""`svduty counts` on DuckDB answers in plain SQL (`svduty.counts_sql`), without Ibis and pandas;
it must give what `svduty.counting` gives: every dimension of both tables, every kind of filter,
the same refusals, and the same text in every format."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_workspace
from partner_files import FORCE_MAPPING, random_extract, write_force_extract

from svduty.counting import CountResult, Filter, counts
from svduty.counts_sql import CountRows, count_rows
from svduty.dimensions import dimensions
from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.output import Format, records, render, render_rows
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.workspace import Workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, shared: Path):
    """Two forces' open data, a force extract with offence codes, synthetic records and the Home
    Office's aggregate table: every table and dimension has something to count."""
    scratch = tmp_path_factory.mktemp("counts-sql")
    crimes, people = random_extract(seed=5, n=1500)
    extract = write_force_extract(scratch / "extract", crimes, people)
    generate(load_profile("west-mercia"), scratch / "synthetic", scale=0.02, seed=3)
    files, mappings = synthetic_files(scratch / "synthetic")
    ws = make_workspace(scratch / "ws", "duckdb")
    ingest(
        ws,
        [
            shared / "police-uk-west-mercia" / "2025-01",
            shared / "police-uk-west-midlands",
            shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv",
        ],
    )
    ingest(ws, extract, mappings=[FORCE_MAPPING])
    ws.ingest(files, mappings=mappings)
    ws.close()
    with Workspace.open(ws.root, read_only=True) as reader:  # as the command opens it
        yield reader


def _plain(result: CountResult) -> CountRows:
    """What `svduty.counting` gives, as the columns and rows `count_rows` gives."""
    listed = [tuple(r.values()) for r in records(result.frame)]
    return CountRows(list(result.frame.columns), listed, result.by)


def _same(ws: Workspace, table: str, by: list[str], filters: list[str]) -> CountRows:
    parsed = [Filter.parse(f) for f in filters]
    fast = count_rows(ws.store.catalogue, table, by, parsed)
    assert fast == _plain(counts(ws.store, table, by, parsed))
    return fast


def _dimension_names(ws: Workspace, table: str) -> list[str]:
    return sorted(dimensions(ws.store, table)[1])


def test_every_incident_dimension_counts_the_same(workspace):
    names = _dimension_names(workspace, "incidents")
    assert {"lsoa", "csp", "month", "quarter", "financial_year", "offence_group"} <= set(names)
    for name in names:
        fast = _same(workspace, "incidents", [name], [])
        assert fast.total() == workspace.con.execute("SELECT count(*) FROM incidents").fetchone()[0]


def test_every_aggregate_dimension_counts_the_same(workspace):
    stored = workspace.con.execute("SELECT sum(count) FROM offence_counts").fetchone()[0]
    assert stored > 0
    for name in _dimension_names(workspace, "offence_counts"):
        assert _same(workspace, "offence_counts", [name], []).total() == stored


@pytest.mark.parametrize(
    ("table", "by", "filters"),
    [
        ("incidents", [], []),
        ("incidents", ["csp", "month"], []),
        ("incidents", ["force", "quarter"], ["force=West Mercia", "force=West Midlands"]),
        ("incidents", ["month"], ["month>=2025-01", "month<=2025-06", "category=Robbery"]),
        ("incidents", ["la", "offence_subgroup"], ["financial_year=2024/25"]),
        ("incidents", ["category"], ["csp=No Such Partnership"]),
        ("incidents", [], ["month>=2099-01"]),
        ("offence_counts", ["force", "quarter", "category"], []),
        ("offence_counts", ["offence_group"], ['force="West Mercia"', "quarter>=2017/18 Q3"]),
    ],
    ids=str,
)
def test_filters_and_combinations_count_the_same(workspace, table, by, filters):
    fast = _same(workspace, table, by, filters)
    assert fast.columns[: len(by)] == by


def test_synthetic_records_are_counted_in_a_column_of_their_own(workspace):
    fast = _same(workspace, "incidents", ["force"], [])
    stored = workspace.con.execute("SELECT count(*) FROM incidents WHERE synthetic").fetchone()[0]
    assert stored > 0 and fast.synthetic() == stored
    real_only = _same(workspace, "incidents", ["force"], ["synthetic=false"])
    assert "synthetic" not in real_only.columns
    as_dimension = _same(workspace, "incidents", ["synthetic"], [])
    assert as_dimension.synthetic() == stored
    parsed = counts(workspace.store, "incidents", ["synthetic"])
    assert parsed.synthetic == stored


@pytest.mark.parametrize(
    ("table", "by", "filters"),
    [
        ("incidents", ["nonsense"], []),
        ("incidents", ["csp", "csp"], []),
        ("incidents", ["clause"], []),
        ("offence_counts", ["clause", "force"], []),
        ("incidents", [], ["nonsense=1"]),
        ("offence_counts", ["lsoa"], []),
        ("offence_counts", ["month"], []),
        ("classifications", ["month"], []),
        ("classifications", ["clause"], []),
    ],
    ids=str,
)
def test_the_same_refusals(workspace, table, by, filters):
    parsed = [Filter.parse(f) for f in filters]
    with pytest.raises(InputError) as slow:
        counts(workspace.store, table, by, parsed)
    with pytest.raises(InputError) as fast:
        count_rows(workspace.store.catalogue, table, by, parsed)
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize("fmt", list(Format), ids=str)
@pytest.mark.parametrize(
    ("by", "filters"),
    [(["csp", "month"], []), ([], []), (["lsoa"], ["month>=2099-01"]), (["synthetic"], [])],
    ids=str,
)
def test_each_format_prints_the_same_text(workspace, fmt, by, filters):
    parsed = [Filter.parse(f) for f in filters]
    fast = count_rows(workspace.store.catalogue, "incidents", by, parsed)
    slow = counts(workspace.store, "incidents", by, parsed).frame
    figures = [c for c in fast.columns if c not in by]
    printed = render_rows(fast.columns, fast.rows, fmt, "title", figures)
    assert printed == render(slow, fmt, "title")


def test_the_command_prints_what_counting_gives(workspace):
    """End to end: the command as a user runs it, in a new process."""
    expected = render(counts(workspace.store, "incidents", ["csp", "month"]).frame, Format.csv)
    command = ["counts", "-w", str(workspace.root), "--by", "csp,month", "-f", "csv"]
    done = subprocess.run(
        [sys.executable, "-m", "svduty.cli", *command],
        capture_output=True, text=True, env=dict(os.environ), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    assert "SYNTHETIC" in done.stderr
