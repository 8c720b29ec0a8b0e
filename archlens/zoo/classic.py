"""Classic networks and teaching blocks: LeNet-5, AlexNet, the 1x1-bottleneck cost example.

LeNet-5 follows LeCun et al. 1998 itself (not the common modern simplification): the sparse
C3 connection table, trainable subsampling layers, the scaled tanh squashing and a Euclidean
RBF output layer with fixed prototypes. Its trainable parameters then add up to exactly the
paper's per-layer figures (C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164 = 60,000).

AlexNet is torchvision's layout (the single-GPU channel counts of Krizhevsky's 2014 "one weird
trick" paper: 64-192-384-256-256), so its parameter count equals torchvision's published one.
"""
from __future__ import annotations

import torch
from torch import nn

from archlens.zoo.registry import ModelCard, Paper, register_model

# --------------------------------------------------------------------------- LeNet-5

# The paper's Table I: which S2 maps (0-5) feed each C3 map (0-15).
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),  # 3 contiguous
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),  # 4 discontinuous
    (0, 1, 2, 3, 4, 5),  # all six
)


class ScaledTanh(nn.Module):
    """LeNet's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (Appendix A)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """S2/S4: sum of a 2x2 window times a trainable per-map coefficient, plus a per-map bias.

    Written as a 2x2 average pool (the sum / 4; the 4 folds into the coefficient) followed by
    a per-channel affine map: 2 trainable parameters per feature map, as in the paper.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.pool = nn.AvgPool2d(2)
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x C x H x W
        x = self.pool(x)  # N x C x H/2 x W/2
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SparseC3(nn.Module):
    """C3 with the paper's connection table, as three grouped convolutions.

    The table has three kinds of maps (6 maps see 3 inputs, 9 see 4, 1 sees all 6). Gathering
    each map's input channels side by side makes each kind one grouped conv with one group per
    output map, so the layer holds exactly 60 x 25 weights + 16 biases = 1,516 parameters and
    costs 60 x 25 x 10 x 10 = 150,000 MACs (a full 6->16 conv would be 2,416 and 240,000).
    """

    def __init__(self, table: tuple[tuple[int, ...], ...] = C3_TABLE):
        super().__init__()
        kinds: dict[int, list[tuple[int, ...]]] = {}
        for inputs in table:
            kinds.setdefault(len(inputs), []).append(inputs)
        self.convs = nn.ModuleList()
        for k, (fan_in, maps) in enumerate(kinds.items()):
            idx = torch.tensor([c for m in maps for c in m], dtype=torch.long)
            self.register_buffer(f"index{k}", idx, persistent=False)
            self.convs.append(nn.Conv2d(fan_in * len(maps), len(maps), 5, groups=len(maps)))
        # maps come out grouped by kind, in table order within a kind; the table lists kinds
        # contiguously (3s, then 4s, then the 6), so concatenation restores the paper's order.

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x 6 x 14 x 14
        outs = [conv(x.index_select(1, getattr(self, f"index{k}")))  # N x maps x 10 x 10
                for k, conv in enumerate(self.convs)]
        return torch.cat(outs, 1)  # N x 16 x 10 x 10


class RBFOutput(nn.Module):
    """Euclidean RBF units: y_i = sum_j (x_j - w_ij)^2, one per class (smaller = better match).

    The paper fixes the prototypes w_i by hand (stylised 7x12 bitmaps of the characters, +-1)
    and does not train them, so they are a buffer here, not parameters. Lacking the bitmaps we
    draw a fixed +-1 code per class from a seeded generator (same code on every build).
    """

    def __init__(self, in_features: int = 84, classes: int = 10, seed: int = 1998):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        codes = torch.randint(0, 2, (classes, in_features), generator=g).float() * 2 - 1
        self.register_buffer("prototypes", codes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x 84
        diff = x.unsqueeze(1) - self.prototypes  # N x 10 x 84
        return (diff * diff).sum(-1)  # N x 10


class LeNet5(nn.Module):
    """LeCun et al. 1998: C1 - S2 - C3 - S4 - C5 - F6 - RBF output, on a 32x32 input."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.act1 = ScaledTanh()
        self.s2 = Subsampling(6)
        self.act2 = ScaledTanh()
        self.c3 = SparseC3()
        self.act3 = ScaledTanh()
        self.s4 = Subsampling(16)
        self.act4 = ScaledTanh()
        self.c5 = nn.Conv2d(16, 120, 5)
        self.act5 = ScaledTanh()
        self.f6 = nn.Linear(120, 84)
        self.act6 = ScaledTanh()
        self.output = RBFOutput(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x 1 x 32 x 32
        x = self.act1(self.c1(x))  # N x 6 x 28 x 28
        x = self.act2(self.s2(x))  # N x 6 x 14 x 14
        x = self.act3(self.c3(x))  # N x 16 x 10 x 10
        x = self.act4(self.s4(x))  # N x 16 x 5 x 5
        x = self.act5(self.c5(x))  # N x 120 x 1 x 1
        x = torch.flatten(x, 1)  # N x 120
        x = self.act6(self.f6(x))  # N x 84
        return self.output(x)  # N x 10


@register_model(ModelCard(
    name="lenet5", family="classic",
    paper=Paper("Gradient-Based Learning Applied to Document Recognition",
                "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner", 1998, None),
    input_shape=(1, 32, 32), output_shape=(10,),
    description=(
        "LeNet-5 is the template every later CNN follows: local receptive fields, shared "
        "weights and spatial subsampling, alternating so that the grid shrinks (32->28->14->"
        "10->5->1) while the number of feature maps grows (6->16->120). Weight sharing is the "
        "lesson in the numbers: 340,908 connections but only 60,000 trainable parameters. The "
        "sparse C3 table (each C3 map sees 3, 4 or 6 of the 6 S2 maps) both saves parameters "
        "and breaks symmetry so different maps learn different features - the idea grouped "
        "convolution later formalises."),
    published_params=60_000, published_macs=None,
    source=("paper, Section II-B: trainable parameters C1 156, S2 12, C3 1,516, S4 32, "
            "C5 48,120, F6 10,164 (sum 60,000); the paper gives connections, not MACs. By hand: "
            "conv/linear MACs C1 117,600 + C3 150,000 + C5 48,000 + F6 10,080 = 325,680"),
    notes=("paper-faithful: sparse C3 connection table (Table I), trainable subsampling "
           "(avg-pool x coefficient + bias), f(a) = 1.7159 tanh(2a/3), Euclidean RBF output "
           "with fixed +-1 prototypes (a buffer, 840 values, not trainable; seeded random "
           "codes instead of the paper's character bitmaps). The common modern 'LeNet-5' "
           "(full C3, max-pool, linear 84->10 output) would have 61,706 parameters."),
))
def lenet5() -> LeNet5:
    return LeNet5()


# --------------------------------------------------------------------------- AlexNet

class AlexNet(nn.Module):
    """Five convs (11x11/4, 5x5, then three 3x3) with three max-pools, three fc layers."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x 3 x 224 x 224
        x = self.features(x)  # N x 256 x 6 x 6
        x = self.avgpool(x)  # N x 256 x 6 x 6
        x = torch.flatten(x, 1)  # N x 9216
        return self.classifier(x)  # N x 1000


@register_model(ModelCard(
    name="alexnet", family="classic",
    paper=Paper("ImageNet Classification with Deep Convolutional Neural Networks",
                "A. Krizhevsky, I. Sutskever, G. E. Hinton", 2012, None),
    input_shape=(3, 224, 224), output_shape=(1000,),
    description=(
        "AlexNet showed that a deep CNN trained on GPUs with ReLU, dropout and data "
        "augmentation wins ImageNet by a wide margin. Its shape teaches the early rule of "
        "thumb the later papers refine: a large, strided first kernel (11x11/4) shrinks the "
        "grid fast, and three fully connected layers hold almost all of the parameters "
        "(about 58.6M of 61.1M) while the convolutions hold most of the MACs."),
    published_params=61_100_840, published_macs=714_000_000,
    source="torchvision.models AlexNet_Weights.IMAGENET1K_V1 meta (num_params, GFLOPS = MACs)",
    notes=("torchvision layout: single-tower channel counts 64-192-384-256-256 from "
           "Krizhevsky 2014 ('One weird trick', arXiv:1404.5997), no local response "
           "normalisation, no two-GPU grouping, AdaptiveAvgPool2d((6, 6)) before the classifier"),
))
def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    return AlexNet(num_classes=num_classes, dropout=dropout)


# --------------------------------------------------------------------------- teaching blocks

class NgBottleneck(nn.Module):
    """The course's cost example: 28x28x192 -> 28x28x32 by a 5x5 conv, with or without a
    1x1 reduction to ``reduce`` channels first. Convs have biases (as in the course's
    "+ b"); biases add parameters but no multiplies."""

    def __init__(self, reduce: int | None = None, in_ch: int = 192, out_ch: int = 32):
        super().__init__()
        self.reduce: nn.Sequential | None = None
        mid = in_ch
        if reduce is not None:
            self.reduce = nn.Sequential(nn.Conv2d(in_ch, reduce, 1), nn.ReLU(inplace=True))
            mid = reduce
        self.conv = nn.Conv2d(mid, out_ch, 5, padding=2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x 192 x 28 x 28
        if self.reduce is not None:
            x = self.reduce(x)  # N x 16 x 28 x 28
        return self.relu(self.conv(x))  # N x 32 x 28 x 28


_GOOGLENET = Paper("Going Deeper with Convolutions", "C. Szegedy et al.", 2014, "1409.4842")
_NG_SOURCE = ("A. Ng, Deep Learning Specialization, course 4 week 2 'Inception network "
              "motivation': 28x28x32 outputs x 5x5x192 = 120,422,400 multiplies; with the "
              "1x1x16 bottleneck 28x28x16 x 192 = 2,408,448 plus 28x28x32 x 5x5x16 = "
              "10,035,200, total 12,443,648")


@register_model(ModelCard(
    name="ng_bottleneck_reduced", family="classic", paper=_GOOGLENET,
    input_shape=(192, 28, 28), output_shape=(32, 28, 28),
    description=(
        "The same 28x28x192 -> 28x28x32 5x5 convolution, preceded by a 1x1 convolution to 16 "
        "channels (a 'bottleneck layer'): 12.4M multiplies instead of 120.4M, about a tenth, "
        "for the same output shape. This is why every Inception branch with a large kernel "
        "starts with a 1x1 reduction - and, done too aggressively, why Inception-v3's first "
        "principle warns against representational bottlenecks."),
    published_params=15_920, published_macs=12_443_648, source=_NG_SOURCE,
    kwargs=dict(reduce=16),
    notes=("1x1 conv 192->16 (+ReLU), then 5x5 conv 16->32 padding 2 (+ReLU), both with bias: "
           "params 192x16+16 = 3,088 plus 5x5x16x32+32 = 12,832, total 15,920"),
))
@register_model(ModelCard(
    name="ng_bottleneck_direct", family="classic", paper=_GOOGLENET,
    input_shape=(192, 28, 28), output_shape=(32, 28, 28),
    description=(
        "A single 5x5 convolution from 28x28x192 to 28x28x32 (padding 2): each of the "
        "28x28x32 outputs needs 5x5x192 multiplies, 120,422,400 in all. The teaching point "
        "is that a large kernel over many input channels is expensive; compare "
        "ng_bottleneck_reduced."),
    published_params=153_632, published_macs=120_422_400, source=_NG_SOURCE,
    kwargs=dict(reduce=None),
    notes="one 5x5 conv 192->32 padding 2 with bias (+ReLU): params 5x5x192x32+32 = 153,632",
))
def ng_bottleneck(reduce: int | None = None, in_ch: int = 192, out_ch: int = 32) -> NgBottleneck:
    return NgBottleneck(reduce=reduce, in_ch=in_ch, out_ch=out_ch)
