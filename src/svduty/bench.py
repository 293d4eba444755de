"""Benchmarks, reported as ratios against a baseline run in the same process.

`ingest`: svduty's full ingest (parse, validate, reject, project, store) against DuckDB's bare
`SELECT count(*) FROM read_csv(...)` and its typed load (`CREATE TABLE AS SELECT * FROM
read_csv(...)` into a database file) of the same files, on the example and on a larger file made
by repeating the example's rows.
`measures`: a generated framework's monthly series for every area with an SPC chart each,
against one count of the incidents by month and against the measures counted one at a time.
`report`: the whole Strategic Needs Assessment of the example workspace (HTML, summary.json and
PDF; then HTML alone) against one grouped count over the same incidents, on DuckDB and, with
`spark`, the HTML build on Spark over the same files.
`startup`: `svduty --help` and `svduty counts` on a one-month workspace, each a new process as a
user runs it, against a bare `python -c pass` in the same run.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from svduty.errors import InputError, SvdutyError
from svduty.example import WEST_MERCIA, example_archive
from svduty.ingest import ingest
from svduty.spark_store import require_spark
from svduty.synth.check import synthetic_files
from svduty.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np

    from svduty.analysis.measure_series import Series
    from svduty.measures.framework import Framework


@dataclass(frozen=True)
class IngestBench:
    dataset: str
    rows: int
    files: int
    baseline_seconds: float
    ingest_seconds: float
    typed_seconds: float = 0.0
    """DuckDB's own typed load of the same files into a database file."""

    @property
    def baseline_rate(self) -> float:
        return self.rows / self.baseline_seconds

    @property
    def ingest_rate(self) -> float:
        return self.rows / self.ingest_seconds

    @property
    def typed_rate(self) -> float:
        return self.rows / self.typed_seconds

    @property
    def ratio(self) -> float:
        return self.ingest_rate / self.baseline_rate

    @property
    def typed_ratio(self) -> float:
        """Ingest's rate over DuckDB's typed load's: 1 is as fast as the engine stores them."""
        return self.ingest_rate / self.typed_rate


def _baseline(files: list[Path]) -> tuple[int, float]:
    con = duckdb.connect()
    listing = [str(f) for f in files]
    con.execute("SELECT count(*) FROM read_csv(?)", [listing]).fetchall()[0]  # warm the page cache
    start = time.perf_counter()
    row = con.execute("SELECT count(*) FROM read_csv(?)", [listing]).fetchall()[0]
    elapsed = time.perf_counter() - start
    con.close()
    return (int(row[0]) if row else 0), elapsed


def typed_load(files: list[Path], scratch: Path) -> float:
    """Seconds DuckDB takes to store the files as a typed table in a new database file:
    `CREATE TABLE t AS SELECT * FROM read_csv(...)`, what ingest would cost with no checks,
    rejects, lineage or canonical columns."""
    target = scratch / "typed-load.duckdb"
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    try:
        start = time.perf_counter()
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [[str(f) for f in files]])
        con.execute("CHECKPOINT")
        return time.perf_counter() - start
    finally:
        con.close()
        target.unlink(missing_ok=True)
        Path(f"{target}.wal").unlink(missing_ok=True)


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
            typed = typed_load(files, scratch)
            elapsed = _ingest(files, scratch)
            results.append(IngestBench(name, count, len(files), baseline, elapsed, typed))
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass(frozen=True)
class ClassifyBench:
    definition: str
    rows: int
    threads: int
    scan_seconds: float
    classify_seconds: float

    @property
    def rate_per_core(self) -> float:
        return self.rows / self.classify_seconds / self.threads

    @property
    def ratio(self) -> float:
        """Classification time over a bare scan of the columns it reads, in the same run."""
        return self.classify_seconds / self.scan_seconds


def _generate_incidents(
    workspace: Workspace, rows: int, seed: int, months: int = 1, places: bool = False
) -> None:
    """Generated incidents with real offence codes, statutes and markers (no people), spread
    evenly over the `months` months to January 2025 and, with `places`, over the LSOAs of the
    workspace's CSPs."""
    from svduty.vocabulary import MARKERS, marker_column

    markers = ", ".join(f"random() < 0.08 AS {marker_column(m)}" for m in MARKERS)
    workspace.con.execute(f"SELECT setseed({seed / 1000})")
    workspace.con.execute(
        "CREATE OR REPLACE TEMP TABLE _codes AS SELECT row_number() OVER () - 1 AS i, "
        "offence_code, police_uk_category FROM offences"
    )
    n_codes = workspace.con.execute("SELECT count(*) FROM _codes").fetchall()[0][0]
    lsoa, join = "NULL", ""
    if places:
        districts = [d for codes in workspace.settings.csps.values() for d in codes]
        workspace.con.execute(
            "CREATE OR REPLACE TEMP TABLE _lsoas AS SELECT row_number() OVER (ORDER BY "
            "lsoa_code) - 1 AS i, lsoa_code FROM areas WHERE in_2021 AND la_code IN "
            "(SELECT unnest(?))",
            [districts],
        )
        n_lsoas = workspace.con.execute("SELECT count(*) FROM _lsoas").fetchall()[0][0]
        lsoa, join = "l.lsoa_code", f"JOIN _lsoas l ON l.i = (hash(r.range, 1) % {n_lsoas})"
    workspace.con.execute(
        f"""INSERT INTO incidents (batch_id, source_line, source_kind, crime_ref, month, force,
            lsoa_code, offence_code, category, statute,
            {", ".join(marker_column(m) for m in MARKERS)}, synthetic)
        SELECT 0, r.range + 2, 'bench', 'B' || r.range,
               CAST(DATE '2025-01-01' - to_months({months - 1})
                    + to_months(CAST(r.range % {months} AS INTEGER)) AS DATE),
               'West Mercia', {lsoa}, c.offence_code, c.police_uk_category,
               CASE WHEN random() < 0.5 THEN 's20 OAPA 1861' ELSE 's47 OAPA 1861' END,
               {markers}, true
        FROM range({rows}) r JOIN _codes c ON c.i = (hash(r.range) % {n_codes}) {join}"""
    )


def bench_classify(rows: int = 5_000_000, threads: int = 1, seed: int = 1) -> list[ClassifyBench]:
    """Classify generated incidents under every shipped definition with `threads` DuckDB threads,
    against a scan that hashes every value of the columns the definition reads. The timed
    classification is what `svduty classify` does: store each incident's result, then count
    per clause."""
    from svduty.definitions import load_definition, shipped_definitions
    from svduty.definitions.classify import classify

    scratch = Path(tempfile.mkdtemp(prefix="svduty-bench-"))
    try:
        workspace = Workspace.init(scratch / "workspace", WEST_MERCIA)
        _generate_incidents(workspace, rows, seed)
        workspace.con.execute(f"SET threads = {threads}")
        results = []
        for name in shipped_definitions():
            definition = load_definition(name)
            read = sorted(
                {c for cl in definition.clauses for r in cl.all_rules() for c in r.columns()}
                | {"batch_id", "source_line"}
            )
            read = [c for c in read if c not in ("offence_group", "offence_subgroup")] + [
                "offence_code"
            ]
            # hash every value read, so the scan cannot be answered from table statistics
            scan = f"sum(hash({', '.join(dict.fromkeys(read))}))"
            start = time.perf_counter()
            workspace.con.execute(f"SELECT {scan} FROM incidents").fetchall()
            scan_seconds = time.perf_counter() - start
            start = time.perf_counter()
            classify(workspace.store, definition)
            results.append(
                ClassifyBench(name, rows, threads, scan_seconds, time.perf_counter() - start)
            )
        workspace.close()
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass(frozen=True)
class SynthBench:
    incidents: int
    seconds: float
    peak_rss_mb: float


_SYNTH_CHILD = """
import json, resource, sys, time
from pathlib import Path
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
start = time.perf_counter()
written = generate(load_profile("west-mercia"), Path(sys.argv[1]), scale=float(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - start, "crimes": written.rows["crimes.csv"],
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def bench_synth(sizes: tuple[int, ...] = (100_000, 10_000_000)) -> list[SynthBench]:
    """Generate one year of West Mercia data at the scale that gives each number of incidents,
    each run in its own process so its peak memory is its own."""
    import json
    import subprocess
    import sys

    from svduty.synth.generate import Tables
    from svduty.synth.profile import load_profile

    annual = Tables.load(load_profile("west-mercia")).quarters.sum()
    results = []
    for size in sizes:
        scratch = Path(tempfile.mkdtemp(prefix="svduty-bench-synth-"))
        try:
            done = subprocess.run(
                [sys.executable, "-c", _SYNTH_CHILD, str(scratch), str(size / annual)],
                capture_output=True,
                text=True,
                check=True,
            )
            facts = json.loads(done.stdout.strip().splitlines()[-1])
            results.append(SynthBench(facts["crimes"], facts["seconds"], facts["rss_kb"] / 1024))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return results


@dataclass(frozen=True)
class ReportBench:
    engine: str
    incidents: int
    baseline_seconds: float  # incidents counted by month: one pass over the data
    html_seconds: float
    pdf_seconds: float | None  # HTML, summary.json and PDF together
    cached_seconds: float  # the same HTML asked for again: from the workspace's cache

    @property
    def ratio(self) -> float:
        return self.html_seconds / self.baseline_seconds


def _time_report(root: Path, engine: str, pdf: bool, scratch: Path) -> ReportBench:
    from svduty.sna import build_sna

    workspace = Workspace.open(root, read_only=True)
    store = workspace.store
    incidents = int(store.table("incidents").count().to_pandas())
    table = store.table("incidents")
    table.group_by("month").aggregate(n=table.count()).to_pandas()  # warm caches
    start = time.perf_counter()
    table.group_by("month").aggregate(n=table.count()).to_pandas()
    baseline = time.perf_counter() - start
    shutil.rmtree(root / "cache", ignore_errors=True)
    start = time.perf_counter()
    build_sna(workspace, out=scratch / f"{engine}-html", pdf=False)
    html = time.perf_counter() - start
    start = time.perf_counter()
    build_sna(workspace, out=scratch / f"{engine}-again", pdf=False)
    cached = time.perf_counter() - start
    full = None
    if pdf:
        shutil.rmtree(root / "cache", ignore_errors=True)
        start = time.perf_counter()
        build_sna(workspace, out=scratch / f"{engine}-pdf", pdf=True)
        full = time.perf_counter() - start
    workspace.close()
    return ReportBench(engine, incidents, baseline, html, full, cached)


def bench_report(
    root: Path | None = None, spark: bool = False, say: Callable[[str], None] = lambda _: None
) -> list[ReportBench]:
    """Time the assessment of the example workspace (built first unless `root` is given)."""
    from svduty.example import build_example

    if spark:
        require_spark()

    with tempfile.TemporaryDirectory(prefix="svduty-bench-") as tmp:
        scratch = Path(tmp)
        if root is None:
            root = scratch / "example"
            build_example(root, say)
        results = [_time_report(root, "duckdb", True, scratch)]
        if spark:
            say("ingesting the same files into a Spark workspace")
            spark_root = scratch / "spark"
            ws = Workspace.init(spark_root, replace(WEST_MERCIA, engine="spark"))
            files, mappings = synthetic_files(root / "synthetic")
            ingest(ws, [example_archive()])
            ingest(ws, files, mappings=mappings)
            ws.close()
            results.append(_time_report(spark_root, "spark", False, scratch))
    return results


@dataclass(frozen=True)
class SpatialBench:
    task: str
    size: str
    peer: str
    peer_seconds: float
    svduty_seconds: float
    agreement: str

    @property
    def ratio(self) -> float:
        return self.peer_seconds / self.svduty_seconds


def _timed(run: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def _bench_emerging(
    rng: np.random.Generator, side: int = 50, periods: int = 12
) -> list[SpatialBench]:
    """Emerging hotspots' two statistics against the general tools an analyst would use."""
    import numpy as np
    from esda import G_Local
    from libpysal.weights import WSP
    from scipy import stats

    from svduty.spatial.emerging import mann_kendall, space_time_gi_star, space_time_weights
    from svduty.spatial.gistar import queen
    from svduty.spatial.grid import make_grid

    grid = make_grid((0, 0, side * 100 - 1, side * 100 - 1), 100)
    cube = rng.poisson(rng.gamma(0.5, 2.0, grid.cells), (periods, grid.cells)).astype(float)
    w = queen(grid)
    explicit = WSP(space_time_weights(w, periods, 1)).to_W(silence_warnings=True)
    peer, theirs = _timed(lambda: G_Local(cube.ravel(), explicit, "B", 0, star=True))
    own, ours = _timed(lambda: space_time_gi_star(cube, w, 1))
    gap = float(np.abs(ours.ravel() - theirs.Zs).max())  # type: ignore[attr-defined]
    results = [
        SpatialBench(
            "space-time Gi*", f"{grid.cells:,} cells x {periods} periods",
            "esda G_Local, space-time weights", peer, own, f"max |z difference| {gap:.1e}",
        )
    ]  # fmt: skip
    steps = np.arange(periods)
    peer, taus = _timed(
        lambda: [
            stats.kendalltau(steps, cube[:, c], method="asymptotic") for c in range(grid.cells)
        ]
    )
    own, trend = _timed(lambda: mann_kendall(cube, continuity=False))
    theirs_p = np.array([t.pvalue for t in taus])  # type: ignore[attr-defined]
    defined = ~np.isnan(theirs_p)  # scipy gives no p for a constant series; svduty gives 1
    gap = float(np.abs(theirs_p - trend.p_value)[defined].max())  # type: ignore[attr-defined]
    results.append(
        SpatialBench(
            "Mann-Kendall", f"{grid.cells:,} series x {periods}", "scipy kendalltau per series",
            peer, own, f"max |p difference| {gap:.1e}",
        )
    )  # fmt: skip
    return results


def bench_spatial(
    cells_side: int = 300, permutations: int = 999, events: int = 20_000, seed: int = 1
) -> list[SpatialBench]:
    """Gi* against esda's G_Local on a square lattice (analytic and with permutations) and the
    Knox test against pointpats' Knox, on the same generated data, side by side in one run."""
    import warnings

    import numpy as np

    try:
        from esda import G_Local
        from libpysal.weights import lat2W
        from pointpats import Knox
    except ImportError as error:
        raise SvdutyError(
            f"the spatial benchmark compares with esda and pointpats ({error.name} is not "
            "installed): pip install 'svduty[compare]'"
        ) from error

    from svduty.spatial.gistar import gi_star, queen
    from svduty.spatial.grid import make_grid
    from svduty.spatial.knox import knox

    rng = np.random.default_rng(seed)
    grid = make_grid((0, 0, cells_side * 100 - 1, cells_side * 100 - 1), 100)
    values = rng.poisson(rng.gamma(0.5, 2.0, grid.cells)).astype(float)
    lattice = lat2W(grid.rows, grid.columns, rook=False)
    weights = queen(grid)
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = {"transform": "B", "star": True, "n_jobs": 1}  # one core, as svduty's Gi*
        G_Local(values[:100], lat2W(10, 10, rook=False), permutations=9, **one)
        peer, theirs = _timed(
            lambda: G_Local(values, lattice, transform="B", star=True, permutations=0)
        )
        own, ours = _timed(lambda: gi_star(values, weights))
        gap = float(np.abs(ours.z - theirs.Zs).max())  # type: ignore[attr-defined]
        results.append(
            SpatialBench(
                "Gi* analytic", f"{grid.cells:,} cells", "esda G_Local", peer, own,
                f"max |z difference| {gap:.1e}",
            )
        )  # fmt: skip
        peer, theirs = _timed(
            lambda: G_Local(values, lattice, permutations=permutations, seed=seed, **one)
        )
        own, ours = _timed(lambda: gi_star(values, weights, permutations, seed))
        both = (theirs.p_sim < 0.05) & (ours.p_value < 0.05)  # type: ignore[attr-defined]
        either = (theirs.p_sim < 0.05) | (ours.p_value < 0.05)  # type: ignore[attr-defined]
        results.append(
            SpatialBench(
                "Gi* permutations", f"{grid.cells:,} cells x {permutations}", "esda G_Local",
                peer, own, f"cells p < 0.05 in both / either: {both.sum() / either.sum():.3f}",
            )
        )  # fmt: skip
        results.extend(_bench_emerging(rng))
    x, y = rng.uniform(0, 20_000, events), rng.uniform(0, 20_000, events)
    days = rng.integers(0, 365, events).astype(float)
    peer, theirs = _timed(
        lambda: Knox(np.column_stack([x, y]), days[:, None], 100, 7, permutations=99)
    )
    own, ours = _timed(lambda: knox(x, y, days, [0, 100], [0, 7], 99, seed))
    same = int(ours.table.iloc[0]["observed"]) == int(theirs.nst)  # type: ignore[attr-defined]
    results.append(
        SpatialBench(
            "Knox, one band", f"{events:,} events x 99", "pointpats Knox", peer, own,
            "space-time pairs equal" if same else "space-time pairs DIFFER",
        )
    )  # fmt: skip
    own, _ = _timed(lambda: knox(x, y, days, [0, 100, 200, 300, 400], [0, 7, 14, 21], 99, seed))
    results.append(
        SpatialBench(
            "Knox, 5 x 5 bands", f"{events:,} events x 99", "pointpats Knox (one band)", peer,
            own, "pointpats has no bands: its one-band time",
        )
    )  # fmt: skip
    return results


ADMISSION_BANDS = ("0-17", "18-24", "25-34", "35-49", "50-64", "65+")
ADMISSION_CAUSES = ("X99", "X95", "X93", "Y00", "X991")


def generate_partnership(root: Path, incidents: int, months: int, seed: int = 1) -> Workspace:
    """A West Mercia workspace (five CSPs) of generated records over `months` months: incidents
    placed in the CSPs' LSOAs, a victim with an age for most and a suspect for half, and
    admissions per month, district, age band and ICD-10 cause."""
    workspace = Workspace.init(root, WEST_MERCIA)
    _generate_incidents(workspace, incidents, seed, months, places=True)
    con = workspace.con
    con.execute(
        """INSERT INTO involvements (batch_id, source_line, force, crime_ref, role, person_key,
            age, synthetic)
        SELECT 0, source_line, force, crime_ref, p.role, crime_ref || p.role,
               CAST(floor(random() * 80) AS INTEGER) + 5, true
        FROM incidents, (VALUES ('victim', 0.7), ('suspect', 0.5)) p(role, share)
        WHERE random() < p.share"""
    )
    districts = [d for codes in WEST_MERCIA.csps.values() for d in codes]
    con.execute(
        f"""INSERT INTO admissions (batch_id, source_line, month, area_code, age_band, sex,
            cause_code, count, synthetic)
        SELECT 0, row_number() OVER () + 1, m.month, d.code, b.band, 'unknown', c.cause,
               CAST(floor(random() * 4) AS BIGINT), true
        FROM (SELECT CAST(DATE '2025-01-01' - to_months({months - 1}) + to_months(CAST(i AS
                INTEGER)) AS DATE) AS month FROM range({months}) t(i)) m,
             (SELECT unnest(?) AS code) d, (SELECT unnest(?) AS band) b,
             (SELECT unnest(?) AS cause) c""",
        [districts, list(ADMISSION_BANDS), list(ADMISSION_CAUSES)],
    )
    return workspace


_DEFINITIONS = (
    None,
    "home-office-knife-sharp",
    "home-office-firearm",
    "west-mercia-2022",
    "police-uk-open-data",
)
_WHERE: tuple[dict[str, object], ...] = (
    {},
    {"victim_age": {"max": 24}},
    {"victim_age": {"min": 25}},
    {"suspect_age": {"min": 10, "max": 17}},
    {"markers": {"none": ["domestic_abuse"]}},
    {"offence_groups": ["Violence against the person"]},
    {"markers": {"all": ["alcohol"]}, "victim_age": {"max": 17}},
    {"offence_subgroups": ["Violence with injury"], "markers": {"any": ["knife", "firearm"]}},
)
_CAUSES = (["X99"], ["X95", "X99"], ["X85", "X93", "X95", "X99", "Y00"])
_AGES: tuple[dict[str, int] | None, ...] = (None, {"max": 24}, {"max": 17}, {"min": 25})


def bench_framework(path: Path, measures: int = 30) -> Framework:
    """A framework of `measures` measures, written as YAML and read as a user's would be: four
    in five count incidents (each shipped definition, or none, with varied `where` rules), one in
    five admissions (varied causes and ages)."""
    import copy
    import itertools

    import yaml

    from svduty.measures.framework import load_framework

    incident = [
        {"incidents": {**({"definition": d} if d else {}), **({"where": w} if w else {})}}
        for w, d in itertools.product(_WHERE, _DEFINITIONS)
        if d or w
    ]
    admissions = [
        {"admissions": {"causes": c, **({"age": a} if a else {})}}
        for a, c in itertools.product(_AGES, _CAUSES)
    ]
    items = []
    for i in range(measures):
        fifth = i // 5
        source = (
            admissions[fifth % len(admissions)]
            if i % 5 == 4
            else incident[(i - fifth) % len(incident)]
        )
        items.append(
            {
                "id": f"m{i:02d}",
                "name": f"Measure {i}",
                "why": "A generated measure for the benchmark.",
                "source": copy.deepcopy(source),  # written out in full: YAML aliases are refused
                "unit": ("rate", "count")[i % 2],
                "improvement": ("down", "up", "neither")[i % 3],
                "period": "month",
            }
        )
    framework = {"id": "bench", "name": "Benchmark framework", "measures": items}
    path.write_text(yaml.safe_dump(framework, sort_keys=False), encoding="utf-8")
    return load_framework(path)


@dataclass(frozen=True)
class MeasuresBench:
    measures: int
    areas: int
    months: int
    incidents: int
    count_seconds: float  # incidents counted by month: one pass over the data
    one_by_one: int  # measures also timed one at a time
    one_by_one_seconds: float
    series_seconds: float  # every measure for every area, counted together
    spc_seconds: float  # an SPC chart for each of those series

    @property
    def framework_seconds(self) -> float:
        return self.series_seconds + self.spc_seconds

    @property
    def ratio(self) -> float:
        """The whole framework's time over one count of the incidents by month."""
        return self.framework_seconds / self.count_seconds

    @property
    def speedup(self) -> float:
        """Counting one measure at a time, per measure, against the framework's time per
        measure (each with its areas and SPC charts)."""
        return (self.one_by_one_seconds / self.one_by_one) / (
            self.framework_seconds / self.measures
        )


def _charts(found: dict[str, dict[str, Series]]) -> int:
    from svduty.measures.spc import spc

    charts = 0
    for per_area in found.values():
        for series in per_area.values():
            dates, values = series.points()
            if values:
                spc(dates, values, improvement=series.measure.improvement)
                charts += 1
    return charts


def bench_measures(
    incidents: int = 500_000,
    months: int = 60,
    measures: int = 30,
    one_by_one: int = 3,
    seed: int = 1,
) -> MeasuresBench:
    """Every measure of a generated framework, for the partnership's area and each of its five
    CSPs, with an SPC chart each, on a generated workspace; against one count of the incidents
    by month and against the first `one_by_one` measures counted one at a time."""
    from svduty.analysis.measure_series import all_series, framework_series

    sizes = {"incidents": incidents, "months": months, "measures": measures}
    for name, size in {**sizes, "one-by-one": one_by_one}.items():  # as the options are named
        if size < 1:
            raise InputError(f"--{name} must be 1 or more, not {size}")
    scratch = Path(tempfile.mkdtemp(prefix="svduty-bench-measures-"))
    try:
        generate_partnership(scratch / "workspace", incidents, months, seed).close()
        framework = bench_framework(scratch / "bench.yaml", measures)
        workspace = Workspace.open(scratch / "workspace", read_only=True)
        store, settings = workspace.store, workspace.settings
        table = store.table("incidents")
        table.group_by("month").aggregate(n=table.count()).to_pandas()  # warm caches
        count_seconds, _ = _timed(
            lambda: table.group_by("month").aggregate(n=table.count()).to_pandas()
        )
        start = time.perf_counter()
        found = framework_series(store, settings, framework.measures)
        series_seconds = time.perf_counter() - start
        spc_seconds, _ = _timed(lambda: _charts(found))
        start = time.perf_counter()
        for measure in framework.measures[:one_by_one]:
            _charts({measure.id: all_series(store, settings, measure)})
        one_seconds = time.perf_counter() - start
        area_count = len(next(iter(found.values())))
        workspace.close()
        return MeasuresBench(
            measures, area_count, months, incidents, count_seconds,
            min(one_by_one, measures), one_seconds, series_seconds, spc_seconds,
        )  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass(frozen=True)
class StartupBench:
    command: str
    runs: int
    seconds: float  # the median of the runs
    bare_seconds: float  # the median of `python -c pass` in the same run

    @property
    def excess(self) -> float:
        """Seconds above a bare interpreter: what svduty itself costs before the answer."""
        return self.seconds - self.bare_seconds


def _median_run(command: list[str], runs: int) -> float:
    """The median wall time of `runs` new processes (after one unmeasured run, which warms the
    page cache and, for a reader, publishes the read copy)."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup(runs: int = 7) -> list[StartupBench]:
    """Start-up of the command line: bare Python, `svduty --help`, and `svduty counts` on a
    workspace holding one month of the example (each a new process, as a user runs it)."""
    if runs < 1:
        raise InputError(f"--runs must be 1 or more, not {runs}")
    scratch = Path(tempfile.mkdtemp(prefix="svduty-bench-startup-"))
    try:
        with zipfile.ZipFile(example_archive()) as zipped:
            first = sorted(n for n in zipped.namelist() if n.endswith("-street.csv"))[0]
            month = Path(zipped.extract(first, scratch / "example"))
        with Workspace.init(scratch / "workspace", WEST_MERCIA) as workspace:
            ingest(workspace, [month])
        python = [sys.executable]
        svduty = [sys.executable, "-m", "svduty.cli"]
        commands = {
            "python -c pass": [*python, "-c", "pass"],
            "svduty --help": [*svduty, "--help"],
            "svduty counts": [*svduty, "counts", "-w", str(scratch / "workspace")],
        }
        seconds = {name: _median_run(command, runs) for name, command in commands.items()}
        bare = seconds["python -c pass"]
        return [StartupBench(name, runs, s, bare) for name, s in seconds.items()]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
