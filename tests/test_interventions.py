"""The interventions catalogue: a catalogue with planted errors is refused whole with every
error named; clean imports, edits and ends keep every version and audit each change; imports
are idempotent; xlsx round-trips; exports cannot run as formulas; the bundled YEF list says what
the notes it came from say, and no more."""

from __future__ import annotations

import csv
import gzip
import json
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import make_workspace, svduty
from openpyxl import Workbook, load_workbook

from svduty import interventions as iv
from svduty.analysis.themes import THEMES as SNA_THEMES
from svduty.errors import InputError
from svduty.interventions import evidence
from svduty.interventions.layout import NAMES
from svduty.interventions.model import THEMES, TIERS
from svduty.output import FORMULA_STARTS
from svduty.reference import data_path
from svduty.schema import SCHEMA_VERSION
from svduty.vocabulary import MARKERS
from svduty.workspace import DATABASE_FILE, Workspace

# -- a valid catalogue, built here so each planted error's place is known by construction ------


def _west_mercia_lsoa() -> str:
    with gzip.open(data_path("areas.csv.gz"), "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["force"] == "West Mercia" and row["in_2021"] == "True":
                return row["lsoa_code"]
    raise AssertionError("no West Mercia LSOA in the bundled areas")


AREAS = ["West Mercia", "Shropshire", "E06000020", "E07000234", _west_mercia_lsoa()]
COUNT = 14


def _valid_rows() -> list[dict[str, str]]:
    """Fourteen interventions, one row each, then a second funded period of the first."""
    rows = [
        {
            **dict.fromkeys(NAMES, ""),
            "id": f"IV-{i:02d}", "name": f"Intervention {i}", "provider": "A provider",
            "tier": TIERS[i % len(TIERS)], "age_min": "10", "age_max": "17", "sex": "any",
            "roles": "at_risk", "themes": "knife; youth", "areas": AREAS[i % len(AREAS)],
            "setting": "community", "capacity_per_year": "50", "cost_per_year": "12,000",
            "funding_source": "PCC", "funding_start": "2023-04-01", "funding_end": "2024-03-31",
            "status": "running", "yef_approach": "mentoring", "contact": "team@example.org",
        }
        for i in range(COUNT)
    ]  # fmt: skip
    rows.append(
        {
            **dict.fromkeys(NAMES, ""),
            "id": "IV-00", "funding_source": "Grant", "funding_start": "2024-04-01",
            "funding_end": "2025-03-31",
        }
    )  # fmt: skip
    return rows


PLANTED: list[tuple[int, str, str]] = [
    (1, "areas", "Narnia"),  # unknown area
    (1, "tier", "quaternary"),  # unknown tier
    (2, "areas", "E01000001"),  # a real LSOA, in London: outside the workspace
    (2, "status", "paused"),  # unknown status
    (3, "age_min", "40"),  # above age_max (17)
    (3, "themes", "knife; burglary"),  # unknown theme
    (4, "age_max", "130"),  # an impossible age
    (4, "roles", "bystander"),  # unknown role
    (5, "age_min", "ten"),  # not a number
    (5, "setting", "prison"),  # unknown setting
    (6, "yef_approach", "brain training"),  # not in the YEF list
    (6, "capacity_per_year", "-5"),  # negative
    (7, "funding_start", "2024-02-30"),  # no such day
    (7, "cost_per_year", "lots"),  # not a number
    (8, "funding_end", "2020-01-01"),  # before its start
    (8, "sex", "x"),  # unknown sex
    (9, "name", '=HYPERLINK("http://example.org")'),  # a formula
    (9, "ended_on", "2024-01-01"),  # an end day, while running
    (11, "id", "IV-10"),  # the id of row 10, for another intervention
    (11, "tier", "quaternary"),  # and an error of its own
    (12, "id", "NAV 1"),  # a space in an id
    (12, "age_min", "25"),  # above age_max (17)
    (12, "yef_approach", "A&E navigator"),  # not in the YEF list, close to "A&E navigators"
    (13, "id", "EXAMPLE-13"),  # a template's example id
    (13, "sex", "femal"),  # unknown sex, close to "female"
    (13, "setting", "school; jail"),  # unknown setting
    (14, "funding_start", "2023-06-01"),  # overlaps IV-00's first funded period
]
"""(data row index, column, planted value): each error in its own cell, several to most rows
and up to three to a row whose id is refused, so that one run must list them all."""


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(NAMES))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _versions(ws: Workspace) -> int:
    found = ws.con.execute("SELECT count(*) FROM interventions").fetchone()
    assert found is not None
    return int(found[0])


@pytest.fixture
def ws(tmp_path: Path):
    opened = make_workspace(tmp_path / "ws")
    yield opened
    opened.close()


# -- checks ------------------------------------------------------------------------------------


def test_every_planted_error_of_every_row_is_reported_and_nothing_is_stored(ws, tmp_path):
    rows = _valid_rows()
    for index, column, value in PLANTED:
        assert rows[index][column] != value
        rows[index][column] = value
    bad = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(iv.CatalogueProblems) as raised:
        iv.import_catalogue(ws, bad)
    found = raised.value.problems
    expected = {(index + 2, column) for index, column, _ in PLANTED}  # header is row 1
    assert len(found) == len(PLANTED) == len(expected)
    assert {(p.row, p.column) for p in found} == expected
    by_place = {(p.row, p.column): p for p in found}
    assert "outside West Mercia" in by_place[(4, "areas")].reason
    assert "above age_max" in by_place[(5, "age_min")].reason
    assert "formula" in by_place[(11, "name")].reason
    assert "duplicate id: row 12" in by_place[(13, "id")].reason
    assert "overlaps the period of row 2" in by_place[(16, "funding_start")].reason
    assert "not an approach of the YEF Toolkit" in by_place[(8, "yef_approach")].reason
    assert "unknown tier; one of" in by_place[(13, "tier")].reason
    assert "did you mean 'A&E navigators'?" in by_place[(14, "yef_approach")].reason
    assert "above age_max" in by_place[(14, "age_min")].reason
    assert "replace the example rows" in by_place[(15, "id")].reason
    assert "did you mean 'female'?" in by_place[(15, "sex")].reason
    assert "unknown 'jail'" in by_place[(15, "setting")].reason
    assert f"{len(PLANTED)} problems, nothing stored" in str(raised.value)
    assert _versions(ws) == 0
    assert iv.catalogue(ws).empty
    assert not ws.audit_log()["action"].str.startswith("interventions").any()


def test_the_command_line_lists_every_problem_and_stores_nothing(tmp_path):
    root = tmp_path / "ws"
    make_workspace(root).close()
    rows = _valid_rows()
    for index, column, value in PLANTED:
        rows[index][column] = value
    bad = _write(tmp_path / "bad.csv", rows)
    done = svduty("interventions", "import", str(bad), "-w", str(root))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{len(PLANTED)} problems, nothing stored" in done.stderr.splitlines()[-1]
    assert "Narnia" in done.stderr and "IV-10" in done.stderr
    listed = svduty("interventions", "list", "-w", str(root), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_headers_match_without_case_or_spaces_and_an_unknown_one_is_named_with_rows_checked(
    ws, tmp_path
):
    rows = _valid_rows()
    shouted = tmp_path / "shouted.csv"
    with shouted.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f" {n.upper()} " if i % 2 else n.title() for i, n in enumerate(NAMES)])
        writer.writerows([r[n] for n in NAMES] for r in rows)
    assert (
        iv.check_file(ws, shouted).interventions
        == iv.check_file(ws, _write(tmp_path / "plain.csv", rows)).interventions
    )
    assert len(iv.check_file(ws, shouted).interventions) == COUNT

    misspelt = {"name": "nmae", "tier": "Teir"}
    rows[3]["status"] = "paused"
    bad = tmp_path / "misspelt.csv"
    with bad.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([misspelt.get(n, n) for n in NAMES])
        writer.writerows([r[n] for n in NAMES] for r in rows)
    found = iv.check_file(ws, bad).problems
    header = {p.column: p.reason for p in found if p.row == 1}
    assert header.keys() == {*misspelt.values(), *misspelt}  # each unknown, each missing
    for column, given in misspelt.items():
        assert f"unknown column; did you mean {column!r}?" in header[given]
        assert header[column] == "required column missing"
    # the rows are still checked (the missing columns not again for each row)
    assert [(p.row, p.column) for p in found if p.row != 1] == [(5, "status")]


def test_vocabularies_cover_the_markers_and_the_sna_themes():
    assert set(MARKERS) <= set(THEMES)
    assert set(SNA_THEMES) <= set(THEMES)


# -- versions, audit, idempotence --------------------------------------------------------------


def test_a_clean_import_then_an_edit_keeps_both_versions_and_audits_the_edit(ws, tmp_path):
    good = _write(tmp_path / "good.csv", _valid_rows())
    done = iv.import_catalogue(ws, good)
    assert len(done.saved.added) == COUNT and not done.saved.changed
    first = iv.get(ws, "IV-00")
    assert [(f.start.isoformat(), f.end.isoformat()) for f in first.funding] == [  # type: ignore[union-attr]
        ("2023-04-01", "2024-03-31"),
        ("2024-04-01", "2025-03-31"),
    ]
    assert first.cost_per_year == 12000.0 and first.areas == ("West Mercia",)

    iv.edit(ws, "IV-03", {"capacity_per_year": 80, "themes": ["knife", "county lines"]})
    history = iv.history(ws, "IV-03")
    assert list(history["version"]) == [1, 2]
    assert history["valid_to"].iloc[0] == history["valid_from"].iloc[1]
    assert history["valid_to"].isna().tolist() == [False, True]
    assert json.loads(history["changes"].iloc[1]) == {
        "capacity_per_year": [50, 80],
        "themes": [["knife", "youth"], ["knife", "county_lines"]],
    }
    old = ws.con.execute(
        "SELECT record FROM interventions WHERE id = 'IV-03' AND version = 1"
    ).fetchone()
    assert old is not None and json.loads(old[0])["capacity_per_year"] == 50
    assert iv.get(ws, "IV-03").capacity_per_year == 80

    log = ws.audit_log()
    edits = log[log["action"] == "interventions edit"]
    assert len(edits) == 1
    assert json.loads(edits["parameters"].iloc[0])["changes"]["capacity_per_year"] == [50, 80]
    assert (log["action"] == "interventions import").sum() == COUNT
    imported = log[log["action"] == "interventions import file"]
    assert json.loads(imported["parameters"].iloc[0])["added"] == COUNT

    iv.end(ws, "IV-03", "2025-06-30")
    ended = iv.catalogue(ws).set_index("id").loc["IV-03"]
    assert ended["status"] == "ended" and str(ended["ended_on"].date()) == "2025-06-30"
    assert list(iv.history(ws, "IV-03")["change"]) == ["import", "edit", "end"]


def test_a_repeated_import_changes_nothing_and_a_changed_row_keeps_its_old_version(ws, tmp_path):
    rows = _valid_rows()
    good = _write(tmp_path / "good.csv", rows)
    iv.import_catalogue(ws, good)
    versions, data_version = _versions(ws), ws.data_version
    again = iv.import_catalogue(ws, good)
    assert len(again.saved.unchanged) == COUNT and not again.saved.added + again.saved.changed
    assert _versions(ws) == versions and ws.data_version == data_version

    rows[5]["capacity_per_year"] = "75"
    changed = iv.import_catalogue(ws, _write(tmp_path / "changed.csv", rows))
    assert changed.saved.changed == ("IV-05",)
    assert _versions(ws) == versions + 1 and ws.data_version != data_version
    assert list(iv.history(ws, "IV-05")["version"]) == [1, 2]


def test_the_catalogue_frame_is_typed_and_carries_the_evidence(ws, tmp_path):
    iv.import_catalogue(ws, _write(tmp_path / "good.csv", _valid_rows()))
    frame = iv.catalogue(ws)
    assert len(frame) == COUNT
    assert str(frame["age_min"].dtype) == "Int64" and str(frame["cost_per_year"].dtype) == "Float64"
    assert str(frame["funding_start"].dtype).startswith("datetime64")
    assert list(frame["tier"].cat.categories) == list(TIERS)
    assert frame["tier"].value_counts()["enforcement"] == sum(
        1 for i in range(COUNT) if TIERS[i % len(TIERS)] == "enforcement"
    )
    mentoring = evidence.find("mentoring")
    assert mentoring is not None
    assert set(frame["yef_band"]) == {mentoring.band}
    assert set(frame["yef_headline_percent"]) == {mentoring.headline_percent}
    first = frame.set_index("id").loc["IV-00"]
    assert str(first["funding_start"].date()) == "2023-04-01"
    assert str(first["funding_end"].date()) == "2025-03-31"
    assert first["themes"] == ("knife", "youth")


def test_add_refuses_a_taken_id_and_the_writer_lock_is_needed(ws, tmp_path):
    iv.add(ws, {"id": "NEW", "name": "New", "tier": "primary", "status": "planned",
                "areas": ["Herefordshire"]})  # fmt: skip
    with pytest.raises(InputError, match="already in the catalogue"):
        iv.add(ws, {"id": "NEW", "name": "Again", "tier": "primary", "status": "planned"})
    with pytest.raises(iv.CatalogueProblems, match="unknown area 'Mordor'"):
        iv.edit(ws, "NEW", {"areas": "Mordor"})
    ws.close()
    reader = Workspace.open(ws.root, read_only=True)
    try:
        assert [one.id for one in iv.current(reader)] == ["NEW"]
        with pytest.raises(Exception, match="read-only"):
            iv.end(reader, "NEW", "2025-01-01")
    finally:
        reader.close()


# -- files -------------------------------------------------------------------------------------


def test_an_xlsx_export_imports_back_unchanged_and_formulas_in_a_workbook_are_refused(ws, tmp_path):
    iv.import_catalogue(ws, _write(tmp_path / "good.csv", _valid_rows()))
    iv.edit(ws, "IV-02", {"description": "Line one\nline two", "cost_per_year": "1234.5"})
    before = iv.catalogue(ws)
    book = tmp_path / "catalogue.xlsx"
    iv.export(ws, "xlsx", book)
    again = iv.import_catalogue(ws, book)
    assert len(again.saved.unchanged) == COUNT and not again.saved.changed
    fresh = make_workspace(tmp_path / "fresh")
    try:
        iv.import_catalogue(fresh, book)
        assert iv.catalogue(fresh).equals(before)
    finally:
        fresh.close()

    loaded = load_workbook(book)
    sheet = loaded.worksheets[0]
    edited = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "IV-02")
    numbers = [edited[NAMES.index(n)] for n in ("age_min", "capacity_per_year", "cost_per_year")]
    assert numbers == [10, 50, 1234.5]  # numbers a spreadsheet can add up, not text
    sheet.cell(row=3, column=NAMES.index("capacity_per_year") + 1, value="=20*3")
    loaded.save(tmp_path / "formula.xlsx")
    with pytest.raises(iv.CatalogueProblems) as raised:
        iv.import_catalogue(ws, tmp_path / "formula.xlsx")
    assert [(p.row, p.column) for p in raised.value.problems] == [(3, "capacity_per_year")]


def test_exports_neutralise_text_a_spreadsheet_would_run(ws, tmp_path):
    risky = {"description": "@SUM(A1:A9)", "referral": "+44 20 7946 0000 -cmd", "notes": "-2+3"}
    iv.add(ws, {"id": "RISKY", "name": "Risky", "tier": "primary", "status": "running", **risky})
    text = iv.export(ws, "csv").decode()
    cells = [cell for row in csv.reader(text.splitlines()) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
    for value in risky.values():
        assert "'" + value in cells
    iv.export(ws, "xlsx", tmp_path / "out.xlsx")
    sheet = load_workbook(tmp_path / "out.xlsx").worksheets[0]
    values = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [v for v in values if v.startswith(FORMULA_STARTS)]
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row if c.value)
    records = json.loads(iv.export(ws, "json"))
    assert records[0]["description"] == "@SUM(A1:A9)"  # JSON keeps the text as given
    (tmp_path / "out.csv").write_text(text, encoding="utf-8")
    for exported in (tmp_path / "out.csv", tmp_path / "out.xlsx"):  # the quote comes off again
        assert iv.import_catalogue(ws, exported).saved.unchanged == ("RISKY",)


def test_the_templates_example_rows_are_refused_until_replaced_and_then_import(ws, tmp_path):
    template = evidence.data_path("template.csv")
    with pytest.raises(iv.CatalogueProblems) as raised:
        iv.import_catalogue(ws, template)
    rows = template.read_text(encoding="utf-8").splitlines()[1:]
    assert [(p.row, p.column) for p in raised.value.problems] == [
        (n, "id") for n in range(2, len(rows) + 2)
    ]
    assert all("replace the example rows" in p.reason for p in raised.value.problems)
    assert _versions(ws) == 0
    own = tmp_path / "own.csv"
    own.write_text(template.read_text(encoding="utf-8").replace("EXAMPLE-1,", "MENTOR-1,"))
    done = iv.import_catalogue(ws, own)
    assert done.saved.added == ("MENTOR-1",)
    assert len(iv.get(ws, "MENTOR-1").funding) == len(rows)


def test_a_funding_end_alone_is_refused_without_a_funded_period_and_end_needs_a_past_day(
    ws,
):
    iv.add(ws, {"id": "BARE", "name": "Bare", "tier": "primary", "status": "running"})
    with pytest.raises(InputError, match="funding_end: BARE has no funded period to change; "
                       "give funding_start as well"):  # fmt: skip
        iv.edit(ws, "BARE", {"funding_end": "2027-03-31"})
    assert _versions(ws) == 1
    made = iv.edit(ws, "BARE", {"funding_start": "2026-04-01", "funding_end": "2027-03-31"})
    assert [(f.start, f.end) for f in made.funding] == [(date(2026, 4, 1), date(2027, 3, 31))]
    changed = iv.edit(ws, "BARE", {"funding_end": "2028-03-31"})  # now there is one to change
    assert [f.end for f in changed.funding] == [date(2028, 3, 31)]

    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(InputError, match="that day is still to come"):
        iv.end(ws, "BARE", tomorrow)
    assert iv.get(ws, "BARE").status == "running" and _versions(ws) == 3
    iv.end(ws, "BARE", date.today())
    with pytest.raises(InputError, match=f"already ended on {date.today().isoformat()}; nothing"):
        iv.end(ws, "BARE", "2020-01-01")
    assert iv.get(ws, "BARE").ended_on == date.today() and _versions(ws) == 4


def test_a_formula_written_by_a_spreadsheet_in_a_csv_cell_is_refused(ws, tmp_path):
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "name", "tier", "status"])
    sheet.append(["A", "=B1", "primary", "running"])
    book.save(tmp_path / "f.xlsx")
    with pytest.raises(iv.CatalogueProblems) as raised:
        iv.import_catalogue(ws, tmp_path / "f.xlsx")
    assert [(p.row, p.column) for p in raised.value.problems] == [(2, "name")]


# -- the evidence reference --------------------------------------------------------------------


def _section(doc: str) -> str:
    start = doc.index("## Youth Endowment Fund Toolkit")
    end = doc.index("\n## ", start + 5)
    return " ".join(doc[start:end].split())


def _doc_approaches(shared: Path) -> dict[str, tuple[str | None, float | None, str | None]]:
    """Name -> (band, headline percent, headline outcome), read from the notes the bundled list
    was made from."""
    text = _section((shared.parent / "docs" / "measures.md").read_text(encoding="utf-8"))
    bands = sorted(evidence.BANDS, key=len, reverse=True)
    found: dict[str, tuple[str | None, float | None, str | None]] = {}
    headline = text.split("Headline figures (confirmed, YEF strand pages):")[1]
    headline = headline.split("Rated without a captured figure:")[0]
    for item in headline.strip().rstrip(".").split(";"):
        match = re.fullmatch(r"(.+?) (\d+) % (.+?)(?: \(([^)]+)\))?", item.strip())
        assert match, item
        found[match[1]] = (match[4], float(match[2]), match[3])
    rated = text.split("Rated without a captured figure:")[1].split("Evidence-quality")[0]
    for item in rated.strip().rstrip(".").split(";"):
        item = item.strip().replace(" (low confidence)", "")
        band = next(b for b in bands if item.endswith(" " + b))
        for name in re.split(r", | and ", item.removesuffix(" " + band)):
            found[name] = (band, None, None)
    return found


def test_the_yef_list_matches_the_notes_it_was_made_from(shared):
    wanted = _doc_approaches(shared)
    assert len(wanted) >= 20
    bundled = {a.name: a for a in evidence.approaches()}
    assert set(bundled) == set(wanted)
    for name, (band, percent, outcome) in wanted.items():
        approach = bundled[name]
        assert (approach.band, approach.headline_percent, approach.headline_outcome) == (
            band, percent, outcome,
        ), name  # fmt: skip
        assert approach.evidence_rating is None and approach.cost_rating is None
        assert approach.source_url.startswith("https://youthendowmentfund.org.uk/toolkit/")
        if band is None:
            assert "impact band not captured" in approach.notes
        if percent is None:
            assert approach.headline == "headline figure not captured"
    assert evidence.find("Cognitive Behavioural Therapy") is bundled["CBT"]
    assert evidence.find("Scared straight") is bundled['prison awareness ("scared straight")']


# -- the schema --------------------------------------------------------------------------------


def test_an_older_workspace_gains_the_catalogue_table(tmp_path):
    root = tmp_path / "ws"
    make_workspace(root).close()
    con = duckdb.connect(str(root / DATABASE_FILE))
    con.execute("DROP TABLE interventions")
    con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    con.close()
    with Workspace.open(root, say=lambda _: None) as ws:
        iv.add(ws, {"id": "A", "name": "A", "tier": "primary", "status": "running"})
        assert [one.id for one in iv.current(ws)] == ["A"]
    assert list((root / "backups").glob("svduty-v5-*.duckdb"))
    assert SCHEMA_VERSION >= 6


def test_the_example_catalogue_imports_and_marks_what_is_invented(ws):
    from svduty.example import _catalogue, example_catalogue

    said: list[str] = []
    _catalogue(ws, ws.root, said.append)
    frame = iv.catalogue(ws)
    with example_catalogue().open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(frame["id"]) == sorted({r["id"] for r in rows})
    assert {"CLIMB", "GETSAFE", "PACE"} <= set(frame["id"])
    assert said == [f"interventions: {len(frame)} added, 0 changed, 0 unchanged (some values "
                    "ILLUSTRATIVE: see the file)"]  # fmt: skip
    published = {  # values the sources in each row's notes state
        ("PRE-ARREST-DIV", "capacity_per_year"), ("PRE-ARREST-DIV", "funding_start"),
        ("BRANCH", "age_max"), ("CCP-SV", "cost_per_year"), ("STEER-CLEAR-WM", "funding_end"),
    }  # fmt: skip
    for row in rows:
        invented = {c.strip() for c in row["illustrative"].split(";")}
        for column in ("age_min", "age_max", "capacity_per_year", "cost_per_year",
                       "funding_start", "funding_end"):  # fmt: skip
            if row[column] and (row["id"], column) not in published:
                assert column in invented, (row["id"], column)
    _catalogue(ws, ws.root, said.append)
    assert said[-1].startswith(f"interventions: 0 added, 0 changed, {len(frame)} unchanged")


def test_the_command_line_imports_edits_ends_and_shows_every_version(tmp_path):
    root = tmp_path / "ws"
    make_workspace(root).close()
    good = _write(tmp_path / "good.csv", _valid_rows())
    done = svduty("interventions", "import", str(good), "-w", str(root))
    assert done.returncode == 0, done.stderr
    assert f"{COUNT} added, 0 changed" in done.stdout
    again = svduty("interventions", "import", str(good), "-w", str(root))
    assert f"0 added, 0 changed (previous versions kept), {COUNT} unchanged" in again.stdout
    edited = svduty("interventions", "edit", "IV-01", "-w", str(root), "--capacity-per-year",
                    "65", "--areas", "Herefordshire; Shropshire")  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    ended = svduty("interventions", "end", "IV-01", "--on", "2025-09-30", "-w", str(root))
    assert ended.returncode == 0, ended.stderr
    shown = svduty("interventions", "show", "IV-01", "-w", str(root), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["intervention"]["status"] == "ended"
    assert document["intervention"]["areas"] == ["Herefordshire", "Shropshire"]
    assert document["evidence"]["impact_band"] == evidence.find("mentoring").band  # type: ignore[union-attr]
    assert [v["change"] for v in document["versions"]] == ["import", "edit", "end"]
    assert document["versions"][1]["changes"]["capacity_per_year"] == [50, 65]
    refused = svduty("interventions", "edit", "IV-01", "-w", str(root), "--age-max", "121")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "age_max '121': an impossible age (above 120)" in refused.stderr.splitlines()[-1]
    again = svduty("interventions", "end", "IV-01", "--on", "2025-10-31", "-w", str(root))
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "IV-01: already ended on 2025-09-30; nothing changed" in again.stderr.splitlines()[-1]


def test_the_command_line_names_the_options_and_writes_dash_to_standard_output(ws, tmp_path):
    iv.add(ws, {"id": "BARE", "name": "Bare", "tier": "primary", "status": "running"})
    expected = iv.export(ws, "csv").decode()  # json takes the same path to standard output
    ws.close()
    root, dash = str(ws.root), Path("-")
    assert not dash.exists()
    future = (date.today() + timedelta(days=400)).isoformat()
    calls = {
        "funding": ("edit", "BARE", "-w", root, "--funding-end", "2027-03-31"),
        "future": ("end", "BARE", "--on", future, "-w", root),
        "csv": ("export", "-w", root, "--format", "csv", "--output", "-"),
        "xlsx": ("export", "-w", root, "--format", "xlsx", "--output", "-"),
        "template": ("template", "--output", "-"),
    }
    done = {name: svduty("interventions", *args) for name, args in calls.items()}
    assert not dash.exists()
    refused = ("funding", "future", "xlsx")
    for name, run in done.items():
        assert run.returncode == (2 if name in refused else 0), (name, run.stderr)
        assert "Traceback" not in run.stderr, name
    last = {name: done[name].stderr.strip().splitlines()[-1] for name in refused}
    assert (
        "--funding-end: BARE has no funded period to change; give --funding-start"
        in last["funding"]
    )
    assert f"end BARE on {future}: that day is still to come" in last["future"]
    assert "--output -: an xlsx workbook is not text" in last["xlsx"]
    assert done["csv"].stdout.splitlines() == expected.splitlines()  # read as text: \n
    assert done["template"].stdout == evidence.data_path("template.csv").read_text("utf-8")
    with Workspace.open(ws.root, read_only=True) as reader:
        again = iv.get(reader, "BARE")
    assert again.status == "running" and not again.funding
