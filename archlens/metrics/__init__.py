"""Annotate a traced :class:`~archlens.graph.Graph` with costs and geometry (a new Graph).

``params``  :mod:`archlens.metrics.params` (own parameters, shared ones once)
``macs``    :mod:`archlens.metrics.macs` (fvcore on real tensors, flop_counter on meta)
``rf``      :mod:`archlens.metrics.receptive_field` (branch-correct, our own)
``stage``   :func:`stage_of` -- index of the grid size, see below
``intensity`` MACs per byte of weights + inputs + outputs at the analysed dtype
``activations`` elements of the node's output tensor (batch included)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from archlens.graph import Graph, Node, ReceptiveField


def stage_of(node: Node, input_hw: tuple[int, int] | None) -> int | None:
    """Index of the node's grid size: ``round(log2(input area / output area) / 2)``.

    0 = input resolution; every halving of both sides adds one (stride-2 stems, reductions).
    So Inception-v3 at 299 gives 149/147 -> 1, 73/71 -> 2, 35 -> 3, 17 -> 4, 8 -> 5 and ResNet at
    224 gives 112 -> 1, 56 -> 2, 28 -> 3, 14 -> 4, 7 -> 5 -- valid-padding shrinkage (149 -> 147)
    stays in its stage. Upsampling lowers the index again (a decoder at 56 is stage 2); outputs
    larger than the input give negative indices. ``None`` for non-spatial (not 4-d) outputs or a
    non-image input.
    """
    if input_hw is None or len(node.out_shape) != 4:
        return None
    h, w = node.out_shape[2], node.out_shape[3]
    if h <= 0 or w <= 0:
        return None
    ratio = (input_hw[0] * input_hw[1]) / (h * w)
    return int(round(math.log2(ratio) / 2))


def _numel(shape: Sequence[int]) -> int:
    return math.prod(shape) if shape else 1


def annotate(graph: Graph, *, params: Sequence[int], macs: Sequence[int], itemsize: int,
             rfs: dict[str, ReceptiveField | None] | None = None) -> Graph:
    """A new graph whose layers carry params, MACs, activations, rf, stage and intensity.

    ``params`` and ``macs`` are per layer (``graph.layers`` order; the input node gets 0).
    """
    inp = graph.input
    input_hw = (inp.out_shape[2], inp.out_shape[3]) if len(inp.out_shape) == 4 else None
    rfs = rfs or {}
    nodes = [replace(inp, stage=stage_of(inp, input_hw), rf=rfs.get(inp.name),
                     activations=0)]
    for node, p, m in zip(graph.layers, params, macs):
        moved = (p + sum(_numel(s) for s in node.in_shapes) + _numel(node.out_shape)) * itemsize
        nodes.append(replace(node, params=int(p), macs=int(m),
                             activations=_numel(node.out_shape) if node.out_shape else 0,
                             rf=rfs.get(node.name), stage=stage_of(node, input_hw),
                             intensity=(m / moved) if moved else None))
    return graph.replace_nodes(tuple(nodes))


def receptive_fields_or_none(graph: Graph) -> tuple[dict[str, ReceptiveField | None],
                                                    ReceptiveField | None]:
    """The RF engineer's metric when it is importable and applies; ``({}, None)`` otherwise."""
    try:
        from archlens.metrics.receptive_field import feature_rf, receptive_fields
    except ImportError:  # pragma: no cover - the module is part of the package
        return {}, None
    rfs = receptive_fields(graph)
    return rfs, feature_rf(graph, rfs)


__all__ = ["annotate", "stage_of", "receptive_fields_or_none"]
