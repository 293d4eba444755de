"""data.police.uk files: street-level crime (current and 2011 layouts), outcomes, stop and search.

Published facts these adapters respect (see PROVENANCE.md of the shared data): Crime ID is blank
for anti-social behaviour; exact duplicate rows are separate incidents; a crime with no location
has blank coordinates and LSOA and is kept; locations are anonymised snap points; dates are months.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from svduty.reference import CATEGORIES, LEGACY_CATEGORIES
from svduty.reference.forces import canonical_force
from svduty.sources.base import (
    LSOA_PATTERN,
    UK_BOUNDS,
    Check,
    CsvAdapter,
    StageResult,
    force_map,
    sql_text,
)
from svduty.sources.coordinates import fill_missing_pair

STREET = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)  # fmt: skip
STREET_2011 = (
    "Month", "Reported by", "Falls within", "Easting", "Northing", "Location", "Crime type",
    "Context",
)  # fmt: skip
OUTCOMES = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Outcome type",
)  # fmt: skip
STOP_SEARCH = (
    "Type", "Date", "Part of a policing operation", "Policing operation", "Latitude",
    "Longitude", "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity",
    "Legislation", "Object of search", "Outcome", "Outcome linked to object of search",
    "Removal of more than just outer clothing",
)  # fmt: skip

_TYPES = {
    "Month": "DATE",
    "Longitude": "DOUBLE",
    "Latitude": "DOUBLE",
    "Easting": "DOUBLE",
    "Northing": "DOUBLE",
}


def _types(header: tuple[str, ...]) -> dict[str, str]:
    return {column: _TYPES.get(column, "VARCHAR") for column in header}


def wgs84_checks() -> list[Check]:
    """Coordinates: both or neither, numbers inside the UK (0,0 is police.uk's 'no location')."""
    lon_lo, lon_hi = UK_BOUNDS["longitude"]
    lat_lo, lat_hi = UK_BOUNDS["latitude"]
    return [
        Check(
            "Latitude",
            '(s."Longitude" IS NULL) <> (s."Latitude" IS NULL)',
            "'only one of Longitude and Latitude is given'",
            'concat_ws(\',\', s."Longitude", s."Latitude")',
        ),
        Check(
            "Longitude",
            f'NOT (s."Longitude" = 0 AND s."Latitude" = 0) AND (s."Longitude" NOT BETWEEN '
            f'{lon_lo} AND {lon_hi} OR s."Latitude" NOT BETWEEN {lat_lo} AND {lat_hi})',
            "'coordinates outside the United Kingdom (WGS84 longitude "
            f"{lon_lo}..{lon_hi}, latitude {lat_lo}..{lat_hi})'",
            'concat_ws(\',\', s."Longitude", s."Latitude")',
        ),
    ]


def lsoa_check() -> Check:
    return Check(
        "LSOA code",
        f'NOT regexp_full_match(s."LSOA code", {sql_text(LSOA_PATTERN)})',
        "'malformed LSOA code (expected E01 or W01 and six digits)'",
    )


def month_check() -> Check:
    return Check("Month", 's."Month" IS NULL', "'Month is missing'")


def _located(column: str) -> str:
    """NULL for police.uk's 0,0 'no location' coordinates."""
    return f'CASE WHEN s."Longitude" = 0 AND s."Latitude" = 0 THEN NULL ELSE s."{column}" END'


class StreetAdapter(CsvAdapter):
    kind = "police_uk_street"
    table = "incidents"
    description = "data.police.uk street-level crime (current 12-column and 2011 layouts)"
    dateformat = "%Y-%m"
    together = True

    def layout(self, header: list[str]) -> str | None:
        return {STREET: "current", STREET_2011: "2011"}.get(tuple(header))

    def expected_headers(self) -> list[str]:
        return [", ".join(STREET), ", ".join(STREET_2011)]

    def column_types(self, layout: str, header: list[str]) -> dict[str, str]:
        return _types(STREET if layout == "current" else STREET_2011)

    def checks(self, layout: str) -> list[Check]:
        known = ", ".join(sql_text(c) for c in CATEGORIES + LEGACY_CATEGORIES)
        crime_type = [
            Check("Crime type", 's."Crime type" IS NULL', "'Crime type is missing'"),
            Check(
                "Crime type",
                f's."Crime type" NOT IN ({known})',
                "'unknown Crime type (not a data.police.uk category)'",
            ),
        ]
        if layout == "2011":
            return [
                month_check(),
                Check(
                    "Northing",
                    '(s."Easting" IS NULL) <> (s."Northing" IS NULL)',
                    "'only one of Easting and Northing is given'",
                    'concat_ws(\',\', s."Easting", s."Northing")',
                ),
                Check(
                    "Easting",
                    's."Easting" NOT BETWEEN 0 AND 700000 '
                    'OR s."Northing" NOT BETWEEN 0 AND 1300000',
                    "'coordinates outside the British National Grid'",
                    'concat_ws(\',\', s."Easting", s."Northing")',
                ),
                *crime_type,
            ]
        return [month_check(), *wgs84_checks(), lsoa_check(), *crime_type]

    def prepare(self, con: duckdb.DuckDBPyConnection, layout: str) -> None:
        force_map(con, "Falls within")

    def joins(self, layout: str) -> str:
        return 'LEFT JOIN _forces f ON f.raw = s."Falls within"'

    def projection(self, layout: str, batch_id: int) -> str:
        if layout == "2011":
            place = (
                "NULL::DOUBLE AS longitude, NULL::DOUBLE AS latitude, "
                's."Easting" AS easting, s."Northing" AS northing, '
                "NULL::VARCHAR AS crime_ref, NULL::VARCHAR AS lsoa_code, "
                "NULL::VARCHAR AS lsoa_name, "
                "NULL::VARCHAR AS outcome"
            )
        else:
            place = (
                f"{_located('Longitude')} AS longitude, {_located('Latitude')} AS latitude, "
                "NULL::DOUBLE AS easting, NULL::DOUBLE AS northing, "
                's."Crime ID" AS crime_ref, s."LSOA code" AS lsoa_code, '
                's."LSOA name" AS lsoa_name, s."Last outcome category" AS outcome'
            )
        return (
            f"{batch_id} AS batch_id, s._row AS source_line, '{self.kind}' AS source_kind, "
            's."Month" AS month, CAST(s."Month" AS TIMESTAMP) AS occurred_from, '
            'CAST(s."Month" + INTERVAL 1 MONTH AS TIMESTAMP) AS occurred_to, '
            "'month' AS date_precision, "
            's."Reported by" AS reported_by, coalesce(f.force, s."Falls within") AS force, '
            f's."Location" AS location, {place}, s."Crime type" AS category, '
            'NULL::VARCHAR AS offence_code, s."Context" AS context, false AS synthetic'
        )

    def finish(self, con: duckdb.DuckDBPyConnection, layout: str) -> str:
        # the pairs as read: staging keeps the rows read in `_read`
        read = '"Easting", "Northing"' if layout == "2011" else '"Longitude", "Latitude"'
        given = "bng" if layout == "2011" else "wgs84"
        return fill_missing_pair(con, "_accepted", given, f"SELECT {read} FROM _read")


class OutcomesAdapter(CsvAdapter):
    kind = "police_uk_outcomes"
    table = "outcomes"
    description = "data.police.uk outcomes (one row per outcome of a crime)"
    dateformat = "%Y-%m"
    together = True

    def layout(self, header: list[str]) -> str | None:
        return "current" if tuple(header) == OUTCOMES else None

    def expected_headers(self) -> list[str]:
        return [", ".join(OUTCOMES)]

    def column_types(self, layout: str, header: list[str]) -> dict[str, str]:
        return _types(OUTCOMES)

    def checks(self, layout: str) -> list[Check]:
        return [
            month_check(),
            *wgs84_checks(),
            lsoa_check(),
            Check("Outcome type", 's."Outcome type" IS NULL', "'Outcome type is missing'"),
        ]

    def prepare(self, con: duckdb.DuckDBPyConnection, layout: str) -> None:
        force_map(con, "Falls within")

    def joins(self, layout: str) -> str:
        return 'LEFT JOIN _forces f ON f.raw = s."Falls within"'

    def projection(self, layout: str, batch_id: int) -> str:
        return (
            f'{batch_id} AS batch_id, s._row AS source_line, s."Crime ID" AS crime_ref, '
            's."Month" AS month, s."Reported by" AS reported_by, '
            'coalesce(f.force, s."Falls within") AS force, '
            f"{_located('Longitude')} AS longitude, {_located('Latitude')} AS latitude, "
            's."Location" AS location, s."LSOA code" AS lsoa_code, s."LSOA name" AS lsoa_name, '
            's."Outcome type" AS outcome'
        )


_SEARCH_FILE = re.compile(r"(\d{4}-\d{2})-(.+)-stop-and-search\.csv$")
_BOOL = "CASE lower(s.\"{c}\") WHEN 'true' THEN true WHEN 'false' THEN false ELSE NULL END"


class StopSearchAdapter(CsvAdapter):
    """Stop and search: the file has no force column, so the force comes from the file name
    (`YYYY-MM-<force>-stop-and-search.csv`, as published). Times are kept as local clock time."""

    kind = "police_uk_stop_search"
    table = "stop_searches"
    description = "data.police.uk stop and search"

    def __init__(self) -> None:
        self._force: str | None = None

    def layout(self, header: list[str]) -> str | None:
        return "current" if tuple(header) == STOP_SEARCH else None

    def expected_headers(self) -> list[str]:
        return [", ".join(STOP_SEARCH)]

    def column_types(self, layout: str, header: list[str]) -> dict[str, str]:
        return _types(STOP_SEARCH)

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        header: list[str],
        batch_id: int,
        file_name: str,
    ) -> StageResult:
        match = _SEARCH_FILE.search(file_name)
        self._force = canonical_force(match.group(2).replace("-", " ")) if match else None
        return super().stage(con, path, header, batch_id, file_name)

    def checks(self, layout: str) -> list[Check]:
        return [
            Check("Date", 's."Date" IS NULL', "'Date is missing'"),
            Check(
                "Date",
                "try_strptime(left(s.\"Date\", 19), '%Y-%m-%dT%H:%M:%S') IS NULL",
                "'Date is not an ISO date and time (YYYY-MM-DDTHH:MM:SS+HH:MM)'",
            ),
            *wgs84_checks(),
        ]

    def projection(self, layout: str, batch_id: int) -> str:
        when = "strptime(left(s.\"Date\", 19), '%Y-%m-%dT%H:%M:%S')"
        force = sql_text(self._force) if self._force else "NULL::VARCHAR"
        return (
            f"{batch_id} AS batch_id, s._row AS source_line, {force} AS force, "
            f's."Type" AS search_type, {when} AS searched_at, '
            f"CAST(date_trunc('month', {when}) AS DATE) AS month, "
            's."Policing operation" AS policing_operation, '
            f"{_located('Longitude')} AS longitude, {_located('Latitude')} AS latitude, "
            's."Gender" AS gender, s."Age range" AS age_range, '
            's."Self-defined ethnicity" AS self_defined_ethnicity, '
            's."Officer-defined ethnicity" AS officer_defined_ethnicity, '
            's."Legislation" AS legislation, s."Object of search" AS object_of_search, '
            's."Outcome" AS outcome, '
            f"{_BOOL.format(c='Outcome linked to object of search')} AS outcome_linked_to_object, "
            f"{_BOOL.format(c='Removal of more than just outer clothing')} "
            "AS removal_of_more_than_outer_clothing"
        )
