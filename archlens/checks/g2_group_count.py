"""Guideline G2 (ShuffleNet V2): excessive group convolution increases memory access cost.

A ``g``-grouped ``k x k`` conv ``c1 -> c2`` on an ``h x w`` output map does ``B =
h*w*k*k*c1*c2/g`` MACs and moves ``h*w*(c1 + c2) + k*k*c1*c2/g`` elements; the ungrouped
conv with the same MACs has ``sqrt(g)`` times fewer channels on each side and moves
``h*w*(c1 + c2)/sqrt(g) + k*k*c1*c2/g``. The ratio of the two is the memory traffic the groups
add at equal MACs (for ``k = 1`` this is the paper's eq. 2).

* ``G2.group-count``: a grouped conv with ``g-min-groups`` (2) or more groups that is not
  depthwise (depthwise convs, ``g = c1 = c2``, are the building block the paper recommends)
  and whose traffic at equal MACs is ``g2-min-excess`` (1.25x) or more that of the ungrouped
  conv (info).
"""
from __future__ import annotations

import math

from archlens.analysis import Finding
from archlens.checks._common import Context, kxk, n
from archlens.checks._guidelines import GUIDELINES, ms, node_times
from archlens.checks._registry import rule
from archlens.checks.config import CheckConfig

_WHY = f"Guideline G2: {GUIDELINES['G2'].lower()}"


def grouped_cost(h: int, w: int, c1: int, c2: int, area: int, g: int) -> float:
    """Elements moved by a ``g``-grouped conv with a kernel of ``area`` taps: maps in and out,
    and its weights."""
    return h * w * (c1 + c2) + area * c1 * c2 / g


def equal_macs_ungrouped_cost(h: int, w: int, c1: int, c2: int, area: int, g: int) -> float:
    """Elements moved by the ungrouped conv with the same MACs (widths / sqrt(g))."""
    return h * w * (c1 + c2) / math.sqrt(g) + area * c1 * c2 / g


@rule("G2.group-count", "grouped conv whose groups raise its memory traffic at equal MACs")
def group_count(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """Many groups buy MACs with memory traffic.

    **Guideline 2.** (Ma et al., ShuffleNet V2, ECCV 2018). At equal MACs, a grouped conv is
    wider than the ungrouped one (it can afford `sqrt(g)` times more channels on each side), so
    it reads and writes larger maps: the memory access cost grows with the group count, and
    memory-bound layers run slower although their MAC count did not change.

    **Measured** per grouped conv (`1 < g`, not depthwise) with _c1_ inputs, _c2_ outputs, a
    `k x k` kernel on an `h x w` output map: elements moved `hw(c1 + c2) + k² c1 c2 / g`
    against `hw(c1 + c2) / sqrt(g) + k² c1 c2 / g` for the ungrouped conv of equal MACs.
    Time: measured with a profile, else the roofline estimate.

    **Thresholds.** `g2-min-groups` (2) groups or more, and at least `g2-min-excess` (1.25x) the
    ungrouped conv's traffic. Info.

    **Fix.** Use fewer groups (choose the group count on the target device: the finding gives
    the traffic time the ungrouped equal-MAC conv would save, an estimate), or move to
    depthwise plus 1x1 convs as ShuffleNet V2 does.
    """
    times = node_times(ctx, cfg)
    found: list[Finding] = []
    for nd in ctx.convs:
        g = nd.groups or 1
        _, c1, _, _ = nd.in_shapes[0]
        batch, c2, h, w = nd.out_shape
        if g < max(cfg.g2_min_groups, 2) or (g == c1 == c2):
            continue
        k = nd.kernel[0] * nd.kernel[1]
        cost = grouped_cost(h, w, c1, c2, k, g)
        plain = equal_macs_ungrouped_cost(h, w, c1, c2, k, g)
        excess = cost / plain
        if excess < cfg.g2_min_excess:
            continue
        saved_bytes = (cost - plain) * batch * times.itemsize
        saved_s = times.traffic_s(saved_bytes)
        t = times.seconds.get(nd.name, 0.0)
        width1, width2 = c1 / math.sqrt(g), c2 / math.sqrt(g)
        found.append(Finding(
            code="G2.group-count", severity="info", layers=(nd.name,),
            message=(f"{kxk(nd.kernel)} conv {c1} -> {c2} with {g} groups on {h}x{w} moves "
                     f"{excess:.2f}x the memory traffic of an ungrouped conv with the same MACs "
                     f"({_WHY})"),
            evidence=(f"elements moved h*w*(c1+c2)+k*k*c1*c2/g = {n(cost)} per image vs "
                      f"{n(plain)} for an ungrouped {width1:.0f} -> {width2:.0f} conv of equal "
                      f"MACs ({n(nd.macs // max(batch, 1))} per image); time {ms(t)} "
                      f"({times.source})"),
            fix=(f"use fewer groups, or depthwise + 1x1 convs: the ungrouped equal-MAC form "
                 f"moves {n(saved_bytes)} fewer bytes, about {ms(saved_s)} of traffic time at "
                 f"{times.bandwidth_bytes_per_s / 1e9:.1f} GB/s (estimate)"),
            data={"groups": g, "c1": c1, "c2": c2, "kernel": list(nd.kernel), "grid": [h, w],
                  "memory_access_cost": cost, "ungrouped_cost": plain,
                  "excess": round(excess, 4), "saved_bytes": saved_bytes,
                  "saved_ms_estimate": saved_s * 1e3, "time_ms": t * 1e3,
                  "time_source": "measured" if times.measured else "estimated",
                  "group_key": [g, kxk(nd.kernel), h, w],
                  "group_title": f"{kxk(nd.kernel)} convs with {g} groups on {h}x{w} ({_WHY})",
                  "group_item": (f"{nd.name}: {c1} -> {c2}, {excess:.2f}x the traffic, "
                                 f"~{ms(saved_s)} of traffic time to save"),
                  "group_fix": (f"use fewer groups, or depthwise + 1x1 convs; the traffic time "
                                f"each would save is an estimate at "
                                f"{times.bandwidth_bytes_per_s / 1e9:.1f} GB/s")}))
    return found
