"""Cheap, exact outputs for ops on meta tensors (the analysis pass on ``--device meta``).

Why: on the meta device PyTorch computes an op's output shape with Python meta kernels and
decompositions. They are correct but slow: ``native_batch_norm`` costs ~1 ms per call (a
Python decomposition through ``torch._refs``), an elementwise ``add`` ~0.2 ms; an analysis on
meta spent two thirds of its time there (docs/engine.md, "Speed"). A meta kernel is a pure
function of its arguments' metadata, so two remedies are exact by construction:

* :func:`meta_call` memoises every non-aliasing op by the metadata of its arguments (shape,
  stride, dtype, storage offset of each tensor; the value of every other argument). A repeat
  -- the blocks of a stage, the variants of a sweep -- costs one dictionary lookup and one
  ``torch.empty_strided`` per output instead of the kernel;
* batch normalisation gets a direct rule (:func:`_batch_norm`): output like the input (same
  strides), two per-channel statistics. Its exactness is tested against PyTorch's own meta
  kernel over dtypes, ranks, memory formats and the training flag
  (tests/engine/test_meta_kernels.py).

Building a model on meta runs its weight initialisers (``normal_``, ``uniform_``, ``fill_``,
``zero_`` ...), which on meta compute nothing but still run torch's Python reference kernels
(~40 % of a ResNet's meta build): :func:`skip_meta_init` returns the meta tensor untouched
instead, exactly what those in-place fills return.

Ops whose schema says an output aliases an input (views, in-place ops, ``out=`` variants) are
never memoised: the tracer tells in-place ops and views by tensor identity and ``_base``, which
a fresh tensor would lose. Anything the key cannot describe (a SymInt, an unknown object)
runs the real kernel.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.overrides

from archlens.meta_rules import RULES

aten = torch.ops.aten

_LIMIT = 8192                      # entries kept (a sweep touches a few thousand signatures)
_CACHE: dict[Any, Any] = {}
_PLAIN = (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
          torch.memory_format)
_NO = object()                     # "not describable": run the real kernel
_MEMOISABLE: dict[Any, bool] = {}


def _key(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        if not v.is_meta:
            return _NO
        return (v.shape, v.stride(), v.dtype, v.storage_offset())
    if isinstance(v, _PLAIN):
        return (type(v), v)        # 1, 1.0 and True are different arguments
    if isinstance(v, (list, tuple)):
        out = []
        for x in v:
            k = _key(x)
            if k is _NO:
                return _NO
            out.append(k)
        return (type(v), tuple(out))
    return _NO


def _memoisable(func: Any) -> bool:
    """No output aliases an input and the op mutates nothing (schema alias annotations)."""
    r = _MEMOISABLE.get(func)
    if r is None:
        s = func._schema
        r = not s.is_mutable and all(a.alias_info is None for a in s.returns) \
            and not any(a.alias_info is not None for a in s.arguments)
        _MEMOISABLE[func] = r
    return r


def _describe(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        if not out.is_meta:
            return _NO
        return (out.shape, out.stride(), out.dtype, out.storage_offset())
    if isinstance(out, (tuple, list)):
        parts = []
        for o in out:
            d = _describe(o)
            if d is _NO or not isinstance(o, torch.Tensor):
                return _NO
            parts.append(d)
        return (type(out), tuple(parts))
    return _NO


def _make(desc: Any) -> Any:
    if isinstance(desc[0], torch.Size):
        shape, stride, dtype, offset = desc
        t = torch.empty_strided(shape, stride, dtype=dtype, device="meta")
        return t if not offset else t.as_strided(shape, stride, offset)
    kind, parts = desc
    return kind(_make(p) for p in parts)


def _batch_norm(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """native_batch_norm / _native_batch_norm_legit*: (output like x, mean, invstd per channel).

    The statistics are kept in float32 for reduced-precision inputs (PyTorch's accumulate
    type), else in x's dtype. ``x`` is dense in its memory format (see :func:`meta_call`), so
    ``empty_like``'s preserved strides are x's own; ``empty_strided`` gives them without
    ``empty_like``'s Python reference decomposition (0.3 ms a call on meta)."""
    c = x.shape[1] if x.dim() > 1 else 0
    sdtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    return (torch.empty_strided(x.size(), x.stride(), dtype=x.dtype, device="meta"), torch.empty((c,), dtype=sdtype, device="meta"),
            torch.empty((c,), dtype=sdtype, device="meta"))


_DIRECT = {
    aten.native_batch_norm.default: _batch_norm,
    aten._native_batch_norm_legit_no_training.default: _batch_norm,
    aten._native_batch_norm_legit.default: _batch_norm,
}


def meta_call(func: Any, args: tuple, kwargs: dict) -> Any:
    """``func(*args, **kwargs)`` for an op whose first tensor argument is on the meta device."""
    rule = RULES.get(func)
    if rule is not None:
        out = rule(args, kwargs)
        if out is not None:
            return out
    direct = _DIRECT.get(func)
    if direct is not None and args and isinstance(args[0], torch.Tensor) \
            and args[0].is_meta and args[0].is_floating_point() and args[0].dim() >= 2 \
            and args[0].is_contiguous(memory_format=_format_of(args[0])):
        return direct(args[0])
    if not _memoisable(func):
        return func(*args, **kwargs)
    k = _key(args)
    kk = _key(tuple(sorted(kwargs.items()))) if kwargs else ()
    if k is _NO or kk is _NO:
        return func(*args, **kwargs)
    key = (func, k, kk)
    desc = _CACHE.get(key)
    if desc is not None:
        return _make(desc)
    out = func(*args, **kwargs)
    desc = _describe(out)
    if desc is not _NO:
        if len(_CACHE) >= _LIMIT:
            _CACHE.clear()
        _CACHE[key] = desc
    return out


def _format_of(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


# In-place methods that change values only, never shape, strides or dtype: what initialisers
# (nn.init.*, trunc_normal_, clamped normals) and weight loading (copy_) call. On a meta tensor
# each returns the tensor itself. (A broadcasting error such a call would raise on real tensors
# is not raised during a meta build.)
_INIT_METHODS = ("normal_", "uniform_", "fill_", "zero_", "exponential_", "log_normal_",
                 "cauchy_", "geometric_", "bernoulli_", "random_", "clamp_", "clamp_min_",
                 "clamp_max_", "clip_", "mul_", "add_", "sub_", "div_", "erfinv_", "copy_",
                 "abs_", "neg_", "exp_", "sqrt_", "addcmul_", "addcdiv_", "masked_fill_")


def _init_fill(t: torch.Tensor, kwargs: dict) -> torch.Tensor:
    return t


def _init_kaiming(t: torch.Tensor, kwargs: dict) -> torch.Tensor:
    """kaiming_uniform_'s checks (fan of a >= 2-d tensor, a known nonlinearity), no fill."""
    torch.nn.init._calculate_correct_fan(t, kwargs.get("mode", "fan_in"))
    torch.nn.init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
    return t


# torch.nn.init functions that hand themselves to the torch function mode (so the tensor
# method they call inside runs with the mode off): value fills of a meta tensor, answered
# here with the tensor itself after the checks the function makes on real tensors.
_INIT_FUNCTIONS = {torch.nn.init.uniform_: _init_fill, torch.nn.init.normal_: _init_fill,
                   torch.nn.init.constant_: _init_fill,
                   torch.nn.init.kaiming_uniform_: _init_kaiming}


class _SkipMetaInit(torch.overrides.TorchFunctionMode):
    _skip = frozenset(getattr(torch.Tensor, n) for n in _INIT_METHODS if hasattr(torch.Tensor, n))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self._skip and args and isinstance(args[0], torch.Tensor) \
                and args[0].is_meta:
            return args[0]
        init = _INIT_FUNCTIONS.get(func)
        if init is not None:
            t = args[0] if args else (kwargs or {}).get("tensor")
            if isinstance(t, torch.Tensor) and t.is_meta:
                return init(t, kwargs or {})
        return func(*args, **(kwargs or {}))


def skip_meta_init() -> torch.overrides.TorchFunctionMode:
    """A context (torch function mode) under which in-place random/constant fills of *meta*
    tensors return the tensor untouched; real tensors are filled as usual, every other op is
    unchanged. For building models under ``torch.device("meta")``."""
    return _SkipMetaInit()


def clear() -> None:
    """Forget every memoised signature (tests)."""
    _CACHE.clear()
