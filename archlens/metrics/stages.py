"""The one stage model every output uses: contiguous grid stages in depth order.

A *stage* is the set of spatial nodes whose output grid has the same size class
``round(log2(input area / output area) / 2)`` -- every halving of both sides starts a new
one, while valid-padding shrinkage (149x149 -> 147x147) stays in its stage. Stages are
numbered 0, 1, 2, ... in the order their first node executes (stage 0 is the input grid),
so the numbers are contiguous: a stride-4 stem or the 1x1 grid after global pooling takes
the next number, not the log2 of its stride (0.1 called Inception-v3's pooled output "S8").

:func:`stage_index` gives each node its number (the engine stores it in ``Node.stage``);
:func:`stages` describes them (grids, effective stride, first/last node, costs) for the
renderers, the diff and the dashboard, which all print :attr:`Stage.text` and
:data:`LEGEND`, so the text is the same everywhere.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archlens.graph import Graph, Node, Pair

LEGEND = ("S<k> = the k-th grid stage in depth order (S0 = the input grid); its grid is the "
          "H x W of its outputs (every grid it passes through, e.g. 149x149 > 147x147 when a "
          "valid convolution trims the border); stride = input pixels between adjacent "
          "output units (effective stride). A new stage starts where both sides halve.")


def size_class(node: Node, input_hw: tuple[int, int] | None) -> int | None:
    """``round(log2(input area / output area) / 2)``; None for non-spatial outputs."""
    if input_hw is None or len(node.out_shape) != 4:
        return None
    h, w = node.out_shape[2], node.out_shape[3]
    if h <= 0 or w <= 0:
        return None
    return int(round(math.log2((input_hw[0] * input_hw[1]) / (h * w)) / 2))


def stage_index(nodes: Iterable[Node], input_hw: tuple[int, int] | None) -> list[int | None]:
    """Contiguous stage number of every node, in the order given (execution order).

    A size class seen before keeps its number (a decoder back at 56x56 rejoins that stage).
    """
    numbers: dict[int, int] = {}
    out: list[int | None] = []
    for n in nodes:
        c = size_class(n, input_hw)
        if c is None:
            out.append(None)
            continue
        out.append(numbers.setdefault(c, len(numbers)))
    return out


@dataclass(frozen=True)
class Stage:
    """One grid stage.

    index   contiguous number in depth order (``Node.stage``)
    grids   every output grid (H, W) of its nodes, in order of first appearance
    stride  effective stride (input px between adjacent output units, per axis) at its first
            node, from the receptive field; None where that is not known or not meaningful
            (``pooled``: a 1x1 grid after global pooling has one unit, no neighbours)
    first, last  names of its first and last node in execution order
    layers, macs, params  what its nodes hold (MACs are multiply-accumulates)
    """

    index: int
    grids: tuple[Pair, ...]
    stride: Pair | None
    first: str
    last: str
    layers: int
    macs: int
    params: int
    pooled: bool = False  # a 1x1 grid after a larger one: each unit sees the whole input

    @property
    def label(self) -> str:
        """Short form for axes and badges: ``S3 35x35``."""
        h, w = self.grids[0]
        return f"S{self.index} {h}x{w}"

    @property
    def grid_text(self) -> str:
        return " > ".join(f"{h}x{w}" for h, w in self.grids)

    @property
    def stride_text(self) -> str:
        if self.pooled:
            return "global (one unit sees the whole input)"
        if self.stride is None:
            return "stride unknown"
        s = self.stride
        return f"stride {s[0]} px" if s[0] == s[1] else f"stride {s[0]}x{s[1]} px"

    @property
    def text(self) -> str:
        """The one long form every output prints: ``S1: 149x149 > 147x147, stride 2 px``."""
        return f"S{self.index}: {self.grid_text}, {self.stride_text}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "text": self.text,
                "grids": [list(g) for g in self.grids],
                "stride": list(self.stride) if self.stride is not None else None,
                "pooled": self.pooled, "first": self.first, "last": self.last,
                "layers": self.layers, "macs": self.macs, "params": self.params}


def stages(graph: Graph) -> tuple[Stage, ...]:
    """The stages of an annotated graph (``Node.stage`` set), ordered by index."""
    acc: dict[int, dict[str, Any]] = {}
    for n in graph.nodes:
        if n.stage is None or not n.is_spatial:
            continue
        s = acc.get(n.stage)
        if s is None:
            stride = tuple(n.rf.stride) if n.rf is not None and n.rf.known else None
            s = acc[n.stage] = {"grids": [], "stride": stride, "first": n.name, "last": n.name,
                                "layers": 0, "macs": 0, "params": 0}
        g = (n.out_shape[2], n.out_shape[3])
        if g not in s["grids"]:
            s["grids"].append(g)
        s["last"] = n.name
        if n.kind != "input":
            s["layers"] += 1
        s["macs"] += n.macs
        s["params"] += n.params
    out = []
    for i, v in sorted(acc.items()):
        pooled = i > 0 and v["grids"] == [(1, 1)]
        out.append(Stage(index=i, grids=tuple(v["grids"]), stride=None if pooled else v["stride"],
                         first=v["first"], last=v["last"], layers=v["layers"], macs=v["macs"],
                         params=v["params"], pooled=pooled))
    return tuple(out)


def head_costs(graph: Graph) -> dict[str, int]:
    """Layers, MACs and params of the non-spatial nodes (flatten, fc: the "head")."""
    ns = [n for n in graph.layers if n.stage is None or not n.is_spatial]
    return {"layers": len(ns), "macs": sum(n.macs for n in ns),
            "params": sum(n.params for n in ns)}


__all__ = ["LEGEND", "Stage", "head_costs", "size_class", "stage_index", "stages"]
