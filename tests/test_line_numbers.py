"""Every stored row names the line of its file that holds it, however the file was read.

Files are read in parallel and numbered by the order DuckDB keeps: these files are large enough
to be read in several pieces at once, and each row's Crime ID is its own line number, so a row
numbered out of order is seen at once.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import make_workspace
from partner_files import FORCE_MAPPING, write_force_extract

from svduty.ingest import ingest

ROWS = 240_000
"""About 50 MB: more than one of DuckDB's CSV buffers, so the file is read in pieces."""


def _numbered_file(west_mercia: Path, path: Path, rows: int, notes: int = 0) -> None:
    """Real rows of West Mercia repeated, each with its own line number as its Crime ID."""
    source = west_mercia / "2025-01" / "2025-01-west-mercia-street.csv"
    with source.open(newline="", encoding="utf-8") as handle:
        header, *templates = list(csv.reader(handle))
    with path.open("w", newline="", encoding="utf-8") as out:
        for note in range(notes):
            out.write(f"# note {note}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in range(rows):
            line = notes + 2 + row
            writer.writerow([f"line-{line}", *templates[row % len(templates)][1:]])


def _misplaced(ws) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return ws.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE crime_ref <> 'line-' || source_line) "
        "FROM incidents"
    ).fetchone()


@pytest.mark.parametrize("notes", [0, 2])
def test_a_large_file_alone_keeps_its_line_numbers(tmp_path, west_mercia, notes):
    path = tmp_path / "2025-01-big-street.csv"
    _numbered_file(west_mercia, path, ROWS, notes)
    ws = make_workspace(tmp_path / "ws")
    ws.con.execute("SET threads = 2")
    [report] = ingest(ws, [path])
    assert report.rows_accepted == ROWS
    assert _misplaced(ws) == (ROWS, 0)
    ws.close()


def test_files_read_together_keep_their_own_line_numbers(tmp_path, west_mercia):
    folder = tmp_path / "files"
    folder.mkdir()
    sizes = {"a-street.csv": 3_000, "b-street.csv": ROWS, "c-street.csv": 5_000}
    for name, rows in sizes.items():
        _numbered_file(west_mercia, folder / name, rows)
    ws = make_workspace(tmp_path / "ws")
    ws.con.execute("SET threads = 2")
    reports = ingest(ws, [folder])
    assert [r.rows_accepted for r in reports] == list(sizes.values())
    assert len({r.batch_id for r in reports}) == 3
    assert _misplaced(ws) == (sum(sizes.values()), 0)
    ws.close()


def test_a_column_called_rowid_is_read_as_any_other(tmp_path):
    """Database exports often carry a ROWID column: in DuckDB that name would hide the row ids
    rows are numbered by, so it is read under another name and given its own back."""
    crimes = [{"crime_ref": f"C{i}", "offence_code": "8N"} for i in range(5)]
    crimes_file, _ = write_force_extract(tmp_path / "x", crimes, [])
    with crimes_file.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    with crimes_file.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*header, "ROWID"])
        writer.writerows([*row, str(100 - i)] for i, row in enumerate(rows))
    ws = make_workspace(tmp_path / "ws")
    [report] = ingest(ws, [crimes_file], mappings=[FORCE_MAPPING])
    assert report.rows_accepted == len(crimes)
    stored = ws.con.execute("SELECT crime_ref, source_line FROM incidents ORDER BY 2").fetchall()
    assert stored == [(c["crime_ref"], line) for line, c in enumerate(crimes, start=2)]
    ws.close()
