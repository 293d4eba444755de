"""The bundled example: real West Mercia open data, the settings of its five CSPs, and the
example workspace the demo and the report benchmark build (open data plus a SYNTHETIC partner
extract for 2023-2025), with an example local framework of success measures, SYNTHETIC external
series for it and SYNTHETIC residents by age."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from svduty.settings import Settings

if TYPE_CHECKING:
    from svduty.workspace import Workspace

WEST_MERCIA = Settings(
    area="West Mercia",
    engine="duckdb",
    disclosure_threshold=5,
    definition="west-mercia-2022",
    forces=("West Mercia",),
    csps={
        "Herefordshire": ("E06000019",),
        "Shropshire": ("E06000051",),
        "Telford and Wrekin": ("E06000020",),
        "North Worcestershire": ("E07000234", "E07000236", "E07000239"),
        "South Worcestershire": ("E07000235", "E07000237", "E07000238"),
    },
)


def example_archive() -> Path:
    return Path(str(resources.files("svduty") / "examples" / "2025-12.zip"))


SYNTHETIC_START, SYNTHETIC_YEARS, SYNTHETIC_SEED = "2023-01", 3, 2025
POPULATION_BY_AGE = "reference/population-by-age.csv"
"""Where the example writes its SYNTHETIC residents by age (the setting population_by_age)."""


def example_framework() -> Path:
    """The example's local framework, copied into the workspace's measures folder."""
    return Path(str(resources.files("svduty") / "examples" / "measures" / "west-mercia.yaml"))


@dataclass(frozen=True)
class ExampleWorkspace:
    root: Path
    open_data_batches: int
    open_data_rows: int
    partner_batches: int
    partner_rows: int
    series_batches: int = 0
    series_rows: int = 0


def build_example(root: Path, say: Callable[[str], None] = lambda _: None) -> ExampleWorkspace:
    """Open data and a generated partner extract in one workspace, classified; idempotent."""
    from svduty.synth.check import synthetic_files
    from svduty.synth.generate import generate
    from svduty.synth.profile import load_profile
    from svduty.workspace import Workspace

    exists = (root / "svduty.toml").exists()
    ws = Workspace.open(root) if exists else Workspace.init(root, WEST_MERCIA)
    try:
        reports = ws.ingest(
            [example_archive()], on_file=lambda s: say(f"ingesting {s.name.split('!')[-1]}")
        )
        synthetic = root / "synthetic"
        if not (synthetic / "synth.json").exists():
            say(
                f"generating a SYNTHETIC West Mercia partner extract, {SYNTHETIC_YEARS} years "
                f"from {SYNTHETIC_START} (seed {SYNTHETIC_SEED})"
            )
            generate(
                load_profile("west-mercia"),
                synthetic,
                years=SYNTHETIC_YEARS,
                seed=SYNTHETIC_SEED,
                start=SYNTHETIC_START,
            )
        files, mappings = synthetic_files(synthetic)
        partner = ws.ingest(
            files, mappings=mappings, on_file=lambda s: say(f"ingesting {Path(s.name).name}")
        )
        series = ws.ingest(
            _local_measures(ws, root, say),
            kind="measure_series",
            on_file=lambda s: say(f"ingesting {Path(s.name).name}"),
        )
        _catalogue(ws, root, say)
        summary = ws.classify()
        say(
            f"Classified {summary.incidents:,} incidents under {summary.definition.id}: "
            f"{summary.in_definition:,} in."
        )
    finally:
        ws.close()
    return ExampleWorkspace(
        root,
        len(reports),
        sum(r.rows_accepted for r in reports),
        len(partner),
        sum(r.rows_accepted for r in partner),
        len(series),
        sum(r.rows_accepted for r in series),
    )


def example_catalogue() -> Path:
    """The example's catalogue of interventions named in West Mercia's strategy and the PCC's
    commissioning reports; its `illustrative` column names the values that are invented."""
    return Path(str(resources.files("svduty") / "examples" / "interventions" / "west-mercia.csv"))


def _catalogue(ws: Workspace, root: Path, say: Callable[[str], None]) -> None:
    """The example catalogue copied to interventions/ and imported (unchanged rows stay)."""
    from svduty.interventions import import_catalogue

    target = root / "interventions" / example_catalogue().name
    if not target.exists():
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(example_catalogue(), target)
    done = import_catalogue(ws, target)
    say(
        f"interventions: {len(done.saved.added)} added, {len(done.saved.changed)} changed, "
        f"{len(done.saved.unchanged)} unchanged (some values ILLUSTRATIVE: see the file)"
    )


def _local_measures(ws: Workspace, root: Path, say: Callable[[str], None]) -> list[Path]:
    """The example framework in measures/, SYNTHETIC residents by age (named in svduty.toml)
    and SYNTHETIC external series for the framework; the series files to ingest."""
    from svduty.analysis.where import district_populations
    from svduty.measures.framework import MEASURES_DIR
    from svduty.settings import save_settings
    from svduty.synth.series import population_by_age, series_files

    framework = root / MEASURES_DIR / example_framework().name
    if not framework.exists():
        framework.parent.mkdir(exist_ok=True)
        shutil.copyfile(example_framework(), framework)
    known = district_populations(ws.store)
    residents = {d: known[d] for ds in WEST_MERCIA.csps.values() for d in ds if d in known}
    if not ws.settings.population_by_age:
        say("writing SYNTHETIC residents by age and naming them in svduty.toml")
        population_by_age(residents, root / POPULATION_BY_AGE, SYNTHETIC_SEED)
        save_settings(root, replace(ws.settings, population_by_age=POPULATION_BY_AGE))
    folder = root / "synthetic" / "series"
    if not folder.is_dir():
        say("generating SYNTHETIC external series for the example's local measures")
    return series_files(residents, folder, SYNTHETIC_SEED)
