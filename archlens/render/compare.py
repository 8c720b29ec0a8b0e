"""``archlens compare``: a :class:`~archlens.diff.Diff` (and the two analyses, for graphs and
charts) as a folder -- report.html, report.md, compare.json, graph_a.svg / graph_b.svg with
the changed layers outlined, charts -- or as Markdown / JSON text for bots. Render only: the
numbers all come from the Diff."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from archlens.analysis import Analysis, Finding
from archlens.diff import Diff
from archlens.render import _numbers as fmt
from archlens.render.output import (Steps, atomic_dir, console_or_none, data_uri,
                                    fragment, fragment_file, plotly_js, png_backend,
                                    safe_name, write_pngs)
from archlens.render.output import write as _write
from archlens.sanitize import for_html as esc
from archlens.sanitize import for_markdown as md
from archlens.sanitize import visible

TITLES = {"stage_deltas": "Per-stage MACs and parameters (aligned by stage index)",
          "representation": "Representation size along depth (aligned by stage)"}
_UNIT_SHORT = {"multiply-accumulates": "MACs", "count": "", "elements": "elements",
               "bytes": "bytes", "input px": "px"}


def default_out(a: str, b: str) -> Path:
    return Path("reports") / f"{safe_name(a)}_vs_{safe_name(b)}"


# ----------------------------------------------------------------------------- cells

delta = fmt.delta


def _value(v: int, unit: str) -> str:
    if unit in ("input px", "count") and abs(v) < 10_000:
        return f"{v:,}{' px' if unit == 'input px' else ''}"
    return f"{fmt.si(v)} {_UNIT_SHORT.get(unit, unit)}".rstrip() + f" ({v:,})"


def _rf(p) -> str:
    return f"{fmt.pair(p)} px" if p else ""


def change_rows(d: Diff) -> list[tuple[str, ...]]:
    """(status, layer, what changed, A, B, MACs B - A, params B - A, RF A -> B): the module
    diff table of both formats."""
    rows = []
    for c in d.changes:
        rf = "" if c.rf_a == c.rf_b else f"{_rf(c.rf_a) or '-'} -> {_rf(c.rf_b) or '-'}"
        rows.append((c.status, c.name, ", ".join(c.kinds), c.a or "-", c.b or "-",
                     delta(c.macs_a, c.macs_b), delta(c.params_a, c.params_b), rf))
    return rows


def stage_rows(d: Diff) -> list[tuple[str, ...]]:
    rows = []
    for s in d.stages:
        rows.append((s.key, s.text_a.partition(": ")[2] or s.text_a or "-",
                     s.text_b.partition(": ")[2] or s.text_b or "-",
                     f"{s.macs_a:,}", f"{s.macs_b:,}", delta(s.macs_a, s.macs_b),
                     f"{s.params_a:,}", f"{s.params_b:,}", delta(s.params_a, s.params_b)))
    return rows


STAGE_HEADER = ("Stage", "grid A", "grid B", "MACs A", "MACs B", "MACs B - A", "params A",
                "params B", "params B - A")
CHANGE_HEADER = ("Status", "Layer", "Changed", "A", "B", "MACs B - A", "params B - A",
                 "RF A -> B")


def counts_text(d: Diff) -> str:
    c = d.to_dict()["counts"]
    return (f"{c['changed']} changed, {c['added']} added, {c['removed']} removed, "
            f"{c['same']} the same (layer units: an op with its BN/activation; "
            f"{d.units_a} in A, {d.units_b} in B)")


# ----------------------------------------------------------------------------- markdown

def _md_table(header, rows, align="") -> str:
    from archlens.render.markdown import table
    return table([md(h) for h in header], [[md(x) for x in r] for r in rows], align)


def _md_findings(fs) -> str:
    if not fs:
        return "none"
    return _md_table(("Severity", "Rule", "Layer", "Finding"),
                     [(f.severity, f.code, f.layers[0] if f.layers else "", f.message)
                      for f in fs])


def compare_md(d: Diff, *, images: dict[str, str] | None = None, budgets=()) -> str:
    """The comparison as Markdown (``report.md``, ``--format markdown``). ``images``: title
    -> link of each picture to embed; ``budgets``: :class:`archlens.budgets.Outcome` list."""
    lines = [f"# Comparison: {md(d.a)} vs {md(d.b)}", "", f"**{md(d.headline)}**", "",
             f"A = {md(d.a)} (input {md(fmt.shape(d.input_shape_a, batch=True))}), B = "
             f"{md(d.b)} (input {md(fmt.shape(d.input_shape_b, batch=True))}). Deltas are "
             "B - A; MACs are multiply-accumulates.", ""]
    lines += [f"> note: {md(n)}" for n in d.notes] + ([""] if d.notes else [])
    if budgets:
        lines += ["## Budgets", ""] + [f"- {'FAIL' if o.exceeded else 'ok'}: {md(o.message)}"
                                       for o in budgets] + [""]
    lines += ["## Totals", "",
              _md_table(("Quantity", "A", "B", "B - A"),
                        [(f"{t.quantity} ({t.unit})", *total_cells(t)) for t in d.totals],
                        "lrrr"), "",
              "## Module diff", "", md(counts_text(d)), ""]
    if d.changes:
        lines += [_md_table(CHANGE_HEADER, change_rows(d), "llllllrrl"), ""]
    lines += ["## Per-stage deltas (aligned by stage index)", "",
              _md_table(STAGE_HEADER, stage_rows(d), "lllrrrrrr"), "",
              f"## Findings only in {md(d.a)}", "", _md_findings(d.only_a), "",
              f"## Findings only in {md(d.b)}", "", _md_findings(d.only_b), "",
              f"{len(d.both)} findings (same rule, same layer) in both.", ""]
    if images:
        lines += ["## Pictures", ""]
        for title, link in images.items():
            lines += [f"![{md(title)}]({link})", ""]
    return "\n".join(lines)


def compare_json(d: Diff, budgets=()) -> dict[str, Any]:
    doc = d.to_dict()
    if budgets:
        doc["budgets"] = [{"expr": o.budget.text, "exceeded": o.exceeded, "message": o.message}
                          for o in budgets]
    return doc


# ----------------------------------------------------------------------------- html

def _side(v: int | None, status: str) -> str:
    return f"{v:,}" if v is not None else {"global": "global (whole input)"}.get(status, status)


def total_cells(t) -> tuple[str, str, str]:
    """(A, B, B - A) of a :class:`~archlens.diff.Total`: a quantity without a number (a
    ``global`` or ``unknown`` feature RF) shows its status and no delta -- never 0."""
    if t.known:
        return f"{t.a:,}", f"{t.b:,}", delta(t.a, t.b)
    sa, sb = t.status_a or "exact", t.status_b or "exact"
    why = f"both {sa}" if sa == sb else f"A {sa}, B {sb}"
    return _side(t.a, t.status_a), _side(t.b, t.status_b), f"n/a ({why})"


def _cls(va: int, vb: int) -> str:
    return "delta-neg" if vb < va else "delta-pos" if vb > va else ""


def _html_table(header, rows, numeric: set[int], classes=None) -> str:
    th = "".join(f'<th class="n">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
                 for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        tds = []
        for i, x in enumerate(row):
            cl = " ".join(c for c in (("n" if i in numeric else ""),
                                      (classes[r].get(i, "") if classes else "")) if c)
            tds.append(f'<td class="{cl}">{esc(x)}</td>' if cl else f"<td>{esc(x)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _findings_html(fs: tuple[Finding, ...], total: int) -> str:
    from archlens.render import html as H
    return H.findings_html(fs, total) if fs else '<p class="note">none</p>'


def compare_html(d: Diff, a: Analysis, b: Analysis, frags: dict[str, str],
                 graphs: dict[str, str], budgets=()) -> str:
    from archlens.render import html as H
    totals = _html_table(("quantity", d.a, d.b, "B - A"),
                         [(f"{t.quantity} ({t.unit})", *total_cells(t)) for t in d.totals],
                         {1, 2, 3},
                         [{3: _cls(t.a, t.b) if t.known else ""} for t in d.totals])
    changes = (_html_table(CHANGE_HEADER, change_rows(d), {5, 6},
                           [{0: f"st-{c.status}", 5: _cls(c.macs_a, c.macs_b),
                             6: _cls(c.params_a, c.params_b)} for c in d.changes])
               if d.changes else '<p class="note">no layer differs</p>')
    stages = _html_table(STAGE_HEADER, stage_rows(d), {3, 4, 5, 6, 7, 8},
                         [{5: _cls(s.macs_a, s.macs_b), 8: _cls(s.params_a, s.params_b)}
                          for s in d.stages])
    budget_html = ""
    if budgets:
        budget_html = ('<section id="budgets"><h2>Budgets</h2><ul>' + "".join(
            f'<li class="{"delta-pos" if o.exceeded else "delta-neg"}">{esc(o.message)}</li>'
            for o in budgets) + "</ul></section>")
    graph_html = ""
    if graphs:
        from archlens.render.viewer import viewer_html
        graph_html = ('<section id="graphs"><h2>Graphs side by side</h2><p class="note">'
                      'Outline: <b style="color:#6a1b9a">changed</b>, <b style="color:#2e7d32">'
                      'added</b> (only in B), <b style="color:#c62828">removed</b> (only in A). '
                      'Wheel or +/- to zoom, drag to pan.</p><div class="side">'
                      + "".join(f'<div><h3>{esc(t)}</h3>{viewer_html(svg, box_id=f"pz-{k}")}'
                                f'</div>' for k, (t, svg) in graphs.items())
                      + "</div></section>")
    charts = "".join(H.chart_div(f, TITLES[k], f"c-{k}") for k, f in frags.items())
    notes = "".join(f'<p class="note">note: {esc(n)}</p>' for n in d.notes)
    body = (f'<section id="summary"><h2>Summary</h2><p class="headline">{esc(d.headline)}'
            f'</p><p class="note">A = {esc(d.a)} (input '
            f'{esc(fmt.shape(d.input_shape_a, batch=True))}), B = {esc(d.b)} (input '
            f'{esc(fmt.shape(d.input_shape_b, batch=True))}). Deltas are B - A; green = B is '
            f'cheaper.</p>{notes}{totals}</section>{budget_html}'
            f'<section id="modules"><h2>Module diff</h2><p class="note">{esc(counts_text(d))}'
            f'</p>{changes}</section>'
            f'<section id="stages"><h2>Per-stage deltas</h2><p class="note">Stages aligned by '
            f'index (S0 = the input grid; a new stage where both sides halve), whatever '
            f'their grids.</p>{stages}</section>{graph_html}'
            f'<section id="findings"><h2>Findings</h2>'
            f'<h3>Only in {esc(d.a)} ({len(d.only_a)})</h3>{_findings_html(d.only_a, a.totals.macs)}'
            f'<h3>Only in {esc(d.b)} ({len(d.only_b)})</h3>{_findings_html(d.only_b, b.totals.macs)}'
            f'<p class="note">{len(d.both)} findings (same rule, same layer) in both.</p>'
            f'</section><section id="charts"><h2>Charts</h2>{charts}</section>')
    nav = [("summary", "Summary")] + ([("budgets", "Budgets")] if budgets else []) + [
        ("modules", f"Module diff ({len(d.changes)})"), ("stages", "Stages")] + (
        [("graphs", "Graphs")] if graphs else []) + [("findings", "Findings"),
                                                      ("charts", "Charts")]
    meta = esc(f"A: {d.a} · B: {d.b} · MACs are multiply-accumulates")
    return H.page(f"Comparison: {d.a} vs {d.b}", meta, nav, body, plotly_js=plotly_js())


# ----------------------------------------------------------------------------- folder

def highlights(d: Diff) -> tuple[dict[str, str], dict[str, str]]:
    """Layer name -> status for A's and B's graphs (factor pairs outlined on their side)."""
    ha: dict[str, str] = {}
    hb: dict[str, str] = {}
    for c in d.changes:
        if c.status in ("changed", "removed"):
            ha[c.name] = c.status
        if c.status in ("changed", "added"):
            hb[c.name] = c.status
        for f in c.factors:
            ha.setdefault(f, "changed")
            hb.setdefault(f, "changed")
    return ha, hb


def _graphs(d: Diff, a: Analysis, b: Analysis, tmp: Path, files: list[str],
            notes: list[str]) -> dict[str, tuple[str, str]]:
    from archlens.render import graphviz as gv
    if gv.dot_binary() is None:
        notes.append(f"graphviz 'dot' not found: no graphs; {gv.INSTALL_HINT}")
        return {}
    ha, hb = highlights(d)
    out = {}
    for key, an, hl in (("a", a, ha), ("b", b, hb)):
        g = gv.build(an, highlight=hl, id_prefix=f"g{key}")
        svg = gv.layout(g.source, "svg").decode("utf-8")
        _write(tmp / f"graph_{key}.svg", svg)
        files.append(f"graph_{key}.svg")
        out[key] = (f"{'A' if key == 'a' else 'B'}: {an.model}", svg)
    return out


def write_compare(d: Diff, a: Analysis, b: Analysis, out: str | Path | None = None, *,
                  png: bool = True, console: Any = None, budgets=(),
                  md_assets: str | None = None, md_inline: bool = False) -> Path:
    """Write the comparison folder of ``d`` (analyses ``a``, ``b`` for graphs and charts).
    ``md_assets``: a URL prefix for report.md's pictures (so it can be pasted into a pull
    request); ``md_inline``: the pictures inside report.md as ``data:`` URIs (GitHub strips
    those: use ``md_assets`` there); default: relative links. Returns the folder."""
    if md_inline and md_assets:
        from archlens.errors import ConfigError
        raise ConfigError("--md-inline and --md-assets exclude each other: inline the pictures "
                          "or link them under a URL")
    from archlens.render import charts as ch
    con = console_or_none(console)
    steps = Steps(con)
    out_dir = Path(out) if out is not None else default_out(d.a, d.b)
    files: list[str] = []
    notes: list[str] = []
    with atomic_dir(out_dir) as tmp:
        with steps.step("graph", "laying out both graphs (graphviz dot)"):
            graphs = _graphs(d, a, b, tmp, files, notes)
        with steps.step("charts", "building charts (plotly)"):
            figs = ch.compare_figures(d, a, b)
            frags = {k: fragment(f, f"chart-{k}") for k, f in figs.items()}
            for k, frag in frags.items():
                _write(tmp / "charts" / f"{k}.html", fragment_file(frag))
                files.append(f"charts/{k}.html")
        pngs = False
        if png:
            why = png_backend()
            if why:
                notes.append(why)
            else:
                with steps.step("png", f"rendering {len(figs)} PNGs (kaleido)"):
                    try:
                        (tmp / "charts").mkdir(exist_ok=True)
                        files += [f"charts/{p}" for p in write_pngs(figs, tmp / "charts")]
                        pngs = True
                    except Exception as e:  # the browser failing must not lose the report
                        notes.append(f"PNG export failed ({type(e).__name__}); the HTML "
                                     "report has every chart")
        with steps.step("write", "writing report.html, report.md, compare.json"):
            _write(tmp / "compare.json", json.dumps(compare_json(d, budgets), indent=1) + "\n")
            _write(tmp / "report.html", compare_html(d, a, b, frags, graphs, budgets))
            base = (md_assets.rstrip("/") + "/") if md_assets else ""

            def pic(rel: str) -> str:
                return data_uri(tmp / rel) if md_inline else base + rel
            images = {}
            for k, (title, _) in graphs.items():
                images[f"graph of {title} (changes outlined)"] = pic(f"graph_{k}.svg")
            if pngs:
                images.update({t: pic(f"charts/{k}.png") for k, t in TITLES.items()})
            _write(tmp / "report.md", compare_md(d, images=images, budgets=budgets))
            files = ["report.html", "report.md", "compare.json"] + files
    if con is not None:
        con.print(console_summary(d, out_dir, files, notes))
    return out_dir


def console_summary(d: Diff, out_dir: Path | None, files=(), notes=()):
    """The end-of-run panel: headline, totals with units, counts, what was written."""
    from rich.panel import Panel
    from rich.text import Text
    body = Text()
    body.append(visible(d.headline) + "\n\n")
    for t in d.totals:
        if t.key.startswith("findings."):
            continue
        unit = _UNIT_SHORT.get(t.unit, "")
        if not t.known:
            va, vb, dl = total_cells(t)
            va, vb = (f"{x} {unit}".rstrip() if x[:1].isdigit() else x for x in (va, vb))
        elif t.unit == "bytes":
            va, vb = f"{t.a / 2**20:.1f} MiB", f"{t.b / 2**20:.1f} MiB"
            dl = f"{t.delta / 2**20:+.1f} MiB"
        elif t.unit in ("input px", "count"):
            va, vb = f"{t.a:,} {unit}".rstrip(), f"{t.b:,} {unit}".rstrip()
            dl = f"{t.delta:+,} {unit}".rstrip()
        else:
            va, vb = f"{fmt.si(t.a)} {unit}", f"{fmt.si(t.b)} {unit}"
            dl = f"{fmt.signed(t.delta)} {unit}".rstrip()
        body.append(f"{t.quantity:<23} {va:>16} -> {vb:>16}  ({dl})\n")
    body.append(counts_text(d) + "\n")
    body.append(f"findings only in {visible(d.a)}: {len(d.only_a)}; only in {visible(d.b)}: "
                f"{len(d.only_b)}\n")
    if out_dir is not None:
        body.append("wrote ", style="bold")
        body.append(f"{visible(out_dir)}{os.sep}: " + ", ".join(f for f in files if "/" not in f)
                    + f", charts/ ({sum('/' in f for f in files)} files)\n")
    for n in [*d.notes, *notes]:
        body.append(f"note: {visible(n)}\n", style="yellow")
    return Panel(body, title=Text(f"archlens compare: {visible(d.a)} vs {visible(d.b)}"),
                 title_align="left", border_style="cyan", expand=False)
