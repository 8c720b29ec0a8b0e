"""Type by behaviour: a subclass of a torch.nn layer is treated as the layer it subclasses.

Independent figures: hand arithmetic of conv MACs (``C_out * H_out * W_out * C_in * k * k``,
no bias term, as fvcore counts) and the class hierarchy itself.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from archlens.analysis import Analysis
from archlens.engine import analyze_model
from archlens.trace import base_type_of


class WSConv2d(nn.Conv2d):
    """A conv subclass that keeps torch's forward (only ``__init__`` differs): one leaf node."""

    def __init__(self, cin: int, cout: int, k: int, **kw):
        super().__init__(cin, cout, k, padding=k // 2, bias=False, **kw)
        self.eps = 1e-6


class WSConv2dFwd(nn.Conv2d):
    """Weight standardisation in its own forward: opened, its ``conv2d`` op is the node."""

    def forward(self, x):
        w = self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


class MyBN(nn.BatchNorm2d):
    pass


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = WSConv2d(3, 8, 3)          # 1x3x16x16 -> 1x8x16x16
        self.bn = MyBN(8)
        self.conv2 = WSConv2dFwd(8, 4, 1)      # -> 1x4x16x16
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = self.conv2(self.bn(self.conv(x)))
        return self.fc(x.mean(dim=(2, 3)))


def test_base_type_is_first_torch_nn_class_in_mro():
    assert base_type_of(WSConv2d) == "Conv2d"
    assert base_type_of(MyBN) == "BatchNorm2d"
    assert base_type_of(nn.Conv2d) == "Conv2d"
    assert base_type_of(Tiny) == "Tiny"  # a direct nn.Module subclass behaves as itself


def test_subclass_gets_paper_macs_and_base_type():
    a = analyze_model(Tiny(), (3, 16, 16), device="meta")
    g = a.graph
    conv, bn = g["conv"], g["bn"]
    assert (conv.type, conv.base_type) == ("WSConv2d", "Conv2d")
    assert (bn.type, bn.base_type) == ("MyBN", "BatchNorm2d")
    assert conv.kernel == (3, 3) and conv.padding == (1, 1)
    # the opened subclass: its functional conv is the node, with its own geometry
    inner = g["conv2.conv2d"]
    assert inner.base_type == "conv2d" and inner.kernel == (1, 1)
    assert g["mean"].base_type == "mean" and g["fc"].base_type == "Linear"
    conv_macs = 8 * 16 * 16 * 3 * 3 * 3          # 55,296
    conv2_macs = 4 * 16 * 16 * 8                 # 8,192
    fc_macs = 4 * 10
    assert conv.macs == conv_macs and inner.macs == conv2_macs
    assert a.totals.paper_macs == conv_macs + conv2_macs + fc_macs


def test_base_type_json_round_trip_and_old_documents():
    a = analyze_model(Tiny(), (3, 16, 16), device="meta")
    d = a.to_dict()
    assert all("base_type" in layer for layer in d["layers"])
    assert Analysis.from_dict(d).graph["conv"].base_type == "Conv2d"
    for layer in d["layers"]:  # a document written before base_type existed
        del layer["base_type"]
    assert Analysis.from_dict(d).graph["conv"].base_type == "WSConv2d"
