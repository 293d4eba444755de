"""Canonical tables: the one shape every source is loaded into and every analysis reads.

Columns are given in DuckDB types; the Spark store holds the same columns as Parquet.
"""

from __future__ import annotations

from svduty.vocabulary import MARKERS, marker_column

SCHEMA_VERSION = 8
"""Bump with a migration in `svduty.migrations` for every change to a table below."""

FACT_TABLES: dict[str, dict[str, str]] = {
    "incidents": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "source_kind": "VARCHAR",
        "crime_ref": "VARCHAR",
        "month": "DATE",
        "occurred_from": "TIMESTAMP",
        "occurred_to": "TIMESTAMP",
        "date_precision": "VARCHAR",
        "reported_by": "VARCHAR",
        "force": "VARCHAR",
        "longitude": "DOUBLE",
        "latitude": "DOUBLE",
        "easting": "DOUBLE",
        "northing": "DOUBLE",
        "location": "VARCHAR",
        "lsoa_code": "VARCHAR",
        "lsoa_name": "VARCHAR",
        "category": "VARCHAR",
        "offence_code": "VARCHAR",
        "statute": "VARCHAR",
        "recorded_at": "TIMESTAMP",
        "location_type": "VARCHAR",
        "outcome": "VARCHAR",
        "context": "VARCHAR",
        **{marker_column(m): "BOOLEAN" for m in MARKERS},
        "synthetic": "BOOLEAN",
    },
    "involvements": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "force": "VARCHAR",
        "crime_ref": "VARCHAR",
        "role": "VARCHAR",
        "person_key": "VARCHAR",
        "age": "INTEGER",
        "sex": "VARCHAR",
        "ethnicity": "VARCHAR",
        "relationship": "VARCHAR",
        "synthetic": "BOOLEAN",
    },
    "ae_attendances": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "site": "VARCHAR",
        "attendance_ref": "VARCHAR",
        "arrived_at": "TIMESTAMP",
        "occurred_at": "TIMESTAMP",
        "month": "DATE",
        "location_type": "VARCHAR",
        "location_text": "VARCHAR",
        "means_of_assault": "VARCHAR",
        "age": "INTEGER",
        "sex": "VARCHAR",
        "synthetic": "BOOLEAN",
        "person_key": "VARCHAR",
    },
    "youth_justice": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "contact_ref": "VARCHAR",
        "person_key": "VARCHAR",
        "started_on": "DATE",
        "month": "DATE",
        "contact_type": "VARCHAR",
        "offence_code": "VARCHAR",
        "offence": "VARCHAR",
        "age": "INTEGER",
        "sex": "VARCHAR",
        "la_code": "VARCHAR",
        "synthetic": "BOOLEAN",
    },
    "exclusions": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "exclusion_ref": "VARCHAR",
        "person_key": "VARCHAR",
        "started_on": "DATE",
        "month": "DATE",
        "exclusion_type": "VARCHAR",
        "reason": "VARCHAR",
        "school": "VARCHAR",
        "age": "INTEGER",
        "sex": "VARCHAR",
        "la_code": "VARCHAR",
        "synthetic": "BOOLEAN",
    },
    "admissions": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "month": "DATE",
        "area_code": "VARCHAR",
        "age_band": "VARCHAR",
        "sex": "VARCHAR",
        "cause_code": "VARCHAR",
        "count": "BIGINT",
        "synthetic": "BOOLEAN",
    },
    "outcomes": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "crime_ref": "VARCHAR",
        "month": "DATE",
        "reported_by": "VARCHAR",
        "force": "VARCHAR",
        "longitude": "DOUBLE",
        "latitude": "DOUBLE",
        "location": "VARCHAR",
        "lsoa_code": "VARCHAR",
        "lsoa_name": "VARCHAR",
        "outcome": "VARCHAR",
    },
    "stop_searches": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "force": "VARCHAR",
        "search_type": "VARCHAR",
        "searched_at": "TIMESTAMP",
        "month": "DATE",
        "policing_operation": "VARCHAR",
        "longitude": "DOUBLE",
        "latitude": "DOUBLE",
        "gender": "VARCHAR",
        "age_range": "VARCHAR",
        "self_defined_ethnicity": "VARCHAR",
        "officer_defined_ethnicity": "VARCHAR",
        "legislation": "VARCHAR",
        "object_of_search": "VARCHAR",
        "outcome": "VARCHAR",
        "outcome_linked_to_object": "BOOLEAN",
        "removal_of_more_than_outer_clothing": "BOOLEAN",
    },
    "offence_counts": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "financial_year": "VARCHAR",
        "financial_quarter": "INTEGER",
        "force": "VARCHAR",
        "csp_name": "VARCHAR",
        "offence_code": "VARCHAR",
        "offence_description": "VARCHAR",
        "offence_group": "VARCHAR",
        "offence_subgroup": "VARCHAR",
        "count": "BIGINT",
    },
    "measure_values": {
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "measure": "VARCHAR",
        "area": "VARCHAR",
        "period": "VARCHAR",
        "period_kind": "VARCHAR",
        "numerator": "DOUBLE",
        "denominator": "DOUBLE",
        "source": "VARCHAR",
        "published": "DATE",
        "synthetic": "BOOLEAN",
    },
}

DERIVED_TABLES: dict[str, dict[str, str]] = {
    "classifications": {
        "definition_id": "VARCHAR",
        "definition_version": "VARCHAR",
        "definition_sha256": "VARCHAR",
        "batch_id": "INTEGER",
        "source_line": "BIGINT",
        "in_definition": "BOOLEAN",
        "clauses": "VARCHAR",
        "unassessed": "VARCHAR",
    },
}
"""Tables computed from the canonical ones, replaced per key (here, per definition)."""

REFERENCE_TABLES: dict[str, dict[str, str]] = {
    "areas": {
        "lsoa_code": "VARCHAR",
        "lsoa_name": "VARCHAR",
        "msoa_code": "VARCHAR",
        "la_code": "VARCHAR",
        "la_name": "VARCHAR",
        "csp_name": "VARCHAR",
        "force": "VARCHAR",
        "in_2011": "BOOLEAN",
        "in_2021": "BOOLEAN",
        "population_2019": "BIGINT",
        "population_2024": "BIGINT",
        "population": "BIGINT",
        "imd2019_decile": "INTEGER",
        "imd2025_score": "DOUBLE",
        "imd2025_decile": "INTEGER",
        "ward_code": "VARCHAR",
        "ward_name": "VARCHAR",
    },
    "offences": {
        "offence_code": "VARCHAR",
        "description": "VARCHAR",
        "offence_group": "VARCHAR",
        "offence_subgroup": "VARCHAR",
        "police_uk_category": "VARCHAR",
    },
}

CATALOGUE_DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS batch_ids START 1;
CREATE TABLE IF NOT EXISTS batches (
    batch_id INTEGER PRIMARY KEY,
    source_kind VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_accepted BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    seconds DOUBLE NOT NULL,
    status VARCHAR NOT NULL,
    engine VARCHAR NOT NULL,
    synthetic BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS rejects (
    batch_id INTEGER NOT NULL,
    file_name VARCHAR NOT NULL,
    line BIGINT,
    field VARCHAR,
    value VARCHAR,
    reason VARCHAR NOT NULL,
    raw VARCHAR
);
CREATE TABLE IF NOT EXISTS interventions (
    id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_to TIMESTAMP,
    changed_by VARCHAR NOT NULL,
    change VARCHAR NOT NULL,
    changes VARCHAR NOT NULL,
    record VARCHAR NOT NULL,
    PRIMARY KEY (id, version)
);
"""
"""The interventions table holds every version of the partnership's catalogue of interventions
(svduty.interventions.store explains its columns); it lives in the DuckDB file with either
engine."""


STORED_WITH_ZSTD = frozenset({"crime_ref", "person_key"})
"""Columns of unique, high-entropy strings (data.police.uk's 64-digit crime IDs, keyed hashes of
people), stored with zstd. DuckDB's default for strings (a dictionary with FSST) works hard on them
for little gain: for 6 million police.uk crime IDs, 2.0 s to write and 176 MB, against 1.0 s and
188 MB with zstd."""


def create_table_sql(name: str, columns: dict[str, str]) -> str:
    body = ", ".join(
        f'"{column}" {kind}' + (" USING COMPRESSION zstd" if column in STORED_WITH_ZSTD else "")
        for column, kind in columns.items()
    )
    return f'CREATE TABLE IF NOT EXISTS "{name}" ({body})'
