"""Output plumbing shared by the report and compare folders: the atomic folder, file
writes, plotly fragments and PNG export, progress lines. No analysis, no page layout."""
from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


PNG_WIDTH = 1000
PNG_SCALE = 1.5


def safe_name(name: str) -> str:
    """A folder name for a model reference (``pkg.mod:fn`` -> ``pkg.mod_fn``)."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return s or "model"


def default_out(name: str) -> Path:
    return Path("reports") / safe_name(name)


def atomic_dir(out: Path):
    """The report folder, written atomically and only over a folder archlens wrote:
    :func:`archlens.outputs.output_dir`."""
    from archlens.outputs import output_dir
    return output_dir(out)


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def png_backend() -> str | None:
    """Why static images cannot be made, or None when kaleido and a browser are present."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "kaleido is not installed (pip install kaleido)"
    if os.environ.get("BROWSER_PATH"):
        return None
    for exe in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                "chrome"):
        if shutil.which(exe):
            return None
    try:  # kaleido may have downloaded its own Chrome (kaleido_get_chrome)
        from choreographer.browsers.chromium import Chromium  # type: ignore
        Chromium.find_browser()  # type: ignore[attr-defined]
        return None
    except Exception:
        return ("no Chromium/Chrome found for PNG export; install it ('sudo apt-get install "
                "chromium') or run with --no-png")


def write_pngs(figs: dict[str, Any], folder: Path) -> list[str]:
    """All figures as PNG in one browser session (kaleido 1.x batch API)."""
    import plotly.io as pio
    names = list(figs)
    paths = [folder / f"{n}.png" for n in names]
    heights = [int(figs[n].layout.height or 450) for n in names]
    pio.write_images([figs[n] for n in names], paths, format="png", width=PNG_WIDTH,
                     height=heights, scale=PNG_SCALE)
    return [p.name for p in paths]


_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}


def data_uri(path: Path) -> str:
    """The file as a ``data:`` URI (base64), for a Markdown picture that needs no other file."""
    import base64
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def fragment(fig: Any, div_id: str) -> str:
    import plotly.io as pio
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs
    return get_plotlyjs()


def fragment_file(frag: str) -> str:
    import plotly
    return (f"<!-- archlens chart fragment: load plotly.js {plotly.__version__.split('+')[0]} "
            f"(or the version bundled with plotly.py {plotly.__version__}) before this. -->\n"
            + frag + "\n")


class Steps:
    """Progress for the slow steps on a rich console: a live spinner while a step runs, one
    line with its time when it ends."""

    def __init__(self, console) -> None:
        self.console = console
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, key: str, text: str) -> Iterator[None]:
        from archlens.sanitize import for_terminal as escape
        t = time.perf_counter()
        if self.console is None:
            yield
            self.timings[key] = time.perf_counter() - t
            return
        with self.console.status(escape(text) + " ...", spinner="dots"):
            yield
        dt = time.perf_counter() - t
        self.timings[key] = dt
        self.console.print(f"[green]done[/] {escape(text)} [dim]({dt:.2f} s)[/]",
                           highlight=False)


def console_or_none(console):
    if console is False:
        return None
    if console is None:
        from rich.console import Console
        return Console(stderr=False)
    return console
