"""report.md: the design-review summary for pull requests and design docs.

GitHub-flavoured Markdown renders inline HTML, so every model-supplied string is escaped
twice over: HTML entities for ``< > &`` (never markup) and a backslash before Markdown's
own punctuation (never emphasis, links or table breaks).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from archlens.analysis import SEVERITIES, Analysis, Finding
from archlens.render import _numbers as fmt
from archlens.sanitize import for_markdown

def md(text: object) -> str:
    """Escape a string for Markdown text and table cells (:func:`archlens.sanitize.for_markdown`)."""
    return for_markdown(text)


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A pipe table; cells must already be escaped. ``align``: one of l/r per column."""
    al = align or "l" * len(header)
    sep = ["---:" if a == "r" else "---" for a in al]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def summary_rows(a: Analysis) -> list[tuple[str, str]]:
    t = a.totals
    rf = a.feature_rf
    counts = ", ".join(f"{sum(f.severity == s for f in a.findings)} {s}" for s in SEVERITIES)
    return [
        ("Input", f"{fmt.shape(a.input_shape, batch=True)} (NCHW), {a.dtype}"),
        ("Parameters", f"{fmt.si(t.params)} ({t.params:,}; {t.trainable_params:,} trainable)"),
        ("MACs", f"{fmt.macs(t.macs)} ({t.macs:,} multiply-accumulates)"),
        ("Paper-profile MACs (conv + linear)", f"{fmt.macs(t.paper_macs)} ({t.paper_macs:,})"),
        ("Feature receptive field", f"{fmt.pair(rf.size)} px, effective stride "
                                    f"{fmt.pair(rf.stride)} px" if rf and rf.status == "exact"
                                    else fmt.rf(rf)),
        ("Stages", f"{len(a.stages)}: " + " > ".join(s.label for s in a.stages)),
        ("Weights / peak activations", f"{t.weight_bytes / 2**20:.1f} MiB / "
                                       f"{t.peak_activation_bytes / 2**20:.1f} MiB"),
        ("Findings", f"{len(a.findings)} ({counts})"),
    ]


def stages_md(a: Analysis) -> str:
    """The stage table (``Stage.text``) and its legend, as in report.html."""
    from archlens.metrics.stages import LEGEND, head_costs
    total = a.totals.macs
    rows = [(md(s.text), f"{s.layers:,}", f"{s.macs:,}", fmt.pct(s.macs, total),
             f"{s.params:,}") for s in a.stages]
    h = head_costs(a.graph)
    if h["layers"]:
        rows.append(("head: non-spatial layers", f"{h['layers']:,}", f"{h['macs']:,}",
                     fmt.pct(h["macs"], total), f"{h['params']:,}"))
    return md(LEGEND) + "\n\n" + table(("Stage: grid, effective stride", "Layers", "MACs",
                                          "% MACs", "Params"), rows, "lrrrr")


FINDING_CHARS = 110   # a table cell of the compact findings table at most this long
FIX_CHARS = 90


def short(text: str, n: int) -> str:
    """``text`` without its trailing ``(Principle ...)`` aside, cut at a word to at most ``n``
    characters (``...`` marks the cut); the full text is in report.html."""
    t = re.sub(r"\s*\((?:Principle|Guideline) [^()]*\)\s*$", "", str(text)).strip()
    if len(t) <= n:
        return t
    cut = t[:n - 3].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "..."


def findings_table(findings: Iterable[Finding], total_macs: int) -> str:
    """Compact: one row per distinct finding (identical ones on several layers grouped as
    ``x3: Mixed_5b, 5c, 5d``), the finding and its fix shortened to a line each
    (:data:`FINDING_CHARS`, :data:`FIX_CHARS`), the fix's saving or cost; the evidence and the
    full text are in report.html."""
    from archlens.render.findings import fix_cost_macs, repeats, totals_text, where
    from archlens.render.html import saving_text
    findings = list(findings)
    fs = sorted(findings, key=lambda f: (SEVERITIES.index(f.severity)
                                         if f.severity in SEVERITIES else 9, f.code))
    if not fs:
        return "No findings."
    rows = []
    for f, members in repeats(fs):
        each = " each" if len(members) > 1 else ""
        effect = [saving_text(f, total_macs).replace(" of total)", ")") + (each if f.saving else "")]
        cost = fix_cost_macs(f)
        if cost:
            effect.append(f"costs +{fmt.macs(cost)}{each}")
        rows.append((md(f.severity), md(f.code), md(where(members)),
                     md(short(f.message, FINDING_CHARS)), md(short(f.fix, FIX_CHARS)),
                     md("; ".join(e for e in effect if e))))
    total = totals_text(findings, total_macs)
    return ((md(total) + "\n\n") if total else "") + table(
        ("Severity", "Rule", "Where", "Finding", "Fix (full text in report.html)",
         "Saving / cost"), rows)


def _blocks_md(a: Analysis, blocks, pic: Callable[[str], str]) -> list[str]:
    """The most expensive blocks, one picture each (legible at its natural size)."""
    if not blocks:
        return []
    lines = ["### The most expensive blocks", ""]
    for file, name, macs, depth in blocks:
        how = "every layer" if depth is None else "its modules collapsed (too wide at full depth)"
        lines += [f"**{md(name)}**: {md(fmt.macs(macs))}, {md(fmt.pct(macs, a.totals.macs))} "
                  f"of the network; {how}.", "",
                  f"![{md(name)}, {md(how)}]({pic(file)})", ""]
    return lines


def report_md(a: Analysis, charts: Sequence[tuple[str, str]], *, graph_file: str | None,
              overview_file: str | None = None, assets: str | None = None,
              graph_note: str, png: bool, bench_md: str = "",
              sections: Sequence[tuple[str, str]] = (),
              inline: Callable[[str], str] | None = None,
              blocks: Sequence[tuple[str, str, int, int | None]] = ()) -> str:
    """``charts``: (file stem, title) in order; images are ``charts/<stem>.png`` when ``png``.
    ``overview_file``: the one-box-per-module graph shown in place of the full graph (which
    is linked); ``blocks``: (file, module, MACs, depth drawn) of the most expensive blocks
    drawn alone below it; ``assets``: URL prefix of every picture and link (default:
    relative); ``inline``: relative file -> ``data:`` URI, so every picture is inside the
    Markdown (``--md-inline``; the full graph is then named, not linked)."""
    base = (assets.rstrip("/") + "/") if assets else ""

    def pic(rel: str) -> str:
        return inline(rel) if inline is not None else base + rel

    lines = [f"# Design review: {md(a.model)}", "",
             f"Generated by `archlens report` (MACs are multiply-accumulates; FLOPs = 2 x MACs). "
             "Open `report.html` for the interactive charts, the full graph and the layer table.",
             "", "## Summary", "",
             table(("Quantity", "Value"), [(md(k), md(v)) for k, v in summary_rows(a)]), "",
             "## Stages", "", stages_md(a), "",
             "## Findings", "", findings_table(a.findings, a.totals.macs), "", "## Charts", ""]
    for stem, title in charts:
        if png:
            lines += [f"![{md(title)}]({pic(f'charts/{stem}.png')})", ""]
        else:
            lines += [f"- {md(title)}: `charts/{stem}.html` (interactive; "
                      "rendered inside report.html)", ""]
    if bench_md:
        lines += ["## Factorization bench", "", bench_md, ""]
    lines += ["## Graph", ""]
    if graph_file and overview_file:
        full = (f"`{graph_file}` in the report folder" if inline is not None
                else f"[{md(graph_file)}]({base}{graph_file})" if base else f"`{graph_file}`")
        lines += [f"![Overview of {md(a.model)}: one box per top-level module]"
                  f"({pic(overview_file)})", "",
                  "Every layer: " + full + " (or the pan/zoom viewer in report.html).", ""]
    elif graph_file:
        lines += [f"![Layer graph of {md(a.model)}]({pic(graph_file)})", ""]
    if graph_note:
        lines += [md(graph_note), ""]
    if graph_file and overview_file:
        lines += _blocks_md(a, blocks, pic)
    for title, body in sections:  # extra sections (trusted Markdown)
        lines += [f"## {md(title)}", "", body.rstrip(), ""]
    return "\n".join(lines)
