"""Download data.police.uk monthly archives and ingest one force's files: the only network step.

An archive `YYYY-MM.zip` holds the 36 months ending in YYYY-MM, as `M/M-<force>-street.csv`
(and `-outcomes.csv`, `-stop-and-search.csv`). Downloads resume from a `.part` file with an HTTP
Range request, so an interrupted fetch continues where it stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from svduty.archive import ArchiveLimits, CorruptArchive, read_members
from svduty.errors import InputError, SvdutyError
from svduty.ingest import BatchReport, SourceFile, ingest_file, plan
from svduty.workspace import Workspace

DEFAULT_BASE_URL = "https://data.police.uk/data/archive/"
ARCHIVE_MONTHS = 36
_SLUGS = {
    "Metropolitan Police": "metropolitan",
    "London, City of": "city-of-london",
    "British Transport Police": "btp",
}
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise InputError(f"{text!r} is not a month; write YYYY-MM (e.g. 2025-01)")
        return cls(int(match.group(1)), int(match.group(2)))

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __le__(self, other: Month) -> bool:
        return (self.year, self.month) <= (other.year, other.month)


def force_slug(force: str) -> str:
    if force in _SLUGS:
        return _SLUGS[force]
    return re.sub(r"[^a-z0-9]+", "-", force.lower().replace("&", "and")).strip("-")


def archives_for(start: Month, end: Month) -> list[Month]:
    """The fewest archives covering start..end, newest first."""
    if not start <= end:
        raise InputError(f"the first month {start} is after the last {end}")
    chosen, latest = [], end
    while True:
        chosen.append(latest)
        earliest = latest.plus(-(ARCHIVE_MONTHS - 1))
        if earliest <= start:
            return chosen
        latest = latest.plus(-ARCHIVE_MONTHS)


def download(url: str, target: Path, progress: Progress | None = None) -> Path:
    """Fetch `url` to `target`, resuming a previous partial download."""
    if target.exists():
        return target
    part = target.with_name(target.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 416 and done:  # already complete
            part.rename(target)
            return target
        raise SvdutyError(f"download of {url} failed: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise SvdutyError(f"download of {url} failed: {error.reason}") from error
    with response:
        resumed = response.status == 206
        length = response.headers.get("Content-Length")
        total = (int(length) + (done if resumed else 0)) if length else None
        mode = "ab" if resumed else "wb"
        received = done if resumed else 0
        with part.open(mode) as handle:
            while block := response.read(1 << 16):
                handle.write(block)
                received += len(block)
                if progress:
                    progress(target.name, received, total)
    if total is not None and received != total:
        raise SvdutyError(
            f"download of {url} stopped at {received} of {total} bytes; run the command again "
            "to resume"
        )
    part.rename(target)
    return target


def fetch_police_uk(
    workspace: Workspace,
    force: str,
    start: Month,
    end: Month,
    base_url: str = DEFAULT_BASE_URL,
    progress: Progress | None = None,
) -> list[BatchReport]:
    workspace.store.require_writer("fetch and ingest")
    slug = force_slug(force)
    downloads = workspace.root / "downloads"
    downloads.mkdir(exist_ok=True)
    pattern = re.compile(
        rf"(\d{{4}}-\d{{2}})/\1-{re.escape(slug)}-"
        r"(street|outcomes|stop-and-search)\.csv$"
    )
    reports: list[BatchReport] = []
    seen: set[str] = set()
    for archive in archives_for(start, end):
        path = download(
            f"{base_url.rstrip('/')}/{archive}.zip", downloads / f"{archive}.zip", progress
        )
        scratch = downloads / f"{archive}-extract"
        limits = ArchiveLimits(
            workspace.settings.archive_member_max_bytes, workspace.settings.archive_max_bytes
        )

        def wanted(name: str) -> bool:
            match = pattern.search(name)
            if not match or name.split("/")[-1] in seen:
                return False
            try:
                return start <= Month.parse(match.group(1)) <= end
            except InputError:
                return False

        try:
            try:
                read = read_members(path, scratch, wanted, limits)
            except CorruptArchive as error:
                path.unlink()
                raise SvdutyError(f"{error}\n(the download was removed; fetch again)") from error
            named = os.path.abspath(path)
            members = [SourceFile(f"{named}!{m.name}", m.path) for m in read]
            seen.update(m.name.split("/")[-1] for m in read)
            for source, adapter, header in plan(members, None):
                reports.append(ingest_file(workspace, source, adapter, header))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if not reports:
        raise InputError(
            f"no files for force {force!r} (slug {slug!r}) between {start} and {end} in the "
            "archive(s)"
        )
    workspace.audit(
        "fetch police-uk",
        {
            "force": force, "from": str(start), "to": str(end), "base_url": base_url,
            "new_batches": [r.batch_id for r in reports if r.status != "already ingested"],
        },
    )  # fmt: skip
    return reports
