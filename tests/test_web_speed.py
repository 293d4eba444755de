"""The dashboard's fast paths keep its promises: pages drawn once still carry each reader's own
name and form token, accounts read from memory still shut a disabled user or an ended session
out at the next request, audit rows written in batches are all written, and a view whose
figures are not ready is answered at once and shown once they are. Served for real (uvicorn on
a loopback port) over one month of West Mercia's open data."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace

import httpx
import pytest
from conftest import make_workspace
from test_web import _a_district, _serving

from svduty.audit import Entry, now, read
from svduty.example import WEST_MERCIA
from svduty.web.accounts import USERS_FILE, add_user, set_disabled
from svduty.web.app import create_app
from svduty.web.auditor import AuditWriter
from svduty.web.bodies import NAME_SLOT, TOKEN_SLOT
from svduty.web.known import stamp

PASSWORD = "speed-password-1"


@pytest.fixture(scope="module")
def small(tmp_path_factory, west_mercia):
    root = tmp_path_factory.mktemp("speed") / "ws"
    ws = make_workspace(root, settings=replace(WEST_MERCIA, definition="police-uk-open-data"))
    ws.ingest([next(west_mercia.glob("2025-01/*street.csv"))])
    ws.close()
    for name in ("ann", "bob", "cat"):
        add_user(root, name, PASSWORD, "analyst")
    return root


def _signed_in(base: str, name: str) -> httpx.Client:
    import re

    client = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    done = client.post("/login", data={"csrf": token.group(1), "username": name,
                                       "password": PASSWORD})  # fmt: skip
    assert done.status_code == 303, done.text
    return client


def _token(page: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _ready(client: httpx.Client, path: str, within: float = 180) -> httpx.Response:
    waited = time.monotonic() + within
    while True:
        answer = client.get(path)
        if answer.status_code != 202 or time.monotonic() > waited:
            return answer
        time.sleep(0.5)


def test_a_kept_page_carries_each_readers_own_name_and_form_token(small):
    app = create_app(small, prepare_wait=120)
    try:
        with _serving(app) as base:
            ann, bob = _signed_in(base, "ann"), _signed_in(base, "bob")
            first, second = ann.get("/pages/trends"), bob.get("/pages/trends")
            again = ann.get("/pages/trends")
            for answer in (first, second, again):
                assert answer.status_code == 200
                assert NAME_SLOT not in answer.text and TOKEN_SLOT not in answer.text
            assert "Signed in as ann" in first.text and "Signed in as bob" in second.text
            assert _token(first.text) != _token(second.text)
            assert _token(first.text) == _token(again.text)
            # the token put in is the session's: signing out with it works, with another not
            assert bob.post("/logout", data={"csrf": _token(first.text)}).status_code == 403
            assert bob.post("/logout", data={"csrf": _token(second.text)}).status_code == 303
            ann.close()
            bob.close()
    finally:
        app.state.published.close()
    views = read(small)
    views = views[views["action"] == "web view"]
    assert {"ann (analyst)", "bob (analyst)"} <= set(views["actor"])
    assert (views["actor"] == "ann (analyst)").sum() >= 2  # a kept page is audited each time


def test_a_disabled_user_or_an_ended_session_is_out_at_the_next_request(small):
    from conftest import svduty

    app = create_app(small, prepare_wait=120)
    try:
        with _serving(app) as base:
            cat, ann = _signed_in(base, "cat"), _signed_in(base, "ann")
            assert cat.get("/health").status_code == 200
            assert _ready(cat, "/").status_code == 200
            assert ann.get("/").status_code == 200
            done = svduty("users", "disable", "cat", "-w", str(small))  # another process
            assert done.returncode == 0, done.stderr
            assert cat.get("/").status_code in (303, 401)
            assert ann.get("/").status_code == 200  # others stay signed in
            cookie = ann.cookies.get("svduty_session")
            assert ann.post("/logout", data={"csrf": _token(ann.get("/").text)}).status_code == 303
            again = httpx.get(f"{base}/", cookies={"svduty_session": cookie or ""})
            assert again.status_code in (303, 401)
            cat.close()
            ann.close()
    finally:
        app.state.published.close()
        set_disabled(small, "cat", False)


def test_the_accounts_files_stamp_changes_at_every_commit(small):
    """Two commits in the same instant leave the file's size and, often, its modification time
    as they were; SQLite's change counter still tells them apart."""
    path = small / USERS_FILE
    seen = {stamp(path)}
    with sqlite3.connect(path) as con:
        for flag in (1, 0, 1, 0):
            con.execute("UPDATE users SET disabled = ? WHERE name = 'bob'", (flag,))
            con.commit()
            seen.add(stamp(path))
    assert len(seen) == 5


def test_audit_rows_from_many_threads_at_once_are_all_written(tmp_path):
    writer = AuditWriter(tmp_path)

    def views(worker: int) -> None:
        for n in range(50):
            writer.write([Entry(now(), f"w{worker}", "web view", {"n": n}, None, [], None, None)])

    threads = [threading.Thread(target=views, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(read(tmp_path)) == 8 * 50  # each written before `write` returned
    writer.close()
    writer.write([Entry(now(), "late", "web view", {}, None, [], None, None)])
    log = read(tmp_path)
    assert len(log) == 8 * 50 + 1 and log["actor"].iloc[-1] == "late"
    assert log.groupby("actor").size().to_dict() == {**{f"w{w}": 50 for w in range(8)}, "late": 1}


def test_a_view_whose_figures_are_not_ready_is_answered_at_once_then_shown(small):
    app = create_app(small, prepare_wait=0)
    try:
        with _serving(app) as base:
            # the view most read is prepared when the server starts, before anyone asks
            waited = time.monotonic() + 180
            while not list((small / "cache").glob("sna-*.pickle")):
                assert time.monotonic() < waited, "the default view was not prepared"
                time.sleep(0.5)
            ann = _signed_in(base, "ann")
            path = "/pages/where?start=2025-01&end=2025-01"
            started = time.monotonic()
            first = ann.get(path)
            assert time.monotonic() - started < 2
            assert first.status_code == 202, first.text
            assert "These figures are being prepared" in first.text
            assert '<meta http-equiv="refresh" content="5">' in first.text
            assert first.headers["retry-after"] == "5"
            assert first.headers["content-security-policy"].startswith("default-src 'self'")
            shown = _ready(ann, path)
            assert shown.status_code == 200 and "Where" in shown.text
            # a district's view has a set of its own, made only when asked for: the whole
            # area's set is not made again for it
            code, district, _ = _a_district(small)
            sets = set((small / "cache").glob("sna-*.pickle"))
            assert not list((small / "cache").glob(f"district-sna-*-{code}.pickle"))
            first = ann.get(f"/pages/where?area={code}")
            assert first.status_code == 202, first.text
            shown = _ready(ann, f"/pages/where?area={code}")
            assert shown.status_code == 200 and district in shown.text
            assert len(list((small / "cache").glob(f"district-sna-*-{code}.pickle"))) == 1
            assert set((small / "cache").glob("sna-*.pickle")) == sets
            ann.close()
    finally:
        app.state.published.close()
    log = read(small)
    asked = log[(log["action"] == "web view") & log["parameters"].str.contains("start=2025-01")]
    assert asked["parameters"].str.contains('"prepared": false').any()
    assert (~asked["parameters"].str.contains("prepared")).any()  # and the page itself
