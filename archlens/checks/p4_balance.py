"""Principle 4: balance the width and the depth of the network.

The paper's advice is to spend a budget on width and depth together rather than piling it into
one place. Two measurable symptoms of piling it up:

* ``P4.param-concentration``: the classifier head (everything after the last spatial tensor)
  holds most of the parameters (VGG's fully connected layers), or one layer does.
  Fix for a head: global average pooling + one linear layer, with the exact saving.
* ``P4.stage-imbalance``: one grid stage does most of the convolution work.
* ``P4.depth-width``: depth and width measured directly, per grid stage (conv layers on the
  longest path, trunk channels): one stage holding most of the depth while it is not the
  widest, or a network with few channels per layer of depth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from archlens.analysis import Finding
from archlens.checks._common import (Context, channels, grid, is_conv, is_linear, is_pool, n,
                                     pct, stage_groups)
from archlens.checks._registry import rule
from archlens.checks.config import CheckConfig
from archlens.graph import Node

_WHY = "Principle 4: balance the width and the depth of the network"


def _linear_macs(nd: Node) -> int:
    """``rows x in_features x out_features``: one MAC per weight per output row."""
    rows = math.prod(nd.out_shape[:-1]) if len(nd.out_shape) > 1 else 1
    return rows * int(nd.in_shapes[0][-1]) * int(nd.out_shape[-1])


@rule("P4.param-concentration", "most parameters in the classifier head or in one layer")
def param_concentration(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """Capacity belongs in the convolutional width and depth, not in one place.

    **Principle 4.** For a fixed budget, the paper grows width and depth together; parameters
    piled into a fully connected classifier (VGG: 89 % of them) or into a single layer are
    capacity the convolutional body does not get.

    **Measured**: the share of all parameters held by the classifier head, else by the
    largest single layer. The head is what follows the last tensor that still has more than
    one position: the last spatial map and the last token mixing (a ViT's encoder is body, its
    classifier on the class token is head).

    **Thresholds.** Warning when the head holds at least `p4-head-share` (half) of the
    parameters; info when one layer does (`p4-layer-share`, half) in a model of 4 or more
    parameterised layers.

    **Fix.** Global average pooling and one linear layer instead of the fully connected head,
    with the exact parameter and MAC saving; spend them on conv width and depth.
    """
    total = ctx.total_params
    if total <= 0:
        return []
    found: list[Finding] = []
    head: list[Node] = []
    last = ctx.last_positional
    if last is not None:
        at = ctx.graph.position(last.name)
        head = [nd for nd in ctx.main if ctx.graph.position(nd.name) > at and nd.params > 0]
    head_params = sum(nd.params for nd in head)
    biggest = max(ctx.graph.layers, key=lambda nd: nd.params, default=None)
    if head and head_params >= cfg.p4_head_share * total:
        lins = [nd for nd in head if is_linear(nd)]
        if ctx.is_map(last):
            c_last = channels(last.out_shape)
            g_last = grid(last.out_shape)
            pooled = f"global-average-pool the {g_last[0]}x{g_last[1]}x{c_last} features"
        else:                       # tokens (N, L, D): average the L positions
            c_last = int(last.out_shape[-1])
            pooled = (f"average the {ctx.positions(last)} positions of {c_last} features")
        out = lins[-1] if lins else head[-1]
        classes = int(out.out_shape[-1])
        bias = bool(lins) and lins[-1].params == int(lins[-1].in_shapes[0][-1]) * classes + classes
        new_p = c_last * classes + (classes if bias else 0)
        new_macs = ctx.batch * c_last * classes
        old_macs = sum(_linear_macs(nd) for nd in lins)
        save_p = head_params - new_p
        save_m = old_macs - new_macs
        ordered = sorted(head, key=lambda nd: -nd.params)
        top = ordered[0]
        found.append(Finding(
            code="P4.param-concentration", severity="warning",
            layers=tuple(nd.name for nd in ordered),
            message=(f"the classifier head holds {pct(head_params, total)} of the parameters "
                     f"({_WHY}): capacity sits in the fully connected layers, not in the "
                     f"convolutional depth and width"),
            evidence=(f"head {n(head_params)} of {n(total)} params; largest {top.name} "
                      f"{n(top.params)} params ({pct(top.params, total)}); head linear layers "
                      f"{n(old_macs)} MACs"),
            fix=(f"{pooled} and use one linear layer {c_last}->{classes} ({n(new_p)} params, {n(new_macs)} "
                 f"MACs): saves {n(save_p)} params and {n(save_m)} MACs; spend them on "
                 f"convolutional width/depth"),
            saving={"macs": save_m, "params": save_p},
            data={"head_params": head_params, "total_params": total,
                  "head_share": round(head_params / total, 4),
                  "largest_layer": top.name, "largest_params": top.params,
                  "replacement_params": new_p, "replacement_macs": new_macs,
                  "per_layer": {top.name: {"macs": save_m, "params": save_p}}}))
    elif (biggest is not None and biggest.params >= cfg.p4_layer_share * total
          and sum(1 for nd in ctx.graph.layers if nd.params > 0) >= 4):
        found.append(Finding(
            code="P4.param-concentration", severity="info", layers=(biggest.name,),
            message=(f"one layer holds {pct(biggest.params, total)} of the parameters "
                     f"({_WHY})"),
            evidence=f"{biggest.name}: {n(biggest.params)} of {n(total)} params",
            fix="spread the capacity: fewer channels in this layer, more layers or width "
                "elsewhere",
            data={"largest_layer": biggest.name, "largest_params": biggest.params,
                  "total_params": total}))
    return found


@rule("P4.stage-imbalance", "one grid stage does most of the convolution work")
def stage_imbalance(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """No single grid stage should do most of the convolution work.

    **Principle 4.** Balanced networks spread their compute over the stages; a stage that does
    most of it grew in depth or width alone.

    **Measured**: conv MACs per grid stage (convs grouped by output grid), as a share of all
    conv MACs; only networks with 3 or more stages.

    **Thresholds.** Info when one stage does at least `p4-stage-share` (half) of the conv MACs
    (ResNet-152's 14x14 stage: 69.6 %; Inception-v3 stays below).

    **Fix.** Move layers or channels out of that stage into the others.
    """
    stages = stage_groups(ctx)
    if len(stages) < 3:
        return []
    by_grid: dict[tuple[int, int], list[Node]] = {g: [] for g, _ in stages}
    for nd in ctx.main:
        if is_conv(nd) and grid(nd.out_shape) in by_grid:
            by_grid[grid(nd.out_shape)].append(nd)
    macs = {g: sum(c.macs for c in cs) for g, cs in by_grid.items()}
    total = sum(macs.values())
    if total <= 0:
        return []
    g, top = max(macs.items(), key=lambda kv: kv[1])
    share = top / total
    if share < cfg.p4_stage_share:
        return []
    convs = by_grid[g]
    width = max(channels(c.out_shape) for _, cs in stages if _ == g for c in cs)
    profile = ", ".join(f"{gg[0]}x{gg[1]}: {pct(m, total)}" for gg, m in macs.items())
    return [Finding(
        code="P4.stage-imbalance", severity="info",
        layers=tuple(c.name for c in sorted(convs, key=lambda c: -c.macs)[:5]),
        message=(f"the {g[0]}x{g[1]} stage does {pct(top, total)} of the convolution MACs "
                 f"({_WHY})"),
        evidence=(f"{n(top)} of {n(total)} conv MACs in {len(convs)} conv layers, up to "
                  f"{width} channels; per stage: {profile}"),
        fix=(f"move work out of the {g[0]}x{g[1]} stage (fewer or narrower layers there, "
             f"depth or width added to the other stages)"),
        data={"grid": list(g), "share": round(share, 4), "stage_macs": top,
              "conv_macs": total, "layers_in_stage": len(convs),
              "profile": {f"{gg[0]}x{gg[1]}": m for gg, m in macs.items()}})]


# ----------------------------------------------------------------------------------------
# P4.depth-width
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageShape:
    """Depth and width of one grid stage (see :func:`stage_shapes`)."""

    grid: tuple[int, int]
    depth: int                       # conv layers on the longest path through the stage
    width: int                       # channels of the widest trunk tensor the stage computes
    blocks: tuple[str, ...]          # the stage's trunk tensors (block outputs), in order

    def describe(self) -> str:
        return (f"{self.grid[0]}x{self.grid[1]}: depth {self.depth} conv"
                f"{'s' if self.depth != 1 else ''}, width {self.width} ch")


def stage_shapes(ctx: Context) -> list[StageShape]:
    """Per grid stage, in order: depth = conv layers (1x1 included) on the longest path that
    stays on the stage's grid, width = channels of its widest trunk tensor.

    Depth is a longest-path count, not a conv count: the four parallel branches of an Inception
    module add the depth of their longest branch, not the sum of all branches, and a residual
    block adds its residual branch (the shortcut is shorter). A strided conv opens the stage of
    its output grid. Width skips the network input and the pooled copy of the previous stage
    that opens a stage (as Principle 2 does): neither says how wide this stage computes.
    """
    g = ctx.graph
    depth: dict[str, int] = {}
    for nd in ctx.main:
        here = grid(nd.out_shape) if ctx.is_map(nd) else None
        best = 0
        for i in nd.inputs:
            if i in depth and ctx.is_map(g[i]) and grid(g[i].out_shape) == here:
                best = max(best, depth[i])
        depth[nd.name] = best + (1 if is_conv(nd) else 0)
    out: list[StageShape] = []
    for gg, cuts in stage_groups(ctx):
        d = max((depth[nd.name] for nd in ctx.main
                 if ctx.is_map(nd) and grid(nd.out_shape) == gg), default=0)
        own = [c for c in cuts if c.name != g.input.name
               and not is_pool(ctx.producer(c.name))] or cuts
        blocks = tuple(c.name for c in own if not ctx.is_pointwise(c)) or (own[-1].name,)
        out.append(StageShape(gg, d, max(channels(c.out_shape) for c in own), blocks))
    return out


def _profile(stages: list[StageShape]) -> str:
    return "; ".join(s.describe() for s in stages)


@rule("P4.depth-width", "depth piled into one stage, or a network much deeper than wide")
def depth_width(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """The depth and width of each grid stage, and of the network, grow together.

    **Principle 4.** The paper reaches its best quality for a given compute by increasing the
    number of filters per stage and the depth of the network *in parallel*; growing only one of
    them buys less. This rule looks for the two ways of growing depth without width.

    **Measured** per grid stage: *depth* = conv layers (1x1 included) on the longest path
    through the stage; *width* = channels of the stage's widest trunk tensor. The network's
    depth is the sum over stages, its width the widest stage. Networks shallower than
    `p4-min-depth` (10) conv layers or with fewer than 3 stages are not judged.

    **Thresholds.** *Depth piled into one stage* (info): one stage holds at least
    `p4-depth-share` (60 %) of the depth while it is not the widest stage: width stayed flat
    where depth grew (ResNet-152's 14x14 stage: 108 of 160 layers at 1024 channels, against
    51 % for Inception-v3's 17x17 stage). *Deeper than wide*: the widest trunk tensor has
    fewer than `p4-width-per-layer` (4) channels per layer of depth (info), or fewer than
    `p4-width-per-layer-warn` (1): more layers than channels (warning). The zoo's nets have
    13 (ResNet-152) to 77 (AlexNet) channels per layer.

    **Fix.** Move layers out of the deep stage into the others and widen them, or widen the
    deep stage; for a deep, narrow network, trade depth for width at equal MACs (a conv costs
    depth x width squared: dividing the depth by k and multiplying the width by sqrt(k) keeps
    the cost); the finding gives the numbers.
    """
    stages = stage_shapes(ctx)
    total = sum(s.depth for s in stages)
    if len(stages) < 3 or total < cfg.p4_min_depth:
        return []
    widest = max(s.width for s in stages)
    table = _profile(stages)
    found: list[Finding] = []
    deep = max(stages, key=lambda s: s.depth)
    share = deep.depth / total
    if share >= cfg.p4_depth_share and deep.width < widest:
        move = math.floor(deep.depth - cfg.p4_depth_share * total) + 1
        g = f"{deep.grid[0]}x{deep.grid[1]}"
        found.append(Finding(
            code="P4.depth-width", severity="info", layers=deep.blocks,
            message=(f"the {g} stage holds {pct(deep.depth, total)} of the network's depth "
                     f"({deep.depth} of {total} conv layers) at {deep.width} channels, below "
                     f"the network's {widest}: depth grew there without width ({_WHY})"),
            evidence=f"per stage: {table}",
            fix=(f"spread the depth: moving {move} of the {g} stage's {deep.depth} conv "
                 f"layers into the other stages brings it below "
                 f"{100 * cfg.p4_depth_share:.0f} % of the depth; or widen the {g} stage beyond "
                 f"{deep.width} channels together with its depth"),
            data={"kind": "depth-concentration", "grid": list(deep.grid),
                  "depth": deep.depth, "width": deep.width, "total_depth": total,
                  "share": round(share, 4), "widest": widest, "layers_to_move": move,
                  "stages": _stages_data(stages)}))
    ratio = widest / total
    if ratio < cfg.p4_width_per_layer:
        sev = "warning" if ratio < cfg.p4_width_per_layer_warn else "info"
        # equal MACs: depth / k, width x sqrt(k) -> ratio x k^1.5 = target
        k = (cfg.p4_width_per_layer / ratio) ** (2 / 3)
        new_depth = max(1, round(total / k))
        new_width = round(widest * math.sqrt(k))
        found.append(Finding(
            code="P4.depth-width", severity=sev,
            layers=tuple(s.blocks[0] for s in stages),
            message=(f"the network is {total} conv layers deep but at most {widest} channels "
                     f"wide: {ratio:.2f} channels per layer of depth ({_WHY})"),
            evidence=(f"longest path {total} conv layers, widest trunk tensor {widest} ch "
                      f"({ratio:.2f} ch per layer, threshold {cfg.p4_width_per_layer:g}); per "
                      f"stage: {table}"),
            fix=(f"trade depth for width at about equal MACs (a conv costs depth x width^2): "
                 f"{total} -> {new_depth} layers and {widest} -> {new_width} channels gives "
                 f"{new_width / new_depth:.1f} channels per layer"),
            data={"kind": "deep-narrow", "total_depth": total, "widest": widest,
                  "width_per_layer": round(ratio, 4), "suggested_depth": new_depth,
                  "suggested_width": new_width, "stages": _stages_data(stages)}))
    return found


def _stages_data(stages: list[StageShape]) -> list[dict]:
    return [{"grid": list(s.grid), "depth": s.depth, "width": s.width} for s in stages]
