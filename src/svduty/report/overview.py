"""The data overview drawn from its publication: tables as published (hidden cells read [c])
and two charts of the real open data. Nothing here reads the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from svduty import __version__
from svduty.definitions.model import Definition
from svduty.publish import Publication
from svduty.report.charts import Chart, gaps
from svduty.report.published import html_table
from svduty.report.sections import shaded


def render_overview(
    pub: Publication,
    area: str | None,
    engine: str,
    synthetic_rows: int,
    missing: list[dict[Any, Any]],
    definition: Definition | None,
) -> str:
    by_month, by_category = pub.table("open", "by_month"), pub.table("open", "by_category")
    env = Environment(
        loader=PackageLoader("svduty.report", "templates"), autoescape=select_autoescape()
    )
    env.globals["table"] = html_table
    synthetic = None
    if definition is not None:
        crimes = pub.table("synthetic", "crimes")["count"]
        synthetic = {
            "crimes": pub.table("synthetic", "crimes"),
            "clauses": pub.table("synthetic", "clauses"),
            "means": pub.table("synthetic", "means"),
            "causes": pub.table("synthetic", "causes"),
            "definition": definition,
            "total": None if any(v is None for v in crimes) else int(sum(crimes)),
        }
    return env.get_template("overview.html.j2").render(
        title=f"Recorded crime overview: {area or 'workspace'}",
        area=area,
        engine=engine,
        built=datetime.now().strftime("%Y-%m-%d %H:%M"),
        version=__version__,
        threshold=pub.policy.threshold,
        synthetic_rows=synthetic_rows,
        month_chart=Chart(
            "overview-months",
            "bar",
            "Records per month",
            list(by_month["month"]),
            {"count": gaps(by_month["count"])},
            unit="Records",
            shaded=shaded(by_month),
        ).html(),
        category_chart=Chart(
            "overview-categories",
            "bar",
            "Records by crime type",
            list(by_category["category"]),
            {"count": gaps(by_category["count"])},
            unit="Records",
            horizontal=True,
        ).html(),
        by_month=by_month,
        by_category=by_category,
        by_csp=pub.table("open", "by_csp"),
        quality=pub.table("quality", "quality"),
        gaps=missing,
        batches=pub.table("lineage", "batches"),
        synthetic=synthetic,
    )
