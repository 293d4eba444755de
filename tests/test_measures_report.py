"""Success measures in the SNA and the board pack: each measure's months go through disclosure
control with the rest of the set, an SPC chart is drawn only from published months, and the
board pack's pages, rendered to images, carry Making Data Count's icons in its colours."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pypdfium2
import pytest
from conftest import svduty

from svduty.analysis.measure_series import all_series, measure_events
from svduty.example import WEST_MERCIA
from svduty.ingest import ingest
from svduty.measures.framework import find_measure, frameworks
from svduty.measures.spc import COLOURS
from svduty.publish import Policy
from svduty.sna import publications, selection_of
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.vocabulary import NO_DATA
from svduty.workspace import Workspace


@pytest.fixture(scope="module")
def two_years(tmp_path_factory):
    """Two years of a small synthetic West Mercia extract: enough months for SPC limits."""
    root = tmp_path_factory.mktemp("measures")
    generate(load_profile("west-mercia"), root / "syn", scale=0.1, years=2, seed=4)
    with Workspace.init(root / "ws", WEST_MERCIA) as ws:
        files, mappings = synthetic_files(root / "syn")
        ingest(ws, files, mappings=mappings)
    ws = Workspace.open(root / "ws", read_only=True)
    threshold = ws.settings.disclosure_threshold
    found = {
        policy.internal: publications(ws, selection_of(ws), policy)
        for policy in (Policy(threshold), Policy(threshold, internal=True))
    }
    yield ws, found
    ws.close()


def _months(pub) -> pd.DataFrame:
    return pub.table("measures", "monthly")


def test_each_measure_is_counted_as_its_series_and_controlled_with_the_set(two_years):
    ws, found = two_years
    internal, published = found[True], found[False]
    threshold = ws.settings.disclosure_threshold
    measures = [m for f in frameworks(ws.root) for m in f.measures]
    names = {None: str(WEST_MERCIA.area), **{c: c for c in WEST_MERCIA.csps}}
    expected = {m.id: all_series(ws.store, ws.settings, m) for m in measures}
    for area, name in names.items():
        truth, shown = _months(internal[area]), _months(published[area])
        for m in measures:
            series = expected[m.id][name].frame
            mine = truth[truth["measure"] == m.id]
            assert list(mine["month"]) == list(series["month"])
            held = series["status"] != NO_DATA
            assert list(mine.loc[list(held), "count"]) == [int(c) for c in series["count"][held]]
        # published counts are the true ones or hidden; every small count is hidden
        both = truth.merge(shown, on=["measure", "month"], suffixes=("", "_shown"))
        small = both["count"].between(1, threshold - 1)
        assert small.any(), "no small monthly count: the check has no bite"
        assert both.loc[small, "count_shown"].isna().all()
        visible = both["count_shown"].notna()
        assert (both.loc[visible, "count"] == both.loc[visible, "count_shown"]).all()
        assert both.loc[both["count_shown"].isna(), "rate_shown"].isna().all()
        # no line with exactly one hidden cell: a year and its months
        years = published[area].table("measures", "yearly").set_index("measure_year")
        for key, months in shown.groupby("measure_year"):
            unknown = int(months["count"].isna().sum()) + int(years.loc[key, "count"] is None)
            assert unknown != 1, (area, key)
    # the whole area's month and its CSPs' months: never exactly one hidden among them
    whole = _months(published[None]).set_index(["measure", "month"])["count"]
    parts = [
        _months(published[c]).set_index(["measure", "month"])["count"] for c in WEST_MERCIA.csps
    ]
    for key, value in whole.items():
        unknown = int(value is None) + sum(int(p.get(key) is None) for p in parts if key in p.index)
        assert unknown != 1, key


def test_a_chart_is_drawn_only_from_published_months(two_years):
    _, found = two_years
    for internal, pubs in found.items():
        for pub in pubs.values():
            months, charts = _months(pub), pub.extras["spc"]
            for row in pub.value("measures", "summary"):
                mine = months[(months["measure"] == row["measure"]) & (months["status"] != NO_DATA)]
                if row["measure"] in charts:
                    assert mine["count"].notna().all()
                    about = next(
                        a for a in pub.value("measures", "about") if a["measure"] == row["measure"]
                    )
                    drawn = charts[row["measure"]].frame["value"].to_numpy(float)
                    assert np.allclose(drawn, mine[about["charted"]].to_numpy(float))
                else:
                    assert internal is False or not len(mine), row
                    assert row["hidden_months"] == int(mine["count"].isna().sum())
    # the internal report draws every measure with data; the published one fewer
    internal = found[True][None].extras["spc"]
    assert len(internal) >= len(found[False][None].extras["spc"]) and internal


def _colours(image: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image[..., :3].astype(int) - rgb).max(axis=-1) <= 8).sum())


def test_the_board_pack_pages_show_the_icons_in_their_colours(two_years, tmp_path):
    ws, found = two_years
    done = svduty(
        "report", "--workspace", str(ws.root), "--measures", "--unsuppressed", "--out",
        str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    pdf = next((tmp_path / "internal").glob("measures-*.pdf"))
    html = pdf.with_suffix(".html").read_text()
    summary = found[True][None].value("measures", "summary")
    assert html.count("<tr>") == len(summary) + 1
    icons = [r["variation"] for r in summary if r["variation"]]
    assert icons, "no measure with limits: the check has no bite"
    for icon in icons:
        assert f"variation-{icon}" in html
    document = pypdfium2.PdfDocument(pdf)
    first = np.asarray(document[0].render(scale=2).to_pil())
    kinds = {icon.split("_")[0] for icon in icons}
    for kind in kinds:
        assert _colours(first, COLOURS[kind]) > 200, kind
    for kind in set(COLOURS) - kinds:  # a colour no icon or point has is not drawn
        if not any(kind in str(r["variation"]) for r in summary):
            pages = [np.asarray(p.render(scale=1).to_pil()) for p in document]
            charted = any(
                kind in set(c.frame["variation"].dropna())
                for c in found[True][None].extras["spc"].values()
            )
            assert charted or all(_colours(p, COLOURS[kind]) == 0 for p in pages), kind


def test_rare_events_are_charted_by_the_days_between_them(two_years):
    """A t-chart of a framework measure: one point per event after the first, the events being
    the measure's incidents that the monthly series counts."""
    ws, found = two_years
    months = _months(found[True][None])
    for measure in ("knife-offences", "knife-homicide"):
        counted = int(months.loc[months["measure"] == measure, "count"].dropna().sum())
        events = measure_events(ws.store, ws.settings, find_measure(measure))
        assert len(events.dates) + events.month_only == counted
    events = measure_events(ws.store, ws.settings, find_measure("knife-offences"))
    assert len(events.dates) > 2
    done = svduty(
        "measures", "spc", "knife-offences", "--workspace", str(ws.root), "--chart", "t",
        "--format", "csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == len(events.dates) - 1
    gaps = [(b - a).days for a, b in zip(events.dates, events.dates[1:], strict=False)]
    assert [float(r["value"]) for r in rows] == gaps
    refused = svduty(
        "measures", "spc", "knife-admissions", "--workspace", str(ws.root), "--chart", "t"
    )
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "held by month" in refused.stderr and "--chart xmr" in refused.stderr
