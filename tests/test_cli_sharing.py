"""Every command on a shared workspace: on a read-only copy (a read-only share; for root, whom
permissions do not stop, the files are made immutable) and while another process holds the
writer lock. Commands that only read work on both; commands that change the workspace refuse, in
one line that says why. The commands are taken from the command line itself, so a new one fails
here until it is classed. Each runs as a user runs it, in a process of its own; the runs go
side by side, since each is mostly the start of a Python process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer.main
from read_only_folder import read_only
from typer.core import TyperGroup

from svduty.cli import app
from svduty.example import WEST_MERCIA, example_catalogue
from svduty.interventions import import_catalogue
from svduty.settings import Settings
from svduty.workspace import Workspace
from svduty.writer_lock import LOCK_FILE

READS: dict[str, list[str]] = {
    "bench report": ["--workspace", "{ws}"],
    "report": ["-w", "{ws}", "--no-pdf", "--out", "{out}"],
    "hotspots": ["-w", "{ws}"],
    "emerging-hotspots": ["-w", "{ws}"],
    "near-repeat": ["-w", "{ws}", "--filter", "source_kind=police_extract", "--simulations", "9"],
    "quality": ["-w", "{ws}"],
    "counts": ["-w", "{ws}", "--by", "csp"],
    "explain": ["-w", "{ws}", "{incident}"],
    "definitions diff": ["-w", "{ws}", "west-mercia-2022", "police-uk-open-data"],
    "batches": ["-w", "{ws}"],
    "rejects": ["-w", "{ws}"],
    "audit": ["-w", "{ws}"],
    "measures spc": ["-w", "{ws}", "knife-offences"],
    "measures funnel": ["-w", "{ws}", "knife-offences"],
    "measures show": ["-w", "{ws}", "knife-offences"],
    "measures list": ["-w", "{ws}"],
    "users list": ["-w", "{ws}"],
    "interventions list": ["-w", "{ws}"],
    "interventions show": ["-w", "{ws}", "CLIMB"],
    "interventions export": ["-w", "{ws}", "--format", "json"],
    "gaps": ["-w", "{ws}", "--format", "json"],
    "keys show": ["-w", "{ws}"],
    "link presets": ["-w", "{ws}"],
}
"""Commands that only read a workspace, with arguments that make each do its work (slowest
first, so the side-by-side runs end together)."""

READ_ONLY_SHARE_ONLY = {"bench report"}
"""Reads run on a read-only copy alone: `bench report` opens the workspace as `report` does
(its own step, clearing the cache, matters on a read-only share only) and builds the report
three times, so it reads a read-only copy of open data alone (`open_data_copy`), which builds
in a third of the time; `report` itself reads the copy with partner data."""

WRITES: dict[str, list[str]] = {
    "demo": ["{ws}"],
    "ingest": ["-w", "{ws}", "{new_month}"],
    "classify": ["-w", "{ws}"],
    "fetch police-uk": ["-w", "{ws}", "--force", "West Mercia", "--from", "2025-01", "--to",
                        "2025-01"],
    "fetch boundaries": ["-w", "{ws}", "--base-url", "http://127.0.0.1:9"],
    "init": ["{ws}"],
    "interventions import": ["-w", "{ws}", "{catalogue}"],
    "interventions add": ["-w", "{ws}", "NEW", "--name", "New", "--tier", "primary",
                          "--status", "planned"],
    "interventions edit": ["-w", "{ws}", "CLIMB", "--capacity-per-year", "70"],
    "interventions end": ["-w", "{ws}", "CLIMB", "--on", "2026-03-31"],
}  # fmt: skip
"""Commands that change a workspace, with arguments each would carry out if it were let."""

NO_WORKSPACE = {
    "version", "definitions list", "definitions show", "definitions validate", "synth", "spc",
    "funnel", "bench ingest", "bench classify", "bench synth", "bench spatial", "bench fuzz",
    "bench measures", "reference build", "reference profile", "measures validate",
    "interventions approaches", "interventions template", "keys create", "pseudonymise",
    "bench linkage", "bench pprl", "bench startup", "bench scale",
}  # fmt: skip
"""Commands that open no workspace (checked below by their parameters)."""

FOR_ANALYSTS: dict[str, list[str]] = {
    "link train": ["-w", "{ws}"],
    "link predict": ["-w", "{ws}"],
    "link cluster": ["-w", "{ws}"],
    "link report": ["-w", "{ws}", "--out", "{out}"],
    "link score": ["-w", "{ws}", "--truth", "{truth}"],
    "cohort": ["-w", "{ws}", "--linked"],
}
"""Commands on identifiers, linkage runs or the cohort, for analysts only, in the order an
analyst runs them: each works for an analyst and is refused to a partner (`roles` below, on a
workspace of synthetic identities)."""

ACCOUNTS = {"users add", "users disable", "users reset-password", "users set-role"}
"""Commands that change the dashboard's accounts (`users.sqlite`), never the data: they open
the workspace read-only and run beside a writer (tests/test_web.py runs `users add`)."""

SERVERS = {"serve", "bench dashboard"}
"""Commands that serve the workspace, read-only, until stopped or for a set time
(tests/test_web.py serves the app and runs the load test)."""

INTO_THE_SHARE: dict[str, list[str]] = {
    "report": ["report", "-w", "{ws}", "--no-pdf"],
    "report --overview": ["report", "-w", "{ws}", "--overview"],
    "init": ["init", "{ws}/new"],
    "synth": ["synth", "--out", "{ws}/synthetic", "--scale", "0.01"],
}
"""Commands told to write into the read-only share itself (its reports/ folder by default)."""

SWEEP: dict[tuple[str, str], list[str]] = {
    **{
        (case, name): [*name.split(), *args]
        for name, args in [*READS.items(), *WRITES.items()]
        for case in ("read-only", "held")
        if case == "read-only" or name not in READ_ONLY_SHARE_ONLY
    },
    **{("into the share", name): argv for name, argv in INTO_THE_SHARE.items()},
}
"""Every run: (case, command) -> the command line, with {ws}, {out} and the values of the
workspace to fill in."""

HOLDER = "alice"


def _commands(group: TyperGroup, prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[prefix + name] = command
    return found


def test_every_command_is_classed():
    commands = _commands(typer.main.get_command(app))
    classed = [*READS, *WRITES, *NO_WORKSPACE, *FOR_ANALYSTS, *ACCOUNTS, *SERVERS]
    assert len(classed) == len(set(classed))
    assert sorted(commands) == sorted(classed), (
        "class each command: read, write, accounts, server or neither"
    )
    for name in NO_WORKSPACE:
        params = {p.name for p in commands[name].params}
        assert not params & {"workspace", "directory"}, f"{name} takes a workspace: class it"


@pytest.fixture(scope="module")
def small(tmp_path_factory, west_mercia: Path) -> tuple[Path, dict[str, str]]:
    """A month of open data and a year of a small synthetic partner extract, so that every read
    command has data it can work on; writers wait half a second for the lock."""
    from svduty.synth.check import synthetic_files
    from svduty.synth.generate import generate
    from svduty.synth.profile import load_profile

    base = tmp_path_factory.mktemp("shared")
    settings = Settings(**{**WEST_MERCIA.__dict__, "writer_wait": 0.5})
    with Workspace.init(base / "ws", settings, say=lambda _: None) as ws:
        ws.ingest([west_mercia / "2025-06"])
        generate(load_profile("west-mercia"), base / "syn", scale=0.02, seed=3)
        files, mappings = synthetic_files(base / "syn")
        ws.ingest(files, mappings=mappings)
        ws.classify()
        import_catalogue(ws, example_catalogue())
        batch, line = ws.con.execute(
            "SELECT batch_id, source_line FROM incidents ORDER BY batch_id, source_line LIMIT 1"
        ).fetchone()
    values = {
        "incident": f"{batch}-{line}",
        "new_month": str(west_mercia / "2025-05"),
        "catalogue": str(example_catalogue()),
    }
    return base / "ws", values


@pytest.fixture(scope="module")
def roles(tmp_path_factory) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """Each command for analysts run by the account running the tests, as an analyst of a small
    workspace of synthetic identities (one after another, as each step reads the one before),
    then as a partner of a copy holding the analyst's runs (side by side): (role, command) ->
    the finished run."""
    from svduty.synth.check import synthetic_files
    from svduty.synth.generate import generate
    from svduty.synth.profile import load_profile
    from svduty.web.accounts import add_user, set_role
    from svduty.workspace import default_actor

    base = tmp_path_factory.mktemp("roles")
    generate(load_profile("west-mercia"), base / "syn", scale=0.02, seed=3, identities=True)
    files, mappings = synthetic_files(base / "syn")
    cohort = {"purpose": "review by the panel", "lawful_basis": "UK GDPR Art. 6(1)(e)"}
    settings = Settings(**{**WEST_MERCIA.__dict__, "cohort": cohort})
    with Workspace.init(base / "analyst", settings, say=lambda _: None) as ws:
        ws.ingest(files, mappings=mappings)
        ws.classify()
    add_user(base / "analyst", default_actor(), "a long passphrase 1", "analyst")
    truth = base / "syn" / "truth" / "identities.csv"

    def run(role: str, name: str) -> subprocess.CompletedProcess[str]:
        out = tmp_path_factory.mktemp("out")
        argv = [a.format(ws=base / role, out=out / "report", truth=truth)
                for a in FOR_ANALYSTS[name]]  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "svduty.cli", *name.split(), *argv], capture_output=True,
            text=True, cwd=out,
        )  # fmt: skip

    done = {("analyst", name): run("analyst", name) for name in FOR_ANALYSTS}
    shutil.copytree(base / "analyst", base / "partner")
    set_role(base / "partner", default_actor(), "partner")
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 1) + 1) as pool:
        refused = {name: pool.submit(run, "partner", name) for name in FOR_ANALYSTS}
        done.update({("partner", name): future.result() for name, future in refused.items()})
    return done


@pytest.mark.parametrize("name", FOR_ANALYSTS)
def test_analysts_commands_work_for_an_analyst(name, roles):
    done = roles[("analyst", name)]
    _works(done)
    if name == "cohort":
        assert "clusters of linkage run" in done.stdout, done.stdout


@pytest.mark.parametrize("name", FOR_ANALYSTS)
def test_analysts_commands_are_refused_to_a_partner(name, roles):
    from svduty.workspace import default_actor

    _refused(roles[("partner", name)], "are for analysts", f"{default_actor()!r} is a partner")


@pytest.fixture(scope="module")
def read_only_copy(small, tmp_path_factory) -> Iterator[Path]:
    root = Path(shutil.copytree(small[0], tmp_path_factory.mktemp("read-only") / "ws"))
    with read_only(root):
        yield root


@pytest.fixture(scope="module")
def open_data_copy(tmp_path_factory, west_mercia: Path) -> Iterator[Path]:
    """A read-only copy of a workspace of the same month of open data and nothing else."""
    root = tmp_path_factory.mktemp("open-data") / "ws"
    with Workspace.init(root, WEST_MERCIA, say=lambda _: None) as ws:
        ws.ingest([west_mercia / "2025-06"])
        ws.classify()
    with read_only(root):
        yield root


@pytest.fixture(scope="module")
def held_copy(small, tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """A copy whose writer lock another process holds (an open writer session, asleep); with
    how a refused writer names it."""
    root = Path(shutil.copytree(small[0], tmp_path_factory.mktemp("held") / "ws"))
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import time, svduty\nws = svduty.open({str(root)!r}, "
         f"actor={HOLDER!r})\nprint('holding', flush=True)\ntime.sleep(3600)\n"],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        since = datetime.fromisoformat(json.loads((root / LOCK_FILE).read_text())["since"])
        yield root, f"since {since.astimezone():%H:%M} by {HOLDER} (pid {holder.pid})"
    finally:
        holder.kill()
        holder.wait()


Run = Future[subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def runs(
    small, read_only_copy, held_copy, open_data_copy, tmp_path_factory
) -> Iterator[dict[tuple[str, str], Run]]:
    """Every workspace command on both copies, and the commands told to write into the share,
    started side by side; each test waits for its own."""
    values = small[1]
    copies = {"read-only": read_only_copy, "held": held_copy[0]}

    def run(key: tuple[str, str], argv: list[str], out: Path) -> subprocess.CompletedProcess[str]:
        case, name = key
        root = open_data_copy if name == "bench report" else copies.get(case, read_only_copy)
        filled = [a.format(ws=root, out=out, **values) for a in argv]
        return subprocess.run(
            [sys.executable, "-m", "svduty.cli", *filled], capture_output=True, text=True, cwd=out,
            env={**os.environ, "SVDUTY_POLICE_UK_ARCHIVE": "http://127.0.0.1:9"},
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 1) + 1) as pool:
        yield {
            key: pool.submit(run, key, argv, tmp_path_factory.mktemp("out"))
            for key, argv in SWEEP.items()
        }


def _works(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), done.stderr


def _refused(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit status 2 and one line starting 'error:' that says the expected things."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    for text in expected:
        assert text in errors[0], errors[0]


@pytest.mark.parametrize(
    ("case", "name"), [k for k in SWEEP if k[0] != "into the share" and k[1] in READS]
)
def test_reads_work(name, case, runs):
    done = runs[(case, name)].result()
    _works(done)
    if name == "report":
        assert "Wrote " in done.stdout and ".html" in done.stdout, done.stdout


@pytest.mark.parametrize("name", WRITES)
def test_writes_refuse_on_a_read_only_copy(name, runs, read_only_copy):
    done = runs[("read-only", name)].result()
    if name == "init":
        _refused(done, f"{read_only_copy} is already a workspace")
    else:
        _refused(done, f"{read_only_copy}: the folder cannot be written", "writable copy")


@pytest.mark.parametrize("name", WRITES)
def test_writes_refuse_while_another_process_writes(name, runs, held_copy):
    root, holder = held_copy
    done = runs[("held", name)].result()
    if name == "init":
        _refused(done, f"{root} is already a workspace")
    else:
        _refused(done, f"{root}: another svduty write session is running {holder}", "try again")


@pytest.mark.parametrize("name", INTO_THE_SHARE)
def test_writing_into_a_read_only_share_is_refused(name, runs, read_only_copy):
    done = runs[("into the share", name)].result()
    if name.startswith("report"):
        _refused(done, f"{read_only_copy / 'reports'}: reports cannot be written here")
    else:
        _refused(done, f"{read_only_copy}/", "choose a folder you can write to")
