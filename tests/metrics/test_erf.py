"""Effective receptive field (Luo et al., NeurIPS 2016), measured by ``archlens.effective_rf``.

Independent figures:
- Luo et al.: for a stack of n convolutions at initialisation the ERF radius grows like sqrt(n)
  (the theoretical window grows like n). With independent zero-mean weights the expected
  gradient energy is the n-fold convolution of a 3-wide uniform per axis, whose standard
  deviation is sqrt(n * (3^2 - 1) / 12) = sqrt(2n/3) px.
- Hand arithmetic for the theoretical window: n stacked 3x3 / stride-1 convs see 2n + 1 px.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import archlens
from archlens.errors import ArchlensError
from archlens.metrics.erf import unit_window

CHANNELS = 32
SIZE = 48  # px; the centre unit's 33 px window (n = 16) stays inside the image


def _stack(n: int, relu: bool) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for i in range(n):
        layers.append(nn.Conv2d(3 if i == 0 else CHANNELS, CHANNELS, 3, padding=1, bias=False))
        if relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("relu", [False, True], ids=["linear", "relu"])
def test_erf_radius_grows_like_sqrt_n_and_window_like_n(relu):
    depths = (2, 4, 8, 16)
    sigmas = []
    for n in depths:
        model = _stack(n, relu)
        a = archlens.analyze(model, (3, SIZE, SIZE), device="meta", checks=False)
        last = a.graph.layers[-1].name
        e = archlens.effective_rf(model, last, analysis=a, samples=8)
        # the theoretical window, measured (non-zero gradient), equals the analysis' RF and
        # the hand figure 2n + 1
        assert e.support == (2 * n + 1, 2 * n + 1)
        assert e.support == tuple(a.graph[last].rf.size) == e.theoretical
        sigma = sum(e.sigma) / 2
        assert sigma == pytest.approx(math.sqrt(2 * n / 3), rel=0.12), (n, e.sigma)
        assert e.radius == pytest.approx(tuple(2 * s for s in e.sigma))
        # centred on the unit: the centre unit of a 48-px same-padded map sits at pixel 23
        assert e.centre == pytest.approx((23, 23), abs=1.5)
        sigmas.append(sigma)
    slope = np.polyfit(np.log(depths), np.log(sigmas), 1)[0]
    assert 0.4 < slope < 0.6, slope  # sqrt(n), not n (the window's slope is ~1)
    # a fraction of the theoretical window, shrinking with depth (Luo et al., Fig. 1)
    assert sigmas[-1] * 4 / 33 < sigmas[0] * 4 / 5


def test_unit_window_matches_the_measured_support_of_an_off_centre_unit():
    torch.manual_seed(1)
    # conv 3x3/2 pad 1 then conv 3x3/1 pad 1: by hand RF 3 + 2*2 = 7 px, jump 2, padding 3
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1),
                          nn.Conv2d(8, 8, 3, padding=1))
    a = archlens.analyze(model, (3, 32, 32), device="meta", checks=False)
    rf = a.graph["1"].rf
    assert (tuple(rf.size), tuple(rf.stride), tuple(rf.padding)) == ((7, 7), (2, 2), (3, 3))
    e = archlens.effective_rf(model, "1", analysis=a, unit=(5, 2), samples=2)
    # unit (5, 2): rows 5*2-3 .. +6 = 7..13, columns 2*2-3 .. +6 = 1..7
    assert unit_window(rf, (5, 2)) == (7, 1, 13, 7)
    assert e.support_box == (7, 1, 13, 7)
    # the corner unit's window hangs over the padding: the support is the clipped part
    e0 = archlens.effective_rf(model, "1", analysis=a, unit=(0, 0), samples=2)
    assert unit_window(rf, (0, 0)) == (-3, -3, 3, 3)
    assert e0.support_box == (0, 0, 3, 3)


def test_erf_errors_are_one_line():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 14 * 14, 2))
    a = archlens.analyze(model, (3, 16, 16), device="meta", checks=False)
    with pytest.raises(ArchlensError, match="non-spatial"):
        archlens.effective_rf(model, "2", analysis=a)
    with pytest.raises(ArchlensError, match="no layer 'O'"):
        archlens.effective_rf(model, "O", analysis=a)
    with pytest.raises(ArchlensError, match="outside"):
        archlens.effective_rf(model, "0", analysis=a, unit=(14, 0))

    class Add(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.a(x) + self.b(x)

    m = Add()
    a = archlens.analyze(m, (3, 8, 8), device="meta", checks=False)
    add = next(n.name for n in a.graph.layers if n.kind != "module")
    with pytest.raises(ArchlensError, match="functional op"):
        archlens.effective_rf(m, add, analysis=a)
    # default layer: the last spatial module layer; the model passed in is not modified
    e = archlens.effective_rf(m, analysis=a, samples=1)
    assert e.layer == "b" and e.support == (1, 1)  # a 1x1 conv sees one pixel
    assert next(m.parameters()).dtype == torch.float32
