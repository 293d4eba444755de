"""Disclosure control over cells and the lines that add them up.

A publication is a set of cells (every count a reader could see, in every table of every report
published together) and lines: a total cell and the cells that add up to it (a table's rows and
its total, months and their financial year, each CSP's cell and the whole area's). Primary
suppression hides every count from 1 to threshold - 1 (zero is shown: it reveals no person).
Secondary suppression then makes every line safe: no line may have exactly one unknown cell (it
would be the total less the shown cells), and where a line's total is shown its hidden cells must
add up to at least the threshold. The smallest positive shown cell is hidden next; where no member
is left to hide, the total is hidden, which makes the lines that total sits on work in turn. Cells
are only ever hidden, so the loop ends.

This is the classic hypercube heuristic; Tau-Argus and sdcTable solve the same problem, but only
outside Python, so it is written here. The scanner in the tests attacks the result with linear
programming, which is the check that matters.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Line:
    """`total` is the sum of `members` (all cell indices)."""

    total: int
    members: tuple[int, ...]


@dataclass
class Cells:
    """Every count cell of a publication, each once, by key."""

    keys: list[Hashable] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    index: dict[Hashable, int] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)

    def cell(self, key: Hashable, value: float) -> int:
        """The cell's index; a key given twice is one cell (the same figure in two tables)."""
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.keys)
            self.keys.append(key)
            self.values.append(float(value))
        return found

    def line(self, total: int, members: list[int]) -> None:
        members = [m for m in members if m != total]
        if members:
            self.lines.append(Line(total, tuple(members)))


@dataclass(frozen=True)
class Suppression:
    hidden: np.ndarray  # bool per cell
    primary: int
    secondary: int


def suppress(cells: Cells, threshold: int) -> Suppression:
    """Hide small cells, then more until no line gives a hidden cell away."""
    values = np.asarray(cells.values, dtype=float)
    hidden = (values > 0) & (values < threshold)
    primary = int(hidden.sum())
    changed = True
    while changed:
        changed = False
        for line in cells.lines:
            while _protect(line, values, hidden, threshold):
                changed = True
    return Suppression(hidden, primary, int(hidden.sum()) - primary)


def _protect(line: Line, values: np.ndarray, hidden: np.ndarray, threshold: int) -> bool:
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
    elif unknown >= 2 and values[members][member_hidden].sum() >= threshold:
        return False
    candidates = members[~member_hidden & (values[members] > 0)]
    if len(candidates):
        hidden[candidates[np.argmin(values[candidates])]] = True
        return True
    if not hidden[line.total] and values[line.total] > 0:
        hidden[line.total] = True
        return True
    return False
