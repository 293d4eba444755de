"""Tables to the terminal, CSV or JSON: the three formats every listing command offers.

Every command line module imports `Format` from here before any command runs, so pandas is
imported by the functions that take a frame (their caller has loaded it already), not here."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Collection
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import pandas as pd


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _plain(value: Any, missing_time: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is missing_time:
        return None
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)."""
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet will not run: one starting with =, +, -, @, tab or carriage
    return gets a leading single quote. Numbers, and text that is just a number such as '-3',
    stay as they are: a spreadsheet reads them as numbers, never as formulas."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell (and column name) made safe by `safe_cell`."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    safe = frame.rename(columns=lambda c: safe_cell(str(c)))
    for column in safe.columns:
        if not is_numeric_dtype(safe[column]) and not is_bool_dtype(safe[column]):
            safe[column] = safe[column].map(safe_cell)
    return safe


class _Records(io.StringIO):
    """A text sink for Python's csv writer, which writes each record in one call. Records are
    written ending in CR LF, so that a field holding a lone carriage return is quoted (with
    "\n" alone as the terminator the writer leaves it bare, and a spreadsheet splits the row
    there), then each record's own terminator becomes "\n"."""

    def write(self, text: str) -> int:
        super().write(text[:-2] + "\n" if text.endswith("\r\n") else text)
        return len(text)


def csv_text(frame: pd.DataFrame) -> str:
    """A frame as CSV to open in a spreadsheet: formula-like text neutralised, and every field
    holding a line break quoted."""
    sink = _Records()
    safe_for_spreadsheets(frame).to_csv(sink, index=False, lineterminator="\r\n")
    return sink.getvalue()


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    import pandas as pd

    return [
        {str(k): _plain(v, pd.NaT) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def render(frame: pd.DataFrame, fmt: Format, title: str | None = None, wide: bool = False) -> str:
    """A frame in one of the formats; a `wide` table never folds or cuts a cell."""
    from pandas.api.types import is_numeric_dtype

    if fmt is Format.csv:
        return csv_text(frame)
    if fmt is Format.json:
        return json.dumps(records(frame), indent=2, default=str) + "\n"
    numeric = [is_numeric_dtype(frame[column]) for column in frame.columns]
    rows = [list(row.values()) for row in records(frame)]
    return _table_text([str(c) for c in frame.columns], numeric, rows, title, wide)


def render_rows(
    columns: list[str],
    rows: list[tuple[Any, ...]],
    fmt: Format,
    title: str | None = None,
    numeric: Collection[str] = (),
) -> str:
    """Rows of plain values (text, whole numbers, None) in one of the formats, as `render`
    writes the same rows held in a frame, for a command that has no frame to hand; the
    `numeric` columns are aligned right."""
    if fmt is Format.csv:
        sink = _Records()
        writer = csv.writer(sink, lineterminator="\r\n")
        writer.writerow([safe_cell(c) for c in columns])
        writer.writerows([safe_cell(v) for v in row] for row in rows)
        return sink.getvalue()
    if fmt is Format.json:
        listed = [dict(zip(columns, row, strict=True)) for row in rows]
        return json.dumps(listed, indent=2, default=str) + "\n"
    right = [column in numeric for column in columns]
    return _table_text(columns, right, [list(row) for row in rows], title, wide=False)


def _table_text(
    columns: list[str], numeric: list[bool], rows: list[list[Any]], title: str | None, wide: bool
) -> str:
    # every cell, heading and title as Text: a plain string would be read as Rich markup, so a
    # value such as "[/x]" in a partner's file would stop the command and "[bold]x" or ":fire:"
    # would print as something else
    table = Table(title=None if title is None else Text(title), show_lines=False)
    for column, right in zip(columns, numeric, strict=True):
        table.add_column(Text(column), justify="right" if right else "left", no_wrap=wide)
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    width = 200
    if wide:
        widths = [max(len(row[i]) for row in [columns, *cells]) for i in range(len(columns))]
        width = max(width, sum(widths) + 3 * len(widths) + 1)
    console = Console(file=io.StringIO(), width=width, record=True)
    console.print(table)
    return console.export_text()
