"""The data-derived parts of a calibration profile, built from public files the profile names
under `built_from` (paths inside a `shared/data` folder):

- offence mix: recorded offences per Home Office code and financial quarter (Home Office police
  recorded crime table, the profile's force);
- monthly index: records per police.uk crime type and calendar month (street-level data); a
  calendar month the files do not hold takes the mean of the months they do (no seasonality is
  invented);
- places: the anonymised map points of the street-level data in the profile's CSPs, with their
  LSOA, CSP and how many records of each crime type fell there, so synthetic crimes land where
  real ones do. Points the force recorded outside its CSPs are left out.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pandas as pd

from svduty.errors import InputError
from svduty.reference import data_path
from svduty.synth.profile import Profile

MONTHS = [f"m{m:02d}" for m in range(1, 13)]


def _csv(path: Path) -> str:
    return f"read_csv('{path}', header=true, all_varchar=true)"


def derive(shared: Path, profile: Profile, out: Path) -> dict[str, int]:
    """Write the profile's derived files into `out`; returns the rows written per file."""
    built = profile.data.get("built_from") or {}
    if "home_office" not in built or "street" not in built:
        raise InputError(
            f"{profile.path}: built_from must name home_office (the Home Office table) and "
            "street (data.police.uk files, a glob) under the shared data folder"
        )
    con = duckdb.connect()
    prc = _csv(shared / built["home_office"])
    street = f"read_csv('{shared / built['street']}', header=true, all_varchar=true)"
    areas = f"read_csv('{data_path('areas.csv.gz')}', header=true, all_varchar=true)"
    groups = " UNION ALL ".join(
        f"SELECT '{district}' AS la_code, '{csp}' AS csp"
        for csp, districts in profile.csps.items()
        for district in districts
    )
    force = profile.force.replace("'", "''")
    months = ", ".join(f"'{m}'" for m in MONTHS)
    queries = {
        "offence_mix": f"""
            SELECT Offence_Code AS offence_code,
                   sum(CASE WHEN Financial_Quarter = '1' THEN Number_of_Offences::INT END) AS q1,
                   sum(CASE WHEN Financial_Quarter = '2' THEN Number_of_Offences::INT END) AS q2,
                   sum(CASE WHEN Financial_Quarter = '3' THEN Number_of_Offences::INT END) AS q3,
                   sum(CASE WHEN Financial_Quarter = '4' THEN Number_of_Offences::INT END) AS q4
            FROM {prc} WHERE Force_Name = '{force}'
            GROUP BY 1 HAVING sum(Number_of_Offences::INT) > 0 ORDER BY 1""",
        "monthly_index": f"""
            PIVOT (SELECT "Crime type" AS category, 'm' || right(Month, 2) AS month FROM {street})
            ON month IN ({months})
            USING count(*) GROUP BY category ORDER BY category""",
        "places": f"""
            SELECT s."Crime type" AS category, s."LSOA code" AS lsoa_code, g.csp,
                   s.Longitude AS longitude, s.Latitude AS latitude, count(*) AS n
            FROM {street} s JOIN {areas} a ON a.lsoa_code = s."LSOA code"
            JOIN ({groups}) g ON g.la_code = a.la_code
            WHERE s.Longitude IS NOT NULL
            GROUP BY ALL ORDER BY category, lsoa_code, longitude, latitude""",
    }
    written = {}
    out.mkdir(parents=True, exist_ok=True)
    for part, sql in queries.items():
        frame = con.sql(sql).df()
        if not len(frame):
            raise InputError(f"{profile.path}: built_from gives no rows for {part}")
        if part == "monthly_index":
            frame = _fill_months(frame)
        name = profile.data["derived"][part]["file"]
        text = frame.to_csv(index=False, lineterminator="\n").encode()
        if name.endswith(".gz"):
            # mtime=0 keeps the file byte-identical across rebuilds
            with gzip.GzipFile(out / name, "wb", mtime=0) as handle:
                handle.write(text)
        else:
            (out / name).write_bytes(text)
        written[name] = len(frame)
    return written


def _fill_months(frame: pd.DataFrame) -> pd.DataFrame:
    """Months no file holds take each crime type's mean over the months held, rounded."""
    held = [m for m in MONTHS if frame[m].sum() > 0]
    for month in MONTHS:
        if month not in held:
            frame[month] = frame[held].mean(axis=1).round().astype("int64")
    return frame
