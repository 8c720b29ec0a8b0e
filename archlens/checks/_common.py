"""Shared, pure helpers of the design checks: the trunk of a graph, grids, exact conv arithmetic.

Everything here is derived from the :class:`~archlens.graph.Graph` alone (shapes and geometry),
never from a forward pass, so a rule is a pure function ``Context -> [Finding]``. The
:class:`Context` is computed once per run and shared by all rules (the checks run inside
``archlens.api.analyze``, so they must stay fast: every pass here is linear in the graph).

Vocabulary used by the rules and ``docs/principles.md``:

* **representation** of a tensor: its number of values per sample, ``C x H x W``;
* **trunk tensor** (a *cut*): a node every path from the input to the main output goes
  through. In a plain chain every tensor is on the trunk; in an Inception module only the
  module's input and its concatenated output are; in a residual block only the sum. Principle 1
  is about the trunk: a narrow tensor inside one branch is no bottleneck, because the other
  branches carry the rest of the information past it;
* **progress** of a node: the fraction of the network's conv/linear layers executed before it
  (0 at the input, 1 at the classifier); "early" means progress below ``early_fraction``.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from archlens.graph import Graph, Node

Shape = tuple[int, ...]

# ----------------------------------------------------------------------------------------
# node predicates
# ----------------------------------------------------------------------------------------

_CONV_TYPES = {"conv2d", "convolution", "_convolution", "conv"}
_LINEAR_TYPES = {"linear", "addmm"}


def is_conv(n: Node) -> bool:
    """A (non-transposed) 2-D convolution with known geometry and NCHW shapes."""
    return (n.type.lower() in _CONV_TYPES and n.kernel is not None
            and not n.attrs.get("transposed", False)
            and len(n.out_shape) == 4 and bool(n.in_shapes) and len(n.in_shapes[0]) == 4)


def is_spatial_conv(n: Node) -> bool:
    """A convolution that aggregates over space (kernel larger than 1x1)."""
    return is_conv(n) and (n.kernel[0] * n.kernel[1]) > 1


def is_pool(n: Node) -> bool:
    return "pool" in n.type.lower() and len(n.out_shape) == 4


def is_linear(n: Node) -> bool:
    return n.type.lower() in _LINEAR_TYPES


def pool_kind(n: Node) -> str:
    t = n.type.lower()
    if "max" in t:
        return "max-pool"
    if "avg" in t or "mean" in t:
        return "avg-pool"
    return "pool"


def is_pointwise(n: Node) -> bool:
    """One input, same shape out (BN, ReLU, dropout, identity...): does not change the tensor's
    geometry, so the rules look through it."""
    return (len(n.inputs) == 1 and len(n.in_shapes) == 1
            and tuple(n.in_shapes[0]) == tuple(n.out_shape) and not is_conv(n)
            and not is_pool(n) and not is_linear(n))


# ----------------------------------------------------------------------------------------
# shapes and numbers
# ----------------------------------------------------------------------------------------

def representation(shape: Sequence[int]) -> int:
    """Values per sample (``C x H x W`` for an NCHW tensor)."""
    return math.prod(shape[1:]) if len(shape) > 1 else math.prod(shape)


def grid(shape: Sequence[int]) -> tuple[int, int]:
    return (int(shape[2]), int(shape[3]))


def channels(shape: Sequence[int]) -> int:
    return int(shape[1])


def hwc(shape: Sequence[int]) -> str:
    """``(1, 288, 35, 35) -> '35x35x288'`` (the paper's H x W x C notation)."""
    return f"{shape[2]}x{shape[3]}x{shape[1]}" if len(shape) == 4 else "x".join(
        str(d) for d in shape[1:])


def kxk(kernel: Sequence[int]) -> str:
    return f"{kernel[0]}x{kernel[1]}"


def n(value: float) -> str:
    """Exact integer with thousands separators (the checks print exact numbers)."""
    return f"{int(value):,}"


def pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"


# ----------------------------------------------------------------------------------------
# exact conv arithmetic (MACs = multiply-accumulates; bias additions are not MACs)
# ----------------------------------------------------------------------------------------

def conv_out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_macs(batch: int, out_hw: tuple[int, int], kernel: tuple[int, int], cin: int,
              cout: int, groups: int = 1) -> int:
    """``N * Ho * Wo * kh * kw * (Cin / groups) * Cout``: one MAC per weight per output pixel."""
    return batch * out_hw[0] * out_hw[1] * kernel[0] * kernel[1] * (cin // groups) * cout


def conv_params(kernel: tuple[int, int], cin: int, cout: int, groups: int = 1,
                bias: bool = False) -> int:
    return kernel[0] * kernel[1] * (cin // groups) * cout + (cout if bias else 0)


def has_bias(nd: Node) -> bool:
    """Whether a conv node carries a bias, from its own parameter count."""
    cin, cout = channels(nd.in_shapes[0]), channels(nd.out_shape)
    g = nd.groups or 1
    return nd.params == conv_params(nd.kernel, cin, cout, g, bias=True) and nd.params > 0


@dataclass(frozen=True)
class ConvSpec:
    """One convolution of a proposed replacement, with its exact output grid and cost."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    cin: int
    cout: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    macs: int
    params: int

    def describe(self) -> str:
        s = "" if self.stride == (1, 1) else f" stride {self.stride[0]}" if (
            self.stride[0] == self.stride[1]) else f" stride {kxk(self.stride)}"
        return f"{kxk(self.kernel)}{s} {self.cin}->{self.cout}"


def conv_spec(batch: int, in_hw: tuple[int, int], kernel: tuple[int, int],
              stride: tuple[int, int], padding: tuple[int, int], cin: int, cout: int,
              bias: bool) -> ConvSpec:
    out_hw = (conv_out(in_hw[0], kernel[0], stride[0], padding[0]),
              conv_out(in_hw[1], kernel[1], stride[1], padding[1]))
    return ConvSpec(kernel, stride, padding, cin, cout, in_hw, out_hw,
                    conv_macs(batch, out_hw, kernel, cin, cout),
                    conv_params(kernel, cin, cout, bias=bias))


def chain(batch: int, in_hw: tuple[int, int], cin: int,
          layers: Iterable[tuple[tuple[int, int], tuple[int, int], tuple[int, int], int]],
          bias: bool) -> list[ConvSpec]:
    """A stack of convs ``(kernel, stride, padding, cout)`` applied in order from ``in_hw``."""
    out: list[ConvSpec] = []
    hw, c = in_hw, cin
    for k, s, p, co in layers:
        spec = conv_spec(batch, hw, k, s, p, c, co, bias)
        out.append(spec)
        hw, c = spec.out_hw, co
    return out


def split_padding(total: int, parts: int) -> list[int]:
    """Distribute a padding over ``parts`` stacked 3-wide kernels, front-loaded (5x5 pad 2 ->
    1, 1; pad 1 -> 1, 0), which keeps the stack's output grid equal to the original's."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


# ----------------------------------------------------------------------------------------
# the context shared by the rules
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """Everything the rules need, derived once from a graph (pure; no tracing)."""

    graph: Graph
    main: tuple[Node, ...]            # nodes on some input -> main-output path, in order
    cuts: tuple[Node, ...]            # trunk tensors (see module doc), in order
    layer_index: dict[str, int] = field(repr=False)   # conv/linear layers executed before node
    n_layers: int = 0

    @classmethod
    def of(cls, graph: Graph) -> "Context":
        main = _main_path(graph)
        cuts = _cuts(main)
        idx: dict[str, int] = {}
        k = 0
        for nd in graph.nodes:
            idx[nd.name] = k
            if is_conv(nd) or is_linear(nd):
                k += 1
        return cls(graph=graph, main=main, cuts=cuts, layer_index=idx, n_layers=k)

    # -- basic facts -------------------------------------------------------------------
    @property
    def batch(self) -> int:
        s = self.graph.input.out_shape
        return int(s[0]) if s else 1

    @cached_property
    def input_representation(self) -> int:
        return representation(self.graph.input.out_shape)

    @cached_property
    def total_macs(self) -> int:
        return sum(nd.macs for nd in self.graph.layers)

    @cached_property
    def total_params(self) -> int:
        return sum(nd.params for nd in self.graph.layers)

    @cached_property
    def convs(self) -> tuple[Node, ...]:
        return tuple(nd for nd in self.graph.nodes if is_conv(nd))

    @cached_property
    def last_conv_position(self) -> int:
        pos = [self.graph.position(c.name) for c in self.main if is_conv(c)]
        return max(pos) if pos else -1

    @cached_property
    def cut_names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.cuts)

    def progress(self, name: str) -> float:
        """Fraction of conv/linear layers executed before ``name`` (0 = input, 1 = end)."""
        return self.layer_index.get(name, 0) / self.n_layers if self.n_layers else 0.0

    # -- navigation --------------------------------------------------------------------
    def producer(self, name: str) -> Node:
        """The node that really made ``name``'s tensor, looking back through pointwise ops."""
        nd = self.graph[name]
        while is_pointwise(nd) and nd.inputs:
            nd = self.graph[nd.inputs[0]]
        return nd

    def consumers(self, name: str) -> list[Node]:
        """The non-pointwise nodes that read ``name``'s tensor (through pointwise ops)."""
        out: list[Node] = []
        todo = list(self.graph.successors(name))
        seen: set[str] = set()
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen.add(s)
            nd = self.graph[s]
            if is_pointwise(nd):
                todo.extend(self.graph.successors(s))
            else:
                out.append(nd)
        return out

    def trunk_before(self, name: str) -> Node | None:
        """The last trunk tensor produced before node ``name`` (the block input it works on)."""
        p = self.graph.position(name)
        best = None
        for c in self.cuts:
            if self.graph.position(c.name) < p:
                best = c
            else:
                break
        return best


def _main_path(graph: Graph) -> tuple[Node, ...]:
    """Nodes reachable from the input that reach the main output (``outputs[0]``).

    Side outputs (auxiliary classifiers in training mode) and dead ends (shape queries) are
    left out, so they do not hide the trunk.
    """
    if not graph.nodes:
        return ()
    target = graph.outputs[0] if graph.outputs else graph.nodes[-1].name
    if target not in graph:
        target = graph.nodes[-1].name
    back: set[str] = set()
    todo = [target]
    while todo:
        x = todo.pop()
        if x in back:
            continue
        back.add(x)
        todo.extend(graph[x].inputs)
    fwd: set[str] = {graph.input.name}
    for nd in graph.nodes[1:]:
        if any(i in fwd for i in nd.inputs):
            fwd.add(nd.name)
    return tuple(nd for nd in graph.nodes if nd.name in back and nd.name in fwd)


def _cuts(main: Sequence[Node]) -> tuple[Node, ...]:
    """Trunk tensors: in a topological order, ``v`` is on every input->output path iff no edge
    ``u -> w`` jumps over it (pos(u) < pos(v) < pos(w)); a difference array finds them in
    linear time."""
    pos = {nd.name: i for i, nd in enumerate(main)}
    cover = [0] * (len(main) + 1)
    for nd in main:
        j = pos[nd.name]
        for i in set(nd.inputs):
            if i in pos and pos[i] + 1 < j:
                cover[pos[i] + 1] += 1
                cover[j] -= 1
    out, run = [], 0
    for i, nd in enumerate(main):
        run += cover[i]
        if run == 0:
            out.append(nd)
    return tuple(out)


def stage_groups(ctx: Context) -> list[tuple[tuple[int, int], list[Node]]]:
    """Consecutive trunk tensors grouped by grid (H, W), in order: the network's grid stages.

    Only stages that contain a convolution count (the 1x1 grid after global pooling does not).
    """
    groups: list[tuple[tuple[int, int], list[Node]]] = []
    for c in ctx.cuts:
        if len(c.out_shape) != 4:
            continue
        g = grid(c.out_shape)
        if groups and groups[-1][0] == g:
            groups[-1][1].append(c)
        else:
            groups.append((g, [c]))
    conv_grids = {grid(nd.out_shape) for nd in ctx.main if is_conv(nd)}
    return [(g, cs) for g, cs in groups if g in conv_grids]
