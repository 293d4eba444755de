"""The sections of the assessment, drawn from a publication only: tables as published (hidden
cells read [c]), charts from the same tables, maps from cell classes. Nothing here reads the
store or computes a figure a reader sees that is not in the publication."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from markupsafe import escape

from svduty.publish import Publication
from svduty.publish.board import benchmark_findings
from svduty.publish.conclusions import PUBLIC_PLACE, conclusion
from svduty.report.charts import GAP, PART, Chart, gaps
from svduty.report.measures import measures_section
from svduty.report.published import html_table, number, prose
from svduty.vocabulary import NO_DATA, PARTIAL, heading, source_kind_label


@dataclass
class Page:
    """What sections draw into: the publication, and every chart drawn (for Vega-Lite)."""

    pub: Publication
    definition_id: str
    charts: list[Chart] = field(default_factory=list)

    def chart(self, chart: Chart) -> str:
        """The chart as a figure (kept for Vega-Lite), or the sentence that replaces it."""
        if chart.empty() is None:
            self.charts.append(chart)
        return chart.html()

    def table(self, section: str, name: str, drop: tuple[str, ...] = ()) -> str:
        frame = self.pub.table(section, name)
        return str(html_table(frame.drop(columns=[c for c in drop if c in frame.columns])))

    def conclusion(self, key: str) -> str:
        """The plain sentence under a table or chart (from the publication's conclusions)."""
        found = conclusion(self.pub, key)
        return f"<p class='conclusion'>{escape(found)}</p>" if found else ""

    @property
    def period(self) -> str:
        return str(self.pub.value("report", "period"))


def sentence(text: str) -> str:
    """A method note as a sentence: capitalised, escaped."""
    return str(escape(text[:1].upper() + text[1:]))


def shaded(frame: Any, column: str = "month") -> dict[str, list[str]]:
    """Months to shade on a chart, from a published table's coverage column."""
    if "coverage" not in frame.columns:
        return {}
    out = {
        legend: [str(m) for m, c in zip(frame[column], frame["coverage"], strict=True) if c == s]
        for legend, s in ((GAP, NO_DATA), (PART, PARTIAL))
    }
    return {legend: months for legend, months in out.items() if months}


def trends_section(page: Page) -> str:
    pub = page.pub
    monthly = pub.table("trends", "monthly")
    html = [
        page.chart(
            Chart(
                "trends-monthly",
                "line",
                f"Incidents a month: {page.definition_id}, {page.period}",
                list(monthly["month"]),
                {"count": gaps(monthly["count"])},
                unit="Incidents",
                shaded=shaded(monthly),
            )
        ),
        page.conclusion("trends-monthly"),
    ]
    html.append(_coverage_note(page))
    if pub.has("trends", "rolling_12_months"):
        rolling = pub.table("trends", "rolling_12_months")
        html.append(
            page.chart(
                Chart(
                    "trends-rolling",
                    "line",
                    f"Rolling 12-month total: {page.definition_id}",
                    list(rolling["month"]),
                    {"total": gaps(rolling["rolling_12_months"])},
                    unit="Incidents in the 12 months",
                    shaded=shaded(rolling),
                )
            )
        )
        html.append(page.conclusion("trends-rolling"))
        if rolling["rolling_12_months"].isna().any():
            html.append(
                "<p class='note'>A 12-month window that holds a month with a hidden count, no "
                "data or a missing source has no total.</p>"
            )
    html.append("<h3>Financial years (April to March)</h3>")
    html.append(page.table("trends", "financial_years"))
    html.append(page.conclusion("trends-financial_years"))
    html.append(f"<p>{escape(pub.value('trends', 'change'))}</p>")
    if pub.has("trends", "seasonality"):
        season = pub.table("trends", "seasonality")
        html.append(
            page.chart(
                Chart(
                    "trends-season",
                    "bar",
                    "Seasonality: each calendar month's mean against "
                    "all months' mean (1 = average)",
                    list(season["month"]),
                    {"index": gaps(season["index"])},
                    unit="Seasonal index",
                )
            )
        )
        html.append(page.conclusion("trends-season"))
    else:
        html.append(
            "<p class='note'>No seasonality: it needs at least two years of months with data "
            f"from every source, each calendar month twice, all shown; {len(monthly)} months "
            "are in the period.</p>"
        )
    return "".join(html)


def _coverage_note(page: Page) -> str:
    """Which sources the counts come from, and the months without data or a source."""
    pub = page.pub
    sources = pub.table("trends", "sources")
    named = ", ".join(
        f"{row['force']} {source_kind_label(str(row['source']))}".strip()
        for _, row in sources.iterrows()
    )
    runs = pub.value("trends", "gaps") or []
    if not runs:
        return (
            f"<p class='note'>Counts from {escape(named or 'no source')}, with data in every "
            "month shown.</p>"
        )
    listed = "; ".join(
        f"{r['from']}"
        + (f" to {r['to']}" if r["to"] != r["from"] else "")
        + (" no data" if r["status"] == NO_DATA else f" without {r['missing']}")
        for r in runs
    )
    return (
        f"<p class='warn'>Counts from {escape(named)}. Months shaded grey have no data from "
        "any of them: they are gaps, not zeros, and the line breaks there; months shaded "
        "amber lack a source, so their counts are not comparable with the others. No change "
        f"is tested across either. {escape(listed)}.</p>"
        + str(html_table(sources))
        + page.conclusion("trends-sources")
    )


def where_section(page: Page) -> str:
    pub = page.pub
    basis = escape(pub.value("where", "rate_basis"))
    if pub.has("where", "area_rate"):
        html = ["<h3>Rate per 1,000 residents a year: the CSP and the whole area</h3>"]
        html.append(str(html_table(_beside_area(pub))))
    else:
        html = ["<h3>Rate per 1,000 residents a year by Community Safety Partnership</h3>"]
        html.append(page.table("where", "csp_rates"))
    html.append(page.conclusion("where-csp_rates"))
    html.append(
        f"<p class='note'>Rates are {basis}: each count is divided by the residents and by "
        f"the years its months make up. {escape(pub.value('where', 'population_note'))} "
        "Intervals are exact 95% Poisson intervals.</p>"
    )
    if pub.has("where", "area_rate"):
        html.append(_england_and_wales(pub))
    if pub.has("where", "csp_change"):
        html.append("<h3>Change by CSP between the last two complete financial years</h3>")
        html.append(page.table("where", "csp_change"))
        html.append(page.conclusion("where-csp_change"))
    html.append("<h3>Rate per 1,000 residents a year by district</h3>")
    html.append(_districts(page))
    dep = pub.table("where", "deprivation")
    html.append(
        "<h3>Rate per 1,000 residents a year by deprivation decile (1 = most deprived)</h3>"
    )
    html.append(
        page.chart(
            Chart(
                "where-deprivation",
                "bar",
                "Rate per 1,000 residents a year by IMD decile",
                [str(d) for d in dep["decile"]],
                {"rate": gaps(dep["rate"])},
                unit="Rate per 1,000 residents a year",
            )
        )
    )
    html.append(page.conclusion("where-deprivation"))
    html.append(page.table("where", "deprivation"))
    html.append(page.conclusion("where-deprivation-table"))
    return "".join(html)


def _beside_area(pub: Publication) -> pd.DataFrame:
    """A CSP's rate row above the whole area's."""
    own, area = pub.table("where", "csp_rates"), pub.table("where", "area_rate")
    return pd.concat([own, area[[c for c in own.columns if c in area.columns]]], ignore_index=True)


def _england_and_wales(pub: Publication) -> str:
    """England and Wales beside a CSP, from the benchmarks where the Home Office tables allow
    (they count offences, not this definition's incidents, so they are not put in the table)."""
    about = pub.value("benchmarks", "about") if pub.has("benchmarks", "about") else {}
    found = benchmark_findings(pub)
    if found:
        return (
            "<p class='note'>England and Wales, on the Home Office tables (offences by code, "
            "so not the same count as the table above; see Benchmarks): "
            f"{escape(' '.join(found))}</p>"
        )
    reason = about.get("reason") or "the benchmark rates for this CSP are hidden."
    return f"<p class='note'>No England and Wales rate beside this CSP's: {escape(reason)}</p>"


def _districts(page: Page) -> str:
    """Districts, less those that are a whole CSP (their row would repeat the CSP table's)."""
    pub = page.pub
    districts = pub.table("where", "district_rates")
    csps = pub.table("where", "csp_rates").set_index("area")["population"]
    whole = [
        row["csp"] in csps.index and csps[row["csp"]] == row["population"]
        for _, row in districts.iterrows()
    ]
    if all(whole):
        if len(csps) == 1:
            name = escape(csps.index[0])
            return f"<p>{name} is a single district: its rate is the CSP rate above.</p>"
        return (
            "<p>Every CSP here is a single district, so the district rates are the CSP rates "
            "above.</p>"
        )
    shown = districts[[not w for w in whole]].reset_index(drop=True)
    alone = sorted(str(c) for c, w in zip(districts["csp"], whole, strict=True) if w)
    note = (
        "<p class='note'>Not repeated here, as each is a CSP of a single district (see the "
        f"CSP table): {escape('; '.join(alone))}.</p>"
        if alone
        else ""
    )
    return str(html_table(shown)) + page.conclusion("where-district_rates") + note


def hotspots_section(page: Page) -> str:
    from svduty.reference.boundaries import NO_BOUNDARIES
    from svduty.spatial.maps import PATTERN_COLOURS, area_map, class_map, density_map

    pub, extras = page.pub, page.pub.extras
    if pub.has("hotspots", "unavailable"):
        return f"<p>No hotspot analysis: {escape(pub.value('hotspots', 'unavailable'))}</p>"
    outlines = extras["outlines"]
    spots = extras["hotspots"]
    title = f"Gi* hotspots: {page.definition_id}, {page.period}"
    notes = sentence("; ".join(pub.value("hotspots", "method")))
    html = [
        _png(class_map(spots["frame"], spots["grid"], outlines, title), title),
        page.table("hotspots", "cells_by_class"),
        page.conclusion("hotspots-cells_by_class"),
        f"<p class='note'>{notes}. Cells are coloured by class only; no cell count is shown, "
        "so none needs suppressing.</p>",
    ]
    if outlines is None:
        html.append(f"<p class='note'>{prose(NO_BOUNDARIES)}</p>")
    density_title = f"Kernel density: {page.definition_id}, {page.period}"
    html.append(
        _png(density_map(spots["density"], spots["grid"], outlines, density_title), density_title)
        + page.conclusion("hotspots-density")
    )
    if "harm_hotspots" in extras:
        harm = extras["harm_hotspots"]
        harm_title = f"Harm-weighted Gi* hotspots: {page.definition_id}, {page.period}"
        html.append(
            "<h3>Weighted by harm</h3>"
            + _png(class_map(harm["frame"], harm["grid"], outlines, harm_title), harm_title)
            + page.conclusion("hotspots-harm")
            + f"<p class='note'>{sentence(harm['notes'][-1])}.</p>"
        )
    html.append("<h3>By LSOA</h3>")
    if pub.has("hotspots", "lsoa_unavailable"):
        html.append(
            f"<p>No LSOA hotspot analysis: {prose(pub.value('hotspots', 'lsoa_unavailable'))}</p>"
        )
    else:
        lsoa = extras["lsoa_hotspots"]
        lsoa_title = f"Gi* hotspots by LSOA: {page.definition_id}, {page.period}"
        hottest = pub.table("hotspots", "lsoas_hot")
        html.append(_png(area_map(lsoa["frame"], lsoa["shapes"], outlines, lsoa_title), lsoa_title))
        html.append(page.table("hotspots", "lsoas_by_class"))
        html.append(page.conclusion("hotspots-lsoas_by_class"))
        if len(hottest):
            html.append(_hottest(hottest) + page.conclusion("hotspots-lsoas_hot"))
        lsoa_notes = sentence("; ".join(pub.value("hotspots", "lsoa_method")))
        html.append(f"<p class='note'>{lsoa_notes}.</p>")
    html.append("<h3>Over time: emerging and persistent hotspots</h3>")
    if pub.has("hotspots", "emerging_unavailable"):
        reason = escape(pub.value("hotspots", "emerging_unavailable"))
        html.append(f"<p>No emerging hotspot analysis: {reason}</p>")
    else:
        emerging = extras["emerging"]
        periods = pub.value("hotspots", "emerging_periods")
        emerging_title = f"Emerging hotspots: {page.definition_id}, {periods[0]} to {periods[-1]}"
        drawn = class_map(
            emerging["frame"],
            emerging["grid"],
            outlines,
            emerging_title,
            "pattern",
            PATTERN_COLOURS,
            "Pattern",
        )
        html.append(_png(drawn, emerging_title))
        html.append(page.table("hotspots", "cells_by_pattern"))
        html.append(page.conclusion("hotspots-cells_by_pattern"))
        emerging_notes = sentence("; ".join(pub.value("hotspots", "emerging_method")))
        html.append(f"<p class='note'>{emerging_notes}</p>")
    return "".join(html)


def _hottest(hottest: Any) -> str:
    """The LSOAs at the centre of 99% and 95% hotspots: how many at each confidence and in each
    district, then the list with ward and incidents ([c] where the count is hidden)."""
    per_district = hottest["district"].value_counts(sort=False)
    ranked = sorted(per_district.items(), key=lambda item: (-item[1], item[0]))
    where = "; ".join(f"{n} in {district}" for district, n in ranked)
    levels = hottest["confidence"].value_counts(sort=False)
    confidence = " and ".join(f"{n} at {level}" for level, n in levels.items())
    one = len(hottest) == 1
    lsoas = "LSOA (neighbourhood)" if one else "LSOAs (neighbourhoods)"
    order = "" if one else " Most confident first, then hottest first:"
    return (
        f"<p>{len(hottest)} {lsoas} at the centre of hotspots ({confidence} confidence): "
        f"{escape(where)}.{order}</p>"
        + str(html_table(hottest[["name", "ward", "district", "LSOA", "confidence", "count"]]))
    )


def when_section(page: Page) -> str:
    pub = page.pub
    exact, spread = pub.value("when", "exact"), pub.value("when", "spread")
    if exact == 0 and spread == 0:
        return (
            "<p>No incident in the selection has a time of day (open data has month-only "
            "dates): the hour-by-day picture needs a force extract.</p>"
        )
    matrix = pub.table("when", "hour_by_day")
    hours = [c for c in matrix.columns if c != "day"]
    rows = {str(r["day"]): gaps([r[h] for h in hours]) for _, r in matrix.iterrows()}
    excluded = pub.value("when", "excluded")
    return (
        page.chart(
            Chart(
                "when-hour-by-day",
                "heatmap",
                f"Incidents by hour and day: {page.definition_id}",
                hours,
                rows,
                unit="Incidents",
                x_title="Hour of day",
            )
        )
        + page.conclusion("when-hour-by-day")
        + f"<p class='note'>{_n(exact)} incidents with one time, {_n(spread)} spread evenly over"
        f" their from-to range (aoristic), {_n(excluded)} left out (month-only dates or ranges "
        f"over {pub.value('when', 'max_span_hours')} hours). Each cell's share of an incident "
        "is added up and rounded to a whole number, then controlled like any count: hidden "
        "cells are marked [c].</p>"
    )


def _n(value: Any) -> str:
    return "[c]" if value is None else f"{int(value):,}"


def what_section(page: Page) -> str:
    pub = page.pub
    html = [
        "<h3>Offence groups</h3>",
        page.table("what", "offence_groups"),
        page.conclusion("what-offence_groups"),
        "<h3>Offence subgroups</h3>",
        page.table("what", "offence_subgroups"),
        page.conclusion("what-offence_subgroups"),
    ]
    if not pub.has("what", "weights_source"):
        html.append(
            "<p class='note'>No weights table is configured, so there are no severity-weighted "
            "totals. Give one (ONS Crime Severity Score or Cambridge Crime Harm Index) as a CSV "
            "of offence_code, weight with a '# source:' line, by --weights or the workspace "
            "setting severity_weights.</p>"
        )
        return "".join(html)
    total = pub.value("what", "weighted_total")
    residents = pub.value("what", "residents")
    html.append(f"<h3>Severity: weights from {escape(pub.value('what', 'weights_source'))}</h3>")
    if total:
        per_head = (
            f"{total / residents:.2f} per resident over {residents:,} residents"
            if residents
            else "no residents to divide by"
        )
        html.append(
            f"<p>Severity-weighted total: {total:,.0f} ({per_head}). The 15 offence "
            "codes below carry most of it.</p>"
        )
    html.append(page.table("what", "harm_by_code") + page.conclusion("what-harm_by_code"))
    if pub.has("what", "codes_without_weight"):
        html.append(
            "<p class='warn'>These offence codes have no weight in the table and are left out "
            "of the weighted total (not weighted 0):</p>"
            + page.table("what", "codes_without_weight")
            + page.conclusion("what-codes_without_weight")
        )
    return "".join(html)


def who_section(page: Page) -> str:
    pub = page.pub
    if pub.value("who", "incidents_with_people") == 0:
        return (
            "<p>No incident in the selection has victims or suspects recorded: profiles need a "
            "force extract with people (open data has none).</p>"
        )
    html = []
    for role in ("victim", "suspect"):
        ages = pub.table("who", f"{role}_age_bands")
        html.append(
            f"<h3>{role.title()}s: {_n(pub.value('who', f'{role}_people'))} in "
            f"{_n(pub.value('who', 'incidents'))} incidents</h3>"
        )
        html.append(
            page.chart(
                Chart(
                    f"who-{role}-ages",
                    "bar",
                    f"{role.title()}s by age band",
                    [str(a) for a in ages["age_band"]],
                    {"count": gaps(ages["count"])},
                    unit=f"{role.title()}s",
                )
            )
        )
        html.append(page.conclusion(f"who-{role}-ages"))
        html.append(
            "<div class='pair'><div>"
            + page.table("who", f"{role}_sex")
            + page.conclusion(f"who-{role}_sex")
            + "</div><div>"
            + page.table("who", f"{role}_ethnicity")
            + page.conclusion(f"who-{role}_ethnicity")
            + "</div></div>"
        )
        facts = []
        under_18, under_25 = (
            pub.value("who", f"{role}_under_18"),
            pub.value("who", f"{role}_under_25"),
        )
        if under_18 is not None and under_25 is not None:
            facts.append(f"{under_18:.0%} under 18, {under_25:.0%} under 25")
        repeat = pub.value("who", f"{role}_repeat_people")
        facts.append(
            "people appearing in more than one incident: "
            + ("fewer than the disclosure threshold or hidden" if repeat is None else f"{repeat:,}")
        )
        html.append(f"<p>{escape('; '.join(facts))}.</p>")
    html.append(
        "<h3>Relationship of suspect to victim</h3>"
        + page.table("who", "relationships")
        + page.conclusion("who-relationships")
    )
    return "".join(html)


def themes_section(page: Page) -> str:
    pub = page.pub
    html = [
        page.table("themes", "themes"),
        page.conclusion("themes-themes"),
        "<p class='note'>Share of the incidents in the definition where the theme's facts "
        "are recorded (assessable); a record can belong to several themes.</p>",
    ]
    if pub.has("health", "locations"):
        html.append(f"<p class='note'>{escape(PUBLIC_PLACE)}</p>")
    series, labels, shades = {}, [], {}
    for key in pub.tables:
        if key.startswith("themes/") and key.endswith("_monthly"):
            frame = pub.tables[key]
            labels = list(frame["month"])
            series[str(frame["theme"].iloc[0])] = gaps(frame["count"])
            shades = shaded(frame)
    if series:
        html.append(
            page.chart(
                Chart(
                    "themes-monthly",
                    "lines",
                    "Themes a month (hidden months and months with no data left as gaps)",
                    labels,
                    series,
                    shaded=shades,
                    unit="Incidents",
                )
            )
        )
        html.append(page.conclusion("themes-monthly"))
    # one CSP's column would repeat the counts above
    if pub.has("themes", "by_csp") and len(pub.table("themes", "by_csp").columns) > 2:
        html.append("<h3>Where each theme falls (incidents by CSP)</h3>")
        html.append(page.table("themes", "by_csp") + page.conclusion("themes-by_csp"))
    return "".join(html)


def concentration_section(page: Page) -> str:
    return (
        page.table(
            "concentration", "table", drop=("measure", "total", "in_top_1", "in_top_5", "in_top_10")
        )
        + page.conclusion("concentration")
        + "<p class='note'>Share of incidents in the 1%, 5% and 10% of LSOAs with the most, "
        "counting LSOAs with none; a share is hidden when the incidents it stands for are "
        "fewer than the disclosure threshold.</p>"
    )


def health_section(page: Page) -> str:
    pub = page.pub
    attendances, admissions = pub.value("health", "attendances"), pub.value("health", "admissions")
    if attendances == 0 and admissions == 0:
        return (
            "<p>No A&amp;E (ISTV) attendances or hospital admissions are held: this section "
            "needs health partner data.</p>"
        )
    # a CSP's or a district's residents (the district's name is its report's area)
    csp = (
        pub.provenance.get("area") if pub.provenance.get("district") else pub.provenance.get("csp")
    )
    whole = str(pub.table("where", "area_rate")["area"].iloc[0]) if csp else ""
    if csp:
        area = escape(whole)
        html = [
            f"<p>{_n(attendances)} assault attendances at A&amp;E across {area}; "
            f"{_n(admissions)} admissions of residents of {escape(csp)}.</p>",
            f"<p class='note'>A&amp;E attendances are for the whole of {area}: they record the "
            "hospital, not where the assault happened, so they are not compared with "
            f"{escape(csp)}'s police records here (the report for {area} compares them with "
            "its police records). Admissions are counted by each patient's area of residence "
            f"(an LSOA or district of {escape(csp)}).</p>",
        ]
    else:
        html = [f"<p>{_n(attendances)} assault attendances; {_n(admissions)} admissions.</p>"]
    if pub.has("health", "by_hour"):
        hours = pub.table("health", "by_hour")
        html.append(
            page.chart(
                Chart(
                    "health-by-hour",
                    "bar",
                    "Assault attendances at A&E by hour of the assault"
                    + (f" (all of {whole})" if csp else ""),
                    [f"{int(x):02d}" for x in hours["hour"]],
                    {"count": gaps(hours["count"])},
                    unit="Attendances",
                    x_title="Hour of the assault",
                )
            )
        )
        html.append(page.conclusion("health-by-hour"))
        if csp:
            html.append(f"<h3>Where A&amp;E assaults happen (all of {escape(whole)})</h3>")
        else:
            html.append("<h3>Where A&amp;E assaults happen and where police record violence</h3>")
        html.append(page.table("health", "locations") + page.conclusion("health-locations"))
        if pub.has("themes", "themes"):
            html.append(f"<p class='note'>{escape(PUBLIC_PLACE)}</p>")
        html.append(
            "<h3>Means of assault</h3>"
            + page.table("health", "means_of_assault")
            + page.conclusion("health-means_of_assault")
        )
    if pub.has("health", "sharp_object_admissions"):
        html.append("<h3>Admissions for assault by sharp object (X99) by age band</h3>")
        html.append(
            page.table("health", "sharp_object_admissions")
            + page.conclusion("health-sharp_object_admissions")
        )
    return "".join(html)


def near_repeat_section(page: Page) -> str:
    pub = page.pub
    if pub.has("near_repeats", "unavailable"):
        return f"<p>No near-repeat analysis: {escape(pub.value('near_repeats', 'unavailable'))}</p>"
    return (
        f"<p>{_n(pub.value('near_repeats', 'events'))} incidents from force extracts (exact "
        "places and days).</p>"
        "<h3>Knox ratio by distance and time apart (p-value)</h3>"
        + _knox_grid(pub.table("near_repeats", "knox"))
        + f"<p class='conclusion'>{escape(pub.value('near_repeats', 'conclusion'))}</p>"
        + f"<p class='note'>{sentence(pub.value('near_repeats', 'method'))}. A Knox ratio above 1 "
        "with a small p-value (in bold below 0.05) means more pairs close in space and time "
        "than chance would give: a near-repeat pattern. The pairs observed and expected in each "
        "band are in the summary file.</p>"
    )


def _knox_grid(knox: Any) -> str:
    """The Knox table as distance by time: one cell per band, ratio and p-value."""
    times = list(dict.fromkeys(knox["time_band"]))
    rows = []
    for space, band in knox.groupby("space_band", sort=False):
        pairs = zip(band["knox_ratio"], band["p_value"], strict=True)
        cells = dict(zip(band["time_band"], pairs, strict=True))
        row = [f"<td>{escape(space)}</td>"]
        for time in times:
            ratio, p = cells.get(time, (None, None))
            if ratio is None or p is None:
                row.append('<td class="n" title="suppressed">[c]</td>')
                continue
            text = escape(f"{number('knox_ratio', ratio)} (p {number('p_value', p)})")
            strong = ratio > 1 and p < 0.05
            row.append(f'<td class="n">{f"<strong>{text}</strong>" if strong else text}</td>')
        rows.append("<tr>" + "".join(row) + "</tr>")
    head = "".join(f"<th>{escape(t)}</th>" for t in [heading("space_band"), *times])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _png(data: bytes, title: str) -> str:
    encoded = base64.b64encode(data).decode()
    return f'<img class="map" alt="{escape(title)}" src="data:image/png;base64,{encoded}">'


Section = tuple[str, str, Callable[[Page], str]]

RECORD_SECTIONS: tuple[Section, ...] = (
    ("trends", "Trends", trends_section),
    ("where", "Where", where_section),
    ("hotspots", "Where: hotspots", hotspots_section),
    ("when", "When", when_section),
    ("what", "What and how serious", what_section),
    ("who", "Who: victims and suspects", who_section),
    ("themes", "Themes", themes_section),
    ("concentration", "Concentration", concentration_section),
    ("health", "A&E and hospital admissions", health_section),
    ("measures", "Success measures", lambda page: measures_section(page.pub)),
    ("near_repeats", "Near repeats", near_repeat_section),
)
