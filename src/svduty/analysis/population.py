"""Residents by age per district, from a file the workspace names (setting `population_by_age`),
for rates of measures about an age range (children on protection plans per 10,000 under 18s).
svduty bundles residents by area only, so without the file such measures are given as counts.

Layout: a line `# source: ...` naming the publisher and vintage (e.g. ONS mid-2024 population
estimates by single year of age), then a header `area_code, age, population`; `age` is a year
(`17`), a band (`10-17`) or an open band (`90+`). Bands of one area may not overlap. A measure's
residents are those of the bands inside its ages; a band across the edge of its ages cannot be
split and is refused, and ages no band covers mean the residents are not known.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from svduty.analysis.severity import declared_source
from svduty.errors import InputError

COLUMNS = ("area_code", "age", "population")
OLDEST = 120
_AGE = re.compile(r"\s*(\d{1,3})\s*(?:(-)\s*(\d{1,3})|(\+))?\s*")


@dataclass(frozen=True)
class AgePopulation:
    path: Path
    source: str
    bands: dict[str, tuple[tuple[int, int, int], ...]]  # area code -> (low, high, residents)

    def residents(self, districts: tuple[str, ...], low: int, high: int) -> tuple[int | None, str]:
        """Residents aged `low` to `high` in the districts, or None and why not."""
        total = 0
        for district in districts:
            bands = self.bands.get(district)
            if not bands:
                return None, f"{self.path.name} has no residents for district {district}"
            covered = 0
            for b_low, b_high, people in bands:
                if low <= b_low and b_high <= high:
                    total += people
                    covered += b_high - b_low + 1
                elif not (b_high < low or b_low > high):
                    raise InputError(
                        f"{self.path}: the age band {_band(b_low, b_high)} of {district} runs "
                        f"across the measure's ages {low} to {high}; give bands (or single "
                        "years) that end at the measure's limits"
                    )
            if covered < high - low + 1:
                return None, (
                    f"{self.path.name} does not cover every age from {low} to {high} in "
                    f"district {district}"
                )
        return total, ""


def _band(low: int, high: int) -> str:
    return f"{low}+" if high == OLDEST else (str(low) if low == high else f"{low}-{high}")


def read_age(text: str) -> tuple[int, int] | None:
    """'17' -> (17, 17); '10-17' -> (10, 17); '90+' -> (90, 120); None if not an age."""
    found = _AGE.fullmatch(text)
    if not found:
        return None
    low = int(found.group(1))
    high = OLDEST if found.group(4) else int(found.group(3)) if found.group(2) else low
    return (low, high) if low <= high <= OLDEST else None


def load_population_by_age(path: Path) -> AgePopulation:
    """The file, with every problem reported at once (file, line, field)."""
    if not path.is_file():
        raise InputError(f"{path}: no such population-by-age file")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    source = declared_source(lines)
    if not source:
        raise InputError(
            f"{path}: say where the residents come from in a first line such as "
            "'# source: ONS mid-2024 population estimates by single year of age'"
        )
    numbers = [n for n, line in enumerate(lines, start=1) if not line.startswith("#")]
    reader = csv.reader(line for line in lines if not line.startswith("#"))
    header = [c.strip().lower() for c in next(reader, [])]
    if sorted(header) != sorted(COLUMNS):
        raise InputError(
            f"{path}: line {numbers[0] if numbers else 1}: the columns must be "
            f"{', '.join(COLUMNS)}; found {', '.join(header) or 'none'}"
        )
    at = {name: header.index(name) for name in COLUMNS}
    problems: list[str] = []
    found: dict[str, list[tuple[int, int, int, int]]] = {}
    for number, row in zip(numbers[1:], reader, strict=False):
        if len(row) != len(header):
            problems.append(f"{path}: line {number}: {len(row)} fields, not {len(header)}")
            continue
        code, age_text, people = (row[at[c]].strip() for c in COLUMNS)
        age = read_age(age_text)
        if not code:
            problems.append(f"{path}: line {number}: area_code is empty")
        if age is None:
            problems.append(
                f"{path}: line {number}: age {age_text!r} is not a year (17), a band (10-17) "
                "or an open band (90+)"
            )
        if not people.isdigit():
            problems.append(f"{path}: line {number}: population {people!r} is not a whole number")
        if code and age is not None and people.isdigit():
            found.setdefault(code, []).append((age[0], age[1], int(people), number))
    for code, bands in found.items():
        bands.sort()
        for before, after in pairwise(bands):
            if after[0] <= before[1]:
                problems.append(
                    f"{path}: line {after[3]}: age {_band(after[0], after[1])} of {code} overlaps "
                    f"{_band(before[0], before[1])} on line {before[3]}"
                )
    if problems:
        raise InputError("\n".join(problems))
    return AgePopulation(
        path, source, {c: tuple((lo, hi, n) for lo, hi, n, _ in b) for c, b in found.items()}
    )
