"""Publishing: the only door from results to readers.

`publish(drafts, policy)` takes the tables every report of a set offers (the whole area first,
then each CSP), controls them jointly, so no count a reader could see is small and no hidden cell
can be worked out from anything shown in any report of the set, and returns one `Publication` per
report. Renderers (HTML, PDF, JSON, Vega-Lite) draw from publications only. A district's report
is a set of its own (one draft), for analysts: see `svduty.sna.district_publication`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd

from svduty.publish.control import Cells, suppress
from svduty.publish.tables import Table

NOT_FOR_PUBLICATION = "NOT FOR PUBLICATION"


@dataclass(frozen=True)
class Policy:
    """The workspace's disclosure settings, or `internal` (nothing hidden, marked as such)."""

    threshold: int
    internal: bool = False

    @property
    def key(self) -> str:
        return "internal" if self.internal else f"threshold-{self.threshold}"


@dataclass
class Draft:
    """One report's tables before control, and what it is about."""

    id: str
    tables: list[Table]
    provenance: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # map inputs: no counts


@dataclass
class Publication:
    """One report's tables after control: hidden cells are None."""

    id: str
    policy: Policy
    tables: dict[str, pd.DataFrame]
    count_columns: dict[str, list[str]]
    provenance: dict[str, Any]
    extras: dict[str, Any]
    primary: int = 0
    secondary: int = 0
    unprotected: int = 0  # hidden cells the audit could still narrow (nothing left to hide)

    def table(self, section: str, name: str) -> pd.DataFrame:
        return self.tables[f"{section}/{name}"]

    def has(self, section: str, name: str) -> bool:
        return f"{section}/{name}" in self.tables

    def value(self, section: str, name: str) -> Any:
        """A single figure; None when hidden."""
        return self.tables[f"{section}/{name}"]["value"].iloc[0]

    def add(self, table: Table) -> None:
        """A table derived from published ones (so it needs no control of its own)."""
        self.tables[table.id] = table.frame.astype(object).where(table.frame.notna(), None)
        self.count_columns[table.id] = list(table.counts)

    def merge(self, other: Publication) -> Publication:
        """This report with another publication of the same area (e.g. its maps) added."""
        self.tables.update(other.tables)
        self.count_columns.update(other.count_columns)
        self.extras.update(other.extras)
        self.primary += other.primary
        self.secondary += other.secondary
        self.unprotected += other.unprotected
        return self

    def sections(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = defaultdict(dict)
        for key, frame in self.tables.items():
            section, name = key.split("/", 1)
            if list(frame.columns) == ["value"] and len(frame) == 1:
                out[section][name] = plain(frame["value"].iloc[0])
            else:
                out[section][name] = records(frame)
        return dict(out)


def publish(drafts: list[Draft], policy: Policy) -> list[Publication]:
    """Control every draft's tables together. With several drafts the first is the whole area
    and the rest its CSPs: the area's cell is the sum of the CSPs' (and of records placed in no
    CSP, which counts as known to a reader), so hiding is consistent across the set. A
    district's draft comes alone; its CSP's row, shown beside its own, is filed as the CSP's
    (`Table.owner`), and its total is not stated in words, so it may be hidden."""
    cells = Cells()
    placed: dict[tuple[str, str], dict[str, list[int]]] = {}
    whole = drafts[0].id
    for draft in drafts:
        tables = {t.id: t for t in draft.tables}
        for table in _parents_first(draft.tables, tables):
            owner = whole if table.partnership else (table.owner or draft.id)
            placed[(draft.id, table.id)] = _register(cells, owner, table, tables)
    for draft in drafts:
        # the whole area's and each CSP's total are stated in words; a district's may be small
        if not draft.provenance.get("district"):
            cells.public.add(cells.cell((draft.id, "total", "selection"), 0))
    if len(drafts) > 1:
        separate = {t.id for d in drafts for t in d.tables if not t.across_areas}
        _across_areas(cells, drafts, whole, separate)
    result = None if policy.internal else suppress(cells, policy.threshold)
    hidden = [False] * len(cells.values) if result is None else result.hidden
    out = []
    for draft in drafts:
        frames, columns = {}, {}
        for table in draft.tables:
            frames[table.id] = _shown(table, placed[(draft.id, table.id)], hidden)
            columns[table.id] = list(table.counts)
        provenance = {**draft.provenance, "policy": policy.key}
        if policy.internal:
            provenance["marking"] = NOT_FOR_PUBLICATION
        publication = Publication(draft.id, policy, frames, columns, provenance, draft.extras)
        if result is not None:
            publication.primary, publication.secondary = result.primary, result.secondary
            publication.unprotected = result.unprotected
        out.append(publication)
    return out


def _parents_first(tables: list[Table], by_id: dict[str, Table]) -> list[Table]:
    ordered: list[Table] = []

    def visit(table: Table) -> None:
        if table in ordered:
            return
        for parent in table.parents:
            if parent.id(table.section) in by_id:
                visit(by_id[parent.id(table.section)])
        if table.row_total and f"{table.section}/{table.row_total}" in by_id:
            visit(by_id[f"{table.section}/{table.row_total}"])
        ordered.append(table)

    for table in tables:
        visit(table)
    return ordered


def _register(
    cells: Cells, owner: str, table: Table, tables: dict[str, Table]
) -> dict[str, list[int]]:
    """Each count cell of `table` and the lines it sits on; returns cell indices by column."""
    keys = table.row_keys()
    placed: dict[str, list[int]] = {}
    row_total = f"{table.section}/{table.row_total}"
    for column in table.counts:
        values = pd.to_numeric(table.frame[column], errors="coerce").fillna(0).to_numpy()
        cell_key = (column, row_total, "count") if table.by_area else (owner, table.id, column)
        ids = [
            cells.cell((cell_key[0], cell_key[1], key, cell_key[2]), value, shown=True)
            for key, value in zip(keys, values, strict=True)
        ]
        placed[column] = ids
        shared = table.total_of(column)
        if not table.by_area:
            total_key = (owner, "total", shared) if shared else (owner, "total", table.id, column)
            cells.line(cells.cell(total_key, float(values.sum())), ids)
        for parent in table.parents:
            groups = [str(g)[: parent.chars] if parent.chars else g for g in table.frame[parent.by]]
            for group in dict.fromkeys(groups):
                members = [i for i, g in zip(ids, groups, strict=True) if g == group]
                total = sum(v for v, g in zip(values, groups, strict=True) if g == group)
                key = (owner, parent.id(table.section), (group,), parent.column or column)
                cells.line(cells.cell(key, float(total)), members)
    if table.row_total is not None and table.counts:
        frame = table.frame[table.counts].apply(pd.to_numeric, errors="coerce").fillna(0)
        for i, key in enumerate(keys):
            total = cells.cell((owner, row_total, key, "count"), float(frame.iloc[i].sum()))
            cells.line(total, [placed[c][i] for c in table.counts])
    return placed


def _across_areas(cells: Cells, drafts: list[Draft], whole: str, separate: set[str]) -> None:
    """The whole area's cell is the sum of its CSPs' (tables in `separate` do not add up)."""
    parts = [d.id for d in drafts[1:]]
    for key, index in list(cells.index.items()):
        owner, *rest = cast(tuple[Any, ...], key)
        if owner != whole or rest[0] in separate or rest[1] in separate:
            continue
        members = [cells.index[k] for p in parts if (k := (p, *rest)) in cells.index]
        if members:
            cells.line(index, members)


def _shown(table: Table, placed: dict[str, list[int]], hidden: Any) -> pd.DataFrame:
    """The table with hidden and missing cells as None (plain Python values otherwise)."""
    frame = table.frame
    masks = {column: [bool(hidden[i]) for i in ids] for column, ids in placed.items()}
    for column, sources in table.derived.items():
        masks[column] = [
            any(masks[source][row] for source in sources if source in masks)
            for row in range(len(frame))
        ]
    shown = {}
    for column in frame.columns:
        mask = masks.get(column)
        shown[column] = [
            None if (mask is not None and mask[i]) or _missing(v) else v
            for i, v in enumerate(frame[column].tolist())
        ]
    return pd.DataFrame(shown, columns=list(frame.columns), dtype=object)


def _missing(value: Any) -> bool:
    return (
        value is None
        or value is pd.NaT
        or value is pd.NA
        or (isinstance(value, float) and value != value)
    )


def plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.DataFrame):
        return records(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
