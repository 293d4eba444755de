"""The command line as a user runs it: a real process, real workspace, every output format."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from conftest import csv_rows

from svduty.counting import Filter, counts
from svduty.definitions import load_definition
from svduty.workspace import Workspace


def svduty(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "svduty.cli", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cli_workspace(tmp_path_factory, west_mercia: Path, prc_table: Path) -> Path:
    root = tmp_path_factory.mktemp("cli") / "ws"
    done = svduty("init", str(root), "--example")
    assert done.returncode == 0, done.stderr
    done = svduty(
        "ingest",
        "-w",
        str(root),
        str(west_mercia / "2025-05"),
        str(west_mercia / "2025-06"),
        str(prc_table),
    )
    assert done.returncode == 0, done.stderr
    return root


def test_init_writes_a_documented_settings_file(cli_workspace):
    text = (cli_workspace / "svduty.toml").read_text()
    assert 'area = "West Mercia"' in text
    assert "# Published counts below this are suppressed." in text
    assert '"North Worcestershire" = ["E07000234", "E07000236", "E07000239"]' in text
    assert (cli_workspace / "svduty.duckdb").exists()


def test_counts_csv_matches_an_independent_count(cli_workspace, west_mercia):
    done = svduty(
        "counts",
        "-w",
        str(cli_workspace),
        "--by",
        "month,category",
        "--filter",
        "category=Robbery",
        "--filter",
        "category=Drugs",
        "--format",
        "csv",
    )
    assert done.returncode == 0, done.stderr
    got = {
        (r["month"], r["category"]): int(r["count"])
        for r in csv.DictReader(io.StringIO(done.stdout))
    }
    expected: Counter[tuple[str, str]] = Counter()
    for month in ("2025-05", "2025-06"):
        for row in csv_rows(next((west_mercia / month).glob("*.csv"))):
            if row["Crime type"] in ("Robbery", "Drugs"):
                expected[(row["Month"], row["Crime type"])] += 1
    assert got == dict(expected)


def test_counts_json_by_csp_uses_the_partnership_csps(cli_workspace):
    done = svduty(
        "counts",
        "-w",
        str(cli_workspace),
        "--by",
        "csp",
        "--filter",
        "financial_year=2025/26",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert set(rows[0]) == {"csp", "count"}
    csps = {r["csp"] for r in rows}
    assert {
        "North Worcestershire",
        "South Worcestershire",
        "Herefordshire",
        "Shropshire",
        "Telford and Wrekin",
    } <= csps


def test_workspace_from_environment_variable(cli_workspace, tmp_path):
    done = svduty(
        "counts",
        "--by",
        "force",
        "--format",
        "csv",
        env={"SVDUTY_WORKSPACE": str(cli_workspace)},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "force,count"


def test_unknown_dimension_lists_the_valid_ones(cli_workspace):
    done = svduty("counts", "-w", str(cli_workspace), "--by", "ward")
    assert done.returncode == 2
    assert "unknown dimension 'ward' for incidents" in done.stderr
    assert "financial_year" in done.stderr and "offence_subgroup" in done.stderr


def test_batches_and_rejects_formats(cli_workspace):
    done = svduty("batches", "-w", str(cli_workspace), "--format", "json")
    batches = json.loads(done.stdout)
    assert len(batches) == 3
    for key in (
        "batch_id",
        "source_kind",
        "file_name",
        "sha256",
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "status",
    ):
        assert key in batches[0]
    done = svduty("rejects", "-w", str(cli_workspace), "--format", "csv")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == "batch_id,file_name,line,field,value,reason"


def test_quality_lists_gaps(cli_workspace, west_mercia):
    done = svduty("ingest", "-w", str(cli_workspace), str(west_mercia / "2025-01"))
    assert done.returncode == 0
    done = svduty("quality", "-w", str(cli_workspace), "--table", "gaps", "--format", "csv")
    assert done.stdout.splitlines()[1:] == ["police_uk_street,West Mercia,2025-02,2025-04,3"]


def test_not_a_workspace(tmp_path):
    done = svduty("batches", "-w", str(tmp_path))
    assert done.returncode == 2
    assert "is not an svduty workspace" in done.stderr and "svduty init" in done.stderr


def test_init_refuses_unknown_districts_and_existing_workspaces(tmp_path, cli_workspace):
    done = svduty("init", str(tmp_path / "x"), "--csp", "North=Bromsgrove,Atlantis")
    assert done.returncode == 2
    assert "unknown district(s) North: 'Atlantis'" in done.stderr
    done = svduty("init", str(cli_workspace))
    assert done.returncode == 2 and "already a workspace" in done.stderr


def test_definitions_commands(cli_workspace, tmp_path):
    done = svduty("definitions", "list", "--format", "csv")
    assert done.returncode == 0
    assert [r.split(",")[0] for r in done.stdout.splitlines()[1:]] == [
        "home-office-firearm",
        "home-office-knife-sharp",
        "police-uk-open-data",
        "west-mercia-2022",
    ]
    shown = svduty("definitions", "show", "police-uk-open-data")
    assert "OVER-COUNTS" in shown.stdout and "# sha256: " in shown.stdout
    mine = tmp_path / "mine.yaml"
    mine.write_text(shown.stdout)
    assert svduty("definitions", "validate", str(mine)).returncode == 0
    mine.write_text(shown.stdout.replace("  - Robbery", "  - Robery"))
    done = svduty("definitions", "validate", str(mine))
    assert done.returncode == 2 and "unknown police.uk category 'Robery'" in done.stderr


def test_classify_counts_and_explain_on_open_data(cli_workspace):
    done = svduty(
        "classify",
        "-w",
        str(cli_workspace),
        "--definition",
        "police-uk-open-data",
        "--format",
        "csv",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "clause,name,matched,not_matched,not_assessable"
    assert "OVER-COUNTS" in done.stderr
    done = svduty(
        "counts",
        "-w",
        str(cli_workspace),
        "--definition",
        "west-mercia-2022",
        "--by",
        "clause",
        "--format",
        "csv",
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["clause,count"]  # nothing can be placed in it ...
    assert "Not assessable on these data" in done.stderr  # ... and it says why
    done = svduty("explain", "-w", str(cli_workspace), "1-2", "--definition", "police-uk-open-data")
    assert done.returncode == 0
    assert "Definition police-uk-open-data v2024.1:" in done.stdout
    done = svduty("explain", "-w", str(cli_workspace), "99-99")
    assert done.returncode == 2 and "no incident '99-99'" in done.stderr


def test_report_for_a_period_and_each_csp(cli_workspace, tmp_path):
    done = svduty(
        "report", "-w", str(cli_workspace), "--definition", "police-uk-open-data",
        "--from", "2025-06", "--to", "2025-06", "--each-area", "--no-pdf", "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    settings = tomllib.loads((cli_workspace / "svduty.toml").read_text())
    csps = list(settings["csps"])
    area = settings["workspace"]["area"]
    assert len(csps) == 5
    names = {
        a: f"sna-{a.lower().replace(' ', '-')}-2025-06-to-2025-06-police-uk-open-data"
        for a in [area, *csps]
    }
    assert sorted(p.name for p in tmp_path.glob("sna*.html")) == sorted(
        f"{n}.html" for n in names.values()
    )
    # it says what it wrote: each file, then the manifest that lists them (one run for all)
    wrote = [line.removeprefix("Wrote ") for line in done.stdout.splitlines() if "Wrote" in line]
    assert sorted(Path(p).name for p in wrote) == sorted(p.name for p in tmp_path.glob("sna*"))
    assert f"Listed in {tmp_path / 'manifest.json'}" in done.stdout
    manifest = json.loads((tmp_path / "manifest.json").read_text())["reports"]
    assert set(manifest) == set(names.values())
    assert len({entry["run"] for entry in manifest.values()}) == 1
    whole = json.loads((tmp_path / f"{names[area]}-summary.json").read_text())
    assert [m["month"] for m in whole["sections"]["trends"]["monthly"]] == ["2025-06"]
    parts = {
        csp: json.loads((tmp_path / f"{names[csp]}-summary.json").read_text())["sections"]["trends"]
        for csp in csps
    }
    with Workspace.open(cli_workspace) as ws:
        by_csp = counts(
            ws.store, "incidents", ["csp"], [Filter.parse("month=2025-06")],
            load_definition("police-uk-open-data"),
        ).frame  # fmt: skip
    expected = dict(zip(by_csp["csp"].fillna("none"), by_csp["count"], strict=True))
    assert {csp: t["monthly"][0]["count"] for csp, t in parts.items()} == {
        c: expected[c] for c in csps
    }
    # the whole area's month also counts the records with no location (no CSP)
    assert whole["sections"]["trends"]["monthly"][0]["count"] == sum(expected.values())
    assert expected["none"] > 0


def test_report_refuses_a_backwards_period(cli_workspace):
    done = svduty("report", "-w", str(cli_workspace), "--from", "2025-06", "--to", "2025-01")
    assert done.returncode != 0
    assert "starts (2025-06) after it ends (2025-01)" in done.stderr


def test_a_workspace_with_no_area_runs_quality_and_report(tmp_path, west_mercia: Path):
    """A national user's workspace (no area, no force): nothing is outside it, and the
    assessment covers everything held."""
    root = tmp_path / "national"
    assert svduty("init", str(root)).returncode == 0
    done = svduty("ingest", "-w", str(root), str(west_mercia / "2025-05"))
    assert done.returncode == 0, done.stderr
    quality = svduty("quality", "-w", str(root), "--format", "json")
    assert quality.returncode == 0, quality.stderr
    assert all(row["outside_area"] == 0 for row in json.loads(quality.stdout))
    report = svduty("report", "-w", str(root), "--no-pdf", "--definition", "police-uk-open-data")
    assert report.returncode == 0, report.stderr
    # a workspace with no area names its reports "workspace"
    name = "sna-workspace-2025-05-to-2025-05-police-uk-open-data"
    assert (root / "reports" / f"{name}-summary.json").exists()
