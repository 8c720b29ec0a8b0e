"""Clocks for per-node timing: one interface, one implementation per device.

A clock hands out *marks* around each timed op and turns pairs of marks into seconds after the
pass:

* :class:`CpuClock` -- ``time.perf_counter_ns`` (CPU ops run synchronously, so the wall time
  between the marks is the op's time);
* :class:`CudaClock` -- a pair of CUDA events recorded on the current stream around each op,
  with *no* synchronisation between ops: kernels queue as they would without the profiler,
  and :meth:`CudaClock.finish` synchronises once, after the pass, before reading
  ``Event.elapsed_time``. Events are created once and reused by position on later passes.
"""
from __future__ import annotations

import time
from typing import Any


class CpuClock:
    device = "cpu"

    def begin_pass(self) -> None:
        return None

    def mark(self) -> int:
        return time.perf_counter_ns()

    def finish(self) -> None:
        return None

    def seconds(self, start: Any, stop: Any) -> float:
        return (stop - start) * 1e-9


class CudaClock:
    """CUDA events, created lazily and reused by position across passes.

    ``event_factory`` and ``synchronize`` default to torch's; tests inject fakes to check the
    protocol (marks are events, one synchronisation per pass, times in seconds) without a GPU.
    """

    device = "cuda"

    def __init__(self, event_factory: Any = None, synchronize: Any = None):
        if event_factory is None or synchronize is None:
            import torch
            event_factory = event_factory or (lambda: torch.cuda.Event(enable_timing=True))
            synchronize = synchronize or torch.cuda.synchronize
        self._new = event_factory
        self._sync = synchronize
        self._pool: list[Any] = []
        self._next = 0
        self.syncs = 0

    def begin_pass(self) -> None:
        self._next = 0

    def mark(self) -> Any:
        if self._next == len(self._pool):
            self._pool.append(self._new())
        ev = self._pool[self._next]
        self._next += 1
        ev.record()
        return ev

    def finish(self) -> None:
        self._sync()
        self.syncs += 1

    def seconds(self, start: Any, stop: Any) -> float:
        return start.elapsed_time(stop) * 1e-3  # elapsed_time is in milliseconds


def make_clock(device: str) -> CpuClock | CudaClock:
    return CudaClock() if device == "cuda" else CpuClock()
