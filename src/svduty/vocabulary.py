"""The canonical vocabulary partner data is mapped into and definitions are written in."""

from __future__ import annotations

MARKERS: tuple[str, ...] = (
    "domestic_abuse",
    "knife",
    "firearm",
    "corrosive",
    "county_lines",
    "hate",
    "alcohol",
    "night_time_economy",
    "intimidation",
    "modern_slavery",
)
"""Flags a force records on a crime. `knife` means knife or sharp instrument."""

LOCATION_TYPES: tuple[str, ...] = (
    "public_place",
    "dwelling",
    "licensed_premises",
    "school",
    "retail",
    "transport",
    "workplace",
    "healthcare",
    "other",
)

ROLES: tuple[str, ...] = ("victim", "suspect", "offender")
SEXES: tuple[str, ...] = ("female", "male", "other", "unknown")

ASSAULT_MEANS: tuple[str, ...] = (
    "body",
    "knife_or_sharp",
    "blunt_object",
    "firearm",
    "glass_or_bottle",
    "corrosive",
    "other",
    "unknown",
)
"""Primary means of assault in the ISTV minimum dataset, as svduty groups them."""


AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 17, "0-17"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, 120, "65+"),
)
"""Age bands for people and admissions: lowest age, highest age, label."""


def marker_column(marker: str) -> str:
    return f"marker_{marker}"


FULL, PARTIAL, NO_DATA = "full", "partial", "no data"
"""A month's coverage: every counted source holds it, some do, or none (a gap, never a zero)."""
