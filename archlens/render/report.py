"""``archlens report`` and ``archlens compare``: the design-review folder, written atomically.

A report folder holds ``report.html`` (self-contained), ``report.md``, ``graph.svg``,
``analysis.json`` (the analysis contract), ``charts/<name>.html`` (embeddable fragments:
a ``<div>`` and its script, without plotly.js, which the host page loads once) and, when
a headless browser is available, ``charts/<name>.png`` rendered by kaleido in ONE browser
session. Everything is written to a hidden sibling folder first and moved into place at the
end, so a failed run leaves the previous report untouched and no half-written one.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlens.analysis import Analysis
from archlens.errors import ArchlensError, MissingDependencyError, OutputError
from archlens.render import _numbers as fmt
from archlens.sanitize import visible

PNG_WIDTH = 1000
PNG_SCALE = 1.5


@dataclass
class ReportInfo:
    """What a run produced (for the console summary and the tests)."""

    out: Path
    files: list[str] = field(default_factory=list)           # relative to out
    notes: list[str] = field(default_factory=list)
    graph_nodes: int | None = None
    graph_depth: int | None = None
    graph_columns: int | None = None
    graph_aspect: float | None = None
    graph_seconds: float | None = None
    timings: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers

def safe_name(name: str) -> str:
    """A folder name for a model reference (``pkg.mod:fn`` -> ``pkg.mod_fn``)."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return s or "model"


def default_out(name: str) -> Path:
    return Path("reports") / safe_name(name)


def _analyse(model: Any, input_shape, console) -> Analysis:
    if isinstance(model, Analysis):
        return model
    from archlens import api
    return api.analyze(model, input_shape, checks=True)


def atomic_dir(out: Path):
    """The report folder, written atomically and only over a folder archlens wrote:
    :func:`archlens.outputs.output_dir`."""
    from archlens.outputs import output_dir
    return output_dir(out)


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def png_backend() -> str | None:
    """Why static images cannot be made, or None when kaleido and a browser are present."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "kaleido is not installed (pip install kaleido)"
    if os.environ.get("BROWSER_PATH"):
        return None
    for exe in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                "chrome"):
        if shutil.which(exe):
            return None
    try:  # kaleido may have downloaded its own Chrome (kaleido_get_chrome)
        from choreographer.browsers.chromium import Chromium  # type: ignore
        Chromium.find_browser()  # type: ignore[attr-defined]
        return None
    except Exception:
        return ("no Chromium/Chrome found for PNG export; install it ('sudo apt-get install "
                "chromium') or run with --no-png")


def write_pngs(figs: dict[str, Any], folder: Path) -> list[str]:
    """All figures as PNG in one browser session (kaleido 1.x batch API)."""
    import plotly.io as pio
    names = list(figs)
    paths = [folder / f"{n}.png" for n in names]
    heights = [int(figs[n].layout.height or 450) for n in names]
    pio.write_images([figs[n] for n in names], paths, format="png", width=PNG_WIDTH,
                     height=heights, scale=PNG_SCALE)
    return [p.name for p in paths]


def fragment(fig: Any, div_id: str) -> str:
    import plotly.io as pio
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs
    return get_plotlyjs()


def _fragment_file(frag: str) -> str:
    import plotly
    return (f"<!-- archlens chart fragment: load plotly.js {plotly.__version__.split('+')[0]} "
            f"(or the version bundled with plotly.py {plotly.__version__}) before this. -->\n"
            + frag + "\n")


class _Steps:
    """Progress for the slow steps on a rich console: a live spinner while a step runs, one
    line with its time when it ends."""

    def __init__(self, console) -> None:
        self.console = console
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, key: str, text: str) -> Iterator[None]:
        from archlens.sanitize import for_terminal as escape
        t = time.perf_counter()
        if self.console is None:
            yield
            self.timings[key] = time.perf_counter() - t
            return
        with self.console.status(escape(text) + " ...", spinner="dots"):
            yield
        dt = time.perf_counter() - t
        self.timings[key] = dt
        self.console.print(f"[green]done[/] {escape(text)} [dim]({dt:.2f} s)[/]",
                           highlight=False)


def _console(console):
    if console is False:
        return None
    if console is None:
        from rich.console import Console
        return Console(stderr=False)
    return console


# ----------------------------------------------------------------------------- report

def write_report(model_or_analysis: Any, out: str | Path | None = None, *,
                 input_shape: Sequence[int] | str | None = None, depth: int | None = None,
                 png: bool = True, bench: str | Path | None = None, console: Any = None,
                 info: ReportInfo | None = None) -> Path:
    """Write the design-review report of one model; returns the report folder.

    ``console``: a rich Console for progress and the summary (None: a new one on stdout;
    False: silent). ``info``: filled with what was produced (for callers that show it).
    """
    from archlens.render import charts as ch
    from archlens.render import graphviz as gv
    from archlens.render import html as H
    from archlens.render import markdown as M

    con = _console(console)
    steps = _Steps(con)
    name = model_or_analysis.model if isinstance(model_or_analysis, Analysis) else (
        model_or_analysis if isinstance(model_or_analysis, str)
        else type(model_or_analysis).__name__)
    out_dir = Path(out) if out is not None else default_out(str(name))
    info = info or ReportInfo(out=out_dir)
    info.out = out_dir
    bench_results = None
    if bench is not None:
        from archlens.bench.results import load_results
        bench_results = load_results(bench)

    with steps.step("analyse", f"analysing {name}"):
        a = _analyse(model_or_analysis, input_shape, con)

    with atomic_dir(out_dir) as tmp:
        # ---- graph
        svg = None
        with steps.step("graph", "laying out the graph (graphviz dot)"):
            g = gv.build(a, depth=depth)
            info.graph_nodes, info.graph_depth, info.graph_columns = g.nodes, g.depth, g.columns
            info.notes.extend(n for n in g.notes if not n.startswith("identical blocks"))
            if g.folds:
                info.notes.append("identical blocks drawn once: " + "; ".join(g.folds))
            if gv.dot_binary() is None:
                _write(tmp / "graph.dot", g.source)
                info.files.append("graph.dot")
                info.notes.append(f"graphviz 'dot' not found: wrote graph.dot; "
                                  f"{gv.INSTALL_HINT}")
            else:
                t = time.perf_counter()
                svg = gv.layout(g.source, "svg").decode("utf-8")
                info.graph_seconds = time.perf_counter() - t
                size = gv.svg_size(svg)
                info.graph_aspect = size[1] / size[0] if size and size[0] else None
                _write(tmp / "graph.svg", svg)
                info.files.append("graph.svg")

        # ---- charts
        with steps.step("charts", "building charts (plotly)"):
            figs = ch.figures(a)
            titles = {k: v[0] for k, v in ch.CHARTS.items()}
            if bench_results is not None:
                from archlens.render.bench import bench_figures
                for k, f in bench_figures(bench_results).items():
                    figs[f"bench_{k}"] = f
                    titles[f"bench_{k}"] = f"Factorization bench: {k}"
            frags = {k: fragment(f, f"chart-{k}") for k, f in figs.items()}
            for k, frag in frags.items():
                _write(tmp / "charts" / f"{k}.html", _fragment_file(frag))
                info.files.append(f"charts/{k}.html")

        pngs = False
        if png:
            why = png_backend()
            if why:
                info.notes.append(why)
            else:
                with steps.step("png", f"rendering {len(figs)} PNGs (kaleido, one browser "
                                       "session)"):
                    try:
                        (tmp / "charts").mkdir(exist_ok=True)
                        info.files += [f"charts/{p}" for p in write_pngs(figs, tmp / "charts")]
                        pngs = True
                    except Exception as e:  # the browser failing must not lose the report
                        info.notes.append(f"PNG export failed ({type(e).__name__}: "
                                          f"{str(e).splitlines()[0] if str(e) else ''}); "
                                          "the HTML report has every chart")

        with steps.step("write", "writing report.html, report.md, analysis.json"):
            _write(tmp / "analysis.json", json.dumps(a.to_dict(), indent=1) + "\n")
            info.files.append("analysis.json")
            graph_note = _graph_note(info, g)
            bench_html = bench_md = ""
            if bench_results is not None:
                bench_html, bench_md = _bench_text(bench_results)
            _write(tmp / "report.html", _report_html(a, frags, titles, svg, graph_note,
                                                     bench_html))
            _write(tmp / "report.md", M.report_md(
                a, [(k, titles[k]) for k in figs], graph_file="graph.svg" if svg else None,
                graph_note=graph_note, png=pngs, bench_md=bench_md))
            info.files = ["report.html", "report.md"] + info.files
    info.timings = steps.timings
    if con is not None:
        con.print(summary(a, info))
    return out_dir


def _graph_note(info: ReportInfo, g) -> str:
    parts = [f"{g.nodes} nodes, {g.edges} edges, depth "
             f"{'full' if g.depth is None else g.depth}, {g.columns} column"
             f"{'s' if g.columns != 1 else ''}"]
    if info.graph_aspect:
        parts.append(f"height/width {info.graph_aspect:.2f}")
    note = "; ".join(parts) + "."
    if g.notes:
        note += " " + "; ".join(g.notes) + "."
    return note


def _bench_text(results) -> tuple[str, str]:
    from rich.console import Console

    from archlens.render.bench import bench_table
    from archlens.render.html import esc
    c = Console(width=120, record=True, file=open(os.devnull, "w"), color_system=None)
    c.print(bench_table(results))
    text = c.export_text()
    return f"<pre class=\"mono\">{esc(text)}</pre>", "```\n" + text.rstrip() + "\n```"


def _report_html(a: Analysis, frags: dict[str, str], titles: dict[str, str], svg: str | None,
                 graph_note: str, bench_html: str) -> str:
    from archlens.render import html as H
    charts_html = "".join(H.chart_div(f, titles[k], f"c-{k}")
                          for k, f in frags.items() if not k.startswith("bench_"))
    bench_charts = "".join(f"<h3>{H.esc(titles[k])}</h3>" + H.chart_div(f, titles[k], f"c-{k}")
                           for k, f in frags.items() if k.startswith("bench_"))
    if svg:
        graph_html = (f'<p class="note">{H.esc(graph_note)} Fill: share of MACs; outline: '
                      f'finding; S<i>k</i>: stage (grid size). <button class="zoom" '
                      f'data-target="graphbox">actual size</button></p>'
                      f'<div class="graph" id="graphbox">{H.inline_svg(svg)}</div>')
    else:
        graph_html = f'<p class="note">{H.esc(graph_note)}</p>'
    body = (f'<section id="summary"><h2>Summary</h2>{H.summary_cards(a)}</section>'
            f'<section id="findings"><h2>Findings</h2>'
            f'{H.findings_html(a.findings, a.totals.macs)}</section>'
            f'<section id="charts"><h2>Charts</h2>{charts_html}</section>'
            + (f'<section id="bench"><h2>Factorization bench</h2>{bench_html}{bench_charts}'
               f'</section>' if bench_html or bench_charts else "")
            + f'<section id="graph"><h2>Layer graph</h2>{graph_html}</section>'
            f'<section id="layers"><h2>Layers</h2><p class="note">Every executed layer in '
            f'execution order; click a column to sort.</p>{H.layer_table(a)}</section>')
    nav = [("summary", "Summary"), ("findings", f"Findings ({len(a.findings)})"),
           ("charts", "Charts")] + ([("bench", "Bench")] if bench_html else []) + [
        ("graph", "Graph"), ("layers", "Layers")]
    return H.page(f"Design review: {a.model}", H.meta_line(a), nav, body,
                  plotly_js=H_plotly())


def H_plotly() -> str:  # noqa: N802 - kept separate so tests can count inclusions
    return plotly_js()


# ----------------------------------------------------------------------------- console

def summary(a: Analysis, info: ReportInfo):
    """The end-of-run summary (a rich renderable; no timings, so it is reproducible)."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    t = a.totals
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rf = a.feature_rf
    grid.add_row("parameters", f"{fmt.si(t.params)} ({t.params:,})")
    grid.add_row("MACs", f"{fmt.macs(t.macs)} ({t.macs:,}); conv + linear "
                         f"{fmt.macs(t.paper_macs)}")
    grid.add_row("feature RF", f"{fmt.pair(rf.size)} px, stride {fmt.pair(rf.stride)} px"
                 if rf else "n/a")
    sev = {s: sum(f.severity == s for f in a.findings) for s in ("error", "warning", "info")}
    grid.add_row("findings", f"{len(a.findings)} ({sev['error']} error, {sev['warning']} "
                             f"warning, {sev['info']} info)")
    if info.graph_nodes is not None:
        g = (f"{info.graph_nodes} nodes, depth {'full' if info.graph_depth is None else info.graph_depth}"
             f", {info.graph_columns} column{'s' if info.graph_columns != 1 else ''}")
        if info.graph_aspect:
            g += f", height/width {info.graph_aspect:.2f}"
        grid.add_row("graph", g)
    grid.add_row("", "")
    grid.add_row("folder", Text(f"{visible(info.out)}{os.sep}", overflow="fold"))
    top = [f for f in info.files if "/" not in f]
    grid.add_row("wrote", Text(", ".join(top), overflow="fold"))
    sub: dict[str, dict[str, int]] = {}
    for f in info.files:
        if "/" in f:
            d, name = f.rsplit("/", 1)
            ext = name.rsplit(".", 1)[-1]
            sub.setdefault(d, {}).setdefault(ext, 0)
            sub[d][ext] += 1
    for d, exts in sub.items():
        grid.add_row("", Text(f"{d}/: " + ", ".join(f"{n} .{e}" for e, n in exts.items()),
                              overflow="fold"))
    parts: list[Any] = [grid]
    for n in info.notes:
        parts.append(Text(f"note: {visible(n)}", style="yellow"))
    return Panel(Group(*parts), title=Text(f"archlens report: {visible(a.model)}"),
                 title_align="left", border_style="cyan", expand=False)


# ----------------------------------------------------------------------------- compare

def write_compare(a: Any, b: Any, out: str | Path | None = None, *,
                  input_shape: Sequence[int] | str | None = None, png: bool = True,
                  console: Any = None) -> Path:
    """Write a side-by-side report of two models: totals with deltas, per-stage deltas, and
    the findings present in one and not the other. Returns the folder."""
    from archlens.render import charts as ch
    from archlens.render import html as H
    from archlens.render import markdown as M

    con = _console(console)
    steps = _Steps(con)
    names = [x.model if isinstance(x, Analysis) else (x if isinstance(x, str)
                                                      else type(x).__name__) for x in (a, b)]
    out_dir = Path(out) if out is not None else Path("reports") / (
        f"{safe_name(names[0])}_vs_{safe_name(names[1])}")
    with steps.step("analyse", f"analysing {names[0]} and {names[1]}"):
        aa = _analyse(a, input_shape, con)
        bb = _analyse(b, input_shape, con)
    files: list[str] = []
    notes: list[str] = []
    with atomic_dir(out_dir) as tmp:
        with steps.step("charts", "building charts (plotly)"):
            figs = ch.compare_figures(aa, bb)
            titles = {"stage_deltas": "Per-stage MACs and parameters",
                      "representation": "Representation size along depth"}
            frags = {k: fragment(f, f"chart-{k}") for k, f in figs.items()}
            for k, frag in frags.items():
                _write(tmp / "charts" / f"{k}.html", _fragment_file(frag))
                files.append(f"charts/{k}.html")
        pngs = False
        if png:
            why = png_backend()
            if why:
                notes.append(why)
            else:
                with steps.step("png", f"rendering {len(figs)} PNGs (kaleido)"):
                    try:
                        files += [f"charts/{p}" for p in write_pngs(figs, tmp / "charts")]
                        pngs = True
                    except Exception as e:
                        notes.append(f"PNG export failed ({type(e).__name__}); the HTML "
                                     "report has every chart")
        with steps.step("write", "writing report.html, report.md, compare.json"):
            data = compare_data(aa, bb)
            _write(tmp / "compare.json", json.dumps(data, indent=1) + "\n")
            _write(tmp / "report.html", _compare_html(aa, bb, data, frags, titles))
            _write(tmp / "report.md", _compare_md(aa, bb, data, titles, pngs))
            files = ["report.html", "report.md", "compare.json"] + files
    if con is not None:
        from rich.panel import Panel
        from rich.text import Text
        body = Text()
        short_unit = {"multiply-accumulates": "MACs", "elements": "elements", "input px": "px"}
        for row in data["totals"]:
            unit = short_unit.get(row["unit"], "params" if row["quantity"] == "parameters" else "")
            if row["unit"] == "input px":  # small exact integers: no SI prefix
                va, vb, d = f"{row['a']} px", f"{row['b']} px", f"{row['b'] - row['a']:+d} px"
            else:
                va = f"{fmt.si(row['a'])} {unit}".rstrip()
                vb = f"{fmt.si(row['b'])} {unit}".rstrip()
                d = f"{fmt.signed(row['b'] - row['a'])} {unit}".rstrip()
            body.append(f"{row['quantity']:<19} {va:>15} -> {vb:>15}  ({d})\n")
        body.append(f"findings only in {aa.model}: {len(data['only_a'])}; only in {bb.model}: "
                    f"{len(data['only_b'])}\n")
        body.append("wrote ", style="bold")
        body.append(f"{visible(out_dir)}{os.sep}: " + ", ".join(f for f in files if "/" not in f)
                    + f", charts/ ({sum('/' in f for f in files)} files)\n")
        for n in notes:
            body.append(f"note: {visible(n)}\n", style="yellow")
        con.print(Panel(body, title=Text(f"archlens compare: {visible(aa.model)} vs "
                                         f"{visible(bb.model)}"),
                        title_align="left", border_style="cyan", expand=False))
    return out_dir


def _finding_key(f) -> tuple[str, str]:
    return (f.code, f.layers[0] if f.layers else "")


def compare_data(a: Analysis, b: Analysis) -> dict[str, Any]:
    """The numbers of a comparison (also written as compare.json)."""
    from archlens.render import charts as ch
    ta, tb = a.totals, b.totals
    rf_a = a.feature_rf.size[0] if a.feature_rf else 0
    rf_b = b.feature_rf.size[0] if b.feature_rf else 0
    totals = [
        {"quantity": "parameters", "unit": "count", "a": ta.params, "b": tb.params},
        {"quantity": "MACs", "unit": "multiply-accumulates", "a": ta.macs, "b": tb.macs},
        {"quantity": "paper-profile MACs", "unit": "multiply-accumulates",
         "a": ta.paper_macs, "b": tb.paper_macs},
        {"quantity": "activations", "unit": "elements", "a": ta.activations,
         "b": tb.activations},
        {"quantity": "feature RF", "unit": "input px", "a": rf_a, "b": rf_b},
        {"quantity": "layers", "unit": "count", "a": len(a.graph.layers),
         "b": len(b.graph.layers)},
        {"quantity": "findings", "unit": "count", "a": len(a.findings), "b": len(b.findings)},
    ]
    sa, sb = ch.stage_table(a), ch.stage_table(b)
    stages = [{"stage": s, "macs_a": sa.get(s, {}).get("macs", 0),
               "macs_b": sb.get(s, {}).get("macs", 0),
               "params_a": sa.get(s, {}).get("params", 0),
               "params_b": sb.get(s, {}).get("params", 0)} for s in ch.stage_order(a, b)]
    ka = {_finding_key(f): f for f in a.findings}
    kb = {_finding_key(f): f for f in b.findings}
    return {"schema": "archlens.compare/1", "a": a.model, "b": b.model,
            "input_shape_a": list(a.input_shape), "input_shape_b": list(b.input_shape),
            "totals": totals, "stages": stages,
            "only_a": [ka[k].to_dict() for k in ka if k not in kb],
            "only_b": [kb[k].to_dict() for k in kb if k not in ka],
            "both": [list(k) for k in ka if k in kb]}


def _delta_cell(va: int, vb: int) -> tuple[str, str]:
    d = vb - va
    rel = f" ({d / va:+.1%})" if va and d else ""
    cls = "delta-neg" if d < 0 else "delta-pos" if d > 0 else ""
    return fmt.signed(d) + rel, cls


def _compare_html(a: Analysis, b: Analysis, data, frags, titles) -> str:
    from archlens.analysis import Finding
    from archlens.render import html as H
    rows = []
    for r in data["totals"]:
        d, cls = _delta_cell(r["a"], r["b"])
        rows.append(f"<tr><td>{H.esc(r['quantity'])} <span class=\"note\">({H.esc(r['unit'])})"
                    f"</span></td><td class=\"n\">{r['a']:,}</td><td class=\"n\">{r['b']:,}</td>"
                    f"<td class=\"n {cls}\">{H.esc(d)}</td></tr>")
    totals = (f"<table><thead><tr><th>quantity</th><th class=\"n\">{H.esc(a.model)}</th>"
              f"<th class=\"n\">{H.esc(b.model)}</th><th class=\"n\">B - A</th></tr></thead>"
              f"<tbody>{''.join(rows)}</tbody></table>")
    srows = []
    for s in data["stages"]:
        dm, cm = _delta_cell(s["macs_a"], s["macs_b"])
        dp, cp = _delta_cell(s["params_a"], s["params_b"])
        srows.append(f"<tr><td>{H.esc(s['stage'])}</td><td class=\"n\">{s['macs_a']:,}</td>"
                     f"<td class=\"n\">{s['macs_b']:,}</td><td class=\"n {cm}\">{H.esc(dm)}</td>"
                     f"<td class=\"n\">{s['params_a']:,}</td><td class=\"n\">{s['params_b']:,}"
                     f"</td><td class=\"n {cp}\">{H.esc(dp)}</td></tr>")
    stages = ("<table><thead><tr><th>stage (grid)</th><th class=\"n\">MACs A</th>"
              "<th class=\"n\">MACs B</th><th class=\"n\">delta</th><th class=\"n\">params A</th>"
              "<th class=\"n\">params B</th><th class=\"n\">delta</th></tr></thead><tbody>"
              + "".join(srows) + "</tbody></table>")

    def fl(ds, total: int) -> str:
        fs = [Finding(code=d["code"], severity=d["severity"], layers=tuple(d["layers"]),
                      message=d["message"], evidence=d["evidence"], fix=d.get("fix", ""),
                      saving=d.get("saving"), data=d.get("data", {})) for d in ds]
        return H.findings_html(fs, total) if fs else '<p class="note">none</p>'

    charts = "".join(H.chart_div(f, titles[k], f"c-{k}") for k, f in frags.items())
    body = (f'<section id="summary"><h2>Totals</h2><p class="note">A = {H.esc(a.model)} '
            f'(input {H.esc(fmt.shape(a.input_shape, batch=True))}), B = {H.esc(b.model)} '
            f'(input {H.esc(fmt.shape(b.input_shape, batch=True))}). Deltas are B - A; '
            f'green = B is cheaper.</p>{totals}</section>'
            f'<section id="stages"><h2>Per-stage deltas</h2>{stages}</section>'
            f'<section id="findings"><h2>Findings</h2>'
            f'<h3>Only in {H.esc(a.model)} ({len(data["only_a"])})</h3>{fl(data["only_a"], a.totals.macs)}'
            f'<h3>Only in {H.esc(b.model)} ({len(data["only_b"])})</h3>{fl(data["only_b"], b.totals.macs)}'
            f'<p class="note">{len(data["both"])} findings (same rule, same layer) in both.</p>'
            f'</section><section id="charts"><h2>Charts</h2>{charts}</section>')
    nav = [("summary", "Totals"), ("stages", "Stages"), ("findings", "Findings"),
           ("charts", "Charts")]
    meta = H.esc(f"A: {a.model} · B: {b.model} · MACs are multiply-accumulates")
    return H.page(f"Comparison: {a.model} vs {b.model}", meta, nav, body, plotly_js=H_plotly())


def _compare_md(a: Analysis, b: Analysis, data, titles, pngs: bool) -> str:
    from archlens.render.markdown import md, table
    rows = []
    for r in data["totals"]:
        d, _ = _delta_cell(r["a"], r["b"])
        rows.append((md(f"{r['quantity']} ({r['unit']})"), f"{r['a']:,}", f"{r['b']:,}", md(d)))
    srows = []
    for s in data["stages"]:
        dm, _ = _delta_cell(s["macs_a"], s["macs_b"])
        dp, _ = _delta_cell(s["params_a"], s["params_b"])
        srows.append((md(s["stage"]), f"{s['macs_a']:,}", f"{s['macs_b']:,}", md(dm),
                      f"{s['params_a']:,}", f"{s['params_b']:,}", md(dp)))

    def fl(ds) -> str:
        if not ds:
            return "none"
        return table(("Severity", "Rule", "Layer", "Finding"),
                     [(md(d["severity"]), md(d["code"]), md(d["layers"][0] if d["layers"] else ""),
                       md(d["message"])) for d in ds])

    lines = [f"# Comparison: {md(a.model)} vs {md(b.model)}", "",
             "A = " + md(a.model) + ", B = " + md(b.model) + ". Deltas are B - A; MACs are "
             "multiply-accumulates.", "", "## Totals", "",
             table(("Quantity", "A", "B", "B - A"), rows, "lrrr"), "", "## Per-stage deltas", "",
             table(("Stage (grid)", "MACs A", "MACs B", "delta", "params A", "params B", "delta"),
                   srows, "lrrrrrr"), "",
             f"## Findings only in {md(a.model)}", "", fl(data["only_a"]), "",
             f"## Findings only in {md(b.model)}", "", fl(data["only_b"]), "", "## Charts", ""]
    for k, t in titles.items():
        lines += [f"![{md(t)}](charts/{k}.png)" if pngs else f"- {md(t)}: `charts/{k}.html`", ""]
    return "\n".join(lines)
