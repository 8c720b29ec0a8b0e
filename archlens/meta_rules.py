"""Direct meta rules: the output of the commonest CNN ops on meta tensors, computed from the
arguments' metadata without PyTorch's Python meta kernels.

Why (docs/engine.md, "Speed"): on the meta device PyTorch computes these outputs in Python
(``torch._meta_registrations``, ``torch._refs``), and the first such kernel a process runs
imports ``torch._dynamo`` (the type-promotion wrapper of every elementwise reference) and
sympy (``torch._check``): 1.2-1.3 s before the first meta result, more than the whole
analysis of inception_v3. The memo of :mod:`archlens.meta_kernels` only helps from the second
call of a signature on.

Each rule takes ``(args, kwargs)`` of the aten overload and returns its output, or ``None``
when the call is in any way irregular -- another dtype, an unusual memory format, an empty or
ambiguous layout, arguments the real kernel would reject -- and then the real kernel runs and
gives its own result or error. So a rule only has to be right on the cases it accepts; they
are compared with PyTorch's own meta kernels (shape, strides, dtype, storage offset, and for
in-place ops the identity of the result) in tests/engine/test_meta_rules.py.

Accepted inputs are *plainly contiguous*: standard contiguous strides and, for 4-d/5-d
tensors, not also channels-last contiguous (a tensor with one channel or a 1x1 map is both,
and PyTorch's memory-format suggestion decides such cases by its own heuristics). For those
inputs the kernels' outputs are contiguous.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

aten = torch.ops.aten

_CL = {4: torch.channels_last, 5: torch.channels_last_3d}


def _plain(x: Any) -> bool:
    """A meta floating-point tensor with standard contiguous strides, unambiguously so."""
    if not isinstance(x, torch.Tensor) or not x.is_meta or not x.is_floating_point():
        return False
    if x.numel() == 0 or not x.is_contiguous() or x.storage_offset():
        return False
    fmt = _CL.get(x.dim())
    return fmt is None or not x.is_contiguous(memory_format=fmt)


def _empty(shape: Any, dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(tuple(shape), dtype=dtype, device="meta")


def _ints(v: Any, n: int) -> list[int] | None:
    """An int list of length n (a length-1 list is repeated), or None."""
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, (list, tuple)) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in v):
        return None
    if len(v) == 1:
        return [v[0]] * n
    return list(v) if len(v) == n else None


def _bind(args: tuple, kwargs: dict, names: tuple[str, ...], defaults: tuple) -> list | None:
    """Positional + keyword arguments in schema order, defaults filled in (None: an unknown
    keyword, too many arguments, or a required one missing)."""
    if len(args) > len(names) or any(k not in names for k in kwargs):
        return None
    missing = object()
    out = [missing] * (len(names) - len(defaults)) + list(defaults)
    out[:len(args)] = args
    for k, v in kwargs.items():
        out[names.index(k)] = v
    return None if any(v is missing for v in out) else out


# ----------------------------------------------------------------------------- convolution

def _convolution(args: tuple, kwargs: dict) -> torch.Tensor | None:
    b = _bind(args, kwargs, ("input", "weight", "bias", "stride", "padding", "dilation",
                             "transposed", "output_padding", "groups"), ())
    if b is None:
        return None
    x, w, bias, stride, padding, dilation, transposed, output_padding, groups = b
    if not _plain(x) or not isinstance(w, torch.Tensor) or not w.is_meta \
            or w.dtype != x.dtype or w.dim() != x.dim() or x.dim() < 3 or w.numel() == 0:
        return None
    nd = x.dim() - 2
    s, p, d = _ints(stride, nd), _ints(padding, nd), _ints(dilation, nd)
    if s is None or p is None or d is None or not isinstance(groups, int) or groups < 1 \
            or not isinstance(transposed, bool):
        return None
    if any(v <= 0 for v in s) or any(v <= 0 for v in d) or any(v < 0 for v in p):
        return None
    k = list(w.shape[2:])
    if transposed:
        op = _ints(output_padding, nd)
        if op is None or w.shape[0] != x.shape[1] or x.shape[1] % groups:
            return None
        if any(o < 0 or o >= max(si, di) for o, si, di in zip(op, s, d)):
            return None
        cout = groups * w.shape[1]
        spatial = [(n - 1) * si - 2 * pi + di * (ki - 1) + oi + 1
                   for n, ki, si, pi, di, oi in zip(x.shape[2:], k, s, p, d, op)]
    else:
        if w.shape[1] * groups != x.shape[1] or w.shape[0] % groups:
            return None
        cout = w.shape[0]
        spatial = [(n + 2 * pi - di * (ki - 1) - 1) // si + 1
                   for n, ki, si, pi, di in zip(x.shape[2:], k, s, p, d)]
    if any(v < 1 for v in spatial):
        return None
    if bias is not None and not (isinstance(bias, torch.Tensor) and bias.is_meta
                                 and bias.dtype == x.dtype and tuple(bias.shape) == (cout,)):
        return None
    return _empty((x.shape[0], cout, *spatial), x.dtype)


# ----------------------------------------------------------------------------- pooling

def _pool_size(n: int, k: int, pad: int, s: int, d: int, ceil: bool) -> int:
    """PyTorch's pooling_output_shape (floor/ceil, the last window starting inside)."""
    out = (n + 2 * pad - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + pad:
        out -= 1
    return out


def _pool2d(x: Any, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil: Any
            ) -> list[int] | None:
    if not _plain(x) or x.dim() != 4 or not isinstance(ceil, bool):
        return None
    k = _ints(kernel, 2)
    if k is None or not isinstance(stride, (list, tuple)):
        return None
    s = k if len(stride) == 0 else _ints(stride, 2)
    p, d = _ints(padding, 2), _ints(dilation, 2)
    if s is None or p is None or d is None:
        return None
    if min(k) <= 0 or min(s) <= 0 or min(d) <= 0 or min(p) < 0:
        return None
    if any(pi > ki // 2 or pi > ((ki - 1) * di + 1) // 2 for pi, ki, di in zip(p, k, d)):
        return None
    hw = [_pool_size(n, ki, pi, si, di, ceil)
          for n, ki, pi, si, di in zip(x.shape[2:], k, p, s, d)]
    if min(hw) < 1:
        return None
    return [x.shape[0], x.shape[1], *hw]


def _max_pool2d_with_indices(args: tuple, kwargs: dict) -> tuple | None:
    b = _bind(args, kwargs, ("self", "kernel_size", "stride", "padding", "dilation",
                             "ceil_mode"), ((), (0,), (1,), False))
    if b is None:
        return None
    shape = _pool2d(*b)
    if shape is None:
        return None
    return _empty(shape, b[0].dtype), _empty(shape, torch.int64)


def _avg_pool2d(args: tuple, kwargs: dict) -> torch.Tensor | None:
    b = _bind(args, kwargs, ("self", "kernel_size", "stride", "padding", "ceil_mode",
                             "count_include_pad", "divisor_override"),
              ((), (0,), False, True, None))
    if b is None:
        return None
    x, kernel, stride, padding, ceil, include, divisor = b
    if not isinstance(include, bool) or divisor is not None:
        return None
    shape = _pool2d(x, kernel, stride, padding, (1,), ceil)
    return None if shape is None else _empty(shape, x.dtype)


def _adaptive_avg_pool2d(args: tuple, kwargs: dict) -> torch.Tensor | None:
    b = _bind(args, kwargs, ("self", "output_size"), ())
    if b is None or not _plain(b[0]) or b[0].dim() != 4:
        return None
    size = _ints(b[1], 2)
    if size is None or len(b[1]) != 2 or min(size) < 1:
        return None
    return _empty((*b[0].shape[:2], *size), b[0].dtype)


# ----------------------------------------------------------------------------- others

def _mean_dim(args: tuple, kwargs: dict) -> torch.Tensor | None:
    b = _bind(args, kwargs, ("self", "dim", "keepdim", "dtype"), (False, None))
    if b is None:
        return None
    x, dims, keepdim, dtype = b
    if not _plain(x) or dtype is not None or not isinstance(keepdim, bool) \
            or not isinstance(dims, (list, tuple)) or not dims:
        return None
    n = x.dim()
    if not all(isinstance(i, int) and not isinstance(i, bool) and -n <= i < n for i in dims):
        return None
    red = {i % n for i in dims}
    if len(red) != len(dims):
        return None
    if keepdim:
        shape = [1 if i in red else s for i, s in enumerate(x.shape)]
    else:
        shape = [s for i, s in enumerate(x.shape) if i not in red]
    return _empty(shape, x.dtype)


def _addmm(args: tuple, kwargs: dict) -> torch.Tensor | None:
    b = _bind(args, kwargs, ("self", "mat1", "mat2", "beta", "alpha"), (1, 1))
    if b is None:
        return None
    bias, m1, m2, beta, alpha = b
    if beta != 1 or alpha != 1 or isinstance(beta, bool) or isinstance(alpha, bool):
        return None
    if not all(isinstance(t, torch.Tensor) and t.is_meta and t.is_floating_point()
               for t in (bias, m1, m2)):
        return None
    if not (m1.dtype == m2.dtype == bias.dtype) or m1.dim() != 2 or m2.dim() != 2 \
            or m1.shape[1] != m2.shape[0] or m1.numel() == 0 or m2.numel() == 0:
        return None
    out = (m1.shape[0], m2.shape[1])
    if not (_plain(bias) and (tuple(bias.shape) == out[1:] or tuple(bias.shape) == out)):
        return None
    return _empty(out, m1.dtype)


def _binary(args: tuple, kwargs: dict, names: tuple[str, ...]) -> torch.Tensor | None:
    if len(args) != 2 or any(k != "alpha" or kwargs[k] != 1 or isinstance(kwargs[k], bool)
                             for k in kwargs if "alpha" in names) \
            or (kwargs and "alpha" not in names):
        return None
    a, b = args
    if not (_plain(a) and _plain(b)) or a.dtype != b.dtype:
        return None
    shape = _broadcast(a.shape, b.shape)
    return None if shape is None else _empty(shape, a.dtype)


def _broadcast(a: Any, b: Any) -> list[int] | None:
    """NumPy broadcasting of two shapes (None: they do not broadcast). Written out because
    ``torch.broadcast_shapes`` imports sympy on its first call."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return out


def _add(args: tuple, kwargs: dict) -> torch.Tensor | None:
    return _binary(args, kwargs, ("self", "other", "alpha"))


def _mul(args: tuple, kwargs: dict) -> torch.Tensor | None:
    return _binary(args, kwargs, ("self", "other"))


def _add_(args: tuple, kwargs: dict) -> torch.Tensor | None:
    """In-place ``a += b``: the result is ``a`` itself when b broadcasts to a's shape."""
    out = _binary(args, kwargs, ("self", "other", "alpha"))
    if out is None or out.shape != args[0].shape:
        return None
    return args[0]


def _unary_(args: tuple, kwargs: dict) -> torch.Tensor | None:
    """In-place activations (``relu_``, ``hardtanh_`` ...): the result is the tensor itself."""
    if kwargs or not args or not _plain(args[0]):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in args[1:]):
        return None
    return args[0]


def _cat(args: tuple, kwargs: dict) -> torch.Tensor | None:
    b = _bind(args, kwargs, ("tensors", "dim"), (0,))
    if b is None:
        return None
    ts, dim = b
    if not isinstance(ts, (list, tuple)) or not ts or not isinstance(dim, int) \
            or isinstance(dim, bool):
        return None
    first = ts[0]
    if not all(_plain(t) and t.dtype == first.dtype and t.dim() == first.dim() for t in ts):
        return None
    n = first.dim()
    if not -n <= dim < n:
        return None
    dim %= n
    for t in ts:
        if any(t.shape[i] != first.shape[i] for i in range(n) if i != dim):
            return None
    shape = list(first.shape)
    shape[dim] = sum(t.shape[dim] for t in ts)
    return _empty(shape, first.dtype)


_INPLACE_UNARY = ("relu_", "silu_", "sigmoid_", "hardswish_", "hardsigmoid_", "tanh_",
                  "hardtanh_", "leaky_relu_", "elu_", "gelu_")


def _table() -> dict[Any, Callable[[tuple, dict], Any]]:
    t: dict[Any, Callable[[tuple, dict], Any]] = {
        aten.convolution.default: _convolution,
        aten.max_pool2d_with_indices.default: _max_pool2d_with_indices,
        aten.avg_pool2d.default: _avg_pool2d,
        aten._adaptive_avg_pool2d.default: _adaptive_avg_pool2d,
        aten.mean.dim: _mean_dim,
        aten.addmm.default: _addmm,
        aten.add.Tensor: _add,
        aten.mul.Tensor: _mul,
        aten.add_.Tensor: _add_,
        aten.cat.default: _cat,
    }
    for name in _INPLACE_UNARY:
        packet = getattr(aten, name, None)
        if packet is not None and "default" in packet.overloads():
            t[packet.default] = _unary_
    return t


RULES = _table()
