"""Column mappings: how one partner's export maps onto svduty's canonical fields.

Forces, hospitals and councils export differently; a mapping file (YAML) names, for each canonical
field, the source column, its date format and its value codes. One file can map several parts of an
export (crimes and the people in them; A&E attendances; admissions; youth justice contacts; school
exclusions). `docs/partner-extracts.md` documents every field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svduty.vocabulary import (
    ASSAULT_MEANS,
    EXCLUSION_REASONS,
    EXCLUSION_TYPES,
    LOCATION_TYPES,
    MARKERS,
    ROLES,
    SEXES,
    YOUTH_JUSTICE_CONTACTS,
)
from svduty.yamlfile import Problems, load_located


@dataclass(frozen=True)
class Field:
    """A canonical field: its kind drives parsing and checks."""

    name: str
    kind: str  # text, timestamp, date, month, int, double, enum, lsoa, code, icd10, flag
    required: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    help: str = ""


def _f(name: str, kind: str, help: str, **options: Any) -> Field:
    return Field(name, kind, help=help, **options)


SYNTHETIC = _f("synthetic", "flag", "Y when the record is synthetic (generated, not real).")
PERSON_KEY_HELP = (
    "Pseudonymous person key: a key the extract holds already (made by `svduty pseudonymise`, "
    "or hashed again when 'pseudonymise: true'); with 'person_key_from', made from the "
    "identifiers."
)
LA_CODE = _f("la_code", "text", "Local authority responsible (GSS code, e.g. E06000051).")
DATE_FORMAT = "%Y-%m-%d"
"""The format of a date field whose mapping gives none."""

PARTS: dict[str, tuple[str, tuple[Field, ...]]] = {
    "crimes": (
        "incidents",
        (
            _f("crime_ref", "text", "The force's crime reference.", required=True),
            _f(
                "offence_code", "code", "Home Office offence code, e.g. 8N, 5D, 34B.", required=True
            ),
            _f(
                "statute",
                "text",
                "Act and section, e.g. 's20 OAPA 1861' (when the force records it).",
            ),
            _f("recorded_at", "timestamp", "When the crime was recorded."),
            _f("occurred_from", "timestamp", "Committed from (or at)."),
            _f("occurred_to", "timestamp", "Committed to, when a range."),
            _f("longitude", "double", "WGS84 longitude.", low=-8.7, high=1.8),
            _f("latitude", "double", "WGS84 latitude.", low=49.8, high=60.9),
            _f("easting", "double", "British National Grid easting (m).", low=0, high=700000),
            _f("northing", "double", "British National Grid northing (m).", low=0, high=1300000),
            _f("lsoa_code", "lsoa", "LSOA code (2011 or 2021)."),
            _f("location", "text", "Location description."),
            _f("location_type", "enum", "Type of place.", choices=LOCATION_TYPES),
            _f("outcome", "text", "Latest outcome."),
            _f("force", "text", "Force, when the export has a column for it."),
            SYNTHETIC,
        ),
    ),
    "people": (
        "involvements",
        (
            _f(
                "crime_ref",
                "text",
                "Crime reference linking the person to the crime.",
                required=True,
            ),
            _f("role", "enum", "victim, suspect or offender.", required=True, choices=ROLES),
            _f("person_key", "text", PERSON_KEY_HELP),
            _f("age", "int", "Age in years at the offence.", low=0, high=120),
            _f("sex", "enum", "Sex.", choices=SEXES),
            _f("ethnicity", "text", "Ethnicity as recorded."),
            _f("relationship", "text", "Relationship of the suspect to the victim."),
            _f("force", "text", "Force, when the export has a column for it."),
            SYNTHETIC,
        ),
    ),
    "istv": (
        "ae_attendances",
        (
            _f("attendance_ref", "text", "Attendance identifier (not a patient identifier)."),
            _f("site", "text", "Emergency department."),
            _f("arrived_at", "timestamp", "Arrival date and time at A&E.", required=True),
            _f("occurred_at", "timestamp", "Incident date and time."),
            _f("location_type", "enum", "Incident location type.", choices=LOCATION_TYPES),
            _f("location_text", "text", "Specific incident location (free text)."),
            _f("means_of_assault", "enum", "Primary means of assault.", choices=ASSAULT_MEANS),
            _f("person_key", "text", PERSON_KEY_HELP),
            _f("age", "int", "Age in years.", low=0, high=120),
            _f("sex", "enum", "Sex.", choices=SEXES),
            SYNTHETIC,
        ),
    ),
    "youth_justice": (
        "youth_justice",
        (
            _f("contact_ref", "text", "The youth justice service's reference for the contact."),
            _f("started_on", "date", "Date the contact (or order) began.", required=True),
            _f(
                "contact_type",
                "enum",
                "Kind of contact.",
                required=True,
                choices=YOUTH_JUSTICE_CONTACTS,
            ),
            _f("offence_code", "code", "Home Office offence code of the index offence."),
            _f("offence", "text", "Index offence as recorded (free text)."),
            _f("person_key", "text", PERSON_KEY_HELP),
            _f("age", "int", "Age in years when the contact began.", low=0, high=25),
            _f("sex", "enum", "Sex.", choices=SEXES),
            LA_CODE,
            SYNTHETIC,
        ),
    ),
    "exclusions": (
        "exclusions",
        (
            _f("exclusion_ref", "text", "The school's or council's reference for the exclusion."),
            _f("started_on", "date", "Date the exclusion began.", required=True),
            _f(
                "exclusion_type",
                "enum",
                "Permanent exclusion or suspension.",
                required=True,
                choices=EXCLUSION_TYPES,
            ),
            _f(
                "reason",
                "enum",
                "Reason, in the DfE's categories (school census codes PP, PA, VP, VA, OW, BU, "
                "RA, LG, DS, SM, DA, DM, TH, PD, MT, PH; OT before 2020/21).",
                choices=EXCLUSION_REASONS,
            ),
            _f("school", "text", "School (name or URN)."),
            _f("person_key", "text", PERSON_KEY_HELP),
            _f("age", "int", "Age in years when excluded.", low=2, high=19),
            _f("sex", "enum", "Sex.", choices=SEXES),
            LA_CODE,
            SYNTHETIC,
        ),
    ),
    "admissions": (
        "admissions",
        (
            _f("month", "month", "Month of admission.", required=True),
            _f("area_code", "text", "Area of residence (LSOA or district code).", required=True),
            _f("age_band", "text", "Age band, e.g. 0-17, 18-24."),
            _f("sex", "enum", "Sex.", choices=SEXES),
            _f("cause_code", "icd10", "ICD-10 external cause, e.g. X99.", required=True),
            _f("count", "int", "Number of admissions.", required=True, low=0),
            SYNTHETIC,
        ),
    ),
}


@dataclass(frozen=True)
class Column:
    """Where one canonical field comes from."""

    field: Field
    column: str
    format: str | None = None
    values: tuple[tuple[str, str], ...] = ()
    pseudonymise: bool = False


@dataclass(frozen=True)
class MarkerSource:
    """Markers from one flags column (codes separated) or from one column per marker."""

    marker: str
    column: str
    true_values: tuple[str, ...]
    false_values: tuple[str, ...] = ()
    separator: str | None = None


@dataclass(frozen=True)
class Identifier:
    """A column holding an identifier (svduty.identity.normalise.IDENTIFIER_FIELDS): read to make
    the person key and kept in the restricted identifiers store, never in an analytic table."""

    field: str
    column: str
    format: str | None = None


KEYED_PARTS = ("people", "istv", "youth_justice", "exclusions")
"""Parts whose rows are people, so may declare identifiers and make person keys from them."""
PERSON_KEY_COLUMN = "Person Key"
"""The column `svduty pseudonymise` writes keys to when the mapping names none."""


@dataclass(frozen=True)
class Part:
    name: str
    table: str
    columns: tuple[Column, ...]
    markers: tuple[MarkerSource, ...] = ()
    xml_record: str | None = None
    identifiers: tuple[Identifier, ...] = ()
    key_from: tuple[str, ...] = ()
    """Identifier fields the person key is made from; empty: the key (if any) is a column."""

    @property
    def key_column(self) -> Column | None:
        """Where a key already made is read: an extract svduty pseudonymised, or a key column."""
        return next((c for c in self.columns if c.field.name == "person_key"), None)

    @property
    def identifier_columns(self) -> set[str]:
        return {i.column for i in self.identifiers}

    @property
    def base_columns(self) -> set[str]:
        """Columns every layout of the part needs (not the identifiers, nor a made key)."""
        key = self.key_column if self.key_from else None
        return {c.column for c in self.columns if c is not key} | {m.column for m in self.markers}

    @property
    def source_columns(self) -> set[str]:
        """The columns of the extract as the partner exports it: with the identifiers, when
        the part declares them."""
        if self.key_from:
            return self.base_columns | self.identifier_columns
        return {c.column for c in self.columns} | {m.column for m in self.markers}

    @property
    def keyed_columns(self) -> set[str]:
        """The columns of the extract once pseudonymised: the key instead of identifiers."""
        key = self.key_column
        return self.base_columns | ({key.column} if key else set())


@dataclass(frozen=True)
class Mapping:
    id: str
    path: Path
    force: str | None
    parts: tuple[Part, ...]

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file, reporting every problem at once with its line."""
    located = load_located(path)
    problems = Problems(located)
    data = located.data
    if not isinstance(data, dict):
        problems.add((), "a mapping file is a YAML mapping with 'id' and at least one part")
        problems.raise_if_any("mapping")
    for key in data:
        if key not in {"id", "description", "force", *PARTS}:
            problems.add((key,), f"unknown key {key!r}; parts are {', '.join(PARTS)}")
    if not isinstance(data.get("id"), str):
        problems.add(("id",), "'id' (text) is required")
    parts = [
        _part(name, data[name], problems)
        for name in PARTS
        if name in data and isinstance(data[name], dict)
    ]
    for name in PARTS:
        if name in data and not isinstance(data[name], dict):
            problems.add((name,), f"{name!r} must be a mapping with 'columns'")
    if not parts:
        problems.add((), f"no parts: give at least one of {', '.join(PARTS)}")
    problems.raise_if_any("mapping")
    force = data.get("force")
    return Mapping(str(data["id"]), path, str(force) if force else None, tuple(parts))


def _part(name: str, raw: dict[str, Any], problems: Problems) -> Part:
    table, fields = PARTS[name]
    known = {f.name: f for f in fields}
    allowed = {"columns", "markers", "xml"} if name == "crimes" else {"columns", "xml"}
    if name in KEYED_PARTS:
        allowed |= {"identifiers", "person_key_from"}
    for key in raw:
        if key not in allowed:
            problems.add((name, key), f"unknown key {key!r} in {name}; allowed: {sorted(allowed)}")
    columns_raw = raw.get("columns") or {}
    if not isinstance(columns_raw, dict):
        problems.add((name, "columns"), "'columns' maps canonical fields to source columns")
        columns_raw = {}
    columns = []
    for field_name, spec in columns_raw.items():
        where = (name, "columns", field_name)
        if field_name not in known:
            problems.add(
                where, f"unknown field {field_name!r} for {name}; fields: {', '.join(known)}"
            )
            continue
        column = _column(known[field_name], spec, where, problems)
        if column:
            columns.append(column)
    given = {c.field.name for c in columns}
    for field in fields:
        if field.required and field.name not in given:
            problems.add((name, "columns"), f"required field {field.name!r} is not mapped")
    markers = _markers(raw.get("markers"), (name, "markers"), problems) if name == "crimes" else []
    xml = raw.get("xml")
    record = xml.get("record") if isinstance(xml, dict) else None
    if xml is not None and not isinstance(record, str):
        problems.add((name, "xml"), "'xml' needs 'record': the element holding one record")
    identifiers, key_from = _identity(name, raw, columns, problems)
    if identifiers and xml is not None:
        problems.add(
            (name, "xml"),
            "identifiers are read from CSV extracts only (an XML file cannot say whether it "
            f"holds identifiers or keys made already); export the {name} part as CSV",
        )
    if key_from and not any(c.field.name == "person_key" for c in columns):
        columns.append(Column(known["person_key"], PERSON_KEY_COLUMN))
    return Part(name, table, tuple(columns), tuple(markers), record, identifiers, key_from)


def _identity(
    name: str, raw: dict[str, Any], columns: list[Column], problems: Problems
) -> tuple[tuple[Identifier, ...], tuple[str, ...]]:
    """`identifiers: {forename: Forename, date_of_birth: {column: DOB, format: '%d/%m/%Y'}}`
    and `person_key_from: [forename, surname, date_of_birth]`."""
    from svduty.identity.normalise import FIELDS, IDENTIFIER_FIELDS

    given = raw.get("identifiers") or {}
    if not isinstance(given, dict):
        problems.add((name, "identifiers"), "'identifiers' maps identifier fields to columns")
        given = {}
    found: list[Identifier] = []
    for field_name, spec in given.items():
        where = (name, "identifiers", field_name)
        if field_name not in FIELDS:
            problems.add(
                where,
                f"unknown identifier {field_name!r}; identifiers: "
                f"{', '.join(f.name for f in IDENTIFIER_FIELDS)}",
            )
            continue
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("column"), str):
            problems.add(where, "give the source column name, or a mapping with 'column'")
            continue
        for key in spec:
            if key not in {"column", "format"}:
                problems.add((*where, key), f"unknown option {key!r}")
        fmt = spec.get("format")
        if fmt is not None and FIELDS[field_name].kind != "date":
            problems.add((*where, "format"), "'format' is for date_of_birth only")
        found.append(Identifier(field_name, spec["column"], fmt))
    canonical = {c.column for c in columns if c.field.name != "person_key"}
    for identifier in found:
        if identifier.column in canonical:
            problems.add(
                (name, "identifiers", identifier.field),
                f"{identifier.column!r} is also mapped to a canonical field; an identifier "
                "never enters the analytic tables, so map it in one place only",
            )
    key_from = raw.get("person_key_from")
    if key_from is None:
        if found:
            problems.add(
                (name, "identifiers"),
                "identifiers are declared but 'person_key_from' does not say which make the "
                "person key (e.g. person_key_from: [forename, surname, date_of_birth])",
            )
        return tuple(found), ()
    declared = {i.field for i in found}
    if not isinstance(key_from, list) or not key_from:
        problems.add((name, "person_key_from"), "a list of identifier fields, e.g. [nhs_number]")
        return tuple(found), ()
    for field_name in key_from:
        if field_name not in declared:
            problems.add(
                (name, "person_key_from"),
                f"{field_name!r} is not among this part's identifiers ({', '.join(declared)})",
            )
    key = next((c for c in columns if c.field.name == "person_key"), None)
    if key is not None and key.pseudonymise:
        problems.add(
            (name, "columns", "person_key"),
            "a key made from identifiers is not pseudonymised again; drop 'pseudonymise' "
            "(the column is where a pseudonymised extract holds the key already made)",
        )
    order = [f.name for f in IDENTIFIER_FIELDS]
    chosen = tuple(sorted({str(f) for f in key_from if f in declared}, key=order.index))
    return tuple(found), chosen


def _column(field: Field, spec: Any, where: tuple, problems: Problems) -> Column | None:
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("column"), str):
        problems.add(where, "give the source column name, or a mapping with 'column'")
        return None
    for key in spec:
        if key not in {"column", "format", "values", "pseudonymise"}:
            problems.add((*where, key), f"unknown option {key!r}")
    fmt = spec.get("format")
    if field.kind == "date" and fmt is None:
        fmt = DATE_FORMAT
    if field.kind in ("timestamp", "month") and fmt is None:
        fmt = "%Y-%m" if field.kind == "month" else None
        if fmt is None:
            problems.add(where, f"{field.name} needs a 'format' such as '%d/%m/%Y %H:%M'")
    values = spec.get("values") or {}
    if not isinstance(values, dict):
        problems.add((*where, "values"), "'values' maps source codes to canonical values")
        values = {}
    if field.choices:
        for source, target in values.items():
            if target not in field.choices:
                problems.add(
                    (*where, "values", source),
                    f"{target!r} is not a {field.name}; choose from {', '.join(field.choices)}",
                )
    return Column(
        field,
        spec["column"],
        fmt,
        tuple((str(k), str(v)) for k, v in values.items()),
        bool(spec.get("pseudonymise", False)),
    )


def _markers(raw: Any, where: tuple, problems: Problems) -> list[MarkerSource]:
    """`markers: {column: Flags, separator: ';', values: {DA: domestic_abuse}}` or
    `markers: {domestic_abuse: {column: DA, true: [Y], false: [N]}}`."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        problems.add(where, "'markers' must be a mapping")
        return []
    found = []
    if "column" in raw:
        values = raw.get("values") or {}
        by_marker: dict[str, list[str]] = {}
        for code, marker in values.items():
            if marker not in MARKERS:
                problems.add(
                    (*where, "values", code),
                    f"unknown marker {marker!r}; markers: {', '.join(MARKERS)}",
                )
                continue
            by_marker.setdefault(marker, []).append(str(code))
        for marker, codes in by_marker.items():
            found.append(
                MarkerSource(
                    marker, raw["column"], tuple(codes), separator=str(raw.get("separator", ";"))
                )
            )
        return found
    for marker, spec in raw.items():
        if marker not in MARKERS:
            problems.add(
                (*where, marker), f"unknown marker {marker!r}; markers: {', '.join(MARKERS)}"
            )
            continue
        if not isinstance(spec, dict) or "column" not in spec or "true" not in spec:
            problems.add((*where, marker), "give 'column' and 'true' (and 'false') values")
            continue
        found.append(
            MarkerSource(
                marker,
                str(spec["column"]),
                tuple(str(v) for v in spec["true"]),
                tuple(str(v) for v in spec.get("false", [])),
            )
        )
    return found
