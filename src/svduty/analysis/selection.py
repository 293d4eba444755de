"""The incidents an analysis looks at: all, or those in a definition, narrowed by filters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from weakref import WeakKeyDictionary

import ibis
import ibis.expr.types as ir

from svduty.counting import Filter
from svduty.definitions.classify import classification_input
from svduty.definitions.model import Definition
from svduty.definitions.rules import any_of
from svduty.dimensions import month_text
from svduty.engine import Store

_classified: WeakKeyDictionary[Store, dict[tuple[str, tuple[int, ...]], ir.Table]] = (
    WeakKeyDictionary()
)


def in_definition(store: Store, definition: Definition) -> ir.Table:
    """The incidents a definition takes in, classified once per store and data version and
    kept as a temporary table (DuckDB) or a cached frame (Spark): every analysis of a run
    reads these rows instead of classifying again."""
    batches = tuple(
        int(r[0]) for r in store.catalogue.execute("SELECT batch_id FROM batches").fetchall()
    )
    memo = _classified.setdefault(store, {})
    key = (definition.sha256, tuple(sorted(batches)))
    if key not in memo:
        t = classification_input(store, [definition])
        t = t.filter(any_of([c.expr(t).fill_null(False) for c in definition.clauses]))
        memo.clear()  # older data versions are never read again
        memo[key] = materialised(store, t, f"_svduty_in_{definition.sha256[:12]}_{len(batches)}")
    return memo[key]


def materialised(store: Store, t: ir.Table, name: str) -> ir.Table:
    """A temporary table on DuckDB (dropped with the connection); Spark reads the expression."""
    if store.name != "duckdb":
        return t
    backend: Any = store.ibis
    backend.raw_sql(f"CREATE OR REPLACE TEMP TABLE {name} AS {ibis.to_sql(t, dialect='duckdb')}")
    return backend.table(name)


def selected(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> ir.Table:
    """Incidents (with offence group and subgroup) in the definition and matching the filters."""
    t = in_definition(store, definition) if definition else classification_input(store, [])
    return narrowed(store, t, filters)


def narrowed(store: Store, t: ir.Table, filters: list[Filter] | None) -> ir.Table:
    """Incidents `t` (with the columns of `classification_input`) matching the filters."""
    area_columns = {"la": "la_name", "csp": "csp_name", "district": "la_code"}
    if any(item.column in area_columns for item in filters or []):
        areas = store.table("areas").select(
            _lsoa="lsoa_code", _la="la_name", _csp="csp_name", _district="la_code"
        )
        t = t.left_join(areas, t.lsoa_code == areas._lsoa)
    for item in filters or []:
        column = f"_{item.column}" if item.column in area_columns else item.column
        value = month_text(t.month) if column == "month" else t[column].cast("string")
        t = t.filter(item.test(value))
    return t.drop(*[c for c in ("_lsoa", "_la", "_csp", "_district") if c in t.columns])


def with_csp(store: Store, t: ir.Table) -> ir.Table:
    """`t` with each incident's CSP as `_area` (from its LSOA), for results split by CSP."""
    areas = store.table("areas").select(_lsoa_key="lsoa_code", _area="csp_name")
    return t.left_join(areas, t.lsoa_code == areas._lsoa_key).drop("_lsoa_key")


@contextmanager
def held(store: Store, t: ir.Table, name: str) -> Iterator[ir.Table]:
    """`t` computed once for the queries of one analysis (a temporary table on DuckDB, dropped
    after them): a join read by several aggregates is then not joined again for each."""
    kept = materialised(store, t, name)
    try:
        yield kept
    finally:
        if kept is not t:
            cast(Any, store.ibis).raw_sql(f"DROP TABLE IF EXISTS {name}")


def label(definition: Definition | None) -> str | None:
    return None if definition is None else f"{definition.id} v{definition.version}"
