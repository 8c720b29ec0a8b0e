"""Running graphviz's ``dot`` (under a timeout) and reading the size of the SVG it writes."""
from __future__ import annotations

import shutil
import subprocess

from archlens.errors import ArchlensError, MissingDependencyError


def dot_binary() -> str | None:
    return shutil.which("dot")


INSTALL_HINT = ("install graphviz to draw it: 'sudo apt-get install graphviz' (Debian/Ubuntu), "
                "'brew install graphviz' (macOS), 'conda install graphviz'")


class LayoutTimeout(ArchlensError):
    """``dot`` ran past its time limit (a caller with a shallower drawing may retry)."""


def layout(source: str, fmt_: str = "svg", timeout: float = 60.0) -> bytes:
    """Run ``dot -T<fmt_>``. Raises MissingDependencyError without the binary."""
    exe = dot_binary()
    if exe is None:
        raise MissingDependencyError(f"graphviz 'dot' not found; {INSTALL_HINT}")
    try:
        proc = subprocess.run([exe, f"-T{fmt_}"], input=source.encode(), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LayoutTimeout(f"graphviz layout took longer than {timeout:.0f} s; draw fewer "
                            "layers with --depth 2 (or 1)") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ArchlensError(f"graphviz 'dot' failed: {err[-1] if err else proc.returncode}")
    return proc.stdout


def svg_size(svg: bytes | str) -> tuple[float, float] | None:
    """(width, height) in points from the root element of a graphviz SVG."""
    import xml.etree.ElementTree as ET
    data = svg.encode() if isinstance(svg, str) else svg
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    w, h = root.get("width", ""), root.get("height", "")
    try:
        return float(w.rstrip("pt")), float(h.rstrip("pt"))
    except ValueError:
        return None
