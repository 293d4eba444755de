"""The "where" page's map: the published figures as GeoJSON layers that MapLibre draws in the
browser over the area's own boundaries (no tile server; nothing is fetched from elsewhere).

Three layers, each for the page's view (area, period, published or internal figures):

- `csps` and `districts`: the rates per 1,000 residents of the published "where" tables
  (`csp_rates`, `district_rates`), on CSP outlines (unions of their districts) and districts;
- `hotspots`: the Gi* class of each LSOA that the report's LSOA hotspot map draws, with the
  published count of the hot ones; where the LSOA analysis is not possible (no 2021 LSOA
  polygons), the classes of the grid cells the report's hotspot map draws instead.

A property is a published figure or nothing: a hidden cell stays hidden (null, listed as [c],
drawn unfilled). A partner scoped to some CSPs gets the features of their own CSPs' districts
only: another CSP's outline and figures are left out, not blanked.

Each layer asked for is audited ("web map"), as an export is: the GeoJSON carries the page's
figures in a form that can be saved and reused, and it can be fetched without the page, so
counting it as part of the page view would miss who took it. A layer is built once per data
version, view and the CSPs its reader may not see, and kept in memory gzipped (the largest,
800 LSOAs, is about 170 KB so; a client that cannot take gzip gets it unpacked).
Coordinates are WGS84 longitude and latitude (RFC 7946) to five decimals (about a metre), the
polygons simplified by coverage, so neighbours still meet, by about 30 m.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pyproj import Transformer
from shapely import (
    MultiPolygon,
    Polygon,
    box,
    contains_xy,
    coverage_simplify,
    to_geojson,
    transform,
    union_all,
)
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from svduty.errors import InputError, SvdutyError
from svduty.publish import Policy, Publication
from svduty.spatial.maps import CLASS_COLOURS, NOT_DRAWN
from svduty.web.views import Published, View, scoped
from svduty.workspace import Workspace

LAYERS = ("csps", "districts", "hotspots")
RATE_COLOURS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")
"""Five classes of rate, low to high (ColorBrewer OrRd): equal intervals of the rates shown."""
SIMPLIFY_METRES = 100.0
"""Coverage simplification's tolerance (about the square root of the triangles' area dropped):
the nine West Mercia districts keep about 4,700 points, some 90 KB of GeoJSON."""
SLIVER_SQUARE_METRES = 50_000.0
"""Holes and islands smaller than this are slivers left where generalised polygons almost meet."""
DECIMALS = 5
KEPT_LAYERS = 256
"""Layers kept in memory, gzipped: a few KB to some 170 KB each."""
RATE_COLUMNS = ("area", "csp", "count", "population", "rate", "low", "high", "share")
HIDDEN = "[c]"


@dataclass(frozen=True)
class Geography:
    """The area's districts (BNG metres, simplified), their names, each CSP's districts, each
    LSOA's district, and where the boundaries came from (None: there are none)."""

    districts: dict[str, BaseGeometry]
    names: dict[str, str]
    csps: dict[str, tuple[str, ...]]
    lsoa_districts: dict[str, str]
    source: str | None
    missing: str = ""  # why there are no boundaries

    def allowed(self, hidden: set[str]) -> set[str]:
        """The district codes of every CSP but the hidden ones."""
        return {c for name, codes in self.csps.items() if name not in hidden for c in codes}


def geography(ws: Workspace) -> Geography:
    """Read once per data version: the boundaries the reports draw with, and the lookups."""
    from svduty.analysis.assessment import csp_districts
    from svduty.reference.places import places

    groups = csp_districts(ws.store, ws.settings, None)
    codes = sorted({c for found in groups.values() for c in found})
    frame = places(ws.store)
    frame = frame[frame["la_code"].isin(codes)]
    names = dict(zip(frame["la_code"], frame["la_name"], strict=True))
    lsoa_districts = dict(zip(frame["lsoa_code"], frame["la_code"], strict=True))
    try:
        bounds = ws.boundaries()
    except SvdutyError as error:
        return Geography({}, names, groups, lsoa_districts, None, str(error))
    if bounds is None:
        from svduty.reference.boundaries import NO_BOUNDARIES

        return Geography({}, names, groups, lsoa_districts, None, NO_BOUNDARIES)
    kept = [c for c in codes if c in bounds.districts]
    shapes = _simplified(np.array([_solid(bounds.districts[c]) for c in kept]))
    return Geography(
        dict(zip(kept, shapes, strict=True)), names, groups, lsoa_districts, bounds.source
    )


def _simplified(shapes: np.ndarray) -> np.ndarray:
    """Polygons that tile an area simplified together, so neighbours still share edges."""
    if not len(shapes):
        return shapes
    try:
        return np.asarray(coverage_simplify(shapes, SIMPLIFY_METRES))
    except (GEOSException, ValueError, TypeError):  # not a clean coverage: one by one
        return np.array([s.simplify(SIMPLIFY_METRES / 2) for s in shapes])


def _solid(shape: BaseGeometry) -> BaseGeometry:
    """A district or CSP without the sliver holes and specks a union of LSOAs leaves."""
    parts = getattr(shape, "geoms", [shape])
    kept = [
        Polygon(p.exterior, [r for r in p.interiors if Polygon(r).area >= SLIVER_SQUARE_METRES])
        for p in parts
        if isinstance(p, Polygon) and p.area >= SLIVER_SQUARE_METRES
    ]
    if not kept:
        return shape
    return kept[0] if len(kept) == 1 else MultiPolygon(kept)


def _wgs84(shapes: np.ndarray) -> np.ndarray:
    """BNG metres to WGS84 degrees, rounded to about a metre (a transformer per call: they are
    not to be shared between threads)."""
    to_wgs = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs.transform(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([lon, lat]), DECIMALS)

    return np.asarray(transform(shapes, project))


def _plain(value: Any) -> Any:
    """A cell as JSON: numpy numbers as numbers, a hidden (missing) cell as null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _collection(
    shapes: list[BaseGeometry], properties: list[dict[str, Any]], about: dict[str, Any]
) -> bytes:
    """A FeatureCollection, its legend and notes as the foreign member `svduty`."""
    projected = _wgs84(np.array(shapes, dtype=object)) if shapes else np.array([])
    features = ",".join(
        f'{{"type":"Feature","geometry":{to_geojson(shape)},"properties":{_json(props)}}}'
        for shape, props in zip(projected, properties, strict=True)
    )
    head = _json(about)
    return f'{{"type":"FeatureCollection","svduty":{head},"features":[{features}]}}'.encode()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _breaks(rates: list[float]) -> list[float]:
    """Equal intervals from the lowest rate shown to the highest (one class when all equal)."""
    if not rates:
        return []
    low, high = min(rates), max(rates)
    if high == low:
        return [low, high]
    return [float(x) for x in np.linspace(low, high, len(RATE_COLOURS) + 1)]


def _colour(rate: float | None, breaks: list[float]) -> str | None:
    if rate is None or not breaks:
        return None
    if len(breaks) == 2:
        return RATE_COLOURS[len(RATE_COLOURS) // 2]
    step = (breaks[-1] - breaks[0]) / len(RATE_COLOURS)
    return RATE_COLOURS[min(int((rate - breaks[0]) / step), len(RATE_COLOURS) - 1)]


def _said(props: dict[str, Any]) -> str:
    """A rate as the table shows it, with its interval; hidden as [c]."""
    if props.get("rate") is None:
        return HIDDEN
    low, high = props.get("low"), props.get("high")
    interval = f" ({low:.1f} to {high:.1f})" if low is not None and high is not None else ""
    return f"{props['rate']:.1f}{interval}"


def rates_layer(pub: Publication, geo: Geography, level: str, hidden: set[str]) -> bytes:
    """CSP (`csps`) or district (`districts`) rates per 1,000 residents from the published
    "where" tables, one feature per row whose area the reader may see."""
    table = "csp_rates" if level == "csps" else "district_rates"
    about: dict[str, Any] = {
        "layer": level,
        "title": f"Rate per 1,000 residents by {'CSP' if level == 'csps' else 'district'}",
        "table": f"where-{table}",
        "source": geo.source,
        "note": str(pub.value("where", "rate_basis")) if pub.has("where", "rate_basis") else "",
    }
    if not geo.districts or not pub.has("where", table):
        about["note"] = geo.missing or "No rates are published for this view."
        return _collection([], [], {**about, "legend": []})
    allowed = geo.allowed(hidden)
    by_name = {name: code for code, name in geo.names.items()}
    shapes, properties = [], []
    for row in pub.table("where", table).to_dict(orient="records"):
        found = geo.csps.get(row["area"], ()) if level == "csps" else (by_name.get(row["area"]),)
        codes = [c for c in found if c is not None]
        if not codes or not all(c in allowed and c in geo.districts for c in codes):
            continue
        shapes.append(_solid(union_all([geo.districts[c] for c in codes])))
        properties.append({k: _plain(row[k]) for k in RATE_COLUMNS if k in row})
    breaks = _breaks([p["rate"] for p in properties if p.get("rate") is not None])
    for props in properties:
        props["fill"] = _colour(props.get("rate"), breaks)
        props["label"] = _said(props)
    legend: list[dict[str, str | None]] = [
        {"colour": colour, "label": f"{lo:.1f} to {hi:.1f}"}
        for colour, lo, hi in zip(RATE_COLOURS, breaks, breaks[1:], strict=False)
    ]
    if len(breaks) == 2:
        legend = [{"colour": _colour(breaks[0], breaks), "label": f"{breaks[0]:.1f}"}]
    if any(p["fill"] is None for p in properties):
        legend.append({"colour": None, "label": f"{HIDDEN}: hidden (a small count)"})
    return _collection(shapes, properties, {**about, "legend": legend})


def hotspots_layer(places: Publication, geo: Geography, hidden: set[str]) -> bytes:
    """The Gi* class of each LSOA (or grid cell) the report's hotspot map draws, within the
    districts the reader may see."""
    about: dict[str, Any] = {
        "layer": "hotspots",
        "title": "Gi* hotspots",
        "table": None,
        "source": geo.source,
    }
    extras, allowed = places.extras, geo.allowed(hidden)
    shapes: list[BaseGeometry] = []
    properties: list[dict[str, Any]] = []
    if "lsoa_hotspots" in extras:
        lsoa = extras["lsoa_hotspots"]
        frame = lsoa["frame"].reset_index(drop=True)
        keep = frame["lsoa_code"].map(geo.lsoa_districts).isin(allowed).to_numpy()
        frame, kept = frame[keep], _simplified(np.asarray(lsoa["shapes"])[keep])
        hot = (
            places.table("hotspots", "lsoas_hot").set_index("LSOA")
            if places.has("hotspots", "lsoas_hot")
            else pd.DataFrame()
        )
        for shape, code, found in zip(kept, frame["lsoa_code"], frame["class"], strict=True):
            props: dict[str, Any] = {"lsoa": code, "class": found}
            if code in hot.index:
                row = hot.loc[code]
                props |= {k: _plain(row[k]) for k in ("name", "ward", "district", "count")}
            shapes.append(shape)
            properties.append(props)
        about |= {"unit": f"{len(shapes):,} LSOAs", "table": "hotspots-lsoas_hot"}
        if places.has("hotspots", "lsoa_method"):
            about["note"] = "; ".join(map(str, places.value("hotspots", "lsoa_method")))
    elif "hotspots" in extras:
        spots = extras["hotspots"]
        frame, grid = spots["frame"], spots["grid"]
        frame = frame[frame["in_area"] & ~frame["class"].isin(NOT_DRAWN)]
        if hidden and geo.districts:
            mine = union_all([geo.districts[c] for c in allowed if c in geo.districts])
            frame = frame[contains_xy(mine, frame["x"].to_numpy(), frame["y"].to_numpy())]
        half = grid.size / 2
        x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
        shapes = list(box(x - half, y - half, x + half, y + half))
        properties = [{"class": c} for c in frame["class"]]
        about |= {"unit": f"{grid.size:,.0f} m grid cells", "table": "hotspots-cells_by_class"}
        if places.has("hotspots", "lsoa_unavailable"):
            why = str(places.value("hotspots", "lsoa_unavailable"))
            about["note"] = f"Grid cells, as there are no LSOA hotspots: {why}"
    else:
        said = places.has("hotspots", "unavailable")
        why = places.value("hotspots", "unavailable") if said else ""
        about["note"] = f"No hotspot analysis for this view. {why}".strip()
    for props in properties:
        props["fill"] = None if props["class"] in NOT_DRAWN else CLASS_COLOURS.get(props["class"])
        if "count" in props:
            count = HIDDEN if props["count"] is None else f"{props['count']:,}"
            props["label"] = f"{props['class']}, {count} incidents"
        else:
            props["label"] = props["class"]
    present = {p["class"] for p in properties}
    legend = [
        {"colour": colour, "label": name}
        for name, colour in CLASS_COLOURS.items()
        if name in present and name not in NOT_DRAWN
    ]
    return _collection(shapes, properties, {**about, "legend": legend})


class Maps:
    """The layers of the views asked for, built once per data version, view and hidden CSPs."""

    def __init__(self, published: Published) -> None:
        self.published = published
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._geography: tuple[str, Geography] | None = None

    def geography(self, version: str) -> Geography:
        with self._lock:
            if self._geography is not None and self._geography[0] == version:
                return self._geography[1]
        found = self.published.using(geography)
        with self._lock:
            self._geography = (version, found)
        return found

    def places(self, view: View) -> Publication:
        """The hotspots of the view's area and period, published under the view's policy (the
        report's own, from the workspace's cache when it has drawn them)."""
        from svduty.counting import Filter
        from svduty.sna import places, selection_of

        def work(ws: Workspace) -> Publication:
            policy = Policy(ws.settings.disclosure_threshold, internal=view.internal)
            period = [
                *([Filter("month", view.start, ">=")] if view.start else []),
                *([Filter("month", view.end, "<=")] if view.end else []),
            ]
            district = districts.get(view.area or "")
            csp = district.csp if district else view.area
            selection = selection_of(ws, period=period or None, csp=csp)
            if district:
                selection = selection.for_district(district.code, district.csp)
            return places(ws, selection, policy)

        districts = self.published.districts()
        return self.published.using(work)

    def layer(self, name: str, view: View, version: str, hidden: set[str]) -> bytes:
        """The layer's GeoJSON, gzipped."""
        key = (version, name, view.query(), tuple(sorted(hidden)))
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        geo = self.geography(version)
        if name == "hotspots":
            data = hotspots_layer(self.places(view), geo, hidden)
        else:
            sets = self.published.made(view)
            if view.area not in sets:
                raise InputError(f"area {view.area!r}: no figures are published for it")
            pub = scoped(sets[view.area], hidden, self.published.places_of(hidden))
            data = rates_layer(pub, geo, name, hidden)
        made = gzip.compress(data, compresslevel=6, mtime=0)
        with self._lock:
            self._kept[key] = made
            while len(self._kept) > KEPT_LAYERS:
                self._kept.popitem(last=False)
        return made


def add_map_routes(
    app: FastAPI,
    published: Published,
    view_of: Callable[[Request], tuple[View, dict[str, Any]]],
    hidden_from: Callable[[Request, dict[str, Any]], set[str]],
    audit: Callable[[Request, str, dict[str, Any]], None],
) -> Maps:
    """`/map/{layer}.geojson`: a layer of the "where" page's map, for the same URL filters as
    the page, behind the same session check, scoping and audit as the pages and exports."""
    maps = Maps(published)

    @app.get("/map/{layer}.geojson")
    def map_layer(request: Request, layer: str) -> Response:
        if layer not in LAYERS:
            return Response(
                f"404: no map layer {layer!r}; the layers are {', '.join(LAYERS)}",
                status_code=404,
                media_type="text/plain; charset=utf-8",
            )
        view, values = view_of(request)
        hidden = hidden_from(request, values)
        packed = maps.layer(layer, view, request.state.data_version, hidden)
        audit(request, "web map", {"layer": layer, "query": view.query()})
        headers = {"Cache-Control": "private, no-store", "Vary": "Accept-Encoding, Cookie"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(packed, media_type="application/geo+json", headers=headers)
        return Response(gzip.decompress(packed), media_type="application/geo+json", headers=headers)

    return maps
