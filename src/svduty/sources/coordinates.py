"""WGS84 <-> British National Grid for staged rows, with pyproj (the PROJ transformation)."""

from __future__ import annotations

from functools import cache

import duckdb
import numpy as np
import pyarrow as pa
from pyproj import Transformer

WGS84 = "EPSG:4326"
BNG = "EPSG:27700"


@cache
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def fill_missing_pair(con: duckdb.DuckDBPyConnection, table: str, given: str) -> None:
    """Compute the coordinate pair `table` lacks from the one it has (`given` is 'wgs84'/'bng')."""
    if given == "wgs84":
        src_cols, dst_cols, source, target = ("longitude", "latitude"), ("easting", "northing"), \
            WGS84, BNG
    else:
        src_cols, dst_cols, source, target = ("easting", "northing"), ("longitude", "latitude"), \
            BNG, WGS84
    arrow = con.sql(f"SELECT {src_cols[0]}, {src_cols[1]} FROM {table}").to_arrow_table()
    x = arrow.column(0).to_numpy(zero_copy_only=False).astype("float64")
    y = arrow.column(1).to_numpy(zero_copy_only=False).astype("float64")
    out_x, out_y = _transformer(source, target).transform(x, y)
    missing = ~(np.isfinite(out_x) & np.isfinite(out_y))
    coords = pa.table(
        {
            dst_cols[0]: pa.array(np.round(out_x, 6), mask=missing),
            dst_cols[1]: pa.array(np.round(out_y, 6), mask=missing),
        }
    )
    con.register("_coords", coords)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT t.* EXCLUDE ({dst_cols[0]}, "
        f"{dst_cols[1]}), c.{dst_cols[0]}, c.{dst_cols[1]} FROM {table} t POSITIONAL JOIN _coords c"
    )
    con.unregister("_coords")
