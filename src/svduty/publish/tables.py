"""What an analysis offers for publication: tables of counts with what each count adds up to.

A `Table` says which columns are counts (controlled), which are computed from counts (hidden with
them), what its rows add up to (its own total, a total shared with other tables, or rows of another
table), and whether its cells add up across areas (the whole area's cell is the sum of each CSP's
and of records placed in no CSP), so that disclosure control can see every line a reader could
add up. A single figure is a one-row table and is controlled like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Parent:
    """Rows with the same value in `by` add up to the row of `table` whose key is that value
    (`table` is a name in the same section or a "section/name"); `column` is the parent's count
    column when it is named differently, `chars` groups by the first characters of `by` (a
    month's first four are its calendar year)."""

    table: str
    by: str
    column: str | None = None
    chars: int = 0

    def id(self, section: str) -> str:
        return self.table if "/" in self.table else f"{section}/{self.table}"


@dataclass
class Table:
    section: str
    name: str
    frame: pd.DataFrame
    key: list[str] = field(default_factory=list)  # columns naming a row; default: the index
    counts: list[str] = field(default_factory=list)
    derived: dict[str, list[str]] = field(default_factory=dict)  # column -> the counts it uses
    # a total shared with other tables (e.g. "selection"), for every count column or by column;
    # else each column has its own
    total: str | dict[str, str] | None = None
    parent: Parent | tuple[Parent, ...] | None = None
    row_total: str | None = None  # a table whose row (same key) is this row's total
    by_area: bool = False  # count columns name areas: each cell is that area's `row_total` cell
    across_areas: bool = True  # the whole area's cell is the sum of its CSPs'
    partnership: bool = False  # the same figure in every report of the set (e.g. A&E)
    owner: str | None = None  # another report's cells shown here (a district's CSP's row)

    @property
    def id(self) -> str:
        return f"{self.section}/{self.name}"

    @property
    def parents(self) -> tuple[Parent, ...]:
        if self.parent is None:
            return ()
        return self.parent if isinstance(self.parent, tuple) else (self.parent,)

    def total_of(self, column: str) -> str | None:
        """The shared total `column` adds up to, if any."""
        if isinstance(self.total, dict):
            return self.total.get(column)
        return self.total

    def row_keys(self) -> list[tuple[Any, ...]]:
        if not self.key:
            return [(i,) for i in range(len(self.frame))]
        return list(zip(*(self.frame[column].tolist() for column in self.key), strict=True))


def value(section: str, name: str, figure: Any, count: bool = False) -> Table:
    """A single figure as a one-cell table: a count (controlled) or a fact that is not a count."""
    frame = pd.DataFrame({"value": [figure]})
    return Table(section, name, frame, counts=["value"] if count else [], across_areas=count)


def note(section: str, name: str, text: Any) -> Table:
    """Words or lists that hold no count (methods, sources, names of places)."""
    return value(section, name, text)
