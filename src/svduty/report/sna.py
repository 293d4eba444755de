"""The Strategic Needs Assessment: every analysis, through disclosure control, into one HTML file
(charts inline, nothing loaded from the network), a PDF of the same HTML, and summary.json with
every figure shown, keyed by section. The PDF and the page show the same numbers because they are
the same document.

A workspace with records gets every section; one with only the Home Office tables gets the
sections those support and a list of what needs partner data."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from svduty import __version__
from svduty.analysis.severity import Weights
from svduty.counting import Filter
from svduty.definitions import load_definition
from svduty.definitions.model import Definition
from svduty.errors import InputError
from svduty.quality import area_districts, quality
from svduty.report.aggregate_sections import (
    AGGREGATE_SECTIONS,
    aggregate_findings,
    needs_partner_data,
)
from svduty.report.published import Published, html_table
from svduty.report.sections import RECORD_SECTIONS, Context, record_findings
from svduty.workspace import Workspace


def _rows(workspace: Workspace, table: str) -> int:
    return int(workspace.store.table(table).count().to_pandas())


def build_sna(
    workspace: Workspace,
    definition: Definition | None = None,
    out: Path | None = None,
    unsuppressed: bool = False,
    pdf: bool = True,
    csp: str | None = None,
    period: list[Filter] | None = None,
    weights: Weights | None = None,
) -> dict[str, Path]:
    """Write sna[-csp].html, sna[-csp]-summary.json and (with `pdf`) sna[-csp].pdf."""
    started = time.perf_counter()
    store, settings = workspace.store, workspace.settings
    definition = definition or load_definition(settings.definition)
    if csp and settings.csps and csp not in settings.csps:
        raise InputError(f"no CSP {csp!r} in this workspace; its CSPs: {', '.join(settings.csps)}")
    records = _rows(workspace, "incidents") > 0
    aggregates = _rows(workspace, "offence_counts")
    if not records and not aggregates:
        raise InputError("the workspace holds no crime records and no Home Office tables")
    ctx = Context(
        store=store,
        settings=settings,
        definition=definition,
        filters=[*(period or []), *([Filter("csp", csp)] if csp else [])],
        pub=Published(settings.disclosure_threshold, unsuppressed),
        districts=area_districts(store, settings),
        weights=weights or workspace.weights(),
        csp=csp,
    )
    sections = []
    for key, title, build in RECORD_SECTIONS if records else AGGREGATE_SECTIONS:
        sections.append({"key": key, "title": title, "body": Markup(build(ctx))})
    findings = record_findings(ctx) if records else aggregate_findings(ctx)
    ctx.pub.figure("summary", "findings", findings)
    ctx.pub.figure("report", "period", ctx.period)
    missing = None if records else needs_partner_data(ctx)
    report = quality(store, settings)
    synthetic = int(report.incidents["synthetic"].sum()) if len(report.incidents) else 0
    batches = (
        workspace.con.sql(
            "SELECT source_kind, count(*) AS batches, sum(rows_accepted) AS rows, "
            "sum(rows_rejected) AS rejected, bool_or(synthetic) AS synthetic FROM batches "
            "GROUP BY 1 ORDER BY 1"
        )
        .df()
        .astype({"rows": "int64", "rejected": "int64"})
    )
    requested = ", ".join(str(f) for f in period or []) or "all months held"
    env = Environment(
        loader=PackageLoader("svduty.report", "templates"), autoescape=select_autoescape()
    )
    html = env.get_template("sna.html.j2").render(
        title=f"Strategic Needs Assessment: {csp or settings.area or 'workspace'}",
        label=f"{definition.name} ({definition.id} v{definition.version})",
        period=ctx.period,
        requested=requested,
        definition=definition,
        findings=findings,
        sections=sections,
        missing=None if missing is None else html_table(missing),
        batches=html_table(batches),
        gaps=report.gaps.to_dict(orient="records"),
        synthetic=synthetic,
        unsuppressed=unsuppressed,
        threshold=ctx.pub.threshold,
        weights=ctx.weights,
        engine=store.name,
        version=__version__,
        built=datetime.now().strftime("%Y-%m-%d %H:%M"),
        seconds=round(time.perf_counter() - started, 1),
    )
    target = out or workspace.reports_dir
    target.mkdir(parents=True, exist_ok=True)
    stem = "sna" if not csp else "sna-" + csp.lower().replace(" ", "-")
    paths = {"html": target / f"{stem}.html", "json": target / f"{stem}-summary.json"}
    paths["html"].write_text(html, encoding="utf-8")
    summary: dict[str, Any] = {
        "definition": {
            "id": definition.id,
            "version": definition.version,
            "sha256": definition.sha256,
        },
        "period": ctx.period,
        "requested_period": requested,
        "area": csp or settings.area,
        "records": records,
        "synthetic_records": synthetic,
        "disclosure_threshold": ctx.pub.threshold,
        "unsuppressed": unsuppressed,
        "engine": store.name,
        "weights": None if ctx.weights is None else ctx.weights.source,
        "count_columns": ctx.pub.count_columns,
        "sections": ctx.pub.sections,
    }
    paths["json"].write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    if pdf:
        from weasyprint import HTML

        paths["pdf"] = target / f"{stem}.pdf"
        HTML(string=html, base_url=str(target)).write_pdf(paths["pdf"])
    audited = ("definition", "area", "requested_period", "unsuppressed")
    workspace.audit("report", {key: summary[key] for key in audited}, paths.values())
    return paths
