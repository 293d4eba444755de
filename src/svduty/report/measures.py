"""Success measures drawn from a publication: a row per measure with its Making Data Count
icons, then each measure's SPC chart (or why there is none) and, for the whole area, the funnel
of its CSPs. Used by the SNA's section and by the board pack (`svduty report --measures`)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from svduty import __version__
from svduty.measures.charts import (
    ASSURANCE_WORDS,
    VARIATION_WORDS,
    funnel_figure,
    render,
    spc_figure,
)
from svduty.measures.spc import COLOURS, MIN_POINTS
from svduty.publish import Publication
from svduty.publish.measures import SECTION
from svduty.report.published import number

ASSURANCE_COLOURS = {"pass": COLOURS["improvement"], "fail": COLOURS["concern"]}
ASSURANCE_LETTERS = {"pass": "P", "fail": "F", "hit_or_miss": "?"}


def variation_icon(icon: str | None) -> Markup:
    """Making Data Count's variation icon: a circle in the variation's colour, H or L for a
    special cause on the high or low side, a level line for common cause; a dash where the
    series has no limits."""
    if icon is None:
        return Markup('<span class="note">no limits</span>')
    kind, _, side = icon.partition("_")
    colour = COLOURS["common" if kind == "common" else kind]
    mark = (
        '<path d="M7 13 H19" stroke="#fff" stroke-width="2.2"/>'
        if kind == "common"
        else (
            f'<text x="13" y="17.5" font-size="12" font-weight="bold" fill="#fff" '
            f'text-anchor="middle" font-family="DejaVu Sans, Arial, sans-serif">'
            f"{'H' if side == 'high' else 'L'}</text>"
        )
    )
    return _icon(colour, mark, VARIATION_WORDS[icon], f"variation-{icon}")


def assurance_icon(icon: str | None) -> Markup:
    """The assurance icon: P (blue) when the target is always met, F (orange) when never, ?
    (grey) when met or missed by chance; nothing without a target."""
    if icon is None:
        return Markup('<span class="note">no target</span>')
    mark = (
        '<text x="13" y="17.5" font-size="12" font-weight="bold" fill="#fff" text-anchor="middle" '
        f'font-family="DejaVu Sans, Arial, sans-serif">{ASSURANCE_LETTERS[icon]}</text>'
    )
    colour = ASSURANCE_COLOURS.get(icon, COLOURS["common"])
    return _icon(colour, mark, ASSURANCE_WORDS[icon], f"assurance-{icon}")


def _icon(colour: str, mark: str, words: str, kind: str) -> Markup:
    return Markup(
        f'<svg class="icon {kind}" width="26" height="26" viewBox="0 0 26 26" role="img" '
        f'aria-label="{escape(words)}"><title>{escape(words)}</title>'
        f'<circle cx="13" cy="13" r="12" fill="{colour}"/>{mark}</svg>'
    )


def summary_table(pub: Publication) -> str:
    """One row per measure: its latest value, icons (with its target) and change."""
    rows = pub.value(SECTION, "summary") or []
    about = {a["measure"]: a for a in pub.value(SECTION, "about") or []}
    body = []
    for row in rows:
        unit = about[row["measure"]]["unit"]
        value = about[row["measure"]]["charted"]
        latest = row["latest"]
        shown = (
            "no data"
            if row["latest_month"] is None
            else "[c]"
            if latest is None
            else f"{float(latest):.1f}%"
            if value == "share"  # already a percentage
            else f"{int(latest):,}"
            if value == "count"
            else number(value, float(latest))
        )
        body.append(
            "<tr>"
            f"<td>{escape(row['name'])}<br><span class='note'>{escape(unit)}</span></td>"
            f"<td>{escape(row['latest_month'] or '')}</td><td class='n'>{shown}</td>"
            f"<td>{variation_icon(row['variation'])}</td>"
            f"<td>{assurance_icon(row['assurance'])}{_target(row, value)}</td>"
            f"<td>{escape(row['change'])}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Measure", "Latest period", "Latest", "Variation", "Assurance", "Change")
    )
    table = (
        f"<table class='measures'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    return table + _conclusion(_overall(rows))


def _target(row: dict, value: str) -> str:
    """The framework's target under the assurance icon, in the measure's unit."""
    target = row.get("target")
    if target is None:
        return ""
    shown = f"{target:.1f}%" if value == "share" else number(value, float(target))
    return f"<br><span class='note'>target {shown}</span>"


def _overall(rows: list[dict]) -> str:
    """What the icons say together, most pressing first."""
    said = []
    for kind, words in (
        ("concern", "special cause concern"),
        ("improvement", "special cause improvement"),
        ("neither", "special cause where neither direction is better"),
        ("common", "common cause variation only"),
    ):
        n = sum(1 for r in rows if (r["variation"] or "").startswith(kind))
        if n:
            said.append(f"{n} of {len(rows)} show {words} in their latest month")
    none = sum(1 for r in rows if r["variation"] is None)
    if none:
        said.append(f"{none} have no process limits (too few months, or months hidden)")
    return "; ".join(said) + "."


def _conclusion(text: str) -> str:
    return f"<p class='conclusion'>{escape(text[:1].upper() + text[1:])}</p>"


def charts(pub: Publication) -> str:
    """Each measure's SPC chart, or the sentence saying why it is not drawn."""
    drawn = pub.extras.get("spc", {})
    about = {a["measure"]: a for a in pub.value(SECTION, "about") or []}
    html = []
    threshold = pub.policy.threshold
    for row in pub.value(SECTION, "summary") or []:
        measure = about[row["measure"]]
        html.append(f"<h3>{escape(measure['name'])}</h3>")
        result = drawn.get(row["measure"])
        if result is not None:
            title = f"{measure['name']}, {pub.id}"
            label = measure["unit"][:1].upper() + measure["unit"][1:]
            html.append(_svg(render(spc_figure(result, title, label), "svg"), title))
            icon = result.variation_icon
            html.append(
                _conclusion(
                    f"{row['latest_month']}: "
                    + (VARIATION_WORDS[icon] if icon else "a run chart, with no limits yet")
                    + f"; {row['change']}."
                )
            )
        elif row["hidden_months"]:
            html.append(
                f"<p>No chart: {row['hidden_months']} of {row['months']} months are hidden, "
                f"each counting from 1 to {threshold - 1} or hidden so that a total does not "
                "give such a count back, and limits drawn over them would give their total "
                "back. The internal report draws it.</p>"
            )
        else:
            html.append("<p>No chart: no month of the period has data for this measure.</p>")
        said = "; ".join(n for n in (measure["notes"], row.get("chart_notes")) if n)
        if said:
            html.append(f"<p class='note'>{escape(said)}.</p>")
    return "".join(html)


def funnels(pub: Publication) -> str:
    """The CSPs compared on each rate measure, where every CSP's year is published."""
    found = pub.extras.get("funnels", {})
    about = {a["measure"]: a for a in pub.value(SECTION, "about") or []}
    html = []
    for measure, funnel in found.items():
        name = about[measure]["name"]
        title = f"{name}: CSPs, {funnel['year']}"
        html.append(f"<h3>{escape(title)}</h3>")
        html.append(_svg(render(funnel_figure(funnel["result"], title), "svg"), title))
        labels = funnel["result"].frame[["area", "significance"]]
        said = "; ".join(f"{a}: {s}" for a, s in labels.itertuples(index=False))
        html.append(_conclusion(f"{said}."))
        if funnel["left_out"]:
            html.append(
                f"<p class='note'>Left out, as their count is hidden: "
                f"{escape(', '.join(funnel['left_out']))}.</p>"
            )
    return "".join(html)


def measures_section(pub: Publication) -> str:
    if not pub.has(SECTION, "summary") or not pub.value(SECTION, "summary"):
        return (
            "<p>No success measure has data here: the outcomes frameworks' measures need "
            "knife markers, victim ages or hospital admissions.</p>"
        )
    return (
        "<p>Each measure's months as an SPC chart (Making Data Count: grey common cause, blue "
        "improvement, orange concern, purple special cause where neither direction is better), "
        "its latest month, and its change by an exact test: the latest complete financial "
        "year against the framework's baseline where it sets one, else the last two complete "
        "financial years.</p>" + summary_table(pub) + charts(pub) + funnels(pub)
    )


def _svg(data: bytes, title: str) -> str:
    encoded = base64.b64encode(data).decode()
    return (
        f'<figure class="chart"><img class="chart" alt="{escape(title)}" '
        f'src="data:image/svg+xml;base64,{encoded}"></figure>'
    )


def render_pack(pub: Publication, target: Path, stem: str, pdf: bool) -> dict[str, Path]:
    """The board pack: HTML, summary JSON and (with `pdf`) PDF of the success measures."""
    env = Environment(
        loader=PackageLoader("svduty.report", "templates"), autoescape=select_autoescape()
    )
    synthetic = pub.value("sources", "synthetic_records") or 0
    html = env.get_template("measures.html.j2").render(
        title=f"Success measures: {pub.id}",
        period=pub.value("report", "period"),
        body=Markup(measures_section(pub)),
        synthetic=synthetic,
        unsuppressed=pub.policy.internal,
        threshold=pub.policy.threshold,
        min_points=MIN_POINTS,
        version=__version__,
        built=datetime.now().strftime("%Y-%m-%d %H:%M"),
    )
    target.mkdir(parents=True, exist_ok=True)
    paths = {"html": target / f"{stem}.html", "json": target / f"{stem}-summary.json"}
    paths["html"].write_text(html, encoding="utf-8")
    summary = {
        "area": pub.id,
        "period": pub.value("report", "period"),
        "synthetic_records": synthetic,
        "disclosure_threshold": pub.policy.threshold,
        "unsuppressed": pub.policy.internal,
        "measures": pub.value(SECTION, "summary") if pub.has(SECTION, "summary") else [],
        "about": pub.value(SECTION, "about") if pub.has(SECTION, "about") else [],
    }
    paths["json"].write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    if pdf:
        from weasyprint import HTML

        paths["pdf"] = target / f"{stem}.pdf"
        HTML(string=html, base_url=str(target)).write_pdf(paths["pdf"])
    return paths
