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
