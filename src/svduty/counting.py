"""Counts by any dimensions with filters: the analyst's everyday pivot, exact on every engine."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from svduty.errors import InputError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from svduty.definitions.model import Definition
    from svduty.engine import Store


@dataclass(frozen=True)
class Filter:
    """COLUMN=VALUE, or COLUMN>=VALUE / COLUMN<=VALUE compared as text (so month>=2024-04
    works on the YYYY-MM month)."""

    column: str
    value: str
    op: str = "="

    @classmethod
    def parse(cls, text: str) -> Filter:
        for op in (">=", "<=", "="):
            column, sep, value = text.partition(op)
            if sep:
                break
        if not sep or not column.strip():
            raise InputError(
                f"filter {text!r} must look like COLUMN=VALUE, COLUMN>=VALUE or COLUMN<=VALUE "
                "(e.g. force=West Mercia, month>=2024-04)"
            )
        return cls(column.strip(), value.strip().strip('"'), op)

    def test(self, value: ir.StringValue) -> ir.BooleanValue:
        if self.op == ">=":
            return value >= self.value
        if self.op == "<=":
            return value <= self.value
        return value == self.value

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value}"


def period_filters(start: str | None, end: str | None) -> list[Filter]:
    """Months from START to END inclusive (YYYY-MM), as filters every analysis takes."""
    out = []
    for op, month in ((">=", start), ("<=", end)):
        if month is None:
            continue
        if (
            len(month) != 7
            or month[4] != "-"
            or not (month[:4] + month[5:]).isdigit()
            or not 1 <= int(month[5:]) <= 12
        ):
            raise InputError(f"period bound {month!r} must be a month as YYYY-MM")
        out.append(Filter("month", month, op))
    if start and end and start > end:
        raise InputError(f"the period starts ({start}) after it ends ({end})")
    return out


@dataclass(frozen=True)
class CountResult:
    """Counts with what produced them, so any output can say how it was made."""

    table: str
    by: tuple[str, ...]
    filters: tuple[Filter, ...]
    engine: str
    frame: pd.DataFrame
    definition: Definition | None = None
    clause: str | None = None

    @property
    def note(self) -> str:
        """What a reader must know about the counts (the definition and its caveat)."""
        if self.definition is None:
            return ""
        scope = f"clause {self.clause} of " if self.clause else ""
        text = (
            f"Counts of {scope}{self.definition.name} ({self.definition.id} "
            f"v{self.definition.version})."
        )
        if "clause" in self.by:
            text += " An incident matching several clauses is counted under each."
        if self.definition.caveat:
            text += f" {self.definition.caveat}"
        return text

    @property
    def total(self) -> int:
        return int(self.frame["count"].sum())

    @property
    def synthetic(self) -> int:
        """How many of the records counted are synthetic (said beside every count)."""
        if "synthetic" in self.by:
            return int(self.frame.loc[self.frame["synthetic"] == "true", "count"].sum())
        return int(self.frame["synthetic"].sum()) if "synthetic" in self.frame else 0


def _classified(
    store: Store, definition: Definition, clause: str | None, by: list[str]
) -> ir.Table:
    """Incidents in the definition (or one clause); with `clause` in `by`, one row per incident
    and clause it matches."""
    import ibis

    from svduty.definitions.classify import classification_input
    from svduty.definitions.rules import any_of

    if clause is None and "clause" not in by:
        from svduty.analysis.selection import in_definition

        return in_definition(store, definition)
    base = classification_input(store, [definition])
    exprs = {c.id: c.expr(base).fill_null(False) for c in definition.clauses}
    if clause is not None:
        if clause not in exprs:
            raise InputError(
                f"{definition.id} has no clause {clause!r}; its clauses: {', '.join(exprs)}"
            )
        exprs = {clause: exprs[clause]}
    if "clause" in by:
        parts = [base.filter(e).mutate(clause=ibis.literal(k)) for k, e in exprs.items()]
        return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    return base.filter(any_of(list(exprs.values())))


def counts(
    store: Store,
    table: str,
    by: list[str],
    filters: list[Filter] | None = None,
    definition: Definition | None = None,
    clause: str | None = None,
) -> CountResult:
    """Counts by dimensions; with a definition, of the incidents it (or one clause) takes in."""
    from svduty.dimensions import dimensions, require_distinct, resolve

    filters = filters or []
    base = None
    if definition is not None:
        if table != "incidents":
            raise InputError("definitions classify incidents: count the incidents table")
        base = _classified(store, definition, clause, by)
    elif clause is not None:
        raise InputError("a clause needs its definition")
    elif "clause" in by:
        raise InputError("dimension 'clause' needs a definition")
    joined, dims, measure = dimensions(store, table, base)
    require_distinct(by)
    keys = {name: resolve(name, dims, table).cast("string").name(name) for name in by}
    wanted: dict[str, list[str]] = defaultdict(list)
    for item in filters:
        if item.op == "=":
            wanted[item.column].append(item.value)
    predicates = [
        resolve(column, dims, table).cast("string").isin(values)
        for column, values in wanted.items()
    ] + [
        item.test(resolve(item.column, dims, table).cast("string"))
        for item in filters
        if item.op != "="
    ]
    expr = joined.filter(*predicates) if predicates else joined
    metrics = {"count": expr.count() if measure is None else expr[measure].sum()}
    if "synthetic" in expr.columns and "synthetic" not in by:  # else the dimension says it
        metrics["synthetic"] = expr.synthetic.cast("int64").sum()
    grouped = expr.group_by(**keys).aggregate(**metrics) if keys else expr.aggregate(**metrics)
    frame = grouped.to_pandas()
    frame["count"] = frame["count"].fillna(0).astype("int64")
    if "synthetic" in metrics:
        # synthetic records are never counted silently: a column says how many there are
        frame["synthetic"] = frame["synthetic"].fillna(0).astype("int64")
        if frame["synthetic"].sum() == 0:
            frame = frame.drop(columns="synthetic")
    if by:
        frame = frame.sort_values(list(by), na_position="last", kind="stable")
    frame = frame.reset_index(drop=True)
    return CountResult(table, tuple(by), tuple(filters), store.name, frame, definition, clause)


def sql_of(store: Store, table: str, by: list[str]) -> str:
    """The SQL an engine runs for a count, for the methods annex and for debugging."""
    import ibis

    from svduty.dimensions import dimensions, resolve

    joined, dims, measure = dimensions(store, table)
    keys = {name: resolve(name, dims, table).cast("string").name(name) for name in by}
    total = joined.count() if measure is None else joined[measure].sum()
    return str(ibis.to_sql(joined.group_by(**keys).aggregate(count=total)))
