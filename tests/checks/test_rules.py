"""Each rule on small hand-built graphs, one that violates it and one that satisfies it.

Expected numbers are hand computation (conv MACs = Ho*Wo*kh*kw*Cin*Cout) or the paper's
arithmetic, never the rule's own output.
"""
from __future__ import annotations

import math

import pytest

from archlens import checks
from archlens.checks import CheckConfig

from ._build import Builder, classifier

CFG = CheckConfig()


def run(graph, *codes, cfg=CFG):
    return checks.run(graph, config=cfg, select=list(codes) or None)


def codes(findings):
    return [f.code for f in findings]


# ---------------------------------------------------------------------------------------
# P1.grid-reduction
# ---------------------------------------------------------------------------------------

def _pool_first(pool_k=3, widen_after=512):
    b = Builder(256, 32, 32)                         # 262,144 values
    x = b.conv("c1", "input", 256, 1)
    x = b.pool("pool", x, pool_k, 2)                 # 15x15x256 = 57,600 values (k=3)
    x = b.conv("c2", x, widen_after, 3, p=1)
    return b.graph(classifier(b, x))


def test_pooling_first_reduction_is_an_error_naming_pool_and_drop():
    [f] = run(_pool_first(), "P1.grid-reduction")
    assert f.severity == "error" and f.layers == ("pool",)
    drop = (32 * 32 * 256) / (15 * 15 * 256)  # 4.55x
    assert f"32x32x256 -> 15x15x256 by max-pool before any widening: representation drops " \
           f"{drop:.1f}x" in f.message
    assert "262,144 -> 57,600" in f.evidence
    assert f.data["drop"] == pytest.approx(drop, rel=1e-4)
    # the fix sizes a parallel branch for a 2x drop: ceil(262,144 / (2*225)) = 583 channels
    assert f.data["channels_for_2x"] == math.ceil(262144 / 450) == 583
    assert "3x3 stride-2 conv 256->327" in f.fix
    assert f.data["parallel_branch_macs"] == 15 * 15 * 9 * 256 * 327


def test_parallel_conv_and_pool_reduction_passes():
    b = Builder(256, 32, 32)
    x = b.conv("c1", "input", 256, 1)
    conv = b.conv("red.conv", x, 384, 3, s=2)        # 15x15x384
    pool = b.pool("red.pool", x, 3, 2)               # 15x15x256
    y = b.cat("red.cat", conv, pool)                 # 15x15x640: drop 1.82x
    y = b.conv("c2", y, 640, 3, p=1)
    assert run(b.graph(classifier(b, y)), "P1") == ()


def test_overcomplete_stem_pooling_and_head_pooling_pass():
    b = Builder(3, 64, 64)                           # 12,288 values
    x = b.conv("stem", "input", 64, 3, p=1)          # 262,144
    x = b.pool("pool", x, 2, 2)                      # 65,536 >= input: over-complete
    x = b.conv("c2", x, 64, 3, p=1)
    x = b.pool("head_pool", x, 2, 2)                 # after the last conv: head
    assert run(b.graph(classifier(b, x)), "P1") == ()


def test_expand_then_pool_is_measured_from_before_the_expansion():
    b = Builder(256, 32, 32)
    x = b.conv("c1", "input", 256, 3, p=1)
    x = b.relu("r1", x)
    x = b.conv("widen", x, 512, 1)                   # 32x32x512
    x = b.relu("r2", x)
    x = b.pool("pool", x, 2, 2)                      # 16x16x512: 2x below 32x32x256
    x = b.conv("c2", x, 512, 3, p=1)
    assert run(b.graph(classifier(b, x)), "P1") == ()


def test_late_drop_of_exactly_4x_is_a_warning_and_thresholds_are_configurable():
    b = Builder(512, 28, 28)                         # 401,408 values
    x = "input"
    for i in range(6):
        x = b.conv(f"c{i}", x, 512, 3, p=1)
    x = b.pool("pool", x, 2, 2)                      # 14x14x512: exactly 4x, late (6/8)
    x = b.conv("c6", x, 512, 3, p=1)
    g = b.graph(classifier(b, x))
    [f] = run(g, "P1.grid-reduction")
    assert f.severity == "warning" and not f.data["early"]
    assert run(g, "P1.grid-reduction", cfg=CFG.replace(p1_warn_drop=4.0)) == ()
    # the same drop early in the network is judged stricter (2x instead of 3x)
    assert CFG.p1_warn_drop_early < CFG.p1_warn_drop


# ---------------------------------------------------------------------------------------
# P1.channel-squeeze
# ---------------------------------------------------------------------------------------

def test_channel_squeeze_on_the_trunk_warns():
    b = Builder(256, 16, 16)
    x = b.conv("squeeze", "input", 16, 3, p=1)       # 16x squeeze on the only path
    x = b.conv("c2", x, 256, 3, p=1)
    [f] = run(b.graph(classifier(b, x)), "P1")
    assert f.code == "P1.channel-squeeze" and f.severity == "warning"
    assert f.layers == ("squeeze",) and "16.0x" in f.message


def test_1x1_reduction_before_a_spatial_conv_is_not_a_bottleneck():
    b = Builder(256, 16, 16)
    x = b.conv("reduce", "input", 16, 1)             # Principle 3's pattern
    x = b.conv("c2", x, 256, 3, p=1)
    assert run(b.graph(classifier(b, x)), "P1") == ()


# ---------------------------------------------------------------------------------------
# P2.narrow-coarse
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("width,expected", [(32, "warning"), (64, "info"), (128, None)])
def test_coarser_stage_width(width, expected):
    b = Builder(3, 32, 32)
    x = b.conv("c1", "input", 64, 3, p=1)
    x = b.pool("pool", x, 2, 2)
    x = b.conv("c2", x, width, 3, p=1)
    fs = run(b.graph(classifier(b, x)), "P2")
    assert [f.severity for f in fs] == ([expected] if expected else [])
    if expected:
        assert fs[0].layers == ("c2",) and fs[0].data["grid"] == [16, 16]


# ---------------------------------------------------------------------------------------
# P3.no-reduction: the 28x28x192 -> 5x5x32 teaching example
# ---------------------------------------------------------------------------------------

def test_wide_5x5_without_reduction_reports_exact_cost_and_16_channel_fix():
    b = Builder(192, 28, 28)
    b.conv("conv", "input", 32, 5, p=2)
    [f] = run(b.graph(), "P3.no-reduction")
    direct = 28 * 28 * 32 * 5 * 5 * 192
    reduced = 28 * 28 * 16 * 192 + 28 * 28 * 32 * 5 * 5 * 16
    assert (direct, reduced) == (120_422_400, 12_443_648)
    assert "120,422,400" in f.evidence and "12,443,648" in f.fix and "192->16" in f.fix
    assert f.saving == {"macs": direct - reduced,
                        "params": 5 * 5 * 192 * 32 - (192 * 16 + 5 * 5 * 16 * 32)}


def test_reduced_or_branch_convs_pass_no_reduction():
    b = Builder(192, 28, 28)
    x = b.conv("reduce", "input", 16, 1)
    b.conv("conv", x, 32, 5, p=2)
    assert run(b.graph(), "P3.no-reduction") == ()
    b = Builder(256, 28, 28)                          # a 3x3 on a 128-channel branch
    x1 = b.conv("m.b1", "input", 128, 1)
    x2 = b.conv("m.b2", "input", 128, 3, p=1)         # 256 in: same width as trunk -> flagged
    x3 = b.conv("m.b3", x1, 128, 3, p=1)              # 128 < trunk 256 -> fine
    y = b.cat("m.cat", x2, x3)
    fs = run(b.graph(y), "P3.no-reduction")
    assert [f.layers for f in fs] == [("m.b2",)]


def test_repeated_identical_no_reduction_findings_aggregate_per_stage():
    b = Builder(256, 56, 56)
    x = b.conv("a", "input", 256, 3, p=1)
    x = b.conv("b", x, 256, 3, p=1)
    fs = run(b.graph(x), "P3.no-reduction")
    one = 56 * 56 * 9 * 256 * 256 - (56 * 56 * 256 * 128 + 56 * 56 * 9 * 128 * 256)
    assert len(fs) == 1 and fs[0].layers == ("a", "b")
    assert fs[0].saving["macs"] == 2 * one
    fs = run(b.graph(x), "P3.no-reduction", cfg=CFG.replace(aggregate=False))
    assert len(fs) == 2


# ---------------------------------------------------------------------------------------
# P3 factorizations: the paper's arithmetic
# ---------------------------------------------------------------------------------------

def test_5x5_to_two_3x3_saves_28_percent_on_equal_widths():
    b = Builder(64, 32, 32)
    b.conv("c5", "input", 64, 5, p=2)
    [f] = run(b.graph(), "P3.factorize-large")
    before = 32 * 32 * 25 * 64 * 64
    assert f.saving["macs"] == before - 2 * 32 * 32 * 9 * 64 * 64
    assert f.saving["macs"] / before == pytest.approx(1 - 18 / 25)      # 28 %
    assert "28.0 %" in f.fix and "intermediate width 64" in f.message
    assert f.data["form"] == "3x3 + 3x3" and f.data["intermediate_channels"] == 64
    assert f.saving["params"] == 25 * 64 * 64 - 2 * 9 * 64 * 64


def test_3x3_to_1x3_plus_3x1_saves_33_percent_on_a_medium_grid():
    b = Builder(64, 16, 16)
    b.conv("c3", "input", 64, 3, p=1)
    [f] = run(b.graph(), "P3.factorize")
    assert f.code == "P3.factorize-asymmetric" and f.severity == "info"
    before = 16 * 16 * 9 * 64 * 64
    assert f.saving["macs"] == before - 2 * 16 * 16 * 3 * 64 * 64
    assert f.saving["macs"] / before == pytest.approx(1 - 6 / 9)        # 33 %
    assert "33.3 %" in f.fix and f.data["form"] == "1x3 + 3x1"


def test_factorization_uses_sqrt_alpha_width_and_exact_grids():
    b = Builder(48, 35, 35)
    b.conv("c5", "input", 64, 5, p=2)
    [f] = run(b.graph(), "P3.factorize-large")
    m = round(math.sqrt(48 * 64))  # 55
    assert f.data["intermediate_channels"] == m
    assert f.saving["macs"] == 35 * 35 * (25 * 48 * 64 - 9 * 48 * m - 9 * m * 64)


def test_strided_5x5_reports_param_saving_and_extra_macs():
    b = Builder(64, 35, 35)
    b.conv("c5", "input", 96, 5, s=2, p=1)           # -> 17x17 (Inception-v3 Mixed_6a)
    [f] = run(b.graph(), "P3.factorize-large")
    m = round(math.sqrt(64 * 96))  # 78
    before = 17 * 17 * 25 * 64 * 96
    after = 35 * 35 * 9 * 64 * m + 17 * 17 * 9 * m * 96   # 3x3 pad 1 at 35, 3x3 s2 pad 0
    assert f.saving["macs"] == before - after < 0
    assert f.saving["params"] == 25 * 64 * 96 - 9 * 64 * m - 9 * m * 96
    assert f.severity == "info" and "more MACs" in f.fix


def test_7x7_on_medium_grid_goes_asymmetric_and_off_it_three_3x3():
    b = Builder(128, 17, 17)
    b.conv("c7", "input", 128, 7, p=3)
    [f] = run(b.graph(), "P3.factorize")
    assert f.code == "P3.factorize-asymmetric" and f.severity == "warning"
    assert f.saving["macs"] == 17 * 17 * (49 - 14) * 128 * 128
    b = Builder(128, 32, 32)
    b.conv("c7", "input", 128, 7, p=3)
    [f] = run(b.graph(), "P3.factorize")
    assert f.code == "P3.factorize-large" and f.data["form"] == "3x3 + 3x3 + 3x3"
    assert f.saving["macs"] == 32 * 32 * (49 - 27) * 128 * 128


def test_no_factorization_for_3x3_off_medium_grid_1xn_or_image_input():
    b = Builder(64, 32, 32)
    x = b.conv("c3", "input", 64, 3, p=1)            # 32x32: not a medium grid
    x = b.conv("c17", x, 64, (1, 7), p=(0, 3))        # already asymmetric
    assert run(b.graph(x), "P3.factorize") == ()
    b = Builder(3, 224, 224)
    b.conv("stem", "input", 64, 7, s=2, p=3)          # RGB input: nothing to factor
    assert run(b.graph(), "P3") == ()


# ---------------------------------------------------------------------------------------
# P4
# ---------------------------------------------------------------------------------------

def _fc_head_net():
    b = Builder(3, 32, 32)
    x = b.conv("c1", "input", 64, 3, p=1)
    x = b.pool("p1", x, 2, 2)
    x = b.conv("c2", x, 128, 3, p=1)
    x = b.pool("p2", x, 2, 2)                         # 8x8x128
    x = b.flatten("flatten", x)
    x = b.linear("fc1", x, 1024)
    x = b.linear("fc2", x, 10)
    return b.graph(x)


def test_classifier_holding_most_parameters_warns_with_exact_gap_saving():
    [f] = run(_fc_head_net(), "P4.param-concentration")
    head = (8192 * 1024 + 1024) + (1024 * 10 + 10)
    total = head + (27 * 64 + 0) + (9 * 64 * 128)
    assert f.severity == "warning" and f.layers[0] == "fc1"
    assert f.data["head_share"] == pytest.approx(head / total, abs=1e-4)
    assert f.saving == {"params": head - (128 * 10 + 10),
                        "macs": (8192 * 1024 + 1024 * 10) - 128 * 10}


def test_gap_head_passes_param_concentration():
    b = Builder(3, 32, 32)
    x = b.conv("c1", "input", 64, 3, p=1)
    for i in range(2, 5):
        x = b.conv(f"c{i}", x, 64, 3, p=1)            # 36,864 params each: 33 % at most
    assert run(b.graph(classifier(b, x)), "P4.param-concentration") == ()


def test_stage_imbalance():
    def net(late_width):
        b = Builder(32, 32, 32)
        x = b.conv("s0", "input", 16, 3, p=1)
        x = b.pool("p0", x, 2, 2)
        x = b.conv("s1", x, 64, 3, p=1)
        x = b.pool("p1", x, 2, 2)
        x = b.conv("s2", x, late_width, 3, p=1)
        return b.graph(classifier(b, x))
    # MACs: s0 32*32*9*32*16 = 4,718,592; s1 16*16*9*16*64 = 2,359,296; s2 8*8*9*64*w
    [f] = run(net(2048), "P4.stage-imbalance")       # s2 = 75,497,472: 91 % of conv MACs
    assert f.data["grid"] == [8, 8] and f.data["share"] == pytest.approx(
        75_497_472 / (4_718_592 + 2_359_296 + 75_497_472), abs=1e-4)
    assert run(net(128), "P4.stage-imbalance") == ()  # s2 = 4,718,592: 40 % at most


# ---------------------------------------------------------------------------------------
# selection, summary
# ---------------------------------------------------------------------------------------

def test_select_ignore_prefixes_and_unknown_codes():
    from archlens.errors import ConfigError
    assert checks.selected_codes("P1") == ["P1.grid-reduction", "P1.channel-squeeze"]
    assert checks.selected_codes("P3.factorize") == ["P3.factorize-large",
                                                     "P3.factorize-asymmetric"]
    assert "P4.stage-imbalance" not in checks.selected_codes(None, "P4")
    assert checks.selected_codes("p2, P4.stage-imbalance") == ["P2.narrow-coarse",
                                                               "P4.stage-imbalance"]
    with pytest.raises(ConfigError, match=r"did you mean: P3\.factorize-large"):
        checks.selected_codes(["P3.factorize-larg"])
    with pytest.raises(ConfigError, match="unknown rule code 'P9'"):
        checks.selected_codes(None, ["P9"])


def test_summary_takes_the_best_fix_per_layer():
    b = Builder(512, 14, 14)
    b.conv("c", "input", 512, 3, p=1)                 # no-reduction and asymmetric both apply
    fs = run(b.graph())
    assert sorted(codes(fs)) == ["P3.factorize-asymmetric", "P3.no-reduction"]
    s = checks.summarize(fs)
    best = max(f.saving["macs"] for f in fs)
    assert s["saving"]["macs"] == best
    assert s["counts"] == {"error": 0, "warning": 1, "info": 1}
    assert s["factorization"]["findings"] == 1


# ---------------------------------------------------------------------------------------
# P4.depth-width: depth = conv layers on the longest path of a stage, width = trunk channels
# ---------------------------------------------------------------------------------------

def _staged(depths, widths, cin=3, hw=32):
    """A plain chain: stage i has depths[i] 3x3 convs at widths[i] channels, 2x2 max-pool
    between stages; depth and width of every stage are known by construction."""
    b = Builder(cin, hw, hw)
    x = "input"
    for i, (d, w) in enumerate(zip(depths, widths)):
        if i:
            x = b.pool(f"pool{i}", x, 2, 2)
        for j in range(d):
            x = b.conv(f"s{i}.c{j}", x, w, 3, p=1)
    return b.graph(classifier(b, x))


def test_depth_is_the_longest_path_not_the_conv_count():
    from archlens.checks._common import Context
    from archlens.checks.p4_balance import stage_shapes
    b = Builder(64, 16, 16)
    x = b.conv("stem", "input", 64, 3, p=1)                         # depth 1
    b1 = b.conv("m.b1", x, 32, 1)                                    # branch depth 1
    b2 = b.conv("m.b2.1", b.conv("m.b2.0", x, 32, 1), 32, 3, p=1)   # 2
    t = b.conv("m.b3.0", x, 32, 1)
    b3 = b.conv("m.b3.2", b.conv("m.b3.1", t, 32, 3, p=1), 64, 3, p=1)   # 3
    y = b.cat("m.cat", b1, b2, b3)                                   # 128 ch; 6 convs, depth 3
    r = b.conv("r.c2", b.conv("r.c1", y, 128, 3, p=1), 128, 3, p=1)
    y = b.add("r.add", y, r)                                         # residual: +2, not +0
    p = b.pool("pool", y, 2, 2)
    z = b.conv("s2.c", p, 256, 3, p=1)
    [s1, s2] = stage_shapes(Context.of(b.graph(classifier(b, z))))
    assert (s1.grid, s1.depth, s1.width) == ((16, 16), 1 + 3 + 2, 128)
    assert (s2.grid, s2.depth, s2.width) == ((8, 8), 1, 256)
    assert s1.blocks == ("stem", "m.cat", "r.add")


def test_depth_piled_into_a_narrow_stage_is_an_info_with_a_per_stage_table():
    g = _staged([1, 8, 1], [16, 32, 64])              # 8 of 10 layers at 16x16, 32 < 64 ch
    [f] = run(g, "P4.depth-width")
    assert f.severity == "info" and f.data["kind"] == "depth-concentration"
    assert f.data["share"] == pytest.approx(8 / 10)
    assert f.evidence == ("per stage: 32x32: depth 1 conv, width 16 ch; 16x16: depth 8 convs, "
                          "width 32 ch; 8x8: depth 1 conv, width 64 ch")
    # moving 3 layers leaves 5 of 10 (< 60 %); moving 2 would leave 6 of 10 = 60 %
    assert f.data["layers_to_move"] == 3 and "moving 3 of the 16x16 stage's 8" in f.fix
    assert f.layers == tuple(f"s1.c{j}" for j in range(8))


@pytest.mark.parametrize("depths,widths", [
    ([1, 5, 5], [16, 32, 64]),       # balanced: 5 of 11 layers per stage at most (45 %)
    ([1, 8, 1], [16, 64, 32]),       # deep stage is the widest: depth and width grew together
    ([1, 6, 1], [16, 32, 64]),       # 8 layers: too shallow to judge (p4-min-depth 10)
])
def test_balanced_wide_or_shallow_networks_pass_depth_width(depths, widths):
    assert run(_staged(depths, widths), "P4.depth-width") == ()


def test_deep_narrow_network_info_then_warning_with_equal_mac_trade():
    [f] = run(_staged([1, 6, 6], [8, 16, 16]), "P4.depth-width")   # 16 ch / 13 layers
    assert f.severity == "info" and f.data["width_per_layer"] == pytest.approx(16 / 13, 1e-3)
    [f] = run(_staged([1, 5, 5], [8, 8, 8]), "P4.depth-width")     # 8 ch / 11 layers < 1
    assert f.severity == "warning" and "11 conv layers deep but at most 8 channels" in f.message
    d, w = f.data["suggested_depth"], f.data["suggested_width"]
    # conv MACs scale with depth x width^2: the trade keeps them within rounding (+-15 %)
    assert d * w * w == pytest.approx(11 * 8 * 8, rel=0.15)
    assert w / d >= 3.5 and d < 11 and w > 8
    assert run(_staged([1, 5, 5], [8, 8, 8]), "P4.depth-width",
               cfg=CFG.replace(p4_width_per_layer=0.5, p4_width_per_layer_warn=0.5)) == ()


# ---------------------------------------------------------------------------------------
# aggregation: one finding per repeated pattern, except warnings
# ---------------------------------------------------------------------------------------

def test_expanding_conv_factorization_is_info():
    b = Builder(16, 32, 32)
    b.conv("c5", "input", 32, 5, p=2)                 # 16 -> 32: expands 2x
    [f] = run(b.graph(), "P3.factorize-large")
    assert f.severity == "info" and "expands 16->32 (2.0x)" in f.evidence
    b = Builder(32, 32, 32)
    b.conv("c5", "input", 48, 5, p=2)                 # 1.5x: a plain factorization warning
    [f] = run(b.graph(), "P3.factorize-large")
    assert f.severity == "warning"


def _modules(branch_widths):
    """Inception-like modules on a 14x14 grid, each with a 1x1-reduced 5x5 branch of its own
    widths (cin, cout) next to a wide 1x1 branch."""
    b = Builder(256, 14, 14)
    x = "input"
    for i, (cin, cout) in enumerate(branch_widths):
        a = b.conv(f"m{i}.b1", x, 256 - cout, 1)
        r = b.conv(f"m{i}.b2.0", x, cin, 1)
        c = b.conv(f"m{i}.b2.1", r, cout, 5, p=2)
        x = b.cat(f"m{i}.cat", a, c)
    return b.graph(x)


def _asym_saving(cin, cout, hw=14, k=5):
    m = round(math.sqrt(cin * cout))
    return hw * hw * (k * k * cin * cout - k * cin * m - k * m * cout)


def test_info_findings_on_one_pattern_merge_across_widths_with_exact_sum():
    widths = [(16, 48), (24, 64), (32, 128)]           # all expand >= 2x: info
    fs = run(_modules(widths), "P3.factorize-asymmetric")
    [f] = fs
    assert f.layers == ("m0.b2.1", "m1.b2.1", "m2.b2.1") and f.severity == "info"
    assert f.saving["macs"] == sum(_asym_saving(ci, co) for ci, co in widths)
    assert [m["intermediate_channels"] for m in f.data["members"]] == [28, 39, 64]
    assert "m1.b2.1 24->64 (expands 2.7x), width 39: saves" in f.evidence
    assert len(run(_modules(widths), "P3.factorize-asymmetric",
                   cfg=CFG.replace(aggregate=False))) == 3


def test_warning_factorizations_keep_one_finding_per_layer():
    widths = [(64, 96), (64, 96), (80, 96)]            # < 2x: warnings, even when identical
    fs = run(_modules(widths), "P3.factorize-asymmetric")
    assert [f.layers for f in fs] == [("m0.b2.1",), ("m1.b2.1",), ("m2.b2.1",)]
    assert [f.saving["macs"] for f in fs] == [_asym_saving(ci, co) for ci, co in widths]
