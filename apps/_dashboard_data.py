"""Data for the dashboard: cached analyses and presentation tables.

Every number comes from archlens's public API (``archlens.analyze``, the zoo cards, the
renderers); this module only caches results and lays them out as dataframes. No metric is
computed here: sums over a group of layers (the aggregation-depth table) are a presentation
of the per-layer numbers the analysis carries.

Caching: an :class:`~archlens.analysis.Analysis` is a frozen dataclass of tuples and
``MappingProxyType`` attributes (not picklable, and never mutated), so analyses live in
``st.cache_resource`` (one shared object, no copy per hit); derived text (the SVG) uses
``st.cache_data``.
"""
from __future__ import annotations

import os
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

ALLOW_USER_CODE_ENV = "ARCHLENS_DASHBOARD_ALLOW_USER_CODE"
MAX_CACHED_ANALYSES = 48


def user_code_allowed(argv: list[str] | None = None) -> bool:
    """``archlens dashboard --allow-user-code`` passes ``--allow-user-code`` after ``--`` and
    sets the environment variable; either enables ``file.py:callable`` references."""
    argv = sys.argv[1:] if argv is None else argv
    return "--allow-user-code" in argv or os.environ.get(ALLOW_USER_CODE_ENV, "") in (
        "1", "true", "yes")


# ----------------------------------------------------------------------------- units

@dataclass(frozen=True)
class Units:
    """MACs (multiply-accumulates, stored) or FLOPs (= 2 x MACs, shown on request)."""

    name: str  # "MACs" | "FLOPs"

    @property
    def factor(self) -> int:
        return 2 if self.name == "FLOPs" else 1

    @property
    def long(self) -> str:
        return ("FLOPs (2 x multiply-accumulates)" if self.name == "FLOPs"
                else "MACs (multiply-accumulates)")

    def of(self, macs: int) -> int:
        return int(macs) * self.factor


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``24.7 M params``-style text: SI prefix, ``digits`` significant figures."""
    v = float(value)
    for bound, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= bound:
            return f"{v / bound:.{digits}g} {prefix}{unit}".rstrip()
    return f"{v:.{digits}g} {unit}".rstrip() if v != int(v) else f"{int(v)} {unit}".rstrip()


def nbytes(value: float) -> str:
    v = float(value)
    for bound, prefix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if v >= bound:
            return f"{v / bound:.3g} {prefix}"
    return f"{int(v)} B"


def shape_text(shape: Any) -> str:
    return " x ".join(str(d) for d in shape) if shape else ""


def pair_text(p: Any) -> str:
    if p is None:
        return ""
    return f"{p[0]}x{p[1]}" if len(p) == 2 else "x".join(str(v) for v in p)


# ----------------------------------------------------------------------------- zoo

@st.cache_data(show_spinner=False)
def zoo_catalog() -> "OrderedDict[str, list[dict[str, Any]]]":
    """Family -> [{name, description, input_shape, paper, published_params, ...}]."""
    from archlens import zoo
    out: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for name in zoo.list_models():
        c = zoo.card(name)
        out.setdefault(c.family, []).append({
            "name": c.name, "family": c.family, "description": c.description,
            "input_shape": tuple(c.input_shape), "paper": str(c.paper),
            "published_params": c.published_params, "published_macs": c.published_macs,
            "source": c.source, "notes": c.notes})
    return out


def card_of(name: str) -> dict[str, Any] | None:
    for models in zoo_catalog().values():
        for m in models:
            if m["name"] == name:
                return m
    return None


def default_model(catalog: "OrderedDict[str, list[dict[str, Any]]]") -> str:
    names = [m["name"] for ms in catalog.values() for m in ms]
    for pref in ("inception_v3", "resnet50"):
        if pref in names:
            return pref
    return names[0]


# ----------------------------------------------------------------------------- analyses

def _reference_version(model: str) -> float | None:
    """For ``file.py:callable`` the file's mtime, so an edited file is analysed again."""
    path = model.rsplit(":", 1)[0] if ":" in model else ""
    if path.endswith(".py"):
        try:
            return Path(path).stat().st_mtime
        except OSError:
            return None
    return None


@st.cache_resource(show_spinner=False, max_entries=MAX_CACHED_ANALYSES)
def _analysis_cached(model: str, chw: tuple[int, ...], batch: int, device: str,
                     version: float | None):
    import archlens
    del version  # part of the cache key only
    return archlens.analyze(model, chw, batch=batch, device=device, checks=True)


DEVICES = ("meta", "cpu")


def analysis(model: str, chw: tuple[int, ...], batch: int = 1, device: str = "meta"):
    """The analysis of ``model`` at input ``chw`` and ``batch``, cached per (model, input,
    batch, device, file version). Raises :class:`archlens.errors.ArchlensError` for user
    mistakes (failures are not cached, so fixing the input re-runs).

    ``device="meta"`` (the dashboard's default) traces without allocating or computing
    anything and counts with ``torch.utils.flop_counter``: several times faster than real
    tensors, with the same numbers on the zoo models."""
    return _analysis_cached(model, tuple(int(d) for d in chw), int(batch), device,
                            _reference_version(model))


def warm_default() -> str:
    """Analyse the page's default model at its card's input (what the first visitor sees);
    called by ``archlens dashboard`` before the server starts. Returns the model name."""
    catalog = zoo_catalog()
    name = default_model(catalog)
    analysis(name, card_of(name)["input_shape"], 1, DEVICES[0])
    return name


def analysis_key(a) -> tuple:
    """What identifies an analysis for derived caches (an edited user file changes totals)."""
    return (a.model, tuple(a.input_shape), a.dtype, a.device, len(a.graph),
            tuple(sorted(a.totals.to_dict().items())))


@st.cache_resource(show_spinner=False, max_entries=16)
def effective_rf(key: tuple, layer: str, unit: tuple[int, int], samples: int, _a):
    """The measured effective receptive field of ``layer`` (cached per analysis key, layer,
    unit and samples). Builds the model with real weights and runs it on CPU in float64."""
    import archlens
    return archlens.effective_rf(_a.model, layer, tuple(_a.input_shape[1:]), analysis=_a,
                                 unit=unit, samples=samples)


@st.cache_data(show_spinner=False, max_entries=64)
def graph_svg(key: tuple, depth: int | None, _a) -> tuple[str, tuple[str, ...], int | None]:
    """(svg text, renderer notes, depth drawn) of the analysis; ``key`` identifies ``_a``."""
    from archlens.render import graphviz as gv
    dot, svg = gv.render_svg(_a, depth=depth)
    return svg, tuple(dot.notes), dot.depth


# ----------------------------------------------------------------------------- figures
#
# Building a plotly figure costs 20-400 ms (plotly validates every property as it is set), so
# a rerun that only moves the selection must not rebuild one. The figures are kept as plain
# dicts (``Figure.to_dict()``) in ``st.cache_resource``: one shared object, never mutated;
# ``with_marker`` returns a new dict for the selection marker, and ``figure`` wraps a dict for
# ``st.plotly_chart`` without validating it again (it was validated when it was built).

SELECTED_COLOUR = "#d500f9"


@st.cache_resource(show_spinner=False, max_entries=64)
def chart_spec(key: tuple, slug: str, _a) -> dict:
    """``archlens.render.charts.CHARTS[slug]`` of the analysis ``_a`` (identified by ``key``)
    as a figure dict. Shared between sessions: do not mutate it."""
    from archlens.render import charts
    return charts.CHARTS[slug][1](_a).to_dict()


def figure(spec: dict):
    """A ``plotly.graph_objects.Figure`` over ``spec`` (a cached figure dict) without
    validating it again: ``st.plotly_chart`` given a dict validates every property (10-100 ms
    per chart, on every rerun); given a Figure it only serialises it. Neither mutates
    ``spec``."""
    import plotly.graph_objects as go
    try:
        return go.Figure(spec, _validate=False)
    except TypeError:  # pragma: no cover - a plotly without the flag
        return go.Figure(spec)


def with_marker(spec: dict, x: float, label: str = "selected") -> dict:
    """A copy of ``spec`` (a figure dict) with a dashed vertical line at ``x`` on every
    subplot and one label at the top, as ``Figure.add_vline`` would draw it; ``spec`` and its
    nested objects are left as they are (only new top-level containers are built)."""
    layout = dict(spec.get("layout") or {})
    pairs = list(dict.fromkeys((t.get("xaxis") or "x", t.get("yaxis") or "y")
                               for t in spec.get("data") or ())) or [("x", "y")]
    line = dict(color=SELECTED_COLOUR, width=2, dash="dash")
    shapes = [dict(type="line", x0=x, x1=x, xref=xa, y0=0, y1=1, yref=f"{ya} domain",
                   line=line) for xa, ya in pairs]
    top_x, top_y = max(pairs, key=lambda p: _axis_top(layout, p[1]))
    note = dict(x=x, xref=top_x, y=1, yref=f"{top_y} domain", text=label, showarrow=False,
                xanchor="center", yanchor="bottom", font=dict(color=SELECTED_COLOUR))
    layout["shapes"] = [*(layout.get("shapes") or ()), *shapes]
    layout["annotations"] = [*(layout.get("annotations") or ()), note]
    return {**spec, "layout": layout}


def _axis_top(layout: dict, yref: str) -> float:
    axis = layout.get("yaxis" + yref[1:]) or {}
    dom = axis.get("domain") or (0, 1)
    return float(dom[1])


@st.cache_resource(show_spinner=False, max_entries=8)
def sample_image(h: int, w: int):
    """The generated test pattern for the RF overlay (shared; read-only)."""
    from archlens.render import erf as erf_render
    img = erf_render.sample_pattern(h, w)
    img.setflags(write=False)
    return img


@st.cache_resource(show_spinner=False, max_entries=32)
def rf_overlay_spec(key: tuple, layer: str, unit: tuple[int, int], image_token: str,
                    erf_samples: int | None, _rf, _image_fn, _erf, _out_hw) -> dict:
    """The RF overlay of ``layer`` (``archlens.render.erf.rf_overlay``) as a figure dict,
    cached per (analysis, layer, unit, image, ERF): encoding the image as PNG alone takes a
    few hundred ms. ``_image_fn()`` gives the image on a miss."""
    from archlens.render import erf as erf_render
    return erf_render.rf_overlay(_rf, unit, _image_fn(), erf=_erf, out_hw=_out_hw).to_dict()


@st.cache_resource(show_spinner=False, max_entries=16)
def architecture_diff(key_a: tuple, key_b: tuple, _a, _b):
    """``archlens.api.diff`` of two analyses (shared, never mutated)."""
    from archlens import api  # archlens.diff the attribute may be the submodule
    return api.diff(_a, _b)


@st.cache_resource(show_spinner=False, max_entries=16)
def stage_deltas_spec(key_a: tuple, key_b: tuple, _d) -> dict:
    """``archlens.render.charts.stage_deltas`` of the diff of two analyses (identified by
    their keys) as a figure dict."""
    from archlens.render import charts
    return charts.stage_deltas(_d).to_dict()


# ----------------------------------------------------------------------------- tables

LAYER_COLUMNS = ("layer", "type", "stage", "out shape", "kernel / stride", "groups", "params",
                 "ops", "ops %", "activations", "RF", "findings")


def rf_text(rf) -> str:
    """A layer's receptive field for a table cell: ``63x63`` (px), or its status when the
    size is not an exact number (``global``: mixes every position; ``unknown``)."""
    if rf is None:
        return ""
    status = getattr(rf, "status", "exact")
    if status and status != "exact":
        return str(status)
    return pair_text(rf.size)


def _kernel_stride(n) -> str:
    if n.kernel is None:
        return ""
    return pair_text(n.kernel) + (f" /{pair_text(n.stride)}" if n.stride is not None
                                  and any(s != 1 for s in n.stride) else "")


def _codes_by_layer(a) -> dict[str, list[str]]:
    per_layer: dict[str, list[str]] = {}
    for f in a.findings:
        for name in f.layers:
            per_layer.setdefault(name, []).append(f.code)
    return per_layer


def layers_frame(a, units: Units) -> pd.DataFrame:
    """One row per layer, in execution order (the index is the execution position)."""
    total = max(a.totals.macs, 1)
    per_layer = _codes_by_layer(a)
    rows = []
    for n in a.graph.layers:
        rows.append({
            "layer": n.name, "type": n.type,
            "stage": str(n.stage) if n.stage is not None else "head",
            "out shape": shape_text(n.out_shape), "kernel / stride": _kernel_stride(n),
            "groups": int(n.groups) if n.groups else None, "params": int(n.params),
            "ops": units.of(n.macs), "ops %": 100.0 * n.macs / total,
            "activations": int(n.activations), "RF": rf_text(n.rf),
            "findings": ", ".join(sorted(set(per_layer.get(n.name, ())))),
        })
    return pd.DataFrame(rows, columns=list(LAYER_COLUMNS))


def _stage_span(stages: list[int | None]) -> str:
    """``3`` or ``0-5`` (first to last grid index of a module's layers), ``head`` if none."""
    known = [s for s in stages if s is not None]
    if not known:
        return "head"
    lo, hi = min(known), max(known)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def aggregated_frame(a, units: Units, depth: int) -> pd.DataFrame:
    """Layers grouped by their module path cut to ``depth`` components (execution order of
    each group's first layer); numbers are sums of the per-layer numbers; ``stage`` spans
    the grid indices of the module's layers (vgg16 ``features`` is ``0-5``)."""
    total = max(a.totals.macs, 1)
    groups: OrderedDict[str, dict[str, Any]] = OrderedDict()
    per_layer = _codes_by_layer(a)
    for n in a.graph.layers:
        key = n.depth_name(depth) or "(top level)"
        g = groups.setdefault(key, {"module": key, "layers": 0, "types": {}, "params": 0,
                                    "macs": 0, "activations": 0, "out shape": "",
                                    "codes": set(), "stages": [], "first": n.name})
        g["layers"] += 1
        g["types"][n.type] = g["types"].get(n.type, 0) + 1
        g["params"] += n.params
        g["macs"] += n.macs
        g["activations"] += n.activations
        g["out shape"] = shape_text(n.out_shape)
        g["codes"].update(per_layer.get(n.name, ()))
        g["stages"].append(n.stage)
    rows = []
    for g in groups.values():
        top = sorted(g["types"].items(), key=lambda kv: -kv[1])[:3]
        rows.append({"module": g["module"], "layers": g["layers"],
                     "types": ", ".join(f"{c} {t}" for t, c in top),
                     "stage": _stage_span(g["stages"]), "out shape": g["out shape"],
                     "params": int(g["params"]), "ops": units.of(g["macs"]),
                     "ops %": 100.0 * g["macs"] / total,
                     "activations": int(g["activations"]),
                     "findings": ", ".join(sorted(g["codes"])),
                     "_stages": sorted({s for s in g["stages"] if s is not None}),
                     "_first": g["first"]})
    return pd.DataFrame(rows)


def module_first_layer(a, module: str) -> str | None:
    """The first layer (execution order) inside ``module`` (a module path), or ``module``
    itself when it names a layer."""
    if module in a.graph:
        return module
    prefix = module + "."
    return next((n.name for n in a.graph.layers
                 if n.name.startswith(prefix) or n.module_path.startswith(prefix)
                 or n.module_path == module), None)


def not_counted_bound(a) -> tuple[int, float] | None:
    """For the ops without a MAC formula (``a.unsupported_ops``): an upper bound on their
    cost, one multiply-accumulate per window element per output element (``activations x
    kernel area``; the whole input for ops without a kernel), and its share of the counted
    MACs. None when no layer of those types is in the graph."""
    def norm(t: str) -> str:
        return t.split("::")[-1].split(".")[0].replace("_", "").lower()
    kinds = {norm(op) for op in a.unsupported_ops}
    bound = 0
    found = False
    for n in a.graph.layers:
        if norm(n.type) not in kinds:
            continue
        found = True
        if n.kernel:
            area = 1
            for k in n.kernel:
                area *= int(k)
            bound += int(n.activations) * area
        else:
            bound += sum(_numel(s) for s in n.in_shapes)
    if not found:
        return None
    return bound, 100.0 * bound / max(a.totals.macs, 1)


def _numel(shape) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out


def findings_frame(findings) -> pd.DataFrame:
    return pd.DataFrame([{"severity": f.severity, "rule": f.code,
                          "layer": f.layers[0] if f.layers else "", "message": f.message,
                          "fix": f.fix} for f in findings],
                        columns=["severity", "rule", "layer", "message", "fix"])


FINDINGS_TABLE_CSS = (
    "<style>.al-findings-box{max-height:420px;overflow:auto;border:1px solid rgba(49,51,63,.2);"
    "border-radius:.5rem}"
    "table.al-findings{border-collapse:collapse;width:100%;font-size:.875rem;margin:0}"
    "table.al-findings th{position:sticky;top:0;background:rgb(240,242,246);text-align:left;"
    "font-weight:600;white-space:nowrap}"
    "table.al-findings th,table.al-findings td{padding:.3rem .5rem;vertical-align:top;"
    "border-bottom:1px solid rgba(49,51,63,.1);overflow-wrap:break-word}"
    "table.al-findings td:nth-child(-n+3){white-space:nowrap}"
    "table.al-findings td.al-sev-error{color:#ff2b2b}"
    "table.al-findings td.al-sev-warning{color:#bd4043}"
    "table.al-findings td.al-sev-info{color:#0068c9}</style>")


def findings_html(findings) -> str:
    """The findings as a static HTML table (the rows and columns of :func:`findings_frame`);
    every cell is HTML-escaped text, so a model's names are shown, never interpreted."""
    from html import escape
    df = findings_frame(findings)
    head = "".join(f"<th>{escape(c)}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False):
        cells = [f'<td class="al-sev-{escape(str(rec[0]), quote=True)}">{escape(str(rec[0]))}'
                 "</td>"]
        cells += [f"<td>{escape(str(v))}</td>" for v in rec[1:]]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (FINDINGS_TABLE_CSS + '<div class="al-findings-box"><table class="al-findings">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def sorted_findings(findings) -> list:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), f.code))


def findings_for(a, layer: str) -> list:
    return [f for f in a.findings if layer in f.layers]


def findings_diff(a, b) -> pd.DataFrame:
    """Per rule code: how many findings each model has (and which side only)."""
    ca: dict[str, int] = {}
    cb: dict[str, int] = {}
    for f in a.findings:
        ca[f.code] = ca.get(f.code, 0) + 1
    for f in b.findings:
        cb[f.code] = cb.get(f.code, 0) + 1
    rows = []
    for code in sorted(set(ca) | set(cb)):
        na, nb = ca.get(code, 0), cb.get(code, 0)
        status = "both" if na and nb else (f"only {a.model}" if na else f"only {b.model}")
        rows.append({"rule": code, f"A: {a.model}": na, f"B: {b.model}": nb,
                     "B - A": nb - na, "where": status})
    return pd.DataFrame(rows)


def _stage_rows(a) -> "OrderedDict[str, dict[str, Any]]":
    """The charts' per-stage table keyed by stage index ("S2"; "head" for non-spatial), so
    two networks line up stage by stage even when their grids differ."""
    from archlens.render import charts
    out: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for label, row in charts.stage_table(a).items():
        key, _, grid = label.partition(" ")
        if key.startswith("head"):
            key, grid = "head", "non-spatial"
        r = out.setdefault(key, {"grid": grid, "macs": 0, "params": 0, "layers": 0})
        for k in ("macs", "params", "layers"):
            r[k] += int(row.get(k, 0))
    return out


def stage_frame(a, b, units: Units) -> pd.DataFrame:
    """Per stage (grid-size index): ops and params of both models and B - A."""
    ta, tb = _stage_rows(a), _stage_rows(b)
    keys = list(dict.fromkeys([*ta, *tb]))
    keys.sort(key=lambda k: (k == "head", int(k[1:]) if k[1:].isdigit() else 1 << 30))
    rows = []
    for k in keys:
        ra, rb = ta.get(k, {}), tb.get(k, {})
        ma, mb = units.of(ra.get("macs", 0)), units.of(rb.get("macs", 0))
        pa, pb = int(ra.get("params", 0)), int(rb.get("params", 0))
        rows.append({"stage": k, "grid A": ra.get("grid", ""), "grid B": rb.get("grid", ""),
                     f"{units.name} A": ma, f"{units.name} B": mb,
                     f"{units.name} B - A": mb - ma,
                     f"{units.name} B / A": (mb / ma) if ma else None,
                     "params A": pa, "params B": pb, "params B - A": pb - pa,
                     "layers A": int(ra.get("layers", 0)), "layers B": int(rb.get("layers", 0))})
    return pd.DataFrame(rows)


def number_columns(df: pd.DataFrame) -> dict[str, Any]:
    """Column config that prints integers with thousands separators and ratios with 3
    decimals (for st.dataframe)."""
    cfg: dict[str, Any] = {}
    for col in df.columns:
        if pd.api.types.is_integer_dtype(df[col]):
            cfg[col] = st.column_config.NumberColumn(col, format="localized")
        elif pd.api.types.is_float_dtype(df[col]) or "/" in str(col):
            cfg[col] = st.column_config.NumberColumn(col, format="%.3f")
    return cfg


def totals_frame(a, b, units: Units) -> pd.DataFrame:
    rows = []
    for label, fa, fb in (
            (f"{units.name}", units.of(a.totals.macs), units.of(b.totals.macs)),
            (f"paper {units.name} (conv + linear)", units.of(a.totals.paper_macs),
             units.of(b.totals.paper_macs)),
            ("parameters (count)", a.totals.params, b.totals.params),
            ("activations (elements)", a.totals.activations, b.totals.activations),
            ("peak activation (bytes)", a.totals.peak_activation_bytes,
             b.totals.peak_activation_bytes),
            ("layers", len(a.graph.layers), len(b.graph.layers)),
            ("findings", len(a.findings), len(b.findings))):
        rows.append({"quantity": label, f"A: {a.model}": int(fa), f"B: {b.model}": int(fb),
                     "B - A": int(fb) - int(fa), "B / A": (fb / fa) if fa else None})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- diff tables

def diff_totals_frame(d, units: Units) -> pd.DataFrame:
    """The diff's totals (``archlens.diff``), MACs in the chosen units."""
    rows = []
    for t in d.totals:
        f = units.factor if t.key in ("macs", "paper_macs") else 1
        name = t.quantity.replace("MACs", units.name) if f != 1 else t.quantity
        rows.append({"quantity": f"{name} ({t.unit})" if t.unit and t.unit != "count"
                     else name, f"A: {d.a}": t.a * f, f"B: {d.b}": t.b * f,
                     "B - A": t.delta * f, "B / A": (t.b / t.a) if t.a else None})
    return pd.DataFrame(rows)


def changes_frame(d, units: Units) -> pd.DataFrame:
    rows = []
    for c in d.changes:
        rows.append({"unit": c.name, "status": c.status, "what": ", ".join(c.kinds),
                     "A": c.a or "", "B": c.b or "",
                     f"{units.name} A": units.of(c.macs_a), f"{units.name} B": units.of(c.macs_b),
                     f"{units.name} B - A": units.of(c.macs_b) - units.of(c.macs_a),
                     "params B - A": c.params_b - c.params_a,
                     "stage": f"S{c.stage}" if c.stage is not None else "head"})
    return pd.DataFrame(rows)


def diff_stages_frame(d, units: Units) -> pd.DataFrame:
    rows = []
    for s in d.stages:
        ma, mb = units.of(s.macs_a), units.of(s.macs_b)
        rows.append({"stage": s.key, "A": s.text_a or s.label_a, "B": s.text_b or s.label_b,
                     f"{units.name} A": ma, f"{units.name} B": mb,
                     f"{units.name} B - A": mb - ma,
                     f"{units.name} B / A": (mb / ma) if ma else None,
                     "params A": s.params_a, "params B": s.params_b,
                     "params B - A": s.params_b - s.params_a,
                     "layers A": s.layers_a, "layers B": s.layers_b})
    return pd.DataFrame(rows)
