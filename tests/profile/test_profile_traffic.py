"""Memory traffic and the ShuffleNet-V2 arithmetic against hand arithmetic."""
from __future__ import annotations

import math

import pytest
from torch import nn

from archlens import api
from archlens.profile.traffic import (balanced_width, conv1x1_macs, memory_access_cost,
                                      memory_access_lower_bound, node_traffic)


def test_balanced_1x1_reaches_the_lower_bound_exactly():
    # 56x56 map, c1 = c2 = 128: MAC_mem = 3136*256 + 128*128 = 819,200 elements;
    # B = 3136*128*128 = 51,380,224 and 2*sqrt(3136*B) + B/3136 = 2*56*7168 + 16,384
    assert memory_access_cost(56, 56, 128, 128) == 3136 * 256 + 16384 == 819_200
    assert conv1x1_macs(56, 56, 128, 128) == 51_380_224
    assert memory_access_lower_bound(56, 56, 51_380_224) == pytest.approx(2 * 56 * 7168 + 16384)
    assert balanced_width(56, 56, 51_380_224) == pytest.approx(128)


def test_unequal_widths_cost_more_at_nearly_equal_macs():
    # the 1:12 point of ShuffleNet V2's Table 1 at c1*c2 close to 128*128 (37*443 = 16,391)
    cost = memory_access_cost(56, 56, 37, 443)
    assert cost == 3136 * 480 + 37 * 443 == 1_521_671
    bound = memory_access_lower_bound(56, 56, 3136 * 37 * 443)
    assert cost / bound == pytest.approx(1_521_671 / (2 * math.sqrt(3136 * 3136 * 16391) + 16391))
    assert cost / bound > 1.8       # (1 + 12) / (2 sqrt(12)) = 1.876 when the maps dominate


def test_grouped_1x1_formula_hw_c1_plus_c2_plus_c1c2_over_g():
    # eq. 2: h*w*(c1 + c2) + c1*c2/g; g = 8, c1 = c2 = 256 on 28x28
    assert memory_access_cost(28, 28, 256, 256, groups=8) == 784 * 512 + 256 * 256 / 8
    assert conv1x1_macs(28, 28, 256, 256, groups=8) == 784 * 256 * 256 / 8


class _Conv(nn.Module):
    default_input_shape = (64, 56, 56)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv(x)).flatten(1)


@pytest.fixture(scope="module")
def conv_graph():
    return api.analyze(_Conv(), checks=False).graph


@pytest.mark.parametrize("dtype,itemsize", [("float32", 4), ("bfloat16", 2), ("float16", 2)])
def test_conv_bytes_at_each_dtype(conv_graph, dtype, itemsize):
    tr = node_traffic(conv_graph["conv"], itemsize)
    assert tr.read_bytes == 64 * 56 * 56 * itemsize
    assert tr.weight_bytes == 128 * 64 * 3 * 3 * itemsize
    assert tr.write_bytes == 128 * 56 * 56 * itemsize
    assert tr.total == (64 * 56 * 56 + 128 * 64 * 9 + 128 * 56 * 56) * itemsize


def test_inplace_relu_reads_and_writes_and_a_view_moves_nothing(conv_graph):
    relu = node_traffic(conv_graph["relu"], 4)
    assert relu.read_bytes == relu.write_bytes == 128 * 56 * 56 * 4 and relu.weight_bytes == 0
    flat = next(n for n in conv_graph.layers if n.type == "flatten")
    assert node_traffic(flat, 4).total == 0
