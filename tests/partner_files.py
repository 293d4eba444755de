"""Partner files in the layouts of the bundled example mappings, written from plain records.

Tests describe crimes, people, attendances and admissions as dicts of canonical values; these
helpers encode them the way a force or hospital export would (local codes, day-first dates, a
flags column), so the real mapping and adapter do the decoding.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from svduty.example import example_archive
from svduty.synth import generate as generator

MAPPINGS = example_archive().parent / "mappings"
FORCE_MAPPING = MAPPINGS / "force-records-extract.yaml"
ISTV_MAPPING = MAPPINGS / "istv-minimum-dataset.yaml"
ADMISSIONS_MAPPING = MAPPINGS / "hospital-admissions.yaml"

FLAG_CODES = generator.FLAGS
LOCATION_CODES = generator.LOCATION_CODES
ROLE_CODES = {"victim": "V", "suspect": "S", "offender": "O"}
SEX_CODES = {"female": "F", "male": "M", "other": "X", "unknown": "U"}

CRIME_HEADER = generator.CRIME_HEADER[:-1]  # the same export, without the Synthetic column
PEOPLE_HEADER = generator.PEOPLE_HEADER[:-1]


def _when(value: datetime | None) -> str:
    return value.strftime("%d/%m/%Y %H:%M") if value else ""


def crime_row(crime: dict[str, Any]) -> list[str]:
    start = crime.get("occurred_from", datetime(2025, 3, 14, 23, 30))
    return [
        crime["crime_ref"],
        crime.get("offence_code", ""),
        crime.get("statute", ""),
        _when(crime.get("recorded_at", start + timedelta(hours=2))),
        _when(start),
        _when(crime.get("occurred_to")),
        str(crime.get("easting", 385000)),
        str(crime.get("northing", 255000)),
        crime.get("lsoa_code", "E01032383"),
        LOCATION_CODES.get(crime.get("location_type", ""), ""),
        ";".join(FLAG_CODES[m] for m in crime.get("markers", ())),
        crime.get("outcome", "Under investigation"),
    ]


def person_row(person: dict[str, Any]) -> list[str]:
    return [
        person["crime_ref"],
        ROLE_CODES[person["role"]],
        person.get("person_key", ""),
        "" if person.get("age") is None else str(person["age"]),
        SEX_CODES.get(person.get("sex", ""), ""),
        person.get("ethnicity", ""),
        person.get("relationship", ""),
    ]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_force_extract(folder: Path, crimes: list[dict], people: list[dict]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_csv(folder / "crimes.csv", CRIME_HEADER, [crime_row(c) for c in crimes]),
        write_csv(folder / "people.csv", PEOPLE_HEADER, [person_row(p) for p in people]),
    ]


CODES = [
    "8N",
    "105A",
    "5D",
    "34B",
    "34A",
    "3B",
    "19C",
    "20A",
    "106",
    "92A",
    "10D",
    "8P",
    "2",
    "1",
    "58A",
    "30C",
    "45",
    "36",
    "10B",
    "8L",
]


def random_extract(seed: int, n: int) -> tuple[list[dict], list[dict]]:
    """Generated crimes and people with a spread of codes, statutes, markers, places and ages."""
    rng = random.Random(seed)
    crimes, people = [], []
    for i in range(n):
        code = rng.choice(CODES)
        crime = {
            "crime_ref": f"WM/{seed}/{i:06d}",
            "offence_code": code,
            "statute": rng.choice(["", "s20 OAPA 1861", "s47 OAPA 1861", "s18 OAPA 1861"])
            if code in ("8N", "8P")
            else "",
            "markers": tuple(m for m in FLAG_CODES if rng.random() < 0.12),
            "location_type": rng.choice(list(LOCATION_CODES)),
            "occurred_from": datetime(2025, 1, 1) + timedelta(minutes=rng.randrange(525_600)),
            "easting": rng.randrange(320_000, 410_000),
            "northing": rng.randrange(210_000, 340_000),
        }
        crimes.append(crime)
        for role in ("victim", "suspect"):
            if rng.random() < 0.8:
                people.append({
                    "crime_ref": crime["crime_ref"], "role": role,
                    "person_key": f"P{rng.randrange(n * 2)}",
                    "age": rng.choice([None, *range(10, 80)]),
                    "sex": rng.choice(list(SEX_CODES)),
                })  # fmt: skip
    return crimes, people


ISTV_COLUMNS = generator.ISTV_HEADER[:-1]  # the ISTV export, without the Synthetic column


def random_attendances(seed: int, n: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        arrived = datetime(2025, 1, 1) + timedelta(minutes=rng.randrange(525_600))
        rows.append({
            "AttendanceID": f"A{i:05d}", "SiteCode": rng.choice(["RWP50", "RLQ01"]),
            "ArrivalDateTime": arrived.strftime("%Y-%m-%dT%H:%M"),
            "IncidentDateTime": (arrived - timedelta(minutes=rng.randrange(30, 600)))
            .strftime("%Y-%m-%dT%H:%M"),
            "IncidentLocationType": rng.choice(["01", "02", "03", "05"]),
            "IncidentLocation": rng.choice(["High Street", "The Crown & Anchor", "home", ""]),
            "PrimaryMeansOfAssault": rng.choice(["BODY", "KNIFE", "BOTTLE", "BLUNT", "UNK"]),
            "Age": str(rng.randrange(14, 70)), "Sex": rng.choice(["F", "M"]),
        })  # fmt: skip
    return rows


def write_istv_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    return write_csv(path, ISTV_COLUMNS, [[r[c] for c in ISTV_COLUMNS] for r in rows])


def write_istv_xml(path: Path, rows: list[dict[str, str]]) -> Path:
    body = "".join(
        "<Attendance>"
        + "".join(f"<{c}>{escape(r[c])}</{c}>" for c in ISTV_COLUMNS)
        + "</Attendance>\n"
        for r in rows
    )
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ISTVSubmission>\n{body}</ISTVSubmission>\n',
        encoding="utf-8",
    )
    return path
