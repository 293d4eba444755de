"""Months without data are gaps, never zeros: planted gap months in generated data must show as
no data in the summary, the tables and the charts, no change may be tested across them, a
financial year with missing months is marked incomplete, and a rate is a year's rate over the
months that have data."""

from __future__ import annotations

import csv
import json
from datetime import datetime

import pandas as pd
import pytest
from partner_files import FORCE_MAPPING, write_force_extract
from scanner import HtmlTables

from svduty.analysis.assessment import assess
from svduty.analysis.stats import compare_counts
from svduty.definitions import load_definition
from svduty.example import WEST_MERCIA
from svduty.ingest import ingest
from svduty.publish import Policy, publish
from svduty.publish.sna import derive, draft
from svduty.settings import Settings
from svduty.sna import build_sna, selection_of
from svduty.vocabulary import heading
from svduty.workspace import Workspace

GAP_YEAR = [str(p) for p in pd.period_range("2022-04", "2023-03", freq="M")]  # no file at all
GAP_MONTHS = ["2023-07", "2023-08"]  # missing from a year that otherwise has data
ZERO_MONTH = "2024-05"  # held (criminal damage recorded) but with no robbery: a real zero
OPEN_DATA_MONTHS = ["2024-10", "2024-11"]  # data.police.uk files for two months only
LSOAS = ("E01028860", "E01032383")  # in Shropshire and in South Worcestershire
CSPS = ("Shropshire", "South Worcestershire")


def _robberies(month: str) -> int:
    """Robberies planted in a month held by the force extract: 36 a month from April 2024."""
    if month == ZERO_MONTH:
        return 0
    return 36 if month >= "2024-04" else 30


HELD = [
    str(p)
    for p in pd.period_range("2021-04", "2025-03", freq="M")
    if str(p) not in GAP_YEAR + GAP_MONTHS
]


def _extract() -> list[dict]:
    crimes = []
    for month in HELD:
        year, number = int(month[:4]), int(month[5:])
        planted = [("34B", _robberies(month))] + ([("58A", 20)] if month == ZERO_MONTH else [])
        for code, n in planted:
            for i in range(n):
                crimes.append(
                    {
                        "crime_ref": f"WM/{month}/{code}/{i}",
                        "offence_code": code,
                        "occurred_from": datetime(year, number, 1 + i % 28, 20, 15),
                        "lsoa_code": LSOAS[i % 2],
                        "easting": 350_000 + 40 * i,
                        "northing": 300_000 + 30 * i,
                    }
                )
    return crimes


def _open_data_files(west_mercia, folder) -> list:
    """Real data.police.uk rows (West Mercia, 2024-01) filed under the planted months."""
    with (west_mercia / "2024-01" / "2024-01-west-mercia-street.csv").open(
        encoding="utf-8", newline=""
    ) as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:41]
    paths = []
    for month in OPEN_DATA_MONTHS:
        path = folder / month / f"{month}-west-mercia-street.csv"
        path.parent.mkdir(parents=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([row[0], month, *row[2:]] for row in body)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def gappy(tmp_path_factory, west_mercia):
    root = tmp_path_factory.mktemp("coverage")
    csps = {k: v for k, v in WEST_MERCIA.csps.items() if k in CSPS}  # each with incidents
    ws = Workspace.init(root / "ws", Settings(**{**WEST_MERCIA.__dict__, "csps": csps}))
    ingest(ws, write_force_extract(root / "extract", _extract(), []), mappings=[FORCE_MAPPING])
    ingest(ws, _open_data_files(west_mercia, root / "open"))
    paths = build_sna(ws, out=root / "reports", pdf=False)
    summary = json.loads(paths["json"].read_text())
    yield ws, paths, summary
    ws.close()


def test_gap_months_are_no_data_not_zero(gappy):
    _, _, summary = gappy
    monthly = {row["month"]: row for row in summary["sections"]["trends"]["monthly"]}
    assert list(monthly) == [str(p) for p in pd.period_range("2021-04", "2025-03", freq="M")]
    for month in GAP_YEAR + GAP_MONTHS:
        assert monthly[month]["count"] is None and monthly[month]["coverage"] == "no data"
    assert monthly[ZERO_MONTH]["count"] == 0 and monthly[ZERO_MONTH]["coverage"] == "full"
    for month in HELD:
        assert monthly[month]["count"] == _robberies(month)
        assert monthly[month]["coverage"] == "full"
    gaps = summary["sections"]["trends"]["gaps"]
    assert [(g["from"], g["to"], g["status"]) for g in gaps] == [
        (GAP_YEAR[0], GAP_YEAR[-1], "no data"),
        (GAP_MONTHS[0], GAP_MONTHS[-1], "no data"),
    ]
    held = len(HELD)
    assert f"({held} months with data)" in summary["sections"]["summary"]["findings"][0]


def test_a_financial_year_with_missing_months_is_incomplete(gappy):
    _, paths, summary = gappy
    years = {row["financial_year"]: row for row in summary["sections"]["trends"]["financial_years"]}
    for year, first in (("2021/22", "2021-04"), ("2023/24", "2023-04"), ("2024/25", "2024-04")):
        months = [str(p) for p in pd.period_range(first, periods=12, freq="M")]
        held = [m for m in months if m in HELD]
        assert years[year]["count"] == sum(_robberies(m) for m in held)
        assert years[year]["months"] == len(held)
    assert years["2021/22"]["coverage"] == years["2024/25"]["coverage"] == "complete"
    assert years["2023/24"]["coverage"] == "incomplete: 10 of 12 months with data"
    assert years["2022/23"] == {
        "financial_year": "2022/23",
        "count": None,
        "months": 0,
        "coverage": "no data",
    }
    parser = HtmlTables()
    parser.feed(paths["html"].read_text())
    years_heading = [heading("financial_year"), heading("count")]
    table = next(t for t in parser.tables if t[0][:2] == years_heading)
    shown = {row[0]: row for row in table[1:]}
    assert shown["2022/23"][1] == "no data"  # not 0, and not [c] (nothing is hidden)
    assert shown["2023/24"][3] == "incomplete: 10 of 12 months with data"


def test_no_change_is_tested_across_a_gap(gappy):
    _, paths, summary = gappy
    trends = summary["sections"]["trends"]
    years = {row["financial_year"]: row["count"] for row in trends["financial_years"]}
    # the bite: the last two years' totals alone would read as a significant increase
    naive = compare_counts(years["2023/24"], years["2024/25"])
    assert naive.verdict == "significant increase"
    assert trends["change_periods"] == [] and trends["change_verdict"] is None
    assert "2021/22 and 2024/25, are not consecutive" in trends["change"]
    assert "csp_change" not in summary["sections"]["where"]
    findings = " ".join(summary["sections"]["summary"]["findings"])
    assert "Year on year" not in findings and "significant" not in findings.replace(
        "not significantly", ""
    )
    assert "no change is tested across them" in findings
    assert trends["change"] in paths["html"].read_text()


def test_rates_are_a_year_over_the_months_with_data(gappy):
    _, paths, summary = gappy
    where = summary["sections"]["where"]
    held = len(HELD)
    assert where["rate_months"] == held
    assert f"over {held} months with data (2021-04 to 2025-03)" in where["rate_basis"]
    rated = [row for row in where["csp_rates"] if row["count"]]
    assert {row["area"] for row in rated} == set(CSPS)
    for row in rated:  # published to three decimals
        expected = row["count"] / row["population"] * 1000 * 12 / held
        assert row["rate"] == pytest.approx(expected, abs=5e-4)
    # the planted robberies, split between the two LSOAs, are what the rates count
    assert sum(row["count"] for row in rated) == sum(_robberies(m) for m in HELD)
    assert "Rate per 1,000 residents a year by Community Safety Partnership" in (
        paths["html"].read_text()
    )


def test_charts_break_and_shade_the_gaps(gappy):
    _, paths, _ = gappy
    spec = json.loads(paths["charts"].read_text())["trends-monthly"]
    band, line = spec["layer"]
    values = {row["label"]: row["value"] for row in line["data"]["values"]}
    assert all(values[m] is None for m in GAP_YEAR + GAP_MONTHS)  # a null breaks the line
    assert values[ZERO_MONTH] == 0
    shaded = {row["label"] for row in band["data"]["values"]}
    assert shaded == set(GAP_YEAR + GAP_MONTHS)
    assert band["encoding"]["x"]["scale"]["domain"] == list(values)
    assert "no data (a gap, not a zero)" in paths["html"].read_text()


def test_a_source_missing_from_some_months_makes_them_partial(gappy):
    """Under the open-data definition both sources count; months the police.uk files do not
    cover are partial, so no year is complete and nothing is compared."""
    ws = gappy[0]
    selection = selection_of(ws, load_definition("police-uk-open-data"))
    found = assess(ws.store, ws.settings, selection)
    pub = derive(publish([draft(found)], Policy(ws.settings.disclosure_threshold))[0])
    monthly = pub.table("trends", "monthly").set_index("month")["coverage"]
    assert set(monthly[OPEN_DATA_MONTHS]) == {"full"}
    assert set(monthly[GAP_YEAR + GAP_MONTHS]) == {"no data"}
    others = [m for m in HELD if m not in OPEN_DATA_MONTHS]
    assert set(monthly[others]) == {"partial"}
    years = pub.table("trends", "financial_years").set_index("financial_year")["coverage"]
    assert "complete" not in set(years)
    assert years["2024/25"] == "incomplete: 12 of 12 months with data, 10 missing a source"
    assert pub.value("trends", "change_verdict") is None
    assert "Complete: none." in pub.value("trends", "change")
    sources = pub.table("trends", "sources")
    assert sorted(sources["source"]) == ["police_extract", "police_uk_street"]
    assert sources.set_index("source").loc["police_uk_street", "months_held"] == len(
        OPEN_DATA_MONTHS
    )
