"""The audit of a publication: how closely a reader can pin down each hidden cell.

Every line of a publication (a total and the cells adding up to it: a table and its total,
subgroups and their group, months and their financial or calendar year, each CSP's cell and the
whole area's, a theme's CSP columns and the CSPs' own reports) is an equation a reader can
write. Shown cells are constants; hidden cells are unknowns, whole numbers of at least 1 (zeros
are shown, so a hidden cell is never 0). The smallest and largest value the equations allow a
hidden cell is its feasibility interval; linear programming finds it, cell by cell, which is the
audit Tau-Argus runs after secondary suppression (Hundepool et al., Statistical Disclosure
Control, Wiley 2012, section 4.3; de Wolf, "Tau-Argus", ch. 4).

A line counts as exact even where it is not (the whole area also holds records placed in no CSP;
incidents with no neighbourhood have no deprivation decile): the reader is assumed to know the
difference, which can only make the audit stricter.

Rule: a hidden cell is protected when its interval is at least `threshold` wide (upper - lower
>= threshold). Tau-Argus and sdcTable ask that the interval reach a protection level on each
side of the true value; for frequency tables under a threshold rule the usual levels are a fixed
number of units, and a width that depends on the threshold only (not on the cell's value) also
keeps the interval itself from hinting at the value. With the threshold at 5, a hidden count is
only known to lie among at least six whole numbers, so a reader cannot tell a 1 from a 5 or more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csr_matrix

INFINITE = float("inf")
FOUND = highspy.HighsModelStatus


@dataclass(frozen=True)
class Relation:
    """`total` is the sum of `members` (cell indices)."""

    total: int
    members: tuple[int, ...]


def equations(lines: Iterable[Relation], hidden: np.ndarray) -> list[dict[int, int]]:
    """Each line as an equation over its hidden cells (coefficient by cell); lines with no
    hidden cell say nothing about them and are left out."""
    out = []
    for line in lines:
        terms: dict[int, int] = {}
        for cell, sign in ((line.total, 1), *((m, -1) for m in line.members)):
            if hidden[cell]:
                terms[cell] = terms.get(cell, 0) + sign
        terms = {c: s for c, s in terms.items() if s}
        if terms:
            out.append(terms)
    return out


def components(rows: list[dict[int, int]], cells: Sequence[int]) -> list[tuple[list[int], list]]:
    """Hidden cells joined by equations, each group with its equations: groups are audited
    apart, as no equation links them."""
    parent = {c: c for c in cells}

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for row in rows:
        first, *rest = row
        for other in rest:
            a, b = root(first), root(other)
            if a != b:
                parent[a] = b
    groups: dict[int, tuple[list[int], list]] = {}
    for c in cells:
        groups.setdefault(root(c), ([], []))[0].append(c)
    for row in rows:
        groups[root(next(iter(row)))][1].append(row)
    return list(groups.values())


class Auditor:
    """The audit of one publication as its hidden cells grow. Hiding a cell only frees it, so
    every solution found stays a solution (the new cell at its true value) and a cell once
    protected stays protected: later rounds solve only for cells not yet seen protected."""

    def __init__(
        self,
        lines: Iterable[Relation],
        values: np.ndarray,
        threshold: int,
        shown: np.ndarray | None = None,
    ) -> None:
        self.lines = list(lines)
        # only cells a table prints need protecting (a total no table prints is free to be known)
        self.needs = np.ones(len(values), bool) if shown is None else np.asarray(shown, bool)
        self.values = np.asarray(values, dtype=float)
        self.threshold = threshold
        # the least and largest value each cell takes in some solution (the truth is one)
        self.low = self.values.copy()
        self.high = self.values.copy()
        self.solved: set[frozenset[int]] = set()

    def intervals(self, hidden: np.ndarray) -> dict[int, tuple[float, float]]:
        """The feasibility interval of every hidden cell in whole numbers, as far as the rule
        needs it: a cell seen at two values `threshold` or more apart is protected and its
        interval is given as those two values; for the others the largest and least values are
        found by linear programming, and by integer programming where the linear optimum is not
        a whole number (elsewhere the two agree)."""
        rows = equations(self.lines, hidden)
        for group, group_rows in components(rows, list(np.flatnonzero(hidden))):
            if len(group_rows) <= 1 and all(abs(v) == 1 for r in group_rows for v in r.values()):
                for c, (low, high) in _one_equation(group, group_rows, self.values).items():
                    self.low[c], self.high[c] = low, high
            elif frozenset(group) not in self.solved and any(
                self.needs[c] and self.high[c] - self.low[c] < self.threshold for c in group
            ):
                self._linked(group, group_rows)
                self.solved.add(frozenset(group))  # the same cells: the same equations
        return {int(c): (self.low[c], self.high[c]) for c in np.flatnonzero(hidden)}

    def _linked(self, group: list[int], rows: list[dict[int, int]]) -> None:
        position = {c: i for i, c in enumerate(group)}
        data, row_ids, col_ids = [], [], []
        for r, row in enumerate(rows):
            for c, s in row.items():
                data.append(float(s))
                row_ids.append(r)
                col_ids.append(position[c])
        a = csr_matrix((data, (row_ids, col_ids)), shape=(len(rows), len(group)))
        # a cap on every cell keeps each optimum a solution to learn from; a cell reaching it
        # is far from narrow, so the cap changes no verdict
        cap = float(self.values[group].max()) + 4 * self.threshold
        model = _Model(a, a @ self.values[group], cap)
        cells = np.asarray(group)

        def learn(point: np.ndarray | None) -> None:
            if point is not None:
                self.low[cells] = np.minimum(self.low[cells], point)
                self.high[cells] = np.maximum(self.high[cells], point)

        # first all open cells at once (most are settled by these, while they still settle
        # some), then each cell still open on its own
        rng = np.random.default_rng(len(group))
        stalled = 0
        for _ in range(16):
            open_ = self.needs[cells] & (self.high[cells] - self.low[cells] < self.threshold)
            if not open_.any():
                return
            if stalled >= 2:
                break
            # each open cell pushed towards the end it has been seen least far along, a tie
            # either way at random
            below = self.values[cells] - self.low[cells]
            above = self.high[cells] - self.values[cells]
            push = np.where(below < above, 1.0, np.where(below > above, -1.0, 0.0))
            push[push == 0] = rng.choice((-1.0, 1.0), int((push == 0).sum()))
            learn(model.linear(open_ * push * rng.uniform(0.5, 1.5, len(group)), 1.0)[1])
            settled = open_ & (self.high[cells] - self.low[cells] >= self.threshold)
            stalled = 0 if settled.sum() > 1 else stalled + 1
        for c in (c for c in group if self.needs[c]):
            if self.high[c] - self.low[c] >= self.threshold:
                continue
            unit = np.eye(1, len(group), position[c])[0]
            ends = []
            for sign in (-1.0, 1.0):
                value, point = model.linear(unit, sign)
                learn(point)
                ends.append(value[position[c]])
            # the linear optimum bounds every whole-number solution: too narrow even there, no
            # whole-number search can widen it; wider than the rule by a margin of one, it is
            # taken as the cell's (the whole-number ends of these sums lie within one of the
            # linear ones), and only in between do whole-number solutions decide
            upper, lower = np.floor(ends[0] + 1e-7), np.ceil(ends[1] - 1e-7)
            if upper - lower < self.threshold:
                continue
            if upper - lower >= self.threshold + 1:
                self.low[c], self.high[c] = min(self.low[c], lower), max(self.high[c], upper)
                continue
            for sign in (-1.0, 1.0):
                if self.high[c] - self.low[c] >= self.threshold:
                    break
                # enough: a solution this far from the other end already settles the cell
                reach = self.low[c] + self.threshold if sign < 0 else self.high[c] - self.threshold
                learn(model.whole(unit, sign, sign * reach))


def intervals(
    lines: Iterable[Relation], values: np.ndarray, hidden: np.ndarray, threshold: int
) -> dict[int, tuple[float, float]]:
    """Each hidden cell's feasibility interval, as far as the rule needs it (`Auditor`)."""
    return Auditor(lines, values, threshold).intervals(hidden)


def _one_equation(
    group: list[int], rows: list[dict[int, int]], values: np.ndarray
) -> dict[int, tuple[float, float]]:
    """Cells on one line only, in closed form: with cells on both sides of it each can grow
    without end; with all on one side each lies between 1 and their sum less one for every
    other cell."""
    if not rows or len(set(rows[0].values())) > 1:
        return {c: (1.0, INFINITE) for c in group}
    total = float(sum(values[c] for c in rows[0]))
    return {c: (1.0, total - (len(rows[0]) - 1)) for c in group}


class _Model:
    """One HiGHS model for every solve of a group, every cell from 1 to `cap`: only the
    objective changes between solves, so each starts from the last one's basis (SciPy's
    `linprog` builds the model afresh each call, which cost ten times the solving here)."""

    def __init__(self, a: csr_matrix, b: np.ndarray, cap: float) -> None:
        n = self.n = a.shape[1]
        # the bare solver: `Highs()` turns its callbacks on, which prints HiGHS's banner to
        # standard output before any option can silence it (and corrupts JSON sent there)
        self.highs = highspy._Highs()  # type: ignore[attr-defined]
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("presolve", "off")  # each solve starts from the last basis
        # only the objective changes, so the last optimum stays feasible and the primal simplex
        # goes on from it; the dual simplex (HiGHS's default) starts over from a basis no
        # longer dual feasible and took sixteen times the iterations on an SNA's set
        self.highs.setOptionValue("simplex_strategy", 4)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, a.shape[0]
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = np.zeros(n), np.ones(n), np.full(n, cap)
        lp.row_lower_ = lp.row_upper_ = np.asarray(b, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, a.shape[0]
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
        self.highs.passModel(lp)
        self.every = np.arange(n, dtype=np.int32)

    def linear(self, weights: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray | None]:
        """The linear optimum where `weights` times the cells is least (`sign` 1) or greatest
        (-1), and the same point when it is in whole numbers (else None)."""
        point = self._run(sign * np.asarray(weights, dtype=float))
        whole = np.allclose(point, np.round(point), atol=1e-7)
        return point, np.round(point) if whole else None

    def whole(self, weights: np.ndarray, sign: float, target: float) -> np.ndarray:
        """A solution in whole numbers towards the same optimum, stopping at the first whose
        objective reaches `target` (the search for the optimum itself can take far longer)."""
        kinds = highspy.HighsVarType
        self.highs.changeColsIntegrality(self.n, self.every, np.full(self.n, kinds.kInteger))
        self.highs.setOptionValue("objective_target", float(target))
        try:
            return np.round(self._run(sign * np.asarray(weights, dtype=float)))
        finally:
            self.highs.setOptionValue("objective_target", -INFINITE)
            self.highs.changeColsIntegrality(self.n, self.every, np.full(self.n, kinds.kContinuous))

    def _run(self, objective: np.ndarray) -> np.ndarray:
        self.highs.changeColsCost(self.n, self.every, objective)
        self.highs.run()
        status = self.highs.getModelStatus()
        if status not in (FOUND.kOptimal, FOUND.kObjectiveTarget):
            # the truth is always a solution, so this is the solver failing, not the data
            words = self.highs.modelStatusToString(status)
            raise RuntimeError(f"the audit's solver stopped: {words}")
        return np.asarray(self.highs.getSolution().col_value)


def unprotected(
    found: dict[int, tuple[float, float]], threshold: int, shown: np.ndarray
) -> list[int]:
    """Hidden cells a reader sees (a total no table prints needs no protection of its own)
    whose interval is narrower than the rule allows."""
    return [c for c, (low, high) in found.items() if shown[c] and high - low < threshold]
