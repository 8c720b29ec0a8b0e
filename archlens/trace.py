"""Run a model's forward pass once and record every executed op and the tensors between them.

Mechanism (no metrics here, just the raw op record):

* per-module forward pre/post hooks keep a stack of the modules currently executing, so every
  op knows its owner's path. A *leaf* module becomes one record, whatever its forward does
  inside; leaves are the childless modules whose ``forward`` is torch.nn's own code (``nn.Conv2d``,
  ``nn.ReLU``, a subclass that only changes ``__init__``) and the types in :data:`OPAQUE`. A
  user-written childless module (its ``forward`` calls ``F.conv2d(x, self.weight, ...)``, gates
  ``x * self.scale`` ...) is *opened*: its functional ops become records named under its path
  (``mymod.conv2d``), each with the geometry and parameters it uses -- one opaque node would
  have no geometry, and its receptive field would silently count as pointwise
  (:func:`is_library_leaf`, docs/engine.md "Leaf rule");
* a :class:`torch.overrides.TorchFunctionMode` sees every torch function called between leaf
  modules (``torch.cat``, ``+``, ``F.relu``, ``F.max_pool2d``, ``x.view`` ...); an op becomes a
  record when at least one of its tensor arguments is *tracked* (produced by the input or an
  earlier record). Metadata reads (``x.shape``, ``x.size()``) return no tensor and are skipped;
* tensors are tracked by identity (``id`` -> producing record; references are kept alive for
  the duration of the trace so ids are never reused). An in-place op (``relu_``, ``+=``,
  ``ReLU(inplace=True)``) returns the same tensor object, so it simply becomes the new
  producer of that tensor: later readers depend on the in-place op, as they do at run time.

The :class:`Tracer` is a context manager around *any* forward call, so the engine can run it
inside fvcore's own jit trace (one forward pass for both, see docs/engine.md).
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from archlens import op_attrs

# Modules recorded as one node even though they have children (their internals are an
# implementation detail of one op).
OPAQUE: tuple[type, ...] = (nn.MultiheadAttention,)

# Packages whose childless modules are library layers (one node each): their geometry is read
# from the module's attributes by :func:`module_geometry`.
LEAF_PACKAGES: tuple[str, ...] = ("torch.nn.", "torch.ao.nn.")

# Methods through which a torch.nn layer computes; a subclass overriding one of them is user code.
_FORWARD_METHODS = ("forward", "_conv_forward")


def _from_torch_nn(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith(LEAF_PACKAGES)


_BASE_TYPES: dict[type, str] = {}


def base_type_of(cls: type) -> str:
    """The torch.nn class ``cls`` behaves as: the first class of its MRO defined in
    ``torch.nn`` / ``torch.ao.nn`` other than ``nn.Module`` itself (``WSConv2d(nn.Conv2d)`` ->
    ``"Conv2d"``, ``MyBN(nn.BatchNorm2d)`` -> ``"BatchNorm2d"``); its own name when none is
    (a direct ``nn.Module`` subclass). Why: layers are matched by kind everywhere (paper
    profile, checks, labels) and a subclass must count as what it subclasses."""
    try:
        return _BASE_TYPES[cls]
    except KeyError:
        pass
    name = cls.__name__
    for base in cls.__mro__:
        if base is nn.Module or base is object:
            break
        if _from_torch_nn(base):
            name = base.__name__
            break
    _BASE_TYPES[cls] = name
    return name


def is_library_leaf(m: nn.Module) -> bool:
    """True when childless ``m`` computes with torch.nn's own code, so it is one node.

    That is a class defined in torch.nn (``nn.Conv2d``, ``nn.BatchNorm2d``), or a user subclass
    that inherits every forward method from torch.nn (``class MyConv(nn.Conv2d)`` with only a new
    ``__init__``). Anything else computes in user code: the tracer opens it and records the
    functional ops inside (why: a custom ``F.conv2d(x, w, stride=2)`` has geometry that one
    opaque node would lose).
    """
    cls = type(m)
    if _from_torch_nn(cls):
        return True
    if not any(_from_torch_nn(base) for base in cls.__mro__ if base not in (nn.Module, object)):
        return False  # a direct nn.Module subclass: user code
    return all(_from_torch_nn(getattr(cls, meth)) for meth in _FORWARD_METHODS
               if hasattr(cls, meth))


# Functional names -> canonical op type. Dunder methods and in-place variants are normalised.
_DUNDER = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub",
    "__rsub__": "sub", "__isub__": "sub_", "__mul__": "mul", "__rmul__": "mul",
    "__imul__": "mul_", "__truediv__": "div", "__rtruediv__": "div", "__itruediv__": "div_",
    "__matmul__": "matmul", "__rmatmul__": "matmul", "__getitem__": "getitem",
    "__neg__": "neg", "__pow__": "pow", "__floordiv__": "floor_divide",
    "__and__": "and", "__or__": "or", "__setitem__": "setitem",
}

# Positional parameter names of the functional ops whose geometry we read.
_SIGS: dict[str, tuple[str, ...]] = {
    "max_pool1d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                   "return_indices"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                   "return_indices"),
    "max_pool3d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                   "return_indices"),
    "avg_pool1d": ("input", "kernel_size", "stride", "padding", "ceil_mode",
                   "count_include_pad"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding", "ceil_mode",
                   "count_include_pad", "divisor_override"),
    "avg_pool3d": ("input", "kernel_size", "stride", "padding", "ceil_mode",
                   "count_include_pad", "divisor_override"),
    "adaptive_avg_pool1d": ("input", "output_size"),
    "adaptive_avg_pool2d": ("input", "output_size"),
    "adaptive_avg_pool3d": ("input", "output_size"),
    "adaptive_max_pool1d": ("input", "output_size", "return_indices"),
    "adaptive_max_pool2d": ("input", "output_size", "return_indices"),
    "adaptive_max_pool3d": ("input", "output_size", "return_indices"),
    "conv1d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv3d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv_transpose1d": ("input", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"),
    "conv_transpose2d": ("input", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"),
    "conv_transpose3d": ("input", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"),
    "interpolate": ("input", "size", "scale_factor", "mode", "align_corners",
                    "recompute_scale_factor"),
    "upsample": ("input", "size", "scale_factor", "mode", "align_corners"),
    "pad": ("input", "pad", "mode", "value"),
}


@dataclass
class OpRecord:
    """One executed op, before metrics. ``inputs`` are record names (``"input"`` = graph input)."""

    name: str
    type: str
    kind: str                     # "module" | "function"
    module: str                   # owner module path ("" = root); for a module: its own path
    inputs: tuple[str, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    geometry: dict[str, Any] = field(default_factory=dict)  # kernel/stride/padding/dilation/groups
    attrs: dict[str, Any] = field(default_factory=dict)
    param_ids: tuple[int, ...] = ()      # ids of the parameters this op reads (own, first-use later)
    param_sizes: tuple[int, ...] = ()    # numel of each, aligned with param_ids
    param_trainable: tuple[bool, ...] = ()
    base_type: str = ""                  # what it behaves as (graph.Node.base_type); "" = type


@dataclass
class FailurePoint:
    """Where the forward pass raised: the innermost module (or functional op) and its input."""

    where: str            # module path or op record name ("" = the root module's own forward)
    type: str
    in_shapes: tuple[tuple[int, ...], ...]
    error: BaseException
    kind: str = "module"  # "function": a functional op inside module ``owner``
    owner: str = ""


def _tensors(obj: Any) -> list[torch.Tensor]:
    """Tensors inside (nested) args: tuples, lists, dicts, in order (a list: called several
    times per op, so no generator frames)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    out: list[torch.Tensor] = []
    _collect(obj, out)
    return out


def _collect(obj: Any, out: list[torch.Tensor]) -> None:
    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            if isinstance(o, torch.Tensor):
                out.append(o)
            elif isinstance(o, (list, tuple, dict)):
                _collect(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _collect(o, out)


class _untraced:
    """Pause a surrounding jit trace (fvcore's) while we do bookkeeping: sizes stay plain ints
    (no traced size ops, no tracer warnings) and nothing of ours lands in its graph."""

    __slots__ = ("state",)

    def __enter__(self) -> None:
        self.state = torch._C._get_tracing_state()
        if self.state is not None:
            torch._C._set_tracing_state(None)

    def __exit__(self, *exc) -> None:
        if self.state is not None:
            torch._C._set_tracing_state(self.state)


# Our own bookkeeping in the module hooks reads tensor attributes (shape, numel, _base ...);
# with a TorchFunctionMode active each read is a Python call into the mode. Disabling torch
# function for the bookkeeping skips them (measured: ~5 mode calls per node).
_NO_TORCH_FUNCTION = torch._C.DisableTorchFunction


_TRACING = torch._C._get_tracing_state


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    # int(): under a jit trace (fvcore's) sizes are traced values, not plain ints; otherwise a
    # torch.Size holds ints already
    if _TRACING() is not None:
        return tuple(int(s) for s in t.shape)
    return tuple(t.shape)


def _pair(v: Any, n: int = 2) -> tuple[int, ...] | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        t = tuple(int(x) for x in v)
        return t * n if len(t) == 1 and n > 1 else t
    return (int(v),) * n


def _op_name(func: Callable) -> str:
    name = getattr(func, "__name__", None) or str(func)
    name = _DUNDER.get(name, name)
    if name.startswith("_") and not name.startswith("__"):
        name = name.lstrip("_")
    if name.startswith("__") and name.endswith("__"):
        name = name.strip("_")
    return name.rstrip("_") or name  # in-place variants: same type (attrs say "inplace")


def _padding_numbers(padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...],
                     n: int) -> tuple[int, ...]:
    """'same' / 'valid' -> numbers: PyTorch pads 'same' with total d*(k-1), left = total // 2."""
    if padding == "valid":
        return (0,) * n
    if padding == "same":
        return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
    return _pair(padding, n)  # type: ignore[return-value]


def _ndim_of(type_name: str) -> int:
    for n in (1, 2, 3):
        if type_name.endswith(f"{n}d"):
            return n
    return 2


def module_geometry(m: nn.Module) -> tuple[dict[str, Any], dict[str, Any]]:
    """(geometry, attrs) of a leaf module: conv / pool / adaptive pool / upsample / linear ..."""
    geo: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    tname = base_type_of(type(m))
    if isinstance(m, nn.modules.conv._ConvNd):
        n = len(m.kernel_size)
        k, d = tuple(m.kernel_size), tuple(m.dilation)
        geo = dict(kernel=k, stride=tuple(m.stride), dilation=d, groups=int(m.groups),
                   padding=_padding_numbers(m.padding, k, d, n))
        attrs = dict(in_channels=m.in_channels, out_channels=m.out_channels,
                     bias=m.bias is not None)
        if m.padding_mode != "zeros":
            attrs["padding_mode"] = m.padding_mode
        if m.transposed:
            attrs["transposed"] = True
            attrs["output_padding"] = tuple(m.output_padding)
    elif isinstance(m, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        n = _ndim_of(tname)
        k = _pair(m.kernel_size, n)
        geo = dict(kernel=k, stride=_pair(m.stride, n) if m.stride else k,
                   padding=_pair(m.padding, n),
                   dilation=_pair(getattr(m, "dilation", 1), n), groups=None)
        attrs = dict(ceil_mode=bool(m.ceil_mode))
        if hasattr(m, "count_include_pad"):
            attrs["count_include_pad"] = bool(m.count_include_pad)
    elif isinstance(m, (nn.modules.pooling._AdaptiveAvgPoolNd,
                        nn.modules.pooling._AdaptiveMaxPoolNd)):
        attrs = dict(output_size=_jsonable(m.output_size))
    elif isinstance(m, nn.Upsample):
        attrs = dict(scale_factor=_jsonable(m.scale_factor), size=_jsonable(m.size),
                     mode=m.mode, align_corners=bool(m.align_corners),
                     recompute_scale_factor=bool(m.recompute_scale_factor))
    elif isinstance(m, nn.Linear):
        attrs = dict(in_features=m.in_features, out_features=m.out_features,
                     bias=m.bias is not None)
    elif isinstance(m, nn.modules.padding._ReflectionPadNd | nn.modules.padding._ReplicationPadNd
                    | nn.modules.padding._ConstantPadNd):
        attrs = dict(pad=tuple(m.padding))
    return geo, attrs


def _jsonable(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_jsonable(x) for x in v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, torch.Size):
        return tuple(int(x) for x in v)
    return str(v)


def basic_index(shape: tuple[int, ...], index: Any) -> tuple[Any, ...] | None:
    """``x[index]`` normalised, one entry per index position after ``...`` is expanded and
    missing trailing dims are filled: ``(start, stop, step)`` for a slice (``slice.indices``:
    non-negative, clipped), an ``int`` (non-negative) for an integer, ``None`` for a new axis.

    ``None`` when the index is not basic (a tensor, list or bool mask: advanced indexing).
    Example: shape (1, 8, 12, 12), ``x[:, :, 2:-2, ::2]`` ->
    ``((0, 1, 1), (0, 8, 1), (2, 10, 1), (0, 12, 2))``.
    """
    items: list[Any] = []
    for i in index if isinstance(index, tuple) else (index,):
        if i is None or i is Ellipsis or isinstance(i, slice):
            items.append(i)
        elif isinstance(i, (bool, torch.Tensor)) or not hasattr(i, "__index__"):
            return None
        else:
            items.append(operator.index(i))
    ellipses = [k for k, i in enumerate(items) if i is Ellipsis]
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    if len(ellipses) > 1 or used > len(shape):
        return None
    fill = [slice(None)] * (len(shape) - used)
    if ellipses:
        items[ellipses[0]:ellipses[0] + 1] = fill
    else:
        items += fill
    out: list[Any] = []
    dim = 0
    try:
        for i in items:
            if i is None:
                out.append(None)
                continue
            n = int(shape[dim])
            dim += 1
            if isinstance(i, slice):
                out.append(tuple(int(v) for v in i.indices(n)))
            else:
                out.append(i + n if i < 0 else i)
    except (TypeError, ValueError):  # slice bounds that are not integers
        return None
    return tuple(out)


def _index_attrs(op: str, args: tuple, kwargs: dict) -> dict[str, Any]:
    """``{"index": basic_index(...)}`` for ``x[...]`` and ``narrow``; ``{}`` when not basic.

    Why: a spatial crop (``x[:, :, 2:-2, 2:-2]``) moves the receptive window by ``start * jump``
    and a step acts like a stride; without the index the field would be unknown from there on.
    """
    x = args[0] if args else kwargs.get("input")
    if not isinstance(x, torch.Tensor):
        return {}
    shape = _shape(x)
    if op in ("getitem", "setitem"):
        idx = basic_index(shape, args[1] if len(args) > 1 else kwargs.get("indices"))
    else:  # narrow(input, dim, start, length)
        bound = dict(zip(("input", "dim", "start", "length"), args))
        bound.update(kwargs)
        try:
            dim, start, length = (operator.index(bound[k]) for k in ("dim", "start", "length"))
        except (KeyError, TypeError):
            return {}
        dim = dim + len(shape) if dim < 0 else dim
        start = start + shape[dim] if start < 0 else start
        idx = basic_index(shape, (slice(None),) * dim + (slice(start, start + length),))
    return {"index": idx} if idx is not None else {}


def function_geometry(op: str, args: tuple, kwargs: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    """(geometry, attrs) of a functional op from its bound arguments."""
    base = op.rstrip("_")
    if base in ("getitem", "narrow", "setitem"):
        return {}, _index_attrs(base, args, kwargs)
    sig = _SIGS.get(base)
    if sig is None:
        return {}, {}
    bound = dict(zip(sig, args))
    bound.update(kwargs)
    geo: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    n = _ndim_of(base)
    if "pool" in base and "adaptive" not in base:
        k = _pair(bound.get("kernel_size"), n)
        stride = bound.get("stride")
        geo = dict(kernel=k, stride=_pair(stride, n) if stride not in (None, (), []) else k,
                   padding=_pair(bound.get("padding", 0), n),
                   dilation=_pair(bound.get("dilation", 1), n), groups=None)
        attrs = dict(ceil_mode=bool(bound.get("ceil_mode", False)))
        if base.startswith("avg"):
            attrs["count_include_pad"] = bool(bound.get("count_include_pad", True))
    elif base.startswith("adaptive"):
        attrs = dict(output_size=_jsonable(bound.get("output_size")))
    elif base.startswith("conv"):
        w = bound.get("weight")
        if isinstance(w, torch.Tensor):
            k = tuple(int(s) for s in w.shape[2:])
            n = len(k)
            d = _pair(bound.get("dilation", 1), n)
            geo = dict(kernel=k, stride=_pair(bound.get("stride", 1), n), dilation=d,
                       groups=int(bound.get("groups", 1)),
                       padding=_padding_numbers(bound.get("padding", 0), k, d, n))
            if "transpose" in base:
                attrs = dict(transposed=True,
                             output_padding=_pair(bound.get("output_padding", 0), n))
    elif base in ("interpolate", "upsample"):
        attrs = dict(size=_jsonable(bound.get("size")),
                     scale_factor=_jsonable(bound.get("scale_factor")),
                     mode=bound.get("mode", "nearest"),
                     align_corners=bool(bound.get("align_corners") or False),
                     recompute_scale_factor=bool(bound.get("recompute_scale_factor") or False))
    elif base == "pad":
        attrs = dict(pad=_jsonable(bound.get("pad")), mode=bound.get("mode", "constant"))
    return geo, attrs


# ops whose empty output is what the program asked for (a zero-length slice or split)
_SELECTIONS = frozenset({"getitem", "narrow", "split", "chunk", "tensor_split", "split_with_sizes",
                         "unbind", "index_select", "masked_select", "new_zeros", "new_ones",
                         "new_full", "new_empty", "new_tensor", "zeros_like", "ones_like",
                         "empty_like", "full_like", "rand_like", "randn_like"})


def _empty_means_too_small(rec: OpRecord) -> bool:
    """An empty output that says the input is too small: a window op (kernel, or an adaptive
    pool) reading or making an empty map, or an op other than a selection emptying inputs that
    were not empty. An op on an already empty slice (``x[:, :, :0].float()``) is neither."""
    if rec.geometry.get("kernel") is not None or "adaptive" in rec.type.lower():
        return True
    if rec.type.rstrip("_") in _SELECTIONS:
        return False
    return not any(any(s == 0 for s in shape[1:]) for shape in rec.in_shapes)


def _own_parameters(mod: nn.Module) -> Iterable[nn.Parameter]:
    """``mod.parameters()``: for a childless module (nearly every leaf) its own table, each
    parameter once, without ``named_modules``' generators (a fifth of a leaf's record)."""
    if mod._modules or type(mod).parameters is not nn.Module.parameters:
        return mod.parameters()
    seen: dict[int, nn.Parameter] = {}
    for p in mod._parameters.values():
        if p is not None:
            seen.setdefault(id(p), p)
    return seen.values()


class _FunctionRecorder(TorchFunctionMode):
    def __init__(self, tracer: "Tracer"):
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        t = self.tracer
        if not t.active:
            return func(*args, **kwargs)
        # the outermost torch function now running (counters below us may ask, e.g. to tell
        # adaptive_avg_pool2d's internal mean from a user's mean)
        outer, t.current_fn = t.current_fn, getattr(func, "__name__", "")
        try:
            if t.leaf_depth:
                return func(*args, **kwargs)
            try:
                out = func(*args, **kwargs)
            except Exception as e:
                t.note_function_failure(func, args, kwargs, e)
                raise
        finally:
            t.current_fn = outer
        with _untraced():
            t.record_function(func, args, kwargs, out)
        return out


class Tracer:
    """Records ops of forward passes run inside ``with Tracer(model) as tr:``.

    After the pass: ``tr.records`` (execution order), ``tr.output_names``; on failure
    ``tr.failure`` says where. ``mark_input(tensor)`` declares graph inputs explicitly; if none
    is declared, the tensors passed to the root module's forward become the input.
    """

    def __init__(self, model: nn.Module, opaque: tuple[type, ...] = OPAQUE):
        self.model = model
        self.opaque = opaque
        self.paths: dict[int, str] = {}
        for name, m in model.named_modules():  # first name of a shared module wins
            self.paths.setdefault(id(m), name)
        self.records: list[OpRecord] = []
        self.names: set[str] = set()
        self._counts: dict[str, int] = {}
        self.producer: dict[int, str] = {}
        # tensors computed from parameters only (``self.weight * self.gain``, a standardised
        # weight): id -> the parameters they derive from, credited to the op that reads them
        self.derived: dict[int, tuple[nn.Parameter, ...]] = {}
        self._alive: list[Any] = []
        # modules executing that are opened, not leaves: (path, module, input shapes, input
        # tensors -- kept only for an opened *childless* module, see _leave)
        self.stack: list[tuple[str, nn.Module, tuple[tuple[int, ...], ...],
                               list[torch.Tensor]]] = []
        self._hooked: set[int] = set()
        self.leaf_depth = 0
        self.active = False
        self.input_shapes: tuple[tuple[int, ...], ...] = ()
        self.input_marked = False
        self.output_names: tuple[str, ...] = ()
        self.failure: FailurePoint | None = None
        self._handles: list[Any] = []
        self._leaf_in: list[tuple[nn.Module, list[torch.Tensor]]] = []
        self._mode = _FunctionRecorder(self)
        # first record whose empty output (a zero dimension) means the input is too small: a
        # window op (conv, pool) reading or making an empty map, or any op emptying non-empty
        # inputs except an explicit selection (``x[:, :, :0]``: timm's rope splits off zero
        # prefix tokens that way, and the pass is fine). ``first_slice_empty``: such a
        # selection, which explains a forward pass that then fails
        self.first_empty: str | None = None
        self.first_slice_empty: str | None = None
        self.current_fn = ""
        self.on_record: Callable[[OpRecord], None] | None = None  # called as each record lands

    # ----- set-up -------------------------------------------------------------------------
    def __enter__(self) -> "Tracer":
        for m in self.model.modules():
            if id(m) in self._hooked:
                continue
            self._hooked.add(id(m))
            self._handles.append(m.register_forward_pre_hook(self._pre, with_kwargs=True))
            self._handles.append(m.register_forward_hook(self._post, with_kwargs=True))
        self.active = True
        self._mode.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._mode.__exit__(exc_type, exc, tb)
        self.active = False
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._hooked.clear()
        self._alive.clear()

    def release(self) -> None:
        """After the last pass: drop the tracer's links to its function mode (which points back
        at it) and to the ``on_record`` callback (a MAC counter that points back too). Without
        those cycles the tracer, its records and a meta model copy are freed by reference
        counting as soon as the caller lets go, instead of waiting for the cyclic collector:
        the one collection after ``engine.gc_paused`` then traverses half the objects (138,149
        of 294,395 young objects were this garbage on an 8,001-node net). The tracer cannot be
        entered again."""
        self._mode = None  # type: ignore[assignment]
        self.on_record = None

    def mark_input(self, *tensors: torch.Tensor) -> None:
        """Declare the graph input tensors (all map to the one ``input`` node)."""
        self.input_marked = True
        self.input_shapes = tuple(_shape(t) for t in tensors)
        for x in tensors:
            self._track(x, "input")

    def set_outputs(self, out: Any) -> None:
        names: list[str] = []
        for t in _tensors(out):
            n = self.producer.get(id(t))
            if n is not None and n not in names:
                names.append(n)
        self.output_names = tuple(names)

    # ----- helpers ------------------------------------------------------------------------
    def _track(self, t: torch.Tensor, name: str) -> None:
        self.producer[id(t)] = name
        self._alive.append(t)

    def _is_leaf(self, m: nn.Module) -> bool:
        """One node: an :data:`OPAQUE` type, or a childless module running torch.nn's own code
        (:func:`is_library_leaf`). A user's childless module -- the root model included -- is
        opened, so the functional ops of its ``forward`` are recorded with their geometry."""
        if isinstance(m, self.opaque):
            return True
        return not m._modules and is_library_leaf(m)

    def _param_sources(self, ins: Iterable[torch.Tensor]) -> tuple[nn.Parameter, ...]:
        """The parameters an op reads: ``nn.Parameter`` arguments and the parameters behind
        tensors derived from parameters only (unique, in argument order)."""
        found: dict[int, nn.Parameter] = {}
        for t in ins:
            if isinstance(t, nn.Parameter):
                found.setdefault(id(t), t)
            else:
                for p in self.derived.get(id(t), ()):
                    found.setdefault(id(p), p)
        return tuple(found.values())

    def _unique(self, base: str) -> str:
        k = self._counts.get(base, 0) + 1
        self._counts[base] = k
        name = base if k == 1 else f"{base}#{k}"
        while name in self.names:  # e.g. an op name that equals a child module's path
            k += 1
            self._counts[base] = k
            name = f"{base}#{k}"
        self.names.add(name)
        return name

    def _inputs_of(self, tensors: Iterable[torch.Tensor]) -> tuple[list[str], list[tuple[int, ...]]]:
        names, shapes = [], []
        for t in tensors:
            n = self.producer.get(id(t))
            if n is not None:
                names.append(n)
                shapes.append(_shape(t))
        return names, shapes

    def _add(self, rec: OpRecord, out: Any, ins: list[torch.Tensor]) -> None:
        outs = _tensors(out)
        rec.out_shape = _shape(outs[0]) if outs else ()
        if len(outs) > 1:
            rec.attrs["out_shapes"] = tuple(_shape(o) for o in outs)
        # aliasing (for the memory estimate): same object = in-place, a view of the input = view
        if outs and ins:
            first = ins[0]
            o = outs[0]
            if o is first:
                rec.attrs["inplace"] = True
            elif o._is_view() and (o._base is first or (first._is_view() and o._base is first._base)
                                   or o._base is getattr(first, "_base", None) is not None):
                rec.attrs["view"] = True
        self.records.append(rec)
        if self.on_record is not None:
            self.on_record(rec)
        for o in outs:
            self._track(o, rec.name)
        if self.first_empty is None and outs and any(s == 0 for s in outs[0].shape[1:]):
            if _empty_means_too_small(rec):
                self.first_empty = rec.name
            elif self.first_slice_empty is None:
                self.first_slice_empty = rec.name

    # ----- module hooks -------------------------------------------------------------------
    def _pre(self, m: nn.Module, args: tuple, kwargs: dict) -> None:
        if not self.active:
            return None
        self.active = False  # tensor attribute reads below must not be recorded as ops
        try:
            with _untraced(), _NO_TORCH_FUNCTION():  # nor even reach the mode (cost)
                self._enter(m, args, kwargs)
        finally:
            self.active = True
        return None

    def _post(self, m: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
        if not self.active:
            return None
        self.active = False
        try:
            with _untraced(), _NO_TORCH_FUNCTION():
                self._leave(m, out)
        finally:
            self.active = True
        return None

    def _enter(self, m: nn.Module, args: tuple, kwargs: dict) -> None:
        path = self.paths.get(id(m), "")
        tens = _tensors(args) + _tensors(kwargs) if kwargs else _tensors(args)
        if m is self.model and not self.stack and not self.input_marked:
            self.mark_input(*[t for t in tens if t.is_floating_point() or t.is_complex()]
                            or tens[:1])
        if self.leaf_depth:
            self.leaf_depth += 1
            return None
        if self._is_leaf(m):
            self.leaf_depth = 1
            self._leaf_in.append((m, tens))
        else:
            self.stack.append((path, m, tuple(_shape(t) for t in tens),
                               [] if m._modules else tens))
        return None

    def _leave(self, m: nn.Module, out: Any) -> None:
        if self.leaf_depth > 1:
            self.leaf_depth -= 1
            return None
        if self.leaf_depth == 1:
            self.leaf_depth = 0
            mod, tens = self._leaf_in.pop()
            self._module_record(mod, tens, out)
            if mod is self.model:
                self.set_outputs(out)
            return None
        if self.stack and self.stack[-1][1] is m:
            _path, _m, _shapes, tens = self.stack.pop()
            outs = _tensors(out)
            if tens and outs and not any(id(o) in self.producer for o in outs):
                # an opened childless module none of whose recorded ops produced its output
                # (it computed outside torch, e.g. through numpy): one node, so the graph stays
                # connected; attrs say why it has no geometry
                self._module_record(m, tens, out, opaque="no recorded op produced its output")
            if m is self.model:
                self.set_outputs(out)
        return None

    def _module_record(self, mod: nn.Module, tens: list[torch.Tensor], out: Any,
                       opaque: str | None = None) -> None:
        names, shapes = self._inputs_of(tens)
        if not names:
            return
        path = self.paths.get(id(mod), type(mod).__name__)
        geo, attrs = module_geometry(mod)
        attrs.update(op_attrs.module_attrs(mod))  # RF hook: layouts (archlens/op_attrs.py)
        if opaque:
            attrs["opaque"] = opaque
        params = [(id(p), int(p.numel()), p.requires_grad) for p in _own_parameters(mod)]
        rec = OpRecord(name=self._unique(path or type(mod).__name__),
                       type=type(mod).__name__, base_type=base_type_of(type(mod)),
                       kind="module", module=path,
                       inputs=tuple(names), in_shapes=tuple(shapes), out_shape=(),
                       geometry=geo, attrs=attrs,
                       param_ids=tuple(p[0] for p in params),
                       param_sizes=tuple(p[1] for p in params),
                       param_trainable=tuple(p[2] for p in params))
        self._add(rec, out, [t for t in tens if id(t) in self.producer])

    # ----- functional ops -----------------------------------------------------------------
    def record_function(self, func: Callable, args: tuple, kwargs: dict, out: Any) -> None:
        if out is None and len(args) > 2 and isinstance(args[0], torch.Tensor) \
                and getattr(func, "__name__", "") == "__setitem__" \
                and any(id(t) in self.producer for t in _tensors(args[2])):
            # x[idx] = v with a traced v writes v into x: a node, or v's path would be lost (a
            # constant v only masks positions, as masked_fill does: no node, as before)
            out = args[0]
        outs = _tensors(out)
        if not outs:
            return
        ins = _tensors((args, kwargs))
        tracked = [t for t in ins if id(t) in self.producer]
        if not tracked:
            sources = self._param_sources(ins)
            if sources:  # e.g. w = self.weight - self.weight.mean(): remember where w came from
                for o in outs:
                    self.derived[id(o)] = sources
                    self._alive.append(o)
            return
        op = _op_name(func)
        parent = self.stack[-1][0] if self.stack else ""
        base = f"{parent}.{op}" if parent else op
        geo, attrs = function_geometry(op, args, kwargs)
        attrs.update(op_attrs.function_attrs(  # RF hook: dims, operands (archlens/op_attrs.py)
            op, args, kwargs, lambda x: id(x) in self.producer))
        params = self._param_sources(ins)
        names, shapes = self._inputs_of(tracked)
        rec = OpRecord(name=self._unique(base), type=op, kind="function", module=parent,
                       inputs=tuple(names), in_shapes=tuple(shapes), out_shape=(),
                       geometry=geo, attrs=attrs,
                       param_ids=tuple(id(p) for p in params),
                       param_sizes=tuple(int(p.numel()) for p in params),
                       param_trainable=tuple(p.requires_grad for p in params))
        self._add(rec, out, tracked)

    def note_function_failure(self, func: Callable, args: tuple, kwargs: dict,
                              e: BaseException) -> None:
        if self.failure is not None:
            return
        ins = [t for t in _tensors((args, kwargs)) if id(t) in self.producer]
        if not ins:
            return
        op = _op_name(func)
        parent = self.stack[-1][0] if self.stack else ""
        self.failure = FailurePoint(where=f"{parent}.{op}" if parent else op, type=op,
                                    in_shapes=tuple(_shape(t) for t in ins), error=e,
                                    kind="function", owner=parent)

    def failure_point(self, e: BaseException) -> FailurePoint:
        """The innermost place the pass failed: a functional op, else the innermost module."""
        if self.failure is not None and self.failure.error is e:
            return self.failure
        if self._leaf_in:
            m, tens = self._leaf_in[-1]
            return FailurePoint(self.paths.get(id(m), type(m).__name__), type(m).__name__,
                                tuple(_shape(t) for t in tens), e)
        if self.stack:
            path, m, shapes, _tens = self.stack[-1]
            return FailurePoint(path, type(m).__name__, shapes, e)
        return FailurePoint("", type(self.model).__name__, self.input_shapes, e)
