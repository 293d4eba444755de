"""Fixtures: the shared public data beside the project, and fresh workspaces on each engine."""

from __future__ import annotations

import csv
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from svduty.example import WEST_MERCIA
from svduty.settings import Settings
from svduty.workspace import Workspace

SHARED = Path(os.environ.get("SVDUTY_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data"))

FIRST = (
    "test_readme_tour.py",
    "test_analysis_engines.py",
    "test_workspace_service.py",
    "test_engines.py",
    "test_sna.py",
    "test_atomic_ingest.py",
    "test_cli_sharing.py",
    "test_cli.py",
    "test_web_records.py",
)
"""The files that run first, the slowest mostly: `make test` hands each file whole to one of two
workers in collection order, so a long file started first runs beside the many short ones, not
alone at the end (the README tour, one test of about four minutes, came last by default, and
so did the workspace service's readers, last by name). A worker whose queue is down to two tests
takes the next file at once, so the README tour's worker, which starts with two, is given the
third file straight away: the workspace service, not a long file like the SNA's. The other
files on Spark follow the longest one, which the worker whose Spark session is running takes up
as it ends: one worker pays for starting Spark, not both."""

os.environ.setdefault(
    "PYSPARK_SUBMIT_ARGS",
    '--driver-java-options "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" pyspark-shell',
)
"""The tests' Spark sessions run many small jobs on little data, a JVM's start and warm-up more
than its work: the quick compiler alone and the simple collector take about a third less time
(tests/test_analysis_engines.py: 256 s -> 173 s). What Spark computes is the same."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set SVDUTY_SHARED_DATA")
    return SHARED


@pytest.fixture(scope="session")
def west_mercia(shared: Path) -> Path:
    return shared / "police-uk-west-mercia"


@pytest.fixture(scope="session")
def prc_table(shared: Path) -> Path:
    return shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv"


def make_workspace(
    root: Path, engine: str = "duckdb", settings: Settings = WEST_MERCIA
) -> Workspace:
    return Workspace.init(root, Settings(**{**settings.__dict__, "engine": engine}))


@pytest.fixture(scope="session")
def sna_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A workspace like the example's: real West Mercia open data for 2025 and a synthetic
    partner extract (half the profile's volume), built once and read by many tests. Under
    pytest-xdist the workers share one copy (the first to ask builds it, the others wait for
    it): every test opens it read-only, as readers of a shared workspace do."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, common to its workers
    root = root / "sna"
    root.mkdir(exist_ok=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "built").exists():
            _build_sna_workspace(root)
            (root / "built").touch()
    return root / "example-workspace", str(WEST_MERCIA.area)


def _build_sna_workspace(root: Path) -> None:
    from svduty.example import example_archive
    from svduty.ingest import ingest
    from svduty.synth.check import synthetic_files
    from svduty.synth.generate import generate
    from svduty.synth.profile import load_profile

    with Workspace.init(root / "example-workspace", WEST_MERCIA) as ws:
        ingest(ws, [example_archive()])
        generate(load_profile("west-mercia"), root / "syn", scale=0.5, seed=9)
        files, mappings = synthetic_files(root / "syn")
        ingest(ws, files, mappings=mappings)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = make_workspace(tmp_path / "ws")
    yield ws
    ws.close()


def csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV read with the standard library: an independent reading of the same file."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def table_count(ws: Workspace, table: str) -> int:
    row = ws.con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def svduty(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, in this Python's environment."""
    return subprocess.run(
        [sys.executable, "-m", "svduty.cli", *args], capture_output=True, text=True,
        env=dict(os.environ),
    )  # fmt: skip
