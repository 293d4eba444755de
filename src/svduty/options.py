"""Command-line options shared by every command group (the main one and its sub-apps)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svduty.workspace import WORKSPACE_ENV, default_workspace

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
