"""The main job: the bundled example becomes a workspace and a report a person can read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scanner import HtmlTables
from typer.testing import CliRunner

from svduty.cli import app
from svduty.vocabulary import heading, source_kind_label
from svduty.workspace import Workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "example-workspace"
    result = CliRunner().invoke(app, ["demo", str(root)])
    assert result.exit_code == 0, result.output
    assert "12 open-data batches, 102,105 records; 4 synthetic partner batches" in result.output
    series = sorted((root / "synthetic" / "series").glob("*.csv"))
    rows = sum(
        sum(1 for line in path.read_text().splitlines() if not line.startswith("#")) - 1
        for path in series
    )
    assert f"{len(series)} SYNTHETIC external series ({rows:,} rows)" in result.output
    return root


def _overview(root: Path) -> Path:
    """The overview's file: named by the area and the months of open data held."""
    with Workspace.open(root, read_only=True) as ws:
        [(first, last)] = ws.con.execute(
            "SELECT strftime(min(month), '%Y-%m'), strftime(max(month), '%Y-%m') FROM incidents "
            "WHERE source_kind = 'police_uk_street'"
        ).fetchall()
    return root / "reports" / f"overview-west-mercia-{first}-to-{last}.html"


def test_demo_builds_the_report_from_the_bundled_archive(demo):
    html = _overview(demo).read_text()
    for title in (
        "Records by month",
        "Records by crime type",
        "Records by Community Safety Partnership",
        "SYNTHETIC partner data",
        "Every figure in this section is synthetic",
        "Data quality",
        "Lineage",
        "Open Government Licence",
    ):
        assert title in html
    assert html.count("<svg") == 2
    # nothing is loaded from the network: no remote src/href, stylesheets or imports
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "<link" not in html and "@import" not in html and "<script" not in html


def _number(text: str) -> int:
    assert text != "[c]", "a hidden cell where the test expects every cell shown"
    return int(text.replace(",", ""))


def test_report_tables_agree_with_the_store_and_mask_small_counts(demo):
    parser = HtmlTables()
    parser.feed(_overview(demo).read_text())
    by_month, by_category, by_csp = parser.tables[:3]  # the real open data, nothing synthetic
    assert by_month[0] == [heading(c) for c in ("month", "count", "coverage")]
    assert len(by_month) == 13
    assert sum(_number(r[1]) for r in by_month[1:]) == 102_105
    with Workspace.open(demo) as ws:
        stored = dict(
            ws.con.execute(
                "SELECT category, count(*) FROM incidents WHERE source_kind = 'police_uk_street' "
                "GROUP BY 1"
            ).fetchall()
        )
        synthetic = ws.con.execute(
            "SELECT count(*) FROM incidents WHERE synthetic AND source_kind = 'police_extract'"
        ).fetchall()[0][0]
    shown = {r[0]: r[1] for r in by_category[1:]}
    assert shown == {k: f"{v:,}" if v >= 5 else "[c]" for k, v in stored.items()}
    assert [r[0] for r in by_csp[1:]] == [
        "South Worcestershire",
        "North Worcestershire",
        "Shropshire",
        "Telford and Wrekin",
        "Herefordshire",
        "(no LSOA)",
        "Outside the partnership's area",
    ]
    assert sum(_number(r[1]) for r in by_csp[1:]) == 102_105
    groups_heading = [heading("offence_group"), heading("count")]
    synthetic_groups = next(t for t in parser.tables if t[0] == groups_heading)
    assert sum(_number(r[1]) for r in synthetic_groups[1:]) == synthetic > 80_000
    quality_heading = [heading("source_kind"), heading("force")]
    quality_table = next(t for t in parser.tables if t[0][:2] == quality_heading)
    rows_column = quality_table[0].index(heading("rows"))
    open_rows = [r for r in quality_table[1:] if r[0] == source_kind_label("police_uk_street")]
    assert sum(_number(r[rows_column]) for r in open_rows) == 102_105
    extract_rows = [r for r in quality_table[1:] if r[0] == source_kind_label("police_extract")]
    synthetic_column = quality_table[0].index(heading("synthetic_rows"))
    assert all(r[synthetic_column] == r[rows_column] for r in extract_rows)


def test_demo_twice_is_idempotent(demo):
    result = CliRunner().invoke(app, ["demo", str(demo)])
    assert result.exit_code == 0
    with Workspace.open(demo) as ws:
        series = len(list((demo / "synthetic" / "series").glob("*.csv")))
        assert ws.con.execute("SELECT count(*) FROM batches").fetchall() == [(16 + series,)]
        assert ws.con.execute("SELECT count(*) FROM incidents WHERE NOT synthetic").fetchall() == [
            (102_105,)
        ]


def test_gaps_are_stated_in_words(demo, west_mercia):
    earlier = _overview(demo)
    with Workspace.open(demo) as ws:
        from svduty.ingest import ingest
        from svduty.overview import build_overview

        ingest(ws, [west_mercia / "2024-04"])
        path = build_overview(ws)
    assert path == _overview(demo) and earlier.exists()  # a longer period: a file of its own
    text = re.sub(r"\s+", " ", path.read_text())
    assert "West Mercia 2024-05 to 2024-12 (8 months)" in text
