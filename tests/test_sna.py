"""The Strategic Needs Assessment: it renders to HTML and PDF, labels every section with its
definition and period, marks synthetic data, and publishes no count a reader could use to find a
person: none below the threshold, none recoverable from what is shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from svduty.example import WEST_MERCIA, example_archive
from svduty.ingest import ingest
from svduty.report.sna import build_sna
from svduty.settings import Settings
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.workspace import Workspace

COUNT_COLUMNS = {"count", "ae", "police", "rows", "batches"}


@pytest.fixture(scope="module")
def assessed(tmp_path_factory):
    root = tmp_path_factory.mktemp("sna")
    ws = Workspace.init(root / "ws", WEST_MERCIA)
    ingest(ws, [example_archive()])
    generate(load_profile("west-mercia"), root / "syn", scale=0.5, seed=9)
    files, mappings = synthetic_files(root / "syn")
    ingest(ws, files, mappings=mappings)
    published = build_sna(ws, out=root / "published")
    internal = build_sna(ws, out=root / "internal", unsuppressed=True, pdf=False)
    one_csp = build_sna(ws, out=root / "csp", csp="Shropshire", pdf=False)
    yield ws, published, internal, one_csp
    ws.close()


def _tables(summary: dict) -> dict[tuple[str, str], list[dict]]:
    return {
        (section, name): value
        for section, items in summary["sections"].items()
        for name, value in items.items()
        if isinstance(value, list) and value and isinstance(value[0], dict)
    }


def test_pdf_has_contents_page_numbers_and_marks(assessed):
    _, published, _, _ = assessed
    reader = PdfReader(published["pdf"])
    assert len(reader.pages) >= 5
    first = reader.pages[0].extract_text()
    assert "Contents" in first and f"Page 1 of {len(reader.pages)}" in first
    assert all("INCLUDES SYNTHETIC DATA" in page.extract_text() for page in reader.pages)


def test_every_section_names_its_definition_and_period(assessed):
    _, published, _, _ = assessed
    html = published["html"].read_text()
    summary = json.loads(published["json"].read_text())
    headings = re.findall(r"<h2 id=\"(\w+)\">(.*?)</h2>", html, flags=re.S)
    analysis = [
        text
        for key, text in headings
        if key not in ("contents", "findings", "definition", "sources", "methods")
    ]
    assert len(analysis) == 8
    label = f"(west-mercia-2022, {summary['period']})"
    assert all(label in text for text in analysis)


def test_no_small_count_is_published(assessed):
    _, published, _, _ = assessed
    summary = json.loads(published["json"].read_text())
    threshold = summary["disclosure_threshold"]
    for (section, name), rows in _tables(summary).items():
        for row in rows:
            for column, value in row.items():
                if column in COUNT_COLUMNS and value is not None:
                    assert value == 0 or value >= threshold, (section, name, row)


def test_no_hidden_count_can_be_recovered(assessed):
    """Against the unsuppressed build: a column with hidden cells hides at least two, and they
    add up to at least the threshold, so the column total cannot give any one of them away."""
    _, published, internal, _ = assessed
    shown = _tables(json.loads(published["json"].read_text()))
    truth = _tables(json.loads(internal["json"].read_text()))
    threshold = json.loads(published["json"].read_text())["disclosure_threshold"]
    hidden_columns = 0
    for key, rows in shown.items():
        for column in {c for row in rows for c in row} & COUNT_COLUMNS:
            hidden = [
                truth[key][i][column]
                for i, row in enumerate(rows)
                if row.get(column) is None and truth[key][i].get(column) is not None
            ]
            if hidden:
                hidden_columns += 1
                assert len(hidden) >= 2 and sum(hidden) >= threshold, (key, column, hidden)
    assert hidden_columns > 0  # the example has small cells, so the check has bite


def test_internal_version_is_marked_not_for_publication(assessed):
    _, published, internal, _ = assessed
    assert "NOT FOR PUBLICATION" in internal["html"].read_text()
    assert "NOT FOR PUBLICATION" not in published["html"].read_text()


def test_one_csp_report_counts_only_that_csp(assessed):
    _, published, _, one_csp = assessed
    whole = json.loads(published["json"].read_text())["sections"]["where"]["csp_rates"]
    alone = json.loads(one_csp["json"].read_text())["sections"]["where"]["csp_rates"]
    assert [row["area"] for row in alone] == ["Shropshire"]
    assert alone[0]["count"] == next(r["count"] for r in whole if r["area"] == "Shropshire")
    assert Path(one_csp["html"]).name == "sna-shropshire.html"


def test_open_data_only_workspace_still_reports(tmp_path):
    ws = Workspace.init(
        tmp_path / "ws", Settings(**{**WEST_MERCIA.__dict__, "definition": "police-uk-open-data"})
    )
    ingest(ws, [example_archive()])
    paths = build_sna(ws, pdf=False)
    summary = json.loads(paths["json"].read_text())
    assert summary["synthetic_records"] == 0
    assert "OVER-COUNTS" in paths["html"].read_text()
    ws.close()
