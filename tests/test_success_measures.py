"""Success measures: the shipped Home Office framework counted from a generated workspace and
checked against counts made here from the generated CSV files with pandas; a month no source
holds is a gap (None); a framework with mistakes is refused naming each line and field; the
commands as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import svduty

from svduty.analysis.measure_series import all_series, measure_series
from svduty.definitions import shipped_definitions
from svduty.errors import InputError
from svduty.example import WEST_MERCIA
from svduty.ingest import ingest
from svduty.measures.framework import UNITS, find_measure, load_framework, shipped_frameworks
from svduty.reference import data_path
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.workspace import Workspace

MEASURES = (
    "knife-admissions",
    "knife-admissions-under-25",
    "knife-offences",
    "knife-offences-under-25",
    "knife-homicide",
    "knife-homicide-under-25",
)


# --- expected counts, from the generated files ------------------------------------------------


def _offences() -> pd.DataFrame:
    return pd.read_csv(data_path("offences.csv"), dtype=str)


def _knife_codes() -> set[str]:
    """Offence codes of the shipped knife definition, its subgroups resolved from the reference
    table, read as plain YAML."""
    raw = yaml.safe_load(shipped_definitions()["home-office-knife-sharp"].read_text())
    codes: set[str] = set()
    offences = _offences()
    for clause in raw["clauses"]:
        assert clause["markers"] == {"all": ["knife"]}
        codes |= set(clause.get("offence_codes", []))
        subgroups = clause.get("offence_subgroups", [])
        codes |= set(offences.loc[offences["offence_subgroup"].isin(subgroups), "offence_code"])
    return codes


def _districts(csp: str | None = None) -> set[str]:
    chosen = [csp] if csp else list(WEST_MERCIA.csps)
    return {code for name in chosen for code in WEST_MERCIA.csps[name]}


def _expected(folder: Path, measure: str, months: list[str], csp: str | None = None) -> list[int]:
    districts = _districts(csp)
    if measure.startswith("knife-admissions"):
        rows = pd.read_csv(folder / "admissions.csv", dtype=str)
        rows = rows[(rows["ICD10 Cause"] == "X99") & rows["Area Code"].isin(districts)]
        if measure.endswith("under-25"):
            top = rows["Age Band"].str.extract(r"^\d+-(\d+)$")[0].astype(float)
            rows = rows[top <= 24]
        per = rows.groupby("Month")["Admissions"].apply(lambda s: s.astype(int).sum())
        return [int(per.get(m, 0)) for m in months]
    crimes = pd.read_csv(folder / "crimes.csv", dtype=str, keep_default_na=False)
    lsoa_la = pd.read_csv(data_path("areas.csv.gz"), dtype=str, usecols=["lsoa_code", "la_code"])
    la = crimes["LSOA"].map(dict(zip(lsoa_la["lsoa_code"], lsoa_la["la_code"], strict=True)))
    flags = crimes["Flags"].str.split(";")
    knife = flags.apply(lambda f: "KNIFE" in f)
    domestic = flags.apply(lambda f: "DA" in f)
    if measure.startswith("knife-offences"):
        keep = crimes["HO Class"].isin(_knife_codes()) & knife
    else:
        offences = _offences()
        homicide = offences.loc[offences["offence_subgroup"] == "Homicide", "offence_code"]
        keep = crimes["HO Class"].isin(set(homicide)) & knife & ~domestic
    if measure.endswith("under-25"):
        people = pd.read_csv(folder / "people.csv", dtype=str)
        young = people[(people["Role"] == "V") & (people["Age"].astype(int) < 25)]
        keep &= crimes["Crime Reference"].isin(set(young["Crime Reference"]))
    keep &= la.isin(districts)
    month = pd.to_datetime(crimes["Committed From"], format="%d/%m/%Y %H:%M").dt.strftime("%Y-%m")
    per = month[keep].value_counts()
    return [int(per.get(m, 0)) for m in months]


# --- the shipped framework on the shared workspace --------------------------------------------


@pytest.fixture(scope="module")
def opened(sna_workspace):
    root, _ = sna_workspace
    ws = Workspace.open(root, read_only=True)
    yield ws, root.parent / "syn"
    ws.close()


@pytest.mark.parametrize("measure", MEASURES)
def test_home_office_measures_equal_counts_from_the_generated_files(opened, measure):
    ws, folder = opened
    chosen = find_measure(measure)
    found = all_series(ws.store, ws.settings, chosen)
    area = found[str(WEST_MERCIA.area)]
    months = list(area.frame["month"])
    assert months[0] == "2025-01" and len(months) == 12
    assert list(area.frame["count"]) == _expected(folder, measure, months)
    # the open data ingested beside the extract holds the same months but cannot say which
    # crimes involved a knife or how old the victims were: it is not a counted source
    assert [s[0] for s in area.coverage.sources] == [
        "admissions" if "admissions" in measure else "police_extract"
    ]
    shropshire = found["Shropshire"]
    assert list(shropshire.frame["count"]) == _expected(folder, measure, months, "Shropshire")
    if chosen.unit == "rate" and chosen.ages is None:
        assert area.value == "rate" and area.population and area.population > 1_000_000
        first = area.frame.iloc[0]
        assert first["rate"] == pytest.approx(first["count"] / area.population * 100_000)
    elif chosen.unit == "rate":
        # residents by age are not bundled: without the workspace's file, counts, and why
        assert area.value == "count" and area.population is None
        assert area.frame["rate"].isna().all()
        assert any("population_by_age" in note for note in area.notes)


def test_the_generator_makes_knife_homicides_and_young_victims(opened):
    """The measures would be vacuous without them: generated homicides carry the knife marker
    at about the national share, and some knife offences have a victim under 25."""
    _ws, folder = opened
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    assert sum(_expected(folder, "knife-homicide", months)) >= 1
    assert sum(_expected(folder, "knife-offences-under-25", months)) >= 10


def test_spc_of_a_measure_runs_the_chart_on_its_series(sna_workspace):
    root, _ = sna_workspace
    done = svduty("measures", "spc", "knife-offences", "--area", "Shropshire", "-w", str(root),
                  "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["measure"] == "knife-offences" and result["area"] == "Shropshire"
    assert result["improvement"] == "down" and result["value"] == "rate"
    expected = _expected(root.parent / "syn", "knife-offences", [p["date"][:7] for p in
                         result["points"]], "Shropshire")  # fmt: skip
    rates = [p["value"] * result["population"] / 100_000 for p in result["points"]]
    assert [round(r) for r in rates] == expected
    unknown = svduty("measures", "spc", "knife-offences", "--area", "Atlantis", "-w", str(root))
    assert unknown.returncode == 2
    assert "no CSP 'Atlantis'" in unknown.stderr and "Shropshire" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_list_and_show(sna_workspace):
    root, _ = sna_workspace
    listed = svduty("measures", "list", "-w", str(root), "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [r["measure"] for r in rows] == list(MEASURES)
    shown = svduty("measures", "show", "knife-homicide", "-w", str(root), "--format", "csv")
    assert shown.returncode == 0, shown.stderr
    assert "Non-domestic homicide" in shown.stderr
    latest = {r["area"]: r for r in csv.DictReader(io.StringIO(shown.stdout))}
    assert latest[str(WEST_MERCIA.area)]["month"] == "2025-12"
    assert set(latest) == {str(WEST_MERCIA.area), *WEST_MERCIA.csps}


# --- gaps ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gappy(tmp_path_factory, shared):
    """A year of a small extract with its second month removed from every file, beside a month
    of real open data for that same month."""
    root = tmp_path_factory.mktemp("gappy")
    folder = root / "syn"
    generate(load_profile("west-mercia"), folder, scale=0.1, seed=4, start="2024-02")
    crimes = pd.read_csv(folder / "crimes.csv", dtype=str, keep_default_na=False)
    march = crimes["Committed From"].str[3:10] == "03/2024"
    people = pd.read_csv(folder / "people.csv", dtype=str, keep_default_na=False)
    people = people[~people["Crime Reference"].isin(set(crimes.loc[march, "Crime Reference"]))]
    crimes[~march].to_csv(folder / "crimes.csv", index=False)
    people.to_csv(folder / "people.csv", index=False)
    admissions = pd.read_csv(folder / "admissions.csv", dtype=str, keep_default_na=False)
    admissions[admissions["Month"] != "2024-03"].to_csv(folder / "admissions.csv", index=False)
    istv = pd.read_csv(folder / "istv.csv", dtype=str, keep_default_na=False)
    istv[~istv["ArrivalDateTime"].str.startswith("2024-03")].to_csv(
        folder / "istv.csv", index=False
    )
    ws = Workspace.init(root / "ws", WEST_MERCIA)
    files, mappings = synthetic_files(folder)
    ingest(ws, [*files, shared / "police-uk-west-mercia" / "2024-03"], mappings=mappings)
    yield ws, folder
    ws.close()


@pytest.mark.parametrize("measure", ["knife-admissions", "knife-offences"])
def test_a_month_no_counted_source_holds_is_a_gap_not_a_zero(gappy, measure):
    ws, folder = gappy
    series = measure_series(ws.store, ws.settings, find_measure(measure))
    frame = series.frame.set_index("month")
    assert frame.loc["2024-03", "count"] is pd.NA and frame.loc["2024-03", "rate"] is pd.NA
    assert frame.loc["2024-03", "status"] == "no data"
    values = series.by_month()
    assert values["2024-03"] is None and values["2024-02"] is not None
    assert frame.loc["2024-02", "status"] == "full"
    held = [m for m in frame.index if m != "2024-03"]
    assert [int(frame.loc[m, "count"]) for m in held] == _expected(folder, measure, held)
    days, _values = series.points()
    assert "2024-03" not in [d.isoformat()[:7] for d in days]
    assert any("gaps (None)" in note for note in series.notes)


# --- framework files ----------------------------------------------------------------------------


def test_the_shipped_framework_loads():
    shipped = shipped_frameworks()
    framework = load_framework(shipped["home-office"])
    assert [m.id for m in framework.measures] == list(MEASURES)
    assert {m.improvement for m in framework.measures} == {"down"}


BAD = """\
id: local
name: Local measures
measures:
  - id: stabbings
    name: Stabbings
    why: Fewer stabbings.
    source:
      incidents:
        where:
          markers: {all: [knif]}
    unit: weekly
    improvement: down
    period: month
  - id: admissions
    name: Admissions
    why: Fewer admissions.
    source:
      admissions:
        causes: [sharp]
    unit: count
    improvement: down
    period: month
"""


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_framework_with_mistakes_names_each_line_and_field(tmp_path):
    path = tmp_path / "local.yaml"
    path.write_text(BAD)
    with pytest.raises(InputError) as caught:
        load_framework(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}:{_line(BAD, 'knif')}: measures[0].source.incidents.where")
    assert "unknown marker 'knif'" in lines[0]
    assert lines[1] == (
        f"{path}:{_line(BAD, 'weekly')}: measures[0].unit: 'weekly' is not one of "
        + ", ".join(UNITS)
    )
    assert lines[2].startswith(f"{path}:{_line(BAD, 'sharp')}: measures[1].source.admissions")
    assert "'sharp' is not an ICD-10 code" in lines[2]
    done = svduty("measures", "validate", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{path}:{_line(BAD, 'weekly')}: measures[0].unit" in done.stderr
    good = tmp_path / "measures"
    good.mkdir()
    (good / "local.yaml").write_text(BAD.replace("knif", "knife").replace("weekly", "count")
                                     .replace("[sharp]", "[X99]"))  # fmt: skip
    assert svduty("measures", "validate", str(good / "local.yaml")).returncode == 0
    listed = svduty("measures", "list", "-w", str(tmp_path), "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    assert "local,stabbings" in listed.stdout and "home-office,knife-homicide" in listed.stdout
