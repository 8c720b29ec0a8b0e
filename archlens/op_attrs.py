"""Per-op attributes the receptive-field pass needs beyond shapes: which dims an op permutes,
reduces, mixes, splits or concatenates, and which operands of a contraction are traced.

One small function per op kind, registered in :data:`FUNCTIONS` (functional ops, by the
canonical op name the tracer gives them) and :func:`module_attrs` (leaf modules). The tracer
calls :func:`function_attrs` / :func:`module_attrs` once per record (one hook) and merges the
result into the record's ``attrs``. Everything stored is a plain int, bool, str or a tuple of
them, with dims normalised to non-negative indices, so the JSON document carries it and the
receptive-field pass depends on the record alone (docs/receptive-field.md, "Layouts").

Adding an op kind: one function ``(args, kwargs, is_tracked) -> dict`` and one line in
:data:`FUNCTIONS`.
"""
from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Tracked = Callable[[torch.Tensor], bool]


def _bind(names: tuple[str, ...], args: tuple, kwargs: dict) -> dict[str, Any]:
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound


def _ndim(x: Any) -> int | None:
    return x.dim() if isinstance(x, torch.Tensor) else None


def _norm_dim(d: Any, n: int) -> int | None:
    try:
        d = operator.index(d)
    except TypeError:
        return None
    return d + n if d < 0 else d


def _norm_dims(d: Any, n: int) -> tuple[int, ...] | None:
    if isinstance(d, (list, tuple, torch.Size)):
        out = tuple(_norm_dim(x, n) for x in d)
        return None if any(x is None for x in out) else out  # type: ignore[return-value]
    one = _norm_dim(d, n)
    return None if one is None else (one,)


# ---- permutations ----------------------------------------------------------------------------

def _permute(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    x = args[0] if args else kwargs.get("input")
    n = _ndim(x)
    if n is None:
        return {}
    dims = kwargs.get("dims", args[1:] if len(args) > 2 else (args[1] if len(args) > 1 else None))
    perm = _norm_dims(dims, n)
    return {"dims": perm} if perm is not None and sorted(perm) == list(range(n)) else {}


def _transpose(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    b = _bind(("input", "dim0", "dim1"), args, kwargs)
    n = _ndim(b.get("input"))
    if n is None:
        return {}
    if n <= 2 and "dim0" not in b:  # x.t()
        return {"dims": tuple(reversed(range(n)))}
    d0, d1 = _norm_dim(b.get("dim0"), n), _norm_dim(b.get("dim1"), n)
    if d0 is None or d1 is None:
        return {}
    perm = list(range(n))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return {"dims": tuple(perm)}


def _movedim(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    b = _bind(("input", "source", "destination"), args, kwargs)
    n = _ndim(b.get("input"))
    if n is None:
        return {}
    src, dst = _norm_dims(b.get("source"), n), _norm_dims(b.get("destination"), n)
    if src is None or dst is None or len(src) != len(dst):
        return {}
    rest = [d for d in range(n) if d not in src]
    perm: list[int | None] = [None] * n
    for s, d in zip(src, dst):
        perm[d] = s
    it = iter(rest)
    return {"dims": tuple(p if p is not None else next(it) for p in perm)}


# ---- ops along dims --------------------------------------------------------------------------

def _along(names: tuple[str, ...], key: str = "dim", many: bool = False,
           default: int | None = None):
    """An op with one (or, ``many``, a tuple of) dim argument: ``dim`` normalised, ``keepdim``.
    ``default``: the dim when the call gives none (``sort``: -1; ``normalize``: 1)."""
    def attrs(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
        b = _bind(names, args, kwargs)
        n = _ndim(b.get("input"))
        if n is None:
            return {}
        out: dict[str, Any] = {}
        d = b.get(key, default)
        if d is None:
            out["dim"] = None
        else:
            dims = _norm_dims(d, n)
            if dims is None:
                return {}
            out["dim"] = dims if many else dims[0]
        if "keepdim" in names:
            out["keepdim"] = bool(b.get("keepdim", False))
        return out
    return attrs


def _reduce(names: tuple[str, ...] = ("input", "dim", "keepdim")):
    return _along(names, many=True)


def _cat(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    b = _bind(("tensors", "dim"), args, kwargs)
    ts = [t for t in (b.get("tensors") or ()) if isinstance(t, torch.Tensor)]
    if not ts:
        return {}
    n = ts[0].dim()
    d = _norm_dim(b.get("dim", 0), n)
    if d is None:
        return {}
    return {"dim": d, "sizes": tuple(int(t.shape[d]) if t.dim() > d else 0 for t in ts),
            "tracked": tuple(bool(tracked(t)) for t in ts)}


def _stack(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    b = _bind(("tensors", "dim"), args, kwargs)
    ts = [t for t in (b.get("tensors") or ()) if isinstance(t, torch.Tensor)]
    if not ts:
        return {}
    d = _norm_dim(b.get("dim", 0), ts[0].dim() + 1)
    return {} if d is None else {"dim": d, "tracked": tuple(bool(tracked(t)) for t in ts)}


def _roll(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    b = _bind(("input", "shifts", "dims"), args, kwargs)
    n = _ndim(b.get("input"))
    if n is None:
        return {}
    dims = b.get("dims")
    return {"dim": None if dims is None else _norm_dims(dims, n)}


def _operands(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    """matmul / mm / bmm: which of the two operands is traced (the other may be a weight)."""
    ts = [t for t in args[:2] if isinstance(t, torch.Tensor)]
    return {"tracked": tuple(bool(tracked(t)) for t in ts)} if len(ts) == 2 else {}


def _einsum(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    if not args or not isinstance(args[0], str):
        return {}
    ops = args[1:]
    if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
        ops = tuple(ops[0])
    ts = [t for t in ops if isinstance(t, torch.Tensor)]
    return {"equation": args[0].replace(" ", ""),
            "ndims": tuple(t.dim() for t in ts),
            "tracked": tuple(bool(tracked(t)) for t in ts)}


def _layer_norm(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    """layer_norm / rms_norm: statistics over the last ``len(normalized_shape)`` dims."""
    b = _bind(("input", "normalized_shape"), args, kwargs)
    shape = b.get("normalized_shape")
    if isinstance(shape, int):
        return {"norm_ndim": 1}
    return {"norm_ndim": len(shape)} if isinstance(shape, (list, tuple, torch.Size)) else {}


def _instance_norm(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    """instance_norm: per-sample statistics over the positions unless running stats are used."""
    b = _bind(("input", "running_mean", "running_var", "weight", "bias", "use_input_stats"),
              args, kwargs)
    return {"input_stats": bool(b.get("use_input_stats", True))}


def _batch_norm(args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    """batch_norm (``F.batch_norm`` and ``torch.batch_norm``, both with ``training`` sixth):
    statistics of this batch over every position when training; running ones otherwise.
    Recorded only when true, so the usual eval-mode call keeps no attribute."""
    b = _bind(("input", "a", "b", "c", "d", "training"), args, kwargs)
    return {"input_stats": True} if b.get("training") is True else {}


_RED = _reduce()
FUNCTIONS: dict[str, Callable[[tuple, dict, Tracked], dict[str, Any]]] = {
    "permute": _permute,
    "transpose": _transpose, "swapaxes": _transpose, "swapdims": _transpose, "t": _transpose,
    "movedim": _movedim, "moveaxis": _movedim,
    **{op: _RED for op in ("mean", "sum", "amax", "amin", "std", "var", "logsumexp", "nansum",
                           "nanmean", "std_mean", "var_mean", "norm", "prod", "all", "any",
                           "count_nonzero")},
    "max": _along(("input", "dim", "keepdim"), many=True),
    "min": _along(("input", "dim", "keepdim"), many=True),
    "median": _along(("input", "dim", "keepdim"), many=True),
    "argmax": _along(("input", "dim", "keepdim"), many=True),
    "argmin": _along(("input", "dim", "keepdim"), many=True),
    "softmax": _along(("input", "dim")), "log_softmax": _along(("input", "dim")),
    "softmin": _along(("input", "dim")),
    **{op: _along(("input", "dim")) for op in ("cumsum", "cumprod", "cummax", "cummin",
                                               "logcumsumexp")},
    "normalize": _along(("input", "p", "dim"), default=1),
    "sort": _along(("input", "dim"), default=-1), "argsort": _along(("input", "dim"), default=-1),
    **{op: _along(("input", "dim")) for op in ("index_select", "gather", "scatter", "scatter_add",
                                               "scatter_reduce", "index_add", "index_copy",
                                               "index_fill")},
    "take_along_dim": _along(("input", "indices", "dim")),
    "split": _along(("input", "split_size_or_sections", "dim")),
    "chunk": _along(("input", "chunks", "dim")),
    "tensor_split": _along(("input", "indices_or_sections", "dim")),
    "unbind": _along(("input", "dim")),
    "cat": _cat, "concat": _cat, "concatenate": _cat, "stack": _stack,
    "roll": _roll, "flip": _along(("input", "dims"), key="dims", many=True),
    "matmul": _operands, "mm": _operands, "bmm": _operands,
    "einsum": _einsum,
    "layer_norm": _layer_norm, "rms_norm": _layer_norm, "instance_norm": _instance_norm,
    "batch_norm": _batch_norm,
}

# tensor methods whose dim defaults differ from the functional form
_DEFAULT_DIM0 = {"split", "chunk", "tensor_split", "unbind", "cat", "concat", "concatenate"}


def function_attrs(op: str, args: tuple, kwargs: dict, tracked: Tracked) -> dict[str, Any]:
    """Attributes of functional op ``op`` (the tracer's canonical name) for the RF pass."""
    fn = FUNCTIONS.get(op.rstrip("_"))
    if fn is None:
        return {}
    try:
        out = fn(args, kwargs, tracked)
    except (TypeError, ValueError, IndexError):  # an unusual call form: no attrs, never a crash
        return {}
    if op in _DEFAULT_DIM0 and out.get("dim", 0) is None:
        out["dim"] = 0
    return out


def module_attrs(m: nn.Module) -> dict[str, Any]:
    """Attributes of a leaf module for the RF pass (layouts it assumes)."""
    if isinstance(m, nn.MultiheadAttention):
        return {"batch_first": bool(m.batch_first)}
    if isinstance(m, nn.RNNBase):  # LSTM, GRU, RNN: which dim is the sequence, both directions?
        return {"batch_first": bool(m.batch_first), "bidirectional": bool(m.bidirectional),
                "hidden_size": int(m.hidden_size), "num_layers": int(m.num_layers),
                "proj_size": int(getattr(m, "proj_size", 0) or 0)}
    if isinstance(m, nn.Softmax | nn.LogSoftmax | nn.Softmin) and m.dim is not None:
        return {"dim": int(m.dim)}  # may be negative: resolved against the input's rank later
    if isinstance(m, nn.LayerNorm) or type(m).__name__ == "RMSNorm":
        shape = getattr(m, "normalized_shape", None)
        if isinstance(shape, (tuple, list, torch.Size)):
            return {"norm_ndim": len(shape)}     # statistics over the last len(shape) dims
    if isinstance(m, nn.modules.instancenorm._InstanceNorm):
        # eval with running statistics is per-pixel; otherwise the statistics span the map
        return {"input_stats": not (m.track_running_stats and not m.training
                                    and m.running_mean is not None)}
    if isinstance(m, nn.modules.batchnorm._BatchNorm) and (
            m.training or (m.running_mean is None and m.running_var is None)):
        # PyTorch's own rule (`bn_training`): without running statistics (track_running_stats
        # =False) even eval mode normalises by this batch's statistics, over every position.
        # Recorded only then: an ordinary eval-mode BatchNorm keeps no attribute.
        return {"input_stats": True}
    if isinstance(m, nn.Flatten):
        return {"start_dim": int(m.start_dim), "end_dim": int(m.end_dim)}
    return {}
