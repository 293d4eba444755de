"""Definition files: shipped ones validate, broken ones report every problem with its line, the
Python API says the same as YAML, and diff counts agree with an independent count."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from partner_files import FORCE_MAPPING, random_extract, write_force_extract

from svduty.definitions import load_definition, shipped_definitions
from svduty.definitions.classify import diff
from svduty.definitions.model import Clause, Definition
from svduty.definitions.rules import Markers, OffenceCodes, OffenceSubgroups, Statutes
from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.reference import data_path


@pytest.mark.parametrize(
    "name",
    ["west-mercia-2022", "home-office-knife-sharp", "home-office-firearm", "police-uk-open-data"],
)
def test_shipped_definitions_validate_and_name_their_source(name):
    definition = load_definition(name)
    assert definition.source and definition.description
    assert len({c.id for c in definition.clauses}) == len(definition.clauses)
    assert name in shipped_definitions()


def test_open_data_definition_says_it_over_counts():
    definition = load_definition("police-uk-open-data")
    assert "OVER-COUNTS" in definition.caveat
    assert "cannot separate" in definition.source


BROKEN = """\
id: Broken Definition
name: broken
version: 1
clauses:
  - id: one
    name: Unknown code
    offence_codes: [8N, 8Z]
  - id: two
    name: Unknown marker
    markers: {any: [knife, machete]}
  - id: three
    name: Empty clause
  - id: one
    name: Duplicate id
    offence_groups: [Violence against the person, Violence against people]
  - id: five
    name: Bad age
    victim_age: {min: 30, max: 20}
    colour: red
"""


def test_broken_definition_reports_every_problem_with_its_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(InputError) as caught:
        load_definition(path)
    message = str(caught.value)
    expected = [
        (1, "id must be lower case"),
        (1, "'source' is required"),
        (7, "unknown offence code '8Z'"),
        (10, "unknown marker 'machete'"),
        (11, "clause 'three' is empty"),
        (13, "clause id 'one' is used twice"),
        (15, "unknown offence group 'Violence against people'"),
        (18, "victim_age: need 0 <= min <= max <= 120"),
        (19, "unknown rule 'colour'"),
    ]
    for line, words in expected:
        assert f"{path}:{line}: " in message and words in message, (line, words)
    assert f"{len(expected)} problem(s)" in message


def test_python_api_and_yaml_agree():
    built = Definition(
        id="west-mercia-2022",
        name="West Mercia serious violence (2022)",
        version="2022.1",
        source="x",
        clauses=(
            Clause(
                "serious_injury",
                "Violence with injury at or above the s20 GBH threshold",
                alternatives=(
                    (OffenceCodes(("5D", "5E")),),
                    (OffenceCodes(("8N", "8P", "8S")), Statutes(("s18", "s20"))),
                ),
            ),
        ),
    )
    shipped = load_definition("west-mercia-2022")
    assert built.clauses[0].to_yaml() == shipped.clauses[0].to_yaml()
    again = load_definition(shipped.to_yaml())
    assert again.sha256 == shipped.sha256
    assert again.clauses == shipped.clauses


def _independent_in(
    definition: Definition, crime: dict, subgroup: dict[str, str], group: dict[str, str]
) -> bool:
    """Plain-Python reading of the rules the two compared definitions use."""
    import re

    def holds(rule) -> bool | None:
        code = crime["offence_code"]
        if isinstance(rule, OffenceCodes):
            return code in rule.values
        if isinstance(rule, OffenceSubgroups):
            return subgroup.get(code) in rule.values
        if rule.key == "offence_groups":
            return group.get(code) in rule.values
        if isinstance(rule, Statutes):
            if not crime.get("statute"):
                return None
            words = "|".join(rule.sections)
            return (
                re.search(rf"(^|[^a-z0-9])({words})([^a-z0-9]|$)", crime["statute"].lower())
                is not None
            )
        if isinstance(rule, Markers):
            present = set(crime.get("markers", ()))
            ok = True
            if rule.any:
                ok &= bool(present & set(rule.any))
            if rule.all:
                ok &= set(rule.all) <= present
            if rule.none:
                ok &= not present & set(rule.none)
            return ok
        raise AssertionError(rule)

    def all_true(rules) -> bool | None:
        values = [holds(r) for r in rules]
        if False in values:
            return False
        return None if None in values else True

    for clause in definition.clauses:
        parts = [all_true(clause.rules)] if clause.rules else []
        if clause.alternatives:
            alts = [all_true(g) for g in clause.alternatives]
            parts.append(True if True in alts else (None if None in alts else False))
        if clause.exclude:
            excluded = all_true(clause.exclude)
            parts.append(None if excluded is None else not excluded)
        if all(p is True for p in parts):
            return True
    return False


def test_diff_counts_agree_with_an_independent_count(tmp_path, workspace):
    crimes, people = random_extract(seed=7, n=3000)
    ingest(workspace, write_force_extract(tmp_path, crimes, people), mappings=[FORCE_MAPPING])
    first = load_definition("west-mercia-2022")
    second_yaml = first.to_yaml()
    second_yaml["id"], second_yaml["version"] = "west-mercia-revised", "2025.1"
    second_yaml["clauses"] = [c for c in second_yaml["clauses"] if c["id"] != "county_lines"]
    second_yaml["clauses"][0] = {
        "id": "serious_injury",
        "name": "GBH with intent only",
        "offence_codes": ["5D", "5E"],
    }
    second = load_definition(second_yaml)
    result = diff(workspace.store, first, second)
    changes = dict(zip(result.clauses["clause"], result.clauses["change"], strict=True))
    assert changes["serious_injury"] == "changed"
    assert changes["county_lines"] == "removed"
    assert changes["robbery"] == "same"
    with data_path("offences.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    subgroup = {r["offence_code"]: r["offence_subgroup"] for r in rows}
    group = {r["offence_code"]: r["offence_group"] for r in rows}
    in_first = [_independent_in(first, c, subgroup, group) for c in crimes]
    in_second = [_independent_in(second, c, subgroup, group) for c in crimes]
    expected_first_only = sum(a and not b for a, b in zip(in_first, in_second, strict=True))
    expected_second_only = sum(b and not a for a, b in zip(in_first, in_second, strict=True))
    assert result.counts["first_only"] == expected_first_only > 0
    assert result.counts["second_only"] == expected_second_only
    assert result.counts["in_both"] == sum(
        a and b for a, b in zip(in_first, in_second, strict=True)
    )
    assert result.counts["incidents"] == 3000


def test_definition_from_a_file_path(tmp_path):
    text = yaml.safe_dump(load_definition("home-office-firearm").to_yaml())
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    assert load_definition(path).sha256 == load_definition("home-office-firearm").sha256
    with pytest.raises(InputError, match="not a shipped id"):
        load_definition(Path(tmp_path / "absent.yaml"))


def test_diff_between_two_shipped_definitions(tmp_path, workspace):
    crimes, people = random_extract(seed=8, n=2500)
    ingest(workspace, write_force_extract(tmp_path, crimes, people), mappings=[FORCE_MAPPING])
    first, second = load_definition("west-mercia-2022"), load_definition("home-office-knife-sharp")
    result = diff(workspace.store, first, second)
    with data_path("offences.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    subgroup = {r["offence_code"]: r["offence_subgroup"] for r in rows}
    group = {r["offence_code"]: r["offence_group"] for r in rows}
    a = [_independent_in(first, c, subgroup, group) for c in crimes]
    b = [_independent_in(second, c, subgroup, group) for c in crimes]
    assert result.counts["first_only"] == sum(x and not y for x, y in zip(a, b, strict=True))
    assert result.counts["second_only"] == sum(y and not x for x, y in zip(a, b, strict=True))
    assert result.counts["change"] == result.counts["first_only"] + result.counts["second_only"]
    assert result.counts["change"] > 0
    changes = dict(zip(result.clauses["clause"], result.clauses["change"], strict=True))
    assert changes["robbery"] == "changed"  # same id, the knife collection adds the marker
    assert changes["county_lines"] == "removed" and changes["rape"] == "added"
