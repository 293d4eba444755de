"""The only network steps: download data.police.uk monthly archives and ingest one force's
files; and download the area's boundaries from the ONS Open Geography Portal.

An archive `YYYY-MM.zip` holds the 36 months ending in YYYY-MM, as `M/M-<force>-street.csv`
(and `-outcomes.csv`, `-stop-and-search.csv`). Downloads resume from a `.part` file with an HTTP
Range request, so an interrupted fetch continues where it stopped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
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


ONS_SERVICES = "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services"
"""The ONS Open Geography Portal's ArcGIS REST services (Open Government Licence)."""


@dataclass(frozen=True)
class BoundaryLayer:
    """One ONS boundary product, queried by code; layer 0 of its feature service."""

    title: str
    service: str
    code_field: str
    file: str


BOUNDARY_LAYERS = {
    "lsoa": BoundaryLayer(
        "Lower layer Super Output Areas (December 2021) Boundaries EW BGC (V5)",
        "Lower_layer_Super_Output_Areas_December_2021_Boundaries_EW_BGC_V5",
        "LSOA21CD",
        "lsoa-2021-bgc.geojson",
    ),
    "district": BoundaryLayer(
        "Local Authority Districts (December 2024) Boundaries UK BGC",
        "Local_Authority_Districts_December_2024_Boundaries_UK_BGC",
        "LAD24CD",
        "lad-2024-bgc.geojson",
    ),
}
CODES_PER_QUERY = 100


def _query(url: str, params: dict[str, str]) -> dict:
    """One GET of an ArcGIS query, as JSON; an ArcGIS error (sent with HTTP 200) is raised."""
    try:
        with urllib.request.urlopen(f"{url}?{urllib.parse.urlencode(params)}", timeout=120) as got:
            data = json.loads(got.read())
    except urllib.error.HTTPError as error:
        raise SvdutyError(f"query of {url} failed: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise SvdutyError(f"query of {url} failed: {error.reason}") from error
    except ValueError as error:
        raise SvdutyError(f"query of {url} did not return JSON ({error})") from error
    if not isinstance(data, dict):
        raise SvdutyError(f"query of {url} did not return a JSON object")
    if "error" in data:
        said = data["error"]
        message = said.get("message", said) if isinstance(said, dict) else said
        raise SvdutyError(f"query of {url} failed: the service says {message}")
    return data


def fetch_boundaries(
    workspace: Workspace,
    level: str = "lsoa",
    base_url: str = ONS_SERVICES,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download the area's boundaries from the ONS Open Geography Portal (the 2021 LSOAs of its
    districts, or the districts), write them to `boundaries/` as GeoJSON (WGS84), check them as
    any boundary file is checked, and point the `boundaries` setting at them."""
    from svduty.quality import area_districts
    from svduty.reference.boundaries import read_boundaries
    from svduty.settings import save_settings

    workspace.store.require_writer("fetch boundaries")
    if level not in BOUNDARY_LAYERS:
        raise InputError(f"--level must be one of {', '.join(BOUNDARY_LAYERS)}")
    layer = BOUNDARY_LAYERS[level]
    districts = set(area_districts(workspace.store, workspace.settings))
    if not districts:
        raise InputError(
            "the workspace names no CSPs or forces, so svduty cannot tell which boundaries to "
            "fetch: give --csp or --police-force to svduty init"
        )
    areas = workspace.store.table("areas").select("lsoa_code", "la_code", "in_2011", "in_2021")
    frame = areas.to_pandas()
    codes = (
        sorted(frame.loc[frame["la_code"].isin(list(districts)) & frame["in_2021"], "lsoa_code"])
        if level == "lsoa"
        else sorted(districts)
    )
    url = f"{base_url.rstrip('/')}/{layer.service}/FeatureServer/0/query"
    features: list[dict] = []
    for first in range(0, len(codes), CODES_PER_QUERY):
        chosen = ", ".join(f"'{c}'" for c in codes[first : first + CODES_PER_QUERY])
        offset = 0
        while True:
            params = {
                "where": f"{layer.code_field} IN ({chosen})",
                "outFields": layer.code_field,
                "outSR": "4326",
                "f": "geojson",
                "resultOffset": str(offset),
            }
            data = _query(url, params)
            page = data.get("features") or []
            features.extend(page)
            offset += len(page)
            more = data.get("exceededTransferLimit") or (data.get("properties") or {}).get(
                "exceededTransferLimit"
            )
            if not more or not page:
                break
        if progress:
            progress(min(first + CODES_PER_QUERY, len(codes)), len(codes))
    folder = workspace.root / "boundaries"
    folder.mkdir(exist_ok=True)
    target = folder / layer.file
    staging = target.with_name(target.name + ".part")
    collection = {
        "type": "FeatureCollection",
        "name": f"ONS {layer.title}; contains OS data, Crown copyright and database right; OGL",
        "features": features,
    }
    staging.write_text(json.dumps(collection, separators=(",", ":")) + "\n", encoding="utf-8")
    try:
        read_boundaries(staging, frame, districts)
    except InputError as error:
        staging.unlink()
        raise SvdutyError(
            f"the boundaries fetched from {url} do not fit the area: {error}"
        ) from error
    os.replace(staging, target)
    settings = replace(workspace.settings, boundaries=str(target.relative_to(workspace.root)))
    save_settings(workspace.root, settings)
    workspace.settings = settings
    workspace.audit(
        "fetch boundaries",
        {"layer": layer.title, "url": url, "codes": len(codes), "features": len(features)},
        [target],
    )
    return target
