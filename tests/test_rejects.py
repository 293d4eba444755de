"""Malformed input: every bad row is rejected with its line, field and reason; nothing is lost,
nothing else changes; a file svduty cannot read is an error naming it, and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import csv_rows, table_count

from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.quality import quality

# line number in the file (header = line 1) -> (how the line is broken, field, words of the reason)
CORRUPTIONS = {
    3: ("month", "Month", "is not a valid month"),
    4: ("longitude not a number", "Longitude", "is not a valid number"),
    5: ("outside the UK", "Longitude", "outside the United Kingdom"),
    6: ("malformed LSOA", "LSOA code", "malformed LSOA code"),
    7: ("extra column", None, "wrong column count"),
    8: ("bad bytes", "Reported by", "undecodable bytes"),
    9: ("latitude missing", "Latitude", "only one of Longitude and Latitude"),
    10: ("unknown crime type", "Crime type", "unknown Crime type"),
}


def _corrupt(line: bytes, how: str) -> bytes:
    fields = line.split(b",")
    if how == "month":
        fields[1] = b"2025-13"
    elif how == "longitude not a number":
        fields[4] = b"west"
    elif how == "outside the UK":
        fields[4], fields[5] = b"10.5", b"45.2"
    elif how == "malformed LSOA":
        fields[7] = b"X0100ABC"
    elif how == "extra column":
        fields.append(b"surplus")
    elif how == "bad bytes":
        fields[2] = b"West \xff\xfe Mercia Police"
    elif how == "latitude missing":
        fields[5] = b""
    elif how == "unknown crime type":
        fields[9] = b"Jaywalking"
    return b",".join(fields)


@pytest.fixture
def broken_file(west_mercia: Path, tmp_path: Path) -> Path:
    source = west_mercia / "2025-01" / "2025-01-west-mercia-street.csv"
    lines = source.read_bytes().split(b"\n")[:41]  # header and 40 rows with a location
    lines = [lines[0]] + [line for line in lines[1:] if b",," not in line.split(b"On or near")[0]]
    for number, (how, _, _) in CORRUPTIONS.items():
        lines[number - 1] = _corrupt(lines[number - 1], how)
    target = tmp_path / "2025-01-west-mercia-street.csv"
    target.write_bytes(b"\n".join(lines) + b"\n")
    return target


def test_each_malformed_row_is_rejected_with_line_field_and_reason(workspace, broken_file):
    data_rows = broken_file.read_bytes().count(b"\n") - 1
    [report] = ingest(workspace, [broken_file])
    assert report.rows_read == data_rows
    assert report.rows_rejected == len(CORRUPTIONS)
    assert report.rows_accepted == data_rows - len(CORRUPTIONS)
    assert report.status == "complete with rejects"
    rejects = workspace.con.execute(
        "SELECT line, field, reason, raw FROM rejects ORDER BY line"
    ).fetchall()
    assert [r[0] for r in rejects] == sorted(CORRUPTIONS)
    for line, field, reason, raw in rejects:
        _, want_field, want_words = CORRUPTIONS[line]
        assert field == want_field, line
        assert want_words in reason, (line, reason)
        assert raw, "the rejected row is kept"
    stored_lines = {
        r[0] for r in workspace.con.execute("SELECT source_line FROM incidents").fetchall()
    }
    assert stored_lines == set(range(2, data_rows + 2)) - set(CORRUPTIONS)


def test_rejects_leave_earlier_batches_intact(workspace, west_mercia, broken_file):
    ingest(workspace, [west_mercia / "2024-01"])
    before = workspace.con.execute(
        "SELECT count(*), sum(hash(crime_ref)) FROM incidents"
    ).fetchone()
    ingest(workspace, [broken_file])
    after = workspace.con.execute(
        "SELECT count(*), sum(hash(crime_ref)) FROM incidents WHERE batch_id = 1"
    ).fetchone()
    assert after == before


def test_wrong_header_names_the_file_and_stores_nothing(workspace, west_mercia, tmp_path):
    bad = tmp_path / "renamed.csv"
    good = west_mercia / "2024-02" / "2024-02-west-mercia-street.csv"
    bad.write_text(good.read_text().replace("Crime type", "Offence type", 1))
    with pytest.raises(InputError) as caught:
        ingest(workspace, [good, bad])
    assert str(bad) in str(caught.value)
    assert "no adapter recognises this file" in str(caught.value)
    assert table_count(workspace, "batches") == 0
    assert table_count(workspace, "incidents") == 0


def test_named_kind_that_does_not_match_shows_both_headers(workspace, prc_table):
    with pytest.raises(InputError) as caught:
        ingest(workspace, [prc_table], kind="police_uk_street")
    message = str(caught.value)
    assert "does not match police_uk_street" in message
    assert "found: , Financial_Year" in message
    assert "Crime ID, Month" in message
    assert table_count(workspace, "batches") == 0


def test_unknown_kind_is_an_error(workspace, prc_table):
    with pytest.raises(InputError, match="unknown source kind 'force_extract'"):
        ingest(workspace, [prc_table], kind="force_extract")


def test_incomplete_but_real_records_are_kept_and_reported(workspace, west_mercia, tmp_path):
    source = west_mercia / "2025-02" / "2025-02-west-mercia-street.csv"
    rows = source.read_text().splitlines()[:21]
    fields = rows[1].split(",")
    fields[7] = "E01999999"  # well formed, but no lookup knows it
    rows[1] = ",".join(fields)
    target = tmp_path / "2025-02-west-mercia-street.csv"
    target.write_text("\n".join(rows) + "\n")
    [report] = ingest(workspace, [target])
    assert report.rows_rejected == 0 and report.rows_accepted == 20
    report_q = quality(workspace.store, workspace.settings)
    assert report_q.incidents["unknown_lsoa"].sum() == 1


def test_home_office_table_bad_rows(workspace, prc_table, tmp_path):
    lines = prc_table.read_text().splitlines()[:11]
    fields = lines[2].split(",")
    fields[2] = "5"  # no fifth quarter
    lines[2] = ",".join(fields)
    fields = lines[3].split(",")
    fields[-2] = "many"
    lines[3] = ",".join(fields)
    target = tmp_path / "prc.csv"
    target.write_text("\n".join(lines) + "\n")
    [report] = ingest(workspace, [target])
    assert (report.rows_accepted, report.rows_rejected) == (8, 2)
    got = workspace.con.execute("SELECT line, field, reason FROM rejects ORDER BY line").fetchall()
    assert got == [
        (3, "financial_quarter", "financial quarter must be 1, 2, 3 or 4"),
        (4, "number_of_offences", "number of offences must be a whole number"),
    ]
    assert len(csv_rows(target)) == 10
