"""Periods a measure is reported over: a month (2024-05), a quarter (2024-Q2, calendar) or a
financial year (2024/25, April to March, as the Home Office labels it)."""

from __future__ import annotations

import re
from datetime import date

from svduty.errors import InputError

PERIODS = ("month", "quarter", "financial_year")
PATTERNS = {
    "month": re.compile(r"(\d{4})-(0[1-9]|1[0-2])"),
    "quarter": re.compile(r"(\d{4})-Q([1-4])"),
    "financial_year": re.compile(r"(\d{4})/(\d{2})"),
}
SQL_PATTERNS = {
    "month": "[0-9]{4}-(0[1-9]|1[0-2])",
    "quarter": "[0-9]{4}-Q[1-4]",
    "financial_year": "[0-9]{4}/[0-9]{2}",
}
WORDS = {"month": "month", "quarter": "quarter", "financial_year": "financial year"}
MONTHS = {"month": 1, "quarter": 3, "financial_year": 12}


def period_kind(label: str) -> str | None:
    """Which kind of period a label is (None: none svduty reads). A financial year's second
    part must follow its first (2024/25, not 2024/26)."""
    for kind, pattern in PATTERNS.items():
        found = pattern.fullmatch(label)
        if found:
            if kind == "financial_year" and (int(found.group(1)) + 1) % 100 != int(found.group(2)):
                return None
            return kind
    return None


def _index(label: str, kind: str) -> int:
    """A period as a whole number, consecutive periods of a kind differing by one."""
    found = PATTERNS[kind].fullmatch(label)
    if found is None or period_kind(label) != kind:
        raise InputError(f"{label!r} is not a {WORDS[kind]} (e.g. {example(kind)})")
    year, part = int(found.group(1)), found.group(2)
    if kind == "month":
        return year * 12 + int(part) - 1
    if kind == "quarter":
        return year * 4 + int(part) - 1
    return year


def _label(index: int, kind: str) -> str:
    if kind == "month":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    if kind == "quarter":
        return f"{index // 4:04d}-Q{index % 4 + 1}"
    return f"{index:04d}/{(index + 1) % 100:02d}"


def example(kind: str) -> str:
    return {"month": "2024-05", "quarter": "2024-Q2", "financial_year": "2024/25"}[kind]


def period_range(first: str, last: str, kind: str) -> list[str]:
    """Every period from `first` to `last`, both included."""
    return [_label(i, kind) for i in range(_index(first, kind), _index(last, kind) + 1)]


def period_start(label: str, kind: str) -> date:
    """The first day of a period (a financial year starts on 1 April)."""
    index = _index(label, kind)
    if kind == "month":
        return date(index // 12, index % 12 + 1, 1)
    if kind == "quarter":
        return date(index // 4, (index % 4) * 3 + 1, 1)
    return date(index, 4, 1)


def shift(label: str, kind: str, by: int) -> str:
    """The period `by` periods after `label` (before it when negative)."""
    return _label(_index(label, kind) + by, kind)
