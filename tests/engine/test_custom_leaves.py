"""The leaf rule: user-written childless modules are opened, torch.nn layers stay one node.

Independent figures: fvcore's ``FlopCountAnalysis(...).total()`` on the same model, the
parameter count ``sum(p.numel())`` of the module, and hand arithmetic in the comments.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archlens.engine import analyze_model, trace_graph
from archlens.trace import is_library_leaf


class FunctionalConv(nn.Module):
    """A conv written with F.conv2d on its own parameters (no children): stride 2, padding 1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3) * 0.1)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x):  # N x cin x H x W
        return F.conv2d(x, self.weight, self.bias, stride=2, padding=1)  # N x cout x H/2 x W/2


class StdConv(nn.Module):
    """Weight standardisation: the conv reads a tensor *derived* from the parameter."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, 1, 1))

    def forward(self, x):  # N x cin x H x W
        w = self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)
        return F.conv2d(x, w)  # N x cout x H x W


class Gate(nn.Module):
    """SE-like gate without children: x * sigmoid(1x1 conv of the global mean) * scale."""

    def __init__(self, c: int):
        super().__init__()
        self.fc = nn.Parameter(torch.randn(c, c, 1, 1) * 0.1)
        self.scale = nn.Parameter(torch.ones(1, c, 1, 1))

    def forward(self, x):  # N x C x H x W
        s = x.mean(dim=(2, 3), keepdim=True)  # N x C x 1 x 1
        return x * torch.sigmoid(F.conv2d(s, self.fc)) * self.scale


class Pool(nn.Module):
    def forward(self, x):  # N x C x H x W
        return F.max_pool2d(x, 3, 2, 1)  # N x C x H/2 x W/2


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.down = FunctionalConv(8, 16)
        self.std = StdConv(16, 16)
        self.gate = Gate(16)
        self.pool = Pool()
        self.head = nn.Conv2d(16, 4, 1)

    def forward(self, x):  # N x 3 x 32 x 32
        x = self.down(torch.relu(self.stem(x)))  # N x 16 x 16 x 16
        x = self.pool(self.gate(self.std(x)))    # N x 16 x 8 x 8
        return self.head(x)                      # N x 4 x 8 x 8


def _fvcore_total(model: nn.Module, x: torch.Tensor) -> int:
    from fvcore.nn import FlopCountAnalysis
    return int(FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
               .uncalled_modules_warnings(False).tracer_warnings("none").total())


def test_leaf_rule():
    class OnlyInit(nn.Conv2d):  # torch.nn's forward: still one Conv2d node
        def __init__(self):
            super().__init__(3, 3, 3)

    class OwnForward(nn.Conv2d):  # user code computes: opened
        def forward(self, x):
            return super().forward(x) * 2

    assert is_library_leaf(nn.Conv2d(3, 3, 3)) and is_library_leaf(nn.ReLU())
    assert is_library_leaf(OnlyInit())
    assert not is_library_leaf(OwnForward(3, 3, 3))
    assert not is_library_leaf(FunctionalConv(3, 3)) and not is_library_leaf(Pool())


def test_custom_modules_are_opened_with_geometry_and_params():
    a = analyze_model(Net(), (3, 32, 32))
    g = a.graph
    down = g["down.conv2d"]
    assert (down.kernel, down.stride, down.padding, down.module) == ((3, 3), (2, 2), (1, 1), "down")
    assert g["pool.max_pool2d"].stride == (2, 2)
    # own parameters at their first use, by hand: 16*8*9 + 16 = 1168; the standardised weight
    # is credited to the conv that reads it (16*16 = 256); the gate: fc 256 at its conv, scale 16
    # at the multiply that reads it
    assert down.params == 16 * 8 * 9 + 16
    assert g["std.conv2d"].params == 16 * 16
    assert g["gate.conv2d"].params == 16 * 16
    assert sum(n.params for n in g.layers if n.module == "gate") == 16 * 16 + 16
    # hand MACs of the functional conv: 16 x 16 x 16 outputs x (8 x 3 x 3) = 294,912
    assert down.macs == 294_912
    assert g["std.conv2d"].type == "conv2d" and g["std.conv2d"].in_shapes[0] == (1, 16, 16, 16)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_totals_equal_fvcore_and_parameter_count(device):
    model = Net()
    expected = _fvcore_total(model, torch.randn(1, 3, 32, 32))
    a = analyze_model(model, (3, 32, 32), device=device)
    assert a.totals.macs == expected
    assert sum(n.macs for n in a.graph.layers) == a.totals.macs
    n_params = sum(p.numel() for p in model.parameters())
    assert a.totals.params == n_params
    assert sum(n.params for n in a.graph.layers) == n_params and a.totals.unused_params == 0
    # hand: stem 3*8*9+8 = 224, down 1168, std 256, gate 272, head 16*4+4 = 68
    assert n_params == 224 + 1168 + 256 + 272 + 68


def test_cpu_and_meta_attribute_the_same_macs_node_for_node():
    model = Net()
    cpu = analyze_model(model, (3, 32, 32))
    meta = analyze_model(model, (3, 32, 32), device="meta")
    assert [(n.name, n.macs, n.params) for n in cpu.graph] == \
        [(n.name, n.macs, n.params) for n in meta.graph]


def test_receptive_field_through_custom_modules_by_hand():
    rfs = {n.name: n.rf for n in analyze_model(Net(), (3, 32, 32), device="meta").graph}
    # stem 3x3 p1: 3, jump 1, pad 1; down 3x3 s2 p1: 3 + 2*1 = 5, jump 2, pad 1 + 1 = 2, so unit
    # u of the 16x16 map sees [2u - 2, 2u + 2]; std 1x1: the same. The gate's global mean sees
    # units 0..15: [-2, 32], which covers the whole 32 px input, and every gated unit sees it:
    # status global, size = the input. The max pool after it stays global.
    assert rfs["down.conv2d"].size == (5, 5) and rfs["down.conv2d"].padding == (2, 2)
    gate = rfs["gate.mul#2"]
    assert gate.status == "global" and gate.size == (32, 32) and "gate" in gate.reason
    pool = rfs["pool.max_pool2d"]
    assert pool.status == "global" and pool.size == (32, 32)


def test_childless_module_computing_outside_torch_stays_one_node():
    class ViaNumpy(nn.Module):
        def forward(self, x):
            return torch.from_numpy(x.numpy() * 2.0)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.odd = ViaNumpy()
            self.out = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return self.out(self.odd(self.conv(x)))

    g = trace_graph(M(), (1, 3, 12, 12))
    assert g["odd"].kind == "module" and g["odd"].inputs == ("conv",)
    assert "opaque" in g["odd"].attrs
    assert g["out"].inputs == ("odd",)  # the graph stays connected
