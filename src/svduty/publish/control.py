"""Disclosure control over cells and the lines that add them up.

A publication is a set of cells (every count a reader could see, in every table of every report
published together, and the totals they add up to) and lines: a total cell and the cells that
add up to it (a table's rows and its total, months and their financial or calendar year, each
CSP's cell and the whole area's). Primary suppression hides every count from 1 to threshold - 1
(zero is shown: it reveals no person). Secondary suppression first makes each line safe on its
own (the classic hypercube heuristic: no line with exactly one unknown cell, hidden cells of a
line with a shown total adding up to at least the threshold), then audits the whole set at once
(`audit`: every line an equation, each hidden cell's interval by linear programming) and hides
more where a cell can still be pinned down, until the audit passes, finally with whole numbers.
Cells are only ever hidden, so the loop ends.

Tau-Argus and sdcTable solve the same problem, but only outside Python, so it is written here.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from svduty.publish.audit import Auditor, Relation, unprotected


@dataclass
class Cells:
    """Every count cell of a publication, each once, by key; `shown` marks cells a table prints
    (the others are totals a reader can only work out), `public` cells a reader always knows
    (the selection's total, stated in words throughout), which are never hidden."""

    keys: list[Hashable] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    shown: list[bool] = field(default_factory=list)
    index: dict[Hashable, int] = field(default_factory=dict)
    lines: list[Relation] = field(default_factory=list)
    public: set[int] = field(default_factory=set)

    def cell(self, key: Hashable, value: float, shown: bool = False) -> int:
        """The cell's index; a key given twice is one cell (the same figure in two tables)."""
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.keys)
            self.keys.append(key)
            self.values.append(float(value))
            self.shown.append(shown)
        elif shown and not self.shown[found]:
            self.shown[found] = True
            self.values[found] = float(value)  # the printed figure, not a sum of parts
        return found

    def line(self, total: int, members: list[int]) -> None:
        members = [m for m in members if m != total]
        if members:
            self.lines.append(Relation(total, tuple(members)))


@dataclass(frozen=True)
class Suppression:
    hidden: np.ndarray  # bool per cell
    primary: int
    secondary: int
    unprotected: int  # hidden cells still narrower than the rule (none to hide next to them)


def suppress(cells: Cells, threshold: int) -> Suppression:
    """Hide small cells, then more until no hidden cell can be narrowed below the rule."""
    values = np.asarray(cells.values, dtype=float)
    shown = np.asarray(cells.shown, dtype=bool)
    public = np.zeros(len(values), dtype=bool)
    public[list(cells.public)] = True
    hidden = (values > 0) & (values < threshold) & ~public
    primary = int((hidden & shown).sum())
    changed = True
    while changed:
        changed = False
        for line in cells.lines:
            while _protect(line, values, hidden, public, threshold):
                changed = True
    left = _audited(cells, values, hidden, shown, public, threshold)
    return Suppression(hidden, primary, int((hidden & shown).sum()) - primary, left)


def _audited(
    cells: Cells,
    values: np.ndarray,
    hidden: np.ndarray,
    shown: np.ndarray,
    public: np.ndarray,
    threshold: int,
) -> int:
    """Hide more until the audit passes: each round hides, beside every cell still too narrow,
    the smallest shown cell on one of its lines (one no table prints only where none is left).
    Returns how many cells are left unprotected."""
    on_lines: dict[int, list[Relation]] = {}
    for line in cells.lines:
        for cell in (line.total, *line.members):
            on_lines.setdefault(cell, []).append(line)
    auditor = Auditor(cells.lines, values, threshold, shown)
    while True:
        found = auditor.intervals(hidden)
        narrow = unprotected(found, threshold, shown)
        if not narrow:
            return 0
        added = set()
        for cell in narrow:
            nearby = _nearest(cell, on_lines, values, hidden, public)
            if nearby:
                added.add(min(nearby, key=lambda c: (not shown[c], values[c], c)))
        if not added:
            return len(narrow)
        hidden[list(added)] = True


def _nearest(
    cell: int,
    on_lines: dict[int, list[Relation]],
    values: np.ndarray,
    hidden: np.ndarray,
    public: np.ndarray,
) -> set[int]:
    """The cells that could still be hidden nearest to `cell`: on its own lines, else on the
    lines of the hidden cells next to it, and so on (a cell whose lines are all hidden can
    still be pinned down through lines further away, which only hiding there loosens)."""
    seen, frontier = {cell}, [cell]
    while frontier:
        found, step = set(), []
        for at in frontier:
            for line in on_lines.get(at, []):
                for other in (line.total, *line.members):
                    if other in seen:
                        continue
                    seen.add(other)
                    if hidden[other]:
                        step.append(other)
                    elif not public[other] and values[other] > 0:
                        found.add(other)
        if found:
            return found
        frontier = step
    return set()


def _protect(
    line: Relation, values: np.ndarray, hidden: np.ndarray, public: np.ndarray, threshold: int
) -> bool:
    """Hide one more cell of `line` if it is unsafe; False when it is safe (or cannot be made
    safer: a total of zero with every member shown reveals nobody)."""
    members = np.asarray(line.members)
    member_hidden = hidden[members]
    unknown = int(member_hidden.sum()) + int(hidden[line.total])
    if unknown == 0:
        return False
    if hidden[line.total]:
        if unknown >= 2:
            return False
    elif unknown >= 2 and values[members][member_hidden].sum() - unknown >= threshold:
        return False  # on this line alone each hidden cell spans at least the threshold
    candidates = members[~member_hidden & (values[members] > 0) & ~public[members]]
    if len(candidates):
        hidden[candidates[np.argmin(values[candidates])]] = True
        return True
    if not hidden[line.total] and values[line.total] > 0 and not public[line.total]:
        hidden[line.total] = True
        return True
    return False
