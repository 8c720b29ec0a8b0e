"""Colours of the drawing: fill by share of a cost (MACs or a measured time), stage strips,
finding outlines and comparison highlights."""
from __future__ import annotations

from collections.abc import Mapping

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

# MAC share bins (upper bounds, fraction of the network's MACs) and their fill colours
# (ColorBrewer YlOrRd; white for layers without MACs).
SHARE_BINS = (0.001, 0.005, 0.01, 0.02, 0.05, 1.01)
SHARE_COLOURS = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#f03b20")
SHARE_LABELS = ("< 0.1 %", "0.1-0.5 %", "0.5-1 %", "1-2 %", "2-5 %", ">= 5 %")
NO_MACS = "#ffffff"
STAGE_COLOURS = ("#8dd3c7", "#bebada", "#80b1d3", "#fdb462", "#b3de69", "#fccde5", "#d9d9d9",
                 "#bc80bd", "#ccebc5", "#ffed6f")
SEVERITY_COLOURS = {"error": "#c62828", "warning": "#e65100", "info": "#1565c0"}
HIGHLIGHT_COLOURS = {"changed": "#6a1b9a", "added": "#2e7d32", "removed": "#c62828"}
SEVERITY_ORDER = ("error", "warning", "info")


def severity_rank(s: str) -> int:
    return SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 3


def share_colour(macs: int, total: int) -> str:
    if macs <= 0 or total <= 0:
        return NO_MACS
    share = macs / total
    for bound, colour in zip(SHARE_BINS, SHARE_COLOURS):
        if share < bound:
            return colour
    return SHARE_COLOURS[-1]


def strip_colour(stage: int | None) -> str:
    return STAGE_COLOURS[stage % len(STAGE_COLOURS)] if stage is not None else "#ffffff"


class Shares:
    """A measured cost per layer (``colour_by``) and its total, for the fill colour."""

    def __init__(self, values: Mapping[str, float]):
        self.values = {k: max(float(v), 0.0) for k, v in values.items()}
        self.total = sum(self.values.values())

    def of(self, nodes, members) -> float:
        return sum(self.values.get(nodes[i].name, 0.0) for i in members)
