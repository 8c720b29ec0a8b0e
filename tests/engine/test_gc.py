"""An analysis pauses the cyclic garbage collector (``engine.gc_paused``) and leaves no
reference cycles behind: the tracer, its records, the MAC counter and the meta copy of the
model are freed by reference counting, so the one collection after the pause has only the
result to traverse (on an 8,001-node net 138,149 of 294,395 young objects used to be this
garbage, and that collection took 130 ms; docs/engine.md, "Speed")."""
from __future__ import annotations

import gc

import torch
from torch import nn

from archlens.engine import analyze_model, gc_paused


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return torch.relu(x + self.bn(self.conv(x)))


def _garbage_after(fn) -> list:
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        fn()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()


def test_an_analysis_leaves_no_reference_cycles():
    model = nn.Sequential(*[_Block() for _ in range(20)]).eval()
    for device in ("meta", "cpu"):
        analyze_model(model, (4, 8, 8), device=device)  # first-use caches, imports
        garbage = _garbage_after(lambda: analyze_model(model, (4, 8, 8), device=device))
        kinds = {type(o).__name__ for o in garbage}
        assert not kinds & {"Tracer", "OpRecord", "MacCounter", "_FunctionRecorder", "_Block",
                            "Conv2d", "Parameter"}, (device, sorted(kinds))
        assert len(garbage) < 20, (device, len(garbage), sorted(kinds)[:20])


def test_gc_paused_restores_the_collector_even_on_error():
    assert gc.isenabled()
    try:
        with gc_paused():
            assert not gc.isenabled()
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()
