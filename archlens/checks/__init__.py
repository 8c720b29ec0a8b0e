"""Design-principle checks: the four principles of the Inception-v3 paper as a linter.

Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision", section 2.
Each rule is a pure function of the analysed graph, registered by code (see
``docs/principles.md``):

=========================== =============================================================
``P1.grid-reduction``       grid reduction that shrinks the trunk representation too much
``P1.channel-squeeze``      channel count collapses on the trunk at a constant grid
``P2.narrow-coarse``        coarser grid stage not wider than the finer stages before it
``P3.no-reduction``         wide kxk conv without a 1x1 channel reduction before it
``P3.factorize-large``      n x n conv (n >= 5) -> stacked 3x3 convs
``P3.factorize-asymmetric`` n x n conv on a 12..20 grid -> 1 x n then n x 1
``P4.param-concentration``  most parameters in the classifier head (or one layer)
``P4.stage-imbalance``      one grid stage does most of the convolution work
``P4.depth-width``          depth piled into one stage, or a network much deeper than wide
``G1.unequal-widths``       1x1 conv with very unequal input and output widths
``G2.group-count``          grouped conv whose groups raise its memory traffic at equal MACs
``G3.fragmentation``        many-branch block whose time share exceeds its MAC share
``G4.elementwise``          element-wise ops take a time share far above their MAC share
=========================== =============================================================

The G rules are ShuffleNet V2's guidelines (Ma et al. 2018, docs/guidelines.md): about time,
not representation, so they run when the checks get a profile (``profile=``) or when they are
selected by code (``select=["G"]``); they use measured times when a profile is given and the
roofline estimate of an assumed device otherwise.

>>> from archlens import checks
>>> findings = checks.run(analysis, select=["P1", "P3"])   # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from archlens.analysis import SEVERITIES, Analysis, Finding
from archlens.checks import p1_bottleneck, p2_local_width, p3_spatial_aggregation, p4_balance  # noqa: F401  (registration)
from archlens.checks import scope
from archlens.checks import g1_channel_balance, g2_group_count, g3_fragmentation, g4_elementwise  # noqa: F401  (registration)
from archlens.checks._common import Context
from archlens.checks._registry import PRINCIPLES, RULES, Rule, selected_codes
from archlens.checks.config import DEFAULTS, CheckConfig, from_mapping, load_config, resolve
from archlens.graph import Graph

__all__ = ["run", "summarize", "RULES", "PRINCIPLES", "Rule", "CheckConfig", "DEFAULTS",
           "load_config", "from_mapping", "selected_codes", "FACTORIZATION_CODES",
           "SCHEMA", "to_json"]

SCHEMA = "archlens.check/1"
FACTORIZATION_CODES = ("P3.factorize-large", "P3.factorize-asymmetric")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def run(analysis: Analysis | Graph, config: CheckConfig | Mapping[str, Any] | str |
        os.PathLike[str] | None = None, select: Iterable[str] | str | None = None,
        ignore: Iterable[str] | str | None = None, profile: Any = None
        ) -> tuple[Finding, ...]:
    """All findings of the selected rules, grouped by principle, most severe first.

    ``config``: a :class:`CheckConfig`, a mapping of settings, a TOML path, or None (the
    current directory's ``pyproject.toml`` ``[tool.archlens.check]``, else the defaults).
    ``select`` / ``ignore``: codes or prefixes (``"P1"``, ``"P3.factorize-large"``), as a list
    or a comma-separated string; they override / extend the config's own lists.
    ``profile``: an :class:`archlens.profile.Profile` of the same model: the G guidelines run
    and use its measured times (without it they run only when selected, with estimates).
    Unknown codes and bad settings raise :class:`~archlens.errors.ConfigError`.

    A model the principles do not apply to (no conv aggregates over space: a pure
    transformer) gets one ``scope.not-applicable`` info finding instead (see
    :mod:`archlens.checks.scope`), whatever is selected.
    """
    cfg = resolve(config)
    chosen = select if select is not None else cfg.select
    codes = selected_codes(chosen, [*_as_list(ignore), *cfg.ignore])
    if profile is None and not _names_guidelines(chosen):
        codes = [c for c in codes if not c.startswith("G")]
    graph = analysis.graph if isinstance(analysis, Analysis) else analysis
    ctx = Context.of(graph, profile)
    note = scope.not_applicable(ctx)
    findings: list[Finding] = []
    if note is not None:   # P1-P4 do not apply; the G guidelines (about time) still do
        codes = [c for c in codes if c.startswith("G")]
        if not codes:
            return (note,)
        findings.append(note)
    for code in codes:
        findings.extend(RULES[code].func(ctx, cfg))
    if cfg.aggregate:
        findings = _aggregate(findings)
    order = {c: i for i, c in enumerate(RULES)}

    def key(f: Finding) -> tuple:
        first = f.layers[0] if f.layers and f.layers[0] in graph else None
        return (f.principle, _RANK.get(f.severity, 9), order.get(f.code, 99),
                graph.position(first) if first else 0)
    return tuple(sorted(findings, key=key))


def _names_guidelines(select: Iterable[str] | str | None) -> bool:
    """True when a select list names a G rule or the G family explicitly."""
    items = [select] if isinstance(select, str) else list(select or ())
    return any(t.strip()[:1] in "gG" for item in items for t in str(item).split(","))


def _as_list(v: Iterable[str] | str | None) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def _aggregate(findings: list[Finding]) -> list[Finding]:
    """Merge repeated findings of one pattern into one (a handful of findings, not dozens).

    A rule marks a finding mergeable with ``data["group_key"]``: its *pattern*, e.g. the
    kernel, grid and stride of a factorization (not the channel counts, which differ from one
    Inception module to the next). Merged are

    * ``P3.no-reduction`` findings on one kernel and grid (VGG's convs of one stage): the fix
      is the same edit, repeated;
    * ``info`` findings of one rule on one pattern (GoogLeNet's 5x5 branches on the 14x14
      grid, its 3x3 branches there, ResNet's 3x3 convs on 14x14).

    Every ``warning`` (and ``error``) factorization keeps its own finding and layer: each is a
    conv a reviewer should look at on its own (the 17 convs ``inception_v3_unfactorized`` merged
    back, for example). The merged finding lists every layer with its own numbers, and its
    saving is the exact sum of theirs.
    """
    groups: dict[tuple, list[Finding]] = {}
    out: list[Finding | tuple] = []
    for f in findings:
        gk = f.data.get("group_key") if isinstance(f.data, dict) else None
        mergeable = gk is not None and (f.code == "P3.no-reduction" or f.severity == "info")
        if not mergeable:
            out.append(f)
            continue
        key = (f.code, f.severity, repr(gk))
        if key not in groups:
            groups[key] = []
            out.append(key)
        groups[key].append(f)
    merged: list[Finding] = []
    for item in out:
        if isinstance(item, Finding):
            merged.append(item)
        elif len(groups[item]) == 1:
            merged.append(groups[item][0])
        else:
            merged.append(_merge(groups[item]))
    return merged


_MEMBER_KEYS = ("intermediate_channels", "reduction_channels", "macs_before", "macs_after",
                "params_before", "params_after", "saving_fraction")


def _merge(fs: list[Finding]) -> Finding:
    """One finding for a group: every layer named, per-layer numbers in the evidence and in
    ``data["members"]``, savings summed exactly."""
    first = fs[0]
    k = len(fs)
    macs = sum((f.saving or {}).get("macs", 0) for f in fs)
    params = sum((f.saving or {}).get("params", 0) for f in fs)
    per_layer: dict[str, dict[str, int]] = {}
    for f in fs:
        per_layer.update(f.data.get("per_layer", {}))
    names = [f.layers[0] for f in fs]
    members = [{"layer": f.layers[0], **{key: f.data[key] for key in _MEMBER_KEYS
                                         if key in f.data}} for f in fs]
    data = {key: v for key, v in first.data.items()
            if key not in ("per_layer", "group_item", *_MEMBER_KEYS)}
    for key in ("intermediate_channels", "reduction_channels"):
        vals = {f.data.get(key) for f in fs}
        if len(vals) == 1 and None not in vals:
            data[key] = vals.pop()      # shared by all members: still one number
    data.update({"count": k, "per_layer": per_layer, "members": members,
                 "macs_before": sum(f.data.get("macs_before", 0) for f in fs),
                 "macs_after": sum(f.data.get("macs_after", 0) for f in fs)})
    shown = ", ".join(names[:3]) + (f" and {k - 3} more" if k > 3 else "")
    title = first.data.get("group_title")
    items = [f.data.get("group_item") for f in fs]
    if title and all(items):
        message = f"{k} layers ({shown}): {title}"
        evidence = "; ".join(items)
        fix = f"{first.data.get('group_fix') or first.fix}"
    else:  # a rule without group texts: the first finding stands for all
        message = f"{k} layers ({shown}): {first.message}"
        evidence = f"each like {names[0]}: {first.evidence}"
        fix = f"in each of the {k} layers, {first.fix}"
    return Finding(
        code=first.code, severity=first.severity, layers=tuple(names), message=message,
        evidence=evidence,
        fix=f"{fix}; together {macs:,} MACs and {params:,} params" if any(
            f.saving for f in fs) else fix,   # rules about time (G) save no MACs
        saving={"macs": macs, "params": params} if any(f.saving for f in fs) else None,
        data=data)


def summarize(findings: Sequence[Finding], analysis: Analysis | None = None) -> dict[str, Any]:
    """Counts and savings of a set of findings (what the renderers and the CLI summary show).

    ``saving`` is the total over layers, taking for each layer the largest saving any finding
    offers for it (the fixes of two findings on one layer are alternatives, not additive);
    ``saving_by_code`` sums per rule; ``factorization`` is the P3 factorization total.
    """
    counts = {s: 0 for s in SEVERITIES}
    by_principle = {p: 0 for p in PRINCIPLES}
    by_code: dict[str, int] = {}
    saving_by_code: dict[str, dict[str, int]] = {}
    best: dict[str, dict[str, int]] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
        by_principle[f.principle] = by_principle.get(f.principle, 0) + 1
        by_code[f.code] = by_code.get(f.code, 0) + 1
        if not f.saving:
            continue
        acc = saving_by_code.setdefault(f.code, {"macs": 0, "params": 0})
        acc["macs"] += f.saving.get("macs", 0)
        acc["params"] += f.saving.get("params", 0)
        per = f.data.get("per_layer") or {f.layers[0]: dict(f.saving)}
        for layer, s in per.items():
            cur = best.get(layer)
            if cur is None or s.get("macs", 0) > cur.get("macs", 0):
                best[layer] = {"macs": s.get("macs", 0), "params": s.get("params", 0)}
    fact = {"macs": 0, "params": 0, "findings": 0}
    for code in FACTORIZATION_CODES:
        s = saving_by_code.get(code)
        if s:
            fact["macs"] += s["macs"]
            fact["params"] += s["params"]
            fact["findings"] += by_code.get(code, 0)
    out: dict[str, Any] = {
        "findings": len(findings), "counts": counts, "by_principle": by_principle,
        "by_code": by_code,
        "saving": {"macs": sum(s["macs"] for s in best.values()),
                   "params": sum(s["params"] for s in best.values())},
        "saving_by_code": saving_by_code, "factorization": fact,
        "units": {"macs": "multiply-accumulates", "params": "count"},
    }
    if analysis is not None:
        out["total_macs"] = analysis.totals.macs
        out["total_params"] = analysis.totals.params
    return out


def to_json(analysis: Analysis, findings: Sequence[Finding],
            summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``archlens.check/1`` document (what ``archlens check --format json`` prints)."""
    return {"schema": SCHEMA, "model": analysis.model,
            "input_shape": list(analysis.input_shape),
            "findings": [f.to_dict() for f in findings],
            "summary": dict(summary) if summary is not None else summarize(findings, analysis)}
