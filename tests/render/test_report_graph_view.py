"""The report's graph at its default view, in a real headless Chromium: node text must be
legible (measured in screenshot pixels) and the legend visible beside it."""
from __future__ import annotations

import shutil
import statistics

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")]
VIEWPORT = {"width": 1400, "height": 1000}


def text_bands(im, box) -> list[int]:
    """Heights (px) of the horizontal bands of dark ink (text: black and #333 labels; the
    #555 edges and borders are lighter) inside ``box`` = (left, top, right, bottom)."""
    px = im.load()
    l, t, r, b = (int(v) for v in box)
    rows = [sum(1 for x in range(l, r) if max(px[x, y]) < 70) for y in range(t, b)]
    out, run = [], 0
    for k in rows + [0]:
        if k >= 3:
            run += 1
        elif run:
            out.append(run)
            run = 0
    return [h for h in out if h >= 3]  # 1-2 px: a line crossing, not a glyph row


def colour_pixels(im, box, rgb: str, tol: int = 4) -> int:
    px = im.load()
    want = tuple(int(rgb[i:i + 2], 16) for i in (1, 3, 5))
    l, t, r, b = (int(v) for v in box)
    return sum(1 for y in range(t, b) for x in range(l, r)
               if all(abs(px[x, y][k] - want[k]) <= tol for k in range(3)))


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    from archlens import api
    out = tmp_path_factory.mktemp("graphview") / "r"
    api.report("inception_v3", out, png=False, console=False)
    return out / "report.html"


def _shots(page_path, tmp):
    from PIL import Image
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            pg = b.new_page(viewport=VIEWPORT)
            pg.goto(page_path.as_uri())
            pg.wait_for_timeout(300)
            pg.locator("#graph-box").scroll_into_view_if_needed()
            boxes = {k: pg.locator(sel).bounding_box()
                     for k, sel in (("graph", "#graph-box"), ("legend", "#graph-legend"))}
            pg.screenshot(path=str(tmp / "default.png"))
            pg.click("#graph-fit")  # control: the whole drawing fitted into the box
            pg.wait_for_timeout(100)
            pg.screenshot(path=str(tmp / "fit.png"))
        finally:
            b.close()
    return boxes, Image.open(tmp / "default.png").convert("RGB"), \
        Image.open(tmp / "fit.png").convert("RGB")


def test_default_view_has_legible_node_text_and_a_visible_legend(report_page, tmp_path):
    from archlens import api
    from archlens.render import graphviz as gv
    boxes, default, fitted = _shots(report_page, tmp_path)
    g = boxes["graph"]
    # inside the viewer, without its toolbar (top 40 px) and zoom label (bottom 30 px)
    inner = (g["x"] + 2, g["y"] + 40, g["x"] + g["width"] - 2, g["y"] + g["height"] - 30)
    bands = text_bands(default, inner)
    # graphviz's 9 pt titles and 8 pt names at 1:1 are 8-11 px rows of ink; 0.1 showed the
    # 1432-pt drawing at page width: about 6 px text
    assert len(bands) >= 10, bands
    assert statistics.median(bands) >= 7, bands
    assert max(bands) >= 9, bands
    # the same measurement tells the fitted (unreadable) view apart: the test can fail
    fit_bands = text_bands(fitted, inner)
    assert len(fit_bands) < len(bands) / 2 or statistics.median(fit_bands or [0]) < 6, \
        fit_bands
    # the legend is on screen, beside the graph, at the default view, with its swatches
    lg = boxes["legend"]
    assert lg["x"] >= g["x"] + g["width"] - 1 and lg["x"] + lg["width"] <= VIEWPORT["width"]
    assert 0 <= lg["y"] and lg["y"] + lg["height"] <= VIEWPORT["height"]
    legend = (lg["x"], lg["y"], lg["x"] + lg["width"], lg["y"] + lg["height"])
    assert colour_pixels(default, legend, gv.SHARE_COLOURS[-1]) >= 100   # ">= 5 %" swatch
    a = api.load(report_page.parent / "analysis.json")
    for st in a.stages:  # one strip colour per stage
        assert colour_pixels(default, legend, gv.STAGE_COLOURS[st.index]) >= 40, st.text
    assert text_bands(default, legend)  # and text next to them


GITHUB_COLUMN_PX = 880   # the Markdown content column of a GitHub page (images max-width 100 %)


def _markdown_shots(md_path, tmp, files):
    """Each picture in a GitHub-like Markdown column: (natural width, shown width, box, image)."""
    from PIL import Image
    from playwright.sync_api import sync_playwright
    page = tmp / "md.html"
    page.write_text("<!doctype html><body style='margin:0;background:#fff'>" + "".join(
        f"<article style='width:{GITHUB_COLUMN_PX}px;padding:0'><img id='i{k}' src="
        f"'{(md_path.parent / f).as_uri()}' style='max-width:100%;display:block'></article>"
        for k, f in enumerate(files)) + "</body>")
    out = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            pg = b.new_page(viewport={"width": GITHUB_COLUMN_PX, "height": 900})
            pg.goto(page.as_uri())
            pg.wait_for_load_state("load")
            for k, _ in enumerate(files):
                img = pg.locator(f"#i{k}")
                nat = pg.evaluate(f"document.getElementById('i{k}').naturalWidth")
                box = img.bounding_box()
                shot = tmp / f"md{k}.png"
                img.screenshot(path=str(shot))
                out.append((nat, box["width"], Image.open(shot).convert("RGB")))
        finally:
            b.close()
    return out


def test_markdown_pictures_are_legible_at_their_natural_size(report_page, tmp_path):
    import re
    md_path = report_page.parent / "report.md"
    files = re.findall(r"!\[[^\]]*\]\(([^)]+\.svg)\)", md_path.read_text())
    # the overview and the three most expensive blocks (Mixed_6e, 6c, 6a by MACs)
    assert files == ["graph_overview.svg", "graph_block_1.svg", "graph_block_2.svg",
                     "graph_block_3.svg"], files
    for f, (nat, shown, im) in zip(files, _markdown_shots(md_path, tmp_path, files)):
        assert nat <= GITHUB_COLUMN_PX and abs(shown - nat) < 1, (f, nat, shown)  # not scaled
        bands = text_bands(im, (0, 0, im.width, im.height))
        assert len(bands) >= 10, (f, bands)
        assert statistics.median(bands) >= 7 and max(bands) >= 9, (f, bands)
    # control: the whole graph in the same column is scaled down and fails the measure
    (nat, shown, im), = _markdown_shots(md_path, tmp_path, ["graph.svg"])
    assert nat > GITHUB_COLUMN_PX and shown < nat
    bands = text_bands(im, (0, 0, im.width, im.height))
    assert statistics.median(bands or [0]) < 7, bands
