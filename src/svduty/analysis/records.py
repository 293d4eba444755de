"""Which records an assessment rests on: per source, real or synthetic, how many the definition
could judge (in it, or out of it on every clause) and how many it could not, and why; per clause,
the records it could not judge; and where the incidents in the definition could not be placed.

A record is undecided when no clause takes it in and at least one clause cannot be judged on it
(a fact the clause reads is missing). Open data with no offence codes or markers is undecided on
every clause: it is held, but it counts towards nothing in the assessment, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd

from svduty.counting import Filter
from svduty.definitions.classify import classification_input
from svduty.definitions.model import Definition
from svduty.definitions.rules import any_of, unknown
from svduty.engine import Store

SOURCE_KEY = ["source_kind", "force", "synthetic"]
GEOCODING = (
    ("no_coordinates", "no coordinates: left off the maps, hotspots and near repeats"),
    ("no_lsoa", "no LSOA: in no CSP, district, deprivation decile or neighbourhood"),
    ("unknown_lsoa", "an LSOA the lookup does not know: placed like a record with none"),
    ("outside_area", "an LSOA outside the partnership's districts"),
)
"""Ways an incident in the definition can fail to be placed, and what each leaves it out of."""
DERIVED_FACTS = {"offence_group", "offence_subgroup"}  # read from the offence code


@dataclass(frozen=True)
class RecordsAnalysed:
    """One area's records: `sources` (source_kind, force, synthetic, records, in_definition,
    not_in, undecided, months: the first and last month held), `clauses` (clause, clause_name,
    facts, undecided), `missing` (per source, the facts the definition reads that none of its
    records carries) and `geocoding` (issue, count: incidents in the definition)."""

    sources: pd.DataFrame
    clauses: pd.DataFrame
    missing: dict[tuple[str, str, bool], list[str]]
    geocoding: pd.DataFrame
    definition: str
    engine: str


def facts(definition: Definition) -> dict[str, list[str]]:
    """The facts (input columns) each clause reads, in order."""
    return {
        c.id: list(dict.fromkeys(col for rule in c.all_rules() for col in rule.columns()))
        for c in definition.clauses
    }


def records_analysed(
    store: Store,
    definition: Definition,
    filters: list[Filter],
    districts: tuple[str, ...],
    csps: list[str],
) -> dict[str | None, RecordsAnalysed]:
    """The whole area's records (key None) and each CSP's, from one pass. `filters` must not
    name an area: CSPs are split here by each record's LSOA, as every other result is."""
    from svduty.analysis.selection import narrowed

    read = facts(definition)
    t = classification_input(store, [definition])
    exprs = {c.id: c.expr(t) for c in definition.clauses}
    matched = any_of([e.fill_null(False) for e in exprs.values()])
    some_unknown = any_of([unknown(e) for e in exprs.values()])
    columns = list(dict.fromkeys(col for cols in read.values() for col in cols))
    t = t.mutate(
        _in=matched,
        _undecided=~matched & some_unknown,
        **{f"_unknown_{k}": unknown(e) for k, e in exprs.items()},
    )
    t = narrowed(store, t, filters)
    areas = store.table("areas").select(_lsoa_key="lsoa_code", _area="csp_name", _la="la_code")
    t = t.left_join(areas, t.lsoa_code == areas._lsoa_key)
    placed = t._lsoa_key.notnull()
    outside = placed & ~t._la.isin(list(districts)) if districts else placed & ~placed
    issues = {
        "no_coordinates": t.longitude.isnull() & t.easting.isnull(),
        "no_lsoa": t.lsoa_code.isnull(),
        "unknown_lsoa": t.lsoa_code.notnull() & ~placed,
        "outside_area": outside,
    }
    metrics = {
        "records": t.count(),
        "in_definition": t._in.cast("int64").sum(),
        "undecided": t._undecided.cast("int64").sum(),
        **{f"_unknown_{k}": t[f"_unknown_{k}"].cast("int64").sum() for k in exprs},
        **{f"_has_{c}": t[c].notnull().cast("int64").sum() for c in columns},
        **{f"_issue_{k}": (t._in & v).cast("int64").sum() for k, v in issues.items()},
        "_first": t.month.min(),
        "_last": t.month.max(),
    }
    frame = (
        t.group_by(
            source_kind=t.source_kind,
            force=ibis.coalesce(t.force, ibis.literal("")),
            synthetic=t.synthetic.fill_null(False),
            area=t._area,
        )
        .aggregate(**metrics)
        .to_pandas()
    )
    numbers = [c for c in frame.columns if c not in (*SOURCE_KEY, "area", "_first", "_last")]
    frame[numbers] = frame[numbers].fillna(0).astype("int64")
    frame["synthetic"] = frame["synthetic"].astype(bool)
    whole = _one(frame, definition, read, columns, store.name, None)
    out: dict[str | None, RecordsAnalysed] = {None: whole}
    for csp in csps:
        out[csp] = _one(frame[frame["area"] == csp], definition, read, columns, store.name, whole)
    return out


def _one(
    frame: pd.DataFrame,
    definition: Definition,
    read: dict[str, list[str]],
    columns: list[str],
    engine: str,
    whole: RecordsAnalysed | None,
) -> RecordsAnalysed:
    per = frame.drop(columns=["_first", "_last"]).groupby(SOURCE_KEY, as_index=False).sum()
    months = frame.groupby(SOURCE_KEY).agg(first=("_first", "min"), last=("_last", "max"))
    sources = per[SOURCE_KEY].copy()
    sources["records"] = per["records"]
    sources["in_definition"] = per["in_definition"]
    sources["not_in"] = per["records"] - per["in_definition"] - per["undecided"]
    sources["undecided"] = per["undecided"]
    sources = sources.sort_values(SOURCE_KEY, kind="stable").reset_index(drop=True)
    held = [months.loc[tuple(r)] for r in sources[SOURCE_KEY].itertuples(index=False)]
    sources["months"] = [_span(m["first"], m["last"]) for m in held]
    # what a source carries is a property of the source, judged on all its records in the area
    missing = (
        whole.missing
        if whole is not None
        else {
            (str(r["source_kind"]), str(r["force"]), bool(r["synthetic"])): [
                c for c in columns if int(r[f"_has_{c}"]) == 0
            ]
            for _, r in per.iterrows()
        }
    )
    clauses = pd.DataFrame(
        [
            {
                "clause": c.id,
                "clause_name": c.name,
                "facts": listed(fact_words(read[c.id]), "and"),
                "undecided": int(frame[f"_unknown_{c.id}"].sum()),
            }
            for c in definition.clauses
        ],
        columns=["clause", "clause_name", "facts", "undecided"],
    )
    geocoding = pd.DataFrame(
        [{"issue": words, "count": int(frame[f"_issue_{key}"].sum())} for key, words in GEOCODING],
        columns=["issue", "count"],
    )
    return RecordsAnalysed(sources, clauses, missing, geocoding, definition.id, engine)


def _span(first: Any, last: Any) -> str:
    """The months a source's records fall in, e.g. '2025-01 to 2025-12' ('' when undated)."""
    if pd.isna(first) or pd.isna(last):
        return ""
    a, b = (pd.Timestamp(m).strftime("%Y-%m") for m in (first, last))
    return a if a == b else f"{a} to {b}"


def listed(words: list[str], last: str = "or") -> str:
    """'a, b or c' (or 'a, b and c')."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def fact_words(columns: list[str]) -> list[str]:
    """Facts in a reader's words; the offence group and subgroup are named with the code they
    come from, and markers together."""
    words: list[str] = []
    markers = [
        c.removeprefix("marker_").replace("_", " ") for c in columns if c.startswith("marker_")
    ]
    for column in columns:
        if column.startswith("marker_"):
            continue
        if column in DERIVED_FACTS:
            column = "offence_code"
        word = {"offence_code": "offence code", "location_type": "type of place"}.get(
            column, column.replace("_", " ")
        )
        if word not in words:
            words.append(word)
    if markers:
        words.append(f"marker{'s' if len(markers) > 1 else ''} ({', '.join(markers)})")
    return words
