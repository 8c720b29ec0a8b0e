"""Guideline G1 (ShuffleNet V2): equal channel width minimizes memory access cost.

For a 1x1 convolution with `_c1_` input and `_c2_` output channels on an ``h x w`` map, the
memory access cost is ``h*w*(c1 + c2) + c1*c2`` elements and, at fixed MACs ``B = h*w*c1*c2``,
it is at least ``2*sqrt(h*w*B) + B/(h*w)``, with equality exactly at ``c1 = c2``
(:mod:`archlens.profile.traffic`).

* ``G1.unequal-widths``: a stride-1, ungrouped 1x1 conv whose memory access cost is
  ``g1-min-excess`` (1.4x) or more above that lower bound (info; warning from
  ``g1-warn-excess``, 2x).
"""
from __future__ import annotations

from archlens.analysis import Finding
from archlens.checks._common import Context, is_conv, n
from archlens.checks._guidelines import GUIDELINES, ms, node_times
from archlens.checks._registry import rule
from archlens.checks.config import CheckConfig
from archlens.profile.traffic import (balanced_width, memory_access_cost,
                                      memory_access_lower_bound)

_WHY = f"Guideline G1: {GUIDELINES['G1'].lower()}"


@rule("G1.unequal-widths", "1x1 conv with very unequal input and output widths")
def unequal_widths(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """1x1 convolutions should keep their input and output widths close.

    **Guideline 1.** (Ma et al., ShuffleNet V2, ECCV 2018). At a fixed number of MACs, a 1x1
    convolution moves the fewest bytes when its input and output widths are equal; a 1:12
    expansion or squeeze costs about 1.9x the traffic of the balanced layer when the maps
    dominate, and traffic is what memory-bound layers spend their time on.

    **Measured** per stride-1 ungrouped 1x1 conv with _c1_ input and _c2_ output channels on an
    `h x w` map: memory access cost `hw(c1 + c2) + c1 c2` elements against its lower bound
    `2 sqrt(hwB) + B/(hw)` at the same MACs `B = hw c1 c2` (reached at `c1 = c2 =
    sqrt(B/(hw))`). Time: measured with a profile, else the roofline estimate.

    **Thresholds.** Info from `g1-min-excess` (1.4x the bound); warning from `g1-warn-excess`
    (2x).

    **Fix.** Keep the widths of 1x1 convs balanced (squeeze and expand in several steps, or
    move the width change into a conv that also does spatial work); the finding gives the
    balanced width and the traffic time saved at the device's bandwidth (an estimate).
    """
    times = node_times(ctx, cfg)
    found: list[Finding] = []
    for nd in ctx.convs:
        if nd.kernel != (1, 1) or (nd.groups or 1) != 1 or nd.stride not in (None, (1, 1)):
            continue
        _, c1, _, _ = nd.in_shapes[0]
        batch, c2, h, w = nd.out_shape
        cost = memory_access_cost(h, w, c1, c2)
        macs = h * w * c1 * c2
        bound = memory_access_lower_bound(h, w, macs)
        excess = cost / bound
        if excess < cfg.g1_min_excess:
            continue
        width = balanced_width(h, w, macs)
        saved_bytes = (cost - bound) * batch * times.itemsize
        saved_s = times.traffic_s(saved_bytes)
        t = times.seconds.get(nd.name, 0.0)
        ratio = f"1:{c2 / c1:.1f}" if c2 >= c1 else f"{c1 / c2:.1f}:1"
        sev = "warning" if excess >= cfg.g1_warn_excess else "info"
        found.append(Finding(
            code="G1.unequal-widths", severity=sev, layers=(nd.name,),
            message=(f"1x1 conv {c1} -> {c2} channels (c1:c2 = {ratio}) on {h}x{w} moves "
                     f"{excess:.2f}x the least memory traffic possible at its MACs ({_WHY})"),
            evidence=(f"memory access cost h*w*(c1+c2)+c1*c2 = {n(cost)} elements per image vs "
                      f"lower bound 2*sqrt(h*w*B)+B/(h*w) = {n(bound)} at B = {n(macs)} MACs; "
                      f"time {ms(t)} ({times.source})"),
            fix=(f"balance the widths: at the same MACs a {width:.0f} -> {width:.0f} 1x1 conv "
                 f"moves {n(saved_bytes)} fewer bytes, about {ms(saved_s)} of traffic time at "
                 f"{times.bandwidth_bytes_per_s / 1e9:.1f} GB/s (estimate)"),
            data={"c1": c1, "c2": c2, "grid": [h, w], "macs": macs,
                  "memory_access_cost": cost, "lower_bound": bound,
                  "excess": round(excess, 4), "balanced_width": width,
                  "saved_bytes": saved_bytes, "saved_ms_estimate": saved_s * 1e3,
                  "time_ms": t * 1e3, "time_source": "measured" if times.measured
                  else "estimated",
                  "group_key": ["1x1", h, w],
                  "group_title": f"1x1 convs with unequal widths on {h}x{w} ({_WHY})",
                  "group_item": (f"{nd.name}: {c1} -> {c2}, {excess:.2f}x the bound, "
                                 f"~{ms(saved_s)} of traffic time to save"),
                  "group_fix": (f"balance the widths of each (c1 = c2 = sqrt(c1 c2) keeps the "
                                f"MACs); the traffic time each would save is an estimate at "
                                f"{times.bandwidth_bytes_per_s / 1e9:.1f} GB/s")}))
    return found
