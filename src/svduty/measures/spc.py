"""Statistical process control charts as NHS England's Making Data Count defines them: XmR charts
for any series, and t- and g-charts for rare events (days between them).

Written from the published method (the MDC Single Chart Tool v5.0 and its testing notes, NHS
England's "SPC Charts SQL Query"), not ported. The Python libraries looked at do not reproduce
it: abspc uses an 8-point shift, its own colours and automatic rebasing, and no conflict rule;
statprocon and spc-plotly follow Wheeler's rules rather than Making Data Count's and draw no
icons; the nhspy-plotthedots port of NHSRplotthedots is not released and has its 7-point rules
only.

XmR: centre line the mean of a segment, moving ranges |x_i - x_(i-1)| within it, process limits
mean +/- 2.66 x mean moving range, 2-sigma lines at two thirds of that distance. Limits and
special-cause rules need 13 points; with fewer the chart is a run chart (mean only) and says so.
Rules, by preset:

- ``mdc`` (the default: the Excel Single Chart Tool v5.0): a point beyond a process limit; a
  shift of 6 or more consecutive points on one side of the mean (a point on the mean breaks it);
  a trend of 6 or more consecutive points each higher (or lower) than the one before, endpoints
  included (a tie breaks it); two of three consecutive points beyond the same 2-sigma line, all
  three on that side of the mean (a point beyond the process limit does not count toward the
  two). Multi-point rules may run across a recalculation. A point meeting an improvement rule
  and a concern rule shows improvement.
- ``nhsr`` (NHSRplotthedots): shifts and trends of 7; moving ranges of 3.267 x their mean or more
  left out before the mean moving range is taken again; rules kept within a segment; a special
  cause point is improvement or concern by its side of the mean.

Recalculation dates start new segments with their own limits. A baseline of N points fixes the
limits from the first N points and extends them forward up to the next recalculation after it;
a recalculation inside the baseline is ignored (the baseline wins), as in the NHS England SQL.

Rare events: a t-chart transforms the days between events by y^(1/3.6), takes XmR limits of the
transformed values and transforms them back (a lower line whose transformed value is below zero
is not drawn); a g-chart's upper limit is mean + 3 sqrt(mean (mean + 1)), with no lower limit
or 2-sigma lines, and its centre line 0.693 x mean (the geometric median), as the NHS England
SQL draws and tests them.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from statistics import fmean
from typing import Any

import pandas as pd

from svduty.errors import InputError
from svduty.measures.inputs import read_rows
from svduty.output import records

MIN_POINTS = 13
"""Points needed before limits and special-cause rules are shown (Making Data Count)."""
LIMIT = 2.66
"""Process limits: mean +/- 2.66 x mean moving range (3 sigma, with d2 = 1.128)."""
MR_LIMIT = 3.267
"""Upper limit of the moving-range chart, as a multiple of the mean moving range."""
T_POWER = 3.6
"""The t-chart transformation: y = days^(1/3.6)."""
G_CENTRE = 0.693
"""The g-chart's centre line as a share of the mean (the median of a geometric distribution)."""

CHARTS = ("xmr", "t", "g")
IMPROVEMENTS = ("up", "down", "neither")
VARIATIONS = ("common", "improvement", "concern", "neither")
COLOURS = {
    "common": "#A6A6A6",
    "improvement": "#00B0F0",
    "concern": "#E46C0A",
    "neither": "#490092",
}
"""Making Data Count's colours: grey common cause, blue improvement, orange concern, purple
special cause where neither direction is better."""


@dataclass(frozen=True)
class Preset:
    """A named set of rules, after the tool that uses them."""

    name: str
    source: str
    shift: int
    trend: int
    screen_moving_ranges: bool
    rules_cross_segments: bool
    direction_by_side: bool


PRESETS = {
    "mdc": Preset("mdc", "Making Data Count Single Chart Tool v5.0", 6, 6, False, True, False),
    "nhsr": Preset("nhsr", "NHSRplotthedots", 7, 7, True, False, True),
}


@dataclass(frozen=True)
class Lines:
    """A segment's centre line and limits; None where the chart draws no such line."""

    centre: float
    upl: float | None = None
    lpl: float | None = None
    upper_2sigma: float | None = None
    lower_2sigma: float | None = None
    mr_mean: float | None = None

    @property
    def limited(self) -> bool:
        return self.upl is not None or self.lpl is not None


@dataclass(frozen=True)
class SpcResult:
    """One chart: a row per point (date, value, mean, upl, lpl, 2-sigma lines, moving range,
    segment, baseline, rules met, variation and its colour) and what the last point says."""

    frame: pd.DataFrame
    chart: str
    preset: str
    improvement: str
    target: float | None
    variation_icon: str | None
    assurance_icon: str | None
    notes: tuple[str, ...]
    method: str

    def json(self) -> str:
        summary: dict[str, Any] = {
            "chart": self.chart,
            "preset": self.preset,
            "improvement": self.improvement,
            "target": self.target,
            "variation_icon": self.variation_icon,
            "assurance_icon": self.assurance_icon,
            "method": self.method,
            "notes": list(self.notes),
            "points": records(self.frame),
        }
        return json.dumps(summary, indent=2) + "\n"


def read_series(
    path: Path, date_column: str = "date", value_column: str = "value"
) -> tuple[list[date], list[float]]:
    """One value per period; a date given twice is refused, naming both lines."""
    rows = read_rows(path, [date_column, value_column])
    seen: dict[date, int] = {}
    dates, values = [], []
    for row in rows:
        day = row.day(date_column)
        if day in seen:
            raise InputError(
                f"{row.where(date_column)}: {day.isoformat()} is also on line {seen[day]}; "
                "give one value per date"
            )
        seen[day] = row.line
        dates.append(day)
        values.append(row.number(value_column))
    return dates, values


def read_events(path: Path, date_column: str = "date") -> list[date]:
    """One row per event (several on one day are several rows)."""
    return [row.day(date_column) for row in read_rows(path, [date_column])]


def days_between(events: Sequence[date]) -> tuple[list[date], list[float]]:
    """Each event after the first, with the whole days since the one before it."""
    ordered = sorted(events)
    if len(ordered) < 2:
        raise InputError("a t- or g-chart needs at least two events")
    return ordered[1:], [float((b - a).days) for a, b in itertools.pairwise(ordered)]


def spc(
    dates: Sequence[date],
    values: Sequence[float],
    *,
    chart: str = "xmr",
    improvement: str = "neither",
    preset: str = "mdc",
    baseline: int | None = None,
    recalculate: Sequence[date] = (),
    target: float | None = None,
) -> SpcResult:
    """The chart of a series: `dates` and `values` one per point (for t- and g-charts, the
    days between events from `days_between`)."""
    if chart not in CHARTS:
        raise InputError(f"chart must be one of {', '.join(CHARTS)}, not {chart!r}")
    if improvement not in IMPROVEMENTS:
        raise InputError(f"improvement must be up, down or neither, not {improvement!r}")
    if preset not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    if len(dates) != len(values):
        raise InputError("dates and values differ in length")
    if not values:
        raise InputError("the series is empty")
    if target is not None and chart != "xmr":
        raise InputError("a target applies to XmR charts only (t- and g-charts have none)")
    rules = PRESETS[preset]
    order = sorted(range(len(dates)), key=lambda i: dates[i])
    days = [dates[i] for i in order]
    ys = [float(values[i]) for i in order]
    if chart == "t" and any(y < 0 for y in ys):
        raise InputError("a t-chart needs days between events of zero or more")
    notes: list[str] = []
    segments = _segments(days, baseline, recalculate, notes)
    lines: list[Lines] = []
    for start, _end, defining_end in segments:
        defining = ys[start:defining_end]
        if len(defining) < MIN_POINTS:
            lines.append(Lines(centre=_centre(chart, defining)))
            what = "the chart" if len(segments) == 1 else f"the segment from {days[start]}"
            notes.append(
                f"run chart: {what} has {len(defining)} points and limits need {MIN_POINTS}; "
                "the mean is drawn without limits or special-cause rules"
            )
        else:
            lines.append(_lines(chart, defining, rules))
    segment_of = [k for k, (start, end, _) in enumerate(segments) for _ in range(start, end)]
    point_lines = [lines[k] for k in segment_of]
    met = _rules(ys, point_lines, segment_of, rules)
    good = {"up": 1, "down": -1}.get(improvement, 0)
    variations = [
        _variation(y, line, found, good, rules)
        for y, line, found in zip(ys, point_lines, met, strict=True)
    ]
    conflicts = sum(
        1
        for found, variation in zip(met, variations, strict=True)
        if variation == "improvement" and {_side_of(r) for r in found} == {1, -1}
    )
    if conflicts and not rules.direction_by_side:
        notes.append(
            f"{conflicts} point(s) met both an improvement and a concern rule and show "
            "improvement, as the Excel tool does"
        )
    if chart == "xmr" and sum(1 for y in ys if y == 0) * 2 > len(ys):
        notes.append(
            "most values are zero: an XmR chart says little about rare events; chart the days "
            "between them instead (a t- or g-chart from one row per event)"
        )
    if chart == "g":
        notes.append(f"g-chart: the centre line is {G_CENTRE} x the mean (the geometric median)")
    frame = _frame(chart, days, ys, point_lines, segment_of, segments, baseline, met, variations)
    last_icon = _variation_icon(ys[-1], point_lines[-1], met[-1], variations[-1], good)
    assurance = _assurance(target, point_lines[-1], improvement, notes)
    return SpcResult(
        frame=frame,
        chart=chart,
        preset=preset,
        improvement=improvement,
        target=target,
        variation_icon=last_icon,
        assurance_icon=assurance,
        notes=tuple(notes),
        method=_method(chart, rules),
    )


def _segments(
    days: list[date], baseline: int | None, recalculate: Sequence[date], notes: list[str]
) -> list[tuple[int, int, int]]:
    """(start, end, end of the points that set the limits) for each segment."""
    n = len(days)
    starts: set[int] = set()
    for when in recalculate:
        later = [i for i, day in enumerate(days) if day >= when]
        if not later:
            raise InputError(f"recalculation date {when} is after the last point ({days[-1]})")
        if later[0] == 0:
            raise InputError(
                f"recalculation date {when} is on or before the first point ({days[0]}); "
                "limits already start there"
            )
        starts.add(later[0])
    if baseline is not None:
        if baseline < MIN_POINTS:
            raise InputError(f"a baseline needs at least {MIN_POINTS} points for limits")
        if baseline > n:
            raise InputError(f"the baseline of {baseline} points is longer than the {n} given")
        inside = sorted(s for s in starts if s < baseline)
        if inside:
            notes.append(
                "recalculation ignored inside the baseline (the baseline wins): "
                + ", ".join(days[s].isoformat() for s in inside)
            )
        starts = {s for s in starts if s >= baseline}
    bounds = [0, *sorted(starts), n]
    segments = []
    for k, (start, end) in enumerate(itertools.pairwise(bounds)):
        defining_end = baseline if baseline is not None and k == 0 else end
        segments.append((start, end, defining_end))
    return segments


def _centre(chart: str, ys: Sequence[float]) -> float:
    if chart == "t":
        return fmean(y ** (1 / T_POWER) for y in ys) ** T_POWER
    if chart == "g":
        return G_CENTRE * fmean(ys)
    return fmean(ys)


def _mean_moving_range(ys: Sequence[float], rules: Preset) -> float:
    ranges = [abs(b - a) for a, b in itertools.pairwise(ys)]
    mean = fmean(ranges)
    if rules.screen_moving_ranges:
        kept = [r for r in ranges if r < MR_LIMIT * mean]
        mean = fmean(kept) if kept else mean
    return mean


def _lines(chart: str, ys: Sequence[float], rules: Preset) -> Lines:
    if chart == "g":
        mean = fmean(ys)
        return Lines(centre=G_CENTRE * mean, upl=mean + 3 * math.sqrt(mean * (mean + 1)))
    if chart == "t":
        transformed = [y ** (1 / T_POWER) for y in ys]
        mean, spread = fmean(transformed), LIMIT * _mean_moving_range(transformed, rules)

        def back(v: float) -> float | None:
            return v**T_POWER if v >= 0 else None

        return Lines(
            centre=mean**T_POWER,
            upl=back(mean + spread),
            lpl=back(mean - spread),
            upper_2sigma=back(mean + spread * 2 / 3),
            lower_2sigma=back(mean - spread * 2 / 3),
        )
    mean, mr_mean = fmean(ys), _mean_moving_range(ys, rules)
    spread = LIMIT * mr_mean
    return Lines(
        centre=mean,
        upl=mean + spread,
        lpl=mean - spread,
        upper_2sigma=mean + spread * 2 / 3,
        lower_2sigma=mean - spread * 2 / 3,
        mr_mean=mr_mean,
    )


def _side(y: float, line: Lines) -> int:
    return (y > line.centre) - (y < line.centre)


def _outside(y: float, line: Lines) -> int:
    if line.upl is not None and y > line.upl:
        return 1
    if line.lpl is not None and y < line.lpl:
        return -1
    return 0


def _beyond_2sigma(y: float, line: Lines, side: int) -> bool:
    if side > 0:
        return line.upper_2sigma is not None and y > line.upper_2sigma
    return line.lower_2sigma is not None and y < line.lower_2sigma


RULE_SIDES = {
    "outside_upper": 1,
    "outside_lower": -1,
    "shift_above": 1,
    "shift_below": -1,
    "trend_up": 1,
    "trend_down": -1,
    "two_of_three_above": 1,
    "two_of_three_below": -1,
}
"""Every rule a point can meet, and the direction it signals (1 high, -1 low)."""


def _side_of(rule: str) -> int:
    return RULE_SIDES[rule]


def _rules(
    ys: list[float], lines: list[Lines], segment_of: list[int], rules: Preset
) -> list[list[str]]:
    """The rules each point meets. Points without limits meet none and break every run."""
    n = len(ys)
    met: list[list[str]] = [[] for _ in range(n)]

    def joined(i: int) -> bool:
        """Whether point i continues a run from point i - 1."""
        return (
            lines[i].limited
            and lines[i - 1].limited
            and (rules.rules_cross_segments or segment_of[i] == segment_of[i - 1])
        )

    def flag(run: list[int], rule: str, length: int) -> None:
        if len(run) >= length:
            for i in run:
                met[i].append(rule)

    for i in range(n):
        side = _outside(ys[i], lines[i])
        if side:
            met[i].append("outside_upper" if side > 0 else "outside_lower")
    for side, rule in ((1, "shift_above"), (-1, "shift_below")):
        run: list[int] = []
        for i in range(n):
            on_side = lines[i].limited and _side(ys[i], lines[i]) == side
            if on_side and run and joined(i):
                run.append(i)
            else:
                flag(run, rule, rules.shift)
                run = [i] if on_side else []
        flag(run, rule, rules.shift)
    for step, rule in ((1, "trend_up"), (-1, "trend_down")):
        run = [0] if lines[0].limited else []
        for i in range(1, n):
            if run and joined(i) and (ys[i] - ys[i - 1]) * step > 0:
                run.append(i)
            else:
                flag(run, rule, rules.trend)
                run = [i] if lines[i].limited else []
        flag(run, rule, rules.trend)
    for i in range(n - 2):
        window = [i, i + 1, i + 2]
        if not (lines[i].limited and joined(i + 1) and joined(i + 2)):
            continue
        side = _side(ys[i], lines[i])
        if any(_side(ys[j], lines[j]) != side for j in window):
            continue
        close = [
            j
            for j in window
            if _beyond_2sigma(ys[j], lines[j], side) and not _outside(ys[j], lines[j])
        ]
        if len(close) >= 2:
            rule = "two_of_three_above" if side > 0 else "two_of_three_below"
            for j in close:
                if rule not in met[j]:
                    met[j].append(rule)
    return met


def _variation(y: float, line: Lines, met: list[str], good: int, rules: Preset) -> str | None:
    if not line.limited:
        return None
    if not met:
        return "common"
    if good == 0:
        return "neither"
    if rules.direction_by_side:
        return "improvement" if _side(y, line) == good else "concern"
    return "improvement" if good in {_side_of(rule) for rule in met} else "concern"


def _variation_icon(
    y: float, line: Lines, met: list[str], variation: str | None, good: int
) -> str | None:
    """The last point's icon: common_cause, or improvement, concern or neither with the side
    of the signal (high or low)."""
    if variation is None:
        return None
    if variation == "common":
        return "common_cause"
    if variation == "improvement":
        high = good > 0
    elif variation == "concern":
        high = good < 0
    else:
        sides = {_side_of(rule) for rule in met}
        high = sides == {1} or (sides == {1, -1} and _side(y, line) >= 0)
    return f"{variation}_{'high' if high else 'low'}"


def _assurance(target: float | None, line: Lines, improvement: str, notes: list[str]) -> str | None:
    """Whether the latest limits put the target always within reach (pass), never (fail) or
    sometimes (hit_or_miss)."""
    if target is None:
        return None
    if improvement == "neither":
        notes.append("no assurance icon: a target needs a better direction (up or down)")
        return None
    if line.upl is None or line.lpl is None:
        notes.append("no assurance icon: the latest points have no limits")
        return None
    if improvement == "up":
        return "pass" if target <= line.lpl else "fail" if target >= line.upl else "hit_or_miss"
    return "pass" if target >= line.upl else "fail" if target <= line.lpl else "hit_or_miss"


def _frame(
    chart: str,
    days: list[date],
    ys: list[float],
    lines: list[Lines],
    segment_of: list[int],
    segments: list[tuple[int, int, int]],
    baseline: int | None,
    met: list[list[str]],
    variations: list[str | None],
) -> pd.DataFrame:
    moving: list[float | None] = [None] * len(ys)
    if chart == "xmr":
        for start, end, _ in segments:
            for i in range(start + 1, end):
                moving[i] = abs(ys[i] - ys[i - 1])

    def numbers(values: list[float | None]) -> pd.Series:
        return pd.Series(values, dtype="float64")

    return pd.DataFrame(
        {
            "date": [day.isoformat() for day in days],
            "value": numbers(list(ys)),
            "mean": numbers([line.centre for line in lines]),
            "upl": numbers([line.upl for line in lines]),
            "lpl": numbers([line.lpl for line in lines]),
            "upper_2sigma": numbers([line.upper_2sigma for line in lines]),
            "lower_2sigma": numbers([line.lower_2sigma for line in lines]),
            "moving_range": numbers(moving),
            "mr_upl": numbers([None if x.mr_mean is None else MR_LIMIT * x.mr_mean for x in lines]),
            "segment": [k + 1 for k in segment_of],
            "baseline": [baseline is not None and i < baseline for i in range(len(ys))],
            "rules": [";".join(found) for found in met],
            "variation": variations,
            "colour": [COLOURS.get(v or "", "") for v in variations],
        }
    )


def _method(chart: str, rules: Preset) -> str:
    what = {
        "xmr": "XmR chart: limits mean +/- 2.66 x mean moving range",
        "t": "t-chart of days between events: XmR limits of days^(1/3.6), transformed back",
        "g": "g-chart of days between events: upper limit mean + 3 sqrt(mean (mean + 1))",
    }[chart]
    screening = "; moving ranges of 3.267 x their mean or more left out"
    if not rules.screen_moving_ranges:
        screening = ""
    crossing = "may cross" if rules.rules_cross_segments else "stay within"
    return (
        f"{what} (NHS England, Making Data Count); limits from {MIN_POINTS} points; rules "
        f"({rules.name}, as {rules.source}): a point beyond a limit, a shift of {rules.shift}, "
        f"a trend of {rules.trend}, two of three beyond 2 sigma{screening}; multi-point rules "
        f"{crossing} recalculations"
    )
