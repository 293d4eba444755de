"""A measure's series from the workspace, for the partnership's area or one CSP: monthly for
incidents and admissions; monthly, quarterly or by financial year for an external series.

A month that no counted source holds is a gap (None), never a zero. For incidents, the counted
sources are those that record what the measure needs: a source whose every record leaves the
measure unknown (data.police.uk has no knife marker, no offence code, no victim age) is not
counted, so its months are not months of zero knife crime. For admissions, the source holds the
months its records fall in. Records are placed in the area by district: an incident by its
LSOA's district, an admission by its area code. Rates use the bundled residents (2024 estimates
on 2021 LSOAs in England, mid-2019 on 2011 LSOAs in Wales) of the area's districts; a measure
about an age range uses the residents of those ages from the workspace's population-by-age file,
and without one is given as counts.

An external series gives an area's figures in rows naming the area (a CSP's or the
partnership's name), or in rows for each of its districts, summed where every district has one.
Where a measure, area and period is published more than once, the latest publication is used.
A rate is of the series' denominators where every period has one, else of the area's residents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import pandas as pd

from svduty.analysis.assessment import csp_districts
from svduty.analysis.coverage import Coverage
from svduty.analysis.population import AgePopulation, load_population_by_age
from svduty.analysis.where import district_populations
from svduty.definitions.classify import classification_input
from svduty.definitions.rules import any_of, unknown
from svduty.dimensions import month_text
from svduty.engine import Store
from svduty.errors import InputError, WorkspaceError
from svduty.measures.framework import AdmissionsSource, IncidentsSource, Measure, SeriesSource
from svduty.periods import WORDS, period_start
from svduty.quality import area_districts
from svduty.settings import SETTINGS_FILE, Settings, load_settings
from svduty.vocabulary import FULL, NO_DATA

ADMISSIONS = ("admissions", "")
SERIES = ("measure_series", "")
_BAND = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)|\+)\s*")


@dataclass(frozen=True)
class Counted:
    """A measure's counts per month and district (None: a record not placed in any district),
    and the months its counted sources hold."""

    frame: pd.DataFrame  # month, district, count (a series: period, area, numerator, ...)
    coverage: Coverage
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Series:
    """One measure for one area: a row per period (month, quarter or financial year, the
    measure's) from the first to the last its sources hold, with values None where no counted
    source holds the period."""

    measure: Measure
    area: str
    districts: tuple[str, ...]
    population: int | None
    frame: pd.DataFrame  # period, count, [denominator,] rate or share, status, missing
    coverage: Coverage
    notes: tuple[str, ...]
    value: str = "count"
    """The column the measure is charted in: its unit, or the count where what a rate is of
    (the series' denominators, the area's residents of the measure's ages) is not known."""

    @property
    def period(self) -> str:
        """The frame's first column: month, quarter or financial_year."""
        return self.measure.period

    def points(self) -> tuple[list[date], list[float]]:
        """The periods with data and their values (each at its first day), gaps left out."""
        held = self.frame[(self.frame["status"] != NO_DATA) & self.frame[self.value].notna()]
        days = [period_start(str(p), self.period) for p in held[self.period]]
        return days, [float(v) for v in held[self.value]]

    def by_month(self) -> dict[str, float | None]:
        """Each period's value in the measure's unit; None for a period without data."""
        return {
            str(period): None if pd.isna(value) else float(value)
            for period, value in zip(self.frame[self.period], self.frame[self.value], strict=True)
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
    if isinstance(measure.source, SeriesSource):
        return _series_rows(store, measure.source, measure.period)
    if isinstance(measure.source, AdmissionsSource):
        return _admissions(store, measure.source)
    return _incidents(store, measure.source, measure.id)


def series_for(
    done: Counted, measure: Measure, name: str, districts: tuple[str, ...], store: Store
) -> Series:
    if isinstance(measure.source, SeriesSource):
        return _external(done, measure, name, districts, store)
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
    population, unknown_why = _population(store, districts, measure)
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
        notes.append(f"{unknown_why}: counts are given, not rates")
    value = "rate" if measure.unit == "rate" and population else "count"
    return Series(measure, name, districts, population, out, cov, tuple(notes), value)


def _population(
    store: Store, districts: tuple[str, ...], measure: Measure
) -> tuple[int | None, str]:
    """The area's residents a rate of the measure is per (those of its ages, if it has any),
    or None and why they are not known."""
    if not districts:
        return None, "the area's residents are not known (no districts set in svduty.toml)"
    ages = measure.ages
    if ages is None:
        known = district_populations(store)
        total = sum(known.get(d, 0) for d in districts)
        return (total, "") if total else (None, "svduty knows no residents of its districts")
    table = population_by_age(store)
    if table is None:
        return None, (
            f"the measure is about ages {ages[0]} to {ages[1]} and the workspace has no "
            "residents by age (the setting population_by_age in svduty.toml)"
        )
    residents, why = table.residents(districts, *ages)
    return (residents, "") if residents else (None, why or "no residents of those ages")


def population_by_age(store: Store) -> AgePopulation | None:
    """The residents by age the workspace's settings name, if any."""
    settings = load_settings(store.root)
    if not settings.population_by_age:
        return None
    path = store.root / settings.population_by_age
    if not path.exists():
        raise WorkspaceError(
            f"{store.root / SETTINGS_FILE}: population_by_age names {path}, which does not exist"
        )
    return _load_ages(path, path.stat().st_mtime_ns)


_AGES_CACHE: dict[tuple[Path, int], AgePopulation] = {}


def _load_ages(path: Path, stamp: int) -> AgePopulation:
    if (path, stamp) not in _AGES_CACHE:
        _AGES_CACHE[(path, stamp)] = load_population_by_age(path)
    return _AGES_CACHE[(path, stamp)]


def _series_rows(store: Store, source: SeriesSource, period: str) -> Counted:
    """The series' rows for one measure, the latest publication of each area and period."""
    v = store.table("measure_values")
    rows = v.filter(v.measure == source.measure).to_pandas()
    notes = []
    other = rows[rows["period_kind"] != period]
    if not other.empty:
        kinds = ", ".join(sorted(WORDS[k] + "s" for k in set(other["period_kind"])))
        notes.append(
            f"{len(other):,} row(s) of series {source.measure!r} give {kinds}, not the "
            f"measure's {WORDS[period]}s, and are not used"
        )
    rows = rows[rows["period_kind"] == period].copy()
    rows["_area"] = rows["area"].str.casefold()
    rows = rows.sort_values(["published", "batch_id", "source_line"])
    rows = rows.drop_duplicates(["_area", "period"], keep="last")
    frame = rows[["period", "area", "numerator", "denominator", "source"]].reset_index(drop=True)
    held = {str(p): frozenset({SERIES}) for p in sorted(set(frame["period"]))}
    return Counted(frame, Coverage((SERIES,) if held else (), held, period), tuple(notes))


def _external(
    done: Counted, measure: Measure, name: str, districts: tuple[str, ...], store: Store
) -> Series:
    """An external series for one area: its own rows, else its districts' rows summed."""
    assert isinstance(measure.source, SeriesSource)
    frame, kind = done.frame, measure.period
    notes = list(done.notes)
    values: dict[str, tuple[float, float | None]] = {}
    missing: dict[str, str] = {}
    own = frame[frame["area"].str.casefold() == name.casefold()]
    if not own.empty or not districts:
        for period, numerator, denominator in zip(
            own["period"], own["numerator"], own["denominator"], strict=True
        ):
            values[str(period)] = (float(numerator), _number(denominator))
    else:
        codes = {d.upper() for d in districts}
        mine = frame[frame["area"].str.upper().isin(codes)]
        for period, group in mine.groupby("period"):
            lacking = sorted(codes - set(group["area"].str.upper()))
            if lacking:
                missing[str(period)] = f"no figures for district(s) {', '.join(lacking)}"
                continue
            dens = group["denominator"]
            values[str(period)] = (
                float(group["numerator"].sum()),
                float(dens.sum()) if dens.notna().all() else None,
            )
    if done.frame.empty:
        notes.append(
            f"no rows of the series {measure.source.measure!r} are in the workspace (ingest "
            "them with `svduty ingest FILE --kind measure_series`)"
        )
    elif not values and not missing:
        notes.append(
            f"the series {measure.source.measure!r} has no rows for {name} or its districts"
        )
    unit = measure.unit
    population, unknown_why = (None, "")
    held = [values[p] for p in done.coverage.months if p in values]
    denominators = bool(held) and all(d is not None for _, d in held)
    if unit == "count" or (unit == "rate" and not denominators):
        # a count's residents too: a funnel plot compares areas per resident
        population, unknown_why = _population(store, districts, measure)
    rows = []
    for period in done.coverage.months:
        numerator, denominator = values.get(period, (None, None))
        figure = None
        if numerator is not None:
            if unit == "share" and denominator:
                figure = numerator / denominator * 100
            elif unit == "rate" and denominators and denominator:
                figure = numerator / denominator * measure.per
            elif unit == "rate" and population:
                figure = numerator / population * measure.per
        rows.append(
            {
                kind: period,
                "count": numerator,
                "denominator": denominator,
                **({unit: figure} if unit != "count" else {}),
                "status": FULL if numerator is not None else NO_DATA,
                "missing": "" if numerator is not None else missing.get(period, name),
            }
        )
    figures = ["count", "denominator", *([unit] if unit != "count" else [])]
    out = pd.DataFrame(rows, columns=[kind, *figures, "status", "missing"])
    for column in figures:
        out[column] = out[column].astype("Float64")
    value = "count"
    if unit == "share":
        value = "share"
        if any(d is None for _, d in held):
            notes.append("period(s) without a denominator have no share (None)")
    elif unit == "rate":
        if denominators:
            value = "rate"
            notes.append(f"rates per {measure.per:,} of the series' denominators")
        elif population:
            value = "rate"
            ages = measure.ages
            whom = f"residents aged {ages[0]} to {ages[1]}" if ages else "residents"
            notes.append(
                f"the series gives no denominator for every period: rates per {measure.per:,} "
                f"of {name}'s {whom} ({population:,})"
            )
        else:
            notes.append(
                f"the series gives no denominator for every period, and {unknown_why}: counts "
                "are given, not rates"
            )
    gaps = int((out["status"] == NO_DATA).sum())
    if gaps:
        notes.append(f"{gaps} {WORDS[kind]}(s) without data are gaps (None), not zeros")
    cov = Coverage(done.coverage.sources, {p: frozenset({SERIES}) for p in values}, kind)
    return Series(measure, name, districts, population, out, cov, tuple(notes), value)


def _number(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


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
