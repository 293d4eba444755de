"""Funnel plots comparing areas on a proportion or a rate, by the UKHSA Fingertips methods (as
PHEindicatormethods implements them), with Spiegelhalter's overdispersion adjustment on request.

Written here rather than taken from a library: PHEindicatormethods and FunnelPlotR are R; the
Python `funnelplot` package draws normal-approximation limits only.

The baseline is the pooled value, sum of numerators over sum of denominators. Limits at 95 %
(0.025 each side) and 99.8 % (0.001 each side):

- proportions: the value whose Wilson score interval just touches the baseline, which works
  out to p0 +/- z sqrt(p0 (1 - p0) / n); an area is labelled by its own Wilson interval
  against the baseline (the same test);
- rates: exact Poisson. An area's count O has the exact interval chi2(a; 2O) / 2 to
  chi2(1 - a; 2O + 2) / 2 and is labelled by where the expected count (baseline x denominator)
  falls against it. The limit drawn at a denominator is the count whose exact interval just
  touches the expected count there. (Fingertips uses Byar's approximation to the same interval
  from 10 events; the exact one is used throughout here.)

Labels: "High (0.001)", "High (0.025)", "Low (0.025)", "Low (0.001)", "Not significant". They
say whether an area differs from the baseline, not whether that is better or worse.

Overdispersion (Spiegelhalter 2005, as FunnelPlotR does it): z-scores on a variance-stabilising
scale (proportions: asin sqrt(p), s = 1 / (2 sqrt(n)); rates: sqrt(O / E), s = 1 / (2 sqrt(E)),
E the expected count), winsorised at the 10th and 90th percentiles; phi = mean(z^2);
tau^2 = max(0, (N phi - (N - 1)) / (sum(w) - sum(w^2) / sum(w))), w = 1 / s^2. When tau^2 > 0
the limits become target +/- z sqrt(s^2 + tau^2) on that scale, transformed back, and areas are
labelled against those; otherwise the limits stay as they were, and the output says which.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import gammainc
from scipy.stats import gamma, norm

from svduty.errors import InputError
from svduty.measures.inputs import read_rows
from svduty.output import records

KINDS = ("proportion", "rate")
DEFAULT_MULTIPLIER = {"proportion": 100.0, "rate": 1000.0}
TAILS = (0.025, 0.001)
"""One-sided tail areas of the 95 % and 99.8 % limits."""
WINSORISE = 0.1


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter's estimate: phi (1 means none beyond chance) and tau^2, the variance
    between areas added to each area's own on the transformed scale."""

    phi: float
    tau2: float
    areas: int

    @property
    def widened(self) -> bool:
        return self.tau2 > 0


@dataclass(frozen=True)
class FunnelResult:
    """A row per area (numerator, denominator, value, its limits and significance label) and
    the baseline, in the units of `multiplier` (100: per cent)."""

    frame: pd.DataFrame
    kind: str
    multiplier: float
    baseline: float
    overdispersion: Overdispersion | None
    notes: tuple[str, ...]
    method: str

    def limits(self, denominators: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """The funnel's four lines at any denominators (for drawing)."""
        return _limits(
            self.kind, self.baseline / self.multiplier, np.asarray(denominators, dtype=float),
            self.overdispersion, self.multiplier,
        )  # fmt: skip

    def json(self) -> str:
        summary: dict[str, Any] = {
            "kind": self.kind,
            "multiplier": self.multiplier,
            "baseline": self.baseline,
            "overdispersion": None
            if self.overdispersion is None
            else {
                "phi": self.overdispersion.phi,
                "tau2": self.overdispersion.tau2,
                "limits_widened": self.overdispersion.widened,
            },
            "method": self.method,
            "notes": list(self.notes),
            "areas": records(self.frame),
        }
        return json.dumps(summary, indent=2) + "\n"


def read_areas(path: Path, kind: str) -> tuple[list[str], list[int], list[float]]:
    """Columns area, numerator, denominator; each area once."""
    rows = read_rows(path, ["area", "numerator", "denominator"])
    seen: dict[str, int] = {}
    areas, numerators, denominators = [], [], []
    for row in rows:
        area = row.text("area")
        if not area:
            raise InputError(f"{row.where('area')}: empty; name the area")
        if area in seen:
            raise InputError(f"{row.where('area')}: {area!r} is also on line {seen[area]}")
        seen[area] = row.line
        numerator = row.count("numerator")
        denominator = row.number("denominator")
        if denominator <= 0:
            raise InputError(f"{row.where('denominator')}: {denominator:g} is not above zero")
        if kind == "proportion" and numerator > denominator:
            raise InputError(
                f"{row.where('numerator')}: {numerator} is more than the denominator "
                f"{denominator:g}; a proportion cannot exceed 1"
            )
        areas.append(area)
        numerators.append(numerator)
        denominators.append(denominator)
    return areas, numerators, denominators


def funnel(
    areas: Sequence[str],
    numerators: Sequence[int],
    denominators: Sequence[float],
    *,
    kind: str,
    multiplier: float | None = None,
    overdispersion: bool = False,
) -> FunnelResult:
    if kind not in KINDS:
        raise InputError(f"kind must be proportion or rate, not {kind!r}")
    if not len(areas) == len(numerators) == len(denominators):
        raise InputError("areas, numerators and denominators differ in length")
    if len(areas) < 2:
        raise InputError("a funnel plot compares areas: give at least two")
    if multiplier is not None and not multiplier > 0:
        raise InputError(f"the multiplier must be above zero, not {multiplier:g}")
    notes = []
    if multiplier is None:
        multiplier = DEFAULT_MULTIPLIER[kind]
        unit = "per cent" if kind == "proportion" else f"per {multiplier:,.0f}"
        notes.append(f"values {unit} (the default multiplier, {multiplier:g})")
    x = np.asarray(numerators, dtype=float)
    n = np.asarray(denominators, dtype=float)
    p0 = x.sum() / n.sum()
    if p0 == 0:
        raise InputError("every numerator is zero: there is no baseline to compare areas with")
    if kind == "proportion" and p0 == 1:
        raise InputError("every numerator equals its denominator: nothing varies")
    dispersion = None
    if overdispersion:
        if len(areas) < 3:
            raise InputError("an overdispersion estimate needs at least three areas")
        dispersion = _overdispersion(kind, x, n, p0)
        if dispersion.widened:
            notes.append(
                f"overdispersion: phi = {dispersion.phi:.3g} from z-scores winsorised at 10 %, "
                f"tau^2 = {dispersion.tau2:.3g}; limits widened and areas labelled against them"
            )
        else:
            notes.append(
                f"overdispersion: phi = {dispersion.phi:.3g}, no more spread than chance "
                "(tau^2 = 0); limits not widened"
            )
    lines = _limits(kind, p0, n, dispersion, multiplier)
    value = x / n * multiplier
    if dispersion is not None and dispersion.widened:
        rows = lines.itertuples()
        labels = [_label_by_limits(v, row) for v, row in zip(value, rows, strict=True)]
    else:
        labels = [_label_exact(kind, xi, ni, p0) for xi, ni in zip(x, n, strict=True)]
    frame = pd.DataFrame(
        {
            "area": list(areas),
            "numerator": [int(v) for v in numerators],
            "denominator": n,
            "value": value,
            "significance": labels,
            "lower_998": lines["lower_998"],
            "lower_95": lines["lower_95"],
            "upper_95": lines["upper_95"],
            "upper_998": lines["upper_998"],
            "baseline": p0 * multiplier,
        }
    )
    return FunnelResult(
        frame=frame,
        kind=kind,
        multiplier=multiplier,
        baseline=p0 * multiplier,
        overdispersion=dispersion,
        notes=tuple(notes),
        method=_method(kind, dispersion),
    )


def wilson(x: float, n: float, z: float) -> tuple[float, float]:
    """The Wilson score interval of x successes in n."""
    centre = 2 * x + z * z
    spread = z * math.sqrt(z * z + 4 * x * (1 - x / n))
    return (centre - spread) / (2 * (n + z * z)), (centre + spread) / (2 * (n + z * z))


def exact_poisson(count: float, tail: float) -> tuple[float, float]:
    """The exact (Garwood) interval of a Poisson count, `tail` in each side."""
    lower = 0.0 if count == 0 else float(gamma.ppf(tail, count))
    return lower, float(gamma.ppf(1 - tail, count + 1))


def _label_exact(kind: str, x: float, n: float, p0: float) -> str:
    for tail in TAILS[::-1]:
        if kind == "proportion":
            low, high = wilson(x, n, float(norm.isf(tail)))
            expected = p0
        else:
            low, high = exact_poisson(x, tail)
            expected = p0 * n
        if low > expected:
            return f"High ({tail:g})"
        if high < expected:
            return f"Low ({tail:g})"
    return "Not significant"


def _label_by_limits(value: float, row: Any) -> str:
    if value > row.upper_998:
        return "High (0.001)"
    if value < row.lower_998:
        return "Low (0.001)"
    if value > row.upper_95:
        return "High (0.025)"
    if value < row.lower_95:
        return "Low (0.025)"
    return "Not significant"


def _poisson_count_limit(expected: float, tail: float, side: int) -> float:
    """The (continuous) count whose exact interval just touches `expected`: above it, the
    interval's lower end passes expected; below the low one, its upper end falls short."""
    if side > 0:  # gamma.ppf(tail, c) == expected  <=>  P(c, expected) == tail
        target, shift = tail, 0.0
    else:  # gamma.ppf(1 - tail, c + 1) == expected
        target, shift = 1 - tail, 1.0
        if gammainc(1.0, expected) < target:
            return 0.0  # even no events would not be significantly low
    top = max(10.0, 4 * expected + 50)
    while gammainc(top, expected) > target:
        top *= 2
    return float(brentq(lambda a: gammainc(a, expected) - target, 1e-9, top, xtol=1e-12)) - shift


def _limits(
    kind: str, p0: float, n: np.ndarray, dispersion: Overdispersion | None, multiplier: float
) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for tail, name in zip(TAILS, ("95", "998"), strict=True):
        z = float(norm.isf(tail))
        if dispersion is not None and dispersion.widened:
            low, high = _widened(kind, p0, n, z, dispersion.tau2)
        elif kind == "proportion":
            half = z * np.sqrt(p0 * (1 - p0) / n)
            low, high = np.clip(p0 - half, 0, 1), np.clip(p0 + half, 0, 1)
        else:
            low = np.array([_poisson_count_limit(p0 * d, tail, -1) / d for d in n])
            high = np.array([_poisson_count_limit(p0 * d, tail, 1) / d for d in n])
        columns[f"lower_{name}"] = low * multiplier
        columns[f"upper_{name}"] = high * multiplier
    return pd.DataFrame(columns)[["lower_998", "lower_95", "upper_95", "upper_998"]]


def _transformed(
    kind: str, x: np.ndarray, n: np.ndarray, p0: float
) -> tuple[np.ndarray, float, np.ndarray]:
    """(y, target, s): each area on the variance-stabilising scale."""
    if kind == "proportion":
        return np.arcsin(np.sqrt(x / n)), math.asin(math.sqrt(p0)), 1 / (2 * np.sqrt(n))
    expected = p0 * n
    return np.sqrt(x / expected), 1.0, 1 / (2 * np.sqrt(expected))


def _overdispersion(kind: str, x: np.ndarray, n: np.ndarray, p0: float) -> Overdispersion:
    y, target, s = _transformed(kind, x, n, p0)
    z = (y - target) / s
    low, high = np.quantile(z, [WINSORISE, 1 - WINSORISE])
    phi = float(np.mean(np.clip(z, low, high) ** 2))
    areas = len(z)
    w = 1 / s**2
    if areas * phi < areas - 1:
        tau2 = 0.0
    else:
        tau2 = max(0.0, float((areas * phi - (areas - 1)) / (w.sum() - (w**2).sum() / w.sum())))
    return Overdispersion(phi=phi, tau2=tau2, areas=areas)


def _widened(
    kind: str, p0: float, n: np.ndarray, z: float, tau2: float
) -> tuple[np.ndarray, np.ndarray]:
    if kind == "proportion":
        target, s = math.asin(math.sqrt(p0)), 1 / (2 * np.sqrt(n))
        spread = z * np.sqrt(s**2 + tau2)
        return (
            np.sin(np.clip(target - spread, 0, math.pi / 2)) ** 2,
            np.sin(np.clip(target + spread, 0, math.pi / 2)) ** 2,
        )
    s = 1 / (2 * np.sqrt(p0 * n))
    spread = z * np.sqrt(s**2 + tau2)
    return p0 * np.clip(1 - spread, 0, None) ** 2, p0 * (1 + spread) ** 2


def _method(kind: str, dispersion: Overdispersion | None) -> str:
    limits = (
        "Wilson score limits (p0 +/- z sqrt(p0 (1 - p0) / n))"
        if kind == "proportion"
        else "exact Poisson limits"
    )
    text = (
        f"Funnel plot of a {kind} (UKHSA Fingertips methods): baseline the pooled value, "
        f"95 % and 99.8 % {limits}"
    )
    if dispersion is not None:
        text += "; overdispersion by Spiegelhalter's method (winsorised z-scores, additive tau^2)"
    return text
