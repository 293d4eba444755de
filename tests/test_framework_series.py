"""A whole framework counted at once equals its measures counted one at a time, and equals counts
made here in plain SQL over the generated tables, for every shipped measure and a generated
framework of varied definitions, `where` rules, causes and ages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from svduty.analysis.measure_series import all_series, counted, counted_all, framework_series
from svduty.bench import ADMISSION_BANDS, bench_framework, generate_partnership
from svduty.definitions import shipped_definitions
from svduty.errors import InputError
from svduty.measures.framework import Measure, load_framework, shipped_frameworks
from svduty.workspace import Workspace

MONTHS = 4


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Path]]:
    root = tmp_path_factory.mktemp("framework-series")
    generate_partnership(root / "ws", incidents=30_000, months=MONTHS, seed=5).close()
    ws = Workspace.open(root / "ws", read_only=True)
    yield ws, root
    ws.close()


def _measures(root: Path) -> list[Measure]:
    shipped = load_framework(shipped_frameworks()["home-office"]).measures
    return [*shipped, *bench_framework(root / "varied.yaml", 6).measures]


def test_a_framework_at_once_equals_its_measures_one_at_a_time(generated):
    ws, root = generated
    measures = _measures(root)
    together = counted_all(ws.store, measures)
    assert list(together) == [m.id for m in measures]
    for measure in measures:
        alone = counted(ws.store, measure)  # counted by itself
        assert together[measure.id].frame.equals(alone.frame), measure.id
        assert together[measure.id].coverage == alone.coverage, measure.id
    # the generated framework takes in some incidents and admissions, and leaves some out
    totals = {m.id: int(together[m.id].frame["count"].sum()) for m in measures}
    assert all(totals.values()), totals
    assert len(set(totals.values())) > len(measures) // 2
    # and each area's series is the same, whichever way it was counted
    series = framework_series(ws.store, ws.settings, measures)
    for measure in (measures[0], measures[3]):  # admissions, incidents
        alone_series = all_series(ws.store, ws.settings, measure)
        assert list(series[measure.id]) == [ws.settings.area, *ws.settings.csps]
        for area, found in series[measure.id].items():
            assert found.frame.equals(alone_series[area].frame), (measure.id, area)
            assert found.notes == alone_series[area].notes


def _knife() -> tuple[list[str], list[str]]:
    """The shipped knife definition's offence codes and subgroups, read as plain YAML."""
    raw = yaml.safe_load(shipped_definitions()["home-office-knife-sharp"].read_text())
    codes = [c for clause in raw["clauses"] for c in clause.get("offence_codes", [])]
    subgroups = [s for clause in raw["clauses"] for s in clause.get("offence_subgroups", [])]
    return codes, subgroups


def _expected_sql(measure: Measure, districts: tuple[str, ...]) -> tuple[str, list[object]]:
    """The measure's count per month in its districts, written here in SQL over the tables."""
    young = measure.id.endswith("under-25")
    if measure.id.startswith("knife-admissions"):
        young_bands = [b for b in ADMISSION_BANDS if re.fullmatch(r"\d+-(\d+)", b)]
        bands = [b for b in young_bands if int(b.split("-")[1]) <= 24] if young else []
        return (
            f"""SELECT strftime(month, '%Y-%m') AS month, sum(count) AS n FROM admissions
            WHERE cause_code LIKE 'X99%' AND area_code IN (SELECT unnest(?))
            {"AND age_band IN (SELECT unnest(?))" if young else ""} GROUP BY 1""",
            [list(districts), *([bands] if young else [])],
        )
    codes, subgroups = _knife()
    if measure.id.startswith("knife-offences"):
        which = """(i.offence_code IN (SELECT unnest(?)) OR o.offence_subgroup IN
            (SELECT unnest(?))) AND i.marker_knife"""
        params: list[object] = [codes, subgroups]
    else:
        which = """i.offence_code IN ('1/4.1/4.10/4.2', '1', '4.1', '4.10', '4.2')
            AND i.marker_knife AND NOT i.marker_domestic_abuse"""
        params = []
    victim = (
        """AND EXISTS (SELECT 1 FROM involvements p WHERE p.force = i.force
            AND p.crime_ref = i.crime_ref AND p.role = 'victim' AND p.age <= 24)"""
        if young
        else ""
    )
    return (
        f"""SELECT strftime(i.month, '%Y-%m') AS month, count(*) AS n FROM incidents i
        LEFT JOIN offences o ON o.offence_code = i.offence_code
        JOIN areas a ON a.lsoa_code = i.lsoa_code
        WHERE {which} {victim} AND a.la_code IN (SELECT unnest(?)) GROUP BY 1""",
        [*params, list(districts)],
    )


def test_the_shipped_measures_equal_counts_in_plain_sql(generated):
    ws, _ = generated
    shipped = load_framework(shipped_frameworks()["home-office"]).measures
    found = framework_series(ws.store, ws.settings, shipped)
    for measure in shipped:
        for area, series in found[measure.id].items():
            sql, params = _expected_sql(measure, series.districts)
            rows = dict(ws.con.execute(sql, params).fetchall())
            months = list(series.frame["month"])
            assert len(months) == MONTHS
            assert list(series.frame["count"]) == [int(rows.get(m, 0)) for m in months], (
                measure.id,
                area,
            )
            if area == ws.settings.area:
                assert sum(rows.values()) > 0, measure.id  # each measure counts something


def test_one_measure_id_twice_is_refused(generated):
    ws, root = generated
    measure = _measures(root)[0]
    with pytest.raises(InputError, match="knife-admissions given twice"):
        framework_series(ws.store, ws.settings, [measure, measure])


def _admissions_framework(path: Path, causes: list[str], ages: dict[str, int]) -> list[Measure]:
    source = {"admissions": {"causes": causes, "age": ages}}
    measure = {"id": "a", "name": "A", "why": "Why.", "source": source, "unit": "count"}
    measure |= {"improvement": "down", "period": "month"}
    path.write_text(yaml.safe_dump({"id": "t", "name": "T", "measures": [measure]}))
    return list(load_framework(path).measures)


def test_an_age_band_across_a_measures_ages_is_refused_only_where_its_causes_are(generated):
    ws, root = generated
    across = _admissions_framework(root / "across.yaml", ["X99"], {"max": 20})
    with pytest.raises(InputError, match="age band '18-24' runs across the measure's ages 0 to 20"):
        framework_series(ws.store, ws.settings, across)
    # no admission has cause W25, so no band is recorded for it: none to refuse, none counted
    unrecorded = _admissions_framework(root / "unrecorded.yaml", ["W25"], {"max": 20})
    found = framework_series(ws.store, ws.settings, unrecorded)["a"][str(ws.settings.area)]
    assert len(found.frame) == MONTHS and set(found.frame["count"]) == {0}
