"""What a board acts on: the first page says which records were analysed (by source, real or
synthetic, assessable or not and why), findings from synthetic data say so, limitations come
from the data, the partnership's recommendations are included as written, and benchmarks agree
with the Home Office table they come from."""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import replace
from datetime import datetime
from html import unescape

import pytest
from conftest import csv_rows
from scanner import HtmlTables

from svduty.analysis.benchmarks import ENGLAND_AND_WALES, load_groups
from svduty.counting import counts
from svduty.definitions import load_definition
from svduty.errors import InputError
from svduty.example import WEST_MERCIA
from svduty.ingest import ingest
from svduty.reference import data_path
from svduty.reference.forces import canonical_force
from svduty.settings import Settings
from svduty.sna import build_sna
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.vocabulary import source_kind_label
from svduty.workspace import Workspace

RECOMMENDATIONS = """# Our recommendations

1. Fund the **knife-crime** programme in Telford & Wrekin <before> April.
2. <script>alert("not run")</script> is words, not code.
"""


def _first_page(html: str) -> str:
    return html.split('id="contents"')[0]


def _section(html: str, key: str) -> str:
    return html.split(f'<h2 id="{key}">')[1].split("<h2 ")[0]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="module")
def example(sna_workspace, tmp_path_factory):
    """The example's report as published, with the partnership's recommendations written on a
    known day, and without them."""
    root = tmp_path_factory.mktemp("board")
    written = root / "recommendations.md"
    written.write_text(RECOMMENDATIONS, encoding="utf-8")
    day = datetime(2025, 3, 14, 9, 30).timestamp()
    os.utime(written, (day, day))
    ws = Workspace.open(sna_workspace[0], read_only=True)
    ws.settings = replace(ws.settings, recommendations=str(root / "missing.md"))
    without = build_sna(ws, out=root / "without", pdf=False)
    ws.settings = replace(ws.settings, recommendations=str(written))
    with_file = build_sna(ws, out=root / "with", pdf=False)
    yield ws, with_file, without
    ws.close()


def test_first_page_counts_the_records_analysed_by_source(example):
    ws, paths, _ = example
    definition = load_definition(ws.settings.definition)
    held = ws.con.execute(
        "SELECT source_kind, synthetic, count(*), strftime(min(month), '%Y-%m'), "
        "strftime(max(month), '%Y-%m') FROM incidents GROUP BY ALL"
    ).fetchall()
    meeting = counts(ws.store, "incidents", ["source_kind"], [], definition).frame
    meets = dict(zip(meeting["source_kind"], meeting["count"], strict=True))
    assert definition.area == ws.settings.area  # its own definition: no warning
    assert "This definition was agreed by" not in paths["html"].read_text()
    page = _first_page(paths["html"].read_text())
    parser = HtmlTables()
    parser.feed(page)
    [table] = parser.tables
    headings = [h.lower() for h in table[0]]
    rows = {r[0]: dict(zip(headings, r, strict=True)) for r in table[1:]}
    assert len(rows) == len(held) == 2
    for kind, synthetic, n, first, last in held:
        row = rows[source_kind_label(kind)]
        assert row["months held"] == (first if first == last else f"{first} to {last}")
        assert row["real or synthetic"] == ("SYNTHETIC" if synthetic else "real")
        assert row["records held"] == f"{n:,}"
        assert row["meet the definition"] == f"{int(meets.get(kind, 0)):,}"
    # the real open data counted for nothing, and the page says so and why
    [real] = [n for kind, synthetic, n, *_ in held if not synthetic]
    text = _text(page)
    assert f"{real:,} real open-data records" in text
    sentence = text.split(f"{real:,} real open-data records")[1].split(". ")[0]
    assert "none could be assessed" in sentence and "offence code" in sentence
    assert "Every incident counted in this assessment is SYNTHETIC" in text


def test_findings_from_synthetic_data_say_so(example):
    ws, paths, _ = example
    summary = json.loads(paths["json"].read_text())
    findings = summary["sections"]["summary"]["findings"]
    real = ws.con.execute("SELECT count(*) FROM incidents WHERE NOT synthetic").fetchone()[0]
    lead, *rest = findings
    assert "SYNTHETIC" in lead and f"{real:,} real records" in lead
    assert rest and all(f.startswith("SYNTHETIC data: ") for f in rest)
    # and no benchmark is drawn where the workspace has no Home Office tables, with why
    benchmarks = _text(_section(paths["html"].read_text(), "benchmarks"))
    assert "holds no Home Office police recorded crime tables" in benchmarks


def test_recommendations_are_included_as_written_and_dated(example):
    _, paths, without = example
    html = paths["html"].read_text()
    section = _section(html, "recommendations")
    assert "last changed 2025-03-14" in section
    assert "&lt;script&gt;alert(&#34;not run&#34;)&lt;/script&gt;" in section or (
        "&lt;script&gt;alert(&quot;not run&quot;)&lt;/script&gt;" in section
    )
    assert "<script>" not in html
    assert "Telford &amp; Wrekin &lt;before&gt; April" in section
    assert "<strong>knife-crime</strong>" in section
    written = json.loads(paths["json"].read_text())["sections"]["recommendations"]
    assert written["partnership"]["text"] == RECOMMENDATIONS
    # svduty's prompts are apart from the partnership's words, and say so
    prompts = section.split("Prompts from the findings")[1]
    assert "not its words" in prompts and written["prompts"]
    assert "Our recommendations" not in prompts
    assert "has not written its recommendations" in _section(
        without["html"].read_text(), "recommendations"
    )


@pytest.fixture(scope="module")
def planted(tmp_path_factory, shared):
    """A small synthetic extract with a month taken out and every statute blanked (a gap, and a
    clause the data cannot judge: GBH by statute), with the Home Office force table for 2017/18
    and a most similar group named in a file."""
    root = tmp_path_factory.mktemp("planted")
    generate(load_profile("west-mercia"), root / "syn", scale=0.04, seed=5, start="2025-01")
    rows = csv_rows(root / "syn" / "crimes.csv")
    kept = [
        {**r, "Statute": ""}
        for r in rows
        if "/06/2025" not in r["Committed From"] and "/06/2025" not in r["Recorded Date"]
    ]
    crimes = root / "crimes.csv"
    with crimes.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    settings = Settings(**{**WEST_MERCIA.__dict__, "most_similar_groups": "groups.csv"})
    ws = Workspace.init(root / "ws", settings)
    (root / "ws" / "groups.csv").write_text(
        "# source: a test group, not the official one\narea,similar\n"
        "West Mercia,Devon and Cornwall\nWest Mercia,Warwickshire\nWest Mercia,Norfolk\n"
    )
    table = shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv"
    ingest(ws, [crimes], mappings=sorted((root / "syn" / "mappings").glob("*.yaml")))
    ingest(ws, [table])
    ws.classify()
    yield ws, table, build_sna(ws, out=root / "out", pdf=False)
    ws.close()


def test_limitations_name_a_gap_and_a_clause_the_data_cannot_judge(planted):
    ws, _, paths = planted
    months = [
        m
        for (m,) in ws.con.execute(
            "SELECT DISTINCT strftime(month, '%Y-%m') FROM incidents ORDER BY 1"
        ).fetchall()
    ]
    span = [f"2025-{m:02d}" for m in range(int(months[0][5:]), int(months[-1][5:]) + 1)]
    [gap] = sorted(set(span) - set(months))
    no_statute = ws.con.execute(
        "SELECT count(*) FROM incidents WHERE offence_code IN ('8N', '8P', '8S')"
    ).fetchone()[0]
    undecided = ws.con.execute(
        "SELECT count(*) FROM classifications WHERE definition_id = 'west-mercia-2022' "
        "AND NOT in_definition AND coalesce(unassessed, '') <> ''"
    ).fetchone()[0]
    assert no_statute > 0 and undecided > 0
    html = paths["html"].read_text()
    limits = _text(_section(html, "limitations"))
    assert f"{gap}: no data (a gap, not a zero)" in limits
    clause = limits.split("Clause serious_injury (")[1].split(". ")[0]
    assert f"could not be judged on {no_statute:,} records" in clause and "statute" in clause
    assert f"{undecided:,} could not be assessed" in _text(_first_page(html))


def test_a_most_similar_groups_file_is_checked_line_by_line(tmp_path):
    path = tmp_path / "groups.csv"
    path.write_text("area,similar\nWest Mercia,\n")
    with pytest.raises(InputError) as error:
        load_groups(path)
    assert "line 1: say where the groups come from" in str(error.value)
    assert f"{path}: line 2: need an area and a similar area" in str(error.value)
    with pytest.raises(InputError, match="no such most-similar-groups file"):
        load_groups(tmp_path / "none.csv")


def test_benchmarks_equal_the_home_office_table(planted):
    ws, table, paths = planted
    definition = load_definition("west-mercia-2022")
    with data_path("forces.csv").open(encoding="utf-8") as handle:
        territorial = {r["force"] for r in csv.DictReader(handle) if r["territorial"] == "True"}
    group = {"Devon & Cornwall", "Warwickshire", "Norfolk"}
    [[england], [wales]] = [
        ws.con.execute(sql).fetchone()
        for sql in (
            "SELECT sum(population_2024) FROM areas WHERE in_2021",
            "SELECT sum(population_2019) FROM areas WHERE in_2011 AND lsoa_code LIKE 'W%'",
        )
    ]
    people = dict(
        ws.con.execute(
            "SELECT force, sum(population) FROM (SELECT force, population_2024 AS population "
            "FROM areas WHERE in_2021 UNION ALL SELECT force, population_2019 FROM areas "
            "WHERE in_2011 AND lsoa_code LIKE 'W%') GROUP BY 1"
        ).fetchall()
    )
    rows = csv_rows(table)
    published = json.loads(paths["json"].read_text())["sections"]["benchmarks"]
    assert published["about"]["year"] == "2017/18"
    shown = {(r["measure"], r["comparator"]): r for r in published["rates"]}
    for clause in ("homicide", "robbery"):  # clauses offence codes settle on their own
        found = definition.clause(clause)
        codes = {str(v) for rule in found.all_rules() for v in rule.values}
        per_force: dict[str, int] = {}
        for row in rows:
            if row["Offence_Code"] in codes:
                force = canonical_force(row["Force_Name"]) or row["Force_Name"]
                per_force[force] = per_force.get(force, 0) + int(row["Number_of_Offences"])
        expected = {
            "West Mercia": (per_force["West Mercia"], people["West Mercia"]),
            ENGLAND_AND_WALES: (
                sum(n for f, n in per_force.items() if f in territorial),
                england + wales,
            ),
            "Most similar group (3)": (
                sum(per_force.get(f, 0) for f in group),
                sum(people[f] for f in group),
            ),
        }
        for comparator, (count, population) in expected.items():
            row = shown[(found.name, comparator)]
            assert row["count"] == count
            assert row["population"] == population
            assert row["rate"] == pytest.approx(count / population * 1000, abs=5e-4)
    # the one benchmark among the key findings is real data among synthetic, and says so
    findings = json.loads(paths["json"].read_text())["sections"]["summary"]["findings"]
    [benchmark] = [f for f in findings if "(Home Office tables, real)" in f]
    assert benchmark.startswith("Every clause the tables can count, 2017/18")
    assert all(f.startswith("SYNTHETIC data: ") for f in findings[1:] if f != benchmark)
    html = _text(_section(paths["html"].read_text(), "benchmarks"))
    assert "Home Office, police recorded crime open data tables, 2017/18" in html
    assert "a test group, not the official one" in html
    assert "clauses needing a marker are left out" in html


def test_a_source_row_hidden_whole_is_said_as_hidden():
    """A row whose every count is hidden (a small partner extract in one CSP, and the cells
    that would give it away) reads as [c], never as a number."""
    import pandas as pd

    from svduty.publish import Policy, Publication
    from svduty.publish.board import records_statement

    def frame(**columns):
        return pd.DataFrame(columns, dtype=object)

    key = {"source": ["police_extract", "police_uk_street"], "force": ["West Mercia"] * 2}
    key["data"] = ["real", "real"]
    tables = {
        "records/held": frame(**key, count=[None, None]),
        "records/assessed": frame(**key, count=[None, 0], not_in=[None, 0], undecided=[None, None]),
        "report/period": frame(value=["2025-01 to 2025-12"]),
        "records/missing_facts": frame(value=[[]]),
        "sources/batches": frame(source_kind=[], synthetic=[]),
    }
    pub = Publication("sna", Policy(5), tables, {}, {"definition": {"id": "west-mercia-2022"}}, {})
    said = records_statement(pub)
    assert said[0].startswith("[c] crime records are held")
    assert said[1].startswith("[c] real partner records") and "nan" not in " ".join(said)


def test_a_publication_holding_no_records_says_none_counted():
    """A period with no records (a workspace whose months all fall outside it) has a held table
    of no rows: its basis is "none", not an error."""
    import pandas as pd

    from svduty.publish import Policy, Publication
    from svduty.publish.board import basis

    key = {"source": [], "force": [], "data": []}
    tables = {
        "records/held": pd.DataFrame({**key, "count": []}, dtype=object),
        "records/assessed": pd.DataFrame(
            {**key, "count": [], "not_in": [], "undecided": []}, dtype=object
        ),
    }
    assert basis(Publication("sna", Policy(5), tables, {}, {}, {})) == "none"
