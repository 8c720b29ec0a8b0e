"""The real thing: ``archlens dashboard`` on a free loopback port, driven by Playwright with the
system Chromium (no browser download), at 1440 x 900.

One server for the module (started in its own process group, stopped by its PID in the
fixture's ``finally``). Checked: the page renders (pixels, not a skeleton); a page reached
under a foreign ``Host`` name gets no session (DNS rebinding); clicking a graph node, a chart
bar or a Layers-table row shows that layer in the side panel (and puts it in the URL);
clicking a finding's layer selects it and outlines it in the graph; a URL with every
parameter (each away from its default) reopens exactly that view, the Compare pair too; the
receptive-field overlay renders.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
if CHROMIUM is None:  # pragma: no cover
    pytest.skip("needs the system Chromium (Debian: chromium)", allow_module_level=True)

VIEWPORT = {"width": 1440, "height": 900}
MIXED_5B_5X5 = "Mixed_5b.branch5x5_2.conv"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> float:
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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = dict(os.environ)
    env.pop("ARCHLENS_DASHBOARD_ALLOW_USER_CODE", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "archlens", "dashboard", "--port", str(port), "--headless"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_healthy(port, proc)
        yield f"http://127.0.0.1:{port}", port
    finally:
        stop_server(proc)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, errors


def _open(page, url: str, text: str, timeout: float = 90_000) -> None:
    page.goto(url)
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)


# JS: the viewer's box and the centre (viewport px) of the node whose tooltip names a layer
_FIND_NODE = """(name) => {
  const hosts = [...document.querySelectorAll('*')].filter(e => e.shadowRoot);
  for (const h of hosts) {
    for (const g of h.shadowRoot.querySelectorAll('g.node')) {
      const a = g.querySelector('a');
      const tip = a ? (a.getAttribute('xlink:title') || '') : '';
      if (tip.split('\\n')[0].replace(/ \\(\\d+ layers\\)$/, '') === name) {
        const r = g.getBoundingClientRect();
        return {x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width};
      }
    }
  }
  return null;
}"""
_HIGHLIGHT = """() => {
  const hosts = [...document.querySelectorAll('*')].filter(e => e.shadowRoot);
  for (const h of hosts) {
    const box = h.shadowRoot.querySelector('.pz-box');
    if (box) return {hl: box.getAttribute('data-highlight'),
                     outlined: h.shadowRoot.querySelectorAll('g.node.pz-hit').length,
                     bottom: box.getBoundingClientRect().bottom};
  }
  return null;
}"""


def _wait_highlight(page, expected: str, timeout: float = 30.0) -> dict:
    t0 = time.monotonic()
    state = None
    while time.monotonic() - t0 < timeout:
        state = page.evaluate(_HIGHLIGHT)
        if state and state["hl"] == expected and state["outlined"] == 1:
            return state
        time.sleep(0.2)
    raise AssertionError(f"graph highlight {state!r}, expected {expected!r}")


def _inspector_title(page, name: str, timeout: float = 30_000) -> None:
    page.locator("h5", has_text=name).first.wait_for(timeout=timeout)


def _wait_text(page, locator, needles: tuple[str, ...], timeout: float = 30.0) -> str:
    """The locator's text once it holds every needle (a rerun replaces the elements one by
    one: the side panel's title can be new while the lines below it are still the old
    layer's)."""
    t0 = time.monotonic()
    text = ""
    while time.monotonic() - t0 < timeout:
        text = locator.inner_text()
        if all(n in text for n in needles):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{needles!r} not all in {text[-2000:]!r}")


def test_page_renders_and_foreign_hosts_get_no_session(server, page, tmp_path):
    base, port = server
    _open(page, base + "/", "Parameters (count)")
    page.get_by_text("Findings").first.wait_for()
    png = tmp_path / "overview.png"
    time.sleep(1.0)
    page.screenshot(path=str(png))
    from PIL import Image
    with Image.open(png) as im:
        main = im.convert("RGB").crop((320, 0, im.width, im.height))
        colours = len(set(main.getdata()))
    assert colours > 150, colours  # cards, tables and text, not a blank skeleton
    keep = os.environ.get("ARCHLENS_TEST_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / "dashboard.png")
    # the websocket every session runs over: accepted for 127.0.0.1, refused for a rebinding
    # attacker's name (raw handshake, so the Host header is exactly what we send)
    assert _ws_status(port, f"127.0.0.1:{port}") == 101
    assert _ws_status(port, "evil.example") != 101
    assert _ws_status(port, f"attacker.test:{port}") != 101


def _ws_status(port: int, host: str) -> int:
    req = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n"
           "Sec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(req.encode())
        line = s.makefile("rb").readline().decode("latin-1")
    return int(line.split()[1]) if line.startswith("HTTP/") else 0


def test_click_a_graph_node_shows_that_layer_in_the_side_panel(server, page):
    base, _ = server
    # start with another layer selected, so the viewer is zoomed in around Mixed_5b
    _open(page, base + "/?tab=Graph&layer=Mixed_5b.branch5x5_1.conv", "Selected layer")
    _wait_highlight(page, "Mixed_5b.branch5x5_1.conv")
    state = page.evaluate(_HIGHLIGHT)
    assert state["bottom"] <= VIEWPORT["height"]  # the viewer fits the window
    pos = page.evaluate(_FIND_NODE, MIXED_5B_5X5)
    assert pos and 0 < pos["x"] < VIEWPORT["width"] and 0 < pos["y"] < VIEWPORT["height"], pos
    page.mouse.click(pos["x"], pos["y"])
    _inspector_title(page, MIXED_5B_5X5)
    _wait_highlight(page, MIXED_5B_5X5)
    _wait_text(page, page.locator("[data-testid='stColumn']").nth(1),
               ("1 x 64 x 35 x 35", "63x63 px", "5x5"))
    page.wait_for_function("() => location.search.includes('layer=Mixed_5b.branch5x5_2.conv')")


def test_the_drawing_survives_tab_switches_and_a_reload_without_being_resent(server, page):
    """The SVG text travels once per session and viewer; later runs send its key. After a
    node click, a round trip through another tab (the viewer is mounted again) and a reload
    (a new page: whatever it had kept is gone) the drawing is there and outlines the
    selection."""
    base, _ = server
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(len(p))))
    _open(page, base + "/?tab=Graph", "Selected layer")
    page.wait_for_function(_FIND_NODE, arg=MIXED_5B_5X5, timeout=60_000)
    assert max(frames) > 100_000  # the drawing (~211 KB) came once
    frames.clear()
    pos = page.evaluate(_FIND_NODE, MIXED_5B_5X5)
    page.mouse.click(pos["x"], pos["y"])
    _wait_highlight(page, MIXED_5B_5X5)
    _inspector_title(page, MIXED_5B_5X5)
    page.get_by_role("tab", name="Overview").click()
    page.get_by_text("Parameters (count)").first.wait_for(timeout=60_000)
    page.get_by_role("tab", name="Graph").click()
    _wait_highlight(page, MIXED_5B_5X5)
    page.wait_for_function(_FIND_NODE, arg=MIXED_5B_5X5, timeout=60_000)
    assert max(frames) < 100_000, frames  # neither the click nor the tab switch resent it
    page.reload()
    page.get_by_text("Selected layer").first.wait_for(timeout=90_000)
    page.wait_for_function(_FIND_NODE, arg=MIXED_5B_5X5, timeout=60_000)
    _wait_highlight(page, MIXED_5B_5X5)


def test_click_a_finding_selects_and_outlines_its_layer(server, page):
    base, _ = server
    _open(page, base + "/?tab=Principles", "P3. Spatial aggregation")
    target = "Mixed_5c.branch5x5_2.conv"
    page.get_by_text(target, exact=True).first.click()  # the pill naming the layer
    _wait_highlight(page, target)  # the Graph tab opened, the node is outlined
    _inspector_title(page, target)


def _radio_checked(side, label: str) -> str:
    """The text of the checked option of the radio group labelled ``label``."""
    group = side.get_by_test_id("stRadio").filter(has_text=label)
    return group.evaluate("g => { const i = g.querySelector('input:checked');"
                          " return i ? i.closest('label').innerText.trim() : ''; }")


def _selectbox_value(where, label: str) -> str:
    return where.get_by_role("combobox", name=label, exact=True).input_value()


def test_url_with_every_parameter_reopens_that_view(server, page):
    base, _ = server
    # every parameter away from its default (a default is left out of the URL)
    query = ("?model=resnet50&input=3x192x192&batch=2&depth=2&units=FLOPs&device=cpu"
             "&tab=Graph&layer=layer3.0.conv2")
    _open(page, base + "/" + query, "layer3.0.conv2", timeout=180_000)
    _inspector_title(page, "layer3.0.conv2", timeout=180_000)
    _wait_highlight(page, "layer3.0", timeout=120.0)  # depth 2: the module holding the layer
    # batch 2, 192 / 16 = 12 px, 256 channels; FLOPs; the graph drawn at depth 2
    _wait_text(page, page.locator("body"), ("2 x 256 x 12 x 12", "FLOPs:", "Depth drawn: 2"))
    side = page.locator("[data-testid='stSidebar']")
    assert side.get_by_test_id("stTextInputField").first.input_value() == "3x192x192"
    assert side.get_by_role("textbox", name="Batch (N)", exact=True).input_value() == "2"
    assert _selectbox_value(side, "Model") == "resnet50"
    assert _selectbox_value(side, "Aggregation depth") == "2"
    assert _radio_checked(side, "Units") == "FLOPs"
    assert _radio_checked(side, "Trace on") == "cpu"
    assert page.get_by_role("tab", name="Graph").get_attribute("aria-selected") == "true"
    # the URL still says all of it (shareable)
    url = page.url
    for part in ("model=resnet50", "input=3x192x192", "batch=2", "depth=2", "units=FLOPs",
                 "device=cpu", "tab=Graph", "layer=layer3.0.conv2"):
        assert part in url, url


def test_url_with_the_compare_pair_reopens_that_comparison(server, page):
    base, _ = server
    _open(page, base + "/?tab=Compare&cmp_a=vgg16&cmp_b=resnet18", "Module diff",
          timeout=180_000)
    main = page.get_by_test_id("stMain")
    assert _selectbox_value(main, "Model A") == "vgg16"
    assert _selectbox_value(main, "Model B") == "resnet18"
    assert page.get_by_role("tab", name="Compare").get_attribute("aria-selected") == "true"
    url = page.url
    assert "cmp_a=vgg16" in url and "cmp_b=resnet18" in url, url


def test_rf_overlay_renders_for_the_selected_layer(server, page):
    base, _ = server
    _open(page, base + "/?model=lenet5&tab=Receptive+field&layer=c3.convs.0",
          "theoretical window")
    _wait_text(page, page.locator("body"), ("14x14 px",))  # LeNet-5 C3: 5 + 1 + 4 * 2
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(timeout=90_000)
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .layer-above path, "
        ".js-plotly-plot .shapelayer path').length >= 2", timeout=90_000)
    assert page.locator(".js-plotly-plot image").count() >= 1  # the picture under the windows
    legend = plot.inner_text()
    assert "largest path 14x14 px" in legend and "smallest path" in legend


# JS: the viewport centre of the bar of ``name`` (hover text ``<b>name</b>``) in the first
# chart's top subplot (MACs per layer), from the figure's own axes
_FIND_BAR = """(name) => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullLayout || !gd.data) return null;
  for (const tr of gd.data) {
    if (tr.type !== 'bar' || (tr.yaxis || 'y') !== 'y') continue;
    const i = (tr.hovertext || []).findIndex(t => String(t).startsWith('<b>' + name + '</b>'));
    if (i < 0) continue;
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const r = gd.getBoundingClientRect();
    return {x: r.left + xa._offset + xa.l2p(tr.x[i]),
            y: r.top + ya._offset + ya.l2p(tr.y[i] / 2),
            index: tr.x[i]};
  }
  return null;
}"""
_SELECTED_MARKER = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const shapes = (gd && gd.layout && gd.layout.shapes) || [];
  return shapes.filter(s => s.line && s.line.color === '#d500f9').map(s => s.x0);
}"""


def test_click_a_chart_bar_selects_that_layer(server, page):
    base, _ = server
    target = "c3.convs.1"  # LeNet-5 C3: a 5x5 conv; RF by hand 5 + 1 + 4 * 2 = 14 px
    _open(page, base + "/?model=lenet5&tab=Charts", "Click a bar or point")
    page.wait_for_function(_FIND_BAR, arg=target, timeout=90_000)
    page.wait_for_timeout(500)  # the chart's first layout
    page.get_by_text("Nothing selected").first.wait_for()  # the side panel, empty so far
    pos = page.evaluate(_FIND_BAR, target)
    assert pos and 0 < pos["x"] < VIEWPORT["width"] and 0 < pos["y"] < VIEWPORT["height"], pos
    page.mouse.click(pos["x"], pos["y"])
    _inspector_title(page, target)
    _wait_text(page, page.locator("[data-testid='stColumn']").nth(1),
               ("kernel 5x5", "14x14 px"))
    page.wait_for_function("() => location.search.includes('layer=c3.convs.1')")
    # every along-depth chart is redrawn with the selection marked at that layer's x
    page.wait_for_function(f"() => ({_SELECTED_MARKER})().includes({pos['index']})",
                           timeout=30_000)


def test_click_a_layers_table_row_selects_that_layer(server, page):
    base, _ = server
    _open(page, base + "/?tab=Layers", "Filter by name")
    box = page.get_by_test_id("stTextInput").filter(has_text="Filter by name")
    box.locator("input").fill(MIXED_5B_5X5)
    box.locator("input").press("Enter")
    page.get_by_text("1 of ", exact=False).first.wait_for(timeout=30_000)  # one row left
    page.get_by_text("Nothing selected").first.wait_for()
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for()
    page.wait_for_timeout(500)
    r = grid.bounding_box()
    # glide data grid: a 35 px header, then 35 px rows; the row marker (checkbox) column is
    # at the left edge
    page.mouse.click(r["x"] + 16, r["y"] + 35 + 17)
    _inspector_title(page, MIXED_5B_5X5)
    _wait_text(page, page.locator("body"), ("1 x 64 x 35 x 35", "size: 63x63 px"))
    page.wait_for_function(
        "() => location.search.includes('layer=Mixed_5b.branch5x5_2.conv')")


def test_a_finding_link_in_the_layers_side_panel_opens_the_graph_tab(server, page):
    """The Layers view is a fragment (a row click reruns only it); a finding link in its side
    panel opens the Graph tab, which needs the whole page to run."""
    base, _ = server
    _open(page, base + f"/?tab=Layers&layer={MIXED_5B_5X5}", "Findings on this layer")
    _inspector_title(page, MIXED_5B_5X5)
    page.get_by_test_id("stButtonGroup").get_by_text(MIXED_5B_5X5, exact=True).first.click()
    _wait_highlight(page, MIXED_5B_5X5)  # the Graph tab is open, the node outlined
    assert page.get_by_role("tab", name="Graph").get_attribute("aria-selected") == "true"
    page.wait_for_function("() => location.search.includes('tab=Graph')")
