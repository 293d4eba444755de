"""Tables to the terminal, CSV or JSON: the three formats every listing command offers."""

from __future__ import annotations

import io
import json
import math
from enum import StrEnum
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): _plain(v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def render(frame: pd.DataFrame, fmt: Format, title: str | None = None) -> str:
    if fmt is Format.csv:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, lineterminator="\n")
        return buffer.getvalue()
    if fmt is Format.json:
        return json.dumps(records(frame), indent=2, default=str) + "\n"
    table = Table(title=title, show_lines=False)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in records(frame):
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(table)
    return console.export_text()
