"""Per-node attribution: the same nodes as the analysis, each timed once, no time invented."""
from __future__ import annotations

from pathlib import Path

import pytest

import archlens
from archlens import api
from archlens.errors import ArchlensError
from archlens.profile.clock import CpuClock, CudaClock
from archlens.profile.result import Profile
from archlens.profile.roofline import Roofline
from archlens.profile.run import ProfileError, time_passes

FIX = Path(__file__).parent / "fixtures" / "models.py"
ROOF = Roofline(peak_macs_per_s=1e10, bandwidth_bytes_per_s=1e10, method="test")


def ref(attr: str) -> str:
    return f"{FIX}:{attr}"


def quick(model, **kw) -> Profile:
    kw.setdefault("roofline", ROOF)
    return archlens.profile(model, warmup=1, repeats=3, **kw)


@pytest.fixture(scope="module")
def mixed():
    return quick(ref("Mixed"))


def test_every_analysed_node_gets_a_time(mixed):
    analysis = api.analyze(ref("Mixed"), checks=False)
    names = [n.name for n in analysis.graph.layers]
    assert [lp.name for lp in mixed.layers] == names
    assert not mixed.missing
    # leaf modules, top-level functional ops and the opened module's ops are all there
    types = {lp.type for lp in mixed.layers}
    assert {"Conv2d", "cat", "relu", "add", "flatten", "conv2d", "sigmoid", "mul",
            "Linear"} <= types
    assert all(lp.median_s > 0 and lp.q1_s <= lp.median_s <= lp.q3_s for lp in mixed.layers)
    assert mixed.repeats == 3 and mixed.sum_median_s == pytest.approx(
        sum(lp.median_s for lp in mixed.layers))


class _TickClock(CpuClock):
    """Every mark is the next integer: a node timed once, with nothing timed inside its
    interval, lasts exactly one tick (nested or overlapping intervals would last more)."""

    def __init__(self):
        self.t = 0

    def mark(self) -> int:
        self.t += 1
        return self.t

    def seconds(self, start, stop) -> float:
        return float(stop - start)


def test_each_node_is_one_interval_with_nothing_nested_inside():
    import torch

    from archlens.loader import load_model
    module, _, _ = load_model(ref("Mixed"))
    analysis = api.analyze(module, (3, 16, 16), checks=False)
    names = [n.name for n in analysis.graph.layers]
    module.eval()
    per_node, whole = time_passes(module, torch.randn(1, 3, 16, 16), clock=_TickClock(),
                                  names=names, warmup=1, repeats=2, min_time=0.1,
                                  max_repeats=2)
    assert set(per_node) == set(names) and len(whole) == 2
    assert all(ts == [1.0, 1.0] for ts in per_node.values()), per_node


def test_python_time_between_ops_is_reported_as_unattributed_not_spread_over_nodes():
    p = quick(ref("Sleepy"))                     # forward sleeps 20 ms between two convs
    assert p.whole_median_s >= 0.02
    assert p.unattributed_s >= 0.02 - p.sum_median_s
    assert max(lp.median_s for lp in p.layers) < 0.02
    assert p.overhead_fraction < 0                # the sum misses the sleep, and says so


def test_a_model_whose_ops_change_between_passes_is_refused():
    with pytest.raises(ProfileError, match="different ops on a repeated pass"):
        quick(ref("Flaky"))


def test_bad_requests_are_one_line_errors():
    with pytest.raises(ArchlensError, match="unknown device 'meta'"):
        quick(ref("Mixed"), device="meta")
    with pytest.raises(ArchlensError, match="unsupported dtype"):
        quick(ref("Mixed"), dtype="int8")
    with pytest.raises(ArchlensError, match="threads must be a positive integer"):
        quick(ref("Mixed"), threads=0)


def test_cuda_without_a_gpu_is_a_one_line_error():
    import torch
    if torch.cuda.is_available():  # pragma: no cover - only on a GPU machine
        pytest.skip("a GPU is present")
    with pytest.raises(ArchlensError, match="no CUDA device"):
        quick(ref("Mixed"), device="cuda")


def test_callers_module_is_not_modified():
    import torch
    from torch import nn
    m = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
    m.train()
    quick(m, input_shape=(3, 8, 8), dtype="bfloat16", channels_last=True)
    assert m.training and m[0].weight.dtype == torch.float32
    assert m[0].weight.is_contiguous()


class _FakeEvent:
    def __init__(self, log):
        self.log = log
        self.t = None

    def record(self):
        self.log.append("record")
        self.t = len(self.log)            # "milliseconds": position in the log

    def elapsed_time(self, other):
        return float(other.t - self.t)


def test_cuda_clock_records_events_without_syncing_per_op_and_reuses_them():
    log: list[str] = []
    made: list[_FakeEvent] = []

    def factory():
        made.append(_FakeEvent(log))
        return made[-1]

    clock = CudaClock(event_factory=factory, synchronize=lambda: log.append("sync"))
    for _ in range(2):                              # two passes of three timed ops
        clock.begin_pass()
        marks = [(clock.mark(), clock.mark()) for _ in range(3)]
        assert "sync" not in log[-6:]               # no synchronisation between ops
        clock.finish()
        assert log[-1] == "sync"
        assert [clock.seconds(a, b) for a, b in marks] == [1e-3, 1e-3, 1e-3]
    assert len(made) == 6 and clock.syncs == 2      # events created once, reused


def test_a_shape_read_in_forward_is_no_node_and_gets_no_time():
    analysis = api.analyze(ref("ShapeRead"), checks=False)
    p = quick(ref("ShapeRead"))
    assert [lp.name for lp in p.layers] == [n.name for n in analysis.graph.layers] == [
        "c", "view"]
    assert p.missing == () and all(lp.median_s > 0 for lp in p.layers)
