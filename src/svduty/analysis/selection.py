"""The incidents an analysis looks at: all, or those in a definition, narrowed by filters."""

from __future__ import annotations

import ibis.expr.types as ir

from svduty.counting import Filter
from svduty.definitions.classify import classification_input
from svduty.definitions.model import Definition
from svduty.definitions.rules import any_of
from svduty.dimensions import month_text
from svduty.engine import Store


def selected(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> ir.Table:
    """Incidents (with offence group and subgroup) in the definition and matching the filters."""
    t = classification_input(store, [definition] if definition else [])
    if definition is not None:
        t = t.filter(any_of([c.expr(t).fill_null(False) for c in definition.clauses]))
    area_columns = {"la": "la_name", "csp": "csp_name"}
    if any(item.column in area_columns for item in filters or []):
        areas = store.table("areas").select(_lsoa="lsoa_code", _la="la_name", _csp="csp_name")
        t = t.left_join(areas, t.lsoa_code == areas._lsoa)
    for item in filters or []:
        column = f"_{item.column}" if item.column in area_columns else item.column
        value = month_text(t.month) if column == "month" else t[column].cast("string")
        t = t.filter(item.test(value))
    return t.drop(*[c for c in ("_lsoa", "_la", "_csp") if c in t.columns])


def label(definition: Definition | None) -> str | None:
    return None if definition is None else f"{definition.id} v{definition.version}"
