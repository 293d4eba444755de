"""Classification and explanation of hand-built edge cases (tests/definitions/edge_cases.yaml),
ingested through the real force-extract mapping and the police.uk adapter."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from partner_files import FORCE_MAPPING, write_force_extract

from svduty.definitions import load_definition, shipped_definitions
from svduty.definitions.classify import classify, explain
from svduty.ingest import ingest

CASES = yaml.safe_load((Path(__file__).parent / "definitions" / "edge_cases.yaml").read_text())
DEFINITIONS = list(shipped_definitions())
STREET_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
    "LSOA name,Crime type,Last outcome category,Context"
)


@pytest.fixture(scope="module")
def classified(tmp_path_factory):
    from conftest import make_workspace

    root = tmp_path_factory.mktemp("cases")
    crimes = [{"crime_ref": case["id"], **case["crime"]} for case in CASES if "crime" in case]
    files = write_force_extract(root / "extract", crimes, [])
    street = root / "2025-03-west-mercia-street.csv"
    street.write_text(
        STREET_HEADER
        + "\n"
        + "".join(
            f"{case['id']},2025-03,West Mercia Police,West Mercia Police,-2.2,52.19,"
            f"On or near High Street,E01032383,Worcester 010A,{case['police_uk']['category']},,\n"
            for case in CASES
            if "police_uk" in case
        )
    )
    ws = make_workspace(root / "ws")
    reports = ingest(ws, [*files, street], mappings=[FORCE_MAPPING])
    assert sum(r.rows_rejected for r in reports) == 0
    results = {}
    for name in DEFINITIONS:
        definition = load_definition(name)
        classify(ws.store, definition)
        rows = ws.con.execute(
            "SELECT i.crime_ref, c.in_definition, c.clauses, c.unassessed FROM classifications c "
            "JOIN incidents i USING (batch_id, source_line) WHERE c.definition_id = ?",
            [name],
        ).fetchall()
        results[name] = {
            ref: (inside, _split(clauses), _split(unassessed))
            for ref, inside, clauses, unassessed in rows
        }
    yield ws, results
    ws.close()


def _split(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.parametrize("definition", DEFINITIONS)
def test_edge_case(classified, case, definition):
    _, results = classified
    want = case["expect"].get(definition, {"in": False, "clauses": [], "unassessed": []})
    inside, clauses, unassessed = results[definition][case["id"]]
    assert inside is want["in"]
    assert clauses == want.get("clauses", clauses)
    assert unassessed == want.get("unassessed", [])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_explanation_agrees_with_classification(classified, case):
    ws, results = classified
    for definition in DEFINITIONS:
        explanation = explain(ws.store, load_definition(definition), case["id"])
        inside, clauses, unassessed = results[definition][case["id"]]
        assert explanation.in_definition is inside
        assert [c.clause.id for c in explanation.clauses if c.verdict is True] == clauses
        assert [c.clause.id for c in explanation.clauses if c.verdict is None] == unassessed
        for clause in explanation.clauses:
            assert clause.rules, "every clause shows its rules"


def test_explanation_shows_the_values_read(classified):
    ws, _ = classified
    result = explain(ws.store, load_definition("west-mercia-2022"), "s20-gbh")
    serious = result.clauses[0]
    assert serious.clause.id == "serious_injury" and serious.verdict is True
    by_rule = {r.rule: r for r in serious.rules}
    assert by_rule["any_of[2] statutes: ['s18', 's20']"].values == {"statute": "s20 OAPA 1861"}
    assert by_rule["any_of[1] offence_codes: ['5D', '5E']"].verdict is False


YOUTH = {
    "id": "youth-violence",
    "name": "Youth violence",
    "version": "1",
    "source": "test definition",
    "clauses": [
        {
            "id": "young_victim",
            "name": "Violence with injury, victim under 25",
            "offence_subgroups": ["Violence with injury"],
            "victim_age": {"max": 24},
        },
        {
            "id": "young_suspect",
            "name": "Robbery, suspect aged 10 to 17",
            "offence_codes": ["34A", "34B"],
            "suspect_age": {"min": 10, "max": 17},
        },
    ],
}
AGE_CASES = [
    # crime, people (role, age), expected in, clauses, unassessed. A clause whose offence rule
    # is false is false whatever the ages: false AND unknown is false.
    ("Y1", "8N", [("victim", 19)], True, ["young_victim"], []),
    ("Y2", "8N", [("victim", 40), ("victim", 22)], True, ["young_victim"], []),
    ("Y3", "8N", [("victim", 40)], False, [], []),
    ("Y4", "8N", [("victim", None)], False, [], ["young_victim"]),
    ("Y5", "8N", [("suspect", 15)], False, [], ["young_victim"]),
    ("Y6", "34B", [("suspect", 15), ("victim", 70)], True, ["young_suspect"], []),
    ("Y7", "34B", [("suspect", 18)], False, [], []),
    ("Y8", "105A", [], False, [], []),
]


def test_age_rules_read_the_people_in_each_crime(tmp_path):
    from conftest import make_workspace

    crimes = [{"crime_ref": ref, "offence_code": code} for ref, code, *_ in AGE_CASES]
    people = [
        {"crime_ref": ref, "role": role, "age": age, "person_key": f"{ref}-{i}"}
        for ref, _, persons, *_ in AGE_CASES
        for i, (role, age) in enumerate(persons)
    ]
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, write_force_extract(tmp_path / "x", crimes, people), mappings=[FORCE_MAPPING])
    definition = load_definition(YOUTH)
    classify(ws.store, definition)
    got = {
        ref: (inside, _split(c), _split(u))
        for ref, inside, c, u in ws.con.execute(
            "SELECT i.crime_ref, c.in_definition, c.clauses, c.unassessed FROM classifications c "
            "JOIN incidents i USING (batch_id, source_line)"
        ).fetchall()
    }
    for ref, _, _, inside, clauses, unassessed in AGE_CASES:
        assert got[ref] == (inside, clauses, unassessed), ref
    ws.close()
