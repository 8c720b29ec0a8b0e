"""GoogLeNet / Inception-v1 (paper and torchvision layouts), its module, and BN-Inception.

One Inception-v1 module class serves three layouts, chosen by arguments rather than copies:

* paper (Szegedy et al. 2014, arXiv 1409.4842): conv with bias + ReLU, a true 5x5 in the third
  branch, LocalResponseNorm in the stem, 3x3/2 max pooling everywhere;
* torchvision's ``GoogLeNet``: BasicConv2d (no bias, BN eps 0.001), a 3x3 in the "5x5" branch
  (a long-standing quirk torchvision keeps for its weights), 2x2/2 pooling before 5a;
* BN-Inception (Ioffe & Szegedy 2015, arXiv 1502.03167) lives in :class:`BNInception`.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable

import torch
from torch import Tensor, nn

from archlens.zoo.blocks import BasicConv2d, ConvReLU, init_truncated_normal

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])

ConvUnit = Callable[..., nn.Module]

# (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj): GoogLeNet paper Table 1.
GOOGLENET_MODULES: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class InceptionV1Module(nn.Module):
    """Four parallel branches concatenated on channels: 1x1 | 1x1-3x3 | 1x1-kxk | maxpool-1x1.

    ``branch3_kernel`` is 5 in the paper and 3 in torchvision's port; ``conv`` is the unit
    (``ConvReLU`` for the 2014 paper, ``BasicConv2d`` for torchvision). Names follow torchvision:
    ``branch2.1.conv`` is the 3x3, ``branch3.1.conv`` the "5x5", ``branch4.0`` the pool.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, *, conv: ConvUnit = ConvReLU,
                 branch3_kernel: int = 5) -> None:
        super().__init__()
        k = branch3_kernel
        self.branch1 = conv(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(conv(in_channels, ch3x3red, kernel_size=1),
                                     conv(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(conv(in_channels, ch5x5red, kernel_size=1),
                                     conv(ch5x5red, ch5x5, kernel_size=k, padding=k // 2))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv(in_channels, pool_proj, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        # N x C_in x H x W -> N x (ch1x1 + ch3x3 + ch5x5 + pool_proj) x H x W
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNetAux(nn.Module):
    """Auxiliary head on 4a / 4d (14x14): avgpool 5/3 -> 4x4, 1x1 conv 128, fc 1024, fc."""

    def __init__(self, in_channels: int, num_classes: int, *, conv: ConvUnit,
                 paper_pool: bool = True, dropout: float = 0.7) -> None:
        super().__init__()
        # The paper pools 5x5/3 (14 -> 4); torchvision uses adaptive pooling to 4x4, whose
        # windows at 14x14 are 4 wide, not 5 (same output shape, different receptive field).
        self.pool: nn.Module = (nn.AvgPool2d(5, stride=3) if paper_pool
                                else nn.AdaptiveAvgPool2d((4, 4)))
        self.conv = conv(in_channels, 128, kernel_size=1)
        self.flatten = nn.Flatten(1)
        self.fc1 = nn.Linear(2048, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        # N x C x 14 x 14
        x = self.conv(self.pool(x))  # N x 128 x 4 x 4
        x = self.relu(self.fc1(self.flatten(x)))  # N x 1024
        return self.fc2(self.dropout(x))  # N x num_classes


class GoogLeNet(nn.Module):
    """GoogLeNet in the paper's layout (``layout="paper"``) or torchvision's (``"torchvision"``).

    paper: ConvReLU units with bias, 5x5 third branch, LRN after the first pool and after
    conv3 (``lrn=True``, paper Figure 3), max pool 3x3/2 before 5a, dropout 0.4.
    torchvision: BasicConv2d units, 3x3 third branch, no LRN, max pool 2x2/2 before 5a,
    dropout 0.2. Both: ceil-mode pooling (Caffe), auxiliary heads on 4a and 4d when
    ``aux_logits`` (run in training mode only).
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False,
                 layout: str = "paper", lrn: bool | None = None,
                 dropout: float | None = None, init_weights: bool = True) -> None:
        super().__init__()
        if layout not in ("paper", "torchvision"):
            raise ValueError(f"layout must be 'paper' or 'torchvision', not {layout!r}")
        paper = layout == "paper"
        conv: ConvUnit = ConvReLU if paper else BasicConv2d
        lrn = paper if lrn is None else lrn
        dropout = (0.4 if paper else 0.2) if dropout is None else dropout
        self.aux_logits = aux_logits

        def norm() -> nn.Module | None:
            # Caffe's bvlc_googlenet LRN: size 5, alpha 1e-4, beta 0.75, k 1.
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if lrn else None

        self.conv1 = conv(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = norm()
        self.conv2 = conv(64, 64, kernel_size=1)
        self.conv3 = conv(64, 192, kernel_size=3, padding=1)
        self.lrn2 = norm()
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        k = 5 if paper else 3
        mods = {n: InceptionV1Module(*w, conv=conv, branch3_kernel=k)
                for n, w in GOOGLENET_MODULES.items()}
        self.inception3a = mods["inception3a"]
        self.inception3b = mods["inception3b"]
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = mods["inception4a"]
        self.inception4b = mods["inception4b"]
        self.inception4c = mods["inception4c"]
        self.inception4d = mods["inception4d"]
        self.inception4e = mods["inception4e"]
        self.maxpool4 = (nn.MaxPool2d(3, stride=2, ceil_mode=True) if paper
                         else nn.MaxPool2d(2, stride=2, ceil_mode=True))
        self.inception5a = mods["inception5a"]
        self.inception5b = mods["inception5b"]
        if aux_logits:
            self.aux1: GoogLeNetAux | None = GoogLeNetAux(512, num_classes, conv=conv,
                                                          paper_pool=paper)
            self.aux2: GoogLeNetAux | None = GoogLeNetAux(528, num_classes, conv=conv,
                                                          paper_pool=paper)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            init_truncated_normal(self, std=0.01)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        # N x 3 x 224 x 224
        x = self.conv1(x)  # N x 64 x 112 x 112
        x = self.maxpool1(x)  # N x 64 x 56 x 56
        if self.lrn1 is not None:
            x = self.lrn1(x)  # N x 64 x 56 x 56
        x = self.conv2(x)  # N x 64 x 56 x 56
        x = self.conv3(x)  # N x 192 x 56 x 56
        if self.lrn2 is not None:
            x = self.lrn2(x)  # N x 192 x 56 x 56
        x = self.maxpool2(x)  # N x 192 x 28 x 28
        x = self.inception3a(x)  # N x 256 x 28 x 28
        x = self.inception3b(x)  # N x 480 x 28 x 28
        x = self.maxpool3(x)  # N x 480 x 14 x 14
        x = self.inception4a(x)  # N x 512 x 14 x 14
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4b(x)  # N x 512 x 14 x 14
        x = self.inception4c(x)  # N x 512 x 14 x 14
        x = self.inception4d(x)  # N x 528 x 14 x 14
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception4e(x)  # N x 832 x 14 x 14
        x = self.maxpool4(x)  # N x 832 x 7 x 7
        x = self.inception5a(x)  # N x 832 x 7 x 7
        x = self.inception5b(x)  # N x 1024 x 7 x 7
        x = self.avgpool(x)  # N x 1024 x 1 x 1
        x = self.dropout(self.flatten(x))  # N x 1024
        x = self.fc(x)  # N x 1000
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


class InceptionV1Block(nn.Module):
    """A single Inception-v1 module as a model (teaching block), default GoogLeNet's 3a."""

    def __init__(self, widths: tuple[int, ...] = GOOGLENET_MODULES["inception3a"],
                 init_weights: bool = True) -> None:
        super().__init__()
        self.block = InceptionV1Module(*widths, conv=ConvReLU, branch3_kernel=5)
        if init_weights:
            init_truncated_normal(self, std=0.01)

    def forward(self, x: Tensor) -> Tensor:
        # N x 192 x 28 x 28 -> N x 256 x 28 x 28 (3a widths)
        return self.block(x)


# --------------------------------------------------------------------------------------------
# BN-Inception (Inception-v2 of the Batch-Norm paper, its Figure 5)
# --------------------------------------------------------------------------------------------

# name: (#1x1, #3x3 reduce, #3x3, #double 3x3 reduce, #double 3x3, pool, pool proj, stride)
# pool proj 0 = pass-through; #1x1 0 = no 1x1 branch (the two stride-2 reduction modules).
BN_INCEPTION_MODULES: dict[str, tuple[int, int, int, int, int, str, int, int]] = {
    "inception3a": (64, 64, 64, 64, 96, "avg", 32, 1),
    "inception3b": (64, 64, 96, 64, 96, "avg", 64, 1),
    "inception3c": (0, 128, 160, 64, 96, "max", 0, 2),
    "inception4a": (224, 64, 96, 96, 128, "avg", 128, 1),
    "inception4b": (192, 96, 128, 96, 128, "avg", 128, 1),
    "inception4c": (160, 128, 160, 128, 160, "avg", 128, 1),
    "inception4d": (96, 128, 192, 160, 192, "avg", 128, 1),
    "inception4e": (0, 128, 192, 192, 256, "max", 0, 2),
    "inception5a": (352, 192, 320, 160, 224, "avg", 128, 1),
    "inception5b": (352, 192, 320, 192, 224, "max", 128, 1),
}


class BNInceptionModule(nn.Module):
    """1x1 | 1x1-3x3 | 1x1-3x3-3x3 | pool(-1x1); the GoogLeNet 5x5 is two stacked 3x3.

    With ``stride=2`` the module reduces the grid: no 1x1 branch, the last conv of each 3x3
    branch has stride 2, and the max pool (3x3/2) passes its input channels through.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, chdblred: int,
                 chdbl: int, pool: str, pool_proj: int, stride: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, ch1x1, kernel_size=1) if ch1x1 else None
        self.branch3x3 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, stride=stride, padding=1))
        self.branch3x3dbl = nn.Sequential(
            BasicConv2d(in_channels, chdblred, kernel_size=1),
            BasicConv2d(chdblred, chdbl, kernel_size=3, padding=1),
            BasicConv2d(chdbl, chdbl, kernel_size=3, stride=stride, padding=1))
        if pool == "avg":
            p: nn.Module = nn.AvgPool2d(3, stride=1, padding=1, ceil_mode=True)
        elif stride == 2:
            p = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        else:
            p = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        self.branch_pool = (nn.Sequential(p, BasicConv2d(in_channels, pool_proj, kernel_size=1))
                            if pool_proj else nn.Sequential(p))
        self.out_channels = ch1x1 + ch3x3 + chdbl + (pool_proj or in_channels)

    def forward(self, x: Tensor) -> Tensor:
        outs = [] if self.branch1x1 is None else [self.branch1x1(x)]
        outs += [self.branch3x3(x), self.branch3x3dbl(x), self.branch_pool(x)]
        return torch.cat(outs, 1)  # N x out_channels x H/stride x W/stride


class BNInception(nn.Module):
    """BN-Inception: GoogLeNet with BatchNorm after every conv and 5x5s replaced by two 3x3s.

    Stem as in the Caffe/``pretrainedmodels`` port: 7x7/2 conv 64, max pool, 1x1 64, 3x3 192,
    max pool. No dropout (the BN paper removed it), no auxiliary heads.
    """

    def __init__(self, num_classes: int = 1000, init_weights: bool = True) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        c = 192
        for name, widths in BN_INCEPTION_MODULES.items():
            m = BNInceptionModule(c, *widths)
            setattr(self, name, m)
            c = m.out_channels
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(c, num_classes)
        if init_weights:
            init_truncated_normal(self, std=0.01)

    def forward(self, x: Tensor) -> Tensor:
        # N x 3 x 224 x 224
        x = self.conv1(x)  # N x 64 x 112 x 112
        x = self.maxpool1(x)  # N x 64 x 56 x 56
        x = self.conv3(self.conv2(x))  # N x 192 x 56 x 56
        x = self.maxpool2(x)  # N x 192 x 28 x 28
        x = self.inception3a(x)  # N x 256 x 28 x 28
        x = self.inception3b(x)  # N x 320 x 28 x 28
        x = self.inception3c(x)  # N x 576 x 14 x 14
        x = self.inception4a(x)  # N x 576 x 14 x 14
        x = self.inception4b(x)  # N x 576 x 14 x 14
        x = self.inception4c(x)  # N x 608 x 14 x 14
        x = self.inception4d(x)  # N x 608 x 14 x 14
        x = self.inception4e(x)  # N x 1056 x 7 x 7
        x = self.inception5a(x)  # N x 1024 x 7 x 7
        x = self.inception5b(x)  # N x 1024 x 7 x 7
        x = self.avgpool(x)  # N x 1024 x 1 x 1
        return self.fc(self.flatten(x))  # N x 1000
