"""The assessment: every analysis of the Strategic Needs Assessment for one selection, run once,
returned as results with their provenance. Nothing here draws or publishes; the publishing step
turns these results into controlled tables and the renderers draw those."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from svduty import __version__
from svduty.analysis.aggregates import AggregateCounts, aggregate_counts, aggregate_trend
from svduty.analysis.benchmarks import Benchmarks, Groups, benchmarks
from svduty.analysis.concentration import concentration, concentration_from, per_place
from svduty.analysis.coverage import Coverage, coverage
from svduty.analysis.health import health
from svduty.analysis.need import empty_need, need_counts, with_change
from svduty.analysis.records import records_analysed
from svduty.analysis.severity import Weights, breakdown, breakdowns_by_csp
from svduty.analysis.stats import compare_counts
from svduty.analysis.themes import themes, themes_by_csp
from svduty.analysis.trends import trend, trends_by_csp
from svduty.analysis.when import when, when_by_csp
from svduty.analysis.where import (
    POPULATION_NOTE,
    by_deprivation,
    deprivation_from,
    populations,
    rates,
    residents_by_lsoa,
    with_rates,
)
from svduty.analysis.who import who, who_by_csp
from svduty.counting import Filter, counts
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.errors import InputError
from svduty.quality import area_districts, quality
from svduty.reference.boundaries import Boundaries
from svduty.settings import Settings

REPORT_LSOA_VINTAGE = 2021
"""Every LSOA figure of a report (rates, deprivation, concentration, LSOA hotspots) is on 2021
LSOAs: the vintage data.police.uk and the population and IMD 2025 tables use."""


@dataclass(frozen=True)
class Selection:
    """What one assessment looks at: a definition, a period, an area (the whole partnership,
    one CSP, or one district of a CSP: `district` its code, `csp` its CSP) and any further
    filters. Built once per run; its key names it in caches."""

    definition: Definition
    start: str | None = None  # YYYY-MM
    end: str | None = None
    csp: str | None = None
    filters: tuple[Filter, ...] = ()
    district: str | None = None  # a district's code (E07000235); its CSP is `csp`

    @property
    def period_filters(self) -> list[Filter]:
        from svduty.counting import period_filters

        return period_filters(self.start, self.end)

    @property
    def all_filters(self) -> list[Filter]:
        area = [Filter("csp", self.csp)] if self.csp else []
        if self.district:
            area.append(Filter("district", self.district))
        return [*self.period_filters, *area, *self.filters]

    def for_area(self, csp: str | None) -> Selection:
        return Selection(self.definition, self.start, self.end, csp, self.filters)

    def for_district(self, district: str, csp: str) -> Selection:
        """One district (by code) of the CSP `csp`."""
        return Selection(self.definition, self.start, self.end, csp, self.filters, district)

    @property
    def requested(self) -> str:
        return ", ".join(str(f) for f in self.period_filters) or "all months held"

    @property
    def key(self) -> str:
        text = json.dumps(
            [
                self.definition.id,
                self.definition.version,
                self.definition.sha256,
                self.start,
                self.end,
                self.csp,
                [str(f) for f in self.filters],
                *([self.district] if self.district else []),
            ]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Provenance:
    """Where a result comes from, so any figure walks back to its rows."""

    definition: dict[str, str]
    period: str
    area: str
    engine: str
    parameters: dict[str, Any]
    data_version: str
    batch_ids: tuple[int, ...]
    partnership: str = ""  # the workspace's area, of which `area` may be one CSP
    svduty: str = __version__

    def as_dict(self) -> dict[str, Any]:
        return {
            "definition": self.definition,
            "period": self.period,
            "area": self.area,
            "engine": self.engine,
            "parameters": self.parameters,
            "data_version": self.data_version,
            "batch_ids": list(self.batch_ids),
            "partnership": self.partnership,
            "svduty": self.svduty,
        }


@dataclass
class Assessment:
    """Every result of one selection. `records` is False for a workspace holding only the Home
    Office tables, whose results are in `aggregate`."""

    selection: Selection
    area: str
    records: bool
    provenance: Provenance
    results: dict[str, Any] = field(default_factory=dict)


def batch_ids(store: Store) -> tuple[int, ...]:
    rows = store.catalogue.execute("SELECT batch_id FROM batches ORDER BY 1").fetchall()
    return tuple(int(r[0]) for r in rows)


def data_version(ids: tuple[int, ...], settings: Settings) -> str:
    text = json.dumps([list(ids), sorted(settings.csps.items()), settings.forces])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def assess(
    store: Store,
    settings: Settings,
    selection: Selection,
    weights: Weights | None = None,
    groups: Groups | None = None,
) -> Assessment:
    """Run every analysis of the assessment for `selection`; `groups` names the most similar
    groups the benchmarks compare with."""
    if selection.csp and settings.csps and selection.csp not in settings.csps:
        raise InputError(
            f"area: no CSP {selection.csp!r} in this workspace; its CSPs: "
            f"{', '.join(settings.csps)}"
        )
    named = district_name(store, settings, selection) if selection.district else None
    records = int(store.table("incidents").count().to_pandas()) > 0
    aggregates = int(store.table("offence_counts").count().to_pandas()) > 0
    if not records and not aggregates:
        raise InputError("the workspace holds no crime records and no Home Office tables")
    ids = batch_ids(store)
    definition = selection.definition
    provenance = Provenance(
        {"id": definition.id, "version": str(definition.version), "sha256": definition.sha256},
        selection.requested,
        named or selection.csp or settings.area or "workspace",
        store.name,
        {"weights": None if weights is None else weights.source, "near_repeat_seed": 1},
        data_version(ids, settings),
        ids,
        settings.area or "",
    )
    # a district's report is known by its code: its name may be its CSP's too
    found = Assessment(selection, selection.district or provenance.area, records, provenance)
    found.results["sources"] = _sources(store, settings)
    found.results["weights"] = weights
    found.results["benchmarks"] = (
        Benchmarks(provenance.area, DISTRICT_BENCHMARKS)
        if selection.district
        else benchmarks(
            store, settings, definition, selection.csp, groups, (selection.start, selection.end)
        )
    )
    if selection.district and not records:
        raise InputError(
            "area: a district's figures need crime records; the workspace holds only the Home "
            "Office tables, which are by force or CSP"
        )
    if records:
        _assess_records(found, store, settings, weights)
    else:
        _assess_aggregates(found, store, settings, weights)
    return found


def _sources(store: Store, settings: Settings) -> dict[str, Any]:
    report = quality(store, settings)
    synthetic = int(report.incidents["synthetic"].sum()) if len(report.incidents) else 0
    batches = (
        store.catalogue.sql(
            "SELECT source_kind, count(*) AS batches, sum(rows_accepted) AS rows, "
            "sum(rows_rejected) AS rejected, bool_or(synthetic) AS synthetic FROM batches "
            "GROUP BY 1 ORDER BY 1"
        )
        .df()
        .astype({"rows": "int64", "rejected": "int64"})
    )
    return {"batches": batches, "gaps": report.gaps, "synthetic": synthetic}


DISTRICT_BENCHMARKS = (
    "the Home Office tables are by force or CSP, not district, so a district is not compared "
    "with England and Wales or a most similar group: see its CSP's page"
)


def district_name(store: Store, settings: Settings, selection: Selection) -> str:
    """The name of the selection's district, checked to be one of its CSP's."""
    code, csp = selection.district, selection.csp
    mine = csp_districts(store, settings, csp).get(csp or "", ()) if settings.csps else ()
    if not code or code not in mine:
        allowed = ", ".join(mine) or "none"
        raise InputError(f"area: {code!r} is not a district of the CSP {csp!r}; its districts: "
                         f"{allowed}")  # fmt: skip
    return district_names(store, (code,)).get(code, code)


def district_names(store: Store, codes: tuple[str, ...]) -> dict[str, str]:
    """Each district's current name (that of its 2021 LSOAs where it has any), by code."""
    areas = store.table("areas")
    frame = (
        areas.filter(areas.la_code.isin(list(codes)))
        .select("la_code", "la_name", "in_2021")
        .to_pandas()
        .sort_values("in_2021", ascending=False, na_position="last")
        .drop_duplicates("la_code")
    )
    return dict(zip(frame["la_code"], frame["la_name"], strict=True))


def _districts(
    store: Store, settings: Settings, csp: str | None, district: str | None = None
) -> tuple[str, ...]:
    """District codes of the area being reported: one district, one CSP's, or the
    partnership's."""
    if district is not None:
        return (district,)
    if csp is None:
        return area_districts(store, settings)
    areas = store.table("areas")
    frame = areas.filter(areas.csp_name == csp).select("la_code").distinct().to_pandas()
    return tuple(sorted(frame["la_code"].dropna()))


def _assess_records(
    found: Assessment, store: Store, settings: Settings, weights: Weights | None
) -> None:
    selection, r = found.selection, found.results
    definition, filters = selection.definition, selection.all_filters
    districts = _districts(store, settings, selection.csp, selection.district)
    r["districts"] = districts
    if selection.district:  # the district's own records: those placed in its LSOAs
        split = records_analysed(
            store,
            definition,
            [*selection.for_area(None).all_filters, Filter("district", selection.district)],
            districts,
            [],
        )
        r["records"] = split[None]
    else:
        split = records_analysed(
            store,
            definition,
            selection.for_area(None).all_filters,
            area_districts(store, settings),
            [selection.csp] if selection.csp else list(settings.csps),
        )
        r["records"] = split[selection.csp]
    r["records_by_csp"] = split
    # the area aside: a force's files cover all its CSPs, so each CSP has the area's coverage
    cover = coverage(store, definition, selection.for_area(None).all_filters)
    if not cover.with_data and selection.period_filters:
        held = coverage(store, definition, list(selection.filters)).with_data
        span = f"{min(held)} to {max(held)}" if held else "no month"
        raise InputError(
            f"period: no data from {selection.start or 'the first month'} to "
            f"{selection.end or 'the last month'}; the workspace holds {span}: choose months "
            "in it"
        )
    months = len(cover.with_data)
    r["coverage"] = cover
    r["trend"] = trend(store, definition, filters, cover=cover)
    csp_rates = rates(
        store, "csp", definition, selection.for_area(None).all_filters, months=months
    ).frame
    own = csp_rates[csp_rates["area"].isin(list(settings.csps) or csp_rates["area"])]
    if selection.csp:
        r["area_rate"] = area_rate(own, _area_name(settings), months)
        own = own[own["area"] == selection.csp].drop(columns="share")
    r["csp_rates"] = own.reset_index(drop=True)
    r["population_note"] = POPULATION_NOTE
    # a district's report shows its CSP's row to compare with, not a change of its own there
    r["csp_change"] = (
        None
        if selection.district
        else csp_change(store, definition, filters, r["trend"].change_periods, own)
    )
    need = need_counts(store, definition, filters, r["trend"].change_periods or (), weights)
    r["need"] = with_change(need.whole, need.years)
    r["need_by_csp"] = {k: with_change(v, need.years) for k, v in need.by_area.items()}
    areas = store.table("areas")
    names = (
        areas.filter(areas.la_code.isin(list(districts)))
        .select("la_name", "csp_name")
        .distinct()
        .to_pandas()
    )
    la = rates(store, "la", definition, filters, months=months).frame
    la = la[la["area"].isin(list(names["la_name"]))].merge(
        names.rename(columns={"la_name": "area", "csp_name": "csp"}), on="area", how="left"
    )
    r["district_rates"] = _shares(la) if selection.district else la.reset_index(drop=True)
    r["deprivation"] = by_deprivation(store, districts, definition, filters, months).frame.astype(
        {"count": "int64", "population": "int64"}
    )
    r["when"] = when(store, definition, filters)
    r["what"] = breakdown(store, definition, filters, weights)
    r["who"] = who(store, definition, filters)
    r["themes"] = themes(store, definition, filters)
    lsoas = (
        areas.filter(areas.la_code.isin(list(districts)) & areas.in_2021)
        .select("lsoa_code")
        .to_pandas()["lsoa_code"]
    )
    r["concentration"] = concentration(store, list(lsoas), definition, filters)
    r["health"] = health(
        store,
        definition,
        [*selection.period_filters, *selection.filters],
        None if selection.csp is None else (found.provenance.area, _places(store, districts)),
    )
    # a district's residents are its own, never its CSP's
    rated = r["district_rates"] if selection.district else own
    r["residents"] = int(rated["population"].sum()) if len(rated) else 0


def _area_name(settings: Settings) -> str:
    return settings.area or "the whole area"


def area_rate(csps: pd.DataFrame, area: str, months: int) -> pd.DataFrame:
    """The whole area's rate, from its CSPs' counts and residents: what a CSP's rate is read
    against in the CSP's own report."""
    total = {"count": int(csps["count"].sum()), "population": int(csps["population"].sum())}
    return with_rates(pd.DataFrame([{"area": area, **total}]), months)


def _places(store: Store, districts: tuple[str, ...]) -> tuple[str, ...]:
    """The district codes given and the codes of their LSOAs (either vintage): what a health
    record's area of residence may be given as."""
    areas = store.table("areas")
    lsoas = areas.filter(areas.la_code.isin(list(districts))).select("lsoa_code").to_pandas()
    return tuple(sorted({*districts, *lsoas["lsoa_code"].dropna()}))


def csp_change(
    store: Store,
    definition: Definition,
    filters: list[Filter],
    periods: tuple[str, str] | None,
    csps: pd.DataFrame,
) -> pd.DataFrame | None:
    """Each CSP's last two complete financial years, compared by the exact test."""
    if not periods:
        return None
    first, second = periods
    found = counts(store, "incidents", ["csp", "financial_year"], filters, definition).frame
    rows = []
    for csp in csps["area"]:
        mine = found[found["csp"] == csp].set_index("financial_year")["count"]
        a, b = int(mine.get(first, 0)), int(mine.get(second, 0))
        change = compare_counts(a, b)
        rows.append(
            {
                "area": csp,
                first: a,
                second: b,
                "ratio": None if change.ratio is None else round(change.ratio, 3),
                "p_value": None if change.p_value is None else round(change.p_value, 4),
                "verdict": change.verdict,
            }
        )
    return pd.DataFrame(rows)


def csp_districts(store: Store, settings: Settings, csp: str | None) -> dict[str, tuple[str, ...]]:
    """District codes of each CSP of the reported area (one CSP, or all the partnership's; an
    area with forces but no CSPs is one group named after the area)."""
    if not settings.csps:
        districts = area_districts(store, settings)
        return {settings.area or "area": districts} if districts else {}
    areas = store.table("areas")
    wanted = [csp] if csp else list(settings.csps)
    frame = (
        areas.filter(areas.csp_name.isin(wanted))
        .select("csp_name", "la_code")
        .distinct()
        .to_pandas()
        .dropna()
    )
    grouped = frame.groupby("csp_name")["la_code"]
    return {
        name: tuple(sorted(grouped.get_group(name))) for name in wanted if name in grouped.groups
    }


def _district_label(store: Store, selection: Selection) -> str:
    """A district's name, else its code."""
    code = selection.district or ""
    return district_names(store, (code,)).get(code, code)


def lsoa_vintage_reason(boundaries: Boundaries | None) -> str | None:
    """Why the report has no LSOA hotspots, if it has none: its LSOAs are 2021 (the vintage of
    the rates, deprivation and concentration), so only 2021 polygons may be tested and drawn."""
    fix = (
        "set `boundaries` in svduty.toml to a GeoJSON of the area's 2021 LSOAs, or run `svduty "
        "fetch boundaries`"
    )
    if boundaries is None:
        return f"no LSOA boundaries are set for this area: {fix}"
    if boundaries.lsoas is None:
        return f"the boundaries ({boundaries.source}) are district outlines, not LSOAs: {fix}"
    if boundaries.vintage != REPORT_LSOA_VINTAGE:
        return (
            f"the LSOA polygons available ({boundaries.source}) are {boundaries.vintage} LSOAs, "
            f"and this report counts {REPORT_LSOA_VINTAGE} LSOAs throughout: {fix}"
        )
    return None


def assess_places(
    store: Store,
    settings: Settings,
    selection: Selection,
    weights: Weights | None = None,
    boundaries: Boundaries | None = None,
) -> dict[str, Any]:
    """Hotspots (grid, harm, LSOA, over time) and near repeats for one area; each may be
    impossible on the data held, which is a result too (the reason is kept). Kept apart from
    `assess` because only the report being drawn needs them: they show classes of cells, not
    counts, so they need no joint control with the other reports of a set. Cells are tested
    inside the area's outline; without boundaries, the grid covers the incidents placed in the
    area's LSOAs, and the maps say there are no boundaries."""
    from svduty.spatial.areas import area_hotspots
    from svduty.spatial.emerging import emerging_hotspots
    from svduty.spatial.hotspots import hotspots, near_repeat
    from svduty.spatial.maps import outlines

    r: dict[str, Any] = {}
    definition, filters = selection.definition, selection.all_filters
    groups: dict[str, tuple[str, ...]] = (
        {_district_label(store, selection): (selection.district,)}
        if selection.district
        else csp_districts(store, settings, selection.csp)
    )
    districts = {code for codes in groups.values() for code in codes}
    drawn = outlines(boundaries, groups)
    r["outlines"] = drawn
    within = drawn.area if drawn is not None else None
    areas = store.table("areas")
    placed = (
        None
        if drawn is not None
        else list(
            areas.filter(areas.la_code.isin(list(districts)))
            .select("lsoa_code")
            .to_pandas()["lsoa_code"]
        )
    )

    def attempt(name: str, run: Any) -> None:
        try:
            r[name] = run()
        except InputError as error:
            r[name] = error

    attempt("hotspots", lambda: hotspots(store, definition, filters, within=within, lsoas=placed))
    if weights:
        attempt(
            "harm_hotspots",
            lambda: hotspots(
                store, definition, filters, weights=weights, within=within, lsoas=placed
            ),
        )
    reason = lsoa_vintage_reason(boundaries)
    polygons = boundaries.lsoas if boundaries is not None else None
    if reason is not None or polygons is None:
        r["lsoa_hotspots"] = InputError(str(reason))
    else:
        mine = polygons.within(districts)
        attempt("lsoa_hotspots", lambda: area_hotspots(store, mine, definition, filters))
    r["lsoa_names"] = _lsoa_names(store)
    attempt(
        "emerging",
        lambda: emerging_hotspots(store, definition, filters, within=within, lsoas=placed),
    )
    attempt(
        "near_repeat",
        lambda: near_repeat(
            store,
            definition,
            [*filters, Filter("source_kind", "police_extract")],
            simulations=99,
            seed=1,
        ),
    )
    return r


def _assess_aggregates(
    found: Assessment, store: Store, settings: Settings, weights: Weights | None
) -> None:
    selection, r = found.selection, found.results
    counted = aggregate_counts(store, selection.definition, selection.all_filters)
    if settings.forces:
        frame = counted.frame[counted.frame["force"].isin(settings.forces)]
        counted = AggregateCounts(
            frame, counted.clauses, counted.unassessable, counted.definition, counted.engine
        )
    r["aggregate"] = counted
    r["aggregate_trend"] = aggregate_trend(counted)
    frame = counted.frame
    level = "csp" if frame["csp"].notna().any() else "force"
    per = frame.groupby(level)["count"].sum().rename_axis("area").reset_index()
    quarters = len(frame[["financial_year", "financial_quarter"]].drop_duplicates())
    rated = with_rates(per.merge(populations(store, level), on="area", how="left"), 3 * quarters)
    r["rate_months"] = 3 * quarters
    r["aggregate_level"] = level
    r["aggregate_rates"] = rated.sort_values("rate", ascending=False).reset_index(drop=True)


def assess_set(
    store: Store,
    settings: Settings,
    selection: Selection,
    weights: Weights | None = None,
    groups: Groups | None = None,
) -> list[Assessment]:
    """The whole area's assessment and each CSP's, as `assess` would give them one by one, but
    from one pass per analysis split by CSP (a set is what gets published together). Districts
    are no part of it: a district's assessment is `assess` for that district alone, made only
    when an analyst asks for it."""
    whole = assess(store, settings, selection.for_area(None), weights, groups)
    if not whole.records or not settings.csps:
        return [whole]
    definition, filters = selection.definition, selection.for_area(None).all_filters
    cover: Coverage = whole.results["coverage"]
    split: dict[str, dict[str, Any]] = {
        "trend": trends_by_csp(store, definition, filters, cover=cover),
        "when": when_by_csp(store, definition, filters),
        "what": breakdowns_by_csp(store, definition, filters, weights),
        "who": who_by_csp(store, definition, filters),
        "themes": themes_by_csp(store, definition, filters),
    }
    areas = store.table("areas").select("lsoa_code", "la_code", "csp_name", "in_2021").to_pandas()
    residents = residents_by_lsoa(store, whole.results["districts"])
    per_lsoa = counts(store, "incidents", ["lsoa"], filters, definition).frame
    in_area = areas[areas["la_code"].isin(list(whole.results["districts"])) & areas["in_2021"]]
    places = per_place(store, list(in_area["lsoa_code"]), definition, filters)
    out = [whole]
    for csp in settings.csps:
        one = selection.for_area(csp)
        found = Assessment(one, csp, True, replace(whole.provenance, area=csp))
        r = found.results
        mine = areas[areas["csp_name"] == csp]
        r["districts"] = tuple(sorted(mine["la_code"].dropna().unique()))
        for key in ("sources", "weights", "population_note", "coverage"):
            r[key] = whole.results[key]
        r["health"] = health(
            store,
            definition,
            [*selection.period_filters, *selection.filters],
            (csp, _places(store, r["districts"])),
        )
        r["records"] = whole.results["records_by_csp"][csp]
        r["benchmarks"] = benchmarks(
            store, settings, definition, csp, groups, (selection.start, selection.end)
        )
        for key, by_csp in split.items():
            r[key] = by_csp.get(csp) or _alone(
                key, store, definition, one.all_filters, weights, cover
            )
        own = whole.results["csp_rates"]
        r["area_rate"] = area_rate(own, _area_name(settings), len(cover.with_data))
        r["csp_rates"] = own[own["area"] == csp].drop(columns="share").reset_index(drop=True)
        change = whole.results["csp_change"]
        r["csp_change"] = None if change is None else change[change["area"] == csp]
        districts = whole.results["district_rates"]
        r["district_rates"] = _shares(districts[districts["csp"] == csp])
        r["deprivation"] = deprivation_from(
            residents[residents["la_code"].isin(list(r["districts"]))],
            per_lsoa,
            definition,
            store.name,
            len(cover.with_data),
        ).frame.astype({"count": "int64", "population": "int64"})
        lsoas = list(mine.loc[mine["in_2021"], "lsoa_code"])
        r["concentration"] = concentration_from(places, lsoas, definition, store.name)
        r["residents"] = int(r["csp_rates"]["population"].sum())
        r["need"] = whole.results["need_by_csp"].get(csp, empty_need(whole.results["need"]))
        out.append(found)
    return out


def _shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Rates of one CSP's rows, each row's share now of that CSP's total."""
    frame = frame.reset_index(drop=True).copy()
    total = frame["count"].sum()
    frame["share"] = frame["count"] / total if total else 0.0
    return frame


def _alone(
    key: str,
    store: Store,
    definition: Definition,
    filters: list[Filter],
    weights: Any,
    cover: Coverage,
) -> Any:
    """One analysis for one CSP on its own (a CSP with no incident in the split)."""
    run = {
        "trend": lambda: trend(store, definition, filters, cover=cover),
        "when": lambda: when(store, definition, filters),
        "what": lambda: breakdown(store, definition, filters, weights),
        "who": lambda: who(store, definition, filters),
        "themes": lambda: themes(store, definition, filters),
    }
    return run[key]()


def _lsoa_names(store: Store) -> pd.DataFrame:
    """Each LSOA's name, ward (2021 LSOAs) and its district's current name (an LSOA of 2011 only
    carries the name its district had then, e.g. "Telford and Wrekin UA")."""
    areas = store.table("areas").select(
        "lsoa_code", "lsoa_name", "ward_name", "la_code", "la_name", "in_2021"
    )
    names = areas.to_pandas().drop_duplicates("lsoa_code")
    current = names[names["in_2021"].fillna(False).astype(bool)].drop_duplicates("la_code")
    renamed = names["la_code"].map(current.set_index("la_code")["la_name"])
    return names.assign(la_name=renamed.fillna(names["la_name"]))[
        ["lsoa_code", "lsoa_name", "ward_name", "la_name"]
    ]
