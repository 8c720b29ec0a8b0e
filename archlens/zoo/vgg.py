"""VGG (Simonyan & Zisserman 2014): configurations A, B, D, E, with and without batch norm.

Layout, module names and initialisation follow torchvision (``features.N``, ``avgpool``,
``classifier.N``), so parameter counts equal torchvision's published ones exactly. One builder
serves all eight names; a variant is the data in its card (``cfg`` letter, ``batch_norm``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from archlens.zoo.registry import ModelCard, Paper, register_model

# Conv widths per configuration of the paper's Table 1; "M" is a 2x2 max-pool (stride 2).
CFGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # vgg11
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # vgg13
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],  # vgg16
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],  # vgg19
}


def make_features(cfg: Sequence[int | str], batch_norm: bool) -> nn.Sequential:
    """The convolutional trunk: 3x3 convs (padding 1) and 2x2 max-pools, as one Sequential."""
    layers: list[nn.Module] = []
    in_ch = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_ch, int(v), kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU(inplace=True))
        in_ch = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A stack of 3x3 convs in five stages, then three fully connected layers."""

    def __init__(self, cfg: str = "D", batch_norm: bool = False, num_classes: int = 1000,
                 dropout: float = 0.5):
        super().__init__()
        self.features = make_features(CFGS[cfg], batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x 3 x 224 x 224
        x = self.features(x)  # N x 512 x 7 x 7
        x = self.avgpool(x)  # N x 512 x 7 x 7 (identity at 224x224; lets other sizes in)
        x = torch.flatten(x, 1)  # N x 25088
        return self.classifier(x)  # N x 1000


_PAPER = Paper("Very Deep Convolutional Networks for Large-Scale Image Recognition",
               "K. Simonyan, A. Zisserman", 2014, "1409.1556")
_SOURCE = ("torchvision.models VGG*_Weights.IMAGENET1K_V1 meta (num_params, GFLOPS = "
           "multiply-accumulates); the _bn variants add 2 parameters (BN weight, bias) "
           "per conv channel")
_DESC = ("VGG teaches depth through uniformity: only 3x3 convolutions (stride 1, padding 1) and "
         "2x2 max-pools, channels doubling 64->512 as the grid halves. Two stacked 3x3 convs see "
         "a 5x5 window and three see 7x7, with fewer parameters and more non-linearities than "
         "one large kernel - the factorization idea Inception-v3 later generalises. The price "
         "is visible in the numbers: the first fully connected layer alone holds about 103M of "
         "the ~138M parameters, and the high-resolution early convs dominate the MACs.")

# name -> (cfg, published params, published MACs); MACs are torchvision's GFLOPS (really MACs).
_VARIANTS = {
    "vgg11": ("A", 132_863_336, 7_609_000_000),
    "vgg13": ("B", 133_047_848, 11_308_000_000),
    "vgg16": ("D", 138_357_544, 15_470_000_000),
    "vgg19": ("E", 143_667_240, 19_632_000_000),
}
# Exact BN additions (2 x total conv channels): A 2,752 ch, B 2,944, D 4,224, E 5,504.
_BN_PARAMS = {"vgg11": 132_868_840, "vgg13": 133_053_736, "vgg16": 138_365_992,
              "vgg19": 143_678_248}


def _cards() -> list[ModelCard]:
    cards = []
    for bn in (False, True):  # plain first, then the _bn variants (listing order)
        for name, (cfg, params, macs) in _VARIANTS.items():
            depth = name[3:]
            cards.append(ModelCard(
                name=name + ("_bn" if bn else ""), family="vgg", paper=_PAPER,
                input_shape=(3, 224, 224), description=_DESC,
                published_params=_BN_PARAMS[name] if bn else params, published_macs=macs,
                source=_SOURCE, output_shape=(1000,),
                kwargs=dict(cfg=cfg, batch_norm=bn),
                notes=(f"configuration {cfg} of the paper's Table 1 ({depth} weight layers)"
                       + ("; BatchNorm2d after every conv (not in the 2014 paper; "
                          "torchvision's variant; MACs as published for the plain net, "
                          "BN's own cost excluded)" if bn else "")),
            ))
    return cards


def _register_all():
    def build(cfg: str = "D", batch_norm: bool = False, num_classes: int = 1000,
              dropout: float = 0.5) -> VGG:
        return VGG(cfg=cfg, batch_norm=batch_norm, num_classes=num_classes, dropout=dropout)

    for c in _cards():
        register_model(c)(build)
    return build


vgg = _register_all()
