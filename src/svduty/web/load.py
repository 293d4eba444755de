"""A bounded load test of the dashboard: `svduty serve` started on a loopback port, a user made
for the run (and removed after), then many signed-in users browsing filtered pages at once for
a fixed time, each waiting for its answer before asking again.

The users sign in first, one after another; the clock starts when all have. A view's first
request makes its published set (the SNA's analyses, or the cache on disk); its
later requests read the set kept in memory. The two are timed apart: first views, once each,
before the users start; then every request of the run, which all find their set made.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from svduty.errors import SvdutyError
from svduty.web.accounts import add_user, remove_user
from svduty.web.views import PAGES

STARTUP_SECONDS = 120.0


@dataclass(frozen=True)
class LoadResult:
    users: int
    seconds: float
    requests: int
    errors: int
    cached_p50_ms: float
    cached_p95_ms: float
    cached_max_ms: float
    first_views: int
    first_p95_ms: float
    first_max_ms: float


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def views(areas: list[str], periods: list[tuple[str, str]]) -> list[str]:
    """Every page for the whole area and each CSP, over each period: the paths users browse."""
    paths = []
    for page in PAGES:
        for area in ["", *areas]:
            for start, end in periods:
                query = "&".join(
                    f"{k}={v}" for k, v in (("area", area), ("start", start), ("end", end)) if v
                )
                paths.append(f"/pages/{page}" + (f"?{query}" if query else ""))
    return paths


async def _sign_in(client: httpx.AsyncClient, name: str, password: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if token is None:
        raise SvdutyError("the dashboard's sign-in page has no form token")
    done = await client.post(
        "/login", data={"csrf": token.group(1), "username": name, "password": password}
    )
    if done.status_code != 303:
        raise SvdutyError(f"the load test's user could not sign in ({done.status_code})")


async def _run(
    base: str, name: str, password: str, paths: list[str], users: int, seconds: float,
    say: Callable[[str], None],
) -> LoadResult:  # fmt: skip
    limits = httpx.Limits(max_connections=users + 1)
    first: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as warm:
        await _sign_in(warm, name, password)
        for index, path in enumerate(paths, 1):
            started = time.perf_counter()
            answer = await warm.get(path)
            first.append(1000 * (time.perf_counter() - started))
            if answer.status_code != 200:
                raise SvdutyError(f"{path}: {answer.status_code} before the load started")
            if index % 10 == 0:
                say(f"first views: {index} of {len(paths)}")
    timings: list[float] = []
    errors = 0
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(users)]
    say(f"signing in {users} users")
    for client in clients:  # one at a time, as people do: argon2 is slow on purpose
        await _sign_in(client, name, password)

    async def user(client: httpx.AsyncClient, seed: int, stop: float) -> None:
        nonlocal errors
        pick = random.Random(seed)
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                answer = await client.get(pick.choice(paths))
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            timings.append(1000 * (time.perf_counter() - started))
            errors += not ok

    say(f"{users} users browsing for {seconds:.0f} s")
    began = time.perf_counter()
    try:
        await asyncio.gather(*(user(c, seed, began + seconds) for seed, c in enumerate(clients)))
    finally:
        for client in clients:
            await client.aclose()
    return LoadResult(
        users=users,
        seconds=round(time.perf_counter() - began, 1),
        requests=len(timings),
        errors=errors,
        cached_p50_ms=round(_percentile(timings, 0.50), 1),
        cached_p95_ms=round(_percentile(timings, 0.95), 1),
        cached_max_ms=round(max(timings, default=0.0), 1),
        first_views=len(first),
        first_p95_ms=round(_percentile(first, 0.95), 1),
        first_max_ms=round(max(first, default=0.0), 1),
    )


def load_test(
    root: Path,
    users: int = 50,
    seconds: float = 60.0,
    periods: list[tuple[str, str]] | None = None,
    say: Callable[[str], None] = print,
) -> LoadResult:
    """The dashboard of the workspace at `root` under `users` at once for `seconds`, over
    loopback only."""
    from svduty.settings import load_settings

    if users < 1 or not 1 <= seconds <= 600:
        raise SvdutyError("--users at least 1 and --seconds from 1 to 600")
    areas = list(load_settings(root).csps)
    name, password = f"load-test-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    add_user(root, name, password, "analyst")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "svduty.cli", "serve", "-w", str(root), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        waited = time.perf_counter() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() > waited or server.poll() is not None:
                raise SvdutyError("the dashboard did not start; run `svduty serve` to see why")
            time.sleep(0.5)
        paths = views(areas, periods or [("", "")])
        return asyncio.run(_run(base, name, password, paths, users, seconds, say))
    finally:
        server.terminate()
        server.wait(30)
        remove_user(root, name)
