"""Inception family: counts against published figures and against hand arithmetic from the papers.

Expected numbers here are independent of the code under test: torchvision's published
metadata, the papers' tables (widths re-typed here, not imported from the zoo) and plain
arithmetic. MACs are multiply-accumulates; fvcore calls them "flops".
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archlens.zoo import card, get_model
from archlens.zoo.inception import UNFACTORIZED_REPLACEMENTS

pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def conv_w(cin: int, cout: int, kh: int, kw: int | None = None) -> int:
    """Weights of a conv (no bias)."""
    return cin * cout * kh * (kh if kw is None else kw)


def shapes_of(model: nn.Module, x: torch.Tensor, names: list[str], *, inputs: bool = False
              ) -> dict[str, tuple[int, ...]]:
    """Output (or input) shapes of the named submodules during one eval forward."""
    got: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name in names:
        def hook(_m, args, out, name=name):
            got[name] = tuple((args[0] if inputs else out).shape)
        hooks.append(model.get_submodule(name).register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return got


# ------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def v3() -> nn.Module:
    return get_model("inception_v3")


@pytest.fixture(scope="module")
def v3_unfact() -> nn.Module:
    return get_model("inception_v3_unfactorized")


@pytest.fixture(scope="module")
def v3_macs(v3):
    """fvcore (total, by operator) of inception_v3 at 1x3x299x299, computed once per module."""
    import logging

    from fvcore.nn import FlopCountAnalysis
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad():
        fca = FlopCountAnalysis(v3, torch.zeros(1, 3, 299, 299))
        fca.unsupported_ops_warnings(False)
        fca.uncalled_modules_warnings(False)
        return int(fca.total()), dict(fca.by_operator())


# ------------------------------------------------------------------------------- Inception-v3

def test_inception_v3_params_published(v3):
    # torchvision Inception_V3_Weights meta: 27,161,264 with AuxLogits, 23,834,568 without.
    assert n_params(v3) == 27_161_264
    assert n_params(get_model("inception_v3", aux_logits=False)) == 23_834_568
    # AuxLogits by hand: 1x1 768->128 + BN, 5x5 128->768 + BN, fc 768->1000.
    aux = conv_w(768, 128, 1) + 256 + conv_w(128, 768, 5) + 1536 + 768 * 1000 + 1000
    assert n_params(v3.AuxLogits) == aux == 27_161_264 - 23_834_568


def test_inception_v3_macs_published(v3_macs):
    total, by_op = v3_macs
    assert total == pytest.approx(5.713e9, rel=0.01)  # torchvision GFLOPS (= MACs), aux not run
    assert round((by_op["conv"] + by_op["linear"]) / 1e9, 3) == 5.713  # the conv+fc profile
    assert by_op["linear"] == 2048 * 1000  # only the main fc ran: AuxLogits is training-only


def test_inception_v3_module_names_and_shapes(v3):
    names = dict(v3.named_modules())
    for n in ("Conv2d_1a_3x3.conv", "Mixed_5b.branch1x1.conv", "Mixed_5b.branch5x5_2.conv",
              "Mixed_5b.pool", "Mixed_6b.branch7x7dbl_5.conv", "Mixed_7c.branch3x3dbl_3b.bn",
              "AuxLogits.conv1.conv", "AuxLogits.fc", "avgpool", "dropout", "fc"):
        assert n in names, n
    got = shapes_of(v3, torch.zeros(2, 3, 299, 299),
                    ["maxpool2", "Mixed_5d", "Mixed_6a", "Mixed_6e", "Mixed_7a", "Mixed_7c", "fc"])
    assert got == {"maxpool2": (2, 192, 35, 35), "Mixed_5d": (2, 288, 35, 35),
                   "Mixed_6a": (2, 768, 17, 17), "Mixed_6e": (2, 768, 17, 17),
                   "Mixed_7a": (2, 1280, 8, 8), "Mixed_7c": (2, 2048, 8, 8), "fc": (2, 1000)}


@pytest.mark.slow  # builds/traces extra 27M-parameter models
def test_inception_v3_training_returns_aux():
    m = get_model("inception_v3").train()
    with torch.no_grad():
        out = m(torch.randn(2, 3, 299, 299))
    assert out.logits.shape == (2, 1000) and out.aux_logits.shape == (2, 1000)


# ------------------------------------------------------------------------------- unfactorized

# (module, c7) of the 17x17 modules; Mixed_5b-d in-channels 192/256/288 (torchvision layout).
C7 = {"Mixed_6b": 128, "Mixed_6c": 160, "Mixed_6d": 160, "Mixed_6e": 192}


def test_unfactorized_params_by_hand(v3_unfact):
    # Each pair (cin->mid->cout, k1, k2) becomes one cin->cout conv; the mid BN (2*mid) goes.
    def delta(cin, mid, cout, k, k1, k2):
        merged = cin * cout * k[0] * k[1]
        return merged - cin * mid * k1[0] * k1[1] - mid * cout * k2[0] * k2[1] - 2 * mid
    d = 4 * delta(64, 96, 96, (5, 5), (3, 3), (3, 3))  # Mixed_5b, 5c, 5d, 6a
    for c7 in C7.values():
        d += delta(c7, c7, 192, (7, 7), (1, 7), (7, 1))  # branch7x7
        d += delta(c7, c7, c7, (7, 7), (7, 1), (1, 7))  # branch7x7dbl_2/_3
        d += delta(c7, c7, 192, (7, 7), (7, 1), (1, 7))  # branch7x7dbl_4/_5
    d += delta(192, 192, 192, (7, 7), (1, 7), (7, 1))  # Mixed_7a
    assert d == 13_862_016
    assert n_params(v3_unfact) == 27_161_264 + d


def test_unfactorized_no_pairs_left_same_channels(v3, v3_unfact):
    kernels = [m.kernel_size for m in v3_unfact.modules() if isinstance(m, nn.Conv2d)]
    assert (1, 7) not in kernels and (7, 1) not in kernels
    for mod in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a"):
        assert getattr(v3_unfact, mod).branch3x3dbl_3 is None
    assert kernels.count((7, 7)) == 13 and kernels.count((5, 5)) == 3 + 4 + 1  # + 5x5s kept
    # The 1x3 | 3x1 parallel splits of Mixed_7b/7c stay (not a series factorization).
    assert kernels.count((1, 3)) == kernels.count((3, 1)) == 4
    mixed = [n for n, _ in v3.named_children() if n.startswith("Mixed")]
    x = torch.zeros(1, 3, 299, 299)
    assert shapes_of(v3, x, mixed) == shapes_of(v3_unfact, x, mixed)


def test_unfactorized_replacement_list_matches_both_builds(v3, v3_unfact):
    assert len(UNFACTORIZED_REPLACEMENTS) == 17
    assert len({r.merged for r in UNFACTORIZED_REPLACEMENTS}) == 17
    for r in UNFACTORIZED_REPLACEMENTS:
        conv = v3_unfact.get_submodule(r.merged_conv)
        assert conv.kernel_size == r.kernel and conv.stride == r.stride
        assert (conv.in_channels, conv.out_channels) == (r.in_channels, r.out_channels)
        parent, second = r.factors[1].rsplit(".", 1)
        assert getattr(v3_unfact.get_submodule(parent), second) is None
        f1, f2 = (v3.get_submodule(f"{f}.conv") for f in r.factors)
        assert (f1.kernel_size, f2.kernel_size) == r.factor_kernels
        assert f1.in_channels == r.in_channels and f2.out_channels == r.out_channels
        assert f1.out_channels == f2.in_channels == r.intermediate_channels


@pytest.mark.slow  # builds/traces extra 27M-parameter models
def test_unfactorized_mac_delta_by_hand(v3_macs, v3_unfact, count_macs):
    base = v3_macs[1]["conv"]
    unf = count_macs(v3_unfact, torch.zeros(1, 3, 299, 299))[1]["conv"]
    g35, g17 = 35 * 35, 17 * 17
    d = 3 * g35 * (64 * 96 * 25 - 64 * 96 * 9 - 96 * 96 * 9)  # Mixed_5b-d
    # Mixed_6a: the first 3x3 ran at 35x35, the merged stride-2 5x5 runs at 17x17 outputs.
    d += g17 * 64 * 96 * 25 - (g35 * 64 * 96 * 9 + g17 * 96 * 96 * 9)
    for c7 in C7.values():
        d += g17 * (c7 * 192 * 49 - c7 * c7 * 7 - c7 * 192 * 7)
        d += g17 * (c7 * c7 * 49 - 2 * c7 * c7 * 7)
        d += g17 * (c7 * 192 * 49 - c7 * c7 * 7 - c7 * 192 * 7)
    d += g17 * (192 * 192 * 49 - 2 * 192 * 192 * 7)
    assert unf - base == d


# ------------------------------------------------------------------------------- grid reductions

def _reduction_conv_macs(model: nn.Module, count_macs) -> tuple[int, int]:
    a = count_macs(model.Mixed_6a, torch.zeros(1, 288, 35, 35))[1]["conv"]
    b = count_macs(model.Mixed_7a, torch.zeros(1, 768, 17, 17))[1]["conv"]
    return a, b


@pytest.mark.slow  # builds/traces extra 27M-parameter models
def test_reduction_variants_shapes_params_and_macs(v3, count_macs):
    naive = get_model("inception_v3_naive_reduction")
    expand = get_model("inception_v3_expand_then_pool")
    assert n_params(naive) == n_params(expand) == 27_161_264  # only the order changed
    x = torch.zeros(1, 3, 299, 299)
    # Naive: the pooled tensor is smaller than both the module's input and its output.
    out = shapes_of(naive, x, ["Mixed_6a.pool", "Mixed_7a.pool", "Mixed_6a", "Mixed_7a"])
    assert out["Mixed_6a.pool"] == (1, 288, 17, 17) and out["Mixed_6a"] == (1, 768, 17, 17)
    assert out["Mixed_7a.pool"] == (1, 768, 8, 8) and out["Mixed_7a"] == (1, 1280, 8, 8)
    assert 288 * 17 * 17 < min(288 * 35 * 35, 768 * 17 * 17)
    assert shapes_of(naive, x, ["Mixed_6a.branch3x3", "Mixed_7a.branch3x3_2"], inputs=True) == {
        "Mixed_6a.branch3x3": (1, 288, 17, 17), "Mixed_7a.branch3x3_2": (1, 192, 8, 8)}
    # Expand-then-pool: full width at full resolution, pooled last.
    inp = shapes_of(expand, x, ["Mixed_6a.pool", "Mixed_7a.pool"], inputs=True)
    assert inp == {"Mixed_6a.pool": (1, 768, 35, 35), "Mixed_7a.pool": (1, 1280, 17, 17)}
    assert shapes_of(expand, x, ["Mixed_6a", "Mixed_7a"]) == {
        "Mixed_6a": (1, 768, 17, 17), "Mixed_7a": (1, 1280, 8, 8)}
    # Conv MACs by hand. Mixed_6a convs: 3x3 288->384, 1x1 288->64, 3x3 64->96, 3x3 96->96.
    per_px_6a = 384 * 288 * 9 + 64 * 288 + 96 * 64 * 9 + 96 * 96 * 9
    eff_6a = 289 * 384 * 288 * 9 + 1225 * (64 * 288 + 96 * 64 * 9) + 289 * 96 * 96 * 9
    # Mixed_7a: 1x1 768->192, 3x3 192->320, 1x1 768->192, 1x7, 7x1 192->192, 3x3 192->192.
    per_px_7a = 192 * 768 + 320 * 192 * 9 + 192 * 768 + 2 * 192 * 192 * 7 + 192 * 192 * 9
    eff_7a = 289 * (2 * 192 * 768 + 2 * 192 * 192 * 7) + 64 * (320 * 192 * 9 + 192 * 192 * 9)
    assert _reduction_conv_macs(v3, count_macs) == (eff_6a, eff_7a)
    assert _reduction_conv_macs(naive, count_macs) == (289 * per_px_6a, 64 * per_px_7a)
    assert _reduction_conv_macs(expand, count_macs) == (1225 * per_px_6a, 289 * per_px_7a)
    # "about 3x": expand-then-pool vs the efficient reduction.
    assert 2.5 < (1225 * per_px_6a + 289 * per_px_7a) / (eff_6a + eff_7a) < 3.0


# ------------------------------------------------------------------------------- low resolution

@pytest.mark.parametrize("name, size, grid5", [("inception_v3_151", 151, 35),
                                               ("inception_v3_79", 79, 36)])
def test_low_resolution_variants(name, size, grid5):
    m = get_model(name)
    assert card(name).input_shape == (3, size, size)
    assert m.Conv2d_1a_3x3.conv.stride == (1, 1)
    assert (m.maxpool1 is None) == (size == 79)
    assert n_params(m) == 27_161_264
    got = shapes_of(m, torch.zeros(1, 3, size, size), ["Mixed_5b", "Mixed_6e", "Mixed_7c", "fc"])
    assert got == {"Mixed_5b": (1, 256, grid5, grid5), "Mixed_6e": (1, 768, 17, 17),
                   "Mixed_7c": (1, 2048, 8, 8), "fc": (1, 1000)}


# ------------------------------------------------------------------------------- GoogLeNet

# GoogLeNet paper Table 1: (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj, grid).
TABLE1 = [(192, 64, 96, 128, 16, 32, 32, 28), (256, 128, 128, 192, 32, 96, 64, 28),
          (480, 192, 96, 208, 16, 48, 64, 14), (512, 160, 112, 224, 24, 64, 64, 14),
          (512, 128, 128, 256, 24, 64, 64, 14), (512, 112, 144, 288, 32, 64, 64, 14),
          (528, 256, 160, 320, 32, 128, 128, 14), (832, 256, 160, 320, 32, 128, 128, 7),
          (832, 384, 192, 384, 48, 128, 128, 7)]


def v1_module(cin, c1, c3r, c3, c5r, c5, pp, k5=5):
    """(weights, biases) of one Inception-v1 module."""
    w = cin * c1 + cin * c3r + c3r * c3 * 9 + cin * c5r + c5r * c5 * k5 * k5 + cin * pp
    return w, c1 + c3r + c3 + c5r + c5 + pp


def test_googlenet_paper_params_and_macs_by_hand(count_macs):
    m = get_model("googlenet")
    stem_w = 7 * 7 * 3 * 64 + 64 * 64 + 3 * 3 * 64 * 192
    w = stem_w + sum(v1_module(*r[:7])[0] for r in TABLE1) + 1024 * 1000
    b = 64 + 64 + 192 + sum(v1_module(*r[:7])[1] for r in TABLE1) + 1000
    assert (w, b) == (6_990_272, 8_280)
    assert n_params(m) == w + b
    # Table 1 'params' column, K = 1024 weights, sums to ~6.8M: the table's rows are off in
    # places (conv1 "2.7K"), our weights are 6.83M in those units - within 3 %.
    assert w / 1024 == pytest.approx(6797.7, rel=0.03)
    aux = lambda cin: cin * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000  # noqa: E731
    assert n_params(get_model("googlenet", aux_logits=True)) == w + b + aux(512) + aux(528)
    # MACs: each conv costs grid^2 x weights.
    macs = 112 ** 2 * 7 * 7 * 3 * 64 + 56 ** 2 * (64 * 64 + 9 * 64 * 192)
    macs += sum(r[7] ** 2 * v1_module(*r[:7])[0] for r in TABLE1) + 1024 * 1000
    total, by_op = count_macs(m, torch.zeros(1, 3, 224, 224))
    assert by_op["conv"] + by_op["linear"] == macs
    # Table 1 'ops' column sums to 1,586M (text: "1.5 billion multiply-adds").
    assert total == pytest.approx(1_586e6, rel=0.01)
    names = dict(m.named_modules())
    assert isinstance(names["lrn1"], nn.LocalResponseNorm)
    assert names["inception3a.branch3.1.conv"].kernel_size == (5, 5)


def test_googlenet_tv_published_both_aux_settings(count_macs):
    m = get_model("googlenet_tv")
    assert n_params(m) == 6_624_904  # torchvision GoogLeNet_Weights meta (aux heads dropped)
    with_aux = get_model("googlenet_tv", aux_logits=True)
    assert n_params(with_aux) == 13_004_888  # torchvision googlenet() default, aux1 + aux2
    total, _ = count_macs(m, torch.zeros(1, 3, 224, 224))
    assert total == pytest.approx(1.498e9, rel=0.01)
    assert m.inception3a.branch3[1].conv.kernel_size == (3, 3)  # torchvision's "5x5" branch
    with torch.no_grad():
        out = with_aux.train()(torch.randn(2, 3, 224, 224))
    assert [tuple(o.shape) for o in out] == [(2, 1000)] * 3


# ------------------------------------------------------------------------------- BN-Inception

# BN paper Figure 5: (#1x1, #3x3 reduce, #3x3, #double reduce, #double 3x3, pool proj
# (0 = pass through), stride, grid of the module's input).
FIG5 = [(64, 64, 64, 64, 96, 32, 1, 28), (64, 64, 96, 64, 96, 64, 1, 28),
        (0, 128, 160, 64, 96, 0, 2, 28), (224, 64, 96, 96, 128, 128, 1, 14),
        (192, 96, 128, 96, 128, 128, 1, 14), (160, 128, 160, 128, 160, 128, 1, 14),
        (96, 128, 192, 160, 192, 128, 1, 14), (0, 128, 192, 192, 256, 0, 2, 14),
        (352, 192, 320, 160, 224, 128, 1, 7), (352, 192, 320, 192, 224, 128, 1, 7)]


def test_bn_inception_params_and_macs_by_hand(count_macs):
    cin, params, macs = 192, 0, 0
    stem = [(3, 64, 7, 112), (64, 64, 1, 56), (64, 192, 3, 56)]
    for ci, co, k, g in stem:
        params += ci * co * k * k + 2 * co  # conv (no bias) + BN
        macs += g * g * ci * co * k * k
    for c1, c3r, c3, cdr, cd, pp, s, g in FIG5:
        go = g // s
        convs = [(cin, c1, 1, g), (cin, c3r, 1, g), (c3r, c3, 3, go), (cin, cdr, 1, g),
                 (cdr, cd, 3, g), (cd, cd, 3, go), (cin, pp, 1, g)]
        for ci, co, k, gg in convs:
            if co:
                params += ci * co * k * k + 2 * co
                macs += gg * gg * ci * co * k * k
        cin = c1 + c3 + cd + (pp or cin)
    assert cin == 1024
    params += 1024 * 1000 + 1000
    macs += 1024 * 1000
    m = get_model("bn_inception")
    assert n_params(m) == params == 11_285_224
    total, by_op = count_macs(m, torch.zeros(1, 3, 224, 224))
    assert by_op["conv"] + by_op["linear"] == macs
    assert total == pytest.approx(2.0e9, rel=0.025)  # "~2.0 G": known to +-0.05 G
    kernels = {mod.kernel_size for mod in m.modules() if isinstance(mod, nn.Conv2d)}
    assert (5, 5) not in kernels  # every 5x5 became two 3x3


# ------------------------------------------------------------------------------- teaching block

def test_inception_v1_block_by_hand(count_macs):
    m = get_model("inception_v1_block")
    by_hand = (192 * 64 + 64) + (192 * 96 + 96) + (3 * 3 * 96 * 128 + 128) + (192 * 16 + 16) \
        + (5 * 5 * 16 * 32 + 32) + (192 * 32 + 32)
    assert n_params(m) == by_hand == 163_696
    with torch.no_grad():
        assert m(torch.zeros(2, 192, 28, 28)).shape == (2, 256, 28, 28)
    total, _ = count_macs(m, torch.zeros(1, 192, 28, 28))
    # 28x28 outputs x weights = 128,049,152 (Table 1: "128M")
    assert total == 28 * 28 * (by_hand - (64 + 96 + 128 + 16 + 32 + 32))


def test_inception_v1_block_tutorial_table():
    # Tutorial (seed note 003): InceptionV1(3, 64, 32, 64, 64, 96, 32), torchsummary 172,960.
    m = get_model("inception_v1_block", widths=(3, 64, 32, 64, 64, 96, 32))
    assert n_params(m) == 172_960
    with torch.no_grad():
        assert m(torch.zeros(1, 3, 64, 64)).shape == (1, 256, 64, 64)


def test_family_cards():
    names = ["googlenet", "googlenet_tv", "inception_v1_block", "bn_inception", "inception_v3",
             "inception_v3_unfactorized", "inception_v3_naive_reduction",
             "inception_v3_expand_then_pool", "inception_v3_151", "inception_v3_79"]
    from archlens.zoo import list_models
    assert list_models("inception") == names
    for n in names:
        c = card(n)
        assert c.family == "inception" and c.paper.arxiv and c.source and c.description
        if n.startswith("inception_v3_"):
            assert c.kwargs and c.notes  # variants say exactly what they changed
    notes = card("inception_v3_unfactorized").notes
    assert all(r.merged in notes for r in UNFACTORIZED_REPLACEMENTS)
