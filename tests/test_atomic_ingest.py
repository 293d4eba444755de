"""A process killed mid-ingest leaves no partial batch, on either engine (real SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_workspace

from svduty.bench import repeat_to
from svduty.counting import counts
from svduty.ingest import ingest
from svduty.workspace import Workspace


@pytest.fixture(scope="module")
def big_file(west_mercia: Path, tmp_path_factory) -> Path:
    sources = sorted(west_mercia.glob("2025-*/*.csv"))
    return repeat_to(1_500_000, sources, tmp_path_factory.mktemp("big") / "big-street.csv")


def _start_ingest(root: Path, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "svduty.cli", "ingest", "--workspace", str(root), str(path)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def _kill_during_ingest(root: Path, path: Path, delay: float) -> None:
    process = _start_ingest(root, path)
    assert process.stderr is not None
    line = process.stderr.readline()
    while line and "ingesting" not in line:  # a progress line may come first
        line = process.stderr.readline()
    assert "ingesting" in line, line
    time.sleep(delay)
    assert process.poll() is None, "the ingest finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
@pytest.mark.parametrize("delay", [0.2, 0.9])
def test_killed_ingest_leaves_no_partial_batch(tmp_path, west_mercia, big_file, engine, delay):
    root = tmp_path / "ws"
    ws = make_workspace(root, engine)
    ingest(ws, [west_mercia / "2025-01"])
    before = counts(ws.store, "incidents", ["month"]).frame
    ws.close()

    _kill_during_ingest(root, big_file, delay)

    ws = Workspace.open(root)
    batches = ws.con.execute("SELECT batch_id, status FROM batches").fetchall()
    assert batches == [(1, "complete")]
    assert counts(ws.store, "incidents", ["month"]).frame.equals(before)
    assert ws.con.execute("SELECT count(*) FROM rejects").fetchall() == [(0,)]
    if engine == "spark":
        leftovers = [
            p.name
            for p in (root / "warehouse").rglob("*.parquet")
            if "batch-" in p.name and p.name != "batch-1.parquet"
        ]
        assert leftovers == []
    # and the same file then ingests whole
    [report] = ingest(ws, [big_file])
    assert report.status == "complete"
    total = counts(ws.store, "incidents", []).total
    assert total == int(before["count"].sum()) + report.rows_accepted
    ws.close()
