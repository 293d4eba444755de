"""A linkage run explained: a plain summary (records per source, pairs, clusters and their sizes,
the threshold), Splink's own charts of the model (match weights, m and u parameters) and a
waterfall chart of sample pairs.

The waterfall shows the compared values (names, dates of birth) of each pair: it is written only
into the folder the analyst names, under a name saying it holds identifiers, and the export is
audited with the files' digests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svduty.identifiers import restrict
from svduty.linkage import records, store

if TYPE_CHECKING:
    import pandas as pd

    from svduty.linkage.model import Say
    from svduty.workspace import Workspace

WATERFALL_FILE = "waterfall-HOLDS-IDENTIFIERS.html"


@dataclass(frozen=True)
class Summary:
    run: store.Run
    records_per_source: dict[str, int]
    cluster_sizes: dict[int, int]  # size -> clusters of that size
    linked_across_sources: int  # clusters holding records of two or more sources

    def as_dict(self) -> dict[str, Any]:
        run = self.run
        return {
            "run_id": run.run_id, "preset": run.preset, "status": run.status,
            "created_at": run.created_at.isoformat(timespec="seconds"),
            "created_by": run.created_by, "data_version": run.data_version,
            "threshold_match_weight": run.threshold_match_weight,
            "threshold_probability": run.threshold_probability,
            "records": run.records, "records_per_source": self.records_per_source,
            "pairs": run.pairs, "clusters": run.clusters,
            "cluster_sizes": {str(k): v for k, v in sorted(self.cluster_sizes.items())},
            "clusters_across_sources": self.linked_across_sources,
        }  # fmt: skip

    def lines(self) -> list[str]:
        run = self.run
        out = [
            f"run {run.run_id}: preset {run.preset}, {run.mode} mode, {run.status}, by "
            f"{run.created_by} at "
            f"{run.created_at:%Y-%m-%d %H:%M}",
            f"threshold: match weight {run.threshold_match_weight:g} "
            f"(probability {run.threshold_probability:.4f})",
            "records: "
            + ", ".join(f"{t} {n:,}" for t, n in self.records_per_source.items())
            + f" ({run.records or 0:,} in all)",
            f"pairs at or above the threshold: {run.pairs if run.pairs is not None else '-'}",
        ]
        if self.cluster_sizes:
            sizes = ", ".join(f"{n:,} of {k}" for k, n in sorted(self.cluster_sizes.items()))
            out.append(f"clusters: {run.clusters:,} (by size: {sizes})")
            out.append(
                f"clusters joining records of two or more sources: {self.linked_across_sources:,}"
            )
        return out


def summary(workspace: Workspace, run: store.Run) -> Summary:
    """The run's counts (an analyst's read: cluster membership is audited as read)."""
    per_source: dict[str, int] = {}
    sizes: dict[int, int] = {}
    across = 0
    if run.status == "clustered":
        clusters = store.read_clusters(workspace, run.run_id)
        per_source = {str(k): int(v) for k, v in clusters.groupby("source_table").size().items()}
        size = clusters.groupby("cluster_id").size()
        sizes = {int(str(k)): int(v) for k, v in size.value_counts().items()}
        across = int((clusters.groupby("cluster_id")["source_table"].nunique() > 1).sum())
    else:
        counts = records.stored_per_batch(workspace, run.mode)
        wanted = json.loads(run.sources)
        for table, ids in records.batches_by_table(workspace, run.mode).items():
            if table in wanted:
                per_source[table] = sum(counts.get(b, 0) for b in ids)
    return Summary(run, per_source, sizes, across)


def write(
    workspace: Workspace, run: store.Run, out: Path, waterfall_pairs: int, say: Say
) -> list[Path]:
    """Charts and the summary into `out`; the files written."""
    from svduty.identifiers import require_reader
    from svduty.linkage import model

    asked = {"run_id": run.run_id, "folder": str(out), "waterfall_pairs": waterfall_pairs}
    require_reader(workspace, "export linkage report", asked, "linkage reports")
    out.mkdir(parents=True, exist_ok=True)
    found = summary(workspace, run)
    written = [out / "summary.json", out / "summary.txt"]
    written[0].write_text(json.dumps(found.as_dict(), indent=2) + "\n", encoding="utf-8")
    written[1].write_text("\n".join(found.lines()) + "\n", encoding="utf-8")

    settings = json.loads(run.model_json)
    wanted = json.loads(run.sources)
    stored = records.batches_by_table(workspace, run.mode)
    batches = {t: b for t, b in stored.items() if t in wanted}
    tables = records.read(workspace, batches, run.mode)
    settings.update(retain_matching_columns=True, retain_intermediate_calculation_columns=True)
    with (
        model.backend(workspace.settings.engine, workspace.settings.spark_master) as api,
        model.quiet(say),
    ):
        linker = model.linker(api, tables, settings)
        charts: dict[str, Any] = {
            "match-weights.html": linker.visualisations.match_weights_chart(),
            "m-u-parameters.html": linker.visualisations.m_u_parameters_chart(),
        }
        for name, chart in charts.items():
            (out / name).write_text(chart.to_html(inline=True), encoding="utf-8")
            written.append(out / name)
        if waterfall_pairs > 0:
            say(f"scoring sample pairs for the waterfall chart ({WATERFALL_FILE})")
            scored = linker.inference.predict(
                threshold_match_weight=run.threshold_match_weight - 10
            ).as_pandas_dataframe()
            sample = _sample(scored, run.threshold_match_weight, waterfall_pairs)
            chart = linker.visualisations.waterfall_chart(
                [{str(k): v for k, v in row.items()} for row in sample.to_dict(orient="records")],
                filter_nulls=True,
            )
            (out / WATERFALL_FILE).write_text(chart.to_html(inline=True), encoding="utf-8")
            restrict(out / WATERFALL_FILE)
            written.append(out / WATERFALL_FILE)
    workspace.audit(
        "export linkage report",
        {**asked, "allowed": True, "holds_identifiers": waterfall_pairs > 0},
        outputs=written,
    )
    return written


def _sample(scored: pd.DataFrame, threshold: float, count: int) -> pd.DataFrame:
    """The pairs nearest the threshold (the ones worth checking), half above and half below."""
    above = scored[scored["match_weight"] >= threshold].nsmallest(
        count - count // 2, "match_weight"
    )
    below = scored[scored["match_weight"] < threshold].nlargest(count // 2, "match_weight")
    import pandas as pd

    return pd.concat([above, below]).sort_values("match_weight", ascending=False)
