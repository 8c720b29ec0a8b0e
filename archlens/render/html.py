"""The self-contained HTML report (and the notebook summary of an Analysis).

One file that opens offline: plotly.js inlined once in ``<head>``, every chart a ``<div>``
drawn by it, the graphviz SVG inlined, a sortable layer table driven by a few lines of
inline JavaScript. Every string that comes from a model (module names, op types, finding
text) passes through :func:`esc`; charts escape theirs in :mod:`archlens.render.charts`,
and plotly serialises its JSON with ``<``/``>`` escaped, so a module named
``<img src=x onerror=alert(1)>`` stays text.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from archlens.analysis import SEVERITIES, Analysis, Finding
from archlens.render import _numbers as fmt
from archlens.sanitize import for_html

esc = for_html  # archlens.sanitize: safe in text and in attribute values, no controls

CSS = """
:root{--ink:#1f2933;--muted:#607080;--line:#e3e8ee;--bg:#f6f8fa;--accent:#1f5fa8;
--err:#c62828;--warn:#e65100;--info:#1565c0;--ok:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 Inter,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink);
background:var(--bg)}
header{background:#17324d;color:#fff;padding:22px 0 18px}
header h1{margin:0;font-size:24px;font-weight:600;letter-spacing:.2px}
header .meta{color:#c9d6e3;font-size:13px;margin-top:4px}
.wrap{max-width:1240px;margin:0 auto;padding:0 28px}
nav{background:#fff;border-bottom:1px solid var(--line);position:sticky;top:0;z-index:5}
nav a{display:inline-block;padding:10px 14px 9px 0;margin-right:10px;color:var(--accent);
text-decoration:none;font-weight:500;font-size:13px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;margin:22px 0;
padding:18px 22px}
section h2{font-size:18px;margin:0 0 12px;font-weight:600}
section h3{font-size:15px;margin:18px 0 8px;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:#fbfcfd}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.5px}
.card .v{font-size:22px;font-weight:600;margin-top:2px;white-space:nowrap}
.card .s{color:var(--muted);font-size:12px;margin-top:2px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600;position:sticky;top:38px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:hover td{background:#f7fafc}
code,.mono{font-family:"JetBrains Mono",Menlo,Consolas,monospace;font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11px;font-weight:600;
color:#fff;text-transform:uppercase;letter-spacing:.4px}
.badge.error{background:var(--err)}.badge.warning{background:var(--warn)}
.badge.info{background:var(--info)}
.finding{border-left:4px solid var(--line);padding:8px 12px;margin:10px 0;background:#fbfcfd;
border-radius:0 6px 6px 0}
.finding.error{border-color:var(--err)}.finding.warning{border-color:var(--warn)}
.finding.info{border-color:var(--info)}
.finding .head{font-weight:600}.finding .ev{color:var(--muted);font-size:13px}
.finding .fix{margin-top:3px}.finding .save{color:var(--ok);font-weight:600}
.finding .cost{color:var(--err);font-weight:600}
.chart{margin:8px 0 22px;min-height:420px}
.graphview{display:grid;grid-template-columns:minmax(0,1fr) 250px;gap:12px;align-items:start}
.legend{border:1px solid var(--line);border-radius:6px;padding:8px 10px;font-size:12px;
background:#fbfcfd;position:sticky;top:46px}
.legend h4{margin:6px 0 4px;font-size:12px}
.legend .sw{display:inline-block;width:14px;height:12px;border:1px solid #999;
vertical-align:middle;margin-right:6px;font-size:8px;line-height:12px;text-align:center}
.legend .ol{display:inline-block;width:14px;height:12px;border:2.5px solid;vertical-align:middle;
margin-right:6px;border-radius:3px}
.stagebar{display:flex;flex-wrap:wrap;gap:6px;margin:6px 0 10px}
.side{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.headline{font-size:16px;font-weight:600}
.note{color:var(--muted);font-size:12.5px}
.sortable th{cursor:pointer;user-select:none}
.sortable th:after{content:" \\2195";color:#b0bec5;font-size:11px}
.tablebox{max-height:720px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.tablebox th{top:0}
.delta-neg{color:var(--ok)}.delta-pos{color:var(--err)}
button{font:inherit;font-size:12px;padding:3px 10px;border:1px solid var(--line);
background:#fff;border-radius:5px;cursor:pointer}
footer{color:var(--muted);font-size:12px;padding:10px 0 30px}
"""

SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
    var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),asc=th.dataset.asc!=='1';
    t.querySelectorAll('th').forEach(function(h){h.dataset.asc=''});th.dataset.asc=asc?'1':'0';
    rows.sort(function(x,y){var p=x.cells[i].dataset.v,q=y.cells[i].dataset.v;
      if(p===undefined){p=x.cells[i].textContent;q=y.cells[i].textContent}
      var a=parseFloat(p),c=parseFloat(q);
      var r=(!isNaN(a)&&!isNaN(c))?a-c:String(p).localeCompare(String(q));return asc?r:-r});
    rows.forEach(function(r){b.appendChild(r)});});});});
"""


# ----------------------------------------------------------------------------- pieces

def page(title: str, meta: str, nav: Sequence[tuple[str, str]], body: str, *,
         plotly_js: str | None) -> str:
    """The page frame. ``plotly_js``: the library source, inlined once (None: no charts)."""
    script = f"<script>{plotly_js}</script>" if plotly_js else ""
    links = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    from archlens import __version__
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style>{script}</head><body>"
            f'<header><div class="wrap"><h1>{esc(title)}</h1><div class="meta">{meta}</div>'
            f'</div></header><nav><div class="wrap">{links}</div></nav>'
            f'<main class="wrap">{body}</main>'
            f'<footer class="wrap">Generated by archlens {esc(__version__)}. MACs are '
            f"multiply-accumulates (FLOPs = 2 x MACs); parameters are counts; sizes and "
            f"strides of receptive fields are in input pixels.</footer>"
            f"<script>{SORT_JS}</script></body></html>\n")


def meta_line(a: Analysis) -> str:
    where = ("traced on the meta device (shapes only, no values: the numbers of a CPU pass)"
             if a.device == "meta" else f"counted on {a.device}")
    return esc(f"input {fmt.shape(a.input_shape, batch=True)} (NCHW) · {a.dtype} · "
               f"{where} · {len(a.graph.layers)} layers")


def card(key: str, value: str, sub: str = "") -> str:
    return (f'<div class="card"><div class="k">{esc(key)}</div><div class="v">{esc(value)}</div>'
            f'<div class="s">{esc(sub)}</div></div>')


def stages_html(a: Analysis) -> str:
    """The stage table (``Stage.text`` of :mod:`archlens.metrics.stages`) and its legend."""
    from archlens.metrics.stages import LEGEND, head_costs
    total = a.totals.macs
    rows = "".join(
        f'<tr><td>{esc(s.text)}</td><td class="n">{s.layers:,}</td>'
        f'<td class="n">{s.macs:,}</td><td class="n">{esc(fmt.pct(s.macs, total))}</td>'
        f'<td class="n">{s.params:,}</td></tr>' for s in a.stages)
    h = head_costs(a.graph)
    if h["layers"]:
        rows += (f'<tr><td>head: non-spatial layers</td><td class="n">{h["layers"]:,}</td>'
                 f'<td class="n">{h["macs"]:,}</td><td class="n">'
                 f'{esc(fmt.pct(h["macs"], total))}</td><td class="n">{h["params"]:,}</td></tr>')
    return (f'<p class="note">{esc(LEGEND)}</p><table class="stages"><thead><tr><th>stage: '
            f'grid, effective stride</th><th class="n">layers</th><th class="n">MACs</th>'
            f'<th class="n">% MACs</th><th class="n">params</th></tr></thead><tbody>{rows}'
            f'</tbody></table>')


def summary_cards(a: Analysis) -> str:
    t = a.totals
    counts = {s: sum(f.severity == s for f in a.findings) for s in SEVERITIES}
    rf = a.feature_rf
    cards = [
        card("Parameters", fmt.si(t.params), f"{t.params:,} ({t.trainable_params:,} trainable)"),
        card("MACs", fmt.macs(t.macs), f"{t.macs:,} multiply-accumulates; "
                                       f"FLOPs = 2 x MACs = {fmt.si(2 * t.macs)}"),
        card("Paper-profile MACs", fmt.macs(t.paper_macs),
             f"conv + linear only: {t.paper_macs:,} ({fmt.pct(t.paper_macs, t.macs)} of all)"),
        card("Feature receptive field",
             f"{fmt.pair(rf.size)} px" if rf and rf.status == "exact" else fmt.rf(rf, short=True),
             (f"effective stride {fmt.pair(rf.stride)} px, input "
              f"{fmt.shape(a.input_shape)}" if rf and rf.status == "exact"
              else fmt.rf(rf) if rf else "no spatial output")),
        card("Stages", str(len(a.stages)),
             " > ".join(s.label for s in a.stages) + " (see Stages)"),
        card("Findings", str(len(a.findings)),
             ", ".join(f"{c} {s}" for s, c in counts.items()) or "none"),
        card("Weights", f"{t.weight_bytes / 2**20:.1f} MiB", f"{a.dtype}"),
        card("Peak activations", f"{t.peak_activation_bytes / 2**20:.1f} MiB",
             f"batch {a.input_shape[0]}, estimate; sum of outputs {fmt.si(t.activations)} elements"),
    ]
    return '<div class="cards">' + "".join(cards) + "</div>"


def saving_text(f: Finding, total_macs: int) -> str:
    if not f.saving:
        return ""
    parts = []
    m = f.saving.get("macs")
    p = f.saving.get("params")
    if m:
        parts.append(f"{fmt.macs(m)} ({fmt.pct(m, total_macs)} of total)")
    if p:
        parts.append(fmt.params(p))
    return "saves " + ", ".join(parts) if parts else ""


def findings_html(findings: Iterable[Finding], total_macs: int) -> str:
    """Findings by principle; identical findings on several layers shown once (``x3:
    Mixed_5b, 5c, 5d``), what a fix costs shown as a cost, the totals of every fix first."""
    from archlens.render.findings import (PRINCIPLE_TITLES, fix_cost_macs, repeats,
                                          totals_text, where)
    findings = list(findings)
    fs = sorted(findings, key=lambda f: (SEVERITIES.index(f.severity)
                                         if f.severity in SEVERITIES else 9, f.code))
    if not fs:
        return '<p class="note">No findings: the checks found nothing to flag.</p>'
    out = []
    total = totals_text(findings, total_macs)
    if total:
        out.append(f'<p class="totals"><b>{esc(total)}</b></p>')
    groups = sorted(repeats(fs), key=lambda g: g[0].principle)  # stable: severity kept
    current = None
    for f, members in groups:
        if f.principle != current:
            current = f.principle
            out.append(f"<h3>{esc(PRINCIPLE_TITLES.get(current, current))}</h3>")
        sev = f.severity if f.severity in SEVERITIES else "info"
        if len(members) > 1:
            layers = where(members)
        else:
            layers = ", ".join(f.layers[:4]) + (f" (+{len(f.layers) - 4})"
                                                if len(f.layers) > 4 else "")
        save = saving_text(f, total_macs) + (" each" if len(members) > 1 and f.saving else "")
        cost = fix_cost_macs(f)
        cost_html = (f' <span class="cost">costs +{esc(fmt.macs(cost))}'
                     f'{" each" if len(members) > 1 else ""}</span>' if cost else "")
        out.append(
            f'<div class="finding {sev}"><div class="head"><span class="badge {sev}">'
            f'{esc(sev)}</span> <code>{esc(f.code)}</code> · <span class="mono">'
            f'{esc(layers)}</span></div><div>{esc(f.message)}</div>'
            f'<div class="ev">{esc(f.evidence)}</div>'
            + (f'<div class="fix"><b>Fix:</b> {esc(f.fix)}'
               + (f' <span class="save">{esc(save)}</span>' if save else "") + cost_html
               + "</div>" if f.fix or save or cost else "")
            + "</div>")
    return "".join(out)


def layer_table(a: Analysis) -> str:
    total = a.totals.macs or 1
    head = ["#", "layer", "type", "kernel / stride", "output (CxHxW)", "params", "MACs",
            "% MACs", "RF (px)", "eff. stride", "stage", "MACs/byte"]
    num = {0, 5, 6, 7, 8, 9, 10, 11}
    rows = []
    for i, n in enumerate(a.graph.layers, 1):
        ks = f"{fmt.pair(n.kernel)} / {fmt.pair(n.stride)}" if n.kernel else ""
        rf = n.rf
        cells = [
            (str(i), i), (n.name, None), (n.type, None), (ks, None),
            (fmt.shape(n.out_shape), n.activations), (f"{n.params:,}", n.params),
            (f"{n.macs:,}", n.macs), (f"{100 * n.macs / total:.2f}", n.macs / total),
            (fmt.rf(rf, short=True) if rf else "", rf.size[0] if rf and rf.known else -1),
            (fmt.pair(rf.stride) if rf and rf.known else "",
             rf.stride[0] if rf and rf.known else -1),
            ("" if n.stage is None else f"S{n.stage}", -1 if n.stage is None else n.stage),
            ("" if n.intensity is None else f"{n.intensity:.1f}",
             -1 if n.intensity is None else n.intensity),
        ]
        tds = []
        for j, (text, v) in enumerate(cells):
            cls = ' class="n"' if j in num else (' class="mono"' if j == 1 else "")
            dv = f' data-v="{v}"' if v is not None else ""
            tds.append(f"<td{cls}{dv}>{esc(text)}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    ths = "".join(("<th class=\"n\">" if j in num else "<th>") + f"{esc(h)}</th>"
                  for j, h in enumerate(head))
    return (f'<div class="tablebox"><table class="sortable" id="layers-table"><thead><tr>{ths}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


_XML_PROLOG = re.compile(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", re.S)


def graph_legend(a: Analysis, fills) -> str:
    """The graph's legend as HTML beside the viewer (always visible, whatever the zoom):
    fill = MAC share (``fills``: the drawing's (colour, range) bins), strip = stage
    (``Stage.text``), outline = finding severity."""
    from archlens.render import graphviz as gv
    rows = ["<h4>fill: share of the MACs</h4>",
            '<div class="sub">bins: equal numbers of the nodes drawn</div>']
    rows += [f'<div><span class="sw" style="background:{c}"></span>{esc(t)}</div>'
             for c, t in fills]
    rows.append(f'<div><span class="sw" style="background:{gv.NO_MACS}"></span>no MACs</div>')
    rows.append("<h4>strip: stage (grid, effective stride)</h4>")
    rows += [f'<div><span class="sw" style="background:'
             f'{gv.STAGE_COLOURS[st.index % len(gv.STAGE_COLOURS)]}">S{st.index}</span>'
             f'{esc(st.text)}</div>' for st in a.stages]
    sevs = [x for x in SEVERITIES if any(f.severity == x for f in a.findings)]
    if sevs:
        rows.append("<h4>outline: finding</h4>")
        rows += [f'<div><span class="ol" style="border-color:{gv.SEVERITY_COLOURS[x]}"></span>'
                 f'{esc(x)}</div>' for x in sevs]
    return '<div class="legend" id="graph-legend">' + "".join(rows) + "</div>"


def graph_section(a: Analysis, svg: str, note: str, fills) -> str:
    """The layer graph in a pan/zoom viewer opened at actual size (legible text), the
    legend beside it, and one button per stage that centres the stage's first layer."""
    from archlens.render.viewer import viewer_html
    bar = "".join(f'<button data-pz-target="graph" data-pz-node="{esc(st.first)}" '
                  f'title="centre the first layer of this stage">{esc(st.text)}</button>'
                  for st in a.stages)
    return (f'<p class="note">{esc(note)} Wheel or +/- to zoom, drag to pan, double-click '
            f'to fit; a stage button centres the stage\'s first layer.</p>'
            f'<div class="stagebar" id="stage-overview">{bar}</div>'
            f'<div class="graphview"><div>{viewer_html(svg, box_id="graph", height=760)}'
            f'</div>{graph_legend(a, fills)}</div>')


def inline_svg(svg: str) -> str:
    """Graphviz SVG for inlining: no prolog/doctype/comments; scales to its container (the
    viewBox is kept; width/height become the maximum size)."""
    return _XML_PROLOG.sub("", svg).strip()


def chart_div(fig_html: str, title: str, anchor: str) -> str:
    return f'<div class="chart" id="{esc(anchor)}">{fig_html}</div>'


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ----------------------------------------------------------------------------- notebook

def repr_html(a: Analysis) -> str:
    """What an Analysis shows in Jupyter: summary cards and findings, styled inline."""
    body = (f'<div class="archlens-repr"><style>.archlens-repr{{font:13px/1.45 Helvetica,Arial,'
            f'sans-serif}}.archlens-repr .cards{{display:grid;grid-template-columns:repeat(4,'
            f'minmax(150px,1fr));gap:8px}}.archlens-repr .card{{border:1px solid #e3e8ee;'
            f'border-radius:6px;padding:8px 10px}}.archlens-repr .k{{color:#607080;font-size:11px;'
            f'text-transform:uppercase}}.archlens-repr .v{{font-size:18px;font-weight:600}}'
            f'.archlens-repr .s{{color:#607080;font-size:11px}}.archlens-repr .finding{{'
            f'margin:6px 0;padding:4px 8px;border-left:3px solid #e65100}}</style>'
            f'<b>{esc(a.model)}</b> <span style="color:#607080">{meta_line(a)}</span>'
            f"{summary_cards(a)}{findings_html(a.findings, a.totals.macs)}</div>")
    return body
