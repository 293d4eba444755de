"""WGS84 <-> British National Grid for staged rows, with pyproj (the PROJ transformation).

police.uk locations are a fixed set of anonymised snap points, so a file holds far fewer distinct
coordinate pairs than rows: each distinct pair is transformed once and joined back by value.
"""

from __future__ import annotations

from functools import cache

import duckdb
import numpy as np
import pyarrow as pa
from pyproj import Transformer

WGS84 = "EPSG:4326"
BNG = "EPSG:27700"
_PAIRS = {"wgs84": ("longitude", "latitude"), "bng": ("easting", "northing")}
_CRS = {"wgs84": WGS84, "bng": BNG}


@cache
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def fill_missing_pair(
    con: duckdb.DuckDBPyConnection, relation: str, given: str, candidates: str | None = None
) -> str:
    """A view of `relation` with the coordinate pair it lacks computed from the one it has
    (`given` is 'wgs84' or 'bng'). `candidates`, a query whose two columns hold every pair
    `relation` has (more do no harm), spares working out `relation`'s rows once more just to
    list their pairs."""
    wanted = "bng" if given == "wgs84" else "wgs84"
    (x, y), (out_x, out_y) = _PAIRS[given], _PAIRS[wanted]
    listed = candidates or f"SELECT {x}, {y} FROM {relation}"
    pairs = con.sql(
        f"SELECT DISTINCT * FROM ({listed}) p({x}, {y}) WHERE {x} IS NOT NULL AND {y} IS NOT NULL"
    ).to_arrow_table()
    xs = pairs.column(0).to_numpy(zero_copy_only=False).astype("float64")
    ys = pairs.column(1).to_numpy(zero_copy_only=False).astype("float64")
    tx, ty = _transformer(_CRS[given], _CRS[wanted]).transform(xs, ys)
    bad = ~(np.isfinite(tx) & np.isfinite(ty))
    lookup = pa.table(
        {
            f"_{x}": pairs.column(0),
            f"_{y}": pairs.column(1),
            out_x: pa.array(np.round(tx, 6), mask=bad),
            out_y: pa.array(np.round(ty, 6), mask=bad),
        }
    )
    con.register("_coords", lookup)
    present = {d[0] for d in con.execute(f"SELECT * FROM {relation} LIMIT 0").description}
    kept = f"t.* EXCLUDE ({out_x}, {out_y})" if {out_x, out_y} <= present else "t.*"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _with_coordinates AS SELECT {kept}, c.{out_x}, c.{out_y} "
        f"FROM {relation} t LEFT JOIN _coords c ON c._{x} = t.{x} AND c._{y} = t.{y}"
    )
    return "_with_coordinates"
