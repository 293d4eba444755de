"""The dashboard: an ASGI app over one workspace, opened read-only.

Nothing but the login page, the health check and the static files is served without a session:
the check is one middleware in front of every route, so a route added later is closed until it
is listed as public. A partner sees the whole area's figures and their own CSPs', never another
CSP's; a request for one is refused and audited. A district's figures (a set of its own, not
controlled with the published one) are for analysts and admins: partners and the public are
refused them, and audited, as well. Every login, page view, export and refusal is
written to the workspace's audit log, and each request to a structured access log on standard
error (never a form's body, so never a password).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from svduty import __version__
from svduty.audit import Entry, now
from svduty.errors import InputError
from svduty.outputs import slug
from svduty.publish import NOT_FOR_PUBLICATION, Publication
from svduty.report.published import html_table
from svduty.settings import load_settings
from svduty.vocabulary import heading
from svduty.web import records
from svduty.web.accounts import User, authenticate
from svduty.web.admin import Notices, add_admin_routes
from svduty.web.auditor import AuditWriter
from svduty.web.bodies import TOKEN_SLOT, Bodies, personal, stand_in
from svduty.web.chart_files import KINDS, chart_file, chart_table, find_chart
from svduty.web.downloads import MEDIA, table_file
from svduty.web.known import Known
from svduty.web.maps import add_map_routes
from svduty.web.prepare import Preparer
from svduty.web.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    SESSION_SECONDS,
    LoginLimiter,
    Session,
    Sessions,
    secret_key,
)
from svduty.web.views import PAGES, Published, View, chart_specs, scoped

PUBLIC = ("/login", "/health", "/static/", "/favicon.ico")
"""Paths served without a session (a prefix ending in / covers what is under it)."""
STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
KEPT_PAGES = 512
"""Pages' drawn HTML kept in memory (a set's pages are drawn once, not at every request)."""
PREPARE_WAIT = 1.5
"""Seconds a page waits for its published set to be made before it says it is being prepared
(and reloads itself every REFRESH seconds)."""
REFRESH = 5
access = logging.getLogger("svduty.web.access")


class Denied(Exception):
    """A request for what the user's role or areas do not allow."""


def create_app(
    root: Path, secure_cookies: bool = False, public: bool = False,
    prepare_wait: float = PREPARE_WAIT,
) -> FastAPI:  # fmt: skip
    """The dashboard of the workspace at `root`. `secure_cookies` marks cookies Secure, for a
    server behind HTTPS; `public` lets anyone read the published pages and their exports
    without signing in (the published report's figures, nothing an analyst alone sees);
    `prepare_wait`: seconds a page waits for a published set being made."""
    published = Published(root)
    signer = Sessions(root, secret_key(root))
    known = Known(root, signer)
    writer = AuditWriter(root, say=lambda _: None)
    preparer = Preparer(published)
    published.changed = preparer.warm
    bodies = Bodies()
    limiter = LoginLimiter()
    templates = Environment(
        loader=PackageLoader("svduty.web", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    notices = Notices(root)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(published.facts)  # starts making the sets most read
        yield
        preparer.close()
        writer.close()  # every audit row written before the server stops

    app = FastAPI(
        title="svduty", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def audit(request: Request, action: str, parameters: dict[str, Any]) -> None:
        user: User | None = getattr(request.state, "user", None)
        actor = f"{user.name} ({user.role})" if user else "anonymous"
        version = getattr(request.state, "data_version", None)
        writer.write([Entry(now(), actor, action, parameters, version, [], None, __version__)])

    def rendered(request: Request, template: str, **values: Any) -> str:
        values.setdefault("user", getattr(request.state, "user", None))
        values.setdefault("csrf", getattr(request.state, "csrf", ""))
        values.setdefault("pages", PAGES)
        values.setdefault("version", __version__)
        values.setdefault("notice", notices.current().notice)
        return templates.get_template(template).render(**values)

    def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(rendered(request, template, **values), status_code=status)

    def who(cookie: str | None) -> tuple[Session | None, User | None]:
        """The request's session and its user, as of the last change to the accounts (a
        disabled user is out at once)."""
        return known.who(cookie)

    async def admitted(request: Request) -> Response | None:
        """None when the request may go on (its reader in `request.state`), else the answer
        that refuses it. A form's body, read here for its token, is kept in `request.state`
        for the route to read again."""
        path = request.url.path
        if any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC):
            return None
        cookie = request.cookies.get(COOKIE)
        kept = known.peek(cookie)  # a database read only when the accounts changed
        session, user = kept if kept is not None else await run_in_threadpool(who, cookie)
        if session is None or user is None or user.disabled:
            if public and request.method in ("GET", "HEAD") and _published_page(path):
                request.state.user, request.state.csrf = PUBLIC_READER, ""
                return None
            return _unauthenticated(request)
        request.state.user, request.state.csrf = user, session.csrf
        if request.method not in ("GET", "HEAD"):
            request.state.body = await request.body()
            form = await request.form()
            if str(form.get("csrf", "")) != session.csrf:
                return PlainResponse("403: the form's CSRF token is missing or wrong", 403)
        return None

    class Guard:
        """In front of every route: the session check, the CSRF check of forms, the security
        headers and the access log. Plain ASGI (Starlette's `BaseHTTPMiddleware` streamed
        every answer through a task and a queue of its own)."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            started = time.perf_counter()
            request = Request(scope, receive)
            request.state.user = None
            refused = await admitted(request)
            status = 500

            async def answer(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = MutableHeaders(scope=message)
                    for name, value in SECURITY_HEADERS.items():
                        headers.setdefault(name, value)
                    if not request.url.path.startswith("/static/"):
                        # figures, exports and records stay out of the browser's cache, so
                        # nothing is read from it after signing out
                        headers.setdefault("Cache-Control", "no-store")
                await send(message)

            try:
                if refused is not None:
                    await refused(scope, receive, answer)
                else:  # a form read for its token is read again by the route
                    await self.app(scope, _replayed(request, receive), answer)
            finally:
                _log(request, status, request.state.user, started)

    app.add_middleware(Guard)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, error: InputError) -> Response:
        return page(request, "message.html.j2", 400, title="Not understood", text=str(error))

    @app.exception_handler(Denied)
    async def denied(request: Request, error: Denied) -> Response:
        audit(request, "web denied", {"path": request.url.path, "why": str(error)})
        return page(request, "message.html.j2", 403, title="Not allowed", text=str(error))

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/health")
    def health() -> JSONResponse:
        area, version, _, _ = published.facts()
        return JSONResponse({"status": "ok", "area": area, "data_version": version})

    def login_page(request: Request, target: str, error: str | None, status: int) -> Response:
        """The sign-in form, with a fresh token and the signed cookie it must come back with."""
        token, cookie = signer.login_token()
        response = page(request, "login.html.j2", status, token=token, next=target, error=error)
        response.set_cookie(
            LOGIN_COOKIE, cookie, httponly=True, samesite="strict", secure=secure_cookies,
            max_age=3600,
        )  # fmt: skip
        return response

    @app.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        return login_page(request, _local(next), None, 200)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        target = _local(str(form.get("next", "/")))
        if not signer.login_token_matches(request.cookies.get(LOGIN_COOKIE), str(form.get("csrf"))):
            return PlainResponse("403: the login form's token is missing or wrong", 403)
        address = request.client.host if request.client else "?"
        if limiter.blocked(address, name):
            audit(request, "web login refused", {"user": name, "why": "too many failures"})
            return page(
                request,
                "message.html.j2",
                429,
                title="Too many attempts",
                text="Too many failed sign-ins for this name: wait 15 minutes.",
            )
        # argon2 takes a deliberate fraction of a second: off the event loop
        user = await run_in_threadpool(authenticate, root, name, password)
        if user is None:
            limiter.failed(address, name)
            audit(request, "web login failed", {"user": name})
            wrong = "The user name or password is wrong, or the account is disabled."
            return login_page(request, target, wrong, 401)
        limiter.succeeded(address, name)
        request.state.user = user
        audit(request, "web login", {})
        cookie = signer.start(user.name)
        signed_in = RedirectResponse(target, status_code=303)
        signed_in.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            max_age=SESSION_SECONDS,
        )
        signed_in.delete_cookie(LOGIN_COOKIE)
        return signed_in

    @app.post("/logout")
    def logout(request: Request) -> Response:
        audit(request, "web logout", {})
        signer.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    kept: OrderedDict[tuple[str, str, str, str, tuple[str, ...]], list[dict[str, Any]]] = (
        OrderedDict()
    )
    kept_lock = threading.Lock()

    def drawn(
        pub: Publication, name: str, view: View, version: str, others: set[str]
    ) -> list[dict[str, Any]]:
        """A page's charts and tables as HTML, drawn once per data version, view and the CSPs
        the reader may not see."""
        key = (version, published.provision(), name, view.query(), tuple(sorted(others)))
        with kept_lock:
            if key in kept:
                kept.move_to_end(key)
                return kept[key]
        made = _charts(pub, name, view) + _blocks(pub, PAGES[name][1], view)
        if name == "measures" and pub.has("measures", "summary"):
            from svduty.report.measures import measures_section

            drawn_as_in_report = {
                "id": "measures-charts",
                "title": "Icons and SPC charts",
                "html": Markup(measures_section(pub)),
                "conclusion": None,
            }
            made = [drawn_as_in_report, *made]
        if name == "gaps" and pub.has("gaps", "about"):
            made = [_gaps_block(pub), *(b for b in made if b["id"] not in GAP_NOTES)]
        with kept_lock:
            kept[key] = made
            while len(kept) > KEPT_PAGES:
                kept.popitem(last=False)
        return made

    def draw_ahead(view: View, sets: dict[str | None, Publication]) -> None:
        """Every page of a view warmed at start, for the whole area and each CSP, as a reader
        who may see them all has them drawn."""
        version = published.facts()[1]
        for area in sets:
            shown = replace(view, area=area)
            for name in PAGES:
                drawn(sets[area], name, shown, version, set())

    preparer.draw = draw_ahead

    def view_of(request: Request) -> tuple[View, dict[str, Any]]:
        area, version, csps, threshold = published.facts()
        request.state.data_version = version
        choices = published.choices()
        districts = published.districts()
        view = View.of(dict(request.query_params), csps, choices, districts)
        user: User = request.state.user
        district = districts.get(view.area or "")
        analyst = user.role in ("analyst", "admin")
        if district and not analyst:
            raise Denied(
                "a district's figures are for analysts: partners and the public see the whole "
                "area and CSPs (a district's small counts, published with them, would hide more "
                "of theirs)"
            )
        if not user.may_see(district.csp if district else view.area):
            raise Denied(f"{user.name} may see {', '.join(user.areas)} and the whole area only")
        if view.internal and user.role not in ("analyst", "admin"):
            raise Denied("the unsuppressed view is for analysts")
        if user.role not in ("analyst", "admin") and view.chosen():
            raise Denied(
                "partners and the public see the published set: the whole period, by the "
                "definition in force (a count hidden in one period or definition could be "
                "found by subtracting another); ask an analyst for other cuts"
            )
        shown = [c for c in csps if user.may_see(c)]
        under = {c: [d for d in districts.values() if d.csp == c and analyst] for c in shown}
        return view, {
            "area_name": area, "csps": shown, "all_csps": csps, "threshold": threshold,
            "view": view, "districts": under, "district": district,
            "area_label": district.label if district else view.area or area or "The whole area",
            **choices.shown(view.definition, view.clause),
        }  # fmt: skip

    def hidden_from(request: Request, values: dict[str, Any]) -> set[str]:
        """The CSPs whose figures the reader may not see (a partner's others)."""
        user: User = request.state.user
        return {c for c in values["all_csps"] if not user.may_see(c)}

    @app.get("/")
    def overview(request: Request) -> Response:
        return section_page(request, "overview")

    @app.get("/pages/{name}")
    def section_page(request: Request, name: str) -> Response:
        if name not in PAGES:
            return page(request, "message.html.j2", 404, title="No such page", text=name)
        view, values = view_of(request)
        others = hidden_from(request, values)
        user: User = request.state.user
        notice = notices.current().notice  # drawn into the page, so part of its key
        key = (request.state.data_version, published.provision(), name, view.query(),
               tuple(sorted(others)), user.role,
               notice)  # fmt: skip
        body = bodies.get(key)
        if body is None:
            sets = published.set_of(view, build=False) or ready_soon(view)
            if sets is None:
                return being_prepared(request, name, view)
            body = section_body(request, name, view, values, others, sets)
            bodies.put(key, body)
        audit(request, "web view", {"page": name, "query": view.query()})
        return HTMLResponse(personal(body, user.name, request.state.csrf))

    def ready_soon(view: View) -> dict[str | None, Publication] | None:
        """The view's set, if it can be made (in the background) within `prepare_wait`."""
        if not preparer.start(view):
            return None
        preparer.wait(view, prepare_wait)
        return published.set_of(view, build=False)

    def being_prepared(request: Request, name: str, view: View) -> Response:
        """Said at once while a view's set is made; the page reloads itself until it is."""
        audit(request, "web view", {"page": name, "query": view.query(), "prepared": False})
        queued = preparer.start(view)
        text = (
            "The figures for this view are being worked out, which can take a minute on a "
            "large workspace. This page reloads itself when they are ready."
            if queued
            else "Too many new views are being worked out at once: try again in a minute."
        )
        response = page(
            request, "message.html.j2", 202 if queued else 503,
            title="These figures are being prepared", text=text,
            refresh=REFRESH if queued else None,
        )  # fmt: skip
        response.headers["Retry-After"] = str(REFRESH if queued else 60)
        return response

    def section_body(
        request: Request, name: str, view: View, values: dict[str, Any], others: set[str],
        sets: dict[str | None, Publication],
    ) -> str:  # fmt: skip
        """The page drawn with stand-ins for the reader's name and form token."""
        pub = scoped(_area_of(sets, view), others, published.places_of(others))
        title = PAGES[name][0]
        blocks = list(drawn(pub, name, view, request.state.data_version, others))
        if name == "quality" and request.state.user.role in ("analyst", "admin"):
            batches, rejects = published.lineage()
            blocks += [
                {"id": "lineage-batches", "title": "Batches ingested (internal)",
                 "html": html_table(batches), "conclusion": None},
                {"id": "lineage-rejects", "title": "Rejected rows by file, field and reason "
                 "(internal)", "html": html_table(rejects), "conclusion": None},
            ]  # fmt: skip
        return rendered(
            request,
            "page.html.j2",
            user=stand_in(request.state.user),
            csrf=TOKEN_SLOT,
            name=name,
            title=title,
            blocks=blocks,
            charts=any("spec" in block for block in blocks),
            synthetic=pub.value("sources", "synthetic_records") or 0,
            marked=NOT_FOR_PUBLICATION if view.internal else None,
            **values,
        )

    def counted(view: View, values: dict[str, Any]) -> str:
        """What a downloaded file holds, for its name: the area, the period and the definition
        or clause when chosen, and whether it is unsuppressed (so no two views share a name)."""
        chosen = f"-{slug(published.definition(view).id)}" if view.definition or view.clause else ""
        period = (
            f"-{view.start or 'first'}-to-{view.end or 'last'}" if view.start or view.end else ""
        )
        internal = "-NOT-FOR-PUBLICATION" if view.internal else ""
        district = values["district"]
        area = f"{district.name}-{district.code}" if district else view.area or "all"
        return f"{area}{period}{chosen}{internal}"

    @app.get("/export/{section}/{table}.{kind}")
    def export(request: Request, section: str, table: str, kind: str) -> Response:
        view, values = view_of(request)
        others = hidden_from(request, values)
        pub = scoped(_area_of(published.made(view), view), others, published.places_of(others))
        if not pub.has(section, table) or kind not in ("csv", "xlsx"):
            return page(
                request,
                "message.html.j2",
                404,
                title="No such table",
                text=f"{section}/{table}.{kind}",
            )
        audit(
            request,
            "web export",
            {"table": f"{section}/{table}", "format": kind, "query": view.query()},
        )
        return Response(
            table_file(pub.table(section, table), kind, view.internal),
            media_type=MEDIA[kind],
            headers=_attachment(f"{section}-{table}-{counted(view, values)}.{kind}"),
        )

    @app.get("/export/chart/{name}/{chart_id}.{kind}")
    def export_chart(request: Request, name: str, chart_id: str, kind: str) -> Response:
        view, values = view_of(request)
        others = hidden_from(request, values)
        pub = scoped(_area_of(published.made(view), view), others, published.places_of(others))
        chart = find_chart(pub, name, chart_id) if name in PAGES and kind in KINDS else None
        if chart is None:
            return page(
                request, "message.html.j2", 404, title="No such chart",
                text=f"{name}/{chart_id}.{kind}",
            )  # fmt: skip
        audit(
            request,
            "web export",
            {"chart": f"{name}/{chart_id}", "format": kind, "query": view.query()},
        )
        area = values["area_label"] if view.area else values["area_name"] or "the whole area"
        synthetic = pub.value("sources", "synthetic_records") or 0
        data = chart_file(chart, kind, view.internal, area, synthetic)
        return Response(
            data,
            media_type=KINDS[kind],
            headers=_attachment(f"chart-{chart_id}-{counted(view, values)}.{kind}"),
        )

    @app.get("/audit")
    def audit_page(request: Request) -> Response:
        user: User = request.state.user
        if user.role != "admin":
            raise Denied("the audit log is for admins")
        from svduty.audit import read

        frame = read(root).tail(500).iloc[::-1]
        return page(request, "table.html.j2", title="Audit log", table=html_table(frame))

    def settings_shown() -> dict[str, Any]:
        version = published.facts()[1]
        shown: dict[str, Any] = {"data version": version}
        for key, value in asdict(load_settings(root)).items():
            if key == "csps":
                value = "; ".join(f"{c}: {', '.join(d)}" for c, d in value.items())
            shown[key.replace("_", " ")] = ", ".join(value) if isinstance(value, tuple) else value
        shown["served"] = "publicly (published pages)" if public else "to signed-in users only"
        shown["cookies"] = "Secure (HTTPS)" if secure_cookies else "not marked Secure"
        return shown

    add_admin_routes(app, root, lambda: published.facts()[2], settings_shown, page, audit, Denied)
    add_map_routes(app, published, view_of, hidden_from, audit)
    records.install(app, published, page, audit, view_of, Denied)
    app.state.published = published
    return app


PUBLIC_READER = User("public", "public", (), False)
"""Who an anonymous reader is when the dashboard is public: published figures, every area."""


def _area_of(sets: dict[str | None, Publication], view: View) -> Publication:
    """The publication of the view's area (a CSP's or a district's need crime records)."""
    if view.area not in sets:
        raise InputError(
            f"area {view.area!r}: the workspace holds only the Home Office tables, which are "
            "by force or CSP; ingest crime records for CSPs' and districts' figures"
        )
    return sets[view.area]


def _published_page(path: str) -> bool:
    """The paths a public dashboard serves without a session: pages, their exports and maps."""
    return path == "/" or path.startswith(("/pages/", "/export/", "/map/"))


class PlainResponse(Response):
    def __init__(self, text: str, status: int) -> None:
        super().__init__(text, status_code=status, media_type="text/plain; charset=utf-8")


def _unauthenticated(request: Request) -> Response:
    """A browser asking for a page is sent to sign in; anything else is told 401."""
    wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
    if wants_page and not request.url.path.startswith("/export/"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{_encode_next(target)}", status_code=303)
    return PlainResponse("401: sign in first", 401)


def _encode_next(target: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"next": target})


def _local(target: str) -> str:
    """Only a path on this server is a place to go after signing in (no open redirect)."""
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if local else "/"


def _replayed(request: Request, receive: Receive) -> Receive:
    """The request's body again, if the guard read it (for a form's token)."""
    body: bytes | None = getattr(request.state, "body", None)
    if body is None:
        return receive
    given = False

    async def again() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def _log(request: Request, status: int, user: User | None, started: float) -> None:
    access.info(
        json.dumps(
            {
                "at": now(),
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "status": status,
                "ms": round(1000 * (time.perf_counter() - started), 1),
                "user": user.name if user else None,
                "client": request.client.host if request.client else None,
            }
        )
    )


GAP_NOTES = ("gaps-about", "gaps-map")
"""The gap tables the page draws as sentences and a map rather than as tables."""


def _gaps_block(pub: Publication) -> dict[str, Any]:
    """Ranked gaps and flags, the map and the method, as the report draws them."""
    from svduty.report.gaps import gaps_section
    from svduty.report.sections import Page

    page = Page(pub, str(pub.provenance["definition"]["id"]))
    return {
        "id": "gaps-ranked",
        "title": "Gaps and flags",
        "html": Markup(gaps_section(page, tables=False)),
        "conclusion": None,
    }


def _blocks(pub: Publication, sections: tuple[str, ...], view: View) -> list[dict[str, Any]]:
    """Each published table of the sections, as HTML, with its conclusion and export links."""
    blocks = []
    for section in sections:
        for key, frame in pub.tables.items():
            mine, _, name = key.partition("/")
            if mine != section:
                continue
            said = None
            conclusion = f"{section}-{name}"
            if pub.has("conclusions", conclusion):
                said = pub.value("conclusions", conclusion)
            blocks.append(
                {
                    "id": f"{section}-{name}",
                    "title": _sentence_case(
                        heading(name) if heading(name) != name else name.replace("_", " ")
                    ),
                    "html": _shown(frame),
                    "conclusion": said,
                    "csv": f"/export/{section}/{name}.csv?{view.query()}",
                    "xlsx": f"/export/{section}/{name}.xlsx?{view.query()}",
                }
            )
    return blocks


def _charts(pub: Publication, page: str, view: View) -> list[dict[str, Any]]:
    """The page's charts, each drawn in the browser from its spec, its table a click away, and
    each downloadable as the report draws it."""
    blocks = []
    for chart, spec in chart_specs(pub, page):
        files = f"/export/chart/{page}/{quote(chart.id)}"
        blocks.append(
            {
                "id": f"chart-{chart.id}",
                "title": chart.title,
                "spec": Markup(
                    json.dumps(
                        {**spec, "description": f"{chart.title}. Its table is below."}
                    ).replace("</", "<\\/")
                ),
                "html": html_table(chart_table(chart)),
                "conclusion": None,
                "files": {kind.upper(): f"{files}.{kind}?{view.query()}" for kind in KINDS},
            }
        )
    return blocks


ACRONYMS = {"csp": "CSP", "csps": "CSPs", "lsoa": "LSOA", "lsoas": "LSOAs", "imd": "IMD"}


def _sentence_case(text: str) -> str:
    """A heading's first letter capital, acronyms in capitals, the rest as written."""
    text = " ".join(ACRONYMS.get(word.lower(), word) for word in text.split(" "))
    return text[:1].upper() + text[1:]


def _shown(frame: pd.DataFrame) -> Markup:
    """A one-figure table as its figure, a list of sentences as a list, others as a table."""
    if list(frame.columns) == ["value"] and len(frame) == 1:
        value = frame["value"].iloc[0]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return html_table(pd.DataFrame(value).map(_text))
        if isinstance(value, list):
            items = "".join(f"<li>{escape(str(v))}</li>" for v in value)
            return Markup(f'<ul class="govuk-list govuk-list--bullet">{items}</ul>')
        if isinstance(value, dict | list):
            return Markup(f"<pre>{escape(json.dumps(value, indent=1, default=str))}</pre>")
        return Markup(f'<p class="govuk-body">{escape("[c]" if value is None else str(value))}</p>')
    return html_table(frame)


def _text(value: Any) -> Any:
    """A list in a cell as its items joined (a record's facts, say)."""
    return ", ".join(map(str, value)) if isinstance(value, list) else value


def _attachment(name: str) -> dict[str, str]:
    """A download's header, its file name made of safe characters only (an area's name may
    hold anything)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "export"
    return {"Content-Disposition": f'attachment; filename="{safe}"'}


def configure_access_log() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
