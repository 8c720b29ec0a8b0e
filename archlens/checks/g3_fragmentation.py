"""Guideline G3 (ShuffleNet V2): network fragmentation reduces the degree of parallelism.

A block that splits its input into many small parallel branches (an Inception module's four
branches) runs many small ops one after the other, each too small to fill the device, and
pays a launch and synchronisation cost per op: its share of the time exceeds its share of the
MACs.

* ``G3.fragmentation``: a block (the module that owns a concatenation or sum of
  ``g3-min-branches`` (4) or more branches) whose time share is ``g3-min-ratio`` (1.5x) or
  more its MAC share, and at least ``g3-min-share`` (1 %) of the model's time (info).
"""
from __future__ import annotations

from archlens.analysis import Finding
from archlens.checks._common import Context, is_conv, pct
from archlens.checks._guidelines import GUIDELINES, is_merge, ms, node_times
from archlens.checks._registry import rule
from archlens.checks.config import CheckConfig
from archlens.graph import Node

_WHY = f"Guideline G3: {GUIDELINES['G3'].lower()}"


def block_nodes(ctx: Context, module: str) -> list[Node]:
    prefix = module + "."
    return [nd for nd in ctx.graph.layers
            if nd.module_path == module or nd.module_path.startswith(prefix)]


@rule("G3.fragmentation", "many-branch block whose time share exceeds its MAC share")
def fragmentation(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """Many small parallel branches cost more time than their MACs say.

    **Guideline 3.** (Ma et al., ShuffleNet V2, ECCV 2018). Fragmented structures (several
    small convs and pools side by side, as in Inception modules) run as many small ops, each
    too small to use the device fully, with per-op overhead and synchronisation between them:
    they are slower than one op with the same MACs.

    **Measured** per block, the module owning a concatenation or sum of several branches:
    the block's share of the model's time beside its share of the MACs. Time: measured with a
    profile (`checks.run(..., profile=p)`, `archlens check --profile`), else the roofline
    estimate (which models traffic but not per-op overhead, so it rarely fires without a
    profile).

    **Thresholds.** `g3-min-branches` (4) branches or more; time share at least `g3-min-ratio`
    (1.5x) the MAC share and at least `g3-min-share` (1 %) of the model's time. Info.

    **Fix.** Fewer, wider branches: the 1x1 convs that read the block's input can run as one
    1x1 conv with their widths summed, split after. The finding gives the block's time above
    its MAC-proportional share: an upper bound of what the change can save.
    """
    times = node_times(ctx, cfg)
    total_t, total_m = times.total, ctx.total_macs
    if total_t <= 0 or total_m <= 0:
        return []
    found: list[Finding] = []
    seen: set[str] = set()
    for merge in ctx.graph.layers:
        if not is_merge(merge) or len(merge.inputs) < cfg.g3_min_branches or not merge.module:
            continue
        block = merge.module
        if block in seen:
            continue
        seen.add(block)
        nodes = block_nodes(ctx, block)
        names = {nd.name for nd in nodes}
        t = sum(times.seconds.get(nd.name, 0.0) for nd in nodes)
        m = sum(nd.macs for nd in nodes)
        t_share, m_share = t / total_t, m / total_m
        if t_share < cfg.g3_min_share or t_share < cfg.g3_min_ratio * m_share:
            continue
        excess = t - m_share * total_t
        # 1x1 convs reading the same tensor from outside the block: fusable into one
        readers: dict[str, list[Node]] = {}
        for nd in nodes:
            if is_conv(nd) and nd.kernel == (1, 1) and (nd.groups or 1) == 1 and nd.inputs \
                    and nd.inputs[0] not in names:
                readers.setdefault(nd.inputs[0], []).append(nd)
        fusable = max(readers.values(), key=len, default=[])
        fuse = ""
        if len(fusable) >= 2:
            width = sum(nd.out_shape[1] for nd in fusable)
            fuse = (f"; the {len(fusable)} 1x1 convs reading the block's input "
                    f"({', '.join(nd.name for nd in fusable[:4])}) can run as one 1x1 conv "
                    f"with {width} outputs, split after")
        ratio = t_share / m_share if m_share else float("inf")
        found.append(Finding(
            code="G3.fragmentation", severity="info", layers=(block,),
            message=(f"block {block} ({len(merge.inputs)} parallel branches, {len(nodes)} "
                     f"ops) takes {pct(t, total_t)} of the time for {pct(m, total_m)} of the "
                     f"MACs ({_WHY})"),
            evidence=(f"{ms(t)} of {ms(total_t)} ({times.source}); "
                      + (f"{ratio:.2f}x its MAC share" if m_share else "no MACs")),
            fix=(f"fewer, wider branches{fuse}; the block's time above its MAC-proportional "
                 f"share is {ms(excess)} (upper bound of the saving, estimate)"),
            data={"block": block, "branches": len(merge.inputs), "ops": len(nodes),
                  "time_ms": t * 1e3, "time_share": t_share, "mac_share": m_share,
                  "ratio": ratio if m_share else None, "excess_ms": excess * 1e3,
                  "fusable_1x1": [nd.name for nd in fusable] if len(fusable) >= 2 else [],
                  "time_source": "measured" if times.measured else "estimated"}))
    return found
