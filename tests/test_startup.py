"""The command line starts without the heavy libraries: `import svduty.cli` and `svduty --help`
load none of them, so every command pays only for what it uses (`svduty bench startup` times it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = (
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "ibis",
    "sqlglot",
    "splink",
    "pyspark",
    "weasyprint",
    "scipy",
    "esda",
    "libpysal",
    "geopandas",
    "shapely",
    "fastapi",
    "starlette",
    "vl_convert",
    "altair",
    "matplotlib",
    "jinja2",
)
"""Libraries a command imports when it runs, never the command line itself."""

_LOADED = """
import json, runpy, sys
heavy = {heavy!r}
try:
    {run}
except SystemExit:
    pass
sys.__stdout__.write("\\n" + json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def _heavy_loaded(run: str) -> list[str]:
    """The heavy libraries in sys.modules after `run`, in a fresh interpreter."""
    code = _LOADED.format(heavy=HEAVY, run=run)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_command_line_loads_no_heavy_library():
    assert _heavy_loaded("import svduty.cli") == []


@pytest.mark.parametrize(
    "args",
    [["--help"], ["bench", "--help"], ["interventions", "--help"], ["link", "--help"]],
    ids=" ".join,
)
def test_help_loads_no_heavy_library(args: list[str]):
    run = f"sys.argv = ['svduty', *{args!r}]; runpy.run_module('svduty.cli', run_name='__main__')"
    assert _heavy_loaded(run) == []


def test_a_command_does_load_what_it_uses(tmp_path):
    """The check above can fail: a command that reads the workspace loads DuckDB."""
    from svduty.example import WEST_MERCIA
    from svduty.workspace import Workspace

    Workspace.init(tmp_path / "ws", WEST_MERCIA).close()
    run = (
        f"sys.argv = ['svduty', 'counts', '-w', {str(tmp_path / 'ws')!r}]; "
        "runpy.run_module('svduty.cli', run_name='__main__')"
    )
    assert "duckdb" in _heavy_loaded(run)


def test_counts_on_duckdb_loads_only_duckdb(tmp_path):
    """A script calls `counts` many times: on DuckDB it is one SQL query, with neither Ibis nor
    pandas (a second of imports a call); tests/test_counts_sql.py holds it to the same answers."""
    from svduty.example import WEST_MERCIA
    from svduty.workspace import Workspace

    Workspace.init(tmp_path / "ws", WEST_MERCIA).close()
    for by in ("", "csp,month,offence_group"):
        run = (
            f"sys.argv = ['svduty', 'counts', '-w', {str(tmp_path / 'ws')!r}, '--by', {by!r}]; "
            "runpy.run_module('svduty.cli', run_name='__main__')"
        )
        assert _heavy_loaded(run) == ["duckdb"]


def test_each_command_is_built_alone_as_it_is_in_the_whole_command_line():
    """`svduty NAME ...` builds only NAME (typer builds every command it holds before running
    one); each alone must be the command the whole command line holds under that name."""
    import typer.main

    from svduty import cli

    whole = typer.main.get_command(cli.app)
    assert len(whole.commands) > 20
    for name, command in whole.commands.items():
        alone = typer.main.get_command(cli._app_for([name, "--help"]))
        assert list(alone.commands) == [name]
        assert alone.commands[name].help == command.help
        assert [p.name for p in alone.commands[name].params] == [p.name for p in command.params]
    for args in ([], ["--version"], ["no-such-command"]):
        assert cli._app_for(args) is cli.app  # help and errors list every command
