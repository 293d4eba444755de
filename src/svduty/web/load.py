"""A bounded load test of the dashboard: `svduty serve` started on a loopback port, a user made
for the run (and removed after), then many signed-in users browsing filtered pages at once for
a fixed time, each waiting for its answer, then pausing to read it (the think time, drawn
uniformly from 0 to twice `think` seconds; 0: no pause) before asking again.

Three things are timed apart, because a reader meets them at different costs:

- a *new set*: a view whose published set is neither in the server's memory nor in the
  workspace's cache (`cache/sna-*.pickle`), so it must be made (every analysis of the period,
  for the whole area and each CSP, then disclosure control). The dashboard answers such a view
  within 1.5 s with a "being prepared" page (HTTP 202) that reloads itself; the time reported is
  from the first ask to the page itself (HTTP 200).
- a *first view*: the first time this server process is asked for a page, its set in memory or
  in the workspace's cache. Every page for the whole area and each CSP (and each period) is
  asked for once, one after another, before the users start; a page answered 202 counts here
  with the time of the request that was answered 200. The server draws the pages of all the
  data ahead of readers when it starts, so those first views cost what a reader meets after
  the start; a period's pages (`--period`) are drawn when first asked for.
- *cached views*: every request of the run, all of whose pages were drawn before it.

The users sign in first, one after another; the clock starts when all have. The server's peak
resident memory (Linux's VmHWM) is read at the end.
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
THINK = 5.0
"""Mean seconds a user reads a page before the next (0 to 10 s, uniformly): people pause."""
PREPARE_SECONDS = 600.0
"""Longest wait for a view's set to be made before the run gives up."""


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
    think: float = 0.0
    new_sets: int = 0
    new_set_max_s: float = 0.0
    peak_rss_mb: float | None = None


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


async def _first_view(client: httpx.AsyncClient, path: str) -> tuple[float, float | None]:
    """The page's first drawing (ms), and the seconds its set took to make if it had to be."""
    asked = time.perf_counter()
    prepared = False
    while True:
        started = time.perf_counter()
        answer = await client.get(path)
        took = 1000 * (time.perf_counter() - started)
        if answer.status_code == 200:
            return took, (time.perf_counter() - asked if prepared else None)
        prepared = True
        if answer.status_code not in (202, 503):
            raise SvdutyError(f"{path}: {answer.status_code} before the load started")
        if time.perf_counter() - asked > PREPARE_SECONDS:
            raise SvdutyError(f"{path}: not prepared in {PREPARE_SECONDS:.0f} s")
        await asyncio.sleep(0.25)


async def _run(
    base: str, name: str, password: str, paths: list[str], users: int, seconds: float,
    think: float, say: Callable[[str], None],
) -> LoadResult:  # fmt: skip
    limits = httpx.Limits(max_connections=users + 1)
    first: list[float] = []
    made: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as warm:
        await _sign_in(warm, name, password)
        for index, path in enumerate(paths, 1):
            took, making = await _first_view(warm, path)
            first.append(took)
            if making is not None:
                made.append(making)
                say(f"{path}: its figures took {making:.1f} s to prepare")
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
        if think:  # users arrive spread over a think time, not all in the same instant
            await asyncio.sleep(min(pick.uniform(0, 2 * think), stop - time.perf_counter()))
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                answer = await client.get(pick.choice(paths))
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            timings.append(1000 * (time.perf_counter() - started))
            errors += not ok
            if think:
                await asyncio.sleep(min(pick.uniform(0, 2 * think), stop - time.perf_counter()))

    say(f"{users} users browsing for {seconds:.0f} s, think time {think:g} s")
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
        think=think,
        new_sets=len(made),
        new_set_max_s=round(max(made, default=0.0), 1),
    )


def peak_rss_mb(pid: int) -> float | None:
    """A live process's peak resident memory in MB (Linux's VmHWM; None elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def load_test(
    root: Path,
    users: int = 50,
    seconds: float = 60.0,
    periods: list[tuple[str, str]] | None = None,
    say: Callable[[str], None] = print,
    think: float = THINK,
) -> LoadResult:
    """The dashboard of the workspace at `root` under `users` at once for `seconds`, each
    pausing a think time around `think` seconds between pages, over loopback only."""
    from dataclasses import replace

    from svduty.settings import load_settings

    if users < 1 or not 1 <= seconds <= 600 or not 0 <= think <= 60:
        raise SvdutyError("--users at least 1, --seconds from 1 to 600, --think from 0 to 60")
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
        result = asyncio.run(_run(base, name, password, paths, users, seconds, think, say))
        return replace(result, peak_rss_mb=peak_rss_mb(server.pid))
    finally:
        server.terminate()
        server.wait(30)
        remove_user(root, name)
