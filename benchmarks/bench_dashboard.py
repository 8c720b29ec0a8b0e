"""Dashboard speed: first render, a cached model switch, selecting a layer; work per rerun.

    python benchmarks/bench_dashboard.py [--model inception_v3] [--other resnet50]
                                         [--repeats N] [--no-server] [--no-apptest]
                                         [--no-baseline]
                                         [--device meta|cpu] [--screenshots DIR]
                                         [--profile FILE]

Targets (printed with the numbers, not asserted -- timings are noisy on a shared machine):
first full render of inception_v3 <= 2 s after the server is ready; a cached model switch
<= 0.5 s; selecting a layer <= 0.3 s.

Two measurements:

1. Work per rerun, in process (``streamlit.testing.v1.AppTest``, no browser): the app script
   runs under a small wrapper that records the CPU time of the script thread
   (``time.thread_time``: what one rerun costs the server, nearly independent of other load)
   and its wall time. Medians over ``--repeats`` runs of: a new session's first page (the
   analysis already cached), a cached model switch, each tab, selecting a layer on the Graph,
   Charts and Layers tabs. AppTest always runs the whole script, so a selection here is a
   whole-page run; in the browser the Graph, Charts and Layers views are fragments and a
   selection reruns only them (less). ``--profile FILE`` writes the cProfile of one cached
   Charts-tab selection rerun.
2. The real server (``archlens dashboard --headless`` on a free loopback port) driven by
   Playwright with the system Chromium at 1440 x 900: seconds until ``/_stcore/health``
   answers (includes the warm-up); from navigating to the page until the overview shows the
   model and its findings table: the first visitor (one sample: the server's first script
   run), then the median of ``--repeats`` new visitors (new browser context: empty browser
   cache, new session) and of reloads (browser cache warm); the median of ``--repeats``
   switches between two analysed models in the sidebar (from the Enter key until the page
   shows the other model); on the Graph tab, the median of ``--repeats`` clicks on nodes
   (alternating between two) until the side panel shows the layer and the graph outlines it.
   With each, the CPU seconds the server and the browser (every child process of the bench)
   used for it: the work, which other users' load does not inflate the way it does wall
   time (on an idle machine the wall time is about this work spread over the cores, plus
   round trips).

3. The baseline (after the real server, unless ``--no-baseline``): a bare Streamlit page with
   one ``st.metric``, served with the same flags and opened the same way. The dashboard's
   first render is printed as a ratio to it: the floor Streamlit and Chromium put under any
   page on this machine.

Numbers depend on the machine and its load; the load average is printed with them.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import statistics
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
OTHER_NODE = "Mixed_5b.branch5x5_1.conv"
# the overview's last element: its findings table (or the "no findings" box)
FINDINGS_SHOWN = "table.al-findings, [data-testid='stAlertContentSuccess']"


def _ok(value: float, target: float) -> str:
    return "ok" if value <= target else "OVER TARGET"


def _load() -> str:
    try:
        return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg()) + \
            f" on {os.cpu_count()} cores"
    except OSError:  # pragma: no cover
        return "load average n/a"


_WRAPPER = """import sys, time
_rec = sys.modules["_archlens_bench_runs"]
_app = _rec.APP
_prof = _rec.profile_next
_rec.profile_next = None
w, c = time.perf_counter(), time.thread_time()
if _prof is not None:
    _prof.enable()
try:
    exec(_rec.code, {"__name__": "__main__", "__file__": _app})
finally:
    if _prof is not None:
        _prof.disable()
    _rec.runs.append((time.perf_counter() - w, time.thread_time() - c))
"""


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def bench_apptest(model: str, other: str, device: str, repeats: int = 5,
                  profile: Path | None = None) -> dict[str, tuple[float, float]]:
    """(median wall s, median script-thread CPU s) per step; see the module docstring."""
    import types

    from streamlit.testing.v1 import AppTest

    rec = sys.modules.setdefault("_archlens_bench_runs", types.ModuleType("_archlens_bench_runs"))
    rec.APP = str(APP)
    rec.code = compile(APP.read_text(), str(APP), "exec")  # streamlit caches it the same way
    rec.runs, rec.profile_next = [], None
    tmp = Path(tempfile.mkdtemp(prefix="archlens-bench-"))
    wrapper = tmp / "dashboard_bench_wrapper.py"
    wrapper.write_text(_WRAPPER)
    out: dict[str, tuple[float, float]] = {}

    def run(at, label: str | None = None, samples: dict | None = None):
        n = len(rec.runs)
        at.run()
        if at.exception or at.error:
            raise SystemExit(f"{label}: {[e.value for e in at.exception or at.error]}")
        if samples is not None and label:
            wall = sum(r[0] for r in rec.runs[n:])
            cpu = sum(r[1] for r in rec.runs[n:])
            samples.setdefault(label, []).append((wall, cpu))
        return at

    try:
        at = AppTest.from_file(str(wrapper), default_timeout=300)
        at.query_params["device"] = device
        at.query_params["model"] = model
        t = time.perf_counter()
        run(at)
        out["first run in a cold process (imports + analysis + page)"] = (
            time.perf_counter() - t, rec.runs[-1][1])
        _check(at, model)
        t = time.perf_counter()
        at.selectbox(key="model").set_value(other)
        run(at)
        out[f"switch to {other} (not cached: trace + checks)"] = (
            time.perf_counter() - t, rec.runs[-1][1])
        samples: dict[str, list[tuple[float, float]]] = {}
        for _ in range(repeats):
            fresh = AppTest.from_file(str(wrapper), default_timeout=300)
            fresh.query_params["device"] = device
            run(fresh, f"new session, {model} overview (analysis cached)", samples)
            _check(fresh, model)
            fresh.selectbox(key="model").set_value(other)
            run(fresh, "cached model switch", samples)
            fresh.selectbox(key="model").set_value(model)
            run(fresh, "cached model switch", samples)
        for tab in ("Layers", "Graph", "Charts", "Receptive field", "Principles", "Compare",
                    "Overview"):
            for i in range(repeats + 1):  # the first visit of a tab builds its cached parts
                at.session_state["tab"] = tab
                run(at, f"tab {tab} (first visit)" if i == 0 else f"tab {tab} (again)",
                    samples)
        if model == "inception_v3":
            for tab in ("Graph", "Charts", "Layers"):
                at.session_state["tab"] = tab
                run(at)
                for i in range(repeats):
                    at.session_state["selected_layer"] = NODE if i % 2 == 0 else OTHER_NODE
                    if profile is not None and tab == "Charts" and i == repeats - 1:
                        rec.profile_next = cProfile.Profile()
                        prof = rec.profile_next
                        run(at, f"select a layer on the {tab} tab (whole-page run)", samples)
                        prof.dump_stats(str(profile))
                    else:
                        run(at, f"select a layer on the {tab} tab (whole-page run)", samples)
        for label, xs in samples.items():
            out[label + f" [median of {len(xs)}]"] = (_median([x[0] for x in xs]),
                                                       _median([x[1] for x in xs]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _check(at, model: str) -> None:
    if at.exception or at.error:
        raise SystemExit(f"{model}: {[e.value for e in at.exception or at.error]}")
    if not any(m.label == "Parameters (count)" for m in at.metric):
        raise SystemExit(f"{model}: the overview did not render")


def _children_cpu() -> float:
    """CPU seconds (user + system) used so far by every live descendant of this process: the
    dashboard server, the Playwright driver and Chromium's processes (Linux /proc; 0 where
    there is none). The difference over an action is the work it cost the machine, which
    does not grow with other users' load the way wall time does."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        parent: dict[int, int] = {}
        used: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read().decode("latin-1")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            parent[int(entry)] = int(fields[1])
            used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, AttributeError):
        return 0.0
    me = os.getpid()
    total = 0.0
    for pid, cpu in used.items():
        p, seen = parent.get(pid), 0
        while p and p != me and seen < 64:
            p, seen = parent.get(p), seen + 1
        if p == me:
            total += cpu
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen, port: int, log_name: str) -> None:
    """Until the server on ``port`` answers ``/_stcore/health`` (it exiting first is fatal)."""
    import urllib.request
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log_name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server this bench started (its own process group, nothing else)."""
    import signal
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


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


def bench_server(model: str, other: str, shots: Path | None = None,
                 repeats: int = 5) -> dict[str, float]:
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
        _wait_healthy(proc, port, log.name)
        out["server start -> /_stcore/health ok (includes the warm-up)"] = \
            time.perf_counter() - t0
        if exe is None:
            print("chromium not found: skipping the browser measurement")
            return out
        base = f"http://127.0.0.1:{port}/"
        viewport = {"width": 1440, "height": 900}

        cpu: dict[str, list[float]] = {}

        def overview(page, reload: bool = False, label: str = "") -> float:
            if not reload:
                page.goto("about:blank")
            c = _children_cpu()
            t = time.perf_counter()
            if reload:
                page.reload()
            else:
                page.goto(base)
            page.get_by_text("Feature receptive field (px)").wait_for(timeout=120_000)
            page.locator(FINDINGS_SHOWN).first.wait_for(timeout=120_000)
            wall = time.perf_counter() - t
            if label:
                cpu.setdefault(label, []).append(_children_cpu() - c)
            return wall

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            ctx = browser.new_context(viewport=viewport)
            page = ctx.new_page()
            out[f"health ok -> {model} overview shown (the first visitor)"] = overview(
                page, label="first visitor")
            ctx.close()
            new, again = [], []
            for _ in range(repeats):
                ctx = browser.new_context(viewport=viewport)  # empty browser cache
                page = ctx.new_page()
                new.append(overview(page, label="new visitor"))
                again.append(overview(page, reload=True, label="reload"))
                ctx.close()
            out[f"new visitor -> {model} overview (empty browser cache) [median of "
                f"{repeats}]"] = _median(new)
            out[f"reload -> {model} overview (browser cache warm) [median of {repeats}]"] = \
                _median(again)

            page = browser.new_page(viewport=viewport)
            overview(page)
            box = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")

            def switch(name: str) -> float:
                box.click()
                page.keyboard.type(name)
                c = _children_cpu()
                t = time.perf_counter()
                page.keyboard.press("Enter")
                page.get_by_role("heading", name=f"{name} — input").wait_for(timeout=120_000)
                page.locator(FINDINGS_SHOWN).first.wait_for(timeout=120_000)
                wall = time.perf_counter() - t
                cpu.setdefault(label, []).append(_children_cpu() - c)
                return wall

            label = "first switch"
            out[f"switch to {other} (first time: trace + checks)"] = switch(other)
            label = "cached switch"
            switches = [switch(model if i % 2 == 0 else other) for i in range(repeats)]
            out[f"switch between {model} and {other} (cached) [median of {repeats}]"] = \
                _median(switches)
            page.goto(base + "?tab=Graph")
            page.get_by_text("Selected layer").first.wait_for(timeout=120_000)
            page.wait_for_function(_FIND_NODE, arg=NODE, timeout=60_000)
            page.wait_for_timeout(1000)  # the viewer's first fit
            clicks = []
            for i in range(repeats):
                node = NODE if i % 2 == 0 else OTHER_NODE
                pos = page.evaluate(_FIND_NODE, node)
                if pos is None:
                    raise SystemExit(f"node {node} not found in the drawing")
                c = _children_cpu()
                t = time.perf_counter()
                page.mouse.click(pos["x"], pos["y"])
                page.locator("h5", has_text=node).first.wait_for(timeout=60_000)
                page.wait_for_function(_OUTLINED, arg=node, timeout=60_000)
                clicks.append(time.perf_counter() - t)
                cpu.setdefault("node click", []).append(_children_cpu() - c)
                page.wait_for_timeout(800)  # the viewer's pan to the selection
            out[f"click a graph node -> side panel shows it, graph outlines it [median of "
                f"{repeats}]"] = _median(clicks)
            for what, xs in cpu.items():
                out[f"  CPU s of server + browser: {what} [median of {len(xs)}]"] = _median(xs)
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
        _stop(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


_BARE_APP = """import streamlit as st
st.metric("Feature receptive field (px)", 1311)
"""


def bench_bare(repeats: int = 5) -> dict[str, float]:
    """The baseline, in the same process and conditions: a bare Streamlit page holding one
    ``st.metric``, served by ``streamlit run`` with the dashboard's own server flags, opened
    in the same Chromium at the same viewport (first visitor, new visitors, reloads). What
    Streamlit itself costs on this machine, before archlens draws anything: the dashboard's
    first render divided by it is a measure the machine's speed and load mostly cancel out of.
    """
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return {}
    out: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="archlens-bare-"))
    app = tmp / "bare.py"
    app.write_text(_BARE_APP)
    port = _free_port()
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
         "--server.fileWatcherType", "none"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
    try:
        _wait_healthy(proc, port, log.name)
        base = f"http://127.0.0.1:{port}/"
        viewport = {"width": 1440, "height": 900}

        def shown(page, reload: bool = False) -> float:
            if not reload:
                page.goto("about:blank")
            t = time.perf_counter()
            page.reload() if reload else page.goto(base)
            page.get_by_text("Feature receptive field (px)").wait_for(timeout=120_000)
            page.get_by_text("1,311").or_(page.get_by_text("1311")).first.wait_for(
                timeout=120_000)
            return time.perf_counter() - t

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            ctx = browser.new_context(viewport=viewport)
            out["bare page: the first visitor"] = shown(ctx.new_page())
            ctx.close()
            new, again = [], []
            for _ in range(repeats):
                ctx = browser.new_context(viewport=viewport)
                page = ctx.new_page()
                new.append(shown(page))
                again.append(shown(page, reload=True))
                ctx.close()
            out[f"bare page: a new visitor [median of {repeats}]"] = _median(new)
            out[f"bare page: a reload [median of {repeats}]"] = _median(again)
            browser.close()
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="inception_v3")
    ap.add_argument("--other", default="resnet50")
    ap.add_argument("--device", default="meta", choices=("meta", "cpu"))
    ap.add_argument("--repeats", type=int, default=5, metavar="N",
                    help="samples per median (default: 5)")
    ap.add_argument("--no-server", action="store_true", help="skip the real-server part")
    ap.add_argument("--no-apptest", action="store_true", help="skip the in-process part")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the bare Streamlit page measured after the real server")
    ap.add_argument("--screenshots", type=Path, metavar="DIR",
                    help="also save a PNG of every tab of the real server into DIR")
    ap.add_argument("--profile", type=Path, metavar="FILE",
                    help="write the cProfile stats of one Charts-tab selection rerun")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    print(f"archlens dashboard bench ({_load()})")
    if not args.no_apptest:
        res = bench_apptest(args.model, args.other, args.device, args.repeats, args.profile)
        print(f"\nWork per rerun, in process (AppTest, device {args.device}); wall s / CPU s "
              "of the script thread:")
        for k, (wall, cpu) in res.items():
            print(f"  {k:<72} {wall:6.3f} / {cpu:6.3f}")
        if args.profile:
            print(f"  cProfile of one Charts selection rerun: {args.profile}")
        print(f"  ({_load()})")
    if not args.no_server:
        srv = bench_server(args.model, args.other, args.screenshots, args.repeats)
        print("\nReal server + Chromium (Playwright, 1440 x 900):")
        for k, v in srv.items():
            print(f"  {k:<90} {v:7.2f} s")
        for prefix, target, what in (
                ("health ok", FIRST_RENDER_TARGET_S, "first render after the server was ready"),
                ("new visitor", FIRST_RENDER_TARGET_S, "first render, a new visitor"),
                ("switch between", CACHED_SWITCH_TARGET_S, "cached model switch"),
                ("click a graph node", SELECT_TARGET_S, "selecting a layer")):
            v = next((v for k, v in srv.items() if k.startswith(prefix)), None)
            if v is not None:
                print(f"  -> {what}: {v:.2f} s vs target {target} s: {_ok(v, target)}")
        if not args.no_baseline:
            bare = bench_bare(args.repeats)
            print("\nBaseline, same process: a bare Streamlit page with one st.metric "
                  "(streamlit run, the dashboard's server flags, the same Chromium):")
            for k, v in bare.items():
                print(f"  {k:<90} {v:7.2f} s")
            for mine, theirs, what in (("health ok", "bare page: the first", "first visitor"),
                                       ("new visitor", "bare page: a new", "new visitor"),
                                       ("reload", "bare page: a reload", "reload")):
                a = next((v for k, v in srv.items() if k.startswith(mine)), None)
                b = next((v for k, v in bare.items() if k.startswith(theirs)), None)
                if a is not None and b:
                    print(f"  -> {what}: the dashboard's {args.model} overview {a:.2f} s = "
                          f"{a / b:.2f}x the bare page ({b:.2f} s); the 2 s target is "
                          f"{FIRST_RENDER_TARGET_S / b:.2f}x the bare page here")
    print(f"\n({_load()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
