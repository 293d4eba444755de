"""The definition applied to the Home Office tables (counts by CSP, offence code and quarter).

The tables carry offence codes and nothing else a record has: no markers, places or ages. Each
clause is evaluated with those facts unknown, by the same rule expressions records use, so a
clause that needs a marker is reported as needing partner data instead of silently counting
nothing (or everything)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from svduty.analysis.selection import label
from svduty.analysis.stats import Change, compare_counts
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.definitions.rules import any_of, unknown
from svduty.engine import Store
from svduty.errors import InputError
from svduty.schema import FACT_TABLES


@dataclass(frozen=True)
class AggregateCounts:
    frame: pd.DataFrame  # financial_year, quarter, force, csp, offence_*, count
    clauses: pd.DataFrame  # clause, name, counted, unassessable (offences it could not judge)
    unassessable: list[str]  # clauses the tables cannot assess at all
    definition: str | None
    engine: str

    @property
    def total(self) -> int:
        return int(self.frame["count"].sum()) if len(self.frame) else 0


def aggregate_input(store: Store, definition: Definition | None) -> ir.Table:
    """offence_counts in the shape the rules read: facts the tables lack are typed NULLs."""
    t = store.table("offence_counts")
    offences = store.table("offences").select(
        _code="offence_code",
        _group="offence_group",
        _subgroup="offence_subgroup",
        category="police_uk_category",
    )
    t = t.left_join(offences, t.offence_code == offences._code)
    t = t.mutate(
        offence_group=ibis.coalesce(t._group, t.offence_group),
        offence_subgroup=ibis.coalesce(t._subgroup, t.offence_subgroup),
    ).drop("_code", "_group", "_subgroup")
    missing = {
        name: ibis.null(kind.lower() if kind != "VARCHAR" else "string")
        for name, kind in FACT_TABLES["incidents"].items()
        if name not in t.columns and kind in ("VARCHAR", "BOOLEAN")
    }
    ages = {rule.column: ibis.null("int8") for rule in definition.age_rules()} if definition else {}
    return t.mutate(**missing, **ages)


def aggregate_counts(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> AggregateCounts:
    t = aggregate_input(store, definition)
    for item in filters or []:
        column = {"csp": "csp_name", "quarter": "financial_quarter"}.get(item.column, item.column)
        if column == "month":
            raise InputError(
                "the Home Office tables are by financial quarter: a period in months cannot "
                "select from them"
            )
        t = t.filter(item.test(t[column].cast("string")))
    clause_rows: list[dict[str, Any]] = []
    if definition is not None:
        exprs = {c.id: c.expr(t) for c in definition.clauses}
        flags = {f"_in_{k}": v.fill_null(False) for k, v in exprs.items()}
        flags |= {f"_unknown_{k}": unknown(v) for k, v in exprs.items()}
        t = t.mutate(**flags, _in=any_of([v.fill_null(False) for v in exprs.values()]))
        sums = (
            t.aggregate(
                **{name: ibis.ifelse(t[name], t["count"], 0).sum().coalesce(0) for name in flags}
            )
            .to_pandas()
            .iloc[0]
        )
        clause_rows = [
            {
                "clause": c.id,
                "name": c.name,
                "counted": int(sums[f"_in_{c.id}"]),
                "unassessable": int(sums[f"_unknown_{c.id}"]),
            }
            for c in definition.clauses
        ]
        t = t.filter(t._in)
    frame = (
        t.group_by(
            "financial_year",
            "financial_quarter",
            "force",
            csp="csp_name",
            offence_code="offence_code",
            offence_group="offence_group",
            offence_subgroup="offence_subgroup",
        )
        .aggregate(count=t["count"].sum())
        .to_pandas()
        .sort_values(["financial_year", "financial_quarter", "csp", "offence_code"])
        .reset_index(drop=True)
    )
    clauses = pd.DataFrame(clause_rows, columns=["clause", "name", "counted", "unassessable"])
    return AggregateCounts(
        frame,
        clauses,
        [r["clause"] for r in clause_rows if r["counted"] == 0 and r["unassessable"] > 0],
        label(definition),
        store.name,
    )


@dataclass(frozen=True)
class AggregateTrend:
    quarterly: pd.DataFrame  # quarter, count
    financial_years: pd.DataFrame  # financial_year, count, quarters
    change: Change | None
    change_periods: tuple[str, str] | None


def aggregate_trend(counts: AggregateCounts, minimum: int = 20) -> AggregateTrend:
    frame = counts.frame
    if frame.empty:
        empty = pd.DataFrame(columns=["quarter", "count"])
        return AggregateTrend(empty, empty, None, None)
    labelled = frame.assign(
        quarter=frame["financial_year"] + " Q" + frame["financial_quarter"].map(str)
    )
    quarterly = labelled.groupby("quarter")["count"].sum().reset_index()
    years = frame.groupby("financial_year", as_index=False).agg(
        count=("count", "sum"), quarters=("financial_quarter", "nunique")
    )
    complete = years[years["quarters"] == 4]
    change, periods = None, None
    if len(complete) >= 2:
        a, b = complete.iloc[-2], complete.iloc[-1]
        change = compare_counts(int(a["count"]), int(b["count"]), minimum=minimum)
        periods = (str(a["financial_year"]), str(b["financial_year"]))
    return AggregateTrend(quarterly, years, change, periods)
