"""Record-level partner sources through their mappings: force extracts (crimes and people), A&E
attendances in the ISTV minimum dataset (CSV and XML) and hospital admissions."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from conftest import table_count
from partner_files import (
    ADMISSIONS_MAPPING,
    CRIME_HEADER,
    FORCE_MAPPING,
    ISTV_MAPPING,
    PEOPLE_HEADER,
    crime_row,
    person_row,
    random_attendances,
    random_extract,
    write_csv,
    write_force_extract,
    write_istv_csv,
    write_istv_xml,
)

from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.mapping import load_mapping


@pytest.fixture
def extract(tmp_path):
    crimes, people = random_extract(seed=3, n=800)
    return crimes, people, write_force_extract(tmp_path / "extract", crimes, people)


def test_force_extract_ingests_through_its_mapping(workspace, extract):
    crimes, people, files = extract
    reports = ingest(workspace, files, mappings=[FORCE_MAPPING])
    assert [(r.source_kind, r.rows_accepted, r.rows_rejected) for r in reports] == [
        ("police_extract_crimes", len(crimes), 0),
        ("police_extract_people", len(people), 0),
    ]
    by_code = dict(
        workspace.con.execute("SELECT offence_code, count(*) FROM incidents GROUP BY 1").fetchall()
    )
    assert by_code == dict(Counter(c["offence_code"] for c in crimes))
    for marker in ("knife", "domestic_abuse", "county_lines"):
        stored = workspace.con.execute(
            f"SELECT count(*) FILTER (WHERE marker_{marker}), count(marker_{marker}) FROM incidents"
        ).fetchone()
        assert stored == (sum(marker in c["markers"] for c in crimes), len(crimes))
    kinds = workspace.con.execute(
        "SELECT DISTINCT source_kind, force, date_precision FROM incidents"
    ).fetchall()
    assert kinds == [("police_extract", "West Mercia", "minute")]


def test_extract_fields_are_decoded(workspace, extract):
    crimes, _, files = extract
    ingest(workspace, files, mappings=[FORCE_MAPPING])
    first = crimes[0]
    row = workspace.con.execute(
        "SELECT occurred_from, month, easting, northing, longitude, latitude, location_type, "
        "category FROM incidents WHERE crime_ref = ?",
        [first["crime_ref"]],
    ).fetchone()
    assert row[0] == first["occurred_from"].replace(second=0, microsecond=0)
    assert row[1] == first["occurred_from"].date().replace(day=1)
    assert (row[2], row[3]) == (first["easting"], first["northing"])
    assert -3.5 < row[4] < -1.5 and 51.8 < row[5] < 53.0  # West Mercia, from BNG via pyproj
    assert row[6] == first["location_type"]
    assert row[7] is not None or first["offence_code"] not in ("8N", "34B")


def test_person_keys_are_pseudonymised_consistently(workspace, extract):
    _, people, files = extract
    ingest(workspace, files, mappings=[FORCE_MAPPING])
    rows = workspace.con.execute(
        "SELECT crime_ref, role, person_key, age FROM involvements"
    ).fetchall()
    assert len(rows) == len(people)
    keys = {r[2] for r in rows}
    assert all(re.fullmatch("[0-9a-f]{64}", k) for k in keys)
    assert not keys & {p["person_key"] for p in people}
    assert len(keys) == len({p["person_key"] for p in people})
    assert Counter(r[1] for r in rows) == Counter(p["role"] for p in people)


def test_bad_extract_rows_are_rejected_with_column_and_reason(workspace, tmp_path):
    good = {"crime_ref": "C1", "offence_code": "8N"}
    crimes = [crime_row(good) for _ in range(6)]
    crimes[1][3] = "31/02/2025 10:00"  # Recorded Date: no such day
    crimes[2][1] = "8n!"  # HO Class: not a code
    crimes[3][7] = ""  # Y without X
    crimes[4][9] = "BEACH"  # Location Type: not in the mapping
    crimes[5][0] = ""  # Crime Reference: required
    people = [person_row({"crime_ref": "C1", "role": "victim", "age": 30})] * 3
    people[1] = [*people[1]]
    people[1][1] = "W"  # Role: unknown code
    people[2] = [*people[2]]
    people[2][3] = "130"  # Age: out of range
    write_csv(tmp_path / "crimes.csv", CRIME_HEADER, crimes)
    write_csv(tmp_path / "people.csv", PEOPLE_HEADER, people)
    reports = ingest(
        workspace, [tmp_path / "crimes.csv", tmp_path / "people.csv"], mappings=[FORCE_MAPPING]
    )
    assert [(r.rows_accepted, r.rows_rejected) for r in reports] == [(1, 5), (1, 2)]
    rejects = workspace.con.execute(
        "SELECT line, field, reason FROM rejects ORDER BY batch_id, line"
    ).fetchall()
    assert rejects == [
        (3, "Recorded Date", "Recorded Date is not a date in the format %d/%m/%Y %H:%M"),
        (4, "HO Class", "HO Class is not a Home Office offence code (e.g. 8N, 34B)"),
        (5, "Y", "only one of easting and northing is given"),
        (
            6,
            "Location Type",
            "Location Type must be one of STREET, PARK, DWELLING, PUB, CLUB, "
            "SCHOOL, SHOP, STATION, WORK, HOSPITAL, OTHER (or public_place, "
            "dwelling, licensed_premises, school, retail, transport, "
            "workplace, healthcare, other)",
        ),
        (7, "Crime Reference", "Crime Reference is empty; crime_ref is required"),
        (3, "Role", "Role must be one of V, S, O (or victim, suspect, offender)"),
        (4, "Age", "Age must be a whole number from 0 to 120"),
    ]


def test_without_its_mapping_an_extract_is_not_recognised(workspace, extract):
    _, _, files = extract
    with pytest.raises(InputError, match="give the column mapping of a partner export"):
        ingest(workspace, files)
    assert table_count(workspace, "batches") == 0


BROKEN_MAPPING = """\
id: broken
crimes:
  columns:
    crime_ref: Ref
    offence: Code
    recorded_at: Recorded
    location_type: {column: Place, values: {BEACH: seaside}}
  markers:
    column: Flags
    values: {K: knife, Q: quarrel}
people:
  columns:
    role: Role
"""


def test_broken_mapping_reports_every_problem_with_its_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_MAPPING)
    with pytest.raises(InputError) as caught:
        load_mapping(path)
    message = str(caught.value)
    for line, words in [
        (3, "required field 'offence_code' is not mapped"),
        (5, "unknown field 'offence'"),
        (6, "recorded_at needs a 'format'"),
        (7, "'seaside' is not a location_type"),
        (10, "unknown marker 'quarrel'"),
        (12, "required field 'crime_ref' is not mapped"),
    ]:
        assert f"{path}:{line}: " in message and words in message, (line, words)


def test_istv_csv_and_xml_give_the_same_attendances(tmp_path, workspace):
    rows = random_attendances(seed=11, n=300)
    csv_file = write_istv_csv(tmp_path / "istv.csv", rows)
    xml_file = write_istv_xml(tmp_path / "istv.xml", rows)
    reports = ingest(workspace, [csv_file, xml_file], mappings=[ISTV_MAPPING])
    assert [(r.source_kind, r.rows_accepted, r.rows_rejected) for r in reports] == [
        ("istv", 300, 0),
        ("istv", 300, 0),
    ]
    columns = (
        "attendance_ref, site, arrived_at, occurred_at, month, location_type, "
        "location_text, means_of_assault, age, sex"
    )
    first, second = (
        workspace.con.execute(
            f"SELECT {columns} FROM ae_attendances WHERE batch_id = ? ORDER BY attendance_ref",
            [batch],
        ).fetchall()
        for batch in (1, 2)
    )
    assert first == second
    knives = sum(r["PrimaryMeansOfAssault"] == "KNIFE" for r in rows)
    stored = workspace.con.execute(
        "SELECT count(*) FROM ae_attendances WHERE batch_id = 1 "
        "AND means_of_assault = 'knife_or_sharp'"
    ).fetchone()[0]
    assert stored == knives > 0


def test_admissions_counts_and_rejects(tmp_path, workspace):
    header = ["Month", "Area Code", "Age Band", "Sex", "ICD10 Cause", "Admissions"]
    rows = [
        ["2025-01", "E06000019", "18-24", "M", "X99", "7"],
        ["2025-01", "E06000019", "25-34", "F", "X99", "3"],
        ["2025-02", "E06000051", "18-24", "M", "Y04", "12"],
        ["2025-13", "E06000051", "18-24", "M", "X99", "1"],
        ["2025-02", "E06000051", "18-24", "M", "knife", "1"],
        ["2025-02", "E06000051", "18-24", "M", "X99", "-4"],
    ]
    path = write_csv(tmp_path / "admissions.csv", header, rows)
    [report] = ingest(workspace, [path], mappings=[ADMISSIONS_MAPPING])
    assert (report.rows_accepted, report.rows_rejected) == (3, 3)
    assert workspace.con.execute(
        "SELECT cause_code, sum(count) FROM admissions GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("X99", 10), ("Y04", 12)]
    reasons = [
        r[0] for r in workspace.con.execute("SELECT reason FROM rejects ORDER BY line").fetchall()
    ]
    assert reasons == [
        "Month is not a date in the format %Y-%m",
        "ICD10 Cause is not an ICD-10 code (e.g. X99)",
        "Admissions must be a whole number from 0",
    ]


def test_every_canonical_field_is_documented():
    from pathlib import Path

    from svduty.mapping import PARTS
    from svduty.vocabulary import MARKERS

    doc = (Path(__file__).parents[1] / "docs" / "partner-extracts.md").read_text()
    for part, (table, fields) in PARTS.items():
        assert f"## Part `{part}` (to table `{table}`)" in doc
        for field in fields:
            assert f"| `{field.name}` |" in doc, (part, field.name)
    for marker in MARKERS:
        assert f"`{marker}`" in doc
