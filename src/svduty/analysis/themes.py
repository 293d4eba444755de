"""Themes of the assessment, each driven by markers, places, ages and offence groups: its share of
the selected incidents, its monthly trend, and where (CSP) it falls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from svduty.analysis.selection import label, selected
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.dimensions import month_text
from svduty.engine import Store

PUBLIC = ["public_place", "licensed_premises", "retail", "transport"]


def _young(store: Store) -> ir.Table:
    people = store.table("involvements")
    young = people.filter(people.age < 25)
    return young.select(_yf="force", _yr="crime_ref").distinct()


THEMES: dict[str, tuple[str, Callable[[ir.Table], ir.BooleanValue]]] = {
    "domestic_abuse": ("Domestic abuse", lambda t: t.marker_domestic_abuse),
    "youth": ("Youth (a victim or suspect under 25)", lambda t: t._young),
    "sexual_violence": ("Sexual violence", lambda t: t.offence_group == "Sexual offences"),
    "public_place": ("Public place", lambda t: t.location_type.isin(PUBLIC)),
    "night_time_economy": ("Night-time economy", lambda t: t.marker_night_time_economy),
    "weapon_enabled": (
        "Weapon-enabled (knife, firearm or corrosive)",
        lambda t: t.marker_knife | t.marker_firearm | t.marker_corrosive,
    ),
    "county_lines": ("County lines", lambda t: t.marker_county_lines),
}


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    count: int
    assessable: int  # incidents where the theme's facts are recorded
    share: float | None
    monthly: pd.DataFrame
    by_csp: pd.DataFrame


@dataclass(frozen=True)
class ThemesResult:
    themes: list[Theme]
    incidents: int
    definition: str | None
    engine: str


def themes(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> ThemesResult:
    t = selected(store, definition, filters)
    young = _young(store)
    t = t.left_join(young, (t.force == young._yf) & (t.crime_ref == young._yr)).mutate(
        _young=lambda x: ibis.ifelse(
            x._yr.notnull(),
            True,
            ibis.ifelse(x.source_kind == "police_extract", False, ibis.null("boolean")),
        )
    )
    areas = store.table("areas").select(_lsoa="lsoa_code", csp="csp_name")
    t = t.left_join(areas, t.lsoa_code == areas._lsoa)
    month = month_text(t.month)
    flags = {key: rule(t) for key, (_, rule) in THEMES.items()}
    base = t.mutate(_month=month, **{f"_t_{k}": v for k, v in flags.items()})
    total = int(base.count().to_pandas())
    out = []
    for key, (name, _) in THEMES.items():
        flag = base[f"_t_{key}"]
        summary = (
            base.aggregate(count=flag.fill_null(False).sum(), assessable=flag.notnull().sum())
            .to_pandas()
            .iloc[0]
        )
        hits = base.filter(flag.fill_null(False))
        monthly = (
            hits.group_by(month="_month")
            .aggregate(count=hits.count())
            .order_by("month")
            .to_pandas()
        )
        by_csp = (
            hits.group_by("csp")
            .aggregate(count=hits.count())
            .order_by(ibis.desc("count"))
            .to_pandas()
        )
        count, assessable = int(summary["count"] or 0), int(summary["assessable"] or 0)
        out.append(
            Theme(
                key,
                name,
                count,
                assessable,
                count / assessable if assessable else None,
                monthly,
                by_csp,
            )
        )
    return ThemesResult(out, total, label(definition), store.name)
