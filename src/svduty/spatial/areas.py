"""Gi* hotspots on LSOA polygons instead of grid cells: the unit partners already publish and
fund by, with queen contiguity between polygons that touch.

Incidents are counted by their LSOA code in the engine. Records whose code is not among the
polygons (2021 LSOAs that changed since 2011, or no code) are placed by their coordinates instead,
and those that can be placed neither way are counted and said, never dropped silently."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from scipy import sparse
from shapely import STRtree, centroid, get_x, get_y, points

from svduty.analysis.selection import label, selected
from svduty.analysis.severity import Weights
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.errors import InputError
from svduty.reference.boundaries import Areas
from svduty.spatial.gistar import NEIGHBOURS, band_weights, gi_star
from svduty.spatial.grid import tally, with_weight


def polygon_queen(shapes: np.ndarray) -> sparse.csr_matrix:
    """Binary queen contiguity: polygons sharing at least one boundary point (no self)."""
    first, second = STRtree(shapes).query(shapes, predicate="intersects")
    other = first != second
    n = len(shapes)
    return sparse.csr_matrix(
        (np.ones(int(other.sum())), (first[other], second[other])), shape=(n, n)
    )


@dataclass(frozen=True)
class AreaCounts:
    values: np.ndarray  # per polygon: counts, or harm when weighted
    counts: np.ndarray
    by_code: int  # incidents counted by their LSOA code
    by_place: int  # placed by coordinates (code not among the polygons)
    unplaced: int  # neither: outside every polygon, or no code and no coordinates
    unweighted: int  # events whose offence has no weight (left out of values)


def area_counts(t: ibis.Table, areas: Areas, weights: dict[str, float] | None = None) -> AreaCounts:
    codes = [str(c) for c in areas.codes]
    index = pd.Series(np.arange(len(codes)), index=codes)
    if weights:
        t = with_weight(t, weights)
    known = t.lsoa_code.isin(codes).fill_null(False)
    coded = t.filter(known)
    grouped = coded.group_by("lsoa_code").aggregate(**tally(coded, bool(weights))).to_pandas()
    counts = np.zeros(len(codes))
    values = np.zeros(len(codes))
    where = index[grouped["lsoa_code"]].to_numpy()
    counts[where] = grouped["n"].to_numpy()
    values[where] = grouped["harm"].fillna(0).to_numpy() if weights else counts[where]
    unweighted = int(grouped["unweighted"].sum()) if weights else 0
    columns = ["easting", "northing"] + (["_weight"] if weights else [])
    rest = t.filter(~known).select(*columns).to_pandas()
    located = rest.dropna(subset=["easting", "northing"])
    hits, polygon = STRtree(areas.shapes).query(
        points(located["easting"].to_numpy(float), located["northing"].to_numpy(float)),
        predicate="within",
    )
    hits, first = np.unique(hits, return_index=True)  # a point on a shared edge: one polygon
    polygon = polygon[first]
    np.add.at(counts, polygon, 1)
    if weights:
        weight = located["_weight"].to_numpy(float)[hits]
        np.add.at(values, polygon, np.nan_to_num(weight))
        unweighted += int(np.isnan(weight).sum())
    else:
        np.add.at(values, polygon, 1)
    placed = len(hits)
    return AreaCounts(
        values, counts, int(grouped["n"].sum()), placed, len(rest) - placed, unweighted
    )


@dataclass(frozen=True)
class AreaHotspots:
    frame: pd.DataFrame  # lsoa_code, x, y, count, [harm], gi_star_z, p_value, p_fdr, class
    areas: Areas
    method: str
    notes: list[str]
    events: int
    definition: str | None
    engine: str


def area_hotspots(
    store: Store,
    areas: Areas,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    neighbours: str = "queen",
    distance: float | None = None,
    permutations: int = 0,
    seed: int | None = None,
    weights: Weights | None = None,
) -> AreaHotspots:
    """Gi* over every polygon in `areas`, those with no incidents included."""
    if neighbours not in NEIGHBOURS:
        raise InputError(f"neighbours must be one of {', '.join(NEIGHBOURS)}")
    if len(areas.codes) < 3:
        raise InputError("Gi* needs at least three areas")
    t = selected(store, definition, filters)
    counted = area_counts(t, areas, weights.weights if weights else None)
    centroids = np.column_stack([get_x(centroid(areas.shapes)), get_y(centroid(areas.shapes))])
    if neighbours == "queen":
        w = polygon_queen(areas.shapes)
        described = "queen contiguity (polygons sharing a boundary point)"
    else:
        if distance is None:
            raise InputError("neighbours 'distance' on LSOAs needs a distance in metres")
        w = band_weights(centroids, distance)
        described = f"centroids within {distance:,.0f} m"
    islands = int((np.diff(w.indptr) == 0).sum())
    result = gi_star(counted.values, w, permutations, seed)
    frame = pd.DataFrame(
        {
            "lsoa_code": areas.codes,
            "x": centroids[:, 0].round(1),
            "y": centroids[:, 1].round(1),
            "count": counted.counts.astype("int64"),
        }
    )
    if weights:
        frame["harm"] = counted.values
    frame["gi_star_z"] = result.z
    frame["p_value"] = result.p_value
    frame["p_fdr"] = result.p_fdr
    frame["class"] = result.classes
    notes = [
        f"{len(areas.codes):,} areas: {areas.source}",
        f"{counted.by_code:,} incidents counted by their LSOA code, {counted.by_place:,} placed "
        "by their coordinates (LSOA code not among the polygons, e.g. a 2021 LSOA changed since "
        f"2011), {counted.unplaced:,} outside every polygon or with neither",
    ]
    if islands:
        notes.append(f"{islands} areas have no neighbour: their Gi* uses themselves alone")
    if weights:
        notes.append(
            f"harm-weighted by {weights.source}; {counted.unweighted:,} events with no weight "
            "for their offence are left out of the harm values"
        )
    return AreaHotspots(
        frame,
        areas,
        f"{result.method}; neighbours by {described}",
        notes,
        int(counted.counts.sum()),
        label(definition),
        store.name,
    )
