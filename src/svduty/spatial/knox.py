"""Near repeats: the banded Knox test as the Near Repeat Calculator (Ratcliffe) defines it.

Pairs of events are counted by spatial band x temporal band and compared with Monte Carlo
simulations in which the events' dates are shuffled among them (the places stay). Knox ratio =
observed / mean of the simulations; p = (simulations >= observed + 1) / (simulations + 1).

Band edges: distances in metres and times in days, bands closed above and open below, the first
band closed at zero: with edges [0, 100, 200] the bands are 0 <= d <= 100 and 100 < d <= 200,
and a last band "more than 200" is added, as the Calculator adds its "more than" bands. The
Calculator labels the second band "101 to 200", which reads as if a pair 100.5 m apart fell in no
band; svduty's labels give the real intervals ("(100, 200]") and no pair is lost. A single band
[0, delta] x [0, tau] counts exactly what pointpats' Knox counts (distance <= delta and time
difference <= tau).

Speed: the spatial pairs within the largest finite distance edge are found once with a k-d tree;
a shuffle of dates only changes each pair's time difference, so each simulation is one pass over
those pairs. The pairs beyond the last distance edge are counted per time band from sorted dates
(their totals do not change under a shuffle).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from svduty.errors import InputError


@dataclass(frozen=True)
class KnoxResult:
    table: pd.DataFrame  # space_band, time_band, observed, expected, knox_ratio, p_value
    events: int
    pairs: int
    simulations: int
    seed: int | None
    distance_edges: tuple[float, ...]
    day_edges: tuple[float, ...]
    method: str


MAX_PAIRS = 30_000_000
"""The most pairs of events within the last distance edge the test may hold: each costs about
80 bytes (the pair, its distance band, and each shuffle's time differences and bands), so
this keeps the test within about 2.4 GB (and each shuffle within seconds)."""


def pairs_estimate(column: np.ndarray, row: np.ndarray, counts: np.ndarray) -> float:
    """About how many pairs of events lie within one cell side of each other, from the events
    counted per square cell of that side (at `column`, `row`): the pairs within each cell's
    3 x 3 block, times the share of the block a circle of that radius covers (pi / 9) when the
    events are spread evenly."""
    key = pd.Series(np.asarray(counts, float), index=pd.MultiIndex.from_arrays([column, row]))
    around = np.zeros(len(key))
    for dc in (-1, 0, 1):
        for dr in (-1, 0, 1):
            shifted = pd.MultiIndex.from_arrays([key.index.get_level_values(0) + dc,
                                                 key.index.get_level_values(1) + dr])  # fmt: skip
            around += key.reindex(shifted).fillna(0).to_numpy()
    ordered = float((key.to_numpy() * (around - 1)).sum())  # an event is no pair with itself
    return ordered / 2 * np.pi / 9


def check_pairs(estimate: float, distance: float) -> None:
    """Refuse, before any pair is made, a test whose pairs would not fit in memory."""
    if estimate > MAX_PAIRS:
        raise InputError(
            f"about {estimate:,.0f} pairs of incidents lie within {distance:g} m of each other, "
            f"more than the {MAX_PAIRS:,} a near-repeat test can hold in memory: choose a "
            "shorter period (--filter month>=2024-07), one CSP (--filter csp=NAME) or a smaller "
            "last distance edge (--distances)"
        )


def _labels(edges: tuple[float, ...], unit: str) -> list[str]:
    out = [f"[0, {edges[1]:g}] {unit}"]
    out += [f"({a:g}, {b:g}] {unit}" for a, b in pairwise(edges[1:])]
    out.append(f"more than {edges[-1]:g} {unit}")
    return out


def check_edges(edges: list[float] | tuple[float, ...], what: str) -> tuple[float, ...]:
    values = tuple(float(e) for e in edges)
    if len(values) < 2 or values[0] != 0 or any(b <= a for a, b in pairwise(values)):
        raise InputError(
            f"{what} edges must start at 0 and increase, e.g. 0,100,200; got {list(edges)}"
        )
    return values


def band_edges(width: float, bands: int) -> list[float]:
    """The Calculator's settings: `bands` bands of `width` each, starting at 0."""
    return [width * i for i in range(bands + 1)]


def knox(
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    distance_edges: list[float],
    day_edges: list[float],
    simulations: int = 99,
    seed: int | None = None,
) -> KnoxResult:
    """Banded Knox test of events at (x, y) metres on `days` (day numbers)."""
    s_edges = check_edges(distance_edges, "distance band")
    t_edges = check_edges(day_edges, "time band")
    points = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    t = np.asarray(days, dtype=float)
    n = len(t)
    if n < 3:
        raise InputError("the Knox test needs at least three events")
    cell = np.floor(points / s_edges[-1]).astype(np.int64)
    places, counts = np.unique(cell, axis=0, return_counts=True)
    check_pairs(pairs_estimate(places[:, 0], places[:, 1], counts), s_edges[-1])
    pairs = cKDTree(points).query_pairs(s_edges[-1], output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    distance = np.hypot(*(points[i] - points[j]).T)
    # band index: 0 for [0, e1], k for (e_k, e_{k+1}]; the tree's query already holds d <= last
    s_band = np.maximum(np.searchsorted(s_edges, distance, side="left") - 1, 0)
    ns, nt = len(s_edges), len(t_edges)  # bands: ns - 1 finite + 1 beyond; same for time

    def near_counts(dates: np.ndarray) -> np.ndarray:
        gap = np.abs(dates[i] - dates[j])
        t_band = np.maximum(np.searchsorted(t_edges, gap, side="left") - 1, 0)
        t_band = np.minimum(t_band, nt - 1)  # beyond the last edge -> the "more than" band
        return np.bincount(s_band * nt + t_band, minlength=(ns - 1) * nt).reshape(ns - 1, nt)

    # all pairs per time band, from sorted dates: shuffles keep these totals
    ordered = np.sort(t)
    within = np.array(
        [
            (np.searchsorted(ordered, ordered + edge, side="right") - np.arange(1, n + 1)).sum()
            for edge in t_edges[1:]
        ],
        dtype=np.int64,
    )
    total_pairs = n * (n - 1) // 2
    per_time = np.diff(np.concatenate([[0], within, [total_pairs]]))  # includes the last band

    def full(near: np.ndarray) -> np.ndarray:
        beyond = per_time - near.sum(axis=0)
        return np.vstack([near, beyond[None, :]])

    observed = full(near_counts(t))
    rng = np.random.default_rng(seed)
    sims = np.empty((simulations, ns, nt), dtype=np.int64)
    for k in range(simulations):
        sims[k] = full(near_counts(rng.permutation(t)))
    expected = sims.mean(axis=0)
    reached = (sims >= observed[None]).sum(axis=0)
    s_labels, t_labels = _labels(s_edges, "m"), _labels(t_edges, "days")
    rows = []
    for a in range(ns):
        for b in range(nt):
            rows.append(
                {
                    "space_band": s_labels[a],
                    "time_band": t_labels[b],
                    "observed": int(observed[a, b]),
                    "expected": round(float(expected[a, b]), 3),
                    "knox_ratio": (
                        round(float(observed[a, b] / expected[a, b]), 3) if expected[a, b] else None
                    ),
                    "p_value": (reached[a, b] + 1) / (simulations + 1),
                }
            )
    return KnoxResult(
        pd.DataFrame(rows),
        n,
        total_pairs,
        simulations,
        seed,
        s_edges,
        t_edges,
        f"banded Knox test, {simulations} Monte Carlo shuffles of dates (seed {seed}); "
        "Knox ratio = observed / mean of the shuffles; p = (shuffles >= observed + 1) / "
        f"(shuffles + 1); Euclidean distance; bands closed above, first band closed at 0",
    )
