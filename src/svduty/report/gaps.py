"""The SNA's "Interventions and gaps" section, drawn from the publication's gap tables: ranked
gaps and flags in sentences, the map of need and cover, need by theme and cohort, and the
interventions serving the area, then how need is scored."""

from __future__ import annotations

import pandas as pd
from markupsafe import escape

from svduty.interventions.gaps import GAP_KINDS
from svduty.report.published import prose
from svduty.report.sections import Page, Section, _png

SHOWN = 12
"""Gaps and flags listed in the report; the rest are counted and left to `svduty gaps`."""


def gaps_section(page: Page, tables: bool = True) -> str:
    """The section; without `tables`, its sentences, map and method only (the dashboard shows
    the tables itself, each with its downloads)."""
    pub = page.pub
    if not pub.has("gaps", "about"):
        return "<p>No gap analysis: it needs crime records (need is read from them).</p>"
    about = pub.value("gaps", "about")
    findings = pub.table("gaps", "findings")
    gaps = findings[findings["kind"].isin(GAP_KINDS)]
    flags = findings[~findings["kind"].isin(GAP_KINDS)]
    html = [
        f"<p>Need in {escape(about['area'])} is read from this assessment's published figures "
        f"({escape(about['definition'])}, {escape(about['period'])}); provision from the "
        f"interventions catalogue as it stood on {escape(about['as_of'])} "
        f"({about['catalogue']} interventions). An intervention covers a need when it serves the "
        "area, overlaps the cohort's ages and works on the theme; it is running unless it has "
        "ended, its funding has ended or it is only planned.</p>"
    ]
    if not about["catalogue"]:
        html.append(
            "<p class='warn'>This workspace has no interventions catalogue, so every need "
            "scored medium or high is listed as uncovered. Import one with "
            "<code>svduty interventions import</code>.</p>"
        )
    html.append(_listed("Gaps, ranked by need", gaps))
    html.append(_listed("Flags", flags))
    drawn = pub.table("gaps", "map")
    outlines = pub.extras.get("outlines")
    if outlines is not None and len(drawn):
        from svduty.interventions.gaps_map import gaps_map, map_title

        title = map_title(
            drawn, about["definition"], about["period"], about["as_of"], pub.policy.internal
        )
        html.append(_png(gaps_map(drawn, outlines, title), title))
    if tables:
        html += _tables(page, about)
    rules = "".join(f"<li>{prose(rule)}</li>" for rule in about["method"])
    html.append(
        "<h3>How need is scored</h3><p class='note'>Points for each fact, added up (set in "
        f"<code>svduty.toml</code> under <code>[need]</code>):</p><ul class='note'>{rules}</ul>"
        f"<p class='note'>Hotspots: {prose(about['hotspots'])}</p>"
    )
    return "".join(html)


def _tables(page: Page, about: dict) -> list[str]:
    """Need by theme and cohort, and the interventions serving the area."""
    pub = page.pub
    html = [f"<h3>Need in {escape(about['area'])}, by theme and cohort</h3>"]
    html.append(page.table("gaps", "needs"))
    if about.get("unplaced_ages"):
        html.append(
            f"<p class='note'>{about['unplaced_ages']:,} incidents in {escape(about['area'])} "
            "have no recorded age for any victim or suspect: they count for all ages but for "
            "no age band.</p>"
        )
    html.append(f"<h3>Interventions serving {escape(about['area'])}</h3>")
    serving = pub.table("gaps", "interventions")
    if len(serving):
        html.append(page.table("gaps", "interventions", drop=("illustrative",)))
        invented = serving[serving["illustrative"].astype(bool)]
        if len(invented):
            listed = "; ".join(
                f"{name} ({fields})"
                for name, fields in zip(
                    invented["intervention"], invented["illustrative"], strict=True
                )
            )
            html.append(
                f"<p class='note'>ILLUSTRATIVE values, invented for the example where the "
                f"sources give none: {escape(listed)}.</p>"
            )
    else:
        html.append("<p>None in the catalogue.</p>")
    return html


def _listed(title: str, frame: pd.DataFrame) -> str:
    if not len(frame):
        return f"<h3>{title}</h3><p>None.</p>"
    items = "".join(f"<li>{escape(s)}</li>" for s in frame["sentence"].head(SHOWN))
    more = (
        f"<p class='note'>{len(frame) - SHOWN} more are listed by <code>svduty gaps</code>.</p>"
        if len(frame) > SHOWN
        else ""
    )
    return f"<h3>{title} ({len(frame)})</h3><ol>{items}</ol>{more}"


GAP_SECTIONS: tuple[Section, ...] = (("gaps", "Interventions and gaps", gaps_section),)
