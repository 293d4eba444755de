"""Identities in generated partner data: one pool of synthetic people recurring across the
police extract, A&E attendances, a youth justice service's contacts and schools' exclusions.

Each record's person is drawn from the pool among people of its sex whose date of birth gives
the record's age on its date, with chance proportional to the person's propensity (lognormal,
spread PROPENSITY_SIGMA), so a few people account for many records, in every agency at once: a
child often excluded is likelier to be a suspect and a victim too. With four people in the pool
for each record, about two in three people recorded are recorded once, and the most recorded 5%
account for about a third of records (`recurrence` measures it; synth.json states it), the
shape of repeat victimisation and offending. Each occurrence is recorded
with its own errors (`svduty.synth.identities`). Which person each line is about is written
apart, in `truth/`, for testing linkage; it is never ingested.

Volumes and mixes here are assumptions of the order published for England (youth justice
statistics, the DfE's suspensions and exclusions), scaled to the profile's crimes; none is a
published figure for the profile's area.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from svduty.reference import data_path
from svduty.synth import identities as ids
from svduty.synth.profile import Profile

POOL_PER_RECORD = 4.0
"""People in the pool for each record expected: most are never recorded."""
PROPENSITY_SIGMA = 2.0
"""Log-scale spread of propensities: the larger, the more records fall to a few people."""
BACKGROUND_SHARE = 0.1
"""Pool members of any age 0-100, so a record of any age finds someone."""
MIN_BACKGROUND = 4_000
YOUTH_CONTACTS_PER_CRIME = 0.01
"""Youth justice contacts (prevention to custody) a year per recorded crime."""
EXCLUSIONS_PER_CRIME = 0.18
"""Suspensions and permanent exclusions a year per recorded crime (none in August)."""
PERMANENT_SHARE = 0.012
"""Share of exclusions that are permanent (about 1 in 85 in England, 2022/23)."""
SCHOOLS_PER_AUTHORITY = 12

YOUTH_AGES = {10: 0.01, 11: 0.02, 12: 0.05, 13: 0.09, 14: 0.15, 15: 0.21, 16: 0.23, 17: 0.24}
EXCLUSION_AGES = {
    5: 0.01, 6: 0.015, 7: 0.02, 8: 0.025, 9: 0.03, 10: 0.035, 11: 0.06, 12: 0.14, 13: 0.2,
    14: 0.24, 15: 0.215,
}  # fmt: skip
CONTACTS = {  # code written in the extract (youth-justice.yaml decodes it): share
    "PREV": 0.30, "YC": 0.12, "YCC": 0.10, "CR": 0.10, "RO": 0.18, "YRO": 0.12, "DTO": 0.03,
    "REM": 0.03, "OTH": 0.02,
}  # fmt: skip
YOUTH_OFFENCES = {
    "105A": 0.22, "8N": 0.14, "34B": 0.08, "10D": 0.08, "92A": 0.08, "9A": 0.08, "58C": 0.06,
    "58A": 0.04, "46": 0.08, "28E": 0.05, "37.2": 0.04, "49": 0.05,
}  # fmt: skip
REASONS = {  # DfE school census code: share of exclusions
    "PD": 0.46, "VA": 0.12, "PP": 0.09, "PA": 0.05, "VP": 0.06, "DA": 0.045, "DM": 0.03,
    "OW": 0.025, "BU": 0.02, "RA": 0.01, "SM": 0.01, "TH": 0.01, "MT": 0.02, "LG": 0.005,
    "DS": 0.005,
}  # fmt: skip
FEMALE_SHARE = {"victim": 0.5, "suspect": 0.2, "youth": 0.15, "exclusion": 0.25}
"""Share of women and girls among the people of each kind of record, for the pool's mix."""

PEOPLE_IDENTIFIERS = ["Forename", "Surname", "Date of Birth", "Postcode"]
ISTV_IDENTIFIERS = ["Forename", "Surname", "DOB", "Postcode"]
YOUTH_HEADER = [
    "Contact ID", "Start Date", "Intervention Type", "HO Class", "Offence Description",
    "Age at Start", "Gender", "LA Code", "Forename", "Surname", "DOB", "Postcode", "Synthetic",
]  # fmt: skip
EXCLUSIONS_HEADER = [
    "Exclusion ID", "Start Date", "Category", "Reason", "School URN", "Age", "Sex", "LA Code",
    "Forename", "Surname", "Date of Birth", "UPN", "Postcode", "Synthetic",
]  # fmt: skip
FILES = ("youth-justice.csv", "exclusions.csv")
"""The files only identities make."""
TRUTH_HEADER = ["file", "line", "person_id", "errors", "synthetic"]
TRUTH_FOLDER = "truth"


def _weights(shares: dict) -> tuple[list, np.ndarray]:
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    return keys, p / p.sum()


def _bands(bands: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names, p = _weights(bands)
    low = np.array([int(b.split("-")[0]) for b in names])
    high = np.array([int(b.split("-")[1]) for b in names])
    return low, high, p


def born_between(on: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and last dates of birth that make someone `age` on `on` (datetime64[D])."""
    month = on.astype("datetime64[M]")
    day = (on - month).astype("timedelta64[D]")
    last = (month - (age * 12).astype("timedelta64[M]")).astype("datetime64[D]") + day
    first = (month - ((age + 1) * 12).astype("timedelta64[M]")).astype("datetime64[D]") + day
    return first + np.timedelta64(1, "D"), last


def _iso_to_dmy(values: pd.Series) -> pd.Series:
    return values.str[8:10] + "/" + values.str[5:7] + "/" + values.str[:4]


@dataclass
class Recorded:
    """Identifier columns of some records, and who each record truly is."""

    columns: pd.DataFrame
    person: np.ndarray
    errors: np.ndarray


class Cohort:
    """The pool of people behind one generated data set, and the truth of who is where."""

    def __init__(
        self, profile: Profile, seed: int, start: str, years: int, crimes_a_year: float
    ) -> None:
        self.seed = seed
        self.crimes_a_year = crimes_a_year
        rng = np.random.default_rng([seed, 8, 0, 0, 1])
        first = np.datetime64(f"{start}-01", "D")
        span = int(np.timedelta64(365 * years, "D").astype(int))
        victims, suspects = (
            profile.assumption(f"{role}_age_bands")["bands"] for role in ("victim", "suspect")
        )
        kinds = {"victim": 1.0, "suspect": 0.45}
        kinds |= {"youth": YOUTH_CONTACTS_PER_CRIME, "exclusion": EXCLUSIONS_PER_CRIME}
        records = crimes_a_year * years * sum(kinds.values())
        n = int(POOL_PER_RECORD * records)
        background = max(int(BACKGROUND_SHARE * n), MIN_BACKGROUND)
        names, p = _weights(kinds)
        kind = np.array(names)[rng.choice(len(names), n, p=p)]
        age = np.empty(n, dtype=np.int64)
        for name, bands in (("victim", victims), ("suspect", suspects)):
            rows = np.flatnonzero(kind == name)
            low, high, weights = _bands(bands)
            band = rng.choice(len(weights), len(rows), p=weights)
            age[rows] = rng.integers(low[band], high[band] + 1)
        for name, ages in (("youth", YOUTH_AGES), ("exclusion", EXCLUSION_AGES)):
            rows = np.flatnonzero(kind == name)
            values, weights = _weights(ages)
            age[rows] = np.array(values)[rng.choice(len(values), len(rows), p=weights)]
        female = rng.random(n) < pd.Series(kind).map(FEMALE_SHARE).to_numpy()
        age = np.r_[age, rng.integers(0, 101, background)]
        female = np.r_[female, rng.random(background) < 0.5]
        seen = first + rng.integers(0, span, len(age)).astype("timedelta64[D]")
        low, high = born_between(seen, age)
        born = low + (rng.random(len(age)) * ((high - low).astype(int) + 1)).astype(
            "timedelta64[D]"
        )
        authorities = [la for codes in profile.csps.values() for la in codes]
        where = np.array(authorities, dtype=object)[rng.integers(0, len(authorities), len(age))]
        self.people = ids.population(rng, born, female, where, PROPENSITY_SIGMA)
        self.authority = where
        self.pool = ids.Pool(self.people)
        self.records = np.zeros(len(age), dtype=np.int64)
        offences = pd.read_csv(data_path("offences.csv"), dtype=str)
        self.offence_names = dict(
            zip(offences["offence_code"], offences["description"], strict=True)
        )
        self.next_contact = 0
        self.next_exclusion = 0

    # -- drawing and recording people ------------------------------------------------------

    def _record(
        self, rng: np.random.Generator, who: np.ndarray, on: np.ndarray, dmy: bool
    ) -> Recorded:
        records, errors = ids.recorded(rng, self.people, who, on)
        if dmy:
            records["date_of_birth"] = _iso_to_dmy(records["date_of_birth"])
        flags = errors.to_numpy()
        names = np.array(errors.columns, dtype=object)
        joined = np.array([";".join(names[row]) for row in flags], dtype=object)
        np.add.at(self.records, who, 1)
        return Recorded(records, who, joined)

    def _draw(
        self, rng: np.random.Generator, female: np.ndarray, age: np.ndarray, on: np.ndarray
    ) -> np.ndarray:
        low, high = born_between(on, age)
        chosen = self.pool.draw(rng, female, low, high)
        if (chosen < 0).any():  # the background of every age makes this unreachable
            raise RuntimeError("synthetic identities: a record found nobody of its age and sex")
        return chosen

    def police_and_ae(
        self,
        rng: np.random.Generator,
        people: pd.DataFrame,
        people_on: np.ndarray,
        attendances: pd.DataFrame,
        attendance_victim: np.ndarray,
    ) -> tuple[Recorded, Recorded]:
        """Identifiers for the people in crimes (on their crimes' dates) and the A&E
        attendances: an attendance after a reported crime is its victim, others anyone of
        their age and sex on their date."""
        who = self._draw(
            rng,
            people["Gender"].to_numpy() == "F",
            people["Age"].to_numpy().astype(np.int64),
            people_on,
        )
        police = self._record(rng, who, people_on, dmy=True)
        arrived = pd.to_datetime(attendances["IncidentDateTime"], format="%Y-%m-%dT%H:%M")
        on = arrived.to_numpy().astype("datetime64[D]")
        patient = np.where(attendance_victim >= 0, who[np.maximum(attendance_victim, 0)], -1)
        unknown = patient < 0
        patient[unknown] = self._draw(
            rng,
            attendances["Sex"].to_numpy()[unknown] == "F",
            attendances["Age"].to_numpy()[unknown].astype(np.int64),
            on[unknown],
        )
        return police, self._record(rng, patient, on, dmy=False)

    # -- the youth justice service and the schools -----------------------------------------

    def _children(
        self, rng: np.random.Generator, year: int, month: int, n: int, kind: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n children on days of the month, in date order: their person ids, dates and ages."""
        days = calendar.monthrange(year, month)[1]
        first = np.datetime64(f"{year:04d}-{month:02d}-01", "D")
        on = first + np.sort(rng.integers(0, days, n)).astype("timedelta64[D]")
        values, p = _weights(YOUTH_AGES if kind == "youth" else EXCLUSION_AGES)
        age = np.array(values, dtype=np.int64)[rng.choice(len(values), n, p=p)]
        female = rng.random(n) < FEMALE_SHARE[kind]
        return self._draw(rng, female, age, on), on, age

    def youth_justice(
        self, rng: np.random.Generator, year: int, month: int
    ) -> tuple[pd.DataFrame, Recorded]:
        """A month of the youth justice service's contacts, in youth-justice.yaml's layout."""
        n = rng.poisson(self.crimes_a_year * YOUTH_CONTACTS_PER_CRIME / 12)
        who, on, age = self._children(rng, year, month, n, "youth")
        codes, p = _weights(CONTACTS)
        contact = np.array(codes)[rng.choice(len(codes), n, p=p)]
        offences, q = _weights(YOUTH_OFFENCES)
        offence = np.where(
            contact == "PREV", "", np.array(offences)[rng.choice(len(offences), n, p=q)]
        )
        found = self._record(rng, who, on, dmy=True)
        refs = np.arange(self.next_contact, self.next_contact + n)
        self.next_contact += n
        frame = pd.DataFrame(
            {
                "Contact ID": [f"YJ{year % 100:02d}-{r:07d}" for r in refs],
                "Start Date": _iso_to_dmy(pd.Series(np.datetime_as_string(on, unit="D"))),
                "Intervention Type": contact,
                "HO Class": offence,
                "Offence Description": [self.offence_names.get(c, "") for c in offence],
                "Age at Start": age,
                "Gender": np.where(self.people.female[who], "F", "M"),
                "LA Code": self.authority[who],
                "Forename": found.columns["forename"].to_numpy(),
                "Surname": found.columns["surname"].to_numpy(),
                "DOB": found.columns["date_of_birth"].to_numpy(),
                "Postcode": found.columns["postcode"].to_numpy(),
                "Synthetic": "Y",
            }
        )
        return frame, found

    def exclusions(
        self, rng: np.random.Generator, year: int, month: int
    ) -> tuple[pd.DataFrame, Recorded]:
        """A month of schools' exclusions (none in August), in school-exclusions.yaml's
        layout."""
        mean = 0.0 if month == 8 else self.crimes_a_year * EXCLUSIONS_PER_CRIME / 11
        n = rng.poisson(mean)
        who, on, age = self._children(rng, year, month, n, "exclusion")
        reasons, p = _weights(REASONS)
        found = self._record(rng, who, on, dmy=True)
        refs = np.arange(self.next_exclusion, self.next_exclusion + n)
        self.next_exclusion += n
        school = rng.integers(1, SCHOOLS_PER_AUTHORITY + 1, n)
        authority = self.authority[who]
        frame = pd.DataFrame(
            {
                "Exclusion ID": [f"EX{year % 100:02d}-{r:07d}" for r in refs],
                "Start Date": _iso_to_dmy(pd.Series(np.datetime_as_string(on, unit="D"))),
                "Category": np.where(rng.random(n) < PERMANENT_SHARE, "PERM", "FIXD"),
                "Reason": np.array(reasons)[rng.choice(len(reasons), n, p=p)],
                "School URN": [
                    f"SYN{la[-3:]}{s:02d}" for la, s in zip(authority, school, strict=True)
                ],
                "Age": age,
                "Sex": np.where(self.people.female[who], "F", "M"),
                "LA Code": authority,
                "Forename": found.columns["forename"].to_numpy(),
                "Surname": found.columns["surname"].to_numpy(),
                "Date of Birth": found.columns["date_of_birth"].to_numpy(),
                "UPN": [f"Z{p:012d}" for p in who],
                "Postcode": found.columns["postcode"].to_numpy(),
                "Synthetic": "Y",
            }
        )
        return frame, found

    # -- the truth --------------------------------------------------------------------------

    @staticmethod
    def start_truth(out: Path) -> None:
        folder = out / TRUTH_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(columns=TRUTH_HEADER).to_csv(
            folder / "identities.csv", index=False, lineterminator="\n"
        )

    @staticmethod
    def write_truth(out: Path, name: str, first_line: int, found: Recorded) -> None:
        """Append who each line of `name` is about (lines as the file numbers them)."""
        pd.DataFrame(
            {
                "file": name,
                "line": np.arange(first_line, first_line + len(found.person)),
                "person_id": found.person,
                "errors": found.errors,
                "synthetic": "Y",
            }
        ).to_csv(
            out / TRUTH_FOLDER / "identities.csv",
            mode="a",
            header=False,
            index=False,
            lineterminator="\n",
        )

    def finish_truth(self, out: Path) -> dict[str, float]:
        """The true identities of everyone recorded, and how records fall to people."""
        recorded = np.flatnonzero(self.records)
        people = self.people.frame().iloc[recorded]
        people["la_code"] = self.authority[recorded]
        people["records"] = self.records[recorded]
        people["synthetic"] = "Y"
        people.to_csv(out / TRUTH_FOLDER / "people.csv", index=False, lineterminator="\n")
        return recurrence(self.records[recorded])


def recurrence(counts: np.ndarray) -> dict[str, float]:
    """How records fall to people: the share of people recorded once, five times or more, and
    the share of records the most recorded 5% of people account for."""
    if not len(counts):
        return {"people": 0, "records": 0}
    ordered = np.sort(counts)[::-1]
    top = ordered[: max(1, len(ordered) // 20)].sum() / ordered.sum()
    return {
        "people": len(counts),
        "records": int(counts.sum()),
        "share_recorded_once": round(float(np.mean(counts == 1)), 4),
        "share_recorded_5_or_more": round(float(np.mean(counts >= 5)), 4),
        "records_of_top_5_percent": round(float(top), 4),
    }
