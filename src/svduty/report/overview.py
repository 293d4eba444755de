"""The first report: counts by month, crime type and CSP, data quality and lineage, in HTML.

Small counts are shown as "<N" (N the workspace's disclosure threshold); the full Strategic
Needs Assessment builds on this.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from svduty import __version__
from svduty.counting import counts
from svduty.quality import quality
from svduty.report.charts import bar_chart
from svduty.workspace import Workspace


def _masked(value: object, threshold: int) -> str:
    if isinstance(value, int | float) and not pd.isna(value) and 0 < value < threshold:
        return f"&lt;{threshold}"
    return str(escape("" if value is None or (isinstance(value, float) and pd.isna(value))
                      else value))


def _table_renderer(threshold: int, masked_columns: set[str]):  # noqa: ANN202
    def render(frame: pd.DataFrame) -> Markup:
        head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
        rows = []
        for record in frame.astype(object).to_dict(orient="records"):
            cells = []
            for column, value in record.items():
                numeric = isinstance(value, int | float) and not isinstance(value, bool)
                text = (_masked(value, threshold) if column in masked_columns
                        else str(escape("" if pd.isna(value) else value)))
                cells.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    return render


def build_overview(workspace: Workspace, out: Path | None = None) -> Path:
    store, settings = workspace.store, workspace.settings
    threshold = settings.disclosure_threshold
    by_month = counts(store, "incidents", ["month"]).frame
    by_category = counts(store, "incidents", ["category"]).frame
    by_csp = counts(store, "incidents", ["csp"]).frame.fillna({"csp": "(no LSOA)"})
    by_csp = by_csp.sort_values("count", ascending=False, kind="stable")
    report = quality(store, settings)
    batches = workspace.con.sql(
        "SELECT batch_id, source_kind, file_name, left(sha256, 12) AS sha256_prefix, rows_read, "
        "rows_accepted, rows_rejected, status FROM batches ORDER BY batch_id"
    ).df()
    batches["file_name"] = batches["file_name"].map(lambda p: Path(p.split("!")[-1]).name)
    quality_rows = report.incidents[report.incidents["rows"] > 0]
    env = Environment(
        loader=PackageLoader("svduty.report", "templates"), autoescape=select_autoescape()
    )
    env.globals["table"] = _table_renderer(threshold, {"count"})
    html = env.get_template("overview.html.j2").render(
        title=f"Recorded crime overview: {settings.area or 'workspace'}",
        area=settings.area,
        engine=store.name,
        built=datetime.now().strftime("%Y-%m-%d %H:%M"),
        version=__version__,
        threshold=threshold,
        synthetic_rows=int(report.incidents["synthetic"].sum()),
        month_chart=bar_chart(list(by_month["month"]), list(by_month["count"]),
                              "Records per month"),
        category_chart=bar_chart(list(by_category["category"]), list(by_category["count"]),
                                 "Records by crime type", horizontal=True),
        by_month=by_month,
        by_category=by_category,
        by_csp=by_csp,
        quality=quality_rows,
        gaps=report.gaps.to_dict(orient="records"),
        batches=batches,
    )
    target = out or workspace.reports_dir / "overview.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target
