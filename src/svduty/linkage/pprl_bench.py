"""`svduty bench pprl`: linkage on Bloom filters against linkage on the clear values (FEBRL4's
precision, recall and F1 in each mode, through the pipeline and `febrl4` preset of `svduty bench
linkage`, the bloom run with that preset's bloom counterpart), and the rate of `svduty
pseudonymise --encoding bloom` on a generated extract of synthetic people."""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from svduty.identity.normalise import sql_text

MAPPING = """
id: synthetic-people
force: Synthetic
people:
  columns:
    crime_ref: crime_ref
    role: role
    synthetic: synthetic
  identifiers:
    forename: forename
    surname: surname
    date_of_birth: date_of_birth
    sex: sex
    postcode: postcode
  person_key_from: [forename, surname, date_of_birth]
"""
"""The mapping of the generated extract."""
_SYLLABLES = [
    "al", "bren", "cor", "da", "el", "fen", "gar", "hol", "is", "jen", "kel", "lor", "mar",
    "nor", "os", "pen", "quin", "ros", "sel", "tam", "ur", "vel", "wyn", "yar", "zel",
]  # fmt: skip


@dataclass(frozen=True)
class EncodeBench:
    rows: int
    key_seconds: float
    """`pseudonymise` making the person key only: the baseline."""
    bloom_seconds: float

    @property
    def ratio(self) -> float:
        return self.bloom_seconds / self.key_seconds


def generate_people(path: Path, rows: int, seed: float = 0.5) -> Path:
    """A CSV of `rows` synthetic people (made-up names of two or three syllables, dates of
    birth 1940-2015, postcodes in the non-existent area QX), marked synthetic."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed})")
    syllables = "[" + ", ".join(sql_text(s) for s in _SYLLABLES) + "]"
    pick = f"{syllables}[1 + floor(random() * {len(_SYLLABLES)})::INT]"
    con.execute(
        "COPY (SELECT crime_ref, role, synthetic, upper(left(fore, 1)) || substr(fore, 2) AS "
        "forename, upper(left(sur, 1)) || substr(sur, 2) AS surname, date_of_birth, sex, "
        f"postcode FROM (SELECT 'C' || i AS crime_ref, 'victim' AS role, 'Y' AS synthetic, "
        f"{pick} || {pick} || CASE WHEN random() < 0.3 THEN {pick} ELSE '' END AS fore, "
        f"{pick} || {pick} || {pick} AS sur, "
        "strftime(DATE '1940-01-01' + floor(random() * 27394)::INT, '%Y-%m-%d') "
        "AS date_of_birth, CASE WHEN random() < 0.5 THEN 'F' ELSE 'M' END AS sex, "
        "'QX' || floor(random() * 99)::INT || ' ' || floor(random() * 10)::INT || "
        "chr(65 + floor(random() * 26)::INT) || chr(65 + floor(random() * 26)::INT) AS postcode "
        f"FROM range({rows}) t(i))) TO {sql_text(str(path))} (HEADER, DELIMITER ',')"
    )
    con.close()
    return path


def bench_encode(rows: int) -> EncodeBench:
    """Time `pseudonymise --encoding bloom` (read, normalise, person key, five filters, four
    blocking keys, write) over a generated extract of `rows` people, against `pseudonymise`
    making the person key only."""
    from svduty.identity.keys import PersonKeySecret
    from svduty.identity.pseudonymise import pseudonymise

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        mapping = root / "mapping.yaml"
        mapping.write_text(MAPPING, encoding="utf-8")
        source = generate_people(root / "people.csv", rows)
        secret = PersonKeySecret(bytes(range(32)), "benchmark key")
        seconds = []
        for encoding in ("key", "bloom"):
            start = time.perf_counter()
            pseudonymise(source, mapping, secret, root / f"{encoding}.csv", encoding)
            seconds.append(time.perf_counter() - start)
        return EncodeBench(rows, *seconds)


def pprl_command(
    encode_rows: Annotated[
        int, typer.Option(help="Generated people to encode (0: FEBRL4 linkage only).")
    ] = 1_000_000,
) -> None:
    """FEBRL4 linkage on Bloom filters against the clear values (precision, recall, F1), and
    the rate of pseudonymise --encoding bloom on generated synthetic people."""
    import pandas as pd
    from rich.console import Console

    from svduty.linkage.bench import bench_febrl
    from svduty.output import Format, render

    err = Console(stderr=True)
    rows = []
    for mode in ("plain", "bloom"):
        err.print(f"linking FEBRL4 in {mode} mode", highlight=False)
        s = bench_febrl(mode=mode)
        rows.append(
            {
                "mode": mode, "predicted": s.predicted, "true": s.true_positives,
                "precision": round(s.precision, 4), "recall": round(s.recall, 4),
                "F1": round(s.f1, 4), "total (s)": round(s.seconds, 2),
            }
        )  # fmt: skip
    title = f"FEBRL4, febrl4 preset, a link at match weight {s.threshold_match_weight:g}"
    sys.stdout.write(render(pd.DataFrame(rows), Format.table, title))
    if encode_rows:
        err.print(f"encoding {encode_rows:,} generated people", highlight=False)
        done = bench_encode(encode_rows)
        frame = pd.DataFrame(
            [{"rows": done.rows, "key only (s)": round(done.key_seconds, 2),
              "key and Bloom filters (s)": round(done.bloom_seconds, 2),
              "ratio": round(done.ratio, 1)}]
        )  # fmt: skip
        sys.stdout.write(render(frame, Format.table, "pseudonymise, key and bloom encodings"))
