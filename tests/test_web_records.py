"""The dashboard's definition and clause filters and its record look-ups, served for real over
the workspace of tests/test_web.py with two more things ingested while it runs: a small
SYNTHETIC partner extract (offence codes, markers and ages, so local definitions take records
in and rules have values to read) and a police.uk file one of whose crime references is a
script."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
from pathlib import Path

import httpx
import pandas as pd
import pytest
from markupsafe import escape
from test_web import PASSWORDS, _signed_in, served  # noqa: F401 (served: the fixture)

from svduty.audit import read
from svduty.definitions import load_definition
from svduty.definitions.classify import NoSuchIncident, explain
from svduty.output import safe_for_spreadsheets
from svduty.publish import NOT_FOR_PUBLICATION, Policy
from svduty.sna import publications, selection_of
from svduty.web.definitions import one_clause
from svduty.workspace import Workspace

HOSTILE_REF = '<script>alert("ref")</script>'
LOCAL = "west-mercia-2022"


@pytest.fixture(scope="module")
def site(served, west_mercia, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    """The served workspace with the partner extract and the hostile file ingested by a writer
    while the dashboard runs (it reads the new data at its next request)."""
    from svduty.synth.check import synthetic_files
    from svduty.synth.generate import generate
    from svduty.synth.profile import load_profile

    root, base, _, _ = served
    folder = tmp_path_factory.mktemp("extract")
    generate(load_profile("west-mercia"), folder / "syn", scale=0.02, seed=3, start="2025-01")
    files, mappings = synthetic_files(folder / "syn")
    month = next(west_mercia.glob("2025-01/*street.csv"))
    with month.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[:21]
    for row in rows[1:]:
        row[1] = "2025-04"
    rows[1][0] = HOSTILE_REF
    hostile = folder / "2025-04-west-mercia-street.csv"
    with hostile.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with Workspace.open(root) as ws:
        ws.ingest(files, mappings=mappings)
        ws.ingest([hostile])
    return root, base


def _expected(root: Path, definition, internal: bool = False):
    """The published set computed here, as the reports compute it."""
    ws = Workspace.open(root, read_only=True)
    try:
        policy = Policy(ws.settings.disclosure_threshold, internal=internal)
        return publications(ws, selection_of(ws, definition), policy)
    finally:
        ws.close()


def _exported(client: httpx.Client, table: str, params: dict[str, str]) -> pd.DataFrame:
    answer = client.get(f"/export/{table}.csv", params=params)
    assert answer.status_code == 200, answer.text[:300]
    return pd.read_csv(io.StringIO(answer.text), dtype=str, keep_default_na=False)


def _figures(frame: pd.DataFrame, column: str = "count") -> list[int | None]:
    return [None if v in ("", "[c]", "no data") else int(v) for v in frame[column]]


def test_the_definition_filter_counts_by_the_definition_chosen(site):
    root, base = site
    client = _signed_in(base, "ana")
    chosen = load_definition(LOCAL)
    default = _expected(root, None)
    expected = _expected(root, chosen)
    page = client.get("/pages/trends", params={"definition": LOCAL})
    assert page.status_code == 200
    # the page says what it counts by, with the definition's caveat and clauses
    assert f"{LOCAL} v{chosen.version}" in page.text
    assert chosen.caveat in html.unescape(page.text)
    assert all(f"<code>{c.id}</code>" in page.text for c in chosen.clauses)
    for table in ("trends/monthly", "records/assessed"):
        section, name = table.split("/")
        for area in (None, "Shropshire"):
            params = {"definition": LOCAL, **({"area": area} if area else {})}
            shown = _exported(client, table, params)
            want = safe_for_spreadsheets(expected[area].table(section, name))
            assert _figures(shown) == [None if pd.isna(c) else int(c) for c in want["count"]]
    # and differ from the workspace's own definition's
    mine = _figures(_exported(client, "records/assessed", {}))
    theirs = _figures(_exported(client, "records/assessed", {"definition": LOCAL}))
    assert mine != theirs
    assert default[None].provenance["definition"]["id"] == "police-uk-open-data"
    assert expected[None].provenance["definition"]["sha256"] == chosen.sha256
    log = read(root)
    assert any(f"definition={LOCAL}" in p for p in log[log["action"] == "web view"]["parameters"])


def test_a_clause_counts_only_what_it_puts_in(site):
    root, base = site
    client = _signed_in(base, "ana")
    default = load_definition("police-uk-open-data")
    clause = one_clause(default, "robbery")
    assert clause.id == "police-uk-open-data#robbery" and clause.caveat == default.caveat
    expected = _expected(root, clause)
    published = _exported(client, "trends/monthly", {"clause": "robbery"})
    named = client.get("/export/trends/monthly.xlsx", params={"clause": "robbery"})
    disposition = named.headers["content-disposition"]
    assert 'filename="trends-monthly-all-police-uk-open-data-robbery.xlsx"' in disposition
    want = safe_for_spreadsheets(expected[None].table("trends", "monthly"))
    assert _figures(published) == [None if pd.isna(c) else int(c) for c in want["count"]]
    page = client.get("/pages/where", params={"clause": "robbery"})
    assert page.status_code == 200 and "police-uk-open-data#robbery v2024.1" in page.text
    # unsuppressed, month by month, the clause's count is within the definition's
    internal = {"view": "internal"}
    whole_frame = _exported(client, "trends/monthly", internal)
    part_frame = _exported(client, "trends/monthly", {**internal, "clause": "robbery"})
    whole = dict(zip(whole_frame["month"], _figures(whole_frame), strict=True))
    part = dict(zip(part_frame["month"], _figures(part_frame), strict=True))
    assert None not in whole.values() and None not in part.values()
    assert set(part) <= set(whole)
    assert all(part[m] <= whole[m] for m in part)
    assert 0 < sum(part.values()) < sum(whole.values())  # the data hold violence too


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"definition": "no-such-definition"}, "definition 'no-such-definition' is not one"),
        ({"clause": "county_lines"}, "clause 'county_lines' is not a clause of police-uk"),
        ({"definition": "home-office-firearm", "clause": "robbery"}, "clause 'robbery' is not"),
    ],
)
def test_an_unknown_definition_or_clause_is_refused_naming_the_choices(site, params, said):
    _, base = site
    client = _signed_in(base, "ana")
    for path in ("/pages/trends", "/export/trends/monthly.csv", "/records"):
        answer = client.get(path, params=params)
        assert answer.status_code == 400, path
        text = html.unescape(answer.text)
        assert said in text and "Traceback" not in text
        if "definition" in said:
            assert "west-mercia-2022" in text and "police-uk-open-data" in text  # the choices
        else:
            assert "its clauses:" in text


def _verdicts(page: str) -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
    """Each clause's verdict and its rules' (rule, verdict, values read), read off the page."""
    found = {}
    for clause, body in re.findall(r'id="clause-([\w-]+)">(.*?)</table>', page, re.S):
        verdict = re.search(r'Clause verdict: <span class="svduty-verdict">([^<]+)<', body)
        rows = re.findall(
            r'<td class="govuk-table__cell">([^<]*)</td><td class="govuk-table__cell '
            r'svduty-verdict">([^<]+)</td><td class="govuk-table__cell">([^<]*)</td>',
            body,
        )
        found[clause] = (verdict.group(1), [tuple(html.unescape(c) for c in r) for r in rows])
    return found


def _as_page(result) -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
    """What classify.explain says, in the page's words."""
    words = {True: "yes", False: "no", None: "cannot tell"}
    return {
        c.clause.id: (
            words[c.verdict],
            [
                (
                    r.rule,
                    words[r.verdict],
                    "; ".join(
                        f"{k} = {'no value' if v is None else v}" for k, v in r.values.items()
                    ),
                )
                for r in c.rules
            ],
        )
        for c in result.clauses
    }


def test_an_analyst_looks_a_record_up_and_sees_what_explain_says(site):
    root, base = site
    ws = Workspace.open(root, read_only=True)
    chosen = load_definition(LOCAL)
    extract = ws.con.execute(
        "SELECT batch_id, source_line, crime_ref FROM incidents "
        "WHERE source_kind = 'police_extract' ORDER BY 1, 2 LIMIT 400"
    ).fetchall()
    open_data = ws.con.execute(
        "SELECT batch_id, source_line FROM incidents WHERE source_kind = 'police_uk_street' "
        "ORDER BY 1, 2 LIMIT 1"
    ).fetchone()
    results = {}
    for b, line, _ in extract:  # until one record in and one out
        results[f"{b}-{line}"] = explain(ws.store, chosen, f"{b}-{line}")
        if len({r.in_definition for r in results.values()}) == 2:
            break
    version = ws.data_version
    ws.close()
    inside = next(k for k, r in results.items() if r.in_definition)
    outside = next(k for k, r in results.items() if not r.in_definition)
    ref = next(ref for b, line, ref in extract if f"{b}-{line}" == inside)
    client = _signed_in(base, "ana")
    for asked, key in ((inside, inside), (outside, outside), (ref, inside)):
        page = client.get("/records", params={"incident": asked, "definition": LOCAL})
        assert page.status_code == 200, page.text[:300]
        assert NOT_FOR_PUBLICATION in page.text
        verdict = "IN" if results[key].in_definition else "OUT"
        assert f'Record {key}: <span class="svduty-verdict" id="verdict">{verdict}</span>' in (
            page.text
        )
        assert _verdicts(page.text) == _as_page(results[key])
    # open data cannot show what a local definition needs: its rules cannot tell
    batch, line = open_data
    page = client.get("/records", params={"incident": f"{batch}-{line}", "definition": LOCAL})
    assert page.status_code == 200 and "cannot tell" in page.text
    # one clause on its own: only that clause is explained
    page = client.get(
        "/records", params={"incident": inside, "definition": LOCAL, "clause": "robbery"}
    )
    assert list(_verdicts(page.text)) == ["robbery"]
    # an unknown record is a clear 404, not a traceback
    missing = client.get("/records", params={"incident": "99999-1"})
    assert missing.status_code == 404
    assert "no incident '99999-1'" in html.unescape(missing.text)
    assert "Traceback" not in missing.text
    # every look-up is audited: who, what was asked, found or not, definition, data version
    log = read(root)
    looked = log[log["action"] == "web record look-up"]
    said = [json.loads(p) for p in looked["parameters"]]
    assert {"incident": inside, "definition": LOCAL, "version": chosen.version,
            "sha256": chosen.sha256, "found": True} in said  # fmt: skip
    assert {"incident": inside, "definition": f"{LOCAL}#robbery", "found": True}.items() <= (
        said[-2].items()
    )
    assert [p["found"] for p in said if p["incident"] in (ref, "99999-1")] == [True, False]
    assert set(looked["actor"]) == {"ana (analyst)"}
    assert set(looked["data_version"]) == {version}
    # the where and what pages lead an analyst to it, in the same view
    where = client.get("/pages/where", params={"definition": LOCAL}).text
    assert f'href="/records?definition={LOCAL}"' in where


def test_a_partner_may_not_look_a_record_up(site):
    root, base = site
    client = _signed_in(base, "hereford")
    before = len(read(root))
    answer = client.get("/records", params={"incident": "1-2"})
    assert answer.status_code == 403 and "record look-ups are for analysts" in answer.text
    log = read(root).iloc[before:]
    assert list(log["action"]) == ["web denied"]
    assert log["actor"].iloc[0] == "hereford (partner)"
    assert json.loads(log["parameters"].iloc[0])["path"] == "/records"
    assert 'href="/records' not in client.get("/pages/where").text
    anonymous = httpx.Client(base_url=base, follow_redirects=False)
    assert anonymous.get("/records", params={"incident": "1-2"}).status_code == 401


def test_text_from_a_record_is_shown_as_text_in_a_browser(site):
    """Chromium looks up the record whose crime reference is a script: the reference reads as
    text, no dialog opens, and the page's only scripts are the server's. A definition chosen
    in a page's filters goes into its URL."""
    from playwright.sync_api import sync_playwright

    root, base = site
    ws = Workspace.open(root, read_only=True)
    found = ws.con.execute(
        "SELECT batch_id, source_line FROM incidents WHERE crime_ref = ?", [HOSTILE_REF]
    ).fetchall()
    assert len(found) == 1
    key = f"{found[0][0]}-{found[0][1]}"
    said = explain(ws.store, load_definition("police-uk-open-data"), key)
    verdict = "IN" if said.in_definition else "OUT"
    ws.close()
    raw = _signed_in(base, "ana").get("/records", params={"incident": HOSTILE_REF})
    assert raw.status_code == 200 and f"Record {key}:" in raw.text
    assert HOSTILE_REF not in raw.text and str(escape(HOSTILE_REF)) in raw.text
    with pytest.raises(NoSuchIncident):
        ws = Workspace.open(root, read_only=True)
        try:
            explain(ws.store, load_definition("police-uk-open-data"), "<b>nothing</b>")
        finally:
            ws.close()
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is needed (make test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{base}/records")
        page.fill("#username", "ana")
        page.fill("#password", PASSWORDS["ana"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/records")
        page.fill("#incident", key)
        page.click("form[role=search] button")
        page.wait_for_load_state("networkidle")
        assert f"incident={key}" in page.url
        assert page.inner_text("#verdict") == verdict
        assert HOSTILE_REF in page.inner_text("#facts")
        assert page.locator("script:not([src])").count() == 0
        assert NOT_FOR_PUBLICATION in page.inner_text("main")
        # the definition chosen in a page's filters goes into its URL, to share
        page.goto(f"{base}/pages/trends")
        page.select_option("#definition", LOCAL)
        page.click("form.svduty-filters button")
        page.wait_for_load_state()
        assert f"definition={LOCAL}" in page.url
        assert f"{LOCAL} v" in page.inner_text("#definition-in-force")
        browser.close()
    assert dialogs == []
