"""The Strategic Needs Assessment: it renders to HTML and PDF, labels every section with its
definition and period, marks synthetic data, and publishes no count a reader could use to find a
person: none below the threshold, none recoverable from what is shown."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import csv_rows
from pypdf import PdfReader
from scanner import recoverable, small_counts, small_counts_in_pages

import svduty
from svduty.analysis.severity import load_weights
from svduty.counting import counts, period_filters
from svduty.definitions import load_definition
from svduty.errors import InputError
from svduty.example import WEST_MERCIA
from svduty.ingest import ingest
from svduty.settings import Settings
from svduty.sna import build_sna
from svduty.spatial.gistar import CLASS_ORDER
from svduty.workspace import Workspace

LOOKUP = "offence-code-to-policeuk-category.csv"
COUNT_COLUMNS = {"count", "ae", "police", "rows", "batches"}


def _count_columns(summary: dict, section: str, name: str) -> set[str]:
    """The columns summary.json declares as counts, plus those every table shares."""
    return set(summary["count_columns"].get(f"{section}/{name}", [])) | COUNT_COLUMNS


@pytest.fixture(scope="module")
def assessed(sna_workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("sna-reports")
    ws = Workspace.open(sna_workspace[0], read_only=True)
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
        if key not in ("contents", "records", "findings", "definition", "sources", "methods")
    ]
    assert len(analysis) == 15  # ten analyses, success measures, interventions and gaps,
    # benchmarks, limitations, recommendations
    label = f"(west-mercia-2022, {summary['period']})"
    assert all(label in text for text in analysis)


@pytest.fixture(scope="module")
def report_set(assessed, tmp_path_factory):
    """Every report of the set (the whole area and each CSP) as published, and the internal
    figures of the same set."""
    from svduty.publish import Policy
    from svduty.sna import publications, selection_of

    ws = assessed[0]
    root = tmp_path_factory.mktemp("set")
    published, pages = {}, {}
    for area in [None, *ws.settings.csps]:
        paths = build_sna(ws, out=root, csp=area, pdf=False)
        published[area or ws.settings.area] = json.loads(paths["json"].read_text())
        pages[area or ws.settings.area] = paths["html"].read_text()
    truth = publications(ws, selection_of(ws), Policy(0, internal=True))
    internal = {
        p.id: {"sections": p.sections(), "count_columns": p.count_columns} for p in truth.values()
    }
    return ws.settings.area, published, internal, pages


def test_no_small_count_is_published_in_any_report_of_the_set(report_set):
    whole, published, _, pages = report_set
    threshold = published[whole]["disclosure_threshold"]
    assert small_counts(published, threshold) == []
    assert small_counts_in_pages(pages, published, threshold) == []
    hidden = sum(s["suppressed"]["primary"] for s in published.values())
    assert hidden > 0  # the example has small cells, so the check has bite


def test_no_hidden_count_can_be_recovered_within_or_across_reports(report_set):
    """Linear programming over every published table, hierarchy and the area as the sum of its
    CSPs: no hidden cell is pinned down."""
    whole, published, internal, _ = report_set
    assert recoverable(published, internal, whole) == []


def test_the_scanner_finds_what_an_unsafe_build_gives_away(assessed, monkeypatch, tmp_path):
    """With secondary suppression switched off (along each line and by the audit) the same
    scanner must fail: proof it can."""
    import svduty.publish.control as control
    from svduty.publish import Policy
    from svduty.sna import publications, selection_of

    ws = assessed[0]
    monkeypatch.setattr(control, "_protect", lambda *args: False)
    monkeypatch.setattr(control, "_audited", lambda *args: 0)
    # a cache of its own, holding only the assessment (drafts), which control never touches
    (tmp_path / "cache").mkdir()
    for drafts in (ws.root / "cache").glob("drafts-*.pickle"):
        shutil.copy(drafts, tmp_path / "cache")
    monkeypatch.setattr(ws, "root", tmp_path)
    selection = selection_of(ws)
    unsafe = publications(ws, selection, Policy(ws.settings.disclosure_threshold))
    truth = publications(ws, selection, Policy(0, internal=True))

    def summaries(pubs):
        return {
            p.id: {"sections": p.sections(), "count_columns": p.count_columns}
            for p in pubs.values()
        }

    found = recoverable(summaries(unsafe), summaries(truth), ws.settings.area)
    assert len(found) > 0
    assert len(small_counts(summaries(truth), ws.settings.disclosure_threshold)) > 0


def test_hour_by_day_cells_are_whole_controlled_counts(report_set):
    """Aoristic fractions are rounded to whole incidents before control."""
    _, published, _, _ = report_set
    for summary in published.values():
        for row in summary["sections"]["when"]["hour_by_day"]:
            for hour, value in row.items():
                if hour != "day" and value is not None:
                    assert value == int(value) and (value == 0 or value >= 5)


def test_person_counts_are_controlled(report_set):
    _, published, _, _ = report_set
    for summary in published.values():
        for key in ("victim_repeat_people", "suspect_repeat_people"):
            value = summary["sections"]["who"].get(key)
            assert value is None or value == 0 or value >= 5
            assert "value" in summary["count_columns"][f"who/{key}"]


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
    first, last = _held(published)  # the whole area's period names every report of the set
    name = f"sna-shropshire-{first}-to-{last}-west-mercia-2022"
    assert Path(one_csp["html"]).name == f"{name}.html"
    assert Path(one_csp["json"]).name == f"{name}-summary.json"


def test_open_data_only_workspace_still_reports(tmp_path, west_mercia):
    ws = Workspace.init(
        tmp_path / "ws", Settings(**{**WEST_MERCIA.__dict__, "definition": "police-uk-open-data"})
    )
    ingest(ws, [west_mercia / "2025-01"])  # a month is enough: it holds no synthetic record
    paths = build_sna(ws, pdf=False)
    summary = json.loads(paths["json"].read_text())
    assert summary["synthetic_records"] == 0
    assert "OVER-COUNTS" in paths["html"].read_text()
    findings = summary["sections"]["summary"]["findings"]
    assert findings and not any("SYNTHETIC" in f for f in findings)
    ws.close()


def test_a_period_narrows_every_section(assessed, tmp_path):
    ws, _, internal, _ = assessed
    paths = build_sna(
        ws,
        out=tmp_path,
        unsuppressed=True,
        pdf=False,
        period=period_filters("2025-04", "2025-09"),
    )
    summary = json.loads(paths["json"].read_text())
    whole = json.loads(internal["json"].read_text())["sections"]["trends"]["monthly"]
    months = summary["sections"]["trends"]["monthly"]
    assert [m["month"] for m in months] == [f"2025-{m:02d}" for m in range(4, 10)]
    by_month = {m["month"]: m["count"] for m in whole}
    assert all(m["count"] == by_month[m["month"]] for m in months)
    assert summary["requested_period"] == "month>=2025-04, month<=2025-09"
    [[attendances]] = ws.con.execute(
        "SELECT count(*) FROM ae_attendances WHERE month BETWEEN '2025-04-01' AND '2025-09-30'"
    ).fetchall()
    assert f"{attendances:,} assault attendances" in paths["html"].read_text()


def test_severity_weights_are_named_and_missing_codes_listed(assessed, tmp_path):
    ws, _, _, _ = assessed
    definition = load_definition("west-mercia-2022")
    per_code = counts(ws.store, "incidents", ["offence_code"], [], definition).frame
    present = per_code.set_index("offence_code")["count"]
    weighted = dict(zip(present.index[:4], (7979.0, 1965.0, 746.0, 184.0), strict=True))
    path = tmp_path / "weights.csv"
    path.write_text(
        "# source: illustrative test weights, not official\noffence_code,weight\n"
        + "".join(f"{code},{w}\n" for code, w in weighted.items())
    )
    paths = build_sna(ws, out=tmp_path, unsuppressed=True, pdf=False, weights=load_weights(path))
    sections = json.loads(paths["json"].read_text())["sections"]
    what = sections["what"]
    harm_notes = " ".join(sections["hotspots"]["harm_method"])
    shown = [row["class"] for row in sections["hotspots"]["cells_by_class"]]
    assert len(shown) > 2 and shown == sorted(shown, key=CLASS_ORDER.index)  # hottest first
    assert "harm-weighted by illustrative test weights, not official" in harm_notes
    assert "Weighted by harm" in paths["html"].read_text()
    assert what["weighted_total"] == pytest.approx(
        sum(present[code] * w for code, w in weighted.items())
    )
    assert what["unweighted_codes"] == sorted(set(present.index) - set(weighted))
    # need's harm by cohort adds up to the same weighted total (unsuppressed: nothing hidden)
    assert sum(row["harm"] for row in sections["need"]["all"]) == pytest.approx(
        what["weighted_total"]
    )
    assert "illustrative test weights, not official" in paths["html"].read_text()


def test_weights_without_a_source_are_refused(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("offence_code,weight\n8N,184\n")
    with pytest.raises(InputError, match="say where the weights come from"):
        load_weights(path)


@pytest.fixture(scope="module")
def aggregate_only(tmp_path_factory, shared):
    ws = Workspace.init(tmp_path_factory.mktemp("agg") / "ws", WEST_MERCIA)
    ingest(ws, [shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv"])
    yield ws
    ws.close()


def test_aggregate_only_workspace_reports_what_the_tables_support(aggregate_only, shared):
    paths = build_sna(aggregate_only, load_definition("police-uk-open-data"), pdf=False)
    summary = json.loads(paths["json"].read_text())
    categories = {
        row["Offence_Code"]: row["Police.uk_Cat"]
        for row in csv_rows(
            shared / "home-office-prc-2017-18" / "offence-code-to-policeuk-category.csv"
        )
    }
    wanted = {"Violence and Sexual Offences", "Robbery", "Possession of Weapons"}
    expected = sum(
        int(row["Number_of_Offences"])
        for row in csv_rows(shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv")
        if row["Force_Name"] == "West Mercia" and categories.get(row["Offence_Code"]) in wanted
    )
    years = summary["sections"]["trends"]["financial_years"]
    assert summary["records"] is False
    # named by the months of the quarters held: Q1 starts in April, Q4 ends in March
    held = sorted(
        (row["Financial_Year"], int(row["Financial_Quarter"]))
        for row in csv_rows(shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv")
        if row["Force_Name"] == "West Mercia"
    )
    starts, ends = {1: (0, "04"), 4: (1, "01")}, {1: (0, "06"), 4: (1, "03")}
    (first_year, first_q), (last_year, last_q) = held[0], held[-1]
    first = f"{int(first_year[:4]) + starts[first_q][0]}-{starts[first_q][1]}"
    last = f"{int(last_year[:4]) + ends[last_q][0]}-{ends[last_q][1]}"
    assert paths["html"].name == f"sna-west-mercia-{first}-to-{last}-police-uk-open-data.html"
    assert [y["count"] for y in years] == [expected]
    assert set(summary["sections"]) == {
        *("trends", "where", "what", "summary", "report", "sources"),
        *("records", "benchmarks", "limitations", "recommendations"),
    }
    html = paths["html"].read_text()
    assert "What needs partner data" in html and "Who: victims and suspects" in html


def test_aggregate_only_names_the_clauses_needing_markers(aggregate_only):
    paths = build_sna(aggregate_only, pdf=False)
    summary = json.loads(paths["json"].read_text())
    clauses = {c["clause"]: c for c in summary["sections"]["what"]["clauses"]}
    assert clauses["weapon_firearm"]["counted"] == 0
    assert clauses["weapon_firearm"]["unassessable"] > 0
    assert clauses["homicide"]["counted"] > 0
    assert "weapon_firearm" in paths["html"].read_text().split('id="missing"')[1]


def test_bad_weights_name_the_file_and_line(tmp_path):
    with pytest.raises(InputError, match="no such weights file"):
        load_weights(tmp_path / "missing.csv")
    path = tmp_path / "w.csv"
    path.write_text("# source: test\noffence_code,weight\n8N,184\n5D,heavy\n")
    with pytest.raises(InputError, match=r"w\.csv: line 4: need offence_code and a numeric"):
        load_weights(path)


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "25-01", "2025/01"])
def test_a_period_bound_must_be_a_month(month):
    with pytest.raises(InputError, match="must be a month as YYYY-MM"):
        period_filters(month, None)


@pytest.fixture(scope="module")
def assessed_together(assessed):
    """The set assessed in one pass, once for every CSP compared with it."""
    from svduty.analysis.assessment import assess_set
    from svduty.sna import selection_of

    ws = assessed[0]
    selection = selection_of(ws)
    return selection, list(assess_set(ws.store, ws.settings, selection))


@pytest.mark.parametrize("csp", ["Shropshire", "Herefordshire"])
def test_a_csp_split_from_the_set_equals_its_own_assessment(assessed, assessed_together, csp):
    """The set is assessed in one pass per analysis, split by CSP: each CSP's tables must be
    those of assessing it alone (the change by CSP compares the set's two years, so it is left
    out)."""
    import pandas as pd

    from svduty.analysis.assessment import assess
    from svduty.publish.sna import draft

    ws = assessed[0]
    selection, assessments = assessed_together
    together = next(a for a in assessments if a.area == csp)
    alone = assess(ws.store, ws.settings, selection.for_area(csp))
    split = {t.id: t.frame for t in draft(together).tables}
    own = {t.id: t.frame for t in draft(alone).tables}
    assert set(split) == set(own)
    for key in split.keys() - {"where/csp_change"}:
        pd.testing.assert_frame_equal(
            split[key].reset_index(drop=True), own[key].reset_index(drop=True), check_dtype=False
        )


# -- outputs: names, folders and the manifest ------------------------------------------------


def _held(paths: dict[str, Path]) -> tuple[str, str]:
    """The first and last month of a report's records, from its summary."""
    months = json.loads(paths["json"].read_text())["sections"]["trends"]["monthly"]
    return months[0]["month"], months[-1]["month"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> set[str]:
    """The folder's files, the manifest's lock aside."""
    return {p.name for p in folder.iterdir() if p.is_file() and p.name != ".manifest.lock"}


def test_a_period_build_and_a_whole_period_build_sit_side_by_side(assessed, tmp_path):
    ws = assessed[0]
    whole = build_sna(ws, out=tmp_path, pdf=False)
    before = {kind: _sha256(path) for kind, path in whole.items()}
    part = build_sna(ws, out=tmp_path, pdf=False, period=period_filters("2025-04", "2025-09"))
    first, last = _held(whole)
    assert whole["html"].name == f"sna-west-mercia-{first}-to-{last}-west-mercia-2022.html"
    assert part["html"].name == "sna-west-mercia-2025-04-to-2025-09-west-mercia-2022.html"
    assert {kind: _sha256(path) for kind, path in whole.items()} == before
    written = {p.name for p in [*whole.values(), *part.values()]}
    assert len(written) == 6 and _files(tmp_path) == written | {"manifest.json"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["reports"]) == {whole["html"].stem, part["html"].stem}
    assert manifest["reports"][part["html"].stem]["selection"]["period"] == {
        "from": "2025-04", "to": "2025-09",
    }  # fmt: skip


def test_an_internal_build_never_replaces_or_sits_beside_the_published_one(assessed, tmp_path):
    ws = assessed[0]
    published = build_sna(ws, out=tmp_path, pdf=False)
    before = {kind: _sha256(path) for kind, path in published.items()}
    internal = build_sna(ws, out=tmp_path, unsuppressed=True, pdf=False)
    assert {kind: _sha256(path) for kind, path in published.items()} == before
    assert {p.parent for p in internal.values()} == {tmp_path / "internal"}
    assert internal["html"].name == published["html"].name.replace(".html", "-internal.html")
    assert "NOT FOR PUBLICATION" in internal["html"].read_text()
    # the published folder holds no internal file, and its manifest lists none
    assert _files(tmp_path) == {p.name for p in published.values()} | {"manifest.json"}
    assert not any("NOT FOR PUBLICATION" in (tmp_path / n).read_text() for n in _files(tmp_path))
    for folder, kind in ((tmp_path, "published"), (tmp_path / "internal", "internal")):
        entries = json.loads((folder / "manifest.json").read_text())["reports"].values()
        assert {e["policy"]["publication"] for e in entries} == {kind}
    # nor can a published build be sent into the internal folder
    with pytest.raises(InputError, match="holds internal reports; published reports are"):
        build_sna(ws, out=tmp_path / "internal", pdf=False)
    assert _files(tmp_path / "internal") == {p.name for p in internal.values()} | {"manifest.json"}


def test_the_manifest_lists_exactly_the_files_a_run_wrote(assessed, tmp_path):
    ws = assessed[0]
    paths = build_sna(ws, out=tmp_path, csp="Shropshire", pdf=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    [(name, entry)] = manifest["reports"].items()
    assert name == paths["html"].stem
    assert entry["files"] == [
        {"name": p.name, "kind": kind, "bytes": p.stat().st_size, "sha256": _sha256(p)}
        for kind, p in paths.items()
    ]
    definition = load_definition("west-mercia-2022")
    first, last = _held(assessed[1])  # the whole area's, so every report of a set agrees
    assert entry["selection"] == {
        "definition": definition.id,
        "version": definition.version,
        "sha256": definition.sha256,
        "area": "Shropshire",
        "period": {"from": first, "to": last},
        "requested": "all months held",
    }
    assert entry["policy"] == {"publication": "published", "disclosure_threshold": 5}
    assert entry["svduty_version"] == svduty.__version__
    assert entry["data_version"] == ws.data_version
    log = ws.audit_log()
    [audited] = [
        json.loads(r.parameters)
        for r in log[log["action"] == "report"].itertuples()
        if json.loads(r.parameters).get("run") == entry["run"]
    ]
    assert audited["manifest"] == str((tmp_path / "manifest.json").resolve())


def test_a_rerun_replaces_its_own_files_and_nothing_else(assessed, tmp_path):
    """Run again without a PDF, the report's earlier PDF goes (it would disagree with a newer
    HTML); another selection's files in the same folder are not touched."""
    ws, published, _, _ = assessed
    shutil.copytree(published["html"].parent, tmp_path, dirs_exist_ok=True)
    # the period the side-by-side test builds: its report is then drawn from the cache
    other = build_sna(ws, out=tmp_path, pdf=False, period=period_filters("2025-04", "2025-09"))
    kept = {p.name: _sha256(p) for p in other.values()}
    again = build_sna(ws, out=tmp_path, pdf=False)
    assert again["html"] == tmp_path / published["html"].name and "pdf" not in again
    assert not (tmp_path / published["pdf"].name).exists()
    assert {p.name: _sha256(p) for p in other.values()} == kept
    assert _files(tmp_path) == {p.name for p in [*again.values(), *other.values()]} | {
        "manifest.json"
    }
    entries = json.loads((tmp_path / "manifest.json").read_text())["reports"]
    assert [f["name"] for f in entries[again["html"].stem]["files"]] == [
        p.name for p in again.values()
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]


def test_the_gaps_section_names_each_gaps_numbers_definition_and_period(assessed):
    """Each gap in the report is a sentence naming its incidents a year (the need table's
    figure), its definition and its period; a CSP's report lists its own gaps only."""
    _, published, _, one_csp = assessed
    html = published["html"].read_text()
    gaps = json.loads(published["json"].read_text())["sections"]["gaps"]
    about = gaps["about"]
    label = f"{about['definition']}, {about['period']}"
    assert "Interventions and gaps" in html and "How need is scored" in html
    listed = re.search(r"Gaps, ranked by need \((\d+)\)</h3><ol>(.*?)</ol>", html, flags=re.S)
    assert listed is not None and int(listed.group(1)) == len(gaps["findings"]) > 0
    items = re.findall(r"<li>(.*?)</li>", listed.group(2), flags=re.S)
    assert items and all(label in item for item in items)
    for finding in gaps["findings"]:
        assert label in finding["sentence"]
        assert f"{finding['per_year']:,} incidents a year" in finding["sentence"]
    alone = json.loads(one_csp["json"].read_text())["sections"]["gaps"]
    assert alone["about"]["area"] == "Shropshire"
    assert {f["area"] for f in alone["findings"]} <= {"Shropshire"}
    assert {row["area"] for row in alone["map"]} == {"Shropshire"}
