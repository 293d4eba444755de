"""Fuzz targets: hostile bytes through the same doors real files use.

Each target takes any bytes and must end either in success or in an svduty error (an
`SvdutyError`, whose message the command line prints as one line); any other exception is a bug.
The targets are shared by the property-based tests (hypothesis), the replay of kept crashing
inputs (tests/fuzz-corpus/) and the coverage-guided run of `svduty bench fuzz` (atheris, in a
child process: libFuzzer ends the process it runs in).

- csv: the bytes as a CSV file, ingested into a real workspace with the example mappings, so
  every adapter (police.uk, Home Office, mapped partner parts) can claim it;
- csv-plan: the same file through what every file meets before its rows are staged (header
  reading, detection by every adapter, the mapping's header checks), at thousands of inputs a
  second where a stored file costs a tenth of a second of DuckDB statements;
- xml: the bytes as an ISTV XML file, ingested through its mapping;
- xml-plan: the same through parsing and flattening to CSV and the header checks;
- zip: the bytes as a zip archive, ingested (small archive limits);
- yaml: the bytes as a mapping file and as a definition file, loaded and validated.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path

from svduty.errors import SvdutyError

TARGETS = ("csv", "csv-plan", "xml", "xml-plan", "zip", "yaml")
ZIP_LIMITS = (4 << 20, 16 << 20)
"""Archive limits in the fuzzing workspace (per member, per archive): small, so a generated
archive that expands far is refused quickly."""


class FuzzTarget:
    """A workspace and scratch folder kept across inputs, and the entry for each target."""

    def __init__(self, root: Path) -> None:
        from svduty.example import WEST_MERCIA, example_archive
        from svduty.settings import Settings
        from svduty.workspace import Workspace

        self.root = root
        self.scratch = root / "inputs"
        self.scratch.mkdir(parents=True, exist_ok=True)
        settings = Settings(
            **{
                **WEST_MERCIA.__dict__,
                "archive_member_max_bytes": ZIP_LIMITS[0],
                "archive_max_bytes": ZIP_LIMITS[1],
            }
        )
        folder = root / "workspace"
        self.workspace = (
            Workspace.open(folder) if folder.exists() else Workspace.init(folder, settings)
        )
        self.mappings = example_archive().parent / "mappings"
        self.count = 0
        self._adapters: dict[str, list] = {}

    def close(self) -> None:
        self.workspace.close()

    def _file(self, suffix: str, data: bytes) -> Path:
        self.count += 1
        path = self.scratch / f"input-{self.count}{suffix}"
        path.write_bytes(data)
        return path

    def run(self, target: str, data: bytes) -> None:
        """One input; an SvdutyError is a correct answer and is swallowed, anything else not."""
        from svduty.ingest import ingest

        try:
            if target == "csv":
                ingest(self.workspace, [self._file(".csv", data)], mappings=[self.mappings])
            elif target == "xml":
                ingest(
                    self.workspace,
                    [self._file(".xml", data)],
                    mappings=[self.mappings / "istv-minimum-dataset.yaml"],
                )
            elif target in ("csv-plan", "xml-plan"):
                self._plan(target, data)
            elif target == "zip":
                ingest(self.workspace, [self._file(".zip", data)])
            elif target == "yaml":
                self._yaml(data)
            else:
                raise ValueError(f"unknown fuzz target {target!r}; targets: {TARGETS}")
        except SvdutyError:
            pass
        finally:
            for path in self.scratch.iterdir():
                path.unlink()

    def _plan(self, target: str, data: bytes) -> None:
        from svduty.ingest import SourceFile, mapped_adapters, plan

        if target not in self._adapters:
            mappings = [self.mappings]
            if target == "xml-plan":
                mappings = [self.mappings / "istv-minimum-dataset.yaml"]
            self._adapters[target] = mapped_adapters(self.workspace, mappings)
        path = self._file(".xml" if target == "xml-plan" else ".csv", data)
        plan([SourceFile(path.name, path)], None, self._adapters[target], self.scratch)

    def _yaml(self, data: bytes) -> None:
        from svduty.definitions import load_definition
        from svduty.mapping import load_mapping

        path = self._file(".yaml", data)
        try:
            load_mapping(path)
        finally:
            load_definition(path)


SERIES = (
    b"# synthetic: a note line before the header\n"
    b"measure,area,period,numerator,denominator,source,published\n"
    b"neet,Shropshire,2024-Q2,12,400,SYNTHETIC,2024-09-01\n"
)
"""An external series (the measure_series kind), with a note line before its header."""


def seeds(target: str) -> list[bytes]:
    """Small valid inputs for each target, for the fuzzer to start from."""
    from svduty.definitions import shipped_definitions
    from svduty.example import example_archive

    with zipfile.ZipFile(example_archive()) as zipped:
        street = b"\n".join(zipped.read(zipped.namelist()[0]).split(b"\n")[:4]) + b"\n"
    if target in ("csv", "csv-plan"):
        return [street, SERIES, *(_table(header, row) for header, row in PARTNER_ROWS)]
    if target in ("xml", "xml-plan"):
        return [ISTV_XML.encode()]
    if target == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
            zipped.writestr("2025-01/2025-01-west-mercia-street.csv", street)
        stored = io.BytesIO()
        with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zipped:
            zipped.writestr("2025-01/2025-01-west-mercia-street.csv", street)
        return [buffer.getvalue(), stored.getvalue()]
    if target == "yaml":
        mappings = sorted((example_archive().parent / "mappings").glob("*.yaml"))
        definitions = [shipped_definitions()["home-office-firearm"]]
        return [p.read_bytes() for p in [*mappings, *definitions]]
    raise ValueError(f"unknown fuzz target {target!r}; targets: {TARGETS}")


def _table(header: list[str], row: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerow(row)
    return buffer.getvalue().encode()


PARTNER_ROWS = [
    (
        [
            "Crime Reference", "HO Class", "Statute", "Recorded Date", "Committed From",
            "Committed To", "X", "Y", "LSOA", "Location Type", "Flags", "Outcome",
        ],
        [
            "WM/1", "8N", "s20 OAPA 1861", "14/03/2025 23:30", "14/03/2025 22:00", "",
            "385000", "255000", "E01032383", "PUB", "DA;KNIFE", "Charged",
        ],
    ),
    (
        ["Crime Reference", "Role", "Person ID", "Age", "Gender", "Ethnicity",
         "Relationship To Victim"],
        ["WM/1", "V", "P1", "23", "F", "White", "Partner"],
    ),
    (
        ["AttendanceID", "SiteCode", "ArrivalDateTime", "IncidentDateTime",
         "IncidentLocationType", "IncidentLocation", "PrimaryMeansOfAssault", "Age", "Sex"],
        ["A1", "RWP50", "2025-01-01T23:10", "2025-01-01T22:40", "03", "The Crown", "BOTTLE",
         "31", "M"],
    ),
    (
        ["Month", "Area Code", "Age Band", "Sex", "ICD10 Cause", "Admissions"],
        ["2025-01", "E06000051", "18-24", "M", "X99", "4"],
    ),
    (
        ["Financial Year", "Financial Quarter", "Force Name", "Offence Description",
         "Offence Group", "Offence Subgroup", "Offence Code", "Number Of Offences"],
        ["2017/18", "1", "West Mercia", "Assault with injury", "Violence against the person",
         "Violence with injury", "8N", "412"],
    ),
]  # fmt: skip

ISTV_XML = """<?xml version="1.0" encoding="UTF-8"?>
<ISTVSubmission>
<Attendance>
  <AttendanceID>A1</AttendanceID><SiteCode>RWP50</SiteCode>
  <ArrivalDateTime>2025-01-01T23:10</ArrivalDateTime>
  <IncidentDateTime>2025-01-01T22:40</IncidentDateTime>
  <IncidentLocationType>03</IncidentLocationType><IncidentLocation>The Crown</IncidentLocation>
  <PrimaryMeansOfAssault>BOTTLE</PrimaryMeansOfAssault><Age>31</Age><Sex>M</Sex>
</Attendance>
</ISTVSubmission>
"""


def replay(folder: Path, root: Path) -> list[tuple[Path, str]]:
    """Run every kept input under `folder/<target>/` again; the (file, error) of each that
    still fails with something other than an svduty error."""
    failures = []
    for target in TARGETS:
        kept = sorted((folder / target).glob("*")) if (folder / target).is_dir() else []
        if not kept:
            continue
        runner = FuzzTarget(root / target)
        try:
            for path in kept:
                try:
                    runner.run(target, path.read_bytes())
                except Exception as error:  # any bug, whatever its kind
                    failures.append((path, f"{type(error).__name__}: {error}"))
        finally:
            runner.close()
    return failures


@dataclass(frozen=True)
class FuzzRun:
    """One coverage-guided run of a target."""

    target: str
    cases: int
    seconds: float
    exec_per_second: float
    peak_rss_mb: int
    crash: Path | None
    crash_error: str


def fuzz(target: str, cases: int, keep: Path, max_len: int = 4096) -> FuzzRun:
    """Run atheris (libFuzzer) on one target for `cases` inputs in a child process; a crashing
    input is copied to `keep/<target>/` so the regression test replays it."""
    if target not in TARGETS:
        raise SvdutyError(f"unknown fuzz target {target!r}; choose from {', '.join(TARGETS)}")
    try:
        import atheris  # noqa: F401 - only checking it is installed
    except ImportError as error:
        raise SvdutyError(
            "bench fuzz needs atheris (pip install atheris; wheels exist for CPython on Linux "
            "x86-64)"
        ) from error
    scratch = Path(tempfile.mkdtemp(prefix="svduty-fuzz-"))
    try:
        corpus, artifacts = scratch / "corpus", scratch / "artifacts"
        corpus.mkdir()
        artifacts.mkdir()
        for number, seed in enumerate(seeds(target)):
            (corpus / f"seed-{number}").write_bytes(seed)
        command = [
            sys.executable, "-m", "svduty.fuzz", target, str(scratch / "work"),
            f"-runs={cases}", f"-max_len={max_len}", "-timeout=20", "-rss_limit_mb=2048",
            "-print_final_stats=1", f"-artifact_prefix={artifacts}/", str(corpus),
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        log = done.stderr + done.stdout
        executed = _stat(log, "number_of_executed_units")
        rate = _stat(log, "average_exec_per_sec")
        rss = _stat(log, "peak_rss_mb")
        crash, message = None, ""
        found = sorted(artifacts.glob("*"))
        if found:
            folder = keep / target
            folder.mkdir(parents=True, exist_ok=True)
            data = found[0].read_bytes()
            crash = folder / f"crash-{sha1(data).hexdigest()[:16]}"
            crash.write_bytes(data)
            message = _exception(log)
        elif done.returncode != 0:
            raise SvdutyError(f"fuzzing {target} stopped (exit {done.returncode}):\n{log[-2000:]}")
        if not executed:
            executed = cases if done.returncode == 0 else 0
            rate = round(executed / seconds) if seconds else 0
        return FuzzRun(target, executed, seconds, rate, rss, crash, message)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _stat(log: str, name: str) -> int:
    match = re.search(rf"stat::{name}:\s*(\d+)", log)
    return int(match.group(1)) if match else 0


def _exception(log: str) -> str:
    match = re.search(r"=== Uncaught Python exception: ===\n(.*?)\n", log)
    lines = [line for line in log.splitlines() if line and not line.startswith(("#", "INFO"))]
    return match.group(1) if match else (lines[-1] if lines else "")


def _child(argv: list[str]) -> None:
    """The child process: `python -m svduty.fuzz TARGET WORKDIR [libFuzzer flags] CORPUS`."""
    import atheris

    target, work = argv[1], Path(argv[2])
    with atheris.instrument_imports(include=["svduty", "zipfile", "yaml", "defusedxml"]):
        import svduty.definitions.loader
        import svduty.ingest
        import svduty.mapping  # noqa: F401 - imported to be instrumented

    runner = FuzzTarget(work)
    prefix = next(a.split("=", 1)[1] for a in argv if a.startswith("-artifact_prefix="))

    def one_input(data: bytes) -> None:
        try:
            runner.run(target, data)
        except Exception:
            # kept here too: libFuzzer may be stopped by a signal before it writes its own
            Path(f"{prefix}crash-{sha1(data).hexdigest()}").write_bytes(data)
            raise

    atheris.Setup([argv[0], *argv[3:]], one_input)
    atheris.Fuzz()


def summary(run: FuzzRun) -> dict[str, object]:
    return {
        "target": run.target,
        "cases": run.cases,
        "seconds": round(run.seconds, 1),
        "exec/s": round(run.exec_per_second),
        "peak RSS (MB)": run.peak_rss_mb,
        "crash kept": str(run.crash) if run.crash else "",
        "error": run.crash_error,
    }


if __name__ == "__main__":
    _child(sys.argv)
