"""Command-line options shared by every command group (the main one and its sub-apps).

Light on purpose, like `errors`, `settings` and `output`: every command imports this module before
it runs, so it loads nothing heavier than typer (no DuckDB, pandas or Ibis)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

WORKSPACE_ENV = "SVDUTY_WORKSPACE"


def default_workspace() -> Path:
    return Path(os.environ.get(WORKSPACE_ENV) or Path.cwd())


WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", envvar=WORKSPACE_ENV, default_factory=default_workspace,
        show_default="current directory", help="Workspace folder.",
    ),
]  # fmt: skip

DefinitionOption = Annotated[
    str | None, typer.Option(help="Definition id or file (default: the workspace's).")
]
FromOption = Annotated[
    str | None, typer.Option("--from", help="First month, YYYY-MM (default: the first held).")
]
ToOption = Annotated[
    str | None, typer.Option("--to", help="Last month, YYYY-MM (default: the last held).")
]
