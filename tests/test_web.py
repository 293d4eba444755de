"""The dashboard served for real (uvicorn on a loopback port) over a workspace of three months
of West Mercia's open data, one of whose files has a name written to attack the page and one
of which is marked synthetic. Requests
go over HTTP; the browser test drives Debian's Chromium."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import openpyxl
import pandas as pd
import pytest
import uvicorn
from conftest import make_workspace, svduty
from scanner import recoverable, small_counts
from starlette.routing import Mount

from svduty.analysis.assessment import assess, csp_districts, district_names
from svduty.audit import read
from svduty.example import WEST_MERCIA
from svduty.output import safe_for_spreadsheets
from svduty.publish import Policy
from svduty.reference.places import places
from svduty.sna import district_publication, publications, selection_of
from svduty.web.app import PUBLIC, access, create_app
from svduty.web.sessions import LOGIN_FAILURES
from svduty.web.views import PAGES, chart_specs
from svduty.workspace import Workspace

PASSWORDS = {
    "boss": "admin-password-1",
    "ana": "analyst-password-1",
    "hereford": "partner-password-1",
    "tries": "tries-password-1",
}
HOSTILE = '<img src=x onerror="alert(1)">.csv'


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def served(tmp_path_factory, west_mercia):
    """The workspace, its users (added with the command), and the server's address. The modules
    that serve the dashboard each change their copy (users, settings, the catalogue), so each
    serves a copy of its own of a workspace made once by the test process."""
    base = tmp_path_factory.getbasetemp() / "web-base"
    if not (base / "built").exists():
        shutil.rmtree(base, ignore_errors=True)  # what a failed build in a module before left
        base.mkdir()
        _users_and_data(base / "ws", west_mercia)
        (base / "built").touch()
    root = Path(shutil.copytree(base / "ws", tmp_path_factory.mktemp("web") / "ws"))
    app = create_app(root, prepare_wait=120)  # a page waits for its figures here
    records = Records()
    access.addHandler(records)
    access.setLevel(logging.INFO)
    with _serving(app) as base_url:
        yield root, base_url, app, records
    access.removeHandler(records)
    app.state.published.close()


def _users_and_data(root: Path, west_mercia: Path) -> None:
    ws = make_workspace(root, settings=replace(WEST_MERCIA, definition="police-uk-open-data"))
    month = next(west_mercia.glob("2025-01/*street.csv"))
    hostile = root.parent / HOSTILE
    shutil.copyfile(month, hostile)
    ws.ingest([hostile, next(west_mercia.glob("2025-02/*street.csv"))])
    # a month marked synthetic: every page must say the figures include it
    ws.ingest([next(west_mercia.glob("2025-03/*street.csv"))], synthetic=True)
    ws.close()
    for name, role, areas in (
        ("boss", "admin", []),
        ("ana", "analyst", []),
        ("hereford", "partner", ["--area", "Herefordshire"]),
        ("tries", "analyst", []),
    ):
        done = _add(root, name, role, areas, PASSWORDS[name])
        assert done.returncode == 0, done.stderr


@contextmanager
def _serving(app):
    """The app on a free loopback port, in a thread, for as long as the block runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _add(root: Path, name: str, role: str, areas: list[str], password: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "svduty.cli", "users", "add", name, "-w", str(root), "--role", role,
         *areas, "--password-stdin"],
        input=password + "\n", capture_output=True, text=True,
    )  # fmt: skip


def _signed_in(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    done = client.post(
        "/login", data={"csrf": token, "username": name, "password": PASSWORDS[name], "next": "/"}
    )
    assert done.status_code == 303, done.text
    return client


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_every_route_but_the_public_ones_needs_a_session(served):
    """The routes are read from the app, so a route added later is checked too."""
    _, base, app, _ = served
    checked = 0
    with httpx.Client(base_url=base, follow_redirects=False) as anonymous:
        for route in app.routes:
            if isinstance(route, Mount):
                assert route.path + "/" in PUBLIC  # static files only
                assert anonymous.get("/static/svduty.css").status_code == 200
                continue
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            public = any(path == p or path.startswith(p) for p in PUBLIC if p.endswith("/")) or (
                path in PUBLIC
            )
            for method in route.methods - {"HEAD"}:
                answer = anonymous.request(method, path, headers={"Accept": "text/html"})
                if public:
                    assert answer.status_code in (200, 204, 403), (method, path)
                    continue
                checked += 1
                if method == "GET" and not path.startswith("/export/"):
                    assert answer.status_code == 303, (method, path)
                    assert answer.headers["location"].startswith("/login?next=")
                else:
                    assert answer.status_code == 401, (method, path)
                api = anonymous.request(method, path)  # not a browser: told, not sent
                assert api.status_code == 401, (method, path)
    assert checked >= 5
    with httpx.Client(base_url=base) as anonymous:
        health = anonymous.get("/health").json()
        assert health["status"] == "ok" and health["area"] == "West Mercia"


def test_an_analyst_signs_in_views_filters_exports_and_signs_out(served):
    root, base, _, records = served
    client = _signed_in(base, "ana")
    ws = Workspace.open(root, read_only=True)
    policy = Policy(ws.settings.disclosure_threshold)
    expected = publications(ws, selection_of(ws), policy)
    ws.close()
    for name in ("overview", "trends", "where", "when", "what", "themes", "quality"):
        path = "/" if name == "overview" else f"/pages/{name}"
        page = client.get(path, params={"area": "Shropshire"})
        assert page.status_code == 200, (name, page.text[:300])
        assert "Shropshire" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
    # the exported table is the published one, read back from CSV and from Excel
    table = safe_for_spreadsheets(expected["Shropshire"].table("trends", "monthly"))
    csv = client.get("/export/trends/monthly.csv", params={"area": "Shropshire"})
    assert csv.status_code == 200
    read_back = pd.read_csv(io.StringIO(csv.text), dtype=str, keep_default_na=False)
    assert list(read_back["month"]) == list(table["month"])
    # as the page reads: a hidden count is [c], a count a whole number
    shown = ["[c]" if pd.isna(c) else str(int(c)) for c in table["count"]]
    assert list(read_back["count"]) == shown
    xlsx = client.get("/export/trends/monthly.xlsx", params={"area": "Shropshire"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(table.columns) and len(rows) == len(table) + 1
    counts = [r[list(table.columns).index("count")] for r in rows[1:]]
    assert [c if c == "[c]" else str(c) for c in counts] == shown
    assert all(isinstance(c, int) for c in counts if c != "[c]")
    # the unsuppressed view is the analyst's, and says so
    internal = client.get("/pages/trends", params={"view": "internal"})
    assert internal.status_code == 200 and "NOT FOR PUBLICATION" in internal.text
    # every view and export is in the audit log with its filters
    log = read(root)
    mine = log[log["actor"] == "ana (analyst)"]
    assert {"web login", "web view", "web export"} <= set(mine["action"])
    assert any("area=Shropshire" in p for p in mine["parameters"])
    # signed out, the same cookie opens nothing
    page = client.get("/")
    out = client.post("/logout", data={"csrf": _csrf(page.text)})
    assert out.status_code == 303
    stolen = httpx.Client(base_url=base, cookies=dict(client.cookies), follow_redirects=False)
    assert stolen.get("/pages/trends").status_code == 401
    assert all("analyst-password-1" not in line for line in records.lines)


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/"]
)
def test_signing_in_goes_nowhere_but_this_server(served, target):
    _, base, _, _ = served
    client = httpx.Client(base_url=base, follow_redirects=False)
    token = _csrf(client.get("/login").text)
    done = client.post(
        "/login",
        data={"csrf": token, "username": "ana", "password": PASSWORDS["ana"], "next": target},
    )
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_a_form_without_its_csrf_token_is_refused(served):
    _, base, _, _ = served
    client = _signed_in(base, "ana")
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf": "guessed"}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    anonymous = httpx.Client(base_url=base, follow_redirects=False)
    anonymous.get("/login")
    refused = anonymous.post(
        "/login", data={"csrf": "x", "username": "ana", "password": PASSWORDS["ana"]}
    )
    assert refused.status_code == 403


def test_a_partner_sees_their_csp_and_the_whole_area_never_another_csp(served):
    root, base, _, _ = served
    client = _signed_in(base, "hereford")
    whole = client.get("/pages/trends")
    assert whole.status_code == 200
    assert "Herefordshire" in whole.text and "Shropshire" not in whole.text
    assert client.get("/pages/trends", params={"area": "Herefordshire"}).status_code == 200
    # no other CSP is named anywhere: not a row, a column, a sentence or a chart of the force's
    others = [c for c in WEST_MERCIA.csps if c != "Herefordshire"]
    analyst = _signed_in(base, "ana").get("/pages/where").text
    assert all(o in analyst for o in others)  # the whole area's page names them all
    for name in PAGES:
        for params in ({}, {"area": "Herefordshire"}):
            text = client.get(f"/pages/{name}", params=params).text
            assert not [o for o in others if o in text], (name, params)
    rates = client.get("/export/where/csp_rates.csv").text
    assert "Herefordshire" in rates and not [o for o in others if o in rates]
    # nor any of their districts, by name or code (Worcester, Malvern Hills, ...)
    ws = Workspace.open(root, read_only=True)
    known = places(ws.store)
    ws.close()
    codes = {code for o in others for code in WEST_MERCIA.csps[o]}
    districts = set(known[known["la_code"].isin(codes)]["la_name"]) | codes
    named = re.compile(r"\b(" + "|".join(map(re.escape, districts)) + r")\b")
    assert "Worcester" in districts and named.search(analyst)
    for name in PAGES:
        text = client.get(f"/pages/{name}").text
        assert named.search(text) is None, (name, named.search(text))
    before = len(read(root))
    for path, params in (
        ("/pages/trends", {"area": "Shropshire"}),
        ("/export/trends/monthly.csv", {"area": "Shropshire"}),
        ("/pages/trends", {"view": "internal"}),
        ("/audit", {}),
        # a set of one's own could be subtracted from the published one
        ("/pages/trends", {"start": "2025-02"}),
        ("/export/trends/monthly.csv", {"end": "2025-02"}),
        ("/pages/what", {"definition": "home-office-knife-sharp"}),
        ("/pages/what", {"clause": "robbery"}),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == 403, (path, params)
    log = read(root).iloc[before:]
    denied = log[log["action"] == "web denied"]
    assert len(denied) == 8 and set(denied["actor"]) == {"hereford (partner)"}
    # the definition in force, named, is the published set
    assert (
        client.get("/pages/what", params={"definition": "police-uk-open-data"}).status_code == 200
    )
    page = client.get("/pages/trends").text
    assert 'name="start"' not in page and "for analysts" in page


def test_failed_sign_ins_are_limited_and_logged_without_the_password(served):
    root, base, _, records = served
    client = httpx.Client(base_url=base, follow_redirects=False)
    for _ in range(LOGIN_FAILURES):
        token = _csrf(client.get("/login").text)
        wrong = client.post(
            "/login", data={"csrf": token, "username": "tries", "password": "not-the-password-9"}
        )
        assert wrong.status_code == 401
    token = _csrf(client.get("/login").text)
    right = client.post(
        "/login", data={"csrf": token, "username": "tries", "password": PASSWORDS["tries"]}
    )
    assert right.status_code == 429  # even the right password, until the window has passed
    log = read(root)
    failed = log[log["action"] == "web login failed"]
    assert len(failed) >= LOGIN_FAILURES
    text = log.to_csv() + "\n".join(records.lines)
    assert "not-the-password-9" not in text and PASSWORDS["tries"] not in text


def test_every_page_says_how_many_synthetic_records_its_figures_include(served):
    root, base, _, _ = served
    ws = Workspace.open(root, read_only=True)
    marked = ws.con.execute("SELECT sum(rows_accepted) FROM batches WHERE synthetic").fetchone()[0]
    ws.close()
    assert marked > 0
    client = _signed_in(base, "hereford")
    for path in ("/", "/pages/trends", "/pages/quality"):
        page = client.get(path)
        assert f"These figures include {marked:,} SYNTHETIC records" in page.text, path


def test_text_from_the_data_is_shown_as_text(served):
    _, base, _, _ = served
    client = _signed_in(base, "ana")
    page = client.get("/pages/quality")
    assert page.status_code == 200
    assert 'onerror="alert(1)"' not in page.text
    assert "&lt;img src=x onerror=" in page.text  # the file's name, escaped
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_an_admin_reads_the_audit_log(served):
    _, base, _, _ = served
    client = _signed_in(base, "boss")
    page = client.get("/audit")
    assert page.status_code == 200 and "web login" in page.text


def test_users_commands_refuse_what_they_cannot_do(served, tmp_path):
    root, _, _, _ = served
    short = _add(root, "newcomer", "analyst", [], "short")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    unknown = _add(root, "newcomer", "partner", ["--area", "Atlantis"], "long-enough-password")
    assert unknown.returncode == 2 and "'Atlantis' is not a CSP" in unknown.stderr
    twice = _add(root, "ana", "analyst", [], "long-enough-password")
    assert twice.returncode == 2 and "exists" in twice.stderr
    listed = svduty("users", "list", "-w", str(root), "--format", "json")
    assert {u["name"] for u in json.loads(listed.stdout)} == set(PASSWORDS)
    assert "Traceback" not in short.stderr + unknown.stderr + twice.stderr


def _not_blank(png: Path) -> bool:
    from PIL import Image

    pixels = Image.open(png).convert("L").getextrema()
    return pixels[1] - pixels[0] > 100


def test_a_browser_signs_in_filters_shares_exports_and_signs_out(served, tmp_path):
    """Debian's Chromium through Playwright: a shared URL opened before signing in is where
    the sign-in lands; every page takes a filter change into its URL; an export downloads; a
    partner is refused another CSP's page; signing out ends the session."""
    from playwright.sync_api import sync_playwright

    from svduty.web.views import CHARTED

    root, base, _, _ = served
    code, district, csp = _a_district(root)
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is needed (make test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        page.goto(f"{base}/pages/where?area=Shropshire")
        assert "/login" in page.url
        page.fill("#username", "ana")
        page.fill("#password", PASSWORDS["ana"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/pages/where?area=Shropshire")
        assert "Shropshire" in page.inner_text("h1")
        drawn: dict[str, int] = {}
        for name, (title, _) in PAGES.items():
            page.goto(f"{base}/pages/{name}")
            page.select_option("#area", "Herefordshire")
            page.fill("#start", "2025-01")
            page.click("form.svduty-filters button")
            page.wait_for_load_state()
            assert "area=Herefordshire" in page.url and "start=2025-01" in page.url, name
            assert page.inner_text("h1").startswith(title)
            page.wait_for_load_state("networkidle")
            figures = page.locator("figure.svduty-chart")
            drawn[name] = figures.count()
            # each chart drawn by Vega, its table a click away
            assert page.locator("figure.svduty-chart .svduty-vega svg").count() == drawn[name]
            if drawn[name]:
                assert name in CHARTED
                page.locator("figure.svduty-chart summary").first.click()
                assert page.locator("figure.svduty-chart table").first.is_visible()
            shot = tmp_path / f"{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert _not_blank(shot), name
        assert drawn["trends"] and drawn["where"], drawn  # open data: no hours, so no "when"
        # a district, chosen under its CSP in the list, names itself and its CSP
        page.goto(f"{base}/pages/where")
        page.select_option("#area", label=f"{district} (district)")
        page.click("form.svduty-filters button")
        page.wait_for_url(f"**area={code}**")
        assert district in page.inner_text("h1") and csp in page.inner_text("h1")
        assert page.locator("#area option:checked").inner_text() == f"{district} (district)"
        page.goto(f"{base}/pages/trends?area=Herefordshire")
        with page.expect_download() as waiting:
            page.click("#trends-monthly a:text('CSV')")
        saved = waiting.value.path()
        header = Path(saved).read_text().splitlines()[0]
        assert header.startswith("month,")
        page.click("text=Sign out")
        page.wait_for_url(f"{base}/login")
        page.goto(f"{base}/pages/trends")
        assert "/login" in page.url
        partner = browser.new_page()
        partner.goto(f"{base}/login")
        partner.fill("#username", "hereford")
        partner.fill("#password", PASSWORDS["hereford"])
        partner.click("button[type=submit]")
        partner.wait_for_url(f"{base}/")
        answer = partner.goto(f"{base}/pages/who?area=Shropshire")
        assert answer is not None and answer.status == 403
        assert "Not allowed" in partner.inner_text("h1")
        browser.close()


def test_the_load_test_browses_every_view_and_leaves_no_user_behind(served):
    """`svduty bench dashboard`'s engine, small: its own server process, a few users, a few
    seconds; every view answered, and its user gone afterwards."""
    from svduty.web.accounts import users
    from svduty.web.load import load_test

    root, _, _, _ = served
    before = {u.name for u in users(root)}
    said: list[str] = []
    result = load_test(root, users=3, seconds=2, say=said.append, think=0.1)
    assert result.errors == 0 and result.requests >= 3
    assert result.first_views == len(PAGES) * 6  # every page, the whole area and its five CSPs
    assert result.cached_p95_ms <= result.cached_max_ms
    assert result.peak_rss_mb is not None and result.peak_rss_mb > 10  # the server's, in MB
    assert {u.name for u in users(root)} == before
    assert any("browsing" in line for line in said)


def test_a_public_dashboard_serves_the_published_pages_to_anyone_and_nothing_more(served):
    root, _, _, _ = served
    app = create_app(root, public=True, prepare_wait=120)
    try:
        with (
            _serving(app) as base,
            httpx.Client(base_url=base, follow_redirects=False, timeout=120) as anyone,
        ):
            overview = anyone.get("/")
            assert overview.status_code == 200 and "The public view" in overview.text
            assert anyone.get("/pages/trends", params={"area": "Shropshire"}).status_code == 200
            assert anyone.get("/export/trends/monthly.csv").status_code == 200
            quality = anyone.get("/pages/quality")
            assert quality.status_code == 200 and "Batches ingested" not in quality.text
            assert anyone.get("/pages/trends", params={"view": "internal"}).status_code == 403
            # no district is offered, and one asked for by URL is refused
            code, _, _ = _a_district(root)
            assert f'value="{code}"' not in overview.text
            assert anyone.get("/pages/trends", params={"area": code}).status_code == 403
            assert anyone.get("/audit").status_code == 401
            assert anyone.post("/logout").status_code == 401
    finally:
        app.state.published.close()
    log = read(root)
    mine = log[log["actor"] == "public (public)"]
    assert {"web view", "web export", "web denied"} <= set(mine["action"])
    refused = mine[(mine["action"] == "web denied") & mine["parameters"].str.contains("district")]
    assert len(refused) == 1


def test_the_gaps_page_reads_the_catalogue_as_it_stands(served, tmp_path):
    """Without a catalogue every need is uncovered and the page says why; an intervention
    imported while the dashboard runs shows at the next view, serving the area it names."""
    root, base, _, _ = served
    client = _signed_in(base, "ana")
    before = client.get("/pages/gaps")
    assert before.status_code == 200
    assert "no interventions catalogue" in before.text and "Gaps, ranked by need" in before.text
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(
        "id,name,tier,status,areas,age_min,age_max,capacity_per_year\n"
        "HF-YOUTH,Hereford youth work,secondary,running,Herefordshire,10,17,40\n"
    )
    done = svduty("interventions", "import", str(catalogue), "-w", str(root))
    assert done.returncode == 0, done.stderr
    after = client.get("/pages/gaps", params={"area": "Herefordshire"})
    assert after.status_code == 200 and "Hereford youth work" in after.text
    assert "no interventions catalogue" not in after.text
    shown = client.get("/export/gaps/interventions.csv", params={"area": "Herefordshire"})
    assert "Hereford youth work" in shown.text


def _districts_of(root: Path) -> dict[str, tuple[str, ...]]:
    """Each CSP's district codes, as the workspace's lookup has them."""
    ws = Workspace.open(root, read_only=True)
    try:
        return csp_districts(ws.store, ws.settings, None)
    finally:
        ws.close()


def _a_district(root: Path) -> tuple[str, str, str]:
    """A district of a CSP of several districts: its code, name and CSP."""
    groups = _districts_of(root)
    csp = next(c for c, codes in groups.items() if len(codes) > 1)
    code = groups[csp][0]
    ws = Workspace.open(root, read_only=True)
    try:
        name = district_names(ws.store, (code,))[code]
    finally:
        ws.close()
    return code, name, csp


def _csv(client: httpx.Client, table: str, **params: str) -> pd.DataFrame:
    answer = client.get(f"/export/{table}.csv", params=params)
    assert answer.status_code == 200, (table, params, answer.text[:300])
    return pd.read_csv(io.StringIO(answer.text), dtype=str, keep_default_na=False)


def test_an_analyst_district_view_is_the_district_own_analysis_on_every_page(served):
    """A district chosen by its code: every page and export answers; the unsuppressed figures
    are `assess` run for that district alone; its rate is over its own residents (from the
    population table), compared with its CSP's and the whole area's; the published figures are
    the district's own set, and the whole area's set holds no district."""
    root, base, _, _ = served
    code, name, csp = _a_district(root)
    client = _signed_in(base, "ana")
    ws = Workspace.open(root, read_only=True)
    selection = selection_of(ws).for_district(code, csp)
    found = assess(ws.store, ws.settings, selection)
    areas = ws.store.table("areas").to_pandas()
    policy = Policy(ws.settings.disclosure_threshold)
    published = district_publication(ws, selection, policy)
    whole_set = publications(ws, selection_of(ws), policy)
    area_name = ws.settings.area
    csps = list(ws.settings.csps)
    ws.close()
    assert set(whole_set) == {None, *csps}
    for page_name in PAGES:
        page = client.get(f"/pages/{page_name}", params={"area": code})
        assert page.status_code == 200, (page_name, page.text[:300])
        heading = re.search(r"<h1.*?</h1>", page.text, re.S)
        assert heading and name in heading.group(0) and csp in heading.group(0), page_name
        if page_name in ("gaps", "measures"):  # set for the whole area and CSPs: see the CSP's
            assert f'href="/pages/{page_name}?area={quote_plus(csp)}"' in page.text, page_name
    # the analyst's list offers every CSP's districts under it
    options = set(re.findall(r'<option value="([^"]*)"', page.text))
    assert {c for codes in _districts_of(root).values() for c in codes} <= options
    internal = {"area": code, "view": "internal"}
    monthly = _csv(client, "trends/monthly", **internal)
    expected = found.results["trend"].monthly
    assert list(monthly["month"]) == list(expected["month"])
    assert [int(c) for c in monthly["count"]] == [int(c) for c in expected["count"]]
    assert (
        0
        < sum(int(c) for c in monthly["count"])
        < sum(int(c) for c in _csv(client, "trends/monthly", area=csp, view="internal")["count"])
    )
    deprivation = _csv(client, "where/deprivation", **internal)
    mine = found.results["deprivation"]
    assert [int(c) for c in deprivation["count"]] == [int(c) for c in mine["count"]]
    assert [int(p) for p in deprivation["population"]] == [int(p) for p in mine["population"]]
    # the district's residents, from the population table: its 2021 LSOAs' 2024 estimates
    residents = int(areas[(areas["la_code"] == code) & areas["in_2021"]]["population"].sum())
    csp_residents = int(areas[(areas["csp_name"] == csp) & areas["in_2021"]]["population"].sum())
    assert 0 < residents < csp_residents
    assert sum(int(p) for p in deprivation["population"]) == residents
    rated = _csv(client, "where/district_rates", **internal)
    assert list(rated["area"]) == [name] and int(rated["population"][0]) == residents
    months = found.results["coverage"].with_data
    count = int(rated["count"][0])
    assert count == sum(int(c) for c in monthly["count"])
    rate = count / residents * 1000 * 12 / len(months)
    assert float(rated["rate"][0]) == pytest.approx(rate, abs=1e-3)
    # compared with its CSP and the whole area, as a CSP is with the whole area
    assert list(_csv(client, "where/csp_rates", **internal)["area"]) == [csp]
    assert list(_csv(client, "where/area_rate", **internal)["area"]) == [area_name]
    # the published figures are the district's own set's
    shown = _csv(client, "trends/monthly", area=code)
    table = published.table("trends", "monthly")
    assert list(shown["count"]) == ["[c]" if c is None else str(int(c)) for c in table["count"]]
    # its chart files, its map layers, and the downloads named after it
    drawn = chart_specs(published, "trends")[0][0]
    chart = client.get(f"/export/chart/trends/{drawn.id}.csv", params={"area": code})
    assert chart.status_code == 200 and code in chart.headers["content-disposition"]
    for layer in ("districts", "csps", "hotspots"):
        answer = client.get(f"/map/{layer}.geojson", params={"area": code})
        assert answer.status_code == 200, (layer, answer.text[:200])
    features = client.get("/map/districts.geojson", params={"area": code}).json()["features"]
    assert [f["properties"]["area"] for f in features] == [name]


def test_an_area_not_of_the_partnership_is_refused_naming_those_allowed(served):
    _, base, _, _ = served
    client = _signed_in(base, "ana")
    answer = client.get("/pages/where", params={"area": "E07999999"})
    assert answer.status_code == 400
    assert "E07999999" in answer.text and "Herefordshire" in answer.text
    code, _, _ = _a_district(served[0])
    assert code in answer.text


def test_a_partner_is_refused_every_district_even_of_their_own_csp(served):
    """Districts are for analysts: a partner is offered none, and asking for any by URL (of
    their own CSP or another's) is refused and audited, page, export and map alike."""
    root, base, _, _ = served
    groups = _districts_of(root)
    client = _signed_in(base, "hereford")
    page = client.get("/pages/where", params={"area": "Herefordshire"})
    assert page.status_code == 200
    options = set(re.findall(r'<option value="([^"]*)"', page.text))
    assert options == {"", "Herefordshire"}
    before = len(read(root))
    asked = [groups["Herefordshire"][0], groups["Shropshire"][0]]
    paths = ("/pages/where", "/export/trends/monthly.csv", "/map/districts.geojson")
    for code in asked:
        for path in paths:
            answer = client.get(path, params={"area": code})
            assert answer.status_code == 403, (code, path)
            assert "for analysts" in answer.text, (code, path)
    log = read(root).iloc[before:]
    denied = log[log["action"] == "web denied"]
    assert len(denied) == len(asked) * len(paths)
    assert set(denied["actor"]) == {"hereford (partner)"}
    assert denied["parameters"].str.contains("district").all()


def test_a_district_set_is_controlled_on_its_own(served):
    """A district's published report alone: no small count shown, and linear programming over
    its tables and their hierarchies pins down no hidden cell; at the workspace's threshold
    and at one high enough to hide cells of this district (so the check has bite)."""
    root, _, _, _ = served
    code, _, csp = _a_district(root)
    ws = Workspace.open(root, read_only=True)
    selection = selection_of(ws).for_district(code, csp)
    thresholds = (ws.settings.disclosure_threshold, 30)
    shown = [district_publication(ws, selection, Policy(t)) for t in thresholds]
    truth = district_publication(ws, selection, Policy(0, internal=True))
    ws.close()

    def summary(pub):
        return {pub.id: {"sections": pub.sections(), "count_columns": pub.count_columns}}

    def counts_shown(pub, threshold: int) -> list:
        """Small counts shown, but for the months a rate is over (the workspace holds three)."""
        number = re.compile(r"'(\d+)' in ")
        return [
            f
            for f in small_counts(summary(pub), threshold)
            if not ((n := number.match(f.what)) and f"{n.group(1)} months with data" in f.what)
        ]

    def hidden(pub) -> int:
        return sum(
            int(pub.tables[key][column].isna().sum())
            for key, columns in pub.count_columns.items()
            for column in columns
            if key in pub.tables and column in pub.tables[key]
        )

    assert {p.id for p in [*shown, truth]} == {code}
    assert hidden(truth) == 0 and hidden(shown[1]) > 0
    for pub, threshold in zip(shown, thresholds, strict=True):
        assert counts_shown(pub, threshold) == [], threshold
        assert recoverable(summary(pub), summary(truth), code) == [], threshold
