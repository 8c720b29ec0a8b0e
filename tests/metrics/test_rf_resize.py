"""Resampling (``F.interpolate`` / ``nn.Upsample``) against the gradient probe, unit by unit.

PyTorch's source index (aten/src/ATen/native/UpSample.h): ``align_corners=True`` scales by
``(n-1)/(m-1)``; otherwise by ``1/scale_factor`` when a factor is given, else ``n/m``; linear
modes read ``floor(src)`` and ``floor(src) + 1`` (bicubic -1..2). Integer downsampling is exact
(a window with stride = the factor); upsampling is phase-dependent -- ``unknown`` with ``bound``
= the largest single-unit window, which the probe must reach at some unit and never exceed.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archlens.engine import trace_graph
from archlens.metrics.receptive_field import receptive_fields

from .probe import prepare


class SegHead(nn.Module):
    """A stride-2 backbone (3x3/2, 3x3), a 1x1 classifier, then resampling (FCN's head)."""

    def __init__(self, **kw):
        super().__init__()
        self.kw = kw
        self.stem = nn.Conv2d(3, 4, 3, 2, 1)
        self.conv = nn.Conv2d(4, 4, 3, 1, 1)
        self.cls = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        y = self.cls(self.conv(self.stem(x)))
        kw = dict(self.kw)
        if kw.pop("to_input", False):
            kw["size"] = x.shape[-2:]
        return F.interpolate(y, **kw)


def _rows_per_unit(model, size: int) -> list[tuple[int, int]]:
    """The probe's input rows for every output row (the whole row summed)."""
    prepare(model, jitter=0)
    x = torch.ones(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    y = model(x)
    out = []
    for o in range(y.shape[2]):
        g, = torch.autograd.grad(y[0, :, o, :].sum(), x, retain_graph=True)
        rows = torch.nonzero(g[0].abs().sum((0, 2)) > 0).flatten()
        out.append((int(rows[0]), int(rows[-1])))
    return out


def _rf(model, size):
    g = trace_graph(model.eval(), (1, 3, size, size))
    return receptive_fields(g)[g.outputs[0]]


UP = [
    dict(to_input=True, mode="bilinear", align_corners=False),   # FCN / DeepLab heads
    dict(to_input=True, mode="bilinear", align_corners=True),
    dict(scale_factor=2, mode="bilinear", align_corners=False),
    dict(scale_factor=2, mode="nearest"),
    dict(scale_factor=3, mode="bicubic", align_corners=False),
    dict(size=(40, 40), mode="bilinear", align_corners=True),
]


@pytest.mark.parametrize("kw", UP, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_upsampling_bound_is_the_largest_window_the_probe_sees(kw):
    model = SegHead(**kw)
    rf = _rf(model, 32)
    assert rf.status == "unknown" and "phase" in rf.reason and rf.bound is not None
    units = _rows_per_unit(SegHead(**kw), 32)
    inner = [hi - lo + 1 for lo, hi in units if lo > 0 and hi < 31]  # not cut by the image
    # stem 3/2 then 3x3: 7 px (j2); linear taps add one unit (2 px): 9; bicubic 3 units: 13;
    # nearest reads one unit: 7 -- the same for every unit, only where it sits moves
    assert max(inner) == rf.bound[0] == rf.bound[1]
    assert rf.bound[0] == {"nearest": 7, "bilinear": 9, "bicubic": 13}[kw["mode"]]


DOWN = [
    # bilinear / 2 (align False): src = 2o + 1/2, both taps weighted: 7 + 2 = 9 px, jump 4
    (dict(scale_factor=0.5, mode="bilinear", align_corners=False), 9, 4),
    # nearest / 2: src = 2o, one tap: 7 px, jump 4
    (dict(scale_factor=0.5, mode="nearest"), 7, 4),
    # bilinear / 3: src = 3o + 1 (an integer), one tap: 7 px, jump 6
    (dict(scale_factor=1 / 3, mode="bilinear", align_corners=False), 7, 6),
]


@pytest.mark.parametrize("kw, size, jump", DOWN, ids=["bilinear/2", "nearest/2", "bilinear/3"])
def test_integer_downsampling_is_exact_by_the_probe(kw, size, jump):
    model = SegHead(**kw)
    rf = _rf(model, 48)
    assert rf.status == "exact" and rf.size == (size, size) and rf.stride == (jump, jump), rf
    units = _rows_per_unit(SegHead(**kw), 48)
    for u, (lo, hi) in enumerate(units):
        start = u * rf.stride[0] - rf.padding[0]
        if start > 0 and start + rf.size[0] - 1 < 47:
            assert (lo, hi) == (start, start + rf.size[0] - 1), (u, lo, hi, rf)
