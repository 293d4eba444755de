"""Files staged together by one read store exactly what each stored on its own would."""

from __future__ import annotations

from pathlib import Path

from conftest import make_workspace

from svduty import ingest as ingest_module
from svduty.ingest import ingest
from svduty.sources.base import CsvAdapter

ROWS = (
    "SELECT b.file_name, i.* EXCLUDE (batch_id) FROM incidents i JOIN batches b USING (batch_id) "
    "ORDER BY ALL"
)
REJECTS = "SELECT * EXCLUDE (batch_id) FROM rejects ORDER BY ALL"
BATCHES = (
    "SELECT file_name, sha256, rows_read, rows_accepted, rows_rejected, status, synthetic "
    "FROM batches ORDER BY file_name"
)


def _folder(west_mercia: Path, tmp_path: Path) -> Path:
    """Real files, one cut short, one with rows a reader and the checks reject, one repeated."""
    folder = tmp_path / "files"
    folder.mkdir()
    lines = (west_mercia / "2025-01" / "2025-01-west-mercia-street.csv").read_bytes().split(b"\n")
    (folder / "a-street.csv").write_bytes(b"\n".join(lines[:400]) + b"\n")
    bad = lines[:300]
    bad[4] = bad[4] + b",extra"  # too many columns: the reader's reject
    bad[9] = bad[9].replace(b",E01", b",X01", 1)  # a malformed LSOA: the checks' reject
    bad[20] = bad[20].replace(b"2025-01", b"2025-13", 1)  # not a month: the reader's reject
    (folder / "b-street.csv").write_bytes(b"\n".join(bad) + b"\n")
    (folder / "c-street.csv").write_bytes(b"\n".join([lines[0], *lines[500:900]]) + b"\n")
    (folder / "d-street.csv").write_bytes(b"\n".join(lines[:400]) + b"\n")  # a's content
    for path in sorted((west_mercia / "2024-01").glob("*street.csv")):
        (folder / path.name).write_bytes(path.read_bytes())  # CRLF line endings
    return folder


def _stored(root: Path, folder: Path, together: bool, monkeypatch) -> tuple[list, ...]:
    if not together:
        monkeypatch.setattr(ingest_module, "GROUP_BYTES", 0)  # one file to a transaction
    ws = make_workspace(root)
    reports = ingest(ws, [folder])
    found = tuple(ws.con.execute(sql).fetchall() for sql in (ROWS, REJECTS, BATCHES))
    ws.close()
    monkeypatch.undo()
    return [(r.file_name, r.status, r.rows_read, r.rows_rejected) for r in reports], *found


def test_files_staged_together_store_what_each_alone_would(tmp_path, west_mercia, monkeypatch):
    folder = _folder(west_mercia, tmp_path)
    alone = _stored(tmp_path / "alone", folder, False, monkeypatch)
    reads: list[int] = []
    original = CsvAdapter.stage_together

    def counted(self, con, header, files):  # type: ignore[no-untyped-def]
        reads.append(len(files))
        return original(self, con, header, files)

    monkeypatch.setattr(CsvAdapter, "stage_together", counted)
    together = _stored(tmp_path / "together", folder, True, monkeypatch)
    assert reads == [4]  # one read for the four distinct files (d repeats a)
    assert together[0] == alone[0]
    assert [r[1] for r in alone[0]].count("already ingested") == 1  # d repeats a
    assert any(r[3] for r in alone[0])  # b has rejects of both kinds
    for mine, theirs in zip(together[1:], alone[1:], strict=True):
        assert mine == theirs


def test_the_command_sums_many_files_by_kind_and_outcome(tmp_path, west_mercia: Path):
    """Beyond LISTED_BATCHES files, `svduty ingest` prints a row per kind and outcome, whose
    files and rows add up to what was generated, not a row per file."""
    import subprocess
    import sys

    from svduty.cli import LISTED_BATCHES
    from svduty.scale import generate

    templates = sorted(west_mercia.glob("2025-*/*street.csv"))
    data = generate(tmp_path / "data", 3000, templates, months=2)
    assert data.files > LISTED_BATCHES
    make_workspace(tmp_path / "ws").close()
    argv = [sys.executable, "-m", "svduty.cli", "ingest", "--workspace", str(tmp_path / "ws")]
    for again in (False, True):
        done = subprocess.run([*argv, str(data.folder)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"Batches: {data.files} files by kind and outcome" in done.stdout
        rows = [
            [cell.strip() for cell in line.split("│") if cell.strip()]
            for line in done.stdout.splitlines()
            if "police_uk_street" in line
        ]
        assert len(done.stdout.splitlines()) < 12
        assert sum(int(row[2]) for row in rows) == data.files
        if again:
            assert {row[1] for row in rows} == {"already ingested"}
        else:  # a file may hold only the header, the same content as another such file
            assert {row[1] for row in rows} <= {"complete", "already ingested"}
            assert sum(int(row[4]) for row in rows) == 3000


def test_crime_ids_are_stored_with_zstd(tmp_path, west_mercia: Path):
    """data.police.uk's 64-digit crime IDs are written with zstd, in half the time DuckDB's
    default for strings takes on them (`schema.STORED_WITH_ZSTD`)."""
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, [west_mercia / "2025-01"])
    ws.con.execute("CHECKPOINT")
    used = ws.con.execute(
        "SELECT DISTINCT compression FROM pragma_storage_info('incidents') "
        "WHERE column_name = 'crime_ref' AND segment_type = 'VARCHAR'"
    ).fetchall()
    ws.close()
    assert used == [("ZSTD",)]
