"""Along-depth charts of an analysis as plotly figures (usable in notebooks and the report).

Every function takes an :class:`~archlens.analysis.Analysis` and returns a
``plotly.graph_objects.Figure`` whose axes name their unit. The x axis of the along-depth
charts is the execution order of the layers (the order of ``analysis.graph.layers``), so
the same x means the same layer in every chart; hovering shows the layer's name.

Model-supplied names go into plotly text through :func:`_t` (plotly renders a subset of HTML
in text; names are escaped so they can only ever be text).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from archlens.analysis import Analysis
from archlens.graph import Node
from archlens.render import _numbers as fmt
from archlens.sanitize import for_html

if TYPE_CHECKING:  # pragma: no cover
    from archlens.diff import Diff

TEMPLATE = "plotly_white"
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=12, color="#263238")
TYPE_COLOURS = {"Conv2d": "#1f77b4", "Linear": "#9467bd", "BatchNorm2d": "#bcbd22",
                "ConvTranspose2d": "#17becf"}
OTHER_COLOUR = "#8c8c8c"
FINDING_COLOUR = "#c62828"
WIDTH, HEIGHT = 1000, 430


def _t(text: object) -> str:
    """A model-supplied string as plotly text: escaped, so it is never markup."""
    return for_html(text)


def _layout(fig: go.Figure, title: str, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(template=TEMPLATE, font=FONT, height=height,
                      title=dict(text=title, x=0.01, xanchor="left", font=dict(size=15)),
                      margin=dict(l=70, r=30, t=60, b=55), hoverlabel=dict(font_size=11),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right",
                                  x=1.0))
    return fig


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


def _stage_bands(fig: go.Figure, a: Analysis, xs_of: dict[str, int], rows: int = 1) -> None:
    """A dotted line where each grid size first appears (branches of a reduction block may
    interleave two grids; the first appearance is where the stage begins), labelled at the
    bottom of the plot."""
    names = _stage_names(a)
    seen: set[int] = set()
    for n in a.graph.layers:
        if n.name not in xs_of or n.stage is None or not n.is_spatial or n.stage in seen:
            continue
        seen.add(n.stage)
        if xs_of[n.name] == 0:
            continue
        x = xs_of[n.name] - 0.5
        for r in range(1, rows + 1):
            fig.add_vline(x=x, line=dict(color="#b0bec5", width=1, dash="dot"),
                          row=r if rows > 1 else None, col=1 if rows > 1 else None)
        fig.add_annotation(x=x, y=0.0, yref="paper", xanchor="left", yanchor="bottom",
                           text=_t(names.get(n.stage, "")), showarrow=False, textangle=-90,
                           font=dict(size=10, color="#607d8b"))


# ----------------------------------------------------------------------------- per layer

def layer_costs(a: Analysis, top_k: int = 8) -> go.Figure:
    """MACs and parameters of every layer that has either, in execution order; the ``top_k``
    layers by MACs are labelled."""
    layers = list(a.graph.layers)
    idx = {n.name: i for i, n in enumerate(layers)}
    costly = [n for n in layers if n.macs or n.params]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.6, 0.4])
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
    top = sorted(costly, key=lambda n: -n.macs)[:top_k]
    for rank, n in enumerate(sorted(top, key=lambda n: idx[n.name])):
        fig.add_annotation(x=idx[n.name], y=n.macs, xref="x", yref="y",
                           text=_t(_short(n.name)), showarrow=True, arrowhead=0, ax=0,
                           ay=-18 - 14 * (rank % 3), font=dict(size=10), arrowcolor="#90a4ae")
    fig.update_layout(bargap=0.15, barmode="overlay")
    fig.update_yaxes(title_text="MACs (multiply-acc.)", row=1, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="parameters (count)", row=2, col=1, rangemode="tozero")
    fig.update_xaxes(title_text="layer (execution order)", row=2, col=1)
    total = a.totals.macs
    sub = f"top {len(top)} layers: {fmt.pct(sum(n.macs for n in top), total)} of {fmt.macs(total)}"
    return _layout(fig, f"MACs and parameters per layer <span style='font-size:12px;"
                        f"color:#607d8b'>({_t(sub)})</span>", height=520)


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
    """C*H*W of every spatial layer output along depth (log axis); P1 findings marked."""
    layers = list(a.graph.layers)
    idx = {n.name: i for i, n in enumerate(layers)}
    sp = [n for n in layers if n.is_spatial]
    trunk = set(trunk_nodes(a))
    main = [n for n in sp if n.name in trunk]
    side = [n for n in sp if n.name not in trunk]
    fig = go.Figure()
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
        fig.add_hline(y=_numel(inp.out_shape[1:]), line=dict(color="#78909c", dash="dash"),
                      annotation_text=f"input {fmt.shape(inp.out_shape)}",
                      annotation_position="bottom right")
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
    _stage_bands(fig, a, idx)
    fig.update_yaxes(type="log", title_text="representation C*H*W (elements, log)")
    fig.update_xaxes(title_text="layer (execution order)")
    return _layout(fig, "Representation size along depth (principle 1: avoid bottlenecks)")


def receptive_field(a: Analysis) -> go.Figure:
    """RF size (largest and smallest path) and effective stride along depth, in input pixels,
    with the input size as the reference line."""
    layers = list(a.graph.layers)
    idx = {n.name: i for i, n in enumerate(layers)}
    rf = [n for n in layers if n.rf is not None and n.rf.known and n.is_spatial]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.62, 0.38])
    xs = [idx[n.name] for n in rf]
    hover = [f"{_hover(n)}<br>RF {fmt.pair(n.rf.size)} px (min path {fmt.pair(n.rf.min_size)})"
             f"<br>effective stride {fmt.pair(n.rf.stride)} px" for n in rf]
    square = all(n.rf.size[0] == n.rf.size[1] for n in rf)
    axes = [(0, "RF size" if square else "RF size (H)", "#d62728")] + (
        [] if square else [(1, "RF size (W)", "#ff7f0e")])
    for ax, name, colour in axes:
        fig.add_trace(go.Scatter(x=xs, y=[n.rf.size[ax] for n in rf], mode="lines",
                                 name=name, line=dict(color=colour, width=2),
                                 hovertext=hover, hoverinfo="text"), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[n.rf.min_size[0] for n in rf], mode="lines",
                             name="smallest-path RF", line=dict(color="#ef9a9a", width=1,
                                                                dash="dot"),
                             hovertext=hover, hoverinfo="text"), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[n.rf.stride[0] for n in rf], mode="lines",
                             name="effective stride", line=dict(color="#2e7d32", width=2,
                                                                shape="hv"),
                             hovertext=hover, hoverinfo="text"), row=2, col=1)
    inp = a.graph.input.out_shape
    if len(inp) == 4:
        fig.add_hline(y=inp[2], row=1, col=1, line=dict(color="#546e7a", dash="dash"),
                      annotation_text=f"input {inp[2]} px", annotation_position="top left")
    if a.feature_rf is not None and a.feature_rf.status != "exact":
        sub = f"feature RF {fmt.rf(a.feature_rf)}"
    elif a.feature_rf is not None:
        sub = (f"feature RF {fmt.pair(a.feature_rf.size)} px, "
               f"stride {fmt.pair(a.feature_rf.stride)} px")
    else:
        sub = "no spatial output"
    fig.update_yaxes(title_text="RF size (input px)", row=1, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="eff. stride (px)", row=2, col=1, rangemode="tozero")
    fig.update_xaxes(title_text="layer (execution order)", row=2, col=1)
    return _layout(fig, f"Receptive field along depth <span style='font-size:12px;"
                        f"color:#607d8b'>({_t(sub)})</span>", height=500)


def compute_share(a: Analysis, depth: int = 2) -> go.Figure:
    """Share of MACs by stage, then by module (``depth`` levels of the module path)."""
    names = _stage_names(a)
    total = a.totals.macs or 1
    vals: dict[tuple[str, ...], int] = defaultdict(int)
    for n in a.graph.layers:
        if not n.macs:
            continue
        st = _stage_label(n, names)
        path = (n.module_path or n.name).split(".")
        key = (st,)
        vals[key] += n.macs
        for d in range(1, min(depth, len(path)) + 1):
            key = (st, *path[:d])
            vals[key] += n.macs
    root = _t(a.model)
    ids, labels, parents, values, hover = [root], [root], [""], [a.totals.macs], [
        f"{fmt.macs(a.totals.macs)}"]
    from archlens.render.graphviz import STAGE_COLOURS
    stage_colour = {}
    for s_idx, label in sorted(names.items()):
        stage_colour[label] = STAGE_COLOURS[s_idx % len(STAGE_COLOURS)]
    colours = ["#ffffff"]
    for key in sorted(vals, key=lambda k: (len(k), k)):
        ident = root + "/" + "/".join(_t(k) for k in key)
        parent = root + ("/" + "/".join(_t(k) for k in key[:-1]) if len(key) > 1 else "")
        ids.append(ident)
        labels.append(_t(key[-1]))
        parents.append(parent)
        values.append(vals[key])
        colours.append(stage_colour.get(key[0], "#d9d9d9"))
        hover.append(f"{_t('.'.join(key[1:]) or key[0])}<br>{fmt.macs(vals[key])} "
                     f"({fmt.pct(vals[key], total)} of total)")
    fig = go.Figure(go.Treemap(ids=ids, labels=labels, parents=parents, values=values,
                               branchvalues="total", hovertext=hover, hoverinfo="text",
                               texttemplate="%{label}<br>%{percentRoot:.1%}",
                               marker=dict(colors=colours, line=dict(width=1.5, color="white")),
                               maxdepth=3, pathbar=dict(visible=True)))
    return _layout(fig, "Compute share by stage and module (MACs; tile area = share)",
                   height=480)


def intensity(a: Analysis) -> go.Figure:
    """Arithmetic intensity (MACs per byte of weights + inputs + outputs) of every layer
    with MACs; marker area proportional to the layer's MACs."""
    layers = list(a.graph.layers)
    idx = {n.name: i for i, n in enumerate(layers)}
    pts = [n for n in layers if n.macs and n.intensity]
    fig = go.Figure()
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
            hovertext=[f"{_hover(n)}<br>intensity {n.intensity:.1f} MACs/byte" for n in ns],
            hoverinfo="text"))
    _stage_bands(fig, a, idx)
    fig.update_yaxes(type="log", title_text="arithmetic intensity (MACs / byte, log)")
    fig.update_xaxes(title_text="layer (execution order)")
    return _layout(fig, "Arithmetic intensity per layer (low = memory-bound)")


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


def stage_deltas(d: "Diff | Analysis", b: Analysis | None = None) -> go.Figure:
    """Per-stage MACs and parameters of two models, aligned by stage index (the stages of
    :func:`archlens.diff.stage_deltas`), with B - A annotated: the same numbers as the
    comparison's per-stage table. Takes a Diff, or two analyses (A, B)."""
    if b is not None:
        from archlens.diff import diff
        d = diff(d, b)
    keys = [s.key for s in d.stages]
    ticks = [_t(f"{s.key}<br>{(s.label_a or '-').partition(' ')[2] or s.label_a or '-'} | "
                f"{(s.label_b or '-').partition(' ')[2] or s.label_b or '-'}")
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
    fig.update_layout(barmode="group", bargap=0.25)
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


def compare_figures(a: Analysis, b: Analysis, d: "Diff | None" = None) -> dict[str, go.Figure]:
    """Charts of a comparison: per-stage deltas plus both representation curves, the x axis
    in stages (each stage one unit wide) so the two networks line up. ``d``: the
    :func:`archlens.diff` of the two (computed when not given, for older callers)."""
    if d is None:
        from archlens.diff import diff
        d = diff(a, b)
    rep = go.Figure()
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
        labels.append(_t(f"S{i}<br>{la} | {lb}"))
    rep.update_yaxes(type="log", title_text="representation C*H*W (elements, log)",
                     dtick=1, minor=dict(showgrid=False), exponentformat="SI")
    rep.update_xaxes(title_text="stage (grid of A | grid of B); layers spread evenly inside "
                                "each stage", tickmode="array",
                     tickvals=[i + 0.5 for i in range(n_st)], ticktext=labels,
                     range=[0, n_st], showgrid=False)
    for i in range(1, n_st):
        rep.add_vline(x=i, line=dict(color="#cfd8dc", width=1))
    _layout(rep, "Representation size along depth, both models (aligned by stage)")
    return {"stage_deltas": stage_deltas(d), "representation": rep}


def _numel(shape) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out
