"""Principle 2: higher-dimensional representations are easier to process locally.

The paper widens the filter bank on the coarse grids (Figure 7: the 8x8 modules expand to
2048 channels with parallel 1x3 | 3x1 outputs). Measured per grid stage (consecutive trunk
tensors on the same grid that contain a convolution): the stage's width is the widest trunk
tensor in it.

* ``P2.narrow-coarse``: a coarser stage is narrower than an earlier, finer one (warning), or
  keeps the previous stage's width although its grid shrank by ``p2-min-area-ratio`` or more
  (info: the representation is processed locally at no higher dimension).
"""
from __future__ import annotations

from archlens.analysis import Finding
from archlens.checks._common import Context, channels, is_pool, stage_groups
from archlens.checks._registry import rule
from archlens.checks.config import CheckConfig

_WHY = "Principle 2: higher-dimensional representations are easier to process locally"


@rule("P2.narrow-coarse", "coarser grid stage not wider than the finer stages before it")
def narrow_coarse(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """Coarser grids should carry wider representations.

    **Principle 2.** Higher-dimensional representations are easier to process locally: more
    channels per position give more disentangled features and train faster. The paper doubles
    the filter bank when it halves the grid and widens its 8x8 modules to 2048 channels.

    **Measured** per grid stage (consecutive trunk tensors on one grid that contain a conv):
    width = channels of the widest trunk tensor the stage computes (the pooled copy of the
    previous stage that opens it does not count), compared with the stages before it.

    **Thresholds.** Warning: a coarser stage narrower than an earlier, finer one. Info: the
    grid area shrank by `p2-min-area-ratio` (2x) or more and the width did not grow.

    **Fix.** Widen the coarse stage, about twice the previous stage's width (the finding gives
    the number).
    """
    # A stage's width comes from the tensors it computes: the pooled copy of the previous
    # stage that opens it says nothing about how wide this stage processes.
    stages = [(g, [c for c in cs if not is_pool(ctx.producer(c.name))] or cs)
              for g, cs in stage_groups(ctx)]
    found: list[Finding] = []
    for i in range(1, len(stages)):
        g, cs = stages[i]
        pg, pcs = stages[i - 1]
        widest = max(cs, key=lambda c: channels(c.out_shape))
        w = channels(widest.out_shape)
        pw = max(channels(c.out_shape) for c in pcs)
        earlier = max((max(channels(c.out_shape) for c in s) for _, s in stages[:i]))
        area_ratio = (pg[0] * pg[1]) / (g[0] * g[1])
        if area_ratio <= 1:
            continue
        if w < earlier:
            sev, what = "warning", (f"narrows to {w} channels at {g[0]}x{g[1]} after "
                                    f"{earlier} channels on a finer grid")
        elif area_ratio >= cfg.p2_min_area_ratio and w <= pw:
            sev, what = "info", (f"keeps {w} channels at {g[0]}x{g[1]} while the grid shrinks "
                                 f"{area_ratio:.1f}x from {pg[0]}x{pg[1]}")
        else:
            continue
        target = max(2 * pw, earlier)
        found.append(Finding(
            code="P2.narrow-coarse", severity=sev, layers=(widest.name,),
            message=f"the {g[0]}x{g[1]} stage {what} ({_WHY})",
            evidence=(f"widest trunk tensor {g[0]}x{g[1]}x{w} ({widest.name}); previous stage "
                      f"{pg[0]}x{pg[1]}x{pw}; grid area {area_ratio:.1f}x smaller"),
            fix=(f"widen the {g[0]}x{g[1]} stage to about {target} channels as the grid "
                 f"shrinks (the paper doubles the filter bank when it halves the grid and "
                 f"expands the coarsest modules with parallel 1x3 | 3x1 outputs, Fig. 7)"),
            data={"grid": list(g), "width": w, "previous_grid": list(pg),
                  "previous_width": pw, "widest_before": earlier,
                  "area_ratio": round(area_ratio, 4), "suggested_width": target}))
    return found
