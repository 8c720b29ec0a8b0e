"""Principle 3: spatial aggregation can be done over lower-dimensional embeddings.

Three rules, each with a concrete replacement whose cost is computed exactly on the layer's
real shapes (MACs = N x Ho x Wo x kh x kw x Cin x Cout per conv; bias additions and BN are not
MACs; parameters count weights, plus biases when the original conv has one):

* ``P3.no-reduction``: a stride-1 kxk conv over the full trunk width (>= ``p3-wide-channels``
  channels, not fed by a 1x1 reduction). Fix: a 1x1 conv to ``ceil(p3-reduce-ratio x Cout)``
  channels first (the Inception "bottleneck" layer).
* ``P3.factorize-large``: an n x n conv, n >= 5, off the medium grids. Fix: (n-1)/2 stacked
  3x3 convs (paper section 3.1: 5x5 -> two 3x3 saves 1 - 18/25 = 28 % on equal widths).
* ``P3.factorize-asymmetric``: an n x n conv, n >= 3, stride 1, on a medium grid
  (``p3-asym-grid-min``..``max``, 12..20). Fix: 1 x n then n x 1 (section 3.2: for 3x3,
  1 - 6/9 = 33 %).

The factorizations' intermediate width follows the paper's sqrt(alpha) rule: with expansion
alpha = Cout / Cin split evenly over the factors, the intermediate width is sqrt(Cin x Cout)
(rounded); ``p3-factorize-width = "out" | "in"`` switches to Cout or Cin.
"""
from __future__ import annotations

import math

from archlens.analysis import Finding
from archlens.checks._common import (Context, ConvSpec, chain, channels, conv_macs,
                                     conv_params, grid, has_bias, is_conv, is_spatial_conv,
                                     kxk, n, pct, split_padding)
from archlens.checks._registry import rule
from archlens.checks.config import CheckConfig
from archlens.graph import Node

_WHY = "Principle 3: spatial aggregation can be done over lower-dimensional embeddings"


def _geometry(nd: Node) -> tuple[int, int, tuple[int, int], tuple[int, int], tuple[int, int],
                                 tuple[int, int], tuple[int, int], tuple[int, int]]:
    cin, cout = channels(nd.in_shapes[0]), channels(nd.out_shape)
    return (cin, cout, tuple(nd.kernel), tuple(nd.stride or (1, 1)),  # type: ignore[return-value]
            tuple(nd.padding or (0, 0)), tuple(nd.dilation or (1, 1)),
            grid(nd.in_shapes[0]), grid(nd.out_shape))


def _plain(nd: Node) -> bool:
    """Convs the rules can rewrite exactly: ungrouped, undilated, integer padding."""
    return (is_spatial_conv(nd) and (nd.groups or 1) == 1
            and tuple(nd.dilation or (1, 1)) == (1, 1)
            and all(isinstance(p, int) for p in (nd.padding or (0, 0))))


def _per_layer(name: str, macs: int, params: int) -> dict[str, dict[str, int]]:
    return {name: {"macs": macs, "params": params}}


def _specs_dict(specs: list[ConvSpec]) -> list[dict]:
    return [{"kernel": list(s.kernel), "stride": list(s.stride), "padding": list(s.padding),
             "in_channels": s.cin, "out_channels": s.cout, "in_grid": list(s.in_hw),
             "out_grid": list(s.out_hw), "macs": s.macs, "params": s.params} for s in specs]


# ----------------------------------------------------------------------------------------
# P3.no-reduction
# ----------------------------------------------------------------------------------------

@rule("P3.no-reduction", "wide kxk convolution without a 1x1 channel reduction before it")
def no_reduction(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """Reduce the channels with a 1x1 conv before a wide spatial convolution.

    **Principle 3.** Neighbouring activations are strongly correlated, so a spatial conv can
    aggregate over a reduced embedding with little loss: the Inception bottleneck layer. On the
    28x28x192 to 5x5x32 example it cuts 120,422,400 multiplies to 12,443,648.

    **Measured** on every stride-1, ungrouped k x k conv (k > 1) whose input has at least
    `p3-wide-channels` (128) channels, is the block's full trunk width and does not come from a
    1x1 reduction. Cost in MACs = Ho x Wo x k x k x Cin x Cout, exactly, on the layer's shapes.

    **Thresholds.** Warning when the fix saves at least `p3-min-saving` (10 %) of the layer's
    MACs. Strided convs are left to Principle 1 (a reduction in front of a grid reduction is a
    bottleneck). Findings on one kernel and grid merge into one (VGG's convs of a stage).

    **Fix.** A 1x1 conv to `p3-reduce-ratio` (half) of the conv's outputs in front of it; the
    finding gives both convs' MACs and the exact saving in MACs and parameters.
    """
    found: list[Finding] = []
    for nd in ctx.main:
        if not _plain(nd):
            continue
        cin, cout, k, s, p, _, in_hw, out_hw = _geometry(nd)
        if s != (1, 1) or cin < cfg.p3_wide_channels:
            continue  # strided convs reduce the grid: Principle 1's business, not a reduction
        trunk = ctx.trunk_before(nd.name)
        if trunk is not None and ctx.is_map(trunk) and cin < channels(trunk.out_shape):
            continue  # already works on a narrower branch than the trunk
        prod = ctx.producer(nd.inputs[0]) if nd.inputs else None
        if (prod is not None and is_conv(prod) and tuple(prod.kernel) == (1, 1)
                and channels(prod.out_shape) < channels(prod.in_shapes[0])):
            continue  # fed by an explicit 1x1 reduction
        m = max(1, math.ceil(cout * cfg.p3_reduce_ratio))
        if m >= cin:
            continue
        bias = has_bias(nd)
        before = conv_macs(ctx.batch, out_hw, k, cin, cout)
        before_p = conv_params(k, cin, cout, bias=bias)
        specs = chain(ctx.batch, in_hw, cin, [((1, 1), (1, 1), (0, 0), m), (k, s, p, cout)], bias)
        after = sum(x.macs for x in specs)
        after_p = sum(x.params for x in specs)
        saving = before - after
        if saving < cfg.p3_min_saving * before:
            continue
        found.append(Finding(
            code="P3.no-reduction", severity="warning", layers=(nd.name,),
            message=(f"{kxk(k)} conv {cin}->{cout} at {in_hw[0]}x{in_hw[1]} aggregates over "
                     f"all {cin} trunk channels with no 1x1 reduction before it ({_WHY})"),
            evidence=(f"{n(before)} MACs (multiplies) = {out_hw[0]}x{out_hw[1]} outputs x "
                      f"{cout} filters x {kxk(k)}x{cin} weights; {n(before_p)} params"),
            fix=(f"insert a 1x1 conv {cin}->{m} before it ({m}-channel reduction): "
                 f"{n(specs[0].macs)} + {n(specs[1].macs)} = {n(after)} MACs instead of "
                 f"{n(before)}, saving {n(saving)} MACs ({pct(saving, before)}) and "
                 f"{n(before_p - after_p)} params"),
            saving={"macs": saving, "params": before_p - after_p},
            data={"form": "1x1 reduction", "reduction_channels": m, "macs_before": before,
                  "macs_after": after, "params_before": before_p, "params_after": after_p,
                  "saving_fraction": round(saving / before, 4), "factors": _specs_dict(specs),
                  "per_layer": _per_layer(nd.name, saving, before_p - after_p),
                  "group_key": [kxk(k), list(out_hw)],
                  "group_title": (f"{kxk(k)} convs at {in_hw[0]}x{in_hw[1]} aggregate over all "
                                  f"their trunk channels with no 1x1 reduction before them "
                                  f"({_WHY})"),
                  "group_item": (f"{nd.name} {cin}->{cout}: {n(before)} MACs, 1x1 {cin}->{m} "
                                 f"first saves {n(saving)} MACs ({pct(saving, before)})"),
                  "group_fix": (f"insert a 1x1 reduction to half the conv's outputs before "
                                f"each ({m} channels for {nd.name})")}))
    return found


# ----------------------------------------------------------------------------------------
# factorizations
# ----------------------------------------------------------------------------------------

_WIDTH_RULE = {"geometric": "sqrt(Cin x Cout)", "out": "Cout", "in": "Cin"}


def _mid_width(cin: int, cout: int, how: str) -> tuple[int, str]:
    if how == "out":
        return cout, "= outputs"
    if how == "in":
        return cin, "= inputs"
    m = max(1, round(math.sqrt(cin * cout)))
    return m, (f"= sqrt({cin}x{cout}), the paper's sqrt(alpha) rule" if cin != cout
               else "= inputs = outputs")


def _stack_3x3(ctx: Context, nd: Node, m: int, bias: bool) -> list[ConvSpec]:
    cin, cout, k, s, p, _, in_hw, _ = _geometry(nd)
    depth = (k[0] - 1) // 2
    ph, pw = split_padding(p[0], depth), split_padding(p[1], depth)
    layers = []
    for i in range(depth):
        last = i == depth - 1
        layers.append(((3, 3), s if last else (1, 1), (ph[i], pw[i]), cout if last else m))
    return chain(ctx.batch, in_hw, cin, layers, bias)


def _asymmetric(ctx: Context, nd: Node, m: int, bias: bool) -> list[ConvSpec]:
    cin, cout, k, s, p, _, in_hw, _ = _geometry(nd)
    return chain(ctx.batch, in_hw, cin, [((1, k[1]), (1, s[1]), (0, p[1]), m),
                                         ((k[0], 1), (s[0], 1), (p[0], 0), cout)], bias)


def _factorize(ctx: Context, cfg: CheckConfig, asymmetric: bool) -> list[Finding]:
    code = "P3.factorize-asymmetric" if asymmetric else "P3.factorize-large"
    lo, hi = cfg.p3_asym_grid_min, cfg.p3_asym_grid_max
    found: list[Finding] = []
    for nd in ctx.main:
        if not _plain(nd):
            continue
        cin, cout, k, s, p, _, in_hw, out_hw = _geometry(nd)
        if k[0] != k[1] or k[0] % 2 == 0 or cin < cfg.p3_min_in_channels:
            continue
        medium = lo <= in_hw[0] <= hi and lo <= in_hw[1] <= hi and s == (1, 1)
        if asymmetric != medium or (not asymmetric and k[0] < 5):
            continue
        bias = has_bias(nd)
        m, rule_txt = _mid_width(cin, cout, cfg.p3_factorize_width)
        specs = (_asymmetric if asymmetric else _stack_3x3)(ctx, nd, m, bias)
        if specs[-1].out_hw != out_hw:
            continue  # padding the stack cannot reproduce: no exact replacement to offer
        before = conv_macs(ctx.batch, out_hw, k, cin, cout)
        before_p = conv_params(k, cin, cout, bias=bias)
        after, after_p = sum(x.macs for x in specs), sum(x.params for x in specs)
        saving, saving_p = before - after, before_p - after_p
        macs_ok = saving >= cfg.p3_min_saving * before
        if not macs_ok and saving_p < cfg.p3_min_saving * before_p:
            continue
        form = " then ".join(x.describe() for x in specs)
        short = (f"1x{k[1]} + {k[0]}x1" if asymmetric
                 else " + ".join(["3x3"] * len(specs)))
        expands = cout >= cfg.p3_expand_info * cin
        sev = "info" if (asymmetric and k[0] == 3) or not macs_ok or expands else "warning"
        if macs_ok:
            outcome = (f"saves {n(saving)} MACs ({pct(saving, before)}) and {n(saving_p)} "
                       f"params")
        else:  # a strided conv: the first factor runs on the finer input grid
            outcome = (f"saves {n(saving_p)} params ({pct(saving_p, before_p)}) but costs "
                       f"{n(-saving)} more MACs, because the first factor runs on the "
                       f"{in_hw[0]}x{in_hw[1]} input grid before the stride")
        where = (f"on a medium {in_hw[0]}x{in_hw[1]} grid (paper: asymmetric factorization "
                 f"works on {lo}..{hi} grids)" if asymmetric
                 else f"at {in_hw[0]}x{in_hw[1]}")
        found.append(Finding(
            code=code, severity=sev, layers=(nd.name,),
            message=(f"{kxk(k)} conv {cin}->{cout} {where}: factorize into {short} "
                     f"with intermediate width {m} ({_WHY})"),
            evidence=(f"{n(before)} MACs, {n(before_p)} params now; as {short}: "
                      f"{' + '.join(n(x.macs) for x in specs)} = {n(after)} MACs"
                      + (f"; the conv expands {cin}->{cout} ({cout / cin:.1f}x), so its "
                         f"spatial aggregation already runs on a reduced embedding and the "
                         f"factorization is a further, smaller step" if expands else "")),
            fix=(f"replace by {form} (intermediate width {m} {rule_txt}, same output grid "
                 f"{out_hw[0]}x{out_hw[1]}): {outcome}"),
            saving={"macs": saving, "params": saving_p},
            data={"form": short, "intermediate_channels": m, "width_rule":
                  cfg.p3_factorize_width, "macs_before": before, "macs_after": after,
                  "params_before": before_p, "params_after": after_p,
                  "saving_fraction": round(saving / before, 4), "factors": _specs_dict(specs),
                  "per_layer": _per_layer(nd.name, saving, saving_p),
                  "expands": expands,
                  "group_key": [kxk(k), list(in_hw), list(s), macs_ok],
                  "group_title": (f"{kxk(k)} convs {where}: factorize each into {short} with "
                                  f"intermediate width {_WIDTH_RULE[cfg.p3_factorize_width]} "
                                  f"({_WHY})"),
                  "group_item": (f"{nd.name} {cin}->{cout}"
                                 + (f" (expands {cout / cin:.1f}x)" if expands else "")
                                 + f", width {m}: "
                                 + (f"saves {n(saving)} MACs ({pct(saving, before)})"
                                    if macs_ok else f"saves {n(saving_p)} params, "
                                    f"{n(-saving)} more MACs")),
                  "group_fix": (f"replace each by {short} at its intermediate width, same "
                                f"output grid")}))
    return found


@rule("P3.factorize-large", "n x n convolution (n >= 5) that stacked 3x3 convs can replace")
def factorize_large(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """Replace a large n x n convolution by a stack of 3x3 convolutions.

    **Principle 3.** A 5x5 conv sees what two stacked 3x3 convs see, for 18/25 of the cost on
    equal widths: a 28 % saving (the paper's section 3.1). A 7x7 becomes three 3x3.

    **Measured** on every ungrouped, undilated n x n conv with odd n >= 5 off the medium grids,
    reading at least `p3-min-in-channels` (16) channels (RGB stems are skipped). The stack keeps
    the receptive field and the output grid (padding split front-loaded, stride on the last
    factor); its width between the factors is the paper's sqrt(alpha) rule, sqrt(Cin x Cout)
    (`p3-factorize-width`). Savings are exact MACs and parameters on the layer's shapes.

    **Thresholds.** Reported when the stack saves at least `p3-min-saving` (10 %) of the
    layer's MACs (or of its parameters). Warning; info when only parameters drop (a strided
    conv: the first factor runs on the finer grid) or when the conv expands its input
    `p3-expand-info` (2x) or more, since it then already aggregates over a reduced embedding.
    Info findings on one kernel and grid merge into one; every warning keeps its own.

    **Fix.** (n-1)/2 stacked 3x3 convs at the stated intermediate width.
    """
    return _factorize(ctx, cfg, asymmetric=False)


@rule("P3.factorize-asymmetric", "n x n convolution on a medium grid: 1 x n then n x 1")
def factorize_asymmetric(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """On medium grids, replace an n x n convolution by 1 x n followed by n x 1.

    **Principle 3.** Asymmetric factorization keeps the receptive field for 2n instead of n x n
    weights per channel pair: 33 % cheaper for 3x3, 71 % for 7x7 on equal widths. The paper
    finds it works well on medium grids (12 to 20) and poorly on early layers.

    **Measured** on every ungrouped, stride-1 n x n conv (n >= 3) whose input grid lies
    between `p3-asym-grid-min` (12) and `p3-asym-grid-max` (20), reading at least
    `p3-min-in-channels` (16) channels; intermediate width sqrt(Cin x Cout). Savings are exact
    MACs and parameters on the layer's shapes.

    **Thresholds.** Reported from a `p3-min-saving` (10 %) saving. Warning for n >= 5; info for
    3x3 (the paper offers it as an option) and for convs that expand their input
    `p3-expand-info` (2x) or more. Info findings on one kernel and grid merge into one; every
    warning keeps its own.

    **Fix.** 1 x n then n x 1 at the stated intermediate width.
    """
    return _factorize(ctx, cfg, asymmetric=True)
