"""P3 factorization fixes carry the latency ratio measured for the same shapes."""
from __future__ import annotations

from torch import nn

from archlens import api, checks
from archlens.profile.p3 import with_measured_latency


class Five(nn.Module):
    """Inception-v3's Mixed_5b.branch5x5_2 shape: 5x5 conv 48 -> 64 on 35x35."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(48, 64, 5, padding=2, bias=False)

    def forward(self, x):
        return self.conv(x)


def _p3(analysis):
    return checks.run(analysis, config=checks.DEFAULTS, select=["P3.factorize-large"])


def test_ratio_from_bench_results_for_the_same_shapes():
    a = api.analyze(Five(), (48, 35, 35), checks=False)
    (f,) = _p3(a)
    assert f.data["intermediate_channels"] == 55       # round(sqrt(48 * 64))
    bench = {"env": {"device": "cpu", "dtype": "float32"}, "cases": [
        {"kind": "factorization", "id": "other", "latency_ratio": 2.0,
         "spec": {"grid": 17, "cin": 48, "mid": 55, "cout": 64, "n": 5, "bn_relu": False}},
        {"kind": "factorization", "id": "stack5/g35/48-55-64", "latency_ratio": 0.88,
         "spec": {"grid": 35, "cin": 48, "mid": 55, "cout": 64, "n": 5, "bn_relu": False}}]}
    (g,) = with_measured_latency([f], a, bench=bench)
    assert g.fix.startswith(f.fix)
    assert "saves 26,166,000 MACs (27.8 %)" in g.fix
    assert "measured -12 % latency on this CPU (0.88x" in g.fix
    assert g.data["measured_latency_ratio"] == 0.88 and "stack5/g35" in g.data["measured_how"]


def test_ratio_measured_now_when_no_bench_case_matches():
    a = api.analyze(Five(), (48, 35, 35), checks=False)
    (f,) = _p3(a)
    other = {"env": {"device": "cuda", "dtype": "float32"}, "cases": []}
    (g,) = with_measured_latency([f], a, bench=other, threads=1, min_run_time=0.05)
    assert g.data["measured_latency_ratio"] > 0 and "measured now" in g.data["measured_how"]
    assert "latency on this CPU" in g.fix


def test_other_findings_pass_through_unchanged():
    a = api.analyze(Five(), (48, 35, 35), checks=False)
    fs = checks.run(a, config=checks.DEFAULTS, select=["P4"])
    assert with_measured_latency(fs, a) == tuple(fs)
