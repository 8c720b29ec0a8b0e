"""archlens dashboard: explore and compare CNN architectures in the browser.

Start it with ``archlens dashboard`` (or ``streamlit run apps/dashboard.py``). Everything shown
comes from archlens's public API: ``archlens.analyze`` for the numbers, the zoo cards, and the
renderers (graphviz SVG, plotly charts, bench figures). The page never computes a metric.

Layout: the sidebar picks the model (zoo, grouped by family; or ``file.py:callable`` when the
server was started with ``--allow-user-code``), the input size, batch, aggregation depth and
units; the tabs show Overview, Layers, Graph, Charts, Principles, Compare and Benchmarks.
Only the open tab runs (``st.tabs(on_change="rerun")``), and analyses are cached per
(model, input, batch), so switching back to a model already seen is instant.

URL parameters: ``?model=resnet50&tab=Graph`` open a model and a tab directly.
"""
from __future__ import annotations

import inspect
import json
import sys
import traceback
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # the helpers sit next to this file (streamlit adds it; AppTest not)
    sys.path.insert(0, _HERE)

import streamlit as st  # noqa: E402

import _dashboard_data as data  # noqa: E402
from _dashboard_panzoom import panzoom_html  # noqa: E402

TABS = ("Overview", "Layers", "Graph", "Charts", "Principles", "Compare", "Benchmarks")
DEPTHS = ("all", 1, 2, 3, 4, 5)
ALL_FAMILIES = "all families"
# Material icons ship with Streamlit (no emoji font needed, works offline).
SEVERITY_ICON = {"error": ":red[:material/error:]", "warning": ":orange[:material/warning:]",
                 "info": ":blue[:material/info:]"}

# The four design principles (Szegedy et al. 2016, "Rethinking the Inception Architecture",
# section 2), as the rule codes P1..P4 name them.
PRINCIPLES = {
    "P1": ("Avoid representational bottlenecks",
           "Representation size (C x H x W) should decrease gently from the input to the "
           "output; a sharp drop, especially early in the network, loses information that no "
           "later layer can recover."),
    "P2": ("Higher-dimensional representations are easier to process locally",
           "Increasing the activations per tile (more channels) gives more disentangled "
           "features and trains faster."),
    "P3": ("Spatial aggregation can be done over lower-dimensional embeddings",
           "Reduce the channels with a 1x1 convolution before a large spatial convolution; "
           "factorize 5x5 into two 3x3 and n x n into 1 x n followed by n x 1."),
    "P4": ("Balance the width and depth of the network",
           "Grow width and depth together; a stage that carries most of the compute, or a "
           "network that is very deep and thin (or shallow and wide), wastes the budget."),
}


def _kw(fn, **kw) -> dict[str, Any]:
    """Only the keyword arguments ``fn`` accepts (newer Streamlit options such as ``bind`` and
    ``persist_state`` are used where available and skipped on older versions)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return kw
    return {k: v for k, v in kw.items() if k in params}


def _archlens_error():
    from archlens.errors import ArchlensError
    return ArchlensError


def _show_failure(what: str, e: BaseException) -> None:
    """A user mistake (ArchlensError) as one st.error line; anything else is a bug: say so and
    show the traceback with st.exception."""
    if isinstance(e, _archlens_error()):
        st.error(f"{what}: {e}")
    else:
        st.error(f"{what} failed unexpectedly: this is a bug in archlens (please report it "
                 f"with the traceback below): {type(e).__name__}: {e}")
        st.exception(e)


# ----------------------------------------------------------------------------- sidebar

class Selection:
    """What the sidebar chose."""

    def __init__(self) -> None:
        self.model: str = ""
        self.is_user_code = False
        self.chw: tuple[int, ...] | None = None
        self.batch = 1
        self.depth: int | None = None
        self.units = data.Units("MACs")
        self.device = "meta"
        self.error: BaseException | None = None


def sidebar(allow_user_code: bool) -> Selection:
    sel = Selection()
    catalog = data.zoo_catalog()
    names = [m["name"] for ms in catalog.values() for m in ms]
    default = data.default_model(catalog)
    with st.sidebar:
        st.header("archlens")
        st.caption("CNN architecture analysis: parameters, MACs, receptive fields and the "
                   "Inception-v3 design principles.")
        family = st.selectbox("Family", [ALL_FAMILIES, *catalog], key="family",
                              help="Narrow the model list to one family of the zoo")
        options = names if family == ALL_FAMILIES else [m["name"] for m in catalog[family]]
        current = st.session_state.get("model")
        index = options.index(current) if current in options else (
            options.index(default) if default in options else 0)
        model = st.selectbox(
            "Model", options, index=index, key="model",
            help="The zoo, grouped by family (untrained, deterministic builds: the numbers "
                 "are the architecture's). URL: ?model=NAME",
            **_kw(st.selectbox, bind="query-params"))
        card = data.card_of(model) or {}
        if card:
            st.caption(card.get("description", ""))
            with st.expander(f"Card of {model} ({card.get('family')} family)"):
                st.markdown(f"**Paper.** {card.get('paper', '')}")
                if card.get("published_params"):
                    st.markdown(f"**Published parameters:** {card['published_params']:,}")
                if card.get("published_macs"):
                    st.markdown(f"**Published MACs:** {card['published_macs']:,} "
                                f"(multiply-accumulates at "
                                f"{data.shape_text(card['input_shape'])})")
                if card.get("source"):
                    st.caption(f"Source: {card['source']}")
                if card.get("notes"):
                    st.caption(card["notes"])
                others = [m["name"] for m in catalog.get(card.get("family"), [])]
                st.caption("Same family: " + ", ".join(others))
        sel.model = model

        if allow_user_code:
            st.warning("User code is enabled: loading `file.py:callable` or "
                       "`package.module:callable` EXECUTES that code in the server process.")
            ref = st.text_input("Model reference (overrides the zoo model)", key="user_model",
                                placeholder="path/to/file.py:build_model",
                                help="A callable returning an nn.Module, or a module class "
                                     "constructible without arguments.").strip()
            if ref:
                sel.model, sel.is_user_code = ref, True
        else:
            st.caption("Own models (`file.py:callable`) need `archlens dashboard "
                       "--allow-user-code`: loading them runs their code.")

        # The input follows the model: a new model starts at its card's input size.
        if st.session_state.get("_input_model") != sel.model:
            shape = card.get("input_shape") if not sel.is_user_code else None
            st.session_state["input"] = data.shape_text(shape or (3, 224, 224)).replace(" ", "")
            st.session_state["_input_model"] = sel.model
        text = st.text_input("Input size (C x H x W, without batch)", key="input",
                             help="e.g. 3x299x299; a new model starts at its card's size")
        try:
            from archlens.shapes import parse_shape
            sel.chw = parse_shape(text)
        except Exception as e:  # noqa: BLE001 - shown in the page
            sel.error = e
        sel.batch = int(st.number_input("Batch (N)", min_value=1, max_value=4096, value=1,
                                        step=1, key="batch"))
        depth = st.select_slider("Aggregation depth", options=DEPTHS, value="all", key="depth",
                                 help="'all': every layer; k: layers grouped by the first k "
                                      "components of their module path (table and graph)")
        sel.depth = None if depth == "all" else int(depth)
        units = st.radio("Units", ("MACs", "FLOPs"), key="units", horizontal=True,
                         help="MACs = multiply-accumulates (what archlens stores); "
                              "FLOPs = 2 x MACs")
        sel.units = data.Units(units)
        sel.device = st.radio(
            "Trace on", data.DEVICES, key="device", horizontal=True,
            help="meta: shapes only, nothing allocated or computed, counted with "
                 "torch.utils.flop_counter (fast); cpu: real tensors, counted with fvcore. "
                 "Both give the same numbers on the zoo models.")
        st.caption(f"Numbers in {sel.units.long}; parameters are counts.")
    return sel


def load_analysis(sel: Selection):
    """The cached analysis, or None after showing the error in the page."""
    if sel.error is not None:
        _show_failure("Input size", sel.error)
        return None
    try:
        with st.spinner(f"Analysing {sel.model} at {data.shape_text(sel.chw)} ..."):
            return data.analysis(sel.model, sel.chw, sel.batch, sel.device)
    except Exception as e:  # noqa: BLE001 - every failure becomes a message in the page
        _show_failure(f"Cannot analyse {sel.model}", e)
        return None


# ----------------------------------------------------------------------------- selected layer

def selected_layer(a) -> str | None:
    name = st.session_state.get("selected_layer")
    return name if a is not None and name in a.graph else None


def _pick_layer() -> None:
    st.session_state["selected_layer"] = st.session_state.get("layer_pick")


# ----------------------------------------------------------------------------- tabs

def tab_overview(a, sel: Selection) -> None:
    u = sel.units
    t = a.totals
    card = data.card_of(a.model) or {}
    st.subheader(f"{a.model} — input {data.shape_text(a.input_shape)} (N x C x H x W), "
                 f"{a.dtype}")
    if card.get("description"):
        st.caption(card["description"])
    c = st.columns(4)
    pub_p = card.get("published_params") if tuple(a.input_shape[1:]) == tuple(
        card.get("input_shape", ())) else None
    c[0].metric("Parameters (count)", data.si(t.params),
                delta=(_vs_published(t.params - pub_p, f"{pub_p:,}") if pub_p else None),
                delta_color="off", help=f"{t.params:,} parameters; "
                                        f"{t.trainable_params:,} trainable", border=True,
                **_kw(st.metric, delta_arrow="off"))
    c[1].metric(f"{u.name} (whole network)", data.si(u.of(t.macs), u.name),
                help=f"{u.of(t.macs):,} {u.long} at batch {a.input_shape[0]}", border=True)
    pub_m = card.get("published_macs") if card.get("input_shape") and tuple(
        a.input_shape[1:]) == tuple(card["input_shape"]) and a.input_shape[0] == 1 else None
    c[2].metric(f"Paper {u.name} (conv + linear)", data.si(u.of(t.paper_macs), u.name),
                delta=(_vs_published(f"{(t.paper_macs - pub_m) / pub_m:+.2%}",
                                     data.si(u.of(pub_m), u.name)) if pub_m else None),
                delta_color="off", help=f"{u.of(t.paper_macs):,} {u.long}: convolutions and "
                                        "fully-connected layers only, the convention of "
                                        "published tables", border=True,
                **_kw(st.metric, delta_arrow="off"))
    c[3].metric("Activations (elements)", data.si(t.activations),
                help="Sum of the output elements of every layer", border=True)
    c = st.columns(4)
    c[0].metric("Weights (bytes)", data.nbytes(t.weight_bytes),
                help=f"parameters x bytes per {a.dtype} element", border=True)
    c[1].metric("Peak activations (bytes)", data.nbytes(t.peak_activation_bytes),
                help="Estimate: largest set of live tensors over the execution order",
                border=True)
    rf = a.feature_rf
    c[2].metric("Feature receptive field (px)",
                f"{rf.size[0]} x {rf.size[1]}" if rf else "n/a",
                help=(f"At the last spatial layer: effective stride {data.pair_text(rf.stride)}"
                      f", padding {data.pair_text(rf.padding)}" if rf else None), border=True)
    c[3].metric("Layers", f"{len(a.graph.layers)}",
                help="Executed leaf modules and functional ops", border=True)
    unused = getattr(t, "unused_params", 0)
    if unused:
        st.info(f"{unused:,} parameters belong to modules that did not run in this forward "
                "pass (e.g. an auxiliary classifier in eval mode): counted in the total, in "
                "no layer of the table.")
    if a.unsupported_ops:
        st.warning("Not counted (no MAC formula for these ops): " + ", ".join(
            f"{op} x{k}" for op, k in sorted(a.unsupported_ops.items())))

    st.markdown("#### Findings")
    fs = data.sorted_findings(a.findings)
    if not fs:
        st.success("No design-principle findings.")
        return
    counts = {s: sum(f.severity == s for f in fs) for s in ("error", "warning", "info")}
    st.markdown(" · ".join(f"{SEVERITY_ICON[s]} {n} {s}{'s' if n != 1 else ''}"
                           for s, n in counts.items() if n))
    st.dataframe(data.findings_frame(fs), hide_index=True, width="stretch",
                 column_config={"message": st.column_config.TextColumn(width="large"),
                                "fix": st.column_config.TextColumn(width="large")})


def _vs_published(diff, published: str) -> str:
    if diff == 0 or diff == "+0.00%":
        return f"= published {published}"
    return f"{diff:+,} vs published {published}" if isinstance(diff, int) else (
        f"{diff} vs published {published}")


def tab_layers(a, sel: Selection) -> None:
    u = sel.units
    if sel.depth is None:
        df = data.layers_frame(a, u)
        name_col = "layer"
    else:
        df = data.aggregated_frame(a, u, sel.depth)
        name_col = "module"
    f1, f2, f3, f4 = st.columns([3, 2, 2, 1])
    text = f1.text_input("Filter by name", key="layer_filter", placeholder="e.g. Mixed_6")
    types_col = "type" if "type" in df else None
    types = f2.multiselect("Type", sorted(df[types_col].unique()) if types_col else [],
                           key="layer_types", disabled=types_col is None)
    stages = f3.multiselect("Stage", sorted(int(s) for s in df["stage"].unique()),
                            key="layer_stages", help="-1: non-spatial (head)")
    only = f4.checkbox("With findings", key="layer_only_findings")
    view = df
    if text:
        view = view[view[name_col].str.contains(text, case=False, regex=False)]
    if types and types_col:
        view = view[view[types_col].isin(types)]
    if stages:
        view = view[view["stage"].isin(stages)]
    if only:
        view = view[(view["findings"] != "") & (view["findings"] != 0)]
    st.caption(f"{len(view)} of {len(df)} {'layers' if sel.depth is None else 'modules'}; "
               f"click a column header to sort, a row to select it. {u.name} = {u.long}.")
    cfg = {"ops": st.column_config.NumberColumn(u.name, format="localized"),
           "ops %": st.column_config.ProgressColumn(f"% of {u.name}", format="%.2f %%",
                                                    min_value=0.0, max_value=100.0),
           "params": st.column_config.NumberColumn("params", format="localized"),
           "activations": st.column_config.NumberColumn("activations", format="localized")}
    state = st.dataframe(view, hide_index=True, width="stretch", height=420,
                         column_config=cfg, key="layer_table",
                         **_kw(st.dataframe, on_select="rerun", selection_mode="single-row"))
    rows = getattr(getattr(state, "selection", None), "rows", None) if state is not None else None
    if rows:
        picked = view.iloc[rows[0]][name_col]
        if sel.depth is None:
            st.session_state["selected_layer"] = picked
        else:  # a module row: select its first layer
            first = next((n.name for n in a.graph.layers
                          if (n.depth_name(sel.depth) or "(top level)") == picked), None)
            st.session_state["selected_layer"] = first

    names = [n.name for n in a.graph.layers]
    current = selected_layer(a)
    st.session_state["layer_pick"] = current
    st.selectbox("Layer details", names, index=names.index(current) if current else None,
                 key="layer_pick", on_change=_pick_layer, placeholder="choose a layer",
                 help="Or click a row of the table")
    if current:
        layer_details(a, current, u)


def layer_details(a, name: str, u: data.Units) -> None:
    n = a.graph[name]
    st.markdown(f"##### `{n.name}` — {n.type}")
    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**Shapes** (N x C x H x W)")
        for i, (src, shp) in enumerate(zip(n.inputs, n.in_shapes)):
            st.markdown(f"- in {i}: `{data.shape_text(shp)}` from `{src}`")
        st.markdown(f"- out: `{data.shape_text(n.out_shape)}`")
        geo = [(k, getattr(n, k)) for k in ("kernel", "stride", "padding", "dilation")]
        geo_txt = ", ".join(f"{k} {data.pair_text(v)}" for k, v in geo if v is not None)
        if n.groups and n.groups > 1:
            geo_txt += f", groups {n.groups}"
        if geo_txt:
            st.markdown(f"- {geo_txt}")
    with c2:
        st.markdown("**Cost**")
        st.markdown(f"- {u.name}: {u.of(n.macs):,}\n- parameters: {n.params:,}\n"
                    f"- activations (elements): {n.activations:,}\n"
                    f"- stage: {n.stage if n.stage is not None else 'n/a'}"
                    + (f"\n- intensity: {n.intensity:.1f} MACs/byte" if n.intensity else ""))
    with c3:
        st.markdown("**Receptive field** (input pixels, H x W)")
        if n.rf is None:
            st.markdown("- n/a (not spatial)")
        else:
            r = n.rf
            st.markdown(f"- size: {data.pair_text(r.size)} (smallest path "
                        f"{data.pair_text(r.min_size)})\n- effective stride: "
                        f"{data.pair_text(r.stride)}\n- effective padding: "
                        f"{data.pair_text(r.padding)}\n- centre-aligned paths: "
                        f"{'yes' if r.aligned else 'no'}")
    fs = data.findings_for(a, name)
    if fs:
        for f in data.sorted_findings(fs):
            finding_box(f, u)
    else:
        st.caption("No findings on this layer.")


def finding_box(f, u: data.Units) -> None:
    body = f"**{f.code}** — {f.message}\n\n*Evidence:* {f.evidence}"
    if f.fix:
        body += f"\n\n*Fix:* {f.fix}"
    if f.saving:
        parts = []
        if f.saving.get("macs"):
            parts.append(f"{u.of(f.saving['macs']):,} {u.name}")
        if f.saving.get("params"):
            parts.append(f"{f.saving['params']:,} parameters")
        if parts:
            body += f"\n\n*Saving of the fix:* {', '.join(parts)}"
    if len(f.layers) > 1:
        body += "\n\n*Layers:* " + ", ".join(f"`{x}`" for x in f.layers[:8]) + (
            " ..." if len(f.layers) > 8 else "")
    {"error": st.error, "warning": st.warning}.get(f.severity, st.info)(body)


def tab_graph(a, sel: Selection) -> None:
    try:
        with st.spinner("Laying out the graph (graphviz dot) ..."):
            svg, notes, drawn = data.graph_svg(data.analysis_key(a), sel.depth, a)
    except Exception as e:  # noqa: BLE001
        _show_failure("Graph", e)
        return
    layer = selected_layer(a)
    st.caption(f"Depth drawn: {drawn if drawn is not None else 'all layers'}. Fill colour = "
               f"share of the network's MACs; outlines = findings. Wheel to zoom, drag to pan, "
               f"double-click to fit." + (f" Selected layer: `{layer}`." if layer else ""))
    for note in notes:
        st.caption(f"ℹ️ {note}")
    page = panzoom_html(svg, height=760, highlight=layer, title=f"{a.model} layer graph")
    if hasattr(st, "iframe"):
        st.iframe(page, height=780)
    else:  # Streamlit before st.iframe
        import streamlit.components.v1 as components
        components.html(page, height=780)
    st.download_button("Download SVG", svg, file_name=f"{_safe(a.model)}.svg",
                       mime="image/svg+xml")


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "model"


def tab_charts(a, sel: Selection) -> None:
    from archlens.render import charts
    layer = selected_layer(a)
    x = next((i for i, n in enumerate(a.graph.layers) if n.name == layer), None)
    if sel.units.name == "FLOPs":
        st.caption("Charts are drawn in MACs (multiply-accumulates); FLOPs = 2 x MACs.")
    if layer:
        st.caption(f"Selected layer `{layer}` (x = {x}) is marked in the along-depth charts.")
    for slug, (title, fn) in charts.CHARTS.items():
        try:
            fig = fn(a)
        except Exception as e:  # noqa: BLE001
            _show_failure(title, e)
            continue
        if x is not None and slug != "compute_share":
            try:
                fig.add_vline(x=x, line=dict(color="#d500f9", width=2, dash="dash"),
                              annotation_text="selected", annotation_position="top")
            except Exception:  # noqa: BLE001 - a figure without an x axis: no marker
                pass
        st.plotly_chart(fig, key=f"chart_{slug}", width="stretch")


def _rule_explanations() -> dict[str, str]:
    """Per rule code, the checks registry's title and the rule's own docstring."""
    try:
        from archlens.checks import RULES
    except Exception:  # noqa: BLE001 - the page still lists the findings
        return {}
    out = {}
    for code, rule in RULES.items():
        doc = inspect.getdoc(getattr(rule, "func", None)) or ""
        title = getattr(rule, "title", "")
        out[str(code)] = (f"**{title}.** " if title else "") + doc
    return out


def tab_principles(a, sel: Selection) -> None:
    fs = data.sorted_findings(a.findings)
    expl = _rule_explanations()
    by_principle: dict[str, dict[str, list]] = {}
    for f in fs:
        by_principle.setdefault(f.principle, {}).setdefault(f.code, []).append(f)
    for p, (title, text) in PRINCIPLES.items():
        codes = by_principle.get(p, {})
        n = sum(len(v) for v in codes.values())
        st.markdown(f"#### {p}. {title} — {n} finding{'s' if n != 1 else ''}")
        st.caption(text)
        for code, items in codes.items():
            worst = min(items, key=lambda f: data.SEVERITY_ORDER.get(f.severity, 3)).severity
            with st.expander(f"{SEVERITY_ICON.get(worst, '')} {code} — {len(items)} "
                             f"finding{'s' if len(items) != 1 else ''}"):
                if expl.get(code):
                    st.markdown(expl[code])
                for f in items:
                    finding_box(f, sel.units)
    other = {p: c for p, c in by_principle.items() if p not in PRINCIPLES}
    for p, codes in other.items():
        st.markdown(f"#### {p}")
        for code, items in codes.items():
            with st.expander(f"{code} — {len(items)}"):
                for f in items:
                    finding_box(f, sel.units)


def tab_compare(a, sel: Selection) -> None:
    catalog = data.zoo_catalog()
    names = [m["name"] for ms in catalog.values() for m in ms]
    default_a = a.model if a is not None and a.model in names else data.default_model(catalog)
    default_b = next((n for n in ("resnet50", "inception_v3", "vgg16") if n != default_a
                      and n in names), names[-1])
    c1, c2 = st.columns(2)
    ma = c1.selectbox("Model A", names, index=names.index(default_a), key="cmp_a",
                      **_kw(st.selectbox, persist_state="session"))
    mb = c2.selectbox("Model B", names, index=names.index(default_b), key="cmp_b",
                      **_kw(st.selectbox, persist_state="session"))
    st.caption("Each model is analysed at its card's input size, batch "
               f"{sel.batch}. {sel.units.name} = {sel.units.long}.")
    results = []
    for label, m in (("A", ma), ("B", mb)):
        card = data.card_of(m) or {}
        try:
            with st.spinner(f"Analysing {m} ..."):
                results.append(data.analysis(m, card.get("input_shape", (3, 224, 224)),
                                             sel.batch, sel.device))
        except Exception as e:  # noqa: BLE001
            _show_failure(f"Model {label} ({m})", e)
            results.append(None)
    ra, rb = results
    if ra is None or rb is None:
        return
    st.markdown("#### Totals")
    totals = data.totals_frame(ra, rb, sel.units)
    st.dataframe(totals, hide_index=True, width="stretch",
                 column_config=data.number_columns(totals))
    st.markdown("#### Per stage (grid-size index; S0 = input resolution)")
    stages = data.stage_frame(ra, rb, sel.units)
    st.dataframe(stages, hide_index=True, width="stretch",
                 column_config=data.number_columns(stages))
    from archlens.render import charts
    try:
        figs = charts.compare_figures(ra, rb)
    except Exception as e:  # noqa: BLE001
        _show_failure("Comparison charts", e)
        figs = {}
    for slug, fig in figs.items():
        st.plotly_chart(fig, key=f"cmp_{slug}", width="stretch")
    st.markdown("#### Findings diff (count per rule)")
    diff = data.findings_diff(ra, rb)
    if diff.empty:
        st.success("Neither model has findings.")
    else:
        st.dataframe(diff, hide_index=True, width="stretch",
                     column_config=data.number_columns(diff))


def tab_benchmarks(sel: Selection) -> None:
    from archlens.bench import results as bench_results
    st.caption("Latency of factorized vs full convolutions, from a results file written by "
               "`archlens bench factorization --out FILE.json` (archlens.bench/1).")
    c1, c2 = st.columns(2)
    up = c1.file_uploader("Upload a results JSON", type=["json"], key="bench_upload")
    path = c2.text_input("... or a path on the server", key="bench_path",
                         placeholder="bench.json")
    res = None
    try:
        if up is not None:
            try:
                doc = json.loads(up.getvalue().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise bench_results.BenchResultsError(
                    f"{up.name} is not JSON ({e}); upload a file written by 'archlens bench "
                    "factorization'") from None
            bench_results.validate(doc)
            res = doc
        elif path.strip():
            res = bench_results.load_results(path.strip())
    except Exception as e:  # noqa: BLE001
        _show_failure("Bench results", e)
        return
    if res is None:
        st.info("Load a results file to plot it.")
        return
    from archlens.render import bench as bench_render
    st.markdown(f"**{bench_render.device_label(res)}** — {len(res.get('cases', []))} cases")
    rows = []
    for c in res.get("cases", []):
        rows.append({"case": c.get("title", c.get("id")), "kind": c.get("kind"),
                     "batch": c.get("batch"), "grid": c.get("grid"),
                     "MAC ratio (fact./full)": c.get("mac_ratio"),
                     "latency ratio (fact./full)": c.get("latency_ratio"),
                     "full median (ms)": c["full"]["latency"]["median_s"] * 1e3,
                     "factorized median (ms)": c["factorized"]["latency"]["median_s"] * 1e3})
    st.dataframe(rows, hide_index=True, width="stretch")
    try:
        figs = bench_render.bench_figures(res)
    except Exception as e:  # noqa: BLE001
        _show_failure("Bench charts", e)
        return
    for slug, fig in figs.items():
        st.plotly_chart(fig, key=f"bench_{slug}", width="stretch")
    for note in res.get("notes", []):
        st.caption(str(note))


# ----------------------------------------------------------------------------- main

def main() -> None:
    st.set_page_config(page_title="archlens dashboard", page_icon="🔎", layout="wide")
    try:
        sel = sidebar(data.user_code_allowed())
    except Exception as e:  # noqa: BLE001 - e.g. the zoo failed to import
        _show_failure("Model zoo", e)
        return
    a = load_analysis(sel)
    tabs = st.tabs(list(TABS), key="tab",
                   **_kw(st.tabs, on_change="rerun", bind="query-params"))
    views = {"Overview": tab_overview, "Layers": tab_layers, "Graph": tab_graph,
             "Charts": tab_charts, "Principles": tab_principles}
    for label, tab in zip(TABS, tabs):
        if getattr(tab, "open", None) is False:  # lazy: only the open tab runs
            continue
        with tab:
            try:
                if label == "Compare":
                    tab_compare(a, sel)
                elif label == "Benchmarks":
                    tab_benchmarks(sel)
                elif a is None:
                    st.info("Fix the problem above to see this view.")
                else:
                    views[label](a, sel)
            except Exception as e:  # noqa: BLE001 - a view bug must not take the page down
                _show_failure(f"The {label} view", e)
                traceback.print_exc()


main()
