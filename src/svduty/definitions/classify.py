"""Classification: every incident in or out of a definition, with the clauses that put it in and
those the data could not assess; explanations per rule; differences between two definitions.

Everything is an Ibis expression over the canonical tables, so DuckDB and Spark classify alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from svduty.definitions.model import Clause, Definition
from svduty.definitions.rules import PersonAge, any_of, unknown
from svduty.engine import Store
from svduty.errors import InputError


def classification_input(store: Store, definitions: list[Definition]) -> ir.Table:
    """Incidents with the facts rules read: offence group and subgroup from the code, and for
    each age rule whether a person in that role falls in its band."""
    incidents = store.table("incidents")
    offences = store.table("offences").select(
        _code="offence_code", offence_group="offence_group", offence_subgroup="offence_subgroup"
    )
    t = incidents.left_join(offences, incidents.offence_code == offences._code).drop("_code")
    ages: dict[str, PersonAge] = {}
    for definition in definitions:
        ages.update({rule.column: rule for rule in definition.age_rules()})
    if ages:
        people = store.table("involvements")
        per_crime = people.group_by(_force="force", _ref="crime_ref").aggregate(
            **{name: rule.aggregate(people) for name, rule in ages.items()}
        )
        t = t.left_join(
            per_crime, (t.force == per_crime._force) & (t.crime_ref == per_crime._ref)
        ).drop("_force", "_ref")
    return t


def _label_list(labels: dict[str, ir.BooleanValue]) -> ir.StringValue:
    parts = [
        ibis.ifelse(flag, ibis.literal(name), ibis.null("string")) for name, flag in labels.items()
    ]
    return ibis.literal(",").join(parts)


def classify_expr(t: ir.Table, definition: Definition) -> ir.Table:
    # each clause's verdict is worked out once, then read for the definition, the clauses
    # matched and those not assessable (written out in each, the engine evaluated it four times)
    verdicts = t.select(
        "batch_id",
        "source_line",
        **{f"_clause{i}": c.expr(t) for i, c in enumerate(definition.clauses)},
    )
    clauses = {c.id: verdicts[f"_clause{i}"] for i, c in enumerate(definition.clauses)}
    matched = {k: v.fill_null(False) for k, v in clauses.items()}
    unassessable = {k: unknown(v) for k, v in clauses.items()}
    return verdicts.select(
        definition_id=ibis.literal(definition.id),
        definition_version=ibis.literal(definition.version),
        definition_sha256=ibis.literal(definition.sha256),
        batch_id=verdicts.batch_id,
        source_line=verdicts.source_line,
        in_definition=any_of(list(matched.values())),
        clauses=_label_list(matched),
        unassessed=_label_list(unassessable),
    )


COUNTS = ["matched", "not_matched", "not_assessable"]
"""A summary's counts per clause."""


@dataclass(frozen=True)
class ClassificationSummary:
    """Per clause: incidents matched, not matched and not assessable; and the definition total."""

    definition: Definition
    engine: str
    incidents: int
    in_definition: int
    clauses: pd.DataFrame

    def plus(self, other: ClassificationSummary) -> ClassificationSummary:
        """This summary with another's incidents added (of other batches, so none twice)."""
        clauses = self.clauses.copy()
        clauses[COUNTS] = clauses[COUNTS].to_numpy() + other.clauses[COUNTS].to_numpy()
        return ClassificationSummary(
            self.definition,
            self.engine,
            self.incidents + other.incidents,
            self.in_definition + other.in_definition,
            clauses,
        )


def clause_summary(
    store: Store, definition: Definition, t: ir.Table | None = None
) -> ClassificationSummary:
    """Per clause and in all, of every incident or of those of `t` (the classification input)."""
    if t is None:
        t = classification_input(store, [definition])
    metrics: dict[str, Any] = {
        "incidents": t.count(),
        "in_definition": any_of([c.expr(t).fill_null(False) for c in definition.clauses]).sum(),
    }
    for clause in definition.clauses:
        expr = clause.expr(t)
        metrics[f"{clause.id}__matched"] = expr.fill_null(False).sum()
        metrics[f"{clause.id}__unassessed"] = unknown(expr).sum()
    row = t.aggregate(**metrics).to_pandas().iloc[0]
    return _summary(
        store,
        definition,
        int(row["incidents"]),
        int(row["in_definition"] or 0),
        {c.id: int(row[f"{c.id}__matched"] or 0) for c in definition.clauses},
        {c.id: int(row[f"{c.id}__unassessed"] or 0) for c in definition.clauses},
    )


def stored_summary(store: Store, definition: Definition) -> ClassificationSummary:
    """The summary of the classification stored under the definition, from its rows grouped by
    their labels (a few combinations), rather than by classifying every incident once more."""
    t = store.table("classifications")
    t = t.filter(t.definition_id == definition.id)
    grouped = (
        t.group_by(["in_definition", "clauses", "unassessed"]).aggregate(n=t.count()).to_pandas()
    )
    matched = {c.id: 0 for c in definition.clauses}
    unassessed = dict(matched)
    for row in grouped.itertuples():
        for found, labels in ((matched, row.clauses), (unassessed, row.unassessed)):
            for label in (labels or "").split(","):
                if label in found:
                    found[label] += int(row.n)
    inside = int(grouped.loc[grouped["in_definition"].astype(bool), "n"].sum())
    return _summary(store, definition, int(grouped["n"].sum()), inside, matched, unassessed)


def _summary(
    store: Store,
    definition: Definition,
    total: int,
    inside: int,
    matched: dict[str, int],
    unassessed: dict[str, int],
) -> ClassificationSummary:
    """The summary of `total` incidents, `inside` the definition, from each clause's counts of
    incidents matched and not assessable (the rest are not matched)."""
    table = pd.DataFrame(
        [
            {
                "clause": c.id,
                "name": c.name,
                "matched": matched[c.id],
                "not_matched": total - matched[c.id] - unassessed[c.id],
                "not_assessable": unassessed[c.id],
            }
            for c in definition.clauses
        ]
    )
    return ClassificationSummary(definition, store.name, total, inside, table)


def classify(
    store: Store, definition: Definition, after_batch: int | None = None
) -> ClassificationSummary:
    """Store every incident's classification under the definition, and summarise it; with
    `after_batch`, only those of later batches (the rest are stored already), summarised alone."""
    t = classification_input(store, [definition])
    if after_batch is None:
        expr = classify_expr(t, definition)
        store.replace_derived("classifications", "definition_id", definition.id, expr)
        return stored_summary(store, definition)
    t = t.filter(t.batch_id > after_batch)
    expr = classify_expr(t, definition)
    store.add_derived("classifications", "definition_id", definition.id, expr, after_batch)
    return clause_summary(store, definition, t)


class NoSuchIncident(InputError):
    """No stored incident has the BATCH-LINE or crime reference asked for."""


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    verdict: bool | None
    values: dict[str, Any]


@dataclass(frozen=True)
class ClauseVerdict:
    clause: Clause
    verdict: bool | None
    rules: list[RuleVerdict] = field(default_factory=list)


@dataclass(frozen=True)
class Explanation:
    incident: dict[str, Any]
    definition: Definition
    clauses: list[ClauseVerdict]

    @property
    def in_definition(self) -> bool:
        return any(c.verdict is True for c in self.clauses)


def _find(t: ir.Table, incident_id: str) -> ir.Table:
    """An incident by 'BATCH-LINE' (as lineage shows it) or by the source's crime reference."""
    batch, sep, line = incident_id.partition("-")
    if sep and batch.isdigit() and line.isdigit():
        return t.filter((t.batch_id == int(batch)) & (t.source_line == int(line)))
    return t.filter(t.crime_ref == incident_id)


def _value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    return value.item() if hasattr(value, "item") else value


def explain(store: Store, definition: Definition, incident_id: str) -> Explanation:
    t = classification_input(store, [definition])
    row_t = _find(t, incident_id)
    selections: dict[str, Any] = {}
    rule_keys: list[list[tuple[str, str, tuple[str, ...]]]] = []
    for ci, clause in enumerate(definition.clauses):
        selections[f"c{ci}"] = clause.expr(row_t)
        keys = []
        for ri, rule in enumerate(clause.all_rules()):
            selections[f"c{ci}r{ri}"] = rule.expr(row_t)
            keys.append((f"c{ci}r{ri}", _rule_label(clause, rule), rule.columns()))
        rule_keys.append(keys)
    shown = [
        "batch_id",
        "source_line",
        "source_kind",
        "crime_ref",
        "month",
        "force",
        "offence_code",
        "offence_group",
        "offence_subgroup",
        "category",
        "statute",
        "location_type",
    ]
    read = sorted({c for keys in rule_keys for _, _, cols in keys for c in cols} - set(shown))
    frame = row_t.select(*shown, *read, **selections).to_pandas()
    if frame.empty:
        raise NoSuchIncident(
            f"no incident {incident_id!r}: give BATCH-LINE (e.g. 3-1502, as "
            "'svduty batches' and 'svduty rejects' number them) or a crime reference"
        )
    if len(frame) > 1:
        raise InputError(
            f"{len(frame)} incidents have crime reference {incident_id!r}; give BATCH-LINE instead"
        )
    row = frame.iloc[0]
    clauses = []
    for ci, clause in enumerate(definition.clauses):
        rules = [
            RuleVerdict(label, _value(row[key]), {c: _value(row[c]) for c in cols})
            for key, label, cols in rule_keys[ci]
        ]
        clauses.append(ClauseVerdict(clause, _value(row[f"c{ci}"]), rules))
    incident = {c: _value(row[c]) for c in shown}
    return Explanation(incident, definition, clauses)


def _rule_label(clause: Clause, rule: Any) -> str:
    if rule in clause.exclude:
        return f"exclude {rule.describe()}"
    for index, group in enumerate(clause.alternatives):
        if rule in group:
            return f"any_of[{index + 1}] {rule.describe()}"
    return rule.describe()


@dataclass(frozen=True)
class DefinitionDiff:
    first: Definition
    second: Definition
    clauses: pd.DataFrame
    counts: dict[str, int]


def rule_changes(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """What differs between two versions of a clause, rule by rule: rules added or removed with
    their values, lists of codes as the items added (+) and removed (-), anything else as
    before -> after."""
    changes = []
    for key in [*first, *(k for k in second if k not in first)]:
        if key == "id":
            continue
        before, after = first.get(key), second.get(key)
        if before == after:
            continue
        if key not in second:
            changes.append(f"removed {key}: {_shown(before)}")
        elif key not in first:
            changes.append(f"added {key}: {_shown(after)}")
        elif isinstance(before, list) and isinstance(after, list) and _flat_list(before + after):
            gone = [v for v in before if v not in after]
            new = [v for v in after if v not in before]
            items = [f"+{v}" for v in new] + [f"-{v}" for v in gone]
            changes.append(f"{key}: {', '.join(items) or 'same items, new order'}")
        else:
            changes.append(f"{key}: {_shown(before)} -> {_shown(after)}")
    return changes


def _flat_list(values: list[Any]) -> bool:
    return all(not isinstance(v, (list, dict)) for v in values)


def _shown(value: Any) -> str:
    """A rule's value written compactly, as YAML's flow style would."""
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def diff(store: Store, first: Definition, second: Definition) -> DefinitionDiff:
    """Which clauses differ, and how many stored incidents change classification."""
    rows = []
    a = {c.id: c for c in first.clauses}
    b = {c.id: c for c in second.clauses}
    for clause_id in [*a, *(k for k in b if k not in a)]:
        if clause_id not in b:
            change = "removed"
        elif clause_id not in a:
            change = "added"
        elif a[clause_id].to_yaml() != b[clause_id].to_yaml():
            change = "changed"
        else:
            change = "same"
        rows.append(
            {
                "clause": clause_id,
                "change": change,
                "first": a[clause_id].name if clause_id in a else "",
                "second": b[clause_id].name if clause_id in b else "",
                "rules": "; ".join(
                    rule_changes(
                        a[clause_id].to_yaml() if clause_id in a else {},
                        b[clause_id].to_yaml() if clause_id in b else {},
                    )
                ),
            }
        )
    t = classification_input(store, [first, second])
    in_a = any_of([c.expr(t).fill_null(False) for c in first.clauses])
    in_b = any_of([c.expr(t).fill_null(False) for c in second.clauses])
    totals = (
        t.aggregate(
            incidents=t.count(),
            in_both=(in_a & in_b).sum(),
            first_only=(in_a & ~in_b).sum(),
            second_only=(~in_a & in_b).sum(),
        )
        .to_pandas()
        .iloc[0]
    )
    counts = {k: int(totals[k] or 0) for k in ("incidents", "in_both", "first_only", "second_only")}
    counts["change"] = counts["first_only"] + counts["second_only"]
    return DefinitionDiff(first, second, pd.DataFrame(rows), counts)
