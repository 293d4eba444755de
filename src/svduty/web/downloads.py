"""A published table as a file to download, reading as the page does: a hidden cell is [c], a
month with no data says "no data", whole numbers stay whole, a list of records is a table, and
an unsuppressed table carries NOT FOR PUBLICATION in its first column (CSV and Excel alike)."""

from __future__ import annotations

import io
import math
import numbers
from typing import Any

import pandas as pd

from svduty.output import csv_text, safe_for_spreadsheets
from svduty.publish import NOT_FOR_PUBLICATION
from svduty.vocabulary import NO_DATA

HIDDEN = "[c]"
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_shown(frame: pd.DataFrame, internal: bool) -> pd.DataFrame:
    """The table as its page shows it, cell by cell."""
    if list(frame.columns) == ["value"] and len(frame) == 1:
        value = frame["value"].iloc[0]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            frame = pd.DataFrame(value)
        elif isinstance(value, list):
            frame = pd.DataFrame({"value": [str(v) for v in value]})
    coverage = list(frame["coverage"]) if "coverage" in frame.columns else [None] * len(frame)
    rows = []
    for row, covered in zip(frame.astype(object).itertuples(index=False), coverage, strict=True):
        cells: list[Any] = []
        for value in row:
            if _missing(value):
                cells.append("no data" if covered == NO_DATA else "" if internal else HIDDEN)
            elif isinstance(value, list | tuple):
                cells.append(", ".join(map(str, value)))
            elif isinstance(value, bool):
                cells.append(value)
            elif isinstance(value, numbers.Real) and float(value).is_integer():
                cells.append(int(float(value)))
            elif isinstance(value, numbers.Real):
                cells.append(float(value))
            else:
                cells.append(value)
        rows.append(cells)
    shown = pd.DataFrame(rows, columns=[str(c) for c in frame.columns], dtype=object)
    if internal:
        shown.insert(0, NOT_FOR_PUBLICATION, NOT_FOR_PUBLICATION)
    return safe_for_spreadsheets(shown)


def table_file(frame: pd.DataFrame, kind: str, internal: bool) -> bytes:
    """The table as CSV or Excel bytes."""
    shown = as_shown(frame, internal)
    if kind == "csv":
        return csv_text(shown).encode()
    buffer = io.BytesIO()
    shown.to_excel(buffer, index=False, engine="openpyxl")
    return buffer.getvalue()
