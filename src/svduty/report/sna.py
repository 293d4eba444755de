"""The Strategic Needs Assessment: every analysis, through disclosure control, into one HTML file
(charts inline, nothing loaded from the network), a PDF of the same HTML, and summary.json with
every figure shown, keyed by section. The PDF and the page show the same numbers because they are
the same document."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from svduty import __version__
from svduty.analysis.concentration import concentration
from svduty.analysis.health import health
from svduty.analysis.severity import breakdown
from svduty.analysis.themes import themes
from svduty.analysis.trends import trend
from svduty.analysis.when import when
from svduty.analysis.where import by_deprivation, rates
from svduty.analysis.who import who
from svduty.counting import Filter
from svduty.definitions import load_definition
from svduty.definitions.model import Definition
from svduty.disclosure import control
from svduty.quality import area_districts, quality
from svduty.report.charts import bar_chart, heatmap, line_chart
from svduty.workspace import Workspace


@dataclass
class Published:
    """Every table shown, after disclosure control, keyed by section."""

    threshold: int
    unsuppressed: bool
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def table(
        self,
        section: str,
        name: str,
        frame: pd.DataFrame,
        counts: list[str],
        derived: dict[str, str] | None = None,
    ) -> pd.DataFrame:
        if self.unsuppressed:
            shown = frame.astype(object).where(frame.notna(), None)
        else:
            shown = control(
                frame.reset_index(drop=True), counts, self.threshold, derived=derived
            ).values
        self.sections.setdefault(section, {})[name] = _records(shown)
        return shown

    def figure(self, section: str, name: str, value: Any) -> Any:
        self.sections.setdefault(section, {})[name] = value
        return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if v is None or (isinstance(v, float) and pd.isna(v)):
                clean[str(k)] = None
            elif hasattr(v, "item"):
                clean[str(k)] = v.item()
            else:
                clean[str(k)] = v
        out.append(clean)
    return out


def _html_table(frame: pd.DataFrame, threshold: int) -> Markup:
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if value is None or (isinstance(value, float) and pd.isna(value)):
                cells.append('<td class="n" title="suppressed">[c]</td>')
            elif isinstance(value, float):
                cells.append(f'<td class="n">{value:,.2f}</td>')
            elif isinstance(value, int):
                cells.append(f'<td class="n">{value:,}</td>')
            else:
                cells.append(f"<td>{escape(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def build_sna(
    workspace: Workspace,
    definition: Definition | None = None,
    out: Path | None = None,
    unsuppressed: bool = False,
    pdf: bool = True,
    csp: str | None = None,
) -> dict[str, Path]:
    started = time.perf_counter()
    store, settings = workspace.store, workspace.settings
    definition = definition or load_definition(settings.definition)
    filters = [Filter("csp", csp)] if csp else []
    pub = Published(settings.disclosure_threshold, unsuppressed)
    label = f"{definition.name} ({definition.id} v{definition.version})"
    las = area_districts(store, settings)
    sections: list[dict[str, Any]] = []

    def section(key: str, title: str, body: str) -> None:
        sections.append({"key": key, "title": title, "body": Markup(body)})

    t = trend(store, definition, [_f for _f in filters])
    monthly = pub.table("trends", "monthly", t.monthly, ["count"])
    period = (
        f"{t.monthly['month'].iloc[0]} to {t.monthly['month'].iloc[-1]}"
        if len(t.monthly)
        else "no records"
    )
    pub.figure("report", "period", period)
    years = pub.table("trends", "financial_years", t.financial_years, ["count"])
    trend_html = [
        line_chart(
            list(monthly["month"]),
            [v if v is not None else float("nan") for v in monthly["count"]],
            f"Incidents a month: {definition.id}, {period}",
        )
    ]
    trend_html.append(str(_html_table(years, pub.threshold)))
    change_text = "Fewer than two complete financial years: no year-on-year comparison."
    if t.change is not None and t.change_periods:
        a, b = t.change_periods
        change_text = (
            f"{b} against {a}: {t.change.verdict}"
            + (
                f" (rate ratio {t.change.ratio:.2f}, 95% interval "
                f"{t.change.low:.2f} to {t.change.high:.2f}, exact test "
                f"p = {t.change.p_value:.3g})"
                if t.change.ratio
                else ""
            )
            + "."
        )
    pub.figure("trends", "change", change_text)
    trend_html.append(f"<p>{escape(change_text)}</p>")
    section("trends", "Trends", "".join(trend_html))

    where_html = []
    csp_rates = rates(store, "csp", definition, filters)
    own = csp_rates.frame[
        csp_rates.frame["area"].isin(list(settings.csps) or csp_rates.frame["area"])
    ]
    shown = pub.table(
        "where",
        "csp_rates",
        own.round(3),
        ["count"],
        {"rate": "count", "low": "count", "high": "count", "share": "count"},
    )
    where_html.append("<h3>Rate per 1,000 residents by Community Safety Partnership</h3>")
    where_html.append(str(_html_table(shown, pub.threshold)))
    where_html.append(
        f"<p class='note'>{escape(csp_rates.population_note)} Intervals are exact "
        "95% Poisson intervals.</p>"
    )
    deprivation = by_deprivation(store, las, definition, filters).astype(
        {"count": "int64", "population": "int64"}
    )
    dep = pub.table(
        "where",
        "deprivation",
        deprivation.round(3),
        ["count"],
        {"rate": "count", "low": "count", "high": "count"},
    )
    where_html.append("<h3>Rate per 1,000 residents by deprivation decile (1 = most deprived)</h3>")
    where_html.append(
        bar_chart(
            [str(d) for d in dep["decile"]],
            [v or 0 for v in dep["rate"]],
            "Rate per 1,000 residents by IMD decile",
            unit="Rate per 1,000 residents",
        )
    )
    where_html.append(str(_html_table(dep, pub.threshold)))
    section("where", "Where", "".join(where_html))

    w = when(store, definition, filters)
    pub.figure("when", "matrix", [[round(float(x), 2) for x in row] for row in w.matrix.to_numpy()])
    section(
        "when",
        "When",
        heatmap(w.matrix, f"Incidents by hour and day: {definition.id}")
        + f"<p class='note'>{w.exact:,} incidents with one time, {w.spread:,} spread evenly "
        f"over their from-to range (aoristic), {w.excluded:,} left out (month-only dates or "
        f"ranges over {w.max_span_hours} hours). Cells are weighted counts, not suppressed "
        "(no cell is a count of records).</p>",
    )

    offences = breakdown(store, definition, filters)
    groups = pub.table("what", "offence_groups", offences.groups, ["count"])
    subgroups = pub.table("what", "offence_subgroups", offences.subgroups, ["count"])
    weights_note = (
        "No weights table is configured: severity-weighted totals need one "
        "(ONS Crime Severity Score or Cambridge Crime Harm Index), given as a CSV "
        "with its source and vintage."
    )
    section(
        "what",
        "What and how serious",
        str(_html_table(groups, pub.threshold))
        + str(_html_table(subgroups, pub.threshold))
        + f"<p class='note'>{escape(weights_note)}</p>",
    )

    people = who(store, definition, filters)
    who_html = []
    for role in (people.victims, people.suspects):
        ages = pub.table("who", f"{role.role}_age_bands", role.age_bands, ["count"])
        sexes = pub.table("who", f"{role.role}_sex", role.sex, ["count"])
        who_html.append(
            f"<h3>{role.role.title()}s: {role.people:,} in {people.incidents:,} incidents</h3>"
        )
        who_html.append(
            str(_html_table(ages, pub.threshold)) + str(_html_table(sexes, pub.threshold))
        )
        facts = []
        if role.under_18 is not None:
            facts.append(f"{role.under_18:.0%} under 18, {role.under_25:.0%} under 25")
        facts.append(f"{role.repeat_people:,} appear in more than one incident")
        pub.figure("who", f"{role.role}_facts", "; ".join(facts))
        who_html.append(f"<p>{escape('; '.join(facts))}.</p>")
    relationships = pub.table("who", "relationships", people.relationships, ["count"])
    who_html.append(
        "<h3>Relationship of suspect to victim</h3>"
        + str(_html_table(relationships, pub.threshold))
    )
    section("who", "Who: victims and suspects", "".join(who_html))

    th = themes(store, definition, filters)
    theme_frame = pd.DataFrame(
        [
            {
                "theme": x.name,
                "count": x.count,
                "share": round(x.share, 3) if x.share is not None else None,
            }
            for x in th.themes
        ]
    )
    theme_shown = pub.table("themes", "themes", theme_frame, ["count"], {"share": "count"})
    section(
        "themes",
        "Themes",
        str(_html_table(theme_shown, pub.threshold))
        + "<p class='note'>Shares of the incidents in the definition where the theme's facts "
        "are recorded; a record can belong to several themes.</p>",
    )

    lsoas = store.table("areas")
    area_lsoas = list(
        lsoas.filter(lsoas.la_code.isin(list(las)) & lsoas.in_2021)
        .select("lsoa_code")
        .to_pandas()["lsoa_code"]
    )
    conc = concentration(store, area_lsoas, definition, filters)
    conc_frame = conc.table.round(3).astype({"year": str}) if len(conc.table) else conc.table
    conc_table = pub.figure("concentration", "table", _records(conc_frame))
    section(
        "concentration",
        "Concentration",
        str(_html_table(pd.DataFrame(conc_table), pub.threshold))
        + "<p class='note'>Share of incidents in the 1%, 5% and 10% of LSOAs with the most, "
        "counting LSOAs with none.</p>",
    )

    h = health(store, definition)
    loc = pub.table(
        "health",
        "locations",
        h.by_location.round(3),
        ["ae", "police"],
        {"ae_share": "ae", "police_share": "police", "gap": "ae"},
    )
    means = pub.table("health", "means_of_assault", h.by_means, ["count"])
    sharp = pub.table("health", "sharp_object_admissions", h.sharp_admissions_by_age, ["count"])
    section(
        "health",
        "A&E and hospital admissions",
        f"<p>{h.attendances:,} assault attendances; {h.admissions:,} admissions.</p>"
        "<h3>Where A&amp;E assaults happen and where police record violence</h3>"
        + str(_html_table(loc, pub.threshold))
        + "<h3>Means of assault</h3>"
        + str(_html_table(means, pub.threshold))
        + "<h3>Admissions for assault by sharp object (X99) by age band</h3>"
        + str(_html_table(sharp, pub.threshold)),
    )

    report = quality(store, settings)
    synthetic = int(report.incidents["synthetic"].sum())
    findings = _findings(definition, period, t, own, th, conc, h, pub)
    pub.figure("summary", "findings", findings)
    batches = (
        workspace.con.sql(
            "SELECT source_kind, count(*) AS batches, sum(rows_accepted) AS rows, "
            "sum(rows_rejected) AS rejected, bool_or(synthetic) AS synthetic FROM batches "
            "GROUP BY 1 ORDER BY 1"
        )
        .df()
        .astype({"rows": "int64", "rejected": "int64"})
    )
    env = Environment(
        loader=PackageLoader("svduty.report", "templates"), autoescape=select_autoescape()
    )
    seconds = time.perf_counter() - started
    html = env.get_template("sna.html.j2").render(
        title=f"Strategic Needs Assessment: {csp or settings.area or 'workspace'}",
        label=label,
        period=period,
        definition=definition,
        findings=findings,
        sections=sections,
        batches=_html_table(batches, pub.threshold),
        gaps=report.gaps.to_dict(orient="records"),
        synthetic=synthetic,
        unsuppressed=unsuppressed,
        threshold=pub.threshold,
        engine=store.name,
        version=__version__,
        built=datetime.now().strftime("%Y-%m-%d %H:%M"),
        seconds=round(seconds, 1),
    )
    target = out or workspace.reports_dir
    target.mkdir(parents=True, exist_ok=True)
    stem = "sna" if not csp else "sna-" + csp.lower().replace(" ", "-")
    paths = {"html": target / f"{stem}.html", "json": target / f"{stem}-summary.json"}
    paths["html"].write_text(html, encoding="utf-8")
    summary = {
        "definition": {
            "id": definition.id,
            "version": definition.version,
            "sha256": definition.sha256,
        },
        "period": period,
        "synthetic_records": synthetic,
        "disclosure_threshold": pub.threshold,
        "unsuppressed": unsuppressed,
        "engine": store.name,
        "sections": pub.sections,
    }
    paths["json"].write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    if pdf:
        from weasyprint import HTML

        paths["pdf"] = target / f"{stem}.pdf"
        HTML(string=html, base_url=str(target)).write_pdf(paths["pdf"])
    return paths


def _findings(
    definition: Definition,
    period: str,
    t: Any,
    own: pd.DataFrame,
    th: Any,
    conc: Any,
    h: Any,
    pub: Published,
) -> list[str]:
    """Key findings as sentences with their numbers (only figures that are published)."""
    out = []
    total = int(t.monthly["count"].sum()) if len(t.monthly) else 0
    out.append(f"{total:,} incidents met the {definition.name} definition in {period}.")
    if t.change is not None and t.change_periods:
        out.append(
            f"Year on year ({t.change_periods[1]} against {t.change_periods[0]}): "
            f"{t.change.verdict}."
        )
    if len(own) and own["count"].min() >= pub.threshold:
        top = own.iloc[0]
        overall = own["count"].sum() / own["population"].sum() * 1000
        clear = "significantly above" if top["low"] > overall else "not significantly above"
        out.append(
            f"{top['area']} had the highest rate, {top['rate']:.1f} per 1,000 residents "
            f"(95% interval {top['low']:.1f} to {top['high']:.1f}), {clear} the area's "
            f"{overall:.1f}."
        )
    for theme in th.themes:
        if theme.id in ("domestic_abuse", "youth") and theme.share is not None:
            out.append(f"{theme.name}: {theme.share:.0%} of incidents where recorded.")
    if len(conc.table):
        row = conc.table.iloc[-1]
        out.append(
            f"In {row['year']}, {row['top_5']:.0%} of incidents fell in the 5% of "
            "neighbourhoods (LSOAs) with the most."
        )
    if h.attendances and len(h.by_location):
        gap = h.by_location.iloc[0]
        out.append(
            f"A&E assaults are over-represented at {gap['location_type'].replace('_', ' ')}"
            f" ({gap['ae_share']:.0%} of attendances against {gap['police_share']:.0%} of "
            "police-recorded incidents)."
        )
    return out
