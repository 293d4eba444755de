"""The sections of an assessment built from records: each runs its analysis, publishes its tables
through disclosure control and returns the section's HTML. Analyses never draw; sections do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from markupsafe import escape

from svduty.analysis.concentration import concentration
from svduty.analysis.health import health
from svduty.analysis.severity import Weights, breakdown
from svduty.analysis.stats import compare_counts
from svduty.analysis.themes import themes
from svduty.analysis.trends import trend
from svduty.analysis.when import when
from svduty.analysis.where import by_deprivation, rates
from svduty.analysis.who import who
from svduty.counting import Filter, counts
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.errors import InputError
from svduty.report.charts import bar_chart, heatmap, line_chart, lines_chart
from svduty.report.published import Published, html_table, records
from svduty.settings import Settings

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Context:
    """What every section needs, and what sections leave for the key findings."""

    store: Store
    settings: Settings
    definition: Definition
    filters: list[Filter]
    pub: Published
    districts: tuple[str, ...]
    weights: Weights | None = None
    csp: str | None = None
    period: str = ""
    results: dict[str, Any] = field(default_factory=dict)


def with_gaps(values: Any) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def trends_section(ctx: Context) -> str:
    pub, definition = ctx.pub, ctx.definition
    t = trend(ctx.store, definition, ctx.filters)
    ctx.results["trend"] = t
    monthly = pub.table("trends", "monthly", t.monthly, ["count"])
    ctx.period = (
        f"{t.monthly['month'].iloc[0]} to {t.monthly['month'].iloc[-1]}"
        if len(t.monthly)
        else "no records"
    )
    html = [
        line_chart(
            list(monthly["month"]),
            with_gaps(monthly["count"]),
            f"Incidents a month: {definition.id}, {ctx.period}",
        )
    ]
    if len(t.rolling):
        # from the published months, so a rolling total never reveals a hidden month by
        # differencing: a window with a hidden month is hidden
        shown = pd.Series(with_gaps(monthly["count"])).rolling(12).sum().iloc[11:]
        rolling = pd.DataFrame(
            {"month": list(monthly["month"])[11:], "rolling_12_months": shown.to_numpy()}
        )
        pub.figure("trends", "rolling_12_months", records(rolling))
        html.append(
            line_chart(
                list(rolling["month"]),
                with_gaps(rolling["rolling_12_months"]),
                f"Rolling 12-month total: {definition.id}",
            )
        )
    years = pub.table("trends", "financial_years", t.financial_years, ["count"])
    html.append("<h3>Financial years (April to March)</h3>" + str(html_table(years)))
    change_text = "Fewer than two complete financial years: no year-on-year comparison."
    if t.change is not None and t.change_periods:
        a, b = t.change_periods
        change_text = f"{b} against {a}: {change_words(t.change)}."
    pub.figure("trends", "change", change_text)
    html.append(f"<p>{escape(change_text)}</p>")
    if len(t.monthly) >= 24:
        season = t.seasonality.assign(month=[MONTH_NAMES[m - 1] for m in t.seasonality["month"]])
        pub.figure("trends", "seasonality", records(season.round(3)))
        html.append(
            bar_chart(
                list(season["month"]),
                list(season["index"]),
                "Seasonality: each calendar month's mean against all months' mean (1 = average)",
                unit="Seasonal index",
            )
        )
    else:
        html.append(
            f"<p class='note'>Seasonality needs at least two years of months; "
            f"{len(t.monthly)} are held.</p>"
        )
    return "".join(html)


def change_words(change: Any) -> str:
    words = change.verdict
    if change.ratio:
        words += (
            f" (rate ratio {change.ratio:.2f}, 95% interval {change.low:.2f} to "
            f"{change.high:.2f}, exact test p = {change.p_value:.3g})"
        )
    return words


def where_section(ctx: Context) -> str:
    pub, settings = ctx.pub, ctx.settings
    csp_rates = rates(ctx.store, "csp", ctx.definition, ctx.filters)
    own = csp_rates.frame[
        csp_rates.frame["area"].isin(list(settings.csps) or csp_rates.frame["area"])
    ]
    ctx.results["csp_rates"] = own
    derived = {"rate": "count", "low": "count", "high": "count", "share": "count"}
    shown = pub.table("where", "csp_rates", own.round(3), ["count"], derived)
    html = ["<h3>Rate per 1,000 residents by Community Safety Partnership</h3>"]
    html.append(str(html_table(shown)))
    html.append(
        f"<p class='note'>{escape(csp_rates.population_note)} Intervals are exact "
        "95% Poisson intervals.</p>"
    )
    change = _csp_change(ctx, list(own["area"]))
    if change is not None:
        ctx.results["csp_change"] = change
        shown_change = pub.table(
            "where", "csp_change", change, ["first", "second"], {"ratio": "first"}
        )
        html.append("<h3>Change by CSP between the last two complete financial years</h3>")
        html.append(str(html_table(shown_change)))
    la_rates = rates(ctx.store, "la", ctx.definition, ctx.filters).frame
    la_own = la_rates[la_rates["area"].isin(_district_names(ctx))]
    shown_la = pub.table("where", "district_rates", la_own.round(3), ["count"], derived)
    html.append("<h3>Rate per 1,000 residents by district</h3>" + str(html_table(shown_la)))
    deprivation = by_deprivation(
        ctx.store, ctx.districts, ctx.definition, ctx.filters
    ).frame.astype({"count": "int64", "population": "int64"})
    dep = pub.table(
        "where",
        "deprivation",
        deprivation.round(3),
        ["count"],
        {"rate": "count", "low": "count", "high": "count"},
    )
    html.append("<h3>Rate per 1,000 residents by deprivation decile (1 = most deprived)</h3>")
    html.append(
        bar_chart(
            [str(d) for d in dep["decile"]],
            [v or 0 for v in dep["rate"]],
            "Rate per 1,000 residents by IMD decile",
            unit="Rate per 1,000 residents",
        )
    )
    html.append(str(html_table(dep)))
    return "".join(html)


def _district_names(ctx: Context) -> list[str]:
    areas = ctx.store.table("areas")
    names = (
        areas.filter(areas.la_code.isin(list(ctx.districts)))
        .select("la_name")
        .distinct()
        .to_pandas()["la_name"]
    )
    return list(names)


def _csp_change(ctx: Context, csps: list[str]) -> pd.DataFrame | None:
    """Each CSP's last two complete financial years, compared by the exact test."""
    t = ctx.results["trend"]
    if not t.change_periods:
        return None
    first, second = t.change_periods
    found = counts(
        ctx.store, "incidents", ["csp", "financial_year"], ctx.filters, ctx.definition
    ).frame
    rows = []
    for csp in csps:
        mine = found[found["csp"] == csp].set_index("financial_year")["count"]
        a, b = int(mine.get(first, 0)), int(mine.get(second, 0))
        change = compare_counts(a, b)
        rows.append(
            {
                "area": csp,
                "first": a,
                "second": b,
                "ratio": None if change.ratio is None else round(change.ratio, 3),
                "p_value": None if change.p_value is None else round(change.p_value, 4),
                "verdict": change.verdict,
            }
        )
    return pd.DataFrame(rows)


def when_section(ctx: Context) -> str:
    w = when(ctx.store, ctx.definition, ctx.filters)
    ctx.pub.figure(
        "when", "matrix", [[round(float(x), 2) for x in row] for row in w.matrix.to_numpy()]
    )
    if w.exact + w.spread == 0:
        return (
            "<p>No incident in the selection has a time of day (open data has month-only "
            "dates): the hour-by-day picture needs a force extract.</p>"
        )
    return (
        heatmap(w.matrix, f"Incidents by hour and day: {ctx.definition.id}")
        + f"<p class='note'>{w.exact:,} incidents with one time, {w.spread:,} spread evenly "
        f"over their from-to range (aoristic), {w.excluded:,} left out (month-only dates or "
        f"ranges over {w.max_span_hours} hours). Cells are weighted counts, not suppressed "
        "(no cell is a count of records).</p>"
    )


def what_section(ctx: Context) -> str:
    pub = ctx.pub
    offences = breakdown(ctx.store, ctx.definition, ctx.filters, ctx.weights)
    groups = pub.table("what", "offence_groups", offences.groups, ["count"])
    subgroups = pub.table("what", "offence_subgroups", offences.subgroups, ["count"])
    html = [
        "<h3>Offence groups</h3>",
        str(html_table(groups)),
        "<h3>Offence subgroups</h3>",
        str(html_table(subgroups)),
    ]
    if ctx.weights is None:
        html.append(
            "<p class='note'>No weights table is configured, so there are no severity-weighted "
            "totals. Give one (ONS Crime Severity Score or Cambridge Crime Harm Index) as a CSV "
            "of offence_code, weight with a '# source:' line, by --weights or the workspace "
            "setting severity_weights.</p>"
        )
        return "".join(html)
    codes = offences.codes.assign(harm=offences.codes["harm"].round(1))
    top = codes.dropna(subset=["harm"]).sort_values("harm", ascending=False).head(15)
    shown = pub.table(
        "what",
        "harm_by_code",
        top[["offence_code", "description", "count", "weight", "harm"]],
        ["count"],
        {"harm": "count"},
    )
    ctx.results["harm_total"] = offences.weighted_total
    harm_share = top["harm"].sum() / offences.weighted_total if offences.weighted_total else None
    html.append(f"<h3>Severity: weights from {escape(offences.weights_source or '')}</h3>")
    html.append(
        f"<p>Severity-weighted total: {offences.weighted_total:,.0f} "
        f"({_harm_per_head(ctx, offences.weighted_total)}). The 15 offence codes below carry "
        f"{harm_share:.0%} of it.</p>"
        if offences.weighted_total is not None and harm_share is not None
        else ""
    )
    pub.figure("what", "weights_source", offences.weights_source)
    pub.figure("what", "weighted_total", offences.weighted_total)
    html.append(str(html_table(shown)))
    if offences.unweighted_codes:
        missing = codes[codes["offence_code"].isin(offences.unweighted_codes)]
        listed = pub.table(
            "what", "codes_without_weight", missing[["offence_code", "description", "count"]],
            ["count"],
        )  # fmt: skip
        pub.figure("what", "unweighted_codes", offences.unweighted_codes)
        html.append(
            "<p class='warn'>These offence codes have no weight in the table and are left out "
            "of the weighted total (not weighted 0):</p>" + str(html_table(listed))
        )
    return "".join(html)


def _harm_per_head(ctx: Context, total: float | None) -> str:
    """The Crime Severity Score is weighted harm divided by the area's residents."""
    if not total:
        return "no residents to divide by"
    frame = ctx.results.get("csp_rates")
    residents = int(frame["population"].sum()) if frame is not None and len(frame) else 0
    if not residents:
        return "no residents to divide by"
    return f"{total / residents:.2f} per resident over {residents:,} residents"


def who_section(ctx: Context) -> str:
    pub = ctx.pub
    people = who(ctx.store, ctx.definition, ctx.filters)
    if people.incidents_with_people == 0:
        return (
            "<p>No incident in the selection has victims or suspects recorded: profiles need a "
            "force extract with people (open data has none).</p>"
        )
    html = []
    for role in (people.victims, people.suspects):
        ages = pub.table("who", f"{role.role}_age_bands", role.age_bands, ["count"])
        sexes = pub.table("who", f"{role.role}_sex", role.sex, ["count"])
        ethnicity = pub.table("who", f"{role.role}_ethnicity", role.ethnicity, ["count"])
        html.append(
            f"<h3>{role.role.title()}s: {role.people:,} in {people.incidents:,} incidents</h3>"
        )
        html.append(
            bar_chart(
                [str(a) for a in ages.iloc[:, 0]],
                [v or 0 for v in ages["count"]],
                f"{role.role.title()}s by age band",
            )
        )
        html.append(
            "<div class='pair'>" + str(html_table(sexes)) + str(html_table(ethnicity)) + "</div>"
        )
        facts = []
        if role.under_18 is not None:
            facts.append(f"{role.under_18:.0%} under 18, {role.under_25:.0%} under 25")
        facts.append(f"{role.repeat_people:,} appear in more than one incident")
        pub.figure("who", f"{role.role}_facts", "; ".join(facts))
        html.append(f"<p>{escape('; '.join(facts))}.</p>")
    relationships = pub.table("who", "relationships", people.relationships, ["count"])
    html.append("<h3>Relationship of suspect to victim</h3>" + str(html_table(relationships)))
    return "".join(html)


def themes_section(ctx: Context) -> str:
    pub = ctx.pub
    th = themes(ctx.store, ctx.definition, ctx.filters)
    ctx.results["themes"] = th
    frame = pd.DataFrame(
        [
            {
                "theme": x.name,
                "count": x.count,
                "assessable": x.assessable,
                "share": round(x.share, 3) if x.share is not None else None,
            }
            for x in th.themes
        ]
    )
    shown = pub.table("themes", "themes", frame, ["count", "assessable"], {"share": "count"})
    html = [
        str(html_table(shown)),
        "<p class='note'>Share of the incidents in the definition where the theme's facts "
        "are recorded (assessable); a record can belong to several themes.</p>",
    ]
    months = sorted({m for x in th.themes for m in x.monthly["month"]})
    series = {}
    for x in th.themes:
        if x.count == 0:
            continue
        monthly = x.monthly.set_index("month")["count"].reindex(months, fill_value=0)
        shown_monthly = pub.table(
            "themes", f"{x.id}_monthly", monthly.rename_axis("month").reset_index(), ["count"]
        )
        series[x.name] = with_gaps(shown_monthly["count"])
    if series:
        html.append(lines_chart(months, series, "Themes a month (hidden months left as gaps)"))
    by_csp = (
        pd.concat(
            [
                x.by_csp.dropna(subset=["csp"]).set_index("csp")["count"].rename(x.name)
                for x in th.themes
            ],
            axis=1,
        )
        .fillna(0)
        .astype("int64")
    )
    csps = sorted(by_csp.index)
    if csps:
        # themes down the side, CSPs across: seven rows fit a page where seven columns do not
        place = by_csp.reindex(csps).T.rename_axis("theme").reset_index()
        place.columns = ["theme", *csps]
        shown_place = pub.table("themes", "by_csp", place, csps)
        html.append(
            "<h3>Where each theme falls (incidents by CSP)</h3>" + str(html_table(shown_place))
        )
    return "".join(html)


def concentration_section(ctx: Context) -> str:
    lsoas = ctx.store.table("areas")
    area_lsoas = list(
        lsoas.filter(lsoas.la_code.isin(list(ctx.districts)) & lsoas.in_2021)
        .select("lsoa_code")
        .to_pandas()["lsoa_code"]
    )
    conc = concentration(ctx.store, area_lsoas, ctx.definition, ctx.filters)
    ctx.results["concentration"] = conc
    frame = conc.table.round(3).astype({"year": str}) if len(conc.table) else conc.table
    table = ctx.pub.figure("concentration", "table", records(frame))
    return (
        str(html_table(pd.DataFrame(table)))
        + "<p class='note'>Share of incidents in the 1%, 5% and 10% of LSOAs with the most, "
        "counting LSOAs with none. Shares are of the year's whole count, not of any one "
        "LSOA, so none is suppressed.</p>"
    )


def health_section(ctx: Context) -> str:
    pub = ctx.pub
    h = health(ctx.store, ctx.definition, ctx.filters)
    ctx.results["health"] = h
    if h.attendances == 0 and h.admissions == 0:
        return (
            "<p>No A&amp;E (ISTV) attendances or hospital admissions are held: this section "
            "needs health partner data.</p>"
        )
    html = [f"<p>{h.attendances:,} assault attendances; {h.admissions:,} admissions.</p>"]
    if ctx.csp:
        html.append(
            "<p class='note'>A&amp;E attendances and admissions are for the whole partnership: "
            "they record the hospital, not the CSP where the assault happened.</p>"
        )
    if h.attendances:
        hours = pub.table("health", "by_hour", h.by_hour, ["count"])
        html.append(
            bar_chart(
                [f"{int(x):02d}" for x in hours["hour"]],
                [v or 0 for v in hours["count"]],
                "Assault attendances at A&E by hour of the assault",
            )
        )
        loc = pub.table(
            "health",
            "locations",
            h.by_location.round(3),
            ["ae", "police"],
            {"ae_share": "ae", "police_share": "police", "gap": "ae"},
        )
        means = pub.table("health", "means_of_assault", h.by_means, ["count"])
        html.append(
            "<h3>Where A&amp;E assaults happen and where police record violence</h3>"
            + str(html_table(loc))
            + "<h3>Means of assault</h3>"
            + str(html_table(means))
        )
    if h.admissions:
        sharp = pub.table("health", "sharp_object_admissions", h.sharp_admissions_by_age, ["count"])
        html.append(
            "<h3>Admissions for assault by sharp object (X99) by age band</h3>"
            + str(html_table(sharp))
        )
    return "".join(html)


def hotspots_section(ctx: Context) -> str:
    """Gi* on the grid (classes, density, harm where weights are set), by LSOA, and over time;
    all drawn inside the partnership's outline, with no counts shown."""
    from svduty.spatial.hotspots import hotspots
    from svduty.spatial.maps import class_map, density_map, partnership_outline

    csps = {k: v for k, v in ctx.settings.csps.items() if not ctx.csp or k == ctx.csp}
    within = partnership_outline(csps)
    try:
        spots = hotspots(ctx.store, ctx.definition, ctx.filters, within=within)
    except InputError as error:
        return f"<p>No hotspot analysis: {escape(str(error))}</p>"
    ctx.pub.figure("hotspots", "method", spots.notes)
    classes = spots.frame["class"].value_counts().rename_axis("class").reset_index(name="cells")
    ctx.pub.figure("hotspots", "cells_by_class", records(classes))
    title = f"Gi* hotspots: {ctx.definition.id}, {ctx.period}"
    html = [
        _png(class_map(spots.frame, spots.grid, csps, title), title),
        str(html_table(classes)),
        "<p class='note'>" + "; ".join(escape(n) for n in spots.notes) + ". Cells are coloured "
        "by class only; no cell count is shown, so none needs suppressing.</p>",
    ]
    density_title = f"Kernel density: {ctx.definition.id}, {ctx.period}"
    html.append(
        _png(density_map(spots.density.values, spots.grid, csps, density_title), density_title)
    )
    if ctx.weights:
        harm = hotspots(ctx.store, ctx.definition, ctx.filters, weights=ctx.weights, within=within)
        harm_title = f"Harm-weighted Gi* hotspots: {ctx.definition.id}, {ctx.period}"
        ctx.pub.figure("hotspots", "harm_method", harm.notes)
        harm_map = class_map(harm.frame, harm.grid, csps, harm_title)
        html.append(
            "<h3>Weighted by harm</h3>"
            + _png(harm_map, harm_title)
            + f"<p class='note'>{escape(harm.notes[-1])}.</p>"
        )
    html.append(_lsoa_hotspots(ctx, csps))
    html.append(_emerging_hotspots(ctx, csps, within))
    return "".join(html)


def _lsoa_hotspots(ctx: Context, csps: dict[str, tuple[str, ...]]) -> str:
    from svduty.reference.boundaries import lsoas
    from svduty.spatial.areas import area_hotspots
    from svduty.spatial.maps import area_map

    districts = {code for codes in csps.values() for code in codes}
    try:
        result = area_hotspots(ctx.store, lsoas(districts), ctx.definition, ctx.filters)
    except InputError as error:
        return f"<h3>By LSOA</h3><p>No LSOA hotspot analysis: {escape(str(error))}</p>"
    ctx.pub.figure("hotspots", "lsoa_method", [*result.notes, result.method])
    classes = result.frame["class"].value_counts().rename_axis("class").reset_index(name="LSOAs")
    ctx.pub.figure("hotspots", "lsoas_by_class", records(classes))
    names = ctx.store.table("areas").select("lsoa_code", "lsoa_name", "la_name").to_pandas()
    hottest = (
        result.frame[result.frame["class"] == "hot 99%"]
        .merge(names.drop_duplicates("lsoa_code"), on="lsoa_code", how="left")
        .sort_values("gi_star_z", ascending=False)[["lsoa_code", "lsoa_name", "la_name"]]
        .rename(columns={"lsoa_code": "LSOA", "lsoa_name": "name", "la_name": "district"})
    )
    ctx.pub.figure("hotspots", "lsoas_hot_99", records(hottest))
    title = f"Gi* hotspots by LSOA: {ctx.definition.id}, {ctx.period}"
    return (
        "<h3>By LSOA</h3>"
        + _png(area_map(result.frame, result.areas.shapes, csps, title), title)
        + str(html_table(classes))
        + (
            f"<p>The {len(hottest)} LSOAs at the centre of 99% hotspots, hottest first:</p>"
            + str(html_table(hottest))
            if len(hottest)
            else ""
        )
        + "<p class='note'>"
        + "; ".join(escape(n) for n in [*result.notes, result.method])
        + ".</p>"
    )


def _emerging_hotspots(ctx: Context, csps: dict[str, tuple[str, ...]], within: Any) -> str:
    from svduty.spatial.emerging import PATTERNS, emerging_hotspots
    from svduty.spatial.maps import PATTERN_COLOURS, class_map

    try:
        result = emerging_hotspots(ctx.store, ctx.definition, ctx.filters, within=within)
    except InputError as error:
        return f"<h3>Over time</h3><p>No emerging hotspot analysis: {escape(str(error))}</p>"
    ctx.pub.figure("hotspots", "emerging_method", [*result.notes, result.method])
    inside = result.frame[result.frame["in_area"]]
    patterns = (
        inside["pattern"].value_counts().reindex(PATTERNS).dropna().astype(int)
        .rename_axis("pattern").reset_index(name="cells")
    )  # fmt: skip
    ctx.pub.figure("hotspots", "cells_by_pattern", records(patterns))
    title = f"Emerging hotspots: {ctx.definition.id}, {result.periods[0]} to {result.periods[-1]}"
    return (
        "<h3>Over time: emerging and persistent hotspots</h3>"
        + _png(
            class_map(
                result.frame, result.grid, csps, title, "pattern", PATTERN_COLOURS, "Pattern"
            ),
            title,
        )
        + str(html_table(patterns))
        + "<p class='note'>"
        + "; ".join(escape(n) for n in [*result.notes, result.method])
        + "</p>"
    )


def near_repeat_section(ctx: Context) -> str:
    from svduty.spatial.hotspots import near_repeat

    filters = [*ctx.filters, Filter("source_kind", "police_extract")]
    try:
        result = near_repeat(ctx.store, ctx.definition, filters, simulations=99, seed=1)
    except InputError as error:
        return f"<p>No near-repeat analysis: {escape(str(error))}</p>"
    shown = ctx.pub.table("near_repeats", "knox", result.table, ["observed"])
    return (
        f"<p>{result.events:,} incidents from force extracts (exact places and days).</p>"
        + str(html_table(shown))
        + f"<p class='note'>{escape(result.method)}. A Knox ratio above 1 with a small p-value "
        "means more pairs close in space and time than chance would give: a near-repeat "
        "pattern.</p>"
    )


def _png(data: bytes, title: str) -> str:
    import base64

    encoded = base64.b64encode(data).decode()
    return f'<img class="map" alt="{escape(title)}" src="data:image/png;base64,{encoded}">'


RECORD_SECTIONS = (
    ("trends", "Trends", trends_section),
    ("where", "Where", where_section),
    ("hotspots", "Where: hotspots", hotspots_section),
    ("when", "When", when_section),
    ("what", "What and how serious", what_section),
    ("who", "Who: victims and suspects", who_section),
    ("themes", "Themes", themes_section),
    ("concentration", "Concentration", concentration_section),
    ("health", "A&E and hospital admissions", health_section),
    ("near_repeats", "Near repeats", near_repeat_section),
)


def record_findings(ctx: Context) -> list[str]:
    """Key findings as sentences with their numbers (only figures that are published)."""
    definition, pub = ctx.definition, ctx.pub
    t = ctx.results["trend"]
    out = []
    total = int(t.monthly["count"].sum()) if len(t.monthly) else 0
    out.append(f"{total:,} incidents met the {definition.name} definition in {ctx.period}.")
    if t.change is not None and t.change_periods:
        out.append(
            f"Year on year ({t.change_periods[1]} against {t.change_periods[0]}): "
            f"{t.change.verdict}."
        )
    own = ctx.results["csp_rates"]
    if len(own) and own["count"].min() >= pub.threshold:
        top = own.iloc[0]
        overall = own["count"].sum() / own["population"].sum() * 1000
        clear = "significantly above" if top["low"] > overall else "not significantly above"
        sentence = (
            f"{top['area']} had the highest rate, {top['rate']:.1f} per 1,000 residents "
            f"(95% interval {top['low']:.1f} to {top['high']:.1f}), {clear} the area's "
            f"{overall:.1f}"
        )
        change = ctx.results.get("csp_change")
        if change is not None:
            mine = change[change["area"] == top["area"]].iloc[0]
            if min(mine["first"], mine["second"]) >= pub.threshold:
                sentence += f"; its change between the last two years: {mine['verdict']}"
        out.append(sentence + ".")
    for theme in ctx.results["themes"].themes:
        if theme.id in ("domestic_abuse", "youth") and theme.share is not None:
            out.append(f"{theme.name}: {theme.share:.0%} of incidents where recorded.")
    conc = ctx.results["concentration"]
    if len(conc.table):
        row = conc.table.iloc[-1]
        out.append(
            f"In {row['year']}, {row['top_5']:.0%} of incidents fell in the 5% of "
            "neighbourhoods (LSOAs) with the most."
        )
    h = ctx.results["health"]
    if h.attendances and len(h.by_location):
        gap = h.by_location.iloc[0]
        if min(gap["ae"], gap["police"]) >= pub.threshold:
            out.append(
                f"A&E assaults are over-represented at {gap['location_type'].replace('_', ' ')}"
                f" ({gap['ae_share']:.0%} of attendances against {gap['police_share']:.0%} of "
                "police-recorded incidents)."
            )
    return out
