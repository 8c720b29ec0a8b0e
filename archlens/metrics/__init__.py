"""Annotate a traced :class:`~archlens.graph.Graph` with costs and geometry (a new Graph).

``params``  :mod:`archlens.metrics.params` (own parameters, shared ones once)
``macs``    :mod:`archlens.metrics.macs` (fvcore on real tensors, flop_counter on meta)
``rf``      :mod:`archlens.metrics.receptive_field` (branch-correct, our own)
``stage``   :mod:`archlens.metrics.stages` -- contiguous grid stage in depth order
``intensity`` MACs per byte of weights + inputs + outputs at the analysed dtype
``activations`` elements of the node's output tensor (batch included)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from archlens.graph import Graph, Node, ReceptiveField, evolve


def stage_of(node: Node, input_hw: tuple[int, int] | None) -> int | None:
    """Size class of the node's grid: ``round(log2(input area / output area) / 2)`` (0 = input
    resolution; every halving of both sides adds one; valid-padding shrinkage 149 -> 147 stays
    in its class). ``None`` for non-spatial outputs. ``Node.stage`` is NOT this: it is the
    contiguous stage number of :func:`archlens.metrics.stages.stage_index`.
    """
    from archlens.metrics.stages import size_class
    return size_class(node, input_hw)


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
    from archlens.metrics.stages import stage_index
    numbers = stage_index(graph.nodes, input_hw)
    nodes = [evolve(inp, stage=numbers[0], rf=rfs.get(inp.name), activations=0)]
    for node, p, m, st in zip(graph.layers, params, macs, numbers[1:]):
        moved = (p + sum(_numel(s) for s in node.in_shapes) + _numel(node.out_shape)) * itemsize
        nodes.append(evolve(node, params=int(p), macs=int(m),
                             activations=_numel(node.out_shape) if node.out_shape else 0,
                             rf=rfs.get(node.name), stage=st,
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
