"""The one immutable IR: a layer graph of executed ops and the tensors between them.

``trace`` produces the raw records; :func:`archlens.graph.build` (in the engine) turns them
into a :class:`Graph`; ``metrics`` returns a new Graph whose nodes carry costs and geometry
(``dataclasses.replace``: nothing is mutated). Shapes are NCHW tuples including batch.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

Pair = tuple[int, int]
Shape = tuple[int, ...]

INPUT = "input"  # name of the graph's input pseudo-node


RF_STATUSES = ("exact", "global", "unknown")


@dataclass(frozen=True, slots=True)
class ReceptiveField:
    """Receptive field of one node's output unit, per spatial axis (H, W), in input pixels.

    status    ``exact``: the numbers below are the analytic window (a gradient probe measures
              the same); ``global``: an op mixed all positions (attention, global pooling, a
              gate), every unit sees the whole input -- size is the input's (H, W), stride and
              padding 0; ``unknown``: the geometry could not be followed -- every number is
              ``None`` and ``reason`` names the op that broke it
    reason    global: what mixed the positions and where (``attention in blocks.0.attn``);
              unknown: why, naming the op; "" for exact
    size      extent of the union of the unit's windows over all paths into the node (the RF;
              what a gradient probe measures; can exceed every single path when branches are
              misaligned)
    min_size  smallest single-path window (size - min_size shows branch spread)
    stride    effective stride (jump): input pixels between adjacent output units (0 on an axis
              where every unit sees the same window)
    padding   -(smallest start over all paths of output unit 0's window): how far it starts
              before input pixel 0, so unit i sees ``[i*stride - padding, i*stride - padding +
              size - 1]`` (zero-padding positions included)
    aligned   True when every path into the node puts the window centre at the same place
    grid      units of (H, W) the node's output holds (its map size, whatever the layout)
    node      for a network's feature RF: the node it was measured at (None on per-node RFs)
    bound     unknown only, after a fractional stride (upsampling, a stride-2 transposed conv,
              an adaptive pool whose sizes do not divide): the window depends on the unit's
              phase; ``bound`` is an upper bound on its size over all units (None otherwise)
    See docs/receptive-field.md (statuses, layouts, branches with different jumps).
    """

    size: Pair | None
    min_size: Pair | None
    stride: Pair | None
    padding: Pair | None
    aligned: bool = True
    status: str = "exact"
    reason: str = ""
    grid: Pair | None = None
    node: str | None = None
    bound: Pair | None = None

    @classmethod
    def unknown(cls, reason: str, grid: Pair | None = None, node: str | None = None,
                bound: Pair | None = None) -> "ReceptiveField":
        return cls(None, None, None, None, True, "unknown", reason, grid, node, bound)

    @classmethod
    def whole(cls, image: Pair, reason: str, grid: Pair | None = None,
              node: str | None = None) -> "ReceptiveField":
        """Status ``global``: every unit sees the whole ``image`` (H, W)."""
        img = (int(image[0]), int(image[1]))
        return cls(img, img, (0, 0), (0, 0), True, "global", reason, grid, node)

    @property
    def known(self) -> bool:
        """True when the numbers are meaningful (``exact`` or ``global``)."""
        return self.status != "unknown"

    def to_dict(self) -> dict[str, Any]:
        def lst(p: Pair | None) -> list[int] | None:
            return list(p) if p is not None else None
        d: dict[str, Any] = {"status": self.status, "size": lst(self.size),
                             "min_size": lst(self.min_size), "stride": lst(self.stride),
                             "padding": lst(self.padding), "aligned": self.aligned,
                             "reason": self.reason or None, "grid": lst(self.grid)}
        if self.node is not None:
            d["node"] = self.node
        if self.bound is not None:
            d["bound"] = list(self.bound)
        return d


@dataclass(frozen=True, slots=True)
class Node:
    """One executed op: a leaf module call (``kind="module"``) or a functional op
    (``kind="function"``: cat, add, relu, max_pool2d, flatten, view ...), or the input.

    name      module path (``Mixed_5b.branch1x1.conv``); ``#2``, ``#3`` for repeated calls;
              functional ops are named under their parent module (``Mixed_5b.cat``)
    type      module class name (``Conv2d``, ``WSConv2d``) or op name (``cat``, ``add``,
              ``max_pool2d``)
    base_type what the op behaves as: for a module, the first class of its MRO defined in
              ``torch.nn``/``torch.ao.nn`` (``WSConv2d(nn.Conv2d)`` -> ``Conv2d``); for a
              functional op, the op name; otherwise ``type``. Every decision by layer kind
              (paper profile, checks, labels) uses it; ``type`` is what the user wrote
    module    path of the module that owns the op ("" for the root)
    inputs    names of the producing nodes, in argument order
    attrs     op attributes beyond the geometry (ceil_mode, in/out channels, transposed ...)
    The remaining fields are filled by ``metrics`` (0 / None before that).
    """

    name: str
    type: str
    kind: str
    module: str
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    kernel: Pair | None = None
    stride: Pair | None = None
    padding: Pair | None = None
    dilation: Pair | None = None
    groups: int | None = None
    attrs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    base_type: str = ""      # "" -> same as type (filled in __post_init__)
    # --- metrics ---
    params: int = 0          # own parameters (shared weights counted once, at first use)
    macs: int = 0            # multiply-accumulates
    activations: int = 0     # elements of the output tensor
    rf: ReceptiveField | None = None   # None where not applicable (non-spatial)
    stage: int | None = None           # index of the grid size (0 = input resolution)
    intensity: float | None = None     # MACs per byte moved (weights + inputs + outputs)

    def __post_init__(self) -> None:
        if not self.base_type:
            object.__setattr__(self, "base_type", self.type)

    @property
    def is_spatial(self) -> bool:
        return len(self.out_shape) == 4

    def depth_name(self, depth: int) -> str:
        """The module path cut to ``depth`` components (aggregation key)."""
        parts = self.module_path.split(".") if self.module_path else []
        return ".".join(parts[:depth]) if depth > 0 else ""

    @property
    def module_path(self) -> str:
        """The module this node belongs to, without the ``#k`` call suffix."""
        base = self.name.split("#", 1)[0]
        return base if self.kind == "module" else self.module


_NODE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Node))


def evolve(node: Node, **changes: Any) -> Node:
    """``dataclasses.replace(node, **changes)`` without its per-call field introspection (the
    annotation pass makes one per node; measured 4x cheaper)."""
    kw = {k: getattr(node, k) for k in _NODE_FIELDS}
    kw.update(changes)
    return Node(**kw)


@dataclass(frozen=True)
class Graph:
    """Nodes in execution order (a topological order); ``nodes[0]`` is the input node."""

    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _succ: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {n.name: i for i, n in enumerate(self.nodes)}
        if len(index) != len(self.nodes):
            from collections import Counter
            dup = sorted(n for n, c in Counter(n.name for n in self.nodes).items() if c > 1)
            raise ValueError(f"duplicate node names in graph: {dup[:5]}")
        succ: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                if index.get(i, len(self.nodes)) >= index[n.name]:
                    raise ValueError(f"node {n.name!r} uses {i!r}, which is not produced before it")
                succ[i].append(n.name)
        object.__setattr__(self, "_index", MappingProxyType(index))
        object.__setattr__(self, "_succ", MappingProxyType({k: tuple(v) for k, v in succ.items()}))

    def __getitem__(self, name: str) -> Node:
        return self.nodes[self._index[name]]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def input(self) -> Node:
        return self.nodes[0]

    @property
    def layers(self) -> tuple[Node, ...]:
        """Every node but the input (what the JSON lists as ``layers``)."""
        return self.nodes[1:]

    def successors(self, name: str) -> tuple[str, ...]:
        return self._succ[name]

    def predecessors(self, name: str) -> tuple[str, ...]:
        return self[name].inputs

    def position(self, name: str) -> int:
        return self._index[name]

    def replace_nodes(self, nodes: tuple[Node, ...]) -> "Graph":
        """A new graph with the same structure and annotated nodes (names must match)."""
        if [n.name for n in nodes] != [n.name for n in self.nodes]:
            raise ValueError("replace_nodes must keep node names and order")
        # same names, same order, same inputs: the structure validated in __post_init__ holds,
        # so the index and successor maps are shared instead of rebuilt
        if any(a.inputs != b.inputs for a, b in zip(nodes, self.nodes)):
            return Graph(nodes=nodes, outputs=self.outputs)
        g = object.__new__(Graph)
        for k, v in (("nodes", nodes), ("outputs", self.outputs), ("_index", self._index),
                     ("_succ", self._succ)):
            object.__setattr__(g, k, v)
        return g
