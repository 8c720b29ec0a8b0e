"""The real thing: ``archlens dashboard`` serves on 127.0.0.1, and headless Chromium renders it.

Starts the server on a free port in its own process group, waits for ``/_stcore/health``,
screenshots the page with headless Chromium once it shows the overview, checks the pixels
show rendered content (not a blank or loading page), then stops the server it started
(always, in ``finally``).
"""
from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _browser import Browser, chromium, free_port  # noqa: E402

sys.path.pop(0)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

MAIN_LEFT = 320  # px: the sidebar is ~300 px wide at a 1400 px window
CHROMIUM = chromium()


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 90.0) -> float:
    """Seconds until ``/_stcore/health`` answers ``ok``; fails if the server exits first."""
    t0 = time.monotonic()
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no answer from {url} within {timeout:.0f} s")


def start_server(port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("ARCHLENS_DASHBOARD_ALLOW_USER_CODE", None)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "archlens", "dashboard", "--port", str(port), "--headless"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate the process group this test started (the server and anything it spawned)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def pixel_stats(png: Path, left: int = 0) -> tuple[int, float]:
    """(distinct colours, fraction of pixels that are not near-white), right of ``left`` px."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - streamlit depends on pillow
        return _pixel_stats_zlib(png)
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        rgb = rgb.crop((left, 0, rgb.width, rgb.height))
        px = list(rgb.get_flattened_data() if hasattr(rgb, "get_flattened_data")
                  else rgb.getdata())
    colours = len(set(px))
    dark = sum(1 for r, g, b in px if min(r, g, b) < 235)
    return colours, dark / len(px)


def _pixel_stats_zlib(png: Path) -> tuple[int, float]:  # pragma: no cover
    data = png.read_bytes()
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    bpp = (len(raw) // h - 1) // w
    # approximate (rows are still PNG-filtered), but distinct byte triples still tell a blank
    # page (a few) from rendered content (many)
    values = {raw[i:i + 3] for i in range(0, len(raw), bpp)}
    dark = sum(1 for i in range(0, len(raw), bpp * 7) if min(raw[i:i + 3] or b"\xff") < 235)
    return len(values), dark / max(1, len(raw) // (bpp * 7))


@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium (Debian: chromium)")
def test_real_server_renders_in_chromium(tmp_path):
    port = free_port()
    proc = start_server(port, tmp_path / "server.log")
    try:
        healthy_after = wait_healthy(port, proc)
        # Only this machine can reach it: bound to the loopback address.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
        # The same headless Chromium, driven over DevTools so the shot waits for the page
        # to show the analysis (see _browser.py for why --screenshot alone cannot).
        png = tmp_path / "dashboard.png"
        with Browser(CHROMIUM, tmp_path / "profile") as browser:
            shown_after = browser.open(f"http://127.0.0.1:{port}/",
                                       ("Parameters (count)", "inception_v3", "Findings"),
                                       screenshot=png)
        colours, dark = pixel_stats(png, left=MAIN_LEFT)
        keep = os.environ.get("ARCHLENS_TEST_ARTIFACTS")  # to look at the picture
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(png, Path(keep) / "dashboard.png")
        print(f"health after {healthy_after:.1f} s; overview shown {shown_after:.1f} s later; "
              f"{colours} colours, {dark:.1%} ink in the main area")
        # the main area (right of the ~300 px sidebar): metric cards, tables and text give
        # hundreds of colours (anti-aliased glyphs); a blank or skeleton page a handful
        assert colours > 150, (colours, dark)
        assert 0.02 < dark < 0.9, (colours, dark)
        whole_colours, _ = pixel_stats(png)
        assert whole_colours > colours  # the sidebar adds its own content
    finally:
        stop_server(proc)
    assert proc.poll() is not None
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
