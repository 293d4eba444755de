"""Disclosure control: no small count shown, and no hidden count recoverable from a total,
within a table, along a hierarchy (months in their year) and across the reports of a set."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from svduty.publish import Draft, Policy, publish
from svduty.publish.tables import Parent, Table


def _one(frame: pd.DataFrame, counts: list[str], threshold: int = 5, **kw) -> pd.DataFrame:
    table = Table("t", "t", frame, [frame.columns[0]], counts, **kw)
    return publish([Draft("area", [table])], Policy(threshold))[0].table("t", "t")


def _safe_line(values: list[float], shown: list, threshold: int) -> bool:
    """A line whose total is shown: no hidden cell alone, hidden cells adding to the threshold."""
    hidden = [v for v, s in zip(values, shown, strict=True) if s is None]
    return not hidden or (len(hidden) >= 2 and sum(hidden) >= threshold)


def test_small_counts_are_hidden_and_zero_is_shown():
    frame = pd.DataFrame({"area": list("abcde"), "count": [0, 3, 12, 40, 7]})
    shown = _one(frame, ["count"])
    assert list(shown["count"]) == [0, None, 12, 40, None]  # 7 protects 3


def test_a_single_hidden_cell_gets_its_smallest_partner():
    frame = pd.DataFrame({"area": list("abcd"), "count": [2, 50, 30, 9]})
    assert [v is None for v in _one(frame, ["count"])["count"]] == [True, False, False, True]


def test_hidden_cells_adding_below_the_threshold_get_another():
    frame = pd.DataFrame({"area": list("abcd"), "count": [1, 2, 30, 8]})
    assert [v is None for v in _one(frame, ["count"])["count"]] == [True, True, False, True]


def test_rates_are_hidden_with_their_counts():
    frame = pd.DataFrame({"area": list("abc"), "count": [3, 40, 4], "rate": [0.3, 4.0, 0.4]})
    shown = _one(frame, ["count"], derived={"rate": ["count"]})
    assert list(shown["rate"]) == [None, 4.0, None]


def test_internal_policy_hides_nothing_and_is_marked():
    frame = pd.DataFrame({"area": list("abc"), "count": [3, 40, 4]})
    table = Table("t", "t", frame, ["area"], ["count"])
    internal = publish([Draft("area", [table])], Policy(5, internal=True))[0]
    assert list(internal.table("t", "t")["count"]) == [3, 40, 4]
    assert internal.provenance["marking"] == "NOT FOR PUBLICATION"


@pytest.mark.parametrize("seed", range(40))
def test_random_two_way_tables_leave_no_line_unsafe(seed):
    """Rows and columns both add to published totals: check every line of the result."""
    rng = np.random.default_rng(seed)
    values = rng.choice(
        [0, 1, 2, 3, 4, 6, 9, 15, 40],
        size=(6, 4),
        p=[0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.1],
    )
    frame = pd.DataFrame(values, columns=list("wxyz"))
    frame.insert(0, "row", [f"r{i}" for i in range(6)])
    shown = _one(frame, list("wxyz"), row_total="row_totals")
    for j, column in enumerate("wxyz"):
        cells = list(shown[column])
        assert all(v is None or v == 0 or v >= 5 for v in cells)
        if sum(values[:, j]) >= 5:
            assert _safe_line(list(values[:, j]), cells, 5)
    for i in range(6):
        if sum(values[i]) >= 5:
            assert _safe_line(list(values[i]), list(shown.iloc[i, 1:]), 5)


def test_every_single_line_of_four_cells_is_protected_exhaustively():
    """All 1-D tables of four cells from a small alphabet: a shown total reveals no cell."""
    for cells in itertools.product([0, 1, 3, 5, 8], repeat=4):
        frame = pd.DataFrame({"k": list("abcd"), "count": cells})
        shown = list(_one(frame, ["count"])["count"])
        if sum(cells) >= 5:
            assert _safe_line(list(cells), shown, 5), cells


def test_a_hidden_month_is_protected_within_its_year():
    """Months add up to their financial year's published count: one hidden month per year
    would be the year less the others."""
    months = pd.DataFrame(
        {
            "month": ["a1", "a2", "a3", "b1", "b2", "b3"],
            "year": list("aaabbb"),
            "count": [3, 40, 50, 30, 20, 60],
        }
    )
    years = pd.DataFrame({"year": ["a", "b"], "count": [93, 110]})
    tables = [
        Table("t", "years", years, ["year"], ["count"], total="all"),
        Table(
            "t", "months", months, ["month"], ["count"], total="all", parent=Parent("years", "year")
        ),
    ]
    pub = publish([Draft("area", tables)], Policy(5))[0]
    shown = list(pub.table("t", "months")["count"])
    assert shown[0] is None and sum(v is None for v in shown[:3]) >= 2


def test_reports_of_a_set_are_controlled_together():
    """The whole area is the sum of its CSPs: a CSP's hidden cell must not be the area's cell
    less the other CSPs' shown cells."""

    def draft(name: str, counts: list[int]) -> Draft:
        frame = pd.DataFrame({"month": ["m1", "m2", "m3"], "count": counts})
        return Draft(name, [Table("t", "monthly", frame, ["month"], ["count"])])

    a, b = [3, 40, 41], [50, 60, 70]
    area = [x + y for x, y in zip(a, b, strict=True)]
    pubs = publish([draft("area", area), draft("A", a), draft("B", b)], Policy(5))
    shown = {p.id: list(p.table("t", "monthly")["count"]) for p in pubs}
    assert shown["A"][0] is None
    # m1: area = A + B; with A hidden, the area or B must be hidden too
    assert shown["area"][0] is None or shown["B"][0] is None


def test_a_district_report_is_controlled_alone_and_its_total_is_not_taken_as_known():
    """A district's report is a set of its own. The whole area's and a CSP's total is stated in
    words, so it is known to a reader: where it is small too, the hidden months are that total
    less the shown zero, and control can protect them by nothing it hides (reported as
    unprotected). A district's total is not stated, so a district of few incidents leaves
    nothing to work out."""
    frame = pd.DataFrame({"month": ["m1", "m2", "m3"], "count": [2, 1, 0]})

    def published(provenance: dict):
        table = Table("t", "monthly", frame, ["month"], ["count"], total="selection")
        return publish([Draft("A1", [table], provenance)], Policy(5))[0]

    as_csp, as_district = published({"csp": "A"}), published({"csp": "A", "district": "A1"})
    for pub in (as_csp, as_district):
        assert list(pub.table("t", "monthly")["count"]) == [None, None, 0]
    assert as_csp.unprotected == 2
    assert as_district.unprotected == 0


def _interval(equations: list[tuple[dict[int, int], float]], n: int, j: int) -> tuple[int, int]:
    """The reader's least and largest whole value of unknown `j` (unknowns at least 1)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    a = np.zeros((len(equations), n))
    b = np.zeros(len(equations))
    for i, (coefficients, rhs) in enumerate(equations):
        for k, c in coefficients.items():
            a[i, k] = c
        b[i] = rhs
    ends = []
    for sign in (1, -1):
        objective = np.zeros(n)
        objective[j] = sign
        found = milp(
            objective,
            constraints=LinearConstraint(a, b, b),
            integrality=np.ones(n),
            bounds=Bounds(np.ones(n), np.full(n, 10_000.0)),
        )
        ends.append(round(sign * found.fun))
    return ends[0], ends[1]


def _two_way_intervals(values: np.ndarray, shown: np.ndarray) -> list[tuple[int, int]]:
    """A reader's intervals for the hidden cells of a table whose row and column totals are
    published, written from the published table alone."""
    hidden = [
        (i, j)
        for i in range(values.shape[0])
        for j in range(values.shape[1])
        if shown[i][j] is None
    ]
    index = {cell: k for k, cell in enumerate(hidden)}
    equations = []
    for cells in [[(i, j) for j in range(values.shape[1])] for i in range(values.shape[0])] + [
        [(i, j) for i in range(values.shape[0])] for j in range(values.shape[1])
    ]:
        unknown = {index[c]: 1 for c in cells if c in index}
        if unknown:
            total = sum(values[c] for c in cells)
            equations.append(
                (unknown, total - sum(shown[i][j] for i, j in cells if (i, j) not in index))
            )
    return [_interval(equations, len(hidden), k) for k in range(len(hidden))]


def test_cells_each_line_protects_can_still_be_narrowed_and_the_audit_hides_more():
    """Four small cells in a square: every row and column hides two cells adding to 5, which
    each line alone allows, yet the four equations together pin each cell to 1 to 4. The audit
    sees it and hides more until every hidden cell spans at least the threshold."""
    values = np.array([[1, 4, 30], [4, 1, 40], [50, 60, 70]])
    square = [[None if v < 5 else v for v in row] for row in values.tolist()]
    assert all(_safe_line(list(values[i]), square[i], 5) for i in range(3))
    assert all(_safe_line(list(values[:, j]), [r[j] for r in square], 5) for j in range(3))
    assert min(high - low for low, high in _two_way_intervals(values, square)) < 5

    frame = pd.DataFrame(values, columns=list("xyz"))
    frame.insert(0, "row", ["a", "b", "c"])
    published = _one(frame, list("xyz"), row_total="row_totals")
    shown = [list(published.iloc[i, 1:]) for i in range(3)]
    intervals = _two_way_intervals(values, shown)
    assert len(intervals) > 4
    assert all(high - low >= 5 for low, high in intervals)
