"""The partnership's CSPs compared on a success measure over a period, as a funnel plot: each
CSP's numerator and denominator summed over the period's months, quarters or years.

A share compares numerators with the series' denominators (per cent). A rate, and a count, are
compared per resident a year: residents (of the measure's ages) times the years the period
spans, or the mean of the series' denominators over the period times its years. A CSP without
data in every part of the period is left out, and the output says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from svduty.analysis.measure_series import Series, all_series
from svduty.engine import Store
from svduty.errors import InputError
from svduty.measures.framework import Measure
from svduty.measures.funnel import FunnelResult, funnel
from svduty.periods import MONTHS, WORDS, example, period_kind, period_start, shift
from svduty.settings import Settings
from svduty.vocabulary import NO_DATA

DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class MeasureFunnel:
    measure: Measure
    periods: tuple[str, ...]
    result: FunnelResult
    left_out: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def span(self) -> str:
        first, last = self.periods[0], self.periods[-1]
        return first if first == last else f"{first} to {last}"


def _month_index(label: str, kind: str) -> int:
    start = period_start(label, kind)
    return start.year * 12 + start.month - 1


def periods_in(given: str, kind: str) -> list[str]:
    """The measure's periods (of `kind`) that make up `given`: one period (2024/25, 2024-Q2,
    2024-05) or a range FIRST:LAST; a period that cannot be split into the measure's is
    refused."""
    first, _, last = given.partition(":")
    last = last or first
    ends = []
    for text in (first, last):
        found = period_kind(text.strip())
        if found is None:
            raise InputError(
                f"--period {given!r}: write a month (2024-05), a quarter (2024-Q2), a financial "
                "year (2024/25), or a range FIRST:LAST"
            )
        ends.append((text.strip(), found))
    low = _month_index(*ends[0])
    high = _month_index(*ends[1]) + MONTHS[ends[1][1]] - 1
    if high < low:
        raise InputError(f"--period {given!r}: the range ends before it starts")
    step = MONTHS[kind]
    if (high - low + 1) % step:
        raise InputError(
            f"--period {given!r}: the measure is by {WORDS[kind]}, which this period does not "
            f"divide into; give whole {WORDS[kind]}s (e.g. {example(kind)})"
        )
    anchor = _month_index(example(kind), kind)
    if (low - anchor) % step:
        raise InputError(
            f"--period {given!r} does not start where a {WORDS[kind]} starts; give whole "
            f"{WORDS[kind]}s (e.g. {example(kind)})"
        )
    count = (high - low + 1) // step
    start = shift(example(kind), kind, (low - anchor) // step)
    return [shift(start, kind, i) for i in range(count)]


def _held(series: Series, period: str) -> bool:
    frame = series.frame[series.frame[series.period] == period]
    return (
        not frame.empty
        and str(frame["status"].iloc[0]) != NO_DATA
        and not bool(frame["count"].isna().iloc[0])
    )


def compare_csps(
    store: Store, settings: Settings, measure: Measure, period: str | None = None
) -> MeasureFunnel:
    if len(settings.csps) < 2:
        raise InputError(
            "a funnel compares the partnership's CSPs: svduty.toml names "
            f"{len(settings.csps)} (set them under [csps])"
        )
    found = all_series(store, settings, measure)
    csps = {name: s for name, s in found.items() if name in settings.csps}
    kind = measure.period
    if period is None:
        latest = [p for s in csps.values() for p in s.frame[s.period] if _held(s, str(p))]
        if not latest:
            why = "; ".join(dict.fromkeys(n for s in csps.values() for n in s.notes))
            raise InputError(f"{measure.id} has no data for any CSP: {why or 'none held'}")
        last = max(latest)
        n = max(1, DEFAULT_MONTHS // MONTHS[kind])
        periods = [shift(last, kind, i - n + 1) for i in range(n)]
    else:
        periods = periods_in(period, kind)
    years = len(periods) * MONTHS[kind] / 12
    notes: list[str] = []
    left_out: list[str] = []
    names, numerators, denominators = [], [], []
    of_series = False
    for name, series in csps.items():
        lacking = [p for p in periods if not _held(series, p)]
        if lacking:
            left_out.append(name)
            notes.append(f"{name} left out: no data for {', '.join(lacking)}")
            continue
        rows = series.frame[series.frame[series.period].isin(periods)]
        numerator = float(rows["count"].sum())
        if measure.unit == "share":
            if "denominator" not in rows or rows["denominator"].isna().any():
                left_out.append(name)
                notes.append(f"{name} left out: the series gives no denominator in every period")
                continue
            denominator = float(rows["denominator"].sum())
        elif series.value == "rate" and "denominator" in rows and rows["denominator"].notna().all():
            denominator = float(rows["denominator"].mean()) * years
            of_series = True
        elif series.population:
            denominator = series.population * years
        else:
            why = "; ".join(series.notes) or "its residents are not known"
            raise InputError(f"{measure.id} cannot be compared as a rate for {name}: {why}")
        if numerator != round(numerator):
            notes.append(f"{name}: numerator {numerator:g} rounded to a whole number")
        names.append(name)
        numerators.append(round(numerator))
        denominators.append(denominator)
    if len(names) < 2:
        raise InputError(
            f"{measure.id}: fewer than two CSPs have data for every {WORDS[kind]} of "
            f"{periods[0]} to {periods[-1]}; " + "; ".join(notes)
        )
    if measure.unit == "share":
        result = funnel(names, numerators, denominators, kind="proportion", multiplier=100)
        notes.insert(0, "values per cent of the series' denominators")
    else:
        result = funnel(names, numerators, denominators, kind="rate", multiplier=float(measure.per))
        ages = measure.ages
        whom = f"residents aged {ages[0]} to {ages[1]}" if ages else "residents"
        if of_series:
            whom = "of the series' denominators"
        notes.insert(
            0,
            f"values per {measure.per:,} {whom} a year"
            + (" (the measure is a count; CSPs differ in size)" if measure.unit == "count" else ""),
        )
    return MeasureFunnel(measure, tuple(periods), result, tuple(left_out), tuple(notes))
