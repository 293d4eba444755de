"""`svduty pseudonymise`: an agency replaces the identifiers in its own extract by person keys
before the extract leaves its building.

The mapping says which columns hold identifiers and which of them make the key; the output has
every other column as it was, the key in the mapping's key column, and no identifier column.
The key is made by the same SQL as ingest makes it from the clear identifiers, so an extract
pseudonymised at the agency and one ingested in the clear give a person one key. Ingest reads
the output with the same mapping: a header with the key column and no identifiers is read as an
extract whose keys are made already.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from svduty.errors import InputError
from svduty.identity.keys import KEY_TABLE, PersonKeySecret
from svduty.mapping import load_mapping
from svduty.sources.base import comment_lines, read_header, sql_text
from svduty.sources.mapped import MappedAdapter

NOTE = "# person keys made by svduty pseudonymise from {fields} with partnership key {fingerprint}"
"""The first line of a pseudonymised extract: which key made its keys (by fingerprint)."""
_NOTED = re.compile(
    r"# person keys made by svduty pseudonymise .* with partnership key ([0-9a-f]{16})"
)


@dataclass(frozen=True)
class Pseudonymised:
    out: Path
    rows: int
    key_column: str
    removed: tuple[str, ...]
    """The identifier columns left out."""
    key_fields: tuple[str, ...]
    fingerprint: str
    without_key: tuple[int, ...]
    """Lines (in the input) whose key could not be made: an identifier of the key is empty or
    unreadable."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pseudonymise(path: Path, mapping: Path, secret: PersonKeySecret, out: Path) -> Pseudonymised:
    if out.exists():
        raise InputError(f"{out}: the file exists; give a new name for the pseudonymised extract")
    if path.suffix.lower() != ".csv":
        raise InputError(f"{path}: svduty pseudonymise reads CSV extracts")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    loaded = load_mapping(mapping)
    header = read_header(path)
    keyed = [part for part in loaded.parts if part.key_from]
    if not keyed:
        raise InputError(
            f"{mapping}: no part declares identifiers and 'person_key_from', so there is "
            "nothing to pseudonymise"
        )
    fitting = [MappedAdapter(loaded, part, "", secret) for part in keyed]
    adapter = next((a for a in fitting if a.layout(header) == "clear"), None)
    if adapter is None:
        lacking = "; ".join(
            f"part {a.part.name} lacks {', '.join(sorted(a.part.source_columns - set(header)))}"
            for a in fitting
        )
        raise InputError(
            f"{path}: the header does not fit the identifiers of {mapping} ({lacking})"
        )
    part = adapter.part
    key = part.key_column
    assert key is not None  # a part with person_key_from always has one (load_mapping)
    if key.column in header:
        raise InputError(f"{path}: the file has a {key.column!r} column already")
    problems = adapter.header_problems(header)
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    notes = comment_lines(path)
    types = adapter.column_types("clear", header)
    columns = "{" + ", ".join(f"{sql_text(c)}: {sql_text(t)}" for c, t in types.items()) + "}"
    removed = [c for c in types if c in part.identifier_columns]
    kept = ", ".join(f"s.{_quote(c)}" for c in types if c not in part.identifier_columns)
    made = adapter.person_key_sql("clear")
    out.parent.mkdir(parents=True, exist_ok=True)
    body = out.with_name(f".{out.name}.{os.getpid()}.body")
    whole = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    con = duckdb.connect(":memory:")
    try:
        secret.load(con)
        skip = f", skip={notes}" if notes else ""
        con.execute(
            "CREATE TEMP TABLE _keyed AS SELECT row_number() OVER () AS _line, "
            f"{kept}{', ' if kept else ''}{made} AS {_quote(key.column)} "
            f"FROM read_csv({sql_text(str(path))}, columns={columns}, header=true, "
            f"auto_detect=false, delim=',', quote='\"', escape='\"'{skip}) s "
            f"CROSS JOIN {KEY_TABLE} k"
        )
        rows = int(con.execute("SELECT count(*) FROM _keyed").fetchall()[0][0])
        missing = [
            int(r[0]) + 1 + notes
            for r in con.execute(
                f"SELECT _line FROM _keyed WHERE {_quote(key.column)} IS NULL ORDER BY 1"
            ).fetchall()
        ]
        con.execute(
            f"COPY (SELECT * EXCLUDE (_line) FROM _keyed ORDER BY _line) TO "
            f"{sql_text(str(body))} (HEADER, DELIMITER ',')"
        )
    except duckdb.Error as error:
        body.unlink(missing_ok=True)
        # the first line only: DuckDB's detail quotes the line, identifiers and all
        reason = str(error).strip().splitlines()[0]
        raise InputError(f"{path}: cannot be read as CSV ({reason})") from None
    finally:
        con.close()
    try:
        with whole.open("wb") as target:
            with path.open("rb") as source:
                for _ in range(notes):
                    target.write(source.readline().rstrip(b"\r\n") + b"\n")
            note = NOTE.format(fields=", ".join(part.key_from), fingerprint=secret.fingerprint)
            target.write((note + "\n").encode())
            with body.open("rb") as made_rows:
                shutil.copyfileobj(made_rows, target)
        os.replace(whole, out)
    finally:
        body.unlink(missing_ok=True)
        whole.unlink(missing_ok=True)
    return Pseudonymised(
        out, rows, key.column, tuple(removed), part.key_from, secret.fingerprint, tuple(missing)
    )


def keyed_with(path: Path) -> str | None:
    """The fingerprint of the key a pseudonymised extract says made its keys, if it says."""
    with path.open("rb") as handle:
        for _ in range(comment_lines(path)):
            found = _NOTED.match(handle.readline().decode("utf-8", "replace").strip())
            if found:
                return found.group(1)
    return None
