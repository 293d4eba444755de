"""What and how harmful: the offence group, subgroup and code breakdown, and severity-weighted
totals from a weights table the user supplies (ONS Crime Severity Score or Cambridge Crime Harm
Index). No official weights can be bundled; codes without a weight are listed, never weighted 0.

The weights file is CSV with columns `offence_code, weight` and a header comment naming its source
and vintage, e.g. `# source: ONS Crime Severity Score data tool, year ending March 2024`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd

from svduty.analysis.selection import label, selected, with_csp
from svduty.counting import Filter
from svduty.definitions.model import Definition
from svduty.engine import Store
from svduty.errors import InputError


@dataclass(frozen=True)
class Weights:
    path: Path
    source: str
    weights: dict[str, float]


def declared_source(lines: list[str]) -> str:
    """What a reference file's '# source: ...' line names ('' when it has none)."""
    return next(
        (
            line.split(":", 1)[1].strip()
            for line in lines
            if line.startswith("#") and line[1:].strip().lower().startswith("source")
        ),
        "",
    )


def load_weights(path: Path) -> Weights:
    if not path.is_file():
        raise InputError(f"{path}: no such weights file")
    text = path.read_text(encoding="utf-8").splitlines()
    source = declared_source(text)
    if not source:
        raise InputError(
            f"{path}: say where the weights come from in a first line such as "
            "'# source: ONS Crime Severity Score data tool, year ending March 2024'"
        )
    numbers = [n for n, line in enumerate(text, start=1) if not line.startswith("#")]
    rows = list(csv.DictReader(line for line in text if not line.startswith("#")))
    problems, weights = [], {}
    for number, row in zip(numbers[1:], rows, strict=False):
        try:
            weights[row["offence_code"].strip()] = float(row["weight"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"{path}: line {number}: need offence_code and a numeric weight")
    if problems:
        raise InputError("\n".join(problems))
    return Weights(path, source, weights)


@dataclass(frozen=True)
class Breakdown:
    groups: pd.DataFrame
    subgroups: pd.DataFrame
    codes: pd.DataFrame  # code, description, count, weight, harm
    weighted_total: float | None
    unweighted_codes: list[str]  # codes present with no weight
    weights_source: str | None
    definition: str | None
    engine: str


def breakdown(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    weights: Weights | None = None,
) -> Breakdown:
    frame = _per_code(store, selected(store, definition, filters), [])
    return breakdown_from(frame, definition, store.name, weights)


def breakdowns_by_csp(
    store: Store,
    definition: Definition | None = None,
    filters: list[Filter] | None = None,
    weights: Weights | None = None,
) -> dict[str, Breakdown]:
    """Each CSP's breakdown from one query."""
    frame = _per_code(store, with_csp(store, selected(store, definition, filters)), ["_area"])
    return {
        str(csp): breakdown_from(group.drop(columns="_area"), definition, store.name, weights)
        for csp, group in frame.dropna(subset=["_area"]).groupby("_area")
    }


def _per_code(store: Store, t: ir.Table, by: list[str]) -> pd.DataFrame:
    offences = store.table("offences").select(_code="offence_code", description="description")
    per_code = t.group_by(*by, "offence_group", "offence_subgroup", "offence_code").aggregate(
        count=t.count()
    )
    per_code = per_code.left_join(offences, per_code.offence_code == offences._code).drop("_code")
    return per_code.to_pandas()


def breakdown_from(
    frame: pd.DataFrame, definition: Definition | None, engine: str, weights: Weights | None
) -> Breakdown:
    """Groups, subgroups and codes (with harm where weights are given) from counts per code."""
    ordered: pd.DataFrame = frame.sort_values(
        ["count", "offence_code"], ascending=[False, True], kind="stable"
    )
    frame = ordered[ordered["offence_code"].notna()].copy()
    unweighted: list[str] = []
    total = None
    if weights is not None:
        frame["weight"] = frame["offence_code"].map(weights.weights)
        frame["harm"] = frame["count"] * frame["weight"]
        unweighted = sorted(frame.loc[frame["weight"].isna(), "offence_code"])
        total = float(frame["harm"].sum())
    groups = (
        frame.groupby("offence_group")["count"]
        .sum()
        .reset_index()
        .sort_values("count", ascending=False, kind="stable")
    )
    subgroups = (
        frame.groupby(["offence_group", "offence_subgroup"])["count"]
        .sum()
        .reset_index()
        .sort_values("count", ascending=False, kind="stable")
    )
    return Breakdown(
        groups.reset_index(drop=True),
        subgroups.reset_index(drop=True),
        frame.reset_index(drop=True),
        total,
        unweighted,
        weights.source if weights else None,
        label(definition),
        engine,
    )
