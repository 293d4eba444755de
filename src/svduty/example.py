"""The bundled example: real West Mercia open data and the settings of its five CSPs."""

from __future__ import annotations

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
