"""A measure's monthly series from the workspace, for the partnership's area or one CSP.

A month that no counted source holds is a gap (None), never a zero. For incidents, the counted
sources are those that record what the measure needs: a source whose every record leaves the
measure unknown (data.police.uk has no knife marker, no offence code, no victim age) is not
counted, so its months are not months of zero knife crime. For admissions, the source holds the
months its records fall in. Records are placed in the area by district: an incident by its
LSOA's district, an admission by its area code. Rates use the bundled residents (2024 estimates
on 2021 LSOAs in England, mid-2019 on 2011 LSOAs in Wales) of the area's districts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import ibis
import pandas as pd

from svduty.analysis.assessment import csp_districts
from svduty.analysis.coverage import Coverage
from svduty.analysis.where import district_populations
from svduty.definitions.classify import classification_input
from svduty.definitions.rules import any_of, unknown
from svduty.dimensions import month_text
from svduty.engine import Store
from svduty.errors import InputError
from svduty.measures.framework import AdmissionsSource, IncidentsSource, Measure
from svduty.quality import area_districts
from svduty.settings import Settings
from svduty.vocabulary import NO_DATA

ADMISSIONS = ("admissions", "")
_BAND = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)|\+)\s*")


@dataclass(frozen=True)
class Counted:
    """A measure's counts per month and district (None: a record not placed in any district),
    and the months its counted sources hold."""

    frame: pd.DataFrame  # month, district, count
    coverage: Coverage


@dataclass(frozen=True)
class Series:
    """One measure for one area: a row per month from the first to the last its sources hold,
    with `count` and `rate` None where no counted source holds the month."""

    measure: Measure
    area: str
    districts: tuple[str, ...]
    population: int | None
    frame: pd.DataFrame  # month, count (Int64), rate (Float64), status, missing; NA in a gap
    coverage: Coverage
    notes: tuple[str, ...]

    @property
    def value(self) -> str:
        """The column the measure is charted in: its unit, or the count where the area's
        residents are not known."""
        return "rate" if self.measure.unit == "rate" and self.population else "count"

    def points(self) -> tuple[list[date], list[float]]:
        """The months with data and their values, gaps left out, for a chart."""
        held = self.frame[self.frame["status"] != NO_DATA]
        days = [date.fromisoformat(m + "-01") for m in held["month"]]
        return days, [float(v) for v in held[self.value]]

    def by_month(self) -> dict[str, float | None]:
        """Each month's value in the measure's unit; None for a month without data."""
        return {
            str(month): None if pd.isna(value) else float(value)
            for month, value in zip(self.frame["month"], self.frame[self.value], strict=True)
        }

    @property
    def latest(self) -> dict[str, object] | None:
        held = self.frame[self.frame["status"] != NO_DATA]
        return None if held.empty else {str(k): v for k, v in held.iloc[-1].items()}


def areas(store: Store, settings: Settings) -> dict[str, tuple[str, ...]]:
    """The partnership's area and each of its CSPs, as district codes (the area empty when the
    workspace names none: every record counts)."""
    name = settings.area or "the workspace"
    found = {name: area_districts(store, settings)}
    if settings.csps:
        found.update(csp_districts(store, settings, None))
    return found


def measure_series(
    store: Store, settings: Settings, measure: Measure, csp: str | None = None
) -> Series:
    """The measure for the partnership's area, or for one of its CSPs."""
    found = areas(store, settings)
    if csp is not None and (csp not in settings.csps or csp not in found):
        known = ", ".join(settings.csps) or "none are set in svduty.toml"
        raise InputError(f"no CSP {csp!r} in this partnership; its CSPs: {known}")
    name = csp if csp is not None else next(iter(found))
    return series_for(counted(store, measure), measure, name, found[name], store)


def all_series(store: Store, settings: Settings, measure: Measure) -> dict[str, Series]:
    """The measure for the area and for each CSP, counted once."""
    done = counted(store, measure)
    return {
        name: series_for(done, measure, name, d, store)
        for name, d in areas(store, settings).items()
    }


def counted(store: Store, measure: Measure) -> Counted:
    if isinstance(measure.source, AdmissionsSource):
        return _admissions(store, measure.source)
    return _incidents(store, measure.source, measure.id)


def series_for(
    done: Counted, measure: Measure, name: str, districts: tuple[str, ...], store: Store
) -> Series:
    frame = done.frame
    notes: list[str] = []
    if districts:
        inside = frame[frame["district"].isin(districts)]
        outside = int(frame.loc[frame["district"].isna(), "count"].sum())
        if outside:
            notes.append(
                f"{outside:,} record(s) of this measure have no known district (no LSOA or area "
                f"code svduty knows) and are not counted in {name}"
            )
    else:
        inside = frame
    per_month = inside.groupby("month")["count"].sum()
    population = _population(store, districts) if districts else None
    rows = []
    cov = done.coverage
    for month in cov.months:
        status = cov.status(month)
        held = status != NO_DATA
        count = int(per_month.get(month, 0)) if held else None
        rate = (
            count / population * measure.per if held and population and count is not None else None
        )
        rows.append(
            {
                "month": month,
                "count": count,
                "rate": rate,
                "status": status,
                "missing": ", ".join(cov.missing(month)),
            }
        )
    out = pd.DataFrame(rows, columns=["month", "count", "rate", "status", "missing"])
    out["count"] = out["count"].astype("Int64")
    out["rate"] = out["rate"].astype("Float64")
    if not cov.sources:
        notes.append(
            "no source in the workspace records what this measure needs "
            f"({measure.source.describe()})"
        )
    gaps = sum(out["status"] == NO_DATA)
    if gaps:
        notes.append(f"{gaps} month(s) without data are gaps (None), not zeros")
    if measure.unit == "rate" and not population:
        notes.append(
            f"the residents of {name} are not known (no districts set in svduty.toml): "
            "counts are given, not rates"
        )
    return Series(measure, name, districts, population, out, cov, tuple(notes))


def _population(store: Store, districts: tuple[str, ...]) -> int | None:
    known = district_populations(store)
    total = sum(known.get(d, 0) for d in districts)
    return total or None


def _incidents(store: Store, source: IncidentsSource, measure_id: str) -> Counted:
    selection = source.selection(measure_id)
    t = classification_input(store, [selection])
    t = t.mutate(_in=any_of([c.expr(t) for c in selection.clauses]))
    assessable = (
        t.group_by(_kind=t.source_kind, _force=t.force)
        .aggregate(n=(~unknown(t._in)).cast("int64").sum())
        .to_pandas()
    )
    sources = tuple(
        sorted(
            (str(k), f if isinstance(f, str) else "")
            for k, f, n in zip(
                assessable["_kind"], assessable["_force"], assessable["n"], strict=True
            )
            if n and n > 0
        )
    )
    hits = t.filter(t._in.fill_null(False))
    places = store.table("areas").select(_lsoa="lsoa_code", _district="la_code")
    placed = hits.left_join(places, hits.lsoa_code == places._lsoa)
    frame = (
        placed.group_by(month=month_text(placed.month), district=placed._district)
        .aggregate(count=placed.count())
        .to_pandas()
    )
    every = store.table("incidents")
    present = (
        every.group_by(_kind=every.source_kind, _force=every.force, month=month_text(every.month))
        .aggregate(n=every.count())
        .to_pandas()
    )
    return Counted(_tidy(frame), _coverage(sources, present))


def _coverage(sources: tuple[tuple[str, str], ...], present: pd.DataFrame) -> Coverage:
    held: dict[str, set[tuple[str, str]]] = {}
    for kind, force, month in zip(
        present["_kind"], present["_force"], present["month"], strict=True
    ):
        source = (str(kind), force if isinstance(force, str) else "")
        if source in sources and isinstance(month, str):
            held.setdefault(month, set()).add(source)
    return Coverage(sources, {m: frozenset(s) for m, s in sorted(held.items())})


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.dropna(subset=["month"]).copy()
    frame["district"] = frame["district"].astype(object).where(frame["district"].notna(), None)
    frame["count"] = frame["count"].fillna(0).astype("int64")
    return frame[["month", "district", "count"]]


def _admissions(store: Store, source: AdmissionsSource) -> Counted:
    a = store.table("admissions")
    months = a.select(month=month_text(a.month)).distinct().to_pandas()["month"]
    held = {str(m): frozenset({ADMISSIONS}) for m in sorted(months.dropna())}
    sources = (ADMISSIONS,) if held else ()
    cause = a.cause_code.upper().replace(".", "").strip()
    t = a.filter(any_of([cause.startswith(code) for code in source.causes]))
    if source.ages:
        bands = t.select("age_band").distinct().to_pandas()["age_band"].dropna()
        wanted = [b for b in bands if _band_within(str(b), source)]
        t = t.filter(t.age_band.isin(wanted)) if wanted else t.filter(ibis.literal(False))
    places = store.table("areas").select("la_code").distinct()
    placed = t.left_join(places, t.area_code == places.la_code)
    frame = (
        placed.group_by(month=month_text(placed.month), district=placed.la_code)
        .aggregate(count=placed["count"].sum())
        .to_pandas()
    )
    return Counted(_tidy(frame), Coverage(sources, held))


def _band_within(band: str, source: AdmissionsSource) -> bool:
    """Whether every age in an admissions age band ('18-24', '65+') is in the measure's range;
    a band across the range's edge cannot be split, so it is refused. A band svduty cannot
    read ('unknown') is not in any range."""
    found = _BAND.fullmatch(band)
    if not found:
        return False
    low = int(found.group(1))
    high = int(found.group(2)) if found.group(2) else 120
    if source.low <= low and high <= source.high:
        return True
    if high < source.low or low > source.high:
        return False
    raise InputError(
        f"admissions age band {band!r} runs across the measure's ages {source.low} to "
        f"{source.high}: its admissions cannot be split; map the admissions into bands that "
        "end at the measure's limits"
    )
