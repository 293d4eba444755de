"""Linkage runs on a workspace: train a preset's model on the stored identifiers, score pairs
above the threshold, cluster them, each step stored in the restricted linkage store.

Every step reads identifiers through `identifiers.read` (analysts only, audited) and is audited
itself. A run in bloom mode reads Bloom-encoded extracts' filters instead
(`identifiers.read_encodings`, as audited) and compares them with the bloom counterpart of its
preset (`dice.bloom_preset`); its later steps follow the run's mode. Steps are written by the
workspace's writer (the caller opens the workspace as such).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from svduty.errors import InputError
from svduty.linkage import records, store
from svduty.linkage.presets import Preset, load_preset, probability

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from svduty.linkage.model import Say
    from svduty.workspace import Workspace


def _sources(preset: Preset, found: dict[str, list[int]]) -> dict[str, list[int]]:
    if preset.sources is None:
        return found
    return {t: b for t, b in found.items() if t in preset.sources}


def _usable(preset: Preset, tables: dict[str, pd.DataFrame], say: Say) -> Preset:
    """The preset without what no record holds (announced); an error when nothing is left to
    compare or block on, or a column is not in the records at all."""
    columns = set().union(*(t.columns for t in tables.values()))
    unknown = sorted(preset.columns - columns)
    if unknown:
        raise InputError(
            f"{preset.path}: names column(s) {', '.join(unknown)} that the records do not have; "
            f"columns: {', '.join(sorted(columns - {'unique_id', 'batch_id', 'source_line'}))}"
        )
    held = {c for c in columns if any(t[c].notna().any() for t in tables.values() if c in t)}
    used = preset.keeping(held)
    dropped = [c.name for c in preset.comparisons if c not in used.comparisons]
    if dropped:
        say(f"no record holds {', '.join(dropped)}: left out of the comparisons")
    for what, kept in (
        ("comparisons", used.comparisons),
        ("blocking rules", used.blocking),
        ("training blocking rules", used.em_blocking),
        ("prior rules", used.prior_rules),
    ):
        if not kept:
            raise InputError(
                f"{preset.path}: none of its {what} can be used: the records hold "
                f"{', '.join(sorted(held & preset.columns)) or 'none of its columns'}"
            )
    return used


THRESHOLDS = (-30.0, 60.0)
"""Match weights a threshold may take: from odds of about one in a billion to certainty."""


def check_threshold(weight: float | None) -> None:
    """Refuse a threshold that is not a number of the range, before anything runs or is kept."""
    low, high = THRESHOLDS
    if weight is not None and not (math.isfinite(weight) and low <= weight <= high):
        raise InputError(
            f"--threshold {weight}: a match weight from {low:g} to {high:g} (log2 of the odds "
            "a pair is one person; 10 is a probability of about 0.999)"
        )


def train(
    workspace: Workspace,
    preset_name: str | Path,
    threshold_match_weight: float | None,
    say: Say,
    mode: str = "plain",
) -> store.Run:
    """Train the preset's model on the workspace's identifiers (or, in bloom mode, on their
    Bloom filters); the stored run."""
    from svduty.linkage import model
    from svduty.linkage.dice import bloom_preset, require_duckdb

    check_threshold(threshold_match_weight)
    if mode == "bloom":
        require_duckdb(workspace.settings.engine)
    workspace.store.require_writer("train a linkage model")
    preset = load_preset(preset_name)
    batches = _sources(preset, records.batches_by_table(workspace, mode))
    left_out = records.lacking(workspace, mode)
    if not batches:
        wanted = "any source" if preset.sources is None else ", ".join(preset.sources)
        held = f" ({', '.join(left_out)} hold only the other mode's)" if left_out else ""
        raise InputError(
            f"{workspace.root}: no records with {records.NEEDS[mode]} in {wanted}{held}; "
            + (
                "ingest extracts made by `svduty pseudonymise --encoding bloom`"
                if mode == "bloom"
                else "a mapping's part declares identifiers (forename, surname, "
                "date_of_birth...) before ingest, or link Bloom-encoded extracts with --mode bloom"
            )
        )
    if left_out:
        say(f"{', '.join(left_out)} hold no {records.NEEDS[mode]}: left out of this {mode} run")
    tables = records.read(workspace, batches, mode)
    if mode == "bloom":
        preset = bloom_preset(preset)
    used = _usable(preset, tables, say)
    threshold = (
        used.threshold_match_weight if threshold_match_weight is None else threshold_match_weight
    )
    total = sum(len(t) for t in tables.values())
    held = ", ".join(f"{t} {len(frame):,}" for t, frame in tables.items())
    say(f"training {used.id} on {total:,} records ({held})")
    with model.backend(workspace.settings.engine, workspace.settings.spark_master) as api:
        trained = model.train(api, tables, used, say)
    run = store.Run(
        run_id=store.new_run_id(),
        preset=used.id,
        mode=mode,
        created_at=datetime.now(),
        created_by=workspace.actor,
        threshold_match_weight=threshold,
        threshold_probability=probability(threshold),
        data_version=records.data_version(batches),
        model_json=json.dumps(trained, sort_keys=True),
        sources=json.dumps(sorted(batches)),
        records=total,
        pairs=None,
        clusters=None,
        status="trained",
    )
    store.save_trained(workspace, run)
    workspace.audit("link train", _facts(run))
    return run


def _facts(run: store.Run) -> dict[str, Any]:
    """What the audit log keeps of a run (no identifier)."""
    return {
        "run_id": run.run_id, "preset": run.preset, "records": run.records, "pairs": run.pairs,
        "clusters": run.clusters, "threshold_match_weight": run.threshold_match_weight,
        "sources": json.loads(run.sources), "data_version": run.data_version,
    }  # fmt: skip


def _split(ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    return (ids // records.ID_SCALE).astype("int32"), (ids % records.ID_SCALE).astype("int64")


def predict(
    workspace: Workspace,
    run_id: str | None,
    threshold_match_weight: float | None,
    say: Say,
) -> store.Run:
    """Score the pairs of the run's sources at or above its threshold (or the one given)."""
    from dataclasses import replace

    from svduty.linkage import model

    check_threshold(threshold_match_weight)
    workspace.store.require_writer("store linkage pairs")
    run = store.find_run(workspace, run_id, "trained")
    if threshold_match_weight is not None:
        run = replace(
            run,
            threshold_match_weight=threshold_match_weight,
            threshold_probability=probability(threshold_match_weight),
        )
    wanted = json.loads(run.sources)
    if run.mode == "bloom":
        from svduty.linkage.dice import require_duckdb

        require_duckdb(workspace.settings.engine)
    stored = records.batches_by_table(workspace, run.mode)
    batches = {t: b for t, b in stored.items() if t in wanted}
    if not batches:
        raise InputError(
            f"{workspace.root}: no records with {records.NEEDS[run.mode]} in {', '.join(wanted)}"
        )
    tables = records.read(workspace, batches, run.mode)
    total = sum(len(t) for t in tables.values())
    say(f"scoring pairs of {total:,} records at match weight {run.threshold_match_weight:g}")
    with model.backend(workspace.settings.engine, workspace.settings.spark_master) as api:
        found = model.predict(
            api, tables, json.loads(run.model_json), run.threshold_match_weight, say
        )
    pairs = found[["match_weight", "match_probability"]].copy()
    pairs["batch_id_l"], pairs["source_line_l"] = _split(found["unique_id_l"])
    pairs["batch_id_r"], pairs["source_line_r"] = _split(found["unique_id_r"])
    version = records.data_version(batches)
    store.save_predicted(workspace, run, pairs, total, version)
    done = replace(run, status="predicted", records=total, pairs=len(pairs), data_version=version)
    workspace.audit("link predict", _facts(done))
    return done


def cluster(workspace: Workspace, run_id: str | None, say: Say) -> store.Run:
    """Cluster the run's pairs at its threshold; every record of its sources gets a cluster."""
    from dataclasses import replace

    import pandas as pd

    from svduty import identifiers
    from svduty.linkage import model

    workspace.store.require_writer("store linkage clusters")
    run = store.find_run(workspace, run_id, "predicted")
    wanted = json.loads(run.sources)
    stored = records.batches_by_table(workspace, run.mode)
    batches = {t: b for t, b in stored.items() if t in wanted}
    if records.data_version(batches) != run.data_version:
        raise InputError(
            f"run {run.run_id}: batches changed since its pairs were scored; run "
            f"`svduty link predict --run {run.run_id}` first"
        )
    table_of = {b: t for t, ids in batches.items() for b in ids}
    if run.mode == "bloom":
        ids = identifiers.read_encodings(workspace, sorted(table_of), columns=[])
    else:
        ids = identifiers.read(workspace, batches=sorted(table_of), fields=[])
    ids["unique_id"] = ids["batch_id"].astype("int64") * records.ID_SCALE + ids["source_line"]
    pairs = store.read_pairs(workspace, run.run_id)
    edges = pd.DataFrame(
        {
            "unique_id_l": pairs["batch_id_l"].astype("int64") * records.ID_SCALE
            + pairs["source_line_l"],
            "unique_id_r": pairs["batch_id_r"].astype("int64") * records.ID_SCALE
            + pairs["source_line_r"],
            "match_weight": pairs["match_weight"],
            "match_probability": pairs["match_probability"],
        }
    )
    say(f"clustering {len(ids):,} records joined by {len(edges):,} pairs")
    with model.backend(workspace.settings.engine, workspace.settings.spark_master) as api:
        found = model.cluster(api, ids, edges, run.threshold_match_weight, say)
    found["unique_id"] = found["unique_id"].astype("int64")
    found["batch_id"], found["source_line"] = _split(found["unique_id"])
    found["source_table"] = found["batch_id"].map(table_of)
    first = found.groupby("cluster_id")["unique_id"].transform("min")
    rank = first.rank(method="dense").astype("int64")
    found["cluster_id"] = "C" + rank.astype(str).str.zfill(len(str(rank.max())))
    clusters = found[["cluster_id", "batch_id", "source_line", "source_table"]]
    store.save_clustered(workspace, run, clusters)
    done = replace(run, status="clustered", clusters=int(clusters["cluster_id"].nunique()))
    workspace.audit("link cluster", _facts(done))
    return done
