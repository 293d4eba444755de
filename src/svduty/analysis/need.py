"""Need counts: the selected incidents of each area by theme and cohort, in the whole period and
in each financial year, from one pass split by CSP. What they mean for provision (rates, trend,
score, gaps) is worked out after publication, from the published cells only
(`svduty.interventions.need`).

A cohort is the age band of the youngest victim or suspect of an incident whose age is
recorded, so the cohorts of a theme add up to the theme: every incident is in exactly one
(incidents with no recorded age, such as every data.police.uk record, are "age not recorded").
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd

from svduty.analysis.selection import selected
from svduty.analysis.severity import Weights
from svduty.analysis.stats import compare_counts
from svduty.analysis.themes import THEMES
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.dimensions import financial_year_of
from svduty.engine import Store
from svduty.vocabulary import COHORTS, NEED_THEMES


@dataclass(frozen=True)
class NeedCounts:
    """One frame per area: theme, cohort, count and one column per financial year."""

    by_area: dict[str, pd.DataFrame]
    whole: pd.DataFrame
    years: tuple[str, ...]
    definition: str
    engine: str


def need_counts(
    store: Store,
    definition: Definition,
    filters: list[Filter],
    years: tuple[str, ...],
    weights: Weights | None = None,
) -> NeedCounts:
    """Counts of each (theme, cohort) for the whole selection and each CSP; `years` are the
    financial years given a column each (the two compared for the trend); with `weights`, the
    harm too (the weights of the offences counted, summed; an offence without a weight adds
    none, as in the severity section)."""
    grouped = _grouped(store, definition, filters)
    harm = weights is not None
    if weights is not None:
        weight = grouped["offence_code"].map(weights.weights).fillna(0.0)
        for theme in NEED_THEMES:
            grouped[f"{theme}__harm"] = grouped[theme] * weight
    areas = {
        str(csp): _frame(part, years, harm)
        for csp, part in grouped.dropna(subset=["csp"]).groupby("csp")
    }
    return NeedCounts(
        areas, _frame(grouped, years, harm), years, f"{definition.id} v{definition.version}",
        store.name,
    )  # fmt: skip


def _grouped(store: Store, definition: Definition, filters: list[Filter]) -> pd.DataFrame:
    t = selected(store, definition, filters)
    people = store.table("involvements")
    youngest = (
        people.filter(people.age.notnull())
        .group_by(_yf=people.force, _yr=people.crime_ref)
        .aggregate(_age=people.age.min())
    )
    t = t.left_join(youngest, (t.force == youngest._yf) & (t.crime_ref == youngest._yr))
    areas = store.table("areas").select(_lsoa="lsoa_code", csp="csp_name")
    t = t.left_join(areas, t.lsoa_code == areas._lsoa)
    cohort = ibis.cases(
        *[
            ((t._age >= low) & (t._age <= high), key)
            for key, _, low, high in COHORTS
            if low is not None
        ],
        else_="age_unknown",
    )
    t = t.mutate(
        _cohort=cohort,
        _fy=financial_year_of(t.month.year(), t.month.month()),
    )
    rules = {key: rule for key, (_, rule) in THEMES.items() if key != "youth"}
    flags = {
        "all": ibis.literal(True),
        "knife": t.marker_knife,
        **{key: rule(t) for key, rule in rules.items()},
    }
    t = t.mutate(**{f"_t_{key}": flag for key, flag in flags.items()})
    return (
        t.group_by(csp=t.csp, cohort=t._cohort, financial_year=t._fy, offence_code=t.offence_code)
        .aggregate(
            **{key: ibis.ifelse(t[f"_t_{key}"].fill_null(False), 1, 0).sum() for key in NEED_THEMES}
        )
        .to_pandas()
    )


def _frame(grouped: pd.DataFrame, years: tuple[str, ...], harm: bool = False) -> pd.DataFrame:
    """Every theme × cohort row (zeros included: a theme with no incident in a cohort is a
    count of nought, not a gap in the data), with the period's count and each year's."""
    rows = []
    for theme in NEED_THEMES:
        for cohort, *_ in COHORTS:
            mine = grouped[grouped["cohort"] == cohort]
            row: dict[str, object] = {
                "theme": theme,
                "cohort": cohort,
                "count": int(mine[theme].sum()),
            }
            if harm:
                row["harm"] = round(float(mine[f"{theme}__harm"].sum()), 1)
            for year in years:
                row[year] = int(mine.loc[mine["financial_year"] == year, theme].sum())
            rows.append(row)
    return pd.DataFrame(rows)


def with_change(frame: pd.DataFrame, years: tuple[str, ...]) -> pd.DataFrame:
    """Theme, cohort and count, with the last two complete years compared by the exact test
    (the same test as the trend's), kept as words: the years' counts are not published."""
    out = frame[["theme", "cohort", "count", *(["harm"] if "harm" in frame else [])]].copy()
    out["change"] = [_verdict(row, years) for _, row in frame.iterrows()]
    totals = frame.groupby("theme")[list(years)].sum()
    out["theme_change"] = [_verdict(totals.loc[theme], years) for theme in frame["theme"]]
    out["years"] = " to ".join(years) if len(years) == 2 else None
    return out


def _verdict(row: pd.Series, years: tuple[str, ...]) -> str:
    if len(years) != 2:
        return "no two complete years to compare"
    return compare_counts(int(row[years[0]]), int(row[years[1]])).verdict


def empty_need(like: pd.DataFrame) -> pd.DataFrame:
    """An area with no incident in the selection: every theme and cohort counted nought."""
    nothing = compare_counts(0, 0).verdict
    empty = like.assign(count=0, change=nothing, theme_change=nothing)
    return empty.assign(harm=0.0) if "harm" in like else empty
