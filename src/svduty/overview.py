"""The data overview: counts by month, crime type and CSP, data quality and lineage, with the
synthetic partner data kept apart. Tables are published like the assessment's (small counts
hidden, totals protected) and drawn by `report.overview`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from svduty import outputs
from svduty.analysis.coverage import coverage
from svduty.counting import Filter, counts
from svduty.definitions import load_definition
from svduty.publish import Draft, Policy, publish
from svduty.publish.tables import Table
from svduty.quality import quality
from svduty.report.overview import render_overview
from svduty.workspace import Workspace

QUALITY_COUNTS = [
    "rows",
    "no location",
    "outside area",
    "unknown LSOA",
    "repeated crime IDs",
    "synthetic_rows",
]


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


def _month_table(workspace: Workspace, open_data: list[Filter]) -> pd.DataFrame:
    """Open-data records a month from the first month held to the last: a month no force's file
    holds has no count (a gap, never a zero), one some forces' files hold is partial."""
    store = workspace.store
    frame = counts(store, "incidents", ["month"], open_data).frame
    cover = coverage(store, None, open_data)
    found = frame.set_index("month")["count"]
    months = cover.months
    return pd.DataFrame(
        {
            "month": months,
            "count": pd.Series([found.get(m) for m in months], dtype="Int64"),
            "coverage": [cover.status(m) for m in months],
        }
    )


def _quality_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Quality rows with short labels and percentages, to fit a page."""
    table = pd.DataFrame(
        {
            "source_kind": frame["source_kind"],
            "force": frame["force"],
            "month": frame["month"],
            "rows": frame["rows"],
            "no location": frame["no_location"],
            "no location %": (100 * frame["no_location_share"]).round(1),
            "outside area": frame["outside_area"],
            "outside area %": (100 * frame["outside_area_share"]).round(1),
            "unknown LSOA": frame["unknown_lsoa"],
            "repeated crime IDs": frame["duplicate_crime_ids"],
            "synthetic_rows": frame["synthetic"],
        }
    )
    return table.reset_index(drop=True)


def _synthetic_tables(workspace: Workspace) -> list[Table]:
    """Tables for the synthetic partner data, kept apart from the real open data."""
    store = workspace.store
    only = [Filter("synthetic", "true")]
    crimes = counts(store, "incidents", ["offence_group"], only).frame
    if crimes.empty:
        return []
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
    crimes = crimes.drop(columns="synthetic").fillna({"offence_group": "(unknown code)"})
    return [
        Table("synthetic", "crimes", crimes, ["offence_group"], ["count"]),
        Table("synthetic", "clauses", clauses.drop(columns="synthetic"), ["clause"], ["count"]),
        Table("synthetic", "means", means, ["means_of_assault"], ["count"]),
        Table("synthetic", "causes", causes, ["cause"], ["count"]),
    ]


def build_overview(workspace: Workspace, out: Path | None = None) -> Path:
    """Write `overview-<area>-<from>-to-<to>.html` (the months of open data held) into `out`
    (default: the workspace's `reports/`) and list it in the folder's manifest."""
    store, settings = workspace.store, workspace.settings
    open_data = [Filter("source_kind", "police_uk_street")]
    report = quality(store, settings)
    quality_rows = _quality_table(report.incidents[report.incidents["rows"] > 0])
    quality_rows["synthetic_rows"] = quality_rows["synthetic_rows"].astype("int64")
    batches = workspace.con.sql(
        "SELECT batch_id, source_kind, file_name, left(sha256, 12) AS sha256_prefix, rows_read, "
        "rows_accepted, rows_rejected, status, synthetic FROM batches ORDER BY batch_id"
    ).df()
    batches["file_name"] = batches["file_name"].map(lambda p: Path(p.split("!")[-1]).name)
    batches["synthetic"] = batches["synthetic"].map({True: "yes", False: "no"})
    by_month = counts(store, "incidents", ["month"], open_data).frame
    tables = [
        Table(
            "open",
            "by_month",
            _month_table(workspace, open_data),
            ["month"],
            ["count"],
            total="open",
        ),
        Table(
            "open",
            "by_category",
            counts(store, "incidents", ["category"], open_data).frame,
            ["category"],
            ["count"],
            total="open",
        ),
        Table(
            "open",
            "by_csp",
            _csp_table(workspace, report.area_las),
            ["csp"],
            ["count"],
            total="open",
        ),
        Table(
            "quality",
            "quality",
            quality_rows,
            ["source_kind", "force", "month"],
            QUALITY_COUNTS,
            {"no location %": ["no location"], "outside area %": ["outside area"]},
        ),
        # lineage: rows per file, the same figures `svduty batches` gives any analyst
        Table("lineage", "batches", batches, ["batch_id"]),
    ]
    synthetic = _synthetic_tables(workspace)
    tables += synthetic
    pub = publish(
        [Draft(settings.area or "workspace", tables)], Policy(settings.disclosure_threshold)
    )[0]
    html = render_overview(
        pub,
        area=settings.area,
        engine=store.name,
        synthetic_rows=int(report.incidents["synthetic"].sum()),
        missing=report.gaps.to_dict(orient="records"),
        definition=load_definition(settings.definition) if synthetic else None,
    )
    months = sorted(str(month)[:7] for month in by_month["month"].dropna())
    period = (months[0], months[-1]) if months else (None, None)
    area = settings.area or "workspace"
    folder = out or workspace.reports_dir
    name = outputs.report_name("overview", area, period)
    entry = outputs.new_entry(
        None,
        workspace.actor,
        report="overview",
        selection={"area": area, "period": {"from": period[0], "to": period[1]}},
        policy={"publication": "published", "disclosure_threshold": settings.disclosure_threshold},
        data_version=workspace.data_version,
        engine=settings.engine,
    )
    with outputs.staging(folder) as scratch:
        staged = scratch / f"{name}.html"
        staged.write_text(html, encoding="utf-8")
        paths, manifest = outputs.place({"html": staged}, folder, name, {"html": ".html"}, entry)
    workspace.audit(
        "overview",
        {"area": settings.area, "run": entry["run"], "manifest": str(manifest.resolve())},
        paths.values(),
    )
    return paths["html"]
