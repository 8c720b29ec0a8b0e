"""A real headless Chromium renders report.html; the screenshot must show drawn charts."""
from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from archlens.render import report

from .render_builder import toy_net

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")]
CONV_BLUE = (0x1F, 0x77, 0xB4)   # charts.TYPE_COLOURS["Conv2d"]: bars and markers


def screenshot(page: Path, out: Path, tmp: Path) -> Path:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp}", f"--screenshot={out}",
           "--window-size=1400,2400", "--virtual-time-budget=10000", "--hide-scrollbars"]
    subprocess.run(cmd + [page.as_uri()], capture_output=True, timeout=120, check=False)
    assert out.exists(), "chromium wrote no screenshot"
    return out


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG with zlib (no imaging library needed)."""
    data = path.read_bytes()
    pos, idat = 8, b""
    bpp = 3
    w = h = 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    i = 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, bpp, rows


def colour_stats(path: Path) -> tuple[int, int]:
    """(pixels within 6 of the conv blue, distinct colours) in the screenshot."""
    try:
        from PIL import Image
        im = Image.open(path).convert("RGB")
        px = list(im.get_flattened_data() if hasattr(im, "get_flattened_data")
                  else im.getdata())
    except ImportError:
        w, bpp, rows = png_pixels(path)
        px = [tuple(r[x:x + 3]) for r in rows for x in range(0, w * bpp, bpp)]
    blue = sum(1 for p in px if all(abs(p[k] - CONV_BLUE[k]) <= 6 for k in range(3)))
    return blue, len(set(px))


def test_headless_chromium_draws_the_charts(tmp_path):
    out = report.write_report(toy_net(), tmp_path / "r", png=False, console=False)
    page = out / "report.html"
    drawn = screenshot(page, tmp_path / "on.png", tmp_path / "p1")
    # control: the same page where plotly never draws (its calls made no-ops)
    control = out / "control.html"
    control.write_text(page.read_text().replace("Plotly.newPlot(", "(function(){})("))
    blank = screenshot(control, tmp_path / "off.png", tmp_path / "p2")
    blue_on, colours_on = colour_stats(drawn)
    blue_off, _ = colour_stats(blank)
    # the per-layer bar chart alone paints thousands of conv-blue pixels; when plotly does
    # not draw, the same page has (almost) none
    assert blue_on > 3000, blue_on
    assert blue_off < 200, blue_off
    assert colours_on > 500
