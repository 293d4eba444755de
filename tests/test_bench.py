"""The benchmarks run end to end and compare like with like (no timing asserted)."""

from __future__ import annotations

import pytest
from conftest import csv_rows

from svduty.bench import bench_ingest, bench_measures, bench_report, repeat_to
from svduty.errors import InputError
from svduty.example import WEST_MERCIA
from svduty.ingest import ingest
from svduty.workspace import Workspace


def test_bench_reports_both_datasets_against_the_same_files():
    results = bench_ingest(rows=250_000)
    assert [r.dataset for r in results] == [
        "example (12 monthly files)",
        "one file of ~250,000 rows",
    ]
    assert results[0].rows == 102_105 and results[0].files == 12
    assert results[1].rows == 102_105 * 2  # 250,000 / 102,105 rounds to two copies
    for result in results:
        assert result.baseline_seconds > 0 and result.ingest_seconds > 0
        assert result.typed_seconds > 0
        assert result.ratio == result.ingest_rate / result.baseline_rate
        assert result.typed_ratio == result.ingest_rate / result.typed_rate


def test_repeat_to_keeps_one_header(west_mercia, tmp_path):
    sources = sorted(west_mercia.glob("2024-0[12]/*.csv"))  # CRLF files
    target = repeat_to(30_000, sources, tmp_path / "big.csv")
    lines = target.read_bytes().split(b"\n")
    assert lines[0].startswith(b"Crime ID,Month")
    assert sum(1 for line in lines if line.startswith(b"Crime ID")) == 1
    assert b"\r" not in target.read_bytes()
    assert len(lines) - 2 == (7700 + 7654) * 2


def test_classification_bench_classifies_every_generated_incident():
    from svduty.bench import bench_classify
    from svduty.definitions import shipped_definitions

    results = bench_classify(rows=20_000, threads=1)
    assert [r.definition for r in results] == list(shipped_definitions())
    for result in results:
        assert result.rows == 20_000 and result.classify_seconds > 0 and result.scan_seconds > 0


def test_report_bench_times_the_report_of_the_workspace_given(tmp_path, west_mercia):
    ws = Workspace.init(tmp_path / "ws", WEST_MERCIA)
    ingest(ws, [west_mercia / "2025-01", west_mercia / "2025-02"])
    ws.close()
    [result] = bench_report(tmp_path / "ws")
    rows = sum(len(csv_rows(f)) for f in west_mercia.glob("2025-0[12]/*street.csv"))
    assert (result.engine, result.incidents) == ("duckdb", rows)
    assert result.pdf_seconds and result.pdf_seconds > 0
    assert result.ratio == result.html_seconds / result.baseline_seconds


def test_measures_bench_times_every_measure_and_area_of_a_generated_framework():
    result = bench_measures(incidents=3_000, months=3, measures=5, one_by_one=1)
    assert (result.measures, result.months, result.incidents, result.one_by_one) == (5, 3, 3_000, 1)
    assert result.areas == 1 + len(WEST_MERCIA.csps)  # the partnership and each CSP
    assert result.count_seconds > 0 and result.series_seconds > 0 and result.spc_seconds > 0
    assert result.ratio == result.framework_seconds / result.count_seconds
    assert result.speedup == result.one_by_one_seconds / (result.framework_seconds / 5)


def test_measures_bench_refuses_an_empty_framework():
    with pytest.raises(InputError, match="--measures must be 1 or more, not 0"):
        bench_measures(incidents=10, months=1, measures=0)


def test_startup_bench_times_each_command_against_bare_python():
    from svduty.bench import bench_startup

    results = bench_startup(runs=1)
    assert [r.command for r in results] == ["python -c pass", "svduty --help", "svduty counts"]
    bare = results[0].seconds
    for result in results:
        assert result.runs == 1 and result.seconds > 0
        assert result.bare_seconds == bare
        assert result.excess == result.seconds - bare
    assert results[0].excess == 0


def test_startup_bench_refuses_no_runs():
    from svduty.bench import bench_startup

    with pytest.raises(InputError, match="--runs must be 1 or more"):
        bench_startup(runs=0)
