"""Views of a :class:`~archlens.profile.Profile`: a rich table and summary for the terminal, and
plotly figures (latency share beside MAC share, the roofline with its ridge point, a treemap).

Render never analyses: every number comes from the profile (its stored fields and the derived
values it computes). Times print in ms, throughput in GMAC/s (multiply-accumulates),
bandwidth in GB/s (10^9 bytes), intensity in MACs/byte; an estimate is labelled as one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from archlens.profile.result import LayerProfile, Profile
from archlens.sanitize import for_html, for_terminal, visible


def _ms(seconds: float | None, digits: int = 3) -> str:
    return "" if seconds is None else f"{seconds * 1e3:.{digits}f}"


def _pct(v: float | None, digits: int = 1) -> str:
    return "" if v is None else f"{100.0 * v:.{digits}f}"


def _t(text: object) -> str:
    """Model-supplied text for plotly (which renders a subset of HTML): always plain text."""
    return for_html(text)


def top_layers(p: Profile, n: int, sort: str = "latency") -> list[LayerProfile]:
    if sort == "order":
        return list(p.layers[:n])
    key = {"latency": lambda lp: lp.median_s, "macs": lambda lp: lp.macs,
           "bytes": lambda lp: lp.bytes}[sort]
    return sorted(p.layers, key=key, reverse=True)[:n]


@dataclass
class ProfileView:
    """``archlens profile``'s terminal output: the top layers, the blocks, the totals."""

    profile: Profile
    top: int = 15
    sort: str = "latency"
    depth: int | None = 1

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Group(self.layer_table(), self.block_table(), self.summary())

    def layer_table(self) -> Table:
        p = self.profile
        roof = p.roofline is not None
        t = Table(title=f"{for_terminal(p.model)}: {min(self.top, len(p.layers))} of {len(p.layers)} "
                        f"layers by {self.sort} ({p.device}, {p.dtype}, {p.threads} threads, "
                        f"batch {p.input_shape[0]})", title_justify="left")
        t.add_column("layer", overflow="fold")
        t.add_column("type")
        for col in ("median ms", "IQR ms", "time %", "MACs %", "GMAC/s"):
            t.add_column(col, justify="right")
        if roof:
            for col in ("roofline %", "bound", "estimate ms", "est. error %"):
                t.add_column(col, justify="right")
        for lp in top_layers(p, self.top, self.sort):
            row = p.layer_row(lp)
            ach = lp.achieved_macs_per_s
            cells = [Text(visible(lp.name)), Text(visible(lp.type)), _ms(lp.median_s), _ms(lp.iqr_s),
                     _pct(row["latency_share"]), _pct(row["mac_share"]),
                     "" if ach is None else f"{ach / 1e9:.1f}"]
            if roof:
                pr = p.percent_of_roofline(lp)
                err = p.estimate_error(lp)
                cells += ["" if pr is None else f"{pr:.0f}", p.bound(lp) or "",
                          _ms(p.estimate_s(lp)), "" if err is None else f"{100 * err:+.0f}"]
            t.add_row(*cells)
        return t

    def block_table(self) -> Table:
        p = self.profile
        t = Table(title=f"blocks (module depth {self.depth}): latency share beside MAC share",
                  title_justify="left")
        t.add_column("block", overflow="fold")
        for col in ("nodes", "median ms", "time %", "MACs %", "time / MACs"):
            t.add_column(col, justify="right")
        for b in p.blocks(self.depth or 1):
            ratio = (b["latency_share"] / b["mac_share"]
                     if b["mac_share"] and b["latency_share"] is not None else None)
            t.add_row(Text(visible(b["name"])), str(b["nodes"]), _ms(b["median_s"]),
                      _pct(b["latency_share"]), _pct(b["mac_share"]),
                      "" if ratio is None else f"{ratio:.2f}x")
        return t

    def summary(self) -> Text:
        p = self.profile
        lines = [
            f"whole model: median {_ms(p.whole_median_s)} ms (IQR "
            f"{_ms(p.whole_q3_s - p.whole_q1_s)} ms) over {p.repeats} passes, no profiler",
            f"sum of per-layer medians: {_ms(p.sum_median_s)} ms "
            f"({100 * p.overhead_fraction:+.1f} % of the whole-model median); unattributed "
            f"(between timed ops): {_ms(p.unattributed_s)} ms",
            f"MACs: {p.total_macs / 1e9:.3f} GMACs (multiply-accumulates); achieved "
            f"{p.total_macs / p.whole_median_s / 1e9:.1f} GMAC/s over the whole pass"
            if p.whole_median_s else f"MACs: {p.total_macs / 1e9:.3f} GMACs",
        ]
        if p.roofline is not None:
            r = p.roofline
            lines.append(f"roofline (measured): peak {r.peak_macs_per_s / 1e9:.1f} GMAC/s, "
                         f"bandwidth {r.bandwidth_bytes_per_s / 1e9:.1f} GB/s, ridge "
                         f"{r.ridge_macs_per_byte:.2f} MACs/byte ({r.method})")
            est = sum(p.estimate_s(lp) or 0.0 for lp in p.layers)
            lines.append(f"analytical estimate (max of compute and traffic time per layer, "
                         f"summed): {_ms(est)} ms")
        if p.missing:
            lines.append(f"{len(p.missing)} analysed nodes ran no op in the timed passes, "
                         f"no time: "
                         f"{visible(', '.join(p.missing[:5]))}")
        env = p.env
        dev = env.get("device_name") or p.device
        load = env.get("load_average_start")
        lines.append(f"device: {visible(dev)}; torch {env.get('torch', '?')}"
                     + (f"; cuDNN {env['cudnn']}; driver {env.get('driver')}"
                        if env.get("cudnn") else "")
                     + (f"; load average at start {load[0]:.2f}" if load else ""))
        return Text("\n".join(lines))


# ----------------------------------------------------------------------------------------
# plotly figures
# ----------------------------------------------------------------------------------------

def _layout(fig, title: str, height: int = 460):
    fig.update_layout(template="plotly_white", height=height,
                      title=dict(text=title, x=0.01, xanchor="left", font=dict(size=15)),
                      margin=dict(l=70, r=30, t=60, b=55),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right",
                                  x=1.0))
    return fig


def share_chart(p: Profile, depth: int = 1):
    """Per block: latency share beside MAC share (grouped bars, percent)."""
    import plotly.graph_objects as go
    blocks = p.blocks(depth)
    names = [_t(b["name"]) for b in blocks]
    fig = go.Figure()
    fig.add_bar(name="latency share (measured)", x=names,
                y=[100 * (b["latency_share"] or 0) for b in blocks], marker_color="#c62828",
                hovertext=[f"{n}<br>{b['median_s'] * 1e3:.3f} ms" for n, b in zip(names, blocks)],
                hoverinfo="text+y")
    fig.add_bar(name="MAC share", x=names, y=[100 * (b["mac_share"] or 0) for b in blocks],
                marker_color="#1f77b4",
                hovertext=[f"{n}<br>{b['macs'] / 1e6:.2f} MMACs" for n, b in zip(names, blocks)],
                hoverinfo="text+y")
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="share of the model (%)")
    fig.update_xaxes(title_text=f"block (module depth {depth}, execution order)")
    return _layout(fig, f"{_t(p.model)}: where the time goes vs where the MACs go "
                        f"({p.device}, {p.dtype})")


def roofline_chart(p: Profile):
    """Intensity (MACs/byte) vs achieved GMAC/s per layer on log axes, with the measured
    roofline (bandwidth slope, compute roof) and its ridge point."""
    import plotly.graph_objects as go
    fig = go.Figure()
    pts = [lp for lp in p.layers if lp.achieved_macs_per_s and lp.intensity]
    by_type: dict[str, list[LayerProfile]] = {}
    for lp in pts:
        by_type.setdefault(lp.type, []).append(lp)
    for typ, ls in sorted(by_type.items(), key=lambda kv: -len(kv[1])):
        fig.add_scatter(x=[lp.intensity for lp in ls],
                        y=[lp.achieved_macs_per_s / 1e9 for lp in ls], mode="markers",
                        name=_t(typ), hoverinfo="text",
                        hovertext=[f"{_t(lp.name)}<br>{lp.intensity:.2f} MACs/byte<br>"
                                   f"{lp.achieved_macs_per_s / 1e9:.2f} GMAC/s<br>"
                                   f"{lp.median_s * 1e3:.3f} ms" for lp in ls])
    if p.roofline is not None:
        r = p.roofline
        lo = min([lp.intensity for lp in pts] + [r.ridge_macs_per_byte / 100])
        hi = max([lp.intensity for lp in pts] + [r.ridge_macs_per_byte * 10])
        xs = [lo, r.ridge_macs_per_byte, hi]
        fig.add_scatter(x=xs, y=[r.attainable(x) / 1e9 for x in xs], mode="lines",
                        name="roofline (measured)", line=dict(color="#263238", width=2))
        fig.add_scatter(x=[r.ridge_macs_per_byte], y=[r.peak_macs_per_s / 1e9],
                        mode="markers+text", name="ridge point",
                        text=[f"ridge {r.ridge_macs_per_byte:.1f} MACs/byte"],
                        textposition="top left", marker=dict(size=10, symbol="diamond",
                                                            color="#263238"))
    fig.update_xaxes(type="log", title_text="arithmetic intensity (MACs / byte, log)")
    fig.update_yaxes(type="log", title_text="achieved throughput (GMAC/s, log)")
    return _layout(fig, f"{_t(p.model)}: roofline ({p.device}, {p.dtype})", height=520)


def treemap(p: Profile, depth: int = 2):
    """Measured time as a treemap: top-level blocks -> sub-blocks at ``depth`` -> layers."""
    import plotly.graph_objects as go
    ids, labels, parents, values = [], [], [], []
    seen: set[str] = set()
    root = _t(p.model)
    ids.append("(model)")
    labels.append(root)
    parents.append("")
    values.append(0.0)

    def ensure(path: list[str]) -> str:
        parent = "(model)"
        for i in range(len(path)):
            pid = "b:" + ".".join(path[:i + 1])
            if pid not in seen:
                seen.add(pid)
                ids.append(pid)
                labels.append(_t(path[i]))
                parents.append(parent)
                values.append(0.0)
            parent = pid
        return parent

    for lp in p.layers:
        parts = lp.module.split(".") if lp.module else []
        parent = ensure(parts[:depth]) if parts else "(model)"
        ids.append("n:" + lp.name)
        labels.append(_t(lp.name.rsplit(".", 1)[-1]))
        parents.append(parent)
        values.append(lp.median_s * 1e3)
    fig = go.Figure(go.Treemap(ids=ids, labels=labels, parents=parents, values=values,
                               branchvalues="remainder",
                               hovertemplate="%{label}<br>%{value:.3f} ms<extra></extra>"))
    return _layout(fig, f"{_t(p.model)}: measured time per block and layer (ms)", height=560)


FIGURES = {"shares": share_chart, "roofline": roofline_chart, "treemap": treemap}


# ----------------------------------------------------------------------------------------
# report section (HTML and Markdown): what `archlens report MODEL --profile ...` appends
# ----------------------------------------------------------------------------------------

def _summary_lines(p: Profile) -> list[str]:
    lines = [f"device: {p.env.get('device_name') or p.device}, {p.dtype}, {p.threads} "
             f"thread(s), batch {p.input_shape[0]}; {p.repeats} timed passes after "
             f"{p.warmup} warm-up",
             f"whole model: median {_ms(p.whole_median_s)} ms (no profiler); sum of per-layer "
             f"medians {_ms(p.sum_median_s)} ms ({100 * p.overhead_fraction:+.1f} %)"]
    if p.roofline is not None:
        r = p.roofline
        lines.append(f"roofline (measured): peak {r.peak_macs_per_s / 1e9:.1f} GMAC/s, "
                     f"bandwidth {r.bandwidth_bytes_per_s / 1e9:.1f} GB/s, ridge "
                     f"{r.ridge_macs_per_byte:.2f} MACs/byte")
    load = p.env.get("load_average_start")
    if load:
        lines.append(f"load average at start: {load[0]:.2f}")
    return lines


def _rows(p: Profile, top: int) -> list[list[str]]:
    rows = []
    for lp in top_layers(p, top):
        row = p.layer_row(lp)
        err = p.estimate_error(lp)
        ach = lp.achieved_macs_per_s
        rows.append([lp.name, lp.type, _ms(lp.median_s), _pct(row["latency_share"]),
                     _pct(row["mac_share"]), "" if ach is None else f"{ach / 1e9:.1f}",
                     p.bound(lp) or "", _ms(p.estimate_s(lp)),
                     "" if err is None else f"{100 * err:+.0f}"])
    return rows


_HEAD = ["layer", "type", "median ms", "time %", "MACs %", "GMAC/s", "bound", "estimate ms",
         "est. error %"]


def section_html(p: Profile, findings: Sequence = (), top: int = 15, depth: int = 1) -> str:
    """Trusted HTML of the report's "Latency profile" section: summary, the top layers, the
    share / roofline / treemap charts (plotly divs; the report page loads plotly.js once) and
    the G1-G4 findings. Model text goes through :func:`archlens.sanitize.for_html`."""
    parts = ["<ul>" + "".join(f"<li>{for_html(x)}</li>" for x in _summary_lines(p)) + "</ul>"]
    head = "".join(f"<th>{h}</th>" for h in _HEAD)
    body = "".join("<tr>" + "".join(f"<td>{for_html(c)}</td>" for c in r) + "</tr>"
                   for r in _rows(p, top))
    parts.append(f"<table class='profile'><thead><tr>{head}</tr></thead><tbody>{body}"
                 f"</tbody></table>")
    for key, fig in (("shares", share_chart(p, depth)), ("roofline", roofline_chart(p)),
                     ("treemap", treemap(p))):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False,
                                 div_id=f"profile-{key}"))
    g = [f for f in findings if f.code.startswith("G") or "measured_latency_ratio" in f.data]
    if g:
        parts.append("<h3>Measured guidelines and factorization latency</h3><ul>" + "".join(
            f"<li><b>{for_html(f.code)}</b> ({for_html(f.severity)}): {for_html(f.message)}"
            f"<br>evidence: {for_html(f.evidence)}<br>fix: {for_html(f.fix)}</li>" for f in g)
            + "</ul>")
    return "\n".join(parts)


def section_markdown(p: Profile, findings: Sequence = (), top: int = 15) -> str:
    """Markdown of the same section (table cells and model text via the Markdown sinks)."""
    from archlens.sanitize import for_markdown
    out = [f"- {x}" if i else f"- {for_markdown(x)}"   # only the first holds model text
           for i, x in enumerate(_summary_lines(p))]
    out += ["", "| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    out += ["| " + " | ".join([for_markdown(r[0]), for_markdown(r[1]), *r[2:]]) + " |"
            for r in _rows(p, top)]     # names are model text; the numbers are ours
    g = [f for f in findings if f.code.startswith("G") or "measured_latency_ratio" in f.data]
    if g:
        out += [""] + [f"- **{for_markdown(f.code)}** ({f.severity}): {for_markdown(f.message)}"
                       f" Fix: {for_markdown(f.fix)}" for f in g]
    return "\n".join(out) + "\n"


def figures(p: Profile, names: Sequence[str] = tuple(FIGURES)) -> dict[str, object]:
    return {n: FIGURES[n](p) for n in names}


LATENCY_LABEL = "latency share (measured)"


def latency_graph_html(analysis, p: Profile) -> str:
    """The layer graph twice, filled by the measured latency share and by the MAC share,
    with a radio toggle between them (CSS only, works offline); each in the pan/zoom viewer.
    Layers the profile did not time count as 0 s. Without graphviz's ``dot``: a one-line
    note instead of the graphs."""
    from archlens.errors import ArchlensError
    from archlens.render.graphviz import render_svg
    from archlens.render.viewer import viewer_html
    try:
        _, by_time = render_svg(analysis, colour_by=p.latency(), colour_label=LATENCY_LABEL,
                                id_prefix="lat")
        _, by_macs = render_svg(analysis, id_prefix="mac", fold=False)
    except ArchlensError as e:
        return f"<p>graph coloured by latency share not drawn: {for_html(e)}</p>"
    return (
        "<style>.lat-toggle input{margin-left:1em}#lat-by-macs-view{display:none}"
        "#lat-by-macs:checked~#lat-by-time-view{display:none}"
        "#lat-by-macs:checked~#lat-by-macs-view{display:block}</style>"
        "<div class='lat-toggle'><h3>Where the time goes in the graph</h3>"
        "<p>Fill colour: share of the measured per-layer latency (sum of per-layer medians) "
        "or share of the network's MACs (multiply-accumulates); same bins, same legend.</p>"
        "<input type='radio' name='lat-colour' id='lat-by-time' checked>"
        "<label for='lat-by-time'>latency share</label>"
        "<input type='radio' name='lat-colour' id='lat-by-macs'>"
        "<label for='lat-by-macs'>MAC share</label>"
        f"<div id='lat-by-time-view'>{viewer_html(by_time, box_id='pz-lat')}</div>"
        f"<div id='lat-by-macs-view'>{viewer_html(by_macs, box_id='pz-mac')}</div></div>")


def report_section(p: Profile, findings: Sequence = (), top: int = 15, depth: int = 1,
                   analysis=None):
    """The report's "Latency profile" section (:class:`archlens.render.report.Section`);
    with ``analysis`` (the profiled graph) it also holds the graph coloured by latency share
    with a toggle to MAC share."""
    from archlens.render.report import Section
    html = section_html(p, findings, top=top, depth=depth)
    md = section_markdown(p, findings, top=top)
    if analysis is not None:
        html += "\n" + latency_graph_html(analysis, p)
        md += "\nThe layer graph coloured by latency share (toggle: MAC share) is in report.html.\n"
    return Section(id="profile",
                   title=f"Latency profile ({p.device}, {p.dtype}, measured)",
                   html=html, markdown=md)
