"""Where: counts and rates per 1,000 residents a year with exact intervals by LSOA, district, CSP
or force, shares, and rates by deprivation decile. A rate is annualised over the months with
data (a count over 21 months is divided by 21/12 years), so a reader can take it as a year's."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd

from svduty.analysis.coverage import coverage
from svduty.analysis.selection import label
from svduty.analysis.stats import poisson_interval
from svduty.counting import Filter, counts
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.errors import InputError

POPULATION_NOTE = (
    "Residents: ONS 2024 estimates on 2021 LSOAs (England); mid-2019 estimates on 2011 "
    "LSOAs (Wales). Records on 2011 LSOA codes that 2021 replaced count towards their "
    "district and CSP, not towards an LSOA rate."
)
LEVELS = {"lsoa": "lsoa_code", "la": "la_name", "csp": "csp_name", "force": "force"}


@dataclass(frozen=True)
class Rates:
    level: str
    frame: pd.DataFrame  # area, count, population, rate, low, high, share (rates a year)
    definition: str | None
    engine: str
    population_note: str
    months: int  # months with data the counts cover


def populations(store: Store, level: str) -> pd.DataFrame:
    """Residents per area, each person once: 2024 estimates on 2021 LSOAs in England, mid-2019
    estimates on 2011 LSOAs in Wales (the 2021 lookup has no Welsh population)."""
    if level not in LEVELS:
        raise InputError(f"level must be one of {', '.join(LEVELS)}")
    people = _residents(store)
    return (
        people.group_by(area=people[LEVELS[level]])
        .aggregate(population=people.population.sum())
        .to_pandas()
    )


def district_populations(store: Store) -> dict[str, int]:
    """Residents per district code, each person once (as `populations`)."""
    people = _residents(store)
    frame = (
        people.group_by(district=people.la_code)
        .aggregate(population=people.population.sum())
        .to_pandas()
        .dropna()
    )
    return {str(d): int(n) for d, n in zip(frame["district"], frame["population"], strict=True)}


def _residents(store: Store) -> ibis.Table:
    areas = store.table("areas")
    england = areas.filter(areas.in_2021 & areas.population_2024.notnull()).mutate(
        population=areas.population_2024
    )
    wales = areas.filter(
        areas.lsoa_code.startswith("W") & areas.in_2011 & areas.population_2019.notnull()
    ).mutate(population=areas.population_2019)
    return ibis.union(england, wales)


def with_rates(frame: pd.DataFrame, months: int = 12, alpha: float = 0.05) -> pd.DataFrame:
    """Add rate, low and high per 1,000 residents a year (exact Poisson interval) to a frame
    with count and population, the count being over `months` months."""
    intervals = [poisson_interval(int(c), alpha) for c in frame["count"]]
    per = 1000 / frame["population"] * (12 / months if months else float("nan"))
    frame["rate"] = frame["count"] * per
    frame["low"] = [lo for lo, _ in intervals] * per
    frame["high"] = [hi for _, hi in intervals] * per
    return frame


def months_with_data(
    store: Store, definition: Definition | None, filters: list[Filter] | None
) -> int:
    """How many months the selection's counted sources hold: what a rate is annualised over."""
    return len(coverage(store, definition, filters).with_data)


def rates(
    store: Store,
    level: str,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    alpha: float = 0.05,
    months: int | None = None,
) -> Rates:
    """Counts and rates a year per area; `months` (months with data) found if not given."""
    if months is None:
        months = months_with_data(store, definition, filters)
    by = {"lsoa": "lsoa", "la": "la", "csp": "csp", "force": "force"}[level]
    found = counts(store, "incidents", [by], filters, definition).frame.rename(columns={by: "area"})
    found = found.dropna(subset=["area"])
    frame = found.merge(populations(store, level), on="area", how="left")
    frame = with_rates(frame, months, alpha=alpha)
    frame["share"] = frame["count"] / frame["count"].sum()
    frame = frame.sort_values("rate", ascending=False, kind="stable").reset_index(drop=True)
    keep = ["area", "count", "population", "rate", "low", "high", "share"]
    return Rates(level, frame[keep], label(definition), store.name, POPULATION_NOTE, months)


@dataclass(frozen=True)
class Deprivation:
    frame: pd.DataFrame  # decile, count, population, rate, low, high (rates a year)
    definition: str | None
    engine: str
    months: int


def by_deprivation(
    store: Store,
    area_districts: tuple[str, ...],
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    months: int | None = None,
) -> Deprivation:
    """Rate per 1,000 residents a year by IMD decile (1 = most deprived) over the partnership's
    LSOAs: IMD 2025 deciles on 2021 LSOAs, IMD 2019 on 2011-only LSOAs."""
    if months is None:
        months = months_with_data(store, definition, filters)
    lsoas = residents_by_lsoa(store, area_districts)
    found = counts(store, "incidents", ["lsoa"], filters, definition).frame
    return deprivation_from(lsoas, found, definition, store.name, months)


def residents_by_lsoa(store: Store, area_districts: tuple[str, ...] = ()) -> pd.DataFrame:
    """Each LSOA's district, deprivation decile and residents (in the districts given, or all)."""
    people = _residents(store)
    own = people.filter(people.la_code.isin(list(area_districts))) if area_districts else people
    return own.select(
        lsoa="lsoa_code",
        la_code="la_code",
        decile=ibis.coalesce(own.imd2025_decile, own.imd2019_decile),
        population="population",
    ).to_pandas()


def deprivation_from(
    lsoas: pd.DataFrame,
    found: pd.DataFrame,
    definition: Definition | None,
    engine: str,
    months: int,
) -> Deprivation:
    """Rates a year by decile from the area's LSOAs (decile, residents) and incidents per LSOA
    over `months` months with data."""
    lsoas = lsoas[["lsoa", "decile", "population"]]
    merged = lsoas.merge(found[["lsoa", "count"]], on="lsoa", how="left").fillna({"count": 0})
    table = merged.groupby("decile", as_index=False)[["count", "population"]].sum()
    table = with_rates(table, months)
    table["decile"] = table["decile"].astype(int)
    return Deprivation(
        table.sort_values("decile").reset_index(drop=True), label(definition), engine, months
    )
