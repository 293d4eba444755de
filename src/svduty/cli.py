"""The svduty command line: every command takes --workspace (or SVDUTY_WORKSPACE, or the cwd)."""

from __future__ import annotations

import copy
import errno
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from svduty import __version__
from svduty.errors import SvdutyError
from svduty.heartbeat import Heartbeat
from svduty.interventions.cli import gaps_command, interventions_app
from svduty.linkage.cli import bench_linkage_command, link_app
from svduty.linkage.cohort_cli import cohort_command
from svduty.linkage.pprl_bench import pprl_command
from svduty.options import DefinitionOption as WorkspaceDefinitionOption
from svduty.options import FromOption, ToOption, WorkspaceOption
from svduty.output import Format, csv_text, render, render_rows
from svduty.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from svduty.analysis.severity import Weights
    from svduty.counting import Filter
    from svduty.definitions.model import Definition
    from svduty.ingest import BatchReport, SourceFile
    from svduty.reference.boundaries import Boundaries
    from svduty.spatial.maps import Outlines
    from svduty.workspace import Workspace

app = typer.Typer(
    help="svduty: pool partner data, apply a serious-violence definition, publish the SNA.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
fetch_app = typer.Typer(help="Download open data (the only commands that use the network).")
bench_app = typer.Typer(help="Benchmarks, as ratios against a baseline in the same run.")
reference_app = typer.Typer(help="Bundled reference data (areas, forces, offence codes).")
definitions_app = typer.Typer(help="Serious-violence definitions: list, show, validate, diff.")
measures_app = typer.Typer(
    help="Success measures (outcomes frameworks): list, show, validate, and SPC charts."
)
app.add_typer(definitions_app, name="definitions")
app.add_typer(measures_app, name="measures")
app.add_typer(fetch_app, name="fetch")
app.add_typer(bench_app, name="bench")
app.add_typer(reference_app, name="reference")
users_app = typer.Typer(help="The dashboard's users: add, list, disable, reset-password, set-role.")
app.add_typer(users_app, name="users")
keys_app = typer.Typer(help="Partnership keys, which make person keys meet across agencies.")
app.add_typer(keys_app, name="keys")
app.add_typer(interventions_app, name="interventions")
app.command("gaps")(gaps_command)
app.command("cohort")(cohort_command)
app.add_typer(link_app, name="link")
bench_app.command("linkage")(bench_linkage_command)
bench_app.command("pprl")(pprl_command)

# markup off: what is printed names files, areas and values from partners' data, which Rich
# would otherwise read as markup ("[/x]" stops the command, "[area]" vanishes)
out = Console(soft_wrap=True, markup=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False)

FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _open(workspace: Path, read_only: bool = False) -> Workspace:
    """Commands that only read open the last published data (never waiting for a writer);
    those that change the workspace open it as its one writer, waiting for another to finish."""
    from svduty.workspace import Workspace

    opened = Workspace.open(workspace, read_only=read_only, say=_say)
    OPENED.append(opened)
    return opened


OPENED: list[Workspace] = []
"""Workspaces this run opened: closed however the command ends, so a writer interrupted
between its transactions still publishes what it committed and releases the lock."""


def _say(line: str) -> None:
    """The workspace's notes (waiting for a writer, upgrading, recovering, the step under way)
    to standard error."""
    err.print(line, highlight=False)
    if HEARTBEAT:
        HEARTBEAT[0].note(line)


HEARTBEAT: list[Heartbeat] = []


def _emit(frame: pd.DataFrame, fmt: Format, title: str | None = None) -> None:
    sys.stdout.write(render(frame, fmt, title))


def _print_version(value: bool) -> None:
    if value:
        out.print(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """svduty: pool partner data, apply a serious-violence definition, publish the SNA."""


@app.command()
def version() -> None:
    """Print the svduty version."""
    out.print(__version__)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")],
    area: Annotated[str, typer.Option(help="The partnership's area name.")] = "",
    engine: Annotated[str, typer.Option(help="duckdb or spark.")] = "duckdb",
    threshold: Annotated[int, typer.Option(help="Disclosure threshold.")] = 5,
    definition: Annotated[str, typer.Option(help="Default definition id.")] = "west-mercia-2022",
    police_force: Annotated[
        list[str] | None, typer.Option(help="A police force in the area (repeat).")
    ] = None,
    force_alias: Annotated[
        list[str] | None, typer.Option("--force", hidden=True, help="Old name of --police-force.")
    ] = None,
    csp: Annotated[
        list[str] | None,
        typer.Option(help='A CSP as districts: "North Worcestershire=E07000234,E07000236".'),
    ] = None,
    example: Annotated[bool, typer.Option(help="Use the bundled West Mercia settings.")] = False,
    partnership_key: Annotated[
        str,
        typer.Option(
            help="Where the partnership key is held: env:NAME or file:/path (outside the "
            "workspace); empty: person keys meet within this workspace only."
        ),
    ] = "",
) -> None:
    """Create a workspace: settings file and DuckDB database with reference data loaded."""
    from svduty.workspace import Workspace

    if force_alias:
        err.print(
            "note: --force names a police force here and never overwrites; it is kept for old "
            "scripts, use --police-force"
        )
    if example:
        from svduty.example import WEST_MERCIA

        settings = Settings(**{**WEST_MERCIA.__dict__, "partnership_key": partnership_key})
    else:
        groups = {}
        for item in csp or []:
            name, sep, districts = item.partition("=")
            if not sep:
                raise SvdutyError(f"--csp {item!r} must look like NAME=DISTRICT,DISTRICT")
            groups[name.strip()] = tuple(d.strip() for d in districts.split(",") if d.strip())
        settings = Settings(
            area=area,
            engine=engine,
            disclosure_threshold=threshold,
            definition=definition,
            forces=tuple([*(police_force or ()), *(force_alias or ())]),
            csps=groups,
            partnership_key=partnership_key,
        )
    workspace = Workspace.init(directory, settings, say=_say)
    workspace.close()
    out.print(f"Created workspace {directory} (engine {settings.engine}).")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV/XML files, folders or zip archives.")],
    workspace: WorkspaceOption,
    kind: Annotated[str | None, typer.Option(help="Source kind (detected when omitted).")] = None,
    mapping: Annotated[
        list[Path] | None,
        typer.Option(
            help="Column mapping of a partner export: a file, or a folder of them (repeat); each "
            "input file is read by the mapping its header fits."
        ),
    ] = None,
    synthetic: Annotated[bool, typer.Option(help="Mark these records synthetic.")] = False,
) -> None:
    """Load files as batches: atomic, idempotent, with rejected rows kept and reported. New
    records are then classified under the workspace's default definition."""
    import pandas as pd

    ws = _open(workspace)
    stored: list[BatchReport] = []

    def on_file(source: SourceFile) -> None:
        if CTRL_C:  # pressed during the last file and caught there: stop before the next
            raise KeyboardInterrupt
        _say(f"ingesting {source.name}")

    def on_stored(reports: list[BatchReport]) -> None:
        # files are stored a transaction at a time: those of an unfinished one are not
        stored.extend(reports)
        STORED_SO_FAR[:] = [
            f"the first {len(stored)} file(s), to {_short_name(stored[-1].file_name)}; "
            "the files after it were not"
        ]

    reports = ws.ingest(paths, kind, mapping or [], synthetic, on_file=on_file, on_stored=on_stored)
    STORED_SO_FAR[:] = [
        f"all {len(reports)} file(s); their classification did not finish (run svduty classify)"
    ]
    _classify_added(ws, reports)
    ws.close()
    frame = pd.DataFrame([r.__dict__ for r in reports])
    frame["file_name"] = frame["file_name"].map(_short_name)
    if len(frame) <= LISTED_BATCHES:
        _emit(frame.drop(columns=["seconds"]), Format.table, "Batches")
    else:
        grouped = frame.groupby(["source_kind", "status"], sort=False)
        by_outcome = grouped.agg(
            files=("file_name", "size"), rows_read=("rows_read", "sum"),
            rows_accepted=("rows_accepted", "sum"), rows_rejected=("rows_rejected", "sum"),
            first_file=("file_name", "first"), last_file=("file_name", "last"),
        ).reset_index()  # fmt: skip
        title = f"Batches: {len(frame):,} files by kind and outcome ('svduty batches' lists each)"
        _emit(by_outcome, Format.table, title)
    new = [r for r in reports if r.status != "already ingested"]
    out.print(
        f"{len(new)} new batch(es), {len(reports) - len(new)} already ingested; "
        f"rows accepted {sum(r.rows_accepted for r in new):,}, "
        f"rejected {sum(r.rows_rejected for r in new):,}"
        + (" (see 'svduty rejects')" if any(r.rows_rejected for r in new) else "")
    )


INCIDENT_KINDS = ("police_uk_street", "police_extract_crimes", "police_extract_people")
LISTED_BATCHES = 50
"""Up to this many files, `ingest` lists each; beyond, it sums them by kind and outcome."""


@app.command()
def batches(
    workspace: WorkspaceOption,
    fmt: FormatOption = Format.table,
    wide: Annotated[
        bool, typer.Option(help="Table: show whole file paths and SHA-256 digests.")
    ] = False,
) -> None:
    """List every ingested batch with its lineage (file paths are absolute; an archive's
    member is shown as archive!member)."""
    ws = _open(workspace, read_only=True)
    frame = ws.con.sql("SELECT * FROM batches ORDER BY batch_id").df()
    ws.close()
    frame["seconds"] = frame["seconds"].round(3)
    short = fmt is Format.table and not wide
    if short:
        frame["file_name"] = frame["file_name"].map(_short_name)
        frame["sha256"] = frame["sha256"].str[:12] + "…"
        for column in ("started_at", "finished_at"):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d %H:%M:%S")
    sys.stdout.write(render(frame, fmt, "Batches", wide=True))
    if short:
        err.print("File names and SHA-256 digests are shortened; --wide shows them whole.")


def _classify_added(ws: Workspace, reports: list[BatchReport]) -> None:
    """Classify the incidents an ingest added (those stored before keep their classification),
    so explanations and the stored classification never lag behind the data."""
    if any(r.status != "already ingested" and r.source_kind in INCIDENT_KINDS for r in reports):
        summary = ws.classify(only_new=True)
        out.print(
            f"Classified {summary.incidents:,} incidents under {summary.definition.id}: "
            f"{summary.in_definition:,} in."
        )


def _short_name(name: str) -> str:
    """A stored file name as its last part (an archive member without the archive's path)."""
    archive, bang, member = name.rpartition("!")
    return f"{Path(archive).name}!{member}" if bang else Path(name).name


@app.command()
def rejects(
    workspace: WorkspaceOption,
    fmt: FormatOption = Format.table,
    batch: Annotated[int | None, typer.Option(help="Only this batch.")] = None,
    raw: Annotated[bool, typer.Option(help="Include the rejected row as read.")] = False,
) -> None:
    """List rejected rows: batch, file, line, field, value and reason."""
    ws = _open(workspace, read_only=True)
    columns = "*" if raw else "* EXCLUDE (raw)"
    where = "WHERE batch_id = ?" if batch is not None else ""
    frame = ws.con.execute(
        f"SELECT {columns} FROM rejects {where} ORDER BY batch_id, line",
        [batch] if batch is not None else [],
    ).df()
    ws.close()
    _emit(frame, fmt, "Rejected rows")


@app.command("audit")
def audit_log(workspace: WorkspaceOption, fmt: FormatOption = Format.table) -> None:
    """The audit log: when, who, what, with which parameters and data version, and the SHA-256
    of every file written."""
    import json

    ws = _open(workspace, read_only=True)
    frame = ws.audit_log()
    ws.close()
    if fmt is Format.json:  # nested values, not JSON inside strings
        for column in ("parameters", "outputs"):
            frame[column] = frame[column].map(json.loads)
    _emit(frame, fmt, "Audit log")


@app.command()
def quality(
    workspace: WorkspaceOption,
    fmt: FormatOption = Format.table,
    table: Annotated[str, typer.Option(help="incidents, offence_counts or gaps.")] = "incidents",
) -> None:
    """Data quality per source, force and month (missing months shown as rows with no data)."""
    from svduty.quality import quality as run_quality

    ws = _open(workspace, read_only=True)
    report = run_quality(ws.store, ws.settings)
    ws.close()
    frames = {
        "incidents": report.incidents,
        "offence_counts": report.offence_counts,
        "gaps": report.gaps,
    }
    if table not in frames:
        raise SvdutyError(f"--table must be one of {', '.join(frames)}")
    _emit(frames[table], fmt, f"Data quality: {table}")


@app.command()
def counts(
    workspace: WorkspaceOption,
    by: Annotated[str, typer.Option(help="Dimensions, comma separated.")] = "",
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="COLUMN=VALUE (repeat; same column: OR).")
    ] = None,
    table: Annotated[str, typer.Option(help="incidents or offence_counts.")] = "incidents",
    fmt: FormatOption = Format.table,
    definition: Annotated[
        str | None, typer.Option(help="Count only incidents in this definition (id or file).")
    ] = None,
    clause: Annotated[str | None, typer.Option(help="Only this clause of the definition.")] = None,
) -> None:
    """Count records by lsoa, la, csp, force, month, quarter, financial_year, offence_group,
    offence_subgroup, offence_code, category or any column (and clause, with --definition)."""
    from svduty.counting import Filter

    ws = _open(workspace, read_only=True)
    dims = [d.strip() for d in by.split(",") if d.strip()]
    filters = [Filter.parse(f) for f in filter_ or []]
    title = f"{table} by {', '.join(dims) or 'total'}"
    unassessed = None
    if definition is None and clause is None and ws.store.name == "duckdb":
        from svduty.counts_sql import count_rows

        counted = count_rows(ws.store.catalogue, table, dims, filters)
        ws.close()
        figures = [c for c in counted.columns if c not in dims]
        text = render_rows(counted.columns, counted.rows, fmt, title, figures)
        sys.stdout.write(text)
        total, synthetic = counted.total(), counted.synthetic()
    else:
        from svduty.counting import counts as run_counts
        from svduty.definitions import load_definition
        from svduty.definitions.classify import clause_summary

        chosen = load_definition(definition) if definition else None
        result = run_counts(ws.store, table, dims, filters, chosen, clause)
        if chosen is not None:
            summary = clause_summary(ws.store, chosen).clauses
            unassessed = summary[summary["not_assessable"] > 0]
        ws.close()
        _emit(result.frame, fmt, title)
        if result.note:
            err.print(result.note)
        total, synthetic = result.total, result.synthetic
    if synthetic:
        err.print(
            f"SYNTHETIC: {synthetic:,} of the {total:,} records counted are "
            "synthetic (column 'synthetic')."
        )
    if unassessed is not None and len(unassessed):
        listing = ", ".join(f"{r.clause} ({r.not_assessable:,})" for r in unassessed.itertuples())
        err.print(
            f"Not assessable on these data (the records lack a fact the clause needs): {listing}"
        )


@app.command()
def classify(
    workspace: WorkspaceOption,
    definition: WorkspaceDefinitionOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Classify every incident in or out of a definition, recording the clauses that matched and
    those the data could not assess."""
    ws = _open(workspace)
    summary = ws.classify(definition)
    chosen = summary.definition
    ws.close()
    _emit(summary.clauses, fmt, f"{chosen.name} (v{chosen.version})")
    err.print(
        f"{summary.in_definition:,} of {summary.incidents:,} incidents are in {chosen.id} "
        f"v{chosen.version} (engine {summary.engine})."
        + (f" {chosen.caveat}" if chosen.caveat else "")
    )


@app.command()
def explain(
    incident: Annotated[str, typer.Argument(help="BATCH-LINE (e.g. 3-1502) or crime reference.")],
    workspace: WorkspaceOption,
    definition: WorkspaceDefinitionOption = None,
) -> None:
    """Why an incident is in or out of a definition: every clause and rule, with the values read."""
    from svduty.definitions import load_definition
    from svduty.definitions.classify import explain as run_explain

    ws = _open(workspace, read_only=True)
    chosen = load_definition(definition or ws.settings.definition)
    result = run_explain(ws.store, chosen, incident)
    ws.close()
    sys.stdout.write(render_explanation(result))


def render_explanation(result: Any) -> str:
    marks = {True: "yes", False: "no", None: "cannot tell"}
    facts = ", ".join(f"{k}={v}" for k, v in result.incident.items() if v is not None)
    lines = [
        f"Incident {result.incident['batch_id']}-{result.incident['source_line']}: {facts}",
        f"Definition {result.definition.id} v{result.definition.version}: "
        f"{'IN' if result.in_definition else 'OUT'}",
    ]
    for clause in result.clauses:
        lines.append(f"  [{marks[clause.verdict]}] {clause.clause.id}: {clause.clause.name}")
        for rule in clause.rules:
            values = ", ".join(f"{k}={v}" for k, v in rule.values.items())
            lines.append(f"      {marks[rule.verdict]:>11}  {rule.rule}   (record: {values})")
    unassessed = [c.clause.id for c in result.clauses if c.verdict is None]
    if unassessed:
        lines.append(
            "  'cannot tell': the record lacks a fact the rule needs (for example no "
            "offence code or marker in open data): " + ", ".join(unassessed)
        )
    return "\n".join(lines) + "\n"


@definitions_app.command("list")
def definitions_list(fmt: FormatOption = Format.table) -> None:
    """The definitions shipped with svduty."""
    import pandas as pd

    from svduty.definitions import load_definition, shipped_definitions

    rows = []
    for name in shipped_definitions():
        d = load_definition(name)
        rows.append({"id": d.id, "version": d.version, "clauses": len(d.clauses), "name": d.name})
    _emit(pd.DataFrame(rows), fmt, "Shipped definitions")


@definitions_app.command("show")
def definitions_show(
    definition: Annotated[str, typer.Argument(help="Definition id or file.")],
) -> None:
    """A definition as svduty reads it: source, caveat and every clause."""
    import yaml

    from svduty.definitions import load_definition

    chosen = load_definition(definition)
    sys.stdout.write(
        yaml.safe_dump(chosen.to_yaml(), sort_keys=False, allow_unicode=True, width=100)
    )
    sys.stdout.write(f"# sha256: {chosen.sha256}\n")


@definitions_app.command("validate")
def definitions_validate(
    paths: Annotated[list[Path], typer.Argument(help="Definition files.")],
) -> None:
    """Check definition files; every problem is listed with its line."""
    from svduty.definitions import load_definition

    failed = []
    for path in paths:
        try:
            d = load_definition(path)
            out.print(f"{path}: valid ({d.id} v{d.version}, {len(d.clauses)} clauses)")
        except SvdutyError as error:
            failed.append(str(error))
    if failed:
        raise SvdutyError("\n".join(failed))


@definitions_app.command("diff")
def definitions_diff(
    first: Annotated[str, typer.Argument(help="Definition id or file.")],
    second: Annotated[str, typer.Argument(help="Definition id or file.")],
    workspace: WorkspaceOption,
    fmt: FormatOption = Format.table,
) -> None:
    """Which clauses differ, and how many stored incidents change classification."""
    from svduty.definitions import load_definition
    from svduty.definitions.classify import diff

    ws = _open(workspace, read_only=True)
    result = diff(ws.store, load_definition(first), load_definition(second))
    ws.close()
    _emit(result.clauses, fmt, f"{result.first.id} -> {result.second.id}")
    c = result.counts
    err.print(
        f"Of {c['incidents']:,} stored incidents, {c['change']:,} change classification: "
        f"{c['first_only']:,} in {result.first.id} only, {c['second_only']:,} in "
        f"{result.second.id} only; {c['in_both']:,} in both."
    )


def ingest_advice(folder: Path) -> str:
    """The command that ingests what `svduty synth` wrote (the README's tour gives it too)."""
    return f"svduty ingest {folder}/*.csv --mapping {folder}/mappings"


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder for the generated files.")],
    area: Annotated[
        str, typer.Option(help="Area of a shipped profile (West Mercia, Warwickshire).")
    ] = "West Mercia",
    profile: Annotated[Path | None, typer.Option(help="Your own profile file.")] = None,
    years: Annotated[int, typer.Option(help="Years of data from the start.")] = 1,
    start: Annotated[
        str | None, typer.Option(help="First month, YYYY-MM (default: the profile's start).")
    ] = None,
    scale: Annotated[float, typer.Option(help="Multiply the profile's volumes.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 1,
    corrupt: Annotated[
        float,
        typer.Option(help="Share of rows to break on purpose (listed in truth/corruptions.csv)."),
    ] = 0.0,
    check: Annotated[
        bool,
        typer.Option(
            help="Compare the data in --out with the profile (generating it "
            "first when --out holds none)."
        ),
    ] = False,
    identities: Annotated[
        bool,
        typer.Option(
            help="Give people and A&E patients synthetic names, dates of birth and postcodes "
            "from one pool, also in youth justice and school exclusions files; truth/ says "
            "who each line is."
        ),
    ] = False,
) -> None:
    """Generate SYNTHETIC partner data (force extract, ISTV, admissions) calibrated to real
    aggregates, in the formats svduty ingests, with the mappings to read them."""
    from rich.progress import MofNCompleteColumn

    from svduty.synth.check import check as run_check
    from svduty.synth.generate import generate
    from svduty.synth.profile import load_profile

    chosen = load_profile(profile or area.lower().replace(" ", "-"))
    if not (check and (out / "synth.json").exists()):
        with Progress(
            TextColumn("generating months"), BarColumn(), MofNCompleteColumn(), console=err
        ) as bar:
            task = bar.add_task("months", total=12 * years)
            written = generate(
                chosen,
                out,
                scale,
                years,
                seed,
                corrupt,
                lambda done, total: bar.update(task, completed=done),
                start,
                identities,
            )
        rows = ", ".join(f"{name} {n:,}" for name, n in sorted(written.rows.items()))
        err.print(f"Wrote SYNTHETIC data to {out}: {rows}. Ingest with: {ingest_advice(out)}")
    if check:
        result = run_check(out, chosen)
        _emit(
            result.table.drop(columns=["source"]),
            Format.table,
            f"Synthetic data in {out} against profile {chosen.id}",
        )
        err.print(
            f"Rows rejected on ingest: {result.rejected:,}. "
            + (
                "Every calibrated figure is within tolerance."
                if result.passed
                else "Some figures are outside tolerance."
            )
        )
        if not result.passed:
            raise typer.Exit(1)


@app.command()
def report(
    workspace: WorkspaceOption,
    definition: WorkspaceDefinitionOption = None,
    area: Annotated[str | None, typer.Option(help="One CSP: a report for it alone.")] = None,
    each_area: Annotated[
        bool, typer.Option(help="Also write one report per CSP beside the whole area's.")
    ] = False,
    start: FromOption = None,
    end: ToOption = None,
    weights: Annotated[
        Path | None,
        typer.Option(help="Severity weights CSV (default: the workspace's severity_weights)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder to write to (default: reports/; internal builds: its internal/)."
        ),
    ] = None,
    unsuppressed: Annotated[
        bool, typer.Option(help="Analysts only: show small counts; marked NOT FOR PUBLICATION.")
    ] = False,
    pdf: Annotated[bool, typer.Option(help="Also render the PDF.")] = True,
    overview: Annotated[bool, typer.Option(help="Write the data overview instead.")] = False,
    measures: Annotated[
        bool,
        typer.Option(
            help="Write the success measures' board pack instead: a row per measure with its "
            "SPC icons, then a chart each."
        ),
    ] = False,
) -> None:
    """Write the Strategic Needs Assessment: HTML, PDF and summary JSON, disclosure-controlled.
    Names carry area, period and definition; internal builds go to internal/ and end in
    -internal. Each folder's manifest.json lists every file a run wrote, with its SHA-256."""
    from svduty.outputs import MANIFEST
    from svduty.overview import build_overview

    ws = _open(workspace, read_only=True)
    if overview:
        written = [build_overview(ws, ws.output_folder(output))]
    else:
        written = ws.report(
            definition, (start, end), area, each_area, unsuppressed, pdf, output, weights, measures
        )
    ws.close()
    for path in written:
        out.print(f"Wrote {path}")
    for folder in dict.fromkeys(path.parent for path in written):
        out.print(f"Listed in {folder / MANIFEST}")


class Unit(StrEnum):
    grid = "grid"
    lsoa = "lsoa"


class SpatialFormat(StrEnum):
    csv = "csv"
    geojson = "geojson"
    png = "png"


CellSizeOption = Annotated[
    float | None, typer.Option(help="Cell side in metres (default: chosen and announced).")
]
NeighboursOption = Annotated[str, typer.Option(help="queen or distance.")]
DistanceOption = Annotated[
    float | None, typer.Option(help="Distance band in metres (default 1.5 cells).")
]
SelectOption = Annotated[
    list[str] | None, typer.Option("--filter", help="COLUMN=VALUE, >= or <= (repeat).")
]
DefinitionOption = Annotated[
    str | None, typer.Option(help="Only incidents in this definition (id or file).")
]
SpatialFormatOption = Annotated[SpatialFormat, typer.Option("--format")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="File to write (default: standard output).")
]


def _edges(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as error:
        raise SvdutyError(f"{what} must be numbers separated by commas, e.g. 0,100,200") from error


@app.command()
def hotspots(
    workspace: WorkspaceOption,
    cell_size: CellSizeOption = None,
    neighbours: NeighboursOption = "queen",
    distance: DistanceOption = None,
    permutations: Annotated[
        int, typer.Option(help="Conditional permutations for pseudo p-values (0: analytic).")
    ] = 0,
    seed: Annotated[int | None, typer.Option(help="Random seed for the permutations.")] = None,
    bandwidth: Annotated[
        float | None, typer.Option(help="KDE bandwidth in metres (default: chosen, announced).")
    ] = None,
    harm: Annotated[
        bool, typer.Option(help="Weight by the workspace's severity weights (or --weights).")
    ] = False,
    weights: Annotated[Path | None, typer.Option(help="Severity weights CSV.")] = None,
    filter_: SelectOption = None,
    definition: DefinitionOption = None,
    unit: Annotated[Unit, typer.Option(help="Square grid cells, or LSOA polygons.")] = Unit.grid,
    boundaries: Annotated[
        Path | None,
        typer.Option(help="GeoJSON of LSOA polygons (default: the workspace's boundaries)."),
    ] = None,
    fmt: SpatialFormatOption = SpatialFormat.csv,
    output: OutOption = None,
) -> None:
    """Getis-Ord Gi* hotspots with FDR correction, on a square grid in British National Grid
    metres (with a kernel density surface) or on LSOA polygons: one row per cell or LSOA, empty
    ones included."""

    from svduty.analysis.severity import load_weights
    from svduty.counting import Filter
    from svduty.definitions import load_definition
    from svduty.spatial.hotspots import hotspots as run
    from svduty.spatial.maps import cells_geojson, class_map

    if fmt is SpatialFormat.png and output is None:
        raise SvdutyError("--format png needs --out FILE")
    if unit is Unit.grid and boundaries is not None:
        raise SvdutyError("--boundaries needs --unit lsoa")
    if unit is Unit.lsoa and (cell_size is not None or bandwidth is not None):
        raise SvdutyError("--cell-size and --bandwidth apply to --unit grid only")
    ws = _open(workspace, read_only=True)
    chosen = load_definition(definition) if definition else None
    scale = (load_weights(weights) if weights else ws.weights()) if harm else None
    if harm and scale is None:
        raise SvdutyError("--harm needs --weights FILE or the workspace setting severity_weights")
    filters = [Filter.parse(f) for f in filter_ or []]
    if unit is Unit.lsoa:
        by_lsoa, notes = _lsoa_hotspots(
            ws, chosen, filters, neighbours, distance, permutations, seed, scale, boundaries, fmt
        )
        ws.close()
        _write(by_lsoa, notes, output)
        return
    _, drawn, placed = _area(ws)
    result = run(
        ws.store, chosen, filters, cell_size, neighbours, distance, permutations, seed, scale,
        bandwidth, drawn.area if drawn else None, placed,
    )  # fmt: skip
    title = f"Gi* hotspots: {chosen.id if chosen else 'all incidents'}"
    if fmt is SpatialFormat.png:
        data: bytes = class_map(result.frame, result.grid, drawn, title)
    elif fmt is SpatialFormat.geojson:
        data = cells_geojson(result.frame, result.grid).encode()
    else:
        data = csv_text(result.frame).encode()
    ws.close()
    _write(data, result.notes, output)


def _area(ws: Workspace) -> tuple[Boundaries | None, Outlines | None, list[str] | None]:
    """The area's boundaries and outlines, or (without them) its LSOA codes, which keep the
    grid to the incidents placed in the area."""
    from svduty.analysis.assessment import csp_districts
    from svduty.spatial.maps import outlines

    groups = csp_districts(ws.store, ws.settings, None)
    own = ws.boundaries()
    drawn = outlines(own, groups)
    if drawn is not None or not groups:
        return own, drawn, None
    areas = ws.store.table("areas")
    wanted = [code for codes in groups.values() for code in codes]
    chosen = areas.filter(areas.la_code.isin(wanted)).select("lsoa_code").to_pandas()
    return own, None, list(chosen["lsoa_code"])


def _lsoa_hotspots(
    ws: Workspace,
    chosen: Definition | None,
    filters: list[Filter],
    neighbours: str,
    distance: float | None,
    permutations: int,
    seed: int | None,
    scale: Weights | None,
    boundaries: Path | None,
    fmt: SpatialFormat,
) -> tuple[bytes, list[str]]:
    from svduty.reference.boundaries import load_areas
    from svduty.spatial.areas import area_hotspots
    from svduty.spatial.maps import area_map, areas_geojson

    own, drawn, _ = _area(ws)
    if boundaries:
        areas = load_areas(boundaries)
    elif own is not None and own.lsoas is not None:
        areas = own.lsoas
    else:
        raise SvdutyError(
            "no LSOA polygons for this area: give --boundaries FILE, set `boundaries` in "
            "svduty.toml to a GeoJSON of the area's LSOAs, or run `svduty fetch boundaries`"
        )
    result = area_hotspots(
        ws.store, areas, chosen, filters, neighbours, distance, permutations, seed, scale
    )
    title = f"Gi* hotspots by LSOA: {chosen.id if chosen else 'all incidents'}"
    if fmt is SpatialFormat.png:
        data = area_map(result.frame, areas.shapes, drawn, title)
    elif fmt is SpatialFormat.geojson:
        data = areas_geojson(result.frame, areas.shapes).encode()
    else:
        data = csv_text(result.frame).encode()
    return data, [*result.notes, result.method]


def _write(data: bytes, notes: list[str], output: Path | None) -> None:
    """Notes to standard error; the result to the file, or to standard output."""
    for note in notes:
        err.print(note)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        err.print(f"Wrote {output}")


class Period(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


@app.command("emerging-hotspots")
def emerging_hotspots(
    workspace: WorkspaceOption,
    period: Annotated[
        Period, typer.Option(help="Time step (quarters and years from April).")
    ] = Period.quarter,
    time_steps: Annotated[
        int, typer.Option(help="Earlier periods in each neighbourhood (ArcGIS's default 1).")
    ] = 1,
    alpha: Annotated[float, typer.Option(help="Significance level, after FDR.")] = 0.05,
    cell_size: CellSizeOption = None,
    neighbours: NeighboursOption = "queen",
    distance: DistanceOption = None,
    filter_: SelectOption = None,
    definition: DefinitionOption = None,
    periods: Annotated[
        bool, typer.Option(help="CSV of every cell x period (z, FDR p) instead of one per cell.")
    ] = False,
    fmt: SpatialFormatOption = SpatialFormat.csv,
    output: OutOption = None,
) -> None:
    """Emerging and persistent hotspots: space-time Gi* per period and a Mann-Kendall trend,
    each cell classed new, consecutive, intensifying, persistent, diminishing, sporadic,
    oscillating or historical hot (or cold) spot, as ArcGIS Pro's Emerging Hot Spot Analysis."""

    from svduty.counting import Filter
    from svduty.definitions import load_definition
    from svduty.spatial.emerging import emerging_hotspots as run
    from svduty.spatial.maps import PATTERN_COLOURS, cells_geojson, class_map

    if fmt is SpatialFormat.png and output is None:
        raise SvdutyError("--format png needs --out FILE")
    if periods and fmt is not SpatialFormat.csv:
        raise SvdutyError("--periods writes CSV only")
    ws = _open(workspace, read_only=True)
    chosen = load_definition(definition) if definition else None
    _, drawn, placed = _area(ws)
    result = run(
        ws.store, chosen, [Filter.parse(f) for f in filter_ or []], period.value, cell_size,
        neighbours, distance, time_steps, alpha, drawn.area if drawn else None, placed,
    )  # fmt: skip
    ws.close()
    title = (
        f"Emerging hotspots: {chosen.id if chosen else 'all incidents'}, "
        f"{result.periods[0]} to {result.periods[-1]}"
    )
    if fmt is SpatialFormat.png:
        data: bytes = class_map(
            result.frame, result.grid, drawn, title, "pattern", PATTERN_COLOURS, "Pattern",
        )  # fmt: skip
    elif fmt is SpatialFormat.geojson:
        data = cells_geojson(result.frame, result.grid).encode()
    else:
        table = result.z if periods else result.frame
        data = csv_text(table).encode()
    _write(data, [*result.notes, result.method], output)


@app.command("near-repeat")
def near_repeat(
    workspace: WorkspaceOption,
    distances: Annotated[
        str, typer.Option(help="Distance band edges in metres, from 0.")
    ] = "0,100,200,300,400",
    days: Annotated[str, typer.Option(help="Time band edges in days, from 0.")] = "0,7,14,21,28",
    simulations: Annotated[int, typer.Option(help="Monte Carlo shuffles of dates.")] = 99,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    filter_: SelectOption = None,
    definition: DefinitionOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Banded Knox test (the Near Repeat Calculator's method): pairs of incidents close in
    space and time against shuffled dates. Needs exact places and days: refuses open data."""
    from svduty.counting import Filter
    from svduty.definitions import load_definition
    from svduty.spatial.hotspots import near_repeat as run

    ws = _open(workspace, read_only=True)
    chosen = load_definition(definition) if definition else None
    result = run(
        ws.store, chosen, [Filter.parse(f) for f in filter_ or []],
        _edges(distances, "--distances"), _edges(days, "--days"), simulations, seed,
    )  # fmt: skip
    ws.close()
    _emit(result.table, fmt, f"Near repeats: {result.events:,} incidents")
    err.print(result.method)


class MeasureFormat(StrEnum):
    csv = "csv"
    json = "json"
    png = "png"
    svg = "svg"


class Chart(StrEnum):
    xmr = "xmr"
    t = "t"
    g = "g"


class Improvement(StrEnum):
    up = "up"
    down = "down"
    neither = "neither"


class Preset(StrEnum):
    mdc = "mdc"
    nhsr = "nhsr"


class FunnelKind(StrEnum):
    proportion = "proportion"
    rate = "rate"


InputOption = Annotated[Path, typer.Option("--input", help="The CSV file to read.")]
MeasureFormatOption = Annotated[MeasureFormat, typer.Option("--format", "-f")]
TitleOption = Annotated[str | None, typer.Option(help="Chart title (png and svg).")]


@app.command("spc")
def spc_chart(
    input_: InputOption,
    date_column: Annotated[str, typer.Option(help="Column of dates (YYYY-MM-DD).")] = "date",
    value_column: Annotated[str, typer.Option(help="Column of values (xmr charts).")] = "value",
    chart: Annotated[
        Chart, typer.Option(help="xmr; t or g for rare events (one row per event).")
    ] = Chart.xmr,
    improvement: Annotated[
        Improvement, typer.Option(help="Which way is better: up, down or neither.")
    ] = Improvement.neither,
    preset: Annotated[
        Preset, typer.Option(help="Rules: mdc (Making Data Count) or nhsr (NHSRplotthedots).")
    ] = Preset.mdc,
    baseline: Annotated[
        int | None, typer.Option(help="Limits from the first N points, extended forward.")
    ] = None,
    recalculate: Annotated[
        list[str] | None, typer.Option(help="Recalculate the limits from this date (repeat).")
    ] = None,
    target: Annotated[float | None, typer.Option(help="Target, for the assurance icon.")] = None,
    title: TitleOption = None,
    fmt: MeasureFormatOption = MeasureFormat.csv,
    output: OutOption = None,
) -> None:
    """Statistical process control chart (NHS Making Data Count): mean, process limits,
    special-cause rules and icons; one row per point with its variation."""
    from datetime import date

    from svduty.measures import spc

    if fmt is MeasureFormat.png and output is None:
        raise SvdutyError("--format png needs --out FILE")
    when = []
    for text in recalculate or []:
        try:
            when.append(date.fromisoformat(text + "-01" if len(text) == 7 else text))
        except ValueError:
            raise SvdutyError(f"--recalculate {text!r}: write YYYY-MM-DD or YYYY-MM") from None
    if chart is Chart.xmr:
        dates, values = spc.read_series(input_, date_column, value_column)
    else:
        dates, values = spc.days_between(spc.read_events(input_, date_column))
    result = spc.spc(
        dates, values, chart=chart.value, improvement=improvement.value, preset=preset.value,
        baseline=baseline, recalculate=when, target=target,
    )  # fmt: skip
    notes = [*result.notes, f"variation: {result.variation_icon or 'none (no limits)'}"]
    if result.assurance_icon:
        notes.append(f"assurance: {result.assurance_icon}")
    if fmt in (MeasureFormat.png, MeasureFormat.svg):
        from svduty.measures.charts import render, spc_figure

        data = render(spc_figure(result, title or input_.stem), fmt.value)
    elif fmt is MeasureFormat.json:
        data = result.json().encode()
    else:
        data = csv_text(result.frame).encode()
    _write(data, [*notes, result.method], output)


@app.command("funnel")
def funnel_plot(
    input_: InputOption,
    kind: Annotated[FunnelKind, typer.Option(help="proportion (Wilson) or rate (Poisson).")],
    multiplier: Annotated[
        float | None, typer.Option(help="Per 100, 1000, 100000... (default 100 or 1000).")
    ] = None,
    overdispersion: Annotated[
        bool, typer.Option(help="Widen the limits for overdispersion (Spiegelhalter).")
    ] = False,
    title: TitleOption = None,
    fmt: MeasureFormatOption = MeasureFormat.csv,
    output: OutOption = None,
) -> None:
    """Funnel plot comparing areas (columns area, numerator, denominator) with the pooled
    baseline: 95% and 99.8% limits, each area labelled High, Low or Not significant."""
    from svduty.measures.funnel import funnel, read_areas

    if fmt is MeasureFormat.png and output is None:
        raise SvdutyError("--format png needs --out FILE")
    areas, numerators, denominators = read_areas(input_, kind.value)
    result = funnel(
        areas, numerators, denominators, kind=kind.value, multiplier=multiplier,
        overdispersion=overdispersion,
    )  # fmt: skip
    if fmt in (MeasureFormat.png, MeasureFormat.svg):
        from svduty.measures.charts import funnel_figure, render

        data = render(funnel_figure(result, title or input_.stem), fmt.value)
    elif fmt is MeasureFormat.json:
        data = result.json().encode()
    else:
        data = csv_text(result.frame).encode()
    _write(data, [*result.notes, result.method], output)


KEEP_ALIVE = 75
"""Seconds an idle connection to the dashboard stays open (uvicorn's 5 closed it while a reader
read the page, so the next click raced the close; 75 is nginx's default)."""


@app.command()
def serve(
    workspace: WorkspaceOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark cookies Secure (when served behind HTTPS).")
    ] = False,
    public: Annotated[
        bool,
        typer.Option(help="Anyone may read the published pages without signing in."),
    ] = False,
) -> None:
    """The partnership's dashboard: the published figures of the workspace (opened read-only),
    behind a sign-in (`svduty users add`); an ingest elsewhere shows once committed."""
    import logging
    import os

    import uvicorn

    from svduty.web.accounts import users
    from svduty.web.app import configure_access_log, create_app

    root = _open(workspace, read_only=True).root
    if not users(root) and not public:
        raise SvdutyError(
            f"no users yet: add one first, e.g. `svduty users add NAME --role analyst -w {root}`"
        )
    configure_access_log()
    app_ = create_app(root, secure_cookies=secure_cookies, public=public)
    for beat in HEARTBEAT:
        beat.stop()  # the access log says what the server is doing
    err.print(f"serving {root} on http://{host}:{port} (Ctrl-C stops)", highlight=False)
    status = 0
    try:
        uvicorn.run(
            app_, host=host, port=port, access_log=False,
            log_level="warning", timeout_keep_alive=KEEP_ALIVE,
        )  # fmt: skip
    except SystemExit as stopped:  # uvicorn's own exit (the port taken, say)
        if isinstance(stopped.code, str):
            err.print(stopped.code, highlight=False, markup=False)
        status = stopped.code if isinstance(stopped.code, int) else int(stopped.code is not None)
    # The server has stopped and written its last audit row. A published set may still be in
    # the making on a background thread, inside DuckDB, HiGHS or matplotlib; the interpreter's
    # teardown would destroy their threads under it and abort ("terminate called ..."). The
    # set is cached whole or not at all, so the process ends here instead.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from standard input (else it is asked for)."
    ),
]
AreaOption = Annotated[
    list[str] | None,
    typer.Option("--area", help="A partner's CSP (repeat); none: every area."),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("The same again", hide_input=True) != first:
        raise SvdutyError("the two passwords differ; nothing was changed")
    return str(first)


def _root(workspace: Path) -> Path:
    ws = _open(workspace, read_only=True)
    root = ws.root
    ws.close()
    return root


def _areas(root: Path, areas: list[str] | None) -> tuple[str, ...]:
    from svduty.settings import load_settings

    known = load_settings(root).csps
    for area in areas or []:
        if area not in known:
            raise SvdutyError(f"--area {area!r} is not a CSP of this workspace: {', '.join(known)}")
    return tuple(areas or ())


def _audit_user(root: Path, action: str, parameters: dict[str, object]) -> None:
    """An account change from the command line, in the audit log as the dashboard's are."""
    from svduty import __version__
    from svduty.audit import Entry, append, now
    from svduty.workspace import default_actor

    entry = Entry(now(), default_actor(), action, parameters, None, [], None, __version__)
    append(root, [entry], say=err.print)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    workspace: WorkspaceOption,
    role: Annotated[str, typer.Option(help="admin, analyst or partner.")] = "partner",
    area: AreaOption = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a dashboard user (the password is hashed with argon2, never stored)."""
    from svduty.web.accounts import add_user

    root = _root(workspace)
    user = add_user(root, name, _password(password_stdin), role, _areas(root, area))
    _audit_user(
        root, "user added", {"user": user.name, "role": user.role, "areas": list(user.areas)}
    )
    scope = f", areas {', '.join(user.areas)}" if user.areas else ""
    out.print(f"added {user.name} ({user.role}{scope})", highlight=False)


@users_app.command("list")
def users_list(workspace: WorkspaceOption, fmt: FormatOption = Format.table) -> None:
    """The dashboard's users, their roles and areas."""
    import pandas as pd

    from svduty.web.accounts import users

    rows = [
        {"name": u.name, "role": u.role, "areas": ", ".join(u.areas) or "all",
         "disabled": u.disabled}
        for u in users(_root(workspace))
    ]  # fmt: skip
    _emit(pd.DataFrame(rows, columns=["name", "role", "areas", "disabled"]), fmt, "Users")


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="User name.")],
    workspace: WorkspaceOption,
    enable: Annotated[bool, typer.Option(help="Enable the account again instead.")] = False,
) -> None:
    """Disable a user: their session ends at their next request."""
    from svduty.web.accounts import set_disabled

    set_disabled(_root(workspace), name, not enable)
    _audit_user(_root(workspace), f"user {'enable' if enable else 'disable'}", {"user": name})
    out.print(f"{'enabled' if enable else 'disabled'} {name}", highlight=False)


@users_app.command("reset-password")
def users_reset_password(
    name: Annotated[str, typer.Argument(help="User name.")],
    workspace: WorkspaceOption,
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a user's password."""
    from svduty.web.accounts import set_password

    set_password(_root(workspace), name, _password(password_stdin))
    _audit_user(_root(workspace), "user reset-password", {"user": name})
    out.print(f"password of {name} changed", highlight=False)


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    workspace: WorkspaceOption,
    role: Annotated[str, typer.Option(help="admin, analyst or partner.")],
    area: AreaOption = None,
) -> None:
    """Change a user's role (and a partner's areas)."""
    from svduty.web.accounts import set_role

    root = _root(workspace)
    set_role(root, name, role, _areas(root, area))
    _audit_user(root, "user role", {"user": name, "role": role, "areas": list(area or [])})
    out.print(f"{name} is now {role}", highlight=False)


@keys_app.command("create")
def keys_create(
    out_file: Annotated[
        Path,
        typer.Option("--out", help="The new key file (outside the workspace; never overwritten)."),
    ],
) -> None:
    """Write a new random 256-bit partnership key to a file only its owner can read, and print
    its fingerprint (never the key)."""
    from svduty.identity.keys import create_key_file

    printed = create_key_file(out_file)
    out.print(
        f"wrote {out_file} (mode 0600); fingerprint {printed}. Give it to each agency of the "
        "partnership by a secure channel and name it in svduty.toml: partnership_key = "
        f'"file:{out_file.resolve()}"',
        highlight=False,
    )


@keys_app.command("show")
def keys_show(workspace: WorkspaceOption) -> None:
    """What the workspace's person keys are made with: the partnership key's fingerprint, or
    the workspace's own salt."""
    from svduty.identity.keys import settings_key
    from svduty.settings import load_settings

    root = _root(workspace)
    found = settings_key(root, load_settings(root).partnership_key)
    if found is None:
        out.print(
            "person keys: the workspace's own salt (no partnership_key in svduty.toml); they "
            "do not meet keys made in another workspace or by an agency",
            highlight=False,
        )
        return
    out.print(f"person keys: {found.label}", highlight=False)


@app.command()
def pseudonymise(
    path: Annotated[Path, typer.Argument(help="The agency's extract (CSV) with identifiers.")],
    mapping: Annotated[
        Path, typer.Option(help="The mapping that declares the extract's identifiers.")
    ],
    key: Annotated[
        str,
        typer.Option(
            help="The partnership key: a key file, or env:NAME for an environment variable."
        ),
    ],
    out_file: Annotated[Path, typer.Option("--out", help="The pseudonymised extract (new).")],
    encoding: Annotated[
        str,
        typer.Option(
            help="key: the person key only; bloom: also a Bloom filter of each identifier and "
            "encoded blocking keys, for linkage that tolerates typos."
        ),
    ] = "key",
) -> None:
    """Replace the identifiers of an extract by person keys before it leaves the agency: the
    output keeps every other column, adds the key column and has no identifier column.
    Ingest it with the same mapping."""
    from svduty.identity.keys import read_key
    from svduty.identity.pseudonymise import pseudonymise as run

    done = run(path, mapping, read_key(key, "--key"), out_file, encoding)
    out.print(
        f"wrote {done.out}: {done.rows:,} rows, {done.key_column!r} made from "
        f"{', '.join(done.key_fields)} with partnership key {done.fingerprint}; identifier "
        f"columns left out: {', '.join(done.removed)}"
        + (f"; encoded columns: {', '.join(done.encoded)}" if done.encoded else ""),
        highlight=False,
    )
    if done.without_key:
        shown = ", ".join(str(line) for line in done.without_key[:10])
        more = ", ..." if len(done.without_key) > 10 else ""
        err.print(
            f"{len(done.without_key):,} row(s) have no key (an identifier of the key is empty "
            f"or unreadable): line{'s' if len(done.without_key) > 1 else ''} {shown}{more}",
            highlight=False,
        )


@measures_app.command("list")
def measures_list(workspace: WorkspaceOption, fmt: FormatOption = Format.table) -> None:
    """The measures of the shipped frameworks and of the workspace's own (measures/*.yaml)."""
    import pandas as pd

    from svduty.measures.framework import frameworks

    rows = [
        {
            "framework": f.id,
            "measure": m.id,
            "unit": m.unit_words,
            "improvement": m.improvement,
            "name": m.name,
        }
        for f in frameworks(workspace)
        for m in f.measures
    ]
    _emit(pd.DataFrame(rows), fmt, "Success measures")


@measures_app.command("show")
def measures_show(
    measure: Annotated[str, typer.Argument(help="Measure id (or FRAMEWORK/MEASURE).")],
    workspace: WorkspaceOption,
    fmt: FormatOption = Format.table,
) -> None:
    """A measure: what it counts and why, and its latest period for the area and each CSP."""
    import pandas as pd

    from svduty.analysis.measure_series import all_series
    from svduty.measures.framework import find_measure
    from svduty.periods import WORDS

    chosen = find_measure(measure, workspace)
    err.print(
        f"{chosen.framework}/{chosen.id}: {chosen.name}\n"
        f"why: {chosen.why}\n"
        f"source: {chosen.source.describe()}\n"
        f"unit: {chosen.unit_words}; improvement: {chosen.improvement}"
        + (f"\nbaseline: {chosen.baseline.words}" if chosen.baseline else "")
        + (
            f"\nlimits recalculated from: {', '.join(chosen.recalculate)}"
            if chosen.recalculate
            else ""
        )
        + (f"\ntarget: {chosen.target:g}" if chosen.target is not None else ""),
        highlight=False,
    )
    ws = _open(workspace, read_only=True)
    found = all_series(ws.store, ws.settings, chosen)
    ws.close()
    rows = []
    for name, series in found.items():
        latest = series.latest or {}
        rows.append(
            {
                "area": name,
                series.period: latest.get(series.period),
                "count": latest.get("count"),
                chosen.unit if chosen.unit != "count" else "value": _rounded(
                    latest.get(series.value) if series.value != "count" else None
                ),
                "status": latest.get("status", "no data"),
                "periods": len(series.frame),
                "gaps": int((series.frame["status"] == "no data").sum()),
            }
        )
        for note in series.notes:
            err.print(f"{name}: {note}", highlight=False)
    _emit(pd.DataFrame(rows), fmt, f"{chosen.name}: latest {WORDS[chosen.period]}")


def _rounded(value: Any) -> float | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else round(float(value), 3)


@measures_app.command("validate")
def measures_validate(
    paths: Annotated[list[Path], typer.Argument(help="Framework files.")],
) -> None:
    """Check framework files; every problem is listed with its line and field."""
    from svduty.measures.framework import load_framework

    failed = []
    for path in paths:
        try:
            f = load_framework(path)
            out.print(f"{path}: valid ({f.id}, {len(f.measures)} measures)", highlight=False)
        except SvdutyError as error:
            failed.append(str(error))
    if failed:
        raise SvdutyError("\n".join(failed))


@measures_app.command("spc")
def measures_spc(
    measure: Annotated[str, typer.Argument(help="Measure id (or FRAMEWORK/MEASURE).")],
    workspace: WorkspaceOption,
    area: Annotated[
        str | None, typer.Option("--area", help="One CSP (default: the whole area).")
    ] = None,
    preset: Annotated[
        Preset, typer.Option(help="Rules: mdc (Making Data Count) or nhsr (NHSRplotthedots).")
    ] = Preset.mdc,
    chart: Annotated[
        Chart,
        typer.Option(
            help="xmr (the measure's months); t or g for rare events: the days between them."
        ),
    ] = Chart.xmr,
    title: TitleOption = None,
    fmt: MeasureFormatOption = MeasureFormat.csv,
    output: OutOption = None,
) -> None:
    """An SPC chart (XmR, Making Data Count) of a measure's monthly series, in its unit and
    improvement direction; months without data are left out and named. For rare events (a
    month of none is usual), --chart t or g charts the days between them."""
    import json

    from svduty.analysis.measure_series import measure_events, measure_series
    from svduty.measures import spc
    from svduty.measures.framework import find_measure
    from svduty.measures.limits import chart_plan
    from svduty.periods import WORDS

    if fmt is MeasureFormat.png and output is None:
        raise SvdutyError("--format png needs --out FILE")
    chosen = find_measure(measure, workspace)
    ws = _open(workspace, read_only=True)
    series = measure_series(ws.store, ws.settings, chosen, area)
    events = None if chart is Chart.xmr else measure_events(ws.store, ws.settings, chosen, area)
    ws.close()
    gaps = [
        str(m)
        for m, s in zip(series.frame[series.period], series.frame["status"], strict=True)
        if s == "no data"
    ]
    if events is not None:
        dates, values = spc.days_between(events.dates)
        # longer gaps between events are better where fewer events are
        better = {"down": "up", "up": "down"}.get(chosen.improvement, "neither")
        result = spc.spc(dates, values, chart=chart.value, improvement=better, preset=preset.value)
        first, last = (f"{d:%Y-%m}" for d in (min(events.dates), max(events.dates)))
        inside = [m for m in gaps if first <= m <= last]
        said = [
            f"{chosen.name}, {series.area}: days between {len(events.dates):,} events",
            *(
                [
                    "the framework's baseline, recalculation points and target are for the "
                    "measure's XmR chart, not this one"
                ]
                if chosen.baseline or chosen.recalculate or chosen.target is not None
                else []
            ),
            *(
                [
                    f"{len(inside)} month(s) without data lie between the first and last "
                    f"event ({', '.join(inside)}): the days across them may hide events"
                ]
                if inside
                else []
            ),
            *(
                [f"{events.month_only:,} event(s) dated by month only are left out"]
                if events.month_only
                else []
            ),
        ]
    else:
        dates, values = series.points()
        if not values:
            raise SvdutyError(
                f"{chosen.id} has no {WORDS[series.period]} with data for {series.area}: "
                + ("; ".join(series.notes) or "the workspace holds none")
            )
        plan = chart_plan(dates, series.period, chosen.baseline, chosen.recalculate, chosen.target)
        result = spc.spc(
            dates[plan.first :], values[plan.first :], improvement=chosen.improvement,
            preset=preset.value, baseline=plan.baseline, recalculate=plan.recalculate,
            target=plan.target,
        )  # fmt: skip
        said = [
            f"{chosen.name}, {series.area}: {series.value} ({chosen.unit_words})",
            *series.notes,
            *([f"{WORDS[series.period]}s left out as gaps: " + ", ".join(gaps)] if gaps else []),
            *plan.notes,
        ]
    notes = [*said, *result.notes, f"variation: {result.variation_icon or 'none (no limits)'}"]
    if fmt in (MeasureFormat.png, MeasureFormat.svg):
        from svduty.measures.charts import render, spc_figure

        data = render(spc_figure(result, title or f"{chosen.name}, {series.area}"), fmt.value)
    elif fmt is MeasureFormat.json:
        summary = json.loads(result.json())
        summary = {
            "measure": chosen.id,
            "framework": chosen.framework,
            "area": series.area,
            "value": series.value,
            "unit": chosen.unit_words,
            "population": series.population,
            "gaps": gaps,
            **summary,
        }
        data = (json.dumps(summary, indent=2) + "\n").encode()
    else:
        data = csv_text(result.frame).encode()
    _write(data, [*notes, result.method], output)


@measures_app.command("funnel")
def measures_funnel(
    measure: Annotated[str, typer.Argument(help="Measure id (or FRAMEWORK/MEASURE).")],
    workspace: WorkspaceOption,
    period: Annotated[
        str | None,
        typer.Option(
            help="A month (2024-05), quarter (2024-Q2) or financial year (2024/25), or a range "
            "FIRST:LAST (default: the latest 12 months with data)."
        ),
    ] = None,
    title: TitleOption = None,
    fmt: MeasureFormatOption = MeasureFormat.csv,
    output: OutOption = None,
) -> None:
    """A funnel plot of the partnership's CSPs on a measure over a period: each CSP's rate (per
    resident a year) or share against the pooled value, with 95% and 99.8% limits."""
    import json

    from svduty.analysis.measure_funnel import compare_csps
    from svduty.measures.framework import find_measure

    if fmt is MeasureFormat.png and output is None:
        raise SvdutyError("--format png needs --out FILE")
    chosen = find_measure(measure, workspace)
    ws = _open(workspace, read_only=True)
    compared = compare_csps(ws.store, ws.settings, chosen, period)
    ws.close()
    result = compared.result
    heading = f"{chosen.name}, {compared.span}"
    if fmt in (MeasureFormat.png, MeasureFormat.svg):
        from svduty.measures.charts import funnel_figure, render

        data = render(funnel_figure(result, title or heading), fmt.value)
    elif fmt is MeasureFormat.json:
        summary = {
            "measure": chosen.id,
            "framework": chosen.framework,
            "periods": list(compared.periods),
            "left_out": list(compared.left_out),
            **json.loads(result.json()),
        }
        summary["notes"] = [*compared.notes, *result.notes]
        data = (json.dumps(summary, indent=2) + "\n").encode()
    else:
        data = csv_text(result.frame).encode()
    _write(data, [heading, *compared.notes, *result.notes, result.method], output)


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the example workspace.")] = Path(
        "example-workspace"
    ),
) -> None:
    """The main job: a West Mercia workspace from the bundled open data and a SYNTHETIC partner
    extract (crimes with victims and suspects, A&E attendances, admissions), and its report."""
    from svduty.example import build_example

    built = build_example(directory, err.print)
    from svduty.overview import build_overview  # once the workspace proved writable
    from svduty.sna import build_sna

    ws = _open(directory, read_only=True)
    path = build_overview(ws)
    sna = build_sna(ws)
    ws.close()
    out.print(
        f"Workspace {directory}: {built.open_data_batches} open-data batches, "
        f"{built.open_data_rows:,} records; {built.partner_batches} synthetic partner batches, "
        f"{built.partner_rows:,} rows. Reports: {path}, {sna['html']}, {sna['pdf']}"
    )
    out.print(
        f"Success measures: {built.series_batches} SYNTHETIC external series "
        f"({built.series_rows:,} rows) for the example's west-mercia framework; see "
        f"`svduty measures list -w {directory}` and `svduty measures funnel neet -w {directory}`"
    )
    password = _demo_login(directory)
    out.print(
        f"Dashboard: `svduty serve -w {directory}`, then open http://127.0.0.1:8000 and sign in "
        f"as demo (an analyst) with the password {password} (new at each run of the demo)"
    )


def _demo_login(root: Path) -> str:
    """The example's dashboard user `demo`, with a fresh random password."""
    import secrets

    from svduty.web.accounts import add_user, find_user, set_password

    password = secrets.token_urlsafe(12)
    if find_user(root, "demo") is None:
        add_user(root, "demo", password, "analyst")
    else:
        set_password(root, "demo", password)
    return password


@fetch_app.command("police-uk")
def fetch_police_uk(
    workspace: WorkspaceOption,
    force: Annotated[str, typer.Option(help='Force name, e.g. "West Mercia".')],
    start: Annotated[str, typer.Option("--from", help="First month, YYYY-MM.")],
    end: Annotated[str, typer.Option("--to", help="Last month, YYYY-MM.")],
    base_url: Annotated[
        str, typer.Option(envvar="SVDUTY_POLICE_UK_ARCHIVE", help="Archive location.")
    ] = "",
) -> None:
    """Download data.police.uk monthly archives (resumable) and ingest the force's files."""
    import pandas as pd

    from svduty.fetch import DEFAULT_BASE_URL, Month, fetch_police_uk

    ws = _open(workspace)
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        reports = fetch_police_uk(
            ws, force, Month.parse(start), Month.parse(end), base_url or DEFAULT_BASE_URL, progress
        )
    _classify_added(ws, reports)
    ws.close()
    frame = pd.DataFrame([r.__dict__ for r in reports]).drop(columns=["seconds"])
    frame["file_name"] = frame["file_name"].map(_short_name)
    _emit(frame, Format.table, "Fetched batches")


@fetch_app.command("boundaries")
def fetch_boundaries(
    workspace: WorkspaceOption,
    level: Annotated[
        str,
        typer.Option(
            help="lsoa: the area's 2021 LSOAs (maps and LSOA hotspots); district: district "
            "outlines only (maps)."
        ),
    ] = "lsoa",
    base_url: Annotated[
        str, typer.Option(envvar="SVDUTY_ONS_SERVICES", help="ArcGIS REST services location.")
    ] = "",
) -> None:
    """Download the area's boundaries from the ONS Open Geography Portal (LSOA December 2021 or
    LAD December 2024, generalised 20 m clipped) and set the workspace's `boundaries` to them."""
    from rich.progress import MofNCompleteColumn

    from svduty.fetch import BOUNDARY_LAYERS, ONS_SERVICES, fetch_boundaries

    ws = _open(workspace)
    try:
        with Progress(
            TextColumn("fetching codes"), BarColumn(), MofNCompleteColumn(), console=err
        ) as bar:
            task = bar.add_task("codes", total=None)
            path = fetch_boundaries(
                ws,
                level,
                base_url or ONS_SERVICES,
                lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        ws.close()
    out.print(
        f"Wrote {path} ({BOUNDARY_LAYERS[level].title}) and set boundaries = "
        f'"{ws.settings.boundaries}" in svduty.toml.'
    )


@bench_app.command("ingest")
def bench_ingest(
    rows: Annotated[
        int, typer.Option(help="Rows in the large file (0: example only).")
    ] = 5_000_000,
) -> None:
    """Ingest rate against DuckDB's bare read_csv count and its typed load of the same files."""
    import pandas as pd

    from svduty.bench import bench_ingest as run

    frame = pd.DataFrame(
        [
            {
                "dataset": r.dataset, "rows": r.rows, "files": r.files,
                "read_csv count (s)": round(r.baseline_seconds, 3),
                "typed load (s)": round(r.typed_seconds, 3),
                "ingest (s)": round(r.ingest_seconds, 3),
                "read_csv rows/s": round(r.baseline_rate), "ingest rows/s": round(r.ingest_rate),
                "ratio to count": round(r.ratio, 3), "ratio to typed load": round(r.typed_ratio, 3),
            }
            for r in run(rows)
        ]
    )  # fmt: skip
    _emit(frame, Format.table, "Ingest benchmark")


@bench_app.command("classify")
def bench_classify(
    rows: Annotated[int, typer.Option(help="Generated incidents.")] = 5_000_000,
    threads: Annotated[int, typer.Option(help="DuckDB threads (1: per-core rate).")] = 1,
) -> None:
    """Classification rate per core under each shipped definition, against a bare column scan."""
    import pandas as pd

    from svduty.bench import bench_classify as run

    frame = pd.DataFrame(
        [
            {
                "definition": r.definition, "incidents": r.rows, "threads": r.threads,
                "column scan (s)": round(r.scan_seconds, 3),
                "classify and store (s)": round(r.classify_seconds, 3),
                "incidents/s per core": round(r.rate_per_core),
                "time vs scan": round(r.ratio, 1),
            }
            for r in run(rows, threads)
        ]
    )  # fmt: skip
    _emit(frame, Format.table, "Classification benchmark")


@bench_app.command("synth")
def bench_synth(
    incidents: Annotated[int, typer.Option(help="Incidents in the large run.")] = 10_000_000,
) -> None:
    """Time and peak memory of synthetic generation, small run against a large one."""
    import pandas as pd

    from svduty.bench import bench_synth as run

    results = run((100_000, incidents))
    small = results[0]
    frame = pd.DataFrame(
        [
            {
                "incidents": r.incidents, "seconds": round(r.seconds, 1),
                "incidents/s": round(r.incidents / r.seconds),
                "peak RSS (MB)": round(r.peak_rss_mb),
                "peak RSS vs small run": round(r.peak_rss_mb / small.peak_rss_mb, 2),
            }
            for r in results
        ]
    )  # fmt: skip
    _emit(frame, Format.table, "Synthetic generation")


@bench_app.command("report")
def bench_report(
    workspace: Annotated[
        Path | None,
        typer.Option(help="An example workspace already built (default: build one first)."),
    ] = None,
    spark: Annotated[bool, typer.Option(help="Also time the HTML build on Spark.")] = False,
) -> None:
    """The whole assessment of the example workspace against one grouped count of its
    incidents."""
    import pandas as pd

    from svduty.bench import bench_report as run

    frame = pd.DataFrame(
        [
            {
                "engine": r.engine, "incidents": r.incidents,
                "count by month (s)": round(r.baseline_seconds, 3),
                "report, HTML + JSON (s)": round(r.html_seconds, 2),
                "report with PDF (s)": None if r.pdf_seconds is None else round(r.pdf_seconds, 2),
                "again, cached (s)": round(r.cached_seconds, 3),
                "HTML time vs count": round(r.ratio),
            }
            for r in run(workspace, spark, err.print)
        ]
    )  # fmt: skip
    _emit(frame, Format.table, "Report benchmark")


@bench_app.command("measures")
def bench_measures(
    incidents: Annotated[int, typer.Option(help="Generated incidents.")] = 500_000,
    months: Annotated[int, typer.Option(help="Months the incidents span.")] = 60,
    measures: Annotated[int, typer.Option(help="Measures in the generated framework.")] = 30,
    one_by_one: Annotated[
        int, typer.Option(help="Measures also counted one at a time, for comparison.")
    ] = 3,
) -> None:
    """A framework's monthly series for the area and its five CSPs, with an SPC chart each,
    against one count of the incidents by month and against counting one measure at a time."""
    import pandas as pd

    from svduty.bench import bench_measures as run

    r = run(incidents, months, measures, one_by_one)
    frame = pd.DataFrame(
        [
            {
                "measures": r.measures, "areas": r.areas, "months": r.months,
                "incidents": r.incidents, "count by month (s)": round(r.count_seconds, 3),
                "series (s)": round(r.series_seconds, 2), "SPC (s)": round(r.spc_seconds, 2),
                "framework (s)": round(r.framework_seconds, 2),
                "one at a time, per measure (s)": round(r.one_by_one_seconds / r.one_by_one, 2),
                "time vs count": round(r.ratio), "speed-up vs one at a time": round(r.speedup, 1),
            }
        ]
    )  # fmt: skip
    _emit(frame, Format.table, "Success measures benchmark")


@bench_app.command("scale")
def bench_scale(
    rows: Annotated[int, typer.Option(help="Rows of the generated national data set.")] = 6_000_000,
    months: Annotated[int, typer.Option(help="Months, to September 2025.")] = 120,
    seed: Annotated[int, typer.Option(help="Seed for the missing force-months.")] = 1,
    timeout: Annotated[float, typer.Option(help="Seconds each step may take.")] = 3600.0,
    scratch: Annotated[
        Path | None, typer.Option(help="Folder for the data set and workspace (default: temp).")
    ] = None,
    memory_limit: Annotated[
        str, typer.Option(help="The workspace's memory_limit setting for its DuckDB connections.")
    ] = "3GB",
    engine: Annotated[
        str, typer.Option(help="The workspace's engine: duckdb, or spark (Delta Lake tables).")
    ] = "duckdb",
    fmt: FormatOption = Format.table,
) -> None:
    """Every step (ingest, classify, counts, quality, report, hotspots, near repeats) on a
    generated national decade of street crime (43 forces, monthly files), beside DuckDB's own
    read and typed load of the same files: seconds, rows/s and peak memory of each."""
    import pandas as pd

    from svduty.scale import bench_scale as run

    data, steps = run(rows, months, seed, timeout, scratch, _say, memory_limit, engine)
    frame = pd.DataFrame(
        [
            {
                "step": s.name,
                "outcome": s.outcome,
                "rows": s.rows,
                "seconds": round(s.seconds, 1),
                "rows/s": round(s.rows_per_second) if s.rows_per_second else None,
                "peak RSS (MB)": round(s.peak_rss_bytes / 2**20) if s.peak_rss_bytes else None,
            }
            for s in steps
        ]
    ).astype({"rows/s": "Int64", "peak RSS (MB)": "Int64"})  # whole numbers, or blank
    _emit(
        frame,
        fmt,
        f"Scale benchmark: {data.rows:,} rows in {data.files:,} files "
        f"({data.gaps} force-months missing), generated in {data.seconds:.0f} s",
    )


@bench_app.command("dashboard")
def bench_dashboard(
    workspace: WorkspaceOption,
    users: Annotated[int, typer.Option(help="Signed-in users browsing at once.")] = 50,
    seconds: Annotated[float, typer.Option(help="How long they browse (at most 600).")] = 60,
    period: Annotated[
        list[str] | None,
        typer.Option(help="A FROM:TO period of months the users also filter by (repeat)."),
    ] = None,
    think: Annotated[
        float,
        typer.Option(help="Mean seconds a user reads a page (0 to twice this; 0: none)."),
    ] = 5.0,
) -> None:
    """The dashboard under load, over loopback only: every page for the whole area and each
    CSP (and each period given) viewed once, then `users` browsing them at once, pausing to
    read; latency of cached views, of first views and of new sets, errors, peak memory."""
    import pandas as pd

    from svduty.web.load import load_test

    periods = [("", "")]
    for text in period or []:
        start, _, end = text.partition(":")
        periods.append((start, end))
    root = _root(workspace)
    r = load_test(root, users, seconds, periods, say=_say, think=think)
    frame = pd.DataFrame(
        [
            {
                "users": r.users, "think (s)": r.think, "seconds": r.seconds,
                "requests": r.requests, "errors": r.errors, "p50 (ms)": r.cached_p50_ms,
                "p95 (ms)": r.cached_p95_ms, "max (ms)": r.cached_max_ms,
                "first views": r.first_views, "first p95 (ms)": r.first_p95_ms,
                "first max (ms)": r.first_max_ms, "new sets": r.new_sets,
                "new set max (s)": r.new_set_max_s, "peak RSS (MB)": r.peak_rss_mb,
            }
        ]
    )  # fmt: skip
    _emit(frame, Format.table, "Dashboard under load")


@bench_app.command("spatial")
def bench_spatial(
    cells_side: Annotated[int, typer.Option(help="Lattice side (cells = side squared).")] = 300,
    permutations: Annotated[int, typer.Option(help="Gi* permutations.")] = 999,
    events: Annotated[int, typer.Option(help="Events for the Knox test.")] = 20_000,
) -> None:
    """Gi* against esda and the Knox test against pointpats, same data, one run."""
    import pandas as pd

    from svduty.bench import bench_spatial as run

    frame = pd.DataFrame(
        [
            {
                "task": r.task, "size": r.size, "peer": r.peer,
                "peer (s)": round(r.peer_seconds, 3), "svduty (s)": round(r.svduty_seconds, 3),
                "speed-up": round(r.ratio, 1), "agreement": r.agreement,
            }
            for r in run(cells_side, permutations, events)
        ]
    )  # fmt: skip
    _emit(frame, Format.table, "Spatial benchmark")


class FuzzTargetName(StrEnum):
    csv = "csv"
    csv_plan = "csv-plan"
    xml = "xml"
    xml_plan = "xml-plan"
    zip = "zip"
    yaml = "yaml"


@bench_app.command("startup")
def bench_startup(
    runs: Annotated[int, typer.Option(help="Runs of each command (the median is shown).")] = 7,
) -> None:
    """Start-up of the command line (--help, counts on a small workspace) against bare Python."""
    import pandas as pd

    from svduty.bench import bench_startup as run

    frame = pd.DataFrame(
        [
            {
                "command": r.command, "runs": r.runs, "median (s)": round(r.seconds, 3),
                "above bare Python (s)": round(r.excess, 3),
            }
            for r in run(runs)
        ]
    )  # fmt: skip
    _emit(frame, Format.table, "Start-up benchmark")


@bench_app.command("fuzz")
def bench_fuzz(
    cases: Annotated[int, typer.Option(help="Inputs to run per target.")] = 10_000,
    target: Annotated[
        list[FuzzTargetName] | None,
        typer.Option(help="csv, csv-plan, xml, xml-plan, zip or yaml (repeat; default: all)."),
    ] = None,
    keep: Annotated[
        Path, typer.Option(help="Folder for crashing inputs (one sub-folder per target).")
    ] = Path("tests/fuzz-corpus"),
    max_len: Annotated[int, typer.Option(help="Largest input in bytes.")] = 4096,
) -> None:
    """Coverage-guided fuzzing (atheris, libFuzzer) of the CSV, XML, zip and YAML readers: any
    input must end in success or an svduty error. A crashing input is kept for the tests."""
    import pandas as pd

    from svduty.fuzz import fuzz, summary

    chosen = [t.value for t in target] if target else [t.value for t in FuzzTargetName]
    rows = []
    for name in chosen:
        err.print(f"fuzzing {name} ({cases:,} cases)")
        rows.append(summary(fuzz(name, cases, keep, max_len)))
    _emit(pd.DataFrame(rows), Format.table, "Fuzzing")
    if any(row["crash kept"] for row in rows):
        raise typer.Exit(1)


@reference_app.command("build")
def reference_build(
    shared: Annotated[Path, typer.Option(help="The shared/data folder with the sources.")],
    target: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
) -> None:
    """Rebuild the bundled reference tables from their public source files."""
    from svduty.reference import data_path
    from svduty.reference.build import build

    written = build(shared, target or data_path(""))
    for name, rows in written.items():
        out.print(f"{name}: {rows:,} rows")


@reference_app.command("profile")
def reference_profile(
    shared: Annotated[Path, typer.Option(help="The shared/data folder with the sources.")],
    name: Annotated[
        list[str] | None,
        typer.Option(
            "--profile",
            help="A shipped profile, or a profile file (repeat; default: every shipped profile).",
        ),
    ] = None,
    target: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
) -> None:
    """Rebuild the data-derived files of synthetic profiles from the public files each names."""
    from svduty.synth.derive import derive
    from svduty.synth.profile import load_profile, shipped_profiles

    for spec in name or list(shipped_profiles()):
        profile = load_profile(spec)
        for written, rows in derive(shared, profile, target or profile.path.parent).items():
            out.print(f"{profile.id}: {written}: {rows:,} rows")


STORED_SO_FAR: list[str] = []
"""What this run stored before an interruption (commands that store step by step add to it)."""
CTRL_C: list[bool] = []
"""Set when Ctrl-C is pressed, even where a library caught the KeyboardInterrupt."""


def _on_ctrl_c(signum: int, frame: object) -> None:
    """Ctrl-C raises KeyboardInterrupt as usual, and is remembered: DuckDB turns an interrupt
    during a query into its own error and may drop it if the query ends first, and the run must
    not then carry on as if Ctrl-C had not been pressed."""
    CTRL_C.append(True)
    raise KeyboardInterrupt


def main() -> None:
    """Every way a command can end, as one line: svduty's own errors say what to do; anything
    else is logged with its traceback and named by the log's path; Ctrl-C says what was kept."""
    signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        _run()
        if CTRL_C:  # pressed, and caught on its way up: the run ends as interrupted all the same
            sys.exit(130)  # said below
    except SvdutyError as error:
        _say_error(str(error))
        sys.exit(2)
    except OSError as error:
        if not _denied(error):
            _unexpected(error)
        message = (
            f"{error.filename}: {error.strerror}; svduty may not write there (a read-only "
            "share?): choose a folder you can write to"
        )
        _say_error(message)
        sys.exit(2)
    except SystemExit as ended:
        if ended.code == 130:  # how typer ends on Ctrl-C
            _say_interrupted()
        raise
    except Exception as error:
        _unexpected(error)


def _say_error(text: str) -> None:
    """One line to standard error: 'error:' in red, then the text as it is."""
    err.print(Text.assemble(("error:", "red"), " ", text), highlight=False, soft_wrap=True)


def _denied(error: OSError) -> bool:
    """A path the user named that may not be written (a read-only share, say): their setting,
    not svduty's fault, so said plainly rather than logged as unexpected."""
    refused = isinstance(error, PermissionError) or error.errno == errno.EROFS
    return refused and error.filename is not None


def _unexpected(error: Exception) -> NoReturn:
    if _interrupted(error):
        _say_interrupted()
        sys.exit(130)
    log = write_crash_log(error)
    _say_error(
        f"unexpected {type(error).__name__}: {_first_line(error)}. "
        f"The details are in {log}; please include that file when reporting it."
    )
    sys.exit(1)


def _run() -> None:
    from svduty.writer_lock import action_of

    try:
        with Heartbeat(err, action_of(sys.argv)) as beat:
            HEARTBEAT.append(beat)
            _app_for(sys.argv[1:])()
    finally:
        for opened in OPENED:
            try:
                opened.close()
            except Exception:  # a second failure must not hide the first
                continue


def _app_for(args: list[str]) -> typer.Typer:
    """The command line holding only the command (or group) the arguments name: typer builds
    every command it holds before running one, about a tenth of a second for all of svduty's,
    which a script calling one command many times would pay each time. Anything else (an
    option, a mistyped name) gets the whole command line, so help and errors list every
    command."""
    named = args[0] if args else ""
    commands = [
        c
        for c in app.registered_commands
        if (c.name or (c.callback.__name__ if c.callback else "").replace("_", "-")) == named
    ]
    groups = [g for g in app.registered_groups if g.name == named]
    if not commands and not groups:
        return app
    only = copy.copy(app)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def _interrupted(error: BaseException) -> bool:
    """DuckDB ends a query stopped by Ctrl-C with its own error, not KeyboardInterrupt."""
    import duckdb

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, duckdb.InterruptException) or (
            isinstance(seen, duckdb.Error | RuntimeError)
            and ("Query interrupted" in str(seen) or "KeyboardInterrupt" in str(seen))
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _say_interrupted() -> None:
    kept = "; ".join(STORED_SO_FAR)
    said = f"stored before the interruption: {kept}" if kept else "nothing from this run was stored"
    err.print(f"interrupted; {said}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"


def write_crash_log(error: BaseException) -> Path:
    """The traceback in a log file of the user's own (a workspace may be a read-only share)."""
    import os
    import tempfile
    import traceback
    from datetime import datetime

    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    text = f"svduty {__version__}\ncommand: {' '.join(sys.argv)}\n\n" + "".join(
        traceback.format_exception(error)
    )
    for folder in (Path(state) / "svduty" / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            log = folder / f"svduty-error-{stamp}-{os.getpid()}.log"
            log.write_text(text)
            return log
        except OSError:
            continue
    return Path("(no writable folder for the log)")


if __name__ == "__main__":
    main()
