"""Published sets made in the background, so no request waits many seconds for one.

Making a view's published set (every analysis of the period, for the whole area and each CSP,
then disclosure control across them) takes seconds on a small workspace and tens of seconds on
millions of incidents. A page whose set is neither in memory nor in the workspace's cache is
shown if its set is made within 1.5 s (`app.PREPARE_WAIT`), else answered then with a "being
prepared" page that reloads itself, while one thread makes the set; sets are made one at a
time, each once however many ask, and only so many wait their turn. When the server starts,
and whenever new data are committed, the views most read are made first: all the data (its
pages drawn too, for the whole area and each CSP: the success measures' page draws its SPC
charts, a second or two), and the latest financial year (the whole area's and each CSP's, one
set). A district's set (for analysts) is made only when a district's view is asked for.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import replace

from svduty.publish import Publication
from svduty.web.views import Published, View

WAITING = 16
"""Sets waiting to be made at most; past that a new view is refused for now (HTTP 503)."""
log = logging.getLogger("svduty.web.prepare")


def financial_year(period: str) -> tuple[str, str] | None:
    """The financial year (April to March) holding the last month of a period written
    "YYYY-MM to YYYY-MM", as its first and last months."""
    last = period.rpartition(" to ")[2].strip()
    if len(last) != 7 or last[4] != "-" or not (last[:4] + last[5:]).isdigit():
        return None
    year, month = int(last[:4]), int(last[5:])
    first = year if month >= 4 else year - 1
    return f"{first}-04", f"{first + 1}-03"


class Preparer:
    """One background thread making published sets, each view's once."""

    def __init__(self, published: Published, waiting: int = WAITING) -> None:
        self.published = published
        self.waiting = waiting
        self.draw: Callable[[View, dict[str | None, Publication]], None] | None = None
        """Draws a view's pages ahead of readers, once its set is made by `warm`."""
        self._lock = threading.Lock()
        self._queued: dict[View, Future[object]] = {}
        self._jobs: queue.SimpleQueue[tuple[Future[object], Callable[[], object]] | None]
        self._jobs = queue.SimpleQueue()
        # a daemon thread, so stopping the server never waits for a set half made (a set is
        # written to the cache whole or not at all)
        self._closed = False
        threading.Thread(target=self._work, name="svduty-prepare", daemon=True).start()

    def start(self, view: View) -> bool:
        """The view's set is being made (now, or already); False when too many wait."""
        wanted = self._wanted(view)
        with self._lock:
            if self._closed:
                return False
            if wanted in self._queued:
                return True
            if len(self._queued) >= self.waiting:
                return False
            made = self._submit(lambda: self._make(wanted))
            self._queued[wanted] = made
        made.add_done_callback(lambda _: self._done(wanted))
        return True

    def wait(self, view: View, seconds: float) -> None:
        """Wait up to `seconds` for the view's set to be made (if it is being made)."""
        wanted = self._wanted(view)
        with self._lock:
            made = self._queued.get(wanted)
        if made is not None and seconds > 0:
            with suppress(Exception):  # a timeout, or a failure the log already has
                made.result(timeout=seconds)

    def _wanted(self, view: View) -> View:
        """The view whose set holds this view's figures: one set holds the whole area and every
        CSP; a district's is its own."""
        return view if view.area in self.published.districts() else replace(view, area=None)

    def _done(self, view: View) -> None:
        with self._lock:
            self._queued.pop(view, None)

    def _make(self, view: View) -> object:
        try:
            return self.published.set_of(view)
        except Exception:
            log.exception("preparing %s failed", view.query() or "all the data")
            raise

    def warm(self) -> None:
        """Make the sets most read, in the background: all the data, then the latest financial
        year."""
        with self._lock:
            if not self._closed:
                self._submit(self._warm)

    def _warm(self) -> None:
        try:
            whole = self.published.set_of(View())
            if whole is not None and self.draw is not None:
                self.draw(View(), whole)
            period = whole.get(None) if whole else None
            year = financial_year(str(period.value("report", "period") or "")) if period else None
            if year is not None:
                self.published.set_of(View(start=year[0], end=year[1]))
        except Exception:
            log.exception("preparing the views most read failed")

    def close(self) -> None:
        """Stop: a set being made is left to finish, the others are dropped."""
        with self._lock:
            self._closed = True
        self._jobs.put(None)

    def _submit(self, job: Callable[[], object]) -> Future[object]:
        made: Future[object] = Future()
        self._jobs.put((made, job))
        return made

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            made, job = item
            if self._closed:
                made.cancel()
                continue
            made.set_running_or_notify_cancel()
            try:
                made.set_result(job())
            except Exception as error:
                made.set_exception(error)
