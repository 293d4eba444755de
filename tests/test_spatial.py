"""Hotspots and near repeats checked against the libraries the field uses: Gi* z-scores against
esda's G_Local (to 1e-9), Knox counts against pointpats (exactly), banded counts and permutation
p-values against brute force over the same inputs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import make_workspace
from esda import G_Local, fdr
from libpysal.weights import DistanceBand, lat2W
from pointpats import Knox
from scipy import sparse
from test_cli import svduty

from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.spatial.gistar import _sample, distance_band, gi_star, queen
from svduty.spatial.grid import check_bng, extent, grid_counts, located, make_grid, nice_size
from svduty.spatial.hotspots import hotspots, near_repeat
from svduty.spatial.kde import kde
from svduty.spatial.knox import knox
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile


def _esda(values, w, **options):
    """In this process (`n_jobs=1`): esda's permutations then compile their numba code once,
    shared with the spatial benchmark's, not once in each worker of a process pool."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return G_Local(values, w, transform="B", star=True, n_jobs=1, **options)


@pytest.fixture(scope="module")
def open_data(tmp_path_factory, west_mercia):
    from svduty.example import WEST_MERCIA
    from svduty.workspace import Workspace

    ws = Workspace.init(tmp_path_factory.mktemp("spatial") / "ws", WEST_MERCIA)
    ingest(ws, [west_mercia / "2025-01", west_mercia / "2025-02"])
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    from svduty.example import WEST_MERCIA
    from svduty.workspace import Workspace

    root = tmp_path_factory.mktemp("extract")
    generate(load_profile("west-mercia"), root / "syn", scale=0.1, seed=4)
    files, mappings = synthetic_files(root / "syn")
    ws = Workspace.init(root / "ws", WEST_MERCIA)
    ingest(ws, files, mappings=mappings)
    yield ws
    ws.close()


@pytest.mark.parametrize("shape", [(7, 9), (40, 55)])
def test_gi_star_z_equals_esda_on_a_generated_lattice(shape):
    rows, columns = shape
    grid = make_grid((0, 0, columns * 10 - 1, rows * 10 - 1), 10)
    assert (grid.rows, grid.columns) == shape
    values = np.random.default_rng(rows).poisson(2.0, grid.cells).astype(float)
    lattice = lat2W(rows, columns, rook=False)
    assert (queen(grid) != lattice.sparse).nnz == 0  # same neighbours, built independently
    ours = gi_star(values, queen(grid))
    np.testing.assert_allclose(ours.z, _esda(values, lattice, permutations=0).Zs, atol=1e-9)


def test_gi_star_z_equals_esda_on_real_counts(open_data):
    t = located(open_data.store)
    grid = make_grid(extent(t), 2000)
    counts = grid_counts(t, grid).values
    lattice = lat2W(grid.rows, grid.columns, rook=False)
    np.testing.assert_allclose(
        gi_star(counts, queen(grid)).z, _esda(counts, lattice, permutations=0).Zs, atol=1e-9
    )


def test_distance_band_weights_and_z_equal_libpysal_and_esda():
    grid = make_grid((0, 0, 249, 199), 10)
    values = np.random.default_rng(3).gamma(1.0, 2.0, grid.cells)
    x, y = grid.centres()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        band = DistanceBand(
            np.column_stack([x, y]), threshold=25, binary=True, silence_warnings=True
        )
    assert (distance_band(grid, 25) != band.sparse).nnz == 0
    np.testing.assert_allclose(
        gi_star(values, distance_band(grid, 25)).z,
        _esda(values, band, permutations=0).Zs,
        atol=1e-9,
    )


def test_permutation_p_values_equal_brute_force_over_the_same_draws():
    grid = make_grid((0, 0, 119, 89), 10)
    values = np.random.default_rng(8).poisson(1.5, grid.cells).astype(float)
    w = queen(grid)
    result = gi_star(values, w, permutations=199, seed=11)
    draws = _sample(np.random.default_rng(11), 199, grid.cells - 1, 8)
    k = np.diff(w.indptr)
    n = grid.cells
    neighbours = w @ values
    expected = k * (values.sum() - values) / (n - 1)
    for i in range(n):
        picked = draws[:, : k[i]]
        others = np.where(picked < i, picked, picked + 1)  # skip the focal cell
        sums = values[others].sum(axis=1)
        if neighbours[i] >= expected[i]:
            extreme = (sums >= neighbours[i]).sum()
        else:
            extreme = (sums <= neighbours[i]).sum()
        assert result.p_value[i] == pytest.approx((extreme + 1) / 200), i


def test_permutation_p_values_agree_with_esda_where_nothing_ties():
    grid = make_grid((0, 0, 299, 199), 10)
    values = np.random.default_rng(5).gamma(0.7, 3.0, grid.cells)  # continuous: no ties
    ours = gi_star(values, queen(grid), permutations=9999, seed=1)
    theirs = _esda(values, lat2W(grid.rows, grid.columns, rook=False), permutations=9999, seed=2)
    interesting = theirs.p_sim < 0.1
    assert interesting.sum() > 20
    # two independent Monte Carlo estimates: the standard error at p = 0.1 is 0.003
    assert np.abs(ours.p_value[interesting] - theirs.p_sim[interesting]).max() < 0.02


def test_fdr_matches_esda_cutoff():
    grid = make_grid((0, 0, 499, 499), 10)
    rng = np.random.default_rng(6)
    values = rng.poisson(1.0, grid.cells).astype(float)
    values[:300] += rng.poisson(4.0, 300)  # a real hot area in the south rows
    result = gi_star(values, queen(grid))
    cutoff = fdr(result.p_value, 0.05)
    assert set(np.flatnonzero(result.p_fdr <= 0.05)) == set(
        np.flatnonzero(result.p_value <= cutoff)
    )
    assert (result.p_fdr <= 0.05).sum() > 0
    assert "Benjamini-Hochberg" in result.method


def test_grid_counts_equal_plain_python_binning(open_data):
    t = located(open_data.store)
    grid = make_grid(extent(t), None)
    points = t.select("easting", "northing").to_pandas()
    expected = np.zeros(grid.cells)
    for e, n in zip(points["easting"], points["northing"], strict=True):
        expected[
            int((n - grid.y0) // grid.size) * grid.columns + int((e - grid.x0) // grid.size)
        ] += 1
    np.testing.assert_array_equal(grid_counts(t, grid).counts, expected)
    shorter = min(points["easting"].max() - points["easting"].min(),
                  points["northing"].max() - points["northing"].min())  # fmt: skip
    assert grid.size == nice_size(shorter / 50)
    assert "chosen automatically" in grid.announced and f"{grid.size:,.0f} m" in grid.announced


def test_harm_weighted_cells_sum_count_times_weight(extract, tmp_path):
    from svduty.analysis.severity import load_weights

    path = tmp_path / "w.csv"
    path.write_text("# source: test weights\noffence_code,weight\n8N,184\n5D,1965\n34B,746\n")
    weights = load_weights(path)
    t = located(extract.store)
    frame = t.select("offence_code").to_pandas()
    grid = make_grid(extent(t), 5000)
    binned = grid_counts(t, grid, weights.weights, weights.source)
    expected = frame["offence_code"].map(weights.weights).sum()
    assert binned.values.sum() == pytest.approx(expected)
    assert binned.unweighted_events == int(frame["offence_code"].map(weights.weights).isna().sum())


def test_kde_quartic_integrates_to_the_events_and_warns_on_narrow_bandwidth():
    rng = np.random.default_rng(2)
    x, y = rng.normal(50_000, 2_000, 500), rng.normal(50_000, 2_000, 500)
    grid = make_grid((40_000, 40_000, 60_000, 60_000), 50)
    density = kde(grid, x, y, bandwidth=1_000)
    assert density.values.sum() * (grid.size / 1000) ** 2 == pytest.approx(500, rel=0.01)
    assert not density.warnings
    narrow = kde(make_grid((40_000, 40_000, 60_000, 60_000), 500), x, y, bandwidth=300)
    assert "smaller than the cell size" in narrow.warnings[0]
    assert "chosen automatically" in kde(grid, x, y).announced


@pytest.mark.parametrize("kernel", ["quartic", "uniform", "triangular"])
def test_kde_is_the_kernel_sum_over_every_event_at_every_cell(kernel):
    """Against the definition, pair by pair: events sharing a place, weights, a bandwidth many
    cells wide and one narrower than a cell, events on the grid's edge."""
    rng = np.random.default_rng(4)
    x, y = np.round(rng.normal(50_000, 1_500, 400), -1), np.round(rng.normal(50_000, 1_500, 400))
    x[:100], y[:100] = x[100:200], y[100:200]
    weights = rng.uniform(0, 3, 400)
    for size, h in ((100, 750), (500, 300)):
        grid = make_grid((x.min(), y.min(), x.max(), y.max()), size)
        cx, cy = grid.centres()
        u = np.hypot(cx[:, None] - x, cy[:, None] - y) / h
        k = {
            "quartic": 3 / (np.pi * h**2) * (1 - u**2) ** 2,
            "uniform": np.full_like(u, 1 / (np.pi * h**2)),
            "triangular": 3 / (np.pi * h**2) * (1 - u),
        }[kernel]
        expected = np.where(u <= 1, k, 0) @ weights * 1e6
        found = kde(grid, x, y, weights, bandwidth=h, kernel=kernel).values
        assert found == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_kde_memory_stays_bounded_with_small_cells_and_a_wide_bandwidth():
    """Small cells under a wide bandwidth pair every event with thousands of cells: evaluated a
    bounded number of pairs at a time, not all at once (15 million pairs here)."""
    import tracemalloc

    rng = np.random.default_rng(6)
    x, y = rng.uniform(40_000, 60_000, 5_000), rng.uniform(40_000, 60_000, 5_000)
    grid = make_grid((40_000, 40_000, 60_000, 60_000), 100)
    tracemalloc.start()
    try:
        density = kde(grid, x, y, bandwidth=3_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6, f"{peak / 1e6:.0f} MB"
    inner = (np.abs(grid.centres()[0] - 50_000) < 5_000) & (
        np.abs(grid.centres()[1] - 50_000) < 5_000
    )
    assert density.values[inner].mean() == pytest.approx(5_000 / 400, rel=0.05)  # per km2


def test_coordinates_in_degrees_are_refused_naming_both_systems():
    with pytest.raises(InputError, match=r"EPSG:27700.*WGS84 degrees \(EPSG:4326\)"):
        check_bng(np.array([-2.2, -2.1]), np.array([52.1, 52.3]), "points.csv")


@pytest.mark.parametrize("tau", [0, 3, 10])
def test_knox_one_band_equals_pointpats_on_real_places(open_data, tau):
    points = located(open_data.store).select("easting", "northing").to_pandas()[:3000]
    x, y = points["easting"].to_numpy(), points["northing"].to_numpy()
    days = np.random.default_rng(tau).integers(0, 60, len(x)).astype(float)
    ours = knox(x, y, days, [0, 250], [0, tau] if tau else [0, 0.5], 9, seed=1)
    theirs = Knox(np.column_stack([x, y]), days[:, None], 250, tau if tau else 0.5, permutations=9)
    assert ours.table.iloc[0]["observed"] == theirs.nst
    assert ours.table["observed"].sum() == len(x) * (len(x) - 1) // 2


def test_banded_knox_counts_equal_brute_force():
    rng = np.random.default_rng(9)
    x, y = rng.uniform(0, 1000, 400).round(), rng.uniform(0, 1000, 400).round()
    days = rng.integers(0, 40, 400).astype(float)
    s_edges, t_edges = [0, 100, 200, 300], [0, 7, 14]
    result = knox(x, y, days, s_edges, t_edges, 19, seed=3)
    i, j = np.triu_indices(400, k=1)
    d = np.hypot(x[i] - x[j], y[i] - y[j])
    gap = np.abs(days[i] - days[j])

    def band(values, edges):  # first band closed at 0, then (a, b], then "more than"
        out = np.full(len(values), len(edges) - 1)
        for k in range(len(edges) - 2, -1, -1):
            out[values <= edges[k + 1]] = k
        return out

    expected = np.zeros((len(s_edges), len(t_edges)), dtype=int)
    np.add.at(expected, (band(d, s_edges), band(gap, t_edges)), 1)
    assert result.table["observed"].tolist() == expected.ravel().tolist()
    assert result.table["space_band"].iloc[len(t_edges)] == "(100, 200] m"
    assert result.table["time_band"].iloc[-1] == "more than 14 days"


def test_knox_finds_planted_near_repeats():
    rng = np.random.default_rng(12)
    x, y = rng.uniform(0, 20_000, 1500), rng.uniform(0, 20_000, 1500)
    days = rng.integers(0, 365, 1500).astype(float)
    x[1000:], y[1000:] = x[:500] + rng.normal(0, 30, 500), y[:500] + rng.normal(0, 30, 500)
    days[1000:] = days[:500] + rng.integers(1, 5, 500)
    result = knox(x, y, days, [0, 100, 200], [0, 7, 14], 99, seed=1)
    first = result.table.iloc[0]
    assert first["knox_ratio"] > 5 and first["p_value"] == 0.01


def test_near_repeat_refuses_open_data_and_says_why(open_data):
    with pytest.raises(InputError, match="open data gives only the month"):
        near_repeat(open_data.store)


def test_hotspots_one_row_per_cell_with_the_statistics(extract):
    result = hotspots(extract.store, permutations=99, seed=4, cell_size=3000)
    frame = result.frame
    assert len(frame) == result.grid.cells == frame["cell_id"].nunique()
    assert frame["count"].sum() == result.events
    assert (frame["count"] == 0).any()
    assert {"cell_id", "x", "y", "count", "gi_star_z", "p_value", "p_fdr", "class"} <= set(frame)
    assert any("FDR" in n or "false discovery" in n for n in result.notes)
    assert any("3,000 m" in n for n in result.notes)


def test_hotspots_and_near_repeat_commands(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-spatial")
    generate(load_profile("west-mercia"), root / "syn", scale=0.05, seed=6)
    files, mappings = synthetic_files(root / "syn")
    with make_workspace(root / "ws") as ws:  # as `init --example` and `ingest` make it
        ingest(ws, files, mappings=mappings)
    out = root / "h.csv"
    done = svduty("hotspots", "-w", str(root / "ws"), "--cell-size", "2500", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "2,500 m" in done.stderr and "Benjamini-Hochberg" in done.stderr
    header = out.read_text().splitlines()[0].split(",")
    assert header[:4] == ["cell_id", "x", "y", "count"]
    done = svduty("hotspots", "-w", str(root / "ws"), "--format", "geojson",
                  "--definition", "west-mercia-2022")  # fmt: skip

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    cells = json.loads(done.stdout, parse_constant=refuse)["features"]  # strict, as browsers read
    assert cells and cells[0]["geometry"]["type"] == "Polygon"
    outside = [c["properties"] for c in cells if not c["properties"]["in_area"]]
    assert outside and all(p["gi_star_z"] is None for p in outside)
    lon, lat = cells[0]["geometry"]["coordinates"][0][0]
    assert -4 < lon < -1 and 51 < lat < 53.5  # WGS84 for the dashboard
    png = root / "map.png"
    done = svduty("hotspots", "-w", str(root / "ws"), "--format", "png", "--out", str(png))
    assert done.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG"
    done = svduty("near-repeat", "-w", str(root / "ws"), "--seed", "1", "--format", "json")
    assert done.returncode == 0, done.stderr
    bands = json.loads(done.stdout)
    assert len(bands) == 25 and bands[0]["space_band"] == "[0, 100] m"


def test_queen_matrix_is_symmetric_and_binary():
    w = queen(make_grid((0, 0, 99, 59), 10))
    assert (w != w.T).nnz == 0 and set(np.unique(w.data)) == {1.0}
    assert sparse.csr_matrix.max(w) == 1.0


def test_example_boundaries_are_bundled():
    from svduty.reference.boundaries import districts

    shapes = districts()
    assert len(shapes) == 9 and all(not s.is_empty for s in shapes.values())


def test_spatial_benchmark_runs_every_comparison_and_agrees():
    from svduty.bench import bench_spatial

    results = {r.task: r for r in bench_spatial(cells_side=30, permutations=9, events=500)}
    assert set(results) == {
        "Gi* analytic", "Gi* permutations", "space-time Gi*", "Mann-Kendall",
        "Knox, one band", "Knox, 5 x 5 bands",
    }  # fmt: skip
    for task in ("Gi* analytic", "space-time Gi*", "Mann-Kendall"):
        assert float(results[task].agreement.rsplit(" ", 1)[1]) < 1e-9, task
    assert results["Knox, one band"].agreement == "space-time pairs equal"
    assert all(r.peer_seconds > 0 and r.svduty_seconds > 0 for r in results.values())


def test_automatic_cell_size_follows_the_area_not_stray_events():
    events = (300_000.0, 200_000.0, 600_000.0, 500_000.0)  # strays stretch the extent to 300 km
    area = (350_000.0, 220_000.0, 420_000.0, 320_000.0)  # the partnership: 70 km across
    grid = make_grid(events, None, area)
    assert grid.size == nice_size(70_000 / 50) == 1_400
    assert "shorter side of the area (70.0 km)" in grid.announced
    assert grid.x0 <= events[0] and grid.x0 + grid.columns * grid.size > events[2]
