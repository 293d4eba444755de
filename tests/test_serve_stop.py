"""`svduty serve` stopped with Ctrl-C while it is still making the published sets it starts
with: the process ends cleanly, not with an abort from threads torn down under native code."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import make_workspace

from svduty.example import example_archive


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _up(url: str, within: float) -> bool:
    ends = time.monotonic() + within
    while time.monotonic() < ends:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # answered
        except OSError:
            time.sleep(0.1)
    return False


def test_ctrl_c_while_the_first_sets_are_made_stops_cleanly(tmp_path: Path):
    with make_workspace(tmp_path / "ws") as ws:
        ws.ingest([example_archive()])
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "svduty.cli", "serve", "-w", str(tmp_path / "ws"), "--public",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert _up(f"http://127.0.0.1:{port}/", 60), "the server did not answer"
        # the sets most read are being made now: nothing of them is cached yet
        assert not list((tmp_path / "ws" / "cache").glob("out-*"))
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0, stderr[-2000:]
    assert "terminate called" not in stderr and "Traceback" not in stderr, stderr[-2000:]
