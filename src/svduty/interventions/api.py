"""The catalogue's operations on a workspace: import, add, edit, end, export.

Each change is checked with the same rules as a spreadsheet row (an edit is checked as the
whole intervention it makes), so the command line, Python and a later dashboard cannot store
different things. Writes need the workspace opened as its writer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svduty.errors import InputError
from svduty.interventions import store
from svduty.interventions.areas import AreaIndex
from svduty.interventions.files import read_table, write_catalogue
from svduty.interventions.layout import (
    FUNDING_COLUMNS,
    NAMES,
    Checked,
    Problem,
    check_rows,
    to_cells,
)
from svduty.interventions.model import Intervention
from svduty.reference.places import places

if TYPE_CHECKING:
    from svduty.workspace import Workspace


class CatalogueProblems(InputError):
    """A catalogue (file or change) that fails its checks: every problem, with row and column."""

    def __init__(self, source: str, problems: tuple[Problem, ...]) -> None:
        self.source = source
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(
            f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}, nothing "
            f"stored: {shown}{more}"
        )


class NoFundedPeriod(InputError):
    """A funding end given for an intervention with no funded period: it would make a period
    with no start, so the start must be given with it."""

    def __init__(self, ident: str, given: str, needed: str) -> None:
        self.ident, self.given, self.needed = ident, given, needed
        super().__init__(
            f"{given}: {ident} has no funded period to change; give {needed} as well to add one"
        )


@dataclass(frozen=True)
class Imported:
    path: Path
    rows: int
    saved: store.Saved
    untouched: tuple[str, ...]
    """Ids in the workspace the file does not name (an import never removes one)."""


def area_index(ws: Workspace) -> AreaIndex:
    return AreaIndex.build(ws.settings, places(ws.store))


def check_file(ws: Workspace, path: Path | str) -> Checked:
    """A catalogue file read and checked, storing nothing."""
    header, rows = read_table(Path(path))
    return check_rows(header, rows, area_index(ws))


def import_catalogue(ws: Workspace, path: Path | str) -> Imported:
    """Every row checked; all stored in one transaction, or nothing (CatalogueProblems lists
    every problem). An unchanged intervention gets no new version."""
    path = Path(path)
    ws.store.require_writer("import interventions")
    header, rows = read_table(path)
    checked = check_rows(header, rows, area_index(ws))
    if checked.problems:
        raise CatalogueProblems(str(path), checked.problems)
    saved = store.save(
        ws,
        checked.interventions,
        "import",
        {"path": str(path.resolve()), "sha256": store.sha256(path), "rows": len(rows)},
    )
    named = {one.id for one in checked.interventions}
    untouched = tuple(one.id for one in store.current(ws) if one.id not in named)
    return Imported(path, len(rows), saved, untouched)


def _checked_one(ws: Workspace, cells: list[dict[str, str]], what: str) -> Intervention:
    rows = [(n, [c.get(name, "") for name in NAMES]) for n, c in enumerate(cells, start=2)]
    checked = check_rows(list(NAMES), rows, area_index(ws))
    if checked.problems:  # rows of no file: named by field alone
        raise CatalogueProblems(what, tuple(replace(p, row=0) for p in checked.problems))
    return checked.interventions[0]


def add(ws: Workspace, intervention: Intervention | dict[str, Any]) -> Intervention:
    """A new intervention (an Intervention, or fields by column name as in the layout)."""
    cells = (
        to_cells(intervention)
        if isinstance(intervention, Intervention)
        else [{k: as_cell(v) for k, v in intervention.items()}]
    )
    ident = cells[0].get("id", "")
    if ident and any(one.id == ident for one in store.current(ws)):
        raise InputError(f"id: {ident!r} is already in the catalogue; change it with edit")
    made = _checked_one(ws, cells, f"add {ident}")
    store.save(ws, [made], "add")
    return made


def edit(ws: Workspace, ident: str, fields: dict[str, Any], change: str = "edit") -> Intervention:
    """Change fields (by column name) of a current intervention; funding columns change its
    latest funded period (or give it one). The result is checked whole; the old version is
    kept."""
    unknown = [k for k in fields if k not in NAMES or k == "id"]
    if unknown:
        raise InputError(
            f"{', '.join(unknown)}: not a field that can be edited; the fields: "
            f"{', '.join(n for n in NAMES if n != 'id')}"
        )
    old = store.get(ws, ident)
    if not old.funding and fields.get("funding_end") and not fields.get("funding_start"):
        raise NoFundedPeriod(ident, "funding_end", "funding_start")
    cells = to_cells(old)
    for key, value in fields.items():
        text = as_cell(value)
        targets = cells[-1:] if key in FUNDING_COLUMNS else cells
        for row in targets:
            row[key] = text
    made = _checked_one(ws, cells, f"{change} {ident}")
    store.save(ws, [made], change)
    return made


def end(ws: Workspace, ident: str, on: date | str, today: date | None = None) -> Intervention:
    """Mark an intervention ended on a day (its previous version kept).

    The day must have come (by `today`, the local date unless given): the status is stored,
    not worked out from dates, so an intervention marked ended on a day to come would read as
    ended while it still runs. A planned end is its funding end (`edit` funding_end). Ending
    an intervention already ended changes nothing and says so."""
    day = on if isinstance(on, date) else _day(on)
    today = today or date.today()
    if day > today:
        raise InputError(
            f"end {ident} on {day.isoformat()}: that day is still to come (today is "
            f"{today.isoformat()}); end it on or after its last day, and record a planned end "
            "as its funding end (edit --funding-end)"
        )
    old = store.get(ws, ident)
    if old.status == "ended":
        when = f" on {old.ended_on.isoformat()}" if old.ended_on else ""
        raise InputError(
            f"end {ident}: already ended{when}; nothing changed (edit --ended-on changes the day)"
        )
    return edit(ws, ident, {"status": "ended", "ended_on": day}, change="end")


def _day(text: str, name: str | None = None) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        where = f"{name} {text!r}" if name else repr(text)
        raise InputError(f"{where}: not a date (YYYY-MM-DD)") from error


def export(ws: Workspace, fmt: str, target: Path | None = None) -> bytes:
    """The current catalogue in the layout (csv, xlsx) or as JSON."""
    data = write_catalogue(store.current(ws), fmt, target)
    if target is not None:
        ws.audit("interventions export", {"format": fmt}, [target])
    return data


def as_cell(value: Any) -> str:
    """A Python value as the layout's cell text (lists joined by semicolons)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | set | frozenset):
        return "; ".join(as_cell(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
