"""The definitions a dashboard view may count by: the shipped ones and the workspace's own, and
one clause of any of them on its own.

A clause on its own is a definition of that one clause, named `<definition>#<clause>` with the
parent's version and caveat, so its figures, caches and audit rows trace back to the parent
(its fingerprint differs from the parent's, so its published set is a set of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from svduty.definitions import load_definition, shipped_definitions
from svduty.definitions.model import Definition
from svduty.errors import InputError


@cache
def shipped() -> dict[str, Definition]:
    """Every shipped definition by id (read once: they ship with svduty and do not change)."""
    return {name: load_definition(name) for name in shipped_definitions()}


def one_clause(definition: Definition, clause_id: str) -> Definition:
    """The definition reduced to one of its clauses: what that clause alone puts in."""
    try:
        clause = definition.clause(clause_id)
    except KeyError:
        clauses = ", ".join(c.id for c in definition.clauses)
        raise InputError(
            f"clause {clause_id!r} is not a clause of {definition.id}; its clauses: {clauses}"
        ) from None
    return replace(
        definition,
        id=f"{definition.id}#{clause.id}",
        name=f"{definition.name}: {clause.name} only",
        clauses=(clause,),
        extra={**definition.extra, "parent": definition.id, "clause": clause.id},
    )


@dataclass(frozen=True)
class Choices:
    """What a view may choose: the workspace's definition (its default, and the one counted by
    when a shipped one shares its id) and the shipped ones."""

    default: Definition

    @property
    def allowed(self) -> dict[str, Definition]:
        return {**shipped(), self.default.id: self.default}

    def chosen(self, definition: str | None, clause: str | None) -> Definition:
        """The definition a view counts by; an unknown id or clause is refused, naming the
        parameter and what it may be."""
        allowed = self.allowed
        if definition is not None and definition not in allowed:
            raise InputError(
                f"definition {definition!r} is not one this dashboard counts by; "
                f"choose one of: {', '.join(allowed)}"
            )
        found = allowed[definition] if definition is not None else self.default
        return found if clause is None else one_clause(found, clause)

    def shown(self, definition: str | None, clause: str | None) -> dict[str, Any]:
        """What a page's filters and its definition block show: the definition counted by, the
        definitions to choose from, the one chosen (or the default) and its clauses."""
        parent = self.chosen(definition, None)
        return {
            "definition": self.chosen(definition, clause),
            "definitions": self.allowed,
            "parent": parent,
        }
