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
from svduty.counting import Filter, counts
from svduty.definitions import load_definition
from svduty.quality import quality
from svduty.report.charts import bar_chart
from svduty.workspace import Workspace


def _masked(value: object, threshold: int) -> str:
    if isinstance(value, int | float) and not pd.isna(value) and 0 < value < threshold:
        return f"&lt;{threshold}"
    return str(
        escape("" if value is None or (isinstance(value, float) and pd.isna(value)) else value)
    )


def _table_renderer(threshold: int, masked_columns: set[str]):
    def render(frame: pd.DataFrame) -> Markup:
        head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
        rows = []
        for record in frame.astype(object).to_dict(orient="records"):
            cells = []
            for column, value in record.items():
                numeric = isinstance(value, int | float) and not isinstance(value, bool)
                text = (
                    _masked(value, threshold)
                    if column in masked_columns
                    else str(escape("" if pd.isna(value) else value))
                )
                cells.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        return Markup(
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )

    return render


def _csp_table(workspace: Workspace, area_las: tuple[str, ...]) -> pd.DataFrame:
    """The partnership's CSPs, then records with no location, then all others in one row."""
    frame = counts(
        workspace.store, "incidents", ["csp"], [Filter("source_kind", "police_uk_street")]
    ).frame
    if area_las:
        areas = workspace.store.table("areas")
        own = set(
            areas.filter(areas.la_code.isin(list(area_las)))
            .select("csp_name")
            .distinct()
            .to_pandas()["csp_name"]
        )
        frame["csp"] = frame["csp"].map(
            lambda c: c if c in own or pd.isna(c) else "Outside the partnership's area"
        )
        frame = frame.groupby("csp", dropna=False)["count"].sum().reset_index()
    frame["csp"] = frame["csp"].fillna("(no LSOA)")
    order = frame["csp"].isin(["(no LSOA)", "Outside the partnership's area"])
    return pd.concat(
        [
            frame[~order].sort_values("count", ascending=False, kind="stable"),
            frame[order].sort_values("csp", kind="stable"),
        ]
    ).reset_index(drop=True)


def _quality_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Quality rows with short labels and percentages, to fit a page."""
    table = pd.DataFrame(
        {
            "source": frame["source_kind"].str.replace("police_uk_", "police.uk ", regex=False),
            "force": frame["force"],
            "month": frame["month"],
            "rows": frame["rows"],
            "no location": frame["no_location"],
            "no location %": (100 * frame["no_location_share"]).round(1),
            "outside area": frame["outside_area"],
            "outside area %": (100 * frame["outside_area_share"]).round(1),
            "unknown LSOA": frame["unknown_lsoa"],
            "repeated crime IDs": frame["duplicate_crime_ids"],
            "synthetic": frame["synthetic"],
        }
    )
    return table.reset_index(drop=True)


def _synthetic_section(workspace: Workspace) -> dict[str, object] | None:
    """Tables for the synthetic partner data, kept apart from the real open data."""
    store = workspace.store
    only = [Filter("synthetic", "true")]
    crimes = counts(store, "incidents", ["offence_group"], only).frame
    if crimes.empty:
        return None
    definition = load_definition(workspace.settings.definition)
    clauses = counts(store, "incidents", ["clause"], only, definition).frame
    attendances = store.table("ae_attendances")
    attendances = attendances.filter(attendances.synthetic)
    means = (
        attendances.group_by("means_of_assault")
        .aggregate(count=attendances.count())
        .order_by("means_of_assault")
        .to_pandas()
    )
    admissions = store.table("admissions")
    admissions = admissions.filter(admissions.synthetic)
    causes = (
        admissions.group_by(cause="cause_code")
        .aggregate(count=admissions["count"].sum())
        .order_by("cause")
        .to_pandas()
    )
    return {
        "crimes": crimes.drop(columns="synthetic").fillna({"offence_group": "(unknown code)"}),
        "clauses": clauses.drop(columns="synthetic"),
        "definition": definition,
        "means": means,
        "causes": causes,
        "total": int(crimes["count"].sum()),
    }


def build_overview(workspace: Workspace, out: Path | None = None) -> Path:
    store, settings = workspace.store, workspace.settings
    threshold = settings.disclosure_threshold
    open_data = [Filter("source_kind", "police_uk_street")]
    by_month = counts(store, "incidents", ["month"], open_data).frame
    by_category = counts(store, "incidents", ["category"], open_data).frame
    report = quality(store, settings)
    by_csp = _csp_table(workspace, report.area_las)
    batches = workspace.con.sql(
        "SELECT batch_id, source_kind, file_name, left(sha256, 12) AS sha256_prefix, rows_read, "
        "rows_accepted, rows_rejected, status, synthetic FROM batches ORDER BY batch_id"
    ).df()
    batches["file_name"] = batches["file_name"].map(lambda p: Path(p.split("!")[-1]).name)
    quality_rows = _quality_table(report.incidents[report.incidents["rows"] > 0])
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
        month_chart=bar_chart(
            list(by_month["month"]), list(by_month["count"]), "Records per month"
        ),
        category_chart=bar_chart(
            list(by_category["category"]),
            list(by_category["count"]),
            "Records by crime type",
            horizontal=True,
        ),
        by_month=by_month,
        by_category=by_category,
        by_csp=by_csp,
        quality=quality_rows,
        gaps=report.gaps.to_dict(orient="records"),
        batches=batches,
        synthetic=_synthetic_section(workspace),
    )
    target = out or workspace.reports_dir / "overview.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    workspace.audit("overview", {"area": settings.area}, [target])
    return target
