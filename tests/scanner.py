"""An attacker's scanner for published reports, written apart from svduty's publishing code.

It reads the published summary.json of every report of a set (the whole area and its CSPs) and,
for the attack only, the internal (unsuppressed) build of the same set, from which it takes what a
determined reader could know or assume: every table's column totals, every cross-tab's row
totals, the months of each financial year, the subgroups of each group, the districts of each CSP,
the monthly series of each theme, and the whole area as the CSPs plus records placed in none. It
then looks for:

- a count from 1 to threshold - 1 shown anywhere (tables, single figures, sentences);
- a hidden cell pinned down by linear programming over all those relations at once (the
  minimum and maximum a hidden cell can take, shown cells fixed, differ by less than one).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from svduty.vocabulary import heading

ALWAYS_COUNTS = {"count"}
HIERARCHIES = {  # child table -> (column naming the parent row, parent table)
    "trends/monthly": ("financial_year", "trends/financial_years"),
    "trends/quarterly": ("financial_year", "trends/financial_years"),
    "what/offence_subgroups": ("offence_group", "what/offence_groups"),
    "where/district_rates": ("csp", "where/csp_rates"),
}


@dataclass
class Finding:
    report: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.report}: {self.where}: {self.what}"


@dataclass
class Problem:
    variables: dict[tuple, int] = field(default_factory=dict)
    equations: list[tuple[dict[int, float], float]] = field(default_factory=list)

    def var(self, key: tuple) -> int:
        return self.variables.setdefault(key, len(self.variables))


def _tables(summary: dict) -> dict[str, list[dict]]:
    return {
        f"{section}/{name}": value
        for section, items in summary["sections"].items()
        for name, value in items.items()
        if isinstance(value, list) and value and isinstance(value[0], dict)
    }


def _counts(summary: dict, table: str) -> list[str]:
    declared = summary["count_columns"].get(table, [])
    rows = _tables(summary).get(table, [])
    present = set(rows[0]) if rows else set()
    return [c for c in {*declared, *ALWAYS_COUNTS} if c in present]


def small_counts(reports: dict[str, dict], threshold: int) -> list[Finding]:
    """Every count cell and single count figure shown from 1 to threshold - 1."""
    out = []
    for name, summary in reports.items():
        for table, rows in _tables(summary).items():
            for column in _counts(summary, table):
                for i, row in enumerate(rows):
                    v = row.get(column)
                    if isinstance(v, (int, float)) and 0 < v < threshold:
                        out.append(Finding(name, f"{table}[{i}].{column}", f"shows {v}"))
        for section, items in summary["sections"].items():
            for key, value in items.items():
                declared = summary["count_columns"].get(f"{section}/{key}", [])
                if (
                    "value" in declared
                    and isinstance(value, (int, float))
                    and 0 < value < threshold
                ):
                    out.append(Finding(name, f"{section}/{key}", f"shows {value}"))
        for sentence in summary["sections"].get("summary", {}).get("findings", []):
            for number in re.findall(r"(?<![\d.,/-])(\d[\d,]*)(?![\d.%/-])", sentence):
                if 0 < int(number.replace(",", "")) < threshold:
                    out.append(Finding(name, "finding", f"{number!r} in {sentence!r}"))
    return out


def recoverable(published: dict[str, dict], internal: dict[str, dict], whole: str) -> list[Finding]:
    """Hidden cells whose value linear programming pins down from what is shown."""
    problem = Problem()
    truth: dict[int, float] = {}
    shown: dict[int, float] = {}
    for name, summary in published.items():
        inside = _tables(internal[name])
        for table, rows in _tables(summary).items():
            real_rows = inside.get(table, [])
            if len(real_rows) != len(rows):
                continue
            counts = _counts(summary, table)
            for column in counts:
                members = []
                for row, real in zip(rows, real_rows, strict=True):
                    v = problem.var((name, table, _key(real, counts), column))
                    truth[v] = float(real[column] or 0)
                    if row[column] is not None:
                        shown[v] = float(row[column])
                    members.append(v)
                # the table's total is known
                problem.equations.append(
                    ({m: 1.0 for m in members}, sum(truth[m] for m in members))
                )
            if len(counts) > 1:  # a cross-tab's row totals are known
                for real in real_rows:
                    vs = [problem.variables[(name, table, _key(real, counts), c)] for c in counts]
                    problem.equations.append(({v: 1.0 for v in vs}, sum(truth[v] for v in vs)))
    _hierarchies(problem, published, truth)
    _across_reports(problem, published, whole, truth)
    return _attack(problem, truth, shown)


def _key(row: dict, counts: list[str]) -> tuple:
    return tuple((k, row[k]) for k in sorted(row) if k not in counts and isinstance(row[k], str))


def _hierarchies(problem: Problem, published: dict[str, dict], truth: dict[int, float]) -> None:
    by_table: dict[tuple[str, str], dict[tuple, int]] = defaultdict(dict)
    for key, v in problem.variables.items():
        name, table, row, column = key
        by_table[(name, table)][(row, column)] = v
    for name in published:
        for child, (by, parent) in HIERARCHIES.items():
            kids, parents = by_table.get((name, child), {}), by_table.get((name, parent), {})
            groups: dict[tuple, list[int]] = defaultdict(list)
            for (row, column), v in kids.items():
                value = dict(row).get(by)
                groups[(value, column)].append(v)
            for (row, column), v in parents.items():
                label = next((val for _, val in row), None)
                members = groups.get((label, column))
                if members:
                    problem.equations.append(
                        (
                            {v: 1.0, **{m: -1.0 for m in members}},
                            truth[v] - sum(truth[m] for m in members),
                        )
                    )
        themes = by_table.get((name, "themes/themes"), {})
        for (row, column), v in themes.items():
            if column != "count":
                continue
            theme = dict(row).get("theme")
            for (table_name, table), cells in by_table.items():
                if (
                    table_name != name
                    or not table.endswith("_monthly")
                    or not table.startswith("themes/")
                ):
                    continue
                members = [m for (r, c), m in cells.items() if dict(r).get("theme") == theme]
                if members:
                    problem.equations.append(
                        (
                            {v: 1.0, **{m: -1.0 for m in members}},
                            truth[v] - sum(truth[m] for m in members),
                        )
                    )


def _across_reports(
    problem: Problem, published: dict[str, dict], whole: str, truth: dict[int, float]
) -> None:
    """The whole area's cell less the CSPs' is known (records placed in no CSP)."""
    parts = [n for n in published if n != whole]
    for key, v in list(problem.variables.items()):
        name, table, row, column = key
        if name != whole:
            continue
        members = [
            problem.variables[k]
            for p in parts
            if (k := (p, table, row, column)) in problem.variables
        ]
        if members:
            problem.equations.append(
                ({v: 1.0, **{m: -1.0 for m in members}}, truth[v] - sum(truth[m] for m in members))
            )


def _attack(problem: Problem, truth: dict[int, float], shown: dict[int, float]) -> list[Finding]:
    """Bounds of each hidden cell, one group of linked hidden cells at a time."""
    hidden = [v for v in truth if v not in shown]
    reduced: list[tuple[dict[int, float], float]] = []
    parent = {v: v for v in hidden}

    def root(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for coefficients, total in problem.equations:
        unknown = {v: c for v, c in coefficients.items() if v not in shown}
        if not unknown:
            continue
        constant = total - sum(c * shown[v] for v, c in coefficients.items() if v in shown)
        reduced.append((unknown, constant))
        first, *rest = unknown
        for other in rest:
            parent[root(other)] = root(first)
    groups: dict[int, list[tuple[dict[int, float], float]]] = defaultdict(list)
    for unknown, constant in reduced:
        groups[root(next(iter(unknown)))].append((unknown, constant))
    names = {v: k for k, v in problem.variables.items()}
    out = []
    for equations in groups.values():
        cells = sorted({v for unknown, _ in equations for v in unknown})
        index = {v: i for i, v in enumerate(cells)}
        rows, columns, values = [], [], []
        for r, (unknown, _) in enumerate(equations):
            for v, c in unknown.items():
                rows.append(r)
                columns.append(index[v])
                values.append(c)
        a = sparse.csr_matrix((values, (rows, columns)), shape=(len(equations), len(cells)))
        b = np.array([constant for _, constant in equations])
        # every solution found is a feasible point: a cell taking values at least 1 apart in
        # two of them cannot be pinned, so its own pair of programs would only confirm it
        lowest = np.full(len(cells), np.inf)
        highest = np.full(len(cells), -np.inf)
        for v in cells:
            if highest[index[v]] - lowest[index[v]] >= 1.0:
                continue
            c = np.zeros(len(cells))
            c[index[v]] = 1.0
            low = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
            high = linprog(-c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
            for found in (low, high):
                if found.status == 0:
                    lowest = np.minimum(lowest, found.x)
                    highest = np.maximum(highest, found.x)
            if low.status == 0 and high.status == 0 and (-high.fun - low.fun) < 1.0 - 1e-6:
                name, table, row, column = names[v]
                out.append(
                    Finding(
                        name,
                        f"{table}{dict(row)}.{column}",
                        f"pinned to {low.fun:.1f}..{-high.fun:.1f} (true {truth[v]:g})",
                    )
                )
    return out


class HtmlTables(HTMLParser):
    """Every table of a page as rows of cell texts, headers first."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None


def small_counts_in_pages(
    pages: dict[str, str], reports: dict[str, dict], threshold: int
) -> list[Finding]:
    """Every HTML table cell under a count column's heading, from 1 to threshold - 1."""
    out = []
    for name, html in pages.items():
        declared = {c for cs in reports[name]["count_columns"].values() for c in cs}
        columns = {heading(c) for c in (declared | ALWAYS_COUNTS) - {"value"}}  # as shown
        parser = HtmlTables()
        parser.feed(html)
        for t, table in enumerate(parser.tables):
            if not table:
                continue
            heads = table[0]
            for r, row in enumerate(table[1:], start=1):
                for head, text in zip(heads, row, strict=False):
                    number = text.replace(",", "")
                    if head in columns and number.isdigit() and 0 < int(number) < threshold:
                        out.append(Finding(name, f"HTML table {t} row {r} {head!r}", text))
    return out
