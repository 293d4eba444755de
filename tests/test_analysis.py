"""Analyses checked against results derived independently: plain Python over the same generated
records, and statistical formulas computed another way."""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter, defaultdict
from datetime import datetime

import pytest
from partner_files import FORCE_MAPPING, random_extract, write_force_extract
from scipy import stats

from svduty.analysis.stats import compare_counts, poisson_interval
from svduty.analysis.trends import trend
from svduty.analysis.when import when
from svduty.analysis.where import rates
from svduty.analysis.who import who
from svduty.ingest import ingest
from svduty.reference import data_path


@pytest.fixture
def extract(tmp_path, workspace):
    crimes, people = random_extract(seed=31, n=4000)
    ingest(workspace, write_force_extract(tmp_path, crimes, people), mappings=[FORCE_MAPPING])
    return workspace, crimes, people


@pytest.mark.parametrize("count", [0, 1, 4, 17, 250])
def test_poisson_interval_matches_the_gamma_form(count):
    low, high = poisson_interval(count)
    assert low == pytest.approx(0 if count == 0 else stats.gamma.ppf(0.025, count), abs=1e-9)
    assert high == pytest.approx(stats.gamma.ppf(0.975, count + 1), abs=1e-9)


@pytest.mark.parametrize(("first", "second"), [(120, 160), (300, 240), (40, 44), (9, 30)])
def test_comparison_is_the_exact_conditional_test(first, second):
    change = compare_counts(first, second)
    n = first + second
    pmf = [math.comb(n, k) * 0.5**n for k in range(n + 1)]
    p = sum(x for x in pmf if x <= pmf[second] * (1 + 1e-7))
    assert change.p_value == pytest.approx(min(1.0, p), rel=1e-6)
    beta_low = stats.beta.ppf(0.025, second, first + 1)
    assert change.low == pytest.approx(beta_low / (1 - beta_low), rel=1e-6)
    assert change.ratio == pytest.approx(second / first)
    assert change.verdict.startswith("significant") == (p < 0.05)


def test_small_counts_are_not_compared():
    change = compare_counts(3, 9)
    assert change.ratio is None and change.verdict.startswith("too few to compare")


def test_monthly_trend_counts_every_month(extract):
    workspace, crimes, _ = extract
    result = trend(workspace.store)
    expected = Counter(c["occurred_from"].strftime("%Y-%m") for c in crimes)
    got = dict(zip(result.monthly["month"], result.monthly["count"], strict=True))
    assert got == dict(expected)
    assert result.rolling["rolling_12_months"].iloc[-1] == len(crimes)
    fy = Counter((c["occurred_from"].year - (c["occurred_from"].month < 4)) for c in crimes)
    shown = dict(
        zip(result.financial_years["financial_year"], result.financial_years["count"], strict=True)
    )
    assert shown == {f"{y}/{(y + 1) % 100:02d}": n for y, n in fy.items()}


def test_rates_per_thousand_residents_a_year(extract):
    workspace, crimes, _ = extract
    text = gzip.decompress(data_path("areas.csv.gz").read_bytes()).decode()
    areas = list(csv.DictReader(io.StringIO(text)))
    by_code = {a["lsoa_code"]: a for a in areas}
    population: dict[str, int] = defaultdict(int)
    for area in areas:
        if area["in_2021"] == "True" and area["population_2024"]:
            population[area["la_name"]] += int(area["population_2024"])
    expected = Counter(by_code[c.get("lsoa_code", "E01032383")]["la_name"] for c in crimes)
    months = len({c["occurred_from"].strftime("%Y-%m") for c in crimes})
    found = rates(workspace.store, "la")
    result = found.frame.set_index("area")
    assert found.months == months
    a_year = 1000 * 12 / months  # per 1,000 residents a year, over the months with data
    for la, count in expected.items():
        assert result.loc[la, "count"] == count
        assert result.loc[la, "population"] == population[la]
        assert result.loc[la, "rate"] == pytest.approx(count / population[la] * a_year)
        low, high = stats.chi2.ppf(0.025, 2 * count) / 2, stats.chi2.ppf(0.975, 2 * count + 2) / 2
        assert result.loc[la, "low"] == pytest.approx(low / population[la] * a_year)
        assert result.loc[la, "high"] == pytest.approx(high / population[la] * a_year)


def test_aoristic_spread_by_hand(tmp_path, workspace):
    crimes = [
        {
            "crime_ref": "A",
            "offence_code": "8N",
            "occurred_from": datetime(2025, 3, 3, 23, 30),
        },  # Monday, one time
        {
            "crime_ref": "B",
            "offence_code": "8N",
            "occurred_from": datetime(2025, 3, 4, 18, 0),
            "occurred_to": datetime(2025, 3, 4, 22, 0),
        },  # Tuesday 18-21, four hours
        {
            "crime_ref": "C",
            "offence_code": "8N",
            "occurred_from": datetime(2025, 3, 9, 23, 15),
            "occurred_to": datetime(2025, 3, 10, 0, 45),
        },  # Sunday 23 and Monday 0
    ]
    ingest(workspace, write_force_extract(tmp_path, crimes, []), mappings=[FORCE_MAPPING])
    result = when(workspace.store)
    m = result.matrix
    assert m.loc["Monday", 23] == 1
    assert [m.loc["Tuesday", h] for h in (18, 19, 20, 21, 22)] == [0.25, 0.25, 0.25, 0.25, 0]
    assert m.loc["Sunday", 23] == 0.5 and m.loc["Monday", 0] == 0.5
    assert m.to_numpy().sum() == pytest.approx(3)
    assert (result.exact, result.spread, result.excluded) == (1, 2, 0)


def test_month_only_dates_are_excluded_from_the_clock(workspace, west_mercia):
    ingest(workspace, [west_mercia / "2025-01"])
    result = when(workspace.store)
    assert result.matrix.to_numpy().sum() == 0 and result.excluded == 7913


def test_people_profiles_and_repeats(extract):
    workspace, _, people = extract
    result = who(workspace.store)
    victims = [p for p in people if p["role"] == "victim"]
    assert result.victims.people == len(victims)
    ages = [p["age"] for p in victims if p["age"] is not None]
    assert result.victims.under_25 == pytest.approx(sum(a < 25 for a in ages) / len(ages))
    incidents_per_key: dict[str, set[str]] = defaultdict(set)
    for p in victims:
        incidents_per_key[p["person_key"]].add(p["crime_ref"])
    assert result.victims.repeat_people == sum(len(v) > 1 for v in incidents_per_key.values())
    suspects = [p for p in people if p["role"] == "suspect"]
    assert result.suspects.people == len(suspects)
