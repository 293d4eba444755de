"""Getis-Ord Gi* on a grid: analytic z-scores, conditional-permutation pseudo p-values and a
false discovery rate correction.

Binary weights with the focal cell included (Gi*), as Getis and Ord define it and as ArcGIS and
esda's `G_Local(star=True, transform="B")` compute it:

    z_i = (sum_j w_ij x_j - mean * W_i) / (S * sqrt((n * W_i - W_i^2) / (n - 1)))

with W_i = sum_j w_ij and S the population standard deviation of x.

Permutations follow esda's conditional scheme (each cell keeps its value; its neighbours are
drawn at random from the other cells), but one random draw of k indices per permutation is
shared by every cell, shifted past the focal cell, as esda's own `crand` does. That makes each
permutation a step function over the cells, so all cells of one permutation cost one cumulative
sum instead of n separate draws: the reason svduty computes this itself rather than calling esda.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats
from scipy.spatial import cKDTree

from svduty.errors import InputError
from svduty.spatial.grid import Grid

NEIGHBOURS = ("queen", "distance")


def queen(grid: Grid) -> sparse.csr_matrix:
    """Binary queen contiguity between cells (no self-weights), in cell_id order."""
    ids = np.arange(grid.cells).reshape(grid.rows, grid.columns)
    rows, cols = [], []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            r0, r1 = max(0, -dr), grid.rows - max(0, dr)
            c0, c1 = max(0, -dc), grid.columns - max(0, dc)
            rows.append(ids[r0:r1, c0:c1].ravel())
            cols.append(ids[r0 + dr : r1 + dr, c0 + dc : c1 + dc].ravel())
    i, j = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(grid.cells, grid.cells))


def distance_band(grid: Grid, metres: float) -> sparse.csr_matrix:
    """Binary weights between cells whose centres are at most `metres` apart (no self)."""
    if metres < grid.size:
        raise InputError(
            f"a distance band of {metres:,.0f} m is shorter than the cell size "
            f"({grid.size:,.0f} m): no cell would have a neighbour"
        )
    return band_weights(np.column_stack(grid.centres()), metres)


def band_weights(points: np.ndarray, metres: float) -> sparse.csr_matrix:
    """Binary weights between points at most `metres` apart (no self), found with a k-d tree."""
    pairs = cKDTree(points).query_pairs(metres * (1 + 1e-12), output_type="ndarray")
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    n = len(points)
    return sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))


@dataclass(frozen=True)
class GiStar:
    z: np.ndarray
    p_value: np.ndarray  # two-sided analytic, or the permutation pseudo p-value
    p_fdr: np.ndarray  # Benjamini-Hochberg adjusted
    classes: np.ndarray  # "hot 99%" ... "not significant" ... "cold 99%"
    permutations: int
    seed: int | None
    method: str  # said in every output


def gi_star(
    values: np.ndarray,
    w: sparse.csr_matrix,
    permutations: int = 0,
    seed: int | None = None,
    fdr: bool = True,
) -> GiStar:
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 3:
        raise InputError("Gi* needs at least three cells")
    star = (w + sparse.identity(n, format="csr")).tocsr()
    star.data[:] = 1.0
    wsum = np.asarray(star.sum(axis=1)).ravel()
    mean = x.mean()
    s = np.sqrt((x**2).mean() - mean**2)
    if s == 0:
        raise InputError("every cell has the same value: Gi* is undefined")
    local = star @ x
    z = (local - mean * wsum) / (s * np.sqrt((n * wsum - wsum**2) / (n - 1)))
    if permutations:
        p = _pseudo_p(x, w, local, permutations, seed)
        method = (
            f"Gi* (binary weights, focal cell included), conditional permutation pseudo "
            f"p-values ({permutations} permutations, seed {seed})"
        )
    else:
        p = 2 * stats.norm.sf(np.abs(z))
        method = "Gi* (binary weights, focal cell included), analytic two-sided p-values"
    adjusted = stats.false_discovery_control(p, method="bh") if fdr else p
    method += (
        "; Benjamini-Hochberg false discovery rate correction applied"
        if fdr
        else "; no multiple-testing correction (asked for)"
    )
    return GiStar(z, p, adjusted, classify(z, adjusted), permutations, seed, method)


CLASS_ORDER = (
    *(f"hot {level}" for level in ("99%", "95%", "90%")),
    "not significant",
    *(f"cold {level}" for level in ("90%", "95%", "99%")),
    "outside the area",
)
"""The classes as a reader scans them: hottest first, coldest last."""


def classify(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ArcGIS's confidence bins: hot or cold at 99%, 95% or 90%, else not significant."""
    out = np.full(len(z), "not significant", dtype=object)
    for level, alpha in (("90%", 0.10), ("95%", 0.05), ("99%", 0.01)):
        out[(p <= alpha) & (z > 0)] = f"hot {level}"
        out[(p <= alpha) & (z < 0)] = f"cold {level}"
    return out


def _pseudo_p(
    x: np.ndarray, w: sparse.csr_matrix, local: np.ndarray, permutations: int, seed: int | None
) -> np.ndarray:
    """Pseudo p-value in the direction of the observed value: (permutations at least as
    extreme + 1) / (permutations + 1). esda folds min(larger, perms - larger) instead, which
    calls a cell of 0 among zeros a 99% cold spot because every tie counts as "larger"; here a
    tie never counts as evidence. Without ties the two agree."""
    n = len(x)
    k = np.diff(w.indptr)  # neighbours per cell, focal excluded
    observed = local - x  # the neighbours' part of the focal sum
    slack = 1e-9 * np.maximum(1.0, np.abs(local))
    sizes = [int(size) for size in np.unique(k) if size > 0]
    main = int(np.bincount(k).argmax())  # the commonest size: evaluated for every cell at once
    others = {size: np.flatnonzero(k == size) for size in sizes if size != main}
    rng = np.random.default_rng(seed)
    draws = _sample(rng, permutations, n - 1, max(sizes))
    high = observed >= k * (x.sum() - x) / (n - 1)  # at or above the permutation mean
    bound = np.where(high, observed - slack, observed + slack)
    sign = np.where(high, 1.0, -1.0)  # compare sign * value >= sign * bound
    bound = sign * bound
    larger_main = np.zeros(n, dtype=np.int64)
    larger = np.zeros(n, dtype=np.int64)
    for p in range(permutations):
        for size in sizes:
            d = np.sort(draws[p, :size])
            # cell i reads index d when d < i, else d + 1 (skipping itself), so the neighbour
            # sum is constant between consecutive draws: size + 1 segments
            values = x[d + 1].sum() + np.concatenate([[0.0], np.cumsum(x[d] - x[d + 1])])
            if size == main:
                lengths = np.diff(np.concatenate([[0], d + 1, [n]]))
                larger_main += sign * np.repeat(values, lengths) >= bound
            else:
                cells = others[size]
                found = values[np.searchsorted(d, cells, side="left")]
                larger[cells] += sign[cells] * found >= bound[cells]
    larger = np.where(k == main, larger_main, larger)
    return (larger + 1) / (permutations + 1)


def _sample(rng: np.random.Generator, m: int, population: int, k: int) -> np.ndarray:
    """m rows of k distinct integers from range(population), without an (m, population) sort."""
    out = rng.integers(0, population, size=(m, k))
    for row in range(m):
        values = out[row]
        while len(np.unique(values)) < k:
            values = rng.choice(population, size=k, replace=False)
        out[row] = values
    return out
