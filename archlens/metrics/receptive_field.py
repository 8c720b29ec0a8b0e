"""Branch-correct receptive fields: one forward pass over the graph, O(nodes).

Why not a library: the popular tools walk the layers as one chain, so the parallel branches of an
Inception module (or the shortcut of a residual block) are composed *in series* — Inception-v3
comes out at 4719 px instead of 1311. Here every node keeps the geometry of *all* paths from the
input, merged exactly at every ``cat`` / ``add`` / multi-input op.

Per axis (H and W independently), the window of output unit ``u`` over a path is the affine family
``[start + u*jump, start + u*jump + size - 1]`` in input pixels. A node keeps, for each distinct
jump over its paths (almost always one), a :class:`_Class`:

- ``lo``  the smallest window start of unit 0 over those paths,
- ``hi``  the largest window end of unit 0,
- ``c_lo`` / ``c_hi`` the smallest / largest window centre of unit 0 (alignment),
- ``smin`` the smallest single-path window size.

A window op (conv, pool; kernel ``k``, stride ``s``, padding ``p``, dilation ``d``,
``ke = d*(k-1)+1``) maps ``lo -> lo - p*jump``, ``hi -> hi + (ke-1-p)*jump``,
``jump -> jump*s``: the same shift for every path, so the union of windows composes exactly
without enumerating paths. Merges take min/max per jump. Everything is per node, so the pass is
linear in the graph size.

What is reported (see :class:`archlens.graph.ReceptiveField` and ``docs/receptive-field.md``):
``size`` is the extent of the union of the windows of one output unit over all paths (what a
gradient probe measures), ``min_size`` the smallest single path, ``stride`` the jump,
``padding = -(smallest window start of unit 0)``, ``aligned`` whether all paths share the
window centre. When paths with *different* jumps meet (only possible when shapes were forced to
match), ``size`` is the extent at the centre output unit and ``stride`` the largest jump.

Fractional strides (transposed convs with stride > 1, upsampling, adaptive pooling whose sizes do
not divide) give windows whose position depends on the unit's phase; for those an *envelope*
(a per-unit upper bound on the extent, exact for the units where it is tight) is propagated and
reported (sizes rounded down to what integer windows can reach). Everything built from
convolutions, pooling, padding, spatial slices (``x[:, :, 2:-2, ::2]``: kernel 1, stride = step,
padding = -start) and merges is exact.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from archlens.graph import Graph, Node, ReceptiveField

__all__ = ["receptive_fields", "feature_rf", "feature_node", "is_global_pool"]

# ---------------------------------------------------------------------------------------------
# per-axis state


@dataclass(frozen=True, slots=True)
class _Class:
    """All paths into a node that share one jump, on one axis (see the module docstring)."""

    lo: Fraction
    hi: Fraction
    c_lo: Fraction
    c_hi: Fraction
    smin: Fraction
    approx: bool = False

    def shift(self, dlo: Fraction, dhi: Fraction, dsize: Fraction, approx: bool = False) -> "_Class":
        dc = (dlo + dhi) / 2
        return _Class(self.lo + dlo, self.hi + dhi, self.c_lo + dc, self.c_hi + dc,
                      self.smin + dsize, self.approx or approx)

    def union(self, other: "_Class") -> "_Class":
        return _Class(min(self.lo, other.lo), max(self.hi, other.hi), min(self.c_lo, other.c_lo),
                      max(self.c_hi, other.c_hi), min(self.smin, other.smin),
                      self.approx or other.approx)


Axis = dict[Fraction, _Class]   # jump -> class
State = tuple[Axis, Axis] | None  # (H, W); None = unknown geometry (reported as None)

_ZERO = Fraction(0)
_ONE = Fraction(1)


def _merge_axes(axes: Iterable[Axis]) -> Axis:
    out: Axis = {}
    for ax in axes:
        for j, c in ax.items():
            out[j] = c.union(out[j]) if j in out else c
    return out


def _window(ax: Axis, k: int, s: int, p: int, d: int) -> Axis:
    ke = d * (k - 1) + 1
    return {j * s: c.shift(-p * j, (ke - 1 - p) * j, (ke - 1) * j) for j, c in ax.items()}


def _transposed(ax: Axis, k: int, s: int, p: int, d: int) -> Axis:
    """Output unit o reads input units i with i*s + t*d = o + p (t = 0..k-1).

    Envelope: i in [(o + p - ke + 1)/s, (o + p)/s]; exact when s == 1 (then it is an ordinary
    conv with padding ke-1-p).
    """
    ke = d * (k - 1) + 1
    out: Axis = {}
    for j, c in ax.items():
        dlo, dhi = j * Fraction(p - ke + 1, s), j * Fraction(p, s)
        cls = _Class(c.lo + dlo, c.hi + dhi, c.c_lo + (dlo + dhi) / 2, c.c_hi + (dlo + dhi) / 2,
                     c.smin, c.approx or s != 1)
        jj = j / s
        out[jj] = cls.union(out[jj]) if jj in out else cls
    return out


def _affine_sample(ax: Axis, a: Fraction, b: Fraction, t_lo: int, t_hi: int) -> Axis:
    """Output unit o reads input units floor(a*o + b) + t_lo .. floor(a*o + b) + t_hi.

    Envelope with floor(x) in [x - (q-1)/q, x] (q: the denominator of a*o + b): exact only
    for the phases where the bound is attained.
    """
    q = math.lcm(a.denominator, b.denominator)
    out: Axis = {}
    for j, c in ax.items():
        dlo, dhi = j * (b + t_lo - Fraction(q - 1, q)), j * (b + t_hi)
        cls = _Class(c.lo + dlo, c.hi + dhi, c.c_lo + (dlo + dhi) / 2, c.c_hi + (dlo + dhi) / 2,
                     c.smin, True)
        jj = j * a
        out[jj] = cls.union(out[jj]) if jj in out else cls
    return out


def _collapse(ax: Axis, n: int) -> Axis:
    """Every output unit depends on all ``n`` input units: one window, jump 0."""
    if not ax:
        return {}
    lo = min(c.lo for c in ax.values())
    hi = max(c.hi + (n - 1) * j for j, c in ax.items())
    smin = min(c.smin + (n - 1) * j for j, c in ax.items())
    approx = any(c.approx for c in ax.values())
    return {_ZERO: _Class(lo, hi, (lo + hi) / 2, (lo + hi) / 2, smin, approx)}


def _broadcast(ax: Axis) -> Axis:
    """A size-1 axis broadcast against a larger one: every unit sees unit 0's window."""
    return _merge_axes({_ZERO: c} for c in ax.values())


# ---------------------------------------------------------------------------------------------
# node classification


def _pair(v, default: int) -> tuple[int, int]:
    if v is None:
        return (default, default)
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    return (int(v[0]), int(v[-1])) if len(v) >= 1 else (default, default)


def _spatial(shape: Sequence[int] | None) -> tuple[int, int] | None:
    if shape is None or len(shape) < 3:
        return None
    return (int(shape[-2]), int(shape[-1]))


_REDUCTIONS = {"mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp", "norm",
               "prod", "median", "nansum", "nanmean", "std_mean", "var_mean"}
_RESIZE_WORDS = ("interpolate", "upsampl")
_PAD_TYPES = {"pad", "zeropad2d", "constantpad2d", "reflectionpad2d", "replicationpad2d",
              "circularpad2d"}


def _lower(node: Node) -> str:
    return node.type.lower().lstrip("_").rstrip("_")


def _is_resize(node: Node) -> bool:
    t = _lower(node)
    return any(w in t for w in _RESIZE_WORDS)


def _is_adaptive(node: Node) -> bool:
    return "adaptive" in _lower(node)


def is_global_pool(node: Node) -> bool:
    """A pooling / reduction node whose every output unit sees its whole input map.

    Adaptive pools to 1x1, spatial reductions (``mean``, ``amax`` ...), and fixed pools whose
    window covers the whole input (``avg_pool2d(x, 8)`` on an 8x8 map). Used to find where the
    feature extractor ends; a conv covering its whole input (LeNet's C5) is not a pool.
    """
    out = _spatial(node.out_shape) if len(node.out_shape) == 4 else None
    ins = _spatial(node.in_shapes[0]) if node.in_shapes else None
    t = _lower(node)
    if out is None or ins is None:
        return False
    if out != (1, 1) or ins == (1, 1):
        return False
    if _is_adaptive(node) or t in _REDUCTIONS:
        return True
    if "pool" in t and node.kernel is not None:
        ke = [d * (k - 1) + 1 for k, d in zip(node.kernel, _pair(node.dilation, 1))]
        return all(e >= n for e, n in zip(ke, ins))
    return False


def _left_pads(node: Node) -> tuple[int, int] | None:
    """(top, left) padding of an F.pad / *Pad2d node (negative = crop)."""
    pad = None
    for key in ("pad", "padding"):
        v = node.attrs.get(key)
        if v is not None and not isinstance(v, (str, int)):
            pad = tuple(int(x) for x in v)
            break
    if pad is None and node.padding is not None and not isinstance(node.padding, str):
        pad = tuple(int(x) for x in node.padding)
        if len(pad) == 2:  # symmetric (H, W) pair
            return pad[0], pad[1]
    if pad is not None and len(pad) >= 4:  # F.pad order: (left, right, top, bottom, ...)
        return pad[2], pad[0]
    if pad is not None and len(pad) == 2:  # only the last dim (W) padded
        return 0, pad[0]
    return None  # amounts not recorded: do not guess which side


def _spatial_crop(node: Node) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """((start, step) on H, (start, step) on W) of a basic-slice node (``x[:, :, 2:-2, ::2]``,
    ``narrow``), from the ``index`` attr the tracer records (see ``trace.basic_index``).

    Output unit ``u`` of a sliced axis is input unit ``start + u*step``: a window op with kernel
    1, stride ``step`` and padding ``-start``. ``None`` unless the input is NCHW, both H and W
    are sliced (not integer-indexed), no new axis is inserted after them, and the slice lengths
    match the output (a guard against a document edited by hand).
    """
    idx = node.attrs.get("index")
    if not isinstance(idx, (tuple, list)) or not node.in_shapes or len(node.in_shapes[0]) != 4 \
            or len(node.out_shape) < 3:
        return None
    hw: dict[int, object] = {}
    dim = 0
    for e in idx:
        if e is None:
            if hw:
                return None  # a new axis after H: the output's last two dims are not (H, W)
            continue
        if dim >= 2:
            hw[dim] = e
        dim += 1
    if sorted(hw) != [2, 3]:
        return None
    out: list[tuple[int, int]] = []
    for d, e in ((2, hw[2]), (3, hw[3])):
        if not isinstance(e, (tuple, list)) or len(e) != 3:
            return None  # an integer index removes the axis
        start, stop, step = (int(v) for v in e)
        if step < 1 or len(range(start, stop, step)) != node.out_shape[d - 4]:
            return None
        out.append((start, step))
    return out[0], out[1]


def _conv_padding(node: Node, k: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    p = node.padding
    if isinstance(p, str):
        if p == "same":  # PyTorch puts the smaller half first
            return tuple(dd * (kk - 1) // 2 for kk, dd in zip(k, d))  # type: ignore[return-value]
        return (0, 0)
    return _pair(p, 0)


# ---------------------------------------------------------------------------------------------
# the pass


def _collapsed(st: tuple[Axis, Axis]) -> bool:
    """True when every unit sees one and the same window (jump 0 on both axes)."""
    return all(j == 0 for ax in st for j in ax)


def _same_grid(inputs: list[tuple[State, tuple[int, ...]]], out: tuple[int, int] | None) -> bool:
    """Every input is on the output's (H, W) grid (or broadcasts onto it)."""
    if out is None:
        return False
    for st, shp in inputs:
        if st is not None and _collapsed(st):
            continue
        sp = _spatial(shp)
        if sp is None or any(n not in (m, 1) for n, m in zip(sp, out)):
            return False
    return True


def _node_state(node: Node, inputs: list[tuple[State, tuple[int, ...]]]) -> State:
    """Geometry of ``node`` from its inputs' states and shapes."""
    if any(st is None for st, _ in inputs):
        return None
    if not inputs:
        return ({}, {})
    out = _spatial(node.out_shape)
    first_state, first_shape = inputs[0]
    ins = _spatial(first_shape)

    crop = _spatial_crop(node) if len(inputs) == 1 else None
    if crop is not None:  # x[:, :, a:b:s, c:d:t]: shifts the window start, the step is a stride
        (sh, th), (sw, tw) = crop
        return (_window(first_state[0], 1, th, -sh, 1), _window(first_state[1], 1, tw, -sw, 1))

    # An output that is not NCHW keeps the grid when its last two dims are the input's (x[:, 0],
    # x.mean(1), a channel-shuffle view): reported None, kept internally for the way back.
    # Anything else (flatten, linear, token views ...) depends on the union of all input
    # windows: collapsed to one window with jump 0, so a later view back to NCHW or a broadcast
    # multiply (an SE gate) stays correct.
    nd = len(node.out_shape)
    if nd != 4 and not (nd >= 3 and node.kernel is None and _same_grid(inputs, out)):
        cols = []
        for st, shp in inputs:
            sp = _spatial(shp)
            if sp is None or _collapsed(st):
                cols.append(st)
            else:
                cols.append((_collapse(st[0], sp[0]), _collapse(st[1], sp[1])))
        return (_merge_axes(c[0] for c in cols), _merge_axes(c[1] for c in cols))

    t = _lower(node)
    if node.kernel is not None and ins is not None and len(inputs) >= 1 and not _is_adaptive(node):
        k = _pair(node.kernel, 1)
        s = _pair(node.stride, 1)
        d = _pair(node.dilation, 1)
        p = _conv_padding(node, k, d)
        op = _transposed if node.attrs.get("transposed") else _window
        return (op(first_state[0], k[0], s[0], p[0], d[0]),
                op(first_state[1], k[1], s[1], p[1], d[1]))

    if ins is not None and len(inputs) == 1 and (t in _PAD_TYPES or t.endswith("pad2d")):
        pads = _left_pads(node)  # F.pad / ZeroPad2d ...: a shift (negative = crop)
        if pads is None:
            return None
        top, left = pads
        return ({j: c.shift(-top * j, -top * j, _ZERO) for j, c in first_state[0].items()},
                {j: c.shift(-left * j, -left * j, _ZERO) for j, c in first_state[1].items()})

    if ins is not None and len(inputs) == 1 and ins != out:
        if _is_adaptive(node) or (t in _REDUCTIONS):
            axes = []
            for ax, n, m in zip(first_state, ins, out):
                if m == 1:
                    axes.append(_window(ax, n, n, 0, 1))
                elif n % m == 0:
                    axes.append(_window(ax, n // m, n // m, 0, 1))
                else:  # start floor(i*n/m), end ceil((i+1)*n/m) - 1
                    a = Fraction(n, m)
                    axes.append(_affine_sample(ax, a, _ZERO, 0, math.ceil(a)))
            return (axes[0], axes[1])
        if _is_resize(node):
            mode = str(node.attrs.get("mode", "nearest"))
            align = bool(node.attrs.get("align_corners") or False)
            axes = []
            for ax, n, m in zip(first_state, ins, out):
                if n == m:
                    axes.append(ax)
                    continue
                if align and m > 1 and mode != "nearest":
                    a, b = Fraction(n - 1, m - 1), _ZERO
                else:
                    a, b = Fraction(n, m), _ZERO
                if mode == "nearest":
                    axes.append(_affine_sample(ax, a, b, 0, 0))
                elif mode == "nearest-exact":
                    axes.append(_affine_sample(ax, a, a / 2, 0, 0))
                else:
                    if not align:
                        b = a / 2 - Fraction(1, 2)
                    taps = (-1, 2) if mode == "bicubic" else (0, 1)
                    axes.append(_affine_sample(ax, a, b, *taps))
            return (axes[0], axes[1])
        return None  # spatial size changed by an op we do not understand: unknown

    # same grid (elementwise, cat, add, mul, BN, ReLU ...), with broadcasting of size-1 axes and
    # of non-spatial inputs (an SE gate, a bias map).
    axes_h: list[Axis] = []
    axes_w: list[Axis] = []
    for st, shp in inputs:
        sp = _spatial(shp)
        if _collapsed(st):  # one window for every unit: broadcasts anywhere
            axes_h.append(st[0])
            axes_w.append(st[1])
            continue
        if sp is None:
            return None
        for ax, n, m, acc in ((st[0], sp[0], out[0], axes_h), (st[1], sp[1], out[1], axes_w)):
            if n == m:
                acc.append(ax)
            elif n == 1:
                acc.append(_broadcast(ax))
            else:
                return None
    return (_merge_axes(axes_h), _merge_axes(axes_w))


def _report_axis(ax: Axis, n_out: int) -> tuple[int, int, int | float, int, bool]:
    """(size, min_size, stride, padding, aligned) of one axis."""
    c = (n_out - 1) // 2  # the centre unit: where a probe measures
    if len(ax) == 1:
        (j, cl), = ax.items()
        size = math.floor(cl.hi - cl.lo) + 1
        aligned = cl.c_lo == cl.c_hi
        lo = cl.lo
    else:
        lo_c = min(cl.lo + c * j for j, cl in ax.items())
        hi_c = max(cl.hi + c * j for j, cl in ax.items())
        size = math.floor(hi_c - lo_c) + 1
        aligned = (min(cl.c_lo + c * j for j, cl in ax.items())
                   == max(cl.c_hi + c * j for j, cl in ax.items()))
        j = max(ax)
        lo = min(cl.lo for cl in ax.values())
    smin = min(math.floor(cl.smin) for cl in ax.values())
    stride: int | float = int(j) if j.denominator == 1 else float(j)
    return size, max(1, smin), stride, math.floor(-lo), aligned


def receptive_fields(graph: Graph) -> dict[str, ReceptiveField | None]:
    """The receptive field of every node (``None`` where the output is not a spatial map, or
    where an op changes the grid in a way archlens does not model — then also downstream).

    The input node gets size 1, stride 1, padding 0. Linear in the number of nodes.
    """
    states: dict[str, State] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    result: dict[str, ReceptiveField | None] = {}
    unit = _Class(_ZERO, _ZERO, _ZERO, _ZERO, _ONE)
    for i, node in enumerate(graph.nodes):
        shapes[node.name] = tuple(node.out_shape)
        if i == 0:
            st: State = ({_ONE: unit}, {_ONE: unit})
        else:
            st = _node_state(node, [(states[n], shapes[n]) for n in node.inputs])
        states[node.name] = st
        sp = _spatial(node.out_shape)
        if st is None or len(node.out_shape) != 4 or sp is None or not st[0] or not st[1]:
            result[node.name] = None
            continue
        h = _report_axis(st[0], sp[0])
        w = _report_axis(st[1], sp[1])
        result[node.name] = ReceptiveField(size=(h[0], w[0]), min_size=(h[1], w[1]),
                                           stride=(h[2], w[2]), padding=(h[3], w[3]),
                                           aligned=h[4] and w[4])
    return result


def _post_global(graph: Graph) -> set[str]:
    """Nodes at or after a global pool on a 1x1 grid (the head: dropout, 1x1 convs of the
    classifier ...). An SE block's gate multiplied back onto a full map is *not* post-global."""
    post: set[str] = set()
    for node in graph.nodes[1:]:
        sp = _spatial(node.out_shape) if len(node.out_shape) == 4 else None
        if is_global_pool(node) or (sp == (1, 1) and any(i in post for i in node.inputs)):
            post.add(node.name)
    return post


def feature_node(graph: Graph, rfs: Mapping[str, ReceptiveField | None]) -> str | None:
    """Name of the last node (in execution order, among the ancestors of the graph's outputs)
    whose output is still a spatial map before global pooling; ``None`` for non-spatial models."""
    wanted: set[str] = set()
    stack = [o for o in graph.outputs if o in graph] or [graph.nodes[-1].name]
    while stack:
        n = stack.pop()
        if n not in wanted:
            wanted.add(n)
            stack.extend(graph[n].inputs)
    post = _post_global(graph)
    for node in reversed(graph.nodes[1:]):
        if node.name in wanted and node.name not in post and rfs.get(node.name) is not None:
            return node.name
    return None


def feature_rf(graph: Graph, rfs: Mapping[str, ReceptiveField | None]) -> ReceptiveField | None:
    """The receptive field at :func:`feature_node` (the network's "feature RF")."""
    name = feature_node(graph, rfs)
    return None if name is None else rfs[name]
