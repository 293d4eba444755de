"""Named, parameterised rules: the vocabulary of a serious-violence definition.

Each YAML key of a clause maps to one rule class, so a definition reads the same in YAML and in
Python (`OffenceCodes(("34A", "34B"))` is `offence_codes: [34A, 34B]`). A rule is an Ibis
boolean over the classification input. It is NULL where the data lacks the fact it needs (no
offence code on police.uk open data, a marker the source does not record, no victim age), and
clauses combine rules with SQL's three-valued logic, so "cannot tell" stays distinguishable from
"no".
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import reduce
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir

from svduty.vocabulary import marker_column


def all_of(values: list[ir.BooleanValue]) -> ir.BooleanValue:
    return reduce(operator.and_, values)


def any_of(values: list[ir.BooleanValue]) -> ir.BooleanValue:
    return reduce(operator.or_, values)


def unknown(value: ir.BooleanValue) -> ir.BooleanValue:
    """True where a rule or clause is NULL. Written as "neither true nor false" because Ibis's
    Spark SQL prints `x IN (...) IS NULL` without the parentheses Spark needs."""
    return ~(value.fill_null(False) | (~value).fill_null(False))


class Rule(ABC):
    key: ClassVar[str]
    """The YAML key this rule is written under."""

    @abstractmethod
    def expr(self, t: ir.Table) -> ir.BooleanValue:
        """True, false, or NULL when the data lacks what the rule needs."""

    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """The input columns the rule reads (shown by `explain`)."""

    @abstractmethod
    def to_yaml(self) -> Any:
        """The rule's value as written in YAML."""

    def describe(self) -> str:
        return f"{self.key}: {self.to_yaml()}"


@dataclass(frozen=True)
class _InList(Rule):
    values: tuple[str, ...]
    column: ClassVar[str]

    def expr(self, t: ir.Table) -> ir.BooleanValue:
        return t[self.column].isin(list(self.values))

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def to_yaml(self) -> Any:
        return list(self.values)


@dataclass(frozen=True)
class OffenceCodes(_InList):
    key = "offence_codes"
    column = "offence_code"


@dataclass(frozen=True)
class OffenceGroups(_InList):
    key = "offence_groups"
    column = "offence_group"


@dataclass(frozen=True)
class OffenceSubgroups(_InList):
    key = "offence_subgroups"
    column = "offence_subgroup"


@dataclass(frozen=True)
class Categories(_InList):
    """data.police.uk crime types (derived from the offence code for record-level data)."""

    key = "categories"
    column = "category"


@dataclass(frozen=True)
class LocationTypes(_InList):
    key = "location_types"
    column = "location_type"


@dataclass(frozen=True)
class Statutes(Rule):
    """The recorded statute mentions one of these sections (e.g. s18, s20), as a whole word."""

    key: ClassVar[str] = "statutes"
    sections: tuple[str, ...]

    def expr(self, t: ir.Table) -> ir.BooleanValue:
        words = "|".join(s.lower().replace(".", r"\.") for s in self.sections)
        return t.statute.lower().re_search(f"(^|[^a-z0-9])({words})([^a-z0-9]|$)")

    def columns(self) -> tuple[str, ...]:
        return ("statute",)

    def to_yaml(self) -> Any:
        return list(self.sections)


@dataclass(frozen=True)
class Markers(Rule):
    """Any of, all of, and none of the listed markers (each part optional)."""

    key: ClassVar[str] = "markers"
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()

    def expr(self, t: ir.Table) -> ir.BooleanValue:
        parts = []
        if self.any:
            parts.append(any_of([t[marker_column(m)] for m in self.any]))
        if self.all:
            parts.append(all_of([t[marker_column(m)] for m in self.all]))
        if self.none:
            parts.append(~any_of([t[marker_column(m)] for m in self.none]))
        return all_of(parts)

    def columns(self) -> tuple[str, ...]:
        return tuple(marker_column(m) for m in (*self.any, *self.all, *self.none))

    def to_yaml(self) -> Any:
        return {
            k: list(v) for k, v in (("any", self.any), ("all", self.all), ("none", self.none)) if v
        }


@dataclass(frozen=True)
class PersonAge(Rule):
    """At least one person in the role with a known age in [min, max]."""

    role: ClassVar[str]
    min: int = 0
    max: int = 120

    @property
    def column(self) -> str:
        return f"age_{self.role}_{self.min}_{self.max}"

    def expr(self, t: ir.Table) -> ir.BooleanValue:
        return t[self.column] == 1

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def to_yaml(self) -> Any:
        return {"min": self.min, "max": self.max}

    def aggregate(self, people: ir.Table) -> ir.IntegerValue:
        """Per crime: 1 if a person in the role is in the band, 0 if none is, NULL if no person in
        the role has a known age."""
        in_band = ((people.age >= self.min) & (people.age <= self.max)).cast("int8")
        return ibis.ifelse(people.role == self.role, in_band, ibis.null("int8")).max()


@dataclass(frozen=True)
class VictimAge(PersonAge):
    key: ClassVar[str] = "victim_age"
    role: ClassVar[str] = "victim"


@dataclass(frozen=True)
class SuspectAge(PersonAge):
    key: ClassVar[str] = "suspect_age"
    role: ClassVar[str] = "suspect"


RULES: dict[str, type[Rule]] = {
    cls.key: cls
    for cls in (
        OffenceCodes, OffenceGroups, OffenceSubgroups, Categories, LocationTypes, Statutes,
        Markers, VictimAge, SuspectAge,
    )
}  # fmt: skip
