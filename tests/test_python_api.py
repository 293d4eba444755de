"""The README's notebook example runs as written, against a workspace built like the example."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import svduty
from svduty.errors import InputError

README = Path(__file__).resolve().parents[1] / "README.md"


def _notebook_example() -> str:
    section = README.read_text(encoding="utf-8").split("### From Python (a notebook)", 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


@pytest.fixture(scope="module")
def workspace(sna_workspace):
    return sna_workspace


def test_the_readme_notebook_example_runs(workspace, monkeypatch):
    root, _ = workspace
    monkeypatch.chdir(root.parent)
    code = _notebook_example().replace('"example-workspace"', repr(root.name))
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        exec(compile(code, "README.md", "exec"), {})
    text = shown.getvalue()
    name = "sna-shropshire-2025-04-to-2025-09-west-mercia-2022"  # the README's area and period
    assert f"{name}.html" in text and f"{name}-summary.json" in text
    assert "analyst@example" in text and "report" in text
    assert "Shropshire" in text


def test_library_errors_name_parameters(workspace):
    root, _ = workspace
    with svduty.open(root, read_only=True) as ws:
        with pytest.raises(InputError, match=r"^area: no CSP 'Shropshir'"):
            ws.assess(area="Shropshir")
        with pytest.raises(InputError, match="period bound '2025-13'"):
            ws.publish(period=("2025-13", None))


def test_a_second_publish_of_the_same_view_runs_no_analysis(workspace, monkeypatch):
    import svduty.sna

    root, _ = workspace
    with svduty.open(root, read_only=True) as ws:
        first = ws.publish(period=("2025-04", "2025-09"))

        def refuse(*args, **kwargs):
            raise AssertionError("analysis ran again")

        monkeypatch.setattr(svduty.sna, "assess_set", refuse)
        again = ws.publish(period=("2025-04", "2025-09"))
    assert first.keys() == again.keys()
    for area in first:
        for key, frame in first[area].tables.items():
            assert again[area].tables[key].equals(frame)
