"""Kernel density on the grid: the quartic (biweight) kernel by default, as CrimeStat and ArcGIS
use for crime, K(u) = 3 / (pi h^2) * (1 - u^2)^2 for u = d / h < 1.

Bandwidth, when not given: the normal-reference rule for two dimensions, h = sigma * n^(-1/6)
with sigma the mean of the x and y standard deviations, scaled by 2.78 to the quartic kernel's
canonical bandwidth (Silverman 1986, table 3.1 ratios), announced in the result. A bandwidth
smaller than the cell size draws isolated spots, so the result carries a warning."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from svduty.errors import InputError
from svduty.spatial.grid import Grid

KERNELS = ("quartic", "uniform", "triangular")
QUARTIC_FROM_NORMAL = 2.78


@dataclass(frozen=True)
class Density:
    values: np.ndarray  # events per square kilometre at each cell centre, cell_id order
    bandwidth: float
    kernel: str
    announced: str
    warnings: tuple[str, ...]


def auto_bandwidth(x: np.ndarray, y: np.ndarray, counts: np.ndarray | None = None) -> float:
    """From the events' spread; `counts` events at each (x, y) when the places are distinct."""
    n = len(x) if counts is None else float(np.sum(counts))

    def spread(v: np.ndarray) -> float:
        return float(np.sqrt(np.average((v - np.average(v, weights=counts)) ** 2, weights=counts)))

    sigma = (spread(x) + spread(y)) / 2
    return float(QUARTIC_FROM_NORMAL * sigma * n ** (-1 / 6))


def _kernel(u: np.ndarray, kind: str, h: float) -> np.ndarray:
    if kind == "quartic":
        return 3 / (np.pi * h**2) * (1 - u**2) ** 2
    if kind == "uniform":
        return np.full_like(u, 1 / (np.pi * h**2))
    return 3 / (np.pi * h**2) * (1 - u)  # triangular (cone), integrates to 1


def kde(
    grid: Grid,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    bandwidth: float | None = None,
    kernel: str = "quartic",
    counts: np.ndarray | None = None,
) -> Density:
    """The density of events at (x, y), `counts` of them at each place when given (so the
    engine can send each distinct place once rather than every event)."""
    if kernel not in KERNELS:
        raise InputError(f"kernel must be one of {', '.join(KERNELS)}")
    if (len(x) if counts is None else np.sum(counts)) < 2:
        raise InputError("density needs at least two events")
    h = auto_bandwidth(x, y, counts) if bandwidth is None else float(bandwidth)
    if h <= 0:
        raise InputError("the bandwidth must be positive")
    announced = f"{kernel} kernel, bandwidth {h:,.0f} m " + (
        "(normal-reference rule, chosen automatically)" if bandwidth is None else "(as given)"
    )
    notes = []
    if h < grid.size:
        notes.append(
            f"the bandwidth ({h:,.0f} m) is smaller than the cell size ({grid.size:,.0f} m): "
            "the surface will show isolated spots; widen the bandwidth or shrink the cells"
        )
    if counts is not None:
        weights = counts if weights is None else weights * counts
    values = _density(grid, x, y, weights, h, kernel) * 1e6  # per square km
    return Density(values, h, kernel, announced, tuple(notes))


PAIRS_PER_STEP = 2_000_000
"""Event-cell pairs evaluated at once: bounds the memory whatever the cell size and bandwidth
(small cells under a wide automatic bandwidth pair each event with thousands of cells)."""


def _density(
    grid: Grid, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, h: float, kernel: str
) -> np.ndarray:
    """The kernel sum at every cell centre, exactly, event by event over the cells within the
    bandwidth (a fixed window of the regular grid), a bounded number of pairs at a time. Events
    at the same place are summed first: open data are snapped to a few thousand points."""
    places, where = np.unique(np.column_stack([x, y]), axis=0, return_inverse=True)
    mass = np.bincount(where.ravel(), weights=weights, minlength=len(places))
    column = np.floor((places[:, 0] - grid.x0) / grid.size).astype(np.int64)
    row = np.floor((places[:, 1] - grid.y0) / grid.size).astype(np.int64)
    reach = math.ceil(h / grid.size) + 1
    steps = np.arange(-reach, reach + 1)
    dr, dc = (a.ravel() for a in np.meshgrid(steps, steps, indexing="ij"))
    # a cell whose nearest possible centre is beyond the bandwidth is never reached
    near = np.hypot(np.maximum(np.abs(dr) - 0.5, 0), np.maximum(np.abs(dc) - 0.5, 0))
    dr, dc = dr[near * grid.size <= h], dc[near * grid.size <= h]
    values = np.zeros(grid.cells)
    chunk = max(1, PAIRS_PER_STEP // len(dr))
    for start in range(0, len(places), chunk):
        part = slice(start, start + chunk)
        r = row[part, None] + dr
        c = column[part, None] + dc
        d2 = (grid.x0 + (c + 0.5) * grid.size - places[part, 0, None]) ** 2 + (
            grid.y0 + (r + 0.5) * grid.size - places[part, 1, None]
        ) ** 2
        keep = (r >= 0) & (r < grid.rows) & (c >= 0) & (c < grid.columns) & (d2 <= h * h)
        u = np.sqrt(d2[keep]) / h
        pair_mass = (
            _kernel(np.minimum(u, 1.0), kernel, h)
            * np.broadcast_to(mass[part, None], keep.shape)[keep]
        )
        values += np.bincount((r * grid.columns + c)[keep], pair_mass, minlength=grid.cells)
    return values
