"""The layers import only downwards: renderers know published tables, never the store, and every
analysis lives in svduty/analysis or svduty/spatial."""

from __future__ import annotations

import ast
from pathlib import Path

import svduty

PACKAGE = Path(svduty.__file__).parent
BELOW_PUBLISHING = (
    "svduty.engine",
    "svduty.workspace",
    "svduty.counting",
    "svduty.quality",
    "svduty.analysis",
    "svduty.ingest",
    "svduty.sna",
    "svduty.overview",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_renderer_imports_the_store_or_an_analysis():
    for path in sorted((PACKAGE / "report").glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith(BELOW_PUBLISHING)}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_publishing_imports_no_store():
    for path in sorted((PACKAGE / "publish").glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith(("svduty.engine", "svduty.workspace"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_no_analysis_outside_analysis_and_spatial():
    """An analysis reads canonical tables through Ibis; outside these two packages only the
    counting, quality and ingest layers may (they are what the CLI lists, not assessments)."""
    allowed = {"analysis", "spatial", "definitions", "linkage"}  # linkage: the cohort's counts
    allowed_modules = {
        "counting.py",
        "quality.py",
        "dimensions.py",
        "ingest.py",
        "engine.py",
        "workspace.py",
        "bench.py",
        "cli.py",
        "overview.py",
        "synth",
        "sources",
        "reference",
        "fetch.py",
    }
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in allowed or relative.parts[0] in allowed_modules:
            continue
        text = path.read_text(encoding="utf-8")
        assert "store.table(" not in text and ".to_pandas()" not in text, relative
