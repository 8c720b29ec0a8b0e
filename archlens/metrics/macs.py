"""MACs (multiply-accumulates) per node, from library formulas -- never our own op table.

Two counters, equal node for node on every zoo model (tests/engine/test_macs.py):

* ``eager`` (default, :class:`MacCounter`): one TorchDispatchMode active during the same eager
  forward pass that records the graph, on real and meta tensors alike. Formulas:
  torch.utils.flop_counter's ``flop_registry`` (2 FLOPs per MAC, halved here) plus formulas for
  what fvcore counts and flop_counter does not (batch/group/layer/instance norm, adaptive
  average pooling, nearest/bilinear upsampling, grid sampling), written to equal fvcore's
  handles, and the CPU kernel of scaled-dot-product attention. Each node gets the MACs counted
  while it ran.
* ``fvcore``: fvcore's :class:`~fvcore.nn.FlopCountAnalysis` (whose "flops" are MACs) in its
  own jit-traced pass; its per-module, per-operator counts are mapped onto the eager nodes
  (:func:`attribute_fvcore`); the total is fvcore's by construction.

Ops no formula covers go to ``unsupported_ops`` (op -> times seen). Ops that perform no
multiplication at all are zero *by convention* and are not listed (see :data:`ZERO_BY_CONVENTION`
and docs/engine.md): comparisons (relu, max-pooling), additions (residual add, sum), and data
movement (cat, view, flatten, pad ...). Everything else fvcore does not count (avg_pool2d, mul,
sigmoid, softmax, mean ...) is listed, so a reader sees what the total leaves out.
"""
from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from archlens.meta_kernels import meta_call as _meta_call
from archlens.trace import OpRecord

aten = torch.ops.aten

# Ops that do no multiplication: 0 MACs is their exact count, not a gap in coverage.
# (fvcore's own _IGNORED_OPS are data movement/comparisons; it reports these as unsupported.)
ZERO_BY_CONVENTION = frozenset({
    "aten::max_pool1d", "aten::max_pool2d", "aten::max_pool3d",
    "aten::max_pool1d_with_indices", "aten::max_pool2d_with_indices",
    "aten::max_pool3d_with_indices", "aten::adaptive_max_pool1d", "aten::adaptive_max_pool2d",
    "aten::adaptive_max_pool3d", "aten::add", "aten::add_", "aten::sub", "aten::sub_",
    "aten::rsub", "aten::sum", "aten::neg", "aten::abs", "aten::hardtanh", "aten::hardtanh_",
    "aten::relu6", "aten::leaky_relu", "aten::leaky_relu_", "aten::maximum", "aten::minimum",
    "aten::min", "aten::argmax", "aten::argmin", "aten::topk", "aten::sort",
    # padding is data movement (fvcore names F.pad "aten::pad"; dispatch: constant_pad_nd ...)
    "aten::pad", "aten::reflection_pad1d", "aten::reflection_pad2d", "aten::reflection_pad3d",
    "aten::replication_pad1d", "aten::replication_pad2d", "aten::replication_pad3d",
    "aten::circular_pad", "aten::_pad_circular",
})

# Dispatch-level ops (meta path) that are bookkeeping / data movement, the counterparts of
# fvcore's _IGNORED_OPS at the jit level.
_META_IGNORED = frozenset({
    "aten::empty", "aten::empty_strided", "aten::empty_like", "aten::view", "aten::_unsafe_view",
    "aten::reshape", "aten::expand", "aten::as_strided", "aten::as_strided_", "aten::detach",
    "aten::alias",
    "aten::clone", "aten::copy_", "aten::_to_copy", "aten::t", "aten::transpose",
    "aten::permute", "aten::unsqueeze", "aten::squeeze", "aten::slice", "aten::select",
    "aten::cat", "aten::stack", "aten::split", "aten::split_with_sizes", "aten::chunk",
    "aten::unbind", "aten::flatten", "aten::contiguous", "aten::relu", "aten::relu_",
    "aten::dropout", "aten::zeros", "aten::zeros_like", "aten::ones", "aten::ones_like",
    "aten::full", "aten::full_like", "aten::fill_", "aten::zero_", "aten::new_empty",
    "aten::new_zeros", "aten::new_full", "aten::arange", "aten::constant_pad_nd", "aten::eq",
    "aten::ne", "aten::ge", "aten::gt", "aten::le", "aten::lt", "aten::clamp", "aten::clamp_",
    "aten::index", "aten::gather", "aten::narrow", "aten::masked_fill", "aten::max",
    "aten::nonzero", "aten::remainder", "aten::floor", "aten::floor_divide", "aten::roll",
    "aten::lift_fresh", "aten::type_as", "aten::to", "aten::_reshape_alias", "aten::lift",
    "aten::repeat", "aten::bitwise_not", "aten::__and__", "aten::unsqueeze_", "aten::size",
    "aten::is_same_size", "aten::resize_", "aten::set_", "aten::_local_scalar_dense",
    "aten::native_dropout", "aten::scalar_tensor", "aten::select_scatter",
    "aten::slice_scatter", "aten::index_put_", "aten::_unsafe_index",
})
# The eager counter names ops without leading underscores (MacCounter._observe), fvcore with
# them: the sets hold both spellings.
ZERO_BY_CONVENTION |= frozenset(n.replace("aten::_", "aten::", 1) for n in ZERO_BY_CONVENTION)
_META_IGNORED = frozenset(n.replace("aten::_", "aten::", 1) for n in _META_IGNORED)

# fvcore operator name -> functional node types it can belong to (for attributing the counts
# of a container module's own functional ops).
_FV_OP_TYPES: dict[str, frozenset[str]] = {
    "conv": frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                       "conv_transpose3d", "convolution"}),
    "linear": frozenset({"linear"}),
    "addmm": frozenset({"addmm", "linear"}),
    "matmul": frozenset({"matmul", "mm", "bmm", "einsum"}),
    "mm": frozenset({"mm", "matmul"}),
    "bmm": frozenset({"bmm", "matmul", "baddbmm"}),
    "einsum": frozenset({"einsum"}),
    "batch_norm": frozenset({"batch_norm"}),
    "group_norm": frozenset({"group_norm"}),
    "layer_norm": frozenset({"layer_norm"}),
    "instance_norm": frozenset({"instance_norm"}),
    "upsample_nearest2d": frozenset({"interpolate", "upsample", "upsample_nearest"}),
    "upsample_bilinear2d": frozenset({"interpolate", "upsample", "upsample_bilinear"}),
    "adaptive_avg_pool2d": frozenset({"adaptive_avg_pool2d"}),
    "grid_sampler": frozenset({"grid_sample"}),
}


def _matches(rec: OpRecord, op: str) -> bool:
    """Can fvcore operator ``op`` have come from functional record ``rec``?"""
    if rec.type not in _FV_OP_TYPES.get(op, frozenset({op})):
        return False
    if op.startswith("upsample_"):  # interpolate: the mode decides the aten op
        mode = str(rec.attrs.get("mode", "nearest"))
        return op == f"upsample_{mode}2d"
    return True


def _numel(shape: Sequence[int]) -> int:
    return math.prod(shape) if shape else 1


def split_exact(total: int, weights: Sequence[int]) -> list[int]:
    """Split integer ``total`` in proportion to ``weights`` so the parts sum to it exactly
    (largest remainder; equal parts when every weight is zero)."""
    n = len(weights)
    if n == 1:
        return [total]
    w = [max(int(x), 0) for x in weights]
    s = sum(w)
    if s == 0:
        w, s = [1] * n, n
    parts = [total * x // s for x in w]
    rest = total - sum(parts)
    order = sorted(range(n), key=lambda i: (-(total * w[i] % s), i))
    for i in order[:rest]:
        parts[i] += 1
    return parts


# ----------------------------------------------------------------------------------------
# real tensors: fvcore
# ----------------------------------------------------------------------------------------

def fvcore_analysis(model: torch.nn.Module, x: torch.Tensor):
    """A quiet FlopCountAnalysis (warnings off: we report unsupported ops ourselves)."""
    from fvcore.nn import FlopCountAnalysis
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    return (FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
            .uncalled_modules_warnings(False).tracer_warnings("none"))


def attribute_fvcore(records: Sequence[OpRecord],
                     by_module_and_operator: dict[str, Counter],
                     weights: Sequence[int] | None = None) -> list[int]:
    """MACs per record from fvcore's per-module, per-operator counts.

    * a leaf module's count (its whole subtree: an opaque module's children included) is split
      over its calls in proportion to their output elements (a module's cost per output element
      is fixed by its weights, so this is exact for conv/linear/norm layers);
    * a container module's *own* count (its count minus its children's) per operator goes to its
      functional nodes of the matching type (``adaptive_avg_pool2d``, ``linear``, ``matmul`` ...),
      else to any of its functional nodes, else to any node under it, else up to its parent;
    * sums are exact integers (largest-remainder splitting): per-node MACs add up to fvcore's
      total.

    ``weights`` (per record; default, or where all are 0: output elements) set the
    proportions of a split. The
    engine passes the eager counter's per-node MACs: fvcore says how much a module's einsums
    cost in all, the eager count says how it divides among them (two einsums of one module
    with different contraction sizes are not proportional to their outputs).
    """
    numel = [_numel(r.out_shape) for r in records]
    weight = [max(int(w), 0) for w in weights] if weights is not None else numel
    agg = {k: Counter({op: mac_int(c) for op, c in v.items()})
           for k, v in by_module_and_operator.items()}
    macs = [0] * len(records)
    calls: dict[str, list[int]] = defaultdict(list)     # leaf module path -> record indices
    funcs: dict[str, list[int]] = defaultdict(list)     # container path -> its functional records
    under: dict[str, list[int]] = defaultdict(list)     # module path prefix -> records under it
    for i, r in enumerate(records):
        if r.kind == "module":
            calls[r.module].append(i)
        else:
            funcs[r.module].append(i)
        parts = r.module.split(".") if r.module else []
        for d in range(len(parts) + 1):
            under[".".join(parts[:d])].append(i)
    leaves = set(calls)

    def inside_leaf(name: str) -> bool:
        parts = name.split(".")
        return any(".".join(parts[:d]) in leaves for d in range(1, len(parts)))

    def give(idx: list[int], count: int) -> None:
        w = [weight[i] for i in idx]
        if not any(w):  # nothing counted eagerly there: by output elements
            w = [numel[i] for i in idx]
        for i, part in zip(idx, split_exact(count, w)):
            macs[i] += part

    def parent(name: str) -> str | None:
        return None if name == "" else (name.rsplit(".", 1)[0] if "." in name else "")

    children: dict[str, list[str]] = defaultdict(list)
    for name in agg:
        p = parent(name)
        if p is not None and p in agg:
            children[p].append(name)

    for name, ops in agg.items():
        if inside_leaf(name):
            continue  # counted in its leaf ancestor's subtree total
        if name in leaves:
            own = ops
        else:
            own = Counter(ops)
            for c in children.get(name, ()):
                own.subtract(agg[c])
        for op, count in own.items():
            if count <= 0:
                continue
            if name in leaves:
                give(calls[name], count)
                continue
            target: str | None = name
            while target is not None:
                match = [i for i in funcs.get(target, ()) if _matches(records[i], op)]
                idx = match or funcs.get(target) or under.get(target)
                if idx:
                    give(idx, count)
                    break
                target = parent(target)
            else:
                if records:
                    macs[-1] += count
    return macs


def mac_int(count: Any) -> int:
    """A MAC count as an int. fvcore returns floats for generic einsums (numpy's
    ``einsum_path`` "optimized flop" / 2, floored: integral values held in a float), which
    reach integer splitting; they are rounded to the nearest integer (exact for the integral
    values fvcore produces, below 2**53)."""
    return int(count) if isinstance(count, int) else int(round(float(count)))


def fvcore_unsupported(fca) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(fca.unsupported_ops().items())
            if k not in ZERO_BY_CONVENTION}


# ----------------------------------------------------------------------------------------
# meta tensors: torch.utils.flop_counter, with fvcore's formulas for what it lacks
# ----------------------------------------------------------------------------------------

def _norm_flops(input_shape, affine: bool) -> int:
    # fvcore norm_flop_counter: 5 per element with affine, 4 without (counted in MACs)
    return _numel(input_shape) * (5 if affine else 4)


class MacCounter(torch.utils._python_dispatch.TorchDispatchMode):
    """The default counter: one dispatch-level mode, on real and meta tensors alike.

    The formulas are torch.utils.flop_counter's own table (``flop_registry``: conv, mm, bmm,
    addmm, baddbmm, attention ...; 2 FLOPs per MAC, halved here) plus the fvcore-equal ones of
    :meth:`_custom`; the dispatch rule is FlopCounterMode's (an overload without a formula is
    decomposed first when it has a CompositeImplicit kernel, so e.g. nearest upsampling is not
    lost in index ops). Why not FlopCounterMode itself: it tracks modules through its own
    global hooks and needed a second mode to see the uncounted ops; one mode that counts and
    observes costs less per op (docs/engine.md, "Speed").

    Use as a context manager *around* a :class:`~archlens.trace.Tracer` forward pass and pass
    :meth:`on_record` as the tracer's ``on_record`` callback: each record receives the MACs
    counted since the previous record (ops inside a leaf module land in that module's record;
    ops on untracked tensors land in the next record, or the last one).
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # TorchDispatchMode wraps a subclass's __torch_dispatch__ in torch._disable_dynamo
        # (a Python frame and checks per op); nothing here is compiled, so skip the wrapper
        return False

    def __init__(self, tracer: Any = None, meta: bool = False):
        super().__init__()
        self.tracer = tracer
        # on the meta device ops run through archlens.meta_kernels (memoised / direct meta
        # outputs, exact by construction: see that module)
        self._call = _meta_call if meta else None
        self.table: dict[Any, Any] = _formula_table(self._custom())
        self.flops = 0                      # running total, in FLOPs (2 per MAC)
        self.per_record: dict[str, int] = {}
        self._last = 0
        self.seen: Counter[str] = Counter()
        self._nested = 0                    # > 0 while running a decomposition

    # formulas mirror fvcore.nn.jit_handles (which count MACs); the table holds FLOPs = 2x
    def _custom(self) -> dict[Any, Any]:
        counter = self

        def batch_norm(x, weight=None, bias=None, running_mean=None, running_var=None,
                       training=False, *args, out_shape=None, **kwargs) -> int:
            if training:
                return 2 * _norm_flops(x, weight is not None)
            return 2 * _numel(x) * (2 if weight is not None else 1)

        def bn_no_training(x, weight=None, *args, out_shape=None, **kwargs) -> int:
            return 2 * _numel(x) * (2 if weight is not None else 1)

        def bn_legit(x, weight=None, bias=None, *args, out_shape=None, **kwargs) -> int:
            training = next((a for a in args if isinstance(a, bool)), True)
            if training:
                return 2 * _norm_flops(x, weight is not None)
            return 2 * _numel(x) * (2 if weight is not None else 1)

        def group_norm(x, weight=None, *args, out_shape=None, **kwargs) -> int:
            return 2 * _norm_flops(x, weight is not None)

        def layer_norm(x, normalized_shape, weight=None, *args, out_shape=None, **kwargs) -> int:
            return 2 * _norm_flops(x, weight is not None)

        def per_input(x, *args, out_shape=None, **kwargs) -> int:
            return 2 * _numel(x)

        def mean(x, *args, out_shape=None, **kwargs) -> int:
            # adaptive_avg_pool2d to 1x1 runs as mean(-1, -2): fvcore counts 1 per input element
            t = counter.tracer
            if t is not None and t.current_fn.startswith("adaptive_avg_pool"):
                return 2 * _numel(x)
            counter.seen["aten::mean"] += 1
            return 0

        def upsample_nearest(x, *args, out_shape=None, **kwargs) -> int:
            return 2 * _numel(out_shape)

        def upsample_bilinear(x, *args, out_shape=None, **kwargs) -> int:
            return 2 * 4 * _numel(out_shape)

        def sdpa(q, k, v, *args, out_shape=None, **kwargs) -> int:
            # the CPU kernel of F.scaled_dot_product_attention (nn.MultiheadAttention and
            # TransformerEncoderLayer outside their fused paths): Q K^T and A V, as the
            # table's CUDA variants count them -- the same MACs as explicit matmuls
            from torch.utils.flop_counter import sdpa_flop_count
            return sdpa_flop_count(q, k, v)

        def mkldnn_rnn_layer(x, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
            # nn.LSTM on the CPU: one fused op per layer and direction (elsewhere, and with
            # proj_size, aten::lstm decomposes into per-step linears, counted as such). Each
            # weight matrix is applied once per step and batch element -- what the
            # decomposition's linears count; biases and gates, as for linear, are no MACs.
            # fvcore has no handle for aten::lstm (docs/engine.md, "fvcore undercounts")
            return 2 * math.prod(x[:-1]) * (math.prod(w_ih) + math.prod(w_hh))

        table = {
            aten.native_batch_norm: batch_norm,
            aten._native_batch_norm_legit: bn_legit,
            aten._native_batch_norm_legit_no_training: bn_no_training,
            aten.native_group_norm: group_norm,
            aten.native_layer_norm: layer_norm,
            aten._adaptive_avg_pool2d: per_input,
            aten.mean: mean,
            aten.upsample_nearest2d: upsample_nearest,
            aten.upsample_bilinear2d: upsample_bilinear,
            aten.grid_sampler_2d: upsample_bilinear,
            aten._scaled_dot_product_flash_attention_for_cpu: sdpa,
            aten.mkldnn_rnn_layer: mkldnn_rnn_layer,
        }
        out: dict[Any, Any] = {}
        for packet, f in table.items():
            f = _on_shapes(f)
            out[packet] = f
            # Also key every overload: an overload without a formula is decomposed before
            # counting (upsample_nearest2d.vec would vanish into index ops).
            for ov in packet.overloads():
                out[getattr(packet, ov)] = f
        return out

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _METADATA:
            return NotImplemented
        table = self.table
        if func not in table and _decomposable(func):
            self._nested += 1
            try:
                with self:
                    r = func.decompose(*args, **kwargs)
            finally:
                self._nested -= 1
            if r is not NotImplemented:
                if not self._nested:
                    self._observe(func)
                return r
        call = self._call
        out = call(func, args, kwargs) if call is not None else func(*args, **kwargs)
        f = table.get(func._overloadpacket)
        if f is not None:
            self.flops += f(*args, **kwargs, out_val=out)
        elif not self._nested:
            self._observe(func)
        return out

    def _observe(self, func) -> None:
        packet = func._overloadpacket
        if packet in self.table or packet is aten.mean:
            return
        t = self.tracer
        if t is not None and t.leaf_depth and isinstance(t._leaf_in[-1][0], torch.nn.RNNBase):
            # an LSTM/GRU/RNN's gates (sigmoid, tanh, mul, split): inside the fused CPU kernel
            # (aten.mkldnn_rnn_layer, counted by its matmuls) they are never dispatched, on meta
            # the decomposition shows them. The layer is its matmuls on both devices (fvcore's
            # convention for elementwise ops), so the gates are not listed on either.
            return
        name = _OBSERVED_NAMES.get(packet)
        if name is None:
            name = "aten::" + packet.__name__.lstrip("_")
            if name.endswith("_with_indices"):
                name = name[: -len("_with_indices")]
            _OBSERVED_NAMES[packet] = name
        self.seen[name] += 1

    def on_record(self, rec: OpRecord) -> None:
        now = self.flops
        self.per_record[rec.name] = (now - self._last) // 2
        self._last = now

    def finish(self, records: Sequence[OpRecord]) -> list[int]:
        """MACs per record (leftover ops after the last record go to the last record)."""
        macs = [self.per_record.get(r.name, 0) for r in records]
        rest = (self.flops - self._last) // 2
        if records and rest:
            macs[-1] += rest
        return macs

    def release(self) -> None:
        """After :meth:`finish` and :meth:`unsupported`: drop the tracer and the formula table
        (whose closures point back at the counter), so neither is kept in a reference cycle
        (see :meth:`archlens.trace.Tracer.release`). The counter cannot count again."""
        self.tracer = None
        self.table = {}

    @property
    def total_macs(self) -> int:
        return self.flops // 2

    def unsupported(self) -> dict[str, int]:
        """Ops seen that no formula counted and that are not zero by convention."""
        return {op: n for op, n in sorted(self.seen.items())
                if op == "aten::mean" or (op not in ZERO_BY_CONVENTION and op not in _META_IGNORED)}


MetaMacCounter = MacCounter  # the former, meta-only name


def _shape_of(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.shape
    if isinstance(v, (list, tuple)) and v and any(isinstance(x, torch.Tensor) for x in v):
        return type(v)(_shape_of(x) for x in v)
    return v


def _on_shapes(f: Any) -> Any:
    """``f(*shapes, out_shape=...)`` called as ``g(*args, out_val=out)``: flop_counter's
    ``shape_wrapper`` without its pytree walk (the cost of counting one op; the formulas'
    arguments are tensors, lists of tensors or plain values)."""
    def g(*args, out_val=None, **kwargs):
        return f(*[_shape_of(a) for a in args], out_shape=_shape_of(out_val),
                 **{k: _shape_of(v) for k, v in kwargs.items()})
    return g


def _formula_table(custom: dict[Any, Any]) -> dict[Any, Any]:
    """torch.utils.flop_counter's registry (its shape-wrapped formulas unwrapped and wrapped
    again by :func:`_on_shapes`; the raw ones as they are) with ``custom`` on top."""
    from torch.utils.flop_counter import flop_registry
    table: dict[Any, Any] = {}
    for key, f in flop_registry.items():
        raw = getattr(f, "__wrapped__", None)
        table[key] = _on_shapes(raw) if raw is not None and f.__code__.co_name == "nf" else f
    table.update(custom)
    return table

_OBSERVED_NAMES: dict[Any, str] = {}
_DECOMPOSABLE: dict[Any, bool] = {}


def _decomposable(func) -> bool:
    """Has ``func`` (an OpOverload) a CompositeImplicitAutograd kernel? (cached)"""
    r = _DECOMPOSABLE.get(func)
    if r is None:
        dk = torch._C.DispatchKey.CompositeImplicitAutograd
        r = dk in func.py_kernels or torch._C._dispatch_has_kernel_for_dispatch_key(
            func.name(), dk)
        _DECOMPOSABLE[func] = r
    return r


# metadata queries FlopCounterMode lets fall through (NotImplemented): so do we
_METADATA = frozenset({
    aten.sym_is_contiguous.default, aten.is_contiguous.default, aten.is_contiguous.memory_format,
    aten.is_strides_like_format.default, aten.is_non_overlapping_and_dense.default,
    aten.size.default, aten.sym_size.default, aten.stride.default, aten.sym_stride.default,
    aten.storage_offset.default, aten.sym_storage_offset.default, aten.numel.default,
    aten.sym_numel.default, aten.dim.default, torch.ops.prim.layout.default,
})


def merge_unsupported(*dicts: dict[str, int]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for d in dicts:
        out.update(d)
    return dict(sorted(out.items()))


def records_total(macs: Iterable[int]) -> int:
    return sum(macs)
