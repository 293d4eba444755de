"""District and LSOA boundaries in British National Grid metres, built from the ONS generalised
LSOA polygons in shared/data/boundaries-west-mercia (OGL; attribution in ATTRIBUTION.md).

Each district is the union of its LSOAs, simplified to 25 m (invisible at report scale) so the
bundled file stays small; CSP outlines are unions of their districts, made when drawn.

LSOA polygons are snapped to a 1 m grid. The generalised polygons leave gaps of a fraction of a
millimetre between LSOAs that meet, so neither a shared-vertex nor an intersection test finds
all neighbours on the raw file; after snapping, both find the same 4,422 neighbour pairs."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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


def districts() -> dict[str, Polygon | MultiPolygon]:
    """The bundled district outlines by district code (BNG metres)."""
    collection = json.loads(data_path(BOUNDARIES_FILE).read_text())
    return {
        f["properties"]["la_code"]: from_geojson(json.dumps(f["geometry"]))
        for f in collection["features"]
    }


@dataclass(frozen=True)
class Areas:
    """Polygons for area-based hotspots: codes, shapes in BNG metres, and where they came from."""

    codes: np.ndarray
    shapes: np.ndarray
    source: str


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
    )


def load_areas(path: Path) -> Areas:
    """LSOA (or other area) polygons from a GeoJSON file in WGS84 or BNG, snapped to 1 m."""
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a GeoJSON FeatureCollection ({error})") from error
    if not features:
        raise InputError(f"{path}: no features")
    properties = features[0].get("properties") or {}
    key = next((k for k in CODE_PROPERTIES if k in properties), None)
    if key is None:
        raise InputError(
            f"{path}: feature 1 has no area code property; expected one of "
            f"{', '.join(CODE_PROPERTIES)} (found {', '.join(properties) or 'none'})"
        )
    codes, shapes = [], []
    for number, feature in enumerate(features, start=1):
        code = (feature.get("properties") or {}).get(key)
        if not code or not feature.get("geometry"):
            raise InputError(f"{path}: feature {number} has no {key} or no geometry")
        codes.append(str(code))
        shapes.append(from_geojson(json.dumps(feature["geometry"])))
    geometry = np.array(shapes)
    box = bounds(geometry)
    if box[:, 0].min() >= -180 and box[:, 2].max() <= 180:  # degrees: WGS84 as RFC 7946 says
        geometry = _to_bng(geometry)
    return Areas(np.array(codes), set_precision(geometry, SNAP_METRES), str(path))
