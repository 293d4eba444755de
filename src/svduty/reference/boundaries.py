"""District boundaries for maps, in British National Grid metres, built from the ONS generalised
LSOA polygons in shared/data/boundaries-west-mercia (OGL; attribution in ATTRIBUTION.md).

Each district is the union of its LSOAs, simplified to 25 m (invisible at report scale) so the
bundled file stays small; CSP outlines are unions of their districts, made when drawn."""

from __future__ import annotations

import json
from pathlib import Path

from pyproj import Transformer
from shapely import MultiPolygon, Polygon, from_geojson, set_precision, to_geojson, union_all
from shapely.ops import transform

from svduty.reference import data_path

BOUNDARIES_FILE = "districts-bng.geojson"
SIMPLIFY_METRES = 25.0


def build_boundaries(shared: Path, out: Path) -> int:
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    features = []
    for path in sorted((shared / "boundaries-west-mercia" / "lsoa_by_lad").glob("*.json")):
        lsoas = json.loads(path.read_text())["features"]
        shapes = [
            transform(to_bng.transform, from_geojson(json.dumps(f["geometry"]))) for f in lsoas
        ]
        district = union_all(shapes).simplify(SIMPLIFY_METRES)
        district = set_precision(district, 1.0)
        features.append(
            {
                "type": "Feature",
                "properties": {"la_code": path.stem},
                "geometry": json.loads(to_geojson(district)),
            }
        )
    text = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
    (out / BOUNDARIES_FILE).write_text(text + "\n", encoding="utf-8")
    return len(features)


def districts() -> dict[str, Polygon | MultiPolygon]:
    """The bundled district outlines by district code (BNG metres)."""
    collection = json.loads(data_path(BOUNDARIES_FILE).read_text())
    return {
        f["properties"]["la_code"]: from_geojson(json.dumps(f["geometry"]))
        for f in collection["features"]
    }
