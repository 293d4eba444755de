"""`svduty cohort`: the most-at-risk view from linked records, for analysts; `--aggregate` gives
the figures that may be published (a thin layer over `svduty.linkage.cohort_access`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from svduty.errors import InputError
from svduty.options import DefinitionOption, ToOption, WorkspaceOption
from svduty.output import Format, csv_text, records, render

if TYPE_CHECKING:
    from svduty.linkage.cohort import Cohort
    from svduty.publish import Publication
    from svduty.workspace import Workspace

SHOWN = (
    "cohort_id", "factors_met", "factors", "age_band", "area", "first_seen", "last_seen",
    "sources",
)  # fmt: skip
"""The columns of the terminal table (csv and json hold every column)."""
PUBLISHED = "Published figures: small counts suppressed, with their neighbours where needed."


def cohort_command(
    workspace: WorkspaceOption,
    aggregate: Annotated[
        bool,
        typer.Option(
            "--aggregate",
            help="Counts of members by area, age band and factor, disclosure-controlled: the "
            "form that may be published (any user; a partner sees their areas).",
        ),
    ] = False,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="A clustered linkage run whose clusters join records into people (analysts); "
            "the header and the audit log name it.",
        ),
    ] = None,
    linked: Annotated[
        bool,
        typer.Option(
            "--linked",
            help="The newest clustered linkage run (as --run; the header and the audit log "
            "name the run taken).",
        ),
    ] = False,
    definition: DefinitionOption = None,
    end: ToOption = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    output: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
) -> None:
    """The most-at-risk cohort: people whose records (police serious violence, A&E assaults,
    youth justice, school exclusions) meet at least min_factors of the factors set in the
    cohort table of svduty.toml, over its lookback months. Members for analysts and admins
    only; every view is audited. The table's purpose and lawful_basis are required."""
    from svduty import cli
    from svduty.linkage import cohort_access

    if output is not None and not output.parent.is_dir():
        raise InputError(f"--out {output}: the folder {output.parent} does not exist")
    if run is not None and linked:
        raise InputError("--run and --linked: give one (--linked is the newest run)")
    chosen = cohort_access.LATEST if linked else run
    ws = cli._open(workspace, read_only=True)
    cli.err.print("building the cohort ...")
    if aggregate:
        pubs = cohort_access.aggregate(ws, definition, end, chosen)
        text = _aggregate_text(pubs, fmt, ws.settings.disclosure_threshold)
        rows = sum(len(frame) for p in pubs for frame in p.tables.values())
    else:
        found = cohort_access.members(ws, definition, end, chosen, _fields(fmt))
        text = _members_text(found, fmt)
        rows = len(found.members)
    view = "aggregate" if aggregate else "members"
    _write(text, output, ws, {"view": view, "format": fmt.value, "rows": rows}, not aggregate)
    ws.close()


def _fields(fmt: Format) -> list[str]:
    from svduty.linkage.cohort import COLUMNS

    return list(SHOWN if fmt is Format.table else COLUMNS)


def _write(
    text: str, output: Path | None, ws: Workspace, about: dict[str, Any], private: bool
) -> None:
    """The output to its file (its export audited with the file's digest) or standard out; a
    members' file is readable by its owner only."""
    from svduty.linkage.cohort_access import ACTION

    if output is None:
        sys.stdout.write(text)
        return
    if private:  # before a byte is written
        output.touch(mode=0o600)
        output.chmod(0o600)
    output.write_text(text, encoding="utf-8")
    ws.audit(f"{ACTION} export", {**about, "file": output.name}, [output])
    sys.stderr.write(f"Wrote {output}\n")


def _members_text(found: Cohort, fmt: Format) -> str:
    from svduty.linkage.cohort import MARKING, NOTICE, ORDER

    rules = found.rules
    frame = found.members
    if fmt is Format.csv:
        frame = frame.assign(notice=NOTICE, purpose=rules.purpose, lawful_basis=rules.lawful_basis)
        return csv_text(frame)
    if fmt is Format.json:
        document = {
            "marking": MARKING,
            "notice": NOTICE,
            "purpose": rules.purpose,
            "lawful_basis": rules.lawful_basis,
            "about": found.describe(),
            "order": ORDER,
            "members": records(frame),
        }
        return json.dumps(document, indent=2, default=str) + "\n"
    lines = "\n".join(found.describe())
    return f"{lines}\n{render(frame[list(SHOWN)], fmt, 'Cohort members')}{MARKING}\n"


def _aggregate_text(pubs: list[Publication], fmt: Format, threshold: int) -> str:
    import pandas as pd

    from svduty.linkage.cohort_aggregate import long_table, summary

    if fmt is Format.json:
        document = {
            "about": PUBLISHED,
            "disclosure_threshold": threshold,
            "reports": [summary(p) for p in pubs],
        }
        return json.dumps(document, indent=2, default=str) + "\n"
    frame = long_table(pubs)
    if fmt is Format.csv:
        return csv_text(frame)
    shown = frame.assign(count=[("suppressed" if pd.isna(c) else c) for c in frame["count"]])
    about = pubs[0].provenance
    head = (
        f"{PUBLISHED}\nCohort, {about['period']}: {'; '.join(about['rules'])}; "
        f"{about['of']}; {about['person']}.\n"
    )
    return head + render(shown, fmt, "Cohort members and the people they are of (published)")
