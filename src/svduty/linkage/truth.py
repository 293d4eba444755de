"""How well a linkage run found people, scored against the truth `svduty synth --identities`
writes: which generated person each line of each file is about.

Scores are pairwise, the measure record linkage reports: a pair of records is predicted when
the run put them in one cluster, true when the truth makes them one person. Each pair of
sources (police people with A&E, youth justice with exclusions...) is scored apart, since a
preset may link one pair well and another badly, and the exact person keys are scored the same
way, so the figures say what linkage adds to keys alone. Only synthetic data has a truth; the
file is read, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from svduty.errors import InputError
from svduty.linkage import store
from svduty.linkage.accuracy import PairAccuracy
from svduty.linkage.records import source_tables
from svduty.workspace import Workspace

TRUTH_COLUMNS = ("file", "line", "person_id")


@dataclass(frozen=True)
class PairScore(PairAccuracy):
    """Pairwise counts for the pairs of records of `sources` (two tables, or one twice)."""

    sources: tuple[str, str]
    method: str  # the run's clusters, or exact person keys
    true_links: int  # pairs of records of one person
    predicted: int
    true_positives: int


def _truth(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"--truth {path}: no such file (svduty synth --identities writes "
                         "truth/identities.csv beside the data)")  # fmt: skip
    try:
        frame = pd.read_csv(path, dtype={"file": "str", "line": "int64", "person_id": "int64"})
    except (ValueError, pd.errors.ParserError) as error:
        first = str(error).splitlines()[0]
        raise InputError(f"{path}: not a truth file of svduty synth ({first})") from error
    missing = [c for c in TRUTH_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)}; a truth file has "
                         f"{', '.join(TRUTH_COLUMNS)}")  # fmt: skip
    return frame[list(TRUTH_COLUMNS)]


def score(workspace: Workspace, run_id: str | None, truth_path: Path) -> list[PairScore]:
    """Pairwise precision and recall of the run's clusters and of exact person keys, for each
    pair of sources, against the generator's truth."""
    run = store.find_run(workspace, run_id, "clustered")
    clusters = store.read_clusters(workspace, run.run_id)
    truth = _truth(truth_path)
    batches = workspace.con.execute("SELECT batch_id, file_name FROM batches").df()
    keyed = []
    for table in sorted(set(source_tables().values()) & set(clusters["source_table"])):
        keyed.append(
            workspace.con.execute(
                f"SELECT batch_id, source_line, person_key FROM {table} "
                "WHERE person_key IS NOT NULL"
            ).df()
        )
    keys = pd.concat(keyed) if keyed else pd.DataFrame(columns=["batch_id", "source_line"])
    con = duckdb.connect()
    for name, frame in (("clusters", clusters), ("truth", truth), ("batches", batches),
                        ("keys", keys)):  # fmt: skip
        con.register(name, frame)
    records = con.execute(
        """
        SELECT c.source_table, c.cluster_id, t.person_id,
               coalesce(k.person_key, 'record ' || c.batch_id || '-' || c.source_line) AS key
        FROM clusters c
        JOIN batches b USING (batch_id)
        LEFT JOIN truth t ON t.file = regexp_extract(b.file_name, '[^/\\\\]+$')
            AND t.line = c.source_line
        LEFT JOIN keys k USING (batch_id, source_line)
        """
    ).df()
    unknown = int(records["person_id"].isna().sum())
    if unknown:
        raise InputError(
            f"--truth {truth_path}: {unknown:,} linked records have no line in it; give the "
            "truth of the files this workspace ingested"
        )
    con.register("records", records)
    scores: list[PairScore] = []
    for method, group in (("linkage run " + run.run_id, "cluster_id"), ("exact keys", "key")):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE g AS SELECT source_table, {group} AS grp, person_id, "
            "count(*) AS n FROM records GROUP BY ALL"
        )
        predicted, true_positives = _pair_sums(con, "grp", "person_id")
        true_pairs, _ = _pair_sums(con, "person_id", "grp")
        scores.extend(
            PairScore(
                sources,
                method,
                true_pairs.get(sources, 0),
                predicted.get(sources, 0),
                true_positives.get(sources, 0),
            )
            for sources in sorted(set(predicted) | set(true_pairs))
        )
    workspace.audit("link score", {"run": run.run_id, "truth": str(truth_path)})
    return scores


def _pair_sums(
    con: duckdb.DuckDBPyConnection, shared: str, also: str
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """For each pair of sources, the pairs of records of table `g` (one row per source, group
    and person, with its records `n`) that share `shared`, and those of them that share `also`
    too. A pair of cells is taken once; records of one cell pair among themselves."""
    rows = con.execute(
        f"""
        SELECT a.source_table, b.source_table,
               sum(CASE WHEN a.source_table = b.source_table AND a.{also} = b.{also}
                        THEN a.n * (a.n - 1) / 2 ELSE a.n * b.n END) AS pairs,
               sum(CASE WHEN a.source_table = b.source_table AND a.{also} = b.{also}
                        THEN a.n * (a.n - 1) / 2 ELSE a.n * b.n END)
                   FILTER (WHERE a.{also} = b.{also}) AS both_shared
        FROM g a JOIN g b ON a.{shared} = b.{shared}
        WHERE a.source_table < b.source_table
           OR (a.source_table = b.source_table AND a.{also} <= b.{also})
        GROUP BY ALL
        """
    ).fetchall()
    return (
        {(s1, s2): int(n or 0) for s1, s2, n, _ in rows},
        {(s1, s2): int(n or 0) for s1, s2, _, n in rows},
    )
