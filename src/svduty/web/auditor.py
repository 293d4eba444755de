"""The dashboard's audit rows, written by one thread in batches (group commit).

Every request thread used to open the audit log and take SQLite's write lock for its one row;
under load they queued on that lock, each waiting out SQLite's growing busy sleeps. Here a
request hands its row to the writer and waits until the batch holding it is committed, so a
page is still never sent before its view is in the log, and nothing is lost on a crash or a
stop. While the writer commits one batch the next gathers, so fifty requests at once cost a
few transactions, not fifty.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from svduty.audit import Entry, append, append_on, connect

WAIT = 30.0
"""Seconds a request waits for its row to be written before it carries on (the log's own busy
timeout is as long: a stuck log must not hang the dashboard for ever)."""


class _Pending:
    __slots__ = ("done", "entries", "error")

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.done = threading.Event()
        self.error: Exception | None = None


class AuditWriter:
    """One thread appending the rows handed to it, a batch per transaction."""

    def __init__(self, root: Path, say: Callable[[str], None] | None = None) -> None:
        self.root = root
        self._say = say
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closed = False
        self._con: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="svduty-audit", daemon=True)
        self._thread.start()

    def write(self, entries: list[Entry]) -> None:
        """Append the rows, returning once they are committed (or the log cannot be written,
        which `audit.append` says once)."""
        pending = _Pending(entries)
        with self._lock:
            queued = not self._closed
            if queued:
                self._queue.put(pending)
        if not queued:  # after shutdown: straight to the log
            append(self.root, entries, say=self._say)
            return
        pending.done.wait(WAIT)
        if pending.error is not None:  # the request fails as it did when it wrote its own row
            raise pending.error

    def close(self) -> None:
        """Write what is queued and stop the thread (from the server's shutdown)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [] if first is None else [first]
            stopping = first is None
            while True:  # everything that arrived meanwhile goes in the same transaction
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            if batch:
                error: Exception | None = None
                try:
                    self._append([e for p in batch for e in p.entries])
                except Exception as failed:  # the writer lives on; each request hears of it
                    error = failed
                for pending in batch:
                    pending.error = error
                    pending.done.set()
            if stopping:
                if self._con is not None:
                    self._con.close()
                return

    def _append(self, entries: list[Entry]) -> None:
        """On the writer's own connection, kept open (opening and closing one per batch made
        SQLite fold its log into the file at every close); where the log cannot be written,
        `audit.append` says so once."""
        try:
            if self._con is None:
                self._con = connect(self.root)
            append_on(self._con, entries)
        except sqlite3.OperationalError:
            if self._con is not None:
                self._con.close()
                self._con = None
            append(self.root, entries, say=self._say)
