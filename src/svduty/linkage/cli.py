"""`svduty link ...` (train, predict, cluster, report, presets) and `svduty bench linkage`: a thin
layer over `svduty.linkage`. Splink and pandas load when a command runs, so `svduty --help`
stays fast."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from svduty.errors import InputError
from svduty.options import WORKSPACE_ENV, WorkspaceOption

if TYPE_CHECKING:
    from svduty.linkage.store import Run
    from svduty.workspace import Workspace

link_app = typer.Typer(
    help="Probabilistic linkage (Splink) of the stored identifiers: train, predict, cluster, "
    "report. For analysts; results go to the restricted linkage.duckdb."
)

PresetOption = Annotated[
    str,
    typer.Option("--preset", "-p", help="A shipped preset's id (`svduty link presets`) or a file."),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help="Match weight a pair must reach (log2 of the odds; 10 is about 0.999); "
        "default: the preset's.",
    ),
]
RunOption = Annotated[
    str | None, typer.Option("--run", help="The run (default: the newest at the step before).")
]


def _cli() -> Any:
    """The main command line's helpers (imported late: it imports this module)."""
    from svduty import cli

    return cli


@contextmanager
def _opened(workspace: Path, read_only: bool = False) -> Iterator[Workspace]:
    """The workspace for one command (as its one writer unless `read_only`), closed however
    the command ends: a writer then releases the lock."""
    from svduty.workspace import Workspace

    ws = Workspace.open(workspace, read_only=read_only, say=_cli()._say)
    try:
        yield ws
    finally:
        ws.close()


def _done(run: Run) -> None:
    counts = [f"{run.records or 0:,} records"]
    if run.pairs is not None:
        counts.append(f"{run.pairs:,} pairs")
    if run.clusters is not None:
        counts.append(f"{run.clusters:,} clusters")
    mode = "" if run.mode == "plain" else f", {run.mode} mode"
    sys.stdout.write(
        f"run {run.run_id} ({run.preset}{mode}) {run.status}: {', '.join(counts)}; threshold match "
        f"weight {run.threshold_match_weight:g} (probability {run.threshold_probability:.4f})\n"
    )


@link_app.command("presets")
def presets_command(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar=WORKSPACE_ENV,
            help="Workspace folder, checked as every link command checks it (the presets are "
            "the same for every workspace; default: none needed).",
        ),
    ] = None,
) -> None:
    """The shipped presets, their sources and thresholds."""
    from svduty.linkage.presets import load_preset, shipped

    if workspace is not None:
        with _opened(workspace, read_only=True):
            pass
    for name in sorted(shipped()):
        preset = load_preset(name)
        sources = "all sources" if preset.sources is None else ", ".join(preset.sources)
        sys.stdout.write(
            f"{preset.id}: {sources}; threshold match weight {preset.threshold_match_weight:g}\n"
            f"  {preset.description}\n  threshold: {preset.threshold_why}\n"
        )


@link_app.command("train")
def train_command(
    workspace: WorkspaceOption,
    preset: PresetOption = "multi-agency",
    threshold: ThresholdOption = None,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="plain: the stored identifiers; bloom: the Bloom filters of extracts made by "
            "`svduty pseudonymise --encoding bloom` (DuckDB engine only). Later steps follow "
            "the run's mode.",
        ),
    ] = "plain",
) -> None:
    """Train a preset's model (prior, u by sampling, m by EM) on the stored identifiers."""
    from svduty.linkage import run

    with _opened(workspace) as ws:
        _done(run.train(ws, preset, threshold, ws.say, mode))


@link_app.command("predict")
def predict_command(
    workspace: WorkspaceOption, run_id: RunOption = None, threshold: ThresholdOption = None
) -> None:
    """Score the pairs of the newest trained run at or above its threshold."""
    from svduty.linkage import run

    with _opened(workspace) as ws:
        _done(run.predict(ws, run_id, threshold, ws.say))


@link_app.command("cluster")
def cluster_command(workspace: WorkspaceOption, run_id: RunOption = None) -> None:
    """Cluster the newest predicted run's pairs: one cluster per person."""
    from svduty.linkage import run

    with _opened(workspace) as ws:
        _done(run.cluster(ws, run_id, ws.say))


@link_app.command("report")
def report_command(
    workspace: WorkspaceOption,
    run_id: RunOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for Splink's charts and the summary. The waterfall chart in it HOLDS "
            "IDENTIFIERS (the compared names and dates of birth): choose a restricted folder.",
        ),
    ] = None,
    waterfall: Annotated[
        int, typer.Option(help="Sample pairs in the waterfall chart (0: no waterfall).")
    ] = 20,
) -> None:
    """The run's summary (records per source, pairs, clusters by size, threshold); with --out,
    Splink's match weights, m/u parameters and waterfall charts too."""
    from svduty.linkage import report, store

    if waterfall < 0:
        raise InputError("--waterfall: a number of pairs, 0 or more")
    with _opened(workspace, read_only=True) as ws:
        run = store.find_run(ws, run_id, "trained")
        written = [] if out is None else report.write(ws, run, out, waterfall, ws.say)
        sys.stdout.write("\n".join(report.summary(ws, run).lines()) + "\n")
    for path in written:
        note = " (HOLDS IDENTIFIERS)" if path.name == report.WATERFALL_FILE else ""
        sys.stdout.write(f"wrote {path}{note}\n")


def _score_line(score: Any) -> str:
    return (
        f"{score.dataset}: {score.records:,} records, {score.true_links:,} true links; at match "
        f"weight {score.threshold_match_weight:g}: {score.predicted:,} pairs, precision "
        f"{score.precision:.4f}, recall {score.recall:.4f}, F1 {score.f1:.4f}; "
        f"{score.seconds:.1f} s, peak RSS {score.peak_rss_mb:.0f} MB\n"
    )


def bench_linkage_command(
    rows: Annotated[
        int,
        typer.Option(
            help="Records per side of the synthetic identity benchmark, run against plain "
            "Splink on the same records (0: FEBRL4 only)."
        ),
    ] = 10_000,
    engine: Annotated[str, typer.Option(help="duckdb or spark (FEBRL4 only).")] = "duckdb",
) -> None:
    """svduty's Splink linkage on FEBRL4 (precision, recall, F1 at the preset's threshold),
    then on synthetic identity pairs against plain Splink in the same run."""
    from svduty.linkage.bench import bench_febrl, bench_identities

    if rows < 0:
        raise InputError("--rows: a number of records, 0 or more")
    say = _cli()._say
    sys.stdout.write(_score_line(bench_febrl(say=say, engine=engine)))
    if rows:
        found = bench_identities(rows, say=say)
        sys.stdout.write(_score_line(found.plain) + _score_line(found.svduty))
        sys.stdout.write(f"svduty / plain Splink seconds: {found.ratio:.2f}\n")


@link_app.command("score")
def score_command(
    truth: Annotated[
        Path,
        typer.Option(
            "--truth",
            help="Which person each line is about: truth/identities.csv of `svduty synth "
            "--identities` (synthetic data only).",
        ),
    ],
    workspace: WorkspaceOption,
    run_id: RunOption = None,
) -> None:
    """Pairwise precision, recall and F1 of a clustered run, and of exact person keys, for each
    pair of sources, against the truth of synthetic identities."""
    from svduty.linkage.truth import score

    with _opened(workspace, read_only=True) as ws:
        scores = score(ws, run_id, truth)
    for s in scores:
        sys.stdout.write(
            f"{s.method}: {s.sources[0]} with {s.sources[1]}: {s.true_links:,} true pairs, "
            f"{s.predicted:,} linked; precision {s.precision:.4f}, recall {s.recall:.4f}, "
            f"F1 {s.f1:.4f}\n"
        )
