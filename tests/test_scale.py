"""The scale benchmark: its national data set, and every step run and reported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter

from conftest import csv_rows

from svduty.scale import FORCE_VOLUMES, generate, run_step
from svduty.sources.police_uk import STREET

STEPS = [
    "DuckDB read_csv count",
    "DuckDB typed load",
    "ingest (and its classification)",
    "classify",
    "counts (by month and force)",
    "quality",
    "report (SNA, HTML)",
    "hotspots",
    "near repeats",
]


def test_generated_data_set_has_the_archive_layout_and_the_forces_volumes(west_mercia, tmp_path):
    templates = sorted(west_mercia.glob("2025-0[12]/*street.csv"))
    data = generate(tmp_path / "data", 30_000, templates, months=3, seed=7)
    files = sorted(data.folder.rglob("*.csv"))
    assert data.files == len(files) == len(FORCE_VOLUMES) * 3 - data.gaps
    assert sorted(p.name for p in data.folder.iterdir()) == ["2025-07", "2025-08", "2025-09"]
    rows_by_force: Counter[str] = Counter()
    for path in files:
        found = re.fullmatch(r"(\d{4}-\d{2})-[a-z-]+-street\.csv", path.name)
        assert found is not None, path.name
        month = found.group(1)
        assert path.parent.name == month
        assert path.read_text().split("\n", 1)[0] == ",".join(STREET)
        rows = csv_rows(path)
        assert {r["Month"] for r in rows} == {month}
        [force] = {r["Falls within"] for r in rows}
        rows_by_force[force] += len(rows)
    assert sum(rows_by_force.values()) == data.rows == 30_000
    assert set(rows_by_force) == set(FORCE_VOLUMES)
    # the largest force has the largest share, the smallest the smallest
    assert rows_by_force.most_common()[0][0] == max(FORCE_VOLUMES, key=FORCE_VOLUMES.__getitem__)
    assert rows_by_force.most_common()[-1][0] == min(FORCE_VOLUMES, key=FORCE_VOLUMES.__getitem__)


def test_a_step_that_fails_or_overruns_is_reported_not_raised():
    failed = run_step("x", [sys.executable, "-c", "raise SystemExit('no such thing')"], 10, 60)
    assert failed.outcome == "failed (exit 1): no such thing" and failed.rows_per_second is None
    slow = run_step("y", [sys.executable, "-c", "import time; time.sleep(30)"], 10, 1)
    assert slow.outcome == "timed out after 1 s" and slow.seconds < 20
    grown = run_step("z", [sys.executable, "-c", "x = bytearray(200 << 20)"], 10, 60)
    assert grown.outcome == "ok" and grown.peak_rss_bytes is not None
    assert grown.peak_rss_bytes >= 200 << 20


def test_every_step_is_run_and_reported_at_a_tiny_size(tmp_path):
    """As a user runs it: the command line, each step's figures in its table (here as JSON)."""
    argv = ["bench", "scale", "--rows", "5000", "--months", "1", "--scratch", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "svduty.cli", *argv, "--format", "json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    steps = json.loads(done.stdout)
    assert [s["step"] for s in steps] == STEPS
    for step in steps[:-1]:
        assert step["outcome"] == "ok", (step["step"], step["outcome"])
        assert step["seconds"] > 0 and step["rows"] == 5_000
        assert step["peak RSS (MB)"] > 0
        assert abs(5_000 / step["rows/s"] - step["seconds"]) <= 0.051  # seconds shown to 0.1
    # open data is dated to the month: svduty refuses a near-repeat test, and the bench says so
    assert steps[-1]["outcome"].startswith("refused:") and "month" in steps[-1]["outcome"]
    assert list(tmp_path.iterdir()) == []  # the data set and workspace are removed


def test_a_bad_setting_is_refused_before_anything_is_generated(tmp_path):
    """At 60 million rows generation takes minutes: an engine or memory limit svduty refuses
    is named before it starts, and nothing is left in the scratch folder."""
    for option, value, said in [
        ("--engine", "nonsense", "engine must be one of"),
        ("--memory-limit", "lots", "memory_limit must be"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "svduty.cli", "bench", "scale", "--rows", "60000000",
             "--scratch", str(tmp_path), option, value],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert "generating" not in done.stderr and "Traceback" not in done.stderr
        assert list(tmp_path.iterdir()) == []
