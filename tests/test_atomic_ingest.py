"""A process killed mid-ingest leaves no partial batch, on either engine (real SIGKILL), even
when files are stored many to a transaction."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import csv_rows, make_workspace

from svduty.bench import repeat_to
from svduty.counting import counts
from svduty.errors import InputError
from svduty.ingest import GROUP_BYTES, ingest
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
        _assert_delta_holds_only_committed_batches(ws)
    # and the same file then ingests whole
    [report] = ingest(ws, [big_file])
    assert report.status == "complete"
    total = counts(ws.store, "incidents", []).total
    assert total == int(before["count"].sum()) + report.rows_accepted
    ws.close()


@pytest.fixture(scope="module")
def grouped_files(west_mercia: Path, tmp_path_factory) -> Path:
    """A folder of three large files, different in content, that ingest stores in one
    transaction."""
    folder = tmp_path_factory.mktemp("grouped")
    for month in ("2025-01", "2025-02", "2025-03"):
        sources = sorted(west_mercia.glob(f"{month}/*street.csv"))
        repeat_to(300_000, sources, folder / f"{month}-west-mercia-street.csv")
    assert sum(f.stat().st_size for f in folder.iterdir()) <= GROUP_BYTES
    return folder


def _assert_delta_holds_only_committed_batches(ws: Workspace) -> None:
    """What any Delta reader sees as the table's newest version is what the catalogue
    committed: a killed writer's version was restored when the next writer opened."""
    from deltalake import DeltaTable

    table = DeltaTable(ws.store.uri("incidents"))  # type: ignore[attr-defined]
    assert table.version() == ws.store.recorded_version("incidents")  # type: ignore[attr-defined]
    batches = table.to_pyarrow_table(columns=["batch_id"]).column("batch_id").unique()
    committed = ws.con.execute("SELECT batch_id FROM batches").fetchall()
    assert sorted(batches.to_pylist()) == sorted(b for (b,) in committed)


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_killed_multi_file_transaction_lands_nothing_and_the_retry_lands_each_file_once(
    tmp_path, west_mercia, grouped_files, engine
):
    root = tmp_path / "ws"
    ws = make_workspace(root, engine)
    ingest(ws, [west_mercia / "2024-01"])
    before = counts(ws.store, "incidents", []).total
    ws.close()

    process = _start_ingest(root, grouped_files)
    assert process.stderr is not None
    started = 0
    while started < 2:  # the first file is stored in the open transaction, the second begun
        line = process.stderr.readline()
        assert line, "the ingest ended before its second file"
        started += "ingesting" in line
    assert process.poll() is None, "the ingest finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    ws = Workspace.open(root)
    assert ws.con.execute("SELECT batch_id, status FROM batches").fetchall() == [(1, "complete")]
    assert counts(ws.store, "incidents", []).total == before
    assert ws.con.execute("SELECT count(*) FROM rejects").fetchall() == [(0,)]
    if engine == "spark":
        _assert_delta_holds_only_committed_batches(ws)

    files = sorted(grouped_files.iterdir())
    reports = ingest(ws, [grouped_files])
    assert [r.status for r in reports] == ["complete"] * len(files)
    rows = [len(csv_rows(f)) for f in files]
    assert [r.rows_accepted for r in reports] == rows
    stored = ws.con.execute(
        "SELECT file_name, rows_accepted FROM batches WHERE batch_id > 1 ORDER BY batch_id"
    ).fetchall()
    assert stored == [(str(f), n) for f, n in zip(files, rows, strict=True)]
    assert counts(ws.store, "incidents", []).total == before + sum(rows)
    again = ingest(ws, [grouped_files])
    assert [r.status for r in again] == ["already ingested"] * len(files)
    if engine == "spark":
        _assert_delta_holds_only_committed_batches(ws)
    ws.close()


def test_a_file_the_reader_refuses_costs_the_files_grouped_with_it_nothing(tmp_path, west_mercia):
    lines = (west_mercia / "2025-01" / "2025-01-west-mercia-street.csv").read_bytes().split(b"\n")
    folder = tmp_path / "files"
    folder.mkdir()
    good = folder / "a-street.csv"
    good.write_bytes(b"\n".join(lines[:41]) + b"\n")
    broken = lines[:31]
    broken[5] = broken[5].replace(b"On or near", b"x\rOn or near", 1)  # a lone CR: unreadable
    (folder / "b-street.csv").write_bytes(b"\n".join(broken) + b"\n")
    (folder / "c-street.csv").write_bytes(b"\n".join([lines[0], *lines[41:61]]) + b"\n")
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(InputError, match=r"b-street\.csv: DuckDB's CSV reader cannot read"):
        ingest(ws, [folder])
    # the file before it is stored whole, as it would be alone; nothing of the refused file
    assert ws.con.execute("SELECT file_name, rows_accepted FROM batches").fetchall() == [
        (str(good), len(csv_rows(good)))
    ]
    assert counts(ws.store, "incidents", []).total == len(csv_rows(good))
    (folder / "b-street.csv").unlink()
    reports = ingest(ws, [folder])
    assert [r.status for r in reports] == ["already ingested", "complete"]
    assert reports[1].rows_accepted == len(csv_rows(folder / "c-street.csv"))
    ws.close()


def test_hashing_ahead_stops_when_the_ingest_does(tmp_path):
    """Files are hashed a group ahead by a thread of their own; an interrupted ingest closes it,
    and it stops within a block rather than reading a large file to its end. A pipe that never
    ends stands for a file too large to wait for."""
    import threading

    from svduty.ingest import Digests

    pipe = tmp_path / "endless"
    os.mkfifo(pipe)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), pipe.open("wb") as out:
            while True:
                out.write(b"x" * (1 << 20))

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    digests = Digests()
    digests.ahead([pipe])
    time.sleep(0.5)  # the hash is under way
    digests.close()
    with pytest.raises(InputError, match="hashing stopped"):
        digests.of(pipe)
    feeder.join(timeout=30)
    assert not feeder.is_alive()  # the pipe was closed: the thread stopped reading it
