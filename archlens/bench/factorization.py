"""Factorization cases: a full n x n convolution and its factorized twin, from Inception-v3's shapes.

Two factorizations from Szegedy et al. 2016 ("Rethinking the Inception Architecture", sec. 3):

- ``stack``: a 5x5 convolution replaced by two stacked 3x3 convolutions (sec. 3.1, fig. 1).
- ``asym``: an n x n convolution replaced by a 1 x n convolution then an n x 1 (sec. 3.2, fig. 3).

Every convolution here is stride 1, "same" zero padding and bias-free (Inception-v3's
``BasicConv2d`` puts a BatchNorm after a bias-free conv), so the cost of one form is exact
arithmetic on its shapes (per image, output grid H x W)::

    full n x n          MACs = H*W * n*n * Cin*Cout             params = n*n * Cin*Cout
    two 3x3 (via Cmid)  MACs = H*W * 9 * (Cin*Cmid + Cmid*Cout) params = 9 * (Cin*Cmid + Cmid*Cout)
    1 x n then n x 1    MACs = H*W * n * (Cin*Cmid + Cmid*Cout) params = n * (Cin*Cmid + Cmid*Cout)

With Cin = Cmid = Cout the MAC ratios are 18/25 (28 % saved) and 2n/n^2 = 2/n (33 % saved for
n = 3, 60 % for n = 5, 71 % for n = 7). MACs and params count convolution weights only (the
"paper profile"); the optional BN+ReLU between the two factors adds 2*Cmid affine parameters
(``bn_params``) and elementwise work that is not a multiply-accumulate of a convolution.

The modules here are plain ``nn.Module`` builders; timing lives in :mod:`archlens.bench.timing`
and runs the same case code on every device.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction

from torch import nn

STACK = "stack"  # 5x5 -> 3x3 then 3x3
ASYM = "asym"  # n x n -> 1 x n then n x 1
KINDS = (STACK, ASYM)

#: Channel widths per grid size for the asymmetric cases, from Inception-v3's blocks:
#: 35x35 Mixed_5b-d (64/96), 17x17 Mixed_6b-e "c7" widths (128, 160, 160, 192),
#: 8x8 Mixed_7b-c (384 on the 1x3 / 3x1 branches).
ASYM_WIDTHS: dict[int, tuple[int, ...]] = {35: (64, 96), 17: (128, 160, 192), 8: (384,)}
ASYM_ORIGIN: dict[int, str] = {35: "Mixed_5b-d widths", 17: "Mixed_6b-e branch7x7 (c7)",
                               8: "Mixed_7b-c branch3x3 widths"}


@dataclass(frozen=True)
class Case:
    """One full-vs-factorized pair at one shape. ``mid`` is the intermediate width (stated,
    never implied): the output width of the first factor."""

    kind: str  # STACK | ASYM
    n: int  # kernel size of the full convolution (5 for STACK)
    grid: int  # H = W of input and output (stride 1, same padding)
    cin: int
    mid: int
    cout: int
    bn_relu: bool  # BN+ReLU between the two factors (the full form has nothing to match it)
    origin: str = ""  # where in Inception-v3 the shape comes from

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown factorization kind {self.kind!r}; use one of {KINDS}")
        if self.kind == STACK and self.n != 5:
            raise ValueError("the stacked factorization replaces a 5x5 by two 3x3 (n must be 5)")
        if self.n < 2 or self.n % 2 == 0:
            raise ValueError(f"n must be odd and >= 3 for 'same' padding, got {self.n}")

    @property
    def id(self) -> str:
        act = "bnrelu" if self.bn_relu else "linear"
        return f"{self.kind}{self.n}/g{self.grid}/{self.cin}-{self.mid}-{self.cout}/{act}"

    @property
    def title(self) -> str:
        fact = "3x3+3x3" if self.kind == STACK else f"1x{self.n}+{self.n}x1"
        act = " +BN/ReLU" if self.bn_relu else ""
        return (f"{self.n}x{self.n} vs {fact}{act} @{self.grid}x{self.grid} "
                f"{self.cin}->{self.mid}->{self.cout}")

    @property
    def factor_kernel(self) -> int:
        """Taps of one factor: 9 for a 3x3, n for a 1 x n."""
        return 9 if self.kind == STACK else self.n

    # ---- exact closed forms (per image) --------------------------------------------------
    def full_params(self) -> int:
        return self.n * self.n * self.cin * self.cout

    def factorized_params(self) -> int:
        return self.factor_kernel * (self.cin * self.mid + self.mid * self.cout)

    def bn_params(self) -> int:
        """Learnable BN affine parameters between the factors (not counted in the ratio)."""
        return 2 * self.mid if self.bn_relu else 0

    def full_macs(self) -> int:
        return self.grid * self.grid * self.full_params()

    def factorized_macs(self) -> int:
        return self.grid * self.grid * self.factorized_params()

    def mac_ratio(self) -> Fraction:
        """Factorized / full MACs as an exact fraction (equal to the params ratio here, as
        every convolution keeps the grid)."""
        return Fraction(self.factorized_macs(), self.full_macs())

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, self.cin, self.grid, self.grid)

    def output_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, self.cout, self.grid, self.grid)

    def to_dict(self) -> dict:
        return asdict(self)

    # ---- the two forms ---------------------------------------------------------------------
    def build_full(self) -> nn.Module:
        return FullConv(self.cin, self.cout, self.n)

    def build_factorized(self) -> nn.Module:
        if self.kind == STACK:
            return StackedConv(self.cin, self.mid, self.cout, bn_relu=self.bn_relu)
        return AsymmetricConv(self.cin, self.mid, self.cout, self.n, bn_relu=self.bn_relu)


class FullConv(nn.Module):
    """One n x n convolution, stride 1, same padding, no bias."""

    def __init__(self, cin: int, cout: int, n: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, n, padding=n // 2, bias=False)

    def forward(self, x):  # N x Cin x H x W
        return self.conv(x)  # N x Cout x H x W


def _between(mid: int, bn_relu: bool) -> nn.Module:
    # BN's eps matches Inception-v3's BasicConv2d (0.001).
    return nn.Sequential(nn.BatchNorm2d(mid, eps=0.001), nn.ReLU(inplace=True)) if bn_relu \
        else nn.Identity()


class StackedConv(nn.Module):
    """Two stacked 3x3 convolutions covering a 5x5 receptive field (fig. 1 of the paper)."""

    def __init__(self, cin: int, mid: int, cout: int, *, bn_relu: bool = False):
        super().__init__()
        self.first = nn.Conv2d(cin, mid, 3, padding=1, bias=False)
        self.between = _between(mid, bn_relu)
        self.second = nn.Conv2d(mid, cout, 3, padding=1, bias=False)

    def forward(self, x):  # N x Cin x H x W
        x = self.between(self.first(x))  # N x Cmid x H x W
        return self.second(x)  # N x Cout x H x W


class AsymmetricConv(nn.Module):
    """A 1 x n convolution then an n x 1 (fig. 3 of the paper for n = 3; n = 7 at 17x17)."""

    def __init__(self, cin: int, mid: int, cout: int, n: int, *, bn_relu: bool = False):
        super().__init__()
        self.row = nn.Conv2d(cin, mid, (1, n), padding=(0, n // 2), bias=False)
        self.between = _between(mid, bn_relu)
        self.col = nn.Conv2d(mid, cout, (n, 1), padding=(n // 2, 0), bias=False)

    def forward(self, x):  # N x Cin x H x W
        x = self.between(self.row(x))  # N x Cmid x H x W
        return self.col(x)  # N x Cout x H x W


def default_cases(grids: Sequence[int] = (35, 17, 8), *, quick: bool = False) -> list[Case]:
    """The case list: Inception-v3's real shapes, each with and without BN+ReLU.

    - 5x5 vs two 3x3 at 35x35 (only when 35 is among ``grids``): 48->64 as in
      Mixed_5b.branch5x5_2 (intermediate width 64 = the output width), and 64->64->64.
    - n x n vs 1 x n + n x 1, n in {3, 5, 7}, on each grid with the widths of
      :data:`ASYM_WIDTHS` (equal channels, intermediate = output width, as Mixed_6b-e's
      1x7 -> 7x1 pairs keep c7 channels). Grids not in the table use 128 channels.

    ``quick``: a handful of cases that still show both factorizations, both activations and
    two kernel sizes (CI runs it; under a minute on 2 CPU cores).
    """
    cases: list[Case] = []
    if quick:
        if 35 in grids:
            cases += [Case(STACK, 5, 35, 48, 64, 64, False, "Mixed_5b.branch5x5_2"),
                      Case(STACK, 5, 35, 64, 64, 64, False, "equal channels"),
                      Case(STACK, 5, 35, 64, 64, 64, True, "equal channels")]
        for g in grids:
            if g == 35:
                continue
            c = ASYM_WIDTHS.get(g, (128,))[0]
            for n in (3, 7):
                cases.append(Case(ASYM, n, g, c, c, c, False, ASYM_ORIGIN.get(g, "")))
            cases.append(Case(ASYM, 7, g, c, c, c, True, ASYM_ORIGIN.get(g, "")))
        return cases
    for bn in (False, True):
        if 35 in grids:
            cases.append(Case(STACK, 5, 35, 48, 64, 64, bn, "Mixed_5b.branch5x5_2"))
            cases.append(Case(STACK, 5, 35, 64, 64, 64, bn, "equal channels"))
    for g in grids:
        for c in ASYM_WIDTHS.get(g, (128,)):
            for n in (3, 5, 7):
                for bn in (False, True):
                    cases.append(Case(ASYM, n, g, c, c, c, bn, ASYM_ORIGIN.get(g, "")))
    return cases


@dataclass(frozen=True)
class ModelPair:
    """A whole module or network and its counterpart, both from the zoo."""

    id: str
    kind: str  # "module" | "network"
    full_model: str  # zoo name of the reference form
    factorized_model: str  # zoo name of the other form
    submodule: str | None  # attribute path inside the built model ("Mixed_6b"), or None
    input_chw: tuple[int, int, int] | None  # None: the zoo card's input shape
    full_label: str
    factorized_label: str
    note: str = ""


MODEL_PAIRS: tuple[ModelPair, ...] = (
    ModelPair("module/Mixed_6b", "module", "inception_v3_unfactorized", "inception_v3",
              "Mixed_6b", (768, 17, 17), "Mixed_6b, 7x7 convs (unfactorized twin)",
              "Mixed_6b, 1x7 + 7x1 (Inception-v3)",
              "the submodule of each built network, same input 768x17x17"),
    ModelPair("network/inception_v3", "network", "inception_v3_unfactorized", "inception_v3",
              None, None, "inception_v3_unfactorized", "inception_v3",
              "whole network, the zoo card's input (3x299x299)"),
    ModelPair("network/resnet50-vs-resnext50_32x4d", "network", "resnet50", "resnext50_32x4d",
              None, None, "resnet50", "resnext50_32x4d",
              "not a spatial factorization: ResNeXt splits the 3x3 into 32 groups "
              "(grouped convolution) at about the same MACs"),
)
