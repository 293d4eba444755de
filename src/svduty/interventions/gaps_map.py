"""The map of need and cover: each CSP coloured by its need for one theme and cohort, hatched
where no running intervention covers it, and labelled with incidents a year and what runs."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch

from svduty.interventions.gaps import covers, known, need_rows
from svduty.interventions.provision import Provision
from svduty.spatial.maps import Outlines, _finish, _path

LEVEL_COLOURS = {
    "high": "#b2182b",
    "medium": "#ef8a62",
    "low": "#fddbc7",
    "not shown": "#e0e0e0",
}
MAP_COLUMNS = ["area", "theme", "cohort", "level", "per_year", "running"]


def cover_rows(found: Provision, theme: str, cohort: str) -> pd.DataFrame:
    """Each area's need level, incidents a year and running interventions covering it, for
    one theme and cohort: what the map draws (published figures only)."""
    rows = []
    for need in need_rows(found.needs):
        if need["theme"] != theme or need["cohort"] != cohort:
            continue
        running = [
            item.id
            for item in found.catalogue
            if (c := covers(item, need, found.where, found.as_of)) and c.state == "running"
        ]
        rows.append(
            {
                "area": need["area"],
                "theme": need["theme_name"],
                "cohort": need["cohort_name"],
                "level": need["level"],
                "per_year": need["per_year"],
                "running": len(running),
            }
        )
    return pd.DataFrame(rows, columns=MAP_COLUMNS)


def gaps_map(rows: pd.DataFrame, outline: Outlines, title: str) -> bytes:
    """A PNG: need level per CSP, hatched where nothing running covers the need."""
    by_area = {str(r["area"]): r for r in rows.to_dict(orient="records")}
    figure = Figure(figsize=(7, 7.6))
    axes = figure.subplots()
    uncovered = False
    levels = set()
    for name, shape in outline.csps.items():
        row = by_area.get(name)
        level = str(row["level"]) if row else "not shown"
        levels.add(level)
        bare = row is not None and not row["running"]
        uncovered = uncovered or bare
        axes.add_patch(
            PathPatch(
                _path(shape),
                facecolor=LEVEL_COLOURS.get(level, "#ffffff"),
                edgecolor="#333333",
                linewidth=0.6,
                hatch="////" if bare else None,
            )
        )
        per_year = f"{round(row['per_year']):,} a year" if row and known(row["per_year"]) else "[c]"
        running = f"{row['running']} running" if row and row["running"] else "none running"
        point = shape.representative_point()
        axes.annotate(
            f"{per_year}; {running}",
            (point.x, point.y),
            xytext=(0, -11),
            textcoords="offset points",
            fontsize=6,
            ha="center",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.7},
        )
    handles = [
        Patch(
            facecolor=colour,
            edgecolor="#999999",
            label="figure hidden" if level == "not shown" else f"{level} need",
        )
        for level, colour in LEVEL_COLOURS.items()
        if level in levels
    ]
    if uncovered:
        handles.append(
            Patch(facecolor="white", edgecolor="#333333", hatch="////", label="no running cover")
        )
    axes.legend(handles=handles, loc="upper left", fontsize=7, frameon=True)
    return _finish(figure, axes, outline.area.bounds, "CSPs", outline, title)


def map_title(rows: pd.DataFrame, definition: str, period: str, as_of: str, marked: bool) -> str:
    theme, cohort = (rows["theme"].iloc[0], rows["cohort"].iloc[0]) if len(rows) else ("", "")
    return f"{theme}, {cohort}: need and running cover on {as_of}\n{definition}, {period}" + (
        "; NOT FOR PUBLICATION" if marked else ""
    )
