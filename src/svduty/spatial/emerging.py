"""Emerging and persistent hotspots: which cells are becoming, staying or ceasing to be hotspots.

The scheme is ArcGIS Pro's Emerging Hot Spot Analysis, with its defaults:

- a space-time Gi* for every cell in every period: the neighbourhood is the cell and its queen (or
  distance-band) neighbours in this period and in the `time_steps` periods before it, compared
  with the whole cube (ArcGIS's "entire cube" global window);
- significance after a Benjamini-Hochberg correction over every cell x period;
- a Mann-Kendall trend test on each cell's series of z-scores;
- eight hot patterns and their eight cold mirrors, made a partition by `pattern`. Where ArcGIS's
  wording lets two patterns claim one cell, the rule chosen is written there and said in every
  output. sfhotspot's hotspot_classify (persistent, emerging, former, intermittent) answers the
  same question with coarser classes; analysts who know ArcGIS will recognise these.

Only complete periods are used: a partial first or last quarter would look like a falling or
rising trend that is only missing months.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import sparse, stats
from shapely import MultiPolygon, Polygon, contains_xy

from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.errors import InputError
from svduty.spatial.gistar import NEIGHBOURS, distance_band, queen
from svduty.spatial.grid import Grid, area_grid, cell_expr, located

# months per period, and the month index (months since January of year 0) of a period's start
PERIODS = {"month": (1, 0), "quarter": (3, 3), "year": (12, 3)}  # quarters and years from April
MOST_OF_THE_TIME = 0.9  # ArcGIS's "90 percent of the time-step intervals"
FEWEST_PERIODS = 4
ADVISED_PERIODS = 10

RULES = (
    "Patterns as ArcGIS Pro's Emerging Hot Spot Analysis defines them. Hot in 90% of periods or "
    "more: intensifying or diminishing when the Mann-Kendall trend of its z-scores is "
    "significant, else persistent; historical when the last period is not hot. Hot in the last "
    "period, less than 90% of the time: new (hot for the first time, never significant before), "
    "consecutive (one unbroken run of two or more hot periods at the end, never significant "
    "before it), oscillating (a cold spot in some earlier period), else sporadic. Cold patterns "
    "mirror these. A cell that is neither is 'no pattern detected'."
)


@dataclass(frozen=True)
class Trend:
    """Mann-Kendall per column of a (periods x series) array."""

    s: np.ndarray
    variance: np.ndarray
    tau: np.ndarray  # Kendall's tau-b against time
    p_value: np.ndarray  # two-sided, normal approximation


def mann_kendall(series: np.ndarray, continuity: bool = True) -> Trend:
    """The Mann-Kendall test with the tie correction to the variance and, by default, the
    continuity correction (as Kendall in R and pymannkendall apply them)."""
    x = np.asarray(series, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    periods = x.shape[0]
    s = np.zeros(x.shape[1])
    for i in range(periods - 1):
        s += np.sign(x[i + 1 :] - x[i]).sum(axis=0)
    ties = np.zeros(x.shape[1])  # sum over groups of tied values of t(t-1)(2t+5)
    tied_pairs = np.zeros(x.shape[1])  # sum of t(t-1)/2, for tau-b
    ordered = np.sort(x, axis=0)
    run = np.ones(x.shape[1])
    for row in range(1, periods + 1):
        same = ordered[row] == ordered[row - 1] if row < periods else np.zeros(x.shape[1], bool)
        ended = ~same
        ties += np.where(ended, run * (run - 1) * (2 * run + 5), 0)
        tied_pairs += np.where(ended, run * (run - 1) / 2, 0)
        run = np.where(same, run + 1, 1)
    variance = (periods * (periods - 1) * (2 * periods + 5) - ties) / 18
    pairs = periods * (periods - 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(tied_pairs < pairs, s / np.sqrt(pairs * (pairs - tied_pairs)), 0.0)
        shrunk = np.maximum(np.abs(s) - 1, 0) if continuity else np.abs(s)
        z = np.where(variance > 0, shrunk / np.sqrt(variance), 0.0)
    return Trend(s, variance, tau, 2 * stats.norm.sf(z))


def space_time_gi_star(cube: np.ndarray, w: sparse.csr_matrix, time_steps: int) -> np.ndarray:
    """Gi* z for each (period, cell) of a periods x cells cube. A bin's neighbourhood is the
    cell and its spatial neighbours in its own period and the `time_steps` before (fewer at the
    start); the mean and spread are the whole cube's. Binary weights, focal bin included."""
    periods, cells = cube.shape
    star = (w + sparse.identity(cells, format="csr")).tocsr()
    star.data[:] = 1.0
    per_period = np.asarray((star @ cube.T).T)  # each period's sum over the spatial neighbourhood
    running = np.cumsum(per_period, axis=0)
    before = np.zeros_like(running)
    before[time_steps + 1 :] = running[: periods - time_steps - 1]
    local = running - before
    spread = np.minimum(np.arange(periods), time_steps) + 1  # periods in each neighbourhood
    weights = spread[:, None] * np.asarray(star.sum(axis=1)).ravel()[None, :]
    n = cube.size
    mean = cube.mean()
    s = np.sqrt((cube**2).mean() - mean**2)
    if s == 0:
        raise InputError("every cell has the same count in every period: Gi* is undefined")
    return (local - mean * weights) / (s * np.sqrt((n * weights - weights**2) / (n - 1)))


def space_time_weights(w: sparse.csr_matrix, periods: int, time_steps: int) -> sparse.csr_matrix:
    """The explicit weights `space_time_gi_star` implies, bin t*cells+i (no self-weights): for
    checking against a general Gi* such as esda's, which needs them spelt out."""
    star = w + sparse.identity(w.shape[0])
    lagged = [sparse.kron(sparse.eye(periods, k=-lag), star) for lag in range(time_steps + 1)]
    out = sparse.csr_matrix(sum(lagged[1:], lagged[0]))
    out.setdiag(0)
    out.eliminate_zeros()
    return out


def pattern(hot: np.ndarray, cold: np.ndarray, tau: float, trend_p: float, alpha: float) -> str:
    """One cell's pattern from its significant hot and cold periods and its z-score trend."""
    for kind, this, other, rising in (("hot spot", hot, cold, 1), ("cold spot", cold, hot, -1)):
        name = _pattern_of_one_kind(this, other, rising * tau, trend_p, alpha)
        if name:
            return f"{name} {kind}"
    return "no pattern detected"


def _pattern_of_one_kind(
    this: np.ndarray, other: np.ndarray, stronger: float, trend_p: float, alpha: float
) -> str | None:
    periods = len(this)
    if this.sum() >= MOST_OF_THE_TIME * periods:
        if not this[-1]:
            return "historical"
        if trend_p <= alpha:
            return "intensifying" if stronger > 0 else "diminishing"
        return "persistent"
    if not this[-1]:
        return None
    run = periods - int(np.flatnonzero(~this)[-1]) - 1  # the final unbroken run
    if not (this | other)[: periods - run].any():
        return "new" if run == 1 else "consecutive"
    return "oscillating" if other.any() else "sporadic"


KINDS = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
PATTERNS = (
    *(f"{name} {kind}" for kind in ("hot spot", "cold spot") for name in KINDS),
    "no pattern detected",
)


@dataclass(frozen=True)
class CubePatterns:
    z: np.ndarray  # periods x cells
    p_fdr: np.ndarray
    hot: np.ndarray  # significant and z > 0
    cold: np.ndarray
    trend: Trend
    patterns: list[str]


def classify_cube(
    cube: np.ndarray, w: sparse.csr_matrix, time_steps: int, alpha: float
) -> CubePatterns:
    """Space-time Gi*, FDR over every bin, the z-score trend and the pattern of every cell."""
    z = space_time_gi_star(cube, w, time_steps)
    p = stats.false_discovery_control(2 * stats.norm.sf(np.abs(z)).ravel(), method="bh")
    p = p.reshape(z.shape)
    hot, cold = (p <= alpha) & (z > 0), (p <= alpha) & (z < 0)
    trend = mann_kendall(z)
    patterns = [
        pattern(hot[:, c], cold[:, c], trend.tau[c], trend.p_value[c], alpha)
        for c in range(cube.shape[1])
    ]
    return CubePatterns(z, p, hot, cold, trend, patterns)


@dataclass(frozen=True)
class Emerging:
    frame: pd.DataFrame  # per cell: cell_id, x, y, in_area, count, hot/cold periods, trend, pattern
    z: pd.DataFrame  # per cell in the area x period: cell_id, period, count, gi_star_z, p_fdr
    grid: Grid
    periods: list[str]
    method: str
    notes: list[str]
    engine: str


def _period_index(t: ir.Table, period: str) -> tuple[ir.IntegerValue, ir.IntegerValue]:
    months, start = PERIODS[period]
    month = t.month.year().cast("int64") * 12 + t.month.month().cast("int64") - 1
    return month, ((month - start) / months).floor().cast("int64")


def period_label(index: int, period: str) -> str:
    months, start = PERIODS[period]
    first = index * months + start
    year, month = divmod(first, 12)
    if period == "month":
        return f"{year}-{month + 1:02d}"
    year = year if month >= 3 else year - 1  # financial years start in April
    label = f"{year}/{(year + 1) % 100:02d}"
    return label if period == "year" else f"{label} Q{(month + 9) % 12 // 3 + 1}"


def emerging_hotspots(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    period: str = "quarter",
    cell_size: float | None = None,
    neighbours: str = "queen",
    distance: float | None = None,
    time_steps: int = 1,
    alpha: float = 0.05,
    within: Polygon | MultiPolygon | None = None,
    lsoas: list[str] | None = None,
) -> Emerging:
    """Classify every grid cell inside `within` by how its hotspot status changed over time
    (an area without an outline gives its `lsoas`: only incidents placed in them count)."""
    if period not in PERIODS:
        raise InputError(f"the period must be one of {', '.join(PERIODS)}")
    if neighbours not in NEIGHBOURS:
        raise InputError(f"neighbours must be one of {', '.join(NEIGHBOURS)}")
    if time_steps < 0:
        raise InputError("time steps must be 0 or more")
    if not 0 < alpha < 1:
        raise InputError("alpha must be between 0 and 1")
    t = located(store, definition, filters, lsoas)
    t = t.filter(t.month.notnull())
    t, grid = area_grid(t, cell_size, within)
    month, index = _period_index(t, period)
    span = t.aggregate(first=month.min(), last=month.max()).to_pandas().iloc[0]
    months, start = PERIODS[period]
    first = -(-(int(span["first"]) - start) // months)  # the first period with all its months
    last = (int(span["last"]) - start + 1) // months - 1  # the last one
    count = last - first + 1
    if count < FEWEST_PERIODS:
        raise InputError(
            f"the selection covers {max(count, 0)} complete {period}s; a trend needs at least "
            f"{FEWEST_PERIODS} ("
            + ("select more months" if period == "month" else "choose a shorter period")
            + ")"
        )
    binned = (
        t.group_by(cell_id=cell_expr(t, grid), period=index, month=month, source=t.source_kind)
        .aggregate(n=t.count())
        .to_pandas()
    )
    used = binned["period"].between(first, last)
    kept = binned[used].groupby(["period", "cell_id"], as_index=False)["n"].sum()
    cube = np.zeros((count, grid.cells))
    cube[kept["period"].to_numpy() - first, kept["cell_id"].to_numpy()] = kept["n"].to_numpy()
    every_month = range(first * months + start, (last + 1) * months + start)
    months_seen = set(binned.loc[used, "month"])
    empty_months = [period_label(m, "month") for m in every_month if m not in months_seen]
    coverage = binned[used].groupby("source")["month"].nunique()
    partial = {kind: n for kind, n in coverage.items() if n < len(months_seen)}
    x, y = grid.centres()
    inside = np.ones(grid.cells, dtype=bool) if within is None else contains_xy(within, x, y)
    keep = np.flatnonzero(inside)
    if len(keep) < 3:
        raise InputError("fewer than three grid cells fall inside the area: use smaller cells")
    if neighbours == "queen":
        w, described = queen(grid), "queen contiguity (the 8 surrounding cells)"
    else:
        band = distance if distance is not None else 1.5 * grid.size
        w, described = distance_band(grid, band), f"a distance band of {band:,.0f} m"
    result = classify_cube(cube[:, keep], w[keep][:, keep].tocsr(), time_steps, alpha)
    z, hot, cold, trend = result.z, result.hot, result.cold, result.trend
    frame = pd.DataFrame(
        {"cell_id": np.arange(grid.cells), "x": x, "y": y, "in_area": inside}
    ).assign(count=cube.sum(axis=0).astype("int64"))
    columns = {
        "hot_periods": hot.sum(axis=0),
        "cold_periods": cold.sum(axis=0),
        "last_z": z[-1],
        "trend_tau": trend.tau,
        "trend_p": trend.p_value,
    }
    for name, values in columns.items():
        frame[name] = np.nan
        frame.loc[keep, name] = values
    frame["pattern"] = "outside the area"
    frame.loc[keep, "pattern"] = result.patterns
    labels = [period_label(i, period) for i in range(first, last + 1)]
    long = pd.DataFrame(
        {
            "cell_id": np.tile(keep, count),
            "period": np.repeat(labels, len(keep)),
            "count": cube[:, keep].ravel().astype("int64"),
            "gi_star_z": z.ravel(),
            "p_fdr": result.p_fdr.ravel(),
        }
    )
    dropped = int(binned["n"][~used].sum())
    notes = [
        grid.announced,
        f"{count} complete {period}s, {labels[0]} to {labels[-1]}"
        + (
            f"; {dropped:,} incidents in incomplete {period}s at either end left out"
            if dropped
            else ""
        ),
    ]
    if empty_months:
        notes.append(
            f"no incidents at all in {', '.join(empty_months)}: if data are missing there, "
            "the periods holding those months will look like falls"
        )
    if partial:
        notes.append(
            "the sources cover different months ("
            + ", ".join(f"{kind}: {n} of {len(months_seen)}" for kind, n in partial.items())
            + "): a change in the mixture looks like a change in the streets; select one source, "
            "e.g. filter source_kind=police_extract"
        )
    if count < ADVISED_PERIODS:
        notes.append(
            f"only {count} periods: the Mann-Kendall trend test has little power below "
            f"{ADVISED_PERIODS}; "
            + (
                "a longer selection gives more"
                if period == "month"
                else "a shorter period gives more"
            )
        )
    method = (
        f"space-time Gi* (binary weights, focal cell included; neighbours by {described} in the "
        f"same {period} and the {time_steps} before; compared with the whole cube), "
        f"Benjamini-Hochberg over {z.size:,} cell-periods, significant at p <= {alpha}; "
        f"Mann-Kendall trend of each cell's z-scores at p <= {alpha}. {RULES}"
    )
    return Emerging(frame, long, grid, labels, method, notes, store.name)
