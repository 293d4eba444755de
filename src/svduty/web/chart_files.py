"""A dashboard chart as a file: the same drawing the PDF report uses (matplotlib), as SVG or PNG,
or its table as CSV. The browser draws the chart from its Vega-Lite spec; a file for a slide or
a document is drawn on the server so it matches the report exactly and needs no script."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from svduty.output import csv_text, safe_for_spreadsheets
from svduty.publish import NOT_FOR_PUBLICATION, Publication
from svduty.report.charts import Chart
from svduty.web.downloads import HIDDEN
from svduty.web.views import chart_specs

KINDS = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "csv": "text/csv; charset=utf-8",
}


def find_chart(pub: Publication, page: str, chart_id: str) -> Chart | None:
    """The chart of that id among those the page draws for this publication."""
    return next((chart for chart, _ in chart_specs(pub, page) if chart.id == chart_id), None)


def chart_table(chart: Chart) -> pd.DataFrame:
    """The values the chart draws, one row a label; hidden values left empty."""
    table = pd.DataFrame(chart.series, index=chart.labels)
    table = table.astype(object).where(table.notna(), None)
    table.index.name = chart.x_title or "label"
    return table.reset_index()


def chart_file(chart: Chart, kind: str, internal: bool, area: str, synthetic: int) -> bytes:
    """The chart drawn as `kind` (svg, png or csv). Its title names the area, and says when the
    figures include synthetic records or are unsuppressed (NOT FOR PUBLICATION), so a file
    pasted into a slide still says what it shows."""
    title = f"{chart.title} ({area})"
    if synthetic:
        title = f"SYNTHETIC data: {title}"
    if internal:
        title = f"{NOT_FOR_PUBLICATION}: {title}"
    chart = replace(chart, title=title)
    if kind == "svg":
        return ('<?xml version="1.0" encoding="utf-8"?>\n' + chart.svg()).encode()
    if kind == "png":
        return chart.png()
    table = chart_table(chart)
    if not internal:  # a hidden value reads [c] as on the page; a gap stays empty
        for name, labels in chart.hidden().items():
            table.loc[table[table.columns[0]].isin(labels), name] = HIDDEN
    else:
        table.insert(0, NOT_FOR_PUBLICATION, NOT_FOR_PUBLICATION)
    return csv_text(safe_for_spreadsheets(table)).encode()
