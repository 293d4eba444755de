"""fetch police-uk against a real HTTP server on loopback serving an archive built in the test."""

from __future__ import annotations

import http.server
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import ClassVar

import pytest

from svduty.errors import InputError
from svduty.fetch import Month, archives_for, download, fetch_police_uk, force_slug


class RecordingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with Range support and records the Range headers it was sent."""

    ranges: ClassVar[list[str | None]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        RecordingHandler.ranges.append(self.headers.get("Range"))
        wanted = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = int(wanted.split("=")[1].rstrip("-")) if wanted else 0
        self.send_response(206 if wanted else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "site"
    root.mkdir()
    RecordingHandler.ranges = []
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(RecordingHandler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/archive", root
    httpd.shutdown()


def _archive(root: Path, west_mercia: Path, shared: Path) -> Path:
    (root / "archive").mkdir(exist_ok=True)
    target = root / "archive" / "2024-04.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        for month in ("2024-01", "2024-02", "2024-03", "2024-04"):
            name = f"{month}/{month}-west-mercia-street.csv"
            zipped.write(west_mercia / name, name)
        for month in ("2024-01", "2024-02"):
            name = f"{month}/{month}-staffordshire-street.csv"
            zipped.write(shared / "police-uk-staffordshire" / name, name)
        zipped.writestr(
            "2024-02/2024-02-west-mercia-outcomes.csv",
            "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
            "LSOA name,Outcome type\nx1,2024-02,West Mercia Police,West Mercia Police,-2.2,52.19,"
            "On or near High Street,E01032383,Worcester 010A,Unable to prosecute suspect\n",
        )
    return target


def test_fetch_ingests_only_the_force_and_months_asked(workspace, server, west_mercia, shared):
    base, root = server
    _archive(root, west_mercia, shared)
    reports = fetch_police_uk(
        workspace, "West Mercia", Month.parse("2024-02"), Month.parse("2024-04"), base
    )
    names = sorted(r.file_name.split("!")[1] for r in reports)
    assert names == [
        "2024-02/2024-02-west-mercia-outcomes.csv",
        "2024-02/2024-02-west-mercia-street.csv",
        "2024-03/2024-03-west-mercia-street.csv",
        "2024-04/2024-04-west-mercia-street.csv",
    ]
    street = sum(r.rows_accepted for r in reports if r.source_kind == "police_uk_street")
    assert street == 7654 + 8529 + 8540  # PROVENANCE.md rows for 2024-02 to 2024-04
    # a second fetch downloads nothing and ingests nothing new
    again = fetch_police_uk(
        workspace, "West Mercia", Month.parse("2024-02"), Month.parse("2024-04"), base
    )
    assert {r.status for r in again} == {"already ingested"}
    assert RecordingHandler.ranges == [None]


def test_interrupted_download_resumes_with_a_range_request(server, west_mercia, shared, tmp_path):
    base, root = server
    archive = _archive(root, west_mercia, shared)
    whole = archive.read_bytes()
    target = tmp_path / "2024-04.zip"
    (tmp_path / "2024-04.zip.part").write_bytes(whole[: len(whole) // 3])
    seen: list[int] = []
    download(f"{base}/2024-04.zip", target, lambda name, done, total: seen.append(done))
    assert RecordingHandler.ranges == [f"bytes={len(whole) // 3}-"]
    assert target.read_bytes() == whole
    assert seen[-1] == len(whole)


def test_missing_archive_and_bad_months_are_clear_errors(workspace, server):
    from svduty.errors import SvdutyError

    base, _ = server
    with pytest.raises(SvdutyError, match="HTTP 404"):
        fetch_police_uk(
            workspace, "West Mercia", Month.parse("2024-01"), Month.parse("2024-02"), base
        )
    with pytest.raises(InputError, match="write YYYY-MM"):
        Month.parse("2024-13")
    with pytest.raises(InputError, match="is after"):
        archives_for(Month.parse("2024-05"), Month.parse("2024-01"))


def test_archive_choice_and_force_slugs():
    assert [str(m) for m in archives_for(Month.parse("2019-01"), Month.parse("2025-12"))] == [
        "2025-12",
        "2022-12",
        "2019-12",
    ]
    assert [str(m) for m in archives_for(Month.parse("2023-01"), Month.parse("2025-12"))] == [
        "2025-12"
    ]
    assert force_slug("West Mercia") == "west-mercia"
    assert force_slug("Devon & Cornwall") == "devon-and-cornwall"
    assert force_slug("Metropolitan Police") == "metropolitan"


def test_the_fetch_command_classifies_the_incidents_it_adds(workspace, server, west_mercia, shared):
    """As `svduty ingest` does: the stored classification covers every incident fetched, and
    a later fetch classifies only the months it adds."""
    import os
    import subprocess
    import sys

    from svduty.workspace import Workspace

    base, root = server
    _archive(root, west_mercia, shared)
    folder = workspace.root
    workspace.close()

    def fetch(start: str, end: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "svduty.cli", "fetch", "police-uk", "-w", str(folder),
             "--force", "West Mercia", "--from", start, "--to", end],
            capture_output=True, text=True, env={**os.environ, "SVDUTY_POLICE_UK_ARCHIVE": base},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stored() -> tuple[int, int]:
        with Workspace.open(folder, read_only=True) as ws:
            [(incidents,)] = ws.con.execute("SELECT count(*) FROM incidents").fetchall()
            [(classified,)] = ws.con.execute(
                "SELECT count(*) FROM classifications WHERE definition_id = ?",
                [ws.settings.definition],
            ).fetchall()
        return incidents, classified

    said = fetch("2024-02", "2024-04")
    first = 7654 + 8529 + 8540  # PROVENANCE.md rows for 2024-02 to 2024-04
    assert f"Classified {first:,} incidents" in said
    assert stored() == (first, first)
    said = fetch("2024-01", "2024-04")  # adds January from the same archive
    incidents, classified = stored()
    assert incidents > first and classified == incidents
    assert f"Classified {incidents:,} incidents" in said
