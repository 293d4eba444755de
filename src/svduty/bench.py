"""Benchmarks, reported as ratios against a baseline run in the same process.

`ingest`: svduty's full ingest (parse, validate, reject, project, store) against DuckDB's bare
`SELECT count(*) FROM read_csv(...)` over the same files, on the example and on a larger file made
by repeating the example's rows.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from svduty.example import WEST_MERCIA, example_archive
from svduty.ingest import ingest
from svduty.workspace import Workspace


@dataclass(frozen=True)
class IngestBench:
    dataset: str
    rows: int
    files: int
    baseline_seconds: float
    ingest_seconds: float

    @property
    def baseline_rate(self) -> float:
        return self.rows / self.baseline_seconds

    @property
    def ingest_rate(self) -> float:
        return self.rows / self.ingest_seconds

    @property
    def ratio(self) -> float:
        return self.ingest_rate / self.baseline_rate


def _baseline(files: list[Path]) -> tuple[int, float]:
    con = duckdb.connect()
    listing = [str(f) for f in files]
    con.execute("SELECT count(*) FROM read_csv(?)", [listing]).fetchall()[0]  # warm the page cache
    start = time.perf_counter()
    row = con.execute("SELECT count(*) FROM read_csv(?)", [listing]).fetchall()[0]
    elapsed = time.perf_counter() - start
    con.close()
    return (int(row[0]) if row else 0), elapsed


def _ingest(files: list[Path], scratch: Path) -> float:
    root = scratch / "workspace"
    shutil.rmtree(root, ignore_errors=True)
    workspace = Workspace.init(root, WEST_MERCIA)
    start = time.perf_counter()
    ingest(workspace, files)
    elapsed = time.perf_counter() - start
    workspace.close()
    return elapsed


def repeat_to(rows: int, sources: list[Path], target: Path) -> Path:
    """One CSV of about `rows` data rows, made by repeating the sources' data rows."""
    header = sources[0].read_bytes().split(b"\n", 1)[0].rstrip(b"\r") + b"\n"
    bodies = [s.read_bytes().replace(b"\r\n", b"\n").split(b"\n", 1)[1] for s in sources]
    body = b"".join(b if b.endswith(b"\n") else b + b"\n" for b in bodies)
    per_copy = body.count(b"\n")
    with target.open("wb") as handle:
        handle.write(header)
        for _ in range(max(1, round(rows / per_copy))):
            handle.write(body)
    return target


def bench_ingest(rows: int = 5_000_000, report: bool = True) -> list[IngestBench]:
    scratch = Path(tempfile.mkdtemp(prefix="svduty-bench-"))
    try:
        with zipfile.ZipFile(example_archive()) as zipped:
            zipped.extractall(scratch / "example")
        example_files = sorted((scratch / "example").rglob("*.csv"))
        datasets = [("example (12 monthly files)", example_files)]
        if rows:
            big = repeat_to(rows, example_files, scratch / "large-street.csv")
            datasets.append((f"one file of ~{rows:,} rows", [big]))
        results = []
        for name, files in datasets:
            count, baseline = _baseline(files)
            elapsed = _ingest(files, scratch)
            results.append(IngestBench(name, count, len(files), baseline, elapsed))
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
