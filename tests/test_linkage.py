"""Probabilistic linkage: presets, the FEBRL4 yardstick, and linkage runs on a workspace
(records exact keys miss joined, nothing identifying in the linkage store, analysts only).

Every person here is made up in this file from invented syllables (names no register holds;
postcodes in the non-existent QX area); FEBRL4 is synthetic. No real personal data.
Sections: presets -> FEBRL4 -> a workspace's runs -> what the store holds -> who may read."""

from __future__ import annotations

import csv
import json
import os
import random
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner, Result

from svduty.cli import app
from svduty.errors import InputError, WorkspaceError
from svduty.ingest import ingest
from svduty.linkage import store
from svduty.linkage.bench import bench_febrl
from svduty.linkage.presets import load_preset, shipped
from svduty.linkage.records import PREPARED_COLUMNS
from svduty.settings import Settings
from svduty.web.accounts import add_user
from svduty.workspace import Workspace

# -- presets -----------------------------------------------------------------------------------


def test_every_shipped_preset_loads_and_states_its_threshold():
    found = shipped()
    assert {"multi-agency", "febrl4"} <= set(found)
    for name in found:
        preset = load_preset(name)
        assert preset.id == name
        assert len(preset.threshold_why) > 40
        if name != "febrl4":  # workspace presets name prepared identifier columns only
            assert preset.columns <= set(PREPARED_COLUMNS), name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("link_type: link_all\n", "link_type 'link_all': one of link_only"),
        ("threshold: {match_weight: 8}\n", "threshold: say why in threshold.why"),
        ("threshold: {probability: 1.5, why: x}\n", "threshold probability 1.5: between 0 and 1"),
        ("comparisons: [{kind: soundex, column: surname}]\n", "kind one of forename_surname"),
        ("blocking: [surname]\n", "blocking[0]: a list of column names"),
        ("colour: red\n", "unknown key 'colour'"),
    ],
)
def test_a_wrong_preset_is_refused_in_one_line_naming_file_and_line(tmp_path, change, message):
    text = load_preset("multi-agency").path.read_text(encoding="utf-8")
    key = change.split(":")[0]
    kept = []
    skipping = False
    for line in text.splitlines(keepends=True):  # drop the key's block, then append the change
        if line.startswith(f"{key}:"):
            skipping = True
            continue
        if skipping and (line.startswith(" ") or line.startswith("-")):
            continue
        skipping = False
        kept.append(line)
    path = tmp_path / "mine.yaml"
    path.write_text("".join(kept) + change, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_preset(str(path))
    said = str(raised.value)
    assert message in said and f"{path}:" in said and "\n" not in said


def test_an_unknown_preset_names_the_shipped_ones():
    with pytest.raises(InputError, match=r"no preset 'multi'; shipped presets: .*multi-agency"):
        load_preset("multi")


# -- FEBRL4 ------------------------------------------------------------------------------------


def test_febrl4_through_svduty_reaches_f1_of_095():
    """All 5,000 + 5,000 records, scored against FEBRL4's 5,000 true links."""
    score = bench_febrl()
    assert score.records == 10_000 and score.true_links == 5_000
    assert score.f1 >= 0.95, (score.precision, score.recall)
    assert score.precision >= 0.95 and score.recall >= 0.95


def test_training_estimates_date_of_birth_from_true_pairs_not_households():
    """Blocking EM on surname and postcode district must hold the postcode comparison fixed:
    left free, it let households (one surname, one postcode) stand in for the match class and
    the m of an exact date of birth fell far below the generator's rate of agreement."""
    from dataclasses import replace

    from svduty.linkage.bench import _identity_tables
    from svduty.linkage.model import backend, train
    from svduty.linkage.records import prepare
    from svduty.synth.identities import DOB_SWAP_RATE

    tables, _ = _identity_tables(20_000, seed=3)
    prepared = {name: prepare(frame) for name, frame in tables.items()}
    preset = replace(load_preset("multi-agency"), link_type="link_only")
    used = preset.keeping({str(c) for t in prepared.values() for c in t if t[c].notna().any()})
    with backend("duckdb") as api:
        model = train(api, prepared, used, lambda line: None)
    [dob] = [c for c in model["comparisons"] if c["output_column_name"] == "date_of_birth"]
    levels = dob["comparison_levels"]
    m = {level["label_for_charts"]: level.get("m_probability") for level in levels}
    # a true pair's dates agree unless either record swapped day and month (missing is null)
    expected = (1 - DOB_SWAP_RATE) ** 2
    assert m["Exact match"] == pytest.approx(expected, abs=0.08)


# -- a workspace's runs ------------------------------------------------------------------------

SYLLABLES = ["bra", "nok", "vel", "qua", "ths", "zor", "mip", "lud", "ferr", "os", "ki", "tam"]
MAPPING = """
id: {id}
force: West Mercia
people:
  columns:
    crime_ref: Ref
    role: {{column: Role, values: {{V: victim, S: suspect}}}}
    age: Age
  identifiers:
    forename: Forename
    surname: Surname
    date_of_birth: {{column: DOB, format: "{fmt}"}}
    sex: Sex
    postcode: Postcode
  person_key_from: [forename, surname, date_of_birth]
"""
HEADER = ["Ref", "Role", "Forename", "Surname", "DOB", "Sex", "Postcode", "Age"]


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def _people(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    made, seen = [], set()
    while len(made) < count:
        person = {
            "forename": _name(rng, 2),
            "surname": _name(rng, 3),
            "dob": date(1970, 1, 1) + timedelta(days=rng.randrange(40 * 365)),
            "sex": rng.choice("MF"),
            "postcode": f"QX{rng.randrange(1, 9)} {rng.randrange(1, 9)}{rng.choice('ABDEFG')}"
            f"{rng.choice('HJLNPQ')}",
        }
        if (person["forename"], person["surname"]) not in seen:
            seen.add((person["forename"], person["surname"]))
            made.append(person)
    return made


def _typo(person: dict, kind: str) -> dict:
    """The person as another agency wrote them: a letter pair swapped in the surname, day and
    month transposed, or a changed surname; postcode and sex as before."""
    changed = dict(person)
    if kind == "surname typo":
        s = person["surname"]
        changed["surname"] = s[0] + s[2] + s[1] + s[3:]
    elif kind == "day and month":
        dob = person["dob"]
        if dob.day <= 12 and dob.day != dob.month:
            changed["dob"] = date(dob.year, dob.day, dob.month)
        else:
            changed["dob"] = dob + timedelta(days=1)
    elif kind == "new surname":
        changed["surname"] = person["surname"][::-1].capitalize()
    return changed


KINDS_OF_TYPO = ("surname typo", "day and month", "new surname")


def _extracts(tmp_path: Path) -> tuple[list[Path], list[Path], dict[str, int], list[dict]]:
    """Agency A holds 120 people; agency B holds the first 60 of them, 30 written differently
    (so their exact keys differ), and 20 people of its own. Returns files, mappings, each crime
    reference's person index, and the people."""
    people = _people(140)
    person_of: dict[str, int] = {}
    rows_a, rows_b = [], []
    for i, p in enumerate(people[:120]):
        ref = f"A{i:04d}"
        person_of[ref] = i
        rows_a.append(
            [ref, "V", p["forename"], p["surname"], p["dob"].strftime("%d/%m/%Y"), p["sex"],
             p["postcode"], "30"]
        )  # fmt: skip
    b_people = list(range(60)) + list(range(120, 140))
    for j, i in enumerate(b_people):
        p = people[i]
        if i < 30:
            p = _typo(p, KINDS_OF_TYPO[i % 3])
        ref = f"B{j:04d}"
        person_of[ref] = i
        rows_b.append(
            [ref, "S", p["forename"].upper(), p["surname"].upper(), p["dob"].isoformat(),
             p["sex"], p["postcode"].replace(" ", ""), "31"]
        )  # fmt: skip
    files, maps = [], []
    for name, rows, fmt in (("a", rows_a, "%d/%m/%Y"), ("b", rows_b, "%Y-%m-%d")):
        path = tmp_path / f"{name}-people.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
        mapping = tmp_path / f"mapping-{name}.yaml"
        mapping.write_text(MAPPING.format(id=f"agency-{name}", fmt=fmt), encoding="utf-8")
        files.append(path)
        maps.append(mapping)
    return files, maps, person_of, people


def _svduty(*args: str, actor: str) -> Result:
    """The command line, run in this process as `actor`: the operating-system account svduty
    reads is replaced, as if another account ran it (setting LOGNAME would not do)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("svduty.workspace.default_actor", lambda: actor)
        return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def linked(tmp_path_factory) -> tuple[Path, dict[str, int], list[dict]]:
    """A workspace of two agencies' extracts, linked by the command line (train, predict,
    cluster)."""
    tmp_path = tmp_path_factory.mktemp("linked")
    root = tmp_path / "ws"
    files, maps, person_of, people = _extracts(tmp_path)
    ws = Workspace.init(root, Settings(area="Test", forces=("West Mercia",)))
    for path, mapping in zip(files, maps, strict=True):
        ingest(ws, [path], mappings=[mapping])
    ws.close()
    add_user(root, "ana", "a long passphrase 1", "analyst")
    add_user(root, "pat", "a long passphrase 2", "partner")
    for step in ("train", "predict", "cluster"):
        done = _svduty("link", step, "-w", str(root), actor="ana")
        assert done.exit_code == 0, done.output
    return root, person_of, people


def _clusters(root: Path) -> dict[str, str]:
    """Crime reference -> cluster id, read as an analyst."""
    ws = Workspace.open(root, read_only=True, actor="ana")
    run = store.latest_run(ws)
    assert run is not None
    found = store.read_clusters(ws, run.run_id)
    refs = ws.con.execute("SELECT batch_id, source_line, crime_ref FROM involvements").fetchall()
    ws.close()
    ref_of = {(b, line): ref for b, line, ref in refs}
    return {
        ref_of[(b, line)]: c
        for c, b, line in zip(
            found["cluster_id"], found["batch_id"], found["source_line"], strict=True
        )
    }


def test_clusters_join_records_that_exact_keys_missed(linked):
    root, person_of, _ = linked
    ws = Workspace.open(root, read_only=True)
    keys = dict(ws.con.execute("SELECT crime_ref, person_key FROM involvements").fetchall())
    ws.close()
    cluster_of = _clusters(root)
    assert set(cluster_of) == set(person_of)  # every record has a cluster
    same_person = [
        (a, b) for a in person_of for b in person_of
        if a < b and a.startswith("A") and b.startswith("B") and person_of[a] == person_of[b]
    ]  # fmt: skip
    missed = [(a, b) for a, b in same_person if keys[a] != keys[b]]
    assert len(same_person) == 60 and len(missed) == 30  # the typos defeat the exact key
    joined = [(a, b) for a, b in missed if cluster_of[a] == cluster_of[b]]
    assert len(joined) >= 27, sorted(set(missed) - set(joined))  # at least nine in ten
    assert all(cluster_of[a] == cluster_of[b] for a, b in same_person if keys[a] == keys[b])
    # and no two people are merged
    people_in = {}
    for ref, cluster in cluster_of.items():
        people_in.setdefault(cluster, set()).add(person_of[ref])
    assert all(len(found) == 1 for found in people_in.values())


def test_the_run_records_its_steps_and_data_version(linked):
    root, person_of, _ = linked
    ws = Workspace.open(root, read_only=True, actor="ana")
    run = store.latest_run(ws)
    ws.close()
    assert run is not None and run.status == "clustered" and run.mode == "plain"
    assert run.preset == "multi-agency" and run.created_by == "ana"
    assert run.records == len(person_of)
    assert json.loads(run.sources) == ["involvements"]
    assert run.threshold_match_weight == load_preset("multi-agency").threshold_match_weight
    assert run.clusters == len(set(person_of.values()))  # one cluster per person
    model = json.loads(run.model_json)
    assert model["probability_two_random_records_match"] > 0
    with duckdb.connect(str(root / store.LINKAGE_FILE), read_only=True) as con:
        [(pairs,)] = con.execute(
            "SELECT count(*) FROM pairs WHERE run_id = ?", [run.run_id]
        ).fetchall()
    assert pairs == run.pairs and pairs >= 57


def _needles(people: list[dict]) -> list[str]:
    found = set()
    for p in people:
        for variant in (p, *(_typo(p, k) for k in KINDS_OF_TYPO)):
            found |= {variant["forename"], variant["surname"]}
            dob = variant["dob"]
            found |= {dob.isoformat(), dob.strftime("%d/%m/%Y"), dob.strftime("%Y%m%d")}
            found |= {variant["postcode"], variant["postcode"].replace(" ", "")}
    return sorted(found)


def test_no_identifier_value_is_in_the_linkage_store(linked):
    root, _, people = linked
    needles = [n.lower() for n in _needles(people)]
    with duckdb.connect(str(root / store.LINKAGE_FILE), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        assert {"runs", "pairs", "clusters"} <= set(tables)
        for table in tables:
            rows = con.execute(f'SELECT CAST(to_json(t) AS VARCHAR) FROM "{table}" t').fetchall()
            text = "\n".join(r[0] for r in rows).lower()
            assert not [n for n in needles if n in text], table


def test_a_partner_is_refused_linkage_and_the_refusals_are_audited(linked):
    root, _, _ = linked
    done = _svduty("link", "train", "-w", str(root), actor="pat")
    assert isinstance(done.exception, WorkspaceError)  # said in one line by `svduty`'s main
    said = str(done.exception)
    assert said.startswith("identifiers are for analysts: 'pat' is a partner") and "\n" not in said
    ws = Workspace.open(root, read_only=True, actor="pat")
    run = store.latest_run(ws)
    assert run is not None
    with pytest.raises(WorkspaceError, match="linked records are for analysts"):
        store.read_clusters(ws, run.run_id)
    log = ws.audit_log()
    ws.close()
    refused = log[(log["actor"] == "pat")]
    said = {
        (a, json.loads(p)["allowed"])
        for a, p in zip(refused["action"], refused["parameters"], strict=True)
    }
    assert said == {("read identifiers", False), ("read linked records", False)}


def test_presets_take_a_workspace_as_every_link_command_does(linked, tmp_path):
    root, _, _ = linked
    listed = _svduty("link", "presets", "-w", str(root), actor="pat")
    assert listed.exit_code == 0, listed.output
    assert [line.split(":")[0] for line in listed.output.splitlines() if line[:1] != " "] == sorted(
        shipped()
    )
    refused = _svduty("link", "presets", "--workspace", str(tmp_path), actor="pat")
    assert isinstance(refused.exception, WorkspaceError)
    assert f"{tmp_path} is not an svduty workspace" in str(refused.exception)


def test_the_report_writes_splinks_charts_and_audits_the_export(linked, tmp_path):
    root, person_of, _ = linked
    out = tmp_path / "restricted"
    done = _svduty("link", "report", "-w", str(root), "--out", str(out), actor="ana")
    assert done.exit_code == 0, done.output
    assert "waterfall-HOLDS-IDENTIFIERS.html (HOLDS IDENTIFIERS)" in done.output
    names = {p.name for p in out.iterdir()}
    assert names == {
        "summary.json", "summary.txt", "match-weights.html", "m-u-parameters.html",
        "waterfall-HOLDS-IDENTIFIERS.html",
    }  # fmt: skip
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    people = len(set(person_of.values()))
    assert summary["records_per_source"] == {"involvements": len(person_of)}
    assert summary["clusters"] == people
    assert summary["cluster_sizes"] == {
        "1": 2 * people - len(person_of),
        "2": len(person_of) - people,
    }
    ws = Workspace.open(root, read_only=True)
    log = ws.audit_log()
    ws.close()
    [export] = log[log["action"] == "export linkage report"]["parameters"].map(json.loads)
    assert export["allowed"] and export["holds_identifiers"] and export["folder"] == str(out)
    # the restricted files, and the chart holding identifiers, are their owner's alone
    for path in (root / "identifiers.duckdb", root / "linkage.duckdb",
                 out / "waterfall-HOLDS-IDENTIFIERS.html"):  # fmt: skip
        assert path.stat().st_mode & 0o077 == 0, path


def test_the_actor_is_the_account_running_the_command_not_what_logname_says(monkeypatch):
    import pwd

    from svduty.workspace import default_actor

    account = pwd.getpwuid(os.geteuid()).pw_name
    monkeypatch.setenv("LOGNAME", account + "-someone-else")
    monkeypatch.setenv("USER", account + "-someone-else")
    assert default_actor() == account
