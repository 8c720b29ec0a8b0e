"""Dashboard speed: first render of a model, switching back to a cached model, the tabs.

    python benchmarks/bench_dashboard.py [--model inception_v3] [--other resnet50]
                                         [--no-server] [--device meta|cpu]

Targets (printed, not asserted): first full render of inception_v3 within 5 s of the server
being ready; switching back to a cached model within 1 s.

Two measurements:

1. In process, with ``streamlit.testing.v1.AppTest`` (no browser): a cold first run (imports,
   trace, checks, page), a switch to another model, the switch back (cached), each tab.
2. The real server (``archlens dashboard --headless`` on a free port): seconds until
   ``/_stcore/health`` answers, then from navigating an already running headless Chromium
   (driven over the DevTools protocol) to the page until its text shows the overview of the
   model (the page text is polled every 50 ms).

Numbers depend on the machine and its load; the load average is printed with them.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "apps"))
from _browser import Browser, chromium  # noqa: E402  (DevTools-driven headless Chromium)

sys.path.pop(0)
APP = REPO / "apps" / "dashboard.py"
FIRST_RENDER_TARGET_S = 5.0
CACHED_SWITCH_TARGET_S = 1.0


def _ok(value: float, target: float) -> str:
    return "ok" if value <= target else "OVER TARGET"


def _load() -> str:
    try:
        return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg()) + \
            f" on {os.cpu_count()} cores"
    except OSError:  # pragma: no cover
        return "load average n/a"


def bench_apptest(model: str, other: str, device: str) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    out: dict[str, float] = {}
    at = AppTest.from_file(str(APP), default_timeout=300)
    t = time.perf_counter()
    at.run()
    if at.selectbox(key="model").value != model or at.radio(key="device").value != device:
        at.radio(key="device").set_value(device)
        at.selectbox(key="model").set_value(model)
        t = time.perf_counter()
        at.run()
    out["first render (cold: imports + analysis + page)"] = time.perf_counter() - t
    _check(at, model)
    t = time.perf_counter()
    at.selectbox(key="model").set_value(other).run()
    out[f"switch to {other} (not cached)"] = time.perf_counter() - t
    _check(at, other)
    t = time.perf_counter()
    at.selectbox(key="model").set_value(model).run()
    out[f"switch back to {model} (cached)"] = time.perf_counter() - t
    _check(at, model)
    for tab in ("Layers", "Graph", "Charts", "Principles", "Compare", "Overview"):
        at.session_state["tab"] = tab
        t = time.perf_counter()
        at.run()
        out[f"tab {tab} (first time)"] = time.perf_counter() - t
        if at.exception or at.error:
            raise SystemExit(f"tab {tab} failed: {[e.value for e in at.exception or at.error]}")
    at.session_state["tab"] = "Graph"
    t = time.perf_counter()
    at.run()
    out["tab Graph (again, SVG cached)"] = time.perf_counter() - t
    return out


def _check(at, model: str) -> None:
    if at.exception or at.error:
        raise SystemExit(f"{model}: {[e.value for e in at.exception or at.error]}")
    if not any(m.label == "Parameters (count)" for m in at.metric):
        raise SystemExit(f"{model}: the overview did not render")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SHOT_TABS = {"Overview": ("Parameters (count)",), "Layers": ("Filter by name",),
             "Graph": ("Depth drawn",), "Charts": ("layer (execution order)",),
             "Principles": ("P4.",), "Compare": ("Findings diff",)}


def bench_server(model: str, shots: Path | None = None) -> dict[str, float]:
    import urllib.request

    exe = chromium()
    out: dict[str, float] = {}
    tmp = tempfile.mkdtemp(prefix="archlens-bench-")
    browser = Browser(exe, os.path.join(tmp, "profile")) if exe else None
    if browser:
        out["Chromium start-up (not counted)"] = browser.startup_s
    port = _free_port()
    log = open(Path(tmp) / "server.log", "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "archlens", "dashboard", "--port", str(port),
                             "--headless"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.05)
        out["server start -> /_stcore/health ok"] = time.perf_counter() - t0
        if browser is None:
            print("chromium not found: skipping the browser measurement")
            return out
        url = f"http://127.0.0.1:{port}/?model={model}"
        needles = ("Parameters (count)", "Feature receptive field", model)
        out[f"health ok -> {model} overview shown (first visitor)"] = browser.open(
            url, needles)
        out[f"reload -> {model} overview (new session, cached analysis)"] = (
            browser.open(url, needles))
        out["switch to the Layers tab via URL (new session)"] = browser.open(
            url + "&tab=Layers", ("Filter by name", "Layer details"))
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            for tab, needles in SHOT_TABS.items():
                browser.open(f"{url}&tab={tab}", needles,
                             screenshot=shots / f"dashboard-{model}-{tab.lower()}.png")
            print(f"screenshots in {shots}")
    finally:
        import signal
        if browser:
            browser.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="inception_v3")
    ap.add_argument("--other", default="resnet50")
    ap.add_argument("--device", default="meta", choices=("meta", "cpu"))
    ap.add_argument("--no-server", action="store_true", help="skip the real-server part")
    ap.add_argument("--no-apptest", action="store_true", help="skip the in-process part")
    ap.add_argument("--screenshots", type=Path, metavar="DIR",
                    help="also save a PNG of every tab of the real server into DIR")
    args = ap.parse_args(argv)
    print(f"archlens dashboard bench ({_load()})")
    if not args.no_apptest:
        res = bench_apptest(args.model, args.other, args.device)
        print(f"\nAppTest, in process (device {args.device}):")
        for k, v in res.items():
            print(f"  {k:<55} {v:7.2f} s")
        back = res[f"switch back to {args.model} (cached)"]
        print(f"  -> cached switch {back:.2f} s vs target {CACHED_SWITCH_TARGET_S:.0f} s: "
              f"{_ok(back, CACHED_SWITCH_TARGET_S)}")
    if not args.no_server:
        srv = bench_server(args.model, args.screenshots)
        print("\nReal server + headless Chromium:")
        for k, v in srv.items():
            print(f"  {k:<75} {v:7.2f} s")
        first = next((v for k, v in srv.items() if k.startswith("health ok")), None)
        if first is not None:
            print(f"  -> first render {first:.2f} s after the server was ready vs target "
                  f"{FIRST_RENDER_TARGET_S:.0f} s: {_ok(first, FIRST_RENDER_TARGET_S)}")
    print(f"\n({_load()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
