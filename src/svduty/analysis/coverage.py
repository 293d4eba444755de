"""Which sources a selection's counts come from, and the months each of them holds.

A month that no counted source holds is a gap: no data, never a zero. A month that some of them
hold is partial, and its count is not comparable with a month that all of them hold. A source
holds a month when any of its records (of any type) falls in it: a data.police.uk month file with
no robbery in it holds that month with zero robberies. Which sources count is decided by the
definition and the filters: those with at least one record in the selection (the area aside, as
a force's file covers every CSP in it).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from svduty.counting import Filter, counts
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.periods import period_range
from svduty.vocabulary import FULL, NO_DATA, PARTIAL, source_kind_label

AREA_COLUMNS = ("csp", "la", "district", "lsoa", "lsoa_code")
TIME_COLUMNS = ("month", "financial_year", "quarter")


def financial_year(month: str) -> str:
    """The April-to-March year of a YYYY-MM month, as the Home Office labels it (2024/25)."""
    year, m = int(month[:4]), int(month[5:7])
    start = year if m >= 4 else year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def source_label(source: tuple[str, str]) -> str:
    kind, force = source
    return f"{force} {source_kind_label(kind)}" if force else source_kind_label(kind)


@dataclass(frozen=True)
class Coverage:
    """The counted sources, and for each month from the first to the last any of them holds,
    the sources that hold it."""

    sources: tuple[tuple[str, str], ...]  # (source_kind, force)
    held: dict[str, frozenset[tuple[str, str]]]  # month -> sources holding it
    period: str = "month"
    """What `months` are: months, or the quarters or financial years of an external series."""

    @property
    def months(self) -> list[str]:
        """Every month (or period) from the first to the last held, gaps included."""
        if not self.held:
            return []
        if self.period != "month":
            return period_range(min(self.held), max(self.held), self.period)
        return [str(p) for p in pd.period_range(min(self.held), max(self.held), freq="M")]

    def status(self, month: str) -> str:
        have = self.held.get(month, frozenset())
        if not have:
            return NO_DATA
        return FULL if have >= set(self.sources) else PARTIAL

    def missing(self, month: str) -> list[str]:
        """The counted sources that hold no data for `month`."""
        have = self.held.get(month, frozenset())
        return [source_label(s) for s in self.sources if s not in have]

    @property
    def with_data(self) -> list[str]:
        return [m for m in self.months if self.status(m) != NO_DATA]

    @property
    def span(self) -> str:
        months = self.months
        return f"{months[0]} to {months[-1]}" if months else "no months"

    def basis(self) -> str:
        """What an annual rate over these months rests on, in words."""
        held, months = len(self.with_data), len(self.months)
        if not held:
            return "no months with data"
        text = f"over {_months(held)} with data ({self.span})"
        if held < months:
            text += f"; {_months(months - held)} in that span without data"
        partial = sum(self.status(m) == PARTIAL for m in self.months)
        if partial:
            text += f"; {_months(partial)} without every source"
        return text

    def financial_years(self) -> pd.DataFrame:
        """Each financial year the months touch: months with data, months with every counted
        source, and whether the year is complete (all twelve months with every source)."""
        rows: dict[str, dict[str, int]] = {}
        for month in self.months:
            year = rows.setdefault(financial_year(month), {"months": 0, "full_months": 0})
            year["months"] += self.status(month) != NO_DATA
            year["full_months"] += self.status(month) == FULL
        frame = pd.DataFrame(
            [{"financial_year": fy, **n} for fy, n in rows.items()],
            columns=["financial_year", "months", "full_months"],
        )
        frame["coverage"] = [_year_words(n["months"], n["full_months"]) for n in rows.values()]
        return frame

    def complete_years(self) -> list[str]:
        years = self.financial_years()
        return list(years.loc[years["full_months"] == 12, "financial_year"])

    def gaps(self) -> list[dict[str, str | int]]:
        """Runs of months without data, and runs where some counted source is missing."""
        runs: list[dict[str, str | int]] = []
        for month in self.months:
            status = self.status(month)
            if status == FULL:
                continue
            missing = ", ".join(self.missing(month))
            last = runs[-1] if runs else None
            if (
                last is not None
                and last["status"] == status
                and last["missing"] == missing
                and pd.Period(str(last["to"]), freq="M") + 1 == pd.Period(month, freq="M")
            ):
                last["to"] = month
                last["months"] = int(last["months"]) + 1
            else:
                runs.append(
                    {"status": status, "from": month, "to": month, "months": 1, "missing": missing}
                )
        return runs

    def table(self) -> pd.DataFrame:
        """Each counted source: the months it holds in the selection and the first and last."""
        rows = []
        for source in self.sources:
            mine = sorted(m for m, have in self.held.items() if source in have)
            rows.append(
                {
                    "source": source[0],
                    "force": source[1],
                    "first": mine[0] if mine else None,
                    "last": mine[-1] if mine else None,
                    "months_held": len(mine),
                    "months_missing": len(self.months) - len(mine),
                }
            )
        return pd.DataFrame(
            rows,
            columns=["source", "force", "first", "last", "months_held", "months_missing"],
        )


def _months(n: int) -> str:
    return f"{n} month{'s' if n != 1 else ''}"


def _year_words(months: int, full: int) -> str:
    if months == 0:
        return NO_DATA
    if full == 12:
        return "complete"
    partial = months - full
    return f"incomplete: {months} of 12 months with data" + (
        f", {partial} missing a source" if partial else ""
    )


def coverage(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> Coverage:
    """The counted sources of the selection and the months each holds (within its period)."""
    filters = [f for f in filters or [] if f.column not in AREA_COLUMNS]
    found = counts(store, "incidents", ["source_kind", "force"], filters, definition).frame
    sources = tuple(
        sorted(
            _source(kind, force)
            for kind, force, n in zip(
                found["source_kind"], found["force"], found["count"], strict=True
            )
            if n > 0
        )
    )
    when = [f for f in filters if f.column in TIME_COLUMNS]
    present = counts(store, "incidents", ["source_kind", "force", "month"], when).frame
    held: dict[str, set[tuple[str, str]]] = {}
    for kind, force, month in zip(
        present["source_kind"], present["force"], present["month"], strict=True
    ):
        source = _source(kind, force)
        if source in sources and isinstance(month, str):
            held.setdefault(month, set()).add(source)
    return Coverage(sources, {m: frozenset(s) for m, s in sorted(held.items())})


def _source(kind: object, force: object) -> tuple[str, str]:
    """A source as (kind, force); counts give text, or a missing value for no force."""
    return str(kind), force if isinstance(force, str) else ""
