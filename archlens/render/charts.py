"""Along-depth charts of an analysis as plotly figures (usable in notebooks and the report).

Every function takes an :class:`~archlens.analysis.Analysis` (the comparison charts an
:class:`archlens.diff.Diff`) and returns a ``plotly.graph_objects.Figure`` whose title names
the model and whose axes name their unit, so an exported PNG reads on its own. The x axis of
the along-depth charts is the execution order of the layers (the order of
``analysis.graph.layers``), so the same x means the same layer in every chart; under it a
stage strip names each stage (``Stage.label``) and the top-level blocks it holds, so a
static image maps back to layer names; hovering shows the layer's name.

Model-supplied names go into plotly text through :func:`_t` (plotly renders a subset of HTML
in text; names are escaped so they can only ever be text).
"""
from __future__ import annotations

import html
import math
import re
import textwrap
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from archlens.analysis import Analysis
from archlens.graph import Node
from archlens.render import _numbers as fmt
from archlens.render import chart_layout as L
from archlens.render.output import PNG_WIDTH as WIDTH
from archlens.sanitize import for_html

if TYPE_CHECKING:  # pragma: no cover
    from archlens.diff import Diff

TEMPLATE = "plotly_white"
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=12, color="#263238")
TYPE_COLOURS = {"Conv2d": "#1f77b4", "Linear": "#9467bd", "BatchNorm2d": "#bcbd22",
                "ConvTranspose2d": "#17becf"}
OTHER_COLOUR = "#8c8c8c"
FINDING_COLOUR = "#c62828"
HEIGHT = 430
MARGIN = dict(l=70, r=30, t=85, b=55)
SUB_CHARS = 130  # subtitle characters per line (12 px text in a 1000 px figure)
SLIVER = 0.01   # treemap: a module below 1 % of the MACs is grouped into "other (n layers)"


def _t(text: object) -> str:
    """A model-supplied string as plotly text: escaped, so it is never markup."""
    return for_html(text)


def _figure(rows: int = 1, **kw) -> go.Figure:
    fig = (make_subplots(rows=rows, cols=1, shared_xaxes=True, **kw) if rows > 1
           else go.Figure())
    fig.update_layout(margin=MARGIN)
    return fig


def _layout(fig: go.Figure, title: str, height: int = HEIGHT) -> go.Figure:
    """Title (two lines at most) at the top, the legend between it and the plot with room
    for all its rows, so neither covers the other or the data."""
    if fig.layout.margin.l is None:
        fig.update_layout(margin=MARGIN)
    names = [re.sub(r"<[^>]+>", "", html.unescape(str(t.name))) for t in fig.data
             if t.name and t.showlegend is not False and t.type not in ("treemap",)]
    m = fig.layout.margin
    rows = L.legend_rows(names, WIDTH - (m.l or 0) - (m.r or 0)) if names else 0
    title_px = 42 + 18 * title.count("<br>")
    fig.update_layout(template=TEMPLATE, font=FONT, height=height + 22 * max(rows - 1, 0),
                      title=dict(text=title, x=0.01, xanchor="left", y=1, yref="container",
                                 yanchor="top", pad=dict(t=30), font=dict(size=15)),
                      hoverlabel=dict(font_size=11),
                      margin=dict(t=title_px + 12 + 24 * rows),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right",
                                  x=1.0))
    return fig


def _title(a_or_name, what: str, sub: str = "") -> str:
    """``model: what`` and, below it, ``sub`` (plain text, escaped here) wrapped to the
    figure's width so nothing runs off a static image."""
    model = a_or_name.model if isinstance(a_or_name, Analysis) else a_or_name
    out = f"{_t(model)}: {what}"
    for line in textwrap.wrap(sub, SUB_CHARS):
        out += f"<br><span style='font-size:12px;color:#607d8b'>{_t(line)}</span>"
    return out


def _stage_names(a: Analysis) -> dict[int, str]:
    """Stage index -> its label, ``S3 35x35`` (:attr:`archlens.metrics.stages.Stage.label`)."""
    return {s.index: s.label for s in a.stages}


def _stage_label(n: Node, names: dict[int, str]) -> str:
    if n.stage is None or not n.is_spatial and n.stage not in names:
        return "head (non-spatial)"
    return names.get(n.stage, f"S{n.stage}")


def _hover(n: Node) -> str:
    geo = ""
    if n.kernel:
        geo = f"<br>kernel {fmt.pair(n.kernel)}, stride {fmt.pair(n.stride)}"
    return (f"<b>{_t(n.name)}</b><br>{_t(n.type)}{geo}<br>out {fmt.shape(n.out_shape)}"
            f"<br>{fmt.macs(n.macs)} ({n.macs:,} MACs)<br>{n.params:,} params")


def _top(n: Node) -> str:
    """The top-level block a layer belongs to (``Mixed_5b``; a root op: its own name)."""
    return (n.module_path or n.name).split(".")[0]


def _blocks(ns: list[Node]) -> str:
    tops: list[str] = []
    for n in ns:
        t = _top(n)
        if not tops or tops[-1] != t:
            if t not in tops:
                tops.append(t)
    if not tops:
        return ""
    return tops[0] if len(tops) == 1 else f"{tops[0]} .. {tops[-1]}"


def bands(a: Analysis) -> list[L.Band]:
    """The stages along the x axis: each starts where its grid first appears (branches of a
    reduction block may interleave two grids) and ends where the next starts; the
    non-spatial layers after the last stage are the ``head``. x is the layer index."""
    layers = list(a.graph.layers)
    names = _stage_names(a)
    starts: list[tuple[int, str]] = []
    seen: set[int] = set()
    for i, n in enumerate(layers):
        if n.stage is not None and n.is_spatial and n.stage not in seen:
            seen.add(n.stage)
            starts.append((i, names.get(n.stage, f"S{n.stage}")))
    last_spatial = max((i for i, n in enumerate(layers) if n.is_spatial), default=-1)
    head = last_spatial + 1 if last_spatial + 1 < len(layers) else None
    out = []
    for k, (i, label) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else (head if head is not None
                                                             else len(layers))
        out.append(L.Band(_t(label), _t(_blocks(layers[i:end])), i - 0.5, end - 0.5))
    if head is not None:
        out.append(L.Band("head", _t(_blocks(layers[head:])), head - 0.5, len(layers) - 0.5))
    return out


def _depth_axis(fig: go.Figure, a: Analysis, rows: int = 1) -> L.XScale:
    """x = layer index over the whole range, the stage strip under it; returns the scale."""
    n = len(a.graph.layers)
    scale = L.x_scale(fig, -0.5, max(n, 1) - 0.5, WIDTH)
    L.stage_strip(fig, bands(a), scale, rows=rows)
    fig.update_xaxes(title_text="layer (execution order); strip: stage and its blocks",
                     row=rows if rows > 1 else None, col=1 if rows > 1 else None)
    return scale


# ----------------------------------------------------------------------------- per layer

def layer_costs(a: Analysis, top_k: int = 8) -> go.Figure:
    """MACs and parameters of every layer that has either, in execution order; the ``top_k``
    layers by MACs are labelled with their names, on rows above the bars so no two labels
    overlap."""
    layers = list(a.graph.layers)
    idx = {n.name: i for i, n in enumerate(layers)}
    costly = [n for n in layers if n.macs or n.params]
    fig = _figure(2, vertical_spacing=0.08, row_heights=[0.62, 0.38])
    by_type: dict[str, list[Node]] = defaultdict(list)
    for n in costly:
        by_type[n.type if n.type in TYPE_COLOURS else "other"].append(n)
    for t, ns in sorted(by_type.items(), key=lambda kv: (kv[0] == "other", kv[0])):
        colour = TYPE_COLOURS.get(t, OTHER_COLOUR)
        xs = [idx[n.name] for n in ns]
        hover = [_hover(n) for n in ns]
        fig.add_trace(go.Bar(x=xs, y=[n.macs for n in ns], name=_t(t), marker_color=colour,
                             hovertext=hover, hoverinfo="text", legendgroup=t), row=1, col=1)
        fig.add_trace(go.Bar(x=xs, y=[n.params for n in ns], name=_t(t), marker_color=colour,
                             hovertext=hover, hoverinfo="text", legendgroup=t,
                             showlegend=False), row=2, col=1)
    scale = _depth_axis(fig, a, rows=2)
    top = sorted(sorted(costly, key=lambda n: -n.macs)[:top_k], key=lambda n: idx[n.name])
    peak = max((n.macs for n in costly), default=0) or 1
    texts = [_short(n.name) for n in top]
    spans, leads = [], []
    anchors = []
    for n, text in zip(top, texts):
        x = scale.px(idx[n.name])
        w = L.text_px(text) + 4
        right = x + w <= scale.width_px   # the label starts at its line, else ends there
        spans.append((x, x + w) if right else (x - w, x))
        leads.append(x)
        anchors.append("left" if right else "right")
    rows = L.place_rows(spans, leaders=leads, right_first=True)
    n_rows = max(rows, default=-1) + 1
    # label rows 18 px apart: the MACs panel is about 0.6 of the plot area's height
    panel_px = 0.6 * (560 - 130 - L.STRIP_ROW_PX * 3)
    base = 1.06 * peak
    top_y = base / max(0.35, 1 - (n_rows + 0.3) * 18 / panel_px)
    step = (top_y - base) / (n_rows + 0.3) if n_rows else 0
    for n, text, r, anchor in zip(top, texts, rows, anchors):
        # the line from the bar top to the label's corner; the label sits right of it
        fig.add_shape(type="line", x0=idx[n.name], x1=idx[n.name], y0=n.macs,
                      y1=base + step * r, xref="x", yref="y",
                      line=dict(color="#90a4ae", width=1))
        fig.add_annotation(x=idx[n.name], y=base + step * r, xref="x", yref="y",
                           text=_t(text), showarrow=False, font=dict(size=10),
                           xanchor=anchor, yanchor="bottom", bgcolor="rgba(255,255,255,0.85)")
    fig.update_layout(bargap=0.15, barmode="overlay")
    fig.update_yaxes(title_text="MACs (multiply-accumulates)", row=1, col=1,
                     range=[0, top_y], exponentformat="SI")
    fig.update_yaxes(title_text="parameters (count)", row=2, col=1, rangemode="tozero",
                     exponentformat="SI")
    total = a.totals.macs
    sub = f"top {len(top)} layers: {fmt.pct(sum(n.macs for n in top), total)} of {fmt.macs(total)}"
    return _layout(fig, _title(a, "MACs and parameters per layer", sub), height=560)


def _short(name: str, n: int = 28) -> str:
    return name if len(name) <= n else "..." + name[-(n - 3):]


def trunk_nodes(a: Analysis) -> list[str]:
    """Layers whose output is the only live tensor right after them: every path from the
    input to the output passes through them (the representation between blocks)."""
    nodes = a.graph.nodes
    pos = {n.name: i for i, n in enumerate(nodes)}
    last_use = {n.name: i for i, n in enumerate(nodes)}
    for i, n in enumerate(nodes):
        for s in n.inputs:
            if s in last_use:
                last_use[s] = max(last_use[s], i)
    outputs = set(a.graph.outputs)
    # sweep: live tensors after position i = produced at <= i and used after i
    ends: dict[int, int] = defaultdict(int)
    live = 0
    out: list[str] = []
    for i, n in enumerate(nodes):
        live += 1 if (last_use[n.name] > i or n.name in outputs) else 0
        live -= ends.get(i, 0)
        if last_use[n.name] > i:
            ends[last_use[n.name]] += 1
        if i and live == 1 and (last_use[n.name] > i or n.name in outputs):
            out.append(n.name)
    del pos
    return out


def representation_size(a: Analysis) -> go.Figure:
    """C*H*W of every spatial layer output along depth (log axis); the input image's size as
    a labelled dashed reference; P1 findings marked."""
    layers = list(a.graph.layers)
    idx = {n.name: i for i, n in enumerate(layers)}
    sp = [n for n in layers if n.is_spatial]
    trunk = set(trunk_nodes(a))
    main = [n for n in sp if n.name in trunk]
    side = [n for n in sp if n.name not in trunk]
    fig = _figure()
    fig.add_trace(go.Scatter(
        x=[idx[n.name] for n in side], y=[_numel(n.out_shape[1:]) for n in side],
        mode="markers", name="inside a block (branch)", marker=dict(size=4, color="#b0bec5"),
        hoverinfo="text",
        hovertext=[f"{_hover(n)}<br>C*H*W = {_numel(n.out_shape[1:]):,} elements" for n in side]))
    fig.add_trace(go.Scatter(
        x=[idx[n.name] for n in main], y=[_numel(n.out_shape[1:]) for n in main],
        mode="lines+markers", name="between blocks (every path passes)",
        line=dict(color="#1f77b4", width=2, shape="hv"), marker=dict(size=5), hoverinfo="text",
        hovertext=[f"{_hover(n)}<br>C*H*W = {_numel(n.out_shape[1:]):,} elements" for n in main]))
    inp = a.graph.input
    if len(inp.out_shape) == 4:
        v = _numel(inp.out_shape[1:])
        label = f"input image {fmt.shape(inp.out_shape)} = {v:,} elements"
        # a trace (not a bare shape): the legend names the dashed line
        fig.add_trace(go.Scatter(x=[-0.5, max(len(layers), 1) - 0.5], y=[v, v], mode="lines",
                                 name=label, line=dict(color="#78909c", dash="dash", width=1.5),
                                 hoverinfo="skip"))
        fig.add_annotation(x=1, xref="paper", xanchor="right", y=math.log10(v), yref="y",
                           yanchor="bottom", text=label, showarrow=False,
                           font=dict(size=10, color="#546e7a"),
                           bgcolor="rgba(255,255,255,0.8)")
    px, py, pt = [], [], []
    for f in a.findings:
        if f.principle != "P1":
            continue
        for lname in f.layers[:1]:
            if lname in idx and len(layers[idx[lname]].out_shape) >= 2:
                n = layers[idx[lname]]
                px.append(idx[lname])
                py.append(_numel(n.out_shape[1:]))
                pt.append(f"<b>{_t(f.code)}</b> at {_t(lname)}<br>{_t(f.message)}"
                          f"<br>{_t(f.evidence)}")
    if px:
        fig.add_trace(go.Scatter(x=px, y=py, mode="markers", name="P1 finding",
                                 marker=dict(symbol="x", size=12, color=FINDING_COLOUR,
                                             line=dict(width=1, color="white")),
                                 hovertext=pt, hoverinfo="text"))
    L.log_axis(fig, "representation C*H*W (elements, log)")
    _depth_axis(fig, a)
    return _layout(fig, _title(a, "representation size along depth",
                               "principle 1: avoid bottlenecks; batch 1"), height=470)


def _feature_index(a: Analysis, layers: list[Node]) -> int | None:
    """Index of the layer the feature RF was measured at (``feature_rf.node``; older
    analyses: the last spatial layer carrying that field)."""
    f = a.feature_rf
    if f is None:
        return None
    for i in range(len(layers) - 1, -1, -1):
        n = layers[i]
        if n.name == f.node or (f.node is None and n.is_spatial and n.rf == f):
            return i
    return max((i for i, n in enumerate(layers) if n.is_spatial), default=None)


def receptive_field(a: Analysis) -> go.Figure:
    """RF size (largest and smallest path) and effective stride along depth, in input pixels,
    up to the layer the feature RF is measured at: the line ends at the number the subtitle
    prints. Only ``exact`` fields are drawn (a ``global`` or ``unknown`` layer is a gap, never a
    number); where global pooling (or another global op) starts is marked and named. The
    stride is on a log2 axis so the 2 .. 32 px staircase keeps equal steps."""
    layers = list(a.graph.layers)
    idx = {n.name: i for i, n in enumerate(layers)}
    end = _feature_index(a, layers)
    sp = [n for n in layers[:(end + 1) if end is not None else 0]
          if n.is_spatial and n.rf is not None]
    ex = [n for n in sp if n.rf.status == "exact"]
    fig = _figure(2, vertical_spacing=0.08, row_heights=[0.62, 0.38])
    xs = [idx[n.name] for n in sp]
    hover = [f"{_hover(n)}<br>RF {fmt.rf(n.rf)}"
             + (f" (min path {fmt.pair(n.rf.min_size)} px)<br>effective stride "
                f"{fmt.pair(n.rf.stride)} px" if n.rf.status == "exact" else "") for n in sp]

    def ys(get):
        return [get(n.rf) if n.rf.status == "exact" else None for n in sp]

    square = all(n.rf.size[0] == n.rf.size[1] for n in ex)
    axes = [(0, "RF size" if square else "RF size (H)", "#d62728")] + (
        [] if square else [(1, "RF size (W)", "#ff7f0e")])
    for ax, name, colour in axes:
        fig.add_trace(go.Scatter(x=xs, y=ys(lambda r, ax=ax: r.size[ax]), mode="lines",
                                 name=name, line=dict(color=colour, width=2),
                                 connectgaps=False, hovertext=hover, hoverinfo="text"),
                      row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=ys(lambda r: r.min_size[0]), mode="lines",
                             name="smallest-path RF", line=dict(color="#ef9a9a", width=1,
                                                                dash="dot"),
                             connectgaps=False, hovertext=hover, hoverinfo="text"), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=ys(lambda r: r.stride[0]), mode="lines",
                             name="effective stride", line=dict(color="#2e7d32", width=2,
                                                                shape="hv"),
                             connectgaps=False, hovertext=hover, hoverinfo="text"), row=2, col=1)
    inp = a.graph.input.out_shape
    if len(inp) == 4:
        fig.add_hline(y=inp[2], row=1, col=1, line=dict(color="#546e7a", dash="dash"),
                      annotation_text=f"input {inp[2]} px", annotation_position="top left")
    f = a.feature_rf
    last = ex[-1] if ex else None
    at_feature = f is not None and f.status == "exact" and last is not None \
        and idx[last.name] == end
    if last is not None:
        name = (f"feature RF {fmt.pair(last.rf.size)} px" if at_feature
                else f"last exact RF {fmt.pair(last.rf.size)} px")
        fig.add_trace(go.Scatter(x=[idx[last.name]], y=[last.rf.size[0]], mode="markers",
                                 name=_t(f"{name} ({last.name})"),
                                 marker=dict(symbol="star", size=13, color="#b71c1c"),
                                 hovertext=[hover[sp.index(last)]], hoverinfo="text"),
                      row=1, col=1)
    glob = next((n for n in layers if n.rf is not None and n.rf.status == "global"), None)
    if glob is not None:
        gx = idx[glob.name]
        fig.add_vrect(x0=gx - 0.5, x1=len(layers) - 0.5, fillcolor="#fff3e0", opacity=0.6,
                      line_width=0, layer="below", row="all", col=1)
        fig.add_trace(go.Scatter(x=[gx], y=[glob.rf.size[0]], mode="markers",
                                 name=_t(f"global from {glob.name}: whole input "
                                         f"({fmt.pair(glob.rf.size)} px)"),
                                 marker=dict(symbol="diamond-open", size=11, color="#e65100",
                                             line=dict(width=2)),
                                 hovertext=[_t(f"{glob.name}: {fmt.rf(glob.rf)}")],
                                 hoverinfo="text"), row=1, col=1)
    if f is None:
        sub = "no spatial output"
    elif at_feature:
        sub = (f"feature RF {fmt.pair(f.size)} px, stride {fmt.pair(f.stride)} px at "
               f"{last.name}, where the line ends")
    else:
        sub = f"feature RF {fmt.rf(f)}"
        if last is not None:
            sub += (f"; the line ends at the last exact RF, {fmt.pair(last.rf.size)} px at "
                    f"{last.name}")
    if glob is not None and (f is None or f.status == "exact"):
        sub += (f"; from {glob.name} on every unit sees the whole input "
                f"({fmt.pair(glob.rf.size)} px: {glob.rf.reason or 'global'})")
    fig.update_yaxes(title_text="RF size (input px)", row=1, col=1, rangemode="tozero")
    top = max((n.rf.stride[0] for n in ex), default=1)
    L.log2_axis(fig, "eff. stride (input px, log2)", top, row=2, col=1)
    _depth_axis(fig, a, rows=2)
    return _layout(fig, _title(a, "receptive field along depth", sub), height=560)


def _tree(a: Analysis, depth: int) -> tuple[dict[tuple[str, ...], int],
                                            dict[tuple[str, ...], int]]:
    """MACs and layer counts per (stage, module path prefix ...), in execution order."""
    names = _stage_names(a)
    vals: dict[tuple[str, ...], int] = {}
    count: dict[tuple[str, ...], int] = defaultdict(int)
    for n in a.graph.layers:
        if not n.macs:
            continue
        st = _stage_label(n, names)
        path = (n.module_path or n.name).split(".")
        for k in [(st,)] + [(st, *path[:d]) for d in range(1, min(depth, len(path)) + 1)]:
            vals[k] = vals.get(k, 0) + n.macs
            count[k] += 1
    return vals, count


def compute_share(a: Analysis, depth: int = 2, sliver: float = SLIVER) -> go.Figure:
    """Share of MACs by stage, then by module (``depth`` levels of the module path), tiles in
    depth (execution) order; the modules of one parent below ``sliver`` of the network's MACs
    are one tile, ``other (n layers)`` (n: the layers with MACs inside), when there are at
    least two of them."""
    total = a.totals.macs or 1
    vals, count = _tree(a, depth)
    stage_order = {s.label: s.index for s in a.stages}
    from archlens.render.graphviz import STAGE_COLOURS
    colour_of = {s.label: STAGE_COLOURS[s.index % len(STAGE_COLOURS)] for s in a.stages}
    root = _t(a.model)
    ids, labels, parents, values, hover, colours = (
        [root], [root], [""], [a.totals.macs], [fmt.macs(a.totals.macs)], ["#ffffff"])

    def add(ident, label, parent, value, text, stage):
        ids.append(ident)
        labels.append(label)
        parents.append(parent)
        values.append(value)
        hover.append(text)
        colours.append(colour_of.get(stage, "#d9d9d9"))

    def children(key: tuple[str, ...]) -> list[tuple[str, ...]]:
        return [k for k in vals if len(k) == len(key) + 1 and k[:len(key)] == key]

    def emit(key: tuple[str, ...], ident: str) -> None:
        kids = children(key)
        small = [k for k in kids if vals[k] < sliver * total]
        if len(small) < 2:
            small = []
        for k in kids:
            if k in small:
                continue
            kid = ident + "/" + _t(k[-1])
            add(kid, _t(k[-1]), ident, vals[k],
                f"{_t('.'.join(k[1:]) or k[0])}<br>{fmt.macs(vals[k])} "
                f"({fmt.pct(vals[k], total)} of total)", k[0])
            emit(k, kid)
        if small:
            v = sum(vals[k] for k in small)
            n = sum(count[k] for k in small)
            shown = ", ".join(_t(k[-1]) for k in small[:6]) + (" ..." if len(small) > 6 else "")
            add(ident + "/(other)", f"other ({n} layer{'s' if n != 1 else ''})", ident, v,
                f"{len(small)} modules, each under {100 * sliver:g} % of the MACs: {shown}"
                f"<br>{fmt.macs(v)} ({fmt.pct(v, total)} of total)", key[0])

    for st in sorted(children(()), key=lambda k: stage_order.get(k[0], len(stage_order))):
        sid = root + "/" + _t(st[0])
        add(sid, _t(st[0]), root, vals[st],
            f"{_t(st[0])}<br>{fmt.macs(vals[st])} ({fmt.pct(vals[st], total)} of total)", st[0])
        emit(st, sid)
    fig = go.Figure(go.Treemap(ids=ids, labels=labels, parents=parents, values=values,
                               branchvalues="total", hovertext=hover, hoverinfo="text",
                               texttemplate="%{label}<br>%{percentRoot:.1%}", sort=False,
                               marker=dict(colors=colours, line=dict(width=1.5, color="white")),
                               maxdepth=3, pathbar=dict(visible=True)))
    fig.update_layout(uniformtext=dict(minsize=9, mode="hide"), margin=dict(l=20, r=20, t=80,
                                                                           b=20))
    return _layout(fig, _title(a, "compute share by stage and module",
                               f"MACs; tile area = share; depth order, left to right; modules "
                               f"under {100 * sliver:g} % grouped as 'other'"), height=500)


def default_ridge() -> tuple[float, str]:
    """The machine balance the intensity chart draws when none is given: the assumed device
    of the G rules (``archlens check`` defaults, docs/guidelines.md), in MACs per byte."""
    from archlens.checks.config import CheckConfig
    c = CheckConfig()
    return (c.g_peak_gmacs / c.g_bandwidth_gbs,
            f"{c.g_peak_gmacs:g} GMAC/s / {c.g_bandwidth_gbs:g} GB/s of an assumed device "
            "(archlens check's g-peak-gmacs / g-bandwidth-gbs defaults: about the development "
            "CPU, 1 thread, float32)")


def intensity(a: Analysis, ridge: float | None = None, source: str | None = None) -> go.Figure:
    """Arithmetic intensity (MACs per byte of weights + inputs + outputs) of every layer
    with MACs; marker area proportional to the layer's MACs. The ridge line is the machine
    balance ``peak MAC/s / bandwidth`` (MACs per byte): layers under it are memory-bound on
    that machine, above it compute-bound. ``ridge``/``source``: a measured balance and how it
    was measured (default :func:`default_ridge`, an assumed device)."""
    if ridge is None:
        ridge, source = default_ridge()
    layers = list(a.graph.layers)
    idx = {n.name: i for i, n in enumerate(layers)}
    pts = [n for n in layers if n.macs and n.intensity]
    fig = _figure()
    by_type: dict[str, list[Node]] = defaultdict(list)
    for n in pts:
        by_type[n.type if n.type in TYPE_COLOURS else "other"].append(n)
    biggest = max((n.macs for n in pts), default=1)
    for t, ns in sorted(by_type.items(), key=lambda kv: (kv[0] == "other", kv[0])):
        fig.add_trace(go.Scatter(
            x=[idx[n.name] for n in ns], y=[n.intensity for n in ns], mode="markers",
            name=_t(t), marker=dict(color=TYPE_COLOURS.get(t, OTHER_COLOUR), opacity=0.75,
                                   size=[4 + 22 * (n.macs / biggest) ** 0.5 for n in ns],
                                   line=dict(width=0.5, color="white")),
            hovertext=[f"{_hover(n)}<br>intensity {n.intensity:.1f} MACs/byte "
                       f"({'compute' if n.intensity >= ridge else 'memory'}-bound at the "
                       f"ridge)" for n in ns],
            hoverinfo="text"))
    fig.add_hline(y=ridge, line=dict(color="#6a1b9a", dash="dash", width=1.5))
    ly = math.log10(ridge)
    for text, anchor, shift in ((f"ridge {ridge:g} MACs/byte: compute-bound above", "bottom", 1),
                                ("memory-bound below", "top", -1)):
        fig.add_annotation(x=1, xref="paper", xanchor="right", y=ly, yref="y", yanchor=anchor,
                           yshift=2 * shift, text=text, showarrow=False,
                           font=dict(size=10, color="#6a1b9a"), bgcolor="rgba(255,255,255,0.85)")
    below = sum(n.intensity < ridge for n in pts)
    L.log_axis(fig, "arithmetic intensity (MACs / byte, log)", counts=False)
    _depth_axis(fig, a)
    sub = (f"ridge = machine balance {ridge:g} MACs/byte = peak / bandwidth = "
           f"{source or 'of the given machine'}; {below} of {len(pts)} layers with MACs lie "
           f"under it (memory-bound there)")
    return _layout(fig, _title(a, "arithmetic intensity per layer", sub), height=500)


CHARTS: dict[str, tuple[str, Callable[[Analysis], go.Figure]]] = {
    "layer_costs": ("MACs and parameters per layer", layer_costs),
    "representation": ("Representation size along depth", representation_size),
    "receptive_field": ("Receptive field along depth", receptive_field),
    "compute_share": ("Compute share by stage and module", compute_share),
    "intensity": ("Arithmetic intensity per layer", intensity),
}


def figures(a: Analysis) -> dict[str, go.Figure]:
    """Every chart of one analysis, keyed by its file stem (report order)."""
    return {slug: fn(a) for slug, (_, fn) in CHARTS.items()}


# ----------------------------------------------------------------------------- compare

def stage_table(a: Analysis) -> dict[str, dict[str, int]]:
    """Per stage label (``S3 35x35``; ``head (non-spatial)`` last): MACs, params, layers.
    Prefer :attr:`Analysis.stages` and :func:`archlens.diff.stage_deltas`."""
    from archlens.metrics.stages import head_costs
    out = {s.label: {"macs": s.macs, "params": s.params, "layers": s.layers}
           for s in a.stages}
    h = head_costs(a.graph)
    if h["layers"]:
        out["head (non-spatial)"] = h
    return out


def _need_diff(d: object, fn: str) -> "Diff":
    from archlens.diff import Diff
    if not isinstance(d, Diff):
        raise TypeError(f"charts.{fn} takes an archlens.diff.Diff (archlens.diff(a, b) "
                        f"computes it), not {type(d).__name__}: render never analyses")
    return d


def stage_deltas(d: "Diff") -> go.Figure:
    """Per-stage MACs and parameters of the two models of a :class:`archlens.diff.Diff`,
    aligned by stage index (its ``stages``), with B - A annotated: the same numbers as the
    comparison's per-stage table."""
    d = _need_diff(d, "stage_deltas")
    keys = [s.key for s in d.stages]
    ticks = [f"{_t(s.key)}<br>{_t((s.label_a or '-').partition(' ')[2] or s.label_a or '-')}"
             f" | {_t((s.label_b or '-').partition(' ')[2] or s.label_b or '-')}"
             if s.index is not None else "head" for s in d.stages]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1)
    for row, key, unit in ((1, "macs", "MACs"), (2, "params", "params")):
        ya = [getattr(s, f"{key}_a") for s in d.stages]
        yb = [getattr(s, f"{key}_b") for s in d.stages]
        fig.add_trace(go.Bar(x=keys, y=ya, name=_t(d.a), marker_color="#90a4ae",
                             showlegend=row == 1, legendgroup="a",
                             hovertemplate="%{x}: %{y:,} " + unit + "<extra>" + _t(d.a)
                             + "</extra>"), row=row, col=1)
        fig.add_trace(go.Bar(x=keys, y=yb, name=_t(d.b), marker_color="#1f77b4",
                             showlegend=row == 1, legendgroup="b",
                             hovertemplate="%{x}: %{y:,} " + unit + "<extra>" + _t(d.b)
                             + "</extra>"), row=row, col=1)
        for k, va, vb in zip(keys, ya, yb):
            if va == vb:
                continue
            fig.add_annotation(x=k, y=max(va, vb), text=_t(fmt.delta(va, vb)),
                               showarrow=False, yshift=10, font=dict(size=10,
                               color="#2e7d32" if vb < va else "#c62828"),
                               xref="x", yref="y" if row == 1 else "y2")
    fig.update_layout(barmode="group", bargap=0.25, margin=MARGIN)
    fig.update_xaxes(tickmode="array", tickvals=keys, ticktext=ticks)
    fig.update_yaxes(title_text="MACs (multiply-accumulates)", row=1, col=1)
    fig.update_yaxes(title_text="parameters (count)", row=2, col=1)
    fig.update_xaxes(title_text="stage index (grid of A | grid of B)", row=2, col=1)
    return _layout(fig, f"Per-stage cost: {_t(d.a)} vs {_t(d.b)} (annotation: B - A)",
                   height=560)


def _depth_positions(a: Analysis, nodes) -> list[float]:
    """x of each node: its stage index plus its position inside the stage (0..1), so two
    networks of different length line up stage by stage."""
    per: dict[int, list[str]] = {}
    for n in nodes:
        per.setdefault(n.stage, []).append(n.name)
    pos = {}
    for st, names in per.items():
        for i, name in enumerate(names):
            pos[name] = st + (i + 0.5) / len(names)
    return [pos[n.name] for n in nodes]


def compare_figures(d: "Diff", a: Analysis, b: Analysis) -> dict[str, go.Figure]:
    """Charts of a comparison ``d`` (:func:`archlens.diff`, computed by the caller) of A and B:
    per-stage deltas plus both representation curves, the x axis in stages (each stage one
    unit wide) so the two networks line up."""
    d = _need_diff(d, "compare_figures")
    rep = _figure()
    for an, colour in ((a, "#90a4ae"), (b, "#1f77b4")):
        sp = [n for n in an.graph.layers if n.is_spatial and n.stage is not None]
        rep.add_trace(go.Scatter(x=_depth_positions(an, sp),
                                 y=[_numel(n.out_shape[1:]) for n in sp],
                                 mode="lines", name=_t(an.model), line=dict(color=colour),
                                 hovertext=[_hover(n) for n in sp], hoverinfo="text"))
    n_st = max(len(a.stages), len(b.stages))
    labels = []
    for i in range(n_st):
        la = a.stages[i].label.partition(" ")[2] if i < len(a.stages) else "-"
        lb = b.stages[i].label.partition(" ")[2] if i < len(b.stages) else "-"
        labels.append(f"S{i}<br>{_t(la)} | {_t(lb)}")   # <br>: a line break, not text
    L.log_axis(rep, "representation C*H*W (elements, log)")
    rep.update_xaxes(title_text="stage (grid of A | grid of B); layers spread evenly inside "
                                "each stage", tickmode="array",
                     tickvals=[i + 0.5 for i in range(n_st)], ticktext=labels,
                     range=[0, n_st], showgrid=False)
    for i in range(1, n_st):
        rep.add_vline(x=i, line=dict(color="#cfd8dc", width=1))
    _layout(rep, f"Representation size along depth: {_t(d.a)} vs {_t(d.b)} (aligned by stage)")
    return {"stage_deltas": stage_deltas(d), "representation": rep}


def _numel(shape) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out
