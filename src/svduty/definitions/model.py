"""A serious-violence definition: named clauses of rules, free of any engine or dialect."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir

from svduty.definitions.rules import PersonAge, Rule, all_of, any_of


@dataclass(frozen=True)
class Clause:
    """Rules that must all hold; `any_of` adds alternatives (each a group of rules that must all
    hold); `exclude` lists rules that, all holding, take a record out."""

    id: str
    name: str
    rules: tuple[Rule, ...] = ()
    alternatives: tuple[tuple[Rule, ...], ...] = ()
    exclude: tuple[Rule, ...] = ()
    note: str = ""

    def expr(self, t: ir.Table) -> ir.BooleanValue:
        parts = [rule.expr(t) for rule in self.rules]
        if self.alternatives:
            parts.append(
                any_of([all_of([r.expr(t) for r in group]) for group in self.alternatives])
            )
        if self.exclude:
            parts.append(~all_of([r.expr(t) for r in self.exclude]))
        return all_of(parts)

    def all_rules(self) -> list[Rule]:
        return [*self.rules, *(r for g in self.alternatives for r in g), *self.exclude]

    def to_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        out.update({rule.key: rule.to_yaml() for rule in self.rules})
        if self.alternatives:
            out["any_of"] = [{r.key: r.to_yaml() for r in g} for g in self.alternatives]
        if self.exclude:
            out["exclude"] = {r.key: r.to_yaml() for r in self.exclude}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Definition:
    id: str
    name: str
    version: str
    source: str
    clauses: tuple[Clause, ...]
    description: str = ""
    caveat: str = ""
    area: str = ""  # the partnership that agreed it, when it was written for one
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def clause(self, clause_id: str) -> Clause:
        for clause in self.clauses:
            if clause.id == clause_id:
                return clause
        raise KeyError(clause_id)

    def age_rules(self) -> list[PersonAge]:
        return [r for c in self.clauses for r in c.all_rules() if isinstance(r, PersonAge)]

    def to_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "source": self.source,
        }
        if self.description:
            out["description"] = self.description
        if self.caveat:
            out["caveat"] = self.caveat
        if self.area:
            out["area"] = self.area
        out["clauses"] = [c.to_yaml() for c in self.clauses]
        return out

    @property
    def sha256(self) -> str:
        """Fingerprint of what the definition says (not of its comments or layout)."""
        text = json.dumps(self.to_yaml(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
