"""How a command ends when something goes wrong that is not the user's input: Ctrl-C, a damaged
database file, a bug. Each ends in one line that says what happened and what to do, never a
traceback; the real command line runs in a child process, interrupted by a real SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import make_workspace

from svduty.workspace import DATABASE_FILE, SNAPSHOT_FILE, Workspace


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "svduty.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_ctrl_c_during_an_ingest_says_what_was_stored_and_leaves_whole_batches(
    tmp_path, west_mercia
):
    root = tmp_path / "ws"
    make_workspace(root).close()
    months = sorted(p for p in west_mercia.glob("2025-*") if p.is_dir())
    process = subprocess.Popen(
        [sys.executable, "-m", "svduty.cli", "ingest", "-w", str(root), *map(str, months)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    ingesting = 0
    while ingesting < 2:
        line = process.stderr.readline()
        assert line, "the ingest ended before it could be interrupted"
        ingesting += "ingesting" in line
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait() == 130
    assert "Traceback" not in rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith("interrupted; "), rest

    notes: list[str] = []
    ws = Workspace.open(root, say=notes.append)
    batches = ws.con.execute(
        "SELECT file_name, rows_read, rows_accepted, status FROM batches ORDER BY batch_id"
    ).fetchall()
    stored = ws.con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
    ws.close()
    assert notes == []  # no writer left stopped: nothing to recover
    # every batch is whole, and the line names how many files were kept
    assert all(status == "complete" and read == accepted for _, read, accepted, status in batches)
    assert stored == sum(accepted for _, _, accepted, _ in batches)
    if batches and len(batches) < len(months):
        assert f"the first {len(batches)} file(s)" in last
    elif not batches:
        assert last == "interrupted; nothing from this run was stored"


def test_a_damaged_database_file_is_named_with_the_copy_to_restore(tmp_path, west_mercia):
    root = tmp_path / "ws"
    ws = make_workspace(root)
    ws.ingest([west_mercia / "2025-01"])
    ws.close()
    (root / DATABASE_FILE).write_bytes(b"not a database " * 4096)

    for command in (["counts"], ["ingest", str(west_mercia / "2025-02")]):
        done = _cli(*command, "-w", str(root))
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, done.stderr
        assert f"{root / DATABASE_FILE}: the file is damaged or not a DuckDB database" in lines[0]
        assert f"the newest readable copy is {root / SNAPSHOT_FILE}" in lines[0]

    # the advice works: the read copy put back opens, with the batch it held
    (root / DATABASE_FILE).unlink()
    (root / SNAPSHOT_FILE).rename(root / DATABASE_FILE)
    ws = Workspace.open(root)
    assert ws.con.execute("SELECT count(*) FROM batches").fetchall() == [(1,)]
    ws.close()


def test_an_unexpected_error_is_one_line_and_a_log_with_the_traceback(tmp_path):
    script = (
        "import sys\n"
        "from svduty import cli\n"
        "@cli.app.command('explode')\n"
        "def explode() -> None:\n"
        "    raise RuntimeError('a fault no check foresaw')\n"
        "sys.argv = ['svduty', 'explode']\n"
        "cli.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: unexpected RuntimeError: a fault no check foresaw.")
    [log] = (tmp_path / "state" / "svduty" / "logs").glob("svduty-error-*.log")
    assert str(log) in line
    text = log.read_text()
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: a fault no check foresaw" in text


def test_spark_without_java_is_refused_before_any_work(tmp_path):
    bare = {"PATH": str(tmp_path / "no-bin"), "JAVA_HOME": ""}
    done = _cli("bench", "report", "--spark", env=bare)
    assert done.returncode == 2, done.stderr
    assert "spark: " in done.stderr and "Traceback" not in done.stderr
    assert "ingesting" not in done.stderr  # refused before building the example workspace
