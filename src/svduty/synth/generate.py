"""Generate a partnership's record-level partner data from a calibration profile.

Output is in the partner formats svduty reads (a force extract of crimes and people, ISTV A&E
attendances, hospital admissions), with the mappings to read them, so synthetic data goes through
the real ingest path. Every row carries `Synthetic = Y`. Generation runs month by month with a
random stream per month, so memory stays bounded and a seed gives byte-identical files. With
identities (`svduty.synth.cohort`), people and attendances carry names, dates of birth and
postcodes of one pool of synthetic people, who recur in a youth justice extract and a schools'
exclusions extract too; their own random streams leave every other value as it is without them.
"""

from __future__ import annotations

import calendar
import csv
import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pyproj import Transformer

from svduty.errors import InputError
from svduty.example import example_archive
from svduty.reference import data_path
from svduty.synth import cohort
from svduty.synth.profile import Profile, quarter_of
from svduty.vocabulary import AGE_BANDS
from svduty.yamlfile import load_yaml

HOMICIDE_CODES = {"1/4.1/4.10/4.2", "1", "4.1", "4.10", "4.2"}
KNIFE_CODES = {
    "1/4.1/4.10/4.2",
    "2",
    "3B",
    "5D",
    "8N",
    "8P",
    "8S",
    "34A",
    "34B",
    "19C",
    "19D",
    "19E",
    "19F",
    "19G",
    "19H",
    "17A",
    "17B",
    "20A",
    "20B",
}
INJURY_CODES = {"2", "5D", "5E", "8N", "8P", "8S"}
HATE_CODES = {"8P", "105B", "8M", "9B"}
CHILD_VICTIM_AGES = {
    "19E": (5, 12),
    "19H": (5, 12),
    "20B": (5, 12),
    "17B": (5, 12),
    "21": (5, 12),
    "19D": (13, 15),
    "19G": (13, 15),
    "22B": (13, 15),
    "11A": (0, 15),
}
NO_VICTIM = {"Drugs", "Possession of weapons", "Public order", "Other crime"}
FLAGS = {
    "domestic_abuse": "DA",
    "knife": "KNIFE",
    "firearm": "FIREARM",
    "corrosive": "ACID",
    "county_lines": "CL",
    "hate": "HATE",
    "alcohol": "ALC",
    "night_time_economy": "NTE",
    "intimidation": "INTIM",
    "modern_slavery": "MS",
}
LOCATION_CODES = {
    "public_place": "STREET",
    "licensed_premises": "PUB",
    "retail": "SHOP",
    "transport": "STATION",
    "dwelling": "DWELLING",
    "workplace": "WORK",
    "other": "OTHER",
}
ISTV_LOCATION = {
    "public_place": "01",
    "dwelling": "02",
    "licensed_premises": "03",
    "school": "04",
    "retail": "05",
    "transport": "06",
    "workplace": "07",
    "other": "98",
}
CHUNK = 200_000
"""The most crimes generated and held in memory at once."""
OUTCOMES = [
    "Under investigation",
    "Charged",
    "Evidential difficulties: victim does not support",
    "Investigation complete; no suspect identified",
    "Community resolution",
]
ETHNICITY = ["White", "Asian", "Black", "Mixed", "Other", "Not stated"]
CRIME_HEADER = [
    "Crime Reference",
    "HO Class",
    "Statute",
    "Recorded Date",
    "Committed From",
    "Committed To",
    "X",
    "Y",
    "LSOA",
    "Location Type",
    "Flags",
    "Outcome",
    "Synthetic",
]
PEOPLE_HEADER = [
    "Crime Reference",
    "Role",
    "Person ID",
    "Age",
    "Gender",
    "Ethnicity",
    "Relationship To Victim",
    "Synthetic",
]
ISTV_HEADER = [
    "AttendanceID",
    "SiteCode",
    "ArrivalDateTime",
    "IncidentDateTime",
    "IncidentLocationType",
    "IncidentLocation",
    "PrimaryMeansOfAssault",
    "Age",
    "Sex",
    "Synthetic",
]
ADMISSIONS_HEADER = [
    "Month",
    "Area Code",
    "Age Band",
    "Sex",
    "ICD10 Cause",
    "Admissions",
    "Synthetic",
]
CAUSES = {
    "KNIFE": "X99",
    "BOTTLE": "X99",
    "BODY": "Y04",
    "BLUNT": "Y00",
    "GUN": "X95",
    "ACID": "X86",
    "OTHER": "Y08",
    "UNK": "Y09",
}
CORRUPTIONS = {
    "crimes.csv": [
        ("Recorded Date", "31/02/2025 25:61", "is not a date"),
        ("HO Class", "8N!", "is not a Home Office offence code"),
        ("Location Type", "BEACH", "Location Type must be one of"),
        ("Crime Reference", "", "is required"),
        ("Y", "", "only one of easting and northing"),
    ],
    "people.csv": [
        ("Role", "W", "Role must be one of"),
        ("Age", "130", "must be a whole number from 0 to 120"),
    ],
}


IDENTIFIED_MAPPINGS = ["youth-justice.yaml", "school-exclusions.yaml"]
CORRUPTIONS_FILE = "corruptions.csv"
"""Rows `--corrupt` broke, in the truth folder: what ingest should reject, never a source."""
"""The mappings written only with identities, for the files only they make."""
KEY_FROM = ["forename", "surname", "date_of_birth"]
"""The identifiers every generated mapping makes person keys from, so keys meet across them."""


@dataclass
class Tables:
    """Per-code facts as arrays indexed by code number."""

    codes: np.ndarray
    group: np.ndarray
    subgroup: np.ndarray
    category: np.ndarray
    quarters: np.ndarray  # codes x 4

    @classmethod
    def load(cls, profile: Profile) -> Tables:
        reference = pd.read_csv(data_path("offences.csv"), dtype=str).set_index("offence_code")
        mix = profile.offence_mix()
        codes = np.array([c for c in mix if c in reference.index])
        return cls(
            codes=codes,
            group=reference.loc[codes, "offence_group"].to_numpy(),
            subgroup=reference.loc[codes, "offence_subgroup"].to_numpy(),
            category=reference.loc[codes, "police_uk_category"].to_numpy(),
            quarters=np.array([mix[c] for c in codes]).clip(min=0),
        )


@dataclass
class Links:
    """Which crime each person row is about, and which person row (the victim) each A&E
    attendance is, -1 for attendances never reported to the police."""

    person_crime: np.ndarray
    attendance_victim: np.ndarray
    crime_start: pd.DatetimeIndex


@dataclass
class Written:
    rows: Counter[str] = field(default_factory=Counter)
    corruptions: list[dict[str, object]] = field(default_factory=list)


class Generator:
    def __init__(
        self,
        profile: Profile,
        scale: float,
        years: int,
        seed: int,
        corrupt: float = 0.0,
        start: str | None = None,
        identities: bool = False,
    ) -> None:
        self.identities = identities
        self.profile, self.scale, self.years, self.seed, self.corrupt = (
            profile,
            scale,
            years,
            seed,
            corrupt,
        )
        self.start = start or profile.data.get("start", "2025-01")
        self.t = Tables.load(profile)
        self.index = profile.monthly_index()
        self._places()
        self._calibrate()
        self.to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
        areas = pd.read_csv(data_path("areas.csv.gz"), dtype=str, usecols=["lsoa_code", "la_code"])
        self.lsoa_la = dict(zip(areas["lsoa_code"], areas["la_code"], strict=True))
        self.next_ref = 0
        self.next_attendance = 0
        self.admissions: Counter[tuple[str, str, str, str, str]] = Counter()

    def _places(self) -> None:
        frame = pd.DataFrame(self.profile.places())
        strays = sorted(set(frame["csp"]) - set(self.profile.csps))
        if strays:
            raise InputError(
                f"{self.profile.path}: the places file names CSP(s) {', '.join(strays)} that "
                "csps does not list; rebuild it with `svduty reference profile`"
            )
        frame["n"] = frame["n"].astype(float)
        frame["longitude"] = frame["longitude"].astype(float)
        frame["latitude"] = frame["latitude"].astype(float)
        self.places = {c: g.reset_index(drop=True) for c, g in frame.groupby("category")}
        self.all_places: pd.DataFrame = (
            frame.groupby(["lsoa_code", "csp", "longitude", "latitude"])["n"].sum().reset_index()
        )

    def _calibrate(self) -> None:
        """Marker rates from target volumes: expected eligible offences a year -> probability."""
        annual = self.t.quarters.sum(axis=1)
        knife_eligible = np.isin(self.t.codes, list(KNIFE_CODES))
        homicide = np.isin(self.t.codes, list(HOMICIDE_CODES))
        violent = np.isin(self.t.group, ["Violence against the person", "Robbery"])
        knives = self.profile.target("knife_per_year")["value"]
        fixed = self.profile.data["parameters"].get("homicide_knife_probability")
        if fixed is None:  # a profile without it: homicides take the general knife rate
            self.p_knife = knives / annual[knife_eligible].sum()
            self.p_knife_homicide = self.p_knife
        else:
            self.p_knife_homicide = float(fixed["value"])
            others = annual[knife_eligible & ~homicide].sum()
            self.p_knife = (knives - self.p_knife_homicide * annual[homicide].sum()) / others
        firearm_base = annual[violent].sum() - self.profile.target("knife_per_year")["value"]
        self.p_firearm = self.profile.target("firearm_per_year")["value"] / firearm_base
        self.expected_crimes = annual.sum() * self.scale * self.years

    def months(self) -> list[tuple[int, int]]:
        year, month = (int(x) for x in self.start.split("-"))
        out = []
        for i in range(12 * self.years):
            index = year * 12 + month - 1 + i
            out.append((index // 12, index % 12 + 1))
        return out

    def _month_means(self, month: int) -> np.ndarray:
        quarter = quarter_of(month)
        months_in_quarter = [m for m in range(1, 13) if quarter_of(m) == quarter]
        means = np.zeros(len(self.t.codes))
        for i, category in enumerate(self.t.category):
            weights = self.index.get(category) or self.index["Violence and sexual offences"]
            share = weights[month - 1] / sum(weights[m - 1] for m in months_in_quarter)
            means[i] = self.t.quarters[i, quarter] * share
        return means * self.scale

    def run(self, out: Path, progress: Callable[[int, int], None] | None = None) -> Written:
        out.mkdir(parents=True, exist_ok=True)
        written = Written()
        files = {"crimes.csv": CRIME_HEADER, "people.csv": PEOPLE_HEADER, "istv.csv": ISTV_HEADER}
        found = None
        if self.identities:
            found = cohort.Cohort(
                self.profile, self.seed, self.start, self.years, self.expected_crimes / self.years
            )
            found.start_truth(out)
            people = [c for c in PEOPLE_HEADER if c != "Person ID"]
            files["people.csv"] = people[:-1] + cohort.PEOPLE_IDENTIFIERS + people[-1:]
            files["istv.csv"] = ISTV_HEADER[:-1] + cohort.ISTV_IDENTIFIERS + ISTV_HEADER[-1:]
            files["youth-justice.csv"] = cohort.YOUTH_HEADER
            files["exclusions.csv"] = cohort.EXCLUSIONS_HEADER
        else:  # what a run with identities left here would be read with this run's files
            for name in (*cohort.FILES, *(f"mappings/{m}" for m in IDENTIFIED_MAPPINGS)):
                (out / name).unlink(missing_ok=True)
            shutil.rmtree(out / cohort.TRUTH_FOLDER, ignore_errors=True)
        corruptions = out / cohort.TRUTH_FOLDER / CORRUPTIONS_FILE
        for stale in (corruptions, out / CORRUPTIONS_FILE):  # the latter: `*.csv` would take it
            stale.unlink(missing_ok=True)
        for name, header in files.items():
            with (out / name).open("w", encoding="utf-8", newline="") as handle:
                csv.writer(handle, lineterminator="\n").writerow(header)
        months = self.months()
        for number, (year, month) in enumerate(months):
            rng = np.random.default_rng([self.seed, number])
            counts = rng.poisson(self._month_means(month))
            codes = rng.permutation(np.repeat(np.arange(len(self.t.codes)), counts))
            # at most CHUNK crimes in memory at once, whatever the scale
            for part, first in enumerate(range(0, max(len(codes), 1), CHUNK)):
                part_rng = np.random.default_rng([self.seed, number, part])
                *frames, links = self._chunk(part_rng, year, month, codes[first : first + CHUNK])
                if found is not None:
                    identity_rng = np.random.default_rng([self.seed, number, part, 8, 2])
                    self._identify(identity_rng, found, out, frames, links, written)
                names = ("crimes.csv", "people.csv", "istv.csv")
                for name, frame in zip(names, frames, strict=True):
                    if self.corrupt and name in CORRUPTIONS:
                        corrupt_rng = np.random.default_rng([self.seed, number, part, 99])
                        self._corrupt(corrupt_rng, name, frame, written)
                    frame.to_csv(
                        out / name, mode="a", header=False, index=False, lineterminator="\n"
                    )
                    written.rows[name] += len(frame)
            if found is not None:
                children_rng = np.random.default_rng([self.seed, number, 0, 8, 3])
                for name, (frame, who) in (
                    ("youth-justice.csv", found.youth_justice(children_rng, year, month)),
                    ("exclusions.csv", found.exclusions(children_rng, year, month)),
                ):
                    found.write_truth(out, name, written.rows[name] + 2, who)
                    frame.to_csv(
                        out / name, mode="a", header=False, index=False, lineterminator="\n"
                    )
                    written.rows[name] += len(frame)
            if progress:
                progress(number + 1, len(months))
        self._write_admissions(out / "admissions.csv", written)
        self._write_mappings(out / "mappings")
        recurrence = found.finish_truth(out) if found is not None else None
        if self.corrupt:
            corruptions.parent.mkdir(exist_ok=True)
            pd.DataFrame(written.corruptions).to_csv(corruptions, index=False, lineterminator="\n")
        (out / "synth.json").write_text(
            json.dumps(
                {
                    "profile": self.profile.id,
                    "profile_path": str(self.profile.path),
                    "scale": self.scale,
                    "years": self.years,
                    "start": self.start,
                    "seed": self.seed,
                    "corrupt": self.corrupt,
                    "rows": dict(sorted(written.rows.items())),
                    **({"identities": recurrence} if recurrence is not None else {}),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        (out / "SYNTHETIC.txt").write_text(
            "Every record in these files is SYNTHETIC: generated by svduty synth from the "
            f"calibration profile '{self.profile.id}' (scale {self.scale}, {self.years} year(s), "
            f"seed {self.seed}). No record describes a real person or crime.\n"
            + (
                "The names, dates of birth and postcodes are SYNTHETIC too: put together at "
                "random from public lists of common names; truth/ says which synthetic person "
                "each line is about, for testing linkage, and is never ingested.\n"
                if found is not None
                else ""
            ),
            encoding="utf-8",
        )
        return written

    def _identify(
        self,
        rng: np.random.Generator,
        found: cohort.Cohort,
        out: Path,
        frames: list[pd.DataFrame],
        links: Links,
        written: Written,
    ) -> None:
        """People and attendances get their identifier columns; the truth of who each line is
        goes to truth/ (lines numbered as the file will number them)."""
        _, people, attendances = frames
        on = links.crime_start[links.person_crime].to_numpy().astype("datetime64[D]")
        police, patients = found.police_and_ae(
            rng, people, on, attendances, links.attendance_victim
        )
        frames[1] = people.drop(columns="Person ID")
        for index, recorded, columns, name in (
            (1, police, cohort.PEOPLE_IDENTIFIERS, "people.csv"),
            (2, patients, cohort.ISTV_IDENTIFIERS, "istv.csv"),
        ):
            frame = frames[index]
            for column, values in zip(columns, recorded.columns.columns.drop("sex"), strict=True):
                frame.insert(len(frame.columns) - 1, column, recorded.columns[values].to_numpy())
            found.write_truth(out, name, written.rows[name] + 2, recorded)

    def _corrupt(
        self, rng: np.random.Generator, name: str, frame: pd.DataFrame, written: Written
    ) -> None:
        chosen = np.flatnonzero(rng.random(len(frame)) < self.corrupt)
        for column, _, _ in CORRUPTIONS[name]:
            frame[column] = frame[column].astype(str)
        kinds = CORRUPTIONS[name]
        for k, row in enumerate(chosen):
            column, value, reason = kinds[k % len(kinds)]
            frame.iloc[int(row), list(frame.columns).index(column)] = value
            written.corruptions.append(
                {
                    "file": name,
                    "line": written.rows[name] + row + 2,
                    "column": column,
                    "reason": reason,
                }
            )

    def _chunk(
        self, rng: np.random.Generator, year: int, month: int, ci: np.ndarray
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Links]:
        """Crimes (given as code numbers), the people in them and their A&E attendances."""
        t = self.t
        n = len(ci)
        code, group, subgroup, category = t.codes[ci], t.group[ci], t.subgroup[ci], t.category[ci]
        vap = group == "Violence against the person"
        sexual = group == "Sexual offences"
        robbery = group == "Robbery"
        violent = vap | sexual | robbery
        u = lambda: rng.random(n)  # noqa: E731

        p_knife = np.where(np.isin(code, list(HOMICIDE_CODES)), self.p_knife_homicide, self.p_knife)
        knife = np.isin(code, list(KNIFE_CODES)) & (u() < p_knife)
        firearm = (vap | robbery) & ~knife & (u() < self.p_firearm)
        da_p = self.profile.parameter("domestic_abuse_probability")
        p_da = np.select(
            [knife, subgroup == "Violence with injury", vap, sexual, robbery],
            [
                self.profile.parameter("knife_domestic_probability")["value"],
                da_p["violence_with_injury"],
                da_p["other_violence"],
                da_p["sexual"],
                da_p["robbery"],
            ],
            da_p["other"],
        )
        domestic = u() < p_da
        hours = self.profile.assumption("hours")
        hour = np.where(
            knife,
            self._draw(rng, hours["knife"], n),
            np.where(
                violent, self._draw(rng, hours["violence"], n), self._draw(rng, hours["other"], n)
            ),
        )
        night = (hour >= 20) | (hour <= 3)
        public_p = self.profile.parameter("public_place_probability")
        public = u() < np.where(
            violent, np.where(domestic, public_p["domestic"], public_p["not_domestic"]), 0.5
        )
        public_kind = rng.choice(
            ["public_place", "licensed_premises", "retail", "transport"],
            n,
            p=[0.72, 0.15, 0.08, 0.05],
        )
        private_kind = np.where(
            domestic,
            "dwelling",
            rng.choice(["dwelling", "workplace", "other"], n, p=[0.8, 0.12, 0.08]),
        )
        location = np.where(public, public_kind, private_kind)
        alcohol = violent & night & (u() < 0.4)
        markers = {
            "knife": knife,
            "firearm": firearm,
            "domestic_abuse": domestic,
            "corrosive": vap & ~knife & (u() < 0.002),
            "county_lines": ((code == "92A") & (u() < 0.3))
            | ((group == "Possession of weapons offences") & (u() < 0.05))
            | (vap & (u() < 0.003)),
            "hate": np.isin(code, list(HATE_CODES)) | (violent & (u() < 0.01)),
            "alcohol": alcohol,
            "night_time_economy": (location == "licensed_premises") | (public & night & alcohol),
            "intimidation": violent
            & (u() < self.profile.parameter("intimidation_probability")["value"]),
            "modern_slavery": (code == "106") | (vap & (u() < 0.0005)),
        }
        code = np.where(code == "1/4.1/4.10/4.2", np.where(u() < 0.8, "1", "4.1"), code)
        lon, lat, lsoa, csp = self._place(rng, category, knife)
        x, y = self.to_bng.transform(lon, lat)
        start = self._times(rng, year, month, hour, n)
        ranged = u() < self.profile.assumption("occurred_range_probability")["value"]
        until = start + pd.to_timedelta(np.where(ranged, rng.integers(1, 13, n), 0), unit="h")
        recorded = until + pd.to_timedelta(rng.integers(0, 72 * 60, n), unit="m")
        refs = self._refs(year, n)
        s20 = self.profile.assumption("statute_8n_s20")["value"]
        statute = np.where(
            np.isin(code, ["8N", "8P", "8S"]),
            np.where(u() < s20, "s20 OAPA 1861", "s47 OAPA 1861"),
            np.where(code == "5D", "s18 OAPA 1861", ""),
        )
        flags = pd.Series([""] * n, dtype=object)
        for marker, present in markers.items():
            flags = flags + np.where(present, FLAGS[marker] + ";", "")
        crimes = pd.DataFrame(
            {
                "Crime Reference": refs,
                "HO Class": code,
                "Statute": statute,
                "Recorded Date": recorded.strftime("%d/%m/%Y %H:%M"),
                "Committed From": start.strftime("%d/%m/%Y %H:%M"),
                "Committed To": np.where(ranged, until.strftime("%d/%m/%Y %H:%M"), ""),
                "X": np.round(x).astype(int),
                "Y": np.round(y).astype(int),
                "LSOA": lsoa,
                "Location Type": pd.Series(location).map(LOCATION_CODES).to_numpy(),
                "Flags": flags.str.rstrip(";").to_numpy(),
                "Outcome": rng.choice(OUTCOMES, n),
                "Synthetic": "Y",
            }
        )
        people, victims, person_crime = self._people(
            rng, refs, code, category, violent, sexual, knife, domestic
        )
        attendances, attendance_victim = self._attendances(
            rng,
            year,
            month,
            start,
            code,
            location,
            knife,
            firearm,
            markers["corrosive"],
            victims,
            csp,
            lsoa,
        )
        return crimes, people, attendances, Links(person_crime, attendance_victim, start)

    @staticmethod
    def _draw(rng: np.random.Generator, weights: list[float], n: int) -> np.ndarray:
        p = np.asarray(weights, dtype=float)
        return rng.choice(len(p), n, p=p / p.sum())

    def _times(
        self, rng: np.random.Generator, year: int, month: int, hour: np.ndarray, n: int
    ) -> pd.DatetimeIndex:
        days = calendar.monthrange(year, month)[1]
        offset = rng.integers(0, days, n) * 1440 + hour * 60 + rng.integers(0, 60, n)
        return pd.Timestamp(year=year, month=month, day=1) + pd.to_timedelta(offset, unit="m")

    def _refs(self, year: int, n: int) -> np.ndarray:
        numbers = np.arange(self.next_ref, self.next_ref + n)
        self.next_ref += n
        return (f"WM/{year % 100:02d}/" + pd.Series(numbers).astype(str).str.zfill(8)).to_numpy()

    def _place(
        self, rng: np.random.Generator, category: np.ndarray, knife: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        n = len(category)
        lon, lat = np.zeros(n), np.zeros(n)
        lsoa, csp = np.empty(n, dtype=object), np.empty(n, dtype=object)
        shares = self.profile.target("knife_csp_shares")["value"]
        knife_csp = rng.choice(
            list(shares), n, p=np.array(list(shares.values())) / sum(shares.values())
        )
        for name in np.unique(category):
            pool: pd.DataFrame = self.places.get(name, self.all_places)
            for is_knife in (False, True):
                rows = np.flatnonzero((category == name) & (knife == is_knife))
                if not len(rows):
                    continue
                if is_knife:
                    for area in np.unique(knife_csp[rows]):
                        sub = rows[knife_csp[rows] == area]
                        local: pd.DataFrame = pool.loc[pool["csp"] == area]
                        self._fill(rng, local if len(local) else pool, sub, lon, lat, lsoa, csp)
                else:
                    self._fill(rng, pool, rows, lon, lat, lsoa, csp)
        return lon, lat, lsoa, csp

    @staticmethod
    def _fill(rng: np.random.Generator, pool: pd.DataFrame, rows: np.ndarray, *targets) -> None:
        weights = pool["n"].to_numpy()
        pick = rng.choice(len(pool), len(rows), p=weights / weights.sum())
        lon, lat, lsoa, csp = targets
        lon[rows] = pool["longitude"].to_numpy()[pick]
        lat[rows] = pool["latitude"].to_numpy()[pick]
        lsoa[rows] = pool["lsoa_code"].to_numpy()[pick]
        csp[rows] = pool["csp"].to_numpy()[pick]

    def _ages(self, rng: np.random.Generator, bands: dict[str, float], n: int) -> np.ndarray:
        names = list(bands)
        chosen = rng.choice(len(names), n, p=np.array(list(bands.values())) / sum(bands.values()))
        low = np.array([int(b.split("-")[0]) for b in names])[chosen]
        high = np.array([int(b.split("-")[1]) for b in names])[chosen]
        return rng.integers(low, high + 1)

    def _people(
        self,
        rng: np.random.Generator,
        refs: np.ndarray,
        code: np.ndarray,
        category: np.ndarray,
        violent: np.ndarray,
        sexual: np.ndarray,
        knife: np.ndarray,
        domestic: np.ndarray,
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The people in crimes, their first victims' facts per crime, and each row's crime."""
        n = len(refs)
        has_victim = ~np.isin(category, list(NO_VICTIM))
        second = has_victim & (
            rng.random(n) < self.profile.assumption("second_victim_probability")["value"]
        )
        victims = np.concatenate([np.flatnonzero(has_victim), np.flatnonzero(second)])
        v_age = self._ages(rng, self.profile.assumption("victim_age_bands")["bands"], len(victims))
        for child_code, (low, high) in CHILD_VICTIM_AGES.items():
            rows = code[victims] == child_code
            v_age[rows] = rng.integers(low, high + 1, rows.sum())
        v_female = rng.random(len(victims)) < np.where(sexual[victims], 0.88, 0.5)
        p_suspect = self.profile.assumption("suspect_probability")
        suspects = np.flatnonzero(
            rng.random(n) < np.where(violent, p_suspect["violence_and_sexual"], p_suspect["other"])
        )
        s_age = self._ages(
            rng, self.profile.assumption("suspect_age_bands")["bands"], len(suspects)
        )
        s_female = rng.random(len(suspects)) < np.where(sexual[suspects], 0.03, 0.2)
        known_p = np.where(
            knife[suspects],
            self.profile.parameter("knife_known_offender_not_domestic")["value"],
            0.5,
        )
        known = rng.random(len(suspects)) < known_p
        relationship = np.where(
            domestic[suspects],
            rng.choice(["Partner", "Ex-partner", "Family member"], len(suspects)),
            np.where(
                known,
                rng.choice(["Acquaintance", "Friend", "Neighbour", "Colleague"], len(suspects)),
                "Stranger",
            ),
        )
        pools = self.profile.assumption("repeat_pool")
        v_pool = max(10, int(self.expected_crimes * pools["victims"]))
        s_pool = max(10, int(self.expected_crimes * pools["suspects"]))
        frame = pd.DataFrame(
            {
                "Crime Reference": np.concatenate([refs[victims], refs[suspects]]),
                "Role": ["V"] * len(victims) + ["S"] * len(suspects),
                "Person ID": np.concatenate(
                    [
                        np.char.add("V", rng.integers(0, v_pool, len(victims)).astype(str)),
                        np.char.add("S", rng.integers(0, s_pool, len(suspects)).astype(str)),
                    ]
                ),
                "Age": np.concatenate([v_age, s_age]),
                "Gender": np.where(np.concatenate([v_female, s_female]), "F", "M"),
                "Ethnicity": rng.choice(
                    ETHNICITY, len(victims) + len(suspects), p=[0.86, 0.05, 0.02, 0.02, 0.01, 0.04]
                ),
                "Relationship To Victim": np.concatenate([[""] * len(victims), relationship]),
                "Synthetic": "Y",
            }
        )
        first_victim = np.full(n, -1)
        first_victim[np.flatnonzero(has_victim)] = np.arange(has_victim.sum())
        victim_facts = np.stack(
            [first_victim, np.r_[v_age, 0][first_victim], np.r_[v_female, False][first_victim]],
            axis=1,
        )
        return frame, victim_facts, np.concatenate([victims, suspects])

    def _means(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(
            ["BODY", "BLUNT", "BOTTLE", "OTHER", "UNK"], n, p=[0.62, 0.12, 0.12, 0.09, 0.05]
        )

    def _attendances(
        self,
        rng: np.random.Generator,
        year: int,
        month: int,
        start: pd.DatetimeIndex,
        code: np.ndarray,
        location: np.ndarray,
        knife: np.ndarray,
        firearm: np.ndarray,
        corrosive: np.ndarray,
        victims: np.ndarray,
        csp: np.ndarray,
        lsoa: np.ndarray,
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Attendances, and for each the person row of the victim it is (-1: unreported)."""
        attend = self.profile.assumption("ae_attendance_after_assault")["value"]
        reported = np.flatnonzero(
            np.isin(code, list(INJURY_CODES))
            & (victims[:, 0] >= 0)
            & (rng.random(len(code)) < attend)
        )
        means = self._means(rng, len(reported))
        means = np.where(
            knife[reported],
            "KNIFE",
            np.where(firearm[reported], "GUN", np.where(corrosive[reported], "ACID", means)),
        )
        unreported_share = self.profile.target("ae_unreported_share")["value"]
        m = rng.poisson(len(reported) * unreported_share / (1 - unreported_share))
        hours = self.profile.assumption("hours")["violence"]
        u_when = self._times(rng, year, month, self._draw(rng, hours, m), m)
        pool = self.places.get("Violence and sexual offences", self.all_places)
        pick = rng.choice(len(pool), m, p=pool["n"].to_numpy() / pool["n"].sum())
        u_location = rng.choice(
            ["public_place", "licensed_premises", "dwelling", "other"],
            m,
            p=[0.55, 0.15, 0.25, 0.05],
        )
        u_means = np.where(rng.random(m) < 0.06, "KNIFE", self._means(rng, m))
        u_age = self._ages(rng, self.profile.assumption("victim_age_bands")["bands"], m)
        occurred = np.concatenate([start[reported].to_numpy(), u_when.to_numpy()])
        arrived = pd.DatetimeIndex(occurred) + pd.to_timedelta(
            rng.integers(20, 240, len(reported) + m), unit="m"
        )
        kinds = np.concatenate([location[reported], u_location])
        ages = np.concatenate([victims[reported, 1], u_age])
        female = np.concatenate([victims[reported, 2].astype(bool), rng.random(m) < 0.35])
        areas = np.concatenate([csp[reported], pool["csp"].to_numpy()[pick]])
        lsoas = np.concatenate([lsoa[reported], pool["lsoa_code"].to_numpy()[pick]])
        all_means = np.concatenate([means, u_means])
        order = rng.permutation(len(ages))
        frame = (
            pd.DataFrame(
                {
                    "AttendanceID": "",
                    "SiteCode": pd.Series(areas).map(self.profile.sites).to_numpy(),
                    "ArrivalDateTime": arrived.strftime("%Y-%m-%dT%H:%M"),
                    "IncidentDateTime": pd.DatetimeIndex(occurred).strftime("%Y-%m-%dT%H:%M"),
                    "IncidentLocationType": pd.Series(kinds).map(ISTV_LOCATION).to_numpy(),
                    "IncidentLocation": pd.Series(kinds)
                    .map(
                        {
                            "public_place": "street",
                            "licensed_premises": "pub or club",
                            "dwelling": "home",
                            "other": "other",
                            "retail": "shop",
                            "transport": "station",
                            "workplace": "work",
                        }
                    )
                    .to_numpy(),
                    "PrimaryMeansOfAssault": all_means,
                    "Age": ages,
                    "Sex": np.where(female, "F", "M"),
                    "Synthetic": "Y",
                }
            )
            .iloc[order]
            .reset_index(drop=True)
        )
        numbers = np.arange(self.next_attendance, self.next_attendance + len(frame))
        self.next_attendance += len(frame)
        frame["AttendanceID"] = f"AE{year % 100:02d}{month:02d}-" + pd.Series(numbers).astype(
            str
        ).str.zfill(8)
        admitted = (
            rng.random(len(frame)) < self.profile.assumption("admission_after_attendance")["value"]
        )
        la = pd.Series(lsoas[order]).map(self.lsoa_la).fillna("unknown").to_numpy()
        ages = frame["Age"].to_numpy()[admitted].astype(int)
        bands = np.select(
            [(ages >= low) & (ages <= high) for low, high, _ in AGE_BANDS],
            [name for _, _, name in AGE_BANDS],
            "unknown",
        )
        tally = pd.DataFrame(
            {
                "la": la[admitted],
                "band": bands,
                "sex": frame["Sex"].to_numpy()[admitted],
                "cause": frame["PrimaryMeansOfAssault"].map(CAUSES).to_numpy()[admitted],
            }
        ).value_counts()
        for key, count in tally.items():
            area, band, sex, cause = (str(part) for part in key)  # type: ignore[attr-defined]
            self.admissions[(f"{year:04d}-{month:02d}", area, band, sex, cause)] += int(count)
        victim_row = np.concatenate([victims[reported, 0], np.full(m, -1)])[order]
        return frame, victim_row

    def _write_admissions(self, path: Path, written: Written) -> None:
        rows = [[*key, count, "Y"] for key, count in sorted(self.admissions.items())]
        pd.DataFrame(rows, columns=ADMISSIONS_HEADER).to_csv(path, index=False, lineterminator="\n")
        written.rows[path.name] += len(rows)

    def _write_mappings(self, folder: Path) -> None:
        """The example mappings, with the Synthetic column mapped in every part and the
        profile's force as the exporting force; with identities, people and attendances make
        their person keys from identifiers, and the youth justice and exclusions mappings
        join them."""
        folder.mkdir(exist_ok=True)
        source = example_archive().parent / "mappings"
        names = ["force-records-extract.yaml", "istv-minimum-dataset.yaml"]
        names += ["hospital-admissions.yaml"]
        if self.identities:
            names += IDENTIFIED_MAPPINGS
        for name in names:
            mapping = load_yaml(source / name)
            mapping["id"] = f"synthetic-{mapping['id']}"
            if "force" in mapping:
                mapping["force"] = self.profile.force
            for part in ("crimes", "people", "istv", "admissions", "youth_justice", "exclusions"):
                if part in mapping:
                    mapping[part]["columns"]["synthetic"] = "Synthetic"
            if self.identities:
                _identified(mapping)
            text = "# Generated by svduty synth: reads its synthetic files.\n" + yaml.safe_dump(
                mapping, sort_keys=False, allow_unicode=True
            )
            (folder / name).write_text(text, encoding="utf-8")


def _identified(mapping: dict) -> None:
    """People and attendances declare the identifier columns the generator writes (the police
    write dates of birth day first, the hospital ISO) instead of a person key column."""
    if "people" in mapping:
        del mapping["people"]["columns"]["person_key"]
        mapping["people"]["identifiers"] = {
            "forename": "Forename",
            "surname": "Surname",
            "date_of_birth": {"column": "Date of Birth", "format": "%d/%m/%Y"},
            "postcode": "Postcode",
        }
        mapping["people"]["person_key_from"] = KEY_FROM
    if "istv" in mapping:
        mapping["istv"].pop("xml", None)
        mapping["istv"]["identifiers"] = {
            "forename": "Forename",
            "surname": "Surname",
            "date_of_birth": {"column": "DOB", "format": "%Y-%m-%d"},
            "postcode": "Postcode",
        }
        mapping["istv"]["person_key_from"] = KEY_FROM


def generate(
    profile: Profile,
    out: Path,
    scale: float = 1.0,
    years: int = 1,
    seed: int = 1,
    corrupt: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    start: str | None = None,
    identities: bool = False,
) -> Written:
    """Synthetic files for `years` years from `start` (YYYY-MM; default the profile's), with
    synthetic identities when asked (`svduty.synth.cohort`)."""
    return Generator(profile, scale, years, seed, corrupt, start, identities).run(out, progress)
