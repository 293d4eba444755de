"""Synthetic partner data: deterministic, ingested by the real adapters with no rejects, marked
synthetic everywhere, calibrated to its profile, and breakable on purpose for ingest tests."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from svduty.counting import counts
from svduty.ingest import ingest
from svduty.synth.check import check, synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile


@pytest.fixture(scope="module")
def profile():
    return load_profile("west-mercia")


@pytest.fixture(scope="module")
def full_scale(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A year at the profile's full volume, generated and checked by `svduty synth` as a user
    runs it: the size the calibration is checked at, made once for the tests that check it."""
    out = tmp_path_factory.mktemp("synth") / "syn"
    done = subprocess.run(
        [sys.executable, "-m", "svduty.cli", "synth", "--out", str(out), "--scale", "1",
         "--seed", "11", "--check"],
        capture_output=True, text=True,
    )  # fmt: skip
    return out, done


def _same_tree(a: Path, b: Path) -> bool:
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    if names != sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()):
        return False
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def test_same_seed_gives_byte_identical_files(profile, tmp_path):
    generate(profile, tmp_path / "a", scale=0.05, seed=5)
    generate(profile, tmp_path / "b", scale=0.05, seed=5)
    generate(profile, tmp_path / "c", scale=0.05, seed=6)
    assert _same_tree(tmp_path / "a", tmp_path / "b")
    assert not filecmp.cmp(
        tmp_path / "a" / "crimes.csv", tmp_path / "c" / "crimes.csv", shallow=False
    )


def test_generated_data_ingests_with_no_rejects_and_stays_synthetic(profile, tmp_path, workspace):
    written = generate(profile, tmp_path / "syn", scale=0.3, seed=2)
    files, mappings = synthetic_files(tmp_path / "syn")
    reports = ingest(workspace, files, mappings=mappings)
    assert [r.rows_rejected for r in reports] == [0, 0, 0, 0]
    assert [r.rows_accepted for r in reports] == [
        written.rows[n] for n in ("crimes.csv", "people.csv", "istv.csv", "admissions.csv")
    ]
    for table in ("incidents", "involvements", "ae_attendances", "admissions"):
        assert (
            workspace.con.execute(
                f"SELECT count(*) FILTER (WHERE NOT synthetic), count(*) FROM {table}"
            ).fetchall()[0][0]
            == 0
        ), table
    assert workspace.con.execute("SELECT bool_and(synthetic) FROM batches").fetchall() == [(True,)]
    result = counts(workspace.store, "incidents", ["csp"])
    assert result.synthetic == result.total > 0
    assert (result.frame["synthetic"] == result.frame["count"]).all()


def test_check_passes_every_calibrated_figure(profile, full_scale):
    result = check(full_scale[0], profile)
    assert result.rejected == 0
    failed = result.table[~result.table["within"]]
    assert failed.empty, failed.to_string()
    assert set(result.table["figure"]) == set(profile.data["targets"]) | {
        "crimes_per_year",
        "monthly_shares",
        "csp_shares",
    }
    assert (result.table["source"] != "").all()


def test_check_notices_a_profile_the_data_does_not_follow(profile, full_scale):
    import copy

    data = copy.deepcopy(profile.data)
    data["targets"]["knife_per_year"]["value"] = 900
    data["targets"]["sv_public_place_share"]["value"] = 0.4
    other = type(profile)(profile.path, data)
    result = check(full_scale[0], other)
    failed = set(result.table.loc[~result.table["within"], "figure"])
    assert failed == {"knife_per_year", "sv_public_place_share"}
    assert not result.passed


def test_corruption_is_rejected_line_for_line(profile, tmp_path, workspace):
    """The files `svduty ingest syn/*.csv --mapping syn/mappings` takes are the sources alone:
    the list of broken rows is in truth/, which that glob does not reach."""
    generate(profile, tmp_path / "syn", scale=0.2, seed=4, corrupt=0.01)
    expected = pd.read_csv(tmp_path / "syn" / "truth" / "corruptions.csv")
    assert len(expected) > 50
    files = sorted((tmp_path / "syn").glob("*.csv"))
    sources, mappings = synthetic_files(tmp_path / "syn")
    assert files == sorted(sources)
    ingest(workspace, files, mappings=mappings)
    rejects = workspace.con.execute(
        "SELECT file_name, line, field, reason FROM rejects ORDER BY file_name, line"
    ).df()
    rejects["file"] = rejects["file_name"].map(lambda p: Path(p).name)
    merged = expected.merge(rejects, on=["file", "line"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["column"] == merged["field"]).all()
    assert all(
        want in got for want, got in zip(merged["reason_x"], merged["reason_y"], strict=True)
    )


def test_synth_command_generates_and_checks(full_scale):
    out, done = full_scale
    assert done.returncode == 0, done.stderr
    assert "Every calibrated figure is within tolerance" in done.stderr
    assert "SYNTHETIC" in (out / "SYNTHETIC.txt").read_text()
    again = subprocess.run(
        [sys.executable, "-m", "svduty.cli", "synth", "--out", str(out), "--check"],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0 and "Wrote SYNTHETIC" not in again.stderr


@pytest.mark.parametrize("name", ["west-mercia", "warwickshire"])
def test_profile_data_files_are_what_the_sources_build(shared, tmp_path, name):
    from svduty.synth.derive import derive

    shipped = load_profile(name)
    written = derive(shared, shipped, tmp_path)
    assert set(written) == {part["file"] for part in shipped.data["derived"].values()}
    for file in written:
        assert (tmp_path / file).read_bytes() == (shipped.path.parent / file).read_bytes(), file
