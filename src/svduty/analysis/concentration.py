"""Concentration: the share of incidents, and of harm where weights are given, in the top 1%, 5%
and 10% of places (LSOAs with any incident or none), with the full cumulative curve, per year."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from svduty.analysis.selection import label, selected
from svduty.analysis.severity import Weights
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.engine import Store

TOPS = (0.01, 0.05, 0.10)


@dataclass(frozen=True)
class Concentration:
    table: pd.DataFrame  # year, measure, places, total, top_k shares and in_top_k sums
    curves: dict[tuple[str, str], pd.DataFrame]  # (year, measure) -> share of places, of total
    places: int
    definition: str | None
    engine: str


def concentration(
    store: Store,
    places: list[str],
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    weights: Weights | None = None,
) -> Concentration:
    """`places` are the LSOAs of the area (so places with no incident count too)."""
    frame = per_place(store, places, definition, filters)
    return concentration_from(frame, places, definition, store.name, weights)


def per_place(
    store: Store,
    places: list[str],
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
) -> pd.DataFrame:
    """Incidents by year, LSOA and offence code, in `places` only."""
    t = selected(store, definition, filters)
    t = t.filter(t.lsoa_code.isin(places)).mutate(year=t.month.year())
    return t.group_by("year", "lsoa_code", "offence_code").aggregate(n=t.count()).to_pandas()


def concentration_from(
    frame: pd.DataFrame,
    places: list[str],
    definition: Definition | None,
    engine: str,
    weights: Weights | None = None,
) -> Concentration:
    """Shares of each year's incidents in the top 1%, 5% and 10% of `places`."""
    frame = frame[frame["lsoa_code"].isin(places)]
    rows, curves = [], {}
    for year, group in frame.groupby("year"):
        measures = {"incidents": group.groupby("lsoa_code")["n"].sum()}
        if weights is not None:
            harm = group["n"] * group["offence_code"].map(weights.weights).fillna(0)
            measures["harm"] = harm.groupby(group["lsoa_code"]).sum()
        for measure, per_place in measures.items():
            values = np.sort(per_place.reindex(places, fill_value=0).to_numpy(float))[::-1]
            cumulative = np.cumsum(values) / values.sum() if values.sum() else values
            shares: dict[str, float] = {"total": float(values.sum())}
            for top in TOPS:
                k = max(1, round(top * len(values)))
                shares[f"top_{int(top * 100)}"] = float(cumulative[k - 1])
                shares[f"in_top_{int(top * 100)}"] = float(values[:k].sum())
            row = {"year": int(str(year)), "measure": measure, "places": len(values)}
            rows.append({**row, **shares})
            curves[(str(year), measure)] = pd.DataFrame(
                {
                    "share_of_places": np.arange(1, len(values) + 1) / len(values),
                    "share_of_total": cumulative,
                }
            )
    return Concentration(pd.DataFrame(rows), curves, len(places), label(definition), engine)
