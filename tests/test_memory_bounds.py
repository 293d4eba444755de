"""Analyses aggregate in the engine before collecting, with the same results as computing from
every record (the record-level computations are kept here as the reference), and commands that
would not fit in memory refuse before they start."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_workspace, svduty

from svduty.analysis.selection import selected, with_csp
from svduty.analysis.when import DAYS, when, when_by_csp
from svduty.analysis.who import _band, who, who_by_csp
from svduty.definitions import load_definition
from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.spatial.grid import MAX_CELLS, make_grid
from svduty.spatial.hotspots import hotspots, near_repeat
from svduty.spatial.kde import kde
from svduty.spatial.knox import MAX_PAIRS, knox, pairs_estimate
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.vocabulary import AGE_BANDS
from svduty.workspace import Workspace

DEFINITION = load_definition("west-mercia-2022")


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory):
    """A synthetic force extract: people, times with ranges, exact places."""
    root = tmp_path_factory.mktemp("memory")
    generate(load_profile("west-mercia"), root / "syn", scale=0.03, years=1, seed=7)
    files, mappings = synthetic_files(root / "syn")
    ws = make_workspace(root / "ws")
    ingest(ws, files, mappings=mappings)
    ws.close()  # read as analysts read it, so a command may read it too
    ws = Workspace.open(root / "ws", read_only=True)
    yield ws
    ws.close()


# --- the record-level reference: every record collected, then counted in pandas ---


def reference_when(frame: pd.DataFrame, max_span_hours: int = 168) -> dict[str, object]:
    timed = frame[frame["date_precision"].isin(["minute"]) & frame["occurred_from"].notna()]
    excluded = len(frame) - len(timed)
    start = pd.to_datetime(timed["occurred_from"]).dt.floor("h").to_numpy()
    end = pd.to_datetime(timed["occurred_to"].fillna(timed["occurred_from"])).to_numpy()
    hours = ((end - start) / np.timedelta64(1, "h")).astype(float)
    hours = np.where(hours < 0, 0, hours)
    span = np.maximum(np.ceil(hours), 1).astype(int)
    keep = span <= max_span_hours
    excluded += int((~keep).sum())
    start, span = start[keep], span[keep]
    rows = np.repeat(np.arange(len(span)), span)
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(span) - span, span)
    moments = pd.DatetimeIndex(start[rows] + offsets.astype("timedelta64[h]"))
    matrix = np.zeros((7, 24))
    np.add.at(matrix, (moments.day_of_week.to_numpy(), moments.hour.to_numpy()), 1.0 / span[rows])
    return {
        "matrix": matrix,
        "exact": int((span == 1).sum()),
        "spread": int((span > 1).sum()),
        "excluded": excluded,
    }


def reference_people(store, t) -> pd.DataFrame:
    chosen = t.select(_force="force", _ref="crime_ref", _area="_area")
    people = store.table("involvements")
    joined = people.join(
        chosen, (people.force == chosen._force) & (people.crime_ref == chosen._ref)
    )
    return joined.select(
        "_area", "role", "person_key", "age", "sex", "ethnicity", "relationship", "crime_ref",
        band=_band(joined.age),
    ).to_pandas()  # fmt: skip


def _by_count(table: pd.Series) -> pd.Series:
    return table.sort_index(kind="stable").sort_values(ascending=False, kind="stable")


def _counts(series: pd.Series, name: str, order: list[str] | None = None) -> pd.DataFrame:
    table = _by_count(series.fillna("not recorded").value_counts())
    if order:
        table = table.reindex(
            [o for o in order if o in table.index] + [i for i in table.index if i not in order]
        )
    return table.rename_axis(name).reset_index(name="count")


def reference_profile(frame: pd.DataFrame) -> dict[str, object]:
    aged = frame["age"].dropna()
    keys = frame.dropna(subset=["person_key"]).groupby("person_key")["crime_ref"].nunique()
    repeat = keys[keys > 1]
    return {
        "people": len(frame),
        "distinct_people": int(frame["person_key"].nunique()),
        "age_bands": _counts(frame["band"], "age_band", [b for _, _, b in AGE_BANDS]),
        "sex": _counts(frame["sex"], "sex"),
        "ethnicity": _counts(frame["ethnicity"], "ethnicity"),
        "under_18": float((aged < 18).mean()) if len(aged) else None,
        "under_25": float((aged < 25).mean()) if len(aged) else None,
        "repeat_people": len(repeat),
        "incidents_with_repeat": int(
            frame[frame["person_key"].isin(repeat.index)]["crime_ref"].nunique()
        ),
    }


def _same_profile(found, expected: dict[str, object]) -> None:
    for item in fields(found):
        if item.name == "role":
            continue
        got, want = getattr(found, item.name), expected[item.name]
        if isinstance(want, pd.DataFrame):
            pd.testing.assert_frame_equal(
                got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False
            )
        elif isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-12), item.name
        else:
            assert got == want, item.name


# --- the analyses against the reference ---


@pytest.mark.parametrize("definition", [None, DEFINITION], ids=["all", "definition"])
def test_when_from_engine_counts_matches_every_record(extract, definition):
    t = with_csp(extract.store, selected(extract.store, definition))
    frame = t.select("occurred_from", "occurred_to", "date_precision", "_area").to_pandas()
    expected = reference_when(frame)
    assert expected["spread"] > 0 and expected["exact"] > 0  # both kinds are tested
    found = when(extract.store, definition)
    np.testing.assert_allclose(found.matrix.to_numpy(), expected["matrix"], rtol=1e-9)
    assert list(found.matrix.index) == list(DAYS)
    for name in ("exact", "spread", "excluded"):
        assert getattr(found, name) == expected[name], name
    split = when_by_csp(extract.store, definition)
    assert split, "the extract falls in CSPs"
    for csp, part in split.items():
        want = reference_when(frame[frame["_area"] == csp])
        np.testing.assert_allclose(part.matrix.to_numpy(), want["matrix"], rtol=1e-9)
        assert (part.exact, part.spread, part.excluded) == (
            want["exact"], want["spread"], want["excluded"],
        )  # fmt: skip


def test_when_counts_ranges_over_the_limit_as_excluded(extract):
    frame = selected(extract.store).select(
        "occurred_from", "occurred_to", "date_precision"
    ).to_pandas()  # fmt: skip
    expected = reference_when(frame, max_span_hours=2)
    found = when(extract.store, max_span_hours=2)
    assert found.excluded == expected["excluded"] > reference_when(frame)["excluded"]
    np.testing.assert_allclose(found.matrix.to_numpy(), expected["matrix"], rtol=1e-9)


@pytest.mark.parametrize("definition", [None, DEFINITION], ids=["all", "definition"])
def test_who_from_engine_tallies_matches_every_record(extract, definition):
    store = extract.store
    t = with_csp(store, selected(store, definition))
    people = reference_people(store, t)
    assert people["person_key"].duplicated().any(), "repeat people are tested"
    found = who(store, definition)
    for role in ("victim", "suspect"):
        rows = people[people["role"] == role]
        _same_profile(getattr(found, f"{role}s"), reference_profile(rows))
    suspects = people[people["role"] == "suspect"]
    pd.testing.assert_frame_equal(
        found.relationships,
        _by_count(suspects["relationship"].fillna("not recorded").value_counts())
        .rename_axis("relationship")
        .reset_index(name="count"),
        check_dtype=False,
    )
    assert found.incidents_with_people == people["crime_ref"].nunique()
    for csp, part in who_by_csp(store, definition).items():
        mine = people[people["_area"] == csp]
        for role in ("victim", "suspect"):
            _same_profile(getattr(part, f"{role}s"), reference_profile(mine[mine["role"] == role]))
        assert part.incidents_with_people == mine["crime_ref"].nunique()


def test_who_without_people_reads_no_incident_twice(tmp_path: Path, west_mercia: Path):
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, [west_mercia / "2025-01"])
    assert ws.con.execute("SELECT count(*) FROM involvements").fetchone() == (0,)
    incidents = ws.con.execute("SELECT count(*) FROM incidents").fetchone()
    found = who(ws.store)
    assert (found.incidents,) == incidents
    assert found.incidents_with_people == 0
    for profile in (found.victims, found.suspects):
        assert (profile.people, profile.distinct_people, profile.repeat_people) == (0, 0, 0)
        assert profile.under_18 is None and len(profile.age_bands) == 0
    assert all(part.incidents_with_people == 0 for part in who_by_csp(ws.store).values())
    ws.close()


def test_density_from_distinct_places_matches_every_event():
    rng = np.random.default_rng(3)
    snap = rng.uniform(0, 10_000, size=(300, 2)).round(-1)  # few places, many events each
    events = snap[rng.integers(0, len(snap), 5_000)]
    grid = make_grid((0, 0, 10_000, 10_000), 250)
    x, y = events[:, 0], events[:, 1]
    every = kde(grid, x, y)
    places, counts = np.unique(events, axis=0, return_counts=True)
    binned = kde(grid, places[:, 0], places[:, 1], counts=counts.astype(float))
    assert binned.bandwidth == pytest.approx(every.bandwidth, rel=1e-12)
    np.testing.assert_allclose(binned.values, every.values, rtol=1e-9, atol=1e-12)


def test_hotspot_density_matches_the_density_of_every_event(extract):
    found = hotspots(extract.store)
    t = extract.store.table("incidents")
    points = t.filter(t.easting.notnull() & t.northing.notnull()).to_pandas()
    every = kde(found.grid, points["easting"].to_numpy(), points["northing"].to_numpy())
    assert found.events == len(points)
    assert found.density.bandwidth == pytest.approx(every.bandwidth, rel=1e-12)
    np.testing.assert_allclose(found.frame["density"], every.values, rtol=1e-9, atol=1e-12)


def test_past_its_limit_the_density_map_pools_events_in_squares_and_says_so(extract, monkeypatch):
    """Millions of distinct places would make the density map hold one row each: past
    `DENSITY_PLACES` it holds at most POOL_FRACTION^2 squares per occupied cell, and the map
    stays within a hair of the exact one."""
    from svduty.spatial import hotspots as module

    exact = hotspots(extract.store)
    held: list[int] = []

    def counted(grid, x, y, *args, **kwargs):  # type: ignore[no-untyped-def]
        held.append(len(x))
        return kde(grid, x, y, *args, **kwargs)

    monkeypatch.setattr(module, "DENSITY_PLACES", 200)
    monkeypatch.setattr(module, "kde", counted)
    pooled = hotspots(extract.store)
    occupied = int((exact.frame["count"] > 0).sum())
    assert 200 < held[0] <= module.POOL_FRACTION**2 * occupied
    assert any("distinct places" in w for w in pooled.density.warnings)
    assert not any("distinct places" in w for w in exact.density.warnings)
    # the cells' counts and their statistics do not depend on it
    assert pooled.frame["count"].equals(exact.frame["count"])
    assert pooled.frame["gi_star_z"].equals(exact.frame["gi_star_z"])
    gap = (pooled.frame["density"] - exact.frame["density"]).abs().max()
    assert gap <= 0.01 * exact.frame["density"].max()


# --- refusals before the work starts ---


def test_pairs_estimate_is_close_for_spread_events():
    rng = np.random.default_rng(5)
    points = rng.uniform(0, 20_000, size=(20_000, 2))
    side = 400.0
    cells, counts = np.unique(np.floor(points / side), axis=0, return_counts=True)
    from scipy.spatial import cKDTree

    actual = len(cKDTree(points).query_pairs(side, output_type="ndarray"))
    assert pairs_estimate(cells[:, 0], cells[:, 1], counts) == pytest.approx(actual, rel=0.05)


def test_near_repeat_refuses_more_pairs_than_fit_before_making_any():
    rng = np.random.default_rng(1)
    n = int(np.sqrt(2 * MAX_PAIRS / (np.pi / 9))) + 2_000  # estimated over the limit
    x, y = rng.uniform(0, 400, n), rng.uniform(0, 400, n)
    with pytest.raises(InputError, match="shorter period"):
        knox(x, y, rng.integers(0, 365, n), [0, 400], [0, 7], simulations=1)


def test_near_repeat_counts_as_from_every_event(extract):
    t = extract.store.table("incidents")
    t = t.filter(t.easting.notnull() & t.occurred_from.notnull())
    events = t.select("easting", "northing", "occurred_from").to_pandas()
    events = events.sort_values(["occurred_from", "easting", "northing"], kind="stable")
    days = events["occurred_from"].to_numpy("datetime64[D]").astype("int64").astype(float)
    edges, day_edges = [0, 200, 400], [0, 7, 14]
    expected = knox(events["easting"], events["northing"], days, edges, day_edges, 9, 1)
    found = near_repeat(extract.store, None, None, edges, day_edges, 9, 1)
    assert found.events == len(events) > 100
    pd.testing.assert_frame_equal(found.table, expected.table)


def test_grid_refuses_more_cells_than_fit_and_suggests_a_size_that_fits():
    with pytest.raises(InputError, match="larger --cell-size") as refused:
        make_grid((300_000, 200_000, 400_000, 300_000), 10)
    size = float(re.search(r"at least ([\d,]+) m", str(refused.value))[1].replace(",", ""))
    assert make_grid((300_000, 200_000, 400_000, 300_000), size).cells <= MAX_CELLS


def test_hotspots_command_refuses_tiny_cells_in_one_line(extract):
    done = svduty("hotspots", "--workspace", str(extract.root), "--cell-size", "1")
    assert done.returncode != 0
    assert "larger --cell-size" in done.stderr and "Traceback" not in done.stderr
