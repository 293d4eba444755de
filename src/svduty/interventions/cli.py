"""`svduty interventions ...`: the catalogue from the command line (a thin layer over
`svduty.interventions`). `add` and `edit` take one option per column of the layout, made from
the layout's own list so the two cannot drift apart.

The main command line imports this module to list its commands, so the workspace (DuckDB) and
pandas are imported by the commands that use them."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from svduty.errors import InputError
from svduty.interventions import evidence
from svduty.interventions.layout import COLUMNS, NAMES
from svduty.interventions.model import STATUSES
from svduty.options import DefinitionOption as WorkspaceDefinitionOption
from svduty.options import FromOption, ToOption, WorkspaceOption
from svduty.output import Format, records, render
from svduty.vocabulary import COHORT_AGES, GAP_COHORTS, NEED_THEMES

if TYPE_CHECKING:
    from types import ModuleType

    import pandas as pd

    from svduty.interventions import api
    from svduty.workspace import Workspace


def _api() -> ModuleType:
    """The catalogue's operations, imported when a command runs (they load the engine)."""
    from svduty.interventions import api

    return api


def _store() -> ModuleType:
    from svduty.interventions import store

    return store


interventions_app = typer.Typer(
    help="The catalogue of interventions: import, list, show, add, edit, end, export."
)


def _cli() -> Any:
    """The main command line's helpers (imported late: it imports this module)."""
    from svduty import cli

    return cli


@contextmanager
def _opened(workspace: Path, read_only: bool = False) -> Iterator[Workspace]:
    """The workspace for one command, closed however the command ends (a writer then
    publishes what it committed and releases the lock)."""
    from svduty.workspace import Workspace

    ws = Workspace.open(workspace, read_only=read_only, say=_cli()._say)
    try:
        yield ws
    finally:
        ws.close()


def _fail_with(problems: api.CatalogueProblems) -> None:
    """Every problem to standard error as a table, then the one-line error."""
    import pandas as pd

    frame = pd.DataFrame(
        [(p.row, p.column, p.value, p.reason) for p in problems.problems],
        columns=["row", "column", "value", "reason"],
    )
    if not frame["row"].any():  # a change given as options, not a file
        frame = frame.drop(columns=["row"])
    sys.stderr.write(render(frame, Format.table, f"{problems.source}: problems"))
    raise problems


@interventions_app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="A catalogue in the layout: .csv or .xlsx.")],
    workspace: WorkspaceOption,
    check: Annotated[bool, typer.Option(help="Only check the file; store nothing.")] = False,
) -> None:
    """Check every row and store the catalogue (all rows or none); an unchanged intervention
    gets no new version, a changed one keeps its previous version."""
    cli = _cli()
    with _opened(workspace, read_only=check) as ws:
        try:
            if check:
                checked = _api().check_file(ws, path)
                if checked.problems:
                    raise _api().CatalogueProblems(str(path), checked.problems)
                cli.out.print(f"{path}: {len(checked.interventions)} interventions, no problems")
                return
            done = _api().import_catalogue(ws, path)
        except _api().CatalogueProblems as problems:
            _fail_with(problems)
            return
    saved = done.saved
    cli.out.print(
        f"{path}: {len(saved.added)} added, {len(saved.changed)} changed (previous versions "
        f"kept), {len(saved.unchanged)} unchanged"
        + (f"; {len(done.untouched)} in the workspace not in the file, left as they are"
           if done.untouched else ""),
        highlight=False,
    )  # fmt: skip


LIST_COLUMNS = [
    "id", "name", "tier", "status", "today", "age_min", "age_max", "areas", "themes",
    "capacity_per_year", "yef_approach", "yef_band",
]  # fmt: skip


def _listed(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    for column in ("roles", "themes", "areas", "setting", "illustrative"):
        shown[column] = shown[column].map(lambda v: "; ".join(v))
    shown["funding"] = shown["funding"].map(
        lambda fs: "; ".join(f"{f.source} {f.start or ''}..{f.end or ''}" for f in fs)
    )
    return shown


@interventions_app.command("list")
def list_(
    workspace: WorkspaceOption,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    status: Annotated[str | None, typer.Option(help="Only planned, running or ended.")] = None,
) -> None:
    """The current catalogue, one row per intervention (JSON and CSV have every column)."""
    cli = _cli()
    with _opened(workspace, read_only=True) as ws:
        frame = _listed(_store().catalogue(ws))
        frame.insert(4, "today", _today(_store().current(ws)))
    if status:
        if status not in STATUSES:
            raise InputError(f"--status {status!r}: one of {', '.join(STATUSES)}")
        frame = frame[frame["status"] == status]
    if fmt is Format.table:
        frame = frame[LIST_COLUMNS]
    cli._emit(frame, fmt, f"Interventions ({len(frame)})")


def _today(items: list[Any]) -> list[str]:
    """Each intervention as the gap analysis reads it today: running, planned or ended by its
    dates, whatever its stored status."""
    from svduty.interventions.gaps import state

    return [state(item, date.today())[1] for item in items]


@interventions_app.command("show")
def show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="The intervention's id.")],
    workspace: WorkspaceOption,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """Every field of one intervention, its evidence, and its versions (who changed what, when)."""
    import pandas as pd

    cli = _cli()
    with _opened(workspace, read_only=True) as ws:
        one = _store().get(ws, ident)
        versions = _store().history(ws, ident)
    row = _listed(_store().frame([one])).iloc[0]
    approach = evidence.find(one.yef_approach) if one.yef_approach else None
    fields = pd.DataFrame({"field": row.index, "value": [_text(v) for v in row.values]})
    if approach is not None:
        extra = [("yef_headline", approach.headline), ("yef_source", approach.strand_url or
                  approach.source_url), ("yef_read_on", approach.read_on)]  # fmt: skip
        fields = pd.concat([fields, pd.DataFrame(extra, columns=["field", "value"])])
    if fmt is Format.json:  # one document: the record, its evidence and its versions
        versions["changes"] = versions["changes"].map(json.loads)
        document = {
            "intervention": one.record(),
            "evidence": None if approach is None else {
                "approach": approach.name, "impact_band": approach.band,
                "headline": approach.headline, "source_url": approach.strand_url
                or approach.source_url, "read_on": approach.read_on,
            },
            "versions": records(versions),
        }  # fmt: skip
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        return
    cli._emit(fields, fmt, f"{one.id}: {one.name}")
    if fmt is Format.csv:  # one table a file: the versions are in the table and JSON forms
        return
    versions["changes"] = [
        _summary(change, text)
        for change, text in zip(versions["change"], versions["changes"], strict=True)
    ]
    cli._emit(versions, fmt, "Versions")


def _summary(change: str, text: str) -> str:
    """A version's changes in words: 'capacity_per_year: 60 -> 75'."""
    found = json.loads(text)
    if "id" in found:
        return f"{change}: first version"
    return "; ".join(f"{k}: {_plain(old)} -> {_plain(new)}" for k, (old, new) in found.items())


def _plain(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(blank)"
    if isinstance(value, list):
        return ", ".join(_period(v) if isinstance(v, dict) else _plain(v) for v in value)
    return str(value)


def _period(funding: dict[str, Any]) -> str:
    return f"{funding['source']} {funding['start'] or ''} to {funding['end'] or ''}"


def _text(value: Any) -> str:
    import pandas as pd

    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    if value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def _changes(values: dict[str, Any]) -> dict[str, Any]:
    return {k.removesuffix("_"): v for k, v in values.items() if v is not None}


def _with_field_options(function: Any, skip: tuple[str, ...] = ()) -> Any:
    """Give a command one `--column` option per column of the layout (after its own)."""
    own = [
        p
        for p in inspect.signature(function, eval_str=True).parameters.values()
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    extra = [
        inspect.Parameter(
            f"{c.name}_" if c.name in ("id",) else c.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                str | None, typer.Option(f"--{c.name.replace('_', '-')}", help=c.help)
            ],
        )
        for c in COLUMNS
        if c.name not in skip
    ]
    function.__signature__ = inspect.Signature([*own, *extra])
    return function


def add(
    ident: Annotated[str, typer.Argument(metavar="ID", help="The new intervention's id.")],
    workspace: WorkspaceOption,
    **fields: Any,
) -> None:
    """Add an intervention: give its fields as options (--name, --tier, --status are needed;
    lists separated by semicolons)."""
    cli = _cli()
    try:
        with _opened(workspace) as ws:
            made = _api().add(ws, {"id": ident, **_changes(fields)})
    except _api().CatalogueProblems as problems:
        _fail_with(problems)
        return
    cli.out.print(f"added {made.id} ({made.name})", highlight=False)


def edit(
    ident: Annotated[str, typer.Argument(metavar="ID", help="The intervention's id.")],
    workspace: WorkspaceOption,
    **fields: Any,
) -> None:
    """Change fields of an intervention (options named as the layout's columns; an empty value
    clears a field; funding options change its latest funded period). The previous version is
    kept."""
    cli = _cli()
    changes = _changes(fields)
    if not changes:
        raise InputError("edit: give at least one field to change, such as --capacity-per-year 60")
    try:
        with _opened(workspace) as ws:
            made = _api().edit(ws, ident, changes)
    except _api().CatalogueProblems as problems:
        _fail_with(problems)
        return
    except _api().NoFundedPeriod as missing:
        given, needed = (f"--{n.replace('_', '-')}" for n in (missing.given, missing.needed))
        raise InputError(
            f"{given}: {ident} has no funded period to change; give {needed} as well to add one"
        ) from missing
    cli.out.print(f"{made.id}: changed {', '.join(changes)}", highlight=False)


interventions_app.command("add")(_with_field_options(add, skip=("id",)))
interventions_app.command("edit")(_with_field_options(edit, skip=("id",)))


@interventions_app.command("end")
def end(
    ident: Annotated[str, typer.Argument(metavar="ID", help="The intervention's id.")],
    on: Annotated[str, typer.Option("--on", help="The day it ended (YYYY-MM-DD).")],
    workspace: WorkspaceOption,
) -> None:
    """Mark an intervention ended on a day that has come (the previous version is kept); a
    planned end is its funding end (edit --funding-end). Ending it again changes nothing."""
    cli = _cli()
    try:
        day = date.fromisoformat(on)
    except ValueError as error:
        raise InputError(f"--on {on!r}: not a date (YYYY-MM-DD)") from error
    try:
        with _opened(workspace) as ws:
            made = _api().end(ws, ident, day)
    except _api().CatalogueProblems as problems:
        _fail_with(problems)
        return
    cli.out.print(f"{made.id}: ended on {day.isoformat()}", highlight=False)


@interventions_app.command("export")
def export(
    workspace: WorkspaceOption,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, xlsx or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write ('-': standard output).")
    ] = None,
) -> None:
    """The catalogue in the import layout (csv, xlsx; one row per funded period) or JSON; text
    that a spreadsheet would run as a formula is written with a leading quote."""
    cli = _cli()
    if _is_stdout(output):
        output = None
        if fmt == "xlsx":
            raise InputError("--output -: an xlsx workbook is not text; give --output FILE.xlsx")
    if fmt == "xlsx" and output is None:
        raise InputError("--format xlsx: give --output FILE.xlsx (a workbook is not text)")
    with _opened(workspace, read_only=True) as ws:
        data = _api().export(ws, fmt, output)
    if output is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        cli.err.print(f"wrote {output}", highlight=False)


@interventions_app.command("approaches")
def approaches(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """The bundled YEF Toolkit approaches an intervention may name, with band and headline."""
    _cli()._emit(evidence.table(), fmt, "YEF Toolkit approaches")


@interventions_app.command("template")
def template(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (.csv; '-': standard output).")
    ],
) -> None:
    """Write the import template: the layout's header and an example intervention, whose ids
    (EXAMPLE-...) an import refuses until its rows are replaced."""
    data = evidence.data_path("template.csv").read_bytes()
    if _is_stdout(output):
        sys.stdout.write(data.decode("utf-8"))
        return
    output.write_bytes(data)
    _cli().err.print(f"wrote {output} (columns: {', '.join(NAMES)})", highlight=False)


def _is_stdout(output: Path | None) -> bool:
    """'-' for a file: standard output, as for most command-line tools."""
    return output is not None and str(output) == "-"


class GapsFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    png = "png"


def gaps_command(
    workspace: WorkspaceOption,
    area: Annotated[
        str | None, typer.Option(help="Only this CSP's needs (or the whole area's name).")
    ] = None,
    theme: Annotated[
        str | None,
        typer.Option(help=f"Only this theme: {', '.join(NEED_THEMES)}. The map's theme."),
    ] = None,
    cohort: Annotated[
        str | None, typer.Option(help=f"Only this cohort: {', '.join(GAP_COHORTS)}.")
    ] = None,
    definition: WorkspaceDefinitionOption = None,
    start: FromOption = None,
    end: ToOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="The day provision is judged on, YYYY-MM-DD (default: today)."),
    ] = None,
    needs: Annotated[
        bool, typer.Option("--needs", help="Write the need table (every area, theme, cohort).")
    ] = False,
    unsuppressed: Annotated[
        bool, typer.Option(help="Analysts only: show small counts; marked NOT FOR PUBLICATION.")
    ] = False,
    fmt: Annotated[GapsFormat, typer.Option("--format", "-f", help="Output format.")] = (
        GapsFormat.table
    ),
    output: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
) -> None:
    """Mapping and gapping: each need of the assessment (area × theme × cohort) against the
    interventions that cover it; ranked gaps, then flags, each a sentence with its numbers,
    definition and period. --format png draws the map of need and cover for --theme and
    --cohort (default: all serious violence, all ages)."""
    from svduty.interventions.model import term
    from svduty.interventions.provision import provision
    from svduty.publish import NOT_FOR_PUBLICATION, Policy

    cli = _cli()
    if fmt is GapsFormat.png and output is None:
        raise InputError("--format png needs --out FILE")
    if fmt is GapsFormat.png and needs:
        raise InputError("--needs is a table (table, csv or json); the map is --format png alone")
    if output is not None and not output.parent.is_dir():
        raise InputError(f"--out {output}: the folder {output.parent} does not exist")
    theme = term(theme) if theme is not None else None
    cohort = term(cohort) if cohort is not None else None
    for given, allowed, name in ((theme, NEED_THEMES, "theme"), (cohort, GAP_COHORTS, "cohort")):
        if given is not None and given not in allowed:
            raise InputError(f"--{name} {given!r}: one of {', '.join(allowed)}")
    day = _api()._day(as_of, "--as-of") if as_of else date.today()
    with _opened(workspace, read_only=True) as ws:
        known = [ws.settings.area, *ws.settings.csps]
        if area is not None:
            named = {term(k): k for k in known if k}
            if term(area) not in named:
                raise InputError(f"--area {area!r}: one of {', '.join(known)}")
            area = named[term(area)]
        chosen = ws.selection(definition, (start, end), None)
        policy = Policy(ws.settings.disclosure_threshold, internal=unsuppressed)
        cli.err.print("reading need from the assessment and the catalogue ...")
        found = provision(ws, chosen, policy, day)
        ws.audit("gaps", {"selection": chosen.key, "policy": policy.key, "as_of": str(day)})
        if fmt is GapsFormat.png:
            data = _map(ws, found, theme or "all", cohort or "all_ages", unsuppressed)
    if fmt is GapsFormat.png:
        assert output is not None
        output.write_bytes(data)
        cli.out.print(f"Wrote {output}")
        return
    frame = found.needs.frame if needs else found.table()
    if area is not None:
        frame = frame[frame["area"] == area]
    if theme is not None:
        frame = frame[frame["theme"] == (theme if needs else NEED_THEMES[theme])]
    if cohort is not None:
        frame = frame[frame["cohort"] == (cohort if needs else COHORT_AGES[cohort][0])]
    about = _about(found, unsuppressed)
    if fmt is GapsFormat.table and not needs:
        _print_findings(frame, about)
        return
    if fmt is GapsFormat.table:
        frame = frame[NEED_TABLE]
    marks = {
        "marking": NOT_FOR_PUBLICATION if unsuppressed else None,
        "synthetic": bool(found.needs.synthetic) or None,
    }
    for column, value in marks.items():
        if value is not None and fmt is not GapsFormat.table:
            frame = frame.assign(**{column: value})[[column, *frame.columns]]
    text = render(frame.reset_index(drop=True), Format(fmt.value), about)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        cli.out.print(f"Wrote {output}")
    else:
        sys.stdout.write(text)


NEED_TABLE = [
    "area", "theme_name", "cohort_name", "count", "per_year", "rate", "ratio", "change", "level",
    "score",
]  # fmt: skip
"""The need table's columns on screen (CSV and JSON have them all)."""


def _about(found: Any, unsuppressed: bool) -> str:
    """What the output rests on: markings, definition, period, the day judged, the catalogue,
    and what could not be scored."""
    needs = found.needs
    parts = []
    if unsuppressed:
        parts.append("NOT FOR PUBLICATION: small counts shown.")
    if needs.synthetic:
        parts.append(f"INCLUDES SYNTHETIC DATA ({needs.synthetic:,} synthetic records).")
    parts.append(
        f"Need: {needs.definition}, {needs.period}; provision as of {found.as_of.isoformat()} "
        f"from {len(found.catalogue)} interventions in the catalogue."
    )
    if not found.catalogue:
        parts.append(
            "The workspace has no interventions catalogue, so every need is uncovered: import "
            "one with `svduty interventions import`."
        )
    hidden = int((needs.frame["level"] == "not shown").sum())
    if hidden:
        parts.append(
            f"{hidden} needs are not scored: their figures are hidden by disclosure control "
            "(analysts see them with --unsuppressed)."
        )
    parts.append(found.hotspots[:1].upper() + found.hotspots[1:] + ".")
    return " ".join(parts)


def _print_findings(frame: pd.DataFrame, about: str) -> None:
    from svduty.interventions.gaps import GAP_KINDS

    cli = _cli()
    cli.out.print(about, highlight=False)
    gaps_found = frame[frame["kind"].isin(GAP_KINDS)]
    flags = frame[~frame["kind"].isin(GAP_KINDS)]
    for title, part in (("Gaps, ranked by need", gaps_found), ("Flags", flags)):
        cli.out.print(f"\n{title} ({len(part)}):", highlight=False)
        for number, row in enumerate(part.itertuples(index=False), start=1):
            cli.out.print(f"{number:>3}. [{row.kind}] {row.sentence}", highlight=False)


def _map(ws: Workspace, found: Any, theme: str, cohort: str, unsuppressed: bool) -> bytes:
    from svduty.analysis.assessment import csp_districts
    from svduty.interventions.gaps_map import cover_rows, gaps_map, map_title
    from svduty.spatial.maps import outlines

    drawn = outlines(ws.boundaries(), csp_districts(ws.store, ws.settings, None))
    if drawn is None:
        raise InputError(
            "the map needs district boundaries: set `boundaries` in svduty.toml or run "
            "`svduty fetch boundaries`"
        )
    rows = cover_rows(found, theme, cohort)
    needs = found.needs
    title = map_title(rows, needs.definition, needs.period, found.as_of.isoformat(), unsuppressed)
    return gaps_map(rows, drawn, title)
