"""Square grids in British National Grid metres (EPSG:27700), binned in the engine.

Cell indices are portable arithmetic (floor of a division), so DuckDB and Spark bin identically.
The cell size, when not given, follows sfhotspot: about 50 cells along the shorter side of the
area's extent, rounded to two significant figures; it is always announced and recorded."""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from shapely import MultiPolygon, Polygon

from svduty.analysis.selection import selected
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.errors import InputError

CELLS_ON_SHORTER_SIDE = 50
MAX_CELLS = 2_000_000
"""The most cells a grid may have: each cell costs about 1 KB across the counts, the neighbour
weights, the density and the table written (measured: 1M cells, 0.5 GB before output), so
this keeps a map within about 2 GB whatever the area and cell size asked for."""
# Great Britain in BNG metres; coordinates outside are not BNG (often WGS84 degrees)
BNG_EXTENT = (0.0, 0.0, 700_000.0, 1_300_000.0)


@dataclass(frozen=True)
class Grid:
    x0: float  # west edge, BNG metres
    y0: float  # south edge
    size: float  # cell side, metres
    columns: int
    rows: int
    announced: str  # how the size was chosen, said to the user

    @property
    def cells(self) -> int:
        return self.columns * self.rows

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell centres in cell_id order (row-major from the south-west corner)."""
        ids = np.arange(self.cells)
        return (
            self.x0 + (ids % self.columns + 0.5) * self.size,
            self.y0 + (ids // self.columns + 0.5) * self.size,
        )


def nice_size(metres: float) -> float:
    """Round to two significant figures: 2,187 m -> 2,200 m."""
    if metres <= 0:
        raise InputError("the cell size must be positive")
    digits = 1 - math.floor(math.log10(metres))
    return float(round(metres, digits))


def check_bng(easting: np.ndarray, northing: np.ndarray, what: str) -> None:
    """Refuse coordinates that are not British National Grid metres, naming both systems."""
    if not len(easting):
        return
    west, south, east, north = BNG_EXTENT
    if (
        easting.min() < west
        or easting.max() > east
        or northing.min() < south
        or northing.max() > north
    ):
        degrees = np.abs(easting).max() <= 180 and np.abs(northing).max() <= 90
        raise InputError(
            f"{what}: coordinates are not British National Grid metres (EPSG:27700)"
            + (
                "; they look like WGS84 degrees (EPSG:4326): convert them, or give them as "
                "longitude/latitude so svduty projects them"
                if degrees
                else f"; eastings {easting.min():.0f} to {easting.max():.0f}, northings "
                f"{northing.min():.0f} to {northing.max():.0f} fall outside Great Britain"
            )
        )


def make_grid(
    extent: tuple[float, float, float, float],
    cell_size: float | None = None,
    area: tuple[float, float, float, float] | None = None,
) -> Grid:
    """A grid covering (west, south, east, north), its edges on multiples of the cell size.
    The automatic size follows the `area` (the partnership's bounds) when given, so that a few
    crimes recorded far away do not coarsen every cell."""
    west, south, east, north = extent
    if cell_size is None:
        a_west, a_south, a_east, a_north = area or extent
        shorter = min(a_east - a_west, a_north - a_south)
        if shorter <= 0:
            raise InputError("the events' extent is a line or a point: give a cell size")
        size = nice_size(shorter / CELLS_ON_SHORTER_SIDE)
        announced = (
            f"cell size {size:,.0f} m, chosen automatically: about {CELLS_ON_SHORTER_SIDE} cells "
            f"along the shorter side of the {'area' if area else 'extent'} "
            f"({shorter / 1000:,.1f} km), as sfhotspot does"
        )
    else:
        size = float(cell_size)
        if size <= 0:
            raise InputError("the cell size must be a positive number of metres")
        announced = f"cell size {size:,.0f} m, as given"
    x0 = math.floor(west / size) * size
    y0 = math.floor(south / size) * size
    columns = max(1, math.ceil((east - x0) / size + 1e-9))
    rows = max(1, math.ceil((north - y0) / size + 1e-9))
    if (east - x0) / size == columns:
        columns += 1  # a point on the east edge gets a cell of its own
    if (north - y0) / size == rows:
        rows += 1
    if columns * rows > MAX_CELLS:
        need = size * math.sqrt(columns * rows / MAX_CELLS) * 1.02
        step = 10 ** (math.floor(math.log10(need)) - 1)
        wider = math.ceil(need / step) * step  # up to two significant figures
        raise InputError(
            f"a grid of {size:,.0f} m cells over {(east - west) / 1000:,.1f} x "
            f"{(north - south) / 1000:,.1f} km has {columns * rows:,} cells, more than the "
            f"{MAX_CELLS:,} that fit in memory: use a larger --cell-size (at least {wider:,.0f} "
            "m) or a smaller area (--filter csp=NAME)"
        )
    return Grid(x0, y0, size, columns, rows, announced)


def area_grid(
    t: ir.Table, cell_size: float | None, within: Polygon | MultiPolygon | None
) -> tuple[ir.Table, Grid]:
    """The incidents in the area's bounding box and a grid over that box (over the incidents'
    extent without an outline): crimes a force records far outside its area neither stretch
    the grid nor, at a fixed cell size, make millions of empty cells."""
    if within is None:
        return t, make_grid(extent(t), cell_size)
    west, south, east, north = within.bounds
    t = t.filter(t.easting.between(west, east) & t.northing.between(south, north))
    extent(t)  # says so when no selected incident falls in the area
    return t, make_grid(within.bounds, cell_size, within.bounds)


def located(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    lsoas: list[str] | None = None,
) -> ir.Table:
    """The selected incidents that have BNG coordinates (and, given `lsoas`, one of those LSOA
    codes: the area's, when it has no outline to test cells against)."""
    t = selected(store, definition, filters)
    t = t.filter(t.easting.notnull() & t.northing.notnull())
    return t if lsoas is None else t.filter(t.lsoa_code.isin(lsoas))


def extent(t: ir.Table) -> tuple[float, float, float, float]:
    row = (
        t.aggregate(
            west=t.easting.min(),
            south=t.northing.min(),
            east=t.easting.max(),
            north=t.northing.max(),
        )
        .to_pandas()
        .iloc[0]
    )
    if pd.isna(row["west"]):
        raise InputError("no selected incident has coordinates: nothing to map")
    values = (float(row["west"]), float(row["south"]), float(row["east"]), float(row["north"]))
    check_bng(np.array(values[::2]), np.array(values[1::2]), "incidents")
    return values


def cell_expr(t: ir.Table, grid: Grid) -> ir.IntegerValue:
    column = ((t.easting - grid.x0) / grid.size).floor().cast("int64")
    row = ((t.northing - grid.y0) / grid.size).floor().cast("int64")
    return row * grid.columns + column


def with_weight(t: ir.Table, weights: dict[str, float]) -> ir.Table:
    """Each incident with its offence's severity weight as `_weight` (NULL when it has none)."""
    lookup = ibis.memtable(
        pd.DataFrame({"_code": list(weights), "_weight": list(weights.values())})
    )
    return t.left_join(lookup, t.offence_code == lookup._code)


def tally(t: ir.Table, weighted: bool) -> dict[str, ir.Value]:
    """Incidents, and with weights the harm and the incidents no weight covers."""
    metrics: dict[str, ir.Value] = {"n": t.count()}
    if weighted:
        metrics["harm"] = t._weight.sum()
        metrics["unweighted"] = t._weight.isnull().cast("int64").sum()
    return metrics


@dataclass(frozen=True)
class GridCounts:
    grid: Grid
    values: np.ndarray  # per cell, in cell_id order: counts, or harm when weighted
    counts: np.ndarray  # incidents per cell
    events: int
    weighted_by: str | None
    unweighted_events: int  # events whose offence has no weight (left out of values)


def grid_counts(
    t: ir.Table, grid: Grid, weights: dict[str, float] | None = None, source: str | None = None
) -> GridCounts:
    """Counts (and harm with `weights`) per cell, computed by the engine; empty cells are 0."""
    if weights:
        t = with_weight(t, weights)
    frame = t.group_by(cell_id=cell_expr(t, grid)).aggregate(**tally(t, bool(weights))).to_pandas()
    counts = np.zeros(grid.cells)
    counts[frame["cell_id"].to_numpy()] = frame["n"].to_numpy()
    values = counts
    unweighted = 0
    if weights:
        values = np.zeros(grid.cells)
        values[frame["cell_id"].to_numpy()] = frame["harm"].fillna(0).to_numpy()
        unweighted = int(frame["unweighted"].sum())
    return GridCounts(grid, values, counts, int(counts.sum()), source, unweighted)
