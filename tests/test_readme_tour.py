"""The README as written.

Every svduty command in the README is parsed by the command line itself, so an option renamed or
removed fails here, and the quick tour runs start to finish in bash with the files it names made
from the example data: the bundled data.police.uk archive in ~/downloads, a Home Office CSP table
from the shared 2017/18 tables, a force extract, an ISTV XML file, a revised definition and a
weights table. `fetch police-uk` downloads the same archive, and `fetch boundaries` stand-in 2021
LSOAs, from a server on loopback."""

from __future__ import annotations

import csv
import http.server
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
import typer.main
from partner_files import (
    FORCE_MAPPING,
    ISTV_MAPPING,
    random_attendances,
    random_extract,
    write_force_extract,
    write_istv_xml,
)
from shapely import box, union_all
from shapely.geometry import mapping, shape
from typer.core import TyperGroup

import svduty
from svduty.cli import app
from svduty.definitions import shipped_definitions
from svduty.example import WEST_MERCIA, example_archive
from svduty.reference import data_path

README = Path(__file__).resolve().parents[1] / "README.md"


def tour() -> str:
    section = README.read_text(encoding="utf-8").split("## A quick tour", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert found is not None, "no sh block under '## A quick tour'"
    return found.group(1)


def readme_commands() -> list[list[str]]:
    """Every svduty command in the README's shell blocks as argument lists (continued lines
    joined, comments and redirections dropped)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    commands = []
    for line in "".join(blocks).replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["svduty"]:
            commands.append(words[1 : words.index(">")] if ">" in words else words[1:])
    return commands


def _parse(args: list[str]) -> None:
    """What the command line makes of the arguments, down to the command, without running it."""
    command, context, name = typer.main.get_command(app), None, "svduty"
    while True:
        context = command.make_context(name, list(args), parent=context)
        if not isinstance(command, TyperGroup):
            return
        found, command, args = command.resolve_command(
            context, [*context._protected_args, *context.args]
        )
        name = found or name


def test_every_readme_command_parses():
    commands = readme_commands()
    assert ["report", "--overview"] in commands and ["bench", "classify"] in commands
    for args in commands:
        try:
            _parse(args)
        except Exception as error:
            pytest.fail(f"svduty {shlex.join(args)}: {error}")


def _csp_table(prc_table: Path, target: Path) -> None:
    """West Mercia's rows of the force-level tables laid out as the published CSP-level
    tables are (spaced headers, a CSP Name column), spread over its five CSPs."""
    csps = [
        "Herefordshire",
        "Shropshire",
        "Telford and Wrekin",
        "North Worcestershire",
        "South Worcestershire",
    ]
    with prc_table.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Force_Name"] == "West Mercia"]
    with target.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["Financial Year", "Financial Quarter", "Force Name", "CSP Name", "Offence Description",
             "Offence Group", "Offence Subgroup", "Offence Code", "Number of Offences"]
        )  # fmt: skip
        for i, r in enumerate(rows):
            out.writerow(
                [r["Financial_Year"], r["Financial_Quarter"], r["Force_Name"], csps[i % 5],
                 r["Offence_Description"], r["Offence_Group"], r["Offence_Subgroup"],
                 r["Offence_Code"], r["Number_of_Offences"]]
            )  # fmt: skip


def _revision(target: Path) -> None:
    """West Mercia's definition revised: assault with injury below the GBH threshold (s47 ABH)
    counts too."""
    text = shipped_definitions()["west-mercia-2022"].read_text(encoding="utf-8")
    revised = text.replace("id: west-mercia-2022", "id: my-revision", 1).replace(
        "statutes: [s18, s20]", "statutes: [s18, s20, s47]", 1
    )
    assert revised.count("my-revision") == 1 and "s47]" in revised
    target.write_text(revised, encoding="utf-8")


def _lsoas_2021(shared: Path) -> dict[str, dict]:
    """Stand-in for the ONS layer of 2021 LSOAs in West Mercia (the shared data hold the 2011
    polygons): the 2011 polygon for each code both years share; in each district, the LSOAs
    retired in 2021 pooled and cut into strips, one for each LSOA new in 2021."""
    polygons = {}
    for path in (shared / "boundaries-west-mercia" / "lsoa_by_lad").glob("*.json"):
        for feature in json.loads(path.read_text())["features"]:
            polygons[feature["properties"]["LSOA11CD"]] = shape(feature["geometry"])
    areas = pd.read_csv(data_path("areas.csv.gz"), dtype=str)
    areas = areas[areas["la_code"].isin(_districts())]
    now, before = areas["in_2021"] == "True", areas["in_2011"] == "True"
    found = {c: polygons[c] for c in areas.loc[now & before, "lsoa_code"]}
    for _, district in areas.groupby("la_code"):
        new = sorted(district.loc[now & ~before, "lsoa_code"])
        retired = [polygons[c] for c in district.loc[before & ~now, "lsoa_code"]]
        pool = union_all(retired or [polygons[c] for c in district.loc[before, "lsoa_code"]])
        x0, y0, x1, y1 = pool.bounds
        step = (x1 - x0) / max(len(new), 1)
        for i, code in enumerate(new):
            strip = pool.intersection(box(x0 + i * step, y0, x0 + (i + 1) * step, y1))
            if strip.is_empty or strip.geom_type not in ("Polygon", "MultiPolygon"):
                x, y = pool.representative_point().coords[0]  # a small square of its own
                strip = box(x + i * 0.002, y, x + i * 0.002 + 0.001, y + 0.001)
            found[code] = strip
    return {
        code: {"type": "Feature", "properties": {"LSOA21CD": code}, "geometry": mapping(shape_)}
        for code, shape_ in found.items()
    }


def _districts() -> set[str]:
    return {code for codes in WEST_MERCIA.csps.values() for code in codes}


class Loopback(http.server.SimpleHTTPRequestHandler):
    """data.police.uk's archive folder (files) and the ONS feature service (the part svduty
    asks: codes IN (...), as GeoJSON), on 127.0.0.1."""

    lsoas: ClassVar[dict[str, dict]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlparse(self.path)
        if not url.path.endswith("/FeatureServer/0/query"):
            super().do_GET()
            return
        where = urllib.parse.parse_qs(url.query)["where"][0]
        codes = re.findall(r"'([^']+)'", where)
        body = {"type": "FeatureCollection", "features": [Loopback.lsoas[c] for c in codes]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def servers(tmp_path: Path, shared: Path) -> Iterator[dict[str, str]]:
    """The two services the tour downloads from, as environment settings."""
    site = tmp_path / "site"
    (site / "police-uk").mkdir(parents=True)
    shutil.copyfile(example_archive(), site / "police-uk" / "2025-12.zip")
    Loopback.lsoas = _lsoas_2021(shared)
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(Loopback, directory=str(site))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    here = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield {
        "SVDUTY_POLICE_UK_ARCHIVE": f"{here}/police-uk/",
        "SVDUTY_ONS_SERVICES": f"{here}/arcgis/rest/services",
    }
    httpd.shutdown()


def test_the_readme_tour_runs(tmp_path: Path, prc_table: Path, servers: dict[str, str]):
    venv = Path(sys.prefix)
    assert (venv / "bin" / "activate").exists() and (venv / "bin" / "svduty").exists(), (
        "the tour runs in the virtual environment svduty is installed in"
    )
    home = tmp_path / "home"
    (home / "downloads").mkdir(parents=True)
    shutil.copyfile(example_archive(), home / "downloads" / "2025-12.zip")
    (tmp_path / ".venv").symlink_to(venv)
    area = tmp_path / "my-area"  # the files the tour reads once it is in the workspace
    area.mkdir()
    _csp_table(prc_table, area / "prc-csp-tables.csv")
    crimes, people = random_extract(2025, 400)  # crime references WM/2025/000000 ...
    assert any(c["crime_ref"] == "WM/2025/000123" for c in crimes)
    write_force_extract(area, crimes, people)
    shutil.copyfile(FORCE_MAPPING, area / FORCE_MAPPING.name)
    write_istv_xml(area / "istv-2025-01.xml", random_attendances(2025, 200))
    shutil.copyfile(ISTV_MAPPING, area / ISTV_MAPPING.name)
    _revision(area / "my-revision.yaml")
    (area / "css-2024.csv").write_text(
        "# source: illustrative weights for the test, not the ONS Crime Severity Score\n"
        "offence_code,weight\n8N,184\n5D,1965\n34B,746\n34A,1265\n"
    )
    (tmp_path / "tour.sh").write_text(tour())
    path = [p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != venv / "bin"]
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "SVDUTY_WORKSPACE")},
        "HOME": str(home),
        "PATH": os.pathsep.join(path),
        "PYTHONPATH": str(Path(svduty.__file__).parents[1]),  # this checkout's svduty
        **servers,
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    traced = "PS4='+ $EPOCHREALTIME '; set -x; . ./tour.sh; : end"  # bash -x with times
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", traced],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    timings = _timings(done.stderr)
    (tmp_path / "timings.txt").write_text(f"CPU {cpu:.0f} s\n{timings}")
    assert "Traceback" not in done.stderr, done.stderr[-5000:]
    assert done.returncode == 0, f"{timings}\n{done.stderr[-5000:]}"

    reports = area / "reports"
    for suffix in (".html", ".pdf"):
        assert list(reports.rglob(f"*{suffix}")), f"no {suffix} report in {reports}"
    summaries = [json.loads(p.read_text()) for p in reports.rglob("*summary*.json")]
    assert summaries and all("sections" in s for s in summaries)
    assert any("overview" in p.name for p in reports.glob("*.html"))
    assert list((reports / "internal").glob("*.html")), "the unsuppressed report is internal"
    for name in ("gi.png", "lsoa.png", "emerging.png"):
        assert (area / name).read_bytes().startswith(b"\x89PNG"), name
    assert json.loads((area / "cells.json").read_text())["type"] == "FeatureCollection"


def _timings(trace: str) -> str:
    """Seconds each traced command took, from the bash trace's start times."""
    started = [
        (float(m.group(1)), m.group(2)[:100])
        for m in re.finditer(r"^\++ (\d+\.\d+) (svduty .*|cd .*|: end)$", trace, flags=re.M)
    ]
    return "\n".join(f"{b[0] - a[0]:8.1f} s  {a[1]}" for a, b in pairwise(started))
