"""One call from the workspace to hotspots and near repeats: select, bin in the engine, test.

Every result says how it was made (cell size and how it was chosen, neighbours, permutations,
seed, correction, bandwidth), so a map or table can always be traced to its parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from shapely import MultiPolygon, Polygon, contains_xy

from svduty.analysis.selection import label
from svduty.analysis.severity import Weights
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.errors import InputError
from svduty.spatial.gistar import NEIGHBOURS, distance_band, gi_star, queen
from svduty.spatial.grid import Grid, area_grid, check_bng, grid_counts, located
from svduty.spatial.kde import Density, kde
from svduty.spatial.knox import KnoxResult, check_edges, check_pairs, knox, pairs_estimate


@dataclass(frozen=True)
class Hotspots:
    frame: pd.DataFrame  # cell_id, x, y, count, [harm], gi_star_z, p_value, p_fdr, class, density
    grid: Grid
    neighbours: str
    method: str
    density: Density
    events: int
    weights_source: str | None
    unweighted_events: int
    definition: str | None
    engine: str

    @property
    def notes(self) -> list[str]:
        out = [self.grid.announced, self.method, self.density.announced, *self.density.warnings]
        if self.weights_source:
            out.append(
                f"harm-weighted by {self.weights_source}; {self.unweighted_events:,} events "
                "with no weight for their offence are left out of the harm values"
            )
        return out


def hotspots(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    cell_size: float | None = None,
    neighbours: str = "queen",
    distance: float | None = None,
    permutations: int = 0,
    seed: int | None = None,
    weights: Weights | None = None,
    bandwidth: float | None = None,
    within: Polygon | MultiPolygon | None = None,
    lsoas: list[str] | None = None,
) -> Hotspots:
    """Gi* over the cells whose centres fall `within` the area (all cells if None): cells
    outside carry no statistic, so empty land beyond the border cannot make cold spots. An area
    without an outline gives its `lsoas` instead: only incidents placed in them are binned."""
    if neighbours not in NEIGHBOURS:
        raise InputError(f"neighbours must be one of {', '.join(NEIGHBOURS)}")
    t = located(store, definition, filters, lsoas)
    t, grid = area_grid(t, cell_size, within)
    binned = grid_counts(
        t,
        grid,
        weights.weights if weights else None,
        weights.source if weights else None,
    )
    if neighbours == "queen":
        w = queen(grid)
        described = "queen contiguity (the 8 surrounding cells)"
    else:
        band = distance if distance is not None else 1.5 * grid.size
        w = distance_band(grid, band)
        described = f"distance band {band:,.0f} m between cell centres"
    x, y = grid.centres()
    inside = np.ones(grid.cells, dtype=bool) if within is None else contains_xy(within, x, y)
    if inside.sum() < 3:
        raise InputError("fewer than three grid cells fall inside the area: use smaller cells")
    keep = np.flatnonzero(inside)
    result = gi_star(binned.values[keep], w[keep][:, keep].tocsr(), permutations, seed)
    points, pooled = density_places(t, grid)
    density = kde(
        grid,
        points["easting"].to_numpy(float),
        points["northing"].to_numpy(float),
        None,
        bandwidth,
        counts=points["n"].to_numpy(float),
    )
    if pooled:
        density = replace(density, warnings=(*density.warnings, pooled))
    frame = pd.DataFrame(
        {
            "cell_id": np.arange(grid.cells),
            "x": x,
            "y": y,
            "count": binned.counts.astype("int64"),
        }
    )
    if weights:
        frame["harm"] = binned.values
    frame["in_area"] = inside
    for column, values in (
        ("gi_star_z", result.z),
        ("p_value", result.p_value),
        ("p_fdr", result.p_fdr),
    ):
        frame[column] = np.nan
        frame.loc[keep, column] = values
    frame["class"] = "outside the area"
    frame.loc[keep, "class"] = result.classes
    frame["density"] = density.values
    return Hotspots(
        frame,
        grid,
        neighbours,
        f"{result.method}; neighbours by {described}",
        density,
        binned.events,
        binned.weighted_by,
        binned.unweighted_events,
        label(definition),
        store.name,
    )


DENSITY_PLACES = 1_000_000
"""Distinct places the density map takes one by one (open data snaps every crime to a few
thousand); beyond, events are pooled in squares an eighth of a cell wide, so what the map holds
is bounded by the grid, not by the records."""
POOL_FRACTION = 8


def density_places(t: ir.Table, grid: Grid) -> tuple[pd.DataFrame, str | None]:
    """Each distinct place with its number of events (`easting`, `northing`, `n`), counted in
    the engine; past `DENSITY_PLACES`, the events of each square of the pooling lattice at its
    centre instead, with a note saying so."""
    exact = t.group_by("easting", "northing").aggregate(n=t.count())
    points = exact.limit(DENSITY_PLACES + 1).to_pandas()
    if len(points) <= DENSITY_PLACES:
        return points, None
    side = grid.size / POOL_FRACTION

    def centre(value: ir.NumericColumn, origin: float) -> ir.NumericValue:
        return ((value - origin) / side).floor() * side + origin + side / 2

    pooled = t.group_by(
        easting=centre(t.easting, grid.x0), northing=centre(t.northing, grid.y0)
    ).aggregate(n=t.count())
    return pooled.to_pandas(), (
        f"more than {DENSITY_PLACES:,} distinct places: for the density map each event is "
        f"counted at the centre of its {side:,.0f} m square (moved at most "
        f"{side / math.sqrt(2):,.0f} m)"
    )


def near_repeat(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    distance_edges: list[float] | None = None,
    day_edges: list[float] | None = None,
    simulations: int = 99,
    seed: int | None = None,
) -> KnoxResult:
    """Banded Knox on records with exact places and days; refuses open data, and says why."""
    t = located(store, definition, filters)
    refused = t.filter((t.source_kind == "police_uk_street") | (t.date_precision == "month"))
    open_data = int(refused.count().to_pandas())
    if open_data:
        raise InputError(
            f"{open_data:,} of the selected incidents are data.police.uk records (or "
            "others dated to the month only). A near-repeat test needs each crime's day and exact "
            "place: open data gives only the month, and moves every crime to one of a few "
            "thousand snap points, which makes unrelated crimes look like repeats at distance 0. "
            "Select a force extract (filter source_kind=police_extract)."
        )
    distance_edges = distance_edges or [0, 100, 200, 300, 400]
    t = t.filter(t.occurred_from.notnull())
    # pairs counted from events per cell in the engine, before any event is read
    side = float(check_edges(distance_edges, "distance band")[-1])
    cells = t.group_by(
        column=(t.easting / side).floor().cast("int64"),
        row=(t.northing / side).floor().cast("int64"),
    ).aggregate(n=t.count())
    binned = cells.to_pandas()
    check_pairs(pairs_estimate(binned["column"], binned["row"], binned["n"]), side)
    events = t.select("easting", "northing", "occurred_from").to_pandas()
    # a fixed order, so a seed gives the same shuffles whatever order the engine returns rows in
    events = events.sort_values(["occurred_from", "easting", "northing"], kind="stable")
    if len(events) < 3:
        raise InputError("fewer than three selected incidents with a date and a place")
    x, y = events["easting"].to_numpy(float), events["northing"].to_numpy(float)
    check_bng(x, y, "incidents")
    days = (
        events["occurred_from"].to_numpy("datetime64[D]").astype("int64").astype(float)
    )  # whole days, as the Calculator counts them
    return knox(
        x,
        y,
        days,
        distance_edges,
        day_edges or [0, 7, 14, 21, 28],
        simulations,
        seed,
    )
