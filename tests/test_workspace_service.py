"""Many readers, one writer: readers read the published copy and never wait; a second writer waits
and names the first; a dead writer's lock is taken over; every process appends to the audit log.
Real processes, real files: nothing here is simulated."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from read_only_folder import read_only
from workspace_readers import reader, reading

import svduty
from svduty import audit
from svduty.bench import repeat_to
from svduty.definitions.classify import classify
from svduty.errors import WorkspaceError
from svduty.example import WEST_MERCIA, example_archive
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.workspace import DATABASE_FILE, SNAPSHOT_FILE, Workspace
from svduty.writer_lock import LOCK_FILE

ONE_CSP = dataclasses.replace(WEST_MERCIA, csps={"Herefordshire": ("E06000019",)})
"""The example's settings with one CSP, so the report's maps stay small and the test quick."""


@pytest.fixture(scope="module")
def base(tmp_path_factory, west_mercia: Path) -> Path:
    """A workspace with one month of open data, closed (so its read copy is published)."""
    root = tmp_path_factory.mktemp("base") / "ws"
    with Workspace.init(root, WEST_MERCIA, say=lambda _: None) as ws:
        ws.ingest([west_mercia / "2025-01"])
    return root


@pytest.fixture
def root(base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "ws"))


def _python(code: str) -> subprocess.Popen[str]:
    """A separate process running svduty (this checkout's, as the test's own path has it)."""
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip


def _await_line(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert expected in line, (line, process.stderr.read() if process.stderr else "")


def _hold_writer(root: Path, actor: str, then: str = "time.sleep(120)") -> subprocess.Popen[str]:
    process = _python(
        f"import time, svduty\nws = svduty.open({str(root)!r}, actor={actor!r})\n"
        f"print('holding', flush=True)\n{then}\n"
    )
    _await_line(process, "holding")
    return process


def test_readers_see_the_published_copy_and_cannot_write(root: Path, west_mercia: Path):
    writer = Workspace.open(root)
    published = writer.batch_ids
    writer.ingest([west_mercia / "2025-02"])
    with svduty.open(root, read_only=True) as reader:  # while the writer is open, in this process
        assert reader.batch_ids == published
        assert reader.data_version != writer.data_version
        with pytest.raises(WorkspaceError, match="read_only=False"):
            reader.ingest([west_mercia / "2025-03"])
        with pytest.raises(WorkspaceError, match="read_only=False"):
            classify(reader.store, svduty_definition())
        # analyses may stage data in temporary tables and views on a read-only connection
        reader.con.execute("CREATE TEMP TABLE sample AS SELECT * FROM incidents LIMIT 5")
        reader.con.execute("CREATE TEMP VIEW months AS SELECT DISTINCT month FROM incidents")
        assert reader.con.execute("SELECT count(*) FROM sample").fetchone() == (5,)
        assert reader.con.execute("SELECT count(*) FROM months").fetchone() == (1,)
    latest = writer.data_version
    writer.close()
    with svduty.open(root, read_only=True) as reader:
        assert reader.batch_ids == published | {max(published) + 1}
        assert reader.data_version == latest


def svduty_definition() -> Any:
    from svduty.definitions import load_definition

    return load_definition("police-uk-open-data")


def test_data_version_follows_what_analyses_read(root: Path, west_mercia: Path):
    with Workspace.open(root) as ws:
        first = ws.data_version
        assert ws.batch_ids == {
            r[0] for r in ws.con.execute("SELECT batch_id FROM batches").fetchall()
        }
        [again] = ws.ingest([west_mercia / "2025-01"])
        assert again.status == "already ingested" and ws.data_version == first
        ws.ingest([west_mercia / "2025-02"])
        ingested = ws.data_version
        ws.classify("police-uk-open-data")
        classified = ws.data_version
    assert len({first, ingested, classified}) == 3
    with Workspace.open(root, read_only=True) as reader:
        assert reader.data_version == classified
    settings = (root / "svduty.toml").read_text()
    (root / "svduty.toml").write_text(
        settings.replace('"Herefordshire" = ', '"County of Hereford" = ')
    )
    said: list[str] = []
    with Workspace.open(root, read_only=True, say=said.append) as reader:
        assert reader.data_version != classified
        csps = reader.store.table("areas").select("csp_name").distinct().to_pandas()["csp_name"]
        assert "County of Hereford" in set(csps)
    assert any("CSP settings" in line for line in said), said


def test_a_second_writer_waits_then_names_the_first(root: Path):
    holder = _hold_writer(root, "alice")
    try:
        said: list[str] = []
        started = time.monotonic()
        with pytest.raises(WorkspaceError) as error:
            svduty.open(root, wait=1.5, say=said.append)
        waited = time.monotonic() - started
        record = json.loads((root / LOCK_FILE).read_text())
        since = datetime.fromisoformat(record["since"]).astimezone().strftime("%H:%M")
        running = (
            f"another svduty write session is running since {since} by alice (pid {holder.pid})"
        )
        assert said == [f"{running}; waiting (up to 1.5 s)"]
        assert str(error.value) == f"{root}: {running}; waited 1.5 s, try again when it finishes"
        assert waited >= 1.5
        # a reader does not wait at all
        started = time.monotonic()
        with svduty.open(root, read_only=True) as reader:
            assert len(reader.batch_ids) == 1
        assert time.monotonic() - started < 1.0
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock went with it, and the next writer recovers
    said = []
    with svduty.open(root, wait=5, say=said.append) as ws:
        assert len(ws.batch_ids) == 1
    assert any("stopped before it finished" in line for line in said), said


def test_a_writer_waits_for_one_that_finishes(root: Path):
    holder = _hold_writer(root, "bob", then="time.sleep(1.0)\nws.close()")
    said: list[str] = []
    with svduty.open(root, wait=30, say=said.append) as ws:
        assert ws.batch_ids
    assert holder.wait() == 0
    assert len(said) == 1 and "by bob" in said[0] and "waiting" in said[0]


def test_a_lock_kept_by_a_dead_writer_is_taken_over(root: Path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    record = {"actor": "carol", "pid": gone.pid, "host": os.uname().nodename, "command": "x",
              "action": "ingest", "since": "2026-01-01T09:00:00+00:00"}  # fmt: skip
    # the lock is still held (as by a child that inherited it), but its writer is gone
    orphan = os.open(root / LOCK_FILE, os.O_RDWR)
    fcntl.flock(orphan, fcntl.LOCK_EX)
    os.write(orphan, json.dumps(record).encode())
    try:
        said: list[str] = []
        with svduty.open(root, wait=2, say=said.append) as ws:
            assert len(ws.batch_ids) == 1
        assert any("taking over" in line and "carol" in line for line in said), said
        assert any("stopped before it finished" in line for line in said), said
    finally:
        os.close(orphan)


def test_a_writer_killed_after_commit_is_published_by_the_next_reader(root: Path, west_mercia):
    month = west_mercia / "2025-03"
    writer = _hold_writer(
        root, "dave", then=f"ws.ingest([{str(month)!r}])\nprint('committed', flush=True)\n"
        "time.sleep(120)",
    )  # fmt: skip
    try:
        _await_line(writer, "committed")
        with svduty.open(root, read_only=True) as reader:  # the writer is alive: old copy
            assert len(reader.batch_ids) == 1
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    said: list[str] = []
    with svduty.open(root, read_only=True, say=said.append) as reader:
        assert len(reader.batch_ids) == 2
    assert any("stopped before publishing" in line and "dave" in line for line in said), said


def test_a_restored_database_file_is_noticed_by_readers(root: Path, west_mercia: Path):
    saved = root.parent / "saved.duckdb"
    shutil.copyfile(root / DATABASE_FILE, saved)
    with svduty.open(root) as ws:
        ws.ingest([west_mercia / "2025-02"])
    with svduty.open(root, read_only=True) as reader:
        assert len(reader.batch_ids) == 2
    shutil.copyfile(saved, root / DATABASE_FILE)  # restored from a copy, behind svduty's back
    said: list[str] = []
    with svduty.open(root, read_only=True, say=said.append) as reader:
        assert len(reader.batch_ids) == 1
    assert any("changed after its read copy was made" in line for line in said), said


def test_a_read_only_share_is_read_in_place(root: Path):
    with Workspace.open(root, read_only=True) as reader:
        published = reader.batch_ids
    said: list[str] = []
    with read_only(root):
        with svduty.open(root, read_only=True, say=said.append) as reader:
            assert reader.batch_ids == published
            reader.audit("look")
            reader.audit("look again")
        with pytest.raises(WorkspaceError, match=r"cannot be written.*read_only=True"):
            svduty.open(root)
    assert len([line for line in said if "cannot write the audit log" in line]) == 1, said
    # without a read copy (the writer stopped before publishing it) the live file is read
    (root / SNAPSHOT_FILE).unlink()
    with read_only(root), svduty.open(root, read_only=True, say=said.append) as reader:
        assert reader.batch_ids == published
    assert not (root / SNAPSHOT_FILE).exists()


def _append_audit(root: str, worker: int) -> None:
    with Workspace.open(Path(root), read_only=True, actor=f"worker {worker}") as reader:
        for n in range(25):
            reader.audit("note", {"n": n})


def test_every_process_appends_to_the_audit_log(root: Path, tmp_path: Path):
    output = tmp_path / "out.txt"
    output.write_text("a published figure\n")
    with Workspace.open(root, read_only=True, actor="erin") as reader:
        reader.audit("report", {"definition": "x"}, [output])
        version = reader.data_version
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_audit, args=(str(root), i)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    done = subprocess.run(
        [sys.executable, "-m", "svduty.cli", "audit", "-w", str(root), "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    log = json.loads(done.stdout)
    assert [r["action"] for r in log[:2]] == ["init", "ingest"]
    [report] = [r for r in log if r["action"] == "report"]
    assert report["actor"] == "erin" and report["data_version"] == version
    assert report["outputs"] == [
        {"path": str(output.resolve()), "sha256": hashlib.sha256(output.read_bytes()).hexdigest()}
    ]
    notes = [(r["actor"], r["parameters"]["n"]) for r in log if r["action"] == "note"]
    assert sorted(notes) == sorted((f"worker {w}", n) for w in range(4) for n in range(25))
    assert all(r["at"].endswith("+00:00") and r["svduty_version"] for r in log)


# -- many readers during an ingest ------------------------------------------------------------

READ_ON_DEMAND = (
    "ibis.backends.duckdb", "geopandas", "svduty.publish", "svduty.interventions.need",
    "svduty.linkage",
)  # fmt: skip
"""What opening a workspace and counting import when first asked (Ibis's DuckDB backend,
GeoPandas, SciPy, HiGHS): a second or two a process, paid once in the fork server rather than
by each reader."""


def test_readers_during_an_ingest_see_before_or_after_never_a_mixture(tmp_path, west_mercia):
    root = tmp_path / "ws"
    with Workspace.init(root, ONE_CSP, say=lambda _: None) as ws:
        ws.ingest([example_archive()])
        generate(load_profile("west-mercia"), tmp_path / "syn", scale=0.05, seed=9)
        files, mappings = synthetic_files(tmp_path / "syn")
        ws.ingest(files, mappings=mappings)
    # the state before the ingest, kept where nothing writes, read before the readers start:
    # read during the ingest, it would slow the ingest and so lengthen every reader's work
    quiet = Path(shutil.copytree(root, tmp_path / "before" / "ws"))
    before = reading(quiet, tmp_path / "quiet-before")
    big = repeat_to(200_000, sorted(west_mercia.glob("2025-*/*.csv")), tmp_path / "big.csv")

    # fresh processes, forked from a server that imported svduty once (spawning eight would
    # import it eight times), with the modules a first read loads on demand
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["workspace_readers", *READ_ON_DEMAND])
    ingesting, stop, results = context.Event(), context.Event(), context.Queue()
    readers = [
        context.Process(target=reader, args=(str(root), i, ingesting, stop, results))
        for i in range(8)
    ]
    for process in readers:
        process.start()
    seen: list[dict[str, Any]] = []
    while len({r["reader"] for r in seen}) < len(readers):  # every reader is reading
        seen.append(results.get(timeout=120))
    ingest = subprocess.Popen(
        [sys.executable, "-m", "svduty.cli", "ingest", "-w", str(root), str(big)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert ingest.stderr is not None
    line = ingest.stderr.readline()
    while line and "ingesting" not in line:  # a progress line may come first
        line = ingest.stderr.readline()
    assert "ingesting" in line  # it holds the writer lock
    ingest_start = time.time()
    ingesting.set()
    with pytest.raises(WorkspaceError, match=r"another ingest is running since .* by "):
        svduty.open(root, wait=0)
    assert ingest.wait(180) == 0, ingest.stderr.read()
    ingest_end = time.time()
    while not any(r.get("start", 0) > ingest_end for r in seen):  # a read of what it published
        seen.append(results.get(timeout=120))
    stop.set()
    while len([r for r in seen if "done" in r]) < len(readers):
        seen.append(results.get(timeout=120))
    for process in readers:
        process.join(60)
    reads = [r for r in seen if "version" in r]
    sna_after = any("sna" in r and r["version"] != before["version"] for r in reads)
    after = reading(root, tmp_path / "quiet-after" if sna_after else None)

    assert [r for r in seen if "error" in r] == []
    assert before["version"] != after["version"] and before["counts"] != after["counts"]
    during = [r for r in reads if r["start"] < ingest_end and r["end"] > ingest_start]
    assert len({r["reader"] for r in during}) == len(readers), "every reader read during it"
    assert {r["version"] for r in reads} == {before["version"], after["version"]}
    for result in reads:
        expected = before if result["version"] == before["version"] else after
        assert result["counts"] == expected["counts"]
        if "sna" in result:
            assert result["sna"] == expected["sna"]
    [assessed] = [r for r in reads if "sna" in r]
    assert assessed["start"] < ingest_end
    log = audit.read(root)
    [report] = [r for r in log[log["action"] == "report"].itertuples() if "sna-during" in r.outputs]
    assert report.data_version == assessed["version"]
    first, last = assessed["sna"]["report"]["period"].split(" to ")  # of the version it read
    name = f"sna-west-mercia-{first}-to-{last}-police-uk-open-data-internal"
    assert {Path(o["path"]).name for o in json.loads(report.outputs)} == {
        f"{name}.html", f"{name}-summary.json", f"{name}-charts.json",
    }  # fmt: skip
