"""A plain sentence under every table and chart: its figures are published cells, a hidden cell
is never stated, and every table and chart of the sections has one."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from svduty.publish import Policy, Publication, board
from svduty.publish.conclusions import HIDDEN_NEEDED, conclude, month_name
from svduty.publish.tables import note
from svduty.sna import build_sna
from svduty.workspace import Workspace


@pytest.fixture(scope="module")
def page(sna_workspace, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("conclusions")
    with Workspace.open(sna_workspace[0], read_only=True) as ws:
        return build_sna(ws, out=root, pdf=False)


class Units(HTMLParser):
    """The sections' tables, charts and maps in page order, with the conclusions and headings
    between them."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.inside = False  # between the first record section and the board's

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        found = dict(attrs)
        if tag == "h2":
            self.inside = found.get("id") in {
                "trends",
                "where",
                "hotspots",
                "when",
                "what",
                "who",
                "themes",
                "concentration",
                "health",
                "measures",
                "near_repeats",
            }
            self.events.append("heading")
        elif not self.inside:
            return
        elif tag == "table":
            self.events.append("table")
        elif tag == "figure" and "chart" in (found.get("class") or ""):
            self.events.append("chart")
        elif tag == "img" and found.get("class") == "map":
            self.events.append("map")
        elif tag == "p" and found.get("class") == "conclusion":
            self.events.append("conclusion")
        elif tag == "h3":
            self.events.append("heading")


def test_every_table_and_chart_is_followed_by_a_conclusion(page):
    parser = Units()
    parser.feed(page["html"].read_text())
    events = parser.events
    units = [i for i, e in enumerate(events) if e in ("table", "chart", "map")]
    assert len(units) > 20
    for i in units:
        after = events[i + 1] if i + 1 < len(events) else "end"
        if events[i] == "map" and after == "table":
            continue  # a class map with the table of its classes under it: one conclusion
        assert after == "conclusion", f"{events[i]} number {units.index(i)} has no conclusion"


def test_the_sna_has_a_success_measures_section(page):
    """Every measure of the shipped framework is in the SNA, with its row and its chart or the
    sentence saying why there is none."""
    summary = json.loads(page["json"].read_text())["sections"]["measures"]
    html = page["html"].read_text()
    assert 'id="measures"' in html
    assert len(summary["summary"]) == 6
    for row in summary["summary"]:
        assert row["name"] in html
        assert row["months"] == 12  # the workspace's year, every month held by the extract


def test_conclusions_are_in_the_summary_and_capitalised(page):
    summary = json.loads(page["json"].read_text())["sections"]
    said = summary["conclusions"]
    assert {"trends-monthly", "where-csp_rates", "when-hour-by-day", "concentration"} <= set(said)
    assert all(s[0].isupper() for s in said.values())
    assert all(
        s.startswith(tuple(board.PREFIX.values())) for s in said.values() if s != HIDDEN_NEEDED
    )
    html = page["html"].read_text()
    for method in ("Cell size", "Banded Knox"):
        assert method in html
    assert "exact test p = 0.00" not in html


def _publication(monthly: list[Any], rates: list[Any], matrix: list[list[Any]]) -> Publication:
    """A hand-built publication of real data: hidden cells are None."""
    months = [f"2025-{m:02d}" for m in range(1, len(monthly) + 1)]
    tables = {
        "trends/monthly": pd.DataFrame(
            {"month": months, "count": monthly, "coverage": ["full"] * len(months)}
        ),
        "trends/financial_years": pd.DataFrame(
            {"financial_year": ["2024/25"], "count": [None], "months": [len(months)]}
        ),
        "where/csp_rates": pd.DataFrame(
            {
                "area": ["A", "B", "C"],
                "count": [r and 100 for r in rates],
                "rate": rates,
                "low": [r and r * 0.8 for r in rates],
                "high": [r and r * 1.2 for r in rates],
            }
        ),
        "when/hour_by_day": pd.DataFrame(
            {"day": ["Mon", "Sat"], **{f"{h:02d}": [row[h] for row in matrix] for h in range(24)}}
        ),
        "sources/batches": pd.DataFrame({"source_kind": ["police_extract"], "synthetic": ["no"]}),
    }
    frames = {k: v.astype(object).where(v.notna(), None) for k, v in tables.items()}
    pub = Publication("area", Policy(10), frames, {}, {}, {})
    pub.tables["where/district_rates"] = pub.tables["where/csp_rates"]
    pub.tables["where/deprivation"] = pd.DataFrame(
        {"decile": [1, 10], "rate": [None, 2.0], "low": [None, 1.0], "high": [None, 3.0]},
        dtype=object,
    )
    pub.add(note("when", "exact", 1))
    for key in ("offence_group", "offence_subgroup"):
        pub.tables[f"what/{key}s"] = pd.DataFrame({key: ["x"], "count": [None]}, dtype=object)
    pub.add(note("who", "incidents_with_people", 0))
    pub.tables["themes/themes"] = pd.DataFrame(
        {"theme": ["T"], "count": [None], "assessable": [None], "share": [None]}, dtype=object
    )
    pub.tables["concentration/table"] = pd.DataFrame({"year": ["2025"], "top_10": [None]})
    return pub


def test_figures_are_published_cells_and_hidden_ones_are_never_stated():
    monthly = [40, None, 55, 12, 30]  # the hidden month may be the largest or the smallest
    rates = [1.5, None, 3.0]
    matrix = [[None] * 24, [None] * 24]
    matrix[1][23], matrix[0][2] = 41, 17
    pub = conclude(_publication(monthly, rates, matrix))
    said = {
        k.split("/", 1)[1]: v["value"].iloc[0]
        for k, v in pub.tables.items()
        if k.startswith("conclusions/")
    }

    shown = {
        m: c for m, c in zip(pub.table("trends", "monthly")["month"], monthly, strict=True) if c
    }
    top, low = max(shown, key=shown.get), min(shown, key=shown.get)
    assert said["trends-monthly"] == (
        f"Of the months with data from every source shown, incidents peaked in "
        f"{month_name(top)} ({shown[top]}); the lowest month was {month_name(low)} "
        f"({shown[low]})."
    )
    assert "[c]" in said["trends-financial_years"]
    csp = said["where-csp_rates"]
    assert csp.startswith("Of the CSPs shown, C has the highest rate, 3.00")
    assert "A's 1.50" in csp and "B's" not in csp
    assert f"{3.0 / 1.5:.1f} times" in csp
    assert "Saturday 23:00–00:00 (41 incidents)" in said["when-hour-by-day"]
    # the most deprived tenth's rate is hidden: no comparison, and nothing from decile 10 stated
    assert "2.00" not in said["where-deprivation"] and "hidden" in said["where-deprivation"]
    for key in ("what-offence_groups", "themes-themes", "concentration"):
        assert said[key] == HIDDEN_NEEDED


def test_a_synthetic_finding_says_so():
    pub = _publication([40, 50], [1.0, 2.0, 3.0], [[5] * 24, [6] * 24])
    pub.tables["sources/batches"]["synthetic"] = ["yes"]
    row = {"source": ["police_extract"], "force": ["F"], "data": [board.SYNTHETIC]}
    pub.tables["records/held"] = pd.DataFrame({**row, "count": [90]}, dtype=object)
    pub.tables["records/assessed"] = pd.DataFrame(
        {**row, "count": [90], "not_in": [0], "undecided": [0]}, dtype=object
    )
    conclude(pub)
    assert pub.value("conclusions", "trends-monthly").startswith(board.PREFIX[board.SYNTHETIC])
