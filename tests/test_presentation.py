"""How the assessment reads: headings in words from the vocabulary, no negative zero, no table
shown twice, the synthetic flag as yes/no, charts that have something to show (or a sentence in
their place), and hidden values marked [c], never drawn. Every check reads the rendered HTML (and
the Vega-Lite file written beside it, which carries each chart's values)."""

from __future__ import annotations

import json
import math
import re
from itertools import combinations
from pathlib import Path

import pytest
from scanner import HtmlTables

from svduty.report.charts import GAP, HIDDEN, Chart
from svduty.report.sections import Page
from svduty.sna import build_sna
from svduty.vocabulary import HEADINGS, heading
from svduty.workspace import Workspace

NEGATIVE_ZERO = re.compile(r"(?<![\w.])[-+−]0+(?:\.0+)?%?(?![\d.])")


@pytest.fixture(scope="module")
def pages(sna_workspace, tmp_path_factory) -> dict[str, dict[str, Path]]:
    """The whole area's report and one CSP's, HTML only."""
    root = tmp_path_factory.mktemp("presentation")
    with Workspace.open(sna_workspace[0], read_only=True) as ws:
        return {
            "whole": build_sna(ws, out=root, pdf=False),
            "csp": build_sna(ws, out=root, csp="Shropshire", pdf=False),
        }


def _tables(paths: dict[str, Path]) -> list[list[list[str]]]:
    parser = HtmlTables()
    parser.feed(paths["html"].read_text())
    return [t for t in parser.tables if t]


def _text(html: str) -> str:
    """What a reader reads: tags, styles and markup gone, entities as characters."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html).replace("&amp;", "&")


@pytest.mark.parametrize("report", ["whole", "csp"])
def test_headings_are_words_from_the_vocabulary(pages, report):
    summary = json.loads(pages[report]["json"].read_text())
    tables = _tables(pages[report])
    headings = {cell for table in tables for cell in table[0]}
    assert headings and not [h for h in headings if "_" in h]
    # every column name of a published table that is not already words has a heading of its own
    columns = {
        column
        for items in summary["sections"].values()
        for value in items.values()
        if isinstance(value, list) and value and isinstance(value[0], dict)
        for column in value[0]
    }
    assert not {c for c in columns if c not in HEADINGS and c.islower()}, "add to HEADINGS"
    assert {heading(c) for c in columns if "_" in c} & headings  # snake_case names were there


@pytest.mark.parametrize("report", ["whole", "csp"])
def test_no_negative_zero(pages, report):
    text = _text(pages[report]["html"].read_text())
    assert not NEGATIVE_ZERO.findall(text)


@pytest.mark.parametrize("report", ["whole", "csp"])
def test_no_table_is_shown_twice(pages, report):
    tables = _tables(pages[report])
    for one, other in combinations(tables, 2):
        assert one != other, f"a table shown twice: {one[:2]}"
        shared = [h for h in one[0] if h in other[0]]
        if len(shared) < 3:
            continue

        def rows(table: list[list[str]], columns: list[str]) -> set[tuple[str, ...]]:
            at = [table[0].index(c) for c in columns]
            return {tuple(row[i] for i in at) for row in table[1:] if len(row) == len(table[0])}

        again = rows(one, shared) & rows(other, shared)
        assert not again, f"rows repeated in two tables ({shared}): {sorted(again)[:2]}"


@pytest.mark.parametrize("report", ["whole", "csp"])
def test_the_synthetic_flag_reads_yes_or_no(pages, report):
    flagged = [t for t in _tables(pages[report]) if heading("synthetic") in t[0]]
    assert flagged
    for table in flagged:
        at = table[0].index(heading("synthetic"))
        assert {row[at] for row in table[1:]} <= {"yes", "no"}


def _figures(html: str) -> dict[str, tuple[str, str]]:
    """Each drawn chart's SVG and caption, by chart id."""
    found = re.findall(
        r'<figure class="chart" data-chart="([^"]+)">(.*?)</svg>(.*?)</figure>', html, flags=re.S
    )
    return {chart: (svg, caption) for chart, svg, caption in found}


def _values(spec: dict) -> tuple[list[dict], set[str]]:
    """A Vega-Lite spec's rows and the labels shaded as no data (a gap, not hidden)."""
    if "layer" not in spec:
        return spec["data"]["values"], set()
    band, data = spec["layer"]
    gaps = {v["label"] for v in band["data"]["values"] if v["shade"] == GAP}
    return data["data"]["values"], gaps


@pytest.mark.parametrize("report", ["whole", "csp"])
def test_every_chart_has_something_to_show_and_marks_what_is_hidden(pages, report):
    html = pages[report]["html"].read_text()
    specs = json.loads(pages[report]["charts"].read_text())
    figures = _figures(html)
    assert set(figures) == set(specs), "a chart drawn without its Vega-Lite spec, or the reverse"
    for sentence in re.findall(r'<p class="note nochart">(.*?)</p>', html):
        assert "no chart" in sentence
    hidden_seen = 0
    for chart, (svg, caption) in figures.items():
        rows, gaps = _values(specs[chart])
        assert any(r["value"] for r in rows), f"{chart}: a chart with nothing to show"
        labels = list(dict.fromkeys(r["label"] for r in rows))
        series = list(dict.fromkeys(r["series"] for r in rows))
        mark = specs[chart].get("mark") or specs[chart]["layer"][1]["mark"]
        for r in rows:
            hidden = r["value"] is None and r["label"] not in gaps
            hidden_seen += hidden
            i = labels.index(r["label"])
            if mark == "rect":  # a heatmap: a [c] in each hidden cell
                cell = f'-hidden-{series.index(r["series"])}-{i}"'
                assert (cell in svg) == hidden, f"{chart} {r}"
            elif mark == "bar":
                assert (f'-hidden-{i}"' in svg) == hidden, f"{chart} {r}"
                assert (f'-bar-{i}"' in svg) == (r["value"] is not None), f"{chart} {r}"
            elif len(series) == 1:
                assert (f'-hidden-{i}"' in svg) == hidden, f"{chart} {r}"
            elif hidden:  # several lines: the caption names each hidden value's series
                assert HIDDEN in caption and r["series"] in caption, f"{chart} {r}"
    if report == "csp":
        assert hidden_seen, "the CSP report has hidden values: the check above must see some"


def test_near_repeats_are_concluded_in_words(pages):
    html = pages["whole"]["html"].read_text()
    section = html.split('id="near_repeats"')[1].split("<h2")[0]
    significant = "<strong>" in section
    assert ("No near-repeat pattern" in section) == (not significant)


@pytest.mark.parametrize(
    ("values", "gaps", "why"),
    [
        ([math.nan] * 12, 0, "every value is hidden"),
        ([0.0] * 12, 0, "every value shown is zero."),
        ([0.0] * 8 + [math.nan] * 4, 0, "every value shown is zero and the other 4 are hidden"),
        ([math.nan] * 11 + [5.0], 11, "one value only"),
    ],
)
def test_a_chart_with_nothing_to_show_is_a_sentence(values, gaps, why):
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    chart = Chart(
        "rolling",
        "line",
        "Rolling 12-month total: x",
        months,
        {"total": values},
        shaded={GAP: months[:gaps]} if gaps else {},
    )
    page = Page(pub=None, definition_id="x")  # a chart needs no publication
    drawn = page.chart(chart)
    assert "<svg" not in drawn and "no chart" in drawn and why in drawn
    assert page.charts == []  # nor a Vega-Lite spec of nothing
    assert "<svg" in page.chart(Chart("c", "line", "t", months, {"total": [1.0] * 12}))


@pytest.mark.parametrize("kind", ["line", "bar"])
def test_a_chart_with_more_than_half_its_values_hidden_is_a_sentence(kind):
    """Hidden values, not months without data, are counted; half hidden still draws."""
    months = [f"{2024 + m // 12}-{m % 12 + 1:02d}" for m in range(24)]
    shown = {m: float(i + 5) for i, m in enumerate(months) if i % 3 == 0}  # 8 of 24
    no_data = months[13:15]  # 2 months with no data: neither shown nor hidden
    values = [shown.get(m, math.nan) for m in months]
    hidden = sum(m not in shown and m not in no_data for m in months)
    chart = Chart(
        "m", kind, "Incidents a month: x", months, {"count": values}, shaded={GAP: no_data}
    )
    sentence = chart.html()
    assert "<svg" not in sentence
    assert f"{hidden} of the {hidden + len(shown)} values with data are hidden" in sentence
    assert all(f"{m} {v:,.0f}" in sentence for m, v in shown.items())
    half = [v if not math.isnan(v) else 1.0 for v in values[:12]] + values[12:]
    assert sum(math.isnan(v) for v in half) * 2 <= len(half) - len(no_data)
    assert "<svg" in Chart("m", kind, "t", months, {"count": half}, shaded={GAP: no_data}).html()
