"""`svduty bench scale`: a national decade of street-level crime, and every step timed on it.

The data set has the data.police.uk layout: one `YYYY-MM-<force>-street.csv` per force and
month, in a folder per month, for the 43 territorial forces of England and Wales, with some
force-months missing as the real archive has gaps. Each force's share of the rows is its share
of the crimes recorded in 2017/18 (`FORCE_VOLUMES`). The rows are real West Mercia rows
repeated (their places, categories and outcomes), given the file's force and month and a Crime
ID of their own; so every force's crimes lie on West Mercia's map, which makes the spatial
steps denser than the real country's.

Each step is the real command line run as a child process, timed, with its peak resident
memory read from the operating system's account of that child (`os.wait4`). A step that fails,
is killed or runs out of time is reported so, and the steps after it still run.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from svduty.errors import InputError
from svduty.sources.base import sql_text

FORCE_VOLUMES = {
    "Metropolitan Police Service": 815528, "Greater Manchester Police": 339818,
    "West Yorkshire Police": 265520, "West Midlands Police": 233393, "Kent Police": 177187,
    "Hampshire Constabulary": 159541, "Northumbria Police": 153020,
    "Thames Valley Police": 149004, "South Yorkshire Police": 141918,
    "Avon and Somerset Constabulary": 140071, "Essex Police": 134153,
    "Lancashire Constabulary": 127028, "Merseyside Police": 125424, "Sussex Police": 113666,
    "South Wales Police": 104859, "Devon & Cornwall Police": 103406,
    "Nottinghamshire Police": 96327, "Cheshire Constabulary": 87361,
    "Humberside Police": 86630, "West Mercia Police": 84350,
    "Leicestershire Police": 83793, "Staffordshire Police": 83768,
    "Hertfordshire Constabulary": 82859, "Surrey Police": 72853,
    "Cambridgeshire Constabulary": 66194, "Durham Constabulary": 61150,
    "Cleveland Police": 57222, "Norfolk Constabulary": 56398,
    "Derbyshire Constabulary": 55589, "Northamptonshire Police": 54640,
    "Suffolk Constabulary": 53116, "North Wales Police": 51602, "Dorset Police": 49115,
    "Gwent Police": 48823, "Bedfordshire Police": 47153, "Wiltshire Police": 43563,
    "Warwickshire Police": 41411, "Lincolnshire Police": 40701,
    "North Yorkshire Police": 39077, "Gloucestershire Constabulary": 34076,
    "Cumbria Constabulary": 28533, "Dyfed-Powys Police": 25742, "City of London Police": 5870,
}  # fmt: skip
"""Crimes each territorial force recorded in 2017/18, fraud excluded (Home Office police
recorded crime by police force area, 2017/18; British Transport Police and Action Fraud left
out): the relative volumes of the generated forces."""

GAP_SHARE = 0.02
"""Share of force-months left out, as the archive lacks some months of some forces."""
LAST_MONTH = "2025-09"
TEMPLATE_MONTHS = "2025-*"


@dataclass(frozen=True)
class Generated:
    folder: Path
    rows: int
    files: int
    gaps: int
    seconds: float


def _slug(force: str) -> str:
    name = force.removesuffix(" Police Service").removesuffix(" Police")
    name = name.removesuffix(" Constabulary").replace("&", "and")
    return "-".join(name.lower().replace("-", " ").split())


def _months(count: int, last: str = LAST_MONTH) -> list[str]:
    year, month = (int(p) for p in last.split("-"))
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


def _file_rows(rows: int, months: list[str], seed: int) -> tuple[dict[tuple[str, str], int], int]:
    """Rows of each force-month kept (the gaps left out), summing to `rows`; and the gaps."""
    chooser = random.Random(seed)
    kept = [
        (force, month)
        for force in FORCE_VOLUMES
        for month in months
        if chooser.random() >= GAP_SHARE
    ]
    gaps = len(FORCE_VOLUMES) * len(months) - len(kept)
    present = {force: sum(1 for f, _ in kept if f == force) for force in FORCE_VOLUMES}
    total = sum(FORCE_VOLUMES[f] for f, n in present.items() if n)
    wanted = {key: rows * FORCE_VOLUMES[key[0]] / total / present[key[0]] for key in kept}
    # largest remainders, so the files add up to exactly `rows`
    counts = {key: int(share) for key, share in wanted.items()}
    short = rows - sum(counts.values())
    for key in sorted(wanted, key=lambda k: counts[k] - wanted[k])[:short]:
        counts[key] += 1
    return counts, gaps


def generate(
    target: Path,
    rows: int,
    templates: list[Path],
    months: int = 120,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> Generated:
    """Write the national data set into `target`, one file at a time (DuckDB holds only the
    template rows and the file being written)."""
    if rows < 1:
        raise InputError(f"--rows must be 1 or more, not {rows}")
    if not 1 <= months <= 240:
        raise InputError(f"--months must be from 1 to 240, not {months}")
    if not templates:
        raise InputError("no template rows: the West Mercia example files were not found")
    counts, gaps = _file_rows(rows, _months(months), seed)
    began = time.perf_counter()
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE pool AS SELECT row_number() OVER () - 1 AS i, * FROM "
            "read_csv(?, header=true, all_varchar=true, union_by_name=true)",
            [[str(t) for t in templates]],
        )
        size = int(con.execute("SELECT count(*) FROM pool").fetchall()[0][0])
        offset, clock = 0, time.monotonic()
        ordered = sorted(counts.items(), key=lambda item: item[0][::-1])
        for written, ((force, month), n) in enumerate(ordered, start=1):
            folder = target / month
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{month}-{_slug(force)}-street.csv"
            con.execute(
                f"""COPY (
                    SELECT CASE WHEN p."Crime ID" IS NULL THEN NULL ELSE
                           sha256($force || $month || CAST(r.range AS VARCHAR)) END AS "Crime ID",
                           $month AS "Month", $force AS "Reported by", $force AS "Falls within",
                           p."Longitude", p."Latitude", p."Location", p."LSOA code",
                           p."LSOA name", p."Crime type", p."Last outcome category", p."Context"
                    FROM range({n}) r JOIN pool p ON p.i = (r.range + {offset}) % {size}
                    ORDER BY r.range
                ) TO {sql_text(str(path))} (HEADER, DELIMITER ',')""".replace(
                    "$force", sql_text(force)
                ).replace("$month", sql_text(month))
            )
            offset = (offset + n) % size
            if progress and time.monotonic() - clock > 2:
                progress(f"generated {written:,} of {len(counts):,} files")
                clock = time.monotonic()
    finally:
        con.close()
    seconds = time.perf_counter() - began
    return Generated(target, sum(counts.values()), len(counts), gaps, seconds)


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    peak_rss_bytes: int | None
    rows: int
    outcome: str
    """'ok', or what went wrong (exit code and the last line it wrote, killed, timed out)."""

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.outcome == "ok" and self.seconds else None


_LAUNCHER = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as handle:
    handle.write(str(usage.ru_maxrss))
if os.WIFSIGNALED(status):
    if os.WTERMSIG(status) != signal.SIGKILL:
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a step and writes its peak RSS (KiB): a child's peak counts the memory of the process
it was forked from, so the step is forked from this small one rather than from the bench."""


def run_step(
    name: str, argv: list[str], rows: int, timeout: float, env: dict[str, str] | None = None
) -> Step:
    """Run one command as a child process; its time, its own peak RSS and how it ended."""
    with tempfile.TemporaryDirectory(prefix="svduty-step-") as scratch:
        peak_file = Path(scratch) / "peak"
        errors_file = Path(scratch) / "stderr"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(peak_file)]
        start = time.perf_counter()
        with errors_file.open("wb") as errors:
            process = subprocess.Popen(
                [*launcher, *argv],
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=env,
                start_new_session=True,
            )
            try:
                code = process.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                code = process.wait()
                timed_out = True
        seconds = time.perf_counter() - start
        text = errors_file.read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.strip()]
        peak = int(peak_file.read_text()) * 1024 if peak_file.exists() else None
    if timed_out:
        outcome = f"timed out after {timeout:.0f} s"
    elif code == -signal.SIGKILL:
        outcome = "killed (out of memory?)"
    elif code == 2 and any(x.startswith("error:") for x in lines):
        # svduty's own refusal (exit 2, one line saying why), not a crash
        said = next(x for x in lines if x.startswith("error:"))
        outcome = f"refused: {said.removeprefix('error:').strip()}"[:160]
    elif code != 0:
        said = next((x for x in lines if x.lower().startswith("error")), lines[-1] if lines else "")
        outcome = f"failed (exit {code}): {said.strip() or 'no message'}"[:160]
    else:
        outcome = "ok"
    return Step(name, seconds, peak, rows, outcome)


def _engine_step(name: str, sql: str, files: list[Path], rows: int, timeout: float) -> Step:
    """A DuckDB baseline over the same files, in a child process like the others."""
    code = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        f"con.execute({sql!r}, [sys.argv[2:]]).fetchall(); con.execute('CHECKPOINT')"
    )
    with tempfile.TemporaryDirectory(prefix="svduty-scale-") as scratch:
        database = str(Path(scratch) / "baseline.duckdb")
        argv = [sys.executable, "-c", code, database, *map(str, files)]
        return run_step(name, argv, rows, timeout)


def _stored(root: Path) -> int:
    """Rows the ingest stored, from its batch records: on Spark, counting the table would start
    a Spark session in the bench's own process and keep it for every later step."""
    from svduty.workspace import Workspace

    workspace = Workspace.open(root, read_only=True, say=lambda _: None)
    try:
        [(stored,)] = workspace.con.execute(
            "SELECT coalesce(sum(rows_accepted), 0) FROM batches WHERE source_kind = ?",
            ["police_uk_street"],
        ).fetchall()
        return int(stored)
    finally:
        workspace.close()


def bench_scale(
    rows: int = 6_000_000,
    months: int = 120,
    seed: int = 1,
    timeout: float = 3600.0,
    scratch_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    memory_limit: str = "3GB",
    engine: str = "duckdb",
) -> tuple[Generated, list[Step]]:
    """Generate the national data set, then time DuckDB's bare read and typed load of its files
    and svduty's steps on it: ingest (which classifies what it stored), classify again, counts,
    quality, the Strategic Needs Assessment (HTML), hotspots and near repeats. The workspace's
    DuckDB connections are held to `memory_limit` (its `memory_limit` setting); `engine` is
    its engine (files are parsed by DuckDB either way)."""
    from dataclasses import replace

    from svduty.example import WEST_MERCIA, example_archive
    from svduty.workspace import Workspace

    say = progress or (lambda _: None)
    settings = replace(WEST_MERCIA, memory_limit=memory_limit, engine=engine)  # checked first
    scratch = Path(tempfile.mkdtemp(prefix="svduty-scale-", dir=scratch_dir))
    try:
        templates_folder = scratch / "templates"
        import zipfile

        with zipfile.ZipFile(example_archive()) as zipped:
            zipped.extractall(templates_folder)
        templates = sorted(templates_folder.rglob("*street.csv"))
        say(f"generating {rows:,} rows over {months} months of 43 forces")
        data = generate(scratch / "data", rows, templates, months, seed, say)
        files = sorted(data.folder.rglob("*.csv"))
        root = scratch / "workspace"
        Workspace.init(root, settings, say=say).close()
        cli = [sys.executable, "-m", "svduty.cli"]
        ws = ["--workspace", str(root)]
        out = scratch / "outputs"
        out.mkdir()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        steps: list[tuple[str, list[str] | str]] = [
            ("DuckDB read_csv count", "SELECT count(*) FROM read_csv(?)"),
            ("DuckDB typed load", "CREATE TABLE t AS SELECT * FROM read_csv(?)"),
            ("ingest (and its classification)", [*cli, "ingest", *ws, str(data.folder)]),
            ("classify", [*cli, "classify", *ws]),
            ("counts (by month and force)", [*cli, "counts", *ws, "--by", "month,force"]),
            ("quality", [*cli, "quality", *ws]),
            ("report (SNA, HTML)", [*cli, "report", *ws, "--no-pdf", "--out", str(out)]),
            ("hotspots", [*cli, "hotspots", *ws, "--out", str(out / "hotspots.csv")]),
            ("near repeats", [*cli, "near-repeat", *ws]),
        ]
        results = []
        rows_now = data.rows
        for name, command in steps:
            say(f"running: {name}")
            if isinstance(command, str):
                step = _engine_step(name, command, files, data.rows, timeout)
            else:
                step = run_step(name, command, rows_now, timeout, env)
            peak = f", peak {step.peak_rss_bytes / 2**20:,.0f} MB" if step.peak_rss_bytes else ""
            say(f"{name}: {step.outcome}, {step.seconds:.1f} s{peak}")
            results.append(step)
            if command is steps[2][1]:
                # the steps after an unfinished ingest work on what it stored
                rows_now = _stored(root)
        return data, results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
