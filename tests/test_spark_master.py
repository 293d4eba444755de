"""A Spark workspace runs against the master its settings name, here a cluster of two executor
processes (`local-cluster`), not the tests' in-process `local` master, and counts what DuckDB
counts."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import make_workspace

from svduty.counting import counts
from svduty.definitions import load_definition
from svduty.example import WEST_MERCIA
from svduty.workspace import Workspace

pytestmark = pytest.mark.spark

MASTER = "local-cluster[2,1,1024]"
"""Two executors of one core and 1 GB each, separate JVMs the driver reaches over the network,
as on a standalone cluster."""

SCRIPT = """
import json, sys
from pathlib import Path
from svduty.counting import counts
from svduty.definitions import load_definition
from svduty.spark_store import spark_session
from svduty.workspace import Workspace

with Workspace.open(Path(sys.argv[1]), say=lambda _: None) as ws:
    ws.ingest([Path(p) for p in sys.argv[2:]])
    ws.classify("police-uk-open-data")
    frame = counts(ws.store, "incidents", ["month", "category"]).frame
    definition = load_definition("police-uk-open-data")
    classified = counts(ws.store, "incidents", ["clause"], [], definition).frame
    context = spark_session(ws.settings.spark_master).sparkContext
    executors = context._jsc.sc().getExecutorMemoryStatus().size() - 1
    print(json.dumps({
        "master": context.master,
        "executors": executors,
        "counts": frame.astype(str).values.tolist(),
        "clauses": classified.astype(str).values.tolist(),
    }))
"""


def test_a_workspace_runs_on_the_master_its_settings_name(tmp_path, west_mercia: Path):
    months = [west_mercia / "2025-01", west_mercia / "2025-02"]
    root = tmp_path / "spark"
    Workspace.init(root, replace(WEST_MERCIA, engine="spark", spark_master=MASTER)).close()
    elsewhere = tmp_path / "elsewhere"  # the folder the command is run from
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root), *map(str, months)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert list(elsewhere.iterdir()) == [], "Spark left files where the command ran"
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["master"] == MASTER and found["executors"] == 2

    definition = load_definition("police-uk-open-data")
    with make_workspace(tmp_path / "duckdb") as ws:
        ws.ingest(months)
        ws.classify("police-uk-open-data")
        expected = counts(ws.store, "incidents", ["month", "category"]).frame
        clauses = counts(ws.store, "incidents", ["clause"], [], definition).frame
    assert found["counts"] == expected.astype(str).values.tolist()
    assert found["clauses"] == clauses.astype(str).values.tolist()
    assert len(found["counts"]) > 20
