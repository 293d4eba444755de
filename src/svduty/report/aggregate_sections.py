"""The sections an assessment can have when the workspace holds only the Home Office tables
(counts by force or CSP, offence code and financial quarter): trends, where and what, with the
definition applied as far as offence codes allow. Drawn from the publication only."""

from __future__ import annotations

import pandas as pd
from markupsafe import escape

from svduty.report.charts import Chart, gaps
from svduty.report.published import html_table
from svduty.report.sections import Page, Section

NEEDS_RECORDS = {
    "When": "times of day need dates and times of each crime",
    "Who: victims and suspects": "profiles need victims and suspects (a force extract)",
    "Themes": "themes need markers (domestic abuse, knife, county lines...) and places",
    "Concentration": "concentration needs each crime's neighbourhood (LSOA)",
    "A&E and hospital admissions": "needs ISTV attendances or admissions from health partners",
    "Clauses needing markers": "clauses that need markers are not counted from the tables",
}


def aggregate_trends_section(page: Page) -> str:
    pub = page.pub
    quarters = pub.table("trends", "quarterly")
    return "".join(
        [
            page.chart(
                Chart(
                    "trends-quarterly",
                    "line",
                    f"Offences a quarter: {page.definition_id} as far as offence codes go",
                    list(quarters["quarter"]),
                    {"count": gaps(quarters["count"])},
                    unit="Offences",
                )
            ),
            page.table("trends", "financial_years"),
            f"<p>{escape(pub.value('trends', 'change'))}</p>",
        ]
    )


def aggregate_where_section(page: Page) -> str:
    level = page.pub.value("where", "level")
    unit = "Community Safety Partnership" if level == "csp" else "police force area"
    return (
        f"<h3>Rate per 1,000 residents a year by {unit}</h3>"
        + page.table("where", f"{level}_rates")
        + f"<p class='note'>Rates are {escape(page.pub.value('where', 'rate_basis'))}. "
        + "The Home Office tables go no finer than "
        + ("CSP" if level == "csp" else "force")
        + ": rates by district, neighbourhood or deprivation need records.</p>"
    )


def aggregate_what_section(page: Page) -> str:
    pub = page.pub
    html = [
        page.table("what", "offence_subgroups"),
        "<h3>The definition's clauses on the Home Office tables</h3>",
        page.table("what", "clauses"),
        "<p class='note'>unassessable: offences the clause might take in but cannot judge "
        "without a fact the tables lack (a marker, a place, an age).</p>",
    ]
    if pub.has("what", "weights_source"):
        total = pub.value("what", "weighted_total")
        source = pub.value("what", "weights_source")
        html.append(f"<p>Severity-weighted total {total:,.0f} (weights: {escape(source)}).</p>")
        missing = pub.value("what", "unweighted_codes")
        if missing:
            html.append(
                f"<p class='warn'>Offence codes with no weight, left out of the total: "
                f"{escape(', '.join(missing))}.</p>"
            )
    return "".join(html)


AGGREGATE_SECTIONS: tuple[Section, ...] = (
    ("trends", "Trends", aggregate_trends_section),
    ("where", "Where", aggregate_where_section),
    ("what", "What and how serious", aggregate_what_section),
)


def needs_partner_data(page: Page) -> str:
    """The sections this workspace cannot have, and why: said in the report, not left out."""
    rows = [{"section": k, "needs": v} for k, v in NEEDS_RECORDS.items()]
    unassessable = page.pub.value("what", "unassessable_clauses")
    if unassessable:
        rows[-1]["needs"] += ": " + ", ".join(unassessable)
    else:
        rows.pop()
    return str(html_table(pd.DataFrame(rows)))
