"""Rendering a sweep: plotly figures, the console summary and the self-contained sweep.html.

Draws only what :mod:`archlens.sweep.fronts` computes (render never analyses). Figure
builders take the table's rows (``result.table.to_pylist()``) so the dashboard can call them
directly: :func:`pareto_figure`, :func:`edf_figure`, :func:`balance_figure`,
:func:`findings_figure`; :func:`figures` returns all that have data. Every model- or
spec-supplied string is escaped for its sink (``esc`` for HTML, ``_t`` for plotly text).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from archlens.render import _numbers as fmt
from archlens.render.charts import _layout, _t
from archlens.render.html import card, esc, page
from archlens.sweep import fronts as F

Row = Mapping[str, Any]
PALETTE = ("#1f5fa8", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037",
           "#ad1457", "#827717", "#37474f")
GREY = "#b0bec5"


def _config_text(r: Row) -> str:
    cfg = json.loads(r["config"]) if r.get("config") else {}
    return ", ".join(f"{k}={_v(v)}" for k, v in cfg.items())


def _v(v: Any) -> str:
    return "-".join(map(str, v)) if isinstance(v, list) else str(v)


def _hover(r: Row) -> str:
    lines = [f"<b>{_t(r['variant_id'])}</b>" + (f" = {_t(r['zoo_model'])}" if r.get("zoo_model")
                                                  else ""),
             _t(_config_text(r)), f"input {_t(r.get('input'))}"]
    if r.get("macs") is not None:
        lines.append(f"{fmt.macs(r['macs'])} · {fmt.params(r['params'])}")
    if r.get("rf") is not None:
        lines.append(f"feature RF {r['rf']} px · depth {r.get('depth')} convs · width "
                     f"{r.get('width')} ch")
    if r.get("latency_ms") is not None:
        lines.append(f"latency {r['latency_ms']:.3f} ms")
    return "<br>".join(lines)


def pareto_figure(rows: Sequence[Row], front: F.Front) -> go.Figure | None:
    """All ok variants (grey) and the non-dominated ones (line): ``front.x`` minimised,
    ``front.y`` maximised. Zoo members are labelled. None when no row has both values."""
    pts = [r for r in F.ok_rows(rows) if r.get(front.x) is not None and r.get(front.y)
           is not None]
    if not pts:
        return None
    best = F.pareto_front(pts, front.x, front.y)
    on = {r["variant_id"] for r in best}
    rest = [r for r in pts if r["variant_id"] not in on]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[r[front.x] for r in rest], y=[r[front.y] for r in rest],
                             mode="markers", name=f"dominated ({len(rest)})",
                             marker=dict(color=GREY, size=6, opacity=0.7),
                             hovertext=[_hover(r) for r in rest], hoverinfo="text"))
    fig.add_trace(go.Scatter(x=[r[front.x] for r in best], y=[r[front.y] for r in best],
                             mode="lines+markers", name=f"Pareto front ({len(best)})",
                             line=dict(color=PALETTE[0], shape="hv"),
                             marker=dict(color=PALETTE[0], size=8),
                             hovertext=[_hover(r) for r in best], hoverinfo="text"))
    zoo = [r for r in pts if r.get("zoo_model")]
    if zoo:
        fig.add_trace(go.Scatter(x=[r[front.x] for r in zoo], y=[r[front.y] for r in zoo],
                                 mode="markers+text", name="zoo members",
                                 text=[_t(r["zoo_model"]) for r in zoo],
                                 textposition="top center",
                                 marker=dict(symbol="star", size=13, color=PALETTE[1]),
                                 hovertext=[_hover(r) for r in zoo], hoverinfo="text"))
    _layout(fig, front.title)
    fig.update_xaxes(title_text=front.x_label, type="log")
    fig.update_yaxes(title_text=front.y_label, type="log" if front.y != "rf" else "linear")
    return fig


_METRIC_LABEL = {"macs": "MACs (multiply-accumulates)", "params": "parameters (count)",
                 "rf": "feature receptive field (px)", "latency_ms": "latency (ms, measured)"}


def edf_figure(rows: Sequence[Row], metric: str = "macs", by: str | None = None
               ) -> go.Figure | None:
    """Empirical distribution functions of ``metric`` over the ok variants, one curve per
    value of parameter ``by`` (default: the swept parameter with the fewest values), as in
    Radosavovic et al. 2020. None without data."""
    pts = [r for r in F.ok_rows(rows) if r.get(metric) is not None]
    if not pts:
        return None
    by = by if by is not None else F.default_subspace(pts)
    groups = F.subspaces(pts, by) if by else {"all variants": pts}
    fig = go.Figure()
    for i, (label, rs) in enumerate(groups.items()):
        xs, ys = F.edf(r[metric] for r in rs)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(shape="hv",
                                 color=PALETTE[i % len(PALETTE)]),
                                 name=f"{_t(label)} (n={len(rs)})"))
    what = _METRIC_LABEL.get(metric, metric)
    _layout(fig, f"complexity EDF: fraction of variants with {metric} <= x"
                 + (f", per {_t(by)}" if by else ""))
    fig.update_xaxes(title_text=what, type="log")
    fig.update_yaxes(title_text="fraction of variants (cumulative)", range=[0, 1.02])
    return fig


def balance_figure(plane: F.Plane | None) -> go.Figure | None:
    """Principle 4's plane: depth (conv layers on the longest path) against width (channels
    of the widest stage) for the variants within the MAC budget band, coloured by MACs;
    the others faint; the zoo's own models as labelled stars."""
    if plane is None:
        return None
    fig = go.Figure()
    if plane.others:
        fig.add_trace(go.Scatter(x=[r["depth"] for r in plane.others],
                                 y=[r["width"] for r in plane.others], mode="markers",
                                 name=f"outside the band ({len(plane.others)})",
                                 marker=dict(color=GREY, size=5, opacity=0.45),
                                 hovertext=[_hover(r) for r in plane.others], hoverinfo="text"))
    if plane.in_band:
        fig.add_trace(go.Scatter(
            x=[r["depth"] for r in plane.in_band], y=[r["width"] for r in plane.in_band],
            mode="markers", name=f"within the budget band ({len(plane.in_band)})",
            marker=dict(size=9, color=[math.log10(r["macs"]) for r in plane.in_band],
                        colorscale="Viridis", showscale=True,
                        colorbar=dict(title="log10 MACs")),
            hovertext=[_hover(r) for r in plane.in_band], hoverinfo="text"))
    if plane.references:
        refs = plane.references
        fig.add_trace(go.Scatter(
            x=[r["depth"] for r in refs], y=[r["width"] for r in refs], mode="markers+text",
            name="zoo models", text=[_t(r["name"]) for r in refs], textposition="top right",
            marker=dict(symbol="star", size=14, color=[PALETTE[1] if r["in_band"] else "#ffb74d"
                                                       for r in refs],
                        line=dict(color="#5d4037", width=1)),
            hovertext=[f"<b>{_t(r['name'])}</b><br>{fmt.macs(r['macs'])} · "
                       f"{fmt.params(r['params'])}<br>depth {r['depth']} convs · width "
                       f"{r['width']} ch<br>{'inside' if r['in_band'] else 'outside'} the band"
                       for r in refs], hoverinfo="text"))
    lo = plane.budget / (1 + plane.tolerance)
    hi = plane.budget * (1 + plane.tolerance)
    _layout(fig, f"width/depth balance at a budget of {fmt.macs(plane.budget)} "
                 f"(band {fmt.si(lo)}-{fmt.si(hi)} MACs)", height=480)
    fig.update_xaxes(title_text="depth (conv layers on the longest path)")
    fig.update_yaxes(title_text="width (channels of the widest stage)", type="log")
    return fig


def findings_figure(rows: Sequence[Row]) -> go.Figure | None:
    """Per rule code, in how many ok variants it fired (checks measured). None without."""
    data = F.findings_over_grid(rows)
    if not data:
        return None
    n = len(F.ok_rows(rows))
    codes = sorted(data, key=lambda c: data[c]["variants"])
    fig = go.Figure(go.Bar(
        x=[data[c]["variants"] for c in codes], y=[_t(c) for c in codes], orientation="h",
        marker_color=PALETTE[0],
        hovertext=[f"{_t(c)}: in {data[c]['variants']} of {n} variants, "
                   f"{data[c]['findings']} findings" for c in codes], hoverinfo="text"))
    _layout(fig, f"design findings over the grid ({n} ok variants)",
            height=max(260, 60 + 26 * len(codes)))
    fig.update_xaxes(title_text="variants with the finding (count)")
    return fig


def figures(rows: Sequence[Row], references: Sequence[Mapping[str, Any]] = (),
            budget: int | None = None) -> dict[str, go.Figure]:
    """Every figure with data, keyed by a stable name (the report's anchors)."""
    out: dict[str, go.Figure | None] = {f"pareto_{fr.key}": pareto_figure(rows, fr)
                                        for fr in F.FRONTS}
    out["edf_macs"] = edf_figure(rows, "macs")
    out["edf_params"] = edf_figure(rows, "params")
    out["balance"] = balance_figure(F.balance_plane(rows, references, budget))
    out["findings"] = findings_figure(rows)
    return {k: v for k, v in out.items() if v is not None}


# ----------------------------------------------------------------------------------------
# console
# ----------------------------------------------------------------------------------------

def console_summary(result: Any):
    """A rich renderable: counts, throughput, the folder, and the Pareto-front sizes."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from archlens.sanitize import for_terminal as term
    s = result.summary
    run = s.get("this_run", {})
    rows = result.table.to_pylist()
    head = Text(f"sweep {term(s.get('name'))}: {F.counts_line(s)}", style="bold")
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="dim")
    t.add_column()
    t.add_row("this run", f"{run.get('analysed', 0):,} variants analysed, "
                          f"{run.get('skipped_resumed', 0):,} already written (resumed)")
    if run.get("variants_per_s") is not None:
        t.add_row("throughput", f"{run['variants_per_s']:.2f} variants/s on "
                                f"{run.get('workers')} workers, {run.get('cluster_nodes')} "
                                f"node(s); Ray start-up {run.get('ray_startup_s', 0):.1f} s, "
                                f"wall {run.get('wall_s', 0):.1f} s")
    if s.get("pruned_by"):
        t.add_row("pruned by", ", ".join(f"{term(k)} {v:,}" for k, v in s["pruned_by"].items()))
    if s.get("failures_total"):
        first = s["failures"][0]
        t.add_row("failed", f"{s['failures_total']:,} (first: {first['variant_id']}: "
                            f"{term(first['reason'])})")
    for fr in F.FRONTS:
        pts = [r for r in F.ok_rows(rows) if r.get(fr.x) is not None and r.get(fr.y)
               is not None]
        if pts:
            t.add_row(f"front {fr.x}/{fr.y}",
                      f"{len(F.pareto_front(pts, fr.x, fr.y))} of {len(pts)} variants "
                      f"non-dominated ({fr.x} minimised, {fr.y} maximised)")
    t.add_row("table", term(result.out / "results.parquet"))
    return Group(head, t)


# ----------------------------------------------------------------------------------------
# sweep.html
# ----------------------------------------------------------------------------------------

def _top_html(rows: Sequence[Row], links: Mapping[str, str], k: int = 5) -> str:
    best = F.top_variants(rows, k)
    if not best:
        return "<p class='note'>No variant finished with status ok.</p>"
    titles = {o.key: (o.title, o.unit, o.score) for o in F.OBJECTIVES}
    parts = []
    for key, rs in best.items():
        title, unit, score = titles[key]
        body = []
        for r in rs:
            vid = esc(r["variant_id"])
            link = links.get(r["variant_id"])
            name = f'<a href="{esc(link)}">{vid}</a>' if link else vid
            zoo = f" = {esc(r['zoo_model'])}" if r.get("zoo_model") else ""
            val = score(r)
            val_s = fmt.si(abs(val)) if key in ("fewest_macs",) else (
                f"{abs(val):.3f}" if key == "lowest_latency" else f"{abs(val):,.1f}")
            body.append(
                f"<tr><td class='mono'>{name}{zoo}</td><td>{esc(_config_text(r))}</td>"
                f"<td>{esc(r['input'])}</td><td class='n'>{esc(fmt.si(r['params']))}</td>"
                f"<td class='n'>{esc(fmt.si(r['macs']))}</td>"
                f"<td class='n'>{esc(str(r.get('rf')))}</td>"
                f"<td class='n'>{esc(val_s)}</td></tr>")
        parts.append(
            f"<h3>{esc(title)}</h3><table><thead><tr><th>variant</th><th>parameters</th>"
            f"<th>input</th><th class='n'>params</th><th class='n'>MACs</th>"
            f"<th class='n'>feature RF (px)</th><th class='n'>{esc(unit)}</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
    return "".join(parts)


def _table_html(rows: Sequence[Row]) -> str:
    names = F.param_names(rows)
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    body = []
    for r in rows:
        cells = "".join(f"<td>{esc(_v(json.loads(r['config']).get(n)))}</td>" for n in names)
        num = "".join(f"<td class='n'>{'' if r.get(c) is None else esc(f'{r[c]:,}')}</td>"
                      for c in ("params", "macs", "rf", "depth", "width"))
        body.append(f"<tr><td class='mono'>{esc(r['variant_id'])}</td>{cells}"
                    f"<td>{esc(r['input'])}</td><td>{esc(r.get('zoo_model') or '')}</td>"
                    f"<td>{esc(r['status'])}</td>{num}<td>{esc(r.get('reason') or '')}</td></tr>")
    return (f"<div class='tablebox'><table class='sortable'><thead><tr><th>variant</th>{head}"
            "<th>input</th><th>zoo</th><th>status</th><th class='n'>params</th>"
            "<th class='n'>MACs</th><th class='n'>RF (px)</th><th class='n'>depth (convs)</th>"
            "<th class='n'>width (ch)</th><th>reason</th></tr></thead><tbody>"
            f"{''.join(body)}</tbody></table></div>")


_SECTION_TITLES = {
    "pareto_macs_params": "Pareto front: MACs vs parameters",
    "pareto_macs_rf": "Pareto front: MACs vs feature receptive field",
    "pareto_latency_macs": "Pareto front: measured latency vs MACs",
    "edf_macs": "Complexity EDF: MACs", "edf_params": "Complexity EDF: parameters",
    "balance": "Width/depth balance (principle 4)", "findings": "Findings over the grid",
}


def sweep_html(result: Any, links: Mapping[str, str] | None = None,
               budget: int | None = None) -> str:
    """The self-contained sweep report (plotly.js inlined once; opens offline)."""
    from archlens.render.report import fragment, plotly_js
    s = result.summary
    rows = result.table.to_pylist()
    figs = figures(rows, s.get("references", []), budget)
    run = s.get("this_run", {})
    c = s.get("counts", {})
    ok = F.ok_rows(rows)
    cards = [card("variants", f"{s.get('variants', 0):,}", F.counts_line(s)),
             card("ok", f"{c.get('ok', 0):,}", "analysed and within the constraints"),
             card("pruned", f"{c.get('pruned', 0):,}",
                  ", ".join(f"{k} {v}" for k, v in s.get("pruned_by", {}).items())),
             card("failed / timed out", f"{c.get('failed', 0) + c.get('timeout', 0):,}",
                  "recorded with their error")]
    if ok:
        macs = [r["macs"] for r in ok]
        cards.append(card("MACs range", f"{fmt.si(min(macs))}-{fmt.si(max(macs))}",
                          "multiply-accumulates, batch 1"))
    if run.get("variants_per_s") is not None:
        cards.append(card("throughput", f"{run['variants_per_s']:.2f}/s",
                          f"variants per second, {run.get('workers')} workers, "
                          f"{run.get('cluster_nodes')} node(s)"))
    body = [f"<section id='summary'><h2>Summary</h2><div class='cards'>{''.join(cards)}</div>"
            f"<p class='note'>Builder <code>{esc(s.get('builder', ''))}</code>. "
            f"{esc(s.get('description', ''))} Fronts minimise the x axis and maximise the "
            "y axis; only variants with status ok are plotted. Depth and width are measured "
            "as the P4.depth-width rule does. Table: results.parquet in this folder.</p>"
            + (f"<p class='note'>{esc(s['references_note'])}</p>" if s.get("references_note")
               else "") + "</section>"]
    nav = [("summary", "Summary")]
    for key, fig in figs.items():
        title = _SECTION_TITLES.get(key, key)
        body.append(f"<section id='{key}'><h2>{esc(title)}</h2>"
                    f"<div class='chart'>{fragment(fig, key)}</div></section>")
        nav.append((key, title.split(":")[0]))
    body.append(f"<section id='top'><h2>Top variants per objective</h2>"
                f"{_top_html(rows, links or {})}</section>")
    body.append(f"<section id='table'><h2>All variants</h2>{_table_html(rows)}</section>")
    nav += [("top", "Top variants"), ("table", "All variants")]
    meta = esc(f"{F.counts_line(s)} · spec fingerprint {s.get('fingerprint', '')[:12]}")
    return page(f"Sweep: {s.get('name', '')}", meta, nav, "".join(body), plotly_js=plotly_js())


def write_sweep_report(result: Any, out: str | Path | None = None,
                       links: Mapping[str, str] | None = None,
                       budget: int | None = None) -> Path:
    """Write ``sweep.html`` (default: into the sweep folder), atomically. Returns its path."""
    from archlens.outputs import write_file
    path = Path(out) if out is not None else Path(result.out) / "sweep.html"
    return write_file(path, sweep_html(result, links, budget), hint="choose a writable --out")
