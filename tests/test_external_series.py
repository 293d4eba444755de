"""Success measures from external series: the `measure_series` source kind (rows kept or
rejected with their line, field and reason; a repeated file skipped; a later publication
used), series measures by quarter and financial year for the area and each CSP, rates by age
from the workspace's residents by age, and `svduty measures funnel` (in process: each start of
the command line costs seconds). Expected values are worked out here from the CSV files with
pandas."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from svduty.analysis.measure_series import all_series, measure_series
from svduty.cli import app
from svduty.errors import InputError
from svduty.example import WEST_MERCIA
from svduty.measures.framework import find_measure, load_framework
from svduty.measures.funnel import funnel
from svduty.periods import PERIODS
from svduty.settings import save_settings
from svduty.workspace import Workspace

CSPS = WEST_MERCIA.csps
DISTRICTS = [d for ds in CSPS.values() for d in ds]
SOURCE = "SYNTHETIC test figures"
FRAMEWORK = """\
id: local
name: Local measures
measures:
  - id: exclusions
    name: Permanent exclusions
    why: A risk factor.
    source: {series: {measure: exclusions}}
    unit: rate
    per: 10000
    improvement: down
    period: financial_year
  - id: neet
    name: NEET 16 and 17 year olds
    why: A risk factor.
    source: {series: {measure: neet}}
    unit: share
    improvement: down
    period: quarter
  - id: plans
    name: Child protection plans started
    why: Vulnerability.
    source: {series: {measure: plans, age: {max: 17}}}
    unit: rate
    per: 10000
    improvement: neither
    period: quarter
  - id: plans-count
    name: Child protection plans started, a count
    why: Vulnerability.
    source: {series: {measure: plans}}
    unit: count
    improvement: neither
    period: quarter
"""
QUARTERS = ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
GAP = ("2024-Q3", "E07000236")  # a district of North Worcestershire without NEET figures
BAD = [
    ("neet", "Shropshire", "2024-Q5", "3", "100", SOURCE, "2025-01-01"),
    ("neet", "Shropshire", "2024-Q1", "-3", "100", SOURCE, "2025-01-01"),
    ("neet", "Shropshire", "2024-Q1", "3", "100", SOURCE, "yesterday"),
    ("neet", "Shropshire", "2024-Q1", "many", "100", SOURCE, "2025-01-01"),
    ("Neet!", "Shropshire", "2024-Q1", "3", "100", SOURCE, "2025-01-01"),
]
"""Rejected rows, each for one field: period, numerator, published, numerator (not a number),
measure."""


def _write(path: Path, rows: list[tuple[object, ...]], note: str = "# synthetic") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(note + "\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["measure", "area", "period", "numerator", "denominator", "source",
                         "published"])  # fmt: skip
        writer.writerows(rows)
    return path


def _good_rows() -> list[tuple[object, ...]]:
    rng = np.random.default_rng(7)
    rows: list[tuple[object, ...]] = []
    for year in ("2022/23", "2023/24"):
        for csp in CSPS:
            pupils = int(rng.integers(20_000, 60_000))
            rows.append(("exclusions", csp, year, int(rng.integers(5, 60)), pupils, SOURCE,
                         "2024-11-01"))  # fmt: skip
    for quarter in QUARTERS:
        for district in DISTRICTS:
            if (quarter, district) == GAP:
                continue
            cohort = int(rng.integers(1_000, 4_000))
            rows.append(("neet", district, quarter, int(rng.binomial(cohort, 0.05)), cohort,
                         SOURCE, "2025-02-01"))  # fmt: skip
            rows.append(("plans", district, quarter, int(rng.integers(10, 90)), "", SOURCE,
                         "2025-02-01"))  # fmt: skip
    rows.append(("neet", "Shropshire", "2024-05", 9, 300, SOURCE, "2025-02-01"))  # a month
    return rows


def _ages(path: Path) -> Path:
    """Residents by age band per district (made up here), with its source line."""
    rng = np.random.default_rng(11)
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write("# source: SYNTHETIC residents by age for a test\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["area_code", "age", "population"])
        for district in DISTRICTS:
            for band in ("0-9", "10-15", "16-17", "18-64", "65+"):
                writer.writerow([district, band, int(rng.integers(2_000, 90_000))])
    return path


@pytest.fixture(scope="module")
def series_ws(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("series")
    root = folder / "ws"
    ws = Workspace.init(root, WEST_MERCIA)
    (root / "measures").mkdir()
    (root / "measures" / "local.yaml").write_text(FRAMEWORK)
    good = _good_rows()
    path = _write(folder / "series.csv", [*good, *BAD])
    reports = ws.ingest(path, kind="measure_series")
    yield ws, root, path, good, reports
    ws.close()


def _frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    columns = ["measure", "area", "period", "numerator", "denominator", "source", "published"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["numerator"] = frame["numerator"].astype(float)
    frame["denominator"] = pd.to_numeric(frame["denominator"], errors="coerce")
    return frame


# --- ingest -----------------------------------------------------------------------------------


def test_bad_rows_are_kept_as_rejects_with_line_field_and_reason(series_ws):
    ws, _root, path, good, reports = series_ws
    [report] = reports
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (
        len(good) + len(BAD), len(good), len(BAD),
    )  # fmt: skip
    assert report.status == "complete with rejects"
    rejects = ws.con.execute(
        "SELECT line, field, value, reason FROM rejects WHERE batch_id = ? ORDER BY line",
        [report.batch_id],
    ).fetchall()
    # the note line and the header come first: data row k is on line k + 2
    first_bad = len(good) + 3
    assert [(line, field) for line, field, _v, _r in rejects] == [
        (first_bad, "period"), (first_bad + 1, "numerator"), (first_bad + 2, "published"),
        (first_bad + 3, "numerator"), (first_bad + 4, "measure"),
    ]  # fmt: skip
    lines = path.read_text().splitlines()
    assert [lines[line - 1].split(",")[2] for line, *_ in rejects[:1]] == ["2024-Q5"]
    assert "quarter (2024-Q2)" in rejects[0][3]
    assert rejects[1][3] == "numerator must not be negative"
    assert rejects[3][2] == "many" and "not a valid number" in rejects[3][3]
    stored = ws.con.execute("SELECT count(*), bool_and(synthetic) FROM measure_values").fetchone()
    assert stored == (len(good), True)
    batch = ws.con.execute(
        "SELECT source_kind, file_name, synthetic FROM batches WHERE batch_id = ?",
        [report.batch_id],
    ).fetchone()
    assert batch == ("measure_series", str(path), True)


def test_the_same_file_again_is_skipped(series_ws):
    ws, _root, path, good, _reports = series_ws
    [again] = ws.ingest(path, kind="measure_series")
    assert again.status == "already ingested"
    assert ws.con.execute("SELECT count(*) FROM measure_values").fetchone() == (len(good),)


def test_a_file_in_the_layout_is_recognised_without_a_kind(tmp_path, workspace):
    path = _write(tmp_path / "plain.csv", [("neet", "Shropshire", "2024/25", 3, "", SOURCE,
                                            "2025-06-01")], note="# source: a test")  # fmt: skip
    [report] = workspace.ingest(path)
    assert (report.source_kind, report.rows_accepted) == ("measure_series", 1)


# --- series measures --------------------------------------------------------------------------


def test_a_series_by_financial_year_for_each_csp(series_ws):
    ws, root, _path, good, _reports = series_ws
    measure = find_measure("exclusions", root)
    expected = _frame(good).query("measure == 'exclusions'")
    found = all_series(ws.store, ws.settings, measure)
    for csp in CSPS:
        series = found[csp]
        mine = expected[expected["area"] == csp].set_index("period")
        assert list(series.frame["financial_year"]) == ["2022/23", "2023/24"]
        assert series.value == "rate"
        rates = mine["numerator"] / mine["denominator"] * 10_000
        assert list(series.frame["rate"]) == pytest.approx(list(rates))
        days, _values = series.points()
        assert [d.isoformat() for d in days] == ["2022-04-01", "2023-04-01"]
    # no rows name West Mercia and none give its districts: every year is a gap
    area = found[str(WEST_MERCIA.area)]
    assert (area.frame["status"] == "no data").all()
    assert any("no rows for West Mercia" in note for note in area.notes)


def test_a_quarterly_share_sums_districts_and_leaves_a_gap(series_ws):
    ws, root, _path, good, _reports = series_ws
    measure = find_measure("neet", root)
    rows = _frame(good).query("measure == 'neet' and period != '2024-05'")
    found = all_series(ws.store, ws.settings, measure)
    for name, districts in [*CSPS.items(), (str(WEST_MERCIA.area), tuple(DISTRICTS))]:
        series = found[name]
        frame = series.frame.set_index("quarter")
        assert list(frame.index) == QUARTERS and series.value == "share"
        for quarter in QUARTERS:
            mine = rows[(rows["period"] == quarter) & rows["area"].isin(districts)]
            if len(mine) < len(districts):
                assert frame.loc[quarter, "status"] == "no data"
                assert frame.loc[quarter, "share"] is pd.NA
                assert GAP[1] in frame.loc[quarter, "missing"]
                continue
            share = mine["numerator"].sum() / mine["denominator"].sum() * 100
            assert frame.loc[quarter, "share"] == pytest.approx(share)
    gapped = found["North Worcestershire"]
    assert by_status(gapped) == {"full": 3, "no data": 1}
    assert any("1 row(s)" in note and "months" in note for note in gapped.notes)


def by_status(series) -> dict[str, int]:
    return series.frame["status"].value_counts().to_dict()


def test_a_later_publication_replaces_the_earlier(series_ws, tmp_path):
    ws, root, _path, _good, _reports = series_ws
    measure = find_measure("neet", root)
    before = measure_series(ws.store, ws.settings, measure, "Shropshire").by_month()
    revised = _write(tmp_path / "revised.csv", [
        ("neet", "E06000051", "2024-Q1", 1, 1000, SOURCE, "2025-03-01"),
        ("neet", "E06000051", "2024-Q2", 2, 1000, SOURCE, "2024-12-01"),  # older: not used
    ])  # fmt: skip
    ws.ingest(revised, kind="measure_series")
    after = measure_series(ws.store, ws.settings, measure, "Shropshire").by_month()
    assert after["2024-Q1"] == pytest.approx(0.1)
    assert after["2024-Q2"] == before["2024-Q2"] and after["2024-Q2"] != pytest.approx(0.2)


# --- rates by age -----------------------------------------------------------------------------


def test_rates_by_age_use_the_residents_of_those_ages(series_ws):
    ws, root, _path, good, _reports = series_ws
    measure = find_measure("plans", root)
    without = measure_series(ws.store, ws.settings, measure, "Shropshire")
    assert without.value == "count" and without.frame["rate"].isna().all()
    assert any("ages 0 to 17" in n and "population_by_age" in n for n in without.notes)
    # as a count, the districts' numerators summed, whether or not residents are known
    counted = measure_series(ws.store, ws.settings, find_measure("plans-count", root), "Shropshire")
    shropshire = _frame(good).query("measure == 'plans' and area == 'E06000051'")
    assert counted.value == "count" and "rate" not in counted.frame
    assert list(counted.frame["count"]) == list(shropshire["numerator"])
    ages = _ages(root / "ages.csv")
    save_settings(root, replace(ws.settings, population_by_age="ages.csv"))
    try:
        people = pd.read_csv(ages, comment="#")
        children = people[people["age"].isin(["0-9", "10-15", "16-17"])]
        plans = _frame(good).query("measure == 'plans'")
        for csp, districts in CSPS.items():
            series = measure_series(ws.store, ws.settings, measure, csp)
            residents = int(children.loc[children["area_code"].isin(districts), "population"].sum())
            assert series.population == residents and series.value == "rate"
            mine = plans[plans["area"].isin(districts)]
            for quarter, rate in series.by_month().items():
                count = mine.loc[mine["period"] == quarter, "numerator"]
                if len(count) < len(districts):
                    assert rate is None
                else:
                    assert rate == pytest.approx(count.sum() / residents * 10_000)
        # bands that run across the measure's ages cannot be split
        ages.write_text(
            ages.read_text().replace(",16-17,", ",16-20,").replace(",18-64,", ",21-64,")
        )
        with pytest.raises(InputError, match="16-20 of E06000019 runs across"):
            measure_series(ws.store, ws.settings, measure, "Herefordshire")
    finally:
        save_settings(root, ws.settings)


# --- the funnel command -----------------------------------------------------------------------


def test_measures_funnel_compares_the_csps(series_ws):
    ws, root, _path, good, _reports = series_ws
    ws.close()  # the command reads the workspace as a user's would, once the writer is done
    runner = CliRunner()
    done = runner.invoke(app, [
        "measures", "funnel", "neet", "-w", str(root), "--period", "2024-Q1:2024-Q2",
        "--format", "json",
    ])  # fmt: skip
    assert done.exit_code == 0, done.output
    found = json.loads(done.stdout)
    assert found["periods"] == ["2024-Q1", "2024-Q2"] and found["kind"] == "proportion"
    rows = _frame(good).query("measure == 'neet' and period in ['2024-Q1', '2024-Q2']")
    numerators = [int(rows[rows["area"].isin(d)]["numerator"].sum()) for d in CSPS.values()]
    denominators = [float(rows[rows["area"].isin(d)]["denominator"].sum()) for d in CSPS.values()]
    expected = funnel(list(CSPS), numerators, denominators, kind="proportion", multiplier=100)
    areas = {a["area"]: a for a in found["areas"]}
    for row in expected.frame.itertuples():
        if row.area == "Shropshire":
            continue  # its 2024-Q1 was revised by a later publication, above
        assert areas[row.area]["numerator"] == row.numerator
        assert areas[row.area]["denominator"] == pytest.approx(row.denominator)
        assert areas[row.area]["value"] == pytest.approx(row.value)
        assert areas[row.area]["significance"] == row.significance
    # the default period is the latest twelve months with data: North Worcestershire lacks a
    # quarter of them and is left out, named
    done = runner.invoke(app, ["measures", "funnel", "neet", "-w", str(root)])
    assert done.exit_code == 0, done.output
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["area"] for r in table] == [c for c in CSPS if c != "North Worcestershire"]
    assert "North Worcestershire left out: no data for 2024-Q3" in done.stderr
    assert "2024-Q1 to 2024-Q4" in done.stderr
    picture = root / "funnel.svg"
    done = runner.invoke(app, ["measures", "funnel", "exclusions", "-w", str(root), "--format",
                               "svg", "--out", str(picture)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert picture.read_text().lstrip().startswith("<?xml") and "2023/24" in done.stderr
    done = runner.invoke(
        app, ["measures", "funnel", "neet", "-w", str(root), "--period", "2024-05"]
    )
    assert isinstance(done.exception, InputError)
    assert "give whole quarters" in str(done.exception)


# --- framework files --------------------------------------------------------------------------

MISTAKES = """\
id: local
name: Local measures
measures:
  - id: stabbings
    name: Stabbings
    why: Fewer stabbings.
    source: {incidents: {where: {markers: {all: [knife]}}}}
    unit: share
    improvement: down
    period: quarter
  - id: neet
    name: NEET
    why: Fewer.
    source: {series: {measure: NEET 16-17, age: {min: 16, max: 15}}}
    unit: share
    improvement: down
    period: year
"""


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_series_measures_in_a_framework_are_checked_line_by_line(tmp_path):
    path = tmp_path / "local.yaml"
    path.write_text(MISTAKES)
    with pytest.raises(InputError) as caught:
        load_framework(path)
    assert str(caught.value).splitlines() == [
        f"{path}:{_line(MISTAKES, 'unit: share')}: measures[0].unit: a share needs the "
        "denominators of an external series",
        f"{path}:{_line(MISTAKES, 'period: quarter')}: measures[0].period: incidents and "
        "admissions are counted by month; a quarterly or yearly measure comes from an external "
        "series",
        f"{path}:{_line(MISTAKES, 'NEET 16-17')}: measures[1].source.series.measure: the "
        "series' measure id, as in the measure column of its CSV (lower case letters, digits, "
        "'-' or '_')",
        f"{path}:{_line(MISTAKES, 'period: year')}: measures[1].period: 'year' is not one of "
        + ", ".join(PERIODS),
    ]
