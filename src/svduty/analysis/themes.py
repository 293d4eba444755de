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
from svduty.vocabulary import THEME_NAMES

PUBLIC = ["public_place", "licensed_premises", "retail", "transport"]


def _young(store: Store) -> ir.Table:
    people = store.table("involvements")
    young = people.filter(people.age < 25)
    return young.select(_yf="force", _yr="crime_ref").distinct()


RULES: dict[str, Callable[[ir.Table], ir.BooleanValue]] = {
    "domestic_abuse": lambda t: t.marker_domestic_abuse,
    "youth": lambda t: t._young,
    "sexual_violence": lambda t: t.offence_group == "Sexual offences",
    "public_place": lambda t: t.location_type.isin(PUBLIC),
    "night_time_economy": lambda t: t.marker_night_time_economy,
    "weapon_enabled": lambda t: t.marker_knife | t.marker_firearm | t.marker_corrosive,
    "county_lines": lambda t: t.marker_county_lines,
}
THEMES: dict[str, tuple[str, Callable[[ir.Table], ir.BooleanValue]]] = {
    key: (THEME_NAMES[key], rule) for key, rule in RULES.items()
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
    grouped = _grouped(store, definition, filters)
    return themes_from(grouped, definition, store.name)


def _grouped(
    store: Store, definition: Definition | None, filters: list[Filter] | None
) -> pd.DataFrame:
    """One pass: each theme's hits and assessable records by month and CSP."""
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
    # each flag a column first: Spark SQL cannot parse "x IN (...) IS NOT NULL" unbracketed
    t = t.mutate(**{f"_t_{key}": rule(t) for key, (_, rule) in THEMES.items()})
    flags = {key: t[f"_t_{key}"] for key in THEMES}
    return (
        t.group_by(month=month_text(t.month), csp=t.csp)
        .aggregate(
            _n=t.count(),
            **{
                f"{k}__count": ibis.ifelse(v.fill_null(False), 1, 0).sum() for k, v in flags.items()
            },
            **{f"{k}__assessable": ibis.ifelse(v.notnull(), 1, 0).sum() for k, v in flags.items()},
        )
        .to_pandas()
    )


def themes_by_csp(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> dict[str, ThemesResult]:
    """Each CSP's themes: the same one pass, split by CSP."""
    grouped = _grouped(store, definition, filters)
    return {
        str(csp): themes_from(part, definition, store.name)
        for csp, part in grouped.dropna(subset=["csp"]).groupby("csp")
    }


def themes_from(grouped: pd.DataFrame, definition: Definition | None, engine: str) -> ThemesResult:
    """Each theme's count, assessable records, months and CSPs from the grouped pass."""
    total = int(grouped["_n"].sum())
    out = []
    for key, (name, _) in THEMES.items():
        hits = grouped.rename(columns={f"{key}__count": "count"})
        count = int(hits["count"].sum())
        assessable = int(grouped[f"{key}__assessable"].sum())
        monthly = hits.groupby("month", as_index=False)["count"].sum()
        monthly = monthly[monthly["count"] > 0].sort_values("month").reset_index(drop=True)
        by_csp = hits.groupby("csp", as_index=False, dropna=False)["count"].sum()
        by_csp = by_csp[by_csp["count"] > 0].sort_values("count", ascending=False)
        out.append(
            Theme(
                key,
                name,
                count,
                assessable,
                count / assessable if assessable else None,
                monthly.astype({"count": "int64"}),
                by_csp.reset_index(drop=True).astype({"count": "int64"}),
            )
        )
    return ThemesResult(out, total, label(definition), engine)
