"""Boundaries for maps and LSOA hotspots, in British National Grid metres, and never another
area's: each comes from one of two sources.

- Bundled: West Mercia's nine districts and its 781 LSOAs (2011), built from the ONS generalised
  LSOA polygons in shared/data/boundaries-west-mercia (OGL; attribution in ATTRIBUTION.md). Each
  district is the union of its LSOAs, simplified to 25 m (invisible at report scale) so the
  bundled file stays small. Used only for an area whose districts are all among them.
- A file the partnership provides (the workspace setting `boundaries`, which `svduty fetch
  boundaries` fills): GeoJSON of LSOAs (LSOA21CD or LSOA11CD) or of districts (LAD24CD and the
  like), in WGS84 or British National Grid, covering every district of the area.

CSP outlines are unions of their districts, made when drawn. Without boundaries the maps draw
cells only and say so.

LSOA polygons are snapped to a 1 m grid. The generalised polygons leave gaps of a fraction of a
millimetre between LSOAs that meet, so neither a shared-vertex nor an intersection test finds
all neighbours on the raw file; after snapping, both find the same 4,422 neighbour pairs."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer
from shapely import (
    MultiPolygon,
    Polygon,
    bounds,
    from_geojson,
    set_precision,
    to_geojson,
    transform,
    union_all,
)

from svduty.errors import InputError
from svduty.reference import data_path

BOUNDARIES_FILE = "districts-bng.geojson"
LSOA_FILE = "lsoas-bng.geojson.gz"
SIMPLIFY_METRES = 25.0
SNAP_METRES = 1.0
CODE_PROPERTIES = ("lsoa_code", "LSOA21CD", "LSOA11CD", "lsoa21cd", "lsoa11cd", "code")


def _to_bng(shapes: np.ndarray) -> np.ndarray:
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    return transform(shapes, lambda xy: np.column_stack(to_bng.transform(xy[:, 0], xy[:, 1])))


def _collection(features: list[dict]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def build_boundaries(shared: Path, out: Path) -> int:
    """Write the district outlines and the LSOA polygons; returns the districts written."""
    districts, lsoas = [], []
    for path in sorted((shared / "boundaries-west-mercia" / "lsoa_by_lad").glob("*.json")):
        features = json.loads(path.read_text())["features"]
        shapes = _to_bng(np.array([from_geojson(json.dumps(f["geometry"])) for f in features]))
        district = set_precision(union_all(shapes).simplify(SIMPLIFY_METRES), 1.0)
        districts.append(
            {
                "type": "Feature",
                "properties": {"la_code": path.stem},
                "geometry": json.loads(to_geojson(district)),
            }
        )
        for feature, shape in zip(features, set_precision(shapes, SNAP_METRES), strict=True):
            lsoas.append(
                {
                    "type": "Feature",
                    "properties": {
                        "lsoa_code": feature["properties"]["LSOA11CD"],
                        "la_code": path.stem,
                    },
                    "geometry": json.loads(to_geojson(shape)),
                }
            )
    (out / BOUNDARIES_FILE).write_text(_collection(districts) + "\n", encoding="utf-8")
    # mtime=0 keeps the file byte-identical across rebuilds
    with gzip.GzipFile(out / LSOA_FILE, "wb", mtime=0) as handle:
        handle.write((_collection(lsoas) + "\n").encode())
    return len(districts)


BUNDLED_SOURCE = (
    "bundled West Mercia boundaries: ONS/OS generalised clipped, 2011 LSOAs; Crown copyright "
    "2016, OGL"
)
LSOA_KEYS: dict[str, int | None] = {"lsoa21cd": 2021, "lsoa11cd": 2011, "lsoa_code": None}
DISTRICT_KEYS = ("lad25cd", "lad24cd", "lad23cd", "lad22cd", "lad21cd", "lad20cd", "la_code")
NO_BOUNDARIES = (
    "No boundaries are set for this area, so the map draws cells only: set `boundaries` in "
    "svduty.toml to an ONS boundary file (GeoJSON), or run `svduty fetch boundaries`."
)


def districts() -> dict[str, Polygon | MultiPolygon]:
    """The bundled district outlines by district code (BNG metres)."""
    collection = json.loads(data_path(BOUNDARIES_FILE).read_text())
    return {
        f["properties"]["la_code"]: from_geojson(json.dumps(f["geometry"]))
        for f in collection["features"]
    }


@dataclass(frozen=True)
class Areas:
    """Polygons for area-based hotspots: codes, shapes in BNG metres, where they came from, and
    each polygon's district when known."""

    codes: np.ndarray
    shapes: np.ndarray
    source: str
    la_codes: np.ndarray | None = None

    def within(self, wanted: set[str]) -> Areas:
        """The polygons of the districts `wanted` only."""
        if self.la_codes is None:
            return self
        keep = np.isin(self.la_codes, list(wanted))
        return Areas(self.codes[keep], self.shapes[keep], self.source, self.la_codes[keep])


def lsoas(districts_wanted: set[str] | None = None) -> Areas:
    """The bundled 2011 LSOAs of West Mercia (those of `districts_wanted`, if given)."""
    with gzip.open(data_path(LSOA_FILE), "rt", encoding="utf-8") as handle:
        features = json.load(handle)["features"]
    chosen = [
        f
        for f in features
        if districts_wanted is None or f["properties"]["la_code"] in districts_wanted
    ]
    return Areas(
        np.array([f["properties"]["lsoa_code"] for f in chosen]),
        np.array([from_geojson(json.dumps(f["geometry"])) for f in chosen]),
        "2011 LSOAs, ONS/OS generalised clipped boundaries (bundled)",
        np.array([f["properties"]["la_code"] for f in chosen]),
    )


def _features(path: Path) -> tuple[list[dict], dict]:
    """The features of a GeoJSON FeatureCollection, and the collection itself."""
    if path.suffix.lower() in (".gpkg", ".shp", ".zip"):
        raise InputError(
            f"{path}: svduty reads boundaries as GeoJSON; convert the file first (ogr2ogr -f "
            f"GeoJSON {path.stem}.geojson {path.name}) or run `svduty fetch boundaries`"
        )
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
        features = collection["features"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a GeoJSON FeatureCollection ({error})") from error
    if not features:
        raise InputError(f"{path}: no features")
    return features, collection


def _in_bng(path: Path, collection: dict, geometry: np.ndarray) -> np.ndarray:
    """Shapes in BNG metres. A file names its CRS (the old `crs` member) or, as RFC 7946 says,
    is WGS84; one with no `crs` whose numbers are metres is taken as BNG."""
    named = str(((collection.get("crs") or {}).get("properties") or {}).get("name", ""))
    box = bounds(geometry)
    degrees = bool(box[:, 0].min() >= -180 and box[:, 2].max() <= 180 and box[:, 3].max() <= 90)
    if "27700" in named:
        shapes = geometry
    elif named and not any(tag in named for tag in ("4326", "CRS84")):
        raise InputError(
            f"{path}: coordinates in {named}; svduty reads WGS84 (EPSG:4326) or British National "
            f"Grid (EPSG:27700): reproject the file (ogr2ogr -t_srs EPSG:27700 out.geojson "
            f"{path.name})"
        )
    elif degrees:
        shapes = _to_bng(geometry)
    elif named:
        raise InputError(f"{path}: names WGS84 ({named}) but its coordinates are not degrees")
    else:
        shapes = geometry
    box = bounds(shapes)
    if box[:, 0].min() < 0 or box[:, 2].max() > 700_000 or box[:, 3].max() > 1_300_000:
        raise InputError(
            f"{path}: coordinates fall outside Great Britain; svduty reads WGS84 (EPSG:4326) or "
            "British National Grid (EPSG:27700)"
        )
    return shapes


def _coded(path: Path, features: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's code (property `key`) and polygon, refusing features with neither."""
    codes, shapes = [], []
    for number, feature in enumerate(features, start=1):
        code = (feature.get("properties") or {}).get(key)
        if not code or not feature.get("geometry"):
            raise InputError(f"{path}: feature {number} has no {key} or no geometry")
        codes.append(str(code))
        shapes.append(from_geojson(json.dumps(feature["geometry"])))
    return np.array(codes), np.array(shapes)


def load_areas(path: Path) -> Areas:
    """LSOA (or other area) polygons from a GeoJSON file in WGS84 or BNG, snapped to 1 m."""
    features, collection = _features(path)
    properties = features[0].get("properties") or {}
    key = next((k for k in CODE_PROPERTIES if k in properties), None)
    if key is None:
        raise InputError(
            f"{path}: feature 1 has no area code property; expected one of "
            f"{', '.join(CODE_PROPERTIES)} (found {', '.join(properties) or 'none'})"
        )
    codes, geometry = _coded(path, features, key)
    return Areas(codes, set_precision(_in_bng(path, collection, geometry), SNAP_METRES), str(path))


@dataclass(frozen=True)
class Boundaries:
    """One area's boundaries: its districts' outlines, its LSOA polygons when the source has them
    (of one vintage), and where they came from (said on every map)."""

    districts: dict[str, Polygon | MultiPolygon]
    lsoas: Areas | None
    vintage: int | None  # of the LSOAs: 2011 or 2021
    source: str


def bundled(districts_wanted: set[str]) -> Boundaries | None:
    """The bundled West Mercia boundaries, when every district of the area is among them."""
    shapes = districts()
    if not districts_wanted or not districts_wanted <= set(shapes):
        return None
    return Boundaries(
        {code: shapes[code] for code in sorted(districts_wanted)},
        lsoas(districts_wanted),
        2011,
        BUNDLED_SOURCE,
    )


def _listed(codes: list[str]) -> str:
    return ", ".join(codes[:5]) + (f" and {len(codes) - 5} more" if len(codes) > 5 else "")


def read_boundaries(path: Path, areas: pd.DataFrame, districts_wanted: set[str]) -> Boundaries:
    """A boundary file for the area whose districts are `districts_wanted`. `areas` is the
    reference table (lsoa_code, la_code, in_2011, in_2021): an LSOA file must hold every LSOA of
    those districts (all 2011 or all 2021), a district file every district; others are left
    out, so no other area is ever drawn."""
    features, collection = _features(path)
    properties = {k.lower(): k for k in (features[0].get("properties") or {})}
    lsoa_key = next((k for k in LSOA_KEYS if k in properties), None)
    key = lsoa_key or next((k for k in DISTRICT_KEYS if k in properties), None)
    if key is None:
        raise InputError(
            f"{path}: feature 1 has no LSOA or district code; expected one of "
            f"{', '.join(k.upper() for k in (*LSOA_KEYS, *DISTRICT_KEYS))} "
            f"(found {', '.join(properties.values()) or 'none'})"
        )
    codes, geometry = _coded(path, features, properties[key])
    polygonal = np.array([isinstance(s, Polygon | MultiPolygon) for s in geometry])
    if not polygonal.all():
        first = int(np.flatnonzero(~polygonal)[0])
        raise InputError(
            f"{path}: feature {first + 1} ({codes[first]}) is a {geometry[first].geom_type}, not "
            "an area"
        )
    shapes = set_precision(_in_bng(path, collection, geometry), SNAP_METRES)
    title = collection.get("name")  # fetched files name their product and licence here
    named = f"{path.name}, {title}" if isinstance(title, str) and title else path.name
    if lsoa_key is None:
        missing = sorted(districts_wanted - set(codes))
        if missing:
            raise InputError(
                f"{path}: no outline for {len(missing)} of the area's {len(districts_wanted)} "
                f"districts ({_listed(missing)}); give a file that covers the area"
            )
        keep = np.isin(codes, list(districts_wanted))
        return Boundaries(dict(zip(codes[keep], shapes[keep], strict=True)), None, None, named)
    vintage = LSOA_KEYS[lsoa_key] or _vintage(path, codes, areas)
    mine = areas[areas["la_code"].isin(list(districts_wanted)) & areas[f"in_{vintage}"]]
    missing = sorted(set(mine["lsoa_code"]) - set(codes))
    if missing:
        raise InputError(
            f"{path}: no polygon for {len(missing)} of the area's {len(mine)} {vintage} LSOAs "
            f"({_listed(missing)}); give a file that covers the area"
        )
    district_of = dict(zip(mine["lsoa_code"], mine["la_code"], strict=True))
    keep = np.isin(codes, list(district_of))
    codes, shapes = codes[keep], shapes[keep]
    la = np.array([district_of[c] for c in codes])
    outlines = {
        code: set_precision(union_all(shapes[la == code]).simplify(SIMPLIFY_METRES), 1.0)
        for code in sorted(set(la))
    }
    polygons = Areas(codes, shapes, f"{vintage} LSOAs from {named}", la)
    return Boundaries(outlines, polygons, vintage, named)


def _vintage(path: Path, codes: np.ndarray, areas: pd.DataFrame) -> int:
    """2021 when every code is a 2021 LSOA, else 2011 when every code is a 2011 LSOA."""
    for vintage in (2021, 2011):
        if set(codes) <= set(areas.loc[areas[f"in_{vintage}"], "lsoa_code"]):
            return vintage
    raise InputError(f"{path}: its LSOA codes are neither all 2011 nor all 2021 LSOAs")
