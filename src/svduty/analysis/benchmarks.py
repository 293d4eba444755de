"""Benchmarks: the area's rate of the definition's offences against England and Wales and against
its most similar group, from the Home Office police recorded crime tables.

The tables carry offence codes and nothing else, so only the clauses that offence codes settle
can be counted from them (a clause that needs a marker or a statute is left out, and said to be).
England and Wales is every territorial force in the tables (British Transport Police and the
fraud bodies have no residents); the comparison needs all of them, in the latest financial year
the area has all four quarters of. Most similar groups are not published as open data, so svduty
ships none: the partnership names its group in a file (`load_groups`). When the data do not
allow a comparison, the result says why instead.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pandas as pd

from svduty.analysis.aggregates import aggregate_input
from svduty.analysis.severity import declared_source
from svduty.analysis.stats import poisson_interval
from svduty.analysis.where import populations
from svduty.definitions.model import Definition
from svduty.definitions.rules import any_of, unknown
from svduty.engine import Store
from svduty.errors import InputError
from svduty.reference import data_path
from svduty.reference.forces import canonical_force
from svduty.settings import Settings

SOURCE = "Home Office, police recorded crime open data tables"
ENGLAND_AND_WALES = "England and Wales"
ALL_CLAUSES = "Every clause the tables can count"
RESIDENTS = (
    "ONS 2024 estimates (England) and mid-2019 estimates (Wales), as for every rate in the "
    "report, for the area and its comparators alike"
)
GROUP_LAYOUT = (
    "CSV with a first line '# source: ...' naming where the groups come from and their vintage "
    "(e.g. HMICFRS most similar groups, 2024), then the columns area,similar: one row per "
    "member of an area's group, areas named as the Home Office tables name them (a force such "
    "as 'West Mercia', or a CSP)"
)


@dataclass(frozen=True)
class Groups:
    """Most similar groups the partnership names: area -> the areas most like it."""

    path: Path
    source: str
    members: dict[str, tuple[str, ...]]


def load_groups(path: Path) -> Groups:
    """Read a most-similar-groups file (layout in GROUP_LAYOUT); every problem at once."""
    if not path.is_file():
        raise InputError(f"{path}: no such most-similar-groups file; it should be {GROUP_LAYOUT}")
    lines = path.read_text(encoding="utf-8").splitlines()
    source = declared_source(lines)
    problems = (
        []
        if source
        else [
            f"{path}: line 1: say where the groups come from, e.g. "
            "'# source: HMICFRS most similar groups, 2024'"
        ]
    )
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if not line.startswith("#")]
    rows = list(csv.DictReader(line for _, line in numbered))
    members: dict[str, list[str]] = {}
    for (number, _), row in zip(numbered[1:], rows, strict=False):
        area, similar = (row.get("area") or "").strip(), (row.get("similar") or "").strip()
        if not area or not similar:
            problems.append(f"{path}: line {number}: need an area and a similar area")
            continue
        names = members.setdefault(area, [])
        if similar not in names and similar != area:
            names.append(similar)
    if not rows and not problems:
        problems.append(f"{path}: no groups; it should be {GROUP_LAYOUT}")
    if problems:
        raise InputError("\n".join(problems))
    return Groups(path, source, {k: tuple(v) for k, v in members.items()})


@dataclass(frozen=True)
class Benchmarks:
    """Rates of the area and its comparators, or the reason there are none. `rows`: measure,
    comparator, count, population, rate, low, high (rates a year per 1,000 residents)."""

    area: str
    reason: str | None = None
    level: str = ""
    year: str = ""
    population: str = ""
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    partly: list[str] = field(default_factory=list)  # clauses counted only where codes settle
    left_out: list[str] = field(default_factory=list)  # clauses the tables cannot count
    group: tuple[str, ...] = ()
    group_note: str = ""
    source: str = SOURCE

    @property
    def available(self) -> bool:
        return self.reason is None


def benchmarks(
    store: Store,
    settings: Settings,
    definition: Definition,
    csp: str | None = None,
    groups: Groups | None = None,
    period: tuple[str | None, str | None] = (None, None),
) -> Benchmarks:
    """The area's (`csp`, or the partnership's) rates against England and Wales and its most
    similar group, in the latest financial year of the tables the area is complete in: within
    `period` (first and last month) when one is, else the latest held."""
    name = csp or settings.area or "the area"
    if int(store.table("offence_counts").count().to_pandas()) == 0:
        return Benchmarks(
            name,
            "the workspace holds no Home Office police recorded crime tables. Ingest the "
            "force-level (or CSP-level) open data tables for all of England and Wales to "
            "compare the area's rates with England and Wales and with its most similar group.",
        )
    t = aggregate_input(store, definition)
    has_csp = int(t.filter(t.csp_name.notnull()).count().to_pandas()) > 0
    has_force = int(t.filter(t.csp_name.isnull()).count().to_pandas()) > 0
    if csp is not None:
        if not has_csp:
            return Benchmarks(
                name,
                "the Home Office tables held are force-level: a CSP is benchmarked with the "
                "CSP-level tables. The partnership's report compares its force area.",
            )
        level, own = "csp", [csp]
    elif settings.forces and has_force:
        level, own = "force", [canonical_force(f) or f for f in settings.forces]
    elif settings.csps and has_csp:
        level, own = "csp", list(settings.csps)
    else:
        return Benchmarks(
            name,
            "the workspace names no police force (setting forces) for the force-level tables, "
            "and no CSPs for CSP-level ones, so the area cannot be found in them.",
        )
    unit = "force" if level == "force" else "csp_name"
    t = t.filter(t.csp_name.isnull() if level == "force" else t.csp_name.notnull())
    exprs = {c.id: c.expr(t) for c in definition.clauses}
    t = t.mutate(
        _unit=t[unit],
        _in=any_of([e.fill_null(False) for e in exprs.values()]),
        **{f"_in_{k}": e.fill_null(False) for k, e in exprs.items()},
        **{f"_unknown_{k}": unknown(e) for k, e in exprs.items()},
    )
    quarters = (
        t.filter(t._unit.isin(own))
        .group_by("financial_year")
        .aggregate(quarters=t.financial_quarter.nunique())
        .to_pandas()
    )
    complete = sorted(quarters.loc[quarters["quarters"] == 4, "financial_year"])
    if not complete:
        return Benchmarks(
            name,
            f"the Home Office tables held have no financial year with all four quarters for "
            f"{', '.join(own)}.",
        )
    within = [y for y in complete if _overlaps(y, period)]
    year = (within or complete)[-1]
    t = t.filter(t.financial_year == year)
    sums = {"_in": ibis.ifelse(t._in, t["count"], 0).sum()}
    for k in exprs:
        sums[f"_in_{k}"] = ibis.ifelse(t[f"_in_{k}"], t["count"], 0).sum()
        sums[f"_unknown_{k}"] = ibis.ifelse(t[f"_unknown_{k}"], t["count"], 0).sum()
    per_unit = t.group_by(area="_unit").aggregate(**sums).to_pandas().fillna(0)
    forces = t.group_by("force").aggregate(n=t.count()).to_pandas()["force"]
    territorial = _territorial()
    absent = sorted(territorial - set(forces))
    if absent:
        return Benchmarks(
            name,
            f"the Home Office tables held for {year} cover {len(territorial) - len(absent)} of "
            f"the {len(territorial)} territorial forces (missing: {', '.join(absent[:5])}"
            f"{'...' if len(absent) > 5 else ''}), so there is no England and Wales figure.",
            level,
            year,
        )
    residents = populations(store, level)
    everyone = int(residents["population"].sum())  # every resident, placed in a force or not
    per_unit = per_unit.merge(residents.dropna(subset=["area"]), on="area", how="left")
    if level == "force":
        per_unit = per_unit[per_unit["area"].isin(territorial)]
    missing = [a for a in own if a not in set(per_unit["area"].dropna())]
    if missing:
        return Benchmarks(
            name,
            f"{', '.join(missing)} is not in the Home Office tables held for {year} (their "
            f"{'forces' if level == 'force' else 'CSPs'} are named as the tables name them).",
            level,
            year,
        )
    totals = per_unit.drop(columns="area").sum(numeric_only=True)
    counted = [c for c in definition.clauses if totals[f"_in_{c.id}"] > 0]
    left_out = [c.id for c in definition.clauses if totals[f"_in_{c.id}"] <= 0]
    partly = [c.id for c in counted if totals[f"_unknown_{c.id}"] > 0]
    codes_only = "offence codes only" if partly or left_out else "whole definition"
    measures = [(ALL_CLAUSES, "_in", codes_only)]
    measures += [
        (c.name, f"_in_{c.id}", "codes that settle it" if c.id in partly else "whole clause")
        for c in counted
    ]
    label = ", ".join(own) if csp is None and len(own) > 1 else name
    group, group_note = _group(groups, own, csp, level, set(per_unit["area"]))
    rows = []
    for measure, column, scope in measures:
        chosen = per_unit[per_unit["area"].isin(own)]
        rows.append(_row(measure, scope, label, chosen, column))
        rows.append(_row(measure, scope, ENGLAND_AND_WALES, per_unit, column, everyone))
        if group:
            members = per_unit[per_unit["area"].isin(group)]
            rows.append(_row(measure, scope, f"Most similar group ({len(group)})", members, column))
    frame = pd.DataFrame(rows)
    return Benchmarks(
        name,
        None,
        level,
        year,
        RESIDENTS,
        frame,
        [c.name for c in counted if c.id in partly],
        left_out,
        group,
        group_note,
    )


def _overlaps(year: str, period: tuple[str | None, str | None]) -> bool:
    """Whether financial year '2024/25' (April 2024 to March 2025) meets the months asked for."""
    first, last = f"{year[:4]}-04", f"{int(year[:4]) + 1}-03"
    start, end = period
    return (start is None or start <= last) and (end is None or end >= first)


def _row(
    measure: str,
    scope: str,
    comparator: str,
    units: pd.DataFrame,
    column: str,
    population: int | None = None,
) -> dict[str, object]:
    count = int(units[column].sum())
    population = int(units["population"].sum()) if population is None else population
    low, high = poisson_interval(max(count, 0))
    per = 1000 / population if population else float("nan")
    return {
        "measure": measure,
        "scope": scope,
        "comparator": comparator,
        "count": count,
        "population": population,
        "rate": round(count * per, 3),
        "low": round(low * per, 3),
        "high": round(high * per, 3),
    }


def _group(
    groups: Groups | None, own: list[str], csp: str | None, level: str, known: set[str]
) -> tuple[tuple[str, ...], str]:
    """The area's most similar group (the area itself left out), or why there is none."""
    if groups is None:
        return (), (
            "No most similar group: svduty ships none (the groups are not open data). To compare "
            "with one, set most_similar_groups in svduty.toml to a file that is a "
            f"{GROUP_LAYOUT}."
        )
    key = csp or (own[0] if len(own) == 1 else None)
    if key is None:
        return (), "No most similar group: the partnership is more than one area in the tables."
    found = groups.members.get(key) or next(
        (v for k, v in groups.members.items() if canonical_force(k) == key), ()
    )
    if not found:
        return (), f"No most similar group: {groups.path.name} names no group for {key}."
    named = tuple(canonical_force(m) or m for m in found) if level == "force" else found
    unknown_names = [m for m in named if m not in known]
    if unknown_names:
        raise InputError(
            f"{groups.path}: the group of {key} names {', '.join(unknown_names)}, which the Home "
            f"Office tables held do not (they name {level}s as, e.g., "
            f"{', '.join(sorted(known)[:3])})"
        )
    return named, f"Most similar group of {key} ({groups.source}): {', '.join(named)}."


def _territorial() -> set[str]:
    with data_path("forces.csv").open(encoding="utf-8") as handle:
        return {r["force"] for r in csv.DictReader(handle) if r["territorial"] == "True"}
