"""Exact statistics for counts: Poisson intervals for rates, and the conditional binomial test
for comparing two counts (the Poisson C-test), with a floor below which no comparison is made."""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats


def poisson_interval(count: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson mean given one observed count."""
    low = 0.0 if count == 0 else stats.chi2.ppf(alpha / 2, 2 * count) / 2
    high = stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    return float(low), float(high)


@dataclass(frozen=True)
class Change:
    """Second period against the first: the rate ratio, its exact interval, the test's p-value,
    and a verdict in words."""

    first: int
    second: int
    ratio: float | None
    low: float | None
    high: float | None
    p_value: float | None
    verdict: str


def compare_counts(
    first: int,
    second: int,
    exposure_first: float = 1.0,
    exposure_second: float = 1.0,
    minimum: int = 20,
    alpha: float = 0.05,
) -> Change:
    """Exact test of equal rates: given the total, the second count is binomial with
    p = exposure_second / (exposure_first + exposure_second) if the rates are equal."""
    total = first + second
    if total < minimum:
        return Change(
            first,
            second,
            None,
            None,
            None,
            None,
            f"too few to compare (fewer than {minimum} in both periods together)",
        )
    share = exposure_second / (exposure_first + exposure_second)
    result = stats.binomtest(second, total, share)
    interval = result.proportion_ci(1 - alpha, method="exact")
    scale = exposure_first / exposure_second

    def ratio_of(p: float) -> float | None:
        return None if p >= 1 else p / (1 - p) * scale

    ratio = ratio_of(second / total) if first else None
    low, high = ratio_of(interval.low), ratio_of(interval.high)
    if result.pvalue >= alpha:
        verdict = "no significant change"
    else:
        verdict = "significant increase" if second * scale > first else "significant decrease"
    return Change(first, second, ratio, low, high, float(result.pvalue), verdict)
