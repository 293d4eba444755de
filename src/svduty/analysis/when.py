"""When: incidents by hour of day and day of week, spreading each from-to range evenly over the
hours it covers (aoristic weighting), so a burglary "between 18:00 and 08:00" counts 1/14 in
each hour rather than all at 18:00."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
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
    return when_from(_spans(t, []).to_pandas(), definition, store.name, max_span_hours)


def when_by_csp(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    max_span_hours: int = 168,
) -> dict[str, WhenResult]:
    """Each CSP's hour-by-day picture from one query."""
    t = with_csp(store, selected(store, definition, filters))
    frame = _spans(t, ["_area"]).to_pandas()
    return {
        str(csp): when_from(group, definition, store.name, max_span_hours)
        for csp, group in frame.dropna(subset=["_area"]).groupby("_area")
    }


def _spans(t: ir.Table, keep: list[str]) -> ir.Table:
    """Incidents counted by the day and hour their range starts in and the clock hours it
    touches, in the engine: a few thousand rows whatever the number of incidents, since the
    spread of a range over the week depends on nothing else. Untimed incidents (month-only
    dates, no time) are counted with no start."""
    timed = (t.date_precision == "minute") & t.occurred_from.notnull()
    start = t.occurred_from.truncate("h")
    end = t.occurred_to.fill_null(t.occurred_from)
    hours = (end.epoch_seconds() - start.epoch_seconds()) / 3600
    span = ibis.greatest(hours.ceil(), 1).cast("int64")
    t = t.select(
        *keep,
        day=ibis.ifelse(timed, start.day_of_week.index(), ibis.null("int64")).cast("int64"),
        hour=ibis.ifelse(timed, start.hour(), ibis.null("int64")).cast("int64"),
        span=ibis.ifelse(timed, span, ibis.null("int64")),
    )
    return t.group_by([*keep, "day", "hour", "span"]).aggregate(n=t.count())


def when_from(
    frame: pd.DataFrame, definition: Definition | None, engine: str, max_span_hours: int = 168
) -> WhenResult:
    """Exact times count in their hour; ranges are spread evenly over the hours they touch.
    `frame` holds counts `n` by starting `day` (Monday 0), `hour` and `span` in clock hours
    (no span: not timed)."""
    timed = frame.dropna(subset=["span"])
    keep = timed["span"] <= max_span_hours
    excluded = int(frame["n"].sum() - timed.loc[keep, "n"].sum())
    timed = timed[keep]
    span = timed["span"].to_numpy("int64")
    n = timed["n"].to_numpy("int64")
    first = timed["day"].to_numpy("int64") * 24 + timed["hour"].to_numpy("int64")
    rows = np.repeat(np.arange(len(span)), span)
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(span) - span, span)
    slot = (first[rows] + offsets) % (7 * 24)  # hour of the week each share falls in
    matrix = np.bincount(slot, weights=n[rows] / span[rows], minlength=7 * 24).reshape(7, 24)
    return WhenResult(
        matrix=pd.DataFrame(matrix, index=list(DAYS), columns=list(range(24))),
        exact=int(n[span == 1].sum()),
        spread=int(n[span > 1].sum()),
        excluded=excluded,
        max_span_hours=max_span_hours,
        definition=None if definition is None else f"{definition.id} v{definition.version}",
        engine=engine,
    )
