"""Data quality per source, force and month: what an analyst must know before trusting a count.

Missing months are listed as rows with no data (a force that published nothing for a month, as
Greater Manchester from July 2019, is a gap, not a fall in crime).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from svduty.engine import Store
from svduty.settings import Settings


@dataclass(frozen=True)
class QualityReport:
    incidents: pd.DataFrame
    offence_counts: pd.DataFrame
    area_las: tuple[str, ...]
    engine: str

    @property
    def gaps(self) -> pd.DataFrame:
        """Runs of consecutive missing months per series, as first and last month."""
        frame = self.incidents[self.incidents["rows"] == 0]
        runs = []
        for (kind, force), group in frame.groupby(["source_kind", "force"], dropna=False):
            periods = sorted(pd.Period(m, freq="M") for m in group["month"])
            start = previous = periods[0]
            for period in [*periods[1:], None]:
                if period is not None and period == previous + 1:
                    previous = period
                    continue
                runs.append(
                    {
                        "source_kind": kind,
                        "force": force,
                        "from": str(start),
                        "to": str(previous),
                        "months": (previous - start).n + 1,
                    }
                )
                if period is not None:
                    start = previous = period
        return pd.DataFrame(runs, columns=["source_kind", "force", "from", "to", "months"])


def area_districts(store: Store, settings: Settings) -> tuple[str, ...]:
    """District codes of the partnership's area: its CSP groups, else its forces' districts."""
    areas = store.table("areas")
    if settings.csps:
        chosen = areas.filter(areas.csp_name.isin(list(settings.csps)))
    elif settings.forces:
        chosen = areas.filter(areas.force.isin(list(settings.forces)))
    else:
        return ()
    frame = chosen.select("la_code").distinct().to_pandas()
    return tuple(sorted(frame["la_code"].dropna()))


def quality(store: Store, settings: Settings) -> QualityReport:
    las = area_districts(store, settings)
    return QualityReport(
        _incident_quality(store, las), _offence_count_quality(store), las, store.name
    )


def _incident_quality(store: Store, las: tuple[str, ...]) -> pd.DataFrame:
    t = store.table("incidents")
    areas = store.table("areas").select(area_lsoa="lsoa_code", area_la="la_code")
    joined = t.left_join(areas, t.lsoa_code == areas.area_lsoa)
    keys = ["source_kind", "force", "month"]
    known = joined.area_lsoa.notnull()
    # with no area set (a national workspace) nothing is outside it: a column of False, since
    # a bare literal has no .sum() to aggregate
    outside = known & ~joined.area_la.isin(list(las)) if las else known & ~known
    per_month = joined.group_by(keys).aggregate(
        rows=joined.count(),
        no_location=(joined.longitude.isnull() & joined.easting.isnull()).sum(),
        lsoa_given=joined.lsoa_code.notnull().sum(),
        unknown_lsoa=(joined.lsoa_code.notnull() & ~known).sum(),
        outside_area=outside.sum(),
        synthetic=joined.synthetic.sum(),
    )
    with_ref = t.filter(t.crime_ref.notnull())
    refs = with_ref.group_by([*keys, "crime_ref"]).aggregate(n=with_ref.count())
    twice = refs.filter(refs.n > 1)
    repeated = twice.group_by(keys).aggregate(duplicate_crime_ids=twice.count())
    frame = per_month.to_pandas()
    dups = repeated.to_pandas()
    frame = frame.merge(dups, on=keys, how="left") if len(frame) else frame
    if len(frame) == 0:
        return pd.DataFrame(
            columns=[
                *keys,
                "rows",
                "no_location_share",
                "outside_area_share",
                "unknown_lsoa",
                "duplicate_crime_ids",
                "synthetic",
            ]
        )
    frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
    frame = _add_gaps(frame)
    for column in (
        "rows",
        "no_location",
        "lsoa_given",
        "unknown_lsoa",
        "outside_area",
        "synthetic",
        "duplicate_crime_ids",
    ):
        frame[column] = frame[column].fillna(0).astype("int64")
    rows = frame["rows"].where(frame["rows"] > 0)
    frame["no_location_share"] = (frame["no_location"] / rows).round(4)
    frame["outside_area_share"] = (
        (frame["outside_area"] / frame["lsoa_given"].where(frame["lsoa_given"] > 0)).round(4)
        if las
        else float("nan")
    )
    columns = [
        *keys,
        "rows",
        "no_location",
        "no_location_share",
        "outside_area",
        "outside_area_share",
        "unknown_lsoa",
        "duplicate_crime_ids",
        "synthetic",
    ]
    return frame[columns].sort_values(keys, kind="stable").reset_index(drop=True)


def _add_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """Add a zero row for every month between a series' first and last with no data."""
    missing = []
    for (kind, force), group in frame.groupby(["source_kind", "force"], dropna=False):
        months = pd.period_range(group["month"].min(), group["month"].max(), freq="M")
        have = set(group["month"])
        missing += [
            {"source_kind": kind, "force": force, "month": str(m), "rows": 0}
            for m in months
            if str(m) not in have
        ]
    return pd.concat([frame, pd.DataFrame(missing)], ignore_index=True) if missing else frame


def _offence_count_quality(store: Store) -> pd.DataFrame:
    t = store.table("offence_counts")
    keys = ["force", "financial_year"]
    frame = (
        t.group_by(keys)
        .aggregate(
            rows=t.count(),
            quarters=t.financial_quarter.nunique(),
            negative_counts=(t["count"] < 0).sum(),
            offences=t["count"].sum(),
        )
        .to_pandas()
    )
    if len(frame):
        frame["missing_quarters"] = 4 - frame["quarters"].astype("int64")
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)
