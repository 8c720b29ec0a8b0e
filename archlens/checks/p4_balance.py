"""Principle 4: balance the width and the depth of the network.

The paper's advice is to spend a budget on width and depth together rather than piling it into
one place. Two measurable symptoms of piling it up:

* ``P4.param-concentration``: the classifier head (everything after the last spatial tensor)
  holds most of the parameters (VGG's fully connected layers), or one layer does.
  Fix for a head: global average pooling + one linear layer, with the exact saving.
* ``P4.stage-imbalance``: one grid stage does most of the convolution work.
"""
from __future__ import annotations

import math

from archlens.analysis import Finding
from archlens.checks._common import (Context, channels, grid, is_conv, is_linear, n, pct,
                                     stage_groups)
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
    total = ctx.total_params
    if total <= 0:
        return []
    spatial = [nd for nd in ctx.main if len(nd.out_shape) == 4]
    found: list[Finding] = []
    head: list[Node] = []
    if spatial:
        last = ctx.graph.position(spatial[-1].name)
        head = [nd for nd in ctx.main if ctx.graph.position(nd.name) > last and nd.params > 0]
    head_params = sum(nd.params for nd in head)
    biggest = max(ctx.graph.layers, key=lambda nd: nd.params, default=None)
    if head and head_params >= cfg.p4_head_share * total:
        lins = [nd for nd in head if is_linear(nd)]
        c_last = channels(spatial[-1].out_shape)
        g_last = grid(spatial[-1].out_shape)
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
            fix=(f"global-average-pool the {g_last[0]}x{g_last[1]}x{c_last} features and use "
                 f"one linear layer {c_last}->{classes} ({n(new_p)} params, {n(new_macs)} "
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
