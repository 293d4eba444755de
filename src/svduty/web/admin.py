"""The admin's pages: the dashboard's users (add, change role and areas, disable, reset a
password) and its settings (the workspace's, shown, and the dashboard's notice, changed).

The same account functions as `svduty users` do the work, so the rules are the same in both
places. A new or reset password is made by the server and shown once to the admin, never typed
into a form, logged or audited; the admin passes it on as the partnership passes any secret.
No change may leave the dashboard without an enabled admin.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from svduty.errors import InputError
from svduty.settings import SETTINGS_FILE as SETTINGS_FILE_OF_WORKSPACE
from svduty.web.accounts import (
    ROLES,
    User,
    add_user,
    set_disabled,
    set_password,
    set_role,
    users,
)

SETTINGS_FILE = "web-settings.json"
NOTICE_MAX = 500


@dataclass(frozen=True)
class DashboardSettings:
    """What an admin changes from the dashboard itself: a notice on every page (a late
    delivery, a known fault, the date of the next refresh)."""

    notice: str = ""

    @classmethod
    def load(cls, root: Path) -> DashboardSettings:
        try:
            found = json.loads((root / SETTINGS_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as error:
            raise InputError(
                f"{root / SETTINGS_FILE}: not readable ({error}); delete it to start again"
            ) from None
        return cls(notice=str(found.get("notice", "")))

    def save(self, root: Path) -> None:
        """Written whole to a new file, then renamed over the old: a reader never sees half."""
        if len(self.notice) > NOTICE_MAX:
            raise InputError(f"the notice has {len(self.notice)} characters; at most {NOTICE_MAX}")
        part = root / f".{SETTINGS_FILE}.{os.getpid()}.part"
        part.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        part.replace(root / SETTINGS_FILE)


class Notices:
    """The dashboard's settings, read again only when their file changes (every page shows
    the notice, so it is not read from disk at every request)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stamp: float | None = None
        self._settings = DashboardSettings()

    def current(self) -> DashboardSettings:
        try:
            stamp: float | None = (self.root / SETTINGS_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._settings = DashboardSettings.load(self.root) if stamp else DashboardSettings()
            self._stamp = stamp
        return self._settings


def new_password() -> str:
    """A password of 20 characters from a 64-letter alphabet (120 bits)."""
    return secrets.token_urlsafe(15)


def _enabled_admins(root: Path, changed: str, role: str, disabled: bool) -> int:
    """How many enabled admins there would be once user `changed` has this role and state."""
    return sum(
        (role if u.name == changed else u.role) == "admin"
        and not (disabled if u.name == changed else u.disabled)
        for u in users(root)
    )


def add_admin_routes(
    router: FastAPI,
    root: Path,
    csps: Callable[[], list[str]],
    settings_shown: Callable[[], dict[str, Any]],
    page: Callable[..., Response],
    audit: Callable[[Request, str, dict[str, Any]], None],
    denied: type[Exception],
) -> None:
    """The admin pages added to the app, each refusing (and the refusal audited by the app)
    anyone else. `settings_shown` gives the workspace's settings as the admin should read
    them."""

    def admin(request: Request) -> User:
        user: User = request.state.user
        if user.role != "admin":
            raise denied("users and settings are for admins")
        return user

    def users_page(request: Request, status: int = 200, **values: Any) -> Response:
        response = page(
            request, "users.html.j2", status, title="Users", users=users(root), roles=ROLES,
            csps=csps(), **values,
        )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"  # it may hold a new password
        return response

    @router.get("/admin/users")
    def list_users(request: Request) -> Response:
        admin(request)
        return users_page(request)

    async def form_of(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {
            "name": str(form.get("name", "")).strip(),
            "role": str(form.get("role", "")),
            "areas": tuple(str(a) for a in form.getlist("areas") if a),
            "action": str(form.get("action", "")),
        }

    def checked_areas(areas: tuple[str, ...], role: str) -> tuple[str, ...]:
        known = csps()
        for area in areas:
            if area not in known:
                raise InputError(f"area {area!r} is not a CSP of this workspace")
        if areas and role != "partner":
            raise InputError("only a partner is limited to areas")
        return areas

    @router.post("/admin/users")
    async def add(request: Request) -> Response:
        admin(request)
        form = await form_of(request)
        password = new_password()
        try:
            added = add_user(
                root, form["name"], password, form["role"],
                checked_areas(form["areas"], form["role"]),
            )  # fmt: skip
        except InputError as error:
            return users_page(request, 400, error=str(error))
        audit(request, "web user added", {"user": added.name, "role": added.role,
                                          "areas": list(added.areas)})  # fmt: skip
        return users_page(request, 201, shown_password=(added.name, password))

    @router.post("/admin/users/{name}")
    async def change(request: Request, name: str) -> Response:
        me = admin(request)
        form = await form_of(request)
        target = next((u for u in users(root) if u.name == name), None)
        if target is None:
            return users_page(request, 404, error=f"no user {name!r}")
        action, shown = form["action"], None
        try:
            if action == "role":
                areas = checked_areas(form["areas"], form["role"])
                if form["role"] not in ROLES:
                    raise InputError(f"role {form['role']!r}: one of {', '.join(ROLES)}")
                if _enabled_admins(root, name, form["role"], target.disabled) == 0:
                    raise InputError("that would leave no enabled admin")
                set_role(root, name, form["role"], areas)
                details: dict[str, Any] = {"role": form["role"], "areas": list(areas)}
            elif action in ("disable", "enable"):
                disabled = action == "disable"
                if disabled and name == me.name:
                    raise InputError("an admin cannot disable their own account")
                if _enabled_admins(root, name, target.role, disabled) == 0:
                    raise InputError("that would leave no enabled admin")
                set_disabled(root, name, disabled)
                details = {}
            elif action == "reset-password":
                password = new_password()
                set_password(root, name, password)
                shown, details = (name, password), {}
            else:
                raise InputError(f"action {action!r}: role, disable, enable or reset-password")
        except InputError as error:
            return users_page(request, 400, error=str(error))
        audit(request, f"web user {action}", {"user": name, **details})
        if shown:
            return users_page(request, shown_password=shown)
        return RedirectResponse("/admin/users", status_code=303)

    @router.get("/admin/settings")
    def show_settings(request: Request) -> Response:
        admin(request)
        return page(
            request, "settings.html.j2", title="Settings", workspace=settings_shown(),
            dashboard=DashboardSettings.load(root), notice_max=NOTICE_MAX,
            settings_file=SETTINGS_FILE_OF_WORKSPACE,
        )  # fmt: skip

    @router.post("/admin/settings")
    async def change_settings(request: Request) -> Response:
        admin(request)
        form = await request.form()
        wanted = DashboardSettings(notice=str(form.get("notice", "")).strip())
        try:
            wanted.save(root)
        except InputError as error:
            return page(
                request, "settings.html.j2", 400, title="Settings", workspace=settings_shown(),
                dashboard=wanted, notice_max=NOTICE_MAX, error=str(error),
                settings_file=SETTINGS_FILE_OF_WORKSPACE,
            )  # fmt: skip
        audit(request, "web settings changed", asdict(wanted))
        return RedirectResponse("/admin/settings", status_code=303)
