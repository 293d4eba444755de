"""Identities across partner sources: A&E attendances, youth justice contacts and school
exclusions carry identifiers through their mappings, make the same person key for the same
person, and leave the identifiers in the restricted store only.

Every person here is made up (names no register holds, postcodes in an area that does not
exist); no real personal data."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from partner_files import ISTV_MAPPING, MAPPINGS

from svduty import identifiers
from svduty.errors import InputError
from svduty.identity.keys import create_key_file
from svduty.ingest import ingest
from svduty.mapping import load_mapping
from svduty.schema import REFERENCE_TABLES
from svduty.settings import Settings
from svduty.synth import identities as ids
from svduty.synth.check import synthetic_files
from svduty.synth.cohort import recurrence
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.workspace import DATABASE_FILE, Workspace

YOUTH_MAPPING = MAPPINGS / "youth-justice.yaml"
EXCLUSIONS_MAPPING = MAPPINGS / "school-exclusions.yaml"

CHILDREN = [
    # forename, surname, date of birth, postcode
    ("Quillon", "Vardemoor", date(2009, 4, 17), "QX3 3QQ"),
    ("Elspara", "Thrindlewick", date(2010, 12, 1), "QX4 4QQ"),
]

YOUTH_HEADER = [
    "Contact ID", "Start Date", "Intervention Type", "HO Class", "Offence Description",
    "Age at Start", "Gender", "LA Code", "Forename", "Surname", "DOB", "Postcode",
]  # fmt: skip
EXCLUSIONS_HEADER = [
    "Exclusion ID", "Start Date", "Category", "Reason", "School URN", "Age", "Sex", "LA Code",
    "Forename", "Surname", "Date of Birth", "UPN", "Postcode",
]  # fmt: skip
ISTV_HEADER = [
    "AttendanceID", "SiteCode", "ArrivalDateTime", "IncidentDateTime", "IncidentLocationType",
    "IncidentLocation", "PrimaryMeansOfAssault", "Age", "Sex", "Forename", "Surname", "DOB",
]  # fmt: skip


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _istv_with_identifiers(target: Path) -> Path:
    """The bundled ISTV mapping, its attendances now naming the patient."""
    raw = yaml.safe_load(ISTV_MAPPING.read_text(encoding="utf-8"))
    del raw["istv"]["xml"]
    raw["istv"]["identifiers"] = {
        "forename": "Forename",
        "surname": "Surname",
        "date_of_birth": {"column": "DOB", "format": "%Y-%m-%d"},
    }
    raw["istv"]["person_key_from"] = ["forename", "surname", "date_of_birth"]
    target.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def three_sources(tmp_path_factory) -> Path:
    """A workspace holding one youth justice extract, one exclusions extract and one ISTV
    extract, each naming the two children."""
    folder = tmp_path_factory.mktemp("sources")
    (a, b) = CHILDREN
    youth = _write(
        folder / "youth.csv",
        YOUTH_HEADER,
        [
            ["YJ1", "03/02/2025", "YRO", "8N", "Wounding", "15", "M", "E06000051", a[0], a[1],
             a[2].strftime("%d/%m/%Y"), a[3]],
            ["YJ2", "28/02/2025", "PREV", "", "", "14", "F", "E06000051", b[0], b[1],
             b[2].strftime("%d/%m/%Y"), b[3]],
        ],
    )  # fmt: skip
    exclusions = _write(
        folder / "exclusions.csv",
        EXCLUSIONS_HEADER,
        [
            ["EX1", "10/01/2025", "FIXD", "OW", "123456", "15", "M", "E06000051",
             a[0].upper(), a[1].upper(), a[2].strftime("%d/%m/%Y"), "Q801200000001", a[3]],
            ["EX2", "11/03/2025", "PERM", "PA", "123456", "14", "F", "E06000051", b[0], b[1],
             b[2].strftime("%d/%m/%Y"), "", b[3]],
        ],
    )  # fmt: skip
    attendances = _write(
        folder / "istv.csv",
        ISTV_HEADER,
        [
            ["AE1", "RXY", "2025-03-05T23:10", "2025-03-05T22:40", "01", "High St", "KNIFE",
             "15", "M", a[0], a[1], a[2].isoformat()],
        ],
    )  # fmt: skip
    root = folder / "ws"
    ws = Workspace.init(root, Settings(area="Test", forces=("West Mercia",)))
    try:
        mappings = [YOUTH_MAPPING, EXCLUSIONS_MAPPING, _istv_with_identifiers(folder / "i.yaml")]
        reports = ingest(ws, [youth, exclusions, attendances], mappings=mappings)
        assert [(r.source_kind, r.rows_accepted, r.rows_rejected) for r in reports] == [
            ("youth_justice", 2, 0),
            ("exclusions", 2, 0),
            ("istv", 1, 0),
        ]
    finally:
        ws.close()
    return root


def test_the_example_mappings_load_with_identifiers():
    for path in (YOUTH_MAPPING, EXCLUSIONS_MAPPING):
        [part] = load_mapping(path).parts
        assert part.key_from == ("forename", "surname", "date_of_birth")


def test_youth_justice_and_exclusions_land_with_their_month_and_codes(three_sources):
    con = duckdb.connect(str(three_sources / DATABASE_FILE), read_only=True)
    try:
        youth = con.execute(
            "SELECT contact_ref, started_on, month, contact_type, offence_code, age, sex, "
            "la_code, synthetic FROM youth_justice ORDER BY contact_ref"
        ).fetchall()
        excluded = con.execute(
            "SELECT exclusion_ref, started_on, month, exclusion_type, reason, school "
            "FROM exclusions ORDER BY exclusion_ref"
        ).fetchall()
    finally:
        con.close()
    assert youth == [
        ("YJ1", date(2025, 2, 3), date(2025, 2, 1), "youth_rehabilitation_order", "8N", 15,
         "male", "E06000051", False),
        ("YJ2", date(2025, 2, 28), date(2025, 2, 1), "prevention", None, 14, "female",
         "E06000051", False),
    ]  # fmt: skip
    assert excluded == [
        ("EX1", date(2025, 1, 10), date(2025, 1, 1), "suspension", "use_or_threat_of_weapon",
         "123456"),
        ("EX2", date(2025, 3, 11), date(2025, 3, 1), "permanent",
         "physical_assault_against_adult", "123456"),
    ]  # fmt: skip


def test_one_child_has_one_key_across_three_agencies(three_sources):
    con = duckdb.connect(str(three_sources / DATABASE_FILE), read_only=True)
    try:
        keys = con.execute(
            "SELECT 'youth', contact_ref, person_key FROM youth_justice UNION ALL "
            "SELECT 'school', exclusion_ref, person_key FROM exclusions UNION ALL "
            "SELECT 'ae', attendance_ref, person_key FROM ae_attendances"
        ).fetchall()
    finally:
        con.close()
    by_ref = {ref: key for _, ref, key in keys}
    assert all(len(key) == 64 for key in by_ref.values())
    assert by_ref["YJ1"] == by_ref["EX1"] == by_ref["AE1"]  # names upper-cased by the school
    assert by_ref["YJ2"] == by_ref["EX2"] != by_ref["YJ1"]


def test_identifiers_go_to_the_restricted_store_only(three_sources):
    con = duckdb.connect(str(three_sources / identifiers.IDENTIFIERS_FILE), read_only=True)
    try:
        stored = con.execute("SELECT forename, surname, upn FROM identifiers").fetchall()
    finally:
        con.close()
    assert len(stored) == 5
    assert ("Quillon", "Vardemoor", None) in stored
    assert (CHILDREN[0][0].upper(), CHILDREN[0][1].upper(), "Q801200000001") in stored
    values = [v for child in CHILDREN for v in (child[0], child[1], child[3])]
    assert _found_in_analytic_tables(three_sources, [*values, "Q801200000001"]) == []


def _found_in_analytic_tables(root: Path, values: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, value) of the main database whose text holds one of `values`,
    ignoring case: every text column of every table ingest writes (the reference tables, of
    bundled place names, are not scanned)."""
    con = duckdb.connect(str(root / DATABASE_FILE), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE _sought (value VARCHAR)")
        con.executemany("INSERT INTO _sought VALUES (?)", [[v.upper()] for v in values])
        columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE data_type = 'VARCHAR' "
            "AND NOT internal AND database_name = current_database() AND table_name NOT IN "
            f"({', '.join(repr(t) for t in REFERENCE_TABLES)})"
        ).fetchall()
        return [
            (table, column, value)
            for table, column in columns
            for (value,) in con.execute(
                f'SELECT DISTINCT s.value FROM "{table}" t JOIN _sought s '
                f'ON contains(upper(t."{column}"), s.value)'
            ).fetchall()
        ]
    finally:
        con.close()


def test_an_identifier_part_in_xml_is_refused(tmp_path):
    raw = yaml.safe_load(_istv_with_identifiers(tmp_path / "a.yaml").read_text())
    raw["istv"]["xml"] = {"record": "Attendance"}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(InputError, match="export the istv part as CSV"):
        load_mapping(tmp_path / "b.yaml")


# -- synthetic identities ------------------------------------------------------------------------


def _people(n: int, seed: int) -> ids.Population:
    rng = np.random.default_rng(seed)
    born = ids.births(rng, n, date(1950, 1, 1), date(2015, 12, 31))
    areas = np.array(sorted(ids.names().districts), dtype=object)
    return ids.population(rng, born, rng.random(n) < 0.5, areas[rng.integers(0, len(areas), n)])


@pytest.fixture(scope="module")
def occurrences() -> tuple[ids.Population, np.ndarray, pd.DataFrame, pd.DataFrame]:
    people = _people(50_000, 3)
    who = np.random.default_rng(4).integers(0, len(people), 200_000)
    records, errors = ids.recorded(np.random.default_rng(5), people, who)
    return people, who, records, errors


def test_each_error_comes_out_at_its_stated_rate(occurrences):
    """Among the occurrences an error can happen to, its share is its rate within four standard
    errors of a binomial share (a false alarm about once in 16,000 runs per error)."""
    people, who, _, errors = occurrences
    can = ids.eligible(people, who, np.full(len(who), np.datetime64("2025-01-01", "D")))
    can["dob_swapped"] = can["dob_swapped"] & ~errors["dob_missing"].to_numpy()
    can["postcode_old"] = ~errors["postcode_missing"].to_numpy()
    for error, rate in ids.RATES.items():
        among = can.get(error, np.ones(len(who), dtype=bool))
        n = int(among.sum())
        seen = errors[error].to_numpy()[among].mean()
        assert abs(seen - rate) <= 4 * np.sqrt(rate * (1 - rate) / n), (error, seen, rate, n)
        assert not errors[error].to_numpy()[~among].any(), error


def test_each_error_shows_in_the_record_and_a_clean_record_is_the_truth(occurrences):
    people, who, records, errors = occurrences
    truth = people.frame().iloc[who].reset_index(drop=True)
    flags = {name: errors[name].to_numpy() for name in errors}
    clean = ~errors.any(axis=1).to_numpy()
    assert clean.mean() > 0.5
    assert records[clean].equals(truth.drop(columns="person_id")[clean])
    assert records["date_of_birth"][flags["dob_missing"]].isna().all()
    swapped = truth["date_of_birth"][flags["dob_swapped"]].str.replace(
        r"(\d{4})-(\d\d)-(\d\d)", r"\1-\3-\2", regex=True
    )
    assert (records["date_of_birth"][flags["dob_swapped"]] == swapped).all()
    assert (records["date_of_birth"][flags["dob_swapped"]] != truth["date_of_birth"][
        flags["dob_swapped"]
    ]).all()  # fmt: skip
    assert records["postcode"][flags["postcode_missing"]].isna().all()
    old = flags["postcode_old"]
    assert (records["postcode"][old].to_numpy() == people.previous_postcode[who][old]).all()
    changed = flags["surname_changed"] & ~flags["surname_typo"]
    assert (records["surname"][changed].to_numpy() == people.changed_surname[who][changed]).all()
    nick = flags["nickname"] & ~flags["forename_typo"]
    pairs = {(r["forename"], r["nickname"]) for r in ids._rows("nicknames.csv")}
    assert all(
        (t, r) in pairs
        for t, r in zip(truth["forename"][nick], records["forename"][nick], strict=True)
    )
    typo = flags["forename_typo"] & ~flags["nickname"]
    slipped = zip(truth["forename"][typo], records["forename"][typo], strict=True)
    assert all(t != r and _one_slip(t, r) for t, r in slipped)
    assert (records["sex"] == truth["sex"]).all()


def _one_slip(a: str, b: str) -> bool:
    """b is a with one letter replaced, dropped, doubled, or two neighbours swapped (ignoring
    case, as a slip at the first letter may change it)."""
    a, b = a.lower(), b.lower()
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        )
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return len(longer) == len(shorter) + 1 and any(
        longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer))
    )


def test_names_fall_off_as_in_england_and_wales(occurrences):
    """The most common surname is held by about one person in a hundred and the hundred most
    common lists by about a quarter (COMMON_SURNAME_SHARE); no forename by more than 3%."""
    people = occurrences[0]
    surnames = pd.Series(people.surname).value_counts(normalize=True)
    assert 0.005 < surnames.iloc[0] < 0.02
    common = [r["surname"] for r in ids._rows("surnames.csv")]
    share = pd.Series(people.surname).isin(common).mean()
    assert abs(share - ids.COMMON_SURNAME_SHARE) < 0.02
    assert pd.Series(people.forename).value_counts(normalize=True).iloc[0] < 0.03


def test_identity_pairs_hold_the_overlap_and_their_truth(occurrences):
    left, right, truth = ids.identity_pairs(3_000, 2_000, 0.4, seed=9)
    assert list(left.columns) == ["record_id", *ids.RECORD_COLUMNS] == list(right.columns)
    assert (left["record_id"] == np.arange(3_000)).all()
    assert (right["record_id"] == np.arange(2_000)).all()
    assert len(truth) == 800 and truth["left_id"].is_unique and truth["right_id"].is_unique
    a = left.iloc[truth["left_id"]].reset_index(drop=True)
    b = right.iloc[truth["right_id"]].reset_index(drop=True)
    assert (a["sex"] == b["sex"]).all()
    # a true pair's dates of birth differ only when one side has one missing or swapped
    both_given = a["date_of_birth"].notna() & b["date_of_birth"].notna()
    same = (a["date_of_birth"] == b["date_of_birth"])[both_given].mean()
    assert same > 1 - 2 * ids.DOB_SWAP_RATE - 0.02
    # a random pair almost never shares name and date of birth
    shuffled = b.sample(frac=1, random_state=1).reset_index(drop=True)
    key = ["forename", "surname", "date_of_birth"]
    assert (a[key] == shuffled[key]).all(axis=1).mean() < 0.01
    assert (a[key] == b[key]).all(axis=1).mean() > 0.6
    again = ids.identity_pairs(3_000, 2_000, 0.4, seed=9)
    assert again[0].equals(left) and again[2].equals(truth)


def test_a_pool_draws_people_of_the_records_sex_and_age_by_propensity():
    people = _people(20_000, 6)
    pool = ids.Pool(people)
    rng = np.random.default_rng(7)
    n = 100_000
    female = rng.random(n) < 0.5
    low = ids.births(rng, n, date(1960, 1, 1), date(2010, 1, 1))
    high = low + np.timedelta64(364, "D")
    chosen = pool.draw(rng, female, low, high)
    assert (chosen >= 0).all()
    assert (people.female[chosen] == female).all()
    assert ((people.born[chosen] >= low) & (people.born[chosen] <= high)).all()
    # each person's share of draws follows propensity: the top tenth by propensity, about
    # their share of propensity among the people who could be drawn
    counts = np.bincount(chosen, minlength=len(people))
    top = people.propensity >= np.quantile(people.propensity, 0.9)
    share = counts[top].sum() / n
    expected = people.propensity[top].sum() / people.propensity.sum()
    assert abs(share - expected) < 0.05
    nobody = pool.draw(rng, female[:3], low[:3] - 100_000, high[:3] - 100_000)
    assert (nobody == -1).all()


# -- identities in `svduty synth` ----------------------------------------------------------------

BEFORE_IDENTITIES = "12249fb"
"""The last commit whose generator had no identities: without --identities, the generator must
write what it wrote (a deliberate change to the generator's output moves this pin)."""
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("syn") / "syn"
    generate(load_profile("west-mercia"), out, scale=0.05, seed=3, corrupt=0.005, identities=True)
    return out


@pytest.fixture(scope="module")
def truth(synthetic) -> pd.DataFrame:
    return pd.read_csv(synthetic / "truth" / "identities.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def linked(synthetic, tmp_path_factory) -> Path:
    """The generated set ingested by a workspace holding a partnership key."""
    key = tmp_path_factory.mktemp("secure") / "partnership.key"
    create_key_file(key)
    root = tmp_path_factory.mktemp("linked") / "ws"
    settings = Settings(area="West Mercia", forces=("West Mercia",), partnership_key=f"file:{key}")
    ws = Workspace.init(root, settings)
    try:
        files, mappings = synthetic_files(synthetic)
        reports = ingest(ws, files, mappings=mappings)
    finally:
        ws.close()
    kinds = {r.source_kind for r in reports}
    assert {"police_extract_people", "istv", "youth_justice", "exclusions"} <= kinds
    assert all(r.rows_accepted for r in reports)
    return root


def _lines(synthetic: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(synthetic / name, dtype=str, keep_default_na=False)
    frame.insert(0, "line", np.arange(2, len(frame) + 2))
    return frame


def test_the_truth_names_every_line_of_every_identified_file(synthetic, truth):
    people = pd.read_csv(synthetic / "truth" / "people.csv", dtype=str)
    for name in ("people.csv", "istv.csv", "youth-justice.csv", "exclusions.csv"):
        lines = truth.loc[truth["file"] == name, "line"].astype(int)
        assert list(lines) == list(range(2, len(_lines(synthetic, name)) + 2)), name
    assert set(truth["person_id"]) == set(people["person_id"])
    counts = truth["person_id"].value_counts()
    stated = people.set_index("person_id")["records"].astype(int)
    assert stated.sort_index().equals(counts.sort_index().rename("records"))
    assert (truth["synthetic"] == "Y").all() and (people["synthetic"] == "Y").all()
    assert set(";".join(truth["errors"]).split(";")) - {""} <= set(ids.RATES)


def _true_rows(synthetic: Path, truth: pd.DataFrame, name: str) -> pd.DataFrame:
    """A file's lines with their person's true identity, and the errors recorded."""
    people = pd.read_csv(synthetic / "truth" / "people.csv", dtype=str, keep_default_na=False)
    about = truth[truth["file"] == name].assign(line=lambda t: t["line"].astype(int))
    merged = (
        _lines(synthetic, name)
        .merge(about, on="line")
        .merge(people, on="person_id", suffixes=("", "_true"))
    )
    return merged


@pytest.mark.parametrize(
    ("name", "dob", "day_first", "age"),
    [
        ("people.csv", "Date of Birth", True, "Age"),
        ("istv.csv", "DOB", False, "Age"),
        ("youth-justice.csv", "DOB", True, "Age at Start"),
        ("exclusions.csv", "Date of Birth", True, "Age"),
    ],
)
def test_a_line_without_errors_holds_its_persons_identity_and_age(
    synthetic, truth, name, dob, day_first, age
):
    rows = _true_rows(synthetic, truth, name)
    corrupted = pd.read_csv(synthetic / "truth" / "corruptions.csv")
    broken = corrupted.loc[corrupted["file"] == name, "line"]
    clean = rows[(rows["errors"] == "") & ~rows["line"].isin(broken)]
    assert len(clean) > 0.5 * len(rows)
    assert (clean["Forename"] == clean["forename"]).all()
    assert (clean["Surname"] == clean["surname"]).all()
    assert (clean["Postcode"] == clean["postcode"]).all()
    born = pd.to_datetime(clean[dob], format="%d/%m/%Y" if day_first else "%Y-%m-%d")
    assert (born == pd.to_datetime(clean["date_of_birth"])).all()
    sex = clean["Sex"] if "Sex" in clean else clean["Gender"]
    assert (sex == clean["sex"]).all()
    if name == "people.csv":  # the crime's date
        crimes = pd.read_csv(synthetic / "crimes.csv", dtype=str).set_index("Crime Reference")
        text, fmt = clean["Crime Reference"].map(crimes["Committed From"]), "%d/%m/%Y %H:%M"
    elif name == "istv.csv":
        text, fmt = clean["IncidentDateTime"], "%Y-%m-%dT%H:%M"
    else:
        text, fmt = clean["Start Date"], "%d/%m/%Y"
    when = pd.to_datetime(text, format=fmt)
    years = (
        when.dt.year
        - born.dt.year
        - ((when.dt.month * 100 + when.dt.day) < (born.dt.month * 100 + born.dt.day))
    )
    assert (years == pd.to_numeric(clean[age])).all()
    if name == "youth-justice.csv":
        assert pd.to_numeric(rows[age]).between(10, 17).all()
    if name == "exclusions.csv":
        assert pd.to_numeric(rows[age]).between(5, 15).all()


def test_error_rates_in_the_generated_files_are_near_the_stated_rates(truth):
    """Errors that can happen to any record (typos, missing values) come out at their rates
    within four binomial standard errors over all identified lines."""
    n = len(truth)
    for error in ("forename_typo", "surname_typo", "dob_missing", "postcode_missing"):
        rate = ids.RATES[error]
        seen = truth["errors"].str.split(";").map(lambda e, k=error: k in e).mean()
        assert abs(seen - rate) <= 4 * np.sqrt(rate * (1 - rate) / n), (error, seen)


def test_people_recur_across_agencies_and_a_few_account_for_many_records(synthetic, truth):
    files = truth.groupby("person_id")["file"].agg(set)
    everywhere = files.map(lambda f: {"people.csv", "istv.csv", "youth-justice.csv"} <= f)
    assert everywhere.sum() >= 1
    both = files.map(lambda f: {"people.csv", "exclusions.csv"} <= f)
    assert both.sum() >= 10
    stated = json.loads((synthetic / "synth.json").read_text())["identities"]
    counts = truth["person_id"].value_counts().to_numpy()
    assert stated == recurrence(counts)
    assert stated["share_recorded_once"] < 0.8
    assert stated["records_of_top_5_percent"] > 0.2  # a few people, many records


def test_one_person_has_one_key_across_police_ae_and_youth_justice(linked, synthetic, truth):
    """Lines without errors of one person make one key in every agency's table; the keys
    of different people differ."""
    con = duckdb.connect(str(linked / DATABASE_FILE), read_only=True)
    try:
        keys = con.execute(
            "SELECT regexp_extract(b.file_name, '[^/]+$') AS file, t.source_line, t.person_key "
            "FROM (SELECT batch_id, source_line, person_key FROM involvements UNION ALL "
            "SELECT batch_id, source_line, person_key FROM ae_attendances UNION ALL "
            "SELECT batch_id, source_line, person_key FROM youth_justice UNION ALL "
            "SELECT batch_id, source_line, person_key FROM exclusions) t "
            "JOIN batches b USING (batch_id)"
        ).df()
    finally:
        con.close()
    clean = truth[truth["errors"] == ""].assign(line=lambda t: t["line"].astype(int))
    merged = clean.merge(keys, left_on=["file", "line"], right_on=["file", "source_line"])
    assert len(merged) > 0.9 * len(clean)  # all but corrupted, rejected lines
    per_person = merged.groupby("person_id")["person_key"].nunique()
    assert (per_person == 1).all()
    per_key = merged.groupby("person_key")["person_id"].nunique()
    assert (per_key == 1).mean() > 0.99  # namesakes born the same day are rare
    across = merged.groupby("person_id")["file"].nunique()
    assert (across >= 3).sum() >= 1


def test_identifiers_reach_the_restricted_store_and_no_analytic_table(linked, synthetic):
    con = duckdb.connect(str(linked / identifiers.IDENTIFIERS_FILE), read_only=True)
    try:
        stored = con.execute("SELECT count(*), count(forename), count(upn) FROM identifiers")
        total, named, upns = stored.fetchone()
    finally:
        con.close()
    rows = json.loads((synthetic / "synth.json").read_text())["rows"]
    identified = sum(rows[n] for n in ("people.csv", "istv.csv", "youth-justice.csv"))
    assert (
        identified + rows["exclusions.csv"] >= total > 0.98 * (identified + rows["exclusions.csv"])
    )
    assert named > 0.9 * total and upns > 0.9 * rows["exclusions.csv"]
    people = pd.read_csv(synthetic / "truth" / "people.csv", dtype=str)
    common = set(pd.read_csv(ids._profiles() / "surnames.csv")["surname"])
    built = sorted(set(people["surname"]) - common)  # made-up surnames, found nowhere else
    postcodes = sorted(set(people["postcode"].dropna()))
    assert _found_in_analytic_tables(linked, [*built, *postcodes]) == []
    assert ("exclusions", "school", "SYN0") in _found_in_analytic_tables(linked, ["SYN0"])


def test_without_identities_the_output_is_what_it_was(tmp_path):
    """Byte for byte what the generator wrote before identities existed (synth.json but for
    where the profile was read from, and the list of broken rows now in truth/), and with
    identities every other value unchanged."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", BEFORE_IDENTITIES, "src"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout  # fmt: skip
    (tmp_path / "old").mkdir()
    subprocess.run(["tar", "-x", "-C", str(tmp_path / "old")], input=archive, check=True)
    script = (
        "from pathlib import Path; from svduty.synth.generate import generate; "
        "from svduty.synth.profile import load_profile; "
        f"generate(load_profile('west-mercia'), Path({str(tmp_path / 'before')!r}), "
        "scale=0.02, seed=5, corrupt=0.01)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "old" / "src")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    profile = load_profile("west-mercia")
    generate(profile, tmp_path / "now", scale=0.02, seed=5, corrupt=0.01)
    generate(profile, tmp_path / "ids", scale=0.02, seed=5, corrupt=0.01, identities=True)
    before = _digests(tmp_path / "before")
    before["truth/corruptions.csv"] = before.pop("corruptions.csv")
    assert before == _digests(tmp_path / "now")
    assert len(before) == 10  # four data files, three mappings, manifest, note, corruptions
    for name in ("crimes.csv", "admissions.csv", "truth/corruptions.csv"):
        assert _digest(tmp_path / "ids" / name) == before[name], name
    for name, dropped in (("people.csv", ["Person ID"]), ("istv.csv", [])):
        old = pd.read_csv(tmp_path / "now" / name, dtype=str).drop(columns=dropped)
        new = pd.read_csv(tmp_path / "ids" / name, dtype=str)[list(old.columns)]
        assert new.equals(old), name
    # written again without identities, the folder holds nothing the identities left
    generate(profile, tmp_path / "ids", scale=0.02, seed=5, corrupt=0.01)
    assert _digests(tmp_path / "ids") == before


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digests(folder: Path) -> dict[str, str]:
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name == "synth.json":
            manifest = json.loads(path.read_text())
            manifest.pop("profile_path")
            found[path.name] = json.dumps(manifest, sort_keys=True)
        else:
            found[str(path.relative_to(folder))] = _digest(path)
    return found
