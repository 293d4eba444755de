"""Who: victims and suspects of the selected incidents by age band, sex and ethnicity; the
relationship of suspect to victim; under-18 and under-25 shares; repeat victims and suspects
(the same pseudonymous key in more than one incident)."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from svduty.analysis.selection import held, selected, with_csp
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.vocabulary import AGE_BANDS


@dataclass(frozen=True)
class RoleProfile:
    role: str
    people: int  # rows (a person in one incident)
    distinct_people: int
    age_bands: pd.DataFrame
    sex: pd.DataFrame
    ethnicity: pd.DataFrame
    under_18: float | None
    under_25: float | None
    repeat_people: int  # keys seen in more than one incident
    incidents_with_repeat: int


@dataclass(frozen=True)
class WhoResult:
    victims: RoleProfile
    suspects: RoleProfile
    relationships: pd.DataFrame
    incidents: int
    incidents_with_people: int
    definition: str | None
    engine: str


BANDS = [name for _, _, name in AGE_BANDS]


def _band(age: ibis.Value) -> ibis.Value:
    cases = [((age >= low) & (age <= high), name) for low, high, name in AGE_BANDS]
    return ibis.cases(*cases, else_="unknown")


@dataclass(frozen=True)
class Tallies:
    """The selected incidents' people, counted in the engine: rows by role and each attribute
    (`counts`), distinct and repeat keys by role (`keys`), incidents with a repeat key by role
    (`repeats`) and incidents with anyone (`incidents`), all split by the same columns."""

    counts: pd.DataFrame
    keys: pd.DataFrame
    repeats: pd.DataFrame
    incidents: pd.DataFrame

    def part(self, column: str, value: object) -> Tallies:
        return Tallies(*(f[f[column] == value] for f in self.frames()))

    def frames(self) -> tuple[pd.DataFrame, ...]:
        return (self.counts, self.keys, self.repeats, self.incidents)


def who(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> WhoResult:
    t = selected(store, definition, filters)
    incidents = int(t.count().to_pandas())
    return who_from(_tallies(store, t, []), incidents, definition, store.name)


def who_by_csp(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> dict[str, WhoResult]:
    """Each CSP's victims and suspects from one pass (a CSP is the incident's)."""
    t = with_csp(store, selected(store, definition, filters))
    tallies = _tallies(store, t, ["_area"])
    incidents = t.group_by("_area").aggregate(n=t.count()).to_pandas()
    incidents = incidents.dropna(subset=["_area"])
    return {
        str(area): who_from(tallies.part("_area", area), int(n), definition, store.name)
        for area, n in zip(incidents["_area"], incidents["n"], strict=True)
    }


def _any_people(people: ir.Table) -> bool:
    """Whether any person is recorded at all: open data has none, and joining every incident
    to an empty table still reads every incident."""
    return bool(len(people.select("crime_ref").limit(1).to_pandas()))


def _tallies(store: Store, t: ir.Table, keep: list[str]) -> Tallies:
    """Counts of the people of incidents `t`, aggregated in the engine (a few thousand rows
    whatever the number of people), split by `keep`."""
    people = store.table("involvements")
    if not _any_people(people):
        attributes = ["band", "sex", "ethnicity", "relationship", "aged", "under_18", "under_25"]
        return Tallies(
            pd.DataFrame(columns=[*keep, "role", *attributes, "n"]),
            pd.DataFrame(columns=[*keep, "role", "distinct_people", "repeat_people"]),
            pd.DataFrame(columns=[*keep, "role", "incidents"]),
            pd.DataFrame(columns=[*keep, "n"]),
        )
    chosen = t.select(*keep, _force="force", _ref="crime_ref")
    joined = people.join(
        chosen, (people.force == chosen._force) & (people.crime_ref == chosen._ref)
    )
    joined = joined.select(*keep, "role", "person_key", "age", "crime_ref", "sex", "ethnicity",
                           "relationship")  # fmt: skip
    with held(store, joined, "_svduty_who") as kept:
        return _tallied(kept, keep)


def _tallied(joined: ir.Table, keep: list[str]) -> Tallies:
    unknown = "not recorded"
    counts = joined.group_by(
        *keep,
        "role",
        band=_band(joined.age),
        sex=joined.sex.fill_null(unknown),
        ethnicity=joined.ethnicity.fill_null(unknown),
        relationship=joined.relationship.fill_null(unknown),
        aged=joined.age.notnull(),
        under_18=(joined.age < 18).fill_null(False),
        under_25=(joined.age < 25).fill_null(False),
    ).aggregate(n=joined.count())
    named = joined.filter(joined.person_key.notnull())
    per_key = named.group_by(*keep, "role", "person_key").aggregate(k=named.crime_ref.nunique())
    keys = per_key.group_by(*keep, "role").aggregate(
        distinct_people=per_key.count(), repeat_people=(per_key.k > 1).sum()
    )
    repeated = per_key.filter(per_key.k > 1).select(*keep, "role", "person_key")
    again = joined.semi_join(repeated, [*keep, "role", "person_key"])
    repeats = again.group_by(*keep, "role").aggregate(incidents=again.crime_ref.nunique())
    anyone = joined.aggregate(n=joined.crime_ref.nunique(), by=keep)
    return Tallies(counts.to_pandas(), keys.to_pandas(), repeats.to_pandas(), anyone.to_pandas())


def who_from(
    tallies: Tallies, incidents: int, definition: Definition | None, engine: str
) -> WhoResult:
    """Profiles of victims and suspects from their tallies."""
    profiles = {role: _profile(role, tallies) for role in ("victim", "suspect")}
    suspects = tallies.counts[tallies.counts["role"] == "suspect"]
    relationships = _counts(suspects, "relationship")
    return WhoResult(
        profiles["victim"],
        profiles["suspect"],
        relationships,
        incidents,
        int(tallies.incidents["n"].sum()),
        None if definition is None else f"{definition.id} v{definition.version}",
        engine,
    )


def _by_count(table: pd.Series) -> pd.Series:
    """Most first, ties in name order, so the order never depends on the engine or the run."""
    return table.sort_index(kind="stable").sort_values(ascending=False, kind="stable")


def _counts(rows: pd.DataFrame, name: str, order: list[str] | None = None) -> pd.DataFrame:
    """People by the values of column `name` (summing the tallies' `n`), most first."""
    table = _by_count(rows.groupby(name)["n"].sum().astype("int64"))
    if order:
        table = table.reindex(
            [o for o in order if o in table.index] + [i for i in table.index if i not in order]
        )
    return table.rename_axis(name).reset_index(name="count")


def _profile(role: str, tallies: Tallies) -> RoleProfile:
    rows = tallies.counts[tallies.counts["role"] == role]
    aged = int(rows.loc[rows["aged"].astype(bool), "n"].sum())
    keys = tallies.keys[tallies.keys["role"] == role]
    repeats = tallies.repeats[tallies.repeats["role"] == role]
    return RoleProfile(
        role=role,
        people=int(rows["n"].sum()),
        distinct_people=int(keys["distinct_people"].sum()),
        age_bands=_counts(rows.rename(columns={"band": "age_band"}), "age_band", BANDS),
        sex=_counts(rows, "sex"),
        ethnicity=_counts(rows, "ethnicity"),
        under_18=int(rows.loc[rows["under_18"].astype(bool), "n"].sum()) / aged if aged else None,
        under_25=int(rows.loc[rows["under_25"].astype(bool), "n"].sum()) / aged if aged else None,
        repeat_people=int(keys["repeat_people"].sum()),
        incidents_with_repeat=int(repeats["incidents"].sum()),
    )
