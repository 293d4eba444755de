"""Adapters driven by a column mapping: record-level police extracts (crimes and people), A&E
attendances in the ISTV minimum dataset (CSV or XML), hospital admissions for assault, youth
justice contacts and school exclusions.

Every source column is read as text; the mapping says how each becomes a canonical field, and
each field kind brings its check (a date in the stated format, a code from the stated values, a
number in range). A value that fails its check rejects the row with the column, value and reason.
"""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any
from xml.sax import SAXException, SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import Locator

import defusedxml.sax
import duckdb
from defusedxml import DefusedXmlException

from svduty.errors import InputError
from svduty.identity.keys import KEY_TABLE, PersonKeySecret, key_sql
from svduty.identity.normalise import DEFAULT_DATE_FORMAT, FIELDS
from svduty.linkage.bloom import BLOCK_KEYS, SUFFIX
from svduty.mapping import Column, Mapping, MarkerSource, Part
from svduty.reference import data_path
from svduty.reference.forces import canonical_force
from svduty.sources.base import (
    LSOA_PATTERN,
    SOURCE_LINE,
    Check,
    CsvAdapter,
    StageResult,
    force_map,
    sql_text,
)
from svduty.sources.coordinates import fill_missing_pair
from svduty.vocabulary import MARKERS, marker_column

KEY_PATTERN = "[0-9a-fA-F]{64}"
BASE64_PATTERN = "[A-Za-z0-9+/]+={0,2}"
IDENTIFIER_PREFIX = "_identifier_"
"""Columns of the staged projection holding identifiers on their way to the restricted store;
the analytic tables take only their own columns, so these never reach them."""
CODE_PATTERN = r"[0-9]+(\.[0-9]+)?[A-Z]?(/[0-9]+(\.[0-9]+)?[A-Z]?)*"
ICD10_PATTERN = r"[A-Z][0-9]{2}(\.?[0-9X]{1,2})?"
KINDS = {
    "crimes": "police_extract_crimes",
    "people": "police_extract_people",
    "istv": "istv",
    "admissions": "admissions",
    "youth_justice": "youth_justice",
    "exclusions": "exclusions",
}
MONTH_FROM = {"istv": "arrived_at", "youth_justice": "started_on", "exclusions": "started_on"}
"""The field each dated part's month is derived from."""


def _raw(column: str) -> str:
    return f"nullif(trim(s.{_quote(column)}), '')"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _mapped(column: Column) -> str:
    """The canonical value of an enum or code column: the mapped code, or the value itself when it
    is already canonical (enums) or unmapped (codes)."""
    raw = _raw(column.column)
    cases = " ".join(f"WHEN {sql_text(k)} THEN {sql_text(v)}" for k, v in column.values)
    field = column.field
    if field.kind == "enum":
        choices = ", ".join(sql_text(c) for c in field.choices)
        fallback = f"CASE WHEN lower({raw}) IN ({choices}) THEN lower({raw}) END"
    else:
        fallback = raw
    return f"(CASE {raw} {cases} ELSE {fallback} END)" if cases else fallback


def value_sql(column: Column, salt: str) -> str:
    """SQL for a field's canonical value from the staged row `s`."""
    raw = _raw(column.column)
    kind = column.field.kind
    if kind in ("timestamp", "month"):
        return f"try_strptime({raw}, {sql_text(column.format or '')})"
    if kind == "date":
        return f"CAST(try_strptime({raw}, {sql_text(column.format or '')}) AS DATE)"
    if kind == "int":
        return f"try_cast({raw} AS INTEGER)"
    if kind == "double":
        return f"try_cast({raw} AS DOUBLE)"
    if kind in ("enum", "code"):
        return _mapped(column)
    if kind == "flag":
        return (
            f"CASE WHEN lower({raw}) IN ('y', 'yes', 'true', '1') THEN true "
            f"WHEN lower({raw}) IN ('n', 'no', 'false', '0') THEN false END"
        )
    if column.pseudonymise:
        return f"CASE WHEN {raw} IS NOT NULL THEN sha256({sql_text(salt)} || {raw}) END"
    return raw


def column_checks(column: Column, salt: str) -> list[Check]:
    raw, field, name = _raw(column.column), column.field, column.column
    value = value_sql(column, salt)
    checks = []
    if field.required:
        checks.append(
            Check(
                name, f"{raw} IS NULL", sql_text(f"{name} is empty; {field.name} is required"), raw
            )
        )
    if field.kind in ("timestamp", "date", "month"):
        checks.append(
            Check(
                name,
                f"{raw} IS NOT NULL AND {value} IS NULL",
                sql_text(f"{name} is not a date in the format {column.format}"),
                raw,
            )
        )
    elif field.kind in ("int", "double"):
        word = "whole number" if field.kind == "int" else "number"
        bounds = []
        if field.low is not None:
            bounds.append(f"{value} < {field.low}")
        if field.high is not None:
            bounds.append(f"{value} > {field.high}")
        out = " OR ".join(bounds) or "false"
        limits = f" from {field.low:g}" if field.low is not None else ""
        limits += f" to {field.high:g}" if field.high is not None else ""
        checks.append(
            Check(
                name,
                f"{raw} IS NOT NULL AND ({value} IS NULL OR {out})",
                sql_text(f"{name} must be a {word}{limits}"),
                raw,
            )
        )
    elif field.kind == "enum":
        codes = ", ".join(k for k, _ in column.values)
        allowed = f"{codes} (or {', '.join(field.choices)})" if codes else ", ".join(field.choices)
        checks.append(
            Check(
                name,
                f"{raw} IS NOT NULL AND {value} IS NULL",
                sql_text(f"{name} must be one of {allowed}"),
                raw,
            )
        )
    elif field.kind == "lsoa":
        checks.append(
            Check(
                name,
                f"NOT regexp_full_match({raw}, {sql_text(LSOA_PATTERN)})",
                "'malformed LSOA code (expected E01 or W01 and six digits)'",
                raw,
            )
        )
    elif field.kind == "code":
        checks.append(
            Check(
                name,
                f"NOT regexp_full_match({value}, {sql_text(CODE_PATTERN)})",
                sql_text(f"{name} is not a Home Office offence code (e.g. 8N, 34B)"),
                raw,
            )
        )
    elif field.kind == "flag":
        checks.append(
            Check(
                name,
                f"{raw} IS NOT NULL AND {value} IS NULL",
                sql_text(f"{name} must be Y or N"),
                raw,
            )
        )
    elif field.kind == "icd10":
        checks.append(
            Check(
                name,
                f"NOT regexp_full_match({raw}, {sql_text(ICD10_PATTERN)})",
                sql_text(f"{name} is not an ICD-10 code (e.g. X99)"),
                raw,
            )
        )
    return checks


def marker_sql(sources: list[MarkerSource]) -> str:
    """TRUE when any source says the marker is present, FALSE when a source records it absent,
    NULL when no source records it."""
    parts = []
    for source in sources:
        raw = _raw(source.column)
        trues = ", ".join(sql_text(v) for v in source.true_values)
        if source.separator is not None:
            parts.append(
                f"coalesce(len(list_intersect(list_transform(string_split({raw}, "
                f"{sql_text(source.separator)}), lambda x: trim(x)), [{trues}])) > 0, false)"
            )
        else:
            falses = ", ".join(sql_text(v) for v in source.false_values) or "NULL"
            parts.append(
                f"CASE WHEN {raw} IN ({trues}) THEN true WHEN {raw} IN ({falses}) THEN false END"
            )
    if len(parts) == 1:
        return parts[0]
    # any true -> true; else any false -> false; else null
    return (
        f"(CASE WHEN {' OR '.join(f'coalesce({p}, false)' for p in parts)} THEN true "
        f"WHEN {' OR '.join(f'({p}) IS NOT NULL' for p in parts)} THEN false END)"
    )


class MappedAdapter(CsvAdapter):
    """One part of a mapping (crimes, people, istv, admissions, youth_justice or exclusions) as a
    source kind.

    A part that makes person keys from identifiers reads two layouts: `clear` (the partner's
    extract with its identifier columns: the key is made here and the identifiers go to the
    restricted store) and `keyed` (the extract after `svduty pseudonymise`: the key column is
    read as it is). Other parts have one layout, `mapped`."""

    def __init__(
        self,
        mapping: Mapping,
        part: Part,
        salt: str,
        partnership: PersonKeySecret | None = None,
    ) -> None:
        self.mapping, self.part, self.salt = mapping, part, salt
        self.partnership = partnership
        self.secret = partnership or PersonKeySecret(salt.encode(), "workspace salt")
        self.kind = KINDS[part.name]
        self.table = part.table
        self.description = f"{part.name} mapped by {mapping.id} ({mapping.path.name})"
        self._columns = {c.field.name: c for c in part.columns}
        self._encoded: list[str] = []

    def encoding_columns(self) -> list[str]:
        """Columns of a Bloom-encoded extract of this part (`svduty pseudonymise --encoding
        bloom`): a filter per declared identifier and the encoded blocking keys."""
        if not self.part.key_from:
            return []
        return [i.field + SUFFIX for i in self.part.identifiers] + [b.name for b in BLOCK_KEYS]

    def stored_encodings(self, header: list[str]) -> list[str]:
        """Encoding columns this file's rows bring to the restricted store: a keyed extract's
        Bloom filters and encoded blocking keys (never to the analytic tables)."""
        if self.layout(header) != "keyed":
            return []
        return [c for c in self.encoding_columns() if c in header]

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        header: list[str],
        batch_id: int,
        file_name: str,
    ) -> StageResult:
        self._encoded = self.stored_encodings(header)
        return super().stage(con, path, header, batch_id, file_name)

    def layout(self, header: list[str]) -> str | None:
        present = set(header)
        if not self.part.key_from:
            return "mapped" if self.part.source_columns <= present else None
        if self.part.identifier_columns & present:
            return "clear" if self.part.source_columns <= present else None
        return "keyed" if self.part.keyed_columns <= present else None

    def used_columns(self, layout: str | None) -> set[str]:
        """The file's columns this layout reads."""
        if layout == "keyed":
            return self.part.keyed_columns | set(self.encoding_columns())
        return self.part.source_columns

    def stored_identifiers(self, header: list[str]) -> list[str]:
        """Identifier fields this file's rows bring to the restricted store (none once the
        extract is pseudonymised)."""
        if self.layout(header) != "clear":
            return []
        return [i.field for i in self.part.identifiers]

    def withheld(self, layout: str) -> list[str]:
        """Columns whose values no reject may show: the identifiers, and a key column (a
        partner may have put a clear identifier there by mistake)."""
        if layout == "clear":
            return sorted(self.part.identifier_columns)
        if layout == "keyed" and self.part.key_column is not None:
            return [self.part.key_column.column, *self._encoded]
        return []

    def makes_key(self, layout: str) -> bool:
        """Whether person keys are made here with the secret (loaded by `prepare`)."""
        if layout == "clear":
            return True
        key = self.part.key_column
        return (
            layout == "mapped" and key is not None and key.pseudonymise and bool(self.partnership)
        )

    def _read(self, layout: str) -> list[Column]:
        """The mapped columns this layout reads (a key column is absent from a clear extract)."""
        if layout == "clear":
            return [c for c in self.part.columns if c is not self.part.key_column]
        return list(self.part.columns)

    def expected_headers(self) -> list[str]:
        layouts = [self.part.source_columns]
        if self.part.key_from:
            layouts.append(self.part.keyed_columns)
        return [", ".join(sorted(cols)) + " (any order, other columns allowed)" for cols in layouts]

    def header_problems(self, header: list[str]) -> list[str]:
        """A mapped column named twice (DuckDB's names ignore case) cannot be read: which of
        the two holds the value?"""
        read = self.used_columns(self.layout(header))
        used = [c for c in header if c in read]
        seen: dict[str, str] = {}
        problems = []
        for column in used:
            first = seen.get(column.lower())
            seen.setdefault(column.lower(), column)
            if first is not None:
                also = f" (also as {first!r})" if first != column else ""
                problems.append(
                    f"the header names the mapped column {column!r} twice{also}; svduty cannot "
                    "tell which to read"
                )
        return problems

    def column_types(self, layout: str, header: list[str]) -> dict[str, str]:
        """Every column as text. Columns the mapping does not read keep their names unless a
        name is empty or repeats another (DuckDB's names ignore case); those are renamed, as no
        check or projection refers to them."""
        used = self.used_columns(layout)
        taken = {c.lower() for c in header if c in used}
        types: dict[str, str] = {}
        for index, column in enumerate(header, start=1):
            if column in used:
                types[column] = "VARCHAR"
                continue
            name = column if column and column.lower() not in taken else f"column {index}"
            while name.lower() in taken:
                name += " (unused)"
            taken.add(name.lower())
            types[name] = "VARCHAR"
        return types

    def checks(self, layout: str) -> list[Check]:
        checks = [check for c in self._read(layout) for check in column_checks(c, self.salt)]
        checks += self._identity_checks(layout)
        for source in self.part.markers:
            if source.separator is None:
                raw = _raw(source.column)
                known = ", ".join(sql_text(v) for v in source.true_values + source.false_values)
                checks.append(
                    Check(
                        source.column,
                        f"{raw} IS NOT NULL AND {raw} NOT IN ({known})",
                        sql_text(
                            f"{source.column} must be one of "
                            f"{', '.join(source.true_values + source.false_values)}"
                        ),
                        raw,
                    )
                )
        for x, y in (("longitude", "latitude"), ("easting", "northing")):
            if x in self._columns and y in self._columns:
                rx, ry = _raw(self._columns[x].column), _raw(self._columns[y].column)
                checks.append(
                    Check(
                        self._columns[y].column,
                        f"({rx} IS NULL) <> ({ry} IS NULL)",
                        sql_text(f"only one of {x} and {y} is given"),
                        f"concat_ws(',', {rx}, {ry})",
                    )
                )
        return checks

    def _identity_checks(self, layout: str) -> list[Check]:
        """A date of birth that is not a date, a key that is not a key; their values withheld."""
        checks = []
        if layout == "clear":
            for identifier in self.part.identifiers:
                if FIELDS[identifier.field].kind != "date":
                    continue
                raw, fmt = _raw(identifier.column), identifier.format or DEFAULT_DATE_FORMAT
                checks.append(
                    Check(
                        identifier.column,
                        f"{raw} IS NOT NULL AND try_strptime({raw}, {sql_text(fmt)}) IS NULL",
                        sql_text(f"{identifier.column} is not a date in the format {fmt}"),
                        "NULL",
                    )
                )
        key = self.part.key_column
        if layout == "keyed" and key is not None:
            raw = _raw(key.column)
            checks.append(
                Check(
                    key.column,
                    f"{raw} IS NOT NULL AND NOT regexp_full_match({raw}, {sql_text(KEY_PATTERN)})",
                    sql_text(
                        f"{key.column} is not a person key (64 hexadecimal characters, as "
                        "`svduty pseudonymise` writes)"
                    ),
                    "NULL",
                )
            )
        for column in self._encoded if layout == "keyed" else []:
            raw = _raw(column)
            pattern, what = (
                (BASE64_PATTERN, "a Bloom filter (base64)")
                if column.endswith(SUFFIX)
                else (KEY_PATTERN, "an encoded blocking key (64 hexadecimal characters)")
            )
            checks.append(
                Check(
                    column,
                    f"{raw} IS NOT NULL AND NOT regexp_full_match({raw}, {sql_text(pattern)})",
                    sql_text(f"{column} is not {what}, as `svduty pseudonymise` writes"),
                    "NULL",
                )
            )
        return checks

    def person_key_sql(self, layout: str) -> str | None:
        """SQL of the person key, where this layout makes or reads one."""
        key = self.part.key_column
        if layout == "clear":
            part = self.part
            raw = {i.field: _raw(i.column) for i in part.identifiers if i.field in part.key_from}
            formats = {i.field: i.format for i in self.part.identifiers}
            return key_sql(raw, formats)
        if key is None:
            return None
        if layout == "keyed":
            return f"lower({_raw(key.column)})"
        if self.makes_key(layout):
            return key_sql({"local_id": _raw(key.column)}, {})
        return None

    def prepare(self, con: duckdb.DuckDBPyConnection, layout: str) -> None:
        if "force" in self._columns:
            force_map(con, self._columns["force"].column)
        if self.makes_key(layout):
            self.secret.load(con)

    def joins(self, layout: str) -> str:
        joins = []
        if self.makes_key(layout):
            joins.append(f"CROSS JOIN {KEY_TABLE} k")
        if "force" in self._columns:
            joins.append(
                f"LEFT JOIN _forces f ON f.raw = s.{_quote(self._columns['force'].column)}"
            )
        if self.part.name == "crimes":
            offences = data_path("offences.csv")
            joins.append(
                f"LEFT JOIN read_csv({sql_text(str(offences))}, header=true, all_varchar=true) o "
                f"ON o.offence_code = {value_sql(self._columns['offence_code'], self.salt)}"
            )
        return " ".join(joins)

    def _force(self) -> str:
        if "force" in self._columns:
            return f"coalesce(f.force, {_raw(self._columns['force'].column)})"
        constant = canonical_force(self.mapping.force) if self.mapping.force else None
        return sql_text(constant) if constant else "NULL::VARCHAR"

    def projection(self, layout: str, batch_id: int) -> str:
        values = {c.field.name: value_sql(c, self.salt) for c in self._read(layout)}
        person_key = self.person_key_sql(layout)
        if person_key is not None:
            values["person_key"] = person_key
        values.pop("force", None)
        synthetic = values.pop("synthetic", "false")
        select = [
            f"{batch_id} AS batch_id",
            "s._row AS source_line",
            f"coalesce({synthetic}, false) AS synthetic",
        ]
        select += [f"{sql} AS {name}" for name, sql in values.items()]
        name = self.part.name
        if name in ("crimes", "people"):
            select.append(f"{self._force()} AS force")
        if name == "crimes":
            when = values.get("occurred_from") or values.get("recorded_at") or "NULL::TIMESTAMP"
            fmt = self._columns.get("occurred_from") or self._columns.get("recorded_at")
            precision = "minute" if fmt and fmt.format and "%H" in fmt.format else "day"
            select += [
                "'police_extract' AS source_kind",
                f"CAST(date_trunc('month', {when}) AS DATE) AS month",
                f"CASE WHEN {when} IS NULL THEN NULL ELSE '{precision}' END AS date_precision",
                "o.police_uk_category AS category",
            ]
            for marker in MARKERS:
                sources = [m for m in self.part.markers if m.marker == marker]
                sql = marker_sql(sources) if sources else "NULL::BOOLEAN"
                select.append(f"{sql} AS {marker_column(marker)}")
        if name in MONTH_FROM:
            when = values[MONTH_FROM[name]]
            select.append(f"CAST(date_trunc('month', {when}) AS DATE) AS month")
        if layout == "clear":
            for identifier in self.part.identifiers:
                raw = _raw(identifier.column)
                if FIELDS[identifier.field].kind == "date":
                    written = identifier.format or DEFAULT_DATE_FORMAT
                    raw = f"CAST(try_strptime({raw}, {sql_text(written)}) AS DATE)"
                select.append(f'{raw} AS "{IDENTIFIER_PREFIX}{identifier.field}"')
        if layout == "keyed":
            select += [f'{_raw(c)} AS "{IDENTIFIER_PREFIX}{c}"' for c in self._encoded]
        return ", ".join(select)

    def finish(self, con: duckdb.DuckDBPyConnection, layout: str) -> str:
        if self.part.name != "crimes":
            return "_accepted"
        if "longitude" in self._columns:
            return fill_missing_pair(con, "_accepted", "wgs84")
        if "easting" in self._columns:
            return fill_missing_pair(con, "_accepted", "bng")
        return "_accepted"


FIELD_MAX_CHARS = 1 << 20
"""Longest value one XML field may hold: DuckDB's CSV reader takes lines up to 2 MB, and no
field of a partner export comes near this."""


class _Stop(Exception):
    """Ends a scan early once what was looked for is found."""


class _Located(ContentHandler):
    """A SAX handler that knows the line the parser is on."""

    def __init__(self) -> None:
        super().__init__()
        self.locator: Locator | None = None

    def setDocumentLocator(self, locator: Locator) -> None:
        self.locator = locator

    def current_line(self) -> int:
        return (self.locator.getLineNumber() or 0) if self.locator else 0


class _Records(_Located):
    """Writes one CSV row per record element: its line in the XML file, then its fields."""

    def __init__(self, path: Path, record: str, names: list[str], writer: Any) -> None:
        super().__init__()
        self.path, self.record, self.names, self.writer = path, record, names, writer
        self.depth = 0  # 0 outside a record, 1 in the record element, 2 in a field, ...
        self.line = 0
        self.values: dict[str, str] = {}
        self.field: str | None = None
        self.text: list[str] = []
        self.size = 0

    def startElement(self, name: str, attrs: Any) -> None:
        if self.depth == 0:
            if _local(name) == self.record:
                self.depth, self.line, self.values = 1, self.current_line(), {}
            return
        self.depth += 1
        if self.depth == 2:
            self.field, self.text, self.size = _local(name), [], 0

    def characters(self, content: str) -> None:
        if self.depth == 2:
            self.size += len(content)
            if self.size > FIELD_MAX_CHARS:
                raise InputError(
                    f"{self.path}:{self.current_line()}: field {self.field!r} of the record at "
                    f"line {self.line} is longer than {FIELD_MAX_CHARS:,} characters"
                )
            self.text.append(content)

    def endElement(self, name: str) -> None:
        if self.depth == 0:
            return
        if self.depth == 2 and self.field is not None:
            self.values[self.field] = "".join(self.text).strip()
        self.depth -= 1
        if self.depth == 0:
            self.writer.writerow([self.line, *(self.values.get(n, "") for n in self.names)])


class _FirstOf(_Located):
    """Finds which of several record element names comes first in a file."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names: set[str] = names
        self.found: str | None = None

    def startElement(self, name: str, attrs: Any) -> None:
        if _local(name) in self.names:
            self.found = _local(name)
            raise _Stop


def _parse(path: Path, handler: _Located) -> None:
    """Parse with entity declarations and external references refused (billion laughs, XXE);
    every failure becomes an error naming the file and line."""
    try:
        defusedxml.sax.parse(str(path), handler)
    except SAXParseException as error:
        raise InputError(
            f"{path}:{error.getLineNumber()}: not well-formed XML ({error.getMessage()})"
        ) from error
    except DefusedXmlException as error:
        raise InputError(
            f"{path}:{handler.current_line()}: refused: the XML declares entities or refers "
            f"to external ones ({error}); svduty reads plain records only"
        ) from error
    except SAXException as error:
        raise InputError(f"{path}: not readable XML ({error.getMessage()})") from error
    except (LookupError, ValueError) as error:  # an encoding Python does not know
        raise InputError(f"{path}: not readable XML ({error})") from error
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error})") from error


def first_record(path: Path, records: set[str]) -> str | None:
    """The first of `records` (element names) that occurs in an XML file, if any."""
    finder = _FirstOf(records)
    with contextlib.suppress(_Stop):
        _parse(path, finder)
    return finder.found


def xml_to_csv(path: Path, record: str, columns: set[str], target: Path) -> Path:
    """Flatten an XML file of records (one element per record, one child element per field, as
    the ISTV XML form is laid out) into CSV so it passes the same checks as a CSV export. The
    first column, SOURCE_LINE, holds each record's line in the XML file, so its rejects and
    lineage point to where the record is written."""
    names = sorted(columns)
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([SOURCE_LINE, *names])
        _parse(path, _Records(path, record, names, writer))
    return target


def _local(tag: str) -> str:
    """An element's name without namespace (`{uri}name` or `prefix:name`)."""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
