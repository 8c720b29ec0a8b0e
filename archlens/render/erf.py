"""Receptive-field overlay: the selected unit's windows and its effective receptive field drawn
on an image (plotly), for the dashboard and the report.

Drawn, all in input pixels: the image (a generated test pattern or the user's, resized to the
input), the unit's window over the largest path (solid) and the smallest path (dashed), the
effective-stride grid (the centres of the neighbouring units' windows, one dot per unit), and,
when measured, the effective receptive field (:func:`archlens.effective_rf`) as a heatmap with
its 2-sigma ellipse. Nothing is computed here beyond placing what the analysis and the ERF
measurement give (window corners come from :func:`archlens.metrics.erf.unit_window`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import plotly.graph_objects as go

    from archlens.graph import ReceptiveField
    from archlens.metrics.erf import EffectiveRF

MAX_GRID_DOTS = 15  # per axis, around the unit


def sample_pattern(h: int, w: int) -> "np.ndarray":
    """A deterministic H x W x 3 uint8 image (colour gradient, rings and an 8-px grid), so a
    window's position and size can be read off it without any sample file."""
    import numpy as np
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    r = np.hypot(yy - cy, xx - cx)
    rings = 0.5 + 0.5 * np.cos(r / max(h, w) * 2 * np.pi * 6)
    img = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), rings], axis=-1)
    img = 0.35 + 0.45 * img
    grid = ((yy % 32) < 1) | ((xx % 32) < 1)
    img[grid] = 0.25
    return (img * 255).clip(0, 255).astype(np.uint8)


def fit_image(image: Any, h: int, w: int) -> "np.ndarray":
    """Any PIL image (or array) as an H x W x 3 uint8 array (resized to the input)."""
    import numpy as np
    from PIL import Image
    im = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    return np.asarray(im.convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.uint8)


def _png_data_uri(image: "np.ndarray") -> str:
    """The image as an inline PNG (a fraction of the size of a JSON array of pixels)."""
    import base64
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def rf_overlay(rf: "ReceptiveField", unit: tuple[int, int], image: "np.ndarray", *,
               erf: "EffectiveRF | None" = None, out_hw: tuple[int, int] | None = None,
               title: str = "", height: int = 560) -> "go.Figure":
    """The overlay figure. ``unit``: (row, column) in the layer's output; ``out_hw``: the
    layer's output size (limits the stride grid to units that exist)."""
    import plotly.graph_objects as go

    from archlens.metrics.erf import unit_window

    h, w = image.shape[:2]
    fig = go.Figure(go.Image(source=_png_data_uri(image), hoverinfo="skip", name="image"))
    big = unit_window(rf, unit)
    small = unit_window(rf, unit, smallest=True)
    if erf is not None:
        fig.add_trace(go.Heatmap(z=erf.heatmap.round(3), colorscale="Inferno", zmin=0, zmax=1,
                                 opacity=0.6, showscale=True, name="ERF",
                                 colorbar=dict(title=dict(text="gradient energy<br>(max = 1)",
                                                          side="right"), thickness=12),
                                 hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra>ERF"
                                               "</extra>"))
        cy, cx = erf.centre
        ry, rx = erf.radius
        fig.add_shape(type="circle", x0=cx - rx, x1=cx + rx, y0=cy - ry, y1=cy + ry,
                      line=dict(color="#00e5ff", width=2), name="ERF 2 sigma")
    for (t, l_, b, r), dash, colour, label in (
            (big, "solid", "#d500f9", f"largest path {rf.size[0]}x{rf.size[1]} px"),
            (small, "dash", "#ffea00", f"smallest path {rf.min_size[0]}x{rf.min_size[1]} px")):
        fig.add_shape(type="rect", x0=l_ - 0.5, x1=r + 0.5, y0=t - 0.5, y1=b + 0.5,
                      line=dict(color=colour, width=2.5, dash=dash))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=label,
                                 line=dict(color=colour, width=2.5, dash=dash)))
    # effective-stride grid: centres of the windows of the neighbouring units
    xs, ys = [], []
    oh, ow = out_hw if out_hw else (h, w)
    half = MAX_GRID_DOTS // 2
    for i in range(max(0, unit[0] - half), min(oh, unit[0] + half + 1)):
        for j in range(max(0, unit[1] - half), min(ow, unit[1] + half + 1)):
            t, l_, b, r = unit_window(rf, (i, j))
            cy, cx = (t + b) / 2, (l_ + r) / 2
            if 0 <= cy < h and 0 <= cx < w:
                ys.append(cy)
                xs.append(cx)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=(
        f"unit centres (effective stride {rf.stride[0]}x{rf.stride[1]} px)"),
        marker=dict(size=4, color="white", line=dict(color="black", width=0.5)),
        hoverinfo="skip"))
    if erf is not None:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color="#00e5ff"),
                                 name=f"ERF 2 sigma: radius {erf.radius[0]:.1f} x "
                                      f"{erf.radius[1]:.1f} px"))
    pad_y = max(0, -big[0], big[2] - (h - 1))
    pad_x = max(0, -big[1], big[3] - (w - 1))
    fig.update_xaxes(range=[-0.5 - pad_x, w - 0.5 + pad_x], showgrid=False, title_text="x (px)",
                     constrain="domain")
    fig.update_yaxes(range=[h - 0.5 + pad_y, -0.5 - pad_y], showgrid=False, title_text="y (px)",
                     scaleanchor="x")
    fig.update_layout(height=height, margin=dict(l=50, r=20, t=40 if title else 10, b=40),
                      title=dict(text=title, x=0.01, xanchor="left", font=dict(size=14))
                      if title else None,
                      legend=dict(orientation="h", yanchor="top", y=-0.12, x=0),
                      plot_bgcolor="#263238")
    return fig


__all__ = ["rf_overlay", "sample_pattern", "fit_image"]
