"""A&E and admissions: assault attendances by hour, place and means of assault; admissions for
assault by sharp object (X99) by age band; and where A&E assaults happen compared with where the
police record violence, the gap the Cardiff Model exists to fill.

A&E records carry the hospital, not the place of the assault, so one CSP's report holds the
whole area's attendances, said to be so and never set beside the CSP's police records; an
admission carries the patient's area of residence, so a CSP's admissions are its own."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from svduty.analysis.selection import label, selected
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.dimensions import month_text
from svduty.engine import Store


@dataclass(frozen=True)
class Health:
    attendances: int
    by_hour: pd.DataFrame
    by_location: pd.DataFrame  # location_type, ae, ae_share[, police, police_share, gap]
    by_means: pd.DataFrame
    sharp_admissions_by_age: pd.DataFrame
    admissions: int
    definition: str | None
    engine: str
    csp: str | None = None  # the CSP whose admissions these are; its attendances are the area's


def _in_period(table: ir.Table, filters: list[Filter]) -> ir.Table:
    for item in filters:
        if item.column == "month":
            table = table.filter(item.test(month_text(table.month)))
    return table


def health(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    csp: tuple[str, tuple[str, ...]] | None = None,
) -> Health:
    """Month filters narrow all three sources; other filters narrow the police side. `csp` is
    one CSP's name and its district and LSOA codes: admissions are narrowed to residents of
    those, and attendances (which have no place) are compared with no police records."""
    filters = filters or []
    ae = _in_period(store.table("ae_attendances"), filters)
    attendances = int(ae.count().to_pandas())
    by_hour = (
        ae.group_by(hour=ae.occurred_at.hour())
        .aggregate(count=ae.count())
        .order_by("hour")
        .to_pandas()
    )
    by_means = (
        ae.group_by("means_of_assault")
        .aggregate(count=ae.count())
        .order_by(ibis.desc("count"))
        .to_pandas()
    )
    places = ae.group_by("location_type").aggregate(ae=ae.count()).to_pandas()
    by_location = _locations(store, definition, filters, places, compared=csp is None)
    adm = _in_period(store.table("admissions"), filters)
    if csp is not None:
        adm = adm.filter(adm.area_code.isin(list(csp[1])))
    admissions = int(adm["count"].sum().fill_null(0).to_pandas())  # Spark's empty sum: NaN
    sharp = adm.filter(adm.cause_code.startswith("X99"))
    by_age = (
        sharp.group_by("age_band")
        .aggregate(count=sharp["count"].sum())
        .order_by("age_band")
        .to_pandas()
    )
    return Health(
        attendances,
        by_hour,
        by_location,
        by_means,
        by_age,
        admissions,
        label(definition),
        store.name,
        None if csp is None else csp[0],
    )


def _locations(
    store: Store,
    definition: Definition | None,
    filters: list[Filter],
    places: pd.DataFrame,
    compared: bool,
) -> pd.DataFrame:
    """Attendances by place, with (when `compared`) the police records of the same places and
    the gap between the two shares."""
    if not compared:  # the rows (and so the cells) of the compared table, less the police's
        out = places.fillna(0).astype({"ae": "int64"})
        total = out["ae"].sum()
        out["ae_share"] = out["ae"] / total if total else 0.0
        return out.sort_values(["ae", "location_type"], ascending=[False, True]).reset_index(
            drop=True
        )
    police = selected(store, definition, filters)
    police = police.filter(police.location_type.notnull())
    recorded = police.group_by("location_type").aggregate(police=police.count()).to_pandas()
    by_location = places.merge(recorded, on="location_type", how="outer").fillna(0)
    for column in ("ae", "police"):
        by_location[column] = by_location[column].astype("int64")
        total = by_location[column].sum()
        by_location[f"{column}_share"] = by_location[column] / total if total else 0.0
    by_location["gap"] = by_location["ae_share"] - by_location["police_share"]
    return by_location.sort_values("gap", ascending=False).reset_index(drop=True)
