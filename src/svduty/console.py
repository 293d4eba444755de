"""The `svduty` command's entry: Ctrl-C while the command line is still loading (its libraries
take a second or two) ends as quietly as Ctrl-C during a command."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from svduty.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; nothing from this run was stored\n")
        sys.exit(130)
    run()
