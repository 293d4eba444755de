"""After an ingest, only the incidents it added are classified, and what is stored and summarised
is what classifying every incident again gives; anything the stored classification depends on
changing classifies every incident again."""

from __future__ import annotations

import json

from conftest import make_workspace
from partner_files import FORCE_MAPPING, write_force_extract
from test_classification import AGE_CASES, YOUTH

from svduty.definitions import load_definition
from svduty.definitions.classify import classify, clause_summary
from svduty.ingest import ingest
from svduty.workspace import Workspace

STORED = (
    "SELECT definition_id, definition_version, definition_sha256, batch_id, source_line, "
    "in_definition, clauses, unassessed FROM classifications ORDER BY ALL"
)


def _classified_now(ws: Workspace) -> int:
    """How many incidents the last classification classified, as its audit entry says."""
    log = ws.audit_log()
    parameters = log[log["action"] == "classify"].iloc[-1]["parameters"]
    if isinstance(parameters, str):
        parameters = json.loads(parameters)
    return int(parameters["classified_now"])


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert (a.incidents, a.in_definition) == (b.incidents, b.in_definition)
    assert a.clauses.to_dict("records") == b.clauses.to_dict("records")


def test_an_ingest_classifies_only_what_it_added(tmp_path, west_mercia):
    ws = make_workspace(tmp_path / "ws")
    open_data = load_definition("police-uk-open-data")  # by category: some in, some out
    first = ingest(ws, [west_mercia / "2024-01", west_mercia / "2024-02"])
    ws.classify(open_data, only_new=True)
    assert _classified_now(ws) == sum(r.rows_accepted for r in first) > 0
    added = ingest(ws, [west_mercia / "2024-03", west_mercia / "2018-03"])
    new = ws.classify(open_data, only_new=True)
    assert _classified_now(ws) == sum(r.rows_accepted for r in added) > 0
    kept = ws.con.execute(STORED).fetchall()

    again = ws.classify(open_data)  # every incident, from nothing kept
    assert _classified_now(ws) == again.incidents == new.incidents
    assert ws.con.execute(STORED).fetchall() == kept
    _same(new, again)
    _same(again, clause_summary(ws.store, open_data))  # what is stored, summarised afresh
    assert 0 < new.in_definition < new.incidents

    nothing = ws.classify(open_data, only_new=True)
    assert _classified_now(ws) == 0
    _same(nothing, again)
    ws.close()


def test_people_added_to_earlier_crimes_classify_every_incident_again(tmp_path):
    """An age rule reads the people of each crime: people of an old crime can put it in."""
    ws = make_workspace(tmp_path / "ws")
    definition = load_definition(YOUTH)
    crimes = [{"crime_ref": ref, "offence_code": code} for ref, code, *_ in AGE_CASES]
    people = [
        {"crime_ref": ref, "role": role, "age": age, "person_key": f"{ref}-{i}"}
        for ref, _, persons, *_ in AGE_CASES
        for i, (role, age) in enumerate(persons)
    ]
    ingest(ws, write_force_extract(tmp_path / "a", crimes, people), mappings=[FORCE_MAPPING])
    before = ws.classify(definition, only_new=True)
    young = [{"crime_ref": "Y3", "role": "victim", "age": 19, "person_key": "Y3-young"}]
    ingest(ws, write_force_extract(tmp_path / "b", [], young), mappings=[FORCE_MAPPING])
    after = ws.classify(definition, only_new=True)
    assert _classified_now(ws) == len(crimes)
    assert after.in_definition == before.in_definition + 1
    [(inside,)] = ws.con.execute(
        "SELECT c.in_definition FROM classifications c JOIN incidents i "
        "USING (batch_id, source_line) WHERE i.crime_ref = 'Y3'"
    ).fetchall()
    assert inside
    ws.close()


def test_a_classification_stored_by_other_means_is_not_trusted(tmp_path, west_mercia):
    """The note of what is classified names the stored version: rows written without it (or a
    note left by a write that never finished) classify every incident again."""
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, [west_mercia / "2024-01"])
    ws.classify(only_new=True)
    ingest(ws, [west_mercia / "2024-02"])
    definition = load_definition(ws.settings.definition)
    classify(ws.store, definition)  # rows replaced, the note left as it was
    ws.classify(only_new=True)
    [(incidents,)] = ws.con.execute("SELECT count(*) FROM incidents").fetchall()
    assert _classified_now(ws) == incidents
    ws.close()
