"""Bloom-filter encodings: what the filters are made of, how they compare, that a pseudonymised
extract keeps no identifier, and linkage on them against linkage on the clear values (FEBRL4).

Every person here is made up in this file; FEBRL4's records are synthetic. Sections: the
encoding -> comparisons -> `svduty pseudonymise --encoding bloom` -> FEBRL4."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from test_identity import MAPPING_A

from svduty.errors import InputError
from svduty.identity.keys import create_key_file, parse_key
from svduty.ingest import ingest
from svduty.linkage.bloom import (
    BLOCK_LABEL,
    BLOOM_LABEL,
    DEFAULT,
    SUFFIX,
    block_hmac,
    default_blocks,
    dice,
    encode,
    qgrams,
    soundex,
)
from svduty.linkage.dice import bloom_input_sql, bloom_settings
from svduty.linkage.evaluate import febrl4_scores
from svduty.settings import Settings
from svduty.workspace import Workspace

KEY_A = hashlib.sha256(b"made-up partnership A").digest()
KEY_B = hashlib.sha256(b"made-up partnership B").digest()
NAMES = [
    "QUENBYRA", "BRANNOCH", "VELLACOURT", "THISTLEWAITE", "ORMSKIRKE", "DALWENNA", "FARRINGAY",
    "JESSAMIND", "KORVENDALE", "MAUDLEIGH", "PERRANWYN", "ROSSETHA", "SELBORNA", "TAMSWORTH",
]  # fmt: skip
"""Made-up names, all different."""


def _filters(names: list[str], secret: bytes, field: str = "surname") -> list[bytes]:
    """Each name's filter as bytes, made by `encode` over a table of the names."""
    con = duckdb.connect()
    con.execute("CREATE TABLE people (id INTEGER, name VARCHAR)")
    con.executemany("INSERT INTO people VALUES (?, ?)", list(enumerate(names)))
    encode(con, "people", ["id"], {field: "s.name"}, secret, "encoded", blocks=())
    rows = con.execute(f"SELECT {field}{SUFFIX}::BLOB FROM encoded ORDER BY id").fetchall()
    return [bytes(r[0]) for r in rows]


def _bigram_dice(a: str, b: str) -> float:
    x, y = set(qgrams(a)), set(qgrams(b))
    return 2 * len(x & y) / (len(x) + len(y))


# -- the encoding ------------------------------------------------------------------------------


def test_a_filter_sets_the_bits_the_documented_hmac_gives():
    """Bits from HMAC-SHA-256(HMAC-SHA-256(key, label), field 0x1F bigram 0x1F 0): 16-bit
    slices modulo the length, first `hashes` of them, for each padded bigram."""
    (made,) = _filters(["QUENBYRA"], KEY_A)
    bloom_key = hmac.new(KEY_A, BLOOM_LABEL, hashlib.sha256).digest()
    expected = set()
    for gram in ["_Q", "QU", "UE", "EN", "NB", "BY", "YR", "RA", "A_"]:
        digest = hmac.new(bloom_key, f"surname\x1f{gram}\x1f0".encode(), hashlib.sha256).digest()
        slices = [int.from_bytes(digest[i : i + 2], "big") for i in range(0, 32, 2)]
        expected |= {s % DEFAULT.bits for s in slices[: DEFAULT.hashes]}
    bits = "".join(f"{byte:08b}" for byte in made)
    assert len(bits) == DEFAULT.bits
    assert {i for i, bit in enumerate(bits) if bit == "1"} == expected


def test_the_same_name_is_encoded_alike_under_one_key_and_unrelated_under_another():
    first, again, other = _filters(NAMES, KEY_A), _filters(NAMES, KEY_A), _filters(NAMES, KEY_B)
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
    # Across keys a name's two filters agree only by chance: for filters with n1 and n2 bits set
    # of m, the expected common bits are n1 * n2 / m.
    chance, seen = [], []
    for a, b in zip(first, other, strict=True):
        n1, n2 = (sum(bin(x).count("1") for x in f) for f in (a, b))
        chance.append(2 * (n1 * n2 / DEFAULT.bits) / (n1 + n2))
        seen.append(dice(a, b))
    assert abs(sum(seen) / len(seen) - sum(chance) / len(chance)) < 0.03
    assert max(seen) < 0.3


def test_a_field_name_changes_the_filter():
    assert _filters(["BRANNOCH"], KEY_A, "surname") != _filters(["BRANNOCH"], KEY_A, "forename")


def test_near_spellings_score_higher_than_other_names_and_follow_their_bigrams():
    pairs = [
        ("VELLACOURT", "VELACOURT"),
        ("THISTLEWAITE", "THISTLEWHAITE"),
        ("DALWENNA", "DALWENA"),
    ]
    names = sorted({n for pair in pairs for n in pair} | set(NAMES))
    filters = dict(zip(names, _filters(names, KEY_A), strict=True))
    for a, b in pairs:
        near = dice(filters[a], filters[b])
        # collisions only add common bits, and rarely: the filter's Dice follows the bigrams'
        assert _bigram_dice(a, b) - 0.02 <= near <= _bigram_dice(a, b) + 0.08
        others = [dice(filters[a], filters[n]) for n in NAMES if n not in (a, b)]
        assert near > max(others) + 0.2


def test_blocking_keys_are_encoded_coarse_values():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE people AS SELECT * FROM (VALUES (1, 'VELLACOURT', '1988-07-14', 'F'), "
        "(2, 'VELACOURT', '1988-02-01', 'F'), (3, 'VELLACOURT', '1988-07-14', 'M'), "
        "(4, NULL, NULL, 'F')) "
        "t(id, surname, date_of_birth, sex)"
    )
    fields = {"surname": "s.surname", "date_of_birth": "s.date_of_birth", "sex": "s.sex"}
    blocks = encode(con, "people", ["id"], fields, KEY_A, "encoded")
    assert blocks == default_blocks(fields)
    rows = con.execute("SELECT block_birth_sex, block_surname FROM encoded ORDER BY id").fetchall()
    key = hmac.new(KEY_A, BLOCK_LABEL, hashlib.sha256).digest()
    assert rows[0] == (block_hmac(key, "block_birth_sex", "1988\x1fF"), rows[1][1])
    assert rows[1][0] == rows[0][0] and rows[2][0] != rows[0][0]  # year and sex
    assert rows[0][1] == block_hmac(key, "block_surname", soundex("VELACOURT"))
    assert rows[3] == (None, None)  # a missing value blocks with nothing
    assert con.execute("SELECT surname_bloom FROM encoded WHERE id = 4").fetchall() == [(None,)]


@pytest.mark.parametrize(
    ("name", "code"),
    [("ROBERT", "R163"), ("RUPERT", "R163"), ("ASHCRAFT", "A261"), ("TYMCZAK", "T522"),
     ("PFISTER", "P236"), ("LEE", "L000")],
)  # fmt: skip
def test_soundex_gives_the_published_codes(name, code):
    """The examples of the US National Archives' Soundex rules."""
    assert soundex(name) == code


# -- comparisons -------------------------------------------------------------------------------


def test_bloom_mode_is_refused_on_spark_saying_why():
    with pytest.raises(InputError, match=r"DuckDB engine only.*Spark has no bit-string type"):
        bloom_settings(["surname"], ["block_surname"], engine="spark")


# -- svduty pseudonymise --encoding bloom ------------------------------------------------------

PEOPLE = [
    ("Quenbyra", "Thistlewaite-Vorn", "30/11/2001", "QX1 1QQ"),
    ("Brannoch", "Vellacourt", "14/07/1988", "QX2 2QQ"),
    ("Brannoch", "Velacourt", "14/07/1988", "QX2 2QQ"),  # a typo of the one above
]
"""Made-up people; postcodes in an area that does not exist (QX)."""


def test_a_bloom_extract_has_filters_and_no_identifier(tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING_A, encoding="utf-8")
    source = tmp_path / "people.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Crime Reference", "Role", "Forename", "Surname", "Date of Birth",
                         "Postcode", "Age"])  # fmt: skip
        writer.writerows([f"A{i}", "V", *person, "30"] for i, person in enumerate(PEOPLE))
    key_file = tmp_path / "secure" / "partnership.key"
    key_file.parent.mkdir()
    create_key_file(key_file)
    done = subprocess.run(
        [sys.executable, "-m", "svduty.cli", "pseudonymise", str(source), "--mapping",
         str(mapping), "--key", str(key_file), "--out", str(tmp_path / "out.csv"),
         "--encoding", "bloom"],
        capture_output=True, text=True, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    needles = {part for person in PEOPLE for part in person}
    needles |= {n.upper().replace("-", "").replace(" ", "") for n in needles}
    needles |= {"2001-11-30", "1988-07-14", "20011130", "19880714"}
    assert not [n for n in needles if n.lower() in text.lower()]
    lines = text.splitlines()
    assert lines[0].startswith("# person keys made by svduty pseudonymise")
    assert lines[1].startswith("# Bloom filters (base64)") and DEFAULT.words in lines[1]
    fields = ["forename", "surname", "date_of_birth", "postcode"]
    assert lines[2].split(",") == [
        "Crime Reference", "Role", "Age", "Person Key", *(f + SUFFIX for f in fields),
        "block_birth_year", "block_birth_month", "block_surname", "block_forename",
    ]  # fmt: skip
    rows = list(csv.DictReader(lines[2:]))
    assert len(rows) == len(PEOPLE)
    # the filters are those `encode` makes from the clear values under the same key
    secret = parse_key(key_file.read_text(), "key")
    expected = _filters([p[1].replace("-", "").upper() for p in PEOPLE], secret)
    got = [base64.b64decode(r["surname" + SUFFIX]) for r in rows]
    assert got == expected
    assert dice(got[1], got[2]) > 0.75 and rows[1]["Person Key"] != rows[2]["Person Key"]
    assert rows[1]["block_surname"] == rows[2]["block_surname"]
    # the model's input reads the filters back from the file, with their counts of bits
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE extract AS SELECT * FROM read_csv('{tmp_path / 'out.csv'}', skip=2, "
        "header=true, all_varchar=true)"
    )
    model_input = bloom_input_sql("extract", fields, text=True)
    read = con.execute(
        f"SELECT surname_bloom::BLOB, surname_bloom_bits FROM ({model_input}) "
        'ORDER BY "Crime Reference"'
    ).fetchall()
    assert [(bytes(f), n) for f, n in read] == [
        (f, sum(bin(x).count("1") for x in f)) for f in expected
    ]
    # ingest reads the extract with the same mapping, its keys as made, the encodings aside
    settings = Settings(area="Test", forces=("West Mercia",), partnership_key=f"file:{key_file}")
    ws = Workspace.init(tmp_path / "ws", settings)
    [report] = ingest(ws, [tmp_path / "out.csv"], mappings=[mapping])
    keys = ws.con.execute("SELECT crime_ref, person_key FROM involvements ORDER BY 1").fetchall()
    ws.close()
    assert (report.rows_accepted, report.rows_rejected) == (len(PEOPLE), 0)
    assert keys == [(r["Crime Reference"], r["Person Key"]) for r in rows]


# -- FEBRL4: plain and bloom linkage -----------------------------------------------------------


def test_bloom_linkage_scores_within_three_points_of_plain_on_febrl4():
    start = time.perf_counter()
    plain, bloom = febrl4_scores("plain"), febrl4_scores("bloom")
    assert plain.candidate_pairs == bloom.candidate_pairs  # the same blocking
    assert plain.f1 >= 0.95
    assert bloom.f1 >= plain.f1 - 0.03
    assert time.perf_counter() - start < 60


def test_the_documentation_states_the_parameters():
    doc = (Path(__file__).parents[1] / "docs" / "partner-extracts.md").read_text()
    assert f"each bigram sets {DEFAULT.hashes} bits of a filter of {DEFAULT.bits} bits" in doc
    for label in (BLOOM_LABEL, BLOCK_LABEL):
        assert f"`{label.decode()}`" in doc
    for block in default_blocks(["forename", "surname", "date_of_birth", "sex"]):
        assert f"`{block.name}`" in doc
