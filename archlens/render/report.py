"""``archlens report``: the design-review folder of one analysis, written atomically.

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
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlens.analysis import Analysis
from archlens.render import _numbers as fmt
from archlens.sanitize import visible
from archlens.render.output import (Steps, atomic_dir, console_or_none, data_uri,
                                    default_out, fragment, fragment_file, plotly_js,
                                    png_backend, write_pngs)
from archlens.render.output import write as _write


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


@dataclass(frozen=True)
class Section:
    """An extra report section (e.g. ``--profile``): its anchor, title and body in both
    formats. Sections are appended after the built-in ones, in the order given."""

    id: str
    title: str
    html: str        # trusted HTML (the producer escapes model text with archlens.sanitize)
    markdown: str    # trusted Markdown


# ----------------------------------------------------------------------------- report

def write_report(a: Analysis, out: str | Path | None = None, *, depth: int | None = None,
                 png: bool = True, bench: str | Path | None = None, console: Any = None,
                 info: ReportInfo | None = None, sections: Sequence[Section] = (),
                 md_assets: str | None = None, md_inline: bool = False) -> Path:
    """Write the design-review report of one analysis; returns the report folder.

    ``console``: a rich Console for progress and the summary (None: a new one on stdout;
    False: silent). ``info``: filled with what was produced (for callers that show it).
    ``sections``: extra sections appended to report.html and report.md. ``md_assets``: a
    URL prefix for report.md's pictures (where CI publishes the folder), so the Markdown can
    be pasted into a pull request; default: links relative to the folder. ``md_inline``:
    report.md carries its pictures as ``data:`` URIs (one file, no links; GitHub strips
    data: images, so use ``md_assets`` there).
    """
    from archlens.render import charts as ch
    from archlens.render import graphviz as gv
    from archlens.render import html as H
    from archlens.render import markdown as M

    if not isinstance(a, Analysis):
        raise TypeError("write_report takes an Analysis (archlens.report analyses a model)")
    if md_inline and md_assets:
        from archlens.errors import ConfigError
        raise ConfigError("--md-inline and --md-assets exclude each other: inline the pictures "
                          "or link them under a URL")
    con = console_or_none(console)
    steps = Steps(con)
    out_dir = Path(out) if out is not None else default_out(a.model)
    info = info or ReportInfo(out=out_dir)
    info.out = out_dir
    bench_results = None
    if bench is not None:
        from archlens.bench.results import load_results
        bench_results = load_results(bench)

    with atomic_dir(out_dir) as tmp:
        # ---- graph
        svg = None
        blocks: list[tuple[str, str, int, int | None]] = []
        with steps.step("graph", "laying out the graph (graphviz dot)"):
            g = gv.build(a, depth=depth)
            info.graph_nodes, info.graph_depth, info.graph_columns = g.nodes, g.depth, g.columns
            info.notes.extend(n for n in g.notes if not n.startswith("identical blocks"))
            if g.folds:
                info.notes.append("identical blocks drawn once: " + "; ".join(g.folds))
            laid_out = None
            if gv.dot_binary() is None:
                info.notes.append(f"graphviz 'dot' not found: wrote graph.dot; "
                                  f"{gv.INSTALL_HINT}")
            else:
                t = time.perf_counter()
                try:
                    laid_out = gv.layout_shallower(a, g, info.notes)
                except gv.LayoutTimeout as e:  # not even depth 1 in time: keep the source
                    info.notes.append(f"{e.args[0].split(';')[0]} even at depth 1: wrote "
                                      "graph.dot (lay it out with 'dot -Tsvg graph.dot')")
            if laid_out is None:
                _write(tmp / "graph.dot", g.source)
                info.files.append("graph.dot")
            else:
                g, svg = laid_out
                info.graph_nodes, info.graph_depth = g.nodes, g.depth
                info.graph_columns = g.columns
                info.graph_seconds = time.perf_counter() - t
                size = gv.svg_size(svg)
                info.graph_aspect = size[1] / size[0] if size and size[0] else None
                _write(tmp / "graph.svg", svg)
                info.files.append("graph.svg")
                if g.depth is None or g.depth > 1:
                    # one box per top-level module: legible at page width (report.md)
                    ov = gv.build(a, depth=1, id_prefix="o")
                    _write(tmp / "graph_overview.svg",
                           gv.layout(ov.source, "svg").decode("utf-8"))
                    info.files.append("graph_overview.svg")
                    # and the most expensive blocks, each legible at its natural size
                    for i, (name, macs, bsvg, bdepth) in enumerate(
                            gv.block_pictures(a, notes=info.notes), 1):
                        _write(tmp / f"graph_block_{i}.svg", bsvg)
                        info.files.append(f"graph_block_{i}.svg")
                        blocks.append((f"graph_block_{i}.svg", name, macs, bdepth))

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
                _write(tmp / "charts" / f"{k}.html", fragment_file(frag))
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
                                                     bench_html, sections, g.fills))
            _write(tmp / "report.md", M.report_md(
                a, [(k, titles[k]) for k in figs], graph_file="graph.svg" if svg else None,
                overview_file="graph_overview.svg" if "graph_overview.svg" in info.files
                else None, blocks=blocks, assets=md_assets,
                graph_note=graph_note, png=pngs, bench_md=bench_md,
                sections=[(x.title, x.markdown) for x in sections],
                inline=(lambda rel: data_uri(tmp / rel)) if md_inline else None))
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
    from archlens.render.bench import bench_text
    from archlens.render.html import esc
    text = bench_text(results)
    return f"<pre class=\"mono\">{esc(text)}</pre>", "```\n" + text.rstrip() + "\n```"


def _report_html(a: Analysis, frags: dict[str, str], titles: dict[str, str], svg: str | None,
                 graph_note: str, bench_html: str, sections: Sequence[Section] = (),
                 fills: Sequence[tuple[str, str]] = ()) -> str:
    from archlens.render import html as H
    charts_html = "".join(H.chart_div(f, titles[k], f"c-{k}")
                          for k, f in frags.items() if not k.startswith("bench_"))
    bench_charts = "".join(f"<h3>{H.esc(titles[k])}</h3>" + H.chart_div(f, titles[k], f"c-{k}")
                           for k, f in frags.items() if k.startswith("bench_"))
    if svg:
        graph_html = H.graph_section(a, svg, graph_note, fills)
    else:
        graph_html = f'<p class="note">{H.esc(graph_note)}</p>'
    body = (f'<section id="summary"><h2>Summary</h2>{H.summary_cards(a)}</section>'
            f'<section id="stages"><h2>Stages</h2>{H.stages_html(a)}</section>'
            f'<section id="findings"><h2>Findings</h2>'
            f'{H.findings_html(a.findings, a.totals.macs)}</section>'
            f'<section id="charts"><h2>Charts</h2>{charts_html}</section>'
            + (f'<section id="bench"><h2>Factorization bench</h2>{bench_html}{bench_charts}'
               f'</section>' if bench_html or bench_charts else "")
            + f'<section id="graph"><h2>Layer graph</h2>{graph_html}</section>'
            f'<section id="layers"><h2>Layers</h2><p class="note">Every executed layer in '
            f'execution order; click a column to sort.</p>{H.layer_table(a)}</section>'
            + "".join(f'<section id="{H.esc(x.id)}"><h2>{H.esc(x.title)}</h2>{x.html}'
                      f'</section>' for x in sections))
    nav = [("summary", "Summary"), ("stages", "Stages"),
           ("findings", f"Findings ({len(a.findings)})"),
           ("charts", "Charts")] + ([("bench", "Bench")] if bench_html else []) + [
        ("graph", "Graph"), ("layers", "Layers")] + [(x.id, x.title) for x in sections]
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
                 if rf and rf.status == "exact" else fmt.rf(rf))
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



