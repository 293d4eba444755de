"""The Strategic Needs Assessment drawn from one publication: an HTML file (charts inline,
nothing loaded from the network), a PDF of the same HTML (so the page and the PDF show the same
numbers), summary.json with every figure shown, and a Vega-Lite spec per chart. A renderer knows
published tables only: nothing here reads the store."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from svduty import __version__
from svduty.definitions.model import Definition
from svduty.publish import Publication
from svduty.report.aggregate_sections import AGGREGATE_SECTIONS, needs_partner_data
from svduty.report.board import BOARD_SECTIONS, records_block
from svduty.report.gaps import GAP_SECTIONS
from svduty.report.published import html_table
from svduty.report.sections import RECORD_SECTIONS, Page
from svduty.vocabulary import source_kind_label


def render(
    pub: Publication,
    definition: Definition,
    target: Path,
    stem: str,
    pdf: bool,
    weights: Any,
    started: float,
) -> dict[str, Path]:
    """Draw one publication as HTML, summary.json, Vega-Lite specs and (with `pdf`) PDF."""
    records = bool(pub.provenance["records"])
    page = Page(pub, definition.id)
    sections = []
    chosen = RECORD_SECTIONS + GAP_SECTIONS if records else AGGREGATE_SECTIONS
    for key, title, build in chosen + BOARD_SECTIONS:
        sections.append({"key": key, "title": title, "body": Markup(build(page))})
    missing = None if records else Markup(needs_partner_data(page))
    synthetic = pub.value("sources", "synthetic_records") or 0
    threshold = pub.policy.threshold
    partnership = pub.provenance.get("partnership", "")
    env = Environment(
        loader=PackageLoader("svduty.report", "templates"), autoescape=select_autoescape()
    )
    env.filters["source_kind_label"] = source_kind_label
    html = env.get_template("sna.html.j2").render(
        title=f"Strategic Needs Assessment: {pub.id}",
        label=f"{definition.name} ({definition.id} v{definition.version})",
        header=_header(pub.id, definition, page.period),
        period=page.period,
        coverage=_coverage(pub),
        rate_basis=pub.value("where", "rate_basis") if pub.has("where", "rate_basis") else None,
        requested=pub.provenance["period"],
        definition=definition,
        partnership=partnership,
        foreign=bool(definition.area and partnership and definition.area != partnership),
        findings=pub.value("summary", "findings"),
        records=records_block(page),
        sections=sections,
        missing=missing,
        batches=html_table(pub.table("sources", "batches")),
        gaps=pub.value("sources", "gaps"),
        synthetic=synthetic,
        unsuppressed=pub.policy.internal,
        threshold=threshold,
        weights=weights,
        need_method=pub.value("gaps", "about")["method"] if pub.has("gaps", "about") else None,
        engine=pub.provenance["engine"],
        version=__version__,
        built=datetime.now().strftime("%Y-%m-%d %H:%M"),
        seconds=round(time.perf_counter() - started, 1),
    )
    target.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": target / f"{stem}.html",
        "json": target / f"{stem}-summary.json",
        "charts": target / f"{stem}-charts.json",
    }
    paths["html"].write_text(html, encoding="utf-8")
    summary: dict[str, Any] = {
        "definition": pub.provenance["definition"],
        "period": page.period,
        "requested_period": pub.provenance["period"],
        "area": pub.id,
        "records": records,
        "synthetic_records": synthetic,
        "disclosure_threshold": threshold,
        "unsuppressed": pub.policy.internal,
        "engine": pub.provenance["engine"],
        "weights": None if weights is None else weights.source,
        "provenance": pub.provenance,
        "suppressed": {
            "primary": pub.primary,
            "secondary": pub.secondary,
            "unprotected": pub.unprotected,
        },
        "count_columns": pub.count_columns,
        "sections": pub.sections(),
    }
    paths["json"].write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    charts = {chart.id: chart.vega_lite() for chart in page.charts}
    paths["charts"].write_text(json.dumps(charts, indent=1), encoding="utf-8")
    if pdf:
        from weasyprint import HTML

        paths["pdf"] = target / f"{stem}.pdf"
        HTML(string=html, base_url=str(target)).write_pdf(paths["pdf"])
    return paths


def _header(area: str, definition: Definition, period: str) -> Markup:
    """The running header as a CSS string: short enough for one line whatever the definition
    is called (the page cuts what is left with an ellipsis)."""
    return css_string(f"{area} · {period} · {definition.id} v{definition.version}")


def css_string(text: str) -> Markup:
    """Text inside a CSS string in a <style> element: quotes, backslashes, markup and
    anything beyond ASCII as CSS escapes (HTML entities are not read there)."""
    return Markup(
        "".join(
            c if c.isascii() and c.isprintable() and c not in '"\\<>&' else f"\\{ord(c):x} "
            for c in text
        )
    )


def _coverage(pub: Publication) -> str | None:
    """ "21 of 94 months with data" when some months of the period have none."""
    if not pub.has("report", "months_with_data"):
        return None
    held, months = pub.value("report", "months_with_data"), pub.value("report", "months")
    return None if held == months else f"{held} of {months} months with data"
