"""The "where" page's map, served for real: its GeoJSON layers checked against the published
tables they come from, a partner's scope, and Debian's Chromium drawing it with the vendored
MapLibre under the dashboard's Content-Security-Policy. The workspace is the dashboard tests'
(three months of West Mercia's open data, with the bundled 2011 boundaries, so its hotspots are
grid cells); a copy of it given 2021 LSOA polygons has LSOA hotspots."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import test_web
from PIL import Image
from pyproj import Transformer
from shapely.geometry import shape
from test_readme_tour import _lsoas_2021
from test_web import PASSWORDS, _serving, _signed_in

from svduty.audit import read
from svduty.counting import Filter
from svduty.example import WEST_MERCIA
from svduty.publish import Policy, Publication
from svduty.sna import places, publications, selection_of
from svduty.spatial.maps import CLASS_COLOURS, NOT_DRAWN
from svduty.web.app import create_app
from svduty.web.maps import HIDDEN, LAYERS, geography, rates_layer
from svduty.workspace import Workspace

ENGLAND_AND_WALES = (-6.5, 49.8, 1.8, 55.9)  # west, south, east, north, degrees
OTHERS = [c for c in WEST_MERCIA.csps if c != "Herefordshire"]
served = test_web.served  # the dashboard tests' workspace, users and server (a fixture)


def _period(params: dict[str, str]) -> list[Filter] | None:
    found = [
        *([Filter("month", params["start"], ">=")] if "start" in params else []),
        *([Filter("month", params["end"], "<=")] if "end" in params else []),
    ]
    return found or None


def _published(root: Path, params: dict[str, str]) -> Publication:
    """The publication the page shows for these filters, made afresh from the workspace."""
    with Workspace.open(root, read_only=True) as ws:
        policy = Policy(ws.settings.disclosure_threshold, internal=params.get("view") == "internal")
        return publications(ws, selection_of(ws, period=_period(params)), policy)[
            params.get("area")
        ]


def _places(root: Path, params: dict[str, str]) -> Publication:
    with Workspace.open(root, read_only=True) as ws:
        policy = Policy(ws.settings.disclosure_threshold, internal=params.get("view") == "internal")
        chosen = selection_of(ws, period=_period(params), csp=params.get("area"))
        return places(ws, chosen, policy)


def _layer(client: httpx.Client, name: str, params: dict[str, str]) -> dict[str, Any]:
    answer = client.get(f"/map/{name}.geojson", params=params)
    assert answer.status_code == 200, (name, params, answer.text[:300])
    assert answer.headers["content-type"] == "application/geo+json"
    found: dict[str, Any] = answer.json()
    assert found["type"] == "FeatureCollection"
    return found


def _plain(value: Any) -> Any:
    return None if value is None or pd.isna(value) else value


def _points(geometry: dict[str, Any]) -> np.ndarray:
    return np.array(re.findall(r"-?\d+\.\d+", json.dumps(geometry["coordinates"])), float).reshape(
        -1, 2
    )


def test_map_layers_need_a_session(served):
    _, base, _, _ = served
    with httpx.Client(base_url=base, follow_redirects=False, timeout=120) as anonymous:
        for name in LAYERS:
            refused = anonymous.get(f"/map/{name}.geojson")
            assert refused.status_code == 401 and "FeatureCollection" not in refused.text
            browser = anonymous.get(f"/map/{name}.geojson", headers={"Accept": "text/html"})
            assert browser.status_code == 303
            assert browser.headers["location"].startswith("/login?next=")
    client = _signed_in(base, "ana")
    unknown = client.get("/map/people.geojson")
    assert unknown.status_code == 404 and "csps, districts, hotspots" in unknown.text


@pytest.mark.parametrize(
    "params",
    [{}, {"area": "Shropshire"}, {"start": "2025-02", "end": "2025-03"}, {"view": "internal"}],
)
def test_rates_on_the_map_are_the_published_tables(served, params):
    """Each feature of the CSP and district layers is a row of the published table of the same
    view, with the same figures; every request is in the audit log."""
    root, base, _, _ = served
    client = _signed_in(base, "ana")
    pub = _published(root, params)
    for name, table in (("csps", "csp_rates"), ("districts", "district_rates")):
        expected = pub.table("where", table).set_index("area")
        found = _layer(client, name, params)
        rows = {f["properties"]["area"]: f["properties"] for f in found["features"]}
        assert set(rows) == set(expected.index), name
        for area, props in rows.items():
            for column in ("count", "rate", "low", "high", "population"):
                assert props[column] == _plain(expected.loc[area, column]), (name, area, column)
            assert (props["fill"] is None) == (props["rate"] is None)
            assert props["label"].startswith(HIDDEN if props["rate"] is None else "")
        fills = {f["properties"]["fill"] for f in found["features"]} - {None}
        assert fills <= {item["colour"] for item in found["svduty"]["legend"]}
        if len(rows) > 1:  # the highest rate is drawn in the darkest colour
            top = max(rows.values(), key=lambda p: p["rate"] or 0)
            assert top["fill"] == found["svduty"]["legend"][-1]["colour"]
    log = read(root)
    mine = log[(log["actor"] == "ana (analyst)") & (log["action"] == "web map")]
    query = "&".join(f"{k}={v}" for k, v in params.items())
    shown = [json.loads(p) if isinstance(p, str) else p for p in mine["parameters"]]
    assert {p["layer"] for p in shown if p["query"] == query} >= {"csps", "districts"}


def test_a_hidden_figure_stays_hidden_and_unfilled(served):
    """A row as disclosure control leaves it (its count and rate hidden) is drawn unfilled and
    listed as [c]; the others keep their figures."""
    root, _, _, _ = served
    pub = _published(root, {})
    table = pub.table("where", "district_rates").copy()
    hidden = str(table["area"].iloc[0])
    table.loc[0, ["count", "rate", "low", "high", "share"]] = None
    pub.tables["where/district_rates"] = table
    with Workspace.open(root, read_only=True) as ws:
        geo = geography(ws)
    found = json.loads(rates_layer(pub, geo, "districts", set()))
    rows = {f["properties"]["area"]: f["properties"] for f in found["features"]}
    assert rows[hidden]["count"] is None and rows[hidden]["rate"] is None
    assert rows[hidden]["fill"] is None and rows[hidden]["label"] == HIDDEN
    assert all(p["fill"] for a, p in rows.items() if a != hidden)
    assert found["svduty"]["legend"][-1] == {
        "colour": None,
        "label": f"{HIDDEN}: hidden (a small count)",
    }


@pytest.mark.parametrize("params", [{}, {"area": "Herefordshire"}])
def test_hotspot_cells_are_the_published_classes(served, params):
    """Without 2021 LSOA polygons the layer is the grid the report maps: as many cells of each
    class as the published table counts, none of those the report leaves undrawn."""
    root, base, _, _ = served
    client = _signed_in(base, "ana")
    found = _layer(client, "hotspots", params)
    published = _places(root, params).table("hotspots", "cells_by_class").set_index("class")
    drawn = Counter(f["properties"]["class"] for f in found["features"])
    assert drawn, "no hotspot cell drawn: the test data have hot spots"
    expected = {c: int(n) for c, n in published["cells"].items() if c not in NOT_DRAWN}
    assert dict(drawn) == expected
    assert all(
        f["properties"]["fill"] == CLASS_COLOURS[f["properties"]["class"]]
        for f in found["features"]
    )
    assert "grid cells" in found["svduty"]["unit"] and "LSOA" in found["svduty"]["note"]


def test_coordinates_are_longitude_and_latitude_in_england_and_wales(served):
    root, base, _, _ = served
    client = _signed_in(base, "ana")
    west, south, east, north = ENGLAND_AND_WALES
    for name in LAYERS:
        found = _layer(client, name, {})
        points = np.vstack([_points(f["geometry"]) for f in found["features"]])
        assert (points[:, 0] >= west).all() and (points[:, 0] <= east).all(), name
        assert (points[:, 1] >= south).all() and (points[:, 1] <= north).all(), name
    # the districts' extent is the bundled boundaries' (BNG metres), projected independently
    with Workspace.open(root, read_only=True) as ws:
        bounds = ws.boundaries()
    assert bounds is not None
    x0, y0, x1, y1 = np.array([s.bounds for s in bounds.districts.values()]).T
    to_wgs = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    lon0, lat0 = to_wgs.transform(x0.min(), y0.min())
    lon1, lat1 = to_wgs.transform(x1.max(), y1.max())
    districts = np.vstack(
        [_points(f["geometry"]) for f in _layer(client, "districts", {})["features"]]
    )
    assert abs(districts[:, 0].min() - lon0) < 0.02 and abs(districts[:, 0].max() - lon1) < 0.02
    assert abs(districts[:, 1].min() - lat0) < 0.02 and abs(districts[:, 1].max() - lat1) < 0.02


def test_a_layer_is_small_and_gzipped_when_asked(served):
    _, base, _, _ = served
    client = _signed_in(base, "ana")
    for name in LAYERS:
        raw = client.get(f"/map/{name}.geojson", headers={"Accept-Encoding": "identity"})
        packed = client.get(f"/map/{name}.geojson", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in raw.headers
        assert packed.headers["content-encoding"] == "gzip"
        assert json.loads(packed.content) == json.loads(raw.content)  # httpx decoded it
        assert len(raw.content) < 200_000, (name, len(raw.content))
        assert len(gzip.compress(raw.content)) < len(raw.content) / 2
        assert raw.headers["cache-control"] == "private, no-store"


def test_a_partner_gets_no_figure_of_another_csp(served):
    """Hereford's partner: their CSP's outline and figures only, on the whole area's map and
    their own; hotspot cells inside their districts only; another CSP's map refused."""
    root, base, _, _ = served
    partner, analyst = _signed_in(base, "hereford"), _signed_in(base, "ana")
    with Workspace.open(root, read_only=True) as ws:
        areas = ws.store.table("areas").to_pandas()
    elsewhere = set(areas.loc[areas["csp_name"].isin(OTHERS), "la_name"].dropna()) - {
        "Herefordshire, County of"
    }
    for params in ({}, {"area": "Herefordshire"}):
        text = "".join(partner.get(f"/map/{n}.geojson", params=params).text for n in LAYERS)
        assert not [o for o in [*OTHERS, *elsewhere] if o in text], params
        csps = _layer(partner, "csps", params)["features"]
        assert [f["properties"]["area"] for f in csps] == ["Herefordshire"]
        districts = _layer(partner, "districts", params)["features"]
        assert {f["properties"]["csp"] for f in districts} == {"Herefordshire"}
        # cell centres inside their outline (give or take the outline's simplification)
        grown = shape(csps[0]["geometry"]).buffer(0.002)
        cells = _layer(partner, "hotspots", params)["features"]
        assert cells and all(grown.contains(shape(f["geometry"]).centroid) for f in cells)
    # the whole area's map has cells elsewhere, and those are what the partner was not sent
    everyone = {json.dumps(f["geometry"]): f for f in _layer(analyst, "hotspots", {})["features"]}
    mine = {json.dumps(f["geometry"]) for f in _layer(partner, "hotspots", {})["features"]}
    assert mine < set(everyone)
    shrunk = shape(_layer(partner, "csps", {})["features"][0]["geometry"]).buffer(-0.002)
    assert not [k for k in set(everyone) - mine if shrunk.contains(shape(json.loads(k)).centroid)]
    assert partner.get("/map/csps.geojson", params={"area": "Shropshire"}).status_code == 403
    assert partner.get("/map/hotspots.geojson", params={"view": "internal"}).status_code == 403


def test_a_public_dashboard_serves_the_map_to_anyone(served):
    root, _, _, _ = served
    app = create_app(root, public=True, prepare_wait=120)
    try:
        with (
            _serving(app) as base,
            httpx.Client(base_url=base, follow_redirects=False, timeout=120) as anyone,
        ):
            assert _layer(anyone, "csps", {"area": "Shropshire"})["features"]
            assert anyone.get("/map/csps.geojson", params={"view": "internal"}).status_code == 403
    finally:
        app.state.published.close()
    log = read(root)
    assert "web map" in set(log.loc[log["actor"] == "public (public)", "action"])


@pytest.fixture(scope="module")
def with_lsoas(served, shared, tmp_path_factory):
    """A copy of the workspace given 2021 LSOA polygons (stand-ins built from the shared 2011
    ones), served: its hotspots are LSOAs."""
    source, _, _, _ = served
    root = tmp_path_factory.mktemp("lsoas") / "ws"
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("*.lock", "cache"))
    (root / "boundaries").mkdir(exist_ok=True)
    features = list(_lsoas_2021(shared).values())
    (root / "boundaries" / "lsoas-2021.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )
    settings = root / "svduty.toml"
    text = re.sub(
        r'(?m)^boundaries = ""$',
        'boundaries = "boundaries/lsoas-2021.geojson"',
        settings.read_text(),
    )
    assert "lsoas-2021" in text
    settings.write_text(text)
    app = create_app(root, prepare_wait=120)
    try:
        with _serving(app) as base:
            yield root, base
    finally:
        app.state.published.close()


def test_lsoa_hotspots_are_the_published_classes_and_counts(with_lsoas):
    root, base = with_lsoas
    client = _signed_in(base, "ana")
    found = _layer(client, "hotspots", {})
    pub = _places(root, {})
    by_class = pub.table("hotspots", "lsoas_by_class").set_index("class")["LSOAs"]
    drawn = Counter(f["properties"]["class"] for f in found["features"])
    assert dict(drawn) == {c: int(n) for c, n in by_class.items()}
    assert found["svduty"]["unit"] == f"{sum(drawn.values()):,} LSOAs"
    hot = pub.table("hotspots", "lsoas_hot").set_index("LSOA")
    shown = {f["properties"]["lsoa"]: f["properties"] for f in found["features"]}
    assert len(hot) and set(hot.index) <= set(shown)
    for code, row in hot.iterrows():
        assert shown[code]["count"] == _plain(row["count"]) and shown[code]["ward"] == row["ward"]
    assert all("count" not in p for c, p in shown.items() if c not in hot.index)
    assert all(p["fill"] is None for p in shown.values() if p["class"] == "not significant")
    # a partner: their districts' LSOAs only
    with Workspace.open(root, read_only=True) as ws:
        areas = ws.store.table("areas").to_pandas()
    district = dict(zip(areas["lsoa_code"], areas["la_code"], strict=True))
    theirs = _layer(_signed_in(base, "hereford"), "hotspots", {})["features"]
    codes = {f["properties"]["lsoa"] for f in theirs}
    assert codes and {district[c] for c in codes} == set(WEST_MERCIA.csps["Herefordshire"])
    assert codes == {c for c in shown if district[c] in WEST_MERCIA.csps["Herefordshire"]}


def _colours(png: bytes) -> Counter[str]:
    """How many pixels of each colour a screenshot holds, as #rrggbb."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return Counter(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in map(tuple, pixels))


def test_a_browser_draws_the_map_under_the_pages_policy(served, tmp_path):
    """Chromium draws each layer in its published colours, switched from the keyboard, with its
    legend, description and table; MapLibre's worker is this server's script; nothing is refused
    by the Content-Security-Policy or fails on the console. Headless, Chromium's WebGL is
    SwiftShader (software, through ANGLE); the flag keeps that fallback allowed should a later
    Chromium turn it off by default."""
    from playwright.sync_api import sync_playwright

    _, base, _, _ = served
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is needed (make test installs it)"
    client = _signed_in(base, "ana")
    layers = {name: _layer(client, name, {}) for name in LAYERS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--enable-unsafe-swiftshader"]
        )
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        said: list[str] = []
        workers: list[str] = []
        page.on("worker", lambda w: workers.append(w.url))
        page.on("console", lambda m: said.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: said.append(f"pageerror: {e}"))
        page.goto(f"{base}/login?next=/pages/where")
        page.fill("#username", "ana")
        page.fill("#password", PASSWORDS["ana"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/pages/where")
        answer = page.goto(f"{base}/pages/where")
        assert (
            answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
        )
        page.wait_for_selector("#where-map[data-drawn='districts'], #where-map[data-error]")
        assert page.get_attribute("#where-map", "data-error") is None, said
        assert workers and all(
            w == f"{base}/static/maplibre/maplibre-gl-csp-worker.js" for w in workers
        ), workers
        figure = page.locator("#svduty-map")
        assert figure.get_attribute("role") == "img" and figure.get_attribute("aria-label")
        shot = figure.screenshot(path=str(tmp_path / "districts.png"))
        colours = _colours(shot)
        fills = {f["properties"]["fill"] for f in layers["districts"]["features"]}
        assert fills and all(colours[c] > 200 for c in fills), {c: colours[c] for c in fills}
        description = page.inner_text("#map-description")
        top = max(layers["districts"]["features"], key=lambda f: f["properties"]["rate"])
        assert f"Highest: {top['properties']['area']} {top['properties']['label']}" in description
        legend = page.locator("#map-legend li")
        assert legend.count() == len(layers["districts"]["svduty"]["legend"])
        # the layers switched from the keyboard: arrow keys move through the radio buttons
        page.focus("#map-layer-districts")
        page.keyboard.press("ArrowRight")
        page.wait_for_selector("#where-map[data-drawn='csps']")
        page.keyboard.press("ArrowRight")
        page.wait_for_selector("#where-map[data-drawn='hotspots'], #where-map[data-error]")
        assert page.get_attribute("#where-map", "data-error") is None, said
        shot = figure.screenshot(path=str(tmp_path / "hotspots.png"))
        colours = _colours(shot)
        classes = Counter(f["properties"]["class"] for f in layers["hotspots"]["features"])
        assert all(colours[CLASS_COLOURS[c]] > 20 for c in classes), classes
        assert f"{classes['hot 99%']} hot 99%" in page.inner_text("#map-description")
        page.click("#where-map summary")
        rows = page.locator("#map-table tbody tr")
        assert rows.count() == len(classes)
        before = float(page.get_attribute("#where-map", "data-zoom") or 0)
        page.focus("#where-map button[data-zoom='in']")
        page.keyboard.press("Enter")
        page.wait_for_selector(f"#where-map:not([data-zoom='{before:.2f}'])")
        assert float(page.get_attribute("#where-map", "data-zoom") or 0) > before
        page.screenshot(path=str(tmp_path / "where.png"), full_page=True)
        browser.close()
    problems = [s for s in said if s.startswith(("error", "pageerror")) or "Content Security" in s]
    assert not problems, problems
