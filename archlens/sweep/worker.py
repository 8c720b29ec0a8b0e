"""One variant -> one result row (runs inside a Ray worker; plain Python, no Ray imports).

Per variant: build it (on the meta device by default: nothing allocated), check the cheap
parameter bounds on the built module, analyse it (``archlens.analyze``, checks off), check the
MAC and receptive-field bounds, then the optional measures (design checks, latency). Any
exception becomes a ``failed`` row with its one-line error; a variant slower than
``measure.timeout_s`` becomes a ``timeout`` row. Nothing here raises.
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
import time
from collections.abc import Iterable
from typing import Any

from archlens.sweep.spec import SweepSpec, canonical_json
from archlens.sweep.variants import Variant

STATUSES = ("ok", "pruned", "failed", "timeout")
METRICS = ("params", "trainable_params", "macs", "paper_macs", "activations", "weight_bytes",
           "peak_activation_bytes")

LATENCY_MIN_TIME_S = 0.5
_BUILDERS: dict[tuple[str, str, str], Any] = {}


class VariantTimeout(BaseException):
    """SIGALRM past ``measure.timeout_s`` (a BaseException, like archlens.guard's: neither the
    user's ``except Exception`` nor the engine's error wrapping can swallow it)."""


def builder_for(spec: SweepSpec):
    """The spec's builder, resolved once per worker process."""
    from archlens.sweep.builders import resolve_builder
    key = (spec.builder, spec.base_dir, spec.builder_digest)
    if key not in _BUILDERS:
        _BUILDERS[key] = resolve_builder(spec.builder, spec.base_dir)
    return _BUILDERS[key]


_WARM = False


def warm_up() -> None:
    """A fresh worker's one-off costs, paid once per process before its first variant's
    clock starts: importing torch and archlens, and the lazy imports of a first meta analysis
    (torch._dynamo, sympy: ~2 s here), so they are neither charged to, nor time out, the first
    variant. A failure here is left to the variants to report.

    Then ``gc.freeze()``: the millions of long-lived objects those imports made move to the
    permanent generation, so the per-batch ``gc.collect()`` scans only what the variants
    allocated (a full collection took 0.4-0.7 s here, ~300 ms a batch in the sweep; after the
    freeze 1-13 ms)."""
    global _WARM
    if _WARM:
        return
    _WARM = True
    try:
        import torch
        from torch import nn

        import archlens
        with torch.device("meta"):
            m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
        archlens.analyze(m, (3, 8, 8), device="meta", checks=False)
    except Exception:
        pass
    gc.collect()
    gc.freeze()


def empty_row(v: Variant) -> dict[str, Any]:
    from archlens.shapes import format_shape
    row: dict[str, Any] = {"variant_id": v.id, "index": v.index,
                           "config": canonical_json(dict(v.params)),
                           "input": format_shape(v.input_shape), "zoo_model": None,
                           "status": "failed", "reason": None}
    row.update({k: None for k in METRICS})
    row.update({"rf": None, "rf_h": None, "rf_w": None, "rf_stride": None, "depth": None,
                "width": None, "nodes": None, "unsupported_ops": None, "findings_error": None,
                "findings_warning": None, "findings_info": None, "findings": None,
                "latency_ms": None, "latency_note": None})
    return row


@contextlib.contextmanager
def _deadline(seconds: float):
    """Raise :class:`VariantTimeout` in this thread after ``seconds`` (SIGALRM; main thread
    only; elsewhere the driver's per-batch deadline is the fallback)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal,
                                                                                "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise VariantTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def analyse_variant(spec: SweepSpec, v: Variant) -> dict[str, Any]:
    row = empty_row(v)
    t0 = time.perf_counter()
    try:
        with _deadline(spec.measure.timeout_s):
            _fill(spec, v, row)
    except VariantTimeout:
        row.update(status="timeout", reason=f"timed out after {spec.measure.timeout_s:g} s")
    except Exception as e:  # recorded on the row, never fatal
        row.update(status="failed", reason=_one_line(e))
    row["elapsed_s"] = round(time.perf_counter() - t0, 6)
    return row


def _fill(spec: SweepSpec, v: Variant, row: dict[str, Any]) -> None:
    import archlens
    from archlens.sweep.builders import VariantError

    b = builder_for(spec)
    kwargs = v.builder_params
    for k, val in kwargs.items():
        why = b.check_value(k, val)
        if why:
            raise VariantError(why)
    row["zoo_model"] = b.zoo_match(kwargs, v.input_shape)
    device = spec.measure.device
    model = _build(b, kwargs, device)
    n_params = sum(p.numel() for p in model.parameters())
    why = spec.constraints.violated_params(n_params)
    if why:  # pruned before the trace: only the parameter count is known
        row.update(status="pruned", reason=why, params=n_params)
        return
    a = archlens.analyze(model, v.input_shape, device=device, checks=False)
    t = a.totals
    row.update({k: int(getattr(t, k)) for k in METRICS})
    row["nodes"] = len(a.graph.nodes)
    row["unsupported_ops"] = canonical_json(dict(a.unsupported_ops))
    rf = a.feature_rf
    if rf is not None:
        row.update(rf_h=int(rf.size[0]), rf_w=int(rf.size[-1]), rf=int(max(rf.size)),
                   rf_stride=int(max(rf.stride)))
    depth, width = depth_width(a)
    row.update(depth=depth, width=width)
    why = spec.constraints.violated_analysis(t.macs, row["rf"])
    if why:
        row.update(status="pruned", reason=why)
        return
    if spec.measure.checks:
        findings = archlens.check(a)
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.code] = counts.get(f.code, 0) + 1
        for sev in ("error", "warning", "info"):
            row[f"findings_{sev}"] = sum(1 for f in findings if f.severity == sev)
        row["findings"] = canonical_json(counts)
    if spec.measure.latency:
        row["latency_ms"], row["latency_note"] = _latency(b, kwargs, v)
    row["status"] = "ok"


def _build(b, kwargs, device: str):
    """The variant's module, seeded, on ``device``; the user's code runs under archlens.guard
    (sys.exit, recursion, allocation failures -> one-line errors, never a dead worker). On
    meta, weight initialisation is skipped (:func:`archlens.meta_kernels.skip_meta_init`, as
    every meta build of the loader): meta tensors hold no values, and filling them was ~40 %
    of a ResNet's build here."""
    import torch

    from archlens import guard
    from archlens.meta_kernels import skip_meta_init

    def build():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            if device == "meta":
                with skip_meta_init(), torch.device("meta"):
                    return b.build(kwargs).eval()
            return b.build(kwargs).eval()
    return guard.guarded(build, label=b.name)


def depth_width(a) -> tuple[int | None, int | None]:
    """Principle 4's two axes, as the P4.depth-width rule measures them: depth = conv layers on
    the longest path summed over grid stages, width = channels of the widest stage."""
    from archlens.checks._common import Context
    from archlens.checks.p4_balance import stage_shapes
    stages = stage_shapes(Context.of(a.graph))
    if not stages:
        return None, None
    return sum(s.depth for s in stages), max(s.width for s in stages)


def _latency(b, kwargs, v: Variant) -> tuple[float, str]:
    """Median whole-model latency (ms) of the variant with real weights on this worker's CPU,
    one thread, measured by :func:`archlens.profile` (issue 14)."""
    import archlens
    real = _build(b, kwargs, "cpu")  # real tensors: latency is measured, never inferred
    prof = archlens.profile(real, v.input_shape, device="cpu", threads=1, warmup=1,
                            min_time=LATENCY_MIN_TIME_S, roofline=False)
    return (round(prof.whole_median_s * 1e3, 4),
            f"median of whole-model passes on cpu, 1 thread, batch 1 (archlens.profile, "
            f">= {LATENCY_MIN_TIME_S:g} s of repeats); shares the machine with the sweep")


STARTED = "started"  # the first item a streamed batch yields: the task is running
READY = "ready"      # the second: the worker is set up; the first variant's clock starts


def analyse_batch(spec: SweepSpec, variants: Iterable[Variant]) -> list[dict[str, Any]]:
    """Rows for a batch, in order; ``node``/``pid`` say where they ran (run-dependent)."""
    return [r for r in stream_batch(spec, variants) if r not in (STARTED, READY)]


def stream_batch(spec: SweepSpec, variants: Iterable[Variant]):
    """The Ray task: yields :data:`STARTED` once it runs, warms the worker up and resolves the
    builder (a fresh worker's set-up), yields :data:`READY`, then one row per variant as it is done, so the driver keeps every finished row of a batch whose worker later hangs or dies,
    and times each variant from when it starts (not from when the batch was queued)."""
    node = os.environ.get("ARCHLENS_SWEEP_NODE") or _node_id()
    pid = os.getpid()
    yield STARTED
    with contextlib.suppress(Exception):  # a builder that cannot load fails its variants
        builder_for(spec)
    warm_up()
    yield READY
    with _quiet_gc():
        for v in variants:
            row = analyse_variant(spec, v)
            row["node"], row["pid"] = node, pid
            yield row


@contextlib.contextmanager
def _quiet_gc():
    try:
        yield
    finally:
        gc.collect()  # one collection per batch keeps a long-lived worker's memory bounded


def _node_id() -> str:
    try:
        import ray
        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except Exception:
        pass
    return "local"


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    msg = lines[0].strip() if lines else ""
    name = type(e).__name__
    if name in ("VariantError",) and msg:
        return msg
    return f"{name}: {msg}" if msg else name
