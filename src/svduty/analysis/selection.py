"""The incidents an analysis looks at: all, or those in a definition, narrowed by filters."""

from __future__ import annotations

import ibis.expr.types as ir

from svduty.counting import Filter
from svduty.definitions.classify import classification_input
from svduty.definitions.model import Definition
from svduty.definitions.rules import any_of
from svduty.engine import Store


def selected(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> ir.Table:
    """Incidents (with offence group and subgroup) in the definition and matching the filters."""
    t = classification_input(store, [definition] if definition else [])
    if definition is not None:
        t = t.filter(any_of([c.expr(t).fill_null(False) for c in definition.clauses]))
    for item in filters or []:
        t = t.filter(t[item.column].cast("string") == item.value)
    return t


def label(definition: Definition | None) -> str | None:
    return None if definition is None else f"{definition.id} v{definition.version}"
