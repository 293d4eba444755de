"""The catalogue in the workspace: every version of every intervention, kept.

Storage decision. The catalogue is one DuckDB table, `interventions`, in the workspace's own
file (`svduty.duckdb`) whatever the analysis engine: it is small, it must change in
transactions, and readers get it in the read copy with everything else. Each row is one version
of one intervention: `id`, `version` (1, 2, ...), `valid_from` and `valid_to` (UTC; the current
version has no `valid_to`), `changed_by` (the workspace's actor), `change` (add, edit, end,
import), `changes` (JSON: each changed field with its old and new value) and `record` (JSON:
every field of that version). Keeping the fields as one JSON record means a field added to
`Intervention` later needs no migration (an old record reads with the field's default), while
`catalogue()` gives typed columns to whoever queries it.

Every write takes the writer lock (the workspace is opened as its writer, as for ingest), runs
in one transaction (an import stores all its rows or none), stores a new version only when a
field changed (so repeating an import changes nothing), bumps the workspace's data version
(`derived:interventions` in meta, as analyses will read the catalogue) and then appends one
audit row per changed intervention, plus one for the import.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from svduty import __version__, audit
from svduty.engine import rollback
from svduty.errors import InputError
from svduty.interventions import evidence
from svduty.interventions.model import SEXES, STATUSES, TIERS, Intervention, changes

if TYPE_CHECKING:
    from svduty.workspace import Workspace

TABLE = "interventions"
META_KEY = "derived:interventions:catalogue"


@dataclass(frozen=True)
class Saved:
    """What a write did to each intervention it was given."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]


def _has_table(ws: Workspace) -> bool:
    found = ws.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [TABLE]
    ).fetchone()
    return bool(found and found[0])


def current(ws: Workspace, as_of: datetime | None = None) -> list[Intervention]:
    """The catalogue as it stands (or stood at `as_of`, UTC), ordered by id."""
    if not _has_table(ws):
        return []
    if as_of is None:
        sql, params = f"SELECT record FROM {TABLE} WHERE valid_to IS NULL ORDER BY id", []
    else:
        sql = (
            f"SELECT record FROM {TABLE} WHERE valid_from <= ? AND (valid_to IS NULL OR "
            "valid_to > ?) ORDER BY id"
        )
        stamp = _naive_utc(as_of)
        params = [stamp, stamp]
    return [
        Intervention.from_record(json.loads(r[0])) for r in ws.con.execute(sql, params).fetchall()
    ]


def get(ws: Workspace, ident: str) -> Intervention:
    """One current intervention; an unknown id is named with the ids there are."""
    found = {one.id: one for one in current(ws)}
    if ident not in found:
        known = ", ".join(sorted(found)[:20]) or "none yet"
        raise InputError(f"id: no intervention {ident!r} in this workspace; its ids: {known}")
    return found[ident]


def history(ws: Workspace, ident: str | None = None) -> pd.DataFrame:
    """Every version (of one intervention, or all): who changed what, when."""
    columns = ["id", "version", "valid_from", "valid_to", "changed_by", "change", "changes"]
    if not _has_table(ws):
        return pd.DataFrame(columns=columns)
    where, params = ("WHERE id = ?", [ident]) if ident else ("", [])
    return ws.con.execute(
        f"SELECT {', '.join(columns)} FROM {TABLE} {where} ORDER BY id, version", params
    ).df()


def save(
    ws: Workspace,
    interventions: Iterable[Intervention],
    change: str,
    extra: dict[str, Any] | None = None,
) -> Saved:
    """Store a new version of each intervention that differs from its current one, in one
    transaction, then audit each change."""
    ws.store.require_writer(f"{change} interventions")
    now = datetime.now(UTC).replace(tzinfo=None)
    before = {one.id: one for one in current(ws)}
    versions = dict(ws.con.execute(f"SELECT id, max(version) FROM {TABLE} GROUP BY id").fetchall())
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
    done: list[tuple[Intervention, int, dict[str, list[Any]]]] = []
    ws.con.execute("BEGIN TRANSACTION")
    try:
        for one in interventions:
            old = before.get(one.id)
            diff = changes(old, one)
            if old is not None and not diff:
                unchanged.append(one.id)
                continue
            version = int(versions.get(one.id, 0)) + 1
            ws.con.execute(
                f"UPDATE {TABLE} SET valid_to = ? WHERE id = ? AND valid_to IS NULL",
                [now, one.id],
            )
            ws.con.execute(
                f"INSERT INTO {TABLE} VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
                [
                    one.id,
                    version,
                    now,
                    ws.actor,
                    change,
                    json.dumps(diff),
                    json.dumps(one.record()),
                ],
            )
            versions[one.id] = version
            (changed if old is not None else added).append(one.id)
            done.append((one, version, diff))
        if done:
            ws.con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [META_KEY, secrets.token_hex(6)]
            )
        ws.con.execute("COMMIT")
    except BaseException:
        rollback(ws.con)
        raise
    saved = Saved(tuple(added), tuple(changed), tuple(unchanged))
    _audit(ws, change, done, saved, extra)
    return saved


def _audit(
    ws: Workspace,
    change: str,
    done: list[tuple[Intervention, int, dict[str, list[Any]]]],
    saved: Saved,
    extra: dict[str, Any] | None,
) -> None:
    version = ws.data_version
    entries = [
        audit.Entry(
            at=audit.now(), actor=ws.actor, action=f"interventions {change}",
            parameters={"id": one.id, "version": number, "changes": diff},
            data_version=version, outputs=[], engine=ws.settings.engine,
            svduty_version=__version__,
        )
        for one, number, diff in done
    ]  # fmt: skip
    if extra is not None:
        entries.append(
            audit.Entry(
                at=audit.now(), actor=ws.actor, action=f"interventions {change} file",
                parameters={**extra, "added": len(saved.added), "changed": len(saved.changed),
                            "unchanged": len(saved.unchanged)},
                data_version=version, outputs=[], engine=ws.settings.engine,
                svduty_version=__version__,
            )
        )  # fmt: skip
    if entries:
        audit.append(ws.root, entries, ws.say)


def catalogue(ws: Workspace, as_of: datetime | None = None) -> pd.DataFrame:
    """The current catalogue (or as it stood at `as_of`) as a typed frame, one row per
    intervention: list fields as tuples, ages and capacity as nullable integers, dates as
    datetime64, with the YEF band and headline of its approach and the span of its funding."""
    return frame(current(ws, as_of))


COLUMN_TYPES: dict[str, str] = {
    "id": "string", "name": "string", "provider": "string", "description": "string",
    "tier": "category", "age_min": "Int64", "age_max": "Int64", "sex": "category",
    "roles": "object", "themes": "object", "areas": "object", "setting": "object",
    "referral": "string", "capacity_per_year": "Int64", "cost_per_year": "Float64",
    "funding": "object", "funding_start": "datetime64[ns]", "funding_end": "datetime64[ns]",
    "status": "category", "ended_on": "datetime64[ns]", "yef_approach": "string",
    "yef_band": "category", "yef_headline_percent": "Float64", "evaluation_url": "string",
    "contact": "string", "notes": "string", "illustrative": "object",
}  # fmt: skip


CATEGORIES: dict[str, tuple[str, ...]] = {
    "tier": TIERS, "sex": SEXES, "status": STATUSES, "yef_band": evidence.BANDS,
}  # fmt: skip


def frame(interventions: list[Intervention]) -> pd.DataFrame:
    """Interventions as the typed frame `catalogue` returns."""
    rows = []
    for one in interventions:
        approach = evidence.find(one.yef_approach) if one.yef_approach else None
        starts = [f.start for f in one.funding]
        ends = [f.end for f in one.funding]
        rows.append(
            {
                **{k: getattr(one, k) for k in COLUMN_TYPES if hasattr(one, k)},
                "funding_start": None if not starts or None in starts else min(starts),  # type: ignore[type-var]
                "funding_end": None if not ends or None in ends else max(ends),  # type: ignore[type-var]
                "yef_band": approach.band if approach else None,
                "yef_headline_percent": approach.headline_percent if approach else None,
            }
        )
    found = pd.DataFrame(rows, columns=list(COLUMN_TYPES))
    for column, kind in COLUMN_TYPES.items():
        if kind == "datetime64[ns]":
            found[column] = pd.to_datetime(found[column])
        elif kind == "category":  # every allowed value a category, present or not
            found[column] = pd.Categorical(found[column], categories=CATEGORIES[column])
        elif kind != "object":
            found[column] = found[column].astype(kind)  # type: ignore[call-overload]
    return found


def _naive_utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def sha256(path: Path) -> str:
    return audit.sha256_of(path)


def catalogue_version(ws: Workspace) -> str:
    """A fingerprint of the current catalogue: what a drawn report's gaps depend on."""
    text = json.dumps([one.record() for one in current(ws)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
