"""Analytic receptive fields on hand-built graphs, against hand arithmetic and published figures.

Every expected number below is worked out by hand in the comment next to it (or comes from
Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019:
AlexNet 195, VGG-16 212), never from the code under test.
"""
from __future__ import annotations


import pytest
import torch

from archlens.graph import INPUT, Graph, Node
from archlens.metrics.receptive_field import (feature_node, feature_rf, is_global_pool,
                                              receptive_fields)

from .probe import prepare, probe
from .rf_dag import DagNet, build_graph

S1, P0, D1 = (1, 1), (0, 0), (1, 1)


def conv(src, k, s=1, p=0, d=1, c=2, g=1):
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    return ("conv", src, c, pair(k), pair(s), pair(p), pair(d), g)


def pool(src, k, s, p=0, kind="maxpool", d=1, ceil=False):
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    return (kind, src, pair(k), pair(s), pair(p), pair(d), ceil)


def analyse(spec, hw=(64, 64), c=2):
    net = DagNet(spec, c)
    g = build_graph(spec, net, (1, c, *hw))
    return g, receptive_fields(g), net


def last(spec, **kw):
    g, rfs, _ = analyse(spec, **kw)
    return rfs[g.nodes[-1].name]


# ---- chains -----------------------------------------------------------------------------------

def test_input_node_is_one_pixel():
    g, rfs, _ = analyse([conv("x", 3, p=1)])
    rf = rfs[INPUT]
    assert (rf.size, rf.min_size, rf.stride, rf.padding, rf.aligned) == ((1, 1), (1, 1), (1, 1),
                                                                         (0, 0), True)


def test_two_3x3_convs_see_5x5():
    rf = last([conv("x", 3, p=1), conv("n0", 3, p=1)])
    assert rf.size == (5, 5) and rf.stride == (1, 1) and rf.padding == (2, 2) and rf.aligned


def test_alexnet_geometry_gives_195():
    # 11 (jump 4) -> pool3/2: 11+2*4=19 (j8) -> conv5: 19+4*8=51 -> pool: 51+2*8=67 (j16)
    # -> three conv3: 67+3*2*16=163 -> pool3/2: 163+2*16=195 (j32)   [Distill 2019: 195]
    spec = [conv("x", 11, 4, 2), pool("n0", 3, 2), conv("n1", 5, 1, 2), pool("n2", 3, 2),
            conv("n3", 3, 1, 1), conv("n4", 3, 1, 1), conv("n5", 3, 1, 1), pool("n6", 3, 2)]
    rf = last(spec, hw=(227, 227))
    assert rf.size == (195, 195) and rf.stride == (32, 32)
    # padding: -2 (conv) -> pools add 0 -> conv5 p2 at j8: -2-16=-18 -> conv3 p1 at j16 x3: -66
    assert rf.padding == (66, 66)


def test_vgg16_geometry_gives_212():
    # 2,2,3,3,3 conv3 blocks, each followed by pool2/2: 5->6, 14->16, 40->44, 92->100, 196->212
    spec, src = [], "x"
    for n in (2, 2, 3, 3, 3):
        for _ in range(n):
            spec.append(conv(src, 3, 1, 1))
            src = f"n{len(spec) - 1}"
        spec.append(pool(src, 2, 2))
        src = f"n{len(spec) - 1}"
    g, rfs, _ = analyse(spec, hw=(224, 224))
    assert rfs[g.nodes[-2].name].size == (196, 196)  # conv5_3
    assert rfs[g.nodes[-1].name].size == (212, 212) and rfs[g.nodes[-1].name].stride == (32, 32)


def test_dilation():
    # 3x3 d2 -> effective 5; then 3x3 d4 at jump 1 -> 5 + 8 = 13
    rf = last([conv("x", 3, p=2, d=2), conv("n0", 3, p=4, d=4)])
    assert rf.size == (13, 13) and rf.padding == (6, 6)


def test_asymmetric_kernels_are_per_axis():
    g, rfs, _ = analyse([conv("x", (1, 7), p=(0, 3)), conv("n0", (7, 1), p=(3, 0))])
    assert rfs["n0"].size == (1, 7) and rfs["n0"].padding == (0, 3)
    assert rfs["n1"].size == (7, 7) and rfs["n1"].padding == (3, 3)


def test_strided_padded_ceil_mode_pool_keeps_unit_windows():
    # ceil_mode only adds a last, clipped unit: window arithmetic is unchanged
    a = last([conv("x", 3, 2, 1), pool("n0", 3, 2, 1, ceil=True)], hw=(33, 33))
    b = last([conv("x", 3, 2, 1), pool("n0", 3, 2, 1, ceil=False)], hw=(33, 33))
    # 3 (j2) -> pool3 at j2: 3+4=7, j4; padding 1 + 1*2 = 3
    assert a == b and a.size == (7, 7) and a.stride == (4, 4) and a.padding == (3, 3)


def test_grouped_conv_same_geometry():
    a = last([conv("x", 3, 1, 1, c=4, g=2)], c=4)
    b = last([conv("x", 3, 1, 1, c=4, g=1)], c=4)
    assert a == b and a.size == (3, 3)


# ---- branches ---------------------------------------------------------------------------------

def test_inception_module_is_a_union_not_a_chain():
    # four parallel branches (1x1 | 3x3 | 5x5 | pool3 -> 1x1), concatenated: the widest is 5.
    # Chaining them in series (the popular tools' bug) would give 1+2+4+2 = 9.
    spec = [conv("x", 1), conv("x", 3, p=1), conv("x", 5, p=2), pool("x", 3, 1, 1),
            conv("n3", 1), ("cat", ["n0", "n1", "n2", "n4"])]
    rf = last(spec)
    assert rf.size == (5, 5) and rf.min_size == (1, 1) and rf.padding == (2, 2) and rf.aligned


def test_residual_block_min_size_is_the_shortcut():
    spec = [conv("x", 3, p=1), ("relu", "n0"), conv("n1", 3, p=1), ("add", ["n2", "x"])]
    rf = last(spec)
    assert rf.size == (5, 5) and rf.min_size == (1, 1) and rf.aligned


def test_misaligned_branches_union_exceeds_every_path():
    # branch A: 3x3 valid, padded (2 left, 0 right) -> unit o sees [o-2, o]
    # branch B: 3x3 valid, padded (0 left, 2 right) -> unit o sees [o, o+2]
    # union [o-2, o+2]: 5 pixels, though each path sees 3; centres differ -> not aligned
    spec = [conv("x", 3), ("pad", "n0", (2, 0, 2, 0)), conv("x", 3), ("pad", "n2", (0, 2, 0, 2)),
            ("add", ["n1", "n3"])]
    rf = last(spec, hw=(16, 16))
    assert rf.size == (5, 5) and rf.min_size == (3, 3) and rf.padding == (2, 2)
    assert not rf.aligned


def test_crop_by_negative_pad_shifts_window():
    rf = last([conv("x", 3, p=1), ("pad", "n0", (-1, 0, -1, 0))], hw=(16, 16))
    assert rf.size == (3, 3) and rf.padding == (0, 0)


def test_paths_with_different_jumps():
    # A: 2x2 stride 2 on 8 -> 4 units, unit o sees [2o, 2o+1]
    # B: 5x5 stride 1 valid on 8 -> 4 units, unit o sees [o, o+4]
    # centre unit o=1: union [1, 5] -> 5; reported stride is the larger jump (2)
    spec = [conv("x", 2, 2), conv("x", 5), ("add", ["n0", "n1"])]
    rf = last(spec, hw=(8, 8))
    assert rf.size == (5, 5) and rf.stride == (2, 2) and rf.min_size == (2, 2)
    assert not rf.aligned


# ---- global pooling, broadcast, non-spatial ----------------------------------------------------

def test_global_pool_covers_the_map_and_feature_rf_stops_before_it():
    spec = [conv("x", 3, 2, 1), ("relu", "n0"), ("gap", "n1")]
    g, rfs, _ = analyse(spec, hw=(16, 16))
    # relu: 3 (j2, pad 1); the gap's one unit sees units 0..7, [-1, 1] .. [13, 15]: every pixel
    # of the 16 px input -> status global, size = the input
    assert rfs["n2"].status == "global" and rfs["n2"].size == (16, 16)
    assert rfs["n2"].reason == "global pooling in n2" and rfs["n2"].grid == (1, 1)
    assert is_global_pool(g["n2"]) and not is_global_pool(g["n0"])
    assert feature_node(g, rfs) == "n1"
    frf = feature_rf(g, rfs)
    assert frf.size == (3, 3) and frf.status == "exact" and frf.node == "n1"


def test_se_gate_broadcast_makes_the_field_global():
    # x * sigmoid(conv1x1(gap(x))): every unit depends on the whole map
    spec = [conv("x", 3, 1, 1), ("gap", "n0"), conv("n1", 1), ("mulgate", "n0", "n2")]
    g, rfs, _ = analyse(spec, hw=(10, 10))
    rf = rfs["n3"]
    # gap window: conv's unit windows [-1, 1] .. [8, 10]: [-1, 10] covers the 10 px input, and the
    # gate multiplies every unit: global (the probe sees all 10 x 10 pixels)
    assert rf.status == "global" and rf.size == (10, 10) and rf.reason == "global pooling in n1"
    assert feature_node(g, rfs) == "n3"  # the gated map is still a full-size map


def test_non_spatial_model_has_no_rf():
    nodes = (Node(name=INPUT, type="input", kind="input", module="", inputs=(), in_shapes=(),
                  out_shape=(1, 784)),
             Node(name="fc", type="Linear", kind="module", module="", inputs=(INPUT,),
                  in_shapes=((1, 784),), out_shape=(1, 10)))
    g = Graph(nodes=nodes, outputs=("fc",))
    rfs = receptive_fields(g)
    assert rfs["fc"] is None and feature_rf(g, rfs) is None


def test_flatten_then_linear_is_none_and_unknown_resize_propagates_none():
    shape = (1, 2, 8, 8)
    nodes = [Node(name=INPUT, type="input", kind="input", module="", inputs=(), in_shapes=(),
                  out_shape=shape),
             Node(name="flat", type="flatten", kind="function", module="", inputs=(INPUT,),
                  in_shapes=(shape,), out_shape=(1, 128)),
             Node(name="mystery", type="frobnicate", kind="function", module="",
                  inputs=(INPUT,), in_shapes=(shape,), out_shape=(1, 2, 5, 5)),
             Node(name="after", type="relu", kind="function", module="", inputs=("mystery",),
                  in_shapes=((1, 2, 5, 5),), out_shape=(1, 2, 5, 5))]
    rfs = receptive_fields(Graph(nodes=tuple(nodes), outputs=("flat",)))
    assert rfs["flat"] is None  # channels and pixels in one dim: not a map
    # an op whose output does not broadcast from its input: unknown, the reason names it, and
    # the node after it does not inherit a number
    for name in ("mystery", "after"):
        assert rfs[name].status == "unknown" and rfs[name].size is None
        assert "frobnicate at mystery" in rfs[name].reason


# ---- fractional strides: envelopes that bound the probe ---------------------------------------

@pytest.mark.parametrize("spec, hw", [
    ([conv("x", 3, 2, 1), ("convT", "n0", 2, (3, 3), (1, 1), (1, 1))], (33, 33)),
    ([conv("x", 3, 2, 1), ("convT", "n0", 2, (3, 3), (2, 2), (1, 1))], (33, 33)),
    ([conv("x", 3, 2, 1), ("convT", "n0", 2, (4, 4), (2, 2), (1, 1))], (33, 33)),
    ([conv("x", 3, 2, 1), ("upsample", "n0", 2), conv("n1", 3, 1, 1)], (33, 33)),
])
def test_fractional_stride_envelope_bounds_the_probe(spec, hw):
    g, rfs, net = analyse(spec, hw=hw)
    rf = rfs[g.nodes[-1].name]
    prepare(net)
    rows, cols, _ = probe(net, (1, 2, *hw))
    measured = (rows[1] - rows[0] + 1, cols[1] - cols[0] + 1)
    if spec[1][0] == "convT" and spec[1][4] == (1, 1):  # stride-1 transposed conv is exact
        assert rf.status == "exact" and measured == rf.size
    else:  # phase-dependent: unknown, naming the op, with an upper bound the probe respects
        assert rf.status == "unknown" and rf.size is None and "phase" in rf.reason
        assert g["n1"].type in rf.reason
        assert all(m <= s for m, s in zip(measured, rf.bound)), (measured, rf)


# ---- scale ------------------------------------------------------------------------------------

def test_linear_time_on_2000_conv_chain():
    def chain(n):
        shape = (1, 1, 8, 8)
        nodes = [Node(name=INPUT, type="input", kind="input", module="", inputs=(),
                      in_shapes=(), out_shape=shape)]
        for i in range(n):
            nodes.append(Node(name=f"c{i}", type="Conv2d", kind="module", module="",
                              inputs=(nodes[-1].name,), in_shapes=(shape,), out_shape=shape,
                              kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                              groups=1))
        return Graph(nodes=tuple(nodes), outputs=(nodes[-1].name,))

    # Correctness on a long chain (and no recursion limit); the linear *time* is measured in
    # benchmarks/bench_analyze.py, not asserted here (shared, noisy machines).
    rfs = receptive_fields(chain(2000))
    assert rfs["c1999"].size == (4001, 4001)  # 1 + 2 * 2000
    assert rfs["c1999"].stride == (1, 1) and rfs["c1999"].padding == (2000, 2000)
