"""Bundled reference data: rebuilt from its public sources, and consistent with them."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

from conftest import csv_rows

from svduty.reference import data_path
from svduty.reference.build import build
from svduty.reference.forces import canonical_force

WEST_MERCIA_DISTRICTS = {
    "Herefordshire, County of", "Shropshire", "Telford and Wrekin", "Bromsgrove",
    "Malvern Hills", "Redditch", "Worcester", "Wychavon", "Wyre Forest",
}  # fmt: skip


def test_bundled_files_are_exactly_what_the_sources_build(shared, tmp_path):
    build(shared, tmp_path)
    for name in ("areas.csv.gz", "offences.csv", "forces.csv"):
        assert (tmp_path / name).read_bytes() == data_path(name).read_bytes(), name


def _areas() -> list[dict[str, str]]:
    import csv
    import io

    text = gzip.decompress(data_path("areas.csv.gz").read_bytes()).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_two_tier_districts_get_their_force(shared):
    """The 2011 lookup leaves the Worcestershire districts' force blank; ours does not."""
    lookup = csv_rows(shared / "lsoa-2011-lookups" / "lsoa-to-la-and-police-force.csv")
    blank = {r["LSOA Code"] for r in lookup if r["Local authority name"] == "Worcester"}
    assert blank and all(not r["Police_force"] for r in lookup if r["LSOA Code"] in blank)
    forces = {r["lsoa_code"]: r["force"] for r in _areas()}
    assert {forces[code] for code in blank} == {"West Mercia"}


def test_west_mercia_population_matches_an_independent_sum(shared):
    imd = csv_rows(shared / "imd-2019-lsoa" / "IMD2019.csv")
    codes = {
        r["LSOA code (2011)"]
        for r in imd
        if r["Local Authority District name (2019)"] in WEST_MERCIA_DISTRICTS
    }
    pops = csv_rows(shared / "lsoa-population-mid2019" / "2019_population.csv")
    expected = sum(int(r["pop"].replace(",", "")) for r in pops if r["lsoa"] in codes)
    areas = [r for r in _areas() if r["force"] == "West Mercia" and r["in_2011"] == "True"]
    assert len(codes) == 781
    assert sum(int(r["population_2019"]) for r in areas if r["population_2019"]) == expected


def _decile(rank: int, n: int) -> int:
    """The decile of rank 1..n, 1 = most deprived (the least k with rank <= k n / 10)."""
    return next(k for k in range(1, 11) if 10 * rank <= k * n)


def test_the_decile_rule_is_the_one_mhclg_published_for_imd_2019(shared):
    rows = csv_rows(shared / "imd-2019-lsoa" / "IMD2019.csv")
    ranks = [int(r["Index of Multiple Deprivation (IMD) Rank"].replace(",", "")) for r in rows]
    assert max(ranks) == len(rows)  # tied LSOAs share a rank
    deciles = [int(r["Index of Multiple Deprivation (IMD) Decile"]) for r in rows]
    assert deciles == [_decile(rank, len(rows)) for rank in ranks]


def test_imd_2025_deciles_rank_englands_scored_lsoas_only(shared):
    """Ten equal groups of the LSOAs with a score, ranked here from the shared IMD 2025 file:
    unscored rows (Welsh and 2011-only LSOAs) must not push the least deprived out of decile 10."""
    scores = {
        r["LSOA21CD"]: float(r["IMDSCORE"])
        for r in csv_rows(shared / "lsoa-2021-lookups-imd2025" / "imd_lookups.csv")
    }
    ranked = sorted(scores, key=lambda code: (-scores[code], code))
    expected = {code: _decile(i + 1, len(ranked)) for i, code in enumerate(ranked)}
    areas = _areas()
    bundled = {r["lsoa_code"]: int(r["imd2025_decile"]) for r in areas if r["imd2025_decile"]}
    assert bundled == expected
    assert not any(r["imd2025_decile"] for r in areas if r["lsoa_code"] not in scores)
    sizes = Counter(bundled.values())
    assert sorted(sizes) == list(range(1, 11))
    assert all(abs(n - len(ranked) / 10) < 1 for n in sizes.values())


def test_west_mercias_deciles_resemble_imd_2019s(shared):
    """Indices six years apart differ, but not by a factor of two in any decile's LSOAs."""
    areas = [r for r in _areas() if r["force"] == "West Mercia"]
    new = Counter(r["imd2025_decile"] for r in areas if r["in_2021"] == "True")
    old = Counter(r["imd2019_decile"] for r in areas if r["in_2011"] == "True")
    for decile in map(str, range(1, 11)):
        assert old[decile] / 2 <= new[decile] <= old[decile] * 2, (decile, new, old)


def test_every_2021_lsoa_has_the_ward_of_the_shared_lookup(shared):
    lookup = csv_rows(shared / "lsoa-2021-lookups-imd2025" / "lsoa21-lookup.csv")
    wards = {r["lsoa21cd"]: (r["wd25cd"], r["wd25nm"]) for r in lookup}
    areas = _areas()
    assert {
        r["lsoa_code"]: (r["ward_code"], r["ward_name"]) for r in areas if r["in_2021"] == "True"
    } == wards
    assert not any(r["ward_code"] for r in areas if r["in_2021"] != "True")


def test_both_lsoa_vintages_are_present(west_mercia):
    codes = {r["lsoa_code"] for r in _areas()}
    for month in ("2018-10", "2025-06"):
        path = next((west_mercia / month).glob("*.csv"))
        seen = {r["LSOA code"] for r in csv_rows(path) if r["LSOA code"].startswith("E")}
        assert seen <= codes, month


def test_force_names_from_every_source_meet():
    assert canonical_force("West Mercia Police") == "West Mercia"
    assert canonical_force("Devon & Cornwall Police") == "Devon & Cornwall"
    assert canonical_force("Devon and Cornwall") == "Devon & Cornwall"
    assert canonical_force("City of London Police") == "London, City of"
    assert canonical_force("Metropolitan Police Service") == "Metropolitan Police"
    assert canonical_force("Dyfed-Powys Police") == "Dyfed-Powys"
    assert canonical_force("Ruritania Constabulary") == "Ruritania Constabulary"


def test_offence_categories_use_police_uk_spelling():
    rows = csv_rows(Path(data_path("offences.csv")))
    assert len(rows) == 132 + 4  # the table's codes, and the four parts of homicide
    homicide = {r["offence_code"] for r in rows if r["offence_subgroup"] == "Homicide"}
    assert homicide == {"1/4.1/4.10/4.2", "1", "4.1", "4.10", "4.2"}
    assert {r["police_uk_category"] for r in rows if r["offence_code"] in ("8N", "5D")} == {
        "Violence and sexual offences"
    }
    assert all(r["police_uk_category"] for r in rows)
