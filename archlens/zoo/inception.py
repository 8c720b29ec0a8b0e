"""Inception family: registered cards and builders.

The networks live in :mod:`archlens.zoo.inception_v1` (GoogLeNet, its module, BN-Inception)
and :mod:`archlens.zoo.inception_v3` (Inception-v3 and its teaching variants). Variants are
builder arguments stacked as cards on one builder, never copied classes. What each variant
changes is spelled out in the card's ``notes`` and in ``docs/zoo-inception.md``.
"""
from __future__ import annotations

from torch import nn

from archlens.zoo.inception_v1 import GOOGLENET_MODULES, BNInception, GoogLeNet, InceptionV1Block
from archlens.zoo.inception_v3 import (UNFACTORIZED_REPLACEMENTS, Inception3, Reduction,
                                       Replacement)
from archlens.zoo.registry import ModelCard, Paper, register_model

__all__ = ["UNFACTORIZED_REPLACEMENTS", "Replacement", "bn_inception", "googlenet",
           "inception_v1_block", "inception_v3"]

FAMILY = "inception"

GOOGLENET_PAPER = Paper("Going Deeper with Convolutions",
                        "C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, "
                        "V. Vanhoucke, A. Rabinovich", 2014, "1409.4842")
BN_PAPER = Paper("Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
                 "Covariate Shift", "S. Ioffe, C. Szegedy", 2015, "1502.03167")
V3_PAPER = Paper("Rethinking the Inception Architecture for Computer Vision",
                 "C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna", 2016, "1512.00567")

_TV_V3_SOURCE = ("torchvision.models Inception_V3_Weights.IMAGENET1K_V1 meta: num_params "
                 "27,161,264 (AuxLogits kept), GFLOPS 5.713 (= MACs, aux not run in eval)")


# --------------------------------------------------------------------------------------------
# GoogLeNet (paper and torchvision layouts: one builder, two cards)
# --------------------------------------------------------------------------------------------

@register_model(ModelCard(
    name="googlenet_tv", family=FAMILY, paper=GOOGLENET_PAPER,
    input_shape=(3, 224, 224), output_shape=(1000,),
    description=(
        "torchvision's GoogLeNet, the layout most code and most published profiles refer to. "
        "Compared with the paper it adds BatchNorm after every convolution, and its third "
        "Inception branch uses a 3x3 where the paper has a 5x5 (a quirk kept for the ported "
        "weights) - a good lesson that 'GoogLeNet' numbers quoted in the wild are often for a "
        "network that is not the paper's: 6.6M instead of 7.0M parameters."),
    published_params=6_624_904, published_macs=1_498_000_000,
    source=("torchvision.models GoogLeNet_Weights.IMAGENET1K_V1 meta: num_params 6,624,904 "
            "(the weights drop the aux heads), GFLOPS 1.498 (= MACs); torchvision's googlenet() "
            "without weights builds aux1/aux2 and has 13,004,888"),
    kwargs=dict(layout="torchvision", aux_logits=False),
    notes=("vs the paper: BasicConv2d (conv without bias + BN eps 0.001 + ReLU) everywhere; "
           "branch3 kernel 3x3 (padding 1) instead of 5x5; no LocalResponseNorm; maxpool4 is "
           "2x2/2 instead of 3x3/2; dropout 0.2; aux heads pool adaptively to 4x4. Default "
           "aux_logits=False = torchvision's published model (6,624,904); aux_logits=True adds "
           "aux1 (3,188,968) + aux2 (3,191,016) = 13,004,888. Aux heads run only in training "
           "mode, so MACs are the same either way."),
))
@register_model(ModelCard(
    name="googlenet", family=FAMILY, paper=GOOGLENET_PAPER,
    input_shape=(3, 224, 224), output_shape=(1000,),
    description=(
        "GoogLeNet / Inception-v1 as in the paper: nine Inception modules, each running 1x1, "
        "3x3, 5x5 convolutions and a max-pool in parallel and concatenating them, with 1x1 "
        "'reduce' convolutions in front of the expensive 3x3 and 5x5 so that a 22-layer "
        "network costs only about 1.5 billion multiply-adds and 7M parameters (12x fewer than "
        "AlexNet). It teaches multi-scale processing inside a layer, the 1x1 bottleneck, "
        "global average pooling instead of large fully connected layers, and auxiliary "
        "classifiers as a training aid."),
    published_params=None, published_macs=1_586_000_000,
    source=("paper Table 1, 'ops' column (multiply-adds): 118M+360M+128M+304M+73M+88M+100M+119M"
            "+170M+54M+71M+1M = 1,586M (the text rounds to '1.5 billion'). Table 1 'params' "
            "sums to ~6.8M but counts weights only, in K=1024, and has inconsistent rows "
            "(conv1 2.7K vs 9,408 weights; 4c 463K vs 509,440; 5a 1072K vs 1,042,432) - no "
            "exact published count. By hand from Table 1's widths: 6,990,272 weights + 8,280 "
            "biases = 6,998,552 (aux heads +3,188,840 +3,190,888 = 13,378,280)"),
    kwargs=dict(layout="paper", aux_logits=False),
    notes=("paper-faithful: conv+bias+ReLU units (no BN, 2014), a true 5x5 in branch3, "
           "LocalResponseNorm(5, alpha 1e-4, beta 0.75, k 1) after maxpool1 and after conv3 "
           "(paper Figure 3; no parameters, fvcore does not count it), ceil-mode 3x3/2 max "
           "pools, dropout 0.4, aux heads (aux_logits=True) = avgpool 5x5/3, 1x1 conv 128, "
           "fc 1024, dropout 0.7, fc. Global pooling is AdaptiveAvgPool2d (= the paper's 7x7 "
           "avg pool at 224x224). Our 5a costs 51.1M MACs where Table 1 says 54M."),
))
def googlenet(layout: str = "paper", num_classes: int = 1000, aux_logits: bool = False,
              lrn: bool | None = None, dropout: float | None = None) -> nn.Module:
    """GoogLeNet; ``layout`` "paper" (googlenet) or "torchvision" (googlenet_tv)."""
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, layout=layout, lrn=lrn,
                     dropout=dropout)


@register_model(ModelCard(
    name="inception_v1_block", family=FAMILY, paper=GOOGLENET_PAPER,
    input_shape=(192, 28, 28), output_shape=(256, 28, 28),
    description=(
        "One Inception-v1 module, GoogLeNet's 3a on the 28x28x192 grid: 1x1 to 64, 1x1 to 96 "
        "then 3x3 to 128, 1x1 to 16 then 5x5 to 32, 3x3 max-pool then 1x1 to 32, "
        "concatenated to 256 channels. The 1x1 reductions are the point: the 5x5 branch "
        "costs 12.4M MACs through its 16-channel bottleneck instead of 120.4M directly "
        "(compare ng_bottleneck_direct / ng_bottleneck_reduced)."),
    published_params=163_696, published_macs=128_000_000,
    source=("GoogLeNet paper Table 1, inception (3a): ops 128M; params 159K (= 163,328 weights "
            "/ 1024). By hand with biases: 192x64+64 + 192x96+96 + 3x3x96x128+128 + "
            "192x16+16 + 5x5x16x32+32 + 192x32+32 = 163,696"),
    kwargs=dict(widths=GOOGLENET_MODULES["inception3a"]),
    notes=("paper units (conv with bias + ReLU, no BN), true 5x5. widths=(in, #1x1, #3x3red, "
           "#3x3, #5x5red, #5x5, pool_proj) builds any module, e.g. the tutorial's "
           "(3, 64, 32, 64, 64, 96, 32) at 3x256x256 = 172,960 params (torchsummary)."),
))
def inception_v1_block(widths: tuple[int, int, int, int, int, int, int]
                       = GOOGLENET_MODULES["inception3a"]) -> nn.Module:
    """A single paper-style Inception-v1 module (default: GoogLeNet 3a)."""
    return InceptionV1Block(tuple(widths))  # type: ignore[arg-type]


@register_model(ModelCard(
    name="bn_inception", family=FAMILY, paper=BN_PAPER,
    input_shape=(3, 224, 224), output_shape=(1000,),
    description=(
        "BN-Inception (the 'Inception-v2' of the Batch-Norm paper, its Figure 5): GoogLeNet "
        "with BatchNorm after every convolution and each 5x5 replaced by two stacked 3x3 "
        "(same 5x5 receptive field, 28% fewer MACs per unit of width, one more non-"
        "linearity), wider modules, and grid reduction inside stride-2 Inception modules "
        "(3c, 4e: stride-2 3x3 branches beside a stride-2 max pool) instead of standalone "
        "pooling layers. It teaches that normalisation lets a deeper, wider Inception train "
        "fast, and is the bridge from Inception-v1 to v3's factorization principles."),
    published_params=None, published_macs=2_000_000_000,
    source=("~2.0 G MACs as commonly quoted for BN-Inception (project spec, issue 2); the BN "
            "paper gives no MAC count. It states 13.6M parameters, which does not match its "
            "own Figure 5 table; the table's widths give 11,285,224 (conv without bias + BN, "
            "fc 1024x1000) - by hand in tests/zoo/test_inception.py"),
    notes=("Figure 5 widths; stem as the Caffe port (7x7/2 conv 64, maxpool 3x3/2, 1x1 64, "
           "3x3 192, maxpool 3x3/2; a plain 7x7, not the depthwise-separable first layer some "
           "ports use); avg-pool branches in 3a-5a, max-pool in 5b; ceil-mode pools; no "
           "dropout, no aux heads; BasicConv2d (conv without bias) - Caffe ports keep a conv "
           "bias before BN, which only adds parameters BN makes redundant."),
))
def bn_inception(num_classes: int = 1000) -> nn.Module:
    """BN-Inception (Ioffe & Szegedy 2015, Figure 5)."""
    return BNInception(num_classes=num_classes)


# --------------------------------------------------------------------------------------------
# Inception-v3 and its variants (one builder, seven cards)
# --------------------------------------------------------------------------------------------

def _unfactorized_notes() -> str:
    pairs = "; ".join(
        f"{r.factors[0]} {r.factor_kernels[0][0]}x{r.factor_kernels[0][1]} + "
        f"{r.factors[1].rsplit('.', 1)[1]} {r.factor_kernels[1][0]}x{r.factor_kernels[1][1]}"
        f" -> {r.merged} {r.kernel[0]}x{r.kernel[1]} ({r.in_channels}->{r.out_channels})"
        for r in UNFACTORIZED_REPLACEMENTS)
    return (f"{len(UNFACTORIZED_REPLACEMENTS)} factorized pairs merged into one conv each "
            "(the merged conv keeps the first factor's name, the second factor is removed; "
            "in/out channels unchanged, the intermediate width disappears; window, stride and "
            "alignment identical): " + pairs + ". Left on purpose: the stem (Conv2d_1a/2a/2b), "
            "Mixed_7b/7c's parallel 1x3|3x1 splits (Figure 7, not a series factorization), "
            "and the 5x5s torchvision already has (Mixed_5b-d.branch5x5_2, AuxLogits.conv1). "
            "Machine-readable: archlens.zoo.inception.UNFACTORIZED_REPLACEMENTS. "
            "Params 41,023,280 with aux (+13,862,016), fvcore 9.728 G MACs.")


_V3_DESC = (
    "Inception-v3 applies the paper's four design principles: avoid representational "
    "bottlenecks (grid reductions run stride-2 convolutions and pooling in parallel, Mixed_6a "
    "and Mixed_7a), process high-dimensional representations locally (the wide 8x8 modules "
    "Mixed_7b/c with split 1x3|3x1 outputs), reduce dimension before spatial aggregation (1x1 "
    "reductions), and balance width and depth. Its signature is factorization: 5x5 as two "
    "3x3 (28% cheaper) and 7x7 as 1x7 then 7x1 (on the 17x17 grid), giving 42 layers at 5.7 G "
    "MACs. The auxiliary classifier on Mixed_6e acts as a regulariser (it runs only in "
    "training).")

_V3_COMMON = "torchvision's Inception3 layout and module names; "


@register_model(ModelCard(
    name="inception_v3_79", family=FAMILY, paper=V3_PAPER,
    input_shape=(3, 79, 79), output_shape=(1000,),
    description=(
        "Low-resolution Inception-v3 (paper section 7, 79x79 receptive field): the first "
        "convolution at stride 1 and the first max pool removed, so a 79x79 input still "
        "reaches a 36x36 grid at Mixed_5b and 8x8 at Mixed_7c. The paper's point: a network "
        "for small objects should lose resolution later rather than upsample its input; at "
        "equal cost, low-resolution networks come close to the full one."),
    published_params=None, published_macs=None,
    source="paper section 7 and Table 2 (accuracy only; no parameter or MAC figures)",
    kwargs=dict(first_stride=1, first_pool=False),
    notes=(_V3_COMMON + "Conv2d_1a_3x3 stride 2 -> 1, maxpool1 removed (attribute None). "
           "Grids: 79 -> 77 -> 75 -> 75 -> 73 -> maxpool2 36 (Mixed_5b-d at 36x36) -> "
           "Mixed_6a 17 -> Mixed_7a 8. Same parameters as inception_v3 (27,161,264 with aux); "
           "fvcore 5.376 G MACs."),
))
@register_model(ModelCard(
    name="inception_v3_151", family=FAMILY, paper=V3_PAPER,
    input_shape=(3, 151, 151), output_shape=(1000,),
    description=(
        "Low-resolution Inception-v3 (paper section 7, 151x151 receptive field): the first "
        "convolution at stride 1 instead of 2, so a 151x151 input gives the same 149->147->"
        "73->35->17->8 grids as 299x299 - and exactly the same MACs. It shows that input "
        "resolution and cost can be decoupled by where the network downsamples."),
    published_params=None, published_macs=None,
    source="paper section 7 and Table 2 (accuracy only; no parameter or MAC figures)",
    kwargs=dict(first_stride=1),
    notes=(_V3_COMMON + "Conv2d_1a_3x3 stride 2 -> 1; everything else unchanged. Grids: "
           "151 -> 149 -> 147 -> 73 -> 71 -> 35 -> 17 -> 8. Same parameters as inception_v3 "
           "(27,161,264 with aux) and the same conv MACs (5.713 G)."),
))
@register_model(ModelCard(
    name="inception_v3_expand_then_pool", family=FAMILY, paper=V3_PAPER,
    input_shape=(3, 299, 299), output_shape=(1000,),
    description=(
        "Inception-v3 with both grid reductions done as the paper's Figure 9 (right): widen "
        "first at full resolution, then pool. No information bottleneck, but the widening "
        "convolutions run on the large grid: the two reduction modules cost 1.90 G MACs, "
        "2.7x the paper's efficient reduction (Figure 10: 0.69 G) and 4.3x pool-first "
        "(0.44 G). The efficient reduction avoids the bottleneck at a third of the cost."),
    published_params=None, published_macs=None,
    source="paper section 5, Figure 9 (schematic, no figures for Inception-v3)",
    kwargs=dict(reduction="conv_then_pool"),
    notes=(_V3_COMMON + "Mixed_6a: branch3x3 (3x3 288->384) and branch3x3dbl_3 (3x3 96->96) at "
           "stride 1, padding 1 on 35x35; concat [384, 96, input 288] = 768x35x35; then "
           "Mixed_6a.pool (max 3x3/2) -> 768x17x17. Mixed_7a: branch3x3_2 (3x3 192->320) and "
           "branch7x7x3_4 (3x3 192->192) at stride 1, padding 1 on 17x17; concat [320, 192, "
           "input 768] = 1280x17x17; then Mixed_7a.pool -> 1280x8x8. Same parameters as "
           "inception_v3 (27,161,264 with aux); fvcore 6.941 G MACs (conv MACs of Mixed_6a + "
           "Mixed_7a: 1,901,270,016 vs 692,941,824 in inception_v3)."),
))
@register_model(ModelCard(
    name="inception_v3_naive_reduction", family=FAMILY, paper=V3_PAPER,
    input_shape=(3, 299, 299), output_shape=(1000,),
    description=(
        "Inception-v3 with both grid reductions done as the paper's Figure 9 (left): pool "
        "first, then widen. Cheapest, but it violates principle 1: the whole representation "
        "is squeezed through the pooled tensor (288x17x17 before growing to 768x17x17; "
        "768x8x8 before 1280x8x8) - a representational bottleneck the design checks should "
        "flag."),
    published_params=None, published_macs=None,
    source="paper section 5, Figure 9 (schematic, no figures for Inception-v3)",
    kwargs=dict(reduction="pool_then_conv"),
    notes=(_V3_COMMON + "Mixed_6a: Mixed_6a.pool (max 3x3/2) first: 288x35x35 -> 288x17x17; "
           "then branch3x3 (3x3 288->384) and the branch3x3dbl chain run at stride 1, "
           "padding 1 on 17x17; concat [384, 96, pooled 288] = 768x17x17. Mixed_7a: "
           "Mixed_7a.pool first: 768x17x17 -> 768x8x8; branch3x3_2 and branch7x7x3_4 at "
           "stride 1, padding 1 on 8x8; concat [320, 192, pooled 768] = 1280x8x8. Same "
           "parameters as inception_v3 (27,161,264 with aux); fvcore 5.479 G MACs (conv MACs of "
           "Mixed_6a + Mixed_7a: 441,455,616 vs 692,941,824 in inception_v3)."),
))
@register_model(ModelCard(
    name="inception_v3_unfactorized", family=FAMILY, paper=V3_PAPER,
    input_shape=(3, 299, 299), output_shape=(1000,),
    description=(
        "Inception-v3 with the paper's spatial factorizations undone: each 1x7+7x1 (or "
        "7x1+1x7) pair becomes one 7x7 and each pair of stacked 3x3 one 5x5, with the same "
        "input and output channels. Same receptive fields and output grids, but 41.0M instead "
        "of 27.2M parameters and 9.7 G instead of 5.7 G MACs - the price factorization "
        "avoids. The design checks should point at every merged convolution."),
    published_params=None, published_macs=None,
    source="paper sections 3.1-3.2, Figures 5-6 (the factorizations undone here)",
    kwargs=dict(unfactorized=True),
    notes=_V3_COMMON + _unfactorized_notes(),
))
@register_model(ModelCard(
    name="inception_v3", family=FAMILY, paper=V3_PAPER,
    input_shape=(3, 299, 299), output_shape=(1000,),
    description=_V3_DESC,
    published_params=27_161_264, published_macs=5_713_000_000, source=_TV_V3_SOURCE,
    kwargs=dict(),
    notes=("torchvision's Inception3 exactly (module names, counts; 23,834,568 without "
           "AuxLogits via aux_logits=False). No transform_input. Pooling, dropout and flatten "
           "are modules (Mixed_5b.pool, avgpool, dropout, flatten) where torchvision calls F.*; "
           "no count changes. Note torchvision keeps a 5x5 in Mixed_5b-d.branch5x5_2 (not "
           "factorized as in the paper's Figure 5) and a 5x5 in AuxLogits.conv1."),
))
def inception_v3(num_classes: int = 1000, aux_logits: bool = True, dropout: float = 0.5,
                 unfactorized: bool = False, reduction: Reduction = "efficient",
                 first_stride: int = 2, first_pool: bool = True) -> nn.Module:
    """Inception-v3 (torchvision layout) and its variants, selected by arguments."""
    return Inception3(num_classes=num_classes, aux_logits=aux_logits, dropout=dropout,
                      unfactorized=unfactorized, reduction=reduction,
                      first_stride=first_stride, first_pool=first_pool)
