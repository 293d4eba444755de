"""Disclosure control for published tables: small counts hidden, and hidden cells protected.

Primary suppression hides every count from 1 to threshold - 1 (zero is shown: a zero reveals no
person). Secondary suppression then makes sure no hidden cell can be worked out from a total
that is shown: along every line that adds up to a published total, at least two cells are hidden
and the hidden cells add up to at least the threshold, else the next smallest cells are hidden
too (if no cell is left to hide, the total itself is hidden). Rates and shares computed from a
hidden count are hidden with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HIDDEN = None


@dataclass(frozen=True)
class Controlled:
    """A table after control: `values` with hidden cells as None, and what was hidden."""

    values: pd.DataFrame
    hidden: pd.DataFrame
    threshold: int
    primary: int
    secondary: int
    total_hidden: dict[str, bool]
    row_total_hidden: list[bool]


def _protect_line(values: np.ndarray, hidden: np.ndarray, threshold: int) -> bool:
    """Hide more cells of one line until its hidden cells are safe; False if it cannot be
    done (the line's total must then be hidden)."""
    while True:
        count = int(hidden.sum())
        total = float(values[hidden].sum())
        if count == 0 or (count >= 2 and total >= threshold):
            return True
        candidates = np.flatnonzero(~hidden & (values > 0))
        if not len(candidates):
            return count != 1 and total >= threshold
        hidden[candidates[np.argmin(values[candidates])]] = True


def control(
    frame: pd.DataFrame,
    counts: list[str],
    threshold: int,
    row_totals: bool = False,
    derived: dict[str, str] | None = None,
) -> Controlled:
    """Control the count columns of `frame`, whose column totals are published (and, with
    `row_totals`, each row's total across `counts`). `derived` maps a rate or share column to the
    count it is computed from, so it is hidden with it."""
    values = frame[counts].fillna(0).to_numpy(dtype=float)
    hidden = (values > 0) & (values < threshold)
    primary = int(hidden.sum())
    total_hidden = {c: False for c in counts}
    row_total_hidden = [False] * len(values)
    changed = True
    while changed:
        before = hidden.copy()
        for j, column in enumerate(counts):
            line = hidden[:, j].copy()
            if not _protect_line(values[:, j], line, threshold):
                total_hidden[column] = True
            hidden[:, j] = line
        if row_totals and len(counts) > 1:
            for i in range(len(values)):
                line = hidden[i, :].copy()
                if not _protect_line(values[i, :], line, threshold):
                    row_total_hidden[i] = True
                hidden[i, :] = line
        changed = not np.array_equal(before, hidden)
    out = frame.copy().astype(object)
    mask = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for j, column in enumerate(counts):
        out.loc[hidden[:, j], column] = HIDDEN
        mask.loc[hidden[:, j], column] = True
    for rate, source in (derived or {}).items():
        out.loc[mask[source], rate] = HIDDEN
        mask.loc[mask[source], rate] = True
    return Controlled(
        out, mask, threshold, primary, int(hidden.sum()) - primary, total_hidden, row_total_hidden
    )


def recoverable(values: list[float | None], total: float | None) -> bool:
    """Whether a line's hidden cells could be worked out from its shown total: true when
    exactly one is hidden (the scanner's test for a published table)."""
    if total is None:
        return False
    return sum(v is None for v in values) == 1
