"""Who: victims and suspects of the selected incidents by age band, sex and ethnicity; the
relationship of suspect to victim; under-18 and under-25 shares; repeat victims and suspects
(the same pseudonymous key in more than one incident)."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from svduty.analysis.selection import selected, with_csp
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


def _band(age: ibis.Value) -> ibis.Value:
    cases = [((age >= low) & (age <= high), name) for low, high, name in AGE_BANDS]
    return ibis.cases(*cases, else_="unknown")


def who(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> WhoResult:
    t = selected(store, definition, filters)
    frame = _people(store, t, [])
    incidents = int(t.count().to_pandas())
    return who_from(frame, incidents, definition, store.name)


def who_by_csp(
    store: Store, definition: Definition | None = None, filters: list[Filter] | None = None
) -> dict[str, WhoResult]:
    """Each CSP's victims and suspects from one query (a CSP is the incident's)."""
    t = with_csp(store, selected(store, definition, filters))
    frame = _people(store, t, ["_area"])
    incidents = t.group_by("_area").aggregate(n=t.count()).to_pandas()
    incidents = incidents.dropna(subset=["_area"])
    return {
        str(area): who_from(frame[frame["_area"] == area], int(n), definition, store.name)
        for area, n in zip(incidents["_area"], incidents["n"], strict=True)
    }


def _people(store: Store, t: ir.Table, keep: list[str]) -> pd.DataFrame:
    chosen = t.select(
        *keep, _force="force", _ref="crime_ref", _batch="batch_id", _line="source_line"
    )
    people = store.table("involvements")
    joined = people.join(
        chosen, (people.force == chosen._force) & (people.crime_ref == chosen._ref)
    )
    return joined.select(
        *keep,
        "role",
        "person_key",
        "age",
        "sex",
        "ethnicity",
        "relationship",
        "crime_ref",
        band=_band(joined.age),
    ).to_pandas()


def who_from(
    frame: pd.DataFrame, incidents: int, definition: Definition | None, engine: str
) -> WhoResult:
    """Profiles of victims and suspects from their involvement rows."""
    profiles = {
        role: _profile(role, frame[frame["role"] == role]) for role in ("victim", "suspect")
    }
    suspects = frame[frame["role"] == "suspect"]
    relationships = (
        _by_count(suspects["relationship"].fillna("not recorded").value_counts())
        .rename_axis("relationship")
        .reset_index(name="count")
    )
    return WhoResult(
        profiles["victim"],
        profiles["suspect"],
        relationships,
        incidents,
        int(frame["crime_ref"].nunique()),
        None if definition is None else f"{definition.id} v{definition.version}",
        engine,
    )


def _by_count(table: pd.Series) -> pd.Series:
    """Most first, ties in name order, so the order never depends on the engine or the run."""
    return table.sort_index(kind="stable").sort_values(ascending=False, kind="stable")


def _counts(series: pd.Series, name: str, order: list[str] | None = None) -> pd.DataFrame:
    table = _by_count(series.fillna("not recorded").value_counts())
    if order:
        table = table.reindex(
            [o for o in order if o in table.index] + [i for i in table.index if i not in order]
        )
    return table.rename_axis(name).reset_index(name="count")


def _profile(role: str, frame: pd.DataFrame) -> RoleProfile:
    aged = frame["age"].dropna()
    keys = frame.dropna(subset=["person_key"]).groupby("person_key")["crime_ref"].nunique()
    repeat = keys[keys > 1]
    repeat_incidents = frame[frame["person_key"].isin(repeat.index)]["crime_ref"].nunique()
    return RoleProfile(
        role=role,
        people=len(frame),
        distinct_people=int(frame["person_key"].nunique()),
        age_bands=_counts(frame["band"], "age_band", [b for _, _, b in AGE_BANDS]),
        sex=_counts(frame["sex"], "sex"),
        ethnicity=_counts(frame["ethnicity"], "ethnicity"),
        under_18=float((aged < 18).mean()) if len(aged) else None,
        under_25=float((aged < 25).mean()) if len(aged) else None,
        repeat_people=len(repeat),
        incidents_with_repeat=int(repeat_incidents),
    )
