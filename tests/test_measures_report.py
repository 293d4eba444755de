"""Success measures in the SNA and the board pack: each measure's months go through disclosure
control with the rest of the set, an SPC chart is drawn only from published months, and the
board pack's pages, rendered to images, carry Making Data Count's icons in its colours."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pypdfium2
import pytest
from conftest import svduty

from svduty.analysis.measure_series import all_series, measure_events
from svduty.analysis.stats import compare_counts
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

LOCAL = """\
id: local
name: Local measures with a baseline, a recalculation and a target
measures:
  - id: injuries
    name: Violence with injury
    why: Limits from fourteen months (a recalculation inside them yields), and a target.
    source: {incidents: {where: {offence_subgroups: [Violence with injury]}}}
    unit: rate
    per: 1000
    improvement: down
    period: month
    baseline: {from: 2025-02, to: 2026-03}
    recalculate: [2025-10]
    target: 0.05
  - id: injuries-since-spring
    name: Violence with injury, against its first quarter
    why: A baseline too short for limits still sets the change.
    source: {incidents: {where: {offence_subgroups: [Violence with injury]}}}
    unit: count
    improvement: down
    period: month
    baseline: 2025-Q1
    recalculate: [2025-12]
"""


@pytest.fixture(scope="module")
def two_years(tmp_path_factory):
    """Two years (2025 and 2026) of a small synthetic West Mercia extract: enough months for
    SPC limits; a local framework of two measures with baselines beside the shipped one."""
    root = tmp_path_factory.mktemp("measures")
    generate(load_profile("west-mercia"), root / "syn", scale=0.1, years=2, seed=4)
    with Workspace.init(root / "ws", WEST_MERCIA) as ws:
        files, mappings = synthetic_files(root / "syn")
        ingest(ws, files, mappings=mappings)
    (root / "ws" / "measures").mkdir()
    (root / "ws" / "measures" / "local.yaml").write_text(LOCAL)
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
                    values = mine[about["charted"]].to_numpy(float)
                    if not about["baseline"]:  # a chart with a baseline starts at it
                        assert len(drawn) == len(values)
                    assert np.allclose(drawn, values[len(values) - len(drawn) :])
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


def test_the_frameworks_baseline_recalculation_and_target_set_the_chart_and_the_change(
    two_years,
):
    _, found = two_years
    pub = found[True][None]  # the internal report: every month shown
    months = _months(pub).set_index("month")
    summary = {r["measure"]: r for r in pub.value("measures", "summary")}
    rates = months.loc[months["measure"] == "injuries", "rate"]
    assert rates.index[0] == "2025-01" and len(rates) == 24
    result = pub.extras["spc"]["injuries"]
    chart = result.frame
    assert chart["date"].iloc[0] == "2025-02-01"  # the chart starts at its baseline
    assert "1 month before it left out" in summary["injuries"]["chart_notes"]
    base = rates["2025-02":"2026-03"].to_numpy(float)
    mean, moving = base.mean(), np.abs(np.diff(base)).mean()
    upl, lpl = mean + 2.66 * moving, mean - 2.66 * moving
    # the baseline's limits carried over every later point; the recalculation inside it yields
    assert int(chart["baseline"].sum()) == 14 and chart["segment"].nunique() == 1
    assert np.allclose(chart["mean"], mean) and np.allclose(chart["upl"], upl)
    assert "recalculation ignored inside the baseline" in summary["injuries"]["chart_notes"]
    lower_is_better = "pass" if upl <= 0.05 else "fail" if lpl >= 0.05 else "hit_or_miss"
    assert result.target == 0.05
    assert summary["injuries"]["assurance"] == lower_is_better
    # a baseline too short for limits sets none, and says so; a recalculation splits the chart
    short = summary["injuries-since-spring"]
    assert "baseline 2025-Q1 not used" in short["chart_notes"]
    counts = months.loc[months["measure"] == "injuries-since-spring", "count"].astype(int)
    split = pub.extras["spc"]["injuries-since-spring"].frame
    assert split["baseline"].sum() == 0 and split["segment"].nunique() == 2
    first, second = split[split["date"] < "2025-12-01"], split[split["date"] >= "2025-12-01"]
    assert len(first) == 11 and first["upl"].isna().all()  # 11 points: a run chart
    later = counts["2025-12":].to_numpy(float)
    assert np.allclose(second["mean"], later.mean())
    assert np.allclose(second["upl"], later.mean() + 2.66 * np.abs(np.diff(later)).mean())
    # the change is against the baseline, for its three months against the year's twelve
    spring, year = int(counts["2025-01":"2025-03"].sum()), int(counts["2025-04":"2026-03"].sum())
    change = compare_counts(spring, year, 3 / 12, 1.0)
    assert change.ratio is not None
    said = short["change"]
    assert said.startswith("2025/26 against the baseline 2025-Q1: ")
    assert f"rate ratio {change.ratio:.2f}, {change.low:.2f} to {change.high:.2f}" in said
    assert "seasons weigh unequally" in said
    # the published set says the same where its months are shown
    published = {r["measure"]: r for r in found[False][None].value("measures", "summary")}
    assert published["injuries-since-spring"]["change"] == said
    assert published["injuries"]["assurance"] == lower_is_better


def test_measures_spc_draws_the_frameworks_chart(two_years):
    ws, found = two_years
    done = svduty("measures", "spc", "injuries", "-w", str(ws.root), "--format", "json")
    assert done.returncode == 0, done.stderr
    chart = json.loads(done.stdout)
    drawn = found[True][None].extras["spc"]["injuries"]
    assert [p["date"] for p in chart["points"]] == list(drawn.frame["date"])
    # the published rates have four significant figures
    assert np.allclose([p["upl"] for p in chart["points"]], drawn.frame["upl"], rtol=2e-3)
    assert (chart["target"], chart["assurance_icon"]) == (0.05, drawn.assurance_icon)
    assert "the chart starts at its baseline (2025-02 to 2026-03)" in done.stderr
    shown = svduty("measures", "show", "injuries", "-w", str(ws.root))
    assert "baseline: 2025-02 to 2026-03" in shown.stderr and "target: 0.05" in shown.stderr
