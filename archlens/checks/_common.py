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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from archlens.graph import Graph, Node

Shape = tuple[int, ...]

# ----------------------------------------------------------------------------------------
# node predicates
# ----------------------------------------------------------------------------------------

_CONV_TYPES = {"conv2d", "convolution", "_convolution", "conv"}
_LINEAR_TYPES = {"linear", "addmm"}


def base_type(n: Node) -> str:
    """The op a node behaves as: the torch.nn class a module subclasses (``WSConv2d(nn.Conv2d)``
    -> ``Conv2d``, ``Node.base_type``), else its op name. Rules match on this, never on a
    class's own name."""
    return n.base_type or n.type


def is_conv(n: Node) -> bool:
    """A (non-transposed) 2-D convolution with known geometry and NCHW shapes."""
    return (base_type(n).lower() in _CONV_TYPES and n.kernel is not None
            and not n.attrs.get("transposed", False)
            and len(n.out_shape) == 4 and bool(n.in_shapes) and len(n.in_shapes[0]) == 4)


def is_spatial_conv(n: Node) -> bool:
    """A convolution that aggregates over space (kernel larger than 1x1)."""
    return is_conv(n) and (n.kernel[0] * n.kernel[1]) > 1


def is_pool(n: Node) -> bool:
    return "pool" in base_type(n).lower() and len(n.out_shape) == 4


def is_linear(n: Node) -> bool:
    return base_type(n).lower() in _LINEAR_TYPES


def pool_kind(n: Node) -> str:
    t = base_type(n).lower()
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
# layout, gates and positions (modern blocks)
# ----------------------------------------------------------------------------------------

_PERMUTES = {"permute", "transpose", "swapaxes", "swapdims", "movedim", "moveaxis"}
_RESHAPES = {"view", "reshape", "flatten", "unflatten", "view_as", "reshape_as", "squeeze",
             "unsqueeze", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold", "expand",
             "expand_as", "repeat", "narrow", "getitem", "chunk", "split", "unbind", "t"}


def _permuted_layout(layout: str, src: Shape, out: Shape, dims) -> str | None:
    """Layout after a permute of a 4-D ``layout`` tensor: where the channel axis went.

    With the recorded ``dims`` the answer is exact; without them, every axis order that turns
    ``src`` into ``out`` (batch first) must agree on where the channel axis lands, else the
    layout is unknown (a 56-channel map on a 56x56 grid cannot be told apart)."""
    ch = 1 if layout == "nchw" else 3
    if dims is not None:
        try:
            perms = [tuple(int(d) % 4 for d in dims)]
        except (TypeError, ValueError):
            return None
        if len(perms[0]) != 4 or sorted(perms[0]) != [0, 1, 2, 3]:
            return None
    else:
        import itertools
        perms = [p for p in itertools.permutations(range(4))
                 if p[0] == 0 and tuple(src[i] for i in p) == tuple(out)]
    where = {p.index(ch) for p in perms}
    if len(where) != 1:
        return None
    w = where.pop()
    return {1: "nchw", 3: "nhwc"}.get(w)


def layouts(graph: Graph) -> dict[str, str]:
    """Node name -> layout for every output whose spatial axes are known: ``"nchw"`` (a 4-D
    map), ``"nhwc"`` (channels-last 4-D), ``"trail"`` (another rank whose last two axes are
    the grid: ResNeSt's (N, radix, C, H, W) splits, a channel shuffle's (N, g, C/g, H, W)).

    NCHW comes from the input and from convs, pools and norms; a permute moves the channel axis
    (ConvNeXt and Swin run their blocks channels-last); ops that keep the spatial axes of their
    input keep its layout; window partitions and anything else leave it unknown. The rules read
    grids and channels only from NCHW maps, so a channels-last tensor is never taken for a
    56x96 grid.
    """
    lay: dict[str, str] = {}
    for nd in graph.nodes:
        s = tuple(nd.out_shape)
        if nd.kind == "input":
            if len(s) == 4:
                lay[nd.name] = "nchw"
            continue
        t = base_type(nd).lower()
        if len(s) == 4 and (is_conv(nd) or (nd.kernel is not None and nd.in_shapes
                                            and len(nd.in_shapes[0]) == 4 and "pool" in t)
                            or t.startswith(("adaptive", "batchnorm2d", "instancenorm2d"))):
            lay[nd.name] = "nchw"
            continue
        src = next(((i, sh) for i, sh in zip(nd.inputs, nd.in_shapes) if i in lay), None)
        if src is None or len(s) < 3:
            continue
        L, ish = lay[src[0]], tuple(src[1])
        new: str | None = None
        if L == "nhwc":
            if t in _PERMUTES and len(s) == 4:
                new = _permuted_layout(L, ish, s, nd.attrs.get("dims"))
            elif t in _RESHAPES:
                new = L if s == ish else None
            elif len(s) == 4 and s[1:3] == ish[1:3]:
                new = L
        elif t in _PERMUTES and len(s) == 4 and len(ish) == 4:
            new = _permuted_layout("nchw", ish, s, nd.attrs.get("dims"))
        elif s[0] == ish[0] and s[-2:] == ish[-2:]:
            new = "nchw" if len(s) == 4 else "trail"   # the grid axes survive at the end
        if new:
            lay[nd.name] = new
    return lay


def _positions(nd: Node, layout: str | None) -> int:
    """How many positions (pixels, tokens) the node's output still has: H x W of a map, else
    the product of the non-batch axes but the widest (tokens x features -> tokens); 1 for a
    pooled vector."""
    s = nd.out_shape
    if layout in ("nchw", "trail"):
        return int(s[-2]) * int(s[-1])
    if layout == "nhwc":
        return int(s[1]) * int(s[2])
    rest = [int(d) for d in s[1:]]
    if len(rest) < 2:
        return 1
    return math.prod(rest) // max(rest)


def _is_global_pool(nd: Node, layout: dict[str, str]) -> bool:
    """Collapses an NCHW map (more than one position) to one value per channel, whatever the
    op (adaptive pool, mean, amax, a full-size avg pool)."""
    if not nd.inputs or layout.get(nd.inputs[0]) != "nchw":
        return False
    ins, out = nd.in_shapes[0], nd.out_shape
    if len(ins) != 4 or ins[2] * ins[3] <= 1:
        return False
    c = ins[1]
    if len(out) == 4:
        return out[1] == c and out[2] * out[3] == 1
    return tuple(out[1:]) in ((c,), (c, 1))


def gates(graph: Graph, layout: dict[str, str]) -> frozenset[str]:
    """Nodes of squeeze-excitation / selective-kernel gates: what a global pool computes from
    its vector alone (1x1 convs, linears, activations, softmax, reshapes) up to the op that
    multiplies (or concatenates) it back into a full map. A pooled vector that never rejoins a
    map is the classifier head, not a gate.

    Each pool's region grows forward in execution order and admits only nodes whose inputs all
    lie in the region, so the walk is linear in the gates' size.
    """
    import heapq
    out: set[str] = set()
    pos = graph.position
    for nd in graph.nodes:
        if not _is_global_pool(nd, layout):
            continue
        region = {nd.name}
        rejoins: list[str] = []
        heap = [(pos(s), s) for s in graph.successors(nd.name)]
        heapq.heapify(heap)
        seen: set[str] = set()
        while heap:
            _, s = heapq.heappop(heap)
            if s in seen:
                continue
            seen.add(s)
            sn = graph[s]
            if all(i in region for i in sn.inputs):
                region.add(s)
                for t in graph.successors(s):
                    if t not in seen:
                        heapq.heappush(heap, (pos(t), t))
            elif _positions(sn, layout.get(s)) > 1:
                rejoins.append(s)
        if not rejoins:
            continue
        todo = [i for r in rejoins for i in graph[r].inputs if i in region]
        while todo:
            x = todo.pop()
            if x in out:
                continue
            out.add(x)
            todo.extend(i for i in graph[x].inputs if i in region)
    return frozenset(out)


# ----------------------------------------------------------------------------------------
# the context shared by the rules
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """Everything the rules need, derived once from a graph (pure; no tracing).

    ``main`` leaves out the gates (squeeze-excitation, selective kernel): a gate re-weights the
    trunk's channels, it carries no representation of its own, so it is neither a trunk tensor
    nor a grid stage, and the multiply that applies it counts as a pointwise op on the trunk.
    """

    graph: Graph
    main: tuple[Node, ...]            # nodes on some input -> main-output path, in order
    cuts: tuple[Node, ...]            # trunk tensors (see module doc), in order
    layer_index: dict[str, int] = field(repr=False)   # conv/linear layers executed before node
    n_layers: int = 0
    layout: dict[str, str] = field(default_factory=dict, repr=False)   # see layouts()
    gates: frozenset[str] = frozenset()                                # see gates()
    # -- measurements, when the checks run with a profile (the G guidelines read them) ------
    timing: Mapping[str, float] | None = field(default=None, repr=False)  # node -> median s
    roofline: tuple[float, float] | None = None   # measured (peak MAC/s, bandwidth bytes/s)
    itemsize: int = 4                             # bytes per element of the profiled dtype
    device: str = ""                              # what the profile ran on, for messages

    @classmethod
    def of(cls, graph: Graph, profile: Any = None) -> "Context":
        """The context of ``graph``; with ``profile`` (an :class:`archlens.profile.Profile`)
        the per-node medians and the measured roofline come along for the G rules."""
        ctx = cls._of(graph)
        if profile is None:
            return ctx
        from dataclasses import replace
        roof = profile.roofline
        return replace(ctx, timing=profile.latency(),
                       roofline=(roof.peak_macs_per_s, roof.bandwidth_bytes_per_s)
                       if roof is not None else None,
                       itemsize={"float32": 4, "float16": 2, "bfloat16": 2,
                                 "float64": 8}.get(profile.dtype, 4),
                       device=f"{profile.device} ({profile.env.get('device_name') or '?'}, "
                              f"{profile.dtype}, {profile.threads} threads)")

    @classmethod
    def _of(cls, graph: Graph) -> "Context":
        lay = layouts(graph)
        gate = gates(graph, lay)
        main = tuple(nd for nd in _main_path(graph) if nd.name not in gate)
        cuts = _cuts(main)
        idx: dict[str, int] = {}
        k = 0
        for nd in graph.nodes:
            idx[nd.name] = k
            if (is_conv(nd) or is_linear(nd)) and nd.name not in gate:
                k += 1
        return cls(graph=graph, main=main, cuts=cuts, layer_index=idx, n_layers=k,
                   layout=lay, gates=gate)

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

    def is_map(self, nd: Node) -> bool:
        """An NCHW feature map (4-D, axes known): what grids and channels are read from."""
        return self.layout.get(nd.name) == "nchw"

    def positions(self, nd: Node) -> int:
        """Pixels or tokens the node's output still has (1: a pooled vector)."""
        return _positions(nd, self.layout.get(nd.name))

    @cached_property
    def last_conv_position(self) -> int:
        """Position of the last trunk conv that still outputs a grid (more than one pixel);
        1x1 convs on a pooled vector (DLA's, DPN's classifiers) are head, not body."""
        pos = [self.graph.position(c.name) for c in self.main
               if is_conv(c) and c.out_shape[2] * c.out_shape[3] > 1]
        return max(pos) if pos else -1

    @cached_property
    def last_positional(self) -> Node | None:
        """The last node on the main path that still has more than one position: the last
        spatial map *or* the last token tensor (ViT's encoder output). The head is what
        follows it."""
        for nd in reversed(self.main):
            if nd.kind != "input" and self.positions(nd) > 1:
                return nd
        return None

    @cached_property
    def cut_names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.cuts)

    def progress(self, name: str) -> float:
        """Fraction of conv/linear layers executed before ``name`` (0 = input, 1 = end)."""
        return self.layer_index.get(name, 0) / self.n_layers if self.n_layers else 0.0

    # -- navigation --------------------------------------------------------------------
    def data_inputs(self, nd: Node) -> list[tuple[str, Shape]]:
        """``nd``'s inputs and their shapes, gates left out."""
        return [(i, s) for i, s in zip(nd.inputs, nd.in_shapes) if i not in self.gates]

    def is_pointwise(self, nd: Node) -> bool:
        """Like :func:`is_pointwise`, but a multiply by a gate counts as pointwise (it keeps
        the trunk tensor's shape and only re-weights its channels)."""
        if nd.name in self.gates:
            return False
        ins = self.data_inputs(nd)
        return (len(ins) == 1 and tuple(ins[0][1]) == tuple(nd.out_shape) and not is_conv(nd)
                and not is_pool(nd) and not is_linear(nd))

    def producer(self, name: str) -> Node:
        """The node that really made ``name``'s tensor, looking back through pointwise ops."""
        nd = self.graph[name]
        while self.is_pointwise(nd) and nd.inputs:
            nd = self.graph[self.data_inputs(nd)[0][0]]
        return nd

    def consumers(self, name: str) -> list[Node]:
        """The non-pointwise nodes that read ``name``'s tensor (through pointwise ops)."""
        out: list[Node] = []
        todo = [s for s in self.graph.successors(name) if s not in self.gates]
        seen: set[str] = set()
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen.add(s)
            nd = self.graph[s]
            if self.is_pointwise(nd):
                todo.extend(t for t in self.graph.successors(s) if t not in self.gates)
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

    Only stages that contain a convolution count, and never a 1x1 grid: the pooled vector
    after global pooling, and the 1x1 convs of a classifier written as convs, are head.
    """
    groups: list[tuple[tuple[int, int], list[Node]]] = []
    for c in ctx.cuts:
        if not ctx.is_map(c):
            continue
        g = grid(c.out_shape)
        if groups and groups[-1][0] == g:
            groups[-1][1].append(c)
        else:
            groups.append((g, [c]))
    conv_grids = {grid(nd.out_shape) for nd in ctx.main if is_conv(nd)}
    return [(g, cs) for g, cs in groups if g in conv_grids and g[0] * g[1] > 1]
