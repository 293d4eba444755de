"""Bloom-filter encodings of identifiers, for partners who share no identifier in the clear nor
even hashed exact ones (Schnell, Bachteler and Reiher 2009).

Each identifier field is encoded on its own (a field-level Bloom filter): the normalised value
(the same SQL as person keys use; then letters and digits only, so 1990-05-17 is 19900517) is
padded with `_` at either end and cut into bigrams (q = 2: SMITH gives _S SM MI IT TH H_); each
bigram sets `hashes` bits of a filter of `bits` bits. The bit positions of a bigram are 16-bit
slices, modulo `bits`, of HMAC-SHA-256 over (field name, bigram) under the Bloom key, itself
HMAC-SHA-256 of a label under the partnership key: the Bloom key differs from the key person keys
are made with, and the same bigram sets different bits in different fields. Two filters are
compared by their Dice coefficient, 2|A and B| / (|A| + |B|), which follows the Dice coefficient of
the two bigram sets, so a typo lowers the similarity a little and another name lowers it a lot.
Without the partnership key nobody can make a filter for a guessed name; but filters of many
records can be attacked by the frequencies of their bit patterns (the cryptanalysis of
Bloom-filter encodings published since 2011), so an encoded extract stays pseudonymous data,
handled as personal data.

Positions depend only on the key and the bigram, so Python hashes each distinct bigram once and
the engine builds the filters: each distinct value is cut into bigrams, joined to their
positions and aggregated with DuckDB's `bitstring_agg` into a BITSTRING; the records then join
their values' filters. A million records cost a few thousand HMACs and a few joins: with the
person key and the writing of the file, 36 s on two busy cores against 5.6 s for the key alone
(`svduty bench pprl`).

Blocking keys are encoded too: HMAC-SHA-256 (under a third key derived the same way) of coarse
values (year of birth with sex, year and month of birth, the Soundex code of each name), so
records can be paired for comparison without any clear value; two records share a block when
their blocking keys are equal.

The filters live in DuckDB as BITSTRING columns (`<field>_bloom`); in files they are written as
base64 text of their bytes (`to_base64(f::BLOB)`, read back with `from_base64(t)::BIT`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import duckdb

from svduty.identity.normalise import sql_text

BLOOM_LABEL = b"svduty-bloom-v1"
"""The Bloom key is HMAC-SHA-256(partnership key, this label)."""
BLOCK_LABEL = b"svduty-block-v1"
"""The blocking key is HMAC-SHA-256(partnership key, this label)."""
PAD = "_"
"""Marks the start and end of a value, so first and last letters make bigrams of their own."""
SUFFIX = "_bloom"
"""A field's filter column is the field's name with this suffix."""


@dataclass(frozen=True)
class BloomParams:
    """How filters are made; every partner must use the same, as the note of a file says."""

    q: int = 2
    bits: int = 1024
    hashes: int = 10
    """Bits set per q-gram: a name of 6 letters (7 bigrams) sets about 70 of 1024 bits, so the
    filter's Dice follows the bigrams' Dice closely (few collisions)."""

    def __post_init__(self) -> None:
        if self.q < 1 or self.hashes < 1 or self.bits < 8 or self.bits % 8 or self.bits > 65536:
            raise ValueError("q and hashes must be positive; bits a multiple of 8 up to 65536")

    @property
    def words(self) -> str:
        return f"q={self.q}, {self.bits} bits, {self.hashes} hashes per q-gram"


DEFAULT = BloomParams()


def derived_key(secret: bytes, label: bytes) -> bytes:
    """A key for one use, derived from the partnership key: HMAC-SHA-256(secret, label)."""
    return hmac.new(secret, label, hashlib.sha256).digest()


def positions(key: bytes, field: str, gram: str, params: BloomParams = DEFAULT) -> list[int]:
    """The bits a q-gram of a field sets: 16-bit slices of HMAC-SHA-256(key, field 0x1F gram
    0x1F counter), modulo the filter length (unbiased when the length divides 65536)."""
    found: list[int] = []
    counter = 0
    while len(found) < params.hashes:
        message = f"{field}\x1f{gram}\x1f{counter}".encode()
        digest = hmac.new(key, message, hashlib.sha256).digest()
        for i in range(0, len(digest), 2):
            found.append(int.from_bytes(digest[i : i + 2], "big") % params.bits)
        counter += 1
    return found[: params.hashes]


def qgrams(value: str, q: int = 2) -> list[str]:
    """The padded q-grams of a value (what the SQL of `encode` cuts)."""
    padded = PAD + value + PAD
    return [padded[i : i + q] for i in range(len(padded) - q + 1)]


def dice(a: bytes, b: bytes) -> float:
    """The Dice coefficient of two filters given as bytes (for checks outside the engine)."""
    both = sum(bin(x & y).count("1") for x, y in zip(a, b, strict=True))
    total = sum(bin(x).count("1") for x in a) + sum(bin(y).count("1") for y in b)
    return 2 * both / total if total else 0.0


_SOUNDEX = {
    **dict.fromkeys("BFPV", "1"),
    **dict.fromkeys("CGJKQSXZ", "2"),
    **dict.fromkeys("DT", "3"),
    "L": "4",
    **dict.fromkeys("MN", "5"),
    "R": "6",
}


def soundex(name: str) -> str:
    """American Soundex of a normalised name (A-Z): ROBERT and RUPERT are R163."""
    letters = [c for c in name.upper() if "A" <= c <= "Z"]
    if not letters:
        return ""
    code = letters[0]
    last = _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        digit = _SOUNDEX.get(c, "")
        if digit and digit != last:
            code += digit
            if len(code) == 4:
                break
        if c not in "HW":  # H and W do not separate letters of one code
            last = digit
    return code.ljust(4, "0")


@dataclass(frozen=True)
class BlockKey:
    """A coarse value records are paired on, encoded: parts (field, how) joined; how is
    `value`, `year` or `month` (year and month) of a date, or `soundex`."""

    name: str
    parts: tuple[tuple[str, str], ...]

    def fits(self, fields: Iterable[str]) -> bool:
        return {f for f, _ in self.parts} <= set(fields)


BLOCK_KEYS: tuple[BlockKey, ...] = (
    BlockKey("block_birth_sex", (("date_of_birth", "year"), ("sex", "value"))),
    BlockKey("block_birth_year", (("date_of_birth", "year"),)),
    BlockKey("block_birth_month", (("date_of_birth", "month"),)),
    BlockKey("block_surname", (("surname", "soundex"),)),
    BlockKey("block_forename", (("forename", "soundex"),)),
)
"""The blocking keys made when their fields are encoded: year of birth with sex (or alone when
sex is not recorded), year and month of birth, and the Soundex of each name."""


def filter_text_sql(normalised: str) -> str:
    """The text a filter is made from: letters and digits of the normalised value."""
    return f"nullif(regexp_replace({normalised}, '[^A-Za-z0-9]', '', 'g'), '')"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _map_distinct(
    con: duckdb.DuckDBPyConnection,
    name: str,
    values_sql: str,
    fn: Callable[[str], object],
    mapped_type: str = "VARCHAR",
) -> None:
    """A temporary table `name(value, mapped)` of fn over the distinct non-NULL values of a
    query: Python runs once per distinct value, never per row."""
    import pandas as pd

    distinct = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT v FROM ({values_sql}) t(v) WHERE v IS NOT NULL"
        ).fetchall()
    ]
    frame = pd.DataFrame({"value": distinct, "mapped": [fn(v) for v in distinct]})
    con.register(f"{name}_frame", frame)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT value::VARCHAR AS value, "
        f"mapped::{mapped_type} AS mapped FROM {name}_frame"
    )
    con.unregister(f"{name}_frame")


def encode(
    con: duckdb.DuckDBPyConnection,
    source: str,
    ids: Sequence[str],
    fields: dict[str, str],
    secret: bytes,
    target: str,
    params: BloomParams = DEFAULT,
    blocks: Sequence[BlockKey] | None = None,
) -> tuple[BlockKey, ...]:
    """Make `target` (a temporary table): the `ids` columns of `source` (a table or a
    parenthesised query), a BITSTRING filter `<field>_bloom` per field (fields: name -> SQL of
    its normalised value over `source` as `s`), and the blocking keys whose fields are encoded
    (64 hex digits; NULL when a part is missing; by default `default_blocks`). The blocking
    keys made."""
    blocks = default_blocks(fields) if blocks is None else tuple(blocks)
    bloom_key = derived_key(secret, BLOOM_LABEL)
    block_key = derived_key(secret, BLOCK_LABEL)
    columns = [f"s.{_quote(i)}" for i in ids]
    columns += [f"{filter_text_sql(sql)} AS {_quote(name)}" for name, sql in fields.items()]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _bf_src AS SELECT {', '.join(columns)} FROM {source} s"
    )
    joins, selected = [], [f"r.{_quote(i)}" for i in ids]
    for n, name in enumerate(fields):
        text = f"r.{_quote(name)}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _bf_grams AS SELECT DISTINCT t.value, "
            f"substr({sql_text(PAD)} || t.value || {sql_text(PAD)}, i, {params.q}) AS gram "
            f"FROM (SELECT DISTINCT {text} AS value FROM _bf_src r WHERE value IS NOT NULL) t, "
            f"range(1, length(t.value) + 4 - {params.q}) AS g(i)"
        )
        _map_distinct(
            con,
            "_bf_positions",
            "SELECT gram FROM _bf_grams",
            partial(positions, bloom_key, name, params=params),
            "INTEGER[]",
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _bf_field_{n} AS SELECT g.value, "
            f"bitstring_agg(p.position, 0, {params.bits - 1}) AS filter FROM _bf_grams g "
            "JOIN (SELECT value AS gram, unnest(mapped) AS position FROM _bf_positions) p "
            "USING (gram) GROUP BY g.value"
        )
        joins.append(f"LEFT JOIN _bf_field_{n} f{n} ON f{n}.value = {text}")
        selected.append(f"f{n}.filter AS {_quote(name + SUFFIX)}")
    sounded = {f for b in blocks for f, how in b.parts if how == "soundex"}
    for field in sorted(sounded):
        _map_distinct(con, "_bf_sound", f"SELECT {_quote(field)} FROM _bf_src", soundex)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _bf_src AS SELECT r.*, m.mapped AS "
            f"{_quote('_soundex_' + field)} FROM _bf_src r "
            f"LEFT JOIN _bf_sound m ON m.value = r.{_quote(field)}"
        )
    for n, block in enumerate(blocks):
        clear = _block_sql(block)
        _map_distinct(
            con,
            f"_bf_block_{n}",
            f"SELECT {clear} FROM _bf_src r",
            partial(block_hmac, block_key, block.name),
        )
        joins.append(f"LEFT JOIN _bf_block_{n} b{n} ON b{n}.value = {clear}")
        selected.append(f"b{n}.mapped AS {_quote(block.name)}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_quote(target)} AS SELECT {', '.join(selected)} "
        f"FROM _bf_src r {' '.join(joins)}"
    )
    for n in range(len(fields)):
        con.execute(f"DROP TABLE IF EXISTS _bf_field_{n}")
    for n in range(len(blocks)):
        con.execute(f"DROP TABLE IF EXISTS _bf_block_{n}")
    for table in ("_bf_grams", "_bf_positions", "_bf_sound", "_bf_src"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return blocks


def block_hmac(key: bytes, name: str, value: str) -> str:
    """A blocking key: HMAC-SHA-256 (hex) of its name and clear value under the blocking key."""
    return hmac.new(key, f"{name}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def _block_sql(block: BlockKey) -> str:
    """SQL of a blocking key's clear value over `_bf_src` as `r` (which holds each field's
    filter text); NULL when a part is."""
    parts = []
    for field, how in block.parts:
        value = f"r.{_quote(field)}"
        if how in ("year", "month"):
            parts.append(f"left({value}, {4 if how == 'year' else 6})")
        elif how == "soundex":
            parts.append(f"r.{_quote('_soundex_' + field)}")
        else:
            parts.append(value)
    return " || chr(31) || ".join(parts)


def default_blocks(fields: Iterable[str]) -> tuple[BlockKey, ...]:
    """The blocking keys the encoded fields allow (`BLOCK_KEYS`); the year of birth alone only
    when sex is not encoded."""
    chosen = [b for b in BLOCK_KEYS if b.fits(fields)]
    if any(b.name == "block_birth_sex" for b in chosen):
        chosen = [b for b in chosen if b.name != "block_birth_year"]
    return tuple(chosen)
