"""Receptive fields through spatial slices, padding and user-written childless modules, each
against the gradient probe (``probe.py``) on the real module, plus hand arithmetic.

The analytic window of the centre output unit, ``[c*stride - padding, c*stride - padding + size
- 1]``, must equal the input rows/columns the probe's gradient reaches; every input is chosen so
that window lies inside the image (asserted: a clipped probe would prove nothing).
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archlens.engine import trace_graph
from archlens.metrics.receptive_field import receptive_fields

from .probe import prepare, probe


def _window(rf, axis: int, n_units: int) -> tuple[int, int]:
    c = (n_units - 1) // 2
    start = c * rf.stride[axis] - rf.padding[axis]
    return start, start + rf.size[axis] - 1


def _assert_equals_probe(net: nn.Module, shape: tuple[int, int, int, int]):
    """Trace ``net`` (prepared for the probe) and compare its output node's RF to the probe."""
    graph = trace_graph(net, shape, dtype=torch.float64)
    rf = receptive_fields(graph)[graph.outputs[0]]
    assert rf is not None, "receptive field lost"
    rows, cols, (mh, mw) = probe(net, shape)
    want = (_window(rf, 0, mh), _window(rf, 1, mw))
    assert 0 <= want[0][0] and want[0][1] <= shape[2] - 1, f"input too small for {want}"
    assert 0 <= want[1][0] and want[1][1] <= shape[3] - 1, f"input too small for {want}"
    assert (rows, cols) == want, (rf, graph.outputs[0])
    return graph, rf


class Sandwich(nn.Module):
    """conv -> ``cut(x)`` -> conv: the cut (a slice, narrow or pad) sits between two convs."""

    def __init__(self, cut, k1=3, p1=0, k2=3, s2=1, p2=1):
        super().__init__()
        self.a = nn.Conv2d(2, 2, k1, padding=p1)
        self.cut = cut
        self.b = nn.Conv2d(2, 2, k2, stride=s2, padding=p2)

    def forward(self, x):  # N x 2 x H x W
        return self.b(self.cut(self.a(x)))


class Cut(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


CUTS = {
    "crop": lambda x: x[:, :, 2:-3, 1:],
    "step": lambda x: x[:, :, 1::2, ::3],
    "ellipsis": lambda x: x[..., 5:, 2:-1],
    "batch_and_channel": lambda x: x[0:1, 0:2, 4:-4, 3:-5],
    "int_then_newaxis": lambda x: x[0, :, 2:-2][None],
    "narrow": lambda x: x.narrow(2, 3, 20).narrow(-1, 1, 24),
    "f_pad": lambda x: F.pad(x, (2, 0, 1, 3)),
    "f_pad_crop": lambda x: F.pad(x, (-2, 1, -3, 0)),
}


@pytest.mark.parametrize("cut", sorted(CUTS))
def test_slice_and_pad_equal_the_probe(cut):
    net = prepare(Sandwich(Cut(CUTS[cut])))
    _assert_equals_probe(net, (1, 2, 33, 35))


def test_zero_pad_module_and_strided_conv_equal_the_probe():
    net = prepare(Sandwich(nn.ZeroPad2d((0, 3, 2, 1)), k2=3, s2=2, p2=0))
    _assert_equals_probe(net, (1, 2, 31, 31))


def test_crop_and_step_by_hand():
    # a: 3x3 valid -> unit u sees [u, u+2] (size 3, jump 1, pad 0). x[:, :, 1::2, ::3]: unit v of
    # the H axis is unit 1 + 2v -> [1 + 2v, 3 + 2v] (jump 2, pad -1); of W, unit 3v -> jump 3.
    # b: 3x3 pad 1 -> H: 3 + 2*2 = 7, pad -1 + 1*2 = 1; W: 3 + 2*3 = 9, pad 0 + 3 = 3
    net = prepare(Sandwich(Cut(CUTS["step"])))
    graph, rf = _assert_equals_probe(net, (1, 2, 33, 35))
    assert graph["cut.getitem"].attrs["index"] == ((0, 1, 1), (0, 2, 1), (1, 31, 2), (0, 33, 3))
    cut = receptive_fields(graph)["cut.getitem"]
    assert cut.size == (3, 3) and cut.stride == (2, 3) and cut.padding == (-1, 0)
    assert rf.size == (7, 9) and rf.stride == (2, 3) and rf.padding == (1, 3)


def test_advanced_index_is_not_a_crop():
    class M(nn.Module):
        def forward(self, x):
            return x[:, :, torch.tensor([0, 2, 4])]

    graph = trace_graph(M(), (1, 2, 8, 8))
    node = graph.layers[0]
    rf = receptive_fields(graph)[node.name]
    assert "index" not in node.attrs and rf.status == "unknown" and rf.size is None
    assert "advanced" in rf.reason and "getitem" in rf.reason


# ---- user-written childless modules ------------------------------------------------------------

class FunctionalConv(nn.Module):
    def __init__(self, c: int, stride: int = 2, padding: int = 1, dilation: int = 1):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c, c, 3, 3))
        self.bias = nn.Parameter(torch.zeros(c))
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, x):  # N x C x H x W
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        dilation=self.dilation)


class Scale(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, c, 1, 1))

    def forward(self, x):
        return x * self.scale


class Pool(nn.Module):
    def forward(self, x):
        return F.max_pool2d(x, 3, 2, 1)


class CustomNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1)
        self.down = FunctionalConv(4)                               # 3x3 s2 p1
        self.scale = Scale(4)
        self.dil = FunctionalConv(4, stride=1, padding=2, dilation=2)  # 5x5 effective
        self.pool = Pool()                                          # 3x3 s2 p1
        self.head = nn.Conv2d(4, 4, 3)

    def forward(self, x):  # N x 2 x H x W
        x = self.dil(self.scale(self.down(self.stem(x))))
        return self.head(self.pool(x)[:, :, 1:, :-1])


def test_custom_leaf_modules_equal_the_probe_and_hand_arithmetic():
    net = prepare(CustomNet())
    graph, rf = _assert_equals_probe(net, (1, 2, 97, 97))
    assert [n.name for n in graph.layers] == [
        "stem", "down.conv2d", "scale.mul", "dil.conv2d", "pool.max_pool2d", "getitem", "head"]
    # stem 3x3 p1: size 3, jump 1, pad 1; down 3x3 s2 p1: 3 + 2*1 = 5, jump 2, pad 1 + 1*1 = 2;
    # dil (3x3 dilation 2: 5 px, pad 2): 5 + 4*2 = 13, pad 2 + 2*2 = 6; pool 3x3 s2 p1:
    # 13 + 2*2 = 17, jump 4, pad 6 + 1*2 = 8; crop [1:, :-1]: H pad 8 - 1*4 = 4, W stays 8;
    # head 3x3 valid: 17 + 2*4 = 25
    assert receptive_fields(graph)["down.conv2d"].padding == (2, 2)
    assert rf.size == (25, 25) and rf.stride == (4, 4) and rf.padding == (4, 8)
