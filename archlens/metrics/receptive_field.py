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
from dataclasses import dataclass, replace
from fractions import Fraction

from archlens.graph import Graph, Node, ReceptiveField
from archlens.metrics import rf_layout as L
from archlens.metrics.rf_pointwise import ALONG_DIM, is_positionwise

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
    approx: str = ""  # the op after which the window depends on the unit's phase ("" = exact)
    # phase-dependent only: the largest ``hi - lo`` any single unit's window can have (the
    # envelope ``hi - lo`` also holds where that window sits); None: only the envelope is known
    tight: Fraction | None = None

    def shift(self, dlo: Fraction, dhi: Fraction, dsize: Fraction, approx: str = "") -> "_Class":
        dc = _half(dlo + dhi)
        return _Class(self.lo + dlo, self.hi + dhi, self.c_lo + dc, self.c_hi + dc,
                      self.smin + dsize, self.approx or approx,
                      self.tight if dlo == dhi else None)  # a pure shift keeps every size

    def union(self, other: "_Class") -> "_Class":
        return _Class(min(self.lo, other.lo), max(self.hi, other.hi), min(self.c_lo, other.c_lo),
                      max(self.c_hi, other.c_hi), min(self.smin, other.smin),
                      self.approx or other.approx, self.tight if self == other else None)


Axis = dict[Fraction, _Class]   # jump -> class
State = tuple[Axis, Axis] | None  # (H, W); None = unknown geometry (reported as None)

# Numbers are exact rationals: Python ints while they are whole (almost always: Fraction
# arithmetic costs ~1 us an operation and the pass does a few hundred thousand on a large
# graph), Fractions once a fractional stride makes them so. int and Fraction compare and hash
# alike, so they mix freely as dict keys; only true division must not make a float.
_ZERO = 0
_ONE = 1


def _div(a: int | Fraction, b: int | Fraction) -> int | Fraction:
    """a / b, exact: an int when it divides, else a Fraction (never a float)."""
    if type(a) is int and type(b) is int:
        q, r = divmod(a, b)
        return q if r == 0 else Fraction(a, b)
    return Fraction(a) / b


def _half(a: int | Fraction) -> int | Fraction:
    return _div(a, 2)


def _merge_axes(axes: Iterable[Axis]) -> Axis:
    out: Axis = {}
    for ax in axes:
        for j, c in ax.items():
            out[j] = c.union(out[j]) if j in out else c
    return out


def _window(ax: Axis, k: int, s: int, p: int, d: int) -> Axis:
    ke = d * (k - 1) + 1
    return {j * s: c.shift(-p * j, (ke - 1 - p) * j, (ke - 1) * j) for j, c in ax.items()}


def _transposed(ax: Axis, k: int, s: int, p: int, d: int, tag: str = "") -> Axis:
    """Output unit o reads input units i with i*s + t*d = o + p (t = 0..k-1).

    Envelope: i in [(o + p - ke + 1)/s, (o + p)/s]; exact when s == 1 (then it is an ordinary
    conv with padding ke-1-p).
    """
    ke = d * (k - 1) + 1
    out: Axis = {}
    for j, c in ax.items():
        dlo, dhi = j * Fraction(p - ke + 1, s), j * Fraction(p, s)
        cls = _Class(c.lo + dlo, c.hi + dhi, c.c_lo + _half(dlo + dhi), c.c_hi + _half(dlo + dhi),
                     c.smin, c.approx or (tag if s != 1 else ""))
        jj = _div(j, s)
        out[jj] = cls.union(out[jj]) if jj in out else cls
    return out


def _affine_sample(ax: Axis, a: Fraction, b: Fraction, t_lo: int, t_hi: int,
                   tag: str = "?", same_taps: bool = False) -> Axis:
    """Output unit o reads input units floor(a*o + b) + t_lo .. floor(a*o + b) + t_hi.

    An integer ``a`` (downsampling by an integer factor) is exact: floor(a*o + b) = a*o +
    floor(b) for every o -- a window op with stride ``a``. Otherwise an envelope with floor(x)
    in [x - (q-1)/q, x] (q: the denominator of a*o + b), exact only for the phases where the
    bound is attained; ``same_taps`` (resampling: every unit reads the same number of taps, only
    where they sit depends on the phase) also records the exact largest single-unit extent.
    """
    if a.denominator == 1:
        fb = math.floor(b)
        return _window(ax, t_hi - t_lo + 1, int(a), -(fb + t_lo), 1)
    q = math.lcm(a.denominator, b.denominator)
    out: Axis = {}
    for j, c in ax.items():
        dlo, dhi = j * (b + t_lo - Fraction(q - 1, q)), j * (b + t_hi)
        tight = (c.hi - c.lo + (t_hi - t_lo) * j) if same_taps and not c.approx else None
        cls = _Class(c.lo + dlo, c.hi + dhi, c.c_lo + _half(dlo + dhi), c.c_hi + _half(dlo + dhi),
                     c.smin, c.approx or tag, tight)
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
    approx = next((c.approx for c in ax.values() if c.approx), "")
    return {_ZERO: _Class(lo, hi, _half(lo + hi), _half(lo + hi), smin, approx)}


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
               "prod", "median", "nansum", "nanmean", "std_mean", "var_mean", "argmax", "argmin",
               "all", "any", "count_nonzero"}
_MIX_ALONG = {"softmax", "log_softmax", "softmin", "normalize", "sort", "argsort"}
# prefix ops: unit i along the dim reads units 0..i -- a window that grows with the position
_CUMULATIVE = {"cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"}
_RESIZE_WORDS = ("interpolate", "upsampl")
_PAD_TYPES = {"pad", "zeropad2d", "constantpad2d", "reflectionpad2d", "replicationpad2d",
              "circularpad2d", "zeropad1d", "constantpad1d", "reflectionpad1d",
              "replicationpad1d", "circularpad1d"}
_PERMUTES = {"permute", "transpose", "swapaxes", "swapdims", "t", "movedim", "moveaxis"}
_RESHAPES = {"view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as",
             "reshape_as", "ravel"}
_SPLITS = {"split", "chunk", "tensor_split", "split_with_sizes"}
_CATS = {"cat", "concat", "concatenate"}
_ATTENTION = {"scaled_dot_product_attention", "multiheadattention"}
_CONTRACTIONS = {"matmul", "mm", "bmm", "einsum", "linear", "lazylinear"}
_RNNS = {"LSTM", "GRU", "RNN"}
_SECOND_GIVES_SHAPE = {"reshape_as", "view_as", "expand_as", "type_as"}
_AXIS_NAMES = ("H", "W")
# ops that read only their input's shape / dtype: the result is a constant (no path from the image)
_CONSTANT_MAKERS = {"new_zeros", "new_ones", "new_full", "new_empty", "new_tensor", "zeros_like",
                    "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
                    "randint_like"}


def _lower(node: Node) -> str:
    return node.type.lower().lstrip("_").rstrip("_")


def _is_resize(node: Node) -> bool:
    t = _lower(node)
    return any(w in t for w in _RESIZE_WORDS)


def _is_pad(node: Node) -> bool:
    t = _lower(node)
    return t in _PAD_TYPES or t.endswith("pad2d") \
        or node.base_type.lower() in _PAD_TYPES  # a subclass of nn.ReflectionPad2d ...


def _is_adaptive(node: Node) -> bool:
    return "adaptive" in _lower(node)


def is_global_pool(node: Node) -> bool:
    """A pooling / reduction node whose every output unit sees its whole (NCHW) input map.

    Adaptive pools to 1x1, spatial reductions (``mean``, ``amax`` ...), and fixed pools whose
    window covers the whole input (``avg_pool2d(x, 8)`` on an 8x8 map). A conv covering its
    whole input (LeNet's C5) is not a pool. (The RF pass itself finds global mixing from the
    geometry of every op; this predicate is for NCHW graphs read without it.)
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


def _pads(node: Node) -> tuple[int, ...] | None:
    """F.pad-order amounts ``(left, right, top, bottom, ...)`` of a pad node (negative = crop)."""
    for key in ("pad", "padding"):
        v = node.attrs.get(key)
        if v is not None and not isinstance(v, (str, int)):
            return tuple(int(x) for x in v)
    if node.padding is not None and not isinstance(node.padding, str):
        p = tuple(int(x) for x in node.padding)
        if len(p) == 2:  # symmetric (H, W) pair
            return (p[1], p[1], p[0], p[0])
        return p
    return None  # amounts not recorded: do not guess which side


def _pad_after(node: Node, k: tuple[int, int], d: tuple[int, int],
               p: tuple[int, int]) -> tuple[int, int]:
    """The padding after the last pixel, per axis: ``p`` except for padding="same" with an even
    window, where PyTorch puts the larger half after (the trace records the smaller one): at
    stride 1 it is what the sizes imply, ``out - in - p + d(k-1)``."""
    ins = node.in_shapes[0] if node.in_shapes else ()
    if len(ins) < 2 or len(node.out_shape) < 2 or _pair(node.stride, 1) != (1, 1):
        return p
    return tuple(max(pp, int(o) - int(i) - pp + dd * (kk - 1))  # type: ignore[return-value]
                 for o, i, pp, dd, kk in zip(node.out_shape[-2:], ins[-2:], p, d, k))


def _conv_padding(node: Node, k: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    p = node.padding
    if isinstance(p, str):
        if p == "same":  # PyTorch puts the smaller half first
            return tuple(dd * (kk - 1) // 2 for kk, dd in zip(k, d))  # type: ignore[return-value]
        return (0, 0)
    return _pair(p, 0)


# ---------------------------------------------------------------------------------------------
# per-node geometry: layout (where H and W live) + per-axis state, or unknown with a reason

Grid = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Geo:
    layout: L.Layout | None        # None: the arrangement of the pixels in the tensor is unknown
    grid: Grid                     # units of H and W the tensor holds
    state: tuple[Axis, Axis] | None  # None: geometry unknown (``reason`` says why)
    reason: str = ""
    mixer: str = ""                # the first op that mixed all positions of an axis
    # unknown only: the window of the union of *all* units (jump 0), when it is still known --
    # ops that move pixels around without losing any (windows, roll, patch merging) keep it,
    # so attention over every position afterwards is still recognised as global
    span: tuple[Axis, Axis] | None = None
    # unknown only: this tensor is a strided slice of producer ``cover[0]`` (whose span is
    # ``cover[3]``) taking units ``start::step`` of H (``cover[1]`` = (start, step)) and W
    # (``cover[2]``); slices whose phases together take every unit (Swin's patch merging,
    # x[..., 0::2, 0::2, :] ... cat) give back that span (see ``_phase_span``)
    cover: tuple | None = None
    # unknown only, on a reflect pad's output: the geometry as if it padded with zeros, and the
    # (before, after) amounts per axis. Exact again only through the next window op when the
    # mirrored pixels fall inside its window (``_window_op``); every other op drops it
    mirror: tuple | None = None


def _span_of(g: "_Geo") -> tuple[Axis, Axis] | None:
    if g.state is not None:
        return (_collapse(g.state[0], g.grid[0]), _collapse(g.state[1], g.grid[1]))
    return g.span


def _spans(gs: Iterable["_Geo"]) -> tuple[Axis, Axis] | None:
    sp = [_span_of(g) for g in gs]
    if not sp or any(x is None for x in sp):
        return None
    return (_merge_axes(x[0] for x in sp), _merge_axes(x[1] for x in sp))  # type: ignore[index]


class _Ctx:
    """What every op rule needs: the node, the image size (for "whole input")."""

    __slots__ = ("node", "image")

    def __init__(self, node: Node, image: Grid):
        self.node, self.image = node, image

    def where(self) -> str:
        return f"{self.node.type} at {self.node.name}"

    def unknown(self, why: str, layout: L.Layout | None = None, grid: Grid = (1, 1),
                inputs: Sequence[_Geo] = (), keep_span: bool = False) -> _Geo:
        """Unknown geometry -- unless an input already sees the whole image on both axes (then
        the union is the whole image whatever this op does with the rest)."""
        for g in inputs:
            if g.state is not None and _whole(g.state, self.image) == (True, True):
                return _Geo(layout, grid if layout is not None else g.grid,
                            ({_ZERO: _whole_class(self.image[0])},
                             {_ZERO: _whole_class(self.image[1])}), mixer=g.mixer)
        return _Geo(layout, grid, None, reason=f"{why} ({self.where()})",
                    span=_spans(inputs) if keep_span else None)

    def mixed(self, what: str) -> str:
        return f"{what} in {self.node.name}"


def _whole_class(n: int) -> _Class:
    return _Class(_ZERO, n - 1, _half(n - 1), _half(n - 1), n)


def _whole(st: tuple[Axis, Axis], image: Grid) -> tuple[bool, bool]:
    """Per axis: does one window shared by every unit (jump 0) cover the whole image?"""
    return tuple(any(j == 0 and c.lo <= 0 and c.hi >= n - 1 for j, c in ax.items())
                 for ax, n in zip(st, image))  # type: ignore[return-value]


def _first_mixer(gs: Iterable[_Geo]) -> str:
    return next((g.mixer for g in gs if g.mixer), "")


def _combine(ctx: _Ctx, parts: Sequence[tuple[_Geo, tuple[Axis, Axis]]], layout: L.Layout,
             grid: Grid, mixer: str = "", inputs: Sequence[_Geo] = ()) -> _Geo:
    """The union of the inputs' (already transformed) states, on the output ``grid``: an axis
    of one unit broadcasts, a shared window (jump 0) goes anywhere, anything else must match."""
    axes: list[list[Axis]] = [[], []]
    for g, st in parts:
        for a in (0, 1):
            ax = st[a]
            if g.grid[a] == grid[a] or all(j == 0 for j in ax):
                axes[a].append(ax)
            elif g.grid[a] == 1:
                axes[a].append(_broadcast(ax))
            else:
                return ctx.unknown(f"inputs on different {_AXIS_NAMES[a]} grids "
                                   f"({g.grid[a]} vs {grid[a]} units)", layout, grid, inputs)
    return _Geo(layout, grid, (_merge_axes(axes[0]), _merge_axes(axes[1])),
                mixer=mixer or _first_mixer(g for g, _ in parts))


def _known(ctx: _Ctx, ins: Sequence[_Geo], layout: L.Layout | None = None,
           grid: Grid = (1, 1)) -> _Geo | None:
    """``None`` when every input is known; else the unknown result (first reason wins)."""
    bad = [g for g in ins if g.state is None]
    if not bad:
        return None
    res = ctx.unknown("", layout, grid, ins)
    if res.state is not None:
        return res
    return _Geo(layout, grid, None, reason=bad[0].reason, span=_spans(ins))


def _grid_of(layout: L.Layout) -> Grid:
    return (L.axis_units(layout, 0), L.axis_units(layout, 1))


def _collapse_axis(g: _Geo, st: tuple[Axis, Axis], a: int) -> tuple[Axis, Axis]:
    new = _collapse(st[a], g.grid[a])
    return (new, st[1]) if a == 0 else (st[0], new)


# ---- op rules -------------------------------------------------------------------------------

def _elementwise(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    """Same grid (ReLU, BN, add, mul, LayerNorm over channels ...), with broadcasting: for ops
    known to be position-wise (``rf_pointwise``), as long as every pixel dim keeps its place and
    size."""
    out = tuple(ctx.node.out_shape)
    first = ins[0].layout
    if first is not None and all(g.layout == first for g in ins) \
            and L.layout_sizes(first) == out:
        # the common case (ReLU, BN, an add of equal shapes): what the loop below gives
        layout = L.pointwise_layout(first)
        grid = _grid_of(layout)
        bad = _known(ctx, ins, layout, grid)
        if bad is not None:
            return bad
        return _combine(ctx, [(g, g.state) for g in ins], layout, grid, inputs=ins)
    nd = len(out)
    dims: list[L.Dim | None] = [None] * nd
    for g in ins:
        if g.layout is None:
            return ctx.unknown("input layout unknown", None, (1, 1), ins)
        if len(g.layout) > nd:
            return ctx.unknown("output does not broadcast from its inputs", None, (1, 1), ins)
        off = nd - len(g.layout)
        for i, d in enumerate(g.layout):
            j = off + i
            size = L.dim_size(d)
            if size == out[j]:
                if L.dim_axes(d):
                    if dims[j] is None or not L.dim_axes(dims[j]):
                        dims[j] = d
                    elif dims[j] != d:
                        return ctx.unknown("inputs hold the pixels in different dims", None,
                                           (1, 1), ins)
            elif size != 1 and L.dim_axes(d):
                return ctx.unknown(f"output {list(out)} changes a pixel axis of input "
                                   f"{list(L.dim_size(x) for x in g.layout)}; geometry not "
                                   "modelled", None, (1, 1), ins)
            # else: a channel-like dim changed (index_select, repeat on channels): pointwise
    layout = tuple(d if d is not None else L.plain(out[j]) for j, d in enumerate(dims))
    grid = _grid_of(layout)
    bad = _known(ctx, ins, layout, grid)
    if bad is not None:
        return bad
    return _combine(ctx, [(g, g.state) for g in ins], layout, grid, inputs=ins)


def _relayout(ctx: _Ctx, g: _Geo, layout: L.Layout | None, what: str) -> _Geo:
    """A pure layout op (permute, view ...): the geometry is unchanged, the pixels move."""
    if layout is None:
        return ctx.unknown(f"{what} regroups the pixel axes unevenly", None, (1, 1), [g])
    if _grid_of(layout) != g.grid and g.state is not None:
        return ctx.unknown(f"{what} drops pixels", layout, _grid_of(layout), [g])
    return replace(g, layout=layout)


def _permute_op(ctx: _Ctx, g: _Geo) -> _Geo:
    dims = ctx.node.attrs.get("dims")
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    if dims is None:  # an old document without the permutation: infer when sizes are distinct
        sizes = [L.dim_size(d) for d in g.layout]
        out = list(ctx.node.out_shape)
        if len(set(sizes)) != len(sizes) or sorted(sizes) != sorted(out):
            return ctx.unknown("permutation not recorded", None, (1, 1), [g])
        dims = [sizes.index(n) for n in out]
    return _relayout(ctx, g, L.permute(g.layout, list(dims)), ctx.node.type)


def _reshape_op(ctx: _Ctx, g: _Geo) -> _Geo:
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    return _relayout(ctx, g, L.reshape(g.layout, list(ctx.node.out_shape)), ctx.node.type)


def _axes_in(layout: L.Layout, dims: Iterable[int]) -> dict[int, int]:
    """{axis: units of that axis held in ``dims``}."""
    out: dict[int, int] = {}
    for d in dims:
        for _, fs in layout[d]:
            for a, n, _s in fs:
                if a != L.OTHER:
                    out[a] = out.get(a, 1) * n
    return out


def _mix_dims(ctx: _Ctx, g: _Geo, dims: Sequence[int], what: str
              ) -> tuple[tuple[Axis, Axis], str] | str:
    """Every unit along ``dims`` depends on all of them: collapse the axes held there.
    Returns (state, mixer) or the reason it is unknown (only part of an axis mixed)."""
    assert g.layout is not None and g.state is not None
    st, mixer = g.state, ""
    for a, units in _axes_in(g.layout, dims).items():
        if units != g.grid[a]:
            return (f"{what} over part of the {_AXIS_NAMES[a]} axis ({units} of {g.grid[a]} "
                    "units, e.g. attention within windows): per-unit windows not modelled")
        st = _collapse_axis(g, st, a)
        mixer = mixer or ctx.mixed(what)
    return st, mixer


def _from_span(g: _Geo, dims: Sequence[int]) -> _Geo:
    """An unknown input whose span is known, mixed along ``dims`` holding every unit of both
    axes: each output unit sees the union of all units -- the span. Otherwise unchanged."""
    if g.state is not None or g.span is None or g.layout is None:
        return g
    held = _axes_in(g.layout, dims)
    if all(held.get(a, 1) == g.grid[a] and (a in held or g.grid[a] == 1) for a in (0, 1)):
        return replace(g, state=g.span, reason="", span=None)
    return g


def _reduce_op(ctx: _Ctx, g: _Geo) -> _Geo:
    node = ctx.node
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    nd = len(g.layout)
    out = list(node.out_shape)
    if "dim" in node.attrs:
        dims = node.attrs["dim"]
        dims = list(range(nd)) if dims is None else [int(d) for d in dims]
        keep = bool(node.attrs.get("keepdim", False))
    else:  # a document without dims: infer from the shapes
        ins = [L.dim_size(d) for d in g.layout]
        if len(out) == nd:
            dims, keep = [i for i, (a, b) in enumerate(zip(ins, out)) if a != b and b == 1], True
        elif ins[:len(out)] == out:
            dims, keep = list(range(len(out), nd)), False
        else:
            return ctx.unknown("reduced dims not recorded", None, (1, 1), [g])
    layout = tuple((L.seg(1, ()),) if i in dims else d for i, d in enumerate(g.layout)
                   if keep or i not in dims)
    grid = _grid_of(layout)
    what = "global pooling" if _lower(node) in ("mean", "amax", "max", "sum") else node.type
    g = _from_span(g, dims)
    if g.state is None:
        return replace(g, layout=layout, grid=grid)
    res = _mix_dims(ctx, g, dims, what)
    if isinstance(res, str):
        return ctx.unknown(res, layout, grid, [g])
    st, mixer = res
    return _Geo(layout, grid, st, mixer=g.mixer or mixer)


def _mixed(ctx: _Ctx, g: _Geo, dims: Sequence[int], what: str) -> _Geo:
    """``g`` with the positions along ``dims`` mixed (every output along them depends on every
    input along them), the layout kept: global where that covers the whole map; an unknown
    input whose span is known is redeemed the same way."""
    g = _from_span(g, dims)
    if g.state is None:
        return g
    res = _mix_dims(ctx, g, dims, what)
    if isinstance(res, str):
        return ctx.unknown(res, g.layout, g.grid, [g])
    return _Geo(g.layout, g.grid, res[0], mixer=g.mixer or res[1])


def _mix_along_op(ctx: _Ctx, g: _Geo) -> _Geo:
    """softmax / normalize / sort along a dim: the layout stays, the dim's positions are mixed
    (every output along the dim depends on every input along it)."""
    node = ctx.node
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    d = node.attrs.get("dim")
    if d is None:
        return ctx.unknown(f"{node.type} dim not recorded", g.layout, g.grid, [g])
    d = int(d) + len(g.layout) if int(d) < 0 else int(d)
    return _mixed(ctx, g, [d], f"{node.type} over positions")


def _dim_pixels(ctx: _Ctx, g: _Geo, what: str) -> tuple[int, str] | _Geo:
    """The node's recorded ``dim`` (non-negative) and the axis names it holds, or the unknown
    result when the dim was not recorded."""
    assert g.layout is not None
    d = ctx.node.attrs.get("dim")
    if not isinstance(d, int) or isinstance(d, bool):
        return ctx.unknown(f"{what}: dim not recorded", None, (1, 1), [g])
    d = d + len(g.layout) if d < 0 else d
    if not 0 <= d < len(g.layout):
        return ctx.unknown(f"{what}: dim {d} out of range", None, (1, 1), [g])
    return d, "/".join(_AXIS_NAMES[a] for a in sorted(L.dim_axes(g.layout[d])))


def _cumulative_op(ctx: _Ctx, g: _Geo) -> _Geo:
    """cumsum / cummax ... along a dim: position-wise when the dim holds no pixels; along a
    pixel axis unit i reads units 0..i, a window that grows with the position: unknown."""
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    res = _dim_pixels(ctx, g, ctx.node.type)
    if isinstance(res, _Geo):
        return res
    if res[1]:
        return ctx.unknown(f"{ctx.node.type} along the {res[1]} axis: unit i reads units 0..i, "
                           "a window that grows with the position", None, (1, 1), [g])
    return _elementwise(ctx, [g])


def _along_dim_op(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    """index_select / gather / scatter ...: values move along ``dim`` only, so the op is
    position-wise when that dim holds no pixels (LeNet-5's C3 table picks channels); along a
    pixel axis the positions move (a reversed index is a flip): unknown."""
    for g in ins:
        if g.layout is None:
            return ctx.unknown("input layout unknown", None, (1, 1), ins)
        res = _dim_pixels(ctx, g, ctx.node.type)
        if isinstance(res, _Geo):
            return res
        if res[1]:
            return ctx.unknown(f"{ctx.node.type} along the {res[1]} axis: positions move",
                               None, (1, 1), ins)
    return _elementwise(ctx, ins)


def _rnn_op(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    """nn.LSTM / GRU / RNN over (L, N, C) (``batch_first``: (N, L, C); unbatched: (L, C)): the
    features are a new channel dim; along the sequence dim a bidirectional layer lets every
    step read every step (global on the axes held there: a CRNN's BiLSTM along W, Sequencer's
    along H and W), one direction reads steps 0..i (a window that grows with the position:
    unknown). A sequence dim without pixels is position-wise."""
    node = ctx.node
    g = ins[0]
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), ins)
    if len(ins) > 1:
        return ctx.unknown(f"{node.type} with a traced initial state", None, (1, 1), ins)
    nd = len(g.layout)
    out = tuple(node.out_shape)
    if nd not in (2, 3) or len(out) != nd or L.dim_axes(g.layout[-1]):
        return ctx.unknown(f"{node.type} input is not (sequence, batch, features)", None,
                           (1, 1), ins)
    layout = g.layout[:-1] + (L.plain(out[-1]),)
    if tuple(L.dim_size(d) for d in layout) != out:
        return ctx.unknown(f"{node.type} output does not match its input", None, (1, 1), ins)
    seq = 0 if nd == 2 or not node.attrs.get("batch_first") else 1
    axes = L.dim_axes(layout[seq])
    g = replace(g, layout=layout, mirror=None)
    if not axes:
        return g
    if not node.attrs.get("bidirectional"):
        axis = "/".join(_AXIS_NAMES[a] for a in sorted(axes))
        return ctx.unknown(f"{node.type} along the {axis} axis in one direction: unit i reads "
                           "units 0..i, a window that grows with the position", None, (1, 1),
                           ins)
    return _mixed(ctx, g, [seq], f"bidirectional {node.type} over positions")


def _norm_stats_dims(node: Node, nd: int) -> list[int] | None:
    """The dims a normalisation's statistics span, when they are computed from the input
    itself (None: per-position in this pass -- BatchNorm in eval with running statistics,
    LayerNorm over channels
    only, an InstanceNorm with running statistics, LocalResponseNorm across channels)."""
    kind = {_lower(node), node.base_type.lower().lstrip("_")}
    if kind & {"groupnorm", "group_norm"}:
        return list(range(1, nd))          # (C/G, *spatial) of each group
    if kind & {"instancenorm1d", "instancenorm2d", "instancenorm3d", "instance_norm"}:
        return list(range(2, nd)) if node.attrs.get("input_stats", True) else None
    if any("batchnorm" in k for k in kind) or "batch_norm" in kind:
        # per channel over (N, *spatial) when it uses this batch's statistics (no running ones)
        return [0, *range(2, nd)] if node.attrs.get("input_stats") else None
    if kind & {"layernorm", "layer_norm", "rmsnorm", "rms_norm"}:
        k = int(node.attrs.get("norm_ndim", 1))
        return list(range(max(0, nd - k), nd))
    return None


def _norm_op(ctx: _Ctx, g: _Geo, dims: list[int]) -> _Geo:
    """GroupNorm / InstanceNorm / LayerNorm over pixel dims: every output depends, through the
    mean and variance, on every position the statistics span -- those axes are mixed (global
    when the whole map is), the layout stays. Over channels only: pointwise."""
    if not _axes_in(g.layout, dims):
        return _elementwise(ctx, [g])
    return _mixed(ctx, g, dims, f"{ctx.node.type} statistics over positions")


def _nchw_out(ctx: _Ctx, g: _Geo) -> L.Layout:
    out = ctx.node.out_shape
    assert g.layout is not None
    lead = [d if L.dim_size(d) == n else L.plain(n) for d, n in zip(g.layout[:-2], out[:-2])]
    h, w = int(out[-2]), int(out[-1])
    return tuple(lead) + ((L.seg(h, ((0, h, 1),)),), (L.seg(w, ((1, w, 1),)),))


def _window_op(ctx: _Ctx, g: _Geo) -> _Geo:
    """conv / pool (modules and functionals), including transposed convs."""
    node = ctx.node
    nk = len(node.kernel or ())
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    if nk != 2 or len(node.out_shape) < 3:
        over = range(len(g.layout) - nk, len(g.layout))
        if len(g.layout) >= nk + 1 and not _axes_in(g.layout, over):
            layout = L.with_sizes(g.layout, node.out_shape)  # a 1-d conv over channels (ECA)
            if layout is not None:
                return replace(g, layout=layout)
        return ctx.unknown(f"{nk}-d window over the pixel axes", None, (1, 1), [g])
    if not L.is_nchw(g.layout, g.grid):
        return ctx.unknown("window op on a layout that is not (..., H, W)", None, (1, 1), [g])
    layout = _nchw_out(ctx, g)
    k, d = _pair(node.kernel, 1), _pair(node.dilation, 1)
    p = _conv_padding(node, k, d)
    if g.mirror is not None and g.state is None:
        # a reflect pad right before: border units read mirrored pixels, which stay inside this
        # window when each pad is at most half of it (ReflectionPad2d(3) + a 7x7 conv)
        state, amounts = g.mirror
        if node.attrs.get("transposed") or any(2 * max(amounts[a]) + p[a] > d[a] * (k[a] - 1)
                                               for a in (0, 1)):
            return ctx.unknown("reflect padding wider than half the window after it: border "
                               "units read mirrored pixels outside their window", None, (1, 1),
                               [g])
        g = replace(g, state=state, reason="", mirror=None)
    mode = node.attrs.get("padding_mode")
    if mode == "circular" and any(p):
        return ctx.unknown("circular padding: the border units' windows wrap around to the far "
                           "side", None, (1, 1), [g])
    if mode == "reflect" and any(2 * after > d[a] * (k[a] - 1)
                                 for a, after in enumerate(_pad_after(node, k, d, p))):
        return ctx.unknown("reflect padding wider than half the window: border units read "
                           "mirrored pixels outside their window", None, (1, 1), [g])
    if g.state is None:  # the span survives when the windows still touch every input unit
        s = _pair(node.stride, 1)
        out = _grid_of(layout)
        keeps = all(pp >= 0 and (m - 1) * ss - pp + dd * (kk - 1) >= n - 1
                    for kk, ss, dd, pp, n, m in zip(k, s, d, p, g.grid, out))
        return replace(g, layout=layout, grid=out, cover=None,
                       span=g.span if keeps and not node.attrs.get("transposed") else None)
    s = _pair(node.stride, 1)
    if node.attrs.get("transposed"):
        st = (_transposed(g.state[0], k[0], s[0], p[0], d[0], ctx.where()),
              _transposed(g.state[1], k[1], s[1], p[1], d[1], ctx.where()))
    else:
        st = (_window(g.state[0], k[0], s[0], p[0], d[0]),
              _window(g.state[1], k[1], s[1], p[1], d[1]))
    return _Geo(layout, _grid_of(layout), st, mixer=g.mixer)


def _pad_mode(node: Node) -> str:
    kind = node.base_type.lower()
    for prefix, mode in (("reflectionpad", "reflect"), ("circularpad", "circular"),
                         ("replicationpad", "replicate")):
        if kind.startswith(prefix):
            return mode
    return str(node.attrs.get("mode") or "constant")


def _pad_op(ctx: _Ctx, g: _Geo) -> _Geo:
    pads = _pads(ctx.node)
    mode = _pad_mode(ctx.node)
    if g.mirror is not None:  # a pad after a reflect pad: no window op in between
        g = replace(g, mirror=None)
    amounts = [(0, 0), (0, 0)]
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    if pads is None:
        return ctx.unknown("pad amounts not recorded", None, (1, 1), [g])
    layout = list(g.layout)
    st = list(g.state) if g.state is not None else None
    for k in range(len(pads) // 2):
        i = len(layout) - 1 - k
        if i < 0:
            return ctx.unknown("more pad amounts than dims", None, (1, 1), [g])
        left, right = pads[2 * k], pads[2 * k + 1]
        if left == right == 0:
            continue  # nothing added: any layout stays (timm Swin pads to the window, often 0)
        d = layout[i]
        n = L.dim_size(d) + left + right
        axes = L.dim_axes(d)
        if not axes:
            layout[i] = L.plain(n)
            continue
        a = next(iter(axes))
        if len(axes) != 1 or not L.standard_axis(d, a, g.grid[a]):
            return ctx.unknown(f"pad of a dim holding part of {_AXIS_NAMES[a]}", None, (1, 1),
                               [g])
        layout[i] = (L.seg(n, ((a, n, 1),)),)
        amounts[a] = (max(left, 0), max(right, 0))
        if st is not None:
            st[a] = {j: c.shift(-left * j, -left * j, _ZERO) for j, c in st[a].items()}
    lay = tuple(layout)
    padded = any(x > 0 for pair in amounts for x in pair)
    if mode == "circular" and padded:
        return ctx.unknown("circular padding: the border units' windows wrap around to the far "
                           "side", None, (1, 1), [g])
    if mode == "reflect" and padded and st is not None:
        # zero-pad geometry, held back until a window op shows the mirrored pixels stay inside
        return _Geo(lay, _grid_of(lay), None, reason="reflect padding: border units read "
                    f"mirrored pixels ({ctx.where()}); exact again through a window at least "
                    "twice the pad wide", mirror=(tuple(st), tuple(amounts)))
    return replace(g, layout=lay, grid=_grid_of(lay),
                   state=tuple(st) if st is not None else None)  # type: ignore[arg-type]


def _adaptive_op(ctx: _Ctx, g: _Geo) -> _Geo:
    node = ctx.node
    if g.layout is None or not L.is_nchw(g.layout, g.grid) or len(node.out_shape) < 3:
        return ctx.unknown("adaptive pool on a layout that is not (..., H, W)", None, (1, 1), [g])
    layout = _nchw_out(ctx, g)
    out = _grid_of(layout)
    if g.state is None:
        if out == (1, 1) and g.span is not None:  # global pooling of a map whose span is known
            g = replace(g, state=g.span, reason="", span=None)
        else:
            return replace(g, layout=layout, grid=out, span=None, cover=None)
    axes = []
    mixer = g.mixer
    for ax, n, m in zip(g.state, g.grid, out):
        if m == 1:
            axes.append(_collapse(ax, n))
            mixer = mixer or ctx.mixed("global pooling")
        elif n % m == 0:
            axes.append(_window(ax, n // m, n // m, 0, 1))
        else:  # start floor(i*n/m), end ceil((i+1)*n/m) - 1
            a = Fraction(n, m)
            axes.append(_affine_sample(ax, a, _ZERO, 0, math.ceil(a), ctx.where()))
    return _Geo(layout, out, (axes[0], axes[1]), mixer=mixer)


def _resize_op(ctx: _Ctx, g: _Geo) -> _Geo:
    node = ctx.node
    if g.layout is None or not L.is_nchw(g.layout, g.grid) or len(node.out_shape) < 3:
        return ctx.unknown("resize on a layout that is not (..., H, W)", None, (1, 1), [g])
    layout = _nchw_out(ctx, g)
    out = _grid_of(layout)
    if g.state is None:
        up = all(m >= n for m, n in zip(out, g.grid))
        return replace(g, layout=layout, grid=out, span=g.span if up else None,
                       cover=None)
    mode = str(node.attrs.get("mode", "nearest"))
    align = bool(node.attrs.get("align_corners") or False)
    scales = _resize_scales(node)
    axes = []
    for ax, n, m, sc in zip(g.state, g.grid, out, scales):
        if n == m and sc is None:
            axes.append(ax)
            continue
        # PyTorch's source index (aten/src/ATen/native/UpSample.h): align_corners scales by
        # (n-1)/(m-1); otherwise by 1/scale_factor when one was given (and not recomputed),
        # else n/m
        if align and m > 1 and not mode.startswith("nearest"):
            a, b = Fraction(n - 1, m - 1), _ZERO
        else:
            a, b = (sc if sc is not None else Fraction(n, m)), _ZERO
        tag = ctx.where()
        if mode == "nearest":
            axes.append(_affine_sample(ax, a, b, 0, 0, tag, same_taps=True))
        elif mode == "nearest-exact":
            axes.append(_affine_sample(ax, a, a / 2, 0, 0, tag, same_taps=True))
        else:
            if not align:
                b = a / 2 - Fraction(1, 2)
            taps = (-1, 2) if mode == "bicubic" else (0, 1)
            if a.denominator == 1 and b.denominator == 1:
                taps = (0, 0)  # every source index is an integer: one tap has all the weight
            axes.append(_affine_sample(ax, a, b, *taps, tag, same_taps=True))
    return _Geo(layout, out, (axes[0], axes[1]), mixer=g.mixer)


def _resize_scales(node: Node) -> tuple[Fraction | None, Fraction | None]:
    """Per axis (H, W): 1/scale_factor when PyTorch resamples with the given factor (not
    recomputed from the sizes), else None (the sizes' ratio is used)."""
    sf = node.attrs.get("scale_factor")
    if sf is None or node.attrs.get("recompute_scale_factor"):
        return (None, None)
    sf = [sf, sf] if isinstance(sf, (int, float)) else list(sf)[-2:]
    if len(sf) == 1:
        sf = sf * 2
    return tuple(1 / Fraction(float(x)).limit_denominator(1 << 20) if x else None
                 for x in sf)  # type: ignore[return-value]


def _index_op(ctx: _Ctx, g: _Geo) -> _Geo:
    """``x[...]`` / ``narrow`` with the normalised index the tracer records (``attrs.index``)."""
    idx = ctx.node.attrs.get("index")
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    if not isinstance(idx, (tuple, list)):
        return ctx.unknown("advanced or unrecorded index", None, (1, 1), [g])
    if 0 in tuple(ctx.node.out_shape):
        # a zero-length slice (timm's rope attention splits off zero prefix tokens with
        # q[:, :, :0]): no element, so no path from the image -- like a constant
        return _Geo(tuple(L.plain(n) for n in ctx.node.out_shape), (1, 1), ({}, {}))
    st = list(g.state) if g.state is not None else None
    grid = list(g.grid)
    out: list[L.Dim] = []
    phases: dict[int, tuple[int, int]] = {}
    phases_ok: list[bool] = []
    it = iter(g.layout)
    for e in idx:
        if e is None:
            out.append((L.seg(1, ()),))
            continue
        d = next(it, None)
        if d is None:
            return ctx.unknown("index longer than the input", None, (1, 1), [g])
        axes = L.dim_axes(d)
        if isinstance(e, int):
            if axes and st is not None and not all(all(j == 0 for j in st[a]) for a in axes):
                return ctx.unknown(f"integer index on the {_AXIS_NAMES[min(axes)]} axis", None,
                                   (1, 1), [g])
            for a in axes:
                grid[a] = 1
            continue
        start, stop, step = (int(v) for v in e)
        n = len(range(start, stop, step))
        size = L.dim_size(d)
        if (start, stop, step) == (0, size, 1):
            out.append(d)
        elif not axes:
            out.append(L.plain(n))
        elif len(d) == 1 and len(axes) == 1 and L.standard_axis(d, min(axes), grid[min(axes)]):
            a = min(axes)
            out.append((L.seg(n, ((a, n, 1),)),))
            grid[a] = n
            phases[a] = (start, step)  # a phase of the axis when it runs to the end
            phases_ok.append(start < step and stop >= size)
            if st is not None:
                st[a] = _window(st[a], 1, step, -start, 1)
        elif step == 1:  # whole segments of a concatenated dim (ViT: x[:, 1:] drops the class token)
            pos, segs = 0, []
            for s in d:
                if start <= pos and pos + s[0] <= stop:
                    segs.append(s)
                elif pos < stop and pos + s[0] > start and L.spatial_in_seg(s):
                    return ctx.unknown("slice through the pixels of a concatenated dim", None,
                                       (1, 1), [g])
                pos += s[0]
            if any(_axes_in((tuple(segs),), [0]).get(a, 1) != grid[a] for a in axes):
                return ctx.unknown("slice drops pixels of a concatenated dim", None, (1, 1), [g])
            out.append(L.norm_dim(segs))
        else:
            return ctx.unknown("strided slice of a dim holding several axes", None, (1, 1), [g])
    out.extend(it)
    layout = tuple(out)
    if tuple(L.dim_size(d) for d in layout) != tuple(ctx.node.out_shape):
        return ctx.unknown("index does not match the output shape", None, (1, 1), [g])
    gr = (grid[0], grid[1])
    cover = None
    if g.state is None and g.span is not None and gr != g.grid and len(phases) == \
            len(phases_ok) and all(phases_ok):
        cover = (ctx.node.inputs[0], phases.get(0, (0, 1)), phases.get(1, (0, 1)), g.span)
    return replace(g, layout=layout, grid=gr, state=tuple(st) if st is not None else None,
                   span=g.span if gr == g.grid else None, cover=cover)  # type: ignore[arg-type]


def _setitem_op(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    """``x[idx] = v``: each position of the result is x's or v's at the same place, as long as
    ``idx`` takes every unit of the pixel dims (``y[:, 0] = z``: a channel). Writing into part of
    a pixel axis puts v's windows at shifted places: unknown. A constant v (``x[..., :2] = 0``)
    masks positions, as ``masked_fill`` does: position-wise."""
    node = ctx.node
    idx = node.attrs.get("index")
    if not isinstance(idx, (tuple, list)):
        return ctx.unknown("assignment through an advanced or unrecorded index", None, (1, 1),
                           ins)
    target = ins[0] if node.in_shapes and tuple(node.in_shapes[0]) == tuple(node.out_shape) \
        and ins[0].layout is not None and len(ins[0].layout) == len(idx) else None
    if target is None:  # x itself is not traced (a constant buffer): only v's path
        if not all(isinstance(e, (tuple, list)) and e[0] == 0 and e[2] == 1
                   and e[1] == n for e, n in zip(idx, node.out_shape)):
            return ctx.unknown("assignment of a traced value into part of an untraced tensor",
                               None, (1, 1), ins)
        return _elementwise(ctx, ins)
    for e, d, n in zip(idx, target.layout, node.out_shape):
        if L.dim_axes(d) and not (isinstance(e, (tuple, list)) and tuple(e) == (0, n, 1)):
            axis = "/".join(_AXIS_NAMES[a] for a in sorted(L.dim_axes(d)))
            if len(ins) > 1:
                return ctx.unknown(f"assignment into part of the {axis} axis: the value's "
                                   "windows land at shifted places", None, (1, 1), ins)
    return _elementwise(ctx, ins)


def _split_op(ctx: _Ctx, g: _Geo) -> _Geo:
    """split / chunk / unbind: the record's layout is its first piece's; consumers adapt."""
    node = ctx.node
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    out = list(node.out_shape)
    if len(out) == len(g.layout):
        layout = L.with_sizes(g.layout, out)
        if layout is None:
            return ctx.unknown("split along a pixel axis (pieces' offsets not recorded)", None,
                               (1, 1), [g])
        return replace(g, layout=layout)
    d = node.attrs.get("dim")
    if d is None or len(out) != len(g.layout) - 1 or L.dim_axes(g.layout[int(d)]):
        return ctx.unknown("unbind along a pixel axis or unrecorded dim", None, (1, 1), [g])
    return replace(g, layout=g.layout[:int(d)] + g.layout[int(d) + 1:])


def _cat_op(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    node = ctx.node
    out = list(node.out_shape)
    if any(g.layout is None or len(g.layout) != len(out) for g in ins):
        return ctx.unknown("inputs' layouts unknown", None, (1, 1), ins)
    d = node.attrs.get("dim")
    if d is None:  # infer: the one dim where the inputs and the output differ
        diff = {i for g in ins for i, dd in enumerate(g.layout) if L.dim_size(dd) != out[i]}
        d = min(diff) if diff else 1
    d = int(d)
    sizes = list(node.attrs.get("sizes") or [L.dim_size(g.layout[d]) for g in ins])
    tracked = list(node.attrs.get("tracked") or [True] * len(sizes))
    if sum(tracked) != len(ins):
        return ctx.unknown("cat operands do not match the record", None, (1, 1), ins)
    spatial = [g for g in ins if L.dim_axes(g.layout[d])]
    if len(spatial) > 1:
        return ctx.unknown("cat along a pixel axis", None, (1, 1), ins)
    it = iter(ins)
    segs: list[L.Seg] = []
    for n, tr in zip(sizes, tracked):
        segs.extend(next(it).layout[d] if tr else L.plain(n))
    cat_dim = L.norm_dim(segs)
    rest = [g.layout[:d] + (L.plain(out[d]),) + g.layout[d + 1:] for g in ins]
    if len({r for r in rest}) != 1 and len({tuple(L.dim_size(x) for x in r) for r in rest}) != 1:
        return ctx.unknown("cat inputs differ off the cat dim", None, (1, 1), ins)
    holders = [r for r in rest if any(L.dim_axes(x) for x in r)]
    if any(r != holders[0] for r in holders):
        return ctx.unknown("cat inputs hold the pixels in different dims", None, (1, 1), ins)
    base = holders[0] if holders else rest[0]
    layout = base[:d] + (cat_dim,) + base[d + 1:]
    grid = _grid_of(layout)
    bad = _known(ctx, ins, layout, grid)
    if bad is not None:
        if bad.state is None and bad.span is None and not spatial:
            bad = replace(bad, span=_phase_span(ins))
        return bad
    return _combine(ctx, [(g, g.state) for g in ins], layout, grid, inputs=ins)


def _phase_span(ins: Sequence[_Geo]) -> tuple[Axis, Axis] | None:
    """Strided slices of one unknown tensor concatenated off the pixel dims (a space-to-depth:
    Swin's patch merging ``cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], ...], -1)``):
    when their phases together take every unit of both axes, the union of the output's units
    is the union of all the producer's units -- its span. ``None`` otherwise."""
    covers = [g.cover for g in ins]
    if not covers or any(c is None for c in covers):
        return None
    src, (_, sh), (_, sw), span = covers[0]
    if any(c[0] != src or c[1][1] != sh or c[2][1] != sw for c in covers):
        return None
    taken = {(c[1][0], c[2][0]) for c in covers}
    return span if taken == {(i, j) for i in range(sh) for j in range(sw)} else None


def _stack_op(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    d = ctx.node.attrs.get("dim")
    if d is None or any(g.layout is None for g in ins):
        return ctx.unknown("stack dim not recorded", None, (1, 1), ins)
    d = int(d)
    if d < 0:
        d += len(ins[0].layout) + 1
    # a new dim of size 1 in each input (a Dim is a tuple of segments), then broadcasting
    ups = [replace(g, layout=g.layout[:d] + ((L.seg(1, ()),),) + g.layout[d:])  # type: ignore
           for g in ins]
    return _elementwise(ctx, ups)


def _roll_op(ctx: _Ctx, g: _Geo) -> _Geo:
    node = ctx.node
    if g.layout is None:
        return ctx.unknown("input layout unknown", None, (1, 1), [g])
    dims = node.attrs.get("dim")
    dims = range(len(g.layout)) if dims is None else dims
    axes = _axes_in(g.layout, dims)
    if axes:
        what = "cyclic shift" if _lower(node) == "roll" else "flip"
        return ctx.unknown(f"{what} along the {'/'.join(_AXIS_NAMES[a] for a in sorted(axes))} "
                           "axis: windows wrap or mirror", g.layout, g.grid, [g], keep_span=True)
    return g


# ---- contractions: one engine, einsum letters --------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ELL = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _contract_layout(ops: list[tuple[_Geo, str]], out_letters: str,
                     out_shape: Sequence[int]) -> L.Layout:
    """The output layout of a contraction: each output letter's dim from the first operand that
    holds pixels there; an axis already placed by another operand gives a plain dim."""
    owner: dict[int, int] = {}
    dims: list[L.Dim] = []
    for j, x in enumerate(out_letters):
        dim = None
        for k, (g, lt) in enumerate(ops):
            if x in lt and g.layout is not None:
                d = g.layout[lt.index(x)]
                axes = L.dim_axes(d)
                if axes and all(owner.setdefault(a, k) == k for a in axes):
                    dim = d
                    break
        dims.append(dim if dim is not None and L.dim_size(dim) == out_shape[j]
                    else L.plain(out_shape[j]))
    return tuple(dims)


def _contract(ctx: _Ctx, ops: list[tuple[_Geo, str]], out_letters: str, what: str,
              out_shape: Sequence[int]) -> _Geo:
    """Generic contraction: each operand's dims are named by letters (einsum style).

    Per axis: an operand whose pixels sit only in contracted letters is collapsed (every output
    unit sees all of them); an operand whose pixels sit in output letters keeps them, unless an
    earlier operand already put that axis in *other* output letters (attention logits: the key's
    positions become a plain dim, collapsed); pixels split between the two -> unknown.
    """
    if any(g.layout is None or len(g.layout) != len(lt) for g, lt in ops):
        return ctx.unknown("operand layout unknown", None, (1, 1), [g for g, _ in ops])
    claimed: dict[int, tuple[int, set[str]]] = {}  # axis -> (operand, its letters for the axis)
    states: list[tuple[_Geo, tuple[Axis, Axis] | None]] = []
    plain_letters: list[set[str]] = []
    mixer = ""
    everyone = [g for g, _ in ops]
    for k, (g, lt) in enumerate(ops):
        st = g.state
        mine: set[str] = set()
        mixed_axes: set[int] = set()
        for a in (0, 1):
            where = [(i, lt[i]) for i, d in enumerate(g.layout) if a in L.dim_axes(d)]
            if not where:
                continue
            if a not in claimed and any(x in out_letters for _, x in where):
                claimed[a] = (k, {x for _, x in where if x in out_letters})
            owner, letters = claimed.get(a, (None, set()))
            mixed = []
            for i, x in where:
                if x not in out_letters:
                    mixed.append(i)  # contracted: every output unit sums over these positions
                elif owner == k and x in letters:
                    continue  # this operand's pixels become the output's
                elif x in letters and g.layout[i] == ops[owner][0].layout[ops[owner][1].index(x)]:
                    continue  # aligned with the owner's pixels (elementwise along x)
                else:
                    mixed.append(i)  # another copy of the axis (attention logits' key dim)
                    mine.add(x)
            if not mixed:
                continue
            units = _axes_in(g.layout, mixed).get(a, 1)
            if units != g.grid[a]:
                return ctx.unknown(f"{what} mixes part of the {_AXIS_NAMES[a]} axis "
                                   f"({units} of {g.grid[a]} units, e.g. attention within "
                                   "windows): per-unit windows not modelled",
                                   _contract_layout(ops, out_letters, out_shape),
                                   _grid_of(_contract_layout(ops, out_letters, out_shape)),
                                   everyone, keep_span=True)
            mixed_axes.add(a)
            if st is not None:
                st = _collapse_axis(g, st, a)
            mixer = mixer or ctx.mixed(what)
        if st is None and g.span is not None and mixed_axes >= {0, 1}:
            st = g.span  # every position of an unknown map mixed: the union of all its units
        states.append((g, st))
        plain_letters.append(mine)
    dims: list[L.Dim] = []
    for j, x in enumerate(out_letters):
        dim = None
        for k, (g, lt) in enumerate(ops):
            if x in lt and x not in plain_letters[k]:
                d = g.layout[lt.index(x)]
                axes = L.dim_axes(d)
                if axes and all(claimed.get(a, (None,))[0] == k for a in axes):
                    dim = d
                    break
        dims.append(dim if dim is not None and L.dim_size(dim) == out_shape[j]
                    else L.plain(out_shape[j]))
    layout = tuple(dims)
    grid = _grid_of(layout)
    known = [(g, st) for g, st in states if st is not None]
    if len(known) != len(states):
        gs = [replace(g, state=st) for g, st in states]
        un = ctx.unknown("", layout, grid, gs)
        if un.state is None:
            return _Geo(layout, grid, None, next(g.reason for g, st in states if st is None),
                        span=_spans(gs))
        return un
    return _combine(ctx, known, layout, grid, mixer=_first_mixer(g for g, _ in ops) or mixer,
                    inputs=[g for g, _ in ops])


def _letters(n: int, tail: str) -> str:
    """``n`` letters ending in ``tail``, batch dims right-aligned from the ellipsis pool."""
    return _ELL[len(_ELL) - (n - len(tail)):] + tail if n > len(tail) else tail[len(tail) - n:]


def _matmul_op(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    node = ctx.node
    shapes = list(node.in_shapes)
    tracked = list(node.attrs.get("tracked") or [True] * len(ins))
    if len(tracked) != 2:
        if len(ins) == 2:
            tracked = [True, True]
        else:
            return ctx.unknown("matmul operands not recorded", None, (1, 1), ins)
    it = iter(zip(ins, shapes))
    nd = [len(next(it)[1]) if t else None for t in tracked]
    if None in nd:  # the untracked operand's rank: from the output
        k = nd.index(None)
        other = nd[1 - k]
        nd[k] = max(2, len(node.out_shape) - (other - 2)) if other and other >= 2 else 2
    na, nb = nd
    if na == 1:
        la, lb, lo = "k", _letters(nb, "km"), _letters(nb - 1, "m")
    elif nb == 1:
        la, lb, lo = _letters(na, "nk"), "k", _letters(na - 1, "n")
    else:
        nbatch = max(na, nb) - 2
        la, lb = _letters(na, "nk"), _letters(nb, "km")
        lo = _letters(nbatch + 2, "nm")
    ops = [(g, lt) for g, lt, t in zip(ins + ins, (la, lb), tracked) if t]
    ops = [(ins[i], lt) for i, lt in enumerate(x for x, t in zip((la, lb), tracked) if t)]
    return _contract(ctx, ops, lo, "matmul over positions", node.out_shape)


def _linear_op(ctx: _Ctx, g: _Geo) -> _Geo:
    n = len(ctx.node.in_shapes[0])
    lt = _letters(n, "k")
    return _contract(ctx, [(g, lt)], lt[:-1] + "o", "linear over positions",
                     ctx.node.out_shape)


def _einsum_op(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    node = ctx.node
    eq = node.attrs.get("equation")
    ndims = node.attrs.get("ndims")
    tracked = node.attrs.get("tracked")
    if not isinstance(eq, str) or ndims is None or tracked is None:
        return ctx.unknown("einsum equation not recorded", None, (1, 1), ins)
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        return ctx.unknown("einsum equation does not match its operands", None, (1, 1), ins)
    ell = max((n - len(t.replace("...", "")) for t, n in zip(terms, ndims) if "..." in t),
              default=0)
    full = []
    for t, n in zip(terms, ndims):
        k = n - len(t.replace("...", ""))
        full.append(t.replace("...", _ELL[len(_ELL) - k:] if k else ""))
    if not _:
        once = sorted(c for c in set("".join(terms).replace(".", ""))
                      if "".join(terms).count(c) == 1)
        rhs = ("..." if ell else "") + "".join(once)
    rhs = rhs.replace("...", _ELL[len(_ELL) - ell:] if ell else "")
    it = iter(ins)
    ops = [(next(it), lt) for lt, tr in zip(full, tracked) if tr]
    return _contract(ctx, ops, rhs, "einsum over positions", node.out_shape)


def _attention_op(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    """softmax(q k^T) v: the keys' and values' positions are mixed into every query."""
    node = ctx.node
    if len(ins) < 3:
        return ctx.unknown("attention with untracked q/k/v", None, (1, 1), ins)
    q, k, v = ins[:3]
    nd = len(node.in_shapes[0])
    if _lower(node) == "multiheadattention":
        if nd == 2:
            lq, lk, lv, ll, lo = "le", "se", "se", "ls", "le"
        elif node.attrs.get("batch_first"):
            lq, lk, lv, ll, lo = "nle", "nse", "nse", "nls", "nle"
        else:
            lq, lk, lv, ll, lo = "lne", "sne", "sne", "nls", "lne"
    else:
        lq, lk, lv = _letters(nd, "ld"), _letters(nd, "sd"), _letters(nd, "se")
        ll, lo = _letters(nd, "ls"), _letters(nd, "le")
    size: dict[str, int] = {}
    for g, lt in ((q, lq), (k, lk)):
        if g.layout is not None:
            for x, d in zip(lt, g.layout):
                size[x] = max(size.get(x, 1), L.dim_size(d))
    logits = _contract(ctx, [(q, lq), (k, lk)], ll, "attention", [size.get(x, 1) for x in ll])
    if logits.layout is not None:  # sizes of the logits' plain dims do not matter below
        logits = _Geo(tuple(d if L.dim_axes(d) else L.plain(1) for d in logits.layout),
                      logits.grid, logits.state, logits.reason, logits.mixer)
    return _contract(ctx, [(logits, ll), (v, lv)], lo, "attention", node.out_shape)


# ---- dispatch -------------------------------------------------------------------------------

_NOT_ELEMENTWISE = (_ATTENTION | _CONTRACTIONS | _CATS | _PAD_TYPES | _PERMUTES | _RESHAPES
                    | _SPLITS | _MIX_ALONG | _REDUCTIONS | {"stack", "getitem", "narrow", "unbind",
                                                         "roll", "flip"})


def _whole_keeps_layout(ctx: _Ctx, res: _Geo, ins: list[_Geo]) -> _Geo:
    """``res``: the whole-image result of an op one of whose inputs lost its layout (BoTNet's
    relative-position logits, skewed through pad/flatten) while another already sees the whole
    image. An elementwise op (``add``, ``mul``) keeps the layout of the input whose shape is
    the output's, so what follows (softmax, ``attn @ v``, the reshape back to a map) is still
    followed; any other op keeps no layout (reported ``global`` all the same)."""
    node = ctx.node
    t = _lower(node)
    if t in _NOT_ELEMENTWISE or node.kernel is not None or _is_adaptive(node) \
            or _is_resize(node) or t.endswith("pad2d") \
            or not is_positionwise(node.kind, t, node.base_type):
        return res
    out = tuple(node.out_shape)
    for g in ins:
        if g.layout is not None and tuple(L.dim_size(d) for d in g.layout) == out:
            return _Geo(g.layout, _grid_of(g.layout), res.state, mixer=res.mixer)
    return res

def _adapt(g: _Geo, shape: Sequence[int], producer: Node) -> _Geo:
    """A producer's geometry as one consumer sees it (a piece of a split has other sizes)."""
    if g.layout is None or L.layout_sizes(g.layout) == tuple(shape):
        return g
    layout = L.with_sizes(g.layout, shape)
    if layout is None:
        return _Geo(None, (1, 1), None, reason=f"a piece of {producer.type} cut along a pixel "
                                                f"axis (offset not recorded) ({producer.type} "
                                                f"at {producer.name})") if g.state is not None \
            else _Geo(None, (1, 1), None, g.reason)
    return replace(g, layout=layout)


def _node_geo(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    res = _node_rule(ctx, ins)
    if res.mirror is not None and not _is_pad(ctx.node):
        return replace(res, mirror=None)  # only a reflect pad's own consumer may redeem it
    return res


def _node_rule(ctx: _Ctx, ins: list[_Geo]) -> _Geo:
    node = ctx.node
    t = _lower(node)
    if not ins:
        return _Geo(None, (1, 1), None, reason=f"no traced input ({ctx.where()})")
    if node.attrs.get("opaque"):
        return ctx.unknown(f"opaque node: {node.attrs['opaque']}", None, (1, 1), ins)
    if t in _CONSTANT_MAKERS:
        return _Geo(tuple(L.plain(n) for n in node.out_shape), (1, 1), ({}, {}))
    lost = [g for g in ins if g.layout is None]
    if lost:  # the first reason travels on; the node after an unknown op never gets a number
        res = ctx.unknown("", None, (1, 1), ins)
        if res.state is None:
            return _Geo(None, (1, 1), None, lost[0].reason)
        return _whole_keeps_layout(ctx, res, ins)
    if t in _SECOND_GIVES_SHAPE and len(ins) == 2:
        ins = ins[:1]  # x.reshape_as(y): y gives only a shape (or dtype), no path
    one = ins[0]
    if t in _ATTENTION:
        return _attention_op(ctx, ins)
    if t in ("matmul", "mm", "bmm"):
        return _matmul_op(ctx, ins)
    if t == "einsum":
        return _einsum_op(ctx, ins)
    if t in ("linear", "lazylinear") and len(ins) == 1:
        return _linear_op(ctx, one)
    if t in _CATS:
        return _cat_op(ctx, ins)
    if node.base_type in _RNNS:
        return _rnn_op(ctx, ins)
    if t == "setitem":
        return _setitem_op(ctx, ins)
    if t == "stack":
        return _stack_op(ctx, ins)
    if len(ins) == 1:
        if node.kernel is not None and not _is_adaptive(node):
            return _window_op(ctx, one)
        if _is_pad(node):
            return _pad_op(ctx, one)
        if _is_adaptive(node):
            return _adaptive_op(ctx, one)
        if _is_resize(node):
            return _resize_op(ctx, one)
        if t in _PERMUTES:
            return _permute_op(ctx, one)
        if t in _RESHAPES:
            return _reshape_op(ctx, one)
        if t in ("getitem", "narrow"):
            return _index_op(ctx, one)
        if t in _SPLITS or t == "unbind":
            return _split_op(ctx, one)
        if t in ("roll", "flip"):
            return _roll_op(ctx, one)
        if t in _MIX_ALONG:
            return _mix_along_op(ctx, one)
        if t in _CUMULATIVE:
            return _cumulative_op(ctx, one)
        if t in _REDUCTIONS and ("dim" in node.attrs or tuple(node.out_shape)
                                 != tuple(node.in_shapes[0])):
            return _reduce_op(ctx, one)
        stats = _norm_stats_dims(node, len(one.layout))
        if stats is not None:
            return _norm_op(ctx, one, stats)
    if t in ALONG_DIM:
        return _along_dim_op(ctx, ins)
    if not is_positionwise(node.kind, t, node.base_type):
        return ctx.unknown(f"no receptive-field rule for {node.type}: not known to be "
                           "position-wise (it may move or mix pixels)", None, (1, 1), ins)
    return _elementwise(ctx, ins)


# ---------------------------------------------------------------------------------------------
# reporting


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


def _tight_bound(ax: Axis, envelope: int) -> int:
    """The largest single-unit window on a phase-dependent axis: exact right after a resampling
    (every unit reads the same taps, only their place moves), else the envelope's extent."""
    if len(ax) == 1:
        (c,) = ax.values()
        if c.tight is not None:
            return min(envelope, math.floor(c.tight) + 1)
    return envelope


def _report(node: Node, g: _Geo, image: Grid) -> ReceptiveField | None:
    if g.layout is None:
        if len(node.out_shape) >= 3 and g.state is None:
            return ReceptiveField.unknown(g.reason or f"geometry lost at {node.name}")
        if len(node.out_shape) >= 3 and g.state is not None and all(_whole(g.state, image)):
            # where the pixels sit is unknown, but every element already depends on every
            # input pixel (an input saw the whole image): global, never "no map" -- a None
            # here let the feature node fall back to an earlier, exact node (botnet26t)
            return ReceptiveField.whole(image, g.mixer or f"all positions mixed by {node.name}")
        return None
    if not L.is_map(g.layout, g.grid):
        return None
    if g.state is None:
        return ReceptiveField.unknown(g.reason or f"geometry lost at {node.name}", grid=g.grid)
    if not g.state[0] or not g.state[1]:
        return None  # a constant: no path from the input
    whole = _whole(g.state, image)
    if all(whole):
        return ReceptiveField.whole(image, g.mixer or f"all positions mixed by {node.name}",
                                    grid=g.grid)
    axes = [(n, n, 0, 0, True) if w else _report_axis(ax, gr)
            for ax, gr, w, n in zip(g.state, g.grid, whole, image)]
    h, w = axes
    phase = next((c.approx for ax, wh in zip(g.state, whole) if not wh
                  for c in ax.values() if c.approx), "")
    if phase:  # an envelope, not a number a probe would measure at every unit
        bound = [_tight_bound(ax, env[0]) if not wh else env[0]
                 for ax, env, wh in zip(g.state, axes, whole)]
        return ReceptiveField.unknown(
            f"the window depends on the output unit's phase after a fractional stride "
            f"({phase}); at most {bound[0]}x{bound[1]} px", grid=g.grid,
            bound=(bound[0], bound[1]))
    return ReceptiveField(size=(h[0], w[0]), min_size=(h[1], w[1]), stride=(h[2], w[2]),
                          padding=(h[3], w[3]), aligned=h[4] and w[4], grid=g.grid)


def _geometries(graph: Graph) -> dict[str, _Geo] | None:
    inp = graph.input
    if len(inp.out_shape) != 4:
        return None
    image = (int(inp.out_shape[2]), int(inp.out_shape[3]))
    unit = _Class(_ZERO, _ZERO, _ZERO, _ZERO, _ONE)
    geos: dict[str, _Geo] = {inp.name: _Geo(L.nchw(inp.out_shape), image,
                                            ({_ONE: unit}, {_ONE: unit}))}
    for node in graph.nodes[1:]:
        ins = [_adapt(geos[n], shp, graph[n]) for n, shp in zip(node.inputs, node.in_shapes)]
        ctx = _Ctx(node, image)
        try:
            geos[node.name] = _node_geo(ctx, ins)
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError) as e:
            # a layout this pass cannot follow (seen: timm's skresnet18 selective-kernel
            # attention) must not take the whole analysis down: the field is unknown from
            # here, said so, never a number
            geos[node.name] = ctx.unknown(
                f"archlens could not follow this op's geometry ({type(e).__name__}: {e})",
                None, (1, 1), ins)
    return geos


def receptive_fields(graph: Graph) -> dict[str, ReceptiveField | None]:
    """The receptive field of every node: ``exact``, ``global`` or ``unknown`` (with the reason:
    the op whose geometry is not known), or ``None`` where the output holds no map of the image
    (a flattened vector, logits, a 1-d or 3-d input model).

    The input node gets size 1, stride 1, padding 0. Linear in the number of nodes.
    """
    geos = _geometries(graph)
    if geos is None:
        return {n.name: None for n in graph.nodes}
    inp = graph.input
    image = (int(inp.out_shape[2]), int(inp.out_shape[3]))
    return {n.name: _report(n, geos[n.name], image) for n in graph.nodes}


def _post_global(graph: Graph, rfs: Mapping[str, ReceptiveField | None]) -> set[str]:
    """Nodes at or after the global pool: on a 1x1 grid (or not a map any more) with an input
    that was a larger map or is itself post-global (the head: dropout, 1x1 convs of the
    classifier, flatten ...). An SE gate multiplied back onto a full map is *not* post-global."""
    post: set[str] = set()

    def grid(name: str) -> tuple[int, int] | None:
        rf = rfs.get(name)
        if rf is not None and rf.grid is not None:
            return tuple(rf.grid)  # type: ignore[return-value]
        n = graph[name]
        return _spatial(n.out_shape) if len(n.out_shape) == 4 and rf is not None else None

    for node in graph.nodes[1:]:
        g = grid(node.name)
        if g is not None and g != (1, 1):
            continue
        if is_global_pool(node) or any(i in post for i in node.inputs) or (
                g == (1, 1) and node.kernel is None  # a conv covering its input is a layer
                and any((grid(i) or (1, 1)) != (1, 1) for i in node.inputs)):
            post.add(node.name)
    return post


def feature_node(graph: Graph, rfs: Mapping[str, ReceptiveField | None]) -> str | None:
    """Name of the last node (in execution order, among the ancestors of the graph's outputs)
    whose output is still a map of the image (NCHW, channels-last or tokens) before global
    pooling, whatever its status; ``None`` for models without one."""
    wanted: set[str] = set()
    stack = [o for o in graph.outputs if o in graph] or [graph.nodes[-1].name]
    while stack:
        n = stack.pop()
        if n not in wanted:
            wanted.add(n)
            stack.extend(graph[n].inputs)
    post = _post_global(graph, rfs)
    best = None
    for node in reversed(graph.nodes[1:]):
        if node.name in wanted and node.name not in post and rfs.get(node.name) is not None \
                and (len(node.out_shape) == 4 or (len(node.out_shape) == 3
                                                  and rfs[node.name].grid not in (None, (1, 1)))):
            # (N, C) vectors and 1x1 token tensors are heads, not maps
            best = node.name
            break
    if best is None:
        return None
    # a chain of pure layout ops (permute, view ...) ending there: name where the map was made
    while True:
        n = graph[best]
        if _lower(n) in _PERMUTES | _RESHAPES | {"contiguous"} and len(n.inputs) == 1 \
                and rfs.get(n.inputs[0]) == rfs[best] and n.inputs[0] != graph.input.name:
            best = n.inputs[0]
            continue
        return best


def feature_rf(graph: Graph, rfs: Mapping[str, ReceptiveField | None]) -> ReceptiveField | None:
    """The receptive field at :func:`feature_node` (the network's "feature RF"), carrying its
    status and the node it was measured at (``node``)."""
    name = feature_node(graph, rfs)
    if name is None:
        return _other_rank(graph)
    rf = rfs[name]
    return None if rf is None else replace(rf, node=name)


def _other_rank(graph: Graph) -> ReceptiveField | None:
    """A model whose input is not an image (N, C, H, W) but which slides windows along its own
    positions (Conv1d over audio, Conv3d over video): its receptive field exists but is not
    modelled, so it is ``unknown`` with that reason (at the last such window), never a silent
    "no spatial layers". ``None`` for models without any (an MLP, a transformer on tokens)."""
    if len(graph.input.out_shape) == 4:
        return None
    last = None
    for node in graph.nodes[1:]:
        nk = len(node.kernel or ())
        if nk in (1, 3) and node.in_shapes and len(node.in_shapes[0]) == nk + 2:
            last = node
    if last is None:
        return None
    what = {1: "1-d (N, C, L)", 3: "3-d (N, C, T, H, W)"}[len(last.kernel)]
    return ReceptiveField.unknown(
        f"receptive fields are modelled on 2-d images (N, C, H, W); this model's windows are "
        f"{what} ({last.base_type or last.type} at {last.name})", node=last.name)
