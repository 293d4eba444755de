"""Counts by any dimensions with filters: the analyst's everyday pivot, exact on every engine."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import ibis
import pandas as pd

from svduty.dimensions import dimensions, resolve
from svduty.engine import Store
from svduty.errors import InputError


@dataclass(frozen=True)
class Filter:
    column: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Filter:
        column, sep, value = text.partition("=")
        if not sep or not column.strip():
            raise InputError(
                f"filter {text!r} must look like COLUMN=VALUE (e.g. force=West Mercia)"
            )
        return cls(column.strip(), value.strip().strip('"'))


@dataclass(frozen=True)
class CountResult:
    """Counts with what produced them, so any output can say how it was made."""

    table: str
    by: tuple[str, ...]
    filters: tuple[Filter, ...]
    engine: str
    frame: pd.DataFrame

    @property
    def total(self) -> int:
        return int(self.frame["count"].sum())


def counts(
    store: Store, table: str, by: list[str], filters: list[Filter] | None = None
) -> CountResult:
    filters = filters or []
    joined, dims, measure = dimensions(store, table)
    for name in by:
        if by.count(name) > 1:
            raise InputError(f"dimension {name!r} is given twice in --by")
    keys = {name: resolve(name, dims, table).cast("string").name(name) for name in by}
    wanted: dict[str, list[str]] = defaultdict(list)
    for item in filters:
        wanted[item.column].append(item.value)
    predicates = [
        resolve(column, dims, table).cast("string").isin(values)
        for column, values in wanted.items()
    ]
    expr = joined.filter(*predicates) if predicates else joined
    total = expr.count() if measure is None else expr[measure].sum()
    grouped = expr.group_by(**keys).aggregate(count=total) if keys else expr.aggregate(count=total)
    frame = grouped.to_pandas()
    frame["count"] = frame["count"].fillna(0).astype("int64")
    if by:
        frame = frame.sort_values(list(by), na_position="last", kind="stable")
    frame = frame.reset_index(drop=True)
    return CountResult(table, tuple(by), tuple(filters), store.name, frame)


def sql_of(store: Store, table: str, by: list[str]) -> str:
    """The SQL an engine runs for a count, for the methods annex and for debugging."""
    joined, dims, measure = dimensions(store, table)
    keys = {name: resolve(name, dims, table).cast("string").name(name) for name in by}
    total = joined.count() if measure is None else joined[measure].sum()
    return str(ibis.to_sql(joined.group_by(**keys).aggregate(count=total)))
