"""Trends: monthly counts (gaps as zeros), rolling 12-month totals, financial-year totals, the
change between the last two complete years, and the seasonal pattern."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from svduty.analysis.stats import Change, compare_counts
from svduty.counting import Filter, counts
from svduty.definitions.model import Definition
from svduty.engine import Store


@dataclass(frozen=True)
class Trend:
    monthly: pd.DataFrame
    rolling: pd.DataFrame
    financial_years: pd.DataFrame
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
) -> Trend:
    frame = counts(store, "incidents", ["month"], filters, definition).frame
    return trend_from(frame, definition, store.name, filters, minimum)


def trends_by_csp(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    minimum: int = 20,
) -> dict[str, Trend]:
    """Each CSP's trend from one query (the same as `trend` with a csp filter, CSP by CSP)."""
    frame = counts(store, "incidents", ["csp", "month"], filters, definition).frame
    return {
        str(csp): trend_from(group[["month", "count"]], definition, store.name, filters, minimum)
        for csp, group in frame.dropna(subset=["csp"]).groupby("csp")
    }


def trend_from(
    frame: pd.DataFrame,
    definition: Definition | None,
    engine: str,
    filters: list[Filter] | None = None,
    minimum: int = 20,
) -> Trend:
    """The trend of counts by month (months with none filled in as zero)."""
    if frame.empty:
        empty = pd.DataFrame(columns=["month", "count"])
        return Trend(empty, empty, empty, None, None, empty, _name(definition), engine)
    months = pd.period_range(frame["month"].min(), frame["month"].max(), freq="M")
    monthly = (
        frame.assign(month=pd.PeriodIndex(frame["month"], freq="M"))
        .set_index("month")["count"]
        .reindex(months, fill_value=0)
    )
    rolling = monthly.rolling(12).sum().dropna().astype("int64")
    fy = [
        f"{p.year if p.month >= 4 else p.year - 1}/{(p.year + (p.month >= 4)) % 100:02d}"
        for p in months
    ]
    years = (
        pd.DataFrame({"financial_year": fy, "count": monthly.to_numpy(), "months": 1})
        .groupby("financial_year", as_index=False)
        .sum()
    )
    complete = years[years["months"] == 12]
    change, periods = None, None
    if len(complete) >= 2:
        a, b = complete.iloc[-2], complete.iloc[-1]
        change = compare_counts(int(a["count"]), int(b["count"]), minimum=minimum)
        periods = (str(a["financial_year"]), str(b["financial_year"]))
    season = (
        pd.DataFrame({"month": [p.month for p in months], "count": monthly.to_numpy()})
        .groupby("month")["count"]
        .mean()
        .reset_index()
    )
    season["index"] = season["count"] / season["count"].mean()
    return Trend(
        monthly=pd.DataFrame({"month": [str(m) for m in months], "count": monthly.to_numpy()}),
        rolling=pd.DataFrame(
            {"month": [str(m) for m in rolling.index], "rolling_12_months": rolling.to_numpy()}
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
        },
    )


def _name(definition: Definition | None) -> str | None:
    return None if definition is None else f"{definition.id} v{definition.version}"
