"""The most-at-risk cohort: people whose records across agencies meet enough of the partnership's
factors over the lookback months, each factor counted and explained in words.

One person is one pseudonymous person key (the same HMAC key across agencies that share the
partnership key), or one cluster of a linkage run. Records are read as events: a police
involvement in a serious-violence incident (the workspace's definition, classified as every
analysis classifies it), an A&E assault attendance, a youth-justice contact, a school exclusion;
a source counts only when its table holds person keys. Counting runs in the engine (Ibis), so
only cohort members reach memory.

The view is for review by practitioners: it ranks nobody by a score and decides nothing. Its
members carry a cohort id made from the person with a salt drawn for each build, so an id means
nothing outside its build and no person key leaves the engine.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from svduty.errors import InputError
from svduty.linkage.cohort_rules import CohortRules
from svduty.publish import NOT_FOR_PUBLICATION
from svduty.schema import FACT_TABLES
from svduty.vocabulary import AGE_BANDS

if TYPE_CHECKING:
    from svduty.definitions.model import Definition
    from svduty.engine import Store

MARKING = f"OFFICIAL-SENSITIVE: {NOT_FOR_PUBLICATION}"
NOTICE = (
    "This list supports review by practitioners; it takes no automated decision about anyone. "
    "Each member is listed for the factors named, which practitioners check against the records "
    "before any action."
)
ORDER = "members with more factors first, then the most recent record first"
UNKNOWN = "unknown"
ANY_SOURCE = "any source"


@dataclass(frozen=True)
class Factor:
    """One factor: the rule setting holding its threshold, its name and how a count reads."""

    id: str
    name: str
    words: str  # "{n}" is the count
    setting: str = ""  # the rule holding its threshold (default: its id)

    @property
    def rule(self) -> str:
        return self.setting or self.id

    def sentence(self, count: int, threshold: int, months: int) -> str:
        times = "once" if count == 1 else f"{count} times"
        return f"{self.words.format(n=times)} in {months} months (threshold {threshold})"


FACTORS: tuple[Factor, ...] = (
    Factor("victim", "victim of serious violence", "victim of serious violence {n}"),
    Factor("suspect", "suspect of serious violence", "suspect or offender in serious violence {n}"),
    Factor(
        "knife", "knife-enabled serious violence", "involved in knife-enabled serious violence {n}"
    ),
    Factor("ae_assault", "A&E assault attendance", "attended A&E after an assault {n}"),
    Factor("youth_justice", "youth-justice contact", "in contact with youth justice {n}"),
    Factor("exclusions", "school exclusion", "excluded from school {n}", "suspensions"),
)
SOURCES = {  # source -> (table, words)
    "police": ("involvements", "police"),
    "ae": ("ae_attendances", "A&E"),
    "youth_justice": ("youth_justice", "youth justice"),
    "exclusions": ("exclusions", "schools"),
}
_FACTOR_SOURCE = {
    "victim": "police",
    "suspect": "police",
    "knife": "police",
    "ae_assault": "ae",
    "youth_justice": "youth_justice",
    "exclusions": "exclusions",
}


@dataclass(frozen=True)
class Cohort:
    """Cohort members, one row each, and what they were counted from."""

    members: pd.DataFrame  # COLUMNS below; no person key
    rules: CohortRules
    first_month: str
    last_month: str
    definition: str  # id and version
    sources: tuple[str, ...]  # sources read (their tables hold person keys)
    not_assessed: dict[str, str] = field(default_factory=dict)  # factor id -> why
    # the people the members are of, per CSP of their latest placed record (None: placed in
    # none): `people` with any record counted in the period, and those seen in each source
    population: pd.DataFrame = field(default_factory=lambda: _population_frame([]))
    person: str = "person key"  # or a group of keys and clusters of a linkage run

    @property
    def factors(self) -> list[Factor]:
        """Factors assessed: switched on and with a source holding person keys."""
        return [f for f in FACTORS if f.id not in self.not_assessed]

    @property
    def people(self) -> int:
        """People with any record counted in the period: the members' denominator."""
        return int(self.population["people"].sum())

    def people_by_source(self, csp: str | None = None) -> dict[str, int]:
        """People with any record counted in the period (ANY_SOURCE), and of them those with a
        record of each source read, in the whole area or one CSP."""
        rows = self.population
        if csp is not None:
            rows = rows[rows["csp"] == csp]
        return {
            ANY_SOURCE: int(rows["people"].sum()),
            **{SOURCES[s][1]: int(rows[s].sum()) for s in self.sources},
        }

    def thresholds(self) -> list[str]:
        """The rules in words: what makes a member, then each factor's threshold."""
        rules = self.rules
        said = [
            f"a member meets {rules.min_factors} or more of the {len(self.factors)} factors "
            f"assessed over {rules.lookback_months} months"
        ]
        for factor in self.factors:
            threshold = getattr(rules, factor.rule)
            if factor.id == "exclusions":
                said.append(f"{factor.name}: a permanent exclusion or {threshold} suspensions")
            else:
                said.append(f"{factor.name}: {threshold} or more")
        return said

    def denominator(self) -> str:
        """Of whom the members are, in words: the period and the people by source."""
        counted = self.people_by_source()
        each = ", ".join(f"{name} {n:,}" for name, n in counted.items() if name != ANY_SOURCE)
        return (
            f"{len(self.members):,} members of the {counted[ANY_SOURCE]:,} people with any "
            f"record counted from {self.first_month} to {self.last_month} "
            f"({self.rules.lookback_months} months; by source, a person in several counted in "
            f"each: {each})"
        )

    def describe(self) -> list[str]:
        """The lines every output of the view carries."""
        rules = self.rules
        said = [
            MARKING,
            NOTICE,
            f"Purpose: {rules.purpose}. Lawful basis: {rules.lawful_basis}.",
            f"Cohort: {self.denominator()}.",
            f"Thresholds: {'; '.join(self.thresholds())}. One person is one {self.person}; "
            f"serious violence as defined by {self.definition}.",
            f"Order: {ORDER}. Cohort ids are drawn anew at each build.",
        ]
        names = {f.id: f.name for f in FACTORS}
        said += [f"Not assessed: {names[f]} ({why})." for f, why in self.not_assessed.items()]
        return said


def build(
    store: Store,
    definition: Definition,
    rules: CohortRules,
    end: str | None = None,
    clusters: pd.DataFrame | None = None,
    person: str = "person key",
    salt: str | None = None,
) -> Cohort:
    """The cohort over the `rules.lookback_months` months ending with `end` (YYYY-MM; default
    the last month any source holds). `clusters` (batch_id, source_line, source_table,
    cluster_id) of a linkage run join a cluster's records, and every record sharing a key with
    them, into one person; `salt` (default: drawn now) makes the cohort ids."""
    from svduty.analysis.selection import label

    rules.require_purpose()
    events, not_assessed = _events(store, definition, rules)
    if clusters is not None:
        events = _clustered(store, events, clusters)
    events = events.filter(events.person.notnull())
    sources = tuple(s for s in SOURCES if s not in _unread(not_assessed))
    last = _last_month(events, end)
    first = _months_before(last, rules.lookback_months - 1)
    window = events.filter((events.month >= first) & (events.month <= last))
    per_person = _per_person(window)
    population = _population(per_person, sources)
    met: ir.IntegerValue = ibis.literal(0)
    for factor in FACTORS:
        if factor.id not in not_assessed:
            met = met + ibis.ifelse(_met(per_person, factor.id, rules), 1, 0)
    chosen = per_person.mutate(factors_met=met)
    chosen = chosen.filter(chosen.factors_met >= rules.min_factors)
    found = chosen.to_pandas()
    members = _explained(found, rules, not_assessed, salt or secrets.token_hex(16))
    return Cohort(
        members,
        rules,
        first.strftime("%Y-%m"),
        last.strftime("%Y-%m"),
        label(definition) or "",
        sources,
        not_assessed,
        population,
        person,
    )


def _population_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["csp", "people", *SOURCES])


def _population(per_person: ir.Table, sources: tuple[str, ...]) -> pd.DataFrame:
    """People with any record counted, and those seen in each source, per CSP (in the engine:
    one row per CSP reaches memory); a source not read counts nobody."""
    counted = per_person.group_by("csp").aggregate(
        people=per_person.count(),
        **{s: per_person[f"seen_{s}"].sum() for s in sources},
    )
    frame = counted.to_pandas()
    rows = [
        {
            "csp": csp if isinstance(csp, str) else None,
            "people": int(row["people"]),
            **{s: int(row[s]) if s in sources and not pd.isna(row[s]) else 0 for s in SOURCES},
        }
        for csp, row in zip(frame["csp"], frame.to_dict(orient="records"), strict=True)
    ]
    return _population_frame(rows)


def _unread(not_assessed: dict[str, str]) -> set[str]:
    """Sources none of whose factors was assessed."""
    return {
        s
        for s in SOURCES
        if all(f in not_assessed for f, src in _FACTOR_SOURCE.items() if src == s)
    }


# -- events -------------------------------------------------------------------------------------


def _has_person_key(table: str) -> bool:
    return "person_key" in FACT_TABLES.get(table, {})


def _events(
    store: Store, definition: Definition, rules: CohortRules
) -> tuple[ir.Table, dict[str, str]]:
    """Every record counted, as (person, source, kind, ref, month, day, age, csp, synthetic,
    batch_id, source_line, source_table); and the factors not assessed, with why."""
    not_assessed: dict[str, str] = {}
    for factor in FACTORS:
        table = SOURCES[_FACTOR_SOURCE[factor.id]][0]
        if getattr(rules, factor.rule) == 0:
            not_assessed[factor.id] = "switched off: threshold 0"
        elif table not in FACT_TABLES:
            not_assessed[factor.id] = f"this workspace has no {table} table"
        elif not _has_person_key(table):
            not_assessed[factor.id] = f"{table} holds no person keys"
    areas = store.table("areas")
    by_lsoa = areas.select(_lsoa="lsoa_code", csp="csp_name")
    by_la = areas.group_by(_la="la_code").aggregate(csp=areas.csp_name.arbitrary())
    parts = [_police(store, definition, by_lsoa)]
    if "ae_assault" not in not_assessed:
        parts.append(_ae(store))
    if "youth_justice" not in not_assessed:
        parts.append(_partner(store, "youth_justice", "contact_ref", "youth_justice", by_la))
    if "exclusions" not in not_assessed:
        parts.append(_partner(store, "exclusions", "exclusion_ref", "exclusions", by_la))
    return ibis.union(*parts) if len(parts) > 1 else parts[0], not_assessed


def _police(store: Store, definition: Definition, by_lsoa: ir.Table) -> ir.Table:
    """Involvements in serious-violence incidents: victim, or suspect (suspects and offenders)."""
    from svduty.analysis.selection import in_definition

    incidents = in_definition(store, definition)
    sv = incidents.select(
        _force=incidents.force,
        _ref=incidents.crime_ref,
        month=incidents.month,
        day=incidents.occurred_from.cast("date").fill_null(incidents.month),
        lsoa_code=incidents.lsoa_code,
        knife=incidents.marker_knife.fill_null(False),
    )
    people = store.table("involvements")
    joined = people.inner_join(sv, (people.force == sv._force) & (people.crime_ref == sv._ref))
    joined = joined.left_join(by_lsoa, joined.lsoa_code == by_lsoa._lsoa)
    role = joined.role.lower()
    kind = ibis.cases(
        (role == "victim", "victim"), (role.isin(["suspect", "offender"]), "suspect")
    ).fill_null("other")
    return joined.select(
        person=joined.person_key,
        source=ibis.literal("police"),
        kind=kind,
        ref=joined.force.fill_null("") + ibis.literal("|") + joined.crime_ref,
        month=joined.month,
        day=joined.day,
        age=joined.age.cast("int64"),
        csp=joined.csp.cast("string"),
        knife=joined.knife,
        synthetic=joined.synthetic.fill_null(False),
        batch_id=joined.batch_id,
        source_line=joined.source_line,
        source_table=ibis.literal("involvements"),
    )


def _ae(store: Store) -> ir.Table:
    """A&E attendances after an assault (the Cardiff Model's minimum dataset: every row)."""
    t = store.table("ae_attendances")
    return t.select(
        person=t["person_key"],
        source=ibis.literal("ae"),
        kind=ibis.literal("ae_assault"),
        ref=t.site.fill_null("") + ibis.literal("|") + t.attendance_ref,
        month=t.month,
        day=t.arrived_at.cast("date").fill_null(t.month),
        age=t.age.cast("int64"),
        csp=ibis.null("string"),  # a hospital site places no one
        knife=ibis.literal(False),
        synthetic=t.synthetic.fill_null(False),
        batch_id=t.batch_id,
        source_line=t.source_line,
        source_table=ibis.literal("ae_attendances"),
    )


def _partner(store: Store, table: str, ref: str, source: str, by_la: ir.Table) -> ir.Table:
    """Youth-justice contacts or school exclusions (permanent or suspension), placed by their
    local authority."""
    t = store.table(table)
    t = t.left_join(by_la, t["la_code"] == by_la._la)
    if table == "exclusions":
        kind = t["exclusion_type"].lower().fill_null("unknown")  # permanent or suspension
    else:
        kind = ibis.literal("youth_justice")
    return t.select(
        person=t["person_key"],
        source=ibis.literal(source),
        kind=kind,
        ref=t[ref],
        month=t["month"],
        day=t["started_on"].cast("date").fill_null(t["month"]),
        age=t["age"].cast("int64"),
        csp=t["csp"].cast("string"),
        knife=ibis.literal(False),
        synthetic=t["synthetic"].fill_null(False),
        batch_id=t.batch_id,
        source_line=t.source_line,
        source_table=ibis.literal(table),
    )


def _clustered(store: Store, events: ir.Table, clusters: pd.DataFrame) -> ir.Table:
    """Events whose person is one of a linkage run's people: records sharing a person key are
    one person, as are records of one cluster, and both join (a cluster holding a record of key
    K, counted or not, takes in every record of K), so a person is a connected group of keys
    and clusters."""
    wanted = clusters[["batch_id", "source_line", "source_table", "cluster_id"]].astype(
        {"batch_id": "int64", "source_line": "int64", "source_table": str, "cluster_id": str}
    )
    linked = ibis.memtable(wanted).rename(
        _b="batch_id", _l="source_line", _t="source_table", _c="cluster_id"
    )
    joined = events.left_join(
        linked,
        (events.batch_id == linked._b)
        & (events.source_line == linked._l)
        & (events.source_table == linked._t),
    ).drop("_b", "_l", "_t")
    label = _components(_keys_of(store, linked), set(wanted["cluster_id"]))
    nodes = pd.DataFrame({"_node": list(label), "_person": list(label.values())})
    names = ibis.memtable(nodes)
    by_key = names.rename(_k="_node", _pk="_person")
    by_cluster = names.rename(_cn="_node", _pc="_person")
    joined = joined.mutate(
        _kn=ibis.literal("k:") + joined.person, _cl=ibis.literal("c:") + joined._c
    )
    joined = joined.left_join(by_cluster, joined._cl == by_cluster._cn)
    joined = joined.left_join(by_key, joined._kn == by_key._k)
    person = joined._pc.fill_null(joined._pk).fill_null(joined._kn)
    return joined.mutate(person=person).drop("_c", "_kn", "_cl", "_cn", "_pc", "_k", "_pk")


def _keys_of(store: Store, linked: ir.Table) -> pd.DataFrame:
    """The person key of each clustered record that has one (key, cluster), from its table."""
    parts = []
    for table in linked.select("_t").distinct().to_pandas()["_t"]:
        if not _has_person_key(str(table)):
            continue
        rows = store.table(str(table)).select("batch_id", "source_line", "person_key")
        mine = linked.filter(linked._t == str(table))
        found = rows.inner_join(
            mine, (rows.batch_id == mine._b) & (rows.source_line == mine._l)
        ).filter(rows.person_key.notnull())
        parts.append(found.select(key=found.person_key, cluster=found._c))
    if not parts:
        return pd.DataFrame({"key": [], "cluster": []}, dtype=str)
    return (
        ibis.union(*parts).distinct().to_pandas()
        if len(parts) > 1
        else parts[0].distinct().to_pandas()
    )


def _components(pairs: pd.DataFrame, clusters: set[str]) -> dict[str, str]:
    """Each node ("k:" a person key, "c:" a cluster id) of the graph joining a cluster to the
    keys of its records, labelled by its group's smallest node."""
    parent: dict[str, str] = {f"c:{c}": f"c:{c}" for c in clusters}

    def root(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for key, cluster in zip(pairs["key"], pairs["cluster"], strict=True):
        a, b = root(f"k:{key}"), root(f"c:{cluster}")
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {node: root(node) for node in list(parent)}


# -- counting -----------------------------------------------------------------------------------


def _last_month(events: ir.Table, end: str | None) -> date:
    if end is not None:
        try:
            return date.fromisoformat(f"{end}-01")
        except ValueError:
            raise InputError(f"--to {end!r}: give a month as YYYY-MM") from None
    found = events.month.max().execute()
    if found is None or pd.isna(found):
        raise InputError(
            "no records about people to build a cohort from: ingest an extract with person "
            "keys (police involvements, A&E, youth justice or exclusions) first"
        )
    return pd.Timestamp(found).date().replace(day=1)


def _months_before(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def _per_person(t: ir.Table) -> ir.Table:
    """Each person's counts (distinct records) per factor, dates, latest age and area, and the
    sources seen."""
    police = t.source == "police"
    dated = t.age.notnull()
    placed = t.csp.notnull()
    return t.group_by("person").aggregate(
        victim=t.ref.nunique(where=police & (t.kind == "victim")),
        suspect=t.ref.nunique(where=police & (t.kind == "suspect")),
        knife=t.ref.nunique(where=police & t.knife),
        ae_assault=t.ref.nunique(where=t.source == "ae"),
        youth_justice=t.ref.nunique(where=t.source == "youth_justice"),
        permanent=t.ref.nunique(where=(t.source == "exclusions") & (t.kind == "permanent")),
        suspensions=t.ref.nunique(where=(t.source == "exclusions") & (t.kind == "suspension")),
        first_seen=t.day.min(),
        last_seen=t.day.max(),
        age=t.age.argmax(t.day, where=dated),
        csp=t.csp.argmax(t.day, where=placed),
        **{f"seen_{s}": (t.source == s).any() for s in SOURCES},
        synthetic=t.synthetic.any(),
    )


def _met(t: ir.Table, factor: str, rules: CohortRules) -> ir.BooleanValue:
    if factor == "exclusions":
        return (t.permanent >= 1) | (t.suspensions >= rules.suspensions)
    return t[factor] >= getattr(rules, factor)


# -- the view -----------------------------------------------------------------------------------

COLUMNS = (
    "marking", "cohort_id", "factors_met", "factors", "age_band", "area", "victim",
    "victim_met", "suspect", "suspect_met", "knife", "knife_met", "ae_assault", "ae_assault_met",
    "youth_justice", "youth_justice_met", "permanent_exclusions", "suspensions",
    "exclusions_met", "first_seen", "last_seen", "sources", "synthetic",
)  # fmt: skip


def age_band(age: Any) -> str:
    if age is None or pd.isna(age):
        return UNKNOWN
    return next((label for low, high, label in AGE_BANDS if low <= int(age) <= high), UNKNOWN)


def cohort_id(person: str, salt: str) -> str:
    """A member's id in one build: not the person key, and nothing outside the build."""
    return "C" + hashlib.sha256(f"{salt}|{person}".encode()).hexdigest()[:10]


def _explained(
    found: pd.DataFrame, rules: CohortRules, not_assessed: dict[str, str], salt: str
) -> pd.DataFrame:
    """One row per member: counts, each factor met or not, the factors in words; sorted by
    factors met, then the latest record, then id."""
    months = rules.lookback_months
    rows = []
    for r in found.to_dict(orient="records"):
        row: dict[str, Any] = {
            "marking": MARKING,
            "cohort_id": cohort_id(str(r["person"]), salt),
            "factors_met": int(r["factors_met"]),
            "age_band": age_band(r["age"]),
            "area": r["csp"] if isinstance(r["csp"], str) else UNKNOWN,
        }
        words = []
        for factor in FACTORS:
            assessed = factor.id not in not_assessed
            if factor.id == "exclusions":
                permanent, suspended = int(r["permanent"]), int(r["suspensions"])
                row["permanent_exclusions"] = permanent if assessed else None
                row["suspensions"] = suspended if assessed else None
                met = assessed and (permanent >= 1 or suspended >= rules.suspensions)
                if met:
                    words.append(_exclusion_words(permanent, suspended, rules))
            else:
                count = int(r[factor.id])
                row[factor.id] = count if assessed else None
                threshold = getattr(rules, factor.id)
                met = assessed and count >= threshold
                if met:
                    words.append(factor.sentence(count, threshold, months))
            row[f"{factor.id}_met"] = met if assessed else None
        row["factors"] = "; ".join(words)
        row["first_seen"] = _day(r["first_seen"])
        row["last_seen"] = _day(r["last_seen"])
        row["sources"] = ", ".join(SOURCES[s][1] for s in SOURCES if r[f"seen_{s}"])
        row["synthetic"] = bool(r["synthetic"])
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if frame.empty:
        return frame
    frame = frame.sort_values(
        ["factors_met", "last_seen", "cohort_id"], ascending=[False, False, True]
    )
    return frame.reset_index(drop=True)


def _exclusion_words(permanent: int, suspended: int, rules: CohortRules) -> str:
    parts = []
    if permanent:
        parts.append("permanently excluded" + ("" if permanent == 1 else f" {permanent} times"))
    if suspended:
        parts.append(f"suspended {'once' if suspended == 1 else f'{suspended} times'}")
    return (
        f"{' and '.join(parts)} in {rules.lookback_months} months (threshold a permanent "
        f"exclusion or {rules.suspensions} suspensions)"
    )


def _day(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()
