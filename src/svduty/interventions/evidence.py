"""The evidence reference: the Youth Endowment Fund Toolkit's approaches, bundled as a CSV.

An intervention names the approach it belongs to; its impact band and headline figure come from
here at the time they are read, so correcting the bundled list corrects every catalogue. A
figure or band that was not captured is blank (None), never inferred: see
`data/ATTRIBUTION.md`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from difflib import get_close_matches
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

BANDS: tuple[str, ...] = ("high", "moderate", "low", "no clear evidence", "harmful")
"""The YEF's impact bands: high = 30 %+ less violence, moderate = 10-30 %, low = 2-9 %."""

YEF_FILE = "yef-toolkit.csv"


def data_path(name: str) -> Path:
    return Path(str(resources.files("svduty.interventions") / "data" / name))


@dataclass(frozen=True)
class Approach:
    """One YEF Toolkit approach; None where a value was not captured."""

    name: str
    also_known_as: tuple[str, ...]
    band: str | None
    headline_percent: float | None
    headline_outcome: str | None
    evidence_rating: int | None
    cost_rating: int | None
    source_url: str
    strand_url: str | None
    read_on: str
    notes: str

    @property
    def headline(self) -> str:
        """'21 % less violence', or 'headline figure not captured'."""
        if self.headline_percent is None:
            return "headline figure not captured"
        return f"{self.headline_percent:g} % {self.headline_outcome}"

    @property
    def rating(self) -> str:
        return self.band or "impact band not captured"


def _optional(text: str) -> str | None:
    return text.strip() or None


@cache
def approaches() -> tuple[Approach, ...]:
    """Every bundled approach, in the file's order."""
    with data_path(YEF_FILE).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    found = []
    for row in rows:
        band = _optional(row["impact_band"])
        if band is not None and band not in BANDS:
            raise ValueError(f"{YEF_FILE}: {row['approach']}: unknown impact band {band!r}")
        percent = _optional(row["headline_percent"])
        evidence, cost = _optional(row["evidence_rating"]), _optional(row["cost_rating"])
        found.append(
            Approach(
                name=row["approach"].strip(),
                also_known_as=tuple(
                    a.strip() for a in row["also_known_as"].split(";") if a.strip()
                ),
                band=band,
                headline_percent=float(percent) if percent else None,
                headline_outcome=_optional(row["headline_outcome"]),
                evidence_rating=int(evidence) if evidence else None,
                cost_rating=int(cost) if cost else None,
                source_url=row["source_url"].strip(),
                strand_url=_optional(row["strand_url"]),
                read_on=row["read_on"].strip(),
                notes=row["notes"].strip(),
            )
        )
    return tuple(found)


@cache
def _by_key() -> dict[str, Approach]:
    keyed: dict[str, Approach] = {}
    for approach in approaches():
        for name in (approach.name, *approach.also_known_as):
            keyed[_key(name)] = approach
    return keyed


def _key(name: str) -> str:
    return " ".join(name.lower().replace("-", " ").split())


def find(name: str) -> Approach | None:
    """The approach of a name or another name it is known by (case, hyphens and spaces aside)."""
    return _by_key().get(_key(name))


def closest(name: str) -> str | None:
    """The approach whose name (or other name) is closest to one that is not in the list."""
    found = get_close_matches(_key(name), list(_by_key()), n=1, cutoff=0.7)
    return _by_key()[found[0]].name if found else None


def table() -> pd.DataFrame:
    """The list as a frame (approach, band, headline, ratings, source, date read, notes)."""
    import pandas as pd  # only this listing needs it; the catalogue's checks import this module

    return pd.DataFrame(
        [
            {
                "approach": a.name,
                "impact_band": a.band,
                "headline": a.headline,
                "evidence_rating": a.evidence_rating,
                "cost_rating": a.cost_rating,
                "source_url": a.strand_url or a.source_url,
                "read_on": a.read_on,
                "notes": a.notes,
            }
            for a in approaches()
        ]
    )
