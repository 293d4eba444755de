"""Trends: monthly counts (a month no counted source holds is a gap, never a zero), rolling
12-month totals and the seasonal pattern over months every source holds, financial-year totals
with their coverage, and the change between the last two consecutive complete years."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from svduty.analysis.coverage import Coverage, coverage, financial_year
from svduty.analysis.stats import Change, compare_counts
from svduty.counting import Filter, counts
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.vocabulary import FULL, NO_DATA


@dataclass(frozen=True)
class Trend:
    monthly: pd.DataFrame  # month, count (<NA> where no data), coverage
    rolling: pd.DataFrame
    financial_years: pd.DataFrame  # financial_year, count, months, full_months, coverage
    change: Change | None
    change_periods: tuple[str, str] | None
    seasonality: pd.DataFrame
    definition: str | None
    engine: str
    parameters: dict[str, object] = field(default_factory=dict)


def trend(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    minimum: int = 20,
    cover: Coverage | None = None,
) -> Trend:
    frame = counts(store, "incidents", ["month"], filters, definition).frame
    cover = cover or coverage(store, definition, filters)
    return trend_from(frame, cover, definition, store.name, filters, minimum)


def trends_by_csp(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    minimum: int = 20,
    cover: Coverage | None = None,
) -> dict[str, Trend]:
    """Each CSP's trend from one query (the same as `trend` with a csp filter, CSP by CSP)."""
    frame = counts(store, "incidents", ["csp", "month"], filters, definition).frame
    cover = cover or coverage(store, definition, filters)
    return {
        str(csp): trend_from(
            group[["month", "count"]], cover, definition, store.name, filters, minimum
        )
        for csp, group in frame.dropna(subset=["csp"]).groupby("csp")
    }


def trend_from(
    frame: pd.DataFrame,
    cover: Coverage,
    definition: Definition | None,
    engine: str,
    filters: list[Filter] | None = None,
    minimum: int = 20,
) -> Trend:
    """The trend of counts by month over the months `cover` spans: a month some counted source
    holds and no record falls in is a zero; a month none holds has no count."""
    months = cover.months
    if not months:
        empty = pd.DataFrame(columns=["month", "count"])
        return Trend(empty, empty, empty, None, None, empty, _name(definition), engine)
    found = frame.groupby("month")["count"].sum()
    status = [cover.status(m) for m in months]
    monthly = pd.DataFrame(
        {
            "month": months,
            "count": pd.array(
                [
                    None if s == NO_DATA else int(found.get(m, 0))
                    for m, s in zip(months, status, strict=True)
                ],
                dtype="Int64",
            ),
            "coverage": status,
        }
    )
    full = monthly["count"].astype("float").where(monthly["coverage"] == FULL)
    rolling = full.rolling(12).sum()
    kept = rolling.notna()
    years = cover.financial_years()
    sums = (
        monthly.assign(financial_year=[financial_year(m) for m in months])
        .groupby("financial_year")["count"]
        .sum()
    )
    years.insert(1, "count", pd.Series(list(sums.reindex(years["financial_year"])), dtype="Int64"))
    years.loc[years["months"] == 0, "count"] = pd.NA
    change, periods = None, consecutive_complete(cover.complete_years())
    if periods:
        a, b = (int(sums[p]) for p in periods)
        change = compare_counts(a, b, minimum=minimum)
    season = (
        pd.DataFrame({"month": [int(m[5:7]) for m in months], "count": full})
        .dropna()
        .groupby("month")["count"]
        .mean()
        .reset_index()
    )
    season["index"] = season["count"] / season["count"].mean()
    return Trend(
        monthly=monthly,
        rolling=pd.DataFrame(
            {
                "month": [m for m, k in zip(months, kept, strict=True) if k],
                "rolling_12_months": rolling[kept].astype("int64").to_numpy(),
            }
        ),
        financial_years=years,
        change=change,
        change_periods=periods,
        seasonality=season,
        definition=_name(definition),
        engine=engine,
        parameters={
            "minimum_to_compare": minimum,
            "filters": [f"{f.column}={f.value}" for f in filters or []],
            "sources": [list(s) for s in cover.sources],
        },
    )


def consecutive_complete(complete: list[str]) -> tuple[str, str] | None:
    """The last two complete financial years when they follow one another: a change test
    across a missing or incomplete year would not be year on year."""
    if len(complete) < 2:
        return None
    a, b = complete[-2], complete[-1]
    return (a, b) if int(b[:4]) == int(a[:4]) + 1 else None


def _name(definition: Definition | None) -> str | None:
    return None if definition is None else f"{definition.id} v{definition.version}"
