"""The records a linkage run reads: the workspace's stored identifiers, by source, prepared for
Splink (a record id, the identifiers as the store normalised them, and columns derived from
them for blocking and comparing).

Which source a record belongs to comes from its batch: the batch's `source_kind` names the
mapping part that loaded it, and the part names its canonical table.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from svduty.errors import InputError
from svduty.identity.normalise import IDENTIFIER_FIELDS, normalised_sql
from svduty.linkage.model import TRANSPOSED_SUFFIX

if TYPE_CHECKING:
    import pandas as pd

    from svduty.workspace import Workspace

ID_SCALE = 1_000_000_000_000
"""unique_id = batch_id * ID_SCALE + source_line: one integer per record, both parts kept."""

DERIVED = ("date_of_birth" + TRANSPOSED_SUFFIX, "year_of_birth", "postcode_district")
PREPARED_COLUMNS = (*(f.name for f in IDENTIFIER_FIELDS), *DERIVED)
"""The columns a preset for workspace records may name."""
UK_POSTCODE = "^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"


def source_tables() -> dict[str, str]:
    """Source kind -> canonical table, for every mapping part."""
    from svduty.mapping import PARTS
    from svduty.sources.mapped import KINDS

    return {kind: PARTS[part][0] for part, kind in KINDS.items() if part in PARTS}


def batches_by_table(workspace: Workspace) -> dict[str, list[int]]:
    """Committed batches holding stored identifiers, by the canonical table they loaded."""
    from svduty import identifiers

    stored = identifiers.rows_per_batch(workspace)
    tables = source_tables()
    found: dict[str, list[int]] = {}
    rows = workspace.con.execute("SELECT batch_id, source_kind FROM batches ORDER BY 1").fetchall()
    for batch_id, kind in rows:
        if stored.get(int(batch_id)):
            found.setdefault(tables.get(kind, kind), []).append(int(batch_id))
    return found


def data_version(batches: dict[str, list[int]]) -> str:
    """Changes whenever the committed batches holding identifiers change."""
    payload = json.dumps({t: sorted(b) for t, b in sorted(batches.items())}, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def read(workspace: Workspace, batches: dict[str, list[int]]) -> dict[str, pd.DataFrame]:
    """The prepared records of each source (an audited read of identifiers)."""
    from svduty import identifiers

    wanted = sorted(b for ids in batches.values() for b in ids)
    if not wanted:
        raise InputError(
            f"{workspace.root}: no records with identifiers; a mapping's people part declares "
            "them (identifiers: forename, surname, date_of_birth...) before ingest"
        )
    frame = identifiers.read(workspace, batches=wanted)
    table_of = {b: t for t, ids in batches.items() for b in ids}
    frame["source_table"] = frame["batch_id"].map(table_of)
    prepared = prepare(frame)
    return {
        table: prepared[prepared["source_table"] == table].reset_index(drop=True)
        for table in sorted(batches)
    }


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Records ready for Splink: `unique_id` (from batch_id and source_line when no unique_id
    is given), identifiers normalised as person keys normalise them (names in capitals without
    accents or punctuation...), dates of birth as ISO text with the transposed date and the
    year, postcodes written with their space (B1 1AA) and their district."""
    import duckdb

    con = duckdb.connect()
    con.register("_records", frame)
    empty = "''"
    columns = set(frame.columns)
    derived = []
    if "unique_id" not in columns:
        derived.append(f"batch_id::BIGINT * {ID_SCALE} + source_line::BIGINT AS unique_id")
    replaced = [
        f"{normalised_sql(field.kind, f'nullif(trim(CAST({field.name} AS VARCHAR)), {empty})')} "
        f"AS {field.name}"
        for field in IDENTIFIER_FIELDS
        if field.name in columns and field.kind not in ("date", "postcode")
    ]
    if "date_of_birth" in columns:
        dob = "left(CAST(date_of_birth AS VARCHAR), 10)"  # a DATE, a TIMESTAMP or ISO text
        day, month = f"substr({dob}, 9, 2)", f"substr({dob}, 6, 2)"
        derived += [
            f"CASE WHEN {day} <> {month} AND {day} BETWEEN '01' AND '12' "
            f"THEN substr({dob}, 1, 5) || {day} || '-' || {month} END "
            f"AS date_of_birth{TRANSPOSED_SUFFIX}",
            f"substr({dob}, 1, 4) AS year_of_birth",
        ]
        replaced.append(f"{dob} AS date_of_birth")
    if "postcode" in columns:
        code = normalised_sql("postcode", "CAST(postcode AS VARCHAR)")
        spaced = f"left({code}, length({code}) - 3) || ' ' || right({code}, 3)"
        replaced.append(
            f"CASE WHEN regexp_matches({code}, '{UK_POSTCODE}') THEN {spaced} "
            f"ELSE {code} END AS postcode"
        )
        derived.append(
            f"CASE WHEN regexp_matches({code}, '{UK_POSTCODE}') "
            f"THEN left({code}, length({code}) - 3) END AS postcode_district"
        )
    select = "*" + (f" REPLACE ({', '.join(replaced)})" if replaced else "")
    extra = "".join(", " + d for d in derived)
    return con.execute(f"SELECT {select}{extra} FROM _records").df()
