"""archlens dashboard: explore and compare CNN architectures in the browser.

Start it with ``archlens dashboard`` (or ``streamlit run apps/dashboard.py``). Everything shown
comes from archlens's public API: ``archlens.analyze`` for the numbers,
``archlens.effective_rf`` for the measured effective receptive field, the zoo cards, and the
renderers (graphviz SVG, plotly charts, RF overlay, bench figures). The page never computes a
metric.

Layout: the sidebar picks the model (zoo, grouped by family; or ``file.py:callable`` when the
server was started with ``--allow-user-code``), the input size, batch, aggregation depth,
units and trace device; the tabs show Overview, Layers, Graph, Charts, Receptive field,
Principles, Compare, Benchmarks, Profile (``_dashboard_profile.py``: measured latency) and
Sweep (``_dashboard_sweep.py``: a finished ``archlens sweep`` folder). One layer can be
selected (a graph node, a chart point, a table row, a finding's layer); the inspector beside the graph and the charts shows it.
Only the open tab runs; analyses are cached per (model, input, batch, device) and figures
once per analysis (``_dashboard_data``); the Graph, Layers and Charts views are fragments, so
selecting a layer there reruns only that view.

The whole view is in the URL: ``model``, ``input``, ``batch``, ``depth``, ``units``,
``device``, ``tab``, ``layer`` (the selected layer), ``cmp_a`` / ``cmp_b`` (Compare), e.g.
``?model=resnet50&input=3x224x224&depth=2&tab=Graph&layer=layer3.0.conv2``.
"""
from __future__ import annotations

import functools
import hashlib
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
from _dashboard_panzoom import clicked_node, graph_viewer  # noqa: E402

TABS = ("Overview", "Layers", "Graph", "Charts", "Receptive field", "Principles", "Compare",
        "Benchmarks", "Profile", "Sweep")
DEPTHS = ("all", 1, 2, 3, 4, 5)
MAX_BATCH = 4096
ALL_FAMILIES = "all families"
SMALLEST_DEFAULT = (3, 224, 224)
# Material icons ship with Streamlit (no emoji font needed, works offline).
SEVERITY_ICON = {"error": ":red[:material/error:]", "warning": ":orange[:material/warning:]",
                 "info": ":blue[:material/info:]"}
BENCH_BUNDLED = Path(__file__).resolve().parents[1] / "reports" / "bench" / \
    "factorization_cpu_float32.json"
BENCH_MAX_BYTES = 16 << 20  # uploads; a results file of the full CPU set is ~0.2 MB
GPU_BENCH_COMMAND = "archlens bench factorization --device cuda --out bench_cuda.json"

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


def md(text: object) -> str:
    """Model-supplied text inside Markdown (names, messages): nothing in it is interpreted."""
    from archlens.sanitize import for_markdown
    # Streamlit's Markdown also reads $...$ as LaTeX and :name: as an icon or emoji.
    return for_markdown(text).replace("$", "\\$").replace(":", "&#58;")


def code(text: object) -> str:
    """Model-supplied text as a Markdown code span (shown verbatim)."""
    from archlens.sanitize import for_markdown_code
    return for_markdown_code(text)


def _archlens_error():
    from archlens.errors import ArchlensError
    return ArchlensError


def _show_failure(what: str, e: BaseException) -> None:
    """A user mistake (ArchlensError) as one st.error line; anything else is a bug: one line
    in the page (the traceback goes to the server's log, not to the visitor)."""
    if isinstance(e, _archlens_error()):
        st.error(f"{what}: {md(e)}")
    else:
        st.error(f"{what} failed unexpectedly: this is a bug in archlens (the traceback is in "
                 f"the server's log; please report it): {md(type(e).__name__)}: {md(e)}")
        traceback.print_exception(e)


# ----------------------------------------------------------------------------- selection

def select_layer(name: str | None, tab: str | None = None) -> None:
    """Select a layer (callback for clicks, buttons and pickers); optionally open a tab (a
    callback inside a fragment then asks for a whole-page run: see ``_page_run_if_asked``)."""
    st.session_state["selected_layer"] = name
    if tab:
        if st.session_state.get("tab") != tab:
            st.session_state["_page_run"] = True
        st.session_state["tab"] = tab


def _page_run_if_asked() -> None:
    """At the top of a fragment: a callback that opened another tab needs the whole page to
    run (the tabs are outside the fragment); anything else reruns only the fragment."""
    if st.session_state.pop("_page_run", False):
        st.rerun(scope="app")


def selected_layer(a) -> str | None:
    name = st.session_state.get("selected_layer")
    return name if a is not None and name in a.graph else None


def _on_graph_node() -> None:
    name = clicked_node("graph_view")
    a = st.session_state.get("_analysis_for_click")
    if name and a is not None:
        select_layer(data.module_first_layer(a, name) or name)


def _on_pick(key: str) -> None:
    select_layer(st.session_state.get(key))


def _on_finding_pill(key: str) -> None:
    name = st.session_state.get(key)
    if name:
        select_layer(name, "Graph")
    st.session_state[key] = None


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
        self.error_what = "Input size"
        self.card: dict[str, Any] = {}


def parse_batch(text: str) -> int:
    """The batch field: a whole number from 1 to ``MAX_BATCH`` (one-line error otherwise)."""
    from archlens.errors import InputShapeError
    t = (text or "").strip()
    if not (t.isascii() and t.isdigit()) or not 1 <= int(t) <= MAX_BATCH:
        raise InputShapeError(f"expected a whole number from 1 to {MAX_BATCH}, got {t!r}")
    return int(t)


def _reset_input(text: str) -> None:
    st.session_state["input"] = text


def sidebar(allow_user_code: bool) -> Selection:
    sel = Selection()
    catalog = data.zoo_catalog()
    names = [m["name"] for ms in catalog.values() for m in ms]
    default = data.default_model(catalog)
    wanted = st.query_params.get("model")
    with st.sidebar:
        st.header("archlens")
        st.caption("CNN architecture analysis: parameters, MACs, receptive fields and the "
                   "Inception-v3 design principles.")
        if wanted and wanted not in names and not st.session_state.get("_model_warned"):
            st.session_state["_model_warned"] = True
            from archlens.errors import suggest
            close = suggest(wanted, names)
            st.warning(f"Unknown model {code(wanted)} in the URL"
                       + (f" (did you mean {', '.join(code(c) for c in close)}?)" if close
                          else "") + f"; showing {default}.")
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
            with st.expander(f"Card of {model} ({card.get('family')} family)"):
                st.markdown(f"**Paper.** {md(card.get('paper', ''))}")
                if card.get("published_params"):
                    st.markdown(f"**Published parameters:** {card['published_params']:,}")
                if card.get("published_macs"):
                    st.markdown(f"**Published MACs:** {card['published_macs']:,} "
                                f"(multiply-accumulates at "
                                f"{data.shape_text(card['input_shape'])})")
                if card.get("source"):
                    st.caption(f"Source: {md(card['source'])}")
                if card.get("notes"):
                    st.caption(md(card["notes"]))
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
        sel.card = card if not sel.is_user_code else {}

        # The input follows the model: a new model starts at its card's input size (a URL
        # that names an input keeps it on the first run).
        card_input = _card_input(sel)
        if st.session_state.get("_input_model") != sel.model:
            first = "_input_model" not in st.session_state
            if not (first and st.query_params.get("input")):
                st.session_state["input"] = card_input
            st.session_state["_input_model"] = sel.model
        text = st.text_input("Input size (C x H x W, without batch)", key="input",
                             help="e.g. 3x299x299; a new model starts at its card's size",
                             **_kw(st.text_input, bind="query-params"))
        try:
            from archlens.shapes import parse_shape
            sel.chw = parse_shape(text)
        except Exception as e:  # noqa: BLE001 - shown in the page
            sel.error = e
        # A text field and a selectbox, not st.number_input / st.select_slider: those two widget
        # types cost a new visitor's browser ~0.2 s of extra JavaScript (their chunks pull in
        # number and date formatting libraries; measured A/B, docs/dashboard.md "Speed")
        btext = st.text_input("Batch (N)", "1", key="batch", help=f"1 to {MAX_BATCH}",
                              **_kw(st.text_input, bind="query-params"))
        try:
            sel.batch = parse_batch(btext)
        except Exception as e:  # noqa: BLE001 - shown in the page
            if sel.error is None:
                sel.error, sel.error_what = e, "Batch"
        depth = st.selectbox("Aggregation depth", options=DEPTHS, key="depth",
                             help="'all': every layer; k: layers grouped by the first k "
                                  "components of their module path (table and graph)",
                             **_kw(st.selectbox, bind="query-params"))
        sel.depth = None if depth == "all" else int(depth)
        units = st.radio("Units", ("MACs", "FLOPs"), key="units", horizontal=True,
                         help="MACs = multiply-accumulates (what archlens stores); "
                              "FLOPs = 2 x MACs", **_kw(st.radio, bind="query-params"))
        sel.units = data.Units(units)
        sel.device = st.radio(
            "Trace on", data.DEVICES, key="device", horizontal=True,
            help="meta: shapes only, nothing allocated or computed, counted with "
                 "torch.utils.flop_counter (fast); cpu: real tensors, counted with fvcore. "
                 "Both give the same numbers on the zoo models.",
            **_kw(st.radio, bind="query-params"))
        st.caption(f"Numbers in {sel.units.long}; parameters are counts.")
    return sel


def _card_input(sel: Selection) -> str:
    shape = sel.card.get("input_shape") if sel.card else None
    return "x".join(str(d) for d in (shape or SMALLEST_DEFAULT))


def load_analysis(sel: Selection):
    """The cached analysis, or None after showing the error (and ways out) in the page."""
    if sel.error is not None:
        _show_failure(sel.error_what, sel.error)
        _recovery_buttons(sel, None)
        return None
    try:
        with st.spinner(f"Analysing {sel.model} at {data.shape_text(sel.chw)} ..."):
            return data.analysis(sel.model, sel.chw, sel.batch, sel.device)
    except Exception as e:  # noqa: BLE001 - every failure becomes a message in the page
        _show_failure(f"Cannot analyse {sel.model}", e)
        if isinstance(e, _archlens_error()):
            _recovery_buttons(sel, e)
        return None


def _recovery_buttons(sel: Selection, e: BaseException | None) -> None:
    """'use the smallest input (3x75x75)' when the engine found one, and 'reset to the card's
    input'."""
    smallest = getattr(e, "smallest", None) if e is not None else None
    channels = getattr(e, "expected_channels", None) if e is not None else None
    card = _card_input(sel)
    cols = st.columns(3)
    if channels and sel.chw and len(sel.chw) == 3:
        text = "x".join(str(d) for d in (channels, *sel.chw[1:]))
        cols[2].button(f"Use {channels} channels ({text})", key="use_channels",
                       on_click=_reset_input, args=(text,))
    if smallest:
        text = "x".join(str(d) for d in smallest)
        cols[0].button(f"Use the smallest input ({text})", key="use_smallest",
                       on_click=_reset_input, args=(text,))
    if st.session_state.get("input") != card:
        cols[1].button(f"Reset to the card's input ({card})" if sel.card else
                       f"Reset the input to {card}", key="reset_input",
                       on_click=_reset_input, args=(card,))


# ----------------------------------------------------------------------------- inspector

def inspector(a, u: data.Units, where: str) -> None:
    """The selected layer: shapes, geometry, cost, RF (with status), stage, findings."""
    names = [n.name for n in a.graph.layers]
    current = selected_layer(a)
    key = f"layer_pick_{where}"
    st.session_state[key] = current
    st.selectbox("Selected layer", names, index=None, key=key, placeholder="choose a layer",
                 on_change=_on_pick, args=(key,),
                 help="Or click a graph node, a chart point, a table row or a finding's layer")
    if not current:
        st.caption("Nothing selected: click a node of the graph, a point of a chart, a row of "
                   "the Layers table or a layer of a finding.")
        return
    layer_details(a, current, u, where)


def layer_details(a, name: str, u: data.Units, where: str) -> None:
    n = a.graph[name]
    st.markdown(f"##### {code(n.name)} — {md(n.type)}")
    st.markdown("**Shapes** (N x C x H x W)")
    lines = [f"- in {i}: `{data.shape_text(shp)}` from {code(src)}"
             for i, (src, shp) in enumerate(zip(n.inputs, n.in_shapes))]
    lines.append(f"- out: `{data.shape_text(n.out_shape)}`")
    geo = [(k, getattr(n, k)) for k in ("kernel", "stride", "padding", "dilation")]
    geo_txt = ", ".join(f"{k} {data.pair_text(v)}" for k, v in geo if v is not None)
    if n.groups:
        geo_txt += (", " if geo_txt else "") + f"groups {n.groups}"
    if geo_txt:
        lines.append(f"- {geo_txt}")
    st.markdown("\n".join(lines))
    st.markdown("**Cost**")
    st.markdown(f"- {u.name}: {u.of(n.macs):,}\n- parameters: {n.params:,}\n"
                f"- activations: {n.activations:,} elements\n"
                f"- stage: {('S' + str(n.stage)) if n.stage is not None else 'head (non-spatial)'}"
                + (f"\n- intensity: {n.intensity:.1f} MACs/byte" if n.intensity else ""))
    st.markdown("**Receptive field** (input pixels, H x W)")
    st.markdown(rf_lines(n))
    fs = data.findings_for(a, name)
    if fs:
        st.markdown(f"**Findings on this layer** ({len(fs)})")
        for i, f in enumerate(data.sorted_findings(fs)):
            finding_box(f, u, key=f"insp_{where}_{i}", current=name)
    else:
        st.caption("No findings on this layer.")


def rf_lines(n) -> str:
    r = n.rf
    if r is None:
        return "- n/a (not spatial)"
    status = getattr(r, "status", "exact") or "exact"
    if status != "exact":
        reason = getattr(r, "reason", "") or ""
        return (f"- status: **{md(status)}**" + (f" ({md(reason)})" if reason else "")
                + ("\n- the unit sees the whole input" if status == "global" else ""))
    return (f"- size: {data.pair_text(r.size)} px (smallest path "
            f"{data.pair_text(r.min_size)} px), status: exact\n- effective stride: "
            f"{data.pair_text(r.stride)} px\n- effective padding: "
            f"{data.pair_text(r.padding)} px\n- centre-aligned paths: "
            f"{'yes' if r.aligned else 'no'}")


def finding_box(f, u: data.Units, *, key: str, current: str | None = None) -> None:
    """One finding: rule, message, evidence, fix, saving, and its layers as links (clicking
    one selects it and opens the Graph tab, where it is outlined)."""
    icon = SEVERITY_ICON.get(f.severity, "")
    with st.container(border=True):
        body = f"{icon} **{md(f.code)}** — {md(f.message)}\n\n*Evidence:* {md(f.evidence)}"
        if f.fix:
            body += f"\n\n*Fix:* {md(f.fix)}"
        if f.saving:
            parts = []
            if f.saving.get("macs"):
                parts.append(f"{u.of(f.saving['macs']):,} {u.name}")
            if f.saving.get("params"):
                parts.append(f"{f.saving['params']:,} parameters")
            if parts:
                body += f"\n\n*Saving of the fix:* {', '.join(parts)}"
        st.markdown(body)
        layers = list(dict.fromkeys(f.layers))
        if layers:
            shown = layers[:12]
            st.pills(f"Layer{'s' if len(layers) != 1 else ''} ({len(layers)}) — click to "
                     "select and show in the graph", shown, key=key, format_func=code,
                     on_change=_on_finding_pill, args=(key,), selection_mode="single")
            if len(layers) > len(shown):
                st.caption(f"... and {len(layers) - len(shown)} more: " +
                           ", ".join(code(x) for x in layers[len(shown):len(shown) + 20]))


# ----------------------------------------------------------------------------- tabs

def tab_overview(a, sel: Selection) -> None:
    u = sel.units
    t = a.totals
    card = sel.card
    st.subheader(f"{md(a.model)} — input {data.shape_text(a.input_shape)} (N x C x H x W), "
                 f"{a.dtype}")
    if card.get("description"):
        st.caption(md(card["description"]))
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
                f"{rf.size[0]} x {rf.size[1]}" if rf and rf.status == "exact"
                else ("global" if rf and rf.status == "global" else "unknown" if rf else "n/a"),
                help=(f"At the last spatial layer: effective stride {data.pair_text(rf.stride)}"
                      f" px, padding {data.pair_text(rf.padding)} px" if rf and rf.status == "exact"
                      else (f"{rf.status}: {rf.reason}" if rf else None)), border=True)
    c[3].metric("Layers", f"{len(a.graph.layers)}",
                help="Executed leaf modules and functional ops", border=True)
    unused = getattr(t, "unused_params", 0)
    if unused:
        st.info(f"{unused:,} parameters belong to modules that did not run in this forward "
                "pass (e.g. an auxiliary classifier in eval mode): counted in the total, in "
                "no layer of the table.")
    if a.unsupported_ops:
        ops = ", ".join(f"{md(op)} x{k}" for op, k in sorted(a.unsupported_ops.items()))
        bound = data.not_counted_bound(a)
        size = (f" At most {bound[0]:,} multiply-accumulate-sized operations (one per window "
                f"element of every output element), i.e. at most {bound[1]:.2f} % of the "
                f"counted MACs." if bound else " Their size is not known.")
        st.info(f"Not counted (no MAC formula for these ops): {ops}.{size}")

    st.markdown("#### Findings")
    fs = data.sorted_findings(a.findings)
    if not fs:
        st.success("No design-principle findings.")
        return
    counts = {s: sum(f.severity == s for f in fs) for s in ("error", "warning", "info")}
    st.markdown(" · ".join(f"{SEVERITY_ICON[s]} {n} {s}{'s' if n != 1 else ''}"
                           for s, n in counts.items() if n)
                + " — the Principles tab explains each rule and links every finding to its "
                  "layers.")
    # A plain HTML table, not st.dataframe: the data grid's code (glide-data-grid + Arrow,
    # 1.2 MB of JavaScript) was most of the first page's browser work, and the page waited for
    # it before showing anything (docs/dashboard.md "Speed"). Every cell is escaped text.
    st.html(data.findings_html(fs))


def _vs_published(diff, published: str) -> str:
    if diff == 0 or diff == "+0.00%":
        return f"= published {published}"
    return f"{diff:+,} vs published {published}" if isinstance(diff, int) else (
        f"{diff} vs published {published}")


def _on_table_select() -> None:
    state = st.session_state.get(st.session_state.get("_layer_table_key", ""))
    rows = getattr(getattr(state, "selection", None), "rows", None)
    if rows is None and isinstance(state, dict):
        rows = (state.get("selection") or {}).get("rows")
    shown = st.session_state.get("_layer_table_rows", [])
    if rows and rows[0] < len(shown):
        select_layer(shown[rows[0]])


@st.fragment
def tab_layers(a, sel: Selection) -> None:
    """A fragment: a row click, a filter or the picker reruns only the table and the side
    panel, not the sidebar and the tabs."""
    _page_run_if_asked()
    u = sel.units
    if sel.depth is None:
        df = data.layers_frame(a, u)
        name_col = "layer"
    else:
        df = data.aggregated_frame(a, u, sel.depth)
        name_col = "module"
    persist = _kw(st.text_input, persist_state="session")
    f1, f2, f3, f4 = st.columns([3, 2, 2, 1])
    text = f1.text_input("Filter by name", key="layer_filter", placeholder="e.g. Mixed_6",
                         **persist)
    types_col = "type" if "type" in df else None
    types = f2.multiselect("Type", sorted(df[types_col].unique()) if types_col else [],
                           key="layer_types", disabled=types_col is None,
                           **_kw(st.multiselect, persist_state="session"))
    stage_opts = sorted({s for s in (df["_stages"].explode().dropna() if "_stages" in df
                                     else df["stage"]) if str(s) != "head"}, key=int) + (
        ["head"] if (df["stage"] == "head").any() else [])
    stages = f3.multiselect("Stage", [str(s) for s in stage_opts], key="layer_stages",
                            help="grid-size index: 0 = input resolution, +1 per halving; "
                                 "head = non-spatial", **_kw(st.multiselect,
                                                             persist_state="session"))
    only = f4.checkbox("With findings", key="layer_only_findings",
                       **_kw(st.checkbox, persist_state="session"))
    view = df
    if text:
        view = view[view[name_col].str.contains(text, case=False, regex=False)]
    if types and types_col:
        view = view[view[types_col].isin(types)]
    if stages:
        if "_stages" in view:
            want = {int(s) for s in stages if s != "head"}
            view = view[view["_stages"].apply(lambda ss: bool(want & set(ss)))
                        | (("head" in stages) & (view["stage"] == "head"))]
        else:
            view = view[view["stage"].isin(stages)]
    if only:
        view = view[view["findings"] != ""]
    current = selected_layer(a)
    if sel.depth is None:
        shown = list(view["layer"])
        sel_row = shown.index(current) if current in shown else None
    else:
        shown = list(view["_first"])
        picked = next((m for m, first in zip(view["module"], view["_first"])
                       if current and (current == first or current.startswith(m + "."))), None)
        sel_row = list(view["module"]).index(picked) if picked else None
    st.session_state["_layer_table_rows"] = shown
    st.caption(f"{len(view)} of {len(df)} {'layers' if sel.depth is None else 'modules'}; "
               f"click a column header to sort, a row to select it. {u.name} = {u.long}; "
               "RF = receptive field (px, largest path).")
    top = float(view["ops %"].max()) if len(view) else 0.0
    wide = sel.depth is None
    cfg = {name_col: st.column_config.TextColumn(name_col, width=300 if wide else 210,
                                                 pinned=True),
           "type": st.column_config.TextColumn("type", width=90),
           "stage": st.column_config.TextColumn("stage", width=50,
                                                help="grid-size index (0 = input resolution)"),
           "RF": st.column_config.TextColumn("RF", width=75,
                                             help="receptive field, px (largest path)"),
           "findings": st.column_config.TextColumn("findings", width=85),
           "out shape": st.column_config.TextColumn("out shape", width=120),
           "kernel / stride": st.column_config.TextColumn("k / s", width=65,
                                                          help="kernel, /stride if not 1"),
           "ops": st.column_config.NumberColumn(u.name, format="localized", width=105),
           "ops %": st.column_config.ProgressColumn(
               f"% of {u.name}", format="%.2f %%", min_value=0.0, max_value=max(top, 1e-9),
               width=105, help=f"bars scaled to the largest shown ({top:.2f} %)"),
           "params": st.column_config.NumberColumn("params", format="localized", width=95),
           "activations": st.column_config.NumberColumn("activations", format="localized",
                                                        width=100),
           "groups": st.column_config.NumberColumn("groups", width=60),
           "layers": st.column_config.NumberColumn("layers", width=55),
           "types": st.column_config.TextColumn("types", width=150)}
    first = [name_col, "layers", "type", "stage", "RF", "findings", "out shape",
             "kernel / stride", "ops", "ops %", "params", "activations", "types", "groups"]
    order = [c for c in first if c in view.columns]
    # the table is re-created (new key) when the selection changes elsewhere, so the ticked
    # row always is the selected layer
    tkey = f"layer_table_{sel_row if sel_row is not None else 'none'}_{sel.depth}"
    st.session_state["_layer_table_key"] = tkey
    st.dataframe(view, hide_index=True, width="stretch", height=460, column_config=cfg,
                 column_order=order, key=tkey,
                 **_kw(st.dataframe, on_select=_on_table_select, selection_mode="single-row",
                       selection_default={"selection": {"rows": [sel_row]}}
                       if sel_row is not None else None))
    inspector(a, u, "layers")
    _write_layer_url(a)


def tab_graph(a, sel: Selection) -> None:
    try:
        with st.spinner("Laying out the graph (graphviz dot) ..."):
            svg, notes, drawn = data.graph_svg(data.analysis_key(a), sel.depth, a)
    except Exception as e:  # noqa: BLE001
        _show_failure("Graph", e)
        return
    st.session_state["_analysis_for_click"] = a
    _graph_and_inspector(a, sel, svg, notes, drawn)


@st.fragment
def _graph_and_inspector(a, sel: Selection, svg: str, notes, drawn) -> None:
    """A fragment: a click on a node reruns only the graph and the side panel (not the
    sidebar, the analysis lookup and the tabs), so selecting a layer is one small run."""
    _page_run_if_asked()
    layer = selected_layer(a)
    left, right = st.columns([7, 3])
    with left:
        st.caption(f"Depth drawn: {drawn if drawn is not None else 'all layers'}. Fill = "
                   "share of the network's MACs; outline = findings; magenta = the selected "
                   "layer. Click a node to inspect it; wheel zooms, drag pans, double-click "
                   "fits." + (" " + _merged_note(notes) if notes else ""))
        graph_viewer(svg, key="graph_view", highlight=layer, on_node=_on_graph_node)
        st.download_button("Download SVG", svg, file_name=f"{_safe(a.model)}.svg",
                           mime="image/svg+xml", on_click="ignore")
    with right:
        inspector(a, sel.units, "graph")
    _write_layer_url(a)


def _merged_note(notes) -> str:
    """The renderer's remarks as one line: the folded blocks merged into one sentence."""
    folds = [n.split(":", 1)[1].strip() for n in notes if n.startswith("identical blocks folded")]
    rest = [n for n in notes if not n.startswith("identical blocks folded")]
    parts = [md(n) for n in rest]
    if folds:
        parts.append("Identical blocks folded: " + "; ".join(md(f) for f in folds))
    return " ".join(p.rstrip(".") + "." for p in parts)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "model"


def _on_chart_select(key: str) -> None:
    state = st.session_state.get(key)
    sel = getattr(state, "selection", None) or (state or {}).get("selection") or {}
    points = sel.get("points") if isinstance(sel, dict) else getattr(sel, "points", None)
    a = st.session_state.get("_analysis_for_click")
    if not points or a is None:
        return
    x = points[0].get("x")
    layers = a.graph.layers
    if isinstance(x, (int, float)) and 0 <= int(x) < len(layers):
        select_layer(layers[int(x)].name)


@st.fragment
def tab_charts(a, sel: Selection) -> None:
    """A fragment: a click on a chart reruns only the charts (cached figures, the marker
    moved) and the side panel."""
    _page_run_if_asked()
    from archlens.render import charts
    layer = selected_layer(a)
    x = next((i for i, n in enumerate(a.graph.layers) if n.name == layer), None)
    st.session_state["_analysis_for_click"] = a
    left, right = st.columns([7, 3])
    with left:
        st.caption("Click a bar or point to select its layer. " + (
            "Charts are drawn in MACs (multiply-accumulates); FLOPs = 2 x MACs. "
            if sel.units.name == "FLOPs" else "")
            + (f"The selected layer (x = {x}) is marked." if layer else ""))
        key_a = data.analysis_key(a)
        for slug, (title, _fn) in charts.CHARTS.items():
            try:
                fig = data.chart_spec(key_a, slug, a)  # built once per analysis
            except Exception as e:  # noqa: BLE001
                _show_failure(title, e)
                continue
            along_depth = slug != "compute_share"
            if x is not None and along_depth:
                fig = data.with_marker(fig, x)
            key = f"chart_{slug}"
            fig = data.figure(fig)
            if along_depth:
                st.plotly_chart(fig, key=key, width="stretch", selection_mode="points",
                                on_select=functools.partial(_on_chart_select, key))
            else:
                st.plotly_chart(fig, key=key, width="stretch")
    with right:
        inspector(a, sel.units, "charts")
    _write_layer_url(a)


def tab_rf(a, sel: Selection) -> None:
    """The selected unit's receptive field on an image: largest and smallest path windows, the
    effective-stride grid, and (on request) the measured effective receptive field."""
    layer = selected_layer(a)
    # layers with a window to draw: exact fields (global / unknown ones have none)
    spatial = [n.name for n in a.graph.layers
               if n.is_spatial and n.rf is not None and n.rf.status == "exact"]
    if not spatial:
        st.info("No layer of this model has a spatial output: there is no receptive field "
                "to draw.")
        return
    if layer not in spatial:
        st.caption("The selected layer has no spatial receptive field; showing the last "
                   "spatial layer (pick another below)." if layer else
                   "No layer selected; showing the last spatial layer (pick another below).")
        frf = a.feature_rf
        layer = frf.node if frf is not None and frf.node in spatial else spatial[-1]
    n = a.graph[layer]
    c1, c2 = st.columns([2, 1])
    key = "layer_pick_rf"
    st.session_state[key] = layer
    c1.selectbox("Layer", spatial, index=None, key=key, on_change=_on_pick, args=(key,))
    up = c2.file_uploader("Image (resized to the input)", type=["png", "jpg", "jpeg"],
                          key="rf_image")
    h, w = a.input_shape[2], a.input_shape[3]
    token, image_fn = "pattern", functools.partial(data.sample_image, h, w)
    source = f"generated test pattern ({h}x{w} px, grid every 32 px)"
    if up is not None:
        raw = up.getvalue()
        try:
            image = _read_image(raw, h, w)
            token = "upload:" + hashlib.sha256(raw).hexdigest()
            image_fn = functools.partial(lambda im: im, image)
            source = f"{md(up.name)} resized to {h}x{w} px"
        except Exception as e:  # noqa: BLE001 - a broken upload is the user's file
            st.error(f"Cannot read the image {md(up.name)}: {md(type(e).__name__)}: "
                     f"{md(e)}; upload a PNG or JPEG")
    oh, ow = n.out_shape[2], n.out_shape[3]
    unit = ((oh - 1) // 2, (ow - 1) // 2)
    status = getattr(n.rf, "status", "exact") or "exact"
    if status != "exact":
        st.warning(f"The receptive field of {code(layer)} is {md(status)}: no window to draw.")
        return
    measure = st.toggle("Measure the effective receptive field (builds the model with real "
                        "weights and back-propagates on CPU in float64; seconds for big "
                        "models)", key="rf_measure")
    erf = None
    if measure:
        try:
            with st.spinner(f"Measuring the ERF of {layer} ..."):
                erf = data.effective_rf(data.analysis_key(a), layer, unit, 2, a)
        except Exception as e:  # noqa: BLE001
            _show_failure("Effective receptive field", e)
    r = n.rf
    st.markdown(
        f"Unit {unit} (centre) of {code(layer)}, output {oh}x{ow}: theoretical window "
        f"**{data.pair_text(r.size)} px** (largest path; smallest path "
        f"{data.pair_text(r.min_size)} px), effective stride {data.pair_text(r.stride)} px"
        + (f"; **effective RF radius {erf.radius[0]:.1f} x {erf.radius[1]:.1f} px** (2 sigma "
           f"of the gradient energy; sigma {erf.sigma[0]:.1f} x {erf.sigma[1]:.1f} px; "
           f"{2 * erf.radius[0] / max(r.size[0], 1):.0%} of the theoretical height), "
           f"non-zero gradient over {erf.support[0]}x{erf.support[1]} px"
           if erf is not None else "") + f". Image: {source}.")
    fig = data.rf_overlay_spec(data.analysis_key(a), layer, unit, token,
                               erf.samples if erf is not None else None, r, image_fn, erf,
                               (oh, ow))
    st.plotly_chart(data.figure(fig), key="rf_overlay", width="stretch")
    if erf is not None:
        st.caption(f"ERF: gradient energy of the centre unit w.r.t. the input at "
                   f"initialisation, {erf.samples} random inputs (Luo et al., NeurIPS 2016: "
                   "Gaussian-like, a fraction of the theoretical window, radius ~ sqrt(depth)).")


def _read_image(raw: bytes, h: int, w: int):
    """An uploaded PNG/JPEG as an H x W x 3 array (resized to the input)."""
    import io

    from PIL import Image

    from archlens.render import erf as erf_render
    with Image.open(io.BytesIO(raw)) as im:
        return erf_render.fit_image(im, h, w)


def _rule_explanations() -> dict[str, str]:
    """Per rule code, the checks registry's title and the rule's own docstring."""
    try:
        from archlens.checks import RULES
    except Exception:  # noqa: BLE001 - the page still lists the findings
        return {}
    out = {}
    for code_, rule in RULES.items():
        doc = inspect.getdoc(getattr(rule, "func", None)) or ""
        title = getattr(rule, "title", "")
        out[str(code_)] = (f"**{title}.** " if title else "") + doc
    return out


def tab_principles(a, sel: Selection) -> None:
    fs = data.sorted_findings(a.findings)
    expl = _rule_explanations()
    by_principle: dict[str, dict[str, list]] = {}
    for f in fs:
        by_principle.setdefault(f.principle, {}).setdefault(f.code, []).append(f)
    st.caption("Each finding names its layers: click one to select it and see it outlined in "
               "the Graph tab.")
    k = 0
    for p, (title, text) in PRINCIPLES.items():
        codes = by_principle.get(p, {})
        n = sum(len(v) for v in codes.values())
        st.markdown(f"#### {p}. {title} — {n} finding{'s' if n != 1 else ''}")
        st.caption(text)
        for code_, items in codes.items():
            worst = min(items, key=lambda f: data.SEVERITY_ORDER.get(f.severity, 3)).severity
            with st.expander(f"{SEVERITY_ICON.get(worst, '')} {md(code_)} — {len(items)} "
                             f"finding{'s' if len(items) != 1 else ''}",
                             expanded=len(fs) <= 6):
                if expl.get(code_):
                    st.markdown(expl[code_])
                for f in items:
                    finding_box(f, sel.units, key=f"finding_{k}")
                    k += 1
    other = {p: c for p, c in by_principle.items() if p not in PRINCIPLES}
    for p, codes in other.items():
        st.markdown(f"#### {md(p)}")
        for code_, items in codes.items():
            with st.expander(f"{md(code_)} — {len(items)}"):
                for f in items:
                    finding_box(f, sel.units, key=f"finding_{k}")
                    k += 1


def tab_compare(a, sel: Selection) -> None:
    catalog = data.zoo_catalog()
    names = [m["name"] for ms in catalog.values() for m in ms]
    default_a = a.model if a is not None and a.model in names else data.default_model(catalog)
    default_b = next((n for n in ("resnet50", "inception_v3", "vgg16") if n != default_a
                      and n in names), names[-1])
    c1, c2 = st.columns(2)
    ma = c1.selectbox("Model A", names, index=names.index(default_a), key="cmp_a",
                      **_kw(st.selectbox, bind="query-params", persist_state="session"))
    mb = c2.selectbox("Model B", names, index=names.index(default_b), key="cmp_b",
                      **_kw(st.selectbox, bind="query-params", persist_state="session"))
    st.caption("Each model is analysed at its card's input size, batch "
               f"{sel.batch}. {sel.units.name} = {sel.units.long}.")
    results = []
    for label, m in (("A", ma), ("B", mb)):
        card = data.card_of(m) or {}
        try:
            with st.spinner(f"Analysing {m} ..."):
                results.append(data.analysis(m, card.get("input_shape", SMALLEST_DEFAULT),
                                             sel.batch, sel.device))
        except Exception as e:  # noqa: BLE001
            _show_failure(f"Model {label} ({m})", e)
            results.append(None)
    ra, rb = results
    if ra is None or rb is None:
        return
    key_a, key_b = data.analysis_key(ra), data.analysis_key(rb)
    try:
        d = data.architecture_diff(key_a, key_b, ra, rb)
    except Exception as e:  # noqa: BLE001
        _show_failure("Architecture diff", e)
        return
    u = sel.units
    st.markdown(f"#### {md(d.headline or f'{ra.model} vs {rb.model}')}")
    for note in d.notes:
        st.caption(md(note))
    counts = (f"{len(d.by_status('changed'))} changed, {len(d.by_status('added'))} added, "
              f"{len(d.by_status('removed'))} removed, {d.same} the same "
              f"(of {d.units_a} / {d.units_b} layer units: an op with its BN/activation)")
    st.caption(counts)
    st.dataframe(data.diff_totals_frame(d, u), hide_index=True, width="stretch",
                 column_config=data.number_columns(data.diff_totals_frame(d, u)))
    st.markdown("#### Module diff")
    if d.changes:
        changes = data.changes_frame(d, u)
        st.dataframe(changes, hide_index=True, width="stretch", height=300,
                     column_config={"unit": st.column_config.TextColumn("unit", width=260,
                                                                        pinned=True),
                                    **data.number_columns(changes)})
    else:
        st.success("No layer unit differs.")
    st.markdown("#### Per stage (aligned by stage index; S0 = input resolution)")
    stages = data.diff_stages_frame(d, u)
    st.dataframe(stages, hide_index=True, width="stretch",
                 column_config=data.number_columns(stages))
    try:
        st.plotly_chart(data.figure(data.stage_deltas_spec(key_a, key_b, d)),
                        key="cmp_stage_deltas", width="stretch")
    except Exception as e:  # noqa: BLE001
        _show_failure("Per-stage chart", e)
    st.markdown("#### Side by side (changes outlined in dashed orange)")
    g1, g2 = st.columns(2)
    for col, an, side in ((g1, ra, "a"), (g2, rb, "b")):
        with col:
            try:
                svg, _notes, drawn = data.graph_svg(data.analysis_key(an), sel.depth, an)
            except Exception as e:  # noqa: BLE001
                _show_failure(f"Graph of {an.model}", e)
                continue
            marks = [c.name for c in d.changes
                     if (side == "a" and c.status != "added")
                     or (side == "b" and c.status != "removed")]
            st.caption(f"{'A' if side == 'a' else 'B'}: {md(an.model)} (depth "
                       f"{drawn if drawn is not None else 'all'})")
            graph_viewer(svg, key=f"cmp_graph_{side}", marks=marks, max_height=700)
    st.markdown("#### Findings")
    diff = data.findings_diff(ra, rb)
    if diff.empty:
        st.success("Neither model has findings.")
    else:
        st.dataframe(diff, hide_index=True, width="stretch",
                     column_config=data.number_columns(diff))


def _load_bundled() -> None:
    st.session_state["bench_path"] = str(BENCH_BUNDLED)


def _parse_bench(raw: bytes, name: str) -> dict:
    """An uploaded results file (Streamlit bounds its size: ``--server.maxUploadSize``)."""
    from archlens.bench import results as bench_results
    if len(raw) > BENCH_MAX_BYTES:
        raise bench_results.BenchResultsError(
            f"{name} is larger than the {BENCH_MAX_BYTES:,}-byte limit for a results file")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise bench_results.BenchResultsError(
            f"{name} is not UTF-8 text (byte {e.start}); give a file written by 'archlens "
            "bench factorization'") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise bench_results.BenchResultsError(
            f"{name} is not JSON ({type(e).__name__}); give a file written by 'archlens "
            "bench factorization'") from None
    try:
        bench_results.validate(doc)
    except bench_results.BenchResultsError as e:
        raise bench_results.BenchResultsError(f"{name}: {e}") from None
    return doc


def tab_benchmarks(sel: Selection) -> None:
    st.caption("Measured latency of factorized vs full convolutions, from a results file "
               "written by `archlens bench factorization --out FILE.json` (archlens.bench/1).")
    c1, c2 = st.columns(2)
    up = c1.file_uploader("Upload a results JSON", type=["json"], key="bench_upload")
    path = c2.text_input("... or a path on the server", key="bench_path",
                         placeholder="bench.json")
    res = None
    try:
        if up is not None:
            res = _parse_bench(up.getvalue(), up.name)
        elif path.strip():
            from archlens.bench import results as bench_results
            res = bench_results.load_results(path.strip())  # bounded, regular files only
    except Exception as e:  # noqa: BLE001
        _show_failure("Bench results", e)
        return
    if res is None:
        if BENCH_BUNDLED.is_file():
            st.button("Load the bundled CPU results (reports/bench, 2-core VM)",
                      key="bench_bundled", on_click=_load_bundled, type="primary")
        st.info("No GPU results are bundled: none have been measured yet. On a machine with "
                f"CUDA, run `{GPU_BENCH_COMMAND}` and load the file here.")
        return
    from archlens.render import bench as bench_render
    cases = res.get("cases", [])
    st.markdown(f"**{md(bench_render.device_label(res))}** — {len(cases)} cases")
    kinds = sorted({str(c.get("kind")) for c in cases})
    f1, f2 = st.columns([2, 1])
    pick = f1.multiselect("Kinds", kinds, key="bench_kinds", placeholder="all kinds")
    top = f2.number_input("Cases in the bar charts (largest MAC saving first)", 1,
                          max(1, len(cases)), min(12, max(1, len(cases))), key="bench_top")
    shown = [c for c in cases if not pick or str(c.get("kind")) in pick]
    rows = []
    for c in shown:
        rows.append({"case": c.get("title", c.get("id")), "kind": c.get("kind"),
                     "batch": c.get("batch"), "grid": c.get("grid"),
                     "MAC ratio (fact./full)": c.get("mac_ratio"),
                     "latency ratio (fact./full)": c.get("latency_ratio"),
                     "full median (ms)": c["full"]["latency"]["median_s"] * 1e3,
                     "factorized median (ms)": c["factorized"]["latency"]["median_s"] * 1e3})
    st.dataframe(rows, hide_index=True, width="stretch", height=260)
    ranked = sorted(shown, key=lambda c: -(c.get("mac_saving") or 0.0))[:int(top)]
    try:
        figs = bench_render.bench_figures(dict(res, cases=shown))
        bars = bench_render.bench_figures(dict(res, cases=ranked))
    except Exception as e:  # noqa: BLE001
        _show_failure("Bench charts", e)
        return
    for slug, fig in figs.items():
        if slug != "ratio":
            fig = bars[slug]
            fig.update_layout(title_text=f"{fig.layout.title.text or slug} — top {len(ranked)} "
                                         "by MAC saving")
        fig.update_layout(margin=dict(l=90, t=70))
        st.plotly_chart(fig, key=f"bench_{slug}", width="stretch")
    for note in res.get("notes", []):
        st.caption(md(note))


# ----------------------------------------------------------------------------- main

def _sync_layer_url(a) -> None:
    """The selected layer in the URL (``?layer=NAME``): read once per session, then kept."""
    if "_layer_from_url" not in st.session_state:
        st.session_state["_layer_from_url"] = True
        wanted = st.query_params.get("layer")
        if wanted and "selected_layer" not in st.session_state:
            st.session_state["selected_layer"] = wanted
            if a is not None and wanted not in a.graph:
                st.warning(f"Layer {code(wanted)} from the URL is not in {md(a.model)}; "
                           "nothing selected.")


def _write_layer_url(a) -> None:
    layer = selected_layer(a)
    if layer:
        if st.query_params.get("layer") != layer:
            st.query_params["layer"] = layer
    elif a is not None and "layer" in st.query_params:
        del st.query_params["layer"]


def main() -> None:
    st.set_page_config(page_title="archlens dashboard", page_icon="🔎", layout="wide")
    # less empty space above the tabs, so the graph viewer fits a 900 px window
    st.html("<style>[data-testid='stMainBlockContainer']{padding-top:2.2rem}</style>")
    try:
        sel = sidebar(data.user_code_allowed())
    except Exception as e:  # noqa: BLE001 - e.g. the zoo failed to import
        _show_failure("Model zoo", e)
        return
    st.session_state.pop("_page_run", None)  # this is the whole-page run a fragment asked for
    a = load_analysis(sel)
    _sync_layer_url(a)
    tabs = st.tabs(list(TABS), key="tab",
                   **_kw(st.tabs, on_change="rerun", bind="query-params"))
    views = {"Overview": tab_overview, "Layers": tab_layers, "Graph": tab_graph,
             "Charts": tab_charts, "Receptive field": tab_rf, "Principles": tab_principles}
    for label, tab in zip(TABS, tabs):
        if getattr(tab, "open", None) is False:  # lazy: only the open tab runs
            continue
        with tab:
            try:
                if label == "Compare":
                    tab_compare(a, sel)
                elif label == "Benchmarks":
                    tab_benchmarks(sel)
                elif label == "Sweep":  # reads a finished sweep folder: no model needed
                    from _dashboard_sweep import tab_sweep
                    tab_sweep()
                elif a is None:
                    st.info("Fix the problem above to see this view.")
                elif label == "Profile":
                    from _dashboard_profile import tab_profile
                    tab_profile(a, sel)
                else:
                    views[label](a, sel)
            except Exception as e:  # noqa: BLE001 - a view bug must not take the page down
                _show_failure(f"The {label} view", e)
    _write_layer_url(a)


main()
