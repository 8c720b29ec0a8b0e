"""Colours of the drawing: fill by share of a cost (MACs or a measured time), stage strips,
finding outlines and comparison highlights."""
from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Pointwise ops drawn inside their producer (same shape in and out, no spatial extent).
FUSABLE = frozenset({
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "GroupNorm", "LayerNorm",
    "ReLU", "ReLU6", "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "LeakyReLU", "leaky_relu",
    "GELU", "gelu", "SiLU", "silu", "Sigmoid", "sigmoid", "Hardswish", "hardswish", "Hardsigmoid",
    "Mish", "Tanh", "tanh", "ELU", "elu", "PReLU", "Dropout", "Dropout2d", "dropout", "Identity",
    "contiguous", "clone",
})
SHORT = {"BatchNorm1d": "BN", "BatchNorm2d": "BN", "BatchNorm3d": "BN", "SyncBatchNorm": "BN",
         "relu": "ReLU", "relu_": "ReLU", "ReLU": "ReLU", "ReLU6": "ReLU6", "relu6": "ReLU6",
         "hardtanh": "ReLU6", "hardtanh_": "ReLU6", "Dropout": "Drop", "dropout": "Drop",
         "Dropout2d": "Drop", "sigmoid": "Sigmoid", "silu": "SiLU", "gelu": "GELU"}

# Fill colours of the share bins, lightest to darkest (ColorBrewer YlOrRd; white for layers
# without MACs). The bins are chosen per drawing (:func:`share_scale`).
SHARE_COLOURS = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#f03b20")
NO_MACS = "#ffffff"
STAGE_COLOURS = ("#8dd3c7", "#bebada", "#80b1d3", "#fdb462", "#b3de69", "#fccde5", "#d9d9d9",
                 "#bc80bd", "#ccebc5", "#ffed6f")
SEVERITY_COLOURS = {"error": "#c62828", "warning": "#e65100", "info": "#1565c0"}
HIGHLIGHT_COLOURS = {"changed": "#6a1b9a", "added": "#2e7d32", "removed": "#c62828"}
SEVERITY_ORDER = ("error", "warning", "info")


def severity_rank(s: str) -> int:
    return SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 3


# Successive bins of a scale start at least MIN_STEP apart, each at a gap of at least GAP
# between the shares drawn (1.25 % and 1.26 % never get different colours).
MIN_STEP, GAP = 1.25, 1.05


@dataclass(frozen=True)
class ShareScale:
    """Fill colour by share of the network's cost, in bins fitted to the nodes drawn.

    ``edges[k]`` is the smallest share of bin ``k + 1`` (fractions of the total); a share
    below ``edges[0]`` is in bin 0. ``labels`` give each bin's range among the drawn nodes."""

    edges: tuple[float, ...]
    colours: tuple[str, ...]
    labels: tuple[str, ...]

    def colour(self, share: float) -> str:
        if share <= 0:
            return NO_MACS
        return self.colours[bisect_right(self.edges, share)]

    def legend(self) -> tuple[tuple[str, str], ...]:
        """(colour, range) per bin, lightest first."""
        return tuple(zip(self.colours, self.labels))


def _pct(share: float, digits: int = 2) -> str:
    """A share as a percentage with ``digits`` significant digits (``0.0024``, ``2.9``,
    ``36``)."""
    v = share * 100.0
    return f"{v:.{max(0, digits - 1 - math.floor(math.log10(v)))}f}"


def _ranges(members: list[list[float]]) -> list[str]:
    """``lo-hi %`` of each bin, with as many digits as it takes to tell the bins apart."""
    for digits in (2, 3, 4, 6):
        labels = []
        for m in members:
            lo, hi = _pct(m[0], digits), _pct(m[-1], digits)
            labels.append(f"{lo} %" if lo == hi else f"{lo}-{hi} %")
        if len(set(labels)) == len(labels):
            break
    return labels


def share_scale(shares: Iterable[float]) -> ShareScale:
    """Six bins that split the drawn nodes with a cost into groups of equal count (quantiles
    of their shares), so the colours separate the nodes actually drawn: at depth 1 the
    blocks, at full depth the layers. A bin starts at least ``MIN_STEP`` times above the
    previous one, at the jump of ``GAP`` or more in the sorted shares nearest to the
    quantile (near-equal costs never get different colours); fewer bins are spread over the
    palette, lightest to darkest."""
    vals = sorted(v for v in shares if v > 0)
    if not vals:
        return ShareScale((), (SHARE_COLOURS[-1],), ("",))
    n = len(vals)
    edges: list[float] = []
    last = 0
    for k in range(1, len(SHARE_COLOURS)):
        # the bin starts at the gap in the shares nearest to the k-th sixth of the nodes,
        # at least MIN_STEP above the previous start
        base = edges[-1] if edges else vals[0]
        ok = [j for j in range(last + 1, n)
              if vals[j] >= MIN_STEP * base and vals[j] >= GAP * vals[j - 1]]
        if not ok:
            break
        want = math.ceil(k * n / len(SHARE_COLOURS))
        last = min(ok, key=lambda j: (abs(j - want), j))
        edges.append(vals[last])
    bins = len(edges) + 1
    top = len(SHARE_COLOURS) - 1
    colours = tuple(SHARE_COLOURS[round(i * top / (bins - 1)) if bins > 1 else top]
                    for i in range(bins))
    members: list[list[float]] = [[] for _ in range(bins)]
    for v in vals:
        members[bisect_right(edges, v)].append(v)
    return ShareScale(tuple(edges), colours, tuple(_ranges(members)))


def strip_colour(stage: int | None) -> str:
    return STAGE_COLOURS[stage % len(STAGE_COLOURS)] if stage is not None else "#ffffff"


class Shares:
    """A measured cost per layer (``colour_by``) and its total, for the fill colour."""

    def __init__(self, values: Mapping[str, float]):
        self.values = {k: max(float(v), 0.0) for k, v in values.items()}
        self.total = sum(self.values.values())

    def of(self, nodes, members) -> float:
        return sum(self.values.get(nodes[i].name, 0.0) for i in members)
