"""Build the bundled reference tables from the public source files in a `shared/data` folder.

The output (areas.csv.gz, forces.csv, offences.csv) ships inside the package so a workspace needs
no network; this module documents exactly how it was derived and lets a test rebuild and compare.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb

from svduty.reference import CATEGORIES
from svduty.reference.boundaries import BOUNDARIES_FILE, build_boundaries

_NON_TERRITORIAL = (
    "British Transport Police",
    "Action Fraud",
    "CIFAS",
    "UK Finance",
    "Financial Fraud Action UK",
)


def _csv(path: Path) -> str:
    return f"read_csv('{path}', header=true, all_varchar=true)"


def build_areas_sql(shared: Path) -> str:
    """One row per LSOA code (2011 and 2021 vintages together), with the district, CSP and force."""
    lookup11 = _csv(shared / "lsoa-2011-lookups/lsoa-to-la-and-police-force.csv")
    lookup21 = _csv(shared / "lsoa-2021-lookups-imd2025/lsoa21-lookup.csv")
    imd25 = _csv(shared / "lsoa-2021-lookups-imd2025/imd_lookups.csv")
    imd19 = _csv(shared / "imd-2019-lsoa/IMD2019.csv")
    pop19 = _csv(shared / "lsoa-population-mid2019/2019_population.csv")
    lad = _csv(
        next((shared / "ons-lad-csp-pfa-lookup-2017").glob("Local_Authority_District_*.csv"))
    )
    return f"""
    WITH l11 AS (
        SELECT "LSOA Code" AS lsoa_code, "LSOA Name" AS lsoa_name, "MSOA Code" AS msoa_code,
               "Local authority code" AS la_code, "Local authority name" AS la_name,
               nullif(trim(Police_force), '') AS force11
        FROM {lookup11}
    ),
    l21 AS (
        SELECT l.lsoa21cd AS lsoa_code, i.MSOA21CD AS msoa_code, l.lad25cd AS la_code,
               l.lad25nm AS la_name, try_cast(i."2024POP" AS BIGINT) AS population_2024,
               try_cast(i.IMDSCORE AS DOUBLE) AS imd2025_score,
               l.wd25cd AS ward_code, l.wd25nm AS ward_name
        FROM {lookup21} l LEFT JOIN {imd25} i ON i.LSOA21CD = l.lsoa21cd
    ),
    pop19 AS (
        SELECT lsoa AS lsoa_code, try_cast(replace(pop, ',', '') AS BIGINT) AS population_2019
        FROM {pop19} WHERE lsoa LIKE 'E01%' OR lsoa LIKE 'W01%'
    ),
    imd19 AS (
        SELECT "LSOA code (2011)" AS lsoa_code,
               try_cast("Index of Multiple Deprivation (IMD) Decile" AS INTEGER) AS imd2019_decile
        FROM {imd19}
    ),
    lad AS (
        SELECT LAD17CD AS la_code, LAD17NM AS la_name17, CSP17NM AS csp_name, PFA17NM AS force
        FROM {lad}
    ),
    codes AS (
        SELECT lsoa_code FROM l11 UNION SELECT lsoa_code FROM l21 UNION SELECT lsoa_code FROM pop19
    ),
    joined AS (
        SELECT c.lsoa_code, l11.lsoa_name,
               coalesce(l21.msoa_code, l11.msoa_code) AS msoa_code,
               coalesce(l21.la_code, l11.la_code) AS la_code,
               coalesce(l21.la_name, l11.la_name) AS la_name,
               l11.force11,
               l11.lsoa_code IS NOT NULL OR (pop19.lsoa_code IS NOT NULL) AS in_2011,
               l21.lsoa_code IS NOT NULL AS in_2021,
               pop19.population_2019, l21.population_2024,
               imd19.imd2019_decile, l21.imd2025_score, l21.ward_code, l21.ward_name
        FROM codes c
        LEFT JOIN l11 USING (lsoa_code) LEFT JOIN l21 USING (lsoa_code)
        LEFT JOIN pop19 USING (lsoa_code) LEFT JOIN imd19 USING (lsoa_code)
    ),
    -- districts created after 2017 (mergers) are not in the ONS 2017 lookup: take the force most of
    -- their LSOAs had in the 2011 lookup.
    la_force_2011 AS (
        SELECT la_code, first(force11 ORDER BY n DESC, force11) AS force FROM (
            SELECT j.la_code, coalesce(j.force11, lad.force) AS force11, count(*) AS n
            FROM joined j JOIN l11 USING (lsoa_code) LEFT JOIN lad ON lad.la_code = l11.la_code
            GROUP BY ALL
        ) WHERE force11 IS NOT NULL GROUP BY la_code
    ),
    -- MHCLG's deciles: rank r of n (1 = most deprived) is in decile ceil(10 r / n), over the
    -- scored (English 2021) LSOAs only; unscored rows (Welsh, 2011-only) are no part of n
    ranks AS (
        SELECT lsoa_code, row_number() OVER (ORDER BY imd2025_score DESC, lsoa_code) AS r,
               count(*) OVER () AS n
        FROM joined WHERE imd2025_score IS NOT NULL
    ),
    deciles AS (
        SELECT lsoa_code, CAST((10 * r + n - 1) // n AS INTEGER) AS imd2025_decile FROM ranks
    )
    SELECT r.lsoa_code, r.lsoa_name, r.msoa_code, r.la_code, r.la_name,
           coalesce(lad.csp_name, r.la_name) AS csp_name,
           coalesce(lad.force, r.force11, la_force_2011.force) AS force,
           r.in_2011, r.in_2021, r.population_2019, r.population_2024,
           coalesce(r.population_2024, r.population_2019) AS population,
           r.imd2019_decile, r.imd2025_score, d.imd2025_decile, r.ward_code, r.ward_name
    FROM joined r
    LEFT JOIN deciles d USING (lsoa_code)
    LEFT JOIN lad ON lad.la_code = r.la_code
    LEFT JOIN la_force_2011 ON la_force_2011.la_code = r.la_code
    ORDER BY r.lsoa_code
    """


def build_offences_sql(shared: Path) -> str:
    mapping = _csv(shared / "home-office-prc-2017-18/offence-code-to-policeuk-category.csv")
    categories = ", ".join(f"('{c.lower()}', '{c}')" for c in CATEGORIES)
    # the tables fold homicide into one row; record-level data carries its parts (1 murder,
    # 4.1 manslaughter, 4.10 corporate manslaughter, 4.2 infanticide), so each gets the row too
    return f"""
    WITH codes AS (
        SELECT m.Offence_Code AS offence_code, m.Offence_Description AS description,
               m.Offence_Group AS offence_group, m.Offence_Subgroup AS offence_subgroup,
               c.category AS police_uk_category
        FROM {mapping} m
        LEFT JOIN (VALUES {categories}) c(lower_name, category)
          ON c.lower_name = lower(m."Police.uk_Cat")
    )
    SELECT * FROM codes
    UNION ALL
    SELECT part, description, offence_group, offence_subgroup, police_uk_category
    FROM codes, (VALUES ('1'), ('4.1'), ('4.10'), ('4.2')) p(part)
    WHERE offence_code = '1/4.1/4.10/4.2'
    ORDER BY offence_code
    """


def build_forces_sql(shared: Path) -> str:
    lad = _csv(
        next((shared / "ons-lad-csp-pfa-lookup-2017").glob("Local_Authority_District_*.csv"))
    )
    others = ", ".join(f"('{name}', NULL, false)" for name in _NON_TERRITORIAL)
    return f"""
    SELECT DISTINCT PFA17NM AS force, PFA17CD AS pfa_code, true AS territorial FROM {lad}
    UNION ALL SELECT * FROM (VALUES {others})
    ORDER BY territorial DESC, force
    """


def build(shared: Path, out: Path) -> dict[str, int]:
    """Write the reference files into `out`; returns rows (or features) written per file."""
    con = duckdb.connect()
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, sql in (
        ("areas.csv.gz", build_areas_sql(shared)),
        ("offences.csv", build_offences_sql(shared)),
        ("forces.csv", build_forces_sql(shared)),
    ):
        frame = con.sql(sql).df()
        if name.endswith(".gz"):
            # mtime=0 keeps the file byte-identical across rebuilds
            with gzip.GzipFile(out / name, "wb", mtime=0) as handle:
                handle.write(frame.to_csv(index=False, lineterminator="\n").encode())
        else:
            frame.to_csv(out / name, index=False, lineterminator="\n")
        written[name] = len(frame)
    written[BOUNDARIES_FILE] = build_boundaries(shared, out)
    return written
