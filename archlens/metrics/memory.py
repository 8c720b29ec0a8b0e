"""Activation memory: the peak of live tensor bytes over the execution order (an estimate).

Model: each node allocates its output when it runs; an in-place op (``attrs["inplace"]``) or a
view (``attrs["view"]``) allocates nothing and shares its first input's storage. A storage is
freed after the last node that reads any tensor sharing it; the graph's outputs live to the
end. The peak is taken while a node runs: its new output plus everything still live (its
inputs included). Weights, the autograd tape and allocator slack are not counted: this is the
inference lower bound a framework with eager freeing (PyTorch without grad) approaches.
"""
from __future__ import annotations

import math

from archlens.graph import Graph


def peak_activation_bytes(graph: Graph, itemsize: int) -> int:
    nodes = graph.nodes
    owner: dict[str, str] = {}     # node -> storage owner node
    size: dict[str, int] = {}      # storage owner -> bytes
    for n in nodes:
        alias = n.attrs.get("inplace") or n.attrs.get("view")
        if alias and n.inputs:
            owner[n.name] = owner[n.inputs[0]]
        else:
            owner[n.name] = n.name
            size[n.name] = math.prod(n.out_shape) * itemsize if n.out_shape else itemsize
    last_use: dict[str, int] = {}
    for i, n in enumerate(nodes):
        last_use.setdefault(owner[n.name], i)
        last_use[owner[n.name]] = max(last_use[owner[n.name]], i)
        for src in n.inputs:
            last_use[owner[src]] = max(last_use[owner[src]], i)
    for o in graph.outputs:
        last_use[owner[o]] = len(nodes)
    frees: dict[int, list[str]] = {}
    for s, i in last_use.items():
        frees.setdefault(i, []).append(s)
    live = peak = 0
    for i, n in enumerate(nodes):
        if owner[n.name] == n.name:
            live += size[n.name]
        peak = max(peak, live)
        for s in frees.get(i, ()):
            live -= size[s]
    return peak
