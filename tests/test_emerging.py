"""Emerging hotspots: the space-time Gi* against esda on the explicit space-time weights, the
Mann-Kendall test against scipy's Kendall tau, the patterns against ArcGIS's definitions read
one by one, and planted patterns found in a generated cube and through the store."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from esda import G_Local
from libpysal.weights import WSP
from scipy import stats
from test_cli import svduty

from svduty.errors import InputError
from svduty.spatial.emerging import (
    KINDS,
    classify_cube,
    emerging_hotspots,
    mann_kendall,
    pattern,
    period_label,
    space_time_gi_star,
    space_time_weights,
)
from svduty.spatial.gistar import queen
from svduty.spatial.grid import cell_expr, located, make_grid
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.workspace import Workspace


@pytest.fixture(scope="module")
def extract_workspace(tmp_path_factory):
    """Two years of a generated extract, made and ingested through the command line."""
    root = tmp_path_factory.mktemp("emerging")
    generate(load_profile("west-mercia"), root / "syn", scale=0.05, years=2, seed=8)
    assert svduty("init", str(root / "ws"), "--example").returncode == 0
    files, mappings = synthetic_files(root / "syn")
    args = [str(f) for f in files] + [a for m in mappings for a in ("--mapping", str(m))]
    assert svduty("ingest", "-w", str(root / "ws"), *args).returncode == 0
    return root / "ws"


@pytest.fixture
def extract(extract_workspace):
    ws = Workspace.open(extract_workspace)
    yield ws
    ws.close()


@pytest.mark.parametrize("time_steps", [0, 1, 3])
def test_space_time_gi_star_equals_esda_on_the_space_time_weights(time_steps):
    grid = make_grid((0, 0, 89, 69), 10)  # 9 x 7 cells
    periods = 8
    cube = np.random.default_rng(time_steps).poisson(1.5, (periods, grid.cells)).astype(float)
    w = space_time_weights(queen(grid), periods, time_steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        esda = G_Local(cube.ravel(), WSP(w).to_W(silence_warnings=True), "B", 0, star=True)
    ours = space_time_gi_star(cube, queen(grid), time_steps)
    np.testing.assert_allclose(ours.ravel(), esda.Zs, atol=1e-9)


def test_mann_kendall_equals_scipy_kendall_tau():
    rng = np.random.default_rng(3)
    series = np.round(rng.normal(size=(15, 200)), 1)  # rounding makes ties
    series[:, 0] = 2.0  # a constant series: no trend, p = 1
    series[:, 1] = np.arange(15)  # a perfect rise
    trend = mann_kendall(series, continuity=False)
    brute = [
        sum(np.sign(series[j, c] - series[i, c]) for i in range(15) for j in range(i + 1, 15))
        for c in range(200)
    ]
    np.testing.assert_array_equal(trend.s, brute)
    for c in range(2, 200):
        tau, p = stats.kendalltau(np.arange(15), series[:, c], method="asymptotic")
        assert trend.tau[c] == pytest.approx(tau, abs=1e-12)
        assert trend.p_value[c] == pytest.approx(p, abs=1e-12)
    assert trend.p_value[0] == 1 and trend.tau[0] == 0
    assert trend.tau[1] == 1
    corrected = mann_kendall(series)
    shrunk = np.maximum(np.abs(trend.s) - 1, 0)  # S = 0 stays 0: p = 1
    expected = 2 * stats.norm.sf(shrunk[1:] / np.sqrt(trend.variance[1:]))
    np.testing.assert_allclose(corrected.p_value[1:], expected)
    assert (corrected.p_value >= trend.p_value).all()


def _arcgis(name: str, hot, cold, tau: float, p: float, alpha: float = 0.05) -> bool:
    """ArcGIS Pro's definition of each hot pattern, read literally, one predicate each."""
    n, share = len(hot), hot.sum() / len(hot)
    last = hot[-1]
    trend_up, trend_down = p <= alpha and tau > 0, p <= alpha and tau < 0
    run = 0
    while run < n and hot[n - 1 - run]:
        run += 1
    before = slice(0, n - run)
    return {
        "new": last and hot.sum() == 1,
        "consecutive": last and run >= 2 and not hot[before].any() and share < 0.9,
        "intensifying": share >= 0.9 and last and trend_up,
        "persistent": share >= 0.9 and not trend_up and not trend_down,
        "diminishing": share >= 0.9 and last and trend_down,
        "sporadic": last and share < 0.9 and not cold.any(),
        "oscillating": last and share < 0.9 and cold.any(),
        "historical": not last and share >= 0.9,
    }[name]


@pytest.mark.parametrize("trend", [(0.5, 0.01), (-0.5, 0.01), (0.1, 0.6)])
def test_every_pattern_meets_its_arcgis_definition(trend):
    """All 3^10 histories of ten periods (hot, cold or neither; ten, so that 90% of them can
    exclude the last): the pattern given meets ArcGIS's definition of it, 'no pattern' goes only
    to cells that meet none, and every pattern the trend allows occurs."""
    tau, p = trend
    seen = set()
    for history in itertools.product((1, -1, 0), repeat=10):
        states = np.array(history)
        hot, cold = states == 1, states == -1
        given = pattern(hot, cold, tau, p, 0.05)
        seen.add(given)
        if given == "no pattern detected":
            assert not any(_arcgis(k, hot, cold, tau, p) for k in KINDS), history
            assert not any(_arcgis(k, cold, hot, -tau, p) for k in KINDS), history
            continue
        name, kind = given.split(" ", 1)
        this, other, sign = (hot, cold, 1) if kind == "hot spot" else (cold, hot, -1)
        assert _arcgis(name, this, other, sign * tau, p), (history, given)
    # six per kind: a significant trend rules out persistent and one of intensifying/diminishing
    # (the other for cold spots); no trend rules out both
    assert len(seen - {"no pattern detected"}) == 12


def test_planted_patterns_are_found_in_a_generated_cube():
    grid = make_grid((0, 0, 399, 399), 10)  # 40 x 40 cells
    periods = 12
    rng = np.random.default_rng(11)
    cube = rng.poisson(1.0, (periods, grid.cells)).astype(float)
    ids = np.arange(grid.cells).reshape(40, 40)
    persistent, intensifying, new, historical = ids[5, 5], ids[5, 30], ids[30, 5], ids[30, 30]

    def plant(cell, counts):
        row, column = divmod(cell, 40)
        for dr, dc in itertools.product((-1, 0, 1), repeat=2):
            cube[:, ids[row + dr, column + dc]] += counts

    plant(persistent, np.full(periods, 6.0))
    plant(intensifying, np.linspace(4, 15, periods))
    plant(new, np.r_[np.zeros(periods - 1), 12.0])
    plant(historical, np.r_[np.full(periods - 1, 8.0), 0.0])
    result = classify_cube(cube, queen(grid), 0, 0.05)
    found = dict(enumerate(result.patterns))
    assert found[persistent] == "persistent hot spot"
    assert found[intensifying] == "intensifying hot spot"
    assert found[new] == "new hot spot"
    assert found[historical] == "historical hot spot"
    background = np.setdiff1d(ids[15:25, 15:25].ravel(), [])
    assert {found[c] for c in background} == {"no pattern detected"}


def test_period_labels():
    april_2024 = 2024 * 12 + 3
    assert period_label(april_2024, "month") == "2024-04"
    assert period_label((april_2024 - 3) // 3, "quarter") == "2024/25 Q1"
    assert period_label((april_2024 - 3) // 3 + 3, "quarter") == "2024/25 Q4"
    assert period_label((april_2024 - 3) // 12, "year") == "2024/25"


def test_emerging_cube_counts_equal_plain_binning(extract):
    ws = extract
    result = emerging_hotspots(ws.store, period="quarter", cell_size=2000)
    t = located(ws.store)
    frame = t.select(cell=cell_expr(t, result.grid), month=t.month.cast("string")).to_pandas()
    month = pd.to_datetime(frame["month"])
    index = month.dt.year * 12 + month.dt.month - 1
    quarter = (index - 3) // 3
    labels = quarter.map(lambda q: period_label(int(q), "quarter"))
    inside = labels.isin(result.periods)
    counts = frame[inside].groupby("cell").size()
    by_cell = result.frame.set_index("cell_id")["count"]
    assert by_cell[by_cell > 0].sort_index().to_dict() == counts.sort_index().to_dict()
    # only complete quarters: each has three months of data
    months = month[inside].dt.strftime("%Y-%m").groupby(labels[inside]).nunique()
    assert (months == 3).all()
    assert len(result.z) == len(result.periods) * result.frame["in_area"].sum()


def test_too_few_periods_are_refused(extract):
    with pytest.raises(InputError, match="complete years"):
        emerging_hotspots(extract.store, period="year")


def test_emerging_hotspots_command(extract_workspace, tmp_path):
    where = str(extract_workspace)
    out = tmp_path / "emerging.png"
    done = svduty(
        "emerging-hotspots", "-w", where, "--period", "month", "--format", "png", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "24 complete months" in done.stderr and "Mann-Kendall" in done.stderr
    done = svduty("emerging-hotspots", "-w", where, "--cell-size", "3000")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "cell_id,x,y,in_area,count,hot_periods,cold_periods,last_z,trend_tau,trend_p,pattern"
    )
    done = svduty("emerging-hotspots", "-w", where, "--periods", "--format", "png")
    assert done.returncode != 0 and "--out" in done.stderr
