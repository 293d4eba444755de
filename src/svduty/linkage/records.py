"""The records a linkage run reads: the workspace's stored identifiers, by source, prepared for
Splink (a record id, the identifiers as the store normalised them, and columns derived from
them for blocking and comparing).

Which source a record belongs to comes from its batch: the batch's `source_kind` names the
mapping part that loaded it, and the part names its canonical table.

In bloom mode the records are the Bloom filters and encoded blocking keys of Bloom-encoded
extracts instead (`identifiers.read_encodings`), as base64 text; the model's backend makes them
bit strings. Filters made with different partnership keys or parameters never meet: a run
refuses them, naming the files.
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
MODES = ("plain", "bloom")
NEEDS = {"plain": "identifiers in the clear", "bloom": "Bloom filters"}
"""What each mode reads, as a sentence names it."""


def source_tables() -> dict[str, str]:
    """Source kind -> canonical table, for every mapping part."""
    from svduty.mapping import PARTS
    from svduty.sources.mapped import KINDS

    return {kind: PARTS[part][0] for part, kind in KINDS.items() if part in PARTS}


def stored_per_batch(workspace: Workspace, mode: str = "plain") -> dict[int, int]:
    """Records of each committed batch holding what the mode reads (counts only)."""
    from svduty import identifiers

    if mode not in MODES:
        raise InputError(f"--mode: {mode!r} is not a mode; modes: {', '.join(MODES)}")
    if mode == "bloom":
        return identifiers.encodings_per_batch(workspace)
    return identifiers.rows_per_batch(workspace)


def batches_by_table(workspace: Workspace, mode: str = "plain") -> dict[str, list[int]]:
    """Committed batches holding what the mode reads (stored identifiers, or Bloom filters),
    by the canonical table they loaded."""
    stored = stored_per_batch(workspace, mode)
    tables = source_tables()
    found: dict[str, list[int]] = {}
    rows = workspace.con.execute("SELECT batch_id, source_kind FROM batches ORDER BY 1").fetchall()
    for batch_id, kind in rows:
        if stored.get(int(batch_id)):
            found.setdefault(tables.get(kind, kind), []).append(int(batch_id))
    return found


def lacking(workspace: Workspace, mode: str) -> list[str]:
    """Batches holding what the other mode reads and not what this one does, as
    "batch N (file)", so a run can say which records it leaves out."""
    other = next(m for m in MODES if m != mode)
    has = stored_per_batch(workspace, mode)
    held = stored_per_batch(workspace, other)
    names = dict(workspace.con.execute("SELECT batch_id, file_name FROM batches").fetchall())
    return [f"batch {b} ({names.get(b, '?')})" for b in sorted(held) if not has.get(b)]


def data_version(batches: dict[str, list[int]]) -> str:
    """Changes whenever the committed batches holding identifiers change."""
    payload = json.dumps({t: sorted(b) for t, b in sorted(batches.items())}, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def read(
    workspace: Workspace, batches: dict[str, list[int]], mode: str = "plain"
) -> dict[str, pd.DataFrame]:
    """The prepared records of each source (an audited read of identifiers, or in bloom mode
    of their encodings)."""
    from svduty import identifiers

    wanted = sorted(b for ids in batches.values() for b in ids)
    if not wanted:
        raise InputError(
            f"{workspace.root}: no records with identifiers; a mapping's people part declares "
            "them (identifiers: forename, surname, date_of_birth...) before ingest"
        )
    if mode == "bloom":
        check_encodings(workspace, wanted)
        frame = identifiers.read_encodings(workspace, wanted)
        encoded = [c for c in frame.columns if c not in ("batch_id", "source_line")]
        frame[encoded] = frame[encoded].astype("string")
        frame["unique_id"] = frame["batch_id"].astype("int64") * ID_SCALE + frame["source_line"]
        prepared = frame
    else:
        prepared = prepare(identifiers.read(workspace, batches=wanted))
    table_of = {b: t for t, ids in batches.items() for b in ids}
    prepared["source_table"] = prepared["batch_id"].map(table_of)
    return {
        table: prepared[prepared["source_table"] == table].reset_index(drop=True)
        for table in sorted(batches)
    }


def check_encodings(workspace: Workspace, batches: list[int]) -> None:
    """Refuse filters of batches made with different partnership keys or parameters: their
    bits mean different bigrams, so no pair of them would ever agree."""
    from svduty import identifiers

    notes = identifiers.encoding_notes(workspace)
    groups: dict[tuple[str, str], list[str]] = {}
    for batch in batches:
        note = notes.get(batch)
        if note is not None:
            groups.setdefault((note.fingerprint, note.params), []).append(note.file)
    if len(groups) > 1:
        made = "; ".join(
            f"{', '.join(sorted(set(files)))} with partnership key {key} ({params})"
            for (key, params), files in sorted(groups.items())
        )
        raise InputError(
            f"Bloom filters made with different partnership keys or parameters cannot be "
            f"linked together: {made}; have every partner pseudonymise with one partnership "
            "key and svduty's parameters, or link the runs apart"
        )


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
