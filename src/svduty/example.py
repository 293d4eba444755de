"""The bundled example: real West Mercia open data, the settings of its five CSPs, and the
example workspace the demo and the report benchmark build (open data plus a SYNTHETIC partner
extract for 2023-2025)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from svduty.settings import Settings

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


@dataclass(frozen=True)
class ExampleWorkspace:
    root: Path
    open_data_batches: int
    open_data_rows: int
    partner_batches: int
    partner_rows: int


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
    )
