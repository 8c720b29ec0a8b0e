"""Design-check findings for people: a rich renderable for the terminal, Markdown, a summary.

Pure formatting of :class:`~archlens.analysis.Finding` objects and of the summary dict that
:func:`archlens.checks.summarize` computes (the renderer computes nothing). Numbers are exact
with thousands separators and their unit; MACs are multiply-accumulates.

    findings_renderable(findings, summary)  -> rich renderable (grouped by principle)
    findings_markdown(findings, summary)    -> str (a Markdown section; every model-supplied
                                               string escaped: md_text / md_code)
    summary_lines(summary)                  -> list[str] (the short summary, plain text)
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from archlens.analysis import SEVERITIES, Finding
from archlens.render._numbers import si
from archlens.sanitize import for_markdown, for_markdown_code, visible

PRINCIPLE_TITLES = {
    "P1": "Principle 1: avoid representational bottlenecks, especially early",
    "P2": "Principle 2: higher-dimensional representations are easier to process locally",
    "P3": "Principle 3: spatial aggregation over lower-dimensional embeddings",
    "P4": "Principle 4: balance the width and the depth of the network",
    "G1": "Guideline G1 (ShuffleNet V2): equal channel width minimizes memory access cost",
    "G2": "Guideline G2 (ShuffleNet V2): excessive group convolution increases memory access",
    "G3": "Guideline G3 (ShuffleNet V2): network fragmentation reduces parallelism",
    "G4": "Guideline G4 (ShuffleNet V2): element-wise operations are non-negligible",
}
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_ICON = {"error": "ERROR", "warning": "WARN", "info": "INFO"}


def _macs(v: int) -> str:
    s = si(abs(v))
    short = f" ({'-' if v < 0 else ''}{s})" if abs(v) >= 1000 else ""
    return f"{v:,} MACs{short}"


def _params(v: int) -> str:
    return f"{v:,} params"


def _saving(f: Finding) -> str | None:
    if not f.saving:
        return None
    m, p = f.saving.get("macs", 0), f.saving.get("params", 0)
    return f"{_macs(m)}, {_params(p)}"


def _grouped(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.principle, []).append(f)
    return [(p, groups[p]) for p in sorted(groups)]


def _layers(f: Finding, limit: int = 4) -> str:
    shown = ", ".join(f.layers[:limit])
    return shown + (f" (+{len(f.layers) - limit} more)" if len(f.layers) > limit else "")


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The short summary: counts, savings in MACs (labelled) and, when the CLI added a
    reference model, the factorization total next to the MAC difference to that reference."""
    c = summary.get("counts", {})
    lines = [f"{summary.get('findings', 0)} findings: "
             + ", ".join(f"{c.get(s, 0)} {s}" for s in SEVERITIES)]
    sv = summary.get("saving", {})
    if sv.get("macs") or sv.get("params"):
        total = summary.get("total_macs")
        share = f" = {100.0 * sv['macs'] / total:.1f} % of the model's {total:,} MACs" if (
            total) else ""
        lines.append(f"savings offered (best fix per layer): {_macs(sv.get('macs', 0))}"
                     f"{share}; {_params(sv.get('params', 0))}")
    fact = summary.get("factorization", {})
    ref = summary.get("reference")
    if fact.get("findings"):
        lines.append(f"factorization findings (P3.factorize-*): {fact['findings']}, "
                     f"total saving {_macs(fact['macs'])}, {_params(fact['params'])}")
    if ref:
        lines.append(f"MAC difference to {ref['model']}: {_macs(ref['mac_difference'])} "
                     f"({summary.get('total_macs', 0):,} - {ref['macs']:,} MACs)")
    return lines


def findings_renderable(findings: Sequence[Finding], summary: Mapping[str, Any] | None = None,
                        *, title: str | None = None):
    """A rich renderable: findings grouped by principle, each with severity, code, layers,
    message, evidence, fix and saving; then the summary lines."""
    from rich.console import Group
    from rich.rule import Rule
    from rich.text import Text

    parts: list[Any] = []
    if title:
        parts.append(Text(visible(title), style="bold"))
    if not findings:
        parts.append(Text("No findings: the design checks found nothing to flag.",
                          style="green"))
    for principle, fs in _grouped(findings):
        parts.append(Rule(PRINCIPLE_TITLES.get(principle, principle), align="left",
                          style="dim"))
        for f in fs:
            head = Text()
            head.append(f"{_ICON.get(f.severity, f.severity.upper()):<5} ",
                        style=_STYLE.get(f.severity, ""))
            head.append(visible(f.code), style="bold")
            head.append(f"  {visible(_layers(f))}", style="dim")
            parts.append(head)
            parts.append(Text(f"  {visible(f.message)}"))
            parts.append(Text.assemble(("  evidence: ", "dim"), visible(f.evidence)))
            if f.fix:
                parts.append(Text.assemble(("  fix: ", "dim"), visible(f.fix)))
            s = _saving(f)
            if s:
                parts.append(Text.assemble(("  saving: ", "dim"), (s, "green")))
    if summary is not None:
        parts.append(Rule(style="dim"))
        for line in summary_lines(summary):
            parts.append(Text(line, style="bold" if line.endswith(("error", "info")) else ""))
    return Group(*parts)


def md_text(text: object) -> str:
    """Model-supplied text (layer names end up in messages, evidence and fixes) for Markdown:
    :func:`archlens.sanitize.for_markdown`."""
    return for_markdown(text)


def md_code(text: object) -> str:
    """A Markdown code span for a name, safe for any content:
    :func:`archlens.sanitize.for_markdown_code`."""
    return for_markdown_code(text)


def findings_markdown(findings: Sequence[Finding], summary: Mapping[str, Any] | None = None,
                      *, title: str | None = "Design-principle findings", level: int = 2) -> str:
    """A Markdown section: a heading per principle, one bullet block per finding.

    Layer names come from the user's model, so every string is escaped (:func:`md_text`,
    :func:`md_code`): the section is safe to render with raw HTML enabled, as GitHub does."""
    h = "#" * level
    out: list[str] = []
    if title:
        out += [f"{h} {md_text(title)}", ""]
    if summary is not None:
        out += [f"- {md_text(line)}" for line in summary_lines(summary)] + [""]
    if not findings:
        out += ["No findings: the design checks found nothing to flag.", ""]
    for principle, fs in _grouped(findings):
        out += [f"{h}# {md_text(PRINCIPLE_TITLES.get(principle, principle))}", ""]
        for f in fs:
            out.append(f"- **{md_text(f.severity)}** {md_code(f.code)} — {md_text(f.message)}")
            out.append(f"  - layers: {', '.join(md_code(x) for x in f.layers)}")
            out.append(f"  - evidence: {md_text(f.evidence)}")
            if f.fix:
                out.append(f"  - fix: {md_text(f.fix)}")
            s = _saving(f)
            if s:
                out.append(f"  - saving: {md_text(s)}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------- repeats

def repeats(findings: Iterable[Finding]) -> list[tuple[Finding, list[Finding]]]:
    """Identical findings grouped: same rule, severity, message, evidence, fix and saving on
    different layers (Inception-v3's three 5x5 convs of Mixed_5b/5c/5d). Returns
    (representative, every member) in first-seen order."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        key = (f.code, f.severity, f.message, f.evidence, f.fix,
               tuple(sorted((f.saving or {}).items())))
        groups.setdefault(key, []).append(f)
    return [(fs[0], fs) for fs in groups.values()]


def where(members: Sequence[Finding]) -> str:
    """``Mixed_5b.branch5x5_2.conv`` or, for a group, ``x3: Mixed_5b, 5c, 5d
    (.branch5x5_2.conv)``: the first layers, their shared tail said once."""
    from archlens.diff import compress_names
    names = [f.layers[0] if f.layers else "" for f in members]
    if len(names) == 1:
        return names[0]
    heads = [n.split(".", 1)[0] for n in names]
    tails = {n.split(".", 1)[1] if "." in n else "" for n in names}
    if len(tails) == 1 and len(set(heads)) == len(heads):
        tail = next(iter(tails))
        return f"x{len(names)}: {compress_names(heads)}" + (f" (.{tail})" if tail else "")
    return f"x{len(names)}: {compress_names(names)}"


def fix_cost_macs(f: Finding) -> int:
    """MACs the fix ADDS (a cost, not a saving): a negative saving, or the parallel branch a
    P1 grid-reduction fix adds; 0 when the fix adds nothing."""
    m = (f.saving or {}).get("macs")
    if m is not None and m < 0:
        return -int(m)
    return int(f.data.get("parallel_branch_macs", 0) or 0) if f.data else 0


def totals(findings: Iterable[Finding]) -> dict[str, int]:
    """Summed over every finding (each instance of a group counts): MACs and params the
    fixes save, and MACs they cost."""
    out = {"macs_saved": 0, "params_saved": 0, "macs_cost": 0}
    for f in findings:
        s = f.saving or {}
        out["macs_saved"] += max(int(s.get("macs", 0) or 0), 0)
        out["params_saved"] += max(int(s.get("params", 0) or 0), 0)
        out["macs_cost"] += fix_cost_macs(f)
    return out


def totals_text(findings: Sequence[Finding], total_macs: int) -> str:
    """One line: ``Every fix applied: saves 78.5 M MACs (1.4 % of 5.73 G MACs) and 64.1 K
    params; costs 432 M MACs (the fixes that add a branch or width).``"""
    from archlens.render import _numbers as fmt
    t = totals(findings)
    if not any(t.values()):
        return ""
    parts = []
    if t["macs_saved"] or t["params_saved"]:
        parts.append(f"saves {fmt.macs(t['macs_saved'])} ({fmt.pct(t['macs_saved'], total_macs)}"
                     f" of {fmt.macs(total_macs)}) and {fmt.params(t['params_saved'])}")
    if t["macs_cost"]:
        parts.append(f"costs +{fmt.macs(t['macs_cost'])} (the fixes that add a branch or "
                     "width)")
    return "Every fix applied: " + "; ".join(parts) + "."
