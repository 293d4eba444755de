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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from svduty.analysis.assessment import csp_districts
from svduty.analysis.coverage import Coverage
from svduty.analysis.population import AgePopulation, load_population_by_age
from svduty.analysis.where import district_populations
from svduty.definitions.classify import classification_input
from svduty.definitions.rules import all_of, any_of
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
    return framework_series(store, settings, [measure])[measure.id]


def framework_series(
    store: Store, settings: Settings, measures: Sequence[Measure]
) -> dict[str, dict[str, Series]]:
    """Every measure for the area and for each CSP, by measure id then area name. The measures
    are counted together (one pass over the incidents, one over the admissions) and the areas'
    residents are read once."""
    done = counted_all(store, measures)
    found = areas(store, settings)
    known = district_populations(store)
    return {
        m.id: {name: series_for(done[m.id], m, name, d, store, known) for name, d in found.items()}
        for m in measures
    }


def counted(store: Store, measure: Measure) -> Counted:
    return counted_all(store, [measure])[measure.id]


def counted_all(store: Store, measures: Sequence[Measure]) -> dict[str, Counted]:
    """Each measure's counts per period and district (external series: its rows), by id."""
    ids = [m.id for m in measures]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise InputError(
            f"measure id(s) {', '.join(twice)} given twice: count measures of one framework, "
            "or measures with different ids"
        )
    incidents = {m.id: m.source for m in measures if isinstance(m.source, IncidentsSource)}
    admissions = {m.id: m.source for m in measures if isinstance(m.source, AdmissionsSource)}
    found = {**_incidents(store, incidents), **_admissions(store, admissions)}
    for m in measures:
        if isinstance(m.source, SeriesSource):
            found[m.id] = _series_rows(store, m.source, m.period)
    return {i: found[i] for i in ids}


def series_for(
    done: Counted,
    measure: Measure,
    name: str,
    districts: tuple[str, ...],
    store: Store,
    populations: dict[str, int] | None = None,
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
    population, unknown_why = _population(store, districts, measure, populations)
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
    store: Store,
    districts: tuple[str, ...],
    measure: Measure,
    known: dict[str, int] | None = None,
) -> tuple[int | None, str]:
    """The area's residents a rate of the measure is per (those of its ages, if it has any),
    or None and why they are not known. `known` (residents per district) saves reading them
    again for each measure and area."""
    if not districts:
        return None, "the area's residents are not known (no districts set in svduty.toml)"
    ages = measure.ages
    if ages is None:
        known = district_populations(store) if known is None else known
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


def _incidents(store: Store, sources: dict[str, IncidentsSource]) -> dict[str, Counted]:
    """Every incident measure in one query: each measure's selection is a column, and one group
    by source, month and district gives, per measure, its hits and the records it can assess."""
    if not sources:
        return {}
    t = classification_input(store, [source.selection(i) for i, source in sources.items()])
    # 1 in, 0 out, NULL where the data cannot say
    flags = {
        f"_m{n}": _selected(source, t).cast("int8") for n, source in enumerate(sources.values())
    }
    t = t.mutate(**flags)
    places = store.table("areas").select(_lsoa="lsoa_code", _district="la_code")
    placed = t.left_join(places, t.lsoa_code == places._lsoa)
    metrics = {}
    for flag in flags:
        metrics[f"{flag}_hits"] = placed[flag].cast("int64").sum()
        metrics[f"{flag}_known"] = placed[flag].count()
    grouped = (
        placed.group_by(
            _kind=placed.source_kind,
            _force=placed.force,
            month=placed.month,
            district=placed._district,
        )
        .aggregate(**metrics)
        .to_pandas()
    )
    grouped["month"] = _months(grouped["month"])
    grouped["_kind"] = grouped["_kind"].astype(str)
    grouped["_force"] = [f if isinstance(f, str) else "" for f in grouped["_force"]]
    found = {}
    for flag, measure_id in zip(flags, sources, strict=True):
        known = grouped.groupby(["_kind", "_force"])[f"{flag}_known"].sum()
        counted_sources = tuple(sorted(k for k, n in known.items() if n > 0))
        hits = grouped[grouped[f"{flag}_hits"] > 0]
        frame = (
            hits.groupby(["month", "district"], dropna=False)[f"{flag}_hits"]
            .sum()
            .reset_index()
            .rename(columns={f"{flag}_hits": "count"})
        )
        found[measure_id] = Counted(_tidy(frame), _coverage(counted_sources, grouped))
    return found


def _selected(source: IncidentsSource, t: ir.Table) -> ir.BooleanValue:
    """The measure's selection written as its definition (any clause) and then every `where`
    rule: true, false and unknown exactly where its selection's clauses, each with the rules
    added, are (AND distributes over OR in SQL's logic of unknowns too), and a definition that
    several measures share is one expression, which the engine evaluates once per record."""
    parts = [rule.expr(t) for rule in source.where]
    if source.definition is not None:
        parts.insert(0, any_of([c.expr(t) for c in source.definition.clauses]))
    return all_of(parts)


def _coverage(sources: tuple[tuple[str, str], ...], present: pd.DataFrame) -> Coverage:
    held: dict[str, set[tuple[str, str]]] = {}
    for kind, force, month in zip(
        present["_kind"], present["_force"], present["month"], strict=True
    ):
        source = (str(kind), force if isinstance(force, str) else "")
        if source in sources and isinstance(month, str):
            held.setdefault(month, set()).add(source)
    return Coverage(sources, {m: frozenset(s) for m, s in sorted(held.items())})


def _months(dates: pd.Series) -> pd.Series:
    """Dates as YYYY-MM months (None for none), formatted once per group rather than once per
    record."""
    return pd.Series(
        [None if pd.isna(d) else f"{d.year:04d}-{d.month:02d}" for d in dates],
        index=dates.index,
        dtype=object,
    )


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.dropna(subset=["month"]).copy()
    frame["district"] = frame["district"].astype(object).where(frame["district"].notna(), None)
    frame["count"] = frame["count"].fillna(0).astype("int64")
    # the engine groups in no fixed order: sorted, the same counts are the same frame
    order = frame.assign(_d=frame["district"].fillna("")).sort_values(["month", "_d"]).index
    return frame.loc[order, ["month", "district", "count"]].reset_index(drop=True)


def _admissions(store: Store, sources: dict[str, AdmissionsSource]) -> dict[str, Counted]:
    """Every admissions measure in one query: a sum of admissions per measure, by month and
    district."""
    if not sources:
        return {}
    a = store.table("admissions")
    cause = a.cause_code.upper().replace(".", "").strip()
    bands = pd.DataFrame(columns=["cause", "age_band"])
    if any(source.ages for source in sources.values()):
        bands = a.select(cause=cause, age_band=a.age_band).distinct().to_pandas().dropna()
    sums = {}
    for n, source in enumerate(sources.values()):
        flag = any_of([cause.startswith(code) for code in source.causes])
        if source.ages:
            # the bands the measure's causes are recorded in: only those must fit its ages
            recorded = sorted(
                {
                    str(band)
                    for code, band in zip(bands["cause"], bands["age_band"], strict=True)
                    if str(code).startswith(source.causes)
                }
            )
            wanted = [b for b in recorded if _band_within(b, source)]
            flag = flag & a.age_band.isin(wanted) if wanted else ibis.literal(False)
        sums[f"_m{n}"] = ibis.ifelse(flag.fill_null(False), a["count"], 0)
    t = a.mutate(**sums)
    places = store.table("areas").select("la_code").distinct()
    placed = t.left_join(places, t.area_code == places.la_code)
    grouped = (
        placed.group_by(month=placed.month, district=placed.la_code)
        .aggregate(**{name: placed[name].sum() for name in sums})
        .to_pandas()
    )
    grouped["month"] = _months(grouped["month"])
    months = grouped["month"].dropna()
    held = {str(m): frozenset({ADMISSIONS}) for m in sorted(set(months))}
    coverage = Coverage((ADMISSIONS,) if held else (), held)
    found = {}
    for name, measure_id in zip(sums, sources, strict=True):
        frame = grouped[grouped[name].fillna(0) > 0].rename(columns={name: "count"})
        found[measure_id] = Counted(_tidy(frame), coverage)
    return found


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


@dataclass(frozen=True)
class Events:
    """A measure's events in one area, by the day they happened, for a t- or g-chart; and how
    many of its records say only their month (they cannot be placed between the others)."""

    dates: list[date]
    month_only: int


def measure_events(
    store: Store, settings: Settings, measure: Measure, csp: str | None = None
) -> Events:
    """The days a rare measure's incidents happened in the partnership's area or one CSP
    (admissions are counted by month, so they have no days between them)."""
    if not isinstance(measure.source, IncidentsSource):
        held = "admissions, held by month" if measure.period == "month" else "a published series"
        raise InputError(
            f"{measure.id} counts {held}: a t- or g-chart needs the day of each event; chart "
            "it with --chart xmr"
        )
    found = areas(store, settings)
    if csp is not None and csp not in found:
        known = ", ".join(settings.csps) or "none are set in svduty.toml"
        raise InputError(f"no CSP {csp!r} in this partnership; its CSPs: {known}")
    districts = found[csp] if csp is not None else next(iter(found.values()))
    t = classification_input(store, [measure.source.selection(measure.id)])
    t = t.filter(_selected(measure.source, t).fill_null(False))
    if districts:
        places = store.table("areas").select(_lsoa="lsoa_code", _district="la_code")
        t = t.left_join(places, t.lsoa_code == places._lsoa)
        t = t.filter(t._district.isin(list(districts)))
    day = t.date_precision.isin(["day", "minute"]) & t.occurred_from.notnull()
    rows = t.select(day=t.occurred_from.date(), exact=day).to_pandas()
    exact = rows[rows["exact"].astype(bool)]
    return Events(sorted(pd.to_datetime(exact["day"]).dt.date), int((~rows["exact"]).sum()))
