"""Render a bench results document (``archlens.bench/1``): a rich table and plotly figures.

Entry points for the CLI, ``archlens report --bench FILE`` and the dashboard:

- :func:`bench_table` (results -> rich renderable, for a terminal)
- :func:`bench_text` (results -> plain aligned text, for a pipe or a file)
- :func:`bench_figures` (results -> ``{"ratio", "throughput", "latency"}`` plotly figures)
- :func:`bench_markdown` (results -> Markdown table, for report.md)
- :func:`charts_html` (results -> one offline HTML page with every figure)
- :func:`device_label` (one line naming the machine, threads and dtype)
- :func:`write_charts` (figures -> HTML with plotly.js inlined, and PNG through kaleido)

Nothing here measures or computes a metric: every number comes from the results document.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from archlens.render import _numbers as fmt

_GRID_COLOURS = {35: "#1f77b4", 17: "#d62728", 8: "#2ca02c"}
_OTHER_COLOUR = "#7f7f7f"
_BATCH_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x")


def device_label(results: dict[str, Any]) -> str:
    """``'CPU: AMD EPYC, 2 threads, float32 (shared 2-core VM)'``."""
    env = results.get("env", {})
    dev = str(env.get("device", "?")).upper()
    name = env.get("device_name") or "?"
    parts = [f"{dev}: {name}"]
    if env.get("device") == "cpu":
        n = env.get("threads")
        parts.append(f"{n} thread{'' if n == 1 else 's'}")
    parts.append(str(env.get("dtype", "?")) + (" channels-last" if env.get("channels_last")
                                               else ""))
    label = ", ".join(parts)
    if env.get("note"):
        label += f" ({env['note']})"
    return label


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def _lat(form: dict[str, Any]) -> str:
    lat = form["latency"]
    return f"{_ms(lat['median_s'])} ± {_ms(lat['iqr_s'] / 2)}"


HEADER = ("case", "batch", "MACs full → fact.", "MAC ratio", "full ms", "fact. ms",
          "latency ratio", "GMAC/s full / fact.", "runs", "spread")
_RIGHT = frozenset(range(1, len(HEADER)))   # every column but the case is right-aligned


def _caption() -> str:
    return ("latency: median ± IQR/2 over timed runs (ms); ratios: factorized / full; MACs = "
            "multiply-accumulates per call; spread: larger IQR / median of the two forms, "
            f"'noisy' above {100 * NOISY:.0f} %")


def _cases(results: dict[str, Any], kinds: Iterable[str] | None):
    wanted = set(kinds) if kinds is not None else None
    return [c for c in results.get("cases", []) if wanted is None or c["kind"] in wanted]


def _cells(c: dict[str, Any]) -> list[str]:
    """One row's cells as plain text (the same in the rich and the plain table)."""
    full, fact = c["full"], c["factorized"]
    v = spread(c)
    return [c.get("title", c["id"]), str(c["batch"]),
            f"{fmt.si(full['macs'])} → {fmt.si(fact['macs'])}", f"{c['mac_ratio']:.3f}",
            _lat(full), _lat(fact), f"{c['latency_ratio']:.3f}",
            f"{full['gmacs_per_s']:.1f} / {fact['gmacs_per_s']:.1f}",
            f"{full['latency']['runs']}/{fact['latency']['runs']}",
            f"{100 * v:.0f} %" + (" noisy" if v > NOISY else "")]


def bench_table(results: dict[str, Any], *, kinds: Iterable[str] | None = None):
    """A rich :class:`~rich.table.Table`: one row per case and batch size.

    Latency cells are ``median ± IQR/2`` in milliseconds; throughput in GMAC/s; ratios are
    factorized / full (below 1: the factorized form is cheaper / faster).
    """
    from rich.markup import escape
    from rich.table import Table

    from archlens.sanitize import for_terminal
    table = Table(title=f"Factorization bench — {for_terminal(device_label(results))}",
                  caption=_caption(), header_style="bold", caption_justify="left")
    for i, h in enumerate(HEADER):
        table.add_column(h, justify="right" if i in _RIGHT else "left")
    for c in _cases(results, kinds):
        cells = [escape(for_terminal(x)) for x in _cells(c)]
        lr, mr = c["latency_ratio"], c["mac_ratio"]
        # Green when the measured latency saving is at least the MAC saving, red when the
        # factorized form is slower outright.
        style = "green" if lr <= mr else ("red" if lr > 1 else "")
        if style:
            cells[6] = f"[{style}]{cells[6]}[/]"
        if spread(c) > NOISY:
            cells[9] = f"[yellow]{cells[9]}[/]"
        table.add_row(*cells)
    return table


def bench_text(results: dict[str, Any], *, kinds: Iterable[str] | None = None) -> str:
    """The same table as plain aligned text, for a pipe or a file (no colours, no box, no
    wrapping: every row is one line however wide, so ``grep``/``column`` and a log viewer read
    it; rich would squeeze it into 80 columns there)."""
    from archlens.sanitize import for_terminal
    rows = [[for_terminal(x) for x in _cells(c)] for c in _cases(results, kinds)]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(HEADER)]

    def line(cells) -> str:
        return "  ".join(x.rjust(w) if i in _RIGHT else x.ljust(w)
                         for i, (x, w) in enumerate(zip(cells, widths))).rstrip()
    out = [f"Factorization bench — {for_terminal(device_label(results))}", "", line(HEADER),
           "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    out += ["", _caption()]
    return "\n".join(out) + "\n"


NOISY = 0.5  # IQR / median above which a row is flagged: the machine was busy, trust it less


def spread(case: dict[str, Any]) -> float:
    """The larger IQR / median of the two forms (0.1 = the middle half of the runs lies
    within 10 % of the median)."""
    return max(case[f]["latency"]["iqr_s"] / case[f]["latency"]["median_s"]
               for f in ("full", "factorized"))


def bench_markdown(results: dict[str, Any]) -> str:
    """The table as GitHub Markdown (for report.md): same columns and units as
    :func:`bench_table`, plus the environment line and the notes."""
    head = ("| case | batch | MACs full → fact. | MAC ratio | full ms (median ± IQR/2) | "
            "fact. ms | latency ratio | GMAC/s full / fact. | runs | spread (IQR/median) |")
    rows = [f"**Factorization bench — {device_label(results)}**", "", head,
            "|" + "---|" * 2 + "---:|" * 8]
    for c in results.get("cases", []):
        full, fact = c["full"], c["factorized"]
        rows.append(
            f"| {c.get('title', c['id'])} | {c['batch']} | {fmt.si(full['macs'])} → "
            f"{fmt.si(fact['macs'])} | {c['mac_ratio']:.3f} | {_lat(full)} | {_lat(fact)} | "
            f"{c['latency_ratio']:.3f} | {full['gmacs_per_s']:.1f} / "
            f"{fact['gmacs_per_s']:.1f} | {full['latency']['runs']}/"
            f"{fact['latency']['runs']} | {100 * spread(c):.0f} %"
            + (" (noisy)" if spread(c) > NOISY else "") + " |")
    rows.append("")
    rows += [f"- {n}" for n in results.get("notes", [])]
    return "\n".join(rows) + "\n"


def _label(c: dict[str, Any]) -> str:
    return f"{c.get('title', c['id'])} · b{c['batch']}"


def bench_figures(results: dict[str, Any]) -> dict[str, Any]:
    """Plotly figures of a results document.

    - ``ratio``: measured latency ratio against theoretical MAC ratio, one colour per grid size
      (marker = batch size), with the line where latency follows MACs exactly.
    - ``throughput``: achieved GMAC/s of both forms per case (error bars from the IQR).
    - ``latency``: median latency of both forms per case with IQR error bars (ms, log axis).
    """
    import plotly.graph_objects as go

    cases = list(results.get("cases", []))
    where = device_label(results)
    batches = sorted({c["batch"] for c in cases})
    sym = {b: _BATCH_SYMBOLS[i % len(_BATCH_SYMBOLS)] for i, b in enumerate(batches)}

    from plotly.subplots import make_subplots

    ratio = make_subplots(rows=1, cols=max(len(batches), 1), shared_yaxes=True,
                          subplot_titles=[f"batch {b}" for b in batches] or None,
                          horizontal_spacing=0.04)
    col = {b: i + 1 for i, b in enumerate(batches)}
    groups: dict[tuple[str, int], list[dict]] = {}
    for c in cases:
        key = (f"{c['grid']}x{c['grid']} grid" if c["kind"] == "factorization"
               else "modules & networks", c["batch"])
        groups.setdefault(key, []).append(c)
    shown: set[str] = set()
    for (name, batch), cs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        grid = cs[0]["grid"] if cs[0]["kind"] == "factorization" else None
        # Spread of the ratio from the quartiles: fact q1 / full q3 .. fact q3 / full q1.
        lo = [c["factorized"]["latency"]["q1_s"] / c["full"]["latency"]["q3_s"] for c in cs]
        up = [c["factorized"]["latency"]["q3_s"] / c["full"]["latency"]["q1_s"] for c in cs]
        ys = [c["latency_ratio"] for c in cs]
        ratio.add_trace(go.Scatter(
            x=[c["mac_ratio"] for c in cs], y=ys, mode="markers", name=name,
            legendgroup=name, showlegend=name not in shown,
            marker=dict(size=9, symbol=sym[batch],
                        color=_GRID_COLOURS.get(grid, _OTHER_COLOUR) if grid
                        else "#000000", line=dict(width=1, color="white")),
            error_y=dict(type="data", array=[u - y for u, y in zip(up, ys)],
                         arrayminus=[y - v for v, y in zip(lo, ys)], thickness=1, width=3),
            text=[_label(c) for c in cs],
            hovertemplate="%{text}<br>MAC ratio %{x:.3f}<br>latency ratio %{y:.3f}"
                          "<extra></extra>"), row=1, col=col[batch])
        shown.add(name)
    hi = max([1.1] + [c["mac_ratio"] * 1.1 for c in cases])
    for b in batches:
        ratio.add_trace(go.Scatter(x=[0.05, hi], y=[0.05, hi], mode="lines",
                                   name="latency = MACs", legendgroup="diag",
                                   showlegend=b == batches[0],
                                   line=dict(dash="dash", color="#999999"), hoverinfo="skip"),
                        row=1, col=col[b])
        ratio.update_xaxes(title_text="MAC ratio, factorized / full (theoretical MACs)",
                           range=[0, hi], row=1, col=col[b])
    ratio.add_hline(y=1, line=dict(color="#bbbbbb", width=1))
    ratio.update_yaxes(type="log", title_text="latency ratio, factorized / full "
                                              "(median seconds, log scale)", row=1, col=1)
    ratio.update_layout(
        title=f"Latency ratio vs MAC ratio (factorized / full)<br><sup>{where}; bars: "
              "quartile spread (fact. q1 / full q3 to fact. q3 / full q1)</sup>",
        legend_title="grid size", template="plotly_white",
        width=max(700, 520 * len(batches) + 220), height=620)

    labels = [_label(c) for c in cases]

    def err(c: dict, form: str, gmacs: bool):
        lat = c[form]["latency"]
        if gmacs:
            g = c[form]["gmacs_per_s"]
            macs = c[form]["macs"]
            return (macs / lat["q1_s"] / 1e9 - g, g - macs / lat["q3_s"] / 1e9)
        return ((lat["q3_s"] - lat["median_s"]) * 1e3, (lat["median_s"] - lat["q1_s"]) * 1e3)

    def bars(gmacs: bool) -> "go.Figure":
        fig = go.Figure()
        for form, colour in (("full", "#4c72b0"), ("factorized", "#dd8452")):
            val = [c[form]["gmacs_per_s"] if gmacs else c[form]["latency"]["median_s"] * 1e3
                   for c in cases]
            e = [err(c, form, gmacs) for c in cases]
            fig.add_trace(go.Bar(
                y=labels, x=val, orientation="h", name=form, marker_color=colour,
                error_x=dict(type="data", array=[p for p, _ in e], arrayminus=[m for _, m in e],
                             thickness=1),
                text=[c[form]["label"] for c in cases], textposition="none",
                hovertemplate="%{y}<br>%{text}<br>%{x:.4g} "
                              + ("GMAC/s" if gmacs else "ms") + "<extra></extra>"))
        fig.update_layout(barmode="group", template="plotly_white", width=1100,
                          height=max(420, 34 * len(cases) + 160), legend_title="form",
                          yaxis=dict(autorange="reversed"), margin=dict(l=360))
        return fig

    throughput = bars(True)
    peaks = {c[f].get("percent_of_peak") for c in cases for f in ("full", "factorized")}
    peak_note = ("" if peaks - {None} else
                 " (device peak unknown: percent of peak not shown)")
    throughput.update_layout(
        title=f"Achieved throughput per case<br><sup>{where}{peak_note}</sup>",
        xaxis_title="achieved throughput (GMAC/s, median; bars: IQR)")
    latency = bars(False)
    latency.update_layout(title=f"Median latency per case<br><sup>{where}</sup>",
                          xaxis_title="latency per forward call (ms, log scale; bars: IQR)")
    latency.update_xaxes(type="log")
    return {"ratio": ratio, "throughput": throughput, "latency": latency}


def charts_html(results: dict[str, Any]) -> str:
    """One self-contained HTML page with every figure (plotly.js inlined once, opens offline),
    the environment line and the notes of the results."""
    from archlens.sanitize import for_html

    figs = bench_figures(results)
    parts = [fig.to_html(include_plotlyjs=(i == 0), full_html=False)
             for i, fig in enumerate(figs.values())]
    notes = "".join(f"<li>{for_html(str(n))}</li>" for n in results.get("notes", []))
    env = results.get("env", {})
    facts = ", ".join(f"{k}: {for_html(str(env.get(k)))}" for k in
                      ("torch", "onednn", "cudnn", "driver", "threads", "dtype",
                       "load_average_start", "load_average_end") if env.get(k) is not None)
    title = for_html(f"archlens factorization bench — {device_label(results)}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body style='font-family:sans-serif'><h1>{title}</h1><p>{facts}; created "
            f"{for_html(str(results.get('created', '?')))}</p><ul>{notes}</ul>"
            + "".join(parts) + "</body></html>")


def write_charts(results: dict[str, Any], out_dir: str | Path, *, png: bool = True,
                 prefix: str = "factorization") -> list[Path]:
    """Write ``<prefix>.html`` (all figures, plotly.js inlined once, opens offline) and, with
    ``png``, ``<prefix>_<name>.png`` per figure through kaleido (needs Chromium; a one-line
    :class:`~archlens.errors.MissingDependencyError` otherwise)."""
    from archlens.errors import MissingDependencyError, OutputError

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        page = out / f"{prefix}.html"
        from archlens.outputs import write_file
        write_file(page, charts_html(results), hint="choose a writable folder")
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write charts into {out}: {e.strerror or e}") from None
    written = [page]
    if png:
        for name, fig in bench_figures(results).items():
            p = out / f"{prefix}_{name}.png"
            try:
                fig.write_image(p, scale=1)
            except Exception as e:  # noqa: BLE001 - kaleido / Chromium absent or failing
                raise MissingDependencyError(
                    f"cannot write {p} ({type(e).__name__}: {str(e).splitlines()[0][:120]}); "
                    "install Chromium (apt-get install chromium) or pass --no-png") from None
            written.append(p)
    return written
