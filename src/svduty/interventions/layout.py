"""The catalogue's spreadsheet layout (CSV and xlsx), and the checks every row passes.

One row per intervention; an intervention funded over several periods takes one more row per
period, with the same `id` and only the funding cells filled (any other cell it fills must agree
with the first row). List cells (roles, themes, areas, setting, illustrative) separate their
items with semicolons. Dates are YYYY-MM-DD (or DD/MM/YYYY). Every cell is read as text: a cell
that starts with '=' is a spreadsheet formula, whose value the file does not hold, and is
refused. Rows are numbered as a spreadsheet numbers them: the header is row 1.

Header names are matched without regard to case or surrounding spaces. Checking reports every
problem at once (row, column, value, reason), every problem of every row, even of a row whose id
is refused or of a file whose header has an unknown column, so a partnership fixes its
spreadsheet in one pass; nothing is stored unless every row passes. An unknown column, vocabulary
word or YEF approach is named with the closest allowed one. Ids starting `EXAMPLE-` are the
template's example rows, and are refused so that they never reach a catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from difflib import get_close_matches
from typing import Any

from svduty.interventions import evidence
from svduty.interventions.areas import AreaIndex
from svduty.interventions.model import (
    MAX_AGE,
    ROLES,
    SETTINGS,
    SEXES,
    STATUSES,
    THEMES,
    TIERS,
    Funding,
    Intervention,
    term,
)
from svduty.output import FORMULA_STARTS


@dataclass(frozen=True)
class Column:
    name: str
    help: str
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("id", "A short, stable identifier of the intervention (letters, digits, - _ .).", True),
    Column("name", "Its name.", True),
    Column("provider", "Who delivers it."),
    Column("description", "What it does, in a sentence or two."),
    Column("tier", f"One of: {', '.join(TIERS)}.", True),
    Column("age_min", f"Youngest age served (0 to {MAX_AGE}); blank: no lower limit."),
    Column("age_max", f"Oldest age served (0 to {MAX_AGE}); blank: no upper limit."),
    Column("sex", f"One of: {', '.join(SEXES)}; blank: any."),
    Column("roles", f"Who it serves, any of: {', '.join(ROLES)}."),
    Column("themes", f"Any of: {', '.join(THEMES)}."),
    Column("areas", "Forces, CSPs of the workspace, district codes or LSOA codes it serves."),
    Column("setting", f"Any of: {', '.join(SETTINGS)} (A&E may be written A&E)."),
    Column("referral", "How people are referred to it."),
    Column("capacity_per_year", "People (or cases) it can take in a year: a whole number."),
    Column("cost_per_year", "Cost a year in pounds (£ and commas allowed)."),
    Column("funding_source", "Who funds it (one funded period a row)."),
    Column("funding_start", "First day of the funded period."),
    Column("funding_end", "Last day of the funded period."),
    Column("status", f"One of: {', '.join(STATUSES)}.", True),
    Column("ended_on", "The day it ended (status ended only)."),
    Column("yef_approach", "Its YEF Toolkit approach (see `svduty interventions approaches`)."),
    Column("evaluation_url", "A local evaluation (http:// or https:// address)."),
    Column("contact", "Who to contact."),
    Column("notes", "Anything else, such as the source of the entry."),
    Column("illustrative", "Columns whose values are invented (examples and drafts)."),
)  # fmt: skip
NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
FUNDING_COLUMNS = ("funding_source", "funding_start", "funding_end")
LISTS = ("roles", "themes", "areas", "setting", "illustrative")
HEADER_ROW = 1
EXAMPLE_PREFIX = "EXAMPLE-"
"""The ids of the template's example rows: refused on import."""
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_UK_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        shown = f" {self.value!r}" if self.value else ""
        where = f"row {self.row}, " if self.row else ""
        return f"{where}{self.column}{shown}: {self.reason}"


@dataclass(frozen=True)
class Checked:
    """The interventions of a file (in file order) and every problem found in it."""

    interventions: tuple[Intervention, ...]
    problems: tuple[Problem, ...]


def cell_text(value: Any) -> str:
    """A spreadsheet cell as text: a whole number without '.0', a date as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


CLOSE = 0.7
"""How alike (difflib's ratio) a wrong word and an allowed one must be for the allowed one to
be suggested: 'femal' (0.91) and 'nmae' (0.75) are, 'quaternary' and 'tertiary' (0.67) not."""


def did_you_mean(word: str, allowed: tuple[str, ...] | list[str]) -> str:
    """'; did you mean 'x'?' for the allowed word closest to a wrong one, or nothing."""
    found = get_close_matches(word, list(allowed), n=1, cutoff=CLOSE)
    return f"; did you mean {found[0]!r}?" if found else ""


class _Row:
    """One row's cells and the problems found in them. `present`: the columns the header has;
    a required column the header lacks is reported once, for the header, not for each row."""

    def __init__(
        self,
        number: int,
        cells: dict[str, str],
        problems: list[Problem],
        present: frozenset[str] = frozenset(NAMES),
    ) -> None:
        self.number = number
        self.cells = cells
        self.problems = problems
        self.present = present

    def fail(self, column: str, reason: str, value: str | None = None) -> None:
        shown = self.cells.get(column, "") if value is None else value
        self.problems.append(Problem(self.number, column, shown, reason))

    def failed(self, column: str) -> bool:
        return any(p.row == self.number and p.column == column for p in self.problems)

    def text(self, column: str) -> str:
        return self.cells.get(column, "")

    def choice(self, column: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        raw = self.text(column)
        if not raw:
            if default is None:
                self.require(column)
                return ""
            return default
        value = term(raw)
        if value not in allowed:
            self.fail(
                column,
                f"unknown {column}{did_you_mean(value, allowed)}; one of: {', '.join(allowed)}",
            )
        return value

    def require(self, column: str) -> None:
        """'required' for a blank cell of a column the header has (unless already refused)."""
        if not self.text(column) and column in self.present and not self.failed(column):
            self.fail(column, "required")

    def terms(self, column: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        found = tuple(term(p) for p in _items(self.text(column)))
        unknown = [
            p for p, t in zip(_items(self.text(column)), found, strict=True) if t not in allowed
        ]
        if unknown:
            hint = did_you_mean(term(unknown[0]), allowed)
            self.fail(
                column,
                f"unknown {', '.join(map(repr, unknown))}{hint}; any of: {', '.join(allowed)}",
            )
        return tuple(dict.fromkeys(found))

    def age(self, column: str) -> int | None:
        raw = self.text(column)
        if not raw:
            return None
        if not re.fullmatch(r"\d+", raw):
            self.fail(column, "an age is a whole number of years")
            return None
        value = int(raw)
        if value > MAX_AGE:
            self.fail(column, f"an impossible age (above {MAX_AGE})")
            return None
        return value

    def number_of(self, column: str, whole: bool) -> float | None:
        raw = self.text(column).replace(",", "").replace("£", "").strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value < 0 or (whole and not value.is_integer()) or value != value:
            kind = "a whole number" if whole else "a number of pounds"
            self.fail(column, f"not {kind}, zero or more")
            return None
        return value

    def day(self, column: str) -> date | None:
        raw = self.text(column)
        if not raw:
            return None
        uk = _UK_DATE.fullmatch(raw)
        try:
            if uk:
                return date(int(uk[3]), int(uk[2]), int(uk[1]))
            return date.fromisoformat(raw)
        except ValueError:
            self.fail(column, "not a date (YYYY-MM-DD or DD/MM/YYYY)")
            return None


def _items(text: str) -> list[str]:
    return [p.strip() for p in text.split(";") if p.strip()]


def header_key(name: str) -> str:
    """A header cell as matched against the layout: case and surrounding spaces aside."""
    return name.strip().lower()


def check_header(header: list[str]) -> tuple[list[Problem], list[str | None]]:
    """The header's problems, and each position's column of the layout (None: not read)."""
    problems = []
    columns: list[str | None] = []
    given = {header_key(name) for name in header}
    missing = [n for n in NAMES if n not in given]  # what a misspelt name may have meant
    for name in header:
        key = header_key(name)
        if key not in NAMES:
            problems.append(
                Problem(HEADER_ROW, name, "", f"unknown column{did_you_mean(key, missing)}; "
                        f"the columns are {', '.join(NAMES)}")
            )  # fmt: skip
            columns.append(None)
        elif key in columns:
            problems.append(Problem(HEADER_ROW, name, "", "this column is given twice"))
            columns.append(None)
        else:
            columns.append(key)
    for column in COLUMNS:
        if column.required and column.name not in columns:
            problems.append(Problem(HEADER_ROW, column.name, "", "required column missing"))
    return problems, columns


def check_rows(header: list[str], rows: list[tuple[int, list[str]]], areas: AreaIndex) -> Checked:
    """Each row (its spreadsheet row number and cells) checked; rows of one id merged into one
    intervention with one funded period a row. Every row is checked whole whatever else is
    wrong with it or the header, so one run lists every problem."""
    problems, columns = check_header(header)
    present = frozenset(c for c in columns if c is not None)
    first: dict[str, tuple[int, Intervention, dict[str, str]]] = {}
    funded: dict[str, list[tuple[int, Funding]]] = {}
    for number, values in rows:
        cells = {
            c: (values[i].strip() if i < len(values) else "")
            for i, c in enumerate(columns)
            if c is not None
        }
        if not any(cells.values()):
            continue
        row = _Row(number, cells, problems, present)
        beyond = [v for v in values[len(header) :] if v.strip()]
        if beyond:
            row.fail("(after the last column)", "a cell beyond the header's columns", beyond[0])
        for column, text in cells.items():
            if text.startswith("="):
                row.fail(column, "a spreadsheet formula: the file holds no value for it; type "
                         "the value itself")  # fmt: skip
                cells[column] = ""
            elif text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
                cells[column] = text[1:]  # the quote an export puts before such text
        ident = _checked_id(row)
        earlier = first.get(ident) if ident else None
        if earlier is not None:
            differs = [
                c for c in present
                if c not in (*FUNDING_COLUMNS, "id") and cells[c]
                and cells[c] != earlier[2].get(c, "")
            ]  # fmt: skip
            if differs:
                row.fail("id", f"duplicate id: row {earlier[0]} has it for another intervention "
                         f"({sorted(differs)[0]} differs); a further row of an id may only add a "
                         "funded period")  # fmt: skip
                _check_own_cells(row, earlier[2], areas)
                continue
        elif ident or _more_than_funding(cells):
            row.require("name")
            made = _intervention(row, ident, areas)
            if ident:
                first[ident] = (number, made, cells)
        funding = _funding(row)
        if funding is None or not ident or any(row.failed(c) for c in FUNDING_COLUMNS):
            continue
        for other_row, other in funded.get(ident, []):
            if funding.overlaps(other):
                row.fail(
                    "funding_start",
                    f"funding {_period(funding)} overlaps the period of row {other_row} "
                    f"({_period(other)}) of the same id",
                )
                break
        else:
            funded.setdefault(ident, []).append((number, funding))
    found = tuple(
        replace(one, funding=tuple(f for _, f in sorted(funded.get(ident, []), key=_start)))
        for ident, (_, one, _) in first.items()
    )
    return Checked(found, tuple(problems))


def _checked_id(row: _Row) -> str:
    """The row's id, or '' when it is missing or refused (the rest of the row is still
    checked, but not stored)."""
    ident = row.text("id")
    if not ident:
        row.require("id")
        return ""
    if not _ID.fullmatch(ident):
        row.fail("id", "an id is up to 64 letters, digits, '-', '_' or '.', starting with a "
                 "letter or digit")  # fmt: skip
        return ""
    if ident.upper().startswith(EXAMPLE_PREFIX):
        row.fail("id", "an example row of the template: replace the example rows with your "
                 "own interventions (or delete them)")  # fmt: skip
        return ""
    return ident


def _more_than_funding(cells: dict[str, str]) -> bool:
    """Whether a row fills a cell other than the id and funding (else it adds a funded period)."""
    return any(v for c, v in cells.items() if c not in (*FUNDING_COLUMNS, "id"))


def _check_own_cells(row: _Row, earlier: dict[str, str], areas: AreaIndex) -> None:
    """A row refused as a duplicate still has its own cells checked: as the intervention it
    would make over the earlier row's cells, keeping the problems of the cells it fills."""
    own = {c for c, v in row.cells.items() if v and c != "id"}
    found: list[Problem] = []
    merged = _Row(row.number, {**earlier, **{c: row.cells[c] for c in own}}, found, row.present)
    _intervention(merged, "", areas)
    _funding(merged)
    row.problems.extend(p for p in found if p.column in own)


def _start(item: tuple[int, Funding]) -> date:
    return item[1].start or date.min


def _period(funding: Funding) -> str:
    start = funding.start.isoformat() if funding.start else "(open)"
    end = funding.end.isoformat() if funding.end else "(open)"
    return f"{start} to {end}"


def _funding(row: _Row) -> Funding | None:
    source = row.text("funding_source")
    start, end = row.day("funding_start"), row.day("funding_end")
    if start and end and start > end:
        row.fail("funding_end", f"ends before it starts ({start.isoformat()})")
        return None
    if not (source or start or end):
        return None
    return Funding(source, start, end)


def _intervention(row: _Row, ident: str, areas: AreaIndex) -> Intervention:
    age_min, age_max = row.age("age_min"), row.age("age_max")
    if age_min is not None and age_max is not None and age_min > age_max:
        row.fail("age_min", f"an impossible age range: age_min is above age_max ({age_max})")
    places = []
    for text in _items(row.text("areas")):
        place, why = areas.resolve(text)
        if why:
            row.fail("areas", why, text)
        elif place is not None:
            places.append(place)
    status = row.choice("status", STATUSES)
    ended_on = row.day("ended_on")
    if ended_on is not None and status in ("planned", "running"):
        row.fail("ended_on", f"an end date, but the status is {status}")
    approach = row.text("yef_approach")
    if approach:
        found = evidence.find(approach)
        if found is None:
            closest = evidence.closest(approach)
            row.fail(
                "yef_approach",
                "not an approach of the YEF Toolkit list"
                + (f"; did you mean {closest!r}?" if closest else "")
                + " (see `svduty interventions approaches`); for a local evaluation, use "
                "evaluation_url",
            )
        else:
            approach = found.name
    url = row.text("evaluation_url")
    if url and not re.match(r"https?://\S+$", url):
        row.fail("evaluation_url", "not a web address (http:// or https://)")
    invented = tuple(_items(row.text("illustrative")))
    unknown = [c for c in invented if c not in NAMES]
    if unknown:
        row.fail("illustrative", f"not columns of the layout: {', '.join(unknown)}")
    capacity = row.number_of("capacity_per_year", whole=True)
    return Intervention(
        id=ident,
        name=row.text("name"),
        provider=row.text("provider"),
        description=row.text("description"),
        tier=row.choice("tier", TIERS),
        age_min=age_min,
        age_max=age_max,
        sex=row.choice("sex", SEXES, default="any"),
        roles=row.terms("roles", ROLES),
        themes=row.terms("themes", THEMES),
        areas=tuple(dict.fromkeys(places)),
        setting=row.terms("setting", SETTINGS),
        referral=row.text("referral"),
        capacity_per_year=int(capacity) if capacity is not None else None,
        cost_per_year=row.number_of("cost_per_year", whole=False),
        status=status,
        ended_on=ended_on,
        yef_approach=approach,
        evaluation_url=url,
        contact=row.text("contact"),
        notes=row.text("notes"),
        illustrative=tuple(c for c in invented if c in NAMES),
    )


def to_cells(one: Intervention) -> list[dict[str, str]]:
    """The layout's rows for one intervention: one per funded period (at least one)."""
    record = one.record()
    base = {}
    for name in NAMES:
        if name in FUNDING_COLUMNS:
            continue
        value = record.get(name)
        if name in LISTS:
            base[name] = "; ".join(value or [])
        elif name == "cost_per_year" and value is not None:
            base[name] = str(int(value)) if float(value).is_integer() else f"{value:.2f}"
        else:
            base[name] = "" if value is None else str(value)
    periods = one.funding or (Funding("", None, None),)
    return [
        {
            **base,
            "funding_source": f.source,
            "funding_start": f.start.isoformat() if f.start else "",
            "funding_end": f.end.isoformat() if f.end else "",
        }
        for f in periods
    ]
