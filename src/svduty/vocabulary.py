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


def marker_column(marker: str) -> str:
    return f"marker_{marker}"
