"""Architecture diff (archlens.diff) against figures known independently of the code: the
zoo's own list of replaced convolutions, published parameter counts, hand arithmetic."""
from __future__ import annotations

import pytest

from archlens import api
from archlens.diff import compress_names, diff
from archlens.zoo.inception_v3 import UNFACTORIZED_REPLACEMENTS

_CACHE: dict[str, object] = {}


def _a(name: str):
    if name not in _CACHE:
        _CACHE[name] = api.analyze(name)
    return _CACHE[name]


def test_unfactorized_inception_lists_exactly_the_17_replaced_convs():
    d = diff(_a("inception_v3"), _a("inception_v3_unfactorized"))
    assert {c.name for c in d.changes} == {r.merged_conv for r in UNFACTORIZED_REPLACEMENTS}
    assert len(d.changes) == 17
    assert all(c.status == "changed" and c.kinds == ("factorization",) for c in d.changes)
    by_name = {c.name: c for c in d.changes}
    for r in UNFACTORIZED_REPLACEMENTS:
        c = by_name[r.merged_conv]
        # the pair (the replacement's two factors) is A's side; B runs one conv of r.kernel
        assert tuple(f.rsplit(".", 1)[0] for f in c.factors) == tuple(r.factors)
        assert f"{r.kernel[0]}x{r.kernel[1]}" in c.b
        assert all(f"{k[0]}x{k[1]}" in c.a for k in r.factor_kernels)
    # Mixed_6b.branch7x7_2 by hand at 17x17: 1x7 128->128 + 7x1 128->192 vs 7x7 128->192
    c = by_name["Mixed_6b.branch7x7_2.conv"]
    conv_a = 289 * 128 * 7 * (128 + 192)
    conv_b = 289 * 128 * 192 * 49
    bn = 2 * 289  # BatchNorm: 2 MACs per output element (fvcore), 128 fewer channels in B
    assert c.macs_b - c.macs_a == conv_b - conv_a - bn * 128
    assert d.by_status("added") == d.by_status("removed") == ()
    # nothing else changed, so the changes add up to the totals' delta
    assert sum(c.macs_b - c.macs_a for c in d.changes) == d.total("macs").delta
    assert sum(c.params_b - c.params_a for c in d.changes) == d.total("params").delta
    assert d.headline.startswith("inception_v3_unfactorized costs 1.70x the MACs of "
                                 "inception_v3 (+4.00 G MACs)")
    assert "stage S4 17x17" in d.headline and "7x7 instead of 1x7 + 7x1" in d.headline


def test_resnext_lists_the_grouped_3x3_convs_and_the_width_changes():
    d = diff(_a("resnet50"), _a("resnext50_32x4d"))
    blocks = [f"layer{i}.{j}" for i, n in enumerate((3, 4, 6, 3), 1) for j in range(n)]
    assert {c.name for c in d.changes} == {f"{b}.conv{k}" for b in blocks for k in (1, 2, 3)}
    for c in d.changes:
        if c.name.endswith("conv2"):     # 3x3, twice as wide, 32 groups
            assert c.kinds == ("width", "groups") and c.b.endswith("g32") and "3x3" in c.b
        else:                            # the 1x1s around it: width only
            assert c.kinds == ("width",) and "1x1" in c.a
    # published parameter counts (torchvision): 25,557,032 and 25,028,904
    assert d.total("params").a == 25_557_032 and d.total("params").b == 25_028_904
    assert sum(c.params_b - c.params_a for c in d.changes) == 25_028_904 - 25_557_032
    # layer1.0.conv2 by hand at 56x56: 3x3 64->64 vs 3x3 128->128 in 32 groups
    c = next(c for c in d.changes if c.name == "layer1.0.conv2")
    assert (c.params_a, c.params_b) == (9 * 64 * 64 + 2 * 64, 9 * 128 * 4 + 2 * 128)


def test_a_model_against_itself_is_an_empty_diff():
    a = _a("resnet50")
    d = diff(a, a)
    assert d.empty and d.changes == () and d.same == d.units_a == d.units_b
    assert all(s.macs_a == s.macs_b for s in d.stages)
    assert d.headline == "resnet50 has the same structure and cost as resnet50 (73 layer " \
                         "units, all the same)."


def test_different_grids_align_stages_by_index():
    a, b = _a("inception_v3"), _a("resnet50")
    d = diff(a, b)
    assert [s.key for s in d.stages] == ["S0", "S1", "S2", "S3", "S4", "S5", "S6", "head"]
    assert [s.label_a for s in d.stages[:3]] == ["S0 299x299", "S1 149x149", "S2 73x73"]
    assert [s.label_b for s in d.stages[:3]] == ["S0 224x224", "S1 112x112", "S2 56x56"]
    for s, sa, sb in zip(d.stages, a.stages, b.stages):
        assert (s.macs_a, s.macs_b) == (sa.macs, sb.macs)
    assert sum(s.macs_b - s.macs_a for s in d.stages) == d.total("macs").delta
    assert "compare them by totals and stages" in d.headline
    assert d.to_dict()["schema"] == "archlens.diff/1"
    # the chart's bars and annotations are the table's numbers, stage by stage (0.1 keyed
    # the bars by "S1 149x149" vs "S1 112x112" and annotated every bar of A "-100 %")
    from archlens.render import charts, compare
    fig = charts.stage_deltas(d)
    table = {r[0]: r for r in compare.stage_rows(d)}
    for tr in fig.data:
        if tr.yaxis in (None, "y"):
            col = 3 if tr.name == a.model else 4
            assert {k: f"{v:,}" for k, v in zip(tr.x, tr.y)} == \
                {k: table[k][col] for k in tr.x}
    notes = {x.x: x.text for x in fig.layout.annotations if x.yref == "y"}
    assert notes == {k: r[5] for k, r in table.items() if r[3] != r[4]}


@pytest.mark.parametrize("names, text", [
    (["Mixed_5b", "Mixed_5c", "Mixed_5d"], "Mixed_5b, 5c, 5d"),
    (["layer1.0.conv2", "layer1.1.conv2"], "layer1.0.conv2, 1.conv2"),
    (["conv1", "fc"], "conv1, fc"),
    (["a", "a"], "a"),
])
def test_compress_names(names, text):
    assert compress_names(names) == text


def test_archlens_diff_stays_callable_after_the_module_is_imported():
    """``import archlens.diff`` used to shadow the public ``archlens.diff`` function."""
    import archlens
    import archlens.diff as module
    assert archlens.diff is module
    d = archlens.diff("lenet5", "lenet5")
    assert not any(d.by_status(s) for s in ("changed", "added", "removed"))
