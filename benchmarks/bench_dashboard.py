"""Dashboard speed: first render, a cached model switch, selecting a layer, each tab.

    python benchmarks/bench_dashboard.py [--model inception_v3] [--other resnet50]
                                         [--no-server] [--no-apptest] [--device meta|cpu]
                                         [--screenshots DIR]

Targets (printed with the numbers, not asserted -- timings are noisy on a shared machine):
first full render of inception_v3 <= 2 s after the server is ready; a cached model switch
<= 0.5 s; selecting a layer <= 0.3 s.

Two measurements:

1. In process, with ``streamlit.testing.v1.AppTest`` (no browser): a cold first run (imports,
   trace, checks, page), a switch to another model, the switch back (cached), each tab, a
   layer selection (one script run).
2. The real server (``archlens dashboard --headless`` on a free loopback port) driven by
   Playwright with the system Chromium at 1440 x 900: seconds until ``/_stcore/health``
   answers (includes the warm-up), then, in an already running browser, from navigating to
   the page until the overview shows the model (first visitor); a model switch in the
   sidebar to a model already analysed until the page shows it; on the Graph tab, from the
   click on a node until the side panel shows that layer and the graph outlines it.

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
APP = REPO / "apps" / "dashboard.py"
FIRST_RENDER_TARGET_S = 2.0
CACHED_SWITCH_TARGET_S = 0.5
SELECT_TARGET_S = 0.3
NODE = "Mixed_5b.branch5x5_2.conv"


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
    if model == "inception_v3":
        at.session_state["selected_layer"] = NODE
        t = time.perf_counter()
        at.run()
        out["select a layer on the Graph tab (one script run)"] = time.perf_counter() - t
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


SHOT_TABS = {"Overview": "Parameters (count)", "Layers": "Filter by name",
             "Graph": "Selected layer", "Charts": "Selected layer",
             "Receptive field": "theoretical window", "Principles": "P4.",
             "Compare": "Module diff", "Benchmarks": "Upload a results JSON"}

_FIND_NODE = """(name) => {
  for (const h of [...document.querySelectorAll('*')].filter(e => e.shadowRoot)) {
    for (const g of h.shadowRoot.querySelectorAll('g.node')) {
      const a = g.querySelector('a');
      const tip = (a ? (a.getAttribute('xlink:title') || '') : '').split('\\n')[0];
      if (tip.replace(/ \\(\\d+ layers\\)$/, '') === name) {
        const r = g.getBoundingClientRect();
        return {x: r.left + r.width / 2, y: r.top + r.height / 2};
      }
    }
  }
  return null;
}"""
_OUTLINED = """(name) => [...document.querySelectorAll('*')].filter(e => e.shadowRoot).some(
  h => { const b = h.shadowRoot.querySelector('.pz-box');
         return b && b.getAttribute('data-highlight') === name; })"""


def bench_server(model: str, other: str, shots: Path | None = None) -> dict[str, float]:
    import signal
    import urllib.request

    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    out: dict[str, float] = {}
    tmp = tempfile.mkdtemp(prefix="archlens-bench-")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
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
        out["server start -> /_stcore/health ok (includes the warm-up)"] = \
            time.perf_counter() - t0
        if exe is None:
            print("chromium not found: skipping the browser measurement")
            return out
        base = f"http://127.0.0.1:{port}/"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto("about:blank")
            t = time.perf_counter()
            page.goto(base)
            page.get_by_text("Feature receptive field (px)").wait_for(timeout=120_000)
            page.get_by_text("Findings").first.wait_for(timeout=120_000)
            out[f"health ok -> {model} overview shown (first visitor)"] = \
                time.perf_counter() - t
            heading = page.get_by_role("heading", name=f"{model} — input")
            box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").nth(1)

            def switch(name: str) -> float:
                box.click()
                page.keyboard.type(name)
                t = time.perf_counter()
                page.keyboard.press("Enter")
                page.get_by_role("heading", name=f"{name} — input").wait_for(timeout=120_000)
                return time.perf_counter() - t

            out[f"switch to {other} (first time: trace + checks)"] = switch(other)
            out[f"switch back to {model} (cached analysis)"] = switch(model)
            out[f"switch to {other} again (cached analysis)"] = switch(other)
            heading = page.get_by_role("heading", name=f"{model} — input")
            del heading
            page.goto(base + "?tab=Graph")
            page.get_by_text("Selected layer").first.wait_for(timeout=120_000)
            page.wait_for_function(_FIND_NODE, arg=NODE, timeout=60_000)
            page.wait_for_timeout(1000)  # the viewer's first fit
            pos = page.evaluate(_FIND_NODE, NODE)
            if pos is None:
                raise SystemExit(f"node {NODE} not found in the drawing")
            t = time.perf_counter()
            page.mouse.click(pos["x"], pos["y"])
            page.locator("h5", has_text=NODE).first.wait_for(timeout=60_000)
            page.wait_for_function(_OUTLINED, arg=NODE, timeout=60_000)
            out["click a graph node -> side panel shows it, graph outlines it"] = \
                time.perf_counter() - t
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
                for tab, needle in SHOT_TABS.items():
                    page.goto(f"{base}?tab={tab.replace(' ', '+')}&layer={NODE}")
                    page.get_by_text(needle).first.wait_for(timeout=120_000)
                    page.wait_for_timeout(2500)
                    page.screenshot(path=str(shots / f"dashboard-{model}-"
                                             f"{tab.lower().replace(' ', '-')}.png"))
                print(f"screenshots in {shots}")
            browser.close()
    finally:
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
        print(f"  -> cached switch {back:.2f} s vs target {CACHED_SWITCH_TARGET_S} s: "
              f"{_ok(back, CACHED_SWITCH_TARGET_S)}")
    if not args.no_server:
        srv = bench_server(args.model, args.other, args.screenshots)
        print("\nReal server + Chromium (Playwright, 1440 x 900):")
        for k, v in srv.items():
            print(f"  {k:<66} {v:7.2f} s")
        for prefix, target, what in (
                ("health ok", FIRST_RENDER_TARGET_S, "first render after the server was ready"),
                (f"switch back to {args.model}", CACHED_SWITCH_TARGET_S, "cached model switch"),
                ("click a graph node", SELECT_TARGET_S, "selecting a layer")):
            v = next((v for k, v in srv.items() if k.startswith(prefix)), None)
            if v is not None:
                print(f"  -> {what}: {v:.2f} s vs target {target} s: {_ok(v, target)}")
    print(f"\n({_load()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
