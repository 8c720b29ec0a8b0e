"""Shared building blocks of the zoo (conv + norm + activation units).

Families import these so that the same unit has the same module names everywhere
(``<path>.conv``, ``<path>.bn``, ``<path>.relu``), which the analysis and the design checks
rely on when they name layers.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm -> ReLU, torchvision's Inception unit.

    The conv has no bias because BN's learned shift makes it redundant. ``eps=0.001``
    follows the TensorFlow-trained Inception checkpoints that torchvision ports; it changes
    no parameter or MAC count.
    """

    def __init__(self, in_channels: int, out_channels: int, *, eps: float = 0.001,
                 **conv_kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=eps)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class ConvReLU(nn.Module):
    """conv (with bias) -> ReLU: the pre-BatchNorm unit of the 2014 papers (GoogLeNet, VGG)."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=True, **conv_kwargs)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.conv(x))


def init_truncated_normal(model: nn.Module, std: float) -> None:
    """torchvision's Inception/GoogLeNet init: conv and linear weights normal(0, std) truncated
    to [-2, 2] (a module's own ``stddev`` attribute overrides ``std``), zero biases, BN 1 and 0.

    The bounds are 20 (std 0.1) to 2,000 (std 0.001) standard deviations away, so truncation
    never triggers: clamping a plain normal draw is the same distribution and ~15x faster than
    ``nn.init.trunc_normal_`` (Inception-v3: 4 s -> 0.25 s for 27M weights), which keeps the
    zoo's tests fast. Draws happen in ``model.modules()`` order, so builds are deterministic.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            with torch.no_grad():
                m.weight.normal_(0.0, float(getattr(m, "stddev", std))).clamp_(-2.0, 2.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
