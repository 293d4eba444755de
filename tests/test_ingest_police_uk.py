"""Ingest of data.police.uk files: every published row kept, lineage recorded, ingest idempotent."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

from conftest import csv_rows, table_count

from svduty.ingest import ingest


def test_every_row_of_real_month_is_kept_including_exact_duplicates(workspace, west_mercia):
    path = west_mercia / "2025-07" / "2025-07-west-mercia-street.csv"
    rows = csv_rows(path)
    [report] = ingest(workspace, [path])
    assert report.rows_read == report.rows_accepted == len(rows)
    assert report.rows_rejected == 0
    duplicates_in_file = sum(
        n - 1 for n in Counter(tuple(r.values()) for r in rows).values() if n > 1
    )
    duplicates_stored = workspace.con.execute(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM incidents GROUP BY "
        "crime_ref, month, reported_by, force, longitude, latitude, location, lsoa_code, "
        "lsoa_name, category, outcome, context HAVING count(*) > 1)"
    ).fetchone()[0]
    assert duplicates_in_file > 0
    assert duplicates_stored == duplicates_in_file


def test_records_with_no_location_are_kept(workspace, west_mercia):
    path = west_mercia / "2025-03" / "2025-03-west-mercia-street.csv"
    no_location = sum(1 for r in csv_rows(path) if not r["Longitude"])
    ingest(workspace, [path])
    stored = workspace.con.execute(
        "SELECT count(*) FROM incidents WHERE longitude IS NULL AND lsoa_code IS NULL"
    ).fetchone()[0]
    assert no_location > 0 and stored == no_location


def test_lineage_is_recorded_per_file(workspace, west_mercia):
    paths = [west_mercia / m for m in ("2024-01", "2024-02")]
    ingest(workspace, paths)
    batches = workspace.con.sql(
        "SELECT source_kind, file_name, sha256, rows_read, rows_accepted, status FROM batches "
        "ORDER BY batch_id"
    ).fetchall()
    assert [b[0] for b in batches] == ["police_uk_street"] * 2
    assert all(len(b[2]) == 64 for b in batches)
    expected = [len(csv_rows(next(p.glob("*.csv")))) for p in paths]
    assert [b[4] for b in batches] == expected
    per_batch = workspace.con.sql(
        "SELECT count(*) FROM incidents GROUP BY batch_id ORDER BY batch_id"
    ).fetchall()
    assert [r[0] for r in per_batch] == expected


def test_same_file_twice_changes_nothing(workspace, west_mercia):
    path = west_mercia / "2025-01"
    first = ingest(workspace, [path])
    before = table_count(workspace, "incidents")
    again = ingest(workspace, [path])
    assert [r.status for r in again] == ["already ingested"]
    assert again[0].batch_id == first[0].batch_id
    assert table_count(workspace, "incidents") == before
    assert table_count(workspace, "batches") == 1


def test_archive_zip_in_police_uk_layout(workspace, west_mercia, tmp_path):
    archive = tmp_path / "2024-02.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for month in ("2024-01", "2024-02"):
            name = f"{month}/{month}-west-mercia-street.csv"
            zipped.write(west_mercia / name, name)
    reports = ingest(workspace, [archive])
    assert [r.file_name.split("!")[1] for r in reports] == [
        "2024-01/2024-01-west-mercia-street.csv",
        "2024-02/2024-02-west-mercia-street.csv",
    ]
    assert sum(r.rows_accepted for r in reports) == 7700 + 7654  # PROVENANCE.md row counts


def test_force_names_meet_under_one_canonical_name(workspace, west_mercia):
    ingest(workspace, [west_mercia / "2025-01"])
    forces = workspace.con.sql("SELECT DISTINCT force, reported_by FROM incidents").fetchall()
    assert forces == [("West Mercia", "West Mercia Police")]


def test_2011_layout_with_british_national_grid(workspace, shared):
    path = shared / "police-uk-west-midlands" / "2011-02" / "2011-02-west-midlands-street.csv"
    rows = csv_rows(path)
    [report] = ingest(workspace, [path])
    assert report.rows_accepted == len(rows) == 25558
    categories = Counter(r["Crime type"] for r in rows)
    stored = dict(
        workspace.con.sql("SELECT category, count(*) FROM incidents GROUP BY 1").fetchall()
    )
    assert stored == dict(categories)
    eastings = sorted(float(r["Easting"]) for r in rows)
    stored_e = [
        r[0] for r in workspace.con.sql("SELECT easting FROM incidents ORDER BY easting").fetchall()
    ]
    assert stored_e == eastings
    # Birmingham lies near 52.48 N, 1.89 W: every converted point is in the West Midlands
    lon_min, lon_max, lat_min, lat_max = workspace.con.execute(
        "SELECT min(longitude), max(longitude), min(latitude), max(latitude) FROM incidents"
    ).fetchone()
    assert -2.3 < lon_min < lon_max < -1.3
    assert 52.2 < lat_min < lat_max < 52.8


def test_wgs84_rows_get_british_national_grid(workspace, west_mercia):
    ingest(workspace, [west_mercia / "2025-01"])
    missing = workspace.con.execute(
        "SELECT count(*) FROM incidents WHERE longitude IS NOT NULL AND easting IS NULL"
    ).fetchone()[0]
    assert missing == 0
    # West Mercia's own LSOAs lie between Herefordshire's western border (about 320 km E)
    # and Redditch (about 410 km E), and between 200 and 350 km N
    e_min, e_max, n_min, n_max = workspace.con.execute(
        "SELECT min(easting), max(easting), min(northing), max(northing) FROM incidents "
        "WHERE lsoa_code IN (SELECT lsoa_code FROM areas WHERE force = 'West Mercia')"
    ).fetchone()
    assert 300_000 < e_min < e_max < 420_000
    assert 200_000 < n_min < n_max < 350_000


def test_outcomes_and_stop_and_search_files(workspace, tmp_path):
    outcomes = tmp_path / "2025-01-west-mercia-outcomes.csv"
    outcomes.write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        "LSOA name,Outcome type\n"
        "abc,2025-01,West Mercia Police,West Mercia Police,-2.2,52.19,On or near High Street,"
        "E01032383,Worcester 010A,Investigation complete; no suspect identified\n"
        "def,2025-01,West Mercia Police,West Mercia Police,,,No location,,,Unable to prosecute\n",
        encoding="utf-8",
    )
    searches = tmp_path / "2025-01-west-mercia-stop-and-search.csv"
    searches.write_text(
        "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
        "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,"
        "Object of search,Outcome,Outcome linked to object of search,"
        "Removal of more than just outer clothing\n"
        "Person search,2025-01-03T21:15:00+00:00,False,,52.19,-2.22,Male,18-24,"
        "White - English/Welsh/Scottish/Northern Irish/British,White,"
        "Misuse of Drugs Act 1971 (section 23),Controlled drugs,Arrest,True,False\n",
        encoding="utf-8",
    )
    reports = ingest(workspace, [outcomes, searches])
    assert [(r.source_kind, r.rows_accepted) for r in reports] == [
        ("police_uk_outcomes", 2),
        ("police_uk_stop_search", 1),
    ]
    force, hour, linked = workspace.con.execute(
        "SELECT force, hour(searched_at), outcome_linked_to_object FROM stop_searches"
    ).fetchone()
    assert (force, hour, linked) == ("West Mercia", 21, True)


def test_folder_is_searched_recursively(workspace, west_mercia):
    reports = ingest(workspace, [west_mercia])
    assert len(reports) == 23
    assert sum(r.rows_accepted for r in reports) == 206_017  # PROVENANCE.md total


def test_empty_folder_is_an_error(workspace, tmp_path):
    import pytest

    from svduty.errors import InputError

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"holds no \.csv, \.xml or \.zip files"):
        ingest(workspace, [tmp_path / "empty"])
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty \(no header line\)"):
        ingest(workspace, [tmp_path / "empty.csv"])
    with pytest.raises(InputError, match="no such file or folder"):
        ingest(workspace, [Path(tmp_path / "missing.csv")])
