"""Principle 1: avoid representational bottlenecks, especially early in the network.

Measured on the trunk (tensors every input->output path goes through, see ``_common``): the
representation (C x H x W values per sample) of consecutive trunk tensors. A branch that is
narrow while its siblings carry the rest past it is no bottleneck; a pooling layer that is the
only path is.

* ``P1.grid-reduction``: the grid shrinks between two trunk tensors and the representation
  drops by more than the threshold (pooling before widening, paper Figure 9 left).
* ``P1.channel-squeeze``: the grid stays and the channel count collapses on the trunk.

Both leave alone the head (no convolution after the drop: global pooling into the classifier
is the network's final representation) and drops that leave the representation at least as
large as the input image (over-complete: pooling cannot lose what the input never had).
"""
from __future__ import annotations

import math

from archlens.analysis import Finding
from archlens.checks._common import (Context, base_type, channels, conv_macs, grid, hwc,
                                     is_conv, is_pool, is_spatial_conv, kxk, n,
                                     pool_kind, representation)
from archlens.checks._registry import rule
from archlens.checks.config import CheckConfig
from archlens.graph import Node

_WHY = "Principle 1: avoid representational bottlenecks, especially early in the network"


_PADS = {"pad", "constant_pad_nd", "zeropad2d", "constantpad2d"}


def _spatial_trunk(ctx: Context) -> list[Node]:
    """Trunk tensors that are NCHW maps. A constant pad is left out: it frames the map for the
    next conv (TF "same" padding), it neither adds nor removes information, and measuring from
    it would hide an expansion right before a strided conv."""
    return [c for c in ctx.cuts if ctx.is_map(c) and base_type(c).lower() not in _PADS]


def _pre_tensor(ctx: Context, trunk: list[Node], i: int) -> Node:
    """The trunk tensor a reduction at ``trunk[i]`` is measured against.

    Normally ``trunk[i - 1]``. If that tensor was itself just widened on the same grid (the
    paper's Figure 9 right: expand, then pool; or a 1x1 widening conv right before a pool),
    the widening belongs to the reduction and the drop is measured from before it.
    """
    k = i - 1
    g = grid(trunk[k].out_shape)
    while k > 0 and ctx.is_pointwise(trunk[k]) and grid(trunk[k - 1].out_shape) == g:
        k -= 1
    if (k > 0 and grid(trunk[k - 1].out_shape) == g
            and representation(trunk[k - 1].out_shape) < representation(trunk[k].out_shape)):
        return trunk[k - 1]
    return trunk[i - 1]


def _severity(cfg: CheckConfig, drop: float, frac: float, early: bool) -> str | None:
    """error: a strong drop that also takes the representation well below the input's size;
    warning: a drop above the (stricter early) warning threshold below the input's size."""
    if drop > cfg.p1_error_drop and frac < cfg.p1_error_below_input:
        return "error"
    warn = cfg.p1_warn_drop_early if early else cfg.p1_warn_drop
    if drop > warn and frac < cfg.p1_overcomplete:
        return "warning"
    return None


def _is_head(ctx: Context, node: Node) -> bool:
    return ctx.graph.position(node.name) >= ctx.last_conv_position


def _parallel_resolutions(ctx: Context, a: Node, b: Node) -> list[tuple[int, int]]:
    """Grids of the convs between trunk tensors ``a`` and ``b``, when there are more than the
    two grids of ``a`` and ``b``: branches at several resolutions run side by side there
    (HRNet), and ``a -> b`` is no single reduction of one trunk. Empty otherwise. (Convs, not
    every map: a TF "same" pad frames a 28x28 map as 29x29 without being a resolution.)"""
    pa, pb = ctx.graph.position(a.name), ctx.graph.position(b.name)
    grids = {grid(a.out_shape), grid(b.out_shape)}
    seen = set(grids)
    for nd in ctx.main:
        p = ctx.graph.position(nd.name)
        if pa < p < pb and is_conv(nd) and ctx.positions(nd) > 1:
            seen.add(grid(nd.out_shape))
    return sorted(seen, key=lambda g: -g[0] * g[1]) if len(seen) > len(grids) else []


@rule("P1.grid-reduction", "grid reduction that shrinks the representation too much")
def grid_reduction(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """A grid reduction must not squeeze the whole representation at once, least of all early.

    **Principle 1.** Information only flows forward: what a reduction throws away, no later
    layer gets back. Pooling before widening (the paper's Figure 9, left) quarters the
    representation; reducing the grid with stride-2 conv branches in parallel with the pool and
    concatenating them (Figure 10) halves it.

    **Measured** on the trunk (tensors every path from input to output goes through) between
    two consecutive trunk tensors where the grid shrinks: drop = representation before / after
    (C x H x W values per sample), and the result's size as a fraction of the input image's. A
    widening just before the pool on the same grid (expand, then pool: Figure 9, right) counts
    as part of the reduction.

    **Thresholds.** Error: a drop above `p1-error-drop` (4x) that leaves less than
    `p1-error-below-input` (half) of the input's size. Warning: a drop above
    `p1-warn-drop-early` (2x) in the first `early-fraction` (half) of the conv layers, above
    `p1-warn-drop` (3x) later, while below the input's size. Not checked: reductions after the
    last conv (the head) and results at least as large as the input (over-complete).

    **Fix.** Reduce and widen in one step: a parallel stride-2 conv branch next to the pool,
    sized in the finding for a 2x drop (e.g. 35x35x288 to 17x17 needs 611 channels).
    """
    trunk = _spatial_trunk(ctx)
    found: list[Finding] = []
    for i in range(1, len(trunk)):
        b = trunk[i]
        ga, gb = grid(trunk[i - 1].out_shape), grid(b.out_shape)
        if gb[0] * gb[1] >= ga[0] * ga[1] or _is_head(ctx, b):
            continue
        if _parallel_resolutions(ctx, trunk[i - 1], b):
            continue
        a = _pre_tensor(ctx, trunk, i)
        pre, post = representation(a.out_shape), representation(b.out_shape)
        drop = pre / post
        frac = post / ctx.input_representation
        progress = ctx.progress(b.name)
        early = progress < cfg.early_fraction
        sev = _severity(cfg, drop, frac, early)
        if sev is None:
            continue
        pa, pb = ctx.graph.position(a.name), ctx.graph.position(b.name)
        reducers = [nd for nd in ctx.main
                    if pa < ctx.graph.position(nd.name) <= pb and ctx.is_map(nd)
                    and nd.in_shapes and len(nd.in_shapes[0]) == 4
                    and grid(nd.out_shape)[0] * grid(nd.out_shape)[1]
                    < grid(nd.in_shapes[0])[0] * grid(nd.in_shapes[0])[1]]
        how = _how(ctx, reducers, b)
        h, w = gb
        need = math.ceil(pre / (2 * h * w))        # channels for a 2x drop (paper's d/2, 2k)
        extra = max(need - channels(b.out_shape), 0)
        cin = channels(a.out_shape)
        branch_macs = conv_macs(ctx.batch, gb, (3, 3), cin, extra)
        where = "early" if early else "late"
        layers = tuple(dict.fromkeys([*(r.name for r in reducers), b.name]))
        found.append(Finding(
            code="P1.grid-reduction", severity=sev, layers=layers,
            message=(f"{hwc(a.out_shape)} -> {hwc(b.out_shape)} {how}: representation drops "
                     f"{drop:.1f}x ({_WHY})"),
            evidence=(f"representation {n(pre)} -> {n(post)} values per sample ({drop:.2f}x "
                      f"drop), {frac:.2f}x the input's {n(ctx.input_representation)} values; "
                      f"{where} in the network ({progress:.0%} of conv/linear layers before it)"),
            fix=(f"reduce the grid and widen in the same step: run a stride-2 conv branch in "
                 f"parallel with the pooling and concatenate (paper Fig. 10); a 2x drop needs "
                 f">= {need} channels at {h}x{w}, e.g. a parallel 3x3 stride-2 conv "
                 f"{cin}->{extra} ({n(branch_macs)} MACs)" if extra else
                 "reduce the grid and widen in the same step (paper Fig. 10)"),
            saving=None,
            data={"drop": round(drop, 4), "pre": pre, "post": post,
                  "pre_shape": list(a.out_shape), "post_shape": list(b.out_shape),
                  "fraction_of_input": round(frac, 4), "progress": round(progress, 4),
                  "early": early, "reducers": [r.name for r in reducers],
                  "channels_for_2x": need, "parallel_branch_macs": branch_macs}))
    return found


def _how(ctx: Context, reducers: list[Node], b: Node) -> str:
    if reducers and all(is_pool(r) for r in reducers) and b.name in {r.name for r in reducers}:
        kinds = sorted({pool_kind(r) for r in reducers})
        return f"by {'/'.join(kinds)} before any widening"
    if len(reducers) == 1 and is_conv(reducers[0]):
        r = reducers[0]
        widen = "" if channels(r.out_shape) > channels(r.in_shapes[0]) else ", no widening"
        return f"by a strided {kxk(r.kernel)} conv{widen}"
    module = b.module or b.name.rsplit(".", 1)[0]
    return f"by {module}"


def _is_depthwise(nd: Node) -> bool:
    cin = nd.in_shapes[0][1]
    return is_conv(nd) and (nd.groups or 1) == cin == nd.out_shape[1] and cin > 1


def _expansion_input(ctx: Context, trunk: list[Node], i: int) -> Node | None:
    """For a 1x1 projection ``trunk[i]`` at the end of an inverted residual (expand 1x1 ->
    depthwise kxk -> project 1x1: MobileNetV2, EfficientNet, MBConv), the trunk tensor the
    block started from; None when ``trunk[i]`` closes no such block.

    Walks back over pointwise ops, gates and depthwise convs to the expanding 1x1 conv; the
    tensor before it is the block's input.
    """
    b = trunk[i]
    if not (is_conv(b) and tuple(b.kernel) == (1, 1)
            and channels(b.out_shape) < channels(b.in_shapes[0])):
        return None
    k = i - 1
    while k > 0:
        nd = trunk[k]
        if ctx.is_pointwise(nd) or _is_depthwise(nd):
            k -= 1
            continue
        if (is_conv(nd) and tuple(nd.kernel) == (1, 1)
                and channels(nd.out_shape) > channels(nd.in_shapes[0])):
            return trunk[k - 1]
        return None
    return None


@rule("P1.channel-squeeze", "channel count collapses on the trunk at a constant grid")
def channel_squeeze(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """The channel count must not collapse on the only path at a constant grid.

    **Principle 1.** A conv that squeezes every path through the network to a few channels is
    a representational bottleneck just like an aggressive pool.

    **Measured** between two consecutive trunk tensors on the same grid: drop = representation
    before / after. A 1x1 reduction that feeds a spatial conv is left alone: it is the pattern
    Principle 3 recommends, so the two rules never contradict each other. The 1x1 projection
    that closes an inverted residual (expand, depthwise, project: MobileNetV2, EfficientNet) is
    measured against the block's input, not against its internal expansion.

    **Thresholds.** Warning above `p1-squeeze-warn` (4x), only while the result is smaller than
    the input image; the head after the last conv is not checked.

    **Fix.** Keep at least a quarter of the channels, or move the reduction into one branch of
    a module whose other branches keep the full width (Inception).
    """
    trunk = _spatial_trunk(ctx)
    found: list[Finding] = []
    for i in range(1, len(trunk)):
        a, b = trunk[i - 1], trunk[i]
        if grid(a.out_shape) != grid(b.out_shape) or _is_head(ctx, b):
            continue
        block_in = _expansion_input(ctx, trunk, i)
        if block_in is not None:
            # an inverted residual's projection: the block maps block_in -> b; the wide
            # tensor before the projection is the block's own internal expansion
            if grid(block_in.out_shape) != grid(b.out_shape):
                continue            # a strided block: its reduction is P1.grid-reduction's
            a = block_in
        pre, post = representation(a.out_shape), representation(b.out_shape)
        drop = pre / post
        frac = post / ctx.input_representation
        if drop <= cfg.p1_squeeze_warn or frac >= cfg.p1_overcomplete:
            continue
        # A 1x1 reduction that feeds a spatial conv is Principle 3's recommended pattern
        # (spatial aggregation over a lower-dimensional embedding), not a bottleneck.
        if is_conv(b) and b.kernel == (1, 1) and any(
                is_spatial_conv(c) for c in ctx.consumers(b.name)):
            continue
        progress = ctx.progress(b.name)
        found.append(Finding(
            code="P1.channel-squeeze", severity="warning", layers=(b.name,),
            message=(f"{hwc(a.out_shape)} -> {hwc(b.out_shape)} by {b.type} on the only path: "
                     f"representation drops {drop:.1f}x ({_WHY})"),
            evidence=(f"representation {n(pre)} -> {n(post)} values per sample ({drop:.2f}x "
                      f"drop), {frac:.2f}x the input's {n(ctx.input_representation)} values; "
                      f"{progress:.0%} of conv/linear layers before it"),
            fix=(f"keep at least {math.ceil(channels(a.out_shape) / cfg.p1_squeeze_warn)} "
                 f"channels, or move the reduction into one branch of a module whose other "
                 f"branches keep the full width (Inception)"),
            data={"drop": round(drop, 4), "pre": pre, "post": post,
                  "fraction_of_input": round(frac, 4), "progress": round(progress, 4)}))
    return found
