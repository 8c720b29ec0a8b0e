"""Shared building blocks of the zoo (conv + norm + activation units).

Families import these so that the same unit has the same module names everywhere
(``<path>.conv``, ``<path>.bn``, ``<path>.relu``), which the analysis and the design checks
rely on when they name layers.
"""
from __future__ import annotations

from typing import Any

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
