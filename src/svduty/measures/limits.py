"""A framework measure's baseline, recalculation points and target, as the arguments of its SPC
chart.

The framework names periods (2022/23, 2024-Q2, 2024-05); a chart counts points. A baseline is
the limits of its own points extended forward, and in Making Data Count those are the chart's
first points, so a chart with a baseline starts at it: earlier points are left out and said.
A baseline too short for limits, or with no data in it, is not used, and said, rather than
refusing the chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from svduty.measures.spc import MIN_POINTS
from svduty.periods import MONTHS, WORDS, period_kind, period_start


@dataclass(frozen=True)
class Baseline:
    """Periods from `first` to `last` (labels of any kind: 2022/23, 2022-Q2, 2022-04)."""

    first: str
    last: str

    @property
    def start(self) -> date:
        return period_start(self.first, _kind(self.first))

    @property
    def end(self) -> date:
        """The first day after the baseline."""
        kind = _kind(self.last)
        begins = period_start(self.last, kind)
        months = begins.year * 12 + begins.month - 1 + MONTHS[kind]
        return date(months // 12, months % 12 + 1, 1)

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    def holds(self, day: date) -> bool:
        return self.start <= day < self.end

    @property
    def words(self) -> str:
        return self.first if self.first == self.last else f"{self.first} to {self.last}"


@dataclass(frozen=True)
class ChartPlan:
    """The SPC arguments for one series: chart its points from `first` on, with a baseline of
    that many points, these recalculation dates and this target; `notes` say what was left
    out or not used."""

    first: int
    baseline: int | None
    recalculate: tuple[date, ...]
    target: float | None
    notes: tuple[str, ...]


def chart_plan(
    days: Sequence[date],
    period: str,
    baseline: Baseline | None,
    recalculate: Sequence[str],
    target: float | None,
) -> ChartPlan:
    """The chart's arguments for points on `days` (first days of `period`s, in order). A
    series too short for limits is a run chart: its baseline changes nothing."""
    notes: list[str] = []
    first, points = 0, None
    plural = f"{WORDS[period]}s"
    if baseline is not None and len(days) >= MIN_POINTS:  # fewer: a run chart, no limits
        inside = [i for i, day in enumerate(days) if baseline.holds(day)]
        if not inside:
            notes.append(
                f"baseline {baseline.words} not used: no {WORDS[period]} in it has data, so "
                "the limits are from all points"
            )
        elif len(inside) < MIN_POINTS:
            notes.append(
                f"baseline {baseline.words} not used: it holds {_count(len(inside), period)} "
                f"with data and limits need {MIN_POINTS}, so the limits are from all points"
            )
        else:
            first, points = inside[0], inside[-1] - inside[0] + 1
            if first:
                notes.append(
                    f"the chart starts at its baseline ({baseline.words}): "
                    f"{_count(first, period)} before it left out"
                )
    charted = days[first:]
    dates = []
    for label in recalculate:
        when = period_start(label, _kind(label))
        if charted and charted[0] < when <= charted[-1]:
            dates.append(when)
        else:
            notes.append(f"recalculation at {label} not used: it is outside the charted {plural}")
    return ChartPlan(first, points, tuple(dates), target, tuple(notes))


def _count(n: int, period: str) -> str:
    return f"{n} {WORDS[period]}{'' if n == 1 else 's'}"


def _kind(label: str) -> str:
    kind = period_kind(label)
    if kind is None:
        raise ValueError(f"{label!r} is not a period label")
    return kind
