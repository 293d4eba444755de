"""When: incidents by hour of day and day of week, spreading each from-to range evenly over the
hours it covers (aoristic weighting), so a burglary "between 18:00 and 08:00" counts 1/14 in
each hour rather than all at 18:00."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from svduty.analysis.selection import selected, with_csp
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.engine import Store

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class WhenResult:
    matrix: pd.DataFrame  # 7 rows (days) x 24 columns (hours), weighted counts
    exact: int  # incidents with one time
    spread: int  # incidents spread over a range
    excluded: int  # incidents with month-only dates or ranges over the limit
    max_span_hours: int
    definition: str | None
    engine: str


def when(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    max_span_hours: int = 168,
) -> WhenResult:
    t = selected(store, definition, filters)
    frame = t.select("occurred_from", "occurred_to", "date_precision").to_pandas()
    return when_from(frame, definition, store.name, max_span_hours)


def when_by_csp(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    max_span_hours: int = 168,
) -> dict[str, WhenResult]:
    """Each CSP's hour-by-day picture from one query."""
    t = with_csp(store, selected(store, definition, filters))
    frame = t.select("occurred_from", "occurred_to", "date_precision", "_area").to_pandas()
    return {
        str(csp): when_from(group, definition, store.name, max_span_hours)
        for csp, group in frame.dropna(subset=["_area"]).groupby("_area")
    }


def when_from(
    frame: pd.DataFrame, definition: Definition | None, engine: str, max_span_hours: int = 168
) -> WhenResult:
    """Exact times count in their hour; ranges are spread evenly over the hours they touch."""
    timed = frame[frame["date_precision"].isin(["minute"]) & frame["occurred_from"].notna()]
    excluded = len(frame) - len(timed)
    start = pd.to_datetime(timed["occurred_from"]).dt.floor("h").to_numpy()
    end = pd.to_datetime(timed["occurred_to"].fillna(timed["occurred_from"])).to_numpy()
    hours = ((end - start) / np.timedelta64(1, "h")).astype(float)
    hours = np.where(hours < 0, 0, hours)
    span = np.maximum(np.ceil(hours), 1).astype(int)  # clock hours the range touches
    keep = span <= max_span_hours
    excluded += int((~keep).sum())
    start, span = start[keep], span[keep]
    rows = np.repeat(np.arange(len(span)), span)
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(span) - span, span)
    moments = pd.DatetimeIndex(start[rows] + offsets.astype("timedelta64[h]"))
    weights = 1.0 / span[rows]
    matrix = np.zeros((7, 24))
    np.add.at(matrix, (moments.day_of_week.to_numpy(), moments.hour.to_numpy()), weights)
    return WhenResult(
        matrix=pd.DataFrame(matrix, index=list(DAYS), columns=list(range(24))),
        exact=int((span == 1).sum()),
        spread=int((span > 1).sum()),
        excluded=excluded,
        max_span_hours=max_span_hours,
        definition=None if definition is None else f"{definition.id} v{definition.version}",
        engine=engine,
    )
