"""`svduty pseudonymise`: an agency replaces the identifiers in its own extract by person keys
before the extract leaves its building.

The mapping says which columns hold identifiers and which of them make the key; the output has
every other column as it was, the key in the mapping's key column, and no identifier column.
The key is made by the same SQL as ingest makes it from the clear identifiers, so an extract
pseudonymised at the agency and one ingested in the clear give a person one key. Ingest reads
the output with the same mapping: a header with the key column and no identifiers is read as an
extract whose keys are made already.

With `encoding="bloom"` the output also holds, for each declared identifier, its Bloom filter
(base64, `<field>_bloom`) and the encoded blocking keys (svduty.linkage.bloom), for linkage that
tolerates a typo without any identifier in the clear; a second note line says how they were
made.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from svduty.errors import InputError
from svduty.identifiers import EncodingNote
from svduty.identity.keys import KEY_TABLE, PersonKeySecret
from svduty.identity.normalise import FIELDS, normalised_sql
from svduty.linkage.bloom import DEFAULT, SUFFIX, default_blocks, encode
from svduty.mapping import load_mapping
from svduty.sources.base import comment_lines, read_header, sql_text
from svduty.sources.mapped import MappedAdapter

NOTE = "# person keys made by svduty pseudonymise from {fields} with partnership key {fingerprint}"
"""The first line of a pseudonymised extract: which key made its keys (by fingerprint)."""
BLOOM_NOTE = (
    "# Bloom filters (base64) made by svduty pseudonymise from {fields} ({params}) and blocking "
    "keys {blocks}, with partnership key {fingerprint}"
)
ENCODINGS = ("key", "bloom")
_NOTED = re.compile(
    r"# person keys made by svduty pseudonymise .* with partnership key ([0-9a-f]{16})"
)
_BLOOM_NOTED = re.compile(
    r"# Bloom filters \(base64\) made by svduty pseudonymise from .* \((q=[^)]*)\) and "
    r"blocking keys .*, with partnership key ([0-9a-f]{16})"
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
    encoded: tuple[str, ...] = ()
    """Bloom filter and blocking key columns written (encoding "bloom")."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pseudonymise(
    path: Path, mapping: Path, secret: PersonKeySecret, out: Path, encoding: str = "key"
) -> Pseudonymised:
    if encoding not in ENCODINGS:
        raise InputError(
            f"--encoding must be one of {', '.join(ENCODINGS)}; {encoding!r} was given"
        )
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
    clear = {
        i.field: normalised_sql(
            FIELDS[i.field].kind, f"nullif(trim(s.{_quote(i.column)}), '')", i.format
        )
        for i in part.identifiers
    }
    blocks = default_blocks(clear)
    encoded = [f + SUFFIX for f in clear] + [b.name for b in blocks] if encoding == "bloom" else []
    taken = sorted(set(encoded) & set(header))
    if taken:
        raise InputError(f"{path}: the file has a column named {', '.join(taken)} already")
    staged = "".join(f", {sql} AS {_quote('_clear_' + f)}" for f, sql in clear.items())
    out.parent.mkdir(parents=True, exist_ok=True)
    body = out.with_name(f".{out.name}.{os.getpid()}.body")
    whole = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    con = duckdb.connect(":memory:")
    try:
        secret.load(con)
        skip = f", skip={notes}" if notes else ""
        con.execute(
            "CREATE TEMP TABLE _keyed AS SELECT row_number() OVER () AS _line, "
            f"{kept}{', ' if kept else ''}{made} AS {_quote(key.column)}"
            f"{staged if encoded else ''} FROM read_csv({sql_text(str(path))}, columns={columns}, "
            f"header=true, auto_detect=false, delim=',', quote='\"', escape='\"'{skip}) s "
            f"CROSS JOIN {KEY_TABLE} k"
        )
        rows = int(con.execute("SELECT count(*) FROM _keyed").fetchall()[0][0])
        missing = [
            int(r[0]) + 1 + notes
            for r in con.execute(
                f"SELECT _line FROM _keyed WHERE {_quote(key.column)} IS NULL ORDER BY 1"
            ).fetchall()
        ]
        written = "SELECT * EXCLUDE (_line) FROM _keyed ORDER BY _line"
        if encoded:
            sources = {f: f"s.{_quote('_clear_' + f)}" for f in clear}
            encode(con, "_keyed", ["_line"], sources, secret.secret, "_bloom", blocks=blocks)
            filters = [
                f"to_base64(b.{_quote(f + SUFFIX)}::BLOB) AS {_quote(f + SUFFIX)}" for f in clear
            ]
            staged_names = ", ".join(_quote("_clear_" + f) for f in clear)
            written = (
                f"SELECT k.* EXCLUDE (_line, {staged_names}), {', '.join(filters)}, "
                f"{', '.join('b.' + _quote(b.name) for b in blocks)} "
                "FROM _keyed k JOIN _bloom b USING (_line) ORDER BY k._line"
            )
        con.execute(f"COPY ({written}) TO {sql_text(str(body))} (HEADER, DELIMITER ',')")
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
            if encoded:
                note = BLOOM_NOTE.format(
                    fields=", ".join(clear),
                    params=DEFAULT.words,
                    blocks=", ".join(b.name for b in blocks),
                    fingerprint=secret.fingerprint,
                )
                target.write((note + "\n").encode())
            with body.open("rb") as made_rows:
                shutil.copyfileobj(made_rows, target)
        whole.chmod(0o600)  # keys and filters are still personal data: its owner's alone
        os.replace(whole, out)
    finally:
        body.unlink(missing_ok=True)
        whole.unlink(missing_ok=True)
    return Pseudonymised(
        out,
        rows,
        key.column,
        tuple(removed),
        part.key_from,
        secret.fingerprint,
        tuple(missing),
        tuple(encoded),
    )


def keyed_with(path: Path) -> str | None:
    """The fingerprint of the key a pseudonymised extract says made its keys, if it says."""
    with path.open("rb") as handle:
        for _ in range(comment_lines(path)):
            found = _NOTED.match(handle.readline().decode("utf-8", "replace").strip())
            if found:
                return found.group(1)
    return None


def bloom_noted(path: Path) -> tuple[str, str, str] | None:
    """(fingerprint, parameters, the note line) of the Bloom filters of an extract, if its
    note says how they were made."""
    with path.open("rb") as handle:
        for _ in range(comment_lines(path)):
            line = handle.readline().decode("utf-8", "replace").strip()
            found = _BLOOM_NOTED.match(line)
            if found:
                return found.group(2), found.group(1), line
    return None


def encoding_note(name: str, path: Path) -> EncodingNote:
    """How a Bloom-encoded extract's filters were made, from its note line (refused without
    one: filters of unknown making cannot be linked safely with others)."""
    noted = bloom_noted(path)
    if noted is None:
        raise InputError(
            f"{name}: Bloom filters without the note line of `svduty pseudonymise --encoding "
            "bloom` saying which partnership key and parameters made them; keep the extract's "
            "first lines as pseudonymise wrote them"
        )
    return EncodingNote(name, *noted)
