"""G1..G4 fire on small constructed cases and stay silent on their balanced twins.

G1/G2 are arithmetic on the shapes; G3/G4 read time per node: measured (a profile's
medians, here set by hand so the test is exact) or estimated under the assumed roofline.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from archlens import api, checks
from archlens.profile.result import LayerProfile, Profile
from archlens.profile.roofline import Roofline

G = ["G1", "G2", "G3", "G4"]


def run(model, shape, profile=None, **kw):
    a = api.analyze(model, shape, checks=False)
    return a, checks.run(a, config=checks.DEFAULTS.replace(**kw), select=G, profile=profile)


def codes(fs):
    """The G codes (a 1x1-only model also gets the scope note: P1-P4 do not apply to it)."""
    return [f.code for f in fs if f.code.startswith("G")]


def fake_profile(analysis, seconds: dict[str, float], default: float = 1e-4) -> Profile:
    """A profile of ``analysis`` whose per-node medians are ``seconds`` (else ``default``)."""
    layers = tuple(LayerProfile(
        name=n.name, type=n.type, kind=n.kind, module=n.module_path, macs=n.macs,
        read_bytes=0, weight_bytes=0, write_bytes=0, median_s=seconds.get(n.name, default),
        q1_s=0.0, q3_s=0.0) for n in analysis.graph.layers)
    return Profile(model="t", input_shape=analysis.input_shape, device="cpu",
                   dtype="float32", threads=1, channels_last=False, warmup=1, repeats=1,
                   layers=layers, whole_median_s=sum(lp.median_s for lp in layers),
                   whole_q1_s=0, whole_q3_s=0,
                   roofline=Roofline(peak_macs_per_s=4e10, bandwidth_bytes_per_s=2e10),
                   env={"device_name": "test cpu"})


# -- G1 ------------------------------------------------------------------------------------

def conv1x1(c1, c2):
    return nn.Sequential(nn.Conv2d(c1, c2, 1, bias=False))


def test_g1_fires_on_1_to_12_and_not_on_1_to_1_at_equal_macs():
    # c1*c2 = 37*443 = 16,391 vs 128*128 = 16,384: equal MACs within 0.05 %
    _, fs = run(conv1x1(37, 443), (37, 56, 56))
    assert codes(fs) == ["G1.unequal-widths"]
    f = fs[0]
    cost = 3136 * (37 + 443) + 37 * 443
    bound = 2 * math.sqrt(3136 * 3136 * 37 * 443) + 37 * 443
    assert f.data["memory_access_cost"] == cost
    assert f.data["excess"] == pytest.approx(cost / bound, abs=1e-4)
    assert f"{cost:,} elements" in f.evidence and "estimated" in f.evidence
    assert f.data["balanced_width"] == pytest.approx(math.sqrt(37 * 443))
    # saving: (cost - bound) elements at 4 bytes over the assumed 20 GB/s
    assert f.data["saved_ms_estimate"] == pytest.approx((cost - bound) * 4 / 20e9 * 1e3)
    _, twin = run(conv1x1(128, 128), (128, 56, 56))
    assert codes(twin) == []


# -- G2 ------------------------------------------------------------------------------------

def test_g2_fires_on_8_groups_and_not_on_1():
    g8 = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, groups=8, bias=False))
    _, fs = run(g8, (256, 28, 28))
    assert codes(fs) == ["G2.group-count"]
    d = fs[0].data
    hw = 28 * 28
    assert d["memory_access_cost"] == hw * 512 + 9 * 256 * 256 / 8
    assert d["ungrouped_cost"] == pytest.approx(hw * 512 / math.sqrt(8) + 9 * 256 * 256 / 8)
    g1 = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, groups=1, bias=False))
    assert codes(run(g1, (256, 28, 28))[1]) == []
    dw = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False))
    assert codes(run(dw, (64, 28, 28))[1]) == []   # depthwise: the paper's own building block


# -- G3 ------------------------------------------------------------------------------------

class Fragment(nn.Module):
    """A stem conv, then a block of four parallel branches (as an Inception module), then a
    head conv; the twin replaces the block by one conv with the same total width."""

    def __init__(self, fragmented: bool):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.block = Branches() if fragmented else nn.Conv2d(32, 32, 1, bias=False)
        self.head = nn.Conv2d(32, 32, 3, padding=1, bias=False)

    def forward(self, x):
        return self.head(self.block(self.stem(x)))


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.ModuleList(nn.Conv2d(32, 8, 1, bias=False) for _ in range(4))

    def forward(self, x):
        return torch.cat([b(x) for b in self.b], 1)


def _block_heavy(analysis):
    """Per-node times where the block takes 60 % of the time (its MAC share is ~3 %)."""
    secs = {n.name: 1e-3 for n in analysis.graph.layers}
    block = [n.name for n in analysis.graph.layers if n.module_path.startswith("block")]
    for name in block:
        secs[name] = 3.0e-3 / len(block)
    return secs


def test_g3_fires_on_a_measured_4_branch_fragment_and_not_on_one_conv():
    a = api.analyze(Fragment(True), (3, 32, 32), checks=False)
    fs = checks.run(a, config=checks.DEFAULTS, select=G, profile=fake_profile(a, _block_heavy(a)))
    g3 = [f for f in fs if f.code == "G3.fragmentation"]
    assert len(g3) == 1 and g3[0].layers == ("block",)
    d = g3[0].data
    assert d["branches"] == 4 and d["time_share"] == pytest.approx(0.6)
    assert d["fusable_1x1"] == [f"block.b.{i}" for i in range(4)]
    assert "measured on cpu" in g3[0].evidence
    twin = api.analyze(Fragment(False), (3, 32, 32), checks=False)
    fs2 = checks.run(twin, config=checks.DEFAULTS, select=G,
                     profile=fake_profile(twin, _block_heavy(twin)))
    assert not [f for f in fs2 if f.code == "G3.fragmentation"]


def test_g3_stays_silent_when_the_fragment_costs_its_mac_share():
    a = api.analyze(Fragment(True), (3, 32, 32), checks=False)
    # time exactly proportional to MACs: no fragmentation penalty measured
    secs = {n.name: max(n.macs, 1) * 1e-11 for n in a.graph.layers}
    fs = checks.run(a, config=checks.DEFAULTS, select=G, profile=fake_profile(a, secs))
    assert not [f for f in fs if f.code == "G3.fragmentation"]


# -- G4 ------------------------------------------------------------------------------------

class ReluAdd(nn.Module):
    """A thin 1x1 conv followed by a ReLU + residual add chain (element-wise dominated)."""

    def __init__(self, width: int, k: int, rounds: int):
        super().__init__()
        self.conv = nn.Conv2d(width, width, k, padding=k // 2, bias=False)
        self.relu = nn.ReLU()
        self.rounds = rounds

    def forward(self, x):
        y = self.conv(x)
        for _ in range(self.rounds):
            y = self.relu(y) + x
        return y


def test_g4_fires_on_a_relu_add_dominated_block_and_not_on_its_conv_heavy_twin():
    a, fs = run(ReluAdd(8, 1, 4), (8, 64, 64))                # estimated under the roofline
    g4 = [f for f in fs if f.code == "G4.elementwise"]
    assert len(g4) == 1
    d = g4[0].data
    assert d["ops"] == 8 and d["time_share"] > 0.5 and d["mac_share"] == 0
    assert "estimated" in g4[0].evidence and d["fusable"] == 8
    _, twin = run(ReluAdd(256, 3, 1), (256, 64, 64))
    assert not [f for f in twin if f.code == "G4.elementwise"]


def test_g4_uses_measured_time_with_a_profile():
    a = api.analyze(ReluAdd(256, 3, 1), (256, 64, 64), checks=False)
    secs = {n.name: 1e-3 for n in a.graph.layers}        # the ReLU and add as slow as the conv
    fs = checks.run(a, config=checks.DEFAULTS, select=G, profile=fake_profile(a, secs))
    g4 = [f for f in fs if f.code == "G4.elementwise"]
    assert len(g4) == 1 and g4[0].data["time_share"] == pytest.approx(2 / 3)
    assert g4[0].data["time_source"] == "measured" and g4[0].severity == "warning"


def test_g_rules_are_opt_in_without_a_profile():
    a = api.analyze(conv1x1(37, 443), (37, 56, 56), checks=False)
    assert codes(checks.run(a, config=checks.DEFAULTS)) == []
    assert codes(checks.run(a, config=checks.DEFAULTS, select="G1")) == ["G1.unequal-widths"]
