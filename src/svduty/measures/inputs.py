"""The small CSV files the measures read: every problem is one line naming the file, the line
(the header is line 1) and the column, and saying what was expected."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from svduty.errors import InputError


@dataclass(frozen=True)
class Row:
    """One data row: its line in the file and its cells by column name."""

    path: Path
    line: int
    cells: dict[str, str]

    def where(self, column: str) -> str:
        return f"{self.path}, line {self.line}, column {column!r}"

    def text(self, column: str) -> str:
        return self.cells[column].strip()

    def number(self, column: str) -> float:
        text = self.text(column)
        if not text:
            raise InputError(f"{self.where(column)}: empty; a number is needed")
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"{self.where(column)}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise InputError(f"{self.where(column)}: {text!r} is not a finite number")
        return value

    def count(self, column: str) -> int:
        """A whole number of events or people, zero or more."""
        value = self.number(column)
        if value < 0 or value != int(value):
            raise InputError(
                f"{self.where(column)}: {self.text(column)!r} is not a whole number of zero or more"
            )
        return int(value)

    def day(self, column: str) -> date:
        """A date as YYYY-MM-DD (a time after it is ignored) or a month as YYYY-MM (its
        first day). Other spellings are refused: 01/02/2024 is a different day in the UK and
        the US."""
        text = self.text(column)
        try:
            if len(text) == 7:
                return date.fromisoformat(text + "-01")
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text).date()
        except ValueError:
            raise InputError(
                f"{self.where(column)}: {text!r} is not a date; write YYYY-MM-DD or YYYY-MM"
            ) from None


def read_rows(path: Path, columns: Sequence[str]) -> list[Row]:
    """The file's data rows, blank lines skipped, after checking that every named column is in
    the header."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: the file is empty (no header line)")
            names = [name.strip() for name in header]
            missing = [column for column in columns if column not in names]
            if missing:
                raise InputError(
                    f"{path}, line 1: no column {', '.join(repr(m) for m in missing)}; "
                    f"the columns are {', '.join(repr(n) for n in names)}"
                )
            rows = []
            for fields in reader:
                if not any(field.strip() for field in fields):
                    continue
                if len(fields) != len(names):
                    raise InputError(
                        f"{path}, line {reader.line_num}: {len(fields)} fields where the header "
                        f"has {len(names)}"
                    )
                rows.append(Row(path, reader.line_num, dict(zip(names, fields, strict=True))))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: a folder, not a CSV file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; save the file as CSV (UTF-8)") from None
    except csv.Error as error:
        raise InputError(f"{path}: not readable as CSV ({error})") from None
    if not rows:
        raise InputError(f"{path}: the file has a header but no data rows")
    return rows
