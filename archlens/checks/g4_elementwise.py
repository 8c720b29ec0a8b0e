"""Guideline G4 (ShuffleNet V2): element-wise operations are non-negligible.

ReLU, the residual add, un-fused BatchNorm, gates (``x * s``) do almost no multiply-accumulates
but read and write whole tensors: on many devices they take a share of the time far above
their share of the MACs.

* ``G4.elementwise``: the element-wise ops of the model take ``g4-min-share`` (10 %) or more of
  its time, and ``g4-min-ratio`` (3x) or more their share of the MACs (info; warning from
  25 % of the time).
"""
from __future__ import annotations

from archlens.analysis import Finding
from archlens.checks._common import Context, is_conv, pct
from archlens.checks._guidelines import GUIDELINES, is_bn, is_elementwise, ms, node_times
from archlens.checks._registry import rule
from archlens.checks.config import CheckConfig

_WHY = f"Guideline G4: {GUIDELINES['G4'].lower()}"
_WARN_SHARE = 0.25


def _block(name: str, module_path: str, kind: str) -> str:
    """The block an element-wise op belongs to: its owner module (a leaf's parent)."""
    if kind == "module":
        return module_path.rsplit(".", 1)[0] if "." in module_path else "(root)"
    return module_path or "(root)"


@rule("G4.elementwise", "element-wise ops take a time share far above their MAC share")
def elementwise(ctx: Context, cfg: CheckConfig) -> list[Finding]:
    """Element-wise ops cost time although they cost almost no MACs.

    **Guideline 4.** (Ma et al., ShuffleNet V2, ECCV 2018). Activations, residual adds,
    un-fused BatchNorm and gates touch every element of a tensor for one or two arithmetic
    operations: they are memory-bound, and together they can take a large part of the time.

    **Measured** over the whole model: the time of all element-wise ops (ReLU and the other
    activations, eval-mode BatchNorm, add / mul / sub / div between tensors, dropout) as a
    share of the model's time, beside their share of the MACs. Time: measured with a
    profile, else the roofline estimate. The blocks where they cost most are named.

    **Thresholds.** At least `g4-min-share` (10 %) of the time and `g4-min-ratio` (3x) their
    MAC share. Info; warning from 25 % of the time.

    **Fix.** Fold each BatchNorm that follows a conv into the conv's weights (exact in eval
    mode); fuse activations and adds into the op before them (`torch.compile`, oneDNN / cuDNN
    epilogues); drop ops that do nothing in inference. The finding gives the time of the
    foldable BNs and of the fusable activations: the estimated saving (an upper bound).
    """
    times = node_times(ctx, cfg)
    total_t, total_m = times.total, ctx.total_macs
    if total_t <= 0:
        return []
    ew = [nd for nd in ctx.graph.layers if is_elementwise(nd)]
    if not ew:
        return []
    t = sum(times.seconds.get(nd.name, 0.0) for nd in ew)
    m = sum(nd.macs for nd in ew)
    t_share = t / total_t
    m_share = m / total_m if total_m else 0.0
    if t_share < cfg.g4_min_share or t_share < cfg.g4_min_ratio * m_share:
        return []
    graph = ctx.graph
    foldable = [nd for nd in ew if is_bn(nd) and nd.inputs and nd.inputs[0] in graph
                and is_conv(graph[nd.inputs[0]])
                and len(graph.successors(nd.inputs[0])) == 1]
    fusable = [nd for nd in ew if not is_bn(nd) and len(nd.inputs) <= 2 and nd.inputs
               and nd.inputs[0] in graph
               and (is_conv(graph[nd.inputs[0]]) or is_bn(graph[nd.inputs[0]])
                    or is_elementwise(graph[nd.inputs[0]]))]
    t_fold = sum(times.seconds.get(nd.name, 0.0) for nd in foldable)
    t_fuse = sum(times.seconds.get(nd.name, 0.0) for nd in fusable)
    by_block: dict[str, float] = {}
    for nd in ew:
        b = _block(nd.name, nd.module_path, nd.kind)
        by_block[b] = by_block.get(b, 0.0) + times.seconds.get(nd.name, 0.0)
    top = sorted(by_block.items(), key=lambda kv: -kv[1])[:3]
    kinds: dict[str, int] = {}
    for nd in ew:
        kinds[nd.type] = kinds.get(nd.type, 0) + 1
    kinds_s = ", ".join(f"{c} {k}" for k, c in sorted(kinds.items(), key=lambda kv: -kv[1]))
    ratio = t_share / m_share if m_share else None
    top_layers = sorted(ew, key=lambda nd: -times.seconds.get(nd.name, 0.0))
    return [Finding(
        code="G4.elementwise", severity="warning" if t_share >= _WARN_SHARE else "info",
        layers=tuple(nd.name for nd in top_layers[:5]),
        message=(f"{len(ew)} element-wise ops take {pct(t, total_t)} of the time for "
                 f"{pct(m, total_m) if total_m else '0 %'} of the MACs ({_WHY})"),
        evidence=(f"{ms(t)} of {ms(total_t)} ({times.source}): {kinds_s}; most in "
                  + ", ".join(f"{b} ({ms(s)})" for b, s in top)),
        fix=(f"fold the {len(foldable)} BatchNorms that follow a conv into its weights "
             f"(exact in eval mode, {ms(t_fold)}) and fuse the {len(fusable)} activations / "
             f"adds into the op before them ({ms(t_fuse)}): up to {ms(t_fold + t_fuse)} "
             f"saved (estimate)"),
        data={"ops": len(ew), "time_ms": t * 1e3, "time_share": t_share,
              "mac_share": m_share, "ratio": ratio, "foldable_bn": len(foldable),
              "foldable_ms": t_fold * 1e3, "fusable": len(fusable), "fusable_ms": t_fuse * 1e3,
              "saved_ms_estimate": (t_fold + t_fuse) * 1e3,
              "top_blocks": [[b, s * 1e3] for b, s in top],
              "time_source": "measured" if times.measured else "estimated"})]
