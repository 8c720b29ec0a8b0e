"""The analysis engine: model -> one traced forward pass -> :class:`Graph` -> metrics -> Analysis.

Entry points (the rest of archlens codes against these names):

* :func:`trace_graph` -- the unannotated graph of one forward pass (no metrics);
* :func:`analyze_model` -- load, trace and count in one eager pass (or map fvcore's own count
  onto the nodes: ``counter="fvcore"``) and annotate; returns an :class:`Analysis`.

Design decisions are written down in docs/engine.md.
"""
from __future__ import annotations

import contextlib
import copy
import gc
from typing import TYPE_CHECKING
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from archlens.errors import InputShapeError, ModelForwardError
from archlens.graph import INPUT, Graph, Node
from archlens.trace import FailurePoint, OpRecord, Tracer

if TYPE_CHECKING:  # pragma: no cover
    from archlens.analysis import Analysis

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "bfloat16": torch.bfloat16}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return DTYPES[str(dtype).replace("torch.", "")]
    except KeyError:
        raise InputShapeError(f"unsupported dtype {dtype!r}; use one of: "
                              f"{', '.join(DTYPES)}") from None


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


# ----------------------------------------------------------------------------------------
# records -> graph
# ----------------------------------------------------------------------------------------

def build_graph(records: Sequence[OpRecord], input_shape: tuple[int, ...],
                outputs: Sequence[str]) -> Graph:
    """The immutable :class:`Graph` of a trace: the input node, then one node per record."""
    nodes = [Node(name=INPUT, type="input", kind="input", module="", inputs=(), in_shapes=(),
                  out_shape=tuple(input_shape))]
    for r in records:
        g = r.geometry
        nodes.append(Node(
            name=r.name, type=r.type, base_type=r.base_type or r.type, kind=r.kind,
            module=r.module, inputs=tuple(r.inputs),
            in_shapes=tuple(tuple(s) for s in r.in_shapes), out_shape=tuple(r.out_shape),
            kernel=_tup(g.get("kernel")), stride=_tup(g.get("stride")),
            padding=_tup(g.get("padding")), dilation=_tup(g.get("dilation")),
            groups=g.get("groups"), attrs=MappingProxyType(dict(r.attrs))))
    return Graph(nodes=tuple(nodes), outputs=tuple(outputs) or (nodes[-1].name,))


def _tup(v: Any) -> tuple[int, ...] | None:
    return tuple(int(x) for x in v) if v is not None else None


# ----------------------------------------------------------------------------------------
# running one traced forward pass
# ----------------------------------------------------------------------------------------

@dataclass
class TraceResult:
    tracer: Tracer
    output: Any
    input_shape: tuple[int, ...]

    @property
    def records(self) -> list[OpRecord]:
        return self.tracer.records

    def graph(self) -> Graph:
        return build_graph(self.tracer.records, self.input_shape, self.tracer.output_names)


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for one analysis (restored after, even on error).

    Why: an analysis allocates many long-lived objects (records, nodes, fvcore's and
    flop_counter's per-module tables) next to a large model, and every full (generation-2)
    collection triggered meanwhile scans the whole heap, model included. Measured on the
    2,000-block residual network (8,001 nodes, meta): 3 full collections cost 1.07 s, 0.13 ms per
    node of 0.68 -- the only part of the time per node that grew with the graph (docs/engine.md,
    "Speed"). Reference counting still frees every acyclic temporary at once; the few cycles
    created meanwhile are collected by the next automatic collection after the analysis.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Put ``model`` in eval mode for the pass and restore every module's own flag after."""
    flags = [(m, m.training) for m in model.modules()]
    plain_set, plain_train = nn.Module.__setattr__, nn.Module.train
    if all(type(m).train is plain_train and type(m).__setattr__ is plain_set for m, _ in flags):
        for m, _ in flags:  # what model.eval() does then, without its recursion and setattr
            object.__setattr__(m, "training", False)
    else:
        model.eval()        # a module's own train() runs as written
    try:
        yield model
    finally:
        for m, f in flags:
            if m.training is not f:
                if type(m).__setattr__ is plain_set:  # what Module.__setattr__ does for a bool
                    object.__setattr__(m, "training", f)
                else:
                    m.training = f


def make_input(input_shape: tuple[int, ...], device: str | torch.device,
               dtype: torch.dtype) -> torch.Tensor:
    if str(device) == "meta":
        return torch.empty(input_shape, device="meta", dtype=dtype)
    g = torch.Generator().manual_seed(0)  # deterministic; value-dependent control flow repeats
    return torch.randn(input_shape, generator=g, dtype=torch.float32).to(device=device,
                                                                         dtype=dtype)


def run_traced(model: nn.Module, x: torch.Tensor, *, name: str | None = None,
               forward: Any = None, holder: dict | None = None) -> TraceResult:
    """Run ``forward(x)`` (default ``model(x)``) once under a :class:`Tracer`.

    Errors of the forward pass become :class:`ModelForwardError` (innermost module path, the
    input shape it received, the original error's first line) -- or, when some op's output
    became empty first, :class:`InputShapeError` (the caller can refine it with the minimum).
    """
    tracer = Tracer(model)
    if holder is not None:
        holder["tracer"] = tracer
    with eval_mode(model), torch.no_grad():
        try:
            with tracer:
                tracer.mark_input(x)
                out = forward(x) if forward is not None else model(x)
                tracer.set_outputs(out)
        except Exception as e:  # the user's forward raised
            raise _forward_error(name or type(model).__name__, tracer, e,
                                 tuple(x.shape)) from None
    if tracer.first_empty is not None:
        rec = next(r for r in tracer.records if r.name == tracer.first_empty)
        raise TooSmallInput(name or type(model).__name__, tuple(x.shape), rec.name, rec.type,
                            rec.in_shapes[0] if rec.in_shapes else (), rec.out_shape)
    tracer.release()
    return TraceResult(tracer, out, tuple(x.shape))


class TooSmallInput(InputShapeError):
    """An op's output became empty: carries where, so the engine can add the minimum input."""

    def __init__(self, model: str, input_shape: tuple[int, ...], where: str, op_type: str,
                 in_shape: tuple[int, ...], out_shape: tuple[int, ...], minimum: str = ""):
        self.model, self.input_shape, self.where, self.op_type = model, input_shape, where, op_type
        self.in_shape, self.out_shape = in_shape, out_shape
        spatial = "x".join(str(s) for s in in_shape[2:]) or "x".join(str(s) for s in in_shape)
        outsp = "x".join(str(s) for s in out_shape[2:]) if out_shape else "empty"
        msg = (f"input {'x'.join(str(s) for s in input_shape[1:])} is too small for {model}: "
               f"layer {where!r} ({op_type}) receives a {spatial} map and its output would be "
               f"empty ({outsp})")
        msg += f"; {minimum}" if minimum else "; use a larger --input"
        super().__init__(msg)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    line = text[0].strip() if text else ""
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


def _forward_error(model_name: str, tracer: Tracer, e: BaseException,
                   input_shape: tuple[int, ...]) -> Exception:
    fp: FailurePoint = tracer.failure_point(e)
    empty = tracer.first_empty or tracer.first_slice_empty
    if empty is not None:  # an earlier op already produced an empty map
        rec = next(r for r in tracer.records if r.name == empty)
        return TooSmallInput(model_name, input_shape, rec.name, rec.type,
                             rec.in_shapes[0] if rec.in_shapes else (), rec.out_shape)
    if fp.kind == "function":
        owner = f"module {fp.owner!r}" if fp.owner else "the model's own forward"
        where = f"op {fp.type!r} in {owner}"
    else:
        where = f"module {fp.where!r} ({fp.type})" if fp.where else f"{fp.type}.forward"
    shapes = ", ".join("x".join(str(s) for s in sh) or "scalar" for sh in fp.in_shapes) \
        or "no tensor"
    hint = ""
    if "meta" in str(e) and input_shape and "meta" in str(getattr(tracer, "device", "meta")):
        hint = ("; value-dependent code cannot run on meta tensors, analyse with "
                "--device cpu")
    err = ModelForwardError(f"forward pass of {model_name} failed in {where} with input shape "
                            f"{shapes}: {_first_line(e)}{hint}")
    err.failure = fp  # type: ignore[attr-defined]
    return err


def trace_graph(model: nn.Module, input_shape: tuple[int, ...], *, device: str = "cpu",
                dtype: torch.dtype | str = torch.float32) -> Graph:
    """The unannotated layer graph of one forward pass of ``model`` on ``input_shape``
    (full shape, with batch). ``model`` must already live on ``device``."""
    x = make_input(tuple(input_shape), device, resolve_dtype(dtype))
    return run_traced(model, x).graph()


# ----------------------------------------------------------------------------------------
# analysis
# ----------------------------------------------------------------------------------------

# node base types (graph.Node.base_type: a subclass counts as what it subclasses) whose MACs
# make up the "paper profile" (conv + linear, matmul-shaped layers)
PAPER_TYPES = frozenset({
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "LazyConv1d", "LazyConv2d", "LazyConv3d", "Linear", "LazyLinear", "Bilinear",
    "NonDynamicallyQuantizableLinear", "MultiheadAttention",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "linear", "matmul", "mm", "bmm", "addmm", "baddbmm", "einsum", "bilinear",
})


def analyze_model(model: str | nn.Module, input_shape: Sequence[int] | str | None = None, *,
                  batch: int = 1, device: str = "auto", dtype: str = "float32",
                  counter: str = "eager") -> "Analysis":
    """Load (if a reference), trace once, count and annotate ``model``.

    ``input_shape`` is (C, H, W) (or "CxHxW"; 1-4 dims for non-image models) without batch;
    zoo models default to their card's. ``device``: "auto" (default: meta, the CPU when
    the forward pass needs values, with a note), "cpu"/"cuda" (real tensors) or "meta"
    (nothing allocated). ``counter``: "eager" (default: the one eager pass counts at the
    dispatch level, torch.utils.flop_counter's formulas plus fvcore-equal ones) or "fvcore"
    (fvcore's own ``FlopCountAnalysis`` mapped onto the nodes; real tensors only).
    """
    if str(device) == "auto":
        return _analyze_auto(model, input_shape, batch=batch, dtype=dtype, counter=counter)
    with gc_paused():  # linear time in the graph size, see gc_paused
        return _analyze_model(model, input_shape, batch=batch, device=device, dtype=dtype,
                              counter=counter)


def _analyze_auto(model: str | nn.Module, input_shape: Sequence[int] | str | None, *,
                  batch: int, dtype: str, counter: str) -> "Analysis":
    """``device="auto"``: trace on the meta device (no values computed: the numbers are
    those of a CPU pass, docs/engine.md), and with real tensors on the CPU when the forward
    pass needs values (``.item()``, data-dependent control flow, an op with no meta kernel),
    saying so in a note. ``--counter fvcore`` needs real tensors: the CPU at once."""
    import dataclasses
    if counter == "fvcore":
        return analyze_model(model, input_shape, batch=batch, device="cpu", dtype=dtype,
                             counter=counter)
    try:
        return analyze_model(model, input_shape, batch=batch, device="meta", dtype=dtype,
                             counter=counter)
    except ModelForwardError as e:
        why = str(e).splitlines()[0].split("; value-dependent code")[0]
    result = analyze_model(model, input_shape, batch=batch, device="cpu", dtype=dtype,
                           counter=counter)
    note = (f"the forward pass on the meta device failed ({why}); analysed with real tensors "
            "on the CPU")
    return dataclasses.replace(result, notes=(note, *result.notes))


def _analyze_model(model: str | nn.Module, input_shape: Sequence[int] | str | None, *,
                   batch: int, device: str, dtype: str, counter: str) -> "Analysis":
    from archlens.analysis import Analysis, Totals
    from archlens.metrics import annotate, receptive_fields_or_none
    from archlens.metrics.memory import peak_activation_bytes
    from archlens.metrics.params import model_params, node_params
    from archlens.shapes import format_shape, parse_shape

    tdtype = resolve_dtype(dtype)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InputShapeError(f"batch must be a positive integer, got {batch!r}")
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        from archlens.errors import ConfigError
        raise ConfigError("--device cuda: CUDA is not available here; use --device cpu or meta")
    if device not in ("cpu", "meta") and not device.startswith("cuda"):
        from archlens.errors import ConfigError
        raise ConfigError(f"unknown device {device!r}; use cpu, meta or cuda")

    if counter not in COUNTERS:
        from archlens.errors import ConfigError
        raise ConfigError(f"unknown counter {counter!r}; use one of: {', '.join(COUNTERS)}")
    if counter == "fvcore" and device == "meta":
        from archlens.errors import ConfigError
        raise ConfigError("--counter fvcore needs real tensors (fvcore traces with torch.jit); "
                          "use --device cpu, or the default counter on meta")
    notes: list[str] = []
    module, name, default, is_zoo = _resolve_model(model, device, tdtype, notes)
    if input_shape is None:
        if default is None:
            raise InputShapeError(f"{name} has no default input shape; pass one, e.g. "
                                  "--input 3x224x224 (input_shape=(3, 224, 224))")
        shape = tuple(default)
    else:
        shape = parse_shape(input_shape)
        if is_zoo and default is not None and len(shape) != len(default):
            raise InputShapeError(
                f"{name} takes a {len(default)}-dimensional input "
                f"({'x'.join('CHWD'[i] for i in range(len(default)))}, e.g. "
                f"{format_shape(default)}); got {format_shape(shape)}")
    full = (batch, *shape)

    try:
        count = _count_fvcore if counter == "fvcore" else _count_eager
        records, outputs, macs, unsupported = count(module, full, device, tdtype, name)
    except (TooSmallInput, ModelForwardError) as e:
        raise _explain_failure(module, full, tdtype, name, e) from None

    graph = build_graph(records, full, outputs)
    params, _trainable = node_params(records)
    rfs, frf = receptive_fields_or_none(graph)
    itemsize = torch.empty((), dtype=tdtype).element_size()
    graph = annotate(graph, params=params, macs=macs, itemsize=itemsize, rfs=rfs)
    total_params, trainable_params = model_params(module)
    totals = Totals(
        params=total_params, trainable_params=trainable_params, macs=int(sum(macs)),
        paper_macs=int(sum(n.macs for n in graph.layers if n.base_type in PAPER_TYPES)),
        activations=int(sum(n.activations for n in graph.layers)),
        weight_bytes=total_params * itemsize,
        peak_activation_bytes=peak_activation_bytes(graph, itemsize),
        unused_params=total_params - int(sum(params)))
    return Analysis(model=name, input_shape=full, dtype=dtype_name(tdtype), device=device,
                    graph=graph, totals=totals, feature_rf=frf, unsupported_ops=unsupported,
                    counter=counter, notes=tuple(notes))


def _resolve_model(model: str | nn.Module, device: str, dtype: torch.dtype,
                   notes: list[str] | None = None
                   ) -> tuple[nn.Module, str, tuple[int, ...] | None, bool]:
    """(module on ``device`` at ``dtype``, display name, default shape, is it a zoo model).

    A module passed in is never modified: it is used as is when already on the device and
    dtype (its train/eval flags are restored after the pass), else copied (a meta copy never
    copies weights)."""
    from archlens import loader
    if isinstance(model, str):
        is_zoo = not loader.is_reference(model)
        module, name, default = loader.load_model(model, device="meta" if device == "meta"
                                                  else None, notes=notes)
        owned = True
    elif isinstance(model, nn.Module):
        module, name, is_zoo, owned = model, type(model).__name__, False, False
        default = getattr(model, "default_input_shape", None)
    else:
        from archlens.errors import ModelLoadError
        raise ModelLoadError(f"expected a model name, reference or nn.Module, got "
                             f"{type(model).__name__}")
    first = next(iter(module.parameters()), None)
    if first is None:
        first = next(iter(module.buffers()), None)
    if device == "meta":
        if first is not None and not first.is_meta:
            from archlens.loader import to_meta
            module = to_meta(module)
        if first is not None and first.is_floating_point() and first.dtype != dtype:
            module = module.to(dtype)
        return module, name, default, is_zoo
    on_device = first is None or (first.device.type == torch.device(device).type
                                  and (not first.is_floating_point() or first.dtype == dtype))
    if not on_device:
        if first is not None and first.is_meta:
            from archlens.errors import UnsupportedModelError
            raise UnsupportedModelError(f"{name} lives on the meta device (no weights); "
                                        "analyse it with --device meta")
        if not owned:
            module = copy.deepcopy(module)
        module = module.to(device=device, dtype=dtype)
    return module, name, default, is_zoo


def _count_eager(module: nn.Module, full: tuple[int, ...], device: str, dtype: torch.dtype,
                 name: str):
    """One eager forward pass records the graph and counts MACs (:class:`MacCounter`), on real
    and meta tensors alike: shapes are Python ints, nothing is jit-traced."""
    from archlens.metrics.macs import MacCounter
    x = make_input(full, device, dtype)
    counter = MacCounter(meta=str(device) == "meta")
    holder: dict[str, Any] = {}

    def forward(inp: torch.Tensor) -> Any:
        tracer = holder["tracer"]
        counter.tracer = tracer
        tracer.on_record = counter.on_record
        with counter:
            return module(inp)

    res = run_traced(module, x, name=name, forward=forward, holder=holder)
    macs = counter.finish(res.records)
    unsupported = counter.unsupported()
    counter.release()
    return res.records, res.tracer.output_names, macs, unsupported


def _count_fvcore(module: nn.Module, full: tuple[int, ...], device: str, dtype: torch.dtype,
                  name: str):
    """``counter="fvcore"``: the eager pass records the graph; fvcore's own count (its own jit
    trace, a second forward pass) is mapped onto the eager nodes (``attribute_fvcore``; the
    eager per-node count only splits a module's per-operator total among its calls)."""
    from archlens.metrics.macs import (attribute_fvcore, fvcore_analysis, fvcore_unsupported,
                                       mac_int)
    records, outputs, eager_macs, _unsupported = _count_eager(module, full, device, dtype, name)
    fca = fvcore_analysis(module, make_input(full, device, dtype))
    try:
        with eval_mode(module), torch.no_grad():
            total = sum(mac_int(c) for c in fca.by_operator().values())
            bmo = fca.by_module_and_operator()
    except Exception as e:
        from archlens.errors import UnsupportedModelError
        raise UnsupportedModelError(f"fvcore could not trace {name}: {_first_line(e)}; "
                                    "use the default counter (--counter eager)") from None
    # fvcore's totals per module and operator; the eager count only divides a total among the
    # calls it covers (see attribute_fvcore)
    macs = attribute_fvcore(records, bmo, weights=eager_macs)
    if sum(macs) != total:  # every count must land on a node; a mismatch is our bug
        raise AssertionError(f"MAC attribution lost {total - sum(macs)} MACs on {name}")
    return records, outputs, macs, fvcore_unsupported(fca)



COUNTERS = ("eager", "fvcore")


def _explain_failure(module: nn.Module, full: tuple[int, ...], dtype: torch.dtype, name: str,
                     err: Exception) -> Exception:
    """A too-small input becomes an InputShapeError naming the layer whose output would be
    empty and the smallest input that works; any other failure is returned unchanged."""
    from archlens.shapes import format_shape
    if len(full) != 4:
        return err
    fp = getattr(err, "failure", None)
    if isinstance(err, TooSmallInput):
        where, op_type, in_shape = err.where, err.op_type, err.in_shape
    elif fp is not None:
        where, op_type = fp.where or name, fp.type
        in_shape = fp.in_shapes[0] if fp.in_shapes else ()
        mismatch = _channel_mismatch(module, fp, full, name)
        if mismatch is not None:
            return mismatch
    else:
        return err
    probe = module if _is_meta(module) else _meta_copy(module)
    if probe is None:
        return err
    n, c, h, w = full
    works = _smallest_working(probe, n, c, h, w, dtype)
    if works is None:
        return err  # a larger input fails too: not a size problem
    spatial = "x".join(str(s) for s in in_shape[2:]) if len(in_shape) == 4 else \
        "x".join(str(s) for s in in_shape)
    out = InputShapeError(
        f"input {format_shape(full[1:])} is too small for {name}: layer {where!r} ({op_type}) "
        f"receives a {spatial} map and its output would be empty; the smallest input that "
        f"works is {c}x{works[0]}x{works[1]} (found by bisection over meta-device traces)")
    out.smallest = (c, works[0], works[1])  # type: ignore[attr-defined]  # (C, H, W)
    return out


def _channel_mismatch(module: nn.Module, fp: Any, full: tuple[int, ...],
                      name: str) -> InputShapeError | None:
    """The failing layer is a convolution fed the input's channel count but built for another
    (``1x299x299`` into a 3-channel stem): say how many channels it expects."""
    if fp.kind != "module" or not fp.where or not fp.in_shapes:
        return None
    try:
        layer = module.get_submodule(fp.where)
    except AttributeError:
        return None
    expects = getattr(layer, "in_channels", None)
    got = fp.in_shapes[0][1] if len(fp.in_shapes[0]) > 1 else None
    if not isinstance(expects, int) or got is None or got == expects or got != full[1]:
        return None
    err = InputShapeError(
        f"{name}: layer {fp.where!r} ({fp.type}) expects {expects} input channels, "
        f"the input has {got}; use --input {expects}x{full[2]}x{full[3]}")
    err.expected_channels = expects  # type: ignore[attr-defined]
    return err


def _is_meta(module: nn.Module) -> bool:
    first = next(iter(module.parameters()), None)
    return first is not None and first.is_meta


def _meta_copy(module: nn.Module) -> nn.Module | None:
    from archlens.loader import to_meta
    try:
        return to_meta(module)
    except Exception:  # pragma: no cover - exotic modules that cannot be deep-copied
        return None


def _forward_ok(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype) -> bool:
    x = torch.empty(shape, device="meta", dtype=dtype)
    try:
        with eval_mode(model), torch.no_grad():
            out = model(x)
    except Exception:
        return False
    from archlens.trace import _tensors
    return all(t.numel() > 0 for t in _tensors(out))


def _smallest_working(model: nn.Module, n: int, c: int, h: int, w: int, dtype: torch.dtype
                      ) -> tuple[int, int] | None:
    """Smallest ``t`` such that (n, c, max(h, t), max(w, t)) runs, by bisection on meta.

    Assumes larger inputs never fail (true for conv/pool stacks); the answer is verified."""
    def shape(t: int) -> tuple[int, int, int, int]:
        return (n, c, max(h, t), max(w, t))
    hi = None
    for t in (2 * max(h, w), 299, 512, 1024, 2048):
        if t > max(h, w) and _forward_ok(model, shape(t), dtype):
            hi = t
            break
    if hi is None:
        return None
    lo = max(h, w) if min(h, w) == max(h, w) else min(h, w)   # fails (or is the smaller side)
    lo = min(lo, hi - 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _forward_ok(model, shape(mid), dtype):
            hi = mid
        else:
            lo = mid
    return shape(hi)[2], shape(hi)[3]


__all__ = ["trace_graph", "analyze_model", "build_graph", "run_traced", "TraceResult",
           "make_input", "eval_mode", "resolve_dtype", "PAPER_TYPES"]
