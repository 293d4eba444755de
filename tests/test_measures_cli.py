"""`svduty spc` and `svduty funnel` as a user runs them: a real process on CSV files made here."""

from __future__ import annotations

import csv
import io
import itertools
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import svduty

WORKED = [20, 24, 20, 26, 22, 16, 18, 16, 31, 28, 34, 26, 30, 19, 18]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("measures")
    with (folder / "series.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["month", "assaults"])
        for k, value in enumerate(WORKED):
            writer.writerow([f"{2023 + k // 12}-{k % 12 + 1:02d}", value])
    (folder / "areas.csv").write_text(
        "area,numerator,denominator\n"
        "Herefordshire,420,187000\nShropshire,610,323000\nTelford and Wrekin,700,185000\n"
        "North Worcestershire,520,250000\nSouth Worcestershire,480,330000\n"
    )
    (folder / "bad.csv").write_text("month,assaults\n2023-01,5\n2023-02,five\n")
    return folder


def test_spc_writes_one_row_per_point_with_the_worked_limits(files):
    done = svduty(
        "spc", "--input", str(files / "series.csv"), "--date-column", "month",
        "--value-column", "assaults", "--improvement", "down", "--target", "30",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 15
    assert {"date", "value", "mean", "upl", "lpl", "variation"} <= set(rows[0])
    assert rows[0]["date"] == "2023-01-01" and rows[-1]["date"] == "2024-03-01"
    assert [round(float(rows[0][c]), 2) for c in ("mean", "upl", "lpl")] == [23.2, 37.64, 8.76]
    assert {row["variation"] for row in rows} == {"common"}
    assert "variation: common_cause" in done.stderr
    assert "assurance: hit_or_miss" in done.stderr  # 30 lies between the limits


def readme_commands() -> list[str]:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = text.split("### SPC charts and funnel plots", 1)[1].split("```sh", 1)[1]
    lines = block.split("```", 1)[0].replace("\\\n", " ").strip().splitlines()
    return [line.split("#")[0].strip() for line in lines]


def test_the_readme_commands_run_as_written(tmp_path):
    with (tmp_path / "knife-crime-by-month.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["month", "offences"])
        for k in range(30):
            writer.writerow([f"{2023 + k // 12}-{k % 12 + 1:02d}", 50 + (k * 7) % 11 - k // 2])
    days = [0, 40, 41, 95, 180, 200, 260, 300, 390, 420, 500, 505, 600, 700, 760, 820, 900]
    (tmp_path / "homicides.csv").write_text(
        "date\n" + "".join(f"{date(2015, 1, 1) + timedelta(days=d)}\n" for d in days)
    )
    (tmp_path / "admissions-by-csp.csv").write_text(
        "area,numerator,denominator\n"
        + "".join(f"CSP {k},{30 + 9 * k},{100000 + 20000 * k}\n" for k in range(8))
    )
    spc_png, spc_t, funnel_od = readme_commands()
    outputs = []
    for command in (spc_png, spc_t, funnel_od):
        done = subprocess.run(
            ["bash", "-c", f'svduty() {{ "{sys.executable}" -m svduty.cli "$@"; }}\n{command}'],
            capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(done)
    assert (tmp_path / "knife.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "variation:" in outputs[0].stderr and "assurance:" in outputs[0].stderr
    intervals = list(csv.DictReader(io.StringIO(outputs[1].stdout)))
    assert [float(row["value"]) for row in intervals] == [
        b - a for a, b in itertools.pairwise(days)
    ]
    assert "overdispersion: phi" in outputs[2].stderr


def test_funnel_labels_each_area(files):
    done = svduty(
        "funnel", "--input", str(files / "areas.csv"), "--kind", "rate", "--multiplier", "100000",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {row["area"]: row for row in csv.DictReader(io.StringIO(done.stdout))}
    assert set(rows) == {
        "Herefordshire", "Shropshire", "Telford and Wrekin", "North Worcestershire",
        "South Worcestershire",
    }  # fmt: skip
    # Telford and Wrekin: 378 per 100,000 against a baseline of 214
    assert rows["Telford and Wrekin"]["significance"] == "High (0.001)"
    assert rows["South Worcestershire"]["significance"] == "Low (0.001)"
    assert float(rows["Shropshire"]["value"]) == pytest.approx(610 / 323000 * 100000)


def test_a_bad_file_is_one_line_naming_file_line_and_column(files):
    done = svduty(
        "spc", "--input", str(files / "bad.csv"), "--date-column", "month",
        "--value-column", "assaults",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"error: {files / 'bad.csv'}, line 3, column 'assaults': 'five' is not a number"
    ]
