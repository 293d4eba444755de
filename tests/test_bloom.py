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
from pathlib import Path

import duckdb
import pytest
from conftest import svduty as svduty_cli
from test_identity import MAPPING_A
from test_linkage import KINDS_OF_TYPO, _clusters, _extracts, _needles, _svduty, _typo

from svduty.errors import InputError
from svduty.identifiers import IDENTIFIERS_FILE
from svduty.identity.keys import create_key_file, fingerprint, parse_key
from svduty.ingest import ingest
from svduty.linkage import store
from svduty.linkage.bench import bench_febrl
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
from svduty.settings import Settings
from svduty.web.accounts import add_user
from svduty.workspace import DATABASE_FILE, Workspace

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
    """The febrl4 preset in plain mode and its bloom counterpart, through one pipeline."""
    plain, bloom = bench_febrl(), bench_febrl(mode="bloom")
    assert plain.true_links == bloom.true_links == 5_000
    assert plain.f1 >= 0.95
    assert bloom.f1 >= plain.f1 - 0.03, (bloom.precision, bloom.recall)


def test_the_documentation_states_the_parameters():
    doc = (Path(__file__).parents[1] / "docs" / "partner-extracts.md").read_text()
    assert f"each bigram sets {DEFAULT.hashes} bits of a filter of {DEFAULT.bits} bits" in doc
    for label in (BLOOM_LABEL, BLOCK_LABEL):
        assert f"`{label.decode()}`" in doc
    for block in default_blocks(["forename", "surname", "date_of_birth", "sex"]):
        assert f"`{block.name}`" in doc


# -- linkage of Bloom-encoded extracts on a workspace ------------------------------------------


def _pseudonymise(source: Path, mapping: Path, key_file: Path, out: Path) -> Path:
    done = svduty_cli(
        "pseudonymise", str(source), "--mapping", str(mapping), "--key", str(key_file),
        "--out", str(out), "--encoding", "bloom",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def bloom_linked(tmp_path_factory) -> dict:
    """Two agencies' extracts (test_linkage's: 30 of the 60 shared people written
    differently), pseudonymised with --encoding bloom under one partnership key, ingested,
    then linked in bloom mode through the command line (train, predict, cluster)."""
    tmp_path = tmp_path_factory.mktemp("bloom-linked")
    files, maps, person_of, people = _extracts(tmp_path)
    key_file = tmp_path / "secure" / "partnership.key"
    key_file.parent.mkdir()
    create_key_file(key_file)
    encoded = [
        _pseudonymise(f, m, key_file, tmp_path / f"bloom-{f.name}")
        for f, m in zip(files, maps, strict=True)
    ]
    root = tmp_path / "ws"
    settings = Settings(area="Test", forces=("West Mercia",), partnership_key=f"file:{key_file}")
    ws = Workspace.init(root, settings)
    for path, mapping in zip(encoded, maps, strict=True):
        ingest(ws, [path], mappings=[mapping])
    ws.close()
    add_user(root, "ana", "a long passphrase 1", "analyst")
    said = []
    for step in (("train", "--mode", "bloom"), ("predict",), ("cluster",), ("report",)):
        done = _svduty("link", *step, "-w", str(root), actor="ana")
        assert done.exit_code == 0, done.output
        said.append(done.output)
    return {
        "root": root, "person_of": person_of, "people": people, "maps": maps, "files": files,
        "key_file": key_file, "encoded": encoded, "said": said, "tmp": tmp_path,
    }  # fmt: skip


def test_bloom_linkage_joins_the_people_exact_keys_missed(bloom_linked):
    root, person_of = bloom_linked["root"], bloom_linked["person_of"]
    said = bloom_linked["said"]
    assert "bloom mode" in said[0] and "bloom mode" in said[3]
    assert f"records: involvements {len(person_of)}" in said[3]
    ws = Workspace.open(root, read_only=True, actor="ana")
    keys = dict(ws.con.execute("SELECT crime_ref, person_key FROM involvements").fetchall())
    run = store.latest_run(ws)
    ws.close()
    assert run is not None and run.mode == "bloom" and run.status == "clustered"
    assert run.records == len(person_of)
    cluster_of = _clusters(root)
    assert set(cluster_of) == set(person_of)
    same_person = [
        (a, b) for a in person_of for b in person_of
        if a < b and a.startswith("A") and b.startswith("B") and person_of[a] == person_of[b]
    ]  # fmt: skip
    exact = [(a, b) for a, b in same_person if keys[a] == keys[b]]
    assert all(cluster_of[a] == cluster_of[b] for a, b in exact)
    # the people whose surname the second agency mistyped: their exact keys differ
    people = bloom_linked["people"]
    typos = [
        (a, b) for a, b in same_person
        if _typo(people[person_of[a]], "surname typo")["surname"] != people[person_of[a]]["surname"]
        and person_of[a] < 30 and KINDS_OF_TYPO[person_of[a] % 3] == "surname typo"
    ]  # fmt: skip
    assert typos and all(keys[a] != keys[b] for a, b in typos)
    assert all(cluster_of[a] == cluster_of[b] for a, b in typos), typos
    people_in: dict[str, set[int]] = {}
    for ref, cluster in cluster_of.items():
        people_in.setdefault(cluster, set()).add(person_of[ref])
    assert all(len(found) == 1 for found in people_in.values())  # no two people merged


def test_bloom_filters_stay_in_the_restricted_store(bloom_linked):
    root = bloom_linked["root"]
    encoded = [p.read_text(encoding="utf-8") for p in bloom_linked["encoded"]]
    rows = [r for text in encoded for r in csv.DictReader(text.splitlines()[2:])]
    samples = {rows[0]["surname" + SUFFIX], rows[0]["block_surname"], rows[-1]["forename_bloom"]}
    needles = [n.lower() for n in _needles(bloom_linked["people"])] + [s.lower() for s in samples]
    with duckdb.connect(str(root / DATABASE_FILE), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for table in tables:
            text = con.execute(f"SELECT string_agg(t::VARCHAR, '|') FROM \"{table}\" t").fetchall()
            body = (text[0][0] or "").lower()
            assert not [n for n in needles if n in body], table
    with duckdb.connect(str(root / IDENTIFIERS_FILE), read_only=True) as con:
        [(stored,)] = con.execute("SELECT count(*) FROM encodings").fetchall()
        notes = con.execute("SELECT file, fingerprint FROM encoding_notes").fetchall()
        [(clear,)] = con.execute("SELECT count(*) FROM identifiers").fetchall()
    assert stored == len(rows) and clear == 0
    made_with = fingerprint(parse_key(bloom_linked["key_file"].read_text(), "key"))
    assert sorted(Path(f).name for f, _ in notes) == sorted(p.name for p in bloom_linked["encoded"])
    assert {k for _, k in notes} == {made_with}
    assert (root / IDENTIFIERS_FILE).stat().st_mode & 0o077 == 0


def test_filters_of_another_partnership_key_are_refused(bloom_linked, tmp_path):
    files, maps = bloom_linked["files"], bloom_linked["maps"]
    other_key = tmp_path / "secure" / "other.key"
    other_key.parent.mkdir()
    create_key_file(other_key)
    other = _pseudonymise(files[1], maps[1], other_key, tmp_path / "other-b.csv")
    # a workspace holding the partnership key refuses the extract at ingest
    keyed = Settings(
        area="Test", forces=("West Mercia",), partnership_key=f"file:{bloom_linked['key_file']}"
    )
    ws = Workspace.init(tmp_path / "keyed", keyed)
    with pytest.raises(InputError, match=r"other-b\.csv: its person keys were made with"):
        ingest(ws, [other], mappings=[maps[1]])
    ws.close()
    # a workspace holding no key takes both, and a bloom run refuses to link them together
    root = tmp_path / "keyless"
    ws = Workspace.init(root, Settings(area="Test", forces=("West Mercia",)))
    ingest(ws, [bloom_linked["encoded"][0]], mappings=[maps[0]])
    ingest(ws, [other], mappings=[maps[1]])
    ws.close()
    add_user(root, "ana", "a long passphrase 1", "analyst")
    done = _svduty("link", "train", "--mode", "bloom", "-w", str(root), actor="ana")
    assert isinstance(done.exception, InputError)  # said in one line by `svduty`'s main
    said = str(done.exception)
    assert "different partnership keys" in said and "\n" not in said
    assert bloom_linked["encoded"][0].name in said and "other-b.csv" in said
    # and plain mode says which batches hold no clear identifiers
    done = _svduty("link", "train", "-w", str(root), actor="ana")
    assert isinstance(done.exception, InputError)
    said = str(done.exception)
    assert "no records with identifiers in the clear" in said
    assert "other-b.csv" in said


def test_a_rolled_back_batch_leaves_no_encodings(bloom_linked, tmp_path):
    """The batch's rows are removed from the restricted store with it (a writer killed
    between the two commits is reconciled on the next open)."""
    from svduty import identifiers

    root = tmp_path / "ws"
    settings = Settings(
        area="Test", forces=("West Mercia",), partnership_key=f"file:{bloom_linked['key_file']}"
    )
    ws = Workspace.init(root, settings)
    [report] = ingest(ws, [bloom_linked["encoded"][0]], mappings=[bloom_linked["maps"][0]])
    ws.close()
    with duckdb.connect(str(root / IDENTIFIERS_FILE)) as con:  # a batch never committed
        con.execute(
            "INSERT INTO encodings (batch_id, source_line) SELECT 999, source_line "
            "FROM encodings WHERE batch_id = ?",
            [report.batch_id],
        )
        con.execute("INSERT INTO encoding_notes VALUES (999, 'x.csv', 'f', 'p', 'n')")
    assert identifiers.reconcile(root, [report.batch_id]) == report.rows_accepted
    identifiers.discard(root, report.batch_id)
    with duckdb.connect(str(root / IDENTIFIERS_FILE), read_only=True) as con:
        left = [
            con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in identifiers.TABLES
        ]
    assert left == [0, 0, 0]


def test_bloom_mode_is_refused_on_a_spark_workspace_in_one_line(bloom_linked):
    """The engine is checked before anything is read (the workspace's setting changed in
    memory: starting Spark adds nothing to what is checked)."""
    from dataclasses import replace

    from svduty.linkage.run import train

    ws = Workspace.open(bloom_linked["root"], actor="ana")
    try:
        ws.settings = replace(ws.settings, engine="spark")
        with pytest.raises(InputError, match=r"^engine = 'spark': bloom mode runs on the DuckDB"):
            train(ws, "multi-agency", None, lambda line: None, "bloom")
    finally:
        ws.close()


def test_filters_without_their_note_are_refused_naming_the_file(bloom_linked, tmp_path):
    made = bloom_linked["encoded"][0].read_text(encoding="utf-8").splitlines(keepends=True)
    stripped = tmp_path / "no-note.csv"
    stripped.write_text(made[0] + "".join(made[2:]), encoding="utf-8")  # the Bloom note cut
    settings = Settings(
        area="Test", forces=("West Mercia",), partnership_key=f"file:{bloom_linked['key_file']}"
    )
    ws = Workspace.init(tmp_path / "ws", settings)
    try:
        with pytest.raises(InputError, match=r"no-note\.csv: Bloom filters without the note line"):
            ingest(ws, [stripped], mappings=[bloom_linked["maps"][0]])
        assert ws.con.execute("SELECT count(*) FROM batches").fetchall() == [(0,)]
    finally:
        ws.close()


def test_a_presets_bloom_counterpart_compares_and_blocks_on_encodings():
    from svduty.linkage.dice import ENCODED_BLOCKS, bloom_preset
    from svduty.linkage.presets import load_preset

    plain = load_preset("multi-agency")
    bloom = bloom_preset(plain)
    compared = {c for comparison in plain.comparisons for c in comparison.columns}
    assert {c.columns[0] for c in bloom.comparisons} == {c + SUFFIX for c in compared}
    exact = {c.columns[0] + SUFFIX for c in plain.comparisons if c.kind == "exact"}
    assert {c.columns[0] for c in bloom.comparisons if c.kind == "exact"} == exact
    assert {c.kind for c in bloom.comparisons if c.columns[0] not in exact} == {"dice"}
    assert ("date_of_birth" + SUFFIX,) in bloom.blocking  # [date_of_birth], on equal filters
    assert ("surname" + SUFFIX, "block_birth_year") in bloom.blocking  # [surname, year_of_birth]
    assert not [r for r in bloom.blocking if any("district" in c for c in r)]
    assert set(ENCODED_BLOCKS) <= set(bloom.blocking)
    assert ("forename" + SUFFIX, "surname" + SUFFIX, "date_of_birth" + SUFFIX) in bloom.prior_rules


def test_an_identifiers_file_of_version_1_gains_the_encodings(bloom_linked, tmp_path):
    from svduty import identifiers

    settings = Settings(
        area="Test", forces=("West Mercia",), partnership_key=f"file:{bloom_linked['key_file']}"
    )
    root = tmp_path / "ws"
    Workspace.init(root, settings).close()
    columns = ", ".join(f"{n} {k}" for n, k in identifiers.COLUMNS.items())
    with duckdb.connect(str(root / IDENTIFIERS_FILE)) as con:  # as version 1 made it
        con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(f"CREATE TABLE identifiers ({columns}, PRIMARY KEY (batch_id, source_line))")
        con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    add_user(root, "ana", "a long passphrase 1", "analyst")
    reader = Workspace.open(root, read_only=True, actor="ana")
    try:  # read before a writer adds the tables
        assert identifiers.encodings_per_batch(reader) == {}
        assert identifiers.read_encodings(reader, [1]).empty
    finally:
        reader.close()
    ws = Workspace.open(root, actor="ana")
    try:
        [report] = ingest(ws, [bloom_linked["encoded"][0]], mappings=[bloom_linked["maps"][0]])
        assert identifiers.encodings_per_batch(ws) == {report.batch_id: report.rows_accepted}
        frame = identifiers.read_encodings(ws, [report.batch_id], ["surname" + SUFFIX])
    finally:
        ws.close()
    assert len(frame) == report.rows_accepted and frame["surname" + SUFFIX].notna().all()
    with duckdb.connect(str(root / IDENTIFIERS_FILE), read_only=True) as con:
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    assert version == [(str(identifiers.SCHEMA_VERSION),)]
