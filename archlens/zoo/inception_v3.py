"""Inception-v3 (torchvision's ``Inception3`` layout) and its teaching variants as builder args.

Structure, module names and parameter counts are identical to torchvision's ``Inception3``
(27,161,264 parameters with ``AuxLogits``, 23,834,568 without). Differences that change no
count and no MAC: pooling, dropout and flatten are ``nn.Module`` objects (``Mixed_5b.pool``,
``avgpool``, ``dropout``) instead of ``F.*`` calls, so every op of the traced graph carries a
module path; there is no ``transform_input``.

The variants (registered in :mod:`archlens.zoo.inception`) are arguments of the same classes:

* ``unfactorized=True`` undoes the paper's spatial factorizations (see
  :data:`UNFACTORIZED_REPLACEMENTS` for the exact list);
* ``reduction="pool_then_conv" | "conv_then_pool"`` replaces the efficient grid reductions
  (Mixed_6a, Mixed_7a: stride-2 convs in parallel with a stride-2 pool, paper Figure 10) by the
  two naive orders of the paper's Figure 9;
* ``first_stride=1`` / ``first_pool=False`` are the low-resolution stems of paper section 7.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from archlens.zoo.blocks import BasicConv2d, init_truncated_normal

Reduction = Literal["efficient", "pool_then_conv", "conv_then_pool"]
_REDUCTIONS = ("efficient", "pool_then_conv", "conv_then_pool")

InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])


# --------------------------------------------------------------------------------------------
# What `unfactorized=True` replaces (machine-readable; the design checks test against it)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Replacement:
    """One factorized pair of convolutions merged back into a single convolution.

    ``merged`` is the BasicConv2d path of the single conv in the unfactorized model (it keeps
    the name of the first factor; the second factor's module is gone). ``merged_conv`` is the
    path of its ``nn.Conv2d`` (the name the analysis gives the layer). Stride refers to the
    default ``reduction="efficient"`` build.
    """

    merged: str
    kernel: tuple[int, int]
    factors: tuple[str, str]
    factor_kernels: tuple[tuple[int, int], tuple[int, int]]
    intermediate_channels: int  # width of the tensor between the two factors (removed)
    in_channels: int
    out_channels: int
    stride: tuple[int, int] = (1, 1)

    @property
    def merged_conv(self) -> str:
        return f"{self.merged}.conv"


def _unfactorized_replacements() -> tuple[Replacement, ...]:
    out: list[Replacement] = []
    # Paper Figure 5: a 5x5 factorized into two stacked 3x3 (35x35 grid, InceptionA).
    for m, cin in (("Mixed_5b", 192), ("Mixed_5c", 256), ("Mixed_5d", 288)):
        out.append(Replacement(f"{m}.branch3x3dbl_2", (5, 5),
                               (f"{m}.branch3x3dbl_2", f"{m}.branch3x3dbl_3"),
                               ((3, 3), (3, 3)), 96, 64, 96))
    # Grid reduction 35->17 (InceptionB): 3x3 (pad 1) then 3x3 stride 2 == one 5x5, stride 2, pad 1.
    out.append(Replacement("Mixed_6a.branch3x3dbl_2", (5, 5),
                           ("Mixed_6a.branch3x3dbl_2", "Mixed_6a.branch3x3dbl_3"),
                           ((3, 3), (3, 3)), 96, 64, 96, (2, 2)))
    # Paper Figure 6: 7x7 factorized into 1x7 + 7x1 (17x17 grid, InceptionC).
    for m, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        out.append(Replacement(f"{m}.branch7x7_2", (7, 7),
                               (f"{m}.branch7x7_2", f"{m}.branch7x7_3"),
                               ((1, 7), (7, 1)), c7, c7, 192))
        out.append(Replacement(f"{m}.branch7x7dbl_2", (7, 7),
                               (f"{m}.branch7x7dbl_2", f"{m}.branch7x7dbl_3"),
                               ((7, 1), (1, 7)), c7, c7, c7))
        out.append(Replacement(f"{m}.branch7x7dbl_4", (7, 7),
                               (f"{m}.branch7x7dbl_4", f"{m}.branch7x7dbl_5"),
                               ((7, 1), (1, 7)), c7, c7, 192))
    # Grid reduction 17->8 (InceptionD): its 1x7 + 7x1 pair.
    out.append(Replacement("Mixed_7a.branch7x7x3_2", (7, 7),
                           ("Mixed_7a.branch7x7x3_2", "Mixed_7a.branch7x7x3_3"),
                           ((1, 7), (7, 1)), 192, 192, 192))
    return tuple(out)


#: Every conv pair that ``inception_v3_unfactorized`` merges (17 entries). Not replaced, on
#: purpose: the stem (Conv2d_1a/2a/2b: the paper's loose "7x7 as three 3x3" changes the grid,
#: it is not an exact factorization), Mixed_7b/7c's parallel 1x3 | 3x1 splits (Figure 7: a
#: wider filter bank, not a series factorization), and the 5x5 convs torchvision already has
#: (Mixed_5b-d.branch5x5_2, AuxLogits.conv1).
UNFACTORIZED_REPLACEMENTS: tuple[Replacement, ...] = _unfactorized_replacements()


def _merged_geometry(k1: tuple[int, int], s1: tuple[int, int], p1: tuple[int, int],
                     k2: tuple[int, int], s2: tuple[int, int], p2: tuple[int, int]
                     ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Kernel, stride, padding of the single conv with the same window as conv1 then conv2.

    Per axis: k = k1 + (k2 - 1) * s1, s = s1 * s2, p = p1 + p2 * s1. The merged conv sees the
    same input window at every output position, so output grids and alignment are unchanged.
    """
    k = tuple(a + (b - 1) * s for a, b, s in zip(k1, k2, s1))
    s = tuple(a * b for a, b in zip(s1, s2))
    p = tuple(a + b * s for a, b, s in zip(p1, p2, s1))
    return k, s, p  # type: ignore[return-value]


def _conv_pair(cin: int, mid: int, cout: int, k1, s1, p1, k2, s2, p2,
               merge: bool) -> tuple[BasicConv2d, BasicConv2d | None]:
    """Two stacked BasicConv2d (cin->mid->cout), or one merged BasicConv2d (cin->cout) and None."""
    t = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    k1, s1, p1, k2, s2, p2 = map(t, (k1, s1, p1, k2, s2, p2))
    if merge:
        k, s, p = _merged_geometry(k1, s1, p1, k2, s2, p2)
        return BasicConv2d(cin, cout, kernel_size=k, stride=s, padding=p), None
    return (BasicConv2d(cin, mid, kernel_size=k1, stride=s1, padding=p1),
            BasicConv2d(mid, cout, kernel_size=k2, stride=s2, padding=p2))


def _run(x: Tensor, *convs: nn.Module | None) -> Tensor:
    for c in convs:
        if c is not None:
            x = c(x)
    return x


# --------------------------------------------------------------------------------------------
# Modules (names as torchvision's Inception3)
# --------------------------------------------------------------------------------------------

class InceptionA(nn.Module):
    """35x35 module (Mixed_5b-d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""

    def __init__(self, in_channels: int, pool_features: int, unfactorized: bool = False) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _conv_pair(
            64, 96, 96, 3, 1, 1, 3, 1, 1, merge=unfactorized)
        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        # N x C x 35 x 35
        b1 = self.branch1x1(x)  # N x 64 x 35 x 35
        b5 = self.branch5x5_2(self.branch5x5_1(x))  # N x 64 x 35 x 35
        b3 = _run(x, self.branch3x3dbl_1, self.branch3x3dbl_2,
                  self.branch3x3dbl_3)  # N x 96 x 35 x 35
        bp = self.branch_pool(self.pool(x))  # N x pool_features x 35 x 35
        return torch.cat([b1, b5, b3, bp], 1)  # N x (224 + pool_features) x 35 x 35


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17 (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2, 288 -> 768 channels.

    ``reduction`` picks the order of pooling and convolution:
    ``efficient`` (paper Fig. 10, torchvision): stride-2 convs in parallel with the stride-2 pool;
    ``pool_then_conv`` (Fig. 9 left): ``pool`` first, then every conv at 17x17, stride 1;
    ``conv_then_pool`` (Fig. 9 right): every conv at 35x35, stride 1, then ``pool`` on the concat.
    """

    def __init__(self, in_channels: int, unfactorized: bool = False,
                 reduction: Reduction = "efficient") -> None:
        super().__init__()
        self.reduction = reduction
        s = 2 if reduction == "efficient" else 1
        p = 0 if reduction == "efficient" else 1  # naive orders keep the grid in the convs
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=s, padding=p)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _conv_pair(
            64, 96, 96, 3, 1, 1, 3, s, p, merge=unfactorized)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        if self.reduction == "pool_then_conv":
            x = self.pool(x)  # N x 288 x 17 x 17  (the representational bottleneck)
            b3 = self.branch3x3(x)  # N x 384 x 17 x 17
            bd = _run(x, self.branch3x3dbl_1, self.branch3x3dbl_2,
                      self.branch3x3dbl_3)  # N x 96 x 17 x 17
            return torch.cat([b3, bd, x], 1)  # N x 768 x 17 x 17
        # N x 288 x 35 x 35
        b3 = self.branch3x3(x)  # N x 384 x 17 x 17  (35 x 35 for conv_then_pool)
        bd = _run(x, self.branch3x3dbl_1, self.branch3x3dbl_2,
                  self.branch3x3dbl_3)  # N x 96 x 17 x 17 (35 x 35 for conv_then_pool)
        if self.reduction == "conv_then_pool":
            y = torch.cat([b3, bd, x], 1)  # N x 768 x 35 x 35
            return self.pool(y)  # N x 768 x 17 x 17
        bp = self.pool(x)  # N x 288 x 17 x 17
        return torch.cat([b3, bd, bp], 1)  # N x 768 x 17 x 17


class InceptionC(nn.Module):
    """17x17 module (Mixed_6b-e): 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1."""

    def __init__(self, in_channels: int, channels_7x7: int, unfactorized: bool = False) -> None:
        super().__init__()
        c7 = channels_7x7
        m = unfactorized
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2, self.branch7x7_3 = _conv_pair(
            c7, c7, 192, (1, 7), 1, (0, 3), (7, 1), 1, (3, 0), merge=m)
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2, self.branch7x7dbl_3 = _conv_pair(
            c7, c7, c7, (7, 1), 1, (3, 0), (1, 7), 1, (0, 3), merge=m)
        self.branch7x7dbl_4, self.branch7x7dbl_5 = _conv_pair(
            c7, c7, 192, (7, 1), 1, (3, 0), (1, 7), 1, (0, 3), merge=m)
        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        # N x 768 x 17 x 17
        b1 = self.branch1x1(x)  # N x 192 x 17 x 17
        b7 = _run(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3)  # N x 192 x 17 x 17
        bd = _run(x, self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                  self.branch7x7dbl_4, self.branch7x7dbl_5)  # N x 192 x 17 x 17
        bp = self.branch_pool(self.pool(x))  # N x 192 x 17 x 17
        return torch.cat([b1, b7, bd, bp], 1)  # N x 768 x 17 x 17


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8 (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2, 768 -> 1280.

    ``reduction`` as in :class:`InceptionB`.
    """

    def __init__(self, in_channels: int, unfactorized: bool = False,
                 reduction: Reduction = "efficient") -> None:
        super().__init__()
        self.reduction = reduction
        s = 2 if reduction == "efficient" else 1
        p = 0 if reduction == "efficient" else 1
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=s, padding=p)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2, self.branch7x7x3_3 = _conv_pair(
            192, 192, 192, (1, 7), 1, (0, 3), (7, 1), 1, (3, 0), merge=unfactorized)
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=s, padding=p)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def _branches(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b3 = self.branch3x3_2(self.branch3x3_1(x))  # N x 320 x 8 x 8 (17 x 17 if stride 1)
        b7 = _run(x, self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3,
                  self.branch7x7x3_4)  # N x 192 x 8 x 8 (17 x 17 if stride 1)
        return b3, b7

    def forward(self, x: Tensor) -> Tensor:
        if self.reduction == "pool_then_conv":
            x = self.pool(x)  # N x 768 x 8 x 8  (the representational bottleneck)
            b3, b7 = self._branches(x)  # N x 320 x 8 x 8, N x 192 x 8 x 8
            return torch.cat([b3, b7, x], 1)  # N x 1280 x 8 x 8
        # N x 768 x 17 x 17
        b3, b7 = self._branches(x)
        if self.reduction == "conv_then_pool":
            y = torch.cat([b3, b7, x], 1)  # N x 1280 x 17 x 17
            return self.pool(y)  # N x 1280 x 8 x 8
        bp = self.pool(x)  # N x 768 x 8 x 8
        return torch.cat([b3, b7, bp], 1)  # N x 1280 x 8 x 8


class InceptionE(nn.Module):
    """8x8 module (Mixed_7b, 7c): 1x1 | 1x1-(1x3 | 3x1) | 1x1-3x3-(1x3 | 3x1) | avgpool-1x1.

    The parallel 1x3 | 3x1 splits widen the filter bank on the coarsest grid (paper Figure 7);
    they are not a series factorization, so ``unfactorized`` leaves them.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        # N x C x 8 x 8
        b1 = self.branch1x1(x)  # N x 320 x 8 x 8
        b3 = self.branch3x3_1(x)  # N x 384 x 8 x 8
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)  # N x 768 x 8 x 8
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))  # N x 384 x 8 x 8
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)  # N x 768 x 8 x 8
        bp = self.branch_pool(self.pool(x))  # N x 192 x 8 x 8
        return torch.cat([b1, b3, bd, bp], 1)  # N x 2048 x 8 x 8


class InceptionAux(nn.Module):
    """Auxiliary classifier on Mixed_6e (17x17x768); runs only in training mode."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv0 = BasicConv2d(in_channels, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.conv1.conv.stddev = 0.01  # type: ignore[assignment]
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001  # type: ignore[assignment]

    def forward(self, x: Tensor) -> Tensor:
        # N x 768 x 17 x 17
        x = self.pool(x)  # N x 768 x 5 x 5
        x = self.conv0(x)  # N x 128 x 5 x 5
        x = self.conv1(x)  # N x 768 x 1 x 1
        x = self.avgpool(x)  # N x 768 x 1 x 1
        return self.fc(self.flatten(x))  # N x num_classes


class Inception3(nn.Module):
    """Inception-v3 as laid out by torchvision (Szegedy et al. 2016, arXiv 1512.00567).

    In eval mode ``forward`` returns the logits; in training mode with ``aux_logits`` it returns
    ``InceptionOutputs(logits, aux_logits)``.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, dropout: float = 0.5,
                 unfactorized: bool = False, reduction: Reduction = "efficient",
                 first_stride: int = 2, first_pool: bool = True,
                 init_weights: bool = True) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, not {reduction!r}")
        self.aux_logits = aux_logits
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=first_stride)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2) if first_pool else None
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        u = unfactorized
        self.Mixed_5b = InceptionA(192, pool_features=32, unfactorized=u)
        self.Mixed_5c = InceptionA(256, pool_features=64, unfactorized=u)
        self.Mixed_5d = InceptionA(288, pool_features=64, unfactorized=u)
        self.Mixed_6a = InceptionB(288, unfactorized=u, reduction=reduction)
        self.Mixed_6b = InceptionC(768, channels_7x7=128, unfactorized=u)
        self.Mixed_6c = InceptionC(768, channels_7x7=160, unfactorized=u)
        self.Mixed_6d = InceptionC(768, channels_7x7=160, unfactorized=u)
        self.Mixed_6e = InceptionC(768, channels_7x7=192, unfactorized=u)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768, unfactorized=u, reduction=reduction)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(2048, num_classes)
        if init_weights:
            init_truncated_normal(self, std=0.1)

    def forward(self, x: Tensor) -> Tensor | InceptionOutputs:
        # N x 3 x 299 x 299   (grids below at 299; 151/1 and 79/1/no-pool stems reach 35 / 36)
        x = self.Conv2d_1a_3x3(x)  # N x 32 x 149 x 149
        x = self.Conv2d_2a_3x3(x)  # N x 32 x 147 x 147
        x = self.Conv2d_2b_3x3(x)  # N x 64 x 147 x 147
        if self.maxpool1 is not None:
            x = self.maxpool1(x)  # N x 64 x 73 x 73
        x = self.Conv2d_3b_1x1(x)  # N x 80 x 73 x 73
        x = self.Conv2d_4a_3x3(x)  # N x 192 x 71 x 71
        x = self.maxpool2(x)  # N x 192 x 35 x 35
        x = self.Mixed_5b(x)  # N x 256 x 35 x 35
        x = self.Mixed_5c(x)  # N x 288 x 35 x 35
        x = self.Mixed_5d(x)  # N x 288 x 35 x 35
        x = self.Mixed_6a(x)  # N x 768 x 17 x 17
        x = self.Mixed_6b(x)  # N x 768 x 17 x 17
        x = self.Mixed_6c(x)  # N x 768 x 17 x 17
        x = self.Mixed_6d(x)  # N x 768 x 17 x 17
        x = self.Mixed_6e(x)  # N x 768 x 17 x 17
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7a(x)  # N x 1280 x 8 x 8
        x = self.Mixed_7b(x)  # N x 2048 x 8 x 8
        x = self.Mixed_7c(x)  # N x 2048 x 8 x 8
        x = self.avgpool(x)  # N x 2048 x 1 x 1
        x = self.dropout(x)  # N x 2048 x 1 x 1
        x = self.fc(self.flatten(x))  # N x 1000
        if aux is not None:
            return InceptionOutputs(x, aux)
        return x
