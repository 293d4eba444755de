"""Hotspots on LSOA polygons: contiguity against libpysal's Queen, Gi* against esda on the same
counts and weights, counting against a plain point-in-polygon pass, and the command."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pytest
from conftest import make_workspace
from esda import G_Local
from libpysal.weights import Queen
from shapely import contains_xy
from test_cli import svduty

from svduty.analysis.selection import selected
from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.reference.boundaries import load_areas, lsoas
from svduty.spatial.areas import area_counts, area_hotspots, polygon_queen


@pytest.fixture(scope="module")
def open_data(tmp_path_factory, west_mercia):
    from svduty.example import WEST_MERCIA
    from svduty.workspace import Workspace

    ws = Workspace.init(tmp_path_factory.mktemp("areas") / "ws", WEST_MERCIA)
    ingest(ws, [west_mercia / "2025-01", west_mercia / "2025-02"])
    yield ws
    ws.close()


def _libpysal_queen(shapes):
    frame = gpd.GeoDataFrame(geometry=list(shapes), crs=27700)
    return Queen.from_dataframe(frame, use_index=False, silence_warnings=True)


def test_lsoa_contiguity_equals_libpysal_queen():
    areas = lsoas()
    assert len(areas.codes) == 781  # every West Mercia LSOA (2011)
    ours = polygon_queen(areas.shapes)
    theirs = _libpysal_queen(areas.shapes)
    assert (ours != theirs.sparse).nnz == 0
    assert np.diff(ours.indptr).min() >= 1  # no LSOA without a neighbour


def test_raw_boundaries_need_the_snap(shared):
    """On the published polygons neighbours miss each other by slivers: libpysal's Queen finds
    no shared vertex at all; loading them through svduty snaps them and finds every neighbour."""
    path = shared / "boundaries-west-mercia" / "lsoa_by_lad" / "E06000020.json"
    raw = gpd.read_file(path)
    assert _libpysal_queen(raw.geometry).sparse.nnz == 0
    loaded = load_areas(path)
    assert len(loaded.codes) == 108
    neighbours = polygon_queen(loaded.shapes)
    assert np.diff(neighbours.indptr).min() >= 1
    assert (neighbours != _libpysal_queen(loaded.shapes).sparse).nnz == 0
    bundled = lsoas({"E06000020"})
    assert list(bundled.codes) == list(loaded.codes)
    assert (polygon_queen(bundled.shapes) != neighbours).nnz == 0


def test_lsoa_gi_star_equals_esda(open_data):
    areas = lsoas()
    result = area_hotspots(open_data.store, areas)
    counts = result.frame["count"].to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        esda = G_Local(counts, _libpysal_queen(areas.shapes), "B", 0, star=True)
    np.testing.assert_allclose(result.frame["gi_star_z"], esda.Zs, atol=1e-9)
    assert (result.frame["class"] != "not significant").any()


def test_area_counts_equal_a_plain_point_in_polygon_pass(open_data):
    areas = lsoas({"E06000020", "E07000237"})  # Telford and Wrekin, Worcester
    t = selected(open_data.store)
    counted = area_counts(t, areas)
    rows = t.select("lsoa_code", "easting", "northing").to_pandas()
    expected = np.zeros(len(areas.codes))
    position = {code: i for i, code in enumerate(areas.codes)}
    unplaced = 0
    for code, x, y in rows.itertuples(index=False):
        if code in position:
            expected[position[code]] += 1
            continue
        inside = (
            [i for i, shape in enumerate(areas.shapes) if contains_xy(shape, x, y)]
            if x == x
            else []
        )
        if inside:
            expected[inside[0]] += 1
        else:
            unplaced += 1
    np.testing.assert_array_equal(counted.counts, expected)
    assert counted.unplaced == unplaced
    assert counted.by_code + counted.by_place + counted.unplaced == len(rows)
    assert counted.by_place > 0  # 2021 codes placed by coordinates, not lost


def test_boundaries_without_a_code_are_refused(tmp_path):
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "x"},
         "geometry": {"type": "Point", "coordinates": [0, 0]}}]}))  # fmt: skip
    with pytest.raises(InputError, match=r"b\.geojson: feature 1 has no area code"):
        load_areas(path)


def test_lsoa_hotspots_command(tmp_path, west_mercia, shared):
    where = tmp_path / "ws"
    with make_workspace(where) as ws:  # as `init --example` and `ingest` make it
        ingest(ws, [west_mercia / "2025-01"])
    done = svduty("hotspots", "-w", str(where), "--unit", "lsoa")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == ("lsoa_code,x,y,count,gi_star_z,p_value,p_fdr,class")
    assert len(done.stdout.splitlines()) == 782 and "placed by their coordinates" in done.stderr
    telford = shared / "boundaries-west-mercia" / "lsoa_by_lad" / "E06000020.json"
    done = svduty(
        "hotspots", "-w", str(where), "--unit", "lsoa", "--boundaries", str(telford),
        "--format", "geojson",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    features = json.loads(done.stdout)["features"]
    assert len(features) == 108 and features[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    png = tmp_path / "lsoa.png"
    done = svduty(
        "hotspots", "-w", str(where), "--unit", "lsoa", "--format", "png", "--out", str(png)
    )
    assert done.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG"
    done = svduty("hotspots", "-w", str(where), "--unit", "lsoa", "--cell-size", "500")
    assert done.returncode != 0 and "--unit grid only" in done.stderr
