"""The sections an assessment can have when the workspace holds only the Home Office tables
(counts by force or CSP, offence code and financial quarter): trends, where and what, with the
definition applied as far as offence codes allow. Everything else needs records."""

from __future__ import annotations

import pandas as pd
from markupsafe import escape

from svduty.analysis.aggregates import AggregateCounts, aggregate_counts, aggregate_trend
from svduty.analysis.where import populations, with_rates
from svduty.report.charts import line_chart
from svduty.report.published import html_table
from svduty.report.sections import Context, change_words, with_gaps

NEEDS_RECORDS = {
    "When": "times of day need dates and times of each crime",
    "Who: victims and suspects": "profiles need victims and suspects (a force extract)",
    "Themes": "themes need markers (domestic abuse, knife, county lines...) and places",
    "Concentration": "concentration needs each crime's neighbourhood (LSOA)",
    "A&E and hospital admissions": "needs ISTV attendances or admissions from health partners",
    "Clauses needing markers": "clauses that need markers are not counted from the tables",
}


def _counts(ctx: Context) -> AggregateCounts:
    if "aggregate" not in ctx.results:
        filters = list(ctx.filters)
        found = aggregate_counts(ctx.store, ctx.definition, filters)
        if ctx.settings.forces:
            frame = found.frame[found.frame["force"].isin(ctx.settings.forces)]
            found = AggregateCounts(
                frame, found.clauses, found.unassessable, found.definition, found.engine
            )
        ctx.results["aggregate"] = found
    return ctx.results["aggregate"]


def aggregate_trends_section(ctx: Context) -> str:
    found = _counts(ctx)
    t = aggregate_trend(found)
    ctx.results["aggregate_trend"] = t
    quarters = ctx.pub.table("trends", "quarterly", t.quarterly, ["count"])
    ctx.period = (
        f"{t.quarterly['quarter'].iloc[0]} to {t.quarterly['quarter'].iloc[-1]}"
        if len(t.quarterly)
        else "no counts"
    )
    years = ctx.pub.table("trends", "financial_years", t.financial_years, ["count"])
    html = [
        line_chart(
            list(quarters["quarter"]),
            with_gaps(quarters["count"]),
            f"Offences a quarter: {ctx.definition.id} as far as offence codes go",
        ),
        str(html_table(years)),
    ]
    text = "Fewer than two complete financial years: no year-on-year comparison."
    if t.change is not None and t.change_periods:
        text = f"{t.change_periods[1]} against {t.change_periods[0]}: {change_words(t.change)}."
    ctx.pub.figure("trends", "change", text)
    html.append(f"<p>{escape(text)}</p>")
    return "".join(html)


def aggregate_where_section(ctx: Context) -> str:
    found = _counts(ctx).frame
    level = "csp" if found["csp"].notna().any() else "force"
    per = found.groupby(level)["count"].sum().rename_axis("area").reset_index()
    years = max(found["financial_year"].nunique(), 1)
    frame = with_rates(per.merge(populations(ctx.store, level), on="area", how="left"), years)
    frame = frame.sort_values("rate", ascending=False).round(3).reset_index(drop=True)
    ctx.results["aggregate_rates"] = frame
    shown = ctx.pub.table(
        "where",
        f"{level}_rates",
        frame,
        ["count"],
        {"rate": "count", "low": "count", "high": "count"},
    )
    unit = "Community Safety Partnership" if level == "csp" else "police force area"
    return (
        f"<h3>Rate per 1,000 residents a year by {unit}</h3>"
        + str(html_table(shown))
        + "<p class='note'>The Home Office tables go no finer than "
        + ("CSP" if level == "csp" else "force")
        + ": rates by district, neighbourhood or deprivation need records.</p>"
    )


def aggregate_what_section(ctx: Context) -> str:
    found = _counts(ctx)
    frame = found.frame
    groups = (
        frame.groupby(["offence_group", "offence_subgroup"])["count"]
        .sum()
        .reset_index()
        .sort_values("count", ascending=False)
    )
    shown = ctx.pub.table("what", "offence_subgroups", groups, ["count"])
    clauses = ctx.pub.table("what", "clauses", found.clauses, ["counted", "unassessable"])
    html = [
        str(html_table(shown)),
        "<h3>The definition's clauses on the Home Office tables</h3>",
        str(html_table(clauses)),
        "<p class='note'>unassessable: offences the clause might take in but cannot judge "
        "without a fact the tables lack (a marker, a place, an age).</p>",
    ]
    if ctx.weights is not None:
        codes = frame.groupby("offence_code", as_index=False)["count"].sum()
        codes["weight"] = codes["offence_code"].map(ctx.weights.weights)
        codes["harm"] = (codes["count"] * codes["weight"]).round(1)
        missing = sorted(codes.loc[codes["weight"].isna(), "offence_code"])
        total = float(codes["harm"].sum())
        ctx.pub.figure("what", "weights_source", ctx.weights.source)
        ctx.pub.figure("what", "weighted_total", total)
        ctx.pub.figure("what", "unweighted_codes", missing)
        html.append(
            f"<p>Severity-weighted total {total:,.0f} (weights: {escape(ctx.weights.source)}).</p>"
        )
        if missing:
            html.append(
                f"<p class='warn'>Offence codes with no weight, left out of the total: "
                f"{escape(', '.join(missing))}.</p>"
            )
    return "".join(html)


AGGREGATE_SECTIONS = (
    ("trends", "Trends", aggregate_trends_section),
    ("where", "Where", aggregate_where_section),
    ("what", "What and how serious", aggregate_what_section),
)


def needs_partner_data(ctx: Context) -> pd.DataFrame:
    """The sections this workspace cannot have, and why: said in the report, not left out."""
    rows = [{"section": k, "needs": v} for k, v in NEEDS_RECORDS.items()]
    found = _counts(ctx)
    if found.unassessable:
        rows[-1]["needs"] += ": " + ", ".join(found.unassessable)
    else:
        rows.pop()
    return pd.DataFrame(rows)


def aggregate_findings(ctx: Context) -> list[str]:
    found, t = _counts(ctx), ctx.results["aggregate_trend"]
    out = [
        f"{found.total:,} offences in the Home Office tables fall under the offence-code clauses "
        f"of {ctx.definition.name} in {ctx.period}."
    ]
    if found.unassessable:
        out.append(
            f"{len(found.unassessable)} of {len(found.clauses)} clauses need markers the tables "
            f"do not carry ({', '.join(found.unassessable)}): the count above leaves them out."
        )
    if t.change is not None and t.change_periods:
        out.append(
            f"Year on year ({t.change_periods[1]} against {t.change_periods[0]}): "
            f"{t.change.verdict}."
        )
    rates = ctx.results.get("aggregate_rates")
    if rates is not None and len(rates) and rates["count"].iloc[0] >= ctx.pub.threshold:
        top = rates.iloc[0]
        out.append(f"{top['area']}: {top['rate']:.1f} offences a year per 1,000 residents.")
    return out
