"""The checks on real zoo models: what the issue requires, against independent arithmetic.

Traced on the meta device (nothing allocated); every expected number below is computed here
from the layer shapes or taken from the papers.
"""
from __future__ import annotations

import math

import pytest

from archlens import api, checks

pytestmark = pytest.mark.slow

_CACHE: dict[str, object] = {}


def analysis(name):
    if name not in _CACHE:
        _CACHE[name] = api.analyze(name, checks=False, device="meta")
    return _CACHE[name]


def findings(name, **kw):
    return checks.run(analysis(name), config=checks.DEFAULTS, **kw)


def test_inception_v3_has_no_errors_and_few_findings():
    fs = findings("inception_v3")
    assert not [f for f in fs if f.severity == "error"]
    assert len(fs) <= 8
    # torchvision's v3 keeps three 5x5 convs (Mixed_5b-d.branch5x5_2): the 5x5 rule sees them
    large = [f.layers[0] for f in fs if f.code == "P3.factorize-large"]
    assert large == [f"Mixed_5{m}.branch5x5_2.conv" for m in "bcd"]


def test_naive_reduction_fails_p1_at_each_pooling_first_reduction():
    fs = findings("inception_v3_naive_reduction")
    errors = [f for f in fs if f.severity == "error"]
    assert [f.code for f in errors] == ["P1.grid-reduction"] * 2
    assert [f.layers[0] for f in errors] == ["Mixed_6a.pool", "Mixed_7a.pool"]
    d1 = (35 * 35 * 288) / (17 * 17 * 288)
    d2 = (17 * 17 * 768) / (8 * 8 * 768)
    assert (f"35x35x288 -> 17x17x288 by max-pool before any widening: representation drops "
            f"{d1:.1f}x") in errors[0].message and f"{d1:.1f}" == "4.2"
    assert f"17x17x768 -> 8x8x768 by max-pool before any widening: representation drops " \
           f"{d2:.1f}x" in errors[1].message
    # the efficient (parallel) reductions of the real network are not flagged
    assert not [f for f in findings("inception_v3") if f.code == "P1.grid-reduction"
                and f.layers[0].startswith("Mixed")]


def _hand_saving(node, rep, m):
    """Exact MACs saved by the factorized form the finding states, from the layer's shapes."""
    _, cin, h, w = node.in_shapes[0]
    _, cout, ho, wo = node.out_shape
    k = rep.kernel[0]
    before = ho * wo * k * k * cin * cout
    if (h, w) == (17, 17) and rep.stride == (1, 1):       # medium grid: 1xk then kx1
        after = h * wo * k * cin * m + ho * wo * k * m * cout
    else:                                                # 5x5 -> 3x3 (pad 1) then 3x3 (stride)
        p = node.padding[0]
        p1 = (p + 1) // 2
        h1, w1 = h + 2 * p1 - 2, w + 2 * p1 - 2
        after = h1 * w1 * 9 * cin * m + ho * wo * 9 * m * cout
    return before - after


def test_unfactorized_gets_one_exact_factorization_finding_per_merged_conv():
    from archlens.zoo.inception_v3 import UNFACTORIZED_REPLACEMENTS as R
    a = analysis("inception_v3_unfactorized")
    fs = findings("inception_v3_unfactorized")
    fact = [f for f in fs if f.code in checks.FACTORIZATION_CODES]
    total = 0
    for rep in R:
        mine = [f for f in fact if rep.merged_conv in f.layers]
        assert len(mine) == 1 and mine[0].layers == (rep.merged_conv,), rep.merged_conv
        f = mine[0]
        m = f.data["intermediate_channels"]
        assert m == round(math.sqrt(rep.in_channels * rep.out_channels))
        assert f"intermediate width {m}" in f.message and f.data["form"] in f.message
        node = a.graph[rep.merged_conv]
        assert tuple(node.kernel) == rep.kernel
        assert f.saving["macs"] == _hand_saving(node, rep, m)
        total += f.saving["macs"]
    diff = a.totals.macs - analysis("inception_v3").totals.macs
    assert diff > 0 and 0.5 < total / diff < 2.0   # same order as what v3 actually saved


def test_vgg16_reduction_and_classifier_findings():
    fs = findings("vgg16")
    nored = [f for f in fs if f.code == "P3.no-reduction"]
    assert nored and all(f.saving["macs"] > 0 for f in nored)
    # conv5_1 (features.24): 3x3 512->512 at 14x14, 1x1 reduction to 256 first
    f5 = next(f for f in nored if "features.24" in f.layers)
    one = 14 * 14 * 9 * 512 * 512 - (14 * 14 * 512 * 256 + 14 * 14 * 9 * 256 * 512)
    assert f5.data["per_layer"]["features.24"]["macs"] == one
    [p4] = [f for f in fs if f.code == "P4.param-concentration"]
    head = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert p4.severity == "warning" and p4.data["head_params"] == head == 123_642_856
    assert p4.data["head_share"] == pytest.approx(head / 138_357_544, abs=1e-4)
    assert p4.saving["params"] == head - (512 * 1000 + 1000)
    assert len(fs) <= 10


def test_ng_bottleneck_direct_shows_120M_and_the_16_channel_fix():
    [f] = findings("ng_bottleneck_direct", select="P3")
    assert f.code == "P3.no-reduction"
    assert "120,422,400" in f.evidence and "12,443,648" in f.fix and "->16" in f.fix
    # the zoo's reduced block is that fix: its total MACs are the fix's cost
    assert analysis("ng_bottleneck_reduced").totals.macs == 12_443_648
    assert not [f for f in findings("ng_bottleneck_reduced") if f.code == "P3.no-reduction"]


def test_resnet50_is_quiet():
    fs = findings("resnet50")
    assert not [f for f in fs if f.severity == "error"] and len(fs) <= 3


def test_run_is_deterministic_and_pure_on_inception_v3():
    # run() is a pure function of the analysis: same findings twice, analysis untouched.
    # (Its speed is measured in benchmarks/, not asserted here.)
    a = analysis("inception_v3_unfactorized")
    first = checks.run(a, config=checks.DEFAULTS)
    assert checks.run(a, config=checks.DEFAULTS) == first
    assert a.findings == () or a.findings == first


def test_googlenet_is_a_handful_with_exact_merged_savings():
    fs = findings("googlenet")
    assert len(fs) <= 5 and not [f for f in fs if f.severity == "error"]
    # the 5x5 branches of inception 4a-4e (14x14, a medium grid) are one finding; widths from
    # Szegedy et al. 2014, Table 1 ("#5x5 reduce" -> "#5x5")
    table1 = {"4a": (16, 48), "4b": (24, 64), "4c": (24, 64), "4d": (32, 64), "4e": (32, 128)}
    [f] = [f for f in fs if "inception4a.branch3.1.conv" in f.layers]
    assert f.code == "P3.factorize-asymmetric" and f.severity == "info"
    assert f.layers == tuple(f"inception{m}.branch3.1.conv" for m in table1)
    want = 0
    for cin, cout in table1.values():   # 5x5 -> 1x5 (width sqrt(cin*cout)) then 5x1, 14x14
        m = round(math.sqrt(cin * cout))
        want += 14 * 14 * (25 * cin * cout - 5 * cin * m - 5 * m * cout)
    assert f.saving["macs"] == want


def test_depth_width_flags_resnet152_only_among_the_reference_nets():
    [f] = findings("resnet152", select="P4.depth-width")
    # He et al. 2016, Table 1: conv4_x is 36 bottlenecks of 3 convs; the longest path has
    # 3 x (3 + 8 + 36 + 3) bottleneck convs + the stem conv
    assert f.data["depth"] == 36 * 3 and f.data["total_depth"] == 3 * (3 + 8 + 36 + 3) + 1
    assert f.severity == "info" and f.data["grid"] == [14, 14] and f.data["width"] == 1024
    assert "14x14: depth 108 convs, width 1024 ch" in f.evidence
    for name in ("inception_v3", "resnet50", "vgg16", "googlenet", "alexnet"):
        assert findings(name, select="P4.depth-width") == (), name
