"""Identity at ingest: partnership keys, normalised identifiers, person keys that meet across
agencies and workspaces, the restricted identifiers store, and identifiers kept out of every
analytic table, export, audit row and log.

Every person here is made up in this file (names no register holds); no real personal data.
Sections: normalisation and the key -> keys meeting (or not) -> where identifiers go -> the
commands and their errors -> consistency of the store with the batches."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml
from partner_files import CRIME_HEADER, FORCE_MAPPING, crime_row, write_csv

from svduty import identifiers
from svduty.errors import InputError
from svduty.identity.keys import (
    PersonKeySecret,
    create_key_file,
    key_sql,
    message,
    parse_key,
    read_key,
)
from svduty.identity.normalise import normalised_sql
from svduty.identity.pseudonymise import pseudonymise
from svduty.ingest import ingest
from svduty.mapping import load_mapping
from svduty.settings import Settings
from svduty.web.accounts import add_user
from svduty.workspace import Workspace
from svduty.yamlfile import load_yaml

# -- made-up people and two agencies' extracts -------------------------------------------------

PEOPLE = [
    # forename, surname, date of birth, postcode
    ("José", "O'Brien", date(1994, 3, 2), "QX9 9ZZ"),
    ("Quenbyra", "Thistlewaite-Vorn", date(2001, 11, 30), "QX1 1QQ"),
    ("Brannoch", "Vellacourt", date(1988, 7, 14), "QX2 2QQ"),
]
"""Three people; postcodes in an area that does not exist (QX)."""

MAPPING_A = """
id: agency-a
force: West Mercia
people:
  columns:
    crime_ref: Crime Reference
    role: {column: Role, values: {V: victim, S: suspect}}
    age: Age
  identifiers:
    forename: Forename
    surname: Surname
    date_of_birth: {column: Date of Birth, format: "%d/%m/%Y"}
    postcode: Postcode
  person_key_from: [forename, surname, date_of_birth]
"""
A_HEADER = ["Crime Reference", "Role", "Forename", "Surname", "Date of Birth", "Postcode", "Age"]

MAPPING_B = """
id: agency-b
force: Warwickshire
people:
  columns:
    crime_ref: REF
    role: ROLE
    age: AGE
    person_key: PKEY
  identifiers:
    surname: FAMILY_NAME
    forename: GIVEN_NAME
    date_of_birth: {column: DOB, format: "%Y-%m-%d"}
  person_key_from: [surname, forename, date_of_birth]
"""
B_HEADER = ["REF", "ROLE", "GIVEN_NAME", "FAMILY_NAME", "DOB", "AGE"]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def agency_a(path: Path, people: list[tuple[str, str, date, str]] = PEOPLE) -> Path:
    """Agency A writes names as given and dates of birth as dd/mm/yyyy."""
    rows = [
        [f"A{i:04d}", "V" if i % 2 else "S", fore, sur, dob.strftime("%d/%m/%Y"), post, "30"]
        for i, (fore, sur, dob, post) in enumerate(people)
    ]
    return _write(path, A_HEADER, rows)


def agency_b(path: Path, people: list[tuple[str, str, date, str]] = PEOPLE) -> Path:
    """Agency B writes names in capitals without accents or punctuation, dates ISO."""
    rows = [
        [f"B{i:04d}", "victim", _shout(fore), _shout(sur), dob.isoformat(), "31"]
        for i, (fore, sur, dob, _) in enumerate(people)
    ]
    return _write(path, B_HEADER, rows)


def _shout(name: str) -> str:
    """How a system without accents or punctuation stores a name ("O'Brien" as "OBRIEN")."""
    plain = name.replace("é", "e").replace("'", "").replace("-", " ")
    return plain.upper()


@pytest.fixture
def mappings(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "mapping-a.yaml", tmp_path / "mapping-b.yaml"
    a.write_text(MAPPING_A, encoding="utf-8")
    b.write_text(MAPPING_B, encoding="utf-8")
    return a, b


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "secure" / "partnership.key"
    path.parent.mkdir()
    create_key_file(path)
    return path


def _workspace(root: Path, partnership_key: str = "") -> Workspace:
    settings = Settings(area="Test", forces=("West Mercia",), partnership_key=partnership_key)
    return Workspace.init(root, settings)


def _keys(ws: Workspace) -> dict[str, str | None]:
    """Crime reference -> person key."""
    return dict(ws.con.execute("SELECT crime_ref, person_key FROM involvements").fetchall())


def _sql_value(sql: str) -> object:
    return duckdb.connect().execute(f"SELECT {sql}").fetchall()[0][0]


# -- normalisation and the key ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "fmt", "expected"),
    [
        ("name", "O'Brien", None, "OBRIEN"),  # apostrophe removed, upper-cased
        ("name", "OBRIEN", None, "OBRIEN"),
        ("name", "José", None, "JOSE"),  # accent folded
        ("name", "Thistlewaite-Vorn", None, "THISTLEWAITEVORN"),  # hyphen removed
        ("name", "Øster Straße", None, "OSTERSTRASSE"),  # Ø as O, ß as SS, space removed
        ("name", "Æsa Łukasz", None, "AESALUKASZ"),
        ("name", " - ", None, None),  # nothing left: no value
        ("date", "02/03/1994", "%d/%m/%Y", "1994-03-02"),
        ("date", "1994-03-02", None, "1994-03-02"),  # ISO by default
        ("date", "31/02/1994", "%d/%m/%Y", None),  # no such day
        ("postcode", "qx9 9zz", None, "QX99ZZ"),
        ("digits", "943 476 5919", None, "9434765919"),
        ("sex", "Male", None, "M"),
        ("pnc", "2001/0123456a", None, "2001/0123456A"),
        ("code", "q 8015 1234 5678", None, "Q801512345678"),
        ("text", "  LOC-77 ", None, "LOC-77"),
    ],
)
def test_normalisation(kind, raw, fmt, expected):
    assert _sql_value(normalised_sql(kind, "$$" + raw + "$$", fmt)) == expected


def test_the_key_is_hmac_sha256_of_the_normalised_identifiers():
    """The engine's HMAC equals Python's RFC 2104 HMAC of the message the docs describe:
    the version tag, then field=value in the canonical order, joined by the unit separator."""
    secret = bytes(range(32))
    con = duckdb.connect()
    PersonKeySecret(secret, "test").load(con)
    made = con.execute(
        "SELECT "
        + key_sql(
            {"surname": "$$O'Brien$$", "forename": "$$José$$", "date_of_birth": "$$02/03/1994$$"},
            {"date_of_birth": "%d/%m/%Y"},
        )
        + " FROM _person_key k"
    ).fetchall()[0][0]
    expected = hmac.new(
        secret,
        b"svduty-person-v1\x1fforename=JOSE\x1fsurname=OBRIEN\x1fdate_of_birth=1994-03-02",
        hashlib.sha256,
    ).hexdigest()
    assert made == expected
    assert message({"surname": "OBRIEN", "forename": "JOSE"}) == (
        b"svduty-person-v1\x1fforename=JOSE\x1fsurname=OBRIEN"
    )


def test_a_missing_identifier_of_the_key_makes_no_key():
    con = duckdb.connect()
    PersonKeySecret(b"k" * 32, "test").load(con)
    sql = key_sql({"forename": "$$José$$", "surname": "NULL::VARCHAR"}, {})
    assert con.execute(f"SELECT {sql} FROM _person_key k").fetchall() == [(None,)]


# -- keys meet, or not -------------------------------------------------------------------------


def test_two_agencies_pseudonymising_separately_with_one_key_give_one_key(
    tmp_path, mappings, key_file
):
    map_a, map_b = mappings
    secret = read_key(str(key_file), "--key")
    out_a = pseudonymise(
        agency_a(tmp_path / "a" / "people.csv"), map_a, secret, tmp_path / "a-out.csv"
    )
    out_b = pseudonymise(
        agency_b(tmp_path / "b" / "people.csv"), map_b, secret, tmp_path / "b-out.csv"
    )
    assert out_a.without_key == () and out_b.without_key == ()

    shared = _workspace(tmp_path / "shared", f"file:{key_file}")
    reports = ingest(shared, [out_a.out, out_b.out], mappings=[map_a, map_b])
    assert [(r.rows_accepted, r.rows_rejected) for r in reports] == [(3, 0), (3, 0)]
    keys = _keys(shared)
    for i in range(len(PEOPLE)):
        assert keys[f"A{i:04d}"] == keys[f"B{i:04d}"], PEOPLE[i][:2]
    assert len({keys[f"A{i:04d}"] for i in range(len(PEOPLE))}) == len(PEOPLE)
    shared.close()

    # the key svduty makes at ingest from the clear identifiers, with the same key, is the same
    clear = _workspace(tmp_path / "clear", f"file:{key_file}")
    ingest(clear, [agency_a(tmp_path / "a2" / "people.csv")], mappings=[map_a])
    assert _keys(clear) == {ref: k for ref, k in keys.items() if ref.startswith("A")}
    clear.close()


def test_spellings_meet_and_different_dates_of_birth_do_not(tmp_path, mappings, key_file):
    map_a, _ = mappings
    born = date(1994, 3, 2)
    same = [("José", "O'Brien", born, "QX9 9ZZ"), ("Jose", "OBRIEN", born, "QX9 9ZZ")]
    other_day = [("José", "O'Brien", date(1994, 3, 3), "QX9 9ZZ")]
    ws = _workspace(tmp_path / "ws", f"file:{key_file}")
    ingest(ws, [agency_a(tmp_path / "a.csv", same + other_day)], mappings=[map_a])
    keys = _keys(ws)
    assert keys["A0000"] == keys["A0001"]
    assert keys["A0002"] != keys["A0000"]
    ws.close()


def test_different_partnership_keys_never_meet(tmp_path, mappings):
    map_a, _ = mappings
    made = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.key"
        create_key_file(path)
        done = pseudonymise(
            agency_a(tmp_path / name / "people.csv"),
            map_a,
            read_key(str(path), "--key"),
            tmp_path / f"{name}-out.csv",
        )
        with done.out.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
        made.append({r["Person Key"] for r in rows})
    assert len(made[0]) == len(made[1]) == len(PEOPLE)
    assert not made[0] & made[1]


def test_an_extract_keyed_with_another_key_is_refused_before_anything_is_stored(
    tmp_path, mappings, key_file
):
    map_a, _ = mappings
    other = tmp_path / "other.key"
    create_key_file(other)
    done = pseudonymise(
        agency_a(tmp_path / "a.csv"), map_a, read_key(str(other), "--key"), tmp_path / "out.csv"
    )
    ws = _workspace(tmp_path / "ws", f"file:{key_file}")
    mine = read_key(str(key_file), "--key").fingerprint
    with pytest.raises(InputError) as raised:
        ingest(ws, [agency_a(tmp_path / "b.csv"), done.out], mappings=[map_a])
    assert f"made with partnership key {done.fingerprint}" in str(raised.value)
    assert f"partnership_key is {mine}" in str(raised.value)
    assert ws.batch_ids == frozenset()
    ws.close()
    central = _workspace(tmp_path / "central")  # holds no key: takes keys made elsewhere
    [report] = ingest(central, [done.out], mappings=[map_a])
    assert report.rows_accepted == len(PEOPLE)
    central.close()


def test_without_a_partnership_key_keys_meet_within_a_workspace_only(tmp_path, mappings):
    map_a, map_b = mappings
    found = []
    for name in ("north", "south"):
        ws = _workspace(tmp_path / name)
        ingest(
            ws,
            [agency_a(tmp_path / name / "a.csv"), agency_b(tmp_path / name / "b.csv")],
            mappings=[map_a, map_b],
        )
        keys = _keys(ws)
        assert keys["A0000"] == keys["B0000"]  # two agencies, one workspace: they meet
        found.append(set(keys.values()))
        ws.close()
    assert not found[0] & found[1]  # two workspaces: they do not


# -- where identifiers go ----------------------------------------------------------------------


def _needles() -> list[str]:
    """Every way a planted identifier could be written: as given, upper-cased, normalised,
    and each date of birth in the formats the extracts use."""
    found = set()
    for fore, sur, dob, post in PEOPLE:
        for name in (fore, sur):
            found |= {name, name.upper(), _shout(name), _shout(name).replace(" ", "")}
        found |= {dob.isoformat(), dob.strftime("%d/%m/%Y"), post, post.replace(" ", "")}
    return sorted(found)


def _scan(text: str, where: str) -> None:
    lowered = text.lower()
    hits = [n for n in _needles() if n.lower() in lowered]
    assert not hits, f"{where} holds {hits}"


def _scan_database(path: Path) -> int:
    """Every column of every table, as text; the number of tables scanned."""
    con = duckdb.connect(str(path), read_only=True)
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    for table in tables:
        rows = con.execute(f'SELECT CAST(to_json(t) AS VARCHAR) FROM "{table}" t').fetchall()
        _scan("\n".join(r[0] for r in rows), f"{path.name}:{table}")
    con.close()
    return len(tables)


def _svduty(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "svduty.cli", *args],
        capture_output=True, text=True, env={**os.environ, **env},
    )  # fmt: skip


def _with_crimes(tmp_path: Path) -> tuple[Path, Path]:
    """Agency A's people mapping with the example force mapping's crimes part, and a crimes file
    holding the crimes its people are in (knife crimes, so the report counts them)."""
    mapping = yaml.safe_load(MAPPING_A)
    mapping["crimes"] = load_yaml(FORCE_MAPPING)["crimes"]
    path = tmp_path / "mapping-with-crimes.yaml"
    path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    rows = [
        crime_row({"crime_ref": f"A{i:04d}", "offence_code": "8N", "markers": ("knife",)})
        for i in range(len(PEOPLE))
    ]
    return path, write_csv(tmp_path / "extract" / "crimes.csv", CRIME_HEADER, rows)


def test_identifiers_reach_no_table_export_audit_row_or_log(tmp_path, key_file):
    root = tmp_path / "ws"
    env = {
        "SVDUTY_PARTNERSHIP_KEY": key_file.read_text().strip(),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    _workspace(root, "env:SVDUTY_PARTNERSHIP_KEY").close()
    extract = agency_a(tmp_path / "extract" / "people.csv")
    with extract.open("a", encoding="utf-8", newline="") as handle:  # a row to reject
        csv.writer(handle).writerow(
            ["A0099", "V", "Brannoch", "Vellacourt", "14/13/1988", "QX2 2QQ", "30"]
        )
    mapping, crimes = _with_crimes(tmp_path)
    done = _svduty(
        "ingest", "-w", str(root), str(crimes), str(extract), "--mapping", str(mapping), env=env
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _scan(done.stdout + done.stderr, "ingest's output")
    done = _svduty("report", "-w", str(root), "--no-pdf", "--unsuppressed", env=env)
    assert done.returncode == 0, done.stderr
    written = [p for p in (root / "reports").rglob("*") if p.is_file()]
    assert any(p.name.endswith("-summary.json") for p in written)
    for path in written:
        _scan(path.read_text(encoding="utf-8", errors="replace"), str(path))
    exports = {
        "counts": ["counts", "--table", "incidents", "--format", "csv"],
        "batches": ["batches", "--format", "csv", "--wide"],
        "rejects": ["rejects", "--format", "csv"],
        "audit": ["audit", "--format", "csv"],
    }
    for name, args in exports.items():
        done = _svduty(*args, "-w", str(root), env=env)
        assert done.returncode == 0, (name, done.stderr)
        _scan(done.stdout + done.stderr, f"svduty {name}")

    # the rejected row is kept, its identifiers withheld
    ws = Workspace.open(root, read_only=True)
    [(field, value, reason, raw)] = ws.con.execute(
        "SELECT field, value, reason, raw FROM rejects"
    ).fetchall()
    assert (field, value) == ("Date of Birth", None)
    assert reason == "Date of Birth is not a date in the format %d/%m/%Y"
    assert json.loads(raw)["Forename"] == "(withheld: an identifier)"
    assert json.loads(raw)["Crime Reference"] == "A0099"
    ws.close()

    assert _scan_database(root / "svduty.duckdb") >= 10
    _scan_database(root / "svduty.read.duckdb")
    with sqlite3.connect(root / "audit.sqlite") as con:
        rows = con.execute("SELECT * FROM audit").fetchall()
    _scan(json.dumps(rows, default=str), "audit.sqlite")
    assert any("partnership key" in str(r) for r in rows)  # the lineage names the key's print
    for path in [*(tmp_path / "state").rglob("*"), *root.glob("*.log")]:
        if path.is_file():
            _scan(path.read_text(errors="replace"), str(path))

    # and they are in the restricted store (so the scan above looked for what was there)
    add_user(root, "ana", "a long passphrase 1", "analyst")
    ws = Workspace.open(root, read_only=True, actor="ana")
    found = identifiers.read(ws, batches=ws.batch_ids)
    ws.close()
    assert sorted(found["surname"]) == sorted(p[1] for p in PEOPLE)
    assert sorted(found["date_of_birth"].dt.date) == sorted(p[2] for p in PEOPLE)


def _with_agency_a(tmp_path: Path, map_a: Path, name: str) -> Path:
    """A workspace holding agency A's extract (written as `name`), closed: its root."""
    root = tmp_path / "ws"
    ws = _workspace(root)
    ingest(ws, [agency_a(tmp_path / name)], mappings=[map_a])
    ws.close()
    return root


def test_reading_identifiers_needs_an_analyst_and_every_read_is_audited(tmp_path, mappings):
    map_a, _ = mappings
    root = _with_agency_a(tmp_path, map_a, "a.csv")
    add_user(root, "pat", "a long passphrase 2", "partner")
    add_user(root, "ana", "a long passphrase 1", "analyst")
    for actor in ("pat", "stranger"):
        reader = Workspace.open(root, read_only=True, actor=actor)
        with pytest.raises(identifiers.IdentifiersDenied, match="identifiers are for analysts"):
            identifiers.read(reader, records=[(1, 2)])
        reader.close()
    reader = Workspace.open(root, read_only=True, actor="ana")
    found = identifiers.read(reader, records=[(1, 2), (1, 4)], fields=["forename", "postcode"])
    reader.close()
    assert list(found.columns) == ["batch_id", "source_line", "forename", "postcode"]
    assert found.values.tolist() == [[1, 2, "José", "QX9 9ZZ"], [1, 4, "Brannoch", "QX2 2QQ"]]
    log = Workspace.open(root, read_only=True).audit_log()
    reads = log[log["action"] == "read identifiers"]
    assert list(reads["actor"]) == ["pat", "stranger", "ana"]
    said = [json.loads(p) for p in reads["parameters"]]
    assert [p["allowed"] for p in said] == [False, False, True]
    assert said[2]["records"] == ["1-2", "1-4"] and said[2]["rows"] == 2
    _scan(reads.to_json(), "the audit of reads")


def test_a_keyed_column_holding_something_else_is_rejected_without_its_value(tmp_path, mappings):
    _, map_b = mappings
    path = _write(
        tmp_path / "b-keyed.csv",
        ["REF", "ROLE", "AGE", "PKEY"],
        [["B1", "victim", "31", "a" * 64], ["B2", "victim", "31", "Vellacourt"]],
    )
    ws = _workspace(tmp_path / "ws")
    [report] = ingest(ws, [path], mappings=[map_b])
    assert (report.rows_accepted, report.rows_rejected) == (1, 1)
    [(value, reason, raw)] = ws.con.execute("SELECT value, reason, raw FROM rejects").fetchall()
    assert value is None and "Vellacourt" not in raw
    assert reason.startswith("PKEY is not a person key")
    assert identifiers.rows_per_batch(ws) == {}  # a keyed extract brings no identifiers
    ws.close()


def test_pseudonymised_extract_has_the_key_and_no_identifier(tmp_path, mappings, key_file):
    map_a, _ = mappings
    source = agency_a(tmp_path / "people.csv")
    with source.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerow(["A0099", "V", "Brannoch", "", "14/07/1988", "", "30"])
    done = _svduty(
        "pseudonymise", str(source), "--mapping", str(map_a), "--key", str(key_file),
        "--out", str(tmp_path / "out.csv"), env={},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fingerprint = hashlib.sha256(parse_key(key_file.read_text(), "key")).hexdigest()[:16]
    assert f"partnership key {fingerprint}" in done.stdout
    # header on line 1, three people on lines 2 to 4, the row without a surname on line 5
    assert "1 row(s) have no key" in done.stderr and "unreadable): line 5" in done.stderr
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    _scan(text, "the pseudonymised extract")
    lines = text.splitlines()
    assert lines[0].startswith("# person keys made by svduty pseudonymise")
    assert lines[1] == "Crime Reference,Role,Age,Person Key"
    assert [line.split(",")[3] == "" for line in lines[2:]] == [False] * 3 + [True]
    assert key_file.read_text().strip() not in done.stdout + done.stderr


# -- the commands and their errors -------------------------------------------------------------


def test_keys_create_writes_a_private_key_and_never_overwrites(tmp_path):
    path = tmp_path / "partnership.key"
    done = _svduty("keys", "create", "--out", str(path), env={})
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = parse_key(path.read_text(), "key")
    assert len(secret) == 32
    assert f"fingerprint {hashlib.sha256(secret).hexdigest()[:16]}" in done.stdout
    assert secret.hex() not in done.stdout + done.stderr
    before = path.read_bytes()
    again = _svduty("keys", "create", "--out", str(path), env={})
    assert again.returncode == 2  # svduty's exit code for an error the user can fix
    assert again.stderr.strip().count("\n") == 0 and "never overwrites" in again.stderr
    assert path.read_bytes() == before


def test_a_missing_key_variable_is_one_line_naming_the_setting(tmp_path, mappings):
    map_a, _ = mappings
    root = tmp_path / "ws"
    _workspace(root, "env:SVDUTY_TEST_KEY_NOT_SET").close()
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    os.environ.pop("SVDUTY_TEST_KEY_NOT_SET", None)
    done = _svduty(
        "ingest", "-w", str(root), str(agency_a(tmp_path / "a.csv")), "--mapping", str(map_a),
        env=env,
    )  # fmt: skip
    assert done.returncode == 2
    [line] = [x for x in done.stderr.splitlines() if x.strip()]
    assert "svduty.toml: partnership_key" in line
    assert "SVDUTY_TEST_KEY_NOT_SET, which is not set" in line
    assert "Traceback" not in done.stderr and not (tmp_path / "state").exists()
    # data that makes no person keys still ingests
    ws = Workspace.open(root)
    assert ws.batch_ids == frozenset()
    ws.close()


def test_keys_show_names_the_key_by_its_fingerprint_only(tmp_path, key_file):
    salted, keyed = tmp_path / "salted", tmp_path / "keyed"
    _workspace(salted).close()
    done = _svduty("init", str(keyed), "--partnership-key", f"file:{key_file}", env={})
    assert done.returncode == 0, done.stderr
    assert f'partnership_key = "file:{key_file}"' in (keyed / "svduty.toml").read_text()
    done = _svduty("keys", "show", "-w", str(salted), env={})
    assert done.returncode == 0 and "the workspace's own salt" in done.stdout
    done = _svduty("keys", "show", "-w", str(keyed), env={})
    fingerprint = hashlib.sha256(parse_key(key_file.read_text(), "key")).hexdigest()[:16]
    assert done.stdout.strip() == f"person keys: partnership key {fingerprint}"


def test_a_local_id_key_column_is_keyed_by_the_partnership_key(tmp_path, key_file):
    """`pseudonymise: true` on a key column gives, with a partnership key, the key of the
    identifier local_id: the same in every workspace holding the key."""
    hashed = tmp_path / "hashed.yaml"
    hashed.write_text(
        "id: hashed\nforce: West Mercia\npeople:\n  columns:\n    crime_ref: Ref\n"
        "    role: Role\n    person_key: {column: Person ID, pseudonymise: true}\n",
        encoding="utf-8",
    )
    declared = tmp_path / "declared.yaml"
    declared.write_text(
        "id: declared\nforce: West Mercia\npeople:\n  columns:\n    crime_ref: Ref\n"
        "    role: Role\n  identifiers:\n    local_id: Person ID\n"
        "  person_key_from: [local_id]\n",
        encoding="utf-8",
    )
    extract = _write(
        tmp_path / "people.csv", ["Ref", "Role", "Person ID"], [["R1", "victim", "P77"]]
    )
    found = []
    for name, mapping in (("one", hashed), ("two", hashed), ("three", declared)):
        ws = _workspace(tmp_path / name, f"file:{key_file}")
        ingest(ws, [extract], mappings=[mapping])
        found.append(_keys(ws)["R1"])
        ws.close()
    assert found[0] == found[1] == found[2]
    secret = parse_key(key_file.read_text(), "key")
    assert found[0] == hmac.new(secret, message({"local_id": "P77"}), hashlib.sha256).hexdigest()
    salted = _workspace(tmp_path / "salted")  # without the key: today's salted hash
    ingest(salted, [extract], mappings=[hashed])
    salt = (tmp_path / "salted" / ".salt").read_text().strip()
    assert _keys(salted)["R1"] == hashlib.sha256((salt + "P77").encode()).hexdigest()
    salted.close()


def test_a_key_file_inside_the_workspace_is_refused(tmp_path):
    root = tmp_path / "ws"
    _workspace(root).close()
    create_key_file(root / "partnership.key")
    with pytest.raises(InputError, match="inside the workspace"):
        read_key(f"file:{root / 'partnership.key'}", "partnership_key", root)


def test_every_identifier_and_rule_is_documented():
    from svduty.identity.normalise import IDENTIFIER_FIELDS, RULES

    doc = (Path(__file__).parents[1] / "docs" / "partner-extracts.md").read_text()
    for field in IDENTIFIER_FIELDS:
        assert f"| `{field.name}` | {field.kind} | {field.help} |" in doc
    for kind, rule in RULES.items():
        assert f"| {kind} | {rule} |" in doc


def test_mapping_identifiers_are_checked(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        MAPPING_A.replace("postcode: Postcode", "shoe_size: Shoes").replace(
            "person_key_from: [forename, surname, date_of_birth]",
            "person_key_from: [forename, nhs_number]",
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as raised:
        load_mapping(path)
    said = str(raised.value)
    assert "unknown identifier 'shoe_size'" in said
    assert "'nhs_number' is not among this part's identifiers" in said
    path.write_text(
        MAPPING_A.replace("    age: Age", "    age: Age\n    ethnicity: Surname"), encoding="utf-8"
    )
    with pytest.raises(InputError, match="'Surname' is also mapped to a canonical field"):
        load_mapping(path)
    no_key = MAPPING_A.replace("  person_key_from: [forename, surname, date_of_birth]\n", "")
    path.write_text(no_key, encoding="utf-8")
    with pytest.raises(InputError, match="'person_key_from' does not say which"):
        load_mapping(path)


# -- the store stays consistent with the batches -----------------------------------------------


def _involvements_per_batch(ws: Workspace) -> dict[int, int]:
    return dict(ws.con.execute("SELECT batch_id, count(*) FROM involvements GROUP BY 1").fetchall())


def test_repeated_ingest_and_a_batch_never_committed_leave_the_store_consistent(tmp_path, mappings):
    map_a, _ = mappings
    root = tmp_path / "ws"
    ws = _workspace(root)
    extract = agency_a(tmp_path / "a.csv")
    ingest(ws, [extract], mappings=[map_a])
    [again] = ingest(ws, [extract], mappings=[map_a])
    assert again.status == "already ingested"
    assert identifiers.rows_per_batch(ws) == _involvements_per_batch(ws) == {1: 3}
    ws.close()
    # what a writer killed between the two commits leaves: rows of a batch never committed
    con = duckdb.connect(":memory:")
    rows = con.sql(
        "SELECT 7 AS batch_id, 2::BIGINT AS source_line, 'Ghost' AS forename"
    ).to_arrow_reader()
    assert identifiers.store_batch(root, 7, rows) == 1
    said: list[str] = []
    ws = Workspace.open(root, say=said.append)
    assert said == [f"{root}: removed the identifiers of 1 record(s) of a batch never stored"]
    ws.close()
    check = duckdb.connect(str(root / identifiers.IDENTIFIERS_FILE), read_only=True)
    assert check.execute("SELECT DISTINCT batch_id FROM identifiers").fetchall() == [(1,)]
    check.close()


def test_a_killed_ingest_leaves_the_store_consistent(tmp_path, mappings):
    map_a, _ = mappings
    root = _with_agency_a(tmp_path, map_a, "small.csv")
    many = [
        (f"Quenbyra{i % 977}", f"Vellacourt{i % 1009}", date(1950 + i % 60, 1 + i % 12, 1), "")
        for i in range(400_000)
    ]
    big = agency_a(tmp_path / "big.csv", many)
    process = subprocess.Popen(
        [sys.executable, "-m", "svduty.cli", "ingest", "-w", str(root), str(big),
         "--mapping", str(map_a)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    line = process.stderr.readline()
    while line and "ingesting" not in line:
        line = process.stderr.readline()
    time.sleep(1.0)
    assert process.poll() is None, "the ingest finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    ws = Workspace.open(root, say=lambda _: None)
    assert identifiers.rows_per_batch(ws) == _involvements_per_batch(ws) == {1: 3}
    [report] = ingest(ws, [big], mappings=[map_a])
    assert report.rows_accepted == len(many)
    assert identifiers.rows_per_batch(ws) == _involvements_per_batch(ws)
    check = duckdb.connect(":memory:")
    check.execute(f"ATTACH '{root / identifiers.IDENTIFIERS_FILE}' AS ids (READ_ONLY)")
    stored = check.execute("SELECT DISTINCT batch_id FROM ids.identifiers").fetchall()
    assert {r[0] for r in stored} == set(ws.batch_ids)
    assert len(ws.batch_ids) == 2
    check.close()
    ws.close()
