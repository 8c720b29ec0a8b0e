"""Device-specific timing, and nothing else: the cases and models are the same code on every device.

CPU: a fixed thread count (``torch.set_num_threads`` and the Timer's ``num_threads``), warm-up
calls (oneDNN builds and caches its primitives on the first call), then
``torch.utils.benchmark.Timer.blocked_autorange`` repeated until at least ``min_runs`` runs.

CUDA: ``torch.backends.cudnn.benchmark = True`` (cuDNN tries its algorithms on the first call
of each shape, which the warm-up absorbs), a synchronisation after the warm-up, and the same
Timer with a timer function that synchronises the device before reading the clock, so each
measured block covers the kernels' execution and not only their launch.

The median and interquartile range are computed from the per-run times (each run is a block
of ``number_per_run`` calls, so a run's time is the block's mean); the spread is reported, not
hidden.
"""
from __future__ import annotations

import timeit
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils import benchmark

from archlens.errors import ArchlensError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Timing:
    """Latency of one forward call, in seconds."""

    median_s: float
    q1_s: float
    q3_s: float
    iqr_s: float
    runs: int  # timed runs (blocks)
    number_per_run: int  # calls per run
    min_s: float
    max_s: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_times(cls, times: list[float], number_per_run: int) -> "Timing":
        a = np.asarray(times, dtype=np.float64)
        q1, med, q3 = np.quantile(a, [0.25, 0.5, 0.75])
        return cls(median_s=float(med), q1_s=float(q1), q3_s=float(q3), iqr_s=float(q3 - q1),
                   runs=len(a), number_per_run=int(number_per_run), min_s=float(a.min()),
                   max_s=float(a.max()))


def resolve_device(device: str) -> torch.device:
    """``cpu`` or ``cuda``; CUDA without a GPU is a one-line user error."""
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ArchlensError("--device cuda: no CUDA device is available to torch "
                                f"{torch.__version__} (a CPU build, or no GPU); "
                                "run with --device cpu")
        return torch.device("cuda")
    raise ArchlensError(f"unknown device {device!r}; use cpu or cuda")


def resolve_dtype(dtype: str) -> torch.dtype:
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ArchlensError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}") from None


def prepare(device: torch.device, threads: int) -> None:
    """Device settings that hold for the whole run."""
    if threads < 1:
        raise ArchlensError(f"--threads must be a positive integer, got {threads}")
    torch.set_num_threads(threads)
    if device.type == "cpu":
        # Denormal floats are ~100x slower on x86; deep untrained nets can produce them.
        torch.set_flush_denormal(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def check_dtype_supported(device: torch.device, dtype: torch.dtype) -> None:
    """Run a tiny conv + BN + ReLU in ``dtype`` on ``device``; say so in one line if torch cannot,
    instead of failing in the middle of a benchmark."""
    try:
        with torch.no_grad():
            conv = torch.nn.Conv2d(4, 4, 3, padding=1, bias=False)
            bn = torch.nn.BatchNorm2d(4).eval()
            x = torch.randn(1, 4, 5, 5)
            mods = torch.nn.Sequential(conv, bn, torch.nn.ReLU()).to(device=device, dtype=dtype)
            mods(x.to(device=device, dtype=dtype))
    except (RuntimeError, NotImplementedError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ArchlensError(
            f"{str(dtype).replace('torch.', '')} convolutions are not supported on "
            f"{device.type} by torch {torch.__version__} ({first}); use --dtype float32"
            + (" or bfloat16" if device.type == "cpu" else "")) from None


def _sync_timer(device: torch.device) -> Callable[[], float]:
    if device.type == "cuda":
        def timer() -> float:
            torch.cuda.synchronize(device)
            return timeit.default_timer()
        return timer
    return timeit.default_timer


def measure(fns: Sequence[Callable[[], object]], device: torch.device, *, threads: int,
            min_run_time: float = 1.0, min_runs: int = 10, warmup: int = 3,
            rounds: int = 4, max_rounds: int = 200,
            max_time: float | None = None) -> list[Timing]:
    """Time each of ``fns`` (one forward call each, already under ``torch.no_grad()``),
    interleaved: round-robin rounds of about ``min_run_time / rounds`` seconds per callable, so
    a change in machine load (a shared VM) hits every form alike and the ratio of medians stays
    meaningful.

    ``warmup`` untimed calls first; the first round of each callable is
    ``Timer.blocked_autorange`` (which also picks the calls per run so the timer's own overhead
    is negligible); later rounds repeat ``Timer.timeit`` with that count. Stops once every
    callable has ``min_run_time`` seconds and ``min_runs`` runs, after at least ``rounds``
    rounds (or at ``max_rounds``, or once all callables together have spent ``max_time``
    seconds with at least 3 runs each: a bound for quick mode on a busy machine).
    """
    if min_run_time <= 0 or min_runs < 1 or rounds < 1:
        raise ArchlensError("min_run_time, min_runs and rounds must be positive")
    for fn in fns:
        for _ in range(max(warmup, 1)):
            fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    timers = [benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads,
                              timer=_sync_timer(device)) for fn in fns]
    per_round = min_run_time / rounds
    numbers: list[int] = [0] * len(fns)
    times: list[list[float]] = [[] for _ in fns]
    spent = [0.0] * len(fns)
    for r in range(max_rounds):
        for i, timer in enumerate(timers):
            if r == 0:
                m = timer.blocked_autorange(min_run_time=per_round)
                numbers[i] = m.number_per_run
                times[i].extend(m.times)
                spent[i] += sum(m.raw_times)
                continue
            t_round = 0.0
            while t_round < per_round:
                m = timer.timeit(numbers[i])
                times[i].extend(m.times)
                t_round += m.raw_times[0]
            spent[i] += t_round
        if r + 1 >= rounds and all(len(t) >= min_runs and s >= min_run_time
                                   for t, s in zip(times, spent)):
            break
        if max_time is not None and sum(spent) >= max_time and all(len(t) >= 3 for t in times):
            break
    return [Timing.from_times(t, n) for t, n in zip(times, numbers)]
