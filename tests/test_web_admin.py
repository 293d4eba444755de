"""The dashboard's chart files and its admin pages, served for real (uvicorn on loopback) over the
same workspace as tests/test_web.py: charts downloaded as the report draws them, users managed
and the notice set from the browser's forms, each change audited and refused to anyone else."""

from __future__ import annotations

import io
import json
import re

import httpx
import pandas as pd
import test_web
from matplotlib.image import imread
from test_web import _csrf, _signed_in

from svduty.audit import read
from svduty.output import safe_for_spreadsheets
from svduty.publish import Policy
from svduty.sna import publications, selection_of
from svduty.web.chart_files import chart_table
from svduty.web.views import chart_specs
from svduty.workspace import Workspace

served = test_web.served  # the same workspace and server, made for this module


def _published(root, internal: bool = False):
    ws = Workspace.open(root, read_only=True)
    found = publications(
        ws, selection_of(ws), Policy(ws.settings.disclosure_threshold, internal=internal)
    )
    ws.close()
    return found


def _sign_in_as(base: str, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
    token = _csrf(client.get("/login").text)
    done = client.post("/login", data={"csrf": token, "username": name, "password": password})
    assert done.status_code in (303, 401), done.text
    return client


def test_each_chart_downloads_as_the_report_draws_it(served):
    root, base, _, _ = served
    client = _signed_in(base, "ana")
    published = _published(root)["Shropshire"]
    charts = chart_specs(published, "trends")
    assert charts
    page = client.get("/pages/trends", params={"area": "Shropshire"})
    described = re.findall(r'"description": "([^"]*)"', page.text)
    assert described and all(d.endswith("Its table is below.") for d in described)
    where = client.get("/pages/where").text
    assert "CSP rates" in where and "Csp rates" not in where
    for chart, _ in charts:
        link = f"/export/chart/trends/{chart.id}"
        assert f'{link}.svg?area=Shropshire"' in page.text
        svg = client.get(f"{link}.svg", params={"area": "Shropshire"})
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text.startswith("<?xml") and "<svg" in svg.text
        assert chart.title.split(":")[0] in svg.text
        # the file says what it shows: the area, and that the figures include synthetic records
        assert "(Shropshire)" in svg.text and "SYNTHETIC data" in svg.text
        png = client.get(f"{link}.png", params={"area": "Shropshire"})
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
        height, width = imread(io.BytesIO(png.content)).shape[:2]
        assert width > 300 and height > 150
        csv = client.get(f"{link}.csv", params={"area": "Shropshire"})
        shown = pd.read_csv(io.StringIO(csv.text), dtype=str, keep_default_na=False)
        expected = safe_for_spreadsheets(chart_table(chart)).astype(object)
        assert list(shown.columns) == [str(c) for c in expected.columns]
        for column in expected.columns[1:]:
            assert [float(v) if v else None for v in shown[column]] == [
                None if v is None else float(v) for v in expected[column]
            ]
        assert "attachment" in csv.headers["content-disposition"]
    log = read(root)
    exported = log[(log["action"] == "web export") & (log["actor"] == "ana (analyst)")]
    said = [json.loads(p) if isinstance(p, str) else p for p in exported["parameters"]]
    formats = {p["format"] for p in said if "chart" in p}
    assert formats == {"svg", "png", "csv"}
    assert client.get("/export/chart/trends/no-such-chart.svg").status_code == 404
    assert client.get(f"/export/chart/trends/{charts[0][0].id}.exe").status_code == 404


def test_an_unsuppressed_chart_file_says_not_for_publication(served):
    root, base, _, _ = served
    client = _signed_in(base, "ana")
    chart = chart_specs(_published(root, internal=True)[None], "trends")[0][0]
    svg = client.get(f"/export/chart/trends/{chart.id}.svg", params={"view": "internal"})
    assert svg.status_code == 200 and "NOT FOR PUBLICATION" in svg.text
    csv = client.get(f"/export/chart/trends/{chart.id}.csv", params={"view": "internal"})
    assert csv.text.startswith("NOT FOR PUBLICATION,")


def test_a_partner_gets_no_chart_of_another_csp(served):
    root, base, _, _ = served
    partner = _signed_in(base, "hereford")
    chart = chart_specs(_published(root)["Shropshire"], "trends")[0][0]
    refused = partner.get(f"/export/chart/trends/{chart.id}.png", params={"area": "Shropshire"})
    assert refused.status_code == 403
    mine = partner.get(f"/export/chart/trends/{chart.id}.png", params={"area": "Herefordshire"})
    assert mine.status_code == 200
    log = read(root)
    assert any(
        a == "web denied" and "hereford" in actor
        for a, actor in zip(log["action"], log["actor"], strict=True)
    )


def test_only_an_admin_reaches_the_users_and_settings(served):
    _, base, _, _ = served
    for name in ("ana", "hereford"):
        client = _signed_in(base, name)
        for path in ("/admin/users", "/admin/settings"):
            assert client.get(path).status_code == 403, (name, path)
        token = _csrf(client.get("/").text)
        refused = client.post("/admin/users", data={"csrf": token, "name": "x1", "role": "admin"})
        assert refused.status_code == 403
    admin = _signed_in(base, "boss")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "ana" in page.text
    missing = admin.post("/admin/users", data={"name": "x2", "role": "admin"})
    assert missing.status_code == 403  # no CSRF token


def test_an_admin_adds_a_partner_who_signs_in_with_the_password_shown_once(served):
    root, base, _, records = served
    admin = _signed_in(base, "boss")
    token = _csrf(admin.get("/admin/users").text)
    added = admin.post(
        "/admin/users",
        data={"csrf": token, "name": "worcs", "role": "partner", "areas": "North Worcestershire"},
    )
    assert added.status_code == 201, re.findall(r'role="alert">(.*?)</div></div>', added.text)
    assert added.headers["cache-control"] == "no-store"
    password = re.search(r'<code id="new-password">([^<]+)</code>', added.text).group(1)
    assert len(password) >= 20
    partner = _sign_in_as(base, "worcs", password)
    assert partner.get("/pages/trends", params={"area": "North Worcestershire"}).status_code == 200
    assert partner.get("/pages/trends", params={"area": "Shropshire"}).status_code == 403
    # the password is in no log
    assert all(password not in line for line in records.lines)
    assert all(password not in str(p) for p in read(root)["parameters"])
    # reset: the old password fails, the new one works
    token = _csrf(admin.get("/admin/users").text)
    reset = admin.post("/admin/users/worcs", data={"csrf": token, "action": "reset-password"})
    fresh = re.search(r'<code id="new-password">([^<]+)</code>', reset.text).group(1)
    assert fresh != password
    assert _sign_in_as(base, "worcs", password).get("/").status_code == 401
    again = _sign_in_as(base, "worcs", fresh)
    assert again.get("/").status_code == 200
    # disabled: the open session ends at its next request
    token = _csrf(admin.get("/admin/users").text)
    assert (
        admin.post("/admin/users/worcs", data={"csrf": token, "action": "disable"}).status_code
        == 303
    )
    assert again.get("/", headers={"Accept": "text/html"}).status_code == 303
    log = read(root)
    actions = set(log[log["actor"] == "boss (admin)"]["action"])
    assert {"web user added", "web user reset-password", "web user disable"} <= actions


def test_no_change_leaves_the_dashboard_without_an_admin(served):
    _, base, _, _ = served
    admin = _signed_in(base, "boss")
    token = _csrf(admin.get("/admin/users").text)
    own = admin.post("/admin/users/boss", data={"csrf": token, "action": "disable"})
    assert own.status_code == 400 and "cannot disable their own" in own.text
    demoted = admin.post(
        "/admin/users/boss", data={"csrf": token, "action": "role", "role": "analyst"}
    )
    assert demoted.status_code == 400 and "no enabled admin" in demoted.text
    scoped = admin.post(
        "/admin/users/ana",
        data={"csrf": token, "action": "role", "role": "analyst", "areas": "Shropshire"},
    )
    assert scoped.status_code == 400 and "only a partner" in scoped.text
    unknown = admin.post(
        "/admin/users/ana",
        data={"csrf": token, "action": "role", "role": "partner", "areas": "Narnia"},
    )
    assert unknown.status_code == 400 and "not a CSP" in unknown.text
    assert admin.get("/admin/users").status_code == 200


def test_the_admins_notice_is_on_every_page_as_text(served):
    root, base, _, _ = served
    admin = _signed_in(base, "boss")
    token = _csrf(admin.get("/admin/settings").text)
    notice = "March data are late <script>alert(1)</script>"
    saved = admin.post("/admin/settings", data={"csrf": token, "notice": notice})
    assert saved.status_code == 303
    partner = _signed_in(base, "hereford")
    for path in ("/", "/pages/trends", "/pages/where?area=Herefordshire"):
        page = partner.get(path)
        assert "March data are late &lt;script&gt;" in page.text, path
        assert "<script>alert(1)" not in page.text
    too_long = admin.post("/admin/settings", data={"csrf": token, "notice": "x" * 501})
    assert too_long.status_code == 400 and "at most 500" in too_long.text
    settings = admin.get("/admin/settings").text
    assert "disclosure threshold" in settings and "West Mercia" in settings
    cleared = admin.post("/admin/settings", data={"csrf": token, "notice": ""})
    assert cleared.status_code == 303 and "Notice" not in partner.get("/").text
    log = read(root)
    assert "web settings changed" in set(log["action"])


def test_downloads_read_as_the_page_and_never_share_a_name(served):
    root, base, _, _ = served
    client = _signed_in(base, "ana")
    published = _published(root)
    # a list of records (the measures' summary, say) downloads as a table, not as text
    listed = next(
        (key for key, frame in published[None].tables.items()
         if list(frame.columns) == ["value"] and isinstance(frame["value"].iloc[0], list)
         and frame["value"].iloc[0] and isinstance(frame["value"].iloc[0][0], dict)),
        None,
    )  # fmt: skip
    if listed is not None:
        section, _, name = listed.partition("/")
        rows = published[None].table(section, name)["value"].iloc[0]
        csv = client.get(f"/export/{section}/{name}.csv").text
        read_back = pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False)
        assert len(read_back) == len(rows) and set(rows[0]) <= set(read_back.columns)
    # the unsuppressed file says so in its first column, in CSV as in Excel
    internal = client.get("/export/trends/monthly.csv", params={"view": "internal"})
    read_back = pd.read_csv(io.StringIO(internal.text), dtype=str, keep_default_na=False)
    assert read_back.columns[0] == "NOT FOR PUBLICATION"
    assert set(read_back["NOT FOR PUBLICATION"]) == {"NOT FOR PUBLICATION"}
    names = set()
    chart = chart_specs(published[None], "trends")[0][0]
    for path, params in (
        ("/export/trends/monthly.csv", {}),
        ("/export/trends/monthly.csv", {"view": "internal"}),
        ("/export/trends/monthly.csv", {"start": "2025-02"}),
        (f"/export/chart/trends/{chart.id}.csv", {}),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        names.add(re.search(r'filename="([^"]+)"', answer.headers["content-disposition"])[1])
    assert len(names) == 4, names
    assert any("NOT-FOR-PUBLICATION" in n for n in names)
    assert client.get("/static/svduty.css").headers.get("cache-control") != "no-store"


def test_a_reset_password_ends_the_users_sessions(served):
    root, base, _, _ = served
    from svduty.web.accounts import add_user, set_password

    add_user(root, "resetme", "first-password-1", "analyst")
    client = _sign_in_as(base, "resetme", "first-password-1")
    assert client.get("/pages/trends").status_code == 200
    set_password(root, "resetme", "second-password-2")
    assert client.get("/pages/trends").status_code == 401


def test_account_changes_from_the_command_line_are_audited_and_names_are_one_whatever_the_case(
    served,
):
    root, _, _, _ = served
    done = test_web._add(root, "Cased", "analyst", [], "cased-password-1")
    assert done.returncode == 0, done.stderr
    twin = test_web._add(root, "cased", "admin", [], "cased-password-2")
    assert twin.returncode != 0 and "differing only in case" in twin.stderr
    assert "Traceback" not in twin.stderr
    log = read(root)
    said = zip(log["action"], log["parameters"], strict=True)
    added = [json.loads(p) if isinstance(p, str) else p for a, p in said if a == "user added"]
    assert {"user": "Cased", "role": "analyst", "areas": []} in added
    assert all("cased-password" not in str(p) for p in log["parameters"])
