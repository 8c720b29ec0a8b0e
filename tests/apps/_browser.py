"""Headless Chromium driven over the DevTools protocol, for the dashboard's browser test and
benchmark.

``chromium --headless --screenshot --virtual-time-budget=N`` cannot wait for a Streamlit page:
virtual time runs through the frontend's timers while the page waits for the server's
websocket, so the shot shows the empty "connecting" skeleton. Here the same headless Chromium
(same flags) is started with a DevTools port; the page text is polled until it shows what the
caller waits for, and only then is the screenshot taken. The websocket client is the
``websockets`` package, which streamlit already depends on.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which(
        "google-chrome")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """``with Browser(exe, profile_dir) as b: b.open(url, needles, screenshot=path)``."""

    def __init__(self, exe: str, profile: str | Path, size: str = "1400,1000"):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
             f"--remote-debugging-port={self.port}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        t = time.perf_counter()
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list",
                                                timeout=2) as r:
                        pages = [p for p in json.load(r) if p.get("type") == "page"]
                    if pages:
                        self.ws_url = pages[0]["webSocketDebuggerUrl"]
                        break
                except OSError:
                    pass
                if self.proc.poll() is not None or time.perf_counter() - t > 60:
                    raise RuntimeError("chromium's DevTools endpoint did not come up")
                time.sleep(0.1)
        except BaseException:
            self.close()
            raise
        self.startup_s = time.perf_counter() - t

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self, url: str, needles: tuple[str, ...], *, timeout: float = 120,
             screenshot: Path | None = None, settle: float = 2.0) -> float:
        """Navigate to ``url``; seconds until the page text contains every needle. Then,
        optionally, wait ``settle`` seconds (charts, frames) and save a PNG."""
        from websockets.sync.client import connect

        with connect(self.ws_url, max_size=1 << 27, open_timeout=30) as ws:
            ids = iter(range(1, 1 << 30))

            def call(method: str, **params):
                i = next(ids)
                ws.send(json.dumps({"id": i, "method": method, "params": params}))
                while True:
                    msg = json.loads(ws.recv(timeout=60))
                    if msg.get("id") == i:
                        return msg.get("result", {})

            t0 = time.perf_counter()
            call("Page.navigate", url=url)
            expr = "document.body ? document.body.innerText : ''"
            while True:
                res = call("Runtime.evaluate", expression=expr, returnByValue=True)
                text = res.get("result", {}).get("value", "") or ""
                if all(n in text for n in needles):
                    elapsed = time.perf_counter() - t0
                    break
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"{url}: {needles} not shown within {timeout:.0f} s; "
                                       f"page text: {text[:300]!r}")
                time.sleep(0.05)
            if screenshot is not None:
                time.sleep(settle)
                shot = call("Page.captureScreenshot", format="png")
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        return elapsed

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
