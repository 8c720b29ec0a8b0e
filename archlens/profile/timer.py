"""Time every node of one forward pass: the analysis's own tracer with a clock around each op.

Attribution must name exactly the nodes the analysis has, so the profiler does not re-implement
the trace: :class:`TimingTracer` *is* :class:`archlens.trace.Tracer` (same leaf rule, same
naming, same functional-op recording) with two additions:

* a leaf module's time runs from the end of its forward pre-hook to the start of its forward
  hook (the tracer's bookkeeping in those hooks is outside the interval);
* a functional op recorded at the top level (``torch.cat``, ``x + y``, ``F.relu`` between
  modules) is timed around the call itself inside the :class:`TorchFunctionMode`, before the
  tracer records it.

What the intervals do not contain -- Python code of the model's ``forward`` between ops, torch
calls on untracked tensors, the hooks' dispatch -- is what the whole-model median (measured
without any tracer) has beyond the sum of per-node medians: the profile reports that gap as
*unattributed*. Each timed pass uses a fresh tracer (the tracer keeps the pass's tensors alive
to map them by identity); the names are checked against the first pass, so a model whose
control flow changes between passes is refused instead of mis-attributed.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from archlens.trace import Tracer, _FunctionRecorder, _untraced


class _TimedRecorder(_FunctionRecorder):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        t = self.tracer
        if not t.active or t.leaf_depth:
            return func(*args, **kwargs)
        outer, t.current_fn = t.current_fn, getattr(func, "__name__", "")
        clock = t.clock
        try:
            start = clock.mark()
            try:
                out = func(*args, **kwargs)
            except Exception as e:
                t.note_function_failure(func, args, kwargs, e)
                raise
            stop = clock.mark()
        finally:
            t.current_fn = outer
        before = len(t.records)
        with _untraced():
            t.record_function(func, args, kwargs, out)
        if len(t.records) > before:
            t.marks.append((t.records[-1].name, start, stop))
        return out


class TimingTracer(Tracer):
    """A :class:`Tracer` that also collects ``(node name, start mark, stop mark)`` per node."""

    def __init__(self, model: nn.Module, clock: Any):
        super().__init__(model)
        self.clock = clock
        self.marks: list[tuple[str, Any, Any]] = []
        self._starts: list[tuple[nn.Module, Any]] = []
        self._mode = _TimedRecorder(self)

    def _pre(self, m: nn.Module, args: tuple, kwargs: dict) -> None:
        super()._pre(m, args, kwargs)
        if self.active and self.leaf_depth == 1 and self._leaf_in and self._leaf_in[-1][0] is m:
            self._starts.append((m, self.clock.mark()))
        return None

    def _post(self, m: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
        if self.active and self.leaf_depth == 1 and self._starts and self._starts[-1][0] is m:
            stop = self.clock.mark()
            _, start = self._starts.pop()
            before = len(self.records)
            super()._post(m, args, kwargs, out)
            if len(self.records) > before:
                self.marks.append((self.records[-1].name, start, stop))
            return None
        return super()._post(m, args, kwargs, out)
