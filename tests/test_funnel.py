"""Funnel plots: limits and labels against values computed here, with a direct Wilson formula
for proportions, scipy's chi-square for exact Poisson rates, and Spiegelhalter's
overdispersion worked through step by step."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import chi2, norm

from svduty.errors import InputError
from svduty.measures.charts import funnel_figure, render
from svduty.measures.funnel import funnel, read_areas

ALL_LABELS = {"High (0.001)", "High (0.025)", "Not significant", "Low (0.025)", "Low (0.001)"}
Z = {0.025: norm.ppf(0.975), 0.001: norm.ppf(0.999)}


def areas(seed: int, count: int, rate: float, spread: float, sizes: tuple[int, int]):
    """Areas whose true rates scatter around `rate` by up to `spread` either way."""
    rng = np.random.default_rng(seed)
    n = rng.integers(*sizes, size=count)
    true = rate * (1 + rng.uniform(-spread, spread, size=count))
    x = rng.binomial(n, np.clip(true, 0, 1))
    return [f"Area {k:02d}" for k in range(count)], [int(v) for v in x], [float(v) for v in n]


def wilson_bounds(x: float, n: float, z: float) -> tuple[float, float]:
    root = z * math.sqrt(z**2 + 4 * x * (1 - x / n))
    return (2 * x + z**2 - root) / (2 * (n + z**2)), (2 * x + z**2 + root) / (2 * (n + z**2))


def label(bounds: dict[float, tuple[float, float]], expected: float) -> str:
    """Fingertips' label from an area's own intervals (by tail area) and the baseline."""
    for tail in (0.001, 0.025):
        if bounds[tail][0] > expected:
            return f"High ({tail})"
        if bounds[tail][1] < expected:
            return f"Low ({tail})"
    return "Not significant"


# proportions


def test_proportion_labels_follow_each_areas_wilson_interval():
    names, x, n = areas(seed=4, count=60, rate=0.2, spread=0.45, sizes=(200, 6000))
    p0 = sum(x) / sum(n)
    result = funnel(names, x, n, kind="proportion")
    expected = []
    for xi, ni in zip(x, n, strict=True):
        expected.append(label({t: wilson_bounds(xi, ni, z) for t, z in Z.items()}, p0))
    assert result.frame["significance"].tolist() == expected
    assert set(expected) == ALL_LABELS
    assert result.baseline == pytest.approx(100 * p0)
    assert result.frame["value"].tolist() == pytest.approx(
        [100 * a / b for a, b in zip(x, n, strict=True)]
    )


def test_a_proportion_limit_is_where_the_wilson_interval_touches_the_baseline():
    names, x, n = areas(seed=4, count=60, rate=0.2, spread=0.45, sizes=(200, 6000))
    p0 = sum(x) / sum(n)
    frame = funnel(names, x, n, kind="proportion").frame
    for row in frame.itertuples():
        for tail, name in ((0.025, "95"), (0.001, "998")):
            upper = getattr(row, f"upper_{name}") / 100
            lower = getattr(row, f"lower_{name}") / 100
            assert wilson_bounds(upper * row.denominator, row.denominator, Z[tail])[0] == (
                pytest.approx(p0, rel=1e-9)
            )
            assert wilson_bounds(lower * row.denominator, row.denominator, Z[tail])[1] == (
                pytest.approx(p0, rel=1e-9)
            )
        assert row.lower_998 < row.lower_95 < row.baseline < row.upper_95 < row.upper_998


# rates


def exact(count: int, tail: float) -> tuple[float, float]:
    low = 0.0 if count == 0 else chi2.ppf(tail, 2 * count) / 2
    return low, chi2.ppf(1 - tail, 2 * count + 2) / 2


def exact_label(count: int, denominator: float, p0: float) -> str:
    return label({tail: exact(count, tail) for tail in Z}, p0 * denominator)


def test_rate_labels_follow_each_areas_exact_poisson_interval():
    names, x, n = areas(seed=11, count=60, rate=0.004, spread=0.6, sizes=(800, 40000))
    p0 = sum(x) / sum(n)
    result = funnel(names, x, n, kind="rate", multiplier=100000)
    expected = []
    for xi, ni in zip(x, n, strict=True):
        expected.append(exact_label(xi, ni, p0))
    assert result.frame["significance"].tolist() == expected
    assert set(expected) == ALL_LABELS
    assert min(x) < 10  # small counts, where the exact interval matters
    assert result.baseline == pytest.approx(100000 * p0)


def test_rate_labels_hold_at_every_small_count_either_side_of_each_limit():
    n = [float(size) for size in (500, 1000, 2000, 5000) for _ in range(31)]
    x = [count for _ in range(4) for count in range(31)]
    result = funnel([f"A{k}" for k in range(len(n))], x, n, kind="rate")
    p0 = sum(x) / sum(n)
    expected = []
    for xi, ni in zip(x, n, strict=True):
        expected.append(exact_label(xi, ni, p0))
    assert result.frame["significance"].tolist() == expected
    value, frame = result.frame["value"], result.frame
    assert ((value > frame["upper_95"]) == frame["significance"].str.startswith("High")).all()
    assert ((value < frame["lower_95"]) == frame["significance"].str.startswith("Low")).all()


def test_a_rate_limit_is_the_count_whose_exact_interval_touches_the_expected_count():
    names, x, n = areas(seed=11, count=60, rate=0.004, spread=0.6, sizes=(800, 40000))
    p0 = sum(x) / sum(n)
    frame = funnel(names, x, n, kind="rate", multiplier=1000).frame
    for row in frame.itertuples():
        expected = p0 * row.denominator
        for tail, name in ((0.025, "95"), (0.001, "998")):
            upper = getattr(row, f"upper_{name}") / 1000 * row.denominator
            lower = getattr(row, f"lower_{name}") / 1000 * row.denominator
            assert chi2.ppf(tail, 2 * upper) / 2 == pytest.approx(expected, rel=1e-7)
            if lower > 0:
                assert chi2.ppf(1 - tail, 2 * lower + 2) / 2 == pytest.approx(expected, rel=1e-7)
            else:  # not even zero events would be low
                assert chi2.ppf(1 - tail, 2) / 2 > expected


def test_the_default_multipliers_are_said():
    names, x, n = areas(seed=1, count=5, rate=0.1, spread=0.2, sizes=(500, 900))
    proportion = funnel(names, x, n, kind="proportion")
    rate = funnel(names, x, n, kind="rate")
    assert proportion.multiplier == 100 and rate.multiplier == 1000
    assert any("per cent" in note for note in proportion.notes)
    assert any("per 1,000" in note for note in rate.notes)
    assert funnel(names, x, n, kind="rate", multiplier=100000).notes == ()


# overdispersion


def spiegelhalter(kind: str, x: list[int], n: list[float]) -> tuple[float, float]:
    xs, ns = np.array(x, float), np.array(n, float)
    p0 = xs.sum() / ns.sum()
    if kind == "proportion":
        y, target, s = np.arcsin(np.sqrt(xs / ns)), np.arcsin(np.sqrt(p0)), 0.5 / np.sqrt(ns)
    else:
        e = p0 * ns
        y, target, s = np.sqrt(xs / e), 1.0, 0.5 / np.sqrt(e)
    z = (y - target) / s
    ten, ninety = np.percentile(z, [10, 90])
    phi = float(np.mean(np.minimum(np.maximum(z, ten), ninety) ** 2))
    w = 1 / s**2
    k = len(z)
    tau2 = max(0.0, (k * phi - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return phi, float(tau2)


@pytest.mark.parametrize("kind", ["proportion", "rate"])
def test_overdispersion_widens_the_limits_by_tau2(kind):
    names, x, n = areas(seed=7, count=40, rate=0.05, spread=0.5, sizes=(2000, 20000))
    p0 = sum(x) / sum(n)
    phi, tau2 = spiegelhalter(kind, x, n)
    assert tau2 > 0
    result = funnel(names, x, n, kind=kind, multiplier=100, overdispersion=True)
    assert result.overdispersion is not None
    assert result.overdispersion.phi == pytest.approx(phi)
    assert result.overdispersion.tau2 == pytest.approx(tau2)
    assert any("limits widened" in note for note in result.notes)
    plain = funnel(names, x, n, kind=kind, multiplier=100)
    labels = []
    for row, unadjusted in zip(result.frame.itertuples(), plain.frame.itertuples(), strict=True):
        s = 0.5 / math.sqrt(row.denominator if kind == "proportion" else p0 * row.denominator)
        limits = {}
        for tail, z in Z.items():
            spread = z * math.sqrt(s**2 + tau2)
            if kind == "proportion":
                target = math.asin(math.sqrt(p0))
                low = math.sin(max(target - spread, 0)) ** 2
                high = math.sin(min(target + spread, math.pi / 2)) ** 2
            else:
                low, high = p0 * max(1 - spread, 0) ** 2, p0 * (1 + spread) ** 2
            limits[tail] = (100 * low, 100 * high)
        assert row.lower_95 == pytest.approx(limits[0.025][0])
        assert row.upper_998 == pytest.approx(limits[0.001][1])
        assert row.upper_998 - row.lower_998 > unadjusted.upper_998 - unadjusted.lower_998
        labels.append(_by_limits(row.value, limits))
    assert result.frame["significance"].tolist() == labels
    assert (result.frame["significance"] != "Not significant").sum() < (
        plain.frame["significance"] != "Not significant"
    ).sum()


def _by_limits(value: float, limits: dict[float, tuple[float, float]]) -> str:
    for tail in (0.001, 0.025):
        if value > limits[tail][1]:
            return f"High ({tail})"
        if value < limits[tail][0]:
            return f"Low ({tail})"
    return "Not significant"


def test_no_overdispersion_leaves_the_limits_and_says_so():
    n = [1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0]
    x = [100, 200, 300, 400, 500, 600]  # every area exactly at the baseline
    phi, tau2 = spiegelhalter("proportion", x, n)
    assert phi == 0 and tau2 == 0
    result = funnel([f"A{k}" for k in range(6)], x, n, kind="proportion", overdispersion=True)
    plain = funnel([f"A{k}" for k in range(6)], x, n, kind="proportion")
    assert result.overdispersion is not None and not result.overdispersion.widened
    assert any("limits not widened" in note for note in result.notes)
    assert result.frame["upper_998"].tolist() == plain.frame["upper_998"].tolist()


# inputs


@pytest.mark.parametrize(
    ("rows", "kind", "message"),
    [
        ("B,12,10", "proportion", "line 3, column 'numerator': 12 is more"),
        ("B,-1,10", "rate", "line 3, column 'numerator': '-1' is not a whole"),
        ("B,2.5,10", "rate", "line 3, column 'numerator': '2.5' is not a whole"),
        ("B,1,0", "rate", "line 3, column 'denominator': 0 is not above zero"),
        ("A,1,10", "rate", "line 3, column 'area': 'A' is also on line 2"),
        (",1,10", "rate", "line 3, column 'area': empty"),
    ],
)
def test_a_bad_areas_file_is_named_with_its_line_and_column(tmp_path, rows, kind, message):
    path = tmp_path / "areas.csv"
    path.write_text(f"area,numerator,denominator\nA,5,10\n{rows}\n")
    with pytest.raises(InputError) as caught:
        read_areas(path, kind)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)


def test_an_areas_file_needs_its_three_columns(tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text("area,count,denominator\nA,5,10\n")
    with pytest.raises(InputError, match="line 1: no column 'numerator'"):
        read_areas(path, "rate")


def test_a_funnel_needs_areas_and_events():
    with pytest.raises(InputError, match="at least two"):
        funnel(["A"], [1], [10.0], kind="rate")
    with pytest.raises(InputError, match="every numerator is zero"):
        funnel(["A", "B"], [0, 0], [10.0, 20.0], kind="rate")
    with pytest.raises(InputError, match="at least three areas"):
        funnel(["A", "B"], [1, 2], [10.0, 20.0], kind="rate", overdispersion=True)


def test_json_and_png_carry_the_funnel():
    names, x, n = areas(seed=7, count=40, rate=0.05, spread=0.5, sizes=(2000, 20000))
    result = funnel(names, x, n, kind="proportion", overdispersion=True)
    data = json.loads(result.json())
    assert data["overdispersion"]["limits_widened"] is True
    assert [a["significance"] for a in data["areas"]] == result.frame["significance"].tolist()
    assert render(funnel_figure(result, "Knife crime"), "png")[:8] == b"\x89PNG\r\n\x1a\n"
