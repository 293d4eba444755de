"""Definitions from YAML: validated on load, every problem reported at once with its line."""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from svduty.definitions.model import Clause, Definition
from svduty.definitions.rules import (
    RULES,
    Categories,
    LocationTypes,
    Markers,
    OffenceCodes,
    OffenceGroups,
    OffenceSubgroups,
    PersonAge,
    Rule,
    Statutes,
)
from svduty.errors import InputError
from svduty.reference import CATEGORIES, LEGACY_CATEGORIES, data_path
from svduty.vocabulary import LOCATION_TYPES, MARKERS
from svduty.yamlfile import Key, Problems, load_located

LEGACY_OFFENCE_CODES = (
    "5", "5A", "5B", "5C", "8A", "8D", "8F", "8G", "8H", "8J", "8K", "8L", "8M", "8Q", "8R",
    "17", "19A", "19B", "20",
)  # fmt: skip
"""Codes that records may still carry but the current tables do not list (domain notes,
section 1.3); accepted in definitions so older extracts can be classified."""

_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_TOP = {"id", "name", "version", "source", "description", "caveat", "area", "clauses"}
_CLAUSE = {"id", "name", "note", "any_of", "exclude", *RULES}


@cache
def _reference() -> dict[str, set[str]]:
    with data_path("offences.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "codes": {r["offence_code"] for r in rows} | set(LEGACY_OFFENCE_CODES),
        "groups": {r["offence_group"] for r in rows},
        "subgroups": {r["offence_subgroup"] for r in rows},
    }


def shipped_definitions() -> dict[str, Path]:
    folder = Path(str(resources.files("svduty.definitions") / "data"))
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def load_definition(spec: str | Path | dict[str, Any] | Definition) -> Definition:
    """A definition from a shipped id, a YAML path, a dict or an object (returned as is)."""
    if isinstance(spec, Definition):
        return spec
    if isinstance(spec, dict):
        from svduty.yamlfile import Located

        located = Located(Path("<dict>"), spec, {})
        return _build(located)
    shipped = shipped_definitions()
    if isinstance(spec, str) and spec in shipped:
        path = shipped[spec]
    else:
        path = Path(spec)
        if not path.exists():
            raise InputError(
                f"no definition {str(spec)!r}: not a shipped id ({', '.join(shipped)}) "
                "and no such file"
            )
    return _build(load_located(path))


def _build(located: Any) -> Definition:
    problems = Problems(located)
    data = located.data
    if not isinstance(data, dict):
        problems.add((), "a definition is a YAML mapping with id, name, version, source, clauses")
        problems.raise_if_any("definition")
    for key in data:
        if key not in _TOP:
            problems.add((key,), f"unknown key {key!r}; a definition has {', '.join(sorted(_TOP))}")
    for key in ("id", "name", "version", "source"):
        if data.get(key) in (None, ""):
            problems.add((key,) if key in data else (), f"{key!r} is required")
    if isinstance(data.get("id"), str) and not _ID.fullmatch(data["id"]):
        problems.add(("id",), "id must be lower case letters, digits, '-' or '_'")
    raw_clauses = data.get("clauses")
    clauses: list[Clause] = []
    if not isinstance(raw_clauses, list) or not raw_clauses:
        problems.add(("clauses",), "'clauses' must be a non-empty list")
    else:
        seen: set[str] = set()
        for index, raw in enumerate(raw_clauses):
            clause = _clause(raw, ("clauses", index), problems)
            if clause is None:
                continue
            if clause.id in seen:
                problems.add(("clauses", index, "id"), f"clause id {clause.id!r} is used twice")
            seen.add(clause.id)
            clauses.append(clause)
    problems.raise_if_any("definition")
    return Definition(
        id=str(data["id"]),
        name=str(data["name"]),
        version=str(data["version"]),
        source=str(data["source"]).strip(),
        description=str(data.get("description", "")).strip(),
        caveat=str(data.get("caveat", "")).strip(),
        area=str(data.get("area", "")).strip(),
        clauses=tuple(clauses),
        extra={"path": str(located.path)},
    )


def _clause(raw: Any, where: Key, problems: Problems) -> Clause | None:
    if not isinstance(raw, dict):
        problems.add(where, "a clause is a mapping with id, name and rules")
        return None
    for key in raw:
        if key not in _CLAUSE:
            problems.add(
                (*where, key),
                f"unknown rule {key!r}; rules are {', '.join(RULES)}, any_of, exclude",
            )
    for key in ("id", "name"):
        if not raw.get(key):
            problems.add(where, f"clause {key!r} is required")
    if raw.get("id") and not _ID.fullmatch(str(raw["id"])):
        problems.add((*where, "id"), "clause id must be lower case letters, digits, '-' or '_'")
    rules = parse_rules(raw, where, problems)
    alternatives: list[tuple[Rule, ...]] = []
    if "any_of" in raw:
        groups = raw["any_of"]
        if not isinstance(groups, list) or not groups:
            problems.add((*where, "any_of"), "'any_of' is a non-empty list of rule groups")
        else:
            for i, group in enumerate(groups):
                found = (
                    parse_rules(group, (*where, "any_of", i), problems)
                    if isinstance(group, dict)
                    else []
                )
                if not found:
                    problems.add((*where, "any_of", i), "an any_of group needs at least one rule")
                alternatives.append(tuple(found))
    exclude: list[Rule] = []
    if "exclude" in raw:
        if isinstance(raw["exclude"], dict):
            exclude = parse_rules(raw["exclude"], (*where, "exclude"), problems)
        if not exclude:
            problems.add((*where, "exclude"), "'exclude' needs at least one rule")
    if not any(key in RULES or key == "any_of" for key in raw):
        problems.add(where, f"clause {raw.get('id')!r} is empty: it has no rules")
    if not raw.get("id") or not raw.get("name"):
        return None
    return Clause(
        str(raw["id"]),
        str(raw["name"]),
        tuple(rules),
        tuple(alternatives),
        tuple(exclude),
        str(raw.get("note", "")).strip(),
    )


def _strings(value: Any, where: Key, problems: Problems, what: str) -> tuple[str, ...]:
    if isinstance(value, str | int | float):
        value = [value]
    if not isinstance(value, list) or not value:
        problems.add(where, f"{what} must be a non-empty list")
        return ()
    return tuple(str(v) for v in value)


def _known(
    values: tuple[str, ...],
    known: set[str] | tuple[str, ...],
    where: Key,
    problems: Problems,
    what: str,
) -> None:
    for index, value in enumerate(values):
        if value not in known:
            problems.add((*where, index), f"unknown {what} {value!r}")


def parse_rules(raw: dict[str, Any], where: Key, problems: Problems) -> list[Rule]:
    """The rules written in `raw` (keys that are not rules are left to the caller to refuse)."""
    ref = _reference()
    rules: list[Rule] = []
    for key, value in raw.items():
        at = (*where, key)
        if key in (
            "offence_codes",
            "offence_groups",
            "offence_subgroups",
            "categories",
            "location_types",
            "statutes",
        ):
            values = _strings(value, at, problems, key)
            if key == "offence_codes":
                _known(values, ref["codes"], at, problems, "offence code")
                rules.append(OffenceCodes(values))
            elif key == "offence_groups":
                _known(values, ref["groups"], at, problems, "offence group")
                rules.append(OffenceGroups(values))
            elif key == "offence_subgroups":
                _known(values, ref["subgroups"], at, problems, "offence subgroup")
                rules.append(OffenceSubgroups(values))
            elif key == "categories":
                _known(values, CATEGORIES + LEGACY_CATEGORIES, at, problems, "police.uk category")
                rules.append(Categories(values))
            elif key == "location_types":
                _known(values, LOCATION_TYPES, at, problems, "location type")
                rules.append(LocationTypes(values))
            else:
                rules.append(Statutes(values))
        elif key == "markers":
            if not isinstance(value, dict) or not value or set(value) - {"any", "all", "none"}:
                problems.add(at, "markers takes 'any', 'all' and/or 'none', each a list")
                continue
            parts = {k: _strings(v, (*at, k), problems, f"markers {k}") for k, v in value.items()}
            for part, names in parts.items():
                _known(names, MARKERS, (*at, part), problems, "marker")
            rules.append(Markers(**parts))
        elif key in ("victim_age", "suspect_age"):
            if not isinstance(value, dict) or set(value) - {"min", "max"} or not value:
                problems.add(at, f"{key} takes 'min' and/or 'max' (whole years)")
                continue
            low, high = value.get("min", 0), value.get("max", 120)
            if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high <= 120):
                problems.add(at, f"{key}: need 0 <= min <= max <= 120")
                continue
            cls: type[PersonAge] = RULES[key]  # type: ignore[assignment]
            rules.append(cls(min=low, max=high))
    return rules
