"""Outcomes frameworks: success measures written as data (YAML), each saying what it counts,
from which source, in what unit, over what period, and which way is better.

A measure's source is incidents (a definition, rules in the definitions' own vocabulary under
`where`, or both: a record counts when the definition takes it in and every `where` rule holds),
hospital admissions (ICD-10 causes and an age range), or an external series (rows of the
`measure_series` source kind naming the measure, with an age range for rates by age). Incidents
and admissions are counted by month; an external series may be monthly, quarterly or by
financial year. A measure may name a baseline, recalculation points (periods) and a target in
its unit, which set how its SPC chart's limits are drawn and judged. Every problem in a file
is reported at once, one line each, naming the file, the line and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from svduty.definitions.loader import load_definition, parse_rules
from svduty.definitions.model import Clause, Definition
from svduty.definitions.rules import RULES, Rule, VictimAge
from svduty.errors import InputError, SvdutyError
from svduty.measures.limits import Baseline
from svduty.periods import PERIODS, WORDS, period_kind
from svduty.yamlfile import Key, Located, Problems, load_located

MEASURES_DIR = "measures"
"""A workspace's own frameworks: YAML files in this folder of the workspace."""
UNITS = ("count", "rate", "share")
"""A count; a rate per `per` (of the series' denominators, else of the area's residents in the
measure's ages); a share of the series' denominators, in per cent."""
IMPROVEMENTS = ("down", "up", "neither")
DEFAULT_PER = 100_000

_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_ICD10 = re.compile(r"[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?")
_TOP = ("id", "name", "version", "about", "measures")
_MEASURE = (
    "id", "name", "why", "source", "unit", "per", "improvement", "period", "note",
    "baseline", "recalculate", "target",
)  # fmt: skip
_INCIDENTS = ("definition", "where")
_ADMISSIONS = ("causes", "age")
_SERIES = ("measure", "age")
ALL_AGES = (0, 120)


@dataclass(frozen=True)
class IncidentsSource:
    """Incidents a definition takes in (all incidents when none is named) and that meet every
    `where` rule."""

    definition: Definition | None
    where: tuple[Rule, ...]

    def selection(self, measure_id: str) -> Definition:
        """The measure as one definition: each clause of the named definition with the `where`
        rules added, so a record counts when some clause and every `where` rule hold."""
        if self.definition is None:
            clauses: tuple[Clause, ...] = (Clause(measure_id, measure_id, self.where),)
            return Definition(measure_id, measure_id, "1", "measure", clauses)
        base = self.definition
        clauses = tuple(
            Clause(c.id, c.name, (*c.rules, *self.where), c.alternatives, c.exclude, c.note)
            for c in base.clauses
        )
        return Definition(f"{measure_id}", base.name, base.version, base.source, clauses)

    def describe(self) -> str:
        parts = []
        if self.definition is not None:
            parts.append(f"incidents in {self.definition.id} v{self.definition.version}")
        else:
            parts.append("incidents")
        for rule in self.where:
            parts.append(f"{rule.key} {rule.to_yaml()}")
        return "; ".join(parts)


@dataclass(frozen=True)
class AdmissionsSource:
    """Admissions whose ICD-10 cause is one of `causes` (a code also takes in its sub-codes:
    X99 counts X99.0 and X990), of patients aged `low` to `high`."""

    causes: tuple[str, ...]
    low: int = 0
    high: int = 120

    @property
    def ages(self) -> bool:
        return (self.low, self.high) != (0, 120)

    def describe(self) -> str:
        text = f"hospital admissions with ICD-10 cause {', '.join(self.causes)}"
        if self.ages:
            text += f", patients aged {self.low} to {self.high}"
        return text


@dataclass(frozen=True)
class SeriesSource:
    """Rows of an external series (the `measure_series` source kind) whose `measure` column is
    `measure`: numerators, and denominators where the publisher gives them. `low` and `high`
    are the ages the series is about, for a rate per resident of those ages."""

    measure: str
    low: int = 0
    high: int = 120

    @property
    def ages(self) -> bool:
        return (self.low, self.high) != ALL_AGES

    def describe(self) -> str:
        text = f"external series {self.measure!r} (ingested as measure_series)"
        if self.ages:
            text += f", people aged {self.low} to {self.high}"
        return text


Source = IncidentsSource | AdmissionsSource | SeriesSource


@dataclass(frozen=True)
class Measure:
    id: str
    name: str
    why: str
    source: Source
    unit: str  # count, rate or share
    per: int  # the rate's multiplier (residents)
    improvement: str
    period: str
    framework: str
    note: str = ""
    baseline: Baseline | None = None
    recalculate: tuple[str, ...] = ()
    target: float | None = None

    @property
    def ages(self) -> tuple[int, int] | None:
        """The ages the measure is about (its admissions' patients, its incidents' victims, its
        series' people), or None for all ages: a rate per resident counts residents of these
        ages only."""
        source = self.source
        if isinstance(source, AdmissionsSource | SeriesSource):
            return (source.low, source.high) if source.ages else None
        for rule in source.where:
            if isinstance(rule, VictimAge):
                return (rule.min, rule.max)
        return None

    @property
    def unit_words(self) -> str:
        period = WORDS[self.period]
        if self.unit == "rate":
            ages = self.ages
            whom = f"residents aged {ages[0]} to {ages[1]}" if ages else "residents"
            if isinstance(self.source, SeriesSource):
                whom = f"of the series' denominator (else {whom})"
            return f"rate per {self.per:,} {whom} a {period}"
        if self.unit == "share":
            return f"share of the series' denominator (per cent) a {period}"
        return f"count a {period}"


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    version: str
    about: str
    path: Path
    measures: tuple[Measure, ...]

    def measure(self, measure_id: str) -> Measure:
        for measure in self.measures:
            if measure.id == measure_id:
                return measure
        raise InputError(
            f"framework {self.id} has no measure {measure_id!r}; its measures: "
            f"{', '.join(m.id for m in self.measures)}"
        )


def shipped_frameworks() -> dict[str, Path]:
    folder = Path(str(resources.files("svduty.measures") / "data"))
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def workspace_frameworks(root: Path) -> dict[str, Path]:
    """The workspace's own frameworks (`measures/*.yaml` in the workspace folder)."""
    folder = root / MEASURES_DIR
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def frameworks(root: Path | None = None) -> list[Framework]:
    """The shipped frameworks, then the workspace's; a workspace framework may not reuse a
    shipped framework's id."""
    found = [load_framework(path) for path in shipped_frameworks().values()]
    shipped = {f.id for f in found}
    for path in workspace_frameworks(root).values() if root else []:
        framework = load_framework(path)
        if framework.id in shipped:
            raise InputError(
                f"{path}: framework id {framework.id!r} is a shipped framework's; give the "
                "workspace's framework its own id"
            )
        found.append(framework)
    return found


def find_measure(name: str, root: Path | None = None) -> Measure:
    """A measure by its id, or as FRAMEWORK/MEASURE when two frameworks share a measure id."""
    wanted_framework, _, wanted = name.rpartition("/")
    matches = [
        m
        for f in frameworks(root)
        if not wanted_framework or f.id == wanted_framework
        for m in f.measures
        if m.id == wanted
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        options = ", ".join(f"{m.framework}/{m.id}" for m in matches)
        raise InputError(f"measure {name!r} is in several frameworks; name one of {options}")
    known = ", ".join(f"{m.framework}/{m.id}" for f in frameworks(root) for m in f.measures)
    raise InputError(f"no measure {name!r}; the measures are {known}")


def load_framework(path: Path) -> Framework:
    located = load_located(path)
    problems = Problems(located)
    data = located.data
    if not isinstance(data, dict):
        problems.add((), "a framework is a YAML mapping with id, name and measures")
        _raise(problems)
    for key in data:
        if key not in _TOP:
            problems.add((key,), f"{key}: unknown key; a framework has {', '.join(_TOP)}")
    for key in ("id", "name"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            problems.add((key,) if key in data else (), f"{key}: required, as text")
    if isinstance(data.get("id"), str) and not _ID.fullmatch(data["id"]):
        problems.add(("id",), "id: lower case letters, digits, '-' or '_'")
    raw = data.get("measures")
    measures: list[Measure] = []
    if not isinstance(raw, list) or not raw:
        problems.add(("measures",) if "measures" in data else (), "measures: a non-empty list")
    else:
        seen: set[str] = set()
        for index, item in enumerate(raw):
            measure = _measure(item, ("measures", index), str(data.get("id")), located, problems)
            if measure is None:
                continue
            if measure.id in seen:
                problems.add(
                    ("measures", index, "id"),
                    f"measures[{index}].id: {measure.id!r} is used twice",
                )
            seen.add(measure.id)
            measures.append(measure)
    _raise(problems)
    return Framework(
        id=str(data["id"]),
        name=str(data["name"]).strip(),
        version=str(data.get("version", "")),
        about=str(data.get("about", "")).strip(),
        path=path,
        measures=tuple(measures),
    )


def _raise(problems: Problems) -> None:
    """Every problem as one line naming the file, the line and the field."""
    if problems.found:
        path = problems.source.path
        raise InputError(
            "\n".join(f"{path}:{line}: {message}" for line, message in sorted(problems.found))
        )


def _field(key: Key) -> str:
    """measures[2].source.admissions.causes: the field a problem is in, as a reader finds it."""
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _measure(
    raw: Any, at: Key, framework: str, located: Located, problems: Problems
) -> Measure | None:
    name = _field(at)
    if not isinstance(raw, dict):
        problems.add(at, f"{name}: a measure is a mapping with id, name, why, source, unit")
        return None
    before = len(problems.found)
    for key in raw:
        if key not in _MEASURE:
            problems.add(
                (*at, key),
                f"{_field((*at, key))}: unknown key; a measure has {', '.join(_MEASURE)}",
            )
    for key in ("id", "name", "why"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            where = (*at, key) if key in raw else at
            problems.add(where, f"{_field((*at, key))}: required, as text")
    if isinstance(raw.get("id"), str) and not _ID.fullmatch(raw["id"]):
        problems.add((*at, "id"), f"{_field((*at, 'id'))}: lower case letters, digits, '-' or '_'")
    choices = {"unit": UNITS, "improvement": IMPROVEMENTS, "period": PERIODS}
    for key, allowed in choices.items():
        if raw.get(key) not in allowed:
            where = (*at, key) if key in raw else at
            given = f"{raw[key]!r} is not one of" if key in raw else "required: one of"
            problems.add(where, f"{_field((*at, key))}: {given} {', '.join(allowed)}")
    per = raw.get("per", DEFAULT_PER)
    if not isinstance(per, int) or isinstance(per, bool) or per <= 0:
        problems.add((*at, "per"), f"{_field((*at, 'per'))}: a whole number above zero")
    source = _source(raw.get("source"), (*at, "source"), located, problems)
    if source is not None and not isinstance(source, SeriesSource):
        if raw.get("period") in PERIODS and raw["period"] != "month":
            problems.add(
                (*at, "period"),
                f"{_field((*at, 'period'))}: incidents and admissions are counted by month; "
                "a quarterly or yearly measure comes from an external series",
            )
        if raw.get("unit") == "share":
            problems.add(
                (*at, "unit"),
                f"{_field((*at, 'unit'))}: a share needs the denominators of an external series",
            )
    baseline = _baseline(raw, at, problems)
    recalculate = _recalculate(raw, at, problems)
    target = raw.get("target")
    if "target" in raw:
        where = (*at, "target")
        if not isinstance(target, int | float) or isinstance(target, bool):
            problems.add(where, f"{_field(where)}: a number, in the measure's unit")
        elif raw.get("improvement") == "neither":
            problems.add(
                where,
                f"{_field(where)}: a target needs a better direction (improvement up or down)",
            )
    if len(problems.found) > before or source is None:
        return None
    return Measure(
        id=raw["id"],
        name=raw["name"].strip(),
        why=" ".join(raw["why"].split()),
        source=source,
        unit=raw["unit"],
        per=int(per),
        improvement=raw["improvement"],
        period=raw["period"],
        framework=framework,
        note=str(raw.get("note", "")).strip(),
        baseline=baseline,
        recalculate=recalculate,
        target=None if target is None else float(target),
    )


def _label(value: Any) -> str | None:
    """A period label (2022/23, 2022-Q2, 2022-04; a date is read as its month), or None."""
    if isinstance(value, date):
        value = f"{value:%Y-%m}"
    return value if isinstance(value, str) and period_kind(value) else None


_PERIOD_LABEL = "a period: 2022/23 (financial year), 2022-Q2 (quarter) or 2022-04 (month)"


def _baseline(raw: dict[str, Any], at: Key, problems: Problems) -> Baseline | None:
    """`baseline: 2022/23`, or `baseline: {from: 2022-04, to: 2024-03}`."""
    if "baseline" not in raw:
        return None
    where = (*at, "baseline")
    value = raw["baseline"]
    if isinstance(value, dict):
        if set(value) != {"from", "to"}:
            problems.add(where, f"{_field(where)}: takes 'from' and 'to', each {_PERIOD_LABEL}")
            return None
        first, last = _label(value["from"]), _label(value["to"])
    else:
        first = last = _label(value)
    if first is None or last is None:
        problems.add(where, f"{_field(where)}: {_PERIOD_LABEL}, or from and to")
        return None
    baseline = Baseline(first, last)
    if baseline.end <= baseline.start:
        problems.add(where, f"{_field(where)}: 'to' ({last}) comes before 'from' ({first})")
        return None
    return baseline


def _recalculate(raw: dict[str, Any], at: Key, problems: Problems) -> tuple[str, ...]:
    """`recalculate: [2024/25, 2025-10]`: the limits start afresh at each period."""
    if "recalculate" not in raw:
        return ()
    where = (*at, "recalculate")
    value = raw["recalculate"]
    items = value if isinstance(value, list) else [value]
    labels = [_label(item) for item in items]
    if not items or None in labels:
        problems.add(where, f"{_field(where)}: a list, each {_PERIOD_LABEL}")
        return ()
    return tuple(label for label in labels if label)


_KINDS = {"incidents": _INCIDENTS, "admissions": _ADMISSIONS, "series": _SERIES}


def _source(raw: Any, at: Key, located: Located, problems: Problems) -> Source | None:
    name = _field(at)
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in _KINDS:
        problems.add(at, f"{name}: one of 'incidents', 'admissions' or 'series', as a mapping")
        return None
    kind, body = next(iter(raw.items()))
    at = (*at, kind)
    allowed = _KINDS[kind]
    if not isinstance(body, dict) or not body:
        problems.add(at, f"{_field(at)}: a mapping with {' and/or '.join(allowed)}")
        return None
    for key in body:
        if key not in allowed:
            problems.add((*at, key), f"{_field((*at, key))}: unknown key; use {', '.join(allowed)}")
    if kind == "incidents":
        return _incidents(body, at, located, problems)
    if kind == "series":
        return _series(body, at, problems)
    return _admissions(body, at, problems)


def _series(body: dict[str, Any], at: Key, problems: Problems) -> SeriesSource | None:
    measure = body.get("measure")
    if not isinstance(measure, str) or not _ID.fullmatch(measure):
        where = (*at, "measure") if "measure" in body else at
        problems.add(
            where,
            f"{_field((*at, 'measure'))}: the series' measure id, as in the measure column of "
            "its CSV (lower case letters, digits, '-' or '_')",
        )
        return None
    low, high = _ages(body, at, problems)
    return SeriesSource(measure, low, high)


def _ages(body: dict[str, Any], at: Key, problems: Problems) -> tuple[int, int]:
    low, high = ALL_AGES
    if "age" in body:
        age = body["age"]
        where = (*at, "age")
        if not isinstance(age, dict) or not age or set(age) - {"min", "max"}:
            problems.add(where, f"{_field(where)}: takes 'min' and/or 'max' (whole years)")
        else:
            low, high = age.get("min", 0), age.get("max", 120)
            if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high <= 120):
                problems.add(where, f"{_field(where)}: need 0 <= min <= max <= 120")
                return ALL_AGES
    return low, high


def _incidents(
    body: dict[str, Any], at: Key, located: Located, problems: Problems
) -> IncidentsSource | None:
    definition = None
    if "definition" in body:
        spec = body["definition"]
        if not isinstance(spec, str) or not spec.strip():
            problems.add(
                (*at, "definition"), f"{_field((*at, 'definition'))}: a definition id or file"
            )
        else:
            path = located.path.parent / spec
            try:
                definition = load_definition(path if path.is_file() else spec)
            except SvdutyError as error:
                first = str(error).splitlines()[0]
                problems.add((*at, "definition"), f"{_field((*at, 'definition'))}: {first}")
    rules: list[Rule] = []
    where = body.get("where")
    if "where" in body:
        if not isinstance(where, dict) or not where:
            problems.add((*at, "where"), f"{_field((*at, 'where'))}: a mapping of rules")
        else:
            for key in where:
                if key not in RULES:
                    problems.add(
                        (*at, "where", key),
                        f"{_field((*at, 'where', key))}: unknown rule; rules are "
                        f"{', '.join(RULES)}",
                    )
            found: list[tuple[int, str]] = []
            inner = Problems(located, found)
            rules = parse_rules(where, (*at, "where"), inner)
            for line, message in found:
                problems.found.append((line, f"{_field((*at, 'where'))}: {message}"))
    if "definition" not in body and "where" not in body:
        problems.add(at, f"{_field(at)}: give a definition, where rules, or both")
    return IncidentsSource(definition, tuple(rules))


def _admissions(body: dict[str, Any], at: Key, problems: Problems) -> AdmissionsSource | None:
    causes = body.get("causes")
    key = (*at, "causes")
    if isinstance(causes, str):
        causes = [causes]
    if not isinstance(causes, list) or not causes:
        problems.add(key if "causes" in body else at, f"{_field(key)}: a list of ICD-10 codes")
        return None
    codes = []
    for index, code in enumerate(causes):
        text = str(code).strip().upper()
        if not _ICD10.fullmatch(text):
            problems.add((*key, index), f"{_field(key)}: {code!r} is not an ICD-10 code (e.g. X99)")
        codes.append(text.replace(".", ""))
    low, high = _ages(body, at, problems)
    return AdmissionsSource(tuple(codes), low, high)
