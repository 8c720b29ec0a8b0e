"""Measure a profile: analyse once, then interleave timed passes (per node) with plain passes
(whole model), and attach the traffic of every node and the device roofline.

Protocol (docs/profile.md):

1. analyse the model on CPU in float32 (the structure, the MACs and the node names do not
   depend on the device or the dtype; bytes are then counted at the profiled dtype);
2. move the model to the device / dtype (``channels_last`` when asked), fix the thread count,
   flush denormals on CPU (an untrained deep net produces them, ~100x slower on x86), cuDNN
   benchmark mode on CUDA;
3. ``warmup`` timed passes (oneDNN / cuDNN pick and cache their kernels), then ``repeats``
   rounds of *one timed pass + one plain pass*: both see the same machine load, so the
   whole-model median and the sum of per-node medians are comparable. ``repeats`` defaults to
   what fills ``min_time`` seconds (at least 10, at most ``max_repeats``);
4. per node: median and quartiles over the timed passes.
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from archlens.errors import ArchlensError, ModelForwardError
from archlens.profile.clock import CpuClock, CudaClock, make_clock
from archlens.profile.result import LayerProfile, Profile
from archlens.profile.roofline import Roofline, measure_roofline
from archlens.profile.timer import TimingTracer
from archlens.profile.traffic import node_traffic

ProfileDtypes = ("float32", "bfloat16", "float16")
Progress = Callable[[int, int, str], None]


class ProfileError(ArchlensError):
    """The model cannot be profiled as asked (and why)."""


@contextlib.contextmanager
def _device_settings(device: str, threads: int | None):
    import torch
    old_threads = torch.get_num_threads()
    old_bench = torch.backends.cudnn.benchmark
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        if device == "cpu":
            torch.set_flush_denormal(True)
        else:
            torch.backends.cudnn.benchmark = True
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.cudnn.benchmark = old_bench
        if device == "cpu":
            torch.set_flush_denormal(False)


def device_available(device: str) -> bool:
    """Whether ``device`` ("cpu", "cuda") can run here (a CUDA profile read on a CPU machine
    cannot be re-measured)."""
    if device == "cpu":
        return True
    import torch
    return device == "cuda" and torch.cuda.is_available()


def _check_request(device: str, dtype: str, threads: int | None, warmup: int,
                   repeats: int | None) -> None:
    if device not in ("cpu", "cuda"):
        raise ProfileError(f"unknown device {device!r} for profiling; use cpu or cuda "
                           "(latency needs real tensors: meta has no time)")
    if dtype not in ProfileDtypes:
        raise ProfileError(f"unsupported dtype {dtype!r} for profiling; use one of: "
                           f"{', '.join(ProfileDtypes)}")
    if threads is not None and (isinstance(threads, bool) or threads < 1):
        raise ProfileError(f"threads must be a positive integer, got {threads!r}")
    if warmup < 0 or (repeats is not None and repeats < 1):
        raise ProfileError("warmup must be >= 0 and repeats >= 1")


def _resolve(model: Any, input_shape: Any, batch: int):
    """(analysis on CPU float32, the module to time, display name)."""
    from torch import nn

    from archlens import engine, loader
    if isinstance(model, str):
        module, name, default = loader.load_model(model)
        owned = True
    elif isinstance(model, nn.Module):
        module, name, owned = model, type(model).__name__, False
        default = getattr(model, "default_input_shape", None)
    else:
        raise ProfileError(f"expected a model name, reference or nn.Module, got "
                           f"{type(model).__name__}")
    shape = input_shape if input_shape is not None else default
    if not owned:  # never touch a caller's module: time a copy
        module = copy.deepcopy(module)
    module = module.float().cpu()
    analysis = engine.analyze_model(module, shape, batch=batch, device="cpu", dtype="float32")
    return replace(analysis, model=name), module, name


def _in_order(ran: Sequence[str], expected: Sequence[str]) -> bool:
    """``ran`` is ``expected`` with some nodes left out, in the same order.

    A timed pass records what the analysis's own eager pass records; should an analysed node
    ever not run as an op in a plain pass (a counter that records differently from the
    tracer), it gets no time and is listed in :attr:`Profile.missing`, never silently 0."""
    it = iter(expected)
    return all(any(name == e for e in it) for name in ran)


def time_passes(module: Any, x: Any, *, clock: CpuClock | CudaClock, names: Sequence[str],
                warmup: int, repeats: int | None, min_time: float, max_repeats: int,
                progress: Progress | None = None) -> tuple[dict[str, list[float]], list[float]]:
    """Per-node seconds over the timed passes and the whole-model seconds of the plain passes.

    Raises :class:`ProfileError` when a pass records other nodes than ``names`` (control flow
    that changes between passes: times could not be attributed)."""
    import torch
    expected = list(names)
    per_node: dict[str, list[float]] = {n: [] for n in expected}
    whole: list[float] = []
    cuda = isinstance(clock, CudaClock)

    def timed_pass(keep: bool) -> float:
        tracer = TimingTracer(module, clock)
        clock.begin_pass()
        t0 = time.perf_counter()
        with tracer:
            tracer.mark_input(x)
            out = module(x)
            tracer.set_outputs(out)
        clock.finish()
        dt = time.perf_counter() - t0
        ran = [r.name for r in tracer.records]
        if not _in_order(ran, expected):
            diff = sorted(set(ran) - set(expected))[:3] or ["the order changed"]
            raise ProfileError("the model ran different ops on a repeated pass than in the "
                               f"analysis (e.g. {', '.join(diff)}); per-node times cannot be "
                               "attributed")
        if keep:
            for name, start, stop in tracer.marks:
                per_node[name].append(clock.seconds(start, stop))
        return dt

    def plain_pass() -> float:
        if cuda:
            clock.begin_pass()
            a = clock.mark()
            module(x)
            b = clock.mark()
            clock.finish()
            return clock.seconds(a, b)
        t0 = time.perf_counter_ns()
        module(x)
        return (time.perf_counter_ns() - t0) * 1e-9

    with torch.no_grad():
        first = 0.0
        for i in range(max(warmup, 1)):
            first = timed_pass(keep=False)
            plain_pass()
            if progress:
                progress(i + 1, 0, "warm-up")
        n = repeats or int(min(max_repeats, max(10, math.ceil(min_time / max(first, 1e-9)))))
        for i in range(n):
            timed_pass(keep=True)
            whole.append(plain_pass())
            if progress:
                progress(i + 1, n, "timing")
    return per_node, whole


def profile_model(model: Any, input_shape: Any = None, *, device: str = "cpu",
                  dtype: str = "float32", batch: int = 1, threads: int | None = None,
                  channels_last: bool = False, warmup: int = 3, repeats: int | None = None,
                  min_time: float = 3.0, max_repeats: int = 200,
                  roofline: Roofline | bool = True, progress: Progress | None = None
                  ) -> Profile:
    """Profile ``model`` (zoo name, reference or ``nn.Module``; see :func:`archlens.profile`)."""
    import torch

    from archlens.bench.env import collect
    from archlens.bench.timing import check_dtype_supported, resolve_device
    from archlens.engine import eval_mode, make_input, resolve_dtype
    _check_request(device, dtype, threads, warmup, repeats)
    dev = resolve_device(device)          # CUDA without a GPU: one-line error
    tdtype = resolve_dtype(dtype)
    check_dtype_supported(dev, tdtype)
    analysis, module, name = _resolve(model, input_shape, batch)
    graph = analysis.graph
    itemsize = torch.empty((), dtype=tdtype).element_size()
    module = module.to(device=dev, dtype=tdtype)
    x = make_input(analysis.input_shape, "cpu", torch.float32).to(device=dev, dtype=tdtype)
    if channels_last:
        if len(analysis.input_shape) != 4:
            raise ProfileError("--channels-last needs a 4-D (NCHW) input")
        module = module.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    clock = make_clock(dev.type)
    names = [n.name for n in graph.layers]
    with _device_settings(dev.type, threads) as used_threads, eval_mode(module):
        env = collect(dev.type, dtype, used_threads, channels_last=channels_last)
        try:
            per_node, whole = time_passes(module, x, clock=clock, names=names, warmup=warmup,
                                          repeats=repeats, min_time=min_time,
                                          max_repeats=max_repeats, progress=progress)
        except ArchlensError:
            raise
        except Exception as e:  # noqa: BLE001 - the model's forward raised on the device
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelForwardError(f"forward pass of {name} failed on {device} in {dtype}: "
                                    f"{type(e).__name__}: {first}") from None
        if roofline is True:
            if progress:
                progress(0, 0, "roofline")
            roof: Roofline | None = measure_roofline(dev.type, dtype)
        else:
            roof = roofline or None
        from archlens.bench.env import load_average
        env["load_average_end"] = load_average()
    layers = []
    missing = []
    for node in graph.layers:
        ts = per_node.get(node.name) or []
        if not ts:
            missing.append(node.name)
            q1 = med = q3 = 0.0
        else:
            q1, med, q3 = (float(v) for v in np.quantile(np.asarray(ts), [0.25, 0.5, 0.75]))
        tr = node_traffic(node, itemsize)
        layers.append(LayerProfile(
            name=node.name, type=node.type, kind=node.kind, module=node.module_path,
            macs=int(node.macs), read_bytes=tr.read_bytes, weight_bytes=tr.weight_bytes,
            write_bytes=tr.write_bytes, median_s=med, q1_s=q1, q3_s=q3))
    wq1, wmed, wq3 = (float(v) for v in np.quantile(np.asarray(whole), [0.25, 0.5, 0.75]))
    return Profile(model=name, input_shape=tuple(analysis.input_shape), device=dev.type,
                   dtype=dtype, threads=used_threads, channels_last=channels_last,
                   warmup=warmup, repeats=len(whole), layers=tuple(layers),
                   whole_median_s=wmed, whole_q1_s=wq1, whole_q3_s=wq3, roofline=roof,
                   env=env, missing=tuple(missing))
