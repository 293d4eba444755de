"""Progress for whatever a command is doing: once it has worked for two seconds, a spinner with
the elapsed time and the step under way on a terminal; in a log, a line after ten seconds with
no other line, then every half minute of silence.

Commands announce their steps (ingesting a file, assessing, drawing) as lines of their own; the
heartbeat covers the stretches between, so no step of over two seconds runs silent."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

FIRST_SIGN = 2.0
LOG_FIRST = 10.0
LOG_EVERY = 30.0


class Heartbeat:
    def __init__(self, console: Console, command: str) -> None:
        self.console = console
        self.command = command
        self.step = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="svduty-heartbeat", daemon=True)
        self._started = time.perf_counter()
        self._last_line = self._started

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """No more beats: the command has started work that says its own progress (a server
        logging its requests)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)

    def note(self, step: str) -> None:
        """The step now under way (shown beside the spinner; in a log, its own line was the
        progress)."""
        self.step = step
        self._last_line = time.perf_counter()

    def _label(self) -> str:
        return f"{self.command}: {self.step}" if self.step else self.command

    def _beat(self) -> None:
        if self.console.is_terminal:
            if self._stop.wait(FIRST_SIGN):
                return
            label = TextColumn("{task.description}", markup=False)  # names files as they are
            columns = (SpinnerColumn(), label, TimeElapsedColumn())
            with Progress(*columns, console=self.console, transient=True) as bar:
                task = bar.add_task(self._label(), total=None)
                while not self._stop.wait(0.2):
                    bar.update(task, description=self._label())
            return
        silence = LOG_FIRST
        while not self._stop.wait(1.0):
            now = time.perf_counter()
            if now - self._last_line >= silence:
                self.console.print(f"{self._label()} ... {now - self._started:.0f} s")
                self._last_line, silence = now, LOG_EVERY
