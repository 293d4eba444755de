"""The data-derived parts of a calibration profile, built from public files.

- offence mix: recorded offences per Home Office code and financial quarter (Home Office police
  recorded crime table for the force);
- monthly index: records per police.uk crime type and calendar month (street-level data);
- places: the anonymised map points of the street-level data, with their LSOA, CSP and how many
  records of each crime type fell there, so synthetic crimes land where real ones do.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb

from svduty.example import WEST_MERCIA
from svduty.reference import data_path


def _csv(path: Path) -> str:
    return f"read_csv('{path}', header=true, all_varchar=true)"


def build_west_mercia(shared: Path, out: Path) -> dict[str, int]:
    con = duckdb.connect()
    prc = _csv(shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv")
    street = (
        f"read_csv('{shared}/police-uk-west-mercia/2025-*/*.csv', header=true, all_varchar=true)"
    )
    areas = f"read_csv('{data_path('areas.csv.gz')}', header=true, all_varchar=true)"
    groups = " UNION ALL ".join(
        f"SELECT '{district}' AS la_code, '{csp}' AS csp"
        for csp, districts in WEST_MERCIA.csps.items()
        for district in districts
    )
    queries = {
        "west-mercia-offence-mix.csv": f"""
            SELECT Offence_Code AS offence_code,
                   sum(CASE WHEN Financial_Quarter = '1' THEN Number_of_Offences::INT END) AS q1,
                   sum(CASE WHEN Financial_Quarter = '2' THEN Number_of_Offences::INT END) AS q2,
                   sum(CASE WHEN Financial_Quarter = '3' THEN Number_of_Offences::INT END) AS q3,
                   sum(CASE WHEN Financial_Quarter = '4' THEN Number_of_Offences::INT END) AS q4
            FROM {prc} WHERE Force_Name = 'West Mercia'
            GROUP BY 1 HAVING sum(Number_of_Offences::INT) > 0 ORDER BY 1""",
        "west-mercia-monthly.csv": f"""
            PIVOT (SELECT "Crime type" AS category, 'm' || right(Month, 2) AS month FROM {street})
            ON month IN ('m01','m02','m03','m04','m05','m06','m07','m08','m09','m10','m11','m12')
            USING count(*) GROUP BY category ORDER BY category""",
        "west-mercia-places.csv.gz": f"""
            SELECT s."Crime type" AS category, s."LSOA code" AS lsoa_code, g.csp,
                   s.Longitude AS longitude, s.Latitude AS latitude, count(*) AS n
            FROM {street} s JOIN {areas} a ON a.lsoa_code = s."LSOA code"
            JOIN ({groups}) g ON g.la_code = a.la_code
            WHERE s.Longitude IS NOT NULL
            GROUP BY ALL ORDER BY category, lsoa_code, longitude, latitude""",
    }
    written = {}
    out.mkdir(parents=True, exist_ok=True)
    for name, sql in queries.items():
        frame = con.sql(sql).df()
        text = frame.to_csv(index=False, lineterminator="\n").encode()
        if name.endswith(".gz"):
            with gzip.GzipFile(out / name, "wb", mtime=0) as handle:
                handle.write(text)
        else:
            (out / name).write_bytes(text)
        written[name] = len(frame)
    return written
