"""A partnership other than West Mercia: Warwickshire's synthetic data from its own profile, its
Strategic Needs Assessment checked against figures computed here from the store and the reference
tables, and its boundaries (none, a file, or fetched from a local ArcGIS-like server)."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from conftest import csv_rows
from markupsafe import escape
from pyproj import Transformer
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from shapely import MultiPoint, Point, box, to_geojson, transform, union_all, voronoi_polygons

from svduty.definitions import load_definition
from svduty.errors import InputError, SvdutyError
from svduty.fetch import fetch_boundaries
from svduty.ingest import ingest
from svduty.publish import Policy
from svduty.reference.boundaries import NO_BOUNDARIES, read_boundaries
from svduty.report.published import prose
from svduty.sna import build_sna, places, publications, selection_of
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.workspace import Workspace
from svduty.yamlfile import load_yaml

DEFINITION = "west-mercia-2022"
TOPS = (0.01, 0.05, 0.10)


@pytest.fixture(scope="module")
def profile():
    return load_profile("warwickshire")


@pytest.fixture(scope="module")
def warwickshire(tmp_path_factory, profile, shared) -> Iterator[tuple[Path, Workspace]]:
    """Two years of synthetic Warwickshire records (a few thousand crimes) and a month of its
    real open data (which holds crimes the force recorded far outside it), ingested into a
    workspace made from the profile's own settings."""
    root = tmp_path_factory.mktemp("warwickshire")
    generate(profile, root / "syn", scale=0.05, years=2, seed=11)
    ws = Workspace.init(root / "ws", profile.settings())
    files, mappings = synthetic_files(root / "syn")
    ingest(ws, [*files, shared / "police-uk-warwickshire" / "2024-01"], mappings=mappings)
    ws.classify(DEFINITION)  # stored, so the expected figures below can be read with SQL
    yield root, ws
    ws.close()


def _selected(ws: Workspace) -> pd.DataFrame:
    """Incidents in the definition, each with its LSOA's district (any vintage) and year."""
    return ws.con.execute(
        """
        SELECT i.lsoa_code, year(i.month) AS year, a.la_code, a.in_2021
        FROM incidents i JOIN classifications c USING (batch_id, source_line)
        LEFT JOIN areas a USING (lsoa_code)
        WHERE c.definition_id = ? AND c.in_definition""",
        [DEFINITION],
    ).df()


def _lsoas(ws: Workspace, districts: tuple[str, ...]) -> pd.DataFrame:
    """The 2021 LSOAs of `districts`, with residents (2024) and IMD 2025 decile."""
    return ws.con.execute(
        """
        SELECT lsoa_code, la_code, coalesce(imd2025_decile, imd2019_decile) AS decile,
               population_2024 AS population
        FROM areas WHERE in_2021 AND la_code IN (SELECT unnest(?))""",
        [list(districts)],
    ).df()


def _numbers(table: pd.DataFrame) -> pd.DataFrame:
    """A published table with its numeric columns as numbers (unsuppressed: none is hidden)."""
    numeric = ["count", "population", "rate", "low", "high", "total", "places"]
    numeric += [f"{kind}top_{int(top * 100)}" for top in TOPS for kind in ("", "in_")]
    return table.astype({c: float for c in numeric if c in table.columns})


def _factor(table: pd.DataFrame) -> float:
    """Published rate over count per 1,000 residents, one number for every row of a table (1
    for rates over the whole period, 1 / years for rates a year); rates are shown to 3 places."""
    per_thousand = table["count"] / table["population"] * 1000
    largest = table["rate"].idxmax()
    factor = float(table["rate"][largest] / per_thousand[largest])
    np.testing.assert_allclose(table["rate"], factor * per_thousand, atol=1.1e-3)
    return factor


@pytest.fixture(scope="module")
def published(warwickshire):
    _, ws = warwickshire
    policy = Policy(ws.settings.disclosure_threshold, internal=True)
    return publications(ws, selection_of(ws), policy)


# ---- the generated data --------------------------------------------------------------------


def test_synth_writes_the_profiles_force_sites_and_areas(warwickshire, profile):
    root, ws = warwickshire
    mapping = load_yaml(root / "syn" / "mappings" / "force-records-extract.yaml")
    assert mapping["force"] == profile.force == "Warwickshire"
    sites = pd.read_csv(root / "syn" / "istv.csv", dtype=str)["SiteCode"]
    assert sites.notna().all() and set(sites) <= set(profile.sites.values())
    assert len(set(sites)) == len(set(profile.sites.values()))  # every site attends someone
    made = ws.con.execute(
        "SELECT DISTINCT i.force, a.la_code FROM incidents i LEFT JOIN areas a USING (lsoa_code) "
        "WHERE i.synthetic"
    ).df()
    assert set(made["force"]) == {"Warwickshire"}
    assert set(made["la_code"]) == {code for codes in profile.csps.values() for code in codes}
    assert set(ws.settings.csps) == set(profile.csps) and ws.settings.area == "Warwickshire"


def test_a_profile_needs_a_site_for_each_csp(tmp_path, profile):
    text = profile.path.read_text(encoding="utf-8").replace(
        "Rugby: University Hospital Coventry, ", ""
    )
    for name in ("offence_mix", "monthly_index", "places"):
        file = profile.data["derived"][name]["file"]
        shutil.copy(profile.path.parent / file, tmp_path / file)
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"p\.yaml: sites names no A&E site for CSP\(s\) Rugby"):
        load_profile(tmp_path / "p.yaml")


# ---- the assessment, against figures computed here ------------------------------------------


def test_each_csps_deprivation_rates_use_its_own_lsoas(warwickshire, published, profile):
    _, ws = warwickshire
    incidents = _selected(ws)
    per_lsoa = incidents.groupby("lsoa_code").size().rename("count")
    factors = []
    for csp, districts in profile.csps.items():
        lsoas = _lsoas(ws, districts).join(per_lsoa, on="lsoa_code").fillna({"count": 0})
        expected = lsoas.groupby("decile")[["count", "population"]].sum().astype("int64")
        shown = _numbers(published[csp].table("where", "deprivation")).set_index("decile")
        assert list(shown.index) == list(expected.index), csp
        assert shown["count"].astype("int64").tolist() == expected["count"].tolist(), csp
        assert shown["population"].astype("int64").tolist() == expected["population"].tolist()
        factors.append(_factor(shown.reset_index()))  # each decile: its count / its residents
    assert max(factors) == pytest.approx(min(factors), rel=0.01)  # the same scale in every CSP
    whole = published[None].table("where", "deprivation")
    everyone = _lsoas(ws, sum(profile.csps.values(), ()))
    assert int(whole["population"].sum()) == int(everyone["population"].sum())


def test_each_csps_concentration_counts_its_own_lsoas_only(warwickshire, published, profile):
    _, ws = warwickshire
    incidents = _selected(ws)
    for csp, districts in profile.csps.items():
        places = sorted(_lsoas(ws, districts)["lsoa_code"])
        table = _numbers(published[csp].table("concentration", "table"))
        assert len(table) == incidents["year"].nunique()
        for row in table.to_dict(orient="records"):
            mine = incidents[(incidents["year"] == int(row["year"]))]
            counted = mine.groupby("lsoa_code").size().reindex(places, fill_value=0)
            values = np.sort(counted.to_numpy())[::-1]
            assert row["places"] == len(places) and row["total"] == values.sum(), csp
            for top in TOPS:
                k = max(1, round(top * len(values)))
                name = f"top_{int(top * 100)}"
                assert row[f"in_{name}"] == values[:k].sum(), (csp, name)
                assert row[name] == pytest.approx(values[:k].sum() / values.sum(), abs=5e-4)


def test_the_headline_compares_the_top_csp_with_this_area_only(warwickshire, published, profile):
    _, ws = warwickshire
    incidents = _selected(ws)
    district_csp = {d: csp for csp, codes in profile.csps.items() for d in codes}
    counted = incidents["la_code"].map(district_csp).value_counts()
    residents = {
        csp: int(_lsoas(ws, codes)["population"].sum()) for csp, codes in profile.csps.items()
    }
    shown = _numbers(published[None].table("where", "csp_rates")).set_index("area")
    assert set(shown.index) == set(profile.csps)
    for csp in profile.csps:
        assert (
            shown.loc[csp, "count"] == counted[csp]
            and shown.loc[csp, "population"] == (residents[csp])
        )
    factor = _factor(shown.reset_index())
    rates = {csp: counted[csp] / residents[csp] * 1000 * factor for csp in profile.csps}
    top = max(rates, key=lambda c: rates[c])
    overall = counted.sum() / sum(residents.values()) * 1000 * factor
    sentence = next(f for f in published[None].value("summary", "findings") if "highest" in f)
    number = r"(\d+(?:\.\d+)?)"
    # generated data: the finding says so first ("SYNTHETIC data: ...")
    pattern = rf"^(?:SYNTHETIC data: )?(.+?) had the highest rate, {number} .*? the area's {number}"
    found = re.search(pattern, sentence)
    assert found, sentence
    assert found.group(1) == top
    assert float(found.group(2)) == pytest.approx(rates[top], abs=0.051)
    assert float(found.group(3)) == pytest.approx(overall, abs=0.051)
    above = shown.loc[top, "low"] > overall
    assert ("not significantly above" not in sentence) == above
    for csp in profile.csps:  # a CSP's own report never holds it up against itself
        assert not any("highest" in f for f in published[csp].value("summary", "findings"))


def test_a_csps_health_figures_are_its_own_or_said_to_be_the_areas(
    warwickshire, published, profile
):
    """Admissions carry the patient's area: a CSP's are its residents'. A&E attendances carry
    no place: a CSP's report shows the area's, and never beside the CSP's police records."""
    _, ws = warwickshire
    attendances = ws.con.execute("SELECT count(*) FROM ae_attendances").fetchone()[0]
    admissions = ws.con.execute("SELECT area_code, cause_code, count FROM admissions").df()
    areas = ws.con.execute("SELECT DISTINCT lsoa_code, la_code FROM areas").df()
    recorded = ws.con.execute(
        """
        SELECT count(*) FROM incidents i JOIN classifications c USING (batch_id, source_line)
        WHERE c.definition_id = ? AND c.in_definition AND i.location_type IS NOT NULL""",
        [DEFINITION],
    ).fetchone()[0]
    whole = published[None]
    assert whole.value("health", "admissions") == admissions["count"].sum()
    assert whole.table("health", "locations")["police"].sum() == recorded
    own = []
    for csp, districts in profile.csps.items():
        pub = published[csp]
        codes = {*districts, *areas.loc[areas["la_code"].isin(districts), "lsoa_code"]}
        mine = admissions[admissions["area_code"].isin(codes)]
        own.append(int(mine["count"].sum()))
        assert pub.value("health", "admissions") == own[-1], csp
        sharp = mine[mine["cause_code"].str.startswith("X99")]["count"].sum()
        assert pub.table("health", "sharp_object_admissions")["count"].sum() == sharp, csp
        assert pub.value("health", "attendances") == attendances, csp  # the area's, said so
        locations = pub.table("health", "locations")
        assert not {"police", "police_share", "gap"} & set(locations.columns), csp
        assert locations["ae"].sum() == whole.table("health", "locations")["ae"].sum()
        assert not any("police" in s for s in pub.value("summary", "findings")), csp
    assert len(set(own)) > 1 and max(own) < whole.value("health", "admissions")


def test_a_csps_rate_is_shown_beside_the_whole_areas(warwickshire, published, profile):
    _, ws = warwickshire
    incidents = _selected(ws)
    district_csp = {d: csp for csp, codes in profile.csps.items() for d in codes}
    counted = incidents["la_code"].map(district_csp).value_counts()
    residents = {
        csp: int(_lsoas(ws, codes)["population"].sum()) for csp, codes in profile.csps.items()
    }
    area = _numbers(published[None].table("where", "csp_rates"))
    factor = _factor(area)
    overall = counted.sum() / sum(residents.values()) * 1000 * factor
    months = ws.con.execute("SELECT count(DISTINCT month) FROM incidents").fetchone()[0]
    for csp in profile.csps:
        pub = published[csp]
        own = _numbers(pub.table("where", "csp_rates"))
        whole = _numbers(pub.table("where", "area_rate"))
        assert list(own["area"]) == [csp] and "share" not in own.columns
        assert list(whole["area"]) == [ws.settings.area]
        assert own["count"].iloc[0] == counted[csp]
        assert whole["count"].iloc[0] == counted.sum()
        assert whole["population"].iloc[0] == sum(residents.values())
        assert whole["rate"].iloc[0] == pytest.approx(overall, abs=1e-3)
        rate = counted[csp] / residents[csp] * 1000 * factor
        assert own["rate"].iloc[0] == pytest.approx(rate, abs=1e-3)
        low, high = own["low"].iloc[0], own["high"].iloc[0]
        verdict = (
            "significantly higher than"
            if low > overall
            else "significantly lower than"
            if high < overall
            else "not significantly different from"
        )
        expected = (
            f"{csp}'s rate was {rate:.1f} per 1,000 residents a year (95% interval {low:.1f} "
            f"to {high:.1f}; {months} months with data), {verdict} {ws.settings.area}'s "
            f"{overall:.1f}."
        )
        assert any(f.endswith(expected) for f in pub.value("summary", "findings")), csp


@pytest.fixture(scope="module")
def suppressed(warwickshire):
    """The set as published, small counts hidden."""
    _, ws = warwickshire
    return publications(ws, selection_of(ws), Policy(ws.settings.disclosure_threshold))


def test_the_summary_gives_the_total_the_tables_show(suppressed):
    """A total is given whenever a table shows it (every financial year, every month, or a
    CSP's own rate row), and only then."""
    partly = 0
    for area, pub in suppressed.items():
        years = list(pub.table("trends", "financial_years")["count"])
        months = list(pub.table("trends", "monthly")["count"])
        shown = [years, months] + ([list(pub.table("where", "csp_rates")["count"])] if area else [])
        totals = {int(sum(c)) for c in shown if all(v is not None for v in c)}
        first = next(f for f in pub.value("summary", "findings") if "definition in" in f)
        assert len(totals) <= 1, area  # every table that shows the total shows the same one
        if totals:
            assert f"{totals.pop():,} incidents met" in first, area
            partly += any(v is None for v in months)
        else:
            assert "no total is given" in first, area
    assert partly, "no report hides months but shows its total: the check has no bite"


def test_a_csps_report_says_what_disclosure_control_hid_as_its_summary_does(
    warwickshire, suppressed, tmp_path
):
    """The limitation's counts are the summary JSON's, maps included."""
    _, ws = warwickshire
    csp = "Rugby"
    paths = build_sna(ws, out=tmp_path, csp=csp, pdf=False)
    summary = json.loads(paths["json"].read_text())
    hidden = summary["suppressed"]
    assert hidden["primary"] > suppressed[csp].primary  # its maps hide counts too
    said = next(s for s in summary["sections"]["limitations"]["items"] if "Disclosure" in s)
    threshold = summary["disclosure_threshold"]
    assert (
        f"hid {hidden['primary']:,} counts below {threshold} and {hidden['secondary']:,} more"
        in said
    )
    html = paths["html"].read_text()
    table = html.split("the CSP and the whole area</h3>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]+)</td>", table)
    assert rows == [csp, ws.settings.area]


# ---- maps without boundaries -----------------------------------------------------------------


def test_without_boundaries_maps_draw_cells_only_and_say_so(warwickshire, published, tmp_path):
    _, ws = warwickshire
    assert ws.boundaries() is None  # West Mercia's bundled outline is never used here
    paths = build_sna(ws, out=tmp_path, csp="Rugby", unsuppressed=True, pdf=False)
    html = paths["html"].read_text(encoding="utf-8")
    assert prose(NO_BOUNDARIES) in html and "<code>svduty fetch boundaries</code>" in html
    assert "West Mercia boundaries" not in html
    agreed = load_definition(DEFINITION).area  # another area's definition, said to be so
    assert agreed == "West Mercia" != ws.settings.area
    assert f"This definition was agreed by {agreed}, not by {ws.settings.area}" in html
    summary = json.loads(paths["json"].read_text(encoding="utf-8"))
    hotspots = summary["sections"]["hotspots"]
    size = re.search(r"cell size ([\d,]+) m", " ".join(hotspots["method"]))
    assert size and int(size.group(1).replace(",", "")) < 1_000  # cells fit Rugby, not the UK
    assert "2021 LSOAs" in hotspots["lsoa_unavailable"]
    whole = places(ws, selection_of(ws), Policy(5, internal=True))
    size = re.search(r"cell size ([\d,]+) m", " ".join(whole.value("hotspots", "method")))
    spans = ws.con.execute(
        "SELECT max(easting) - min(easting), max(northing) - min(northing) FROM incidents"
    ).fetchone()
    assert min(spans) / 50 > 2_000  # strays recorded far away ...
    assert size and int(size.group(1).replace(",", "")) < 2_000  # ... do not stretch the grid
    for section, name, column in (
        ("where", "deprivation", "count"),
        ("concentration", "table", "total"),
    ):  # the report says what its publication holds
        shown = pd.DataFrame(summary["sections"][section][name])[column].tolist()
        assert shown == published["Rugby"].table(section, name)[column].tolist()


# ---- boundaries from a file, and fetched ------------------------------------------------------


def _voronoi_lsoas(ws: Workspace, profile) -> dict[str, tuple[str, object]]:
    """Stand-in 2021 LSOA polygons for Warwickshire (the ONS file is not among the shared
    data): Voronoi cells around each LSOA's mean incident, so incidents fall in their LSOA's
    cell and neighbours share edges. Code -> (district, polygon in BNG metres)."""
    lsoas = _lsoas(ws, sum(profile.csps.values(), ()))
    means = ws.con.execute(
        "SELECT lsoa_code, avg(easting), avg(northing) FROM incidents GROUP BY 1"
    ).fetchall()
    seeds = {code: (x, y) for code, x, y in means if x is not None}
    rows = lsoas.to_dict(orient="records")
    points = []
    for number, row in enumerate(rows):
        if row["lsoa_code"] in seeds:
            points.append(Point(seeds[row["lsoa_code"]]))
        else:  # an LSOA with no incident: a seed of its own near its district's others
            x, y = np.mean([seeds[r["lsoa_code"]] for r in rows if r["lsoa_code"] in seeds], 0)
            points.append(Point(x + 40 * number, y + 40 * number))
    frame = box(*MultiPoint(points).buffer(2_000).bounds)
    cells = voronoi_polygons(MultiPoint(points), extend_to=frame, ordered=True).geoms
    return {
        row["lsoa_code"]: (row["la_code"], cell.intersection(frame))
        for row, cell in zip(rows, cells, strict=True)
    }


TO_WGS84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def _wgs84(shape):
    return transform(shape, lambda xy: np.column_stack(TO_WGS84.transform(xy[:, 0], xy[:, 1])))


def _collection(features: list[dict], crs: str | None = None) -> dict:
    out: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        out["crs"] = {"type": "name", "properties": {"name": crs}}
    return out


def _feature(properties: dict, shape) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": json.loads(to_geojson(shape))}


def test_a_boundary_file_must_fit_the_area(warwickshire, profile, shared, tmp_path):
    _, ws = warwickshire
    areas = ws.store.table("areas").select("lsoa_code", "la_code", "in_2011", "in_2021")
    areas = areas.to_pandas()
    districts = {code for codes in profile.csps.values() for code in codes}
    cells = _voronoi_lsoas(ws, profile)
    outlines = {}
    for district, shape in cells.values():
        outlines.setdefault(district, []).append(shape)
    lads = [_feature({"LAD24CD": code}, union_all(shapes)) for code, shapes in outlines.items()]
    path = tmp_path / "lad.geojson"
    path.write_text(json.dumps(_collection(lads, "urn:ogc:def:crs:EPSG::27700")))
    found = read_boundaries(path, areas, districts)
    assert set(found.districts) == districts and found.lsoas is None
    path.write_text(json.dumps(_collection(lads[1:], "urn:ogc:def:crs:EPSG::27700")))
    with pytest.raises(InputError, match=r"lad\.geojson: no outline for 1 of the area's 5 dist"):
        read_boundaries(path, areas, districts)
    path.write_text(json.dumps(_collection(lads, "urn:ogc:def:crs:EPSG::3857")))
    with pytest.raises(
        InputError, match=r"coordinates in urn:ogc:def:crs:EPSG::3857; svduty reads"
    ):
        read_boundaries(path, areas, districts)
    telford = shared / "boundaries-west-mercia" / "lsoa_by_lad" / "E06000020.json"
    old = int((areas["la_code"].isin(list(districts)) & areas["in_2011"]).sum())
    with pytest.raises(InputError, match=rf"no polygon for {old} of the area's {old} 2011 LSOAs"):
        read_boundaries(telford, areas, districts)  # another area's LSOAs never pass


class ArcGIS(http.server.BaseHTTPRequestHandler):
    """The part of an ArcGIS feature service query svduty uses: codes IN (...), paged."""

    features: ClassVar[dict[str, dict]] = {}
    page: ClassVar[int] = 60
    queries: ClassVar[list[dict[str, list[str]]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        ArcGIS.queries.append(query)
        layer = "Lower_layer_Super_Output_Areas_December_2021_Boundaries_EW_BGC_V5"
        if url.path != f"/arcgis/rest/services/{layer}/FeatureServer/0/query":
            body: dict = {"error": {"code": 400, "message": "Invalid URL"}}
        else:
            codes = re.findall(r"'([^']+)'", query["where"][0])
            chosen = [ArcGIS.features[c] for c in codes if c in ArcGIS.features]
            offset = int(query.get("resultOffset", ["0"])[0])
            body = _collection(chosen[offset : offset + ArcGIS.page])
            if offset + ArcGIS.page < len(chosen):
                body["properties"] = {"exceededTransferLimit": True}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def ons(warwickshire, profile) -> Iterator[str]:
    _, ws = warwickshire
    ArcGIS.features = {
        code: _feature({"LSOA21CD": code}, _wgs84(shape))
        for code, (_, shape) in _voronoi_lsoas(ws, profile).items()
    }
    ArcGIS.queries = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ArcGIS)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/arcgis/rest/services"
    httpd.shutdown()


def test_fetched_boundaries_outline_the_area_and_its_lsoa_hotspots(
    warwickshire, ons, shared, tmp_path
):
    root, original = warwickshire
    shutil.copytree(root / "ws", tmp_path / "ws", ignore=shutil.ignore_patterns("*.lock"))
    with Workspace.open(tmp_path / "ws") as ws:
        with pytest.raises(SvdutyError, match=r"the service says Invalid URL"):
            fetch_boundaries(ws, "lsoa", ons.replace("/services", "/elsewhere"))
        assert ws.settings.boundaries == ""
        missing = ArcGIS.features.pop(sorted(ArcGIS.features)[0])
        with pytest.raises(SvdutyError, match=r"do not fit the area: .*no polygon for 1 of"):
            fetch_boundaries(ws, "lsoa", ons)
        ArcGIS.features[str(missing["properties"]["LSOA21CD"])] = missing
        ArcGIS.queries = []
        path = fetch_boundaries(ws, "lsoa", ons)
        assert ws.settings.boundaries == "boundaries/lsoa-2021-bgc.geojson"
        assert len(json.loads(path.read_text())["features"]) == 354
        first = ArcGIS.queries[0]
        assert first["outSR"] == ["4326"] and first["f"] == ["geojson"]
        assert first["where"][0].startswith("LSOA21CD IN ('E01")
        assert any(q["resultOffset"] != ["0"] for q in ArcGIS.queries)  # paged past 60
    with Workspace.open(tmp_path / "ws", read_only=True) as ws:
        assert "lsoa-2021-bgc.geojson" in (ws.root / "svduty.toml").read_text()
        found = ws.boundaries()
        assert found is not None and found.vintage == 2021 and len(found.lsoas.codes) == 354
        # Nuneaton and Bedworth: the CSP whose generated crimes make 99% and 95% LSOA hotspots
        csp, district = "Nuneaton and Bedworth", "E07000219"
        paths = build_sna(ws, out=tmp_path / "out", csp=csp, unsuppressed=True, pdf=False)
        summary = json.loads(paths["json"].read_text(encoding="utf-8"))
        hotspots = summary["sections"]["hotspots"]
        assert "lsoa_unavailable" not in hotspots
        lsoas = len(_lsoas(original, (district,)))
        assert f"{lsoas} areas: 2021 LSOAs from lsoa-2021-bgc.geojson" in hotspots["lsoa_method"][0]
        html = paths["html"].read_text(encoding="utf-8")
        assert NO_BOUNDARIES not in html
        published = build_sna(ws, out=tmp_path / "out", csp=csp, pdf=False)
        public = published["html"].read_text(encoding="utf-8")
        threshold = ws.settings.disclosure_threshold
    # the LSOAs at the centre of hotspots, each with its ward from the shared 2021 lookup and its
    # incidents (every LSOA of the area has a polygon, so each is counted by its code)
    hot = pd.DataFrame(hotspots["lsoas_hot"])
    assert set(hot["confidence"]) == {"99%", "95%"}
    assert list(hot["confidence"]) == sorted(hot["confidence"], reverse=True)
    lookup = csv_rows(shared / "lsoa-2021-lookups-imd2025" / "lsoa21-lookup.csv")
    wards = {r["lsoa21cd"]: r["wd25nm"] for r in lookup}
    assert list(hot["ward"]) == [wards[code] for code in hot["LSOA"]]
    counted = _selected(original).groupby("lsoa_code").size()
    assert list(hot["count"]) == [int(counted.get(code, 0)) for code in hot["LSOA"]]
    small = [0 < n < threshold for n in hot["count"]]
    assert any(small)  # so the published list below has counts to hide
    for report, suppressed in ((html, False), (public, True)):
        listed = report[report.index("at the centre of hotspots") :]
        for row, hide in zip(hot.itertuples(), small, strict=True):
            figure = f"{row.count:,}"
            # a small count is [c] when published; a larger one may be hidden to protect it
            shown = ("\\[c\\]" if hide else rf"(?:{figure}|\[c\])") if suppressed else figure
            assert re.search(
                rf"<td>{re.escape(escape(row.ward))}</td><td>[^<]*</td><td>{row.LSOA}</td>"
                rf"<td>{row.confidence}</td><td class=\"n\"[^>]*>{shown}</td>",
                listed,
            ), (row, suppressed)


def test_an_attacker_adding_up_the_set_pins_no_hidden_count(warwickshire, suppressed):
    """A reader's own equations over the published set (offence subgroups in their groups,
    months in their financial years, each table to the selection's total, the whole area's
    cell as its CSPs'), solved with linear then integer programming: every hidden count still
    spans at least the threshold."""
    _, ws = warwickshire
    threshold = ws.settings.disclosure_threshold
    truth = publications(ws, selection_of(ws), Policy(threshold, internal=True))
    tables = {
        ("what", "offence_groups"): "offence_group",
        ("what", "offence_subgroups"): "offence_subgroup",
        ("trends", "financial_years"): "financial_year",
        ("trends", "monthly"): "month",
    }
    unknown: dict[tuple, int] = {}
    known: dict[tuple, float] = {}
    rows: dict[tuple, dict] = {}
    for area, pub in suppressed.items():
        for (section, name), key in tables.items():
            frame = pub.table(section, name)
            for row in frame.to_dict(orient="records"):
                cell = (area, name, row[key])
                rows[cell] = row
                if row["count"] is None:
                    unknown.setdefault(cell, len(unknown))
                else:
                    known[cell] = float(row["count"])
    equations: list[tuple[dict[int, float], float]] = []

    def equal(total: tuple | float, members: list[tuple]) -> None:
        _equal(equations, unknown, known, total, members)

    for area, pub in truth.items():
        total = sum(v or 0 for v in pub.table("trends", "financial_years")["count"])
        for _, name in tables:
            equal(total, [c for c in rows if c[0] == area and c[1] == name])
        for group in pub.table("what", "offence_groups")["offence_group"]:
            members = [
                c
                for c in rows
                if c[:2] == (area, "offence_subgroups") and rows[c]["offence_group"] == group
            ]
            equal((area, "offence_groups", group), members)
        for year in pub.table("trends", "financial_years")["financial_year"]:
            months = [
                c for c in rows if c[:2] == (area, "monthly") and rows[c]["financial_year"] == year
            ]
            equal((area, "financial_years", year), months)
    csps = [area for area in suppressed if area]
    for cell in [c for c in rows if c[0] is None]:
        equal(cell, [(csp, *cell[1:]) for csp in csps])
    assert not _narrowed(unknown, known, equations, threshold)


def _equal(
    equations: list[tuple[dict[int, float], float]],
    unknown: dict[tuple, int],
    known: dict[tuple, float],
    total: tuple | float,
    members: list[tuple],
) -> None:
    """A reader's equation: `total` (a cell, or a number) is the sum of `members`."""
    coef: dict[int, float] = {}
    rhs = -float(total) if not isinstance(total, tuple) else 0.0
    for cell, sign in [
        *([(total, 1.0)] if isinstance(total, tuple) else []),
        *((m, -1.0) for m in members),
    ]:
        if cell in unknown:
            coef[unknown[cell]] = coef.get(unknown[cell], 0.0) + sign
        else:
            rhs -= sign * known.get(cell, 0.0)
    if coef:
        equations.append((coef, rhs))


def _narrowed(
    unknown: dict[tuple, int],
    known: dict[tuple, float],
    equations: list[tuple[dict[int, float], float]],
    threshold: int,
) -> list[tuple]:
    """Hidden cells a reader's equations pin to a range narrower than the threshold, by linear
    then integer programming (each hidden count at least 1)."""
    n = len(unknown)
    assert n, "nothing hidden: the check has no bite"
    a = np.zeros((len(equations), n))
    b = np.zeros(len(equations))
    for i, (coef, rhs) in enumerate(equations):
        for j, v in coef.items():
            a[i, j] = v
        b[i] = rhs
    cap = 4 * max(known.values())
    narrow = []
    for cell, j in unknown.items():
        ends = []
        for sign in (1.0, -1.0):
            objective = np.zeros(n)
            objective[j] = sign
            found = linprog(objective, A_eq=a, b_eq=b, bounds=(1, cap), method="highs")
            assert found.status == 0, cell
            ends.append(sign * found.fun)
        if ends[1] - ends[0] < threshold + 1:  # whole numbers may narrow it further
            constraint = LinearConstraint(a, b, b)
            whole = [
                sign
                * milp(
                    objective, constraints=constraint, integrality=np.ones(n), bounds=Bounds(1, cap)
                ).fun
                for sign in (1.0, -1.0)
                for objective in [sign * np.eye(1, n, j)[0]]
            ]
            if whole[1] - whole[0] < threshold:
                narrow.append((cell, whole))
    return narrow


# ---- need by theme and cohort ------------------------------------------------------------------


def _cohorts_from_records(ws: Workspace) -> pd.DataFrame:
    """Incidents in the definition by CSP and the age band of their youngest person with an
    age, read with SQL from the store."""
    frame = ws.con.execute(
        """
        SELECT a.csp_name AS csp, min(p.age) AS youngest
        FROM incidents i JOIN classifications c USING (batch_id, source_line)
        LEFT JOIN areas a USING (lsoa_code)
        LEFT JOIN involvements p ON p.force = i.force AND p.crime_ref = i.crime_ref
        WHERE c.definition_id = ? AND c.in_definition
        GROUP BY i.batch_id, i.source_line, a.csp_name""",
        [DEFINITION],
    ).df()
    bands = pd.cut(frame["youngest"], [-1, 17, 24, 200], labels=["under_18", "18_24", "25_over"])
    return frame.assign(cohort=bands.astype(object).fillna("age_unknown"))


def test_need_counts_each_area_by_its_youngest_persons_age(warwickshire, published, profile):
    """Each area's incidents by cohort, as published for need, are the records' own: the
    whole area's and each CSP's, the cohorts adding up to the area's incidents."""
    _, ws = warwickshire
    found = _cohorts_from_records(ws)
    assert set(found["cohort"]) >= {"under_18", "18_24", "25_over"}
    for area, pub in published.items():
        mine = found if area is None else found[found["csp"] == area]
        expected = mine["cohort"].value_counts().to_dict()
        shown = pub.table("need", "all").set_index("cohort_id")["count"].to_dict()
        assert {k: v for k, v in shown.items() if v} == expected, area
        assert sum(shown.values()) == pub.value("who", "incidents")
    assert set(published) - {None} == set(profile.csps)


def test_an_attacker_adding_up_need_pins_no_hidden_count(warwickshire, suppressed):
    """Need's cohorts add up to their theme (all serious violence to the selection's total,
    each SNA theme to its row of the themes table) and the whole area's cells to its CSPs':
    solved as a reader would, no hidden cohort count is narrower than the threshold."""
    _, ws = warwickshire
    threshold = ws.settings.disclosure_threshold
    truth = publications(ws, selection_of(ws), Policy(threshold, internal=True))
    unknown: dict[tuple, int] = {}
    known: dict[tuple, float] = {}
    cells: list[tuple] = []

    def cell(key: tuple, value: object) -> tuple:
        cells.append(key)
        if value is None:
            unknown.setdefault(key, len(unknown))
        else:
            known[key] = float(value)  # type: ignore[arg-type]
        return key

    equations: list[tuple[dict[int, float], float]] = []
    for area, pub in suppressed.items():
        everything = pub.table("need", "all")
        members = [cell((area, "all", r["cohort_id"]), r["count"]) for r in records(everything)]
        total = sum(truth[area].table("need", "all")["count"])
        _equal(equations, unknown, known, float(total), members)
        themes = {r["theme"]: r for r in records(pub.table("themes", "themes"))}
        need = pub.table("need", "themes")
        for theme, part in need.groupby("theme"):
            members = [cell((area, theme, r["cohort_id"]), r["count"]) for r in records(part)]
            if theme in themes:
                parent = cell((area, "themes", theme), themes[theme]["count"])
                _equal(equations, unknown, known, parent, members)
    csps = [area for area in suppressed if area]
    for key in [c for c in cells if c[0] is None]:
        _equal(equations, unknown, known, key, [(csp, *key[1:]) for csp in csps])
    assert not _narrowed(unknown, known, equations, threshold)


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict(orient="records")
