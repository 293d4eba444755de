"""Disclosure control: no small count shown, and no hidden count recoverable from a total."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from svduty.disclosure import control, recoverable


def _shown_counts(controlled, column):
    return [v for v in controlled.values[column] if v is not None]


def test_small_counts_are_hidden_and_zero_is_shown():
    frame = pd.DataFrame({"area": list("abcde"), "count": [0, 3, 12, 40, 7]})
    result = control(frame, ["count"], threshold=5)
    assert list(result.values["count"]) == [0, None, 12, 40, None]  # 7 protects 3
    assert (result.primary, result.secondary) == (1, 1)
    assert all(v == 0 or v >= 5 for v in _shown_counts(result, "count"))


def test_a_single_hidden_cell_gets_a_partner():
    frame = pd.DataFrame({"area": list("abcd"), "count": [2, 50, 30, 9]})
    result = control(frame, ["count"], threshold=5)
    hidden = [v is None for v in result.values["count"]]
    assert hidden == [True, False, False, True]  # 9 is the next smallest
    assert result.secondary == 1
    assert not recoverable(list(result.values["count"]), total=91)


def test_hidden_cells_adding_below_the_threshold_get_another():
    frame = pd.DataFrame({"area": list("abcd"), "count": [1, 2, 30, 8]})
    result = control(frame, ["count"], threshold=5)
    assert [v is None for v in result.values["count"]] == [True, True, False, True]


def test_rates_are_hidden_with_their_counts():
    frame = pd.DataFrame({"area": list("abc"), "count": [3, 40, 4], "rate": [0.3, 4.0, 0.4]})
    result = control(frame, ["count"], threshold=5, derived={"rate": "count"})
    assert list(result.values["rate"]) == [None, 4.0, None]


@pytest.mark.parametrize("seed", range(40))
def test_random_two_way_tables_leave_nothing_recoverable(seed):
    """Rows and columns both add to published totals: check every line of the result."""
    rng = np.random.default_rng(seed)
    values = rng.choice(
        [0, 1, 2, 3, 4, 6, 9, 15, 40],
        size=(6, 4),
        p=[0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.1],
    )
    frame = pd.DataFrame(values, columns=list("wxyz"))
    result = control(frame, list("wxyz"), threshold=5, row_totals=True)
    shown = result.values[list("wxyz")]
    for column in "wxyz":
        cells = list(shown[column])
        assert all(v is None or v == 0 or v >= 5 for v in cells)
        if not result.total_hidden[column]:
            assert not recoverable(cells, total=float(values[:, "wxyz".index(column)].sum()))
            hidden_sum = sum(
                values[i, "wxyz".index(column)] for i, v in enumerate(cells) if v is None
            )
            assert hidden_sum == 0 or hidden_sum >= 5
    for i in range(len(values)):
        if not result.row_total_hidden[i]:
            assert not recoverable(list(shown.iloc[i]), total=float(values[i].sum()))


def test_every_possible_single_recovery_is_blocked_exhaustively():
    """All 1-D tables of four cells from a small alphabet: no shown total reveals a cell."""
    for cells in itertools.product([0, 1, 3, 5, 8], repeat=4):
        frame = pd.DataFrame({"count": cells})
        result = control(frame, ["count"], threshold=5)
        shown = list(result.values["count"])
        if not result.total_hidden["count"]:
            assert not recoverable(shown, float(sum(cells))), cells
