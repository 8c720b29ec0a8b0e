"""Where the image's spatial axes live inside a tensor: the *layout* the RF pass carries.

A tensor dim is a sequence of *segments* (one, unless the dim was concatenated from several
tensors, like ViT's class token + patch tokens); a segment is a row-major product of *factors*
``(axis, n, step)``: ``axis`` 0 = the image's H, 1 = W, -1 = anything else (batch, channels,
heads); position ``k`` of the factor is unit ``k*step`` of that axis' grid (plus the other
factors' offsets). So::

    NCHW (1, 64, 56, 56)      ((-1,1,1)) ((-1,64,1)) ((0,56,1)) ((1,56,1))
    NHWC after permute        ... ((0,56,1)) ((1,56,1)) ((-1,64,1))
    tokens after flatten(2)   ... ((0,56,1), (1,56,1))            one dim, H-major
    Swin windows of 7         H split into (0,8,7) [which window] and (0,7,1) [inside it]

Views and reshapes regroup factors (split one, merge adjacent ones), permutes reorder dims;
anything that would cut a factor unevenly returns ``None`` (layout unknown). Size-1 factors are
dropped, so a 1x1 map has no spatial factors at all.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

Factor = tuple[int, int, int]            # (axis, n, step)
Seg = tuple[int, tuple[Factor, ...]]     # (size, factors); product of factor n == size
Dim = tuple[Seg, ...]
Layout = tuple[Dim, ...]

OTHER = -1


def _memo(f):
    """Cache a pure function of (hashable) layouts: the RF pass asks the same questions of
    the same few layouts at every node (measured: a third of its time). Bounded; an argument
    that is not hashable is computed directly."""
    cache: dict = {}

    def g(*args):
        try:
            return cache[args]
        except KeyError:
            pass
        except TypeError:
            return f(*args)
        r = f(*args)
        if len(cache) >= 65536:
            cache.clear()
        cache[args] = r
        return r

    g.__name__, g.__doc__, g.__wrapped__ = f.__name__, f.__doc__, f
    return g


def _norm_factors(fs: Sequence[Factor]) -> tuple[Factor, ...]:
    out: list[Factor] = []
    for a, n, s in fs:
        if n == 1:
            continue
        if a == OTHER:
            s = 1
        if out:
            pa, pn, ps = out[-1]
            if pa == a == OTHER or (pa == a and ps == n * s):
                out[-1] = (a, pn * n, s if a != OTHER else 1)
                continue
        out.append((a, n, s))
    return tuple(out)


def seg(size: int, factors: Sequence[Factor]) -> Seg:
    return (int(size), _norm_factors(factors))


@_memo
def plain(size: int) -> Dim:
    """A dim with no spatial factor (batch, channels ...)."""
    return (seg(size, ((OTHER, int(size), 1),)),)


def norm_dim(d: Sequence[Seg]) -> Dim:
    """Merge adjacent non-spatial segments; a dim is at least one segment."""
    out: list[Seg] = []
    for size, fs in d:
        if size == 0:
            continue
        if out and not spatial_in_seg(out[-1]) and not any(a != OTHER for a, _, _ in fs):
            out[-1] = seg(out[-1][0] + size, ((OTHER, out[-1][0] + size, 1),))
        else:
            out.append(seg(size, fs))
    return tuple(out) or (seg(1, ()),)


def spatial_in_seg(s: Seg) -> bool:
    return any(a != OTHER for a, _, _ in s[1])


@_memo
def dim_size(d: Dim) -> int:
    return sum(s for s, _ in d)


@_memo
def dim_axes(d: Dim) -> frozenset[int]:
    return frozenset(a for _, fs in d for a, _, _ in fs if a != OTHER)


@_memo
def layout_sizes(layout: Layout) -> tuple[int, ...]:
    """The tensor shape ``layout`` describes (``dim_size`` of each dim)."""
    return tuple(dim_size(d) for d in layout)


@_memo
def pointwise_layout(layout: Layout) -> Layout:
    """The layout of a pointwise op's output on one input of this layout: pixel dims kept,
    every other dim a plain dim of its size (as the general rule builds it)."""
    return tuple(d if dim_axes(d) else plain(dim_size(d)) for d in layout)


def nchw(shape: Sequence[int]) -> Layout:
    """The graph input: (N, C, H, W) with H = axis 0, W = axis 1."""
    n, c, h, w = (int(x) for x in shape)
    return (plain(n), plain(c), (seg(h, ((0, h, 1),)),), (seg(w, ((1, w, 1),)),))


@_memo
def axis_units(layout: Layout, axis: int) -> int:
    """How many units of ``axis`` the tensor holds (product of its factors; 1 if none)."""
    return math.prod(n for d in layout for _, fs in d for a, n, _ in fs if a == axis)


@_memo
def is_map(layout: Layout, grid: tuple[int, int]) -> bool:
    """Every unit of both axes is present and no segment mixes an axis with other factors
    (``flatten(1)`` of NCHW puts channels and pixels in one dim: not a map)."""
    if any(axis_units(layout, a) != grid[a] for a in (0, 1)):
        return False
    for d in layout:
        for _, fs in d:
            if any(a != OTHER for a, _, _ in fs) and any(a == OTHER for a, _, _ in fs):
                return False
    return True


@_memo
def standard_axis(d: Dim, axis: int, n: int) -> bool:
    """``d`` is exactly the whole ``axis`` (n units, step 1), as in NCHW's H or W dim."""
    if n == 1:
        return len(d) == 1 and d[0] == (1, ())
    return len(d) == 1 and d[0][1] == ((axis, n, 1),)


@_memo
def is_nchw(layout: Layout, grid: tuple[int, int]) -> bool:
    """The last two dims are H and W whole; no other dim holds a spatial factor."""
    if len(layout) < 3:
        return False
    if not (standard_axis(layout[-2], 0, grid[0]) and standard_axis(layout[-1], 1, grid[1])):
        return False
    return all(not dim_axes(d) for d in layout[:-2])


def with_sizes(layout: Layout, shape: Sequence[int]) -> Layout | None:
    """``layout`` adapted to ``shape`` where only non-spatial dims changed size (a channel piece
    of a split, a different batch); ``None`` if a spatial dim changed."""
    if len(layout) != len(shape):
        return None
    out = []
    for d, n in zip(layout, shape):
        if dim_size(d) == n:
            out.append(d)
        elif dim_axes(d):
            return None
        else:
            out.append(plain(n))
    return tuple(out)


def permute(layout: Layout, dims: Sequence[int]) -> Layout | None:
    if sorted(dims) != list(range(len(layout))):
        return None
    return tuple(layout[d] for d in dims)


def _groups(a: Sequence[int], b: Sequence[int]) -> list[tuple[list[int], list[int]]] | None:
    """Pair runs of dims of shape ``a`` with runs of ``b`` of equal product (size-1 dims apart)."""
    ia = [i for i, n in enumerate(a) if n != 1]
    ib = [j for j, n in enumerate(b) if n != 1]
    out: list[tuple[list[int], list[int]]] = []
    i = j = 0
    while i < len(ia) and j < len(ib):
        ga, gb = [ia[i]], [ib[j]]
        pa, pb = a[ia[i]], b[ib[j]]
        while pa != pb:
            if pa < pb:
                i += 1
                if i >= len(ia):
                    return None
                ga.append(ia[i])
                pa *= a[ia[i]]
            else:
                j += 1
                if j >= len(ib):
                    return None
                gb.append(ib[j])
                pb *= b[ib[j]]
        out.append((ga, gb))
        i += 1
        j += 1
    if i != len(ia) or j != len(ib):
        return None
    return out


def reshape(layout: Layout, out_shape: Sequence[int]) -> Layout | None:
    """``view`` / ``reshape`` / ``flatten`` / ``unflatten`` / ``squeeze`` / ``unsqueeze``."""
    in_shape = [dim_size(d) for d in layout]
    if math.prod(in_shape) != math.prod(out_shape):
        return None
    groups = _groups(in_shape, list(out_shape))
    if groups is None:
        return None
    out: list[Dim] = [(seg(1, ()),)] * len(out_shape)
    for ga, gb in groups:
        if len(ga) == 1 and len(gb) == 1:
            out[gb[0]] = layout[ga[0]]
            continue
        factors: list[Factor] = []
        for i in ga:
            d = layout[i]
            if len(d) != 1:
                if dim_axes(d):
                    return None  # regrouping a concatenated dim with pixels in it
                d = plain(dim_size(d))
            factors.extend(d[0][1])
        factors = list(_norm_factors(factors))
        for j in gb:
            need = out_shape[j]
            mine: list[Factor] = []
            while need > 1:
                if not factors:
                    return None
                a, n, s = factors[0]
                if need % n == 0:
                    mine.append(factors.pop(0))
                    need //= n
                elif n % need == 0:
                    mine.append((a, need, s * (n // need)))
                    factors[0] = (a, n // need, s)
                    need = 1
                else:
                    return None  # the axis would be cut unevenly
            out[j] = (seg(out_shape[j], mine),)
    return tuple(out)
