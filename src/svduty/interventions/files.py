"""Reading a catalogue spreadsheet as text, and writing the catalogue back out.

Reading: a CSV (UTF-8, with or without a byte-order mark) or the first sheet of an xlsx
workbook, every cell as text. openpyxl is asked for the formulas, not their cached results, so a
formula cell arrives as '=...' and the checks refuse it rather than trusting a value Excel last
computed. Writing: CSV and xlsx with formula-like text neutralised (a leading single quote, as
everywhere svduty writes spreadsheets), or JSON.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from svduty.errors import InputError
from svduty.interventions.layout import NAMES, cell_text, to_cells
from svduty.interventions.model import Intervention
from svduty.output import safe_cell

FORMATS = ("csv", "xlsx", "json")


def read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and each row (with its spreadsheet row number) as text."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix not in (".csv", ".txt"):
        raise InputError(f"{path}: give a .csv or .xlsx file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: not UTF-8 text ({error.reason}); save it as CSV UTF-8"
        ) from error
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise InputError(f"{path}: the file is empty; it needs a header row ({', '.join(NAMES)})")
    header = [h.strip() for h in rows[0]]
    while header and not header[-1]:  # columns a spreadsheet left empty at the right
        header.pop()
    return header, [(n, row) for n, row in enumerate(rows[1:], start=2)]


def _read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except (BadZipFile, OSError, KeyError, ValueError) as error:
        raise InputError(f"{path}: not a readable xlsx workbook ({error})") from error
    try:
        sheet = book.worksheets[0]
        rows = [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    if not rows:
        raise InputError(f"{path}: the first sheet is empty; it needs a header row")
    header = [h.strip() for h in rows[0]]
    while header and not header[-1]:
        header.pop()
    return header, [(n, row) for n, row in enumerate(rows[1:], start=2)]


def rows_of(interventions: list[Intervention]) -> list[dict[str, str]]:
    return [cells for one in interventions for cells in to_cells(one)]


def write_catalogue(interventions: list[Intervention], fmt: str, target: Path | None) -> bytes:
    """The catalogue in the layout (CSV, xlsx) or as JSON records; written to `target` if
    given, and returned."""
    if fmt not in FORMATS:
        raise InputError(f"--format: {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "json":
        data = (json.dumps([one.record() for one in interventions], indent=2) + "\n").encode()
    elif fmt == "csv":
        sink = io.StringIO()
        writer = csv.writer(sink, lineterminator="\r\n")
        writer.writerow(NAMES)
        for cells in rows_of(interventions):
            writer.writerow([safe_cell(cells[n]) for n in NAMES])
        data = sink.getvalue().encode("utf-8")
    else:
        data = _xlsx(interventions)
    if target is not None:
        target.write_bytes(data)
    return data


NUMBERS = ("age_min", "age_max", "capacity_per_year", "cost_per_year")
"""Columns written to a workbook as numbers, not text."""


def _number(text: str) -> int | float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


def _xlsx(interventions: list[Intervention]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=False)
    for blank in list(book.worksheets):
        book.remove(blank)
    sheet = book.create_sheet("interventions")
    sheet.append(list(NAMES))
    for cells in rows_of(interventions):
        row = sheet.max_row + 1
        for column, name in enumerate(NAMES, start=1):
            number = _number(cells[name]) if name in NUMBERS else None
            if number is not None:  # a spreadsheet can add capacities and costs up
                sheet.cell(row=row, column=column, value=number)
                continue
            cell = sheet.cell(row=row, column=column, value=safe_cell(cells[name]))
            cell.data_type = "s"  # text, never a formula: openpyxl reads '=...' as a formula
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()
