"""Layout helpers shared by the plotly charts: where labels go so they never overlap, the
stage strip under along-depth x axes, log axes labelled at decades only.

Pixel geometry is estimated from the figure's fixed size and margins (the charts set both),
so labels can be placed before plotly draws anything: text is about ``CHAR_PX`` pixels per
character at font size 10 (Helvetica/Arial average; wide enough for capitals and digits).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

CHAR_PX = 6.4      # px per character at font size 10 (Arial/Helvetica average, upper bound)
GAP_PX = 8         # minimum space between two labels on one row
STRIP_ROW_PX = 28  # height of one row of the stage strip (label line + block line)
TICKS_PX = 22      # x tick labels under the plot area


def text_px(text: str, size: float = 10) -> float:
    """Estimated width in pixels of ``text`` (plain, one line) at font ``size``."""
    return len(text) * CHAR_PX * size / 10


def place_rows(spans: Sequence[tuple[float, float]], gap: float = GAP_PX,
               leaders: Sequence[float] | None = None, right_first: bool = False) -> list[int]:
    """Greedy row assignment of horizontal label spans ``(left_px, right_px)``, row 0 first:
    each span goes on the lowest row where it does not come within ``gap`` px of a span
    already there. With ``leaders`` (the x of a vertical line from each label down to what it
    names, below row 0), a label is also never put where its line would cross a label on a
    lower row, nor over the line of a label on a higher row. Returns each span's row, in
    input order: labels never overlap each other or another label's line (when no row can
    keep a line clear, after as many rows as labels, the lowest free row is taken).
    ``right_first``: place from the rightmost span leftwards (labels that start at their
    line then rise leftwards like a staircase, so no line is crossed)."""
    placed: list[tuple[float, float, int, float | None]] = []
    rows = [0] * len(spans)
    order = sorted(range(len(spans)), key=lambda j: spans[j][0], reverse=right_first)
    for i in order:
        left, right = spans[i]
        lead = leaders[i] if leaders is not None else None
        r = 0
        while True:
            lines = r <= len(spans)   # past that, only the labels themselves must not meet
            ok = True
            for pl, pr, prow, plead in placed:
                if prow == r and left < pr + gap and pl < right + gap:
                    ok = False
                elif lines and lead is not None and prow < r and pl - 2 < lead < pr + 2:
                    ok = False
                elif lines and plead is not None and prow > r and left - 2 < plead < right + 2:
                    ok = False
                if not ok:
                    break
            if ok:
                break
            r += 1
        rows[i] = r
        placed.append((left, right, r, lead))
    return rows


@dataclass(frozen=True)
class XScale:
    """Data x -> pixel x inside the plot area of a figure of fixed width and margins."""

    lo: float
    hi: float
    width_px: float

    def px(self, x: float) -> float:
        return (x - self.lo) / (self.hi - self.lo) * self.width_px if self.hi > self.lo else 0.0


def x_scale(fig: go.Figure, lo: float, hi: float, width: float) -> XScale:
    """Fix the x range of ``fig`` to ``[lo, hi]`` (every x axis) and return its pixel scale
    at a figure ``width`` (px; the static export's: the HTML chart is about as wide)."""
    fig.update_xaxes(range=[lo, hi], autorange=False)
    m = fig.layout.margin
    return XScale(lo, hi, float(width) - float(m.l or 0) - float(m.r or 0))


def log_axis(fig: go.Figure, title: str, *, counts: bool = True, row=None, col=None) -> None:
    """A log y axis labelled at powers of ten only (no bare minor labels "2", "5"), light
    minor grid lines without labels. ``counts``: SI suffixes (1k, 1M); else plain numbers
    (0.1, 1, 10)."""
    fig.update_yaxes(type="log", dtick=1, title_text=title,
                     tickformat="~s" if counts else "~g",
                     minor=dict(showgrid=True, gridcolor="#f3f5f7", ticks=""),
                     row=row, col=col)


def log2_axis(fig: go.Figure, title: str, top: int, *, row=None, col=None) -> None:
    """A log y axis with a tick at every power of two up to ``top`` (a stride staircase
    1, 2, 4 ... 32 keeps equal steps)."""
    ticks = [2 ** k for k in range(0, max(1, int(math.ceil(math.log2(max(top, 1))))) + 1)]
    fig.update_yaxes(type="log", tickmode="array", tickvals=ticks,
                     ticktext=[str(t) for t in ticks], title_text=title,
                     range=[-0.15, math.log10(ticks[-1]) + 0.15], row=row, col=col)


@dataclass(frozen=True)
class Band:
    """A run of layers along x: a stage (or the head), with the blocks it holds."""

    label: str     # Stage.label (``S3 35x35``) or ``head``
    blocks: str    # ``Mixed_5b .. Mixed_6a``: first and last top-level module
    x0: float      # left edge (data x)
    x1: float      # right edge


def stage_strip(fig: go.Figure, bands: Sequence[Band], scale: XScale, *,
                rows: int = 1) -> int:
    """Shade alternate bands over every subplot, draw a dotted line where each band starts and
    write each band's label and blocks UNDER the x axis (never over the data), on as many
    rows as needed so no two labels overlap. Returns the number of strip rows (the caller
    moves the x axis title below them)."""
    spans, xs = [], []
    for b in bands:
        w = max(text_px(b.label), text_px(b.blocks, 9)) + 2
        left = min(scale.px(b.x0), scale.width_px - w)   # a label never leaves the figure
        spans.append((left, left + w))
        xs.append(scale.lo + left / scale.width_px * (scale.hi - scale.lo)
                  if scale.width_px else b.x0)
    placed = place_rows(spans)
    grid = dict(row="all", col=1) if rows > 1 else {}
    for i, (b, r, x) in enumerate(zip(bands, placed, xs)):
        if i % 2:
            fig.add_vrect(x0=b.x0, x1=b.x1, fillcolor="#eceff1", opacity=0.45, line_width=0,
                          layer="below", **grid)
        if i:
            fig.add_vline(x=b.x0, line=dict(color="#b0bec5", width=1, dash="dot"), **grid)
        y = -(TICKS_PX + STRIP_ROW_PX * r)
        fig.add_annotation(x=x, y=0, xref="x", yref="paper", xanchor="left",
                           yanchor="top", yshift=y, text=b.label, showarrow=False,
                           font=dict(size=10, color="#37474f"))
        if b.blocks:
            fig.add_annotation(x=x, y=0, xref="x", yref="paper", xanchor="left",
                               yanchor="top", yshift=y - 12, text=b.blocks, showarrow=False,
                               font=dict(size=9, color="#78909c"))
    n = max(placed, default=-1) + 1
    fig.update_xaxes(title_standoff=STRIP_ROW_PX * n + 6, row=rows if rows > 1 else None,
                     col=1 if rows > 1 else None)
    fig.update_layout(margin=dict(b=60 + STRIP_ROW_PX * n))
    return n


def legend_rows(names: Sequence[str], width_px: float, size: float = 12) -> int:
    """Rows a horizontal plotly legend of these entries takes at ``width_px`` (each entry:
    its symbol, about 40 px, then its text)."""
    rows, used = 1, 0.0
    for name in names:
        w = 40 + text_px(name, size)
        if used and used + w > width_px:
            rows, used = rows + 1, 0.0
        used += w
    return rows
