"""The meta path: nothing allocated, same numbers as real tensors."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from torch import nn

from archlens.engine import analyze_model
from .conftest import ref
from .fixtures.small_models import wide_vgg_params

_PROBE = textwrap.dedent("""
    import json, resource, sys
    from archlens.engine import analyze_model
    a = analyze_model(sys.argv[1], device="meta")
    # VmHWM: this process's own peak RSS (ru_maxrss survives fork+exec, so it can report
    # the parent's size)
    try:
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
        rss = int(hwm.split()[1]) * 1024
    except OSError:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"params": a.totals.params, "macs": a.totals.macs, "rss": rss,
                      "frf": list(a.feature_rf.size)}))
""")


@pytest.mark.slow
def test_two_billion_parameter_cnn_under_1_5_gb():
    out = subprocess.run([sys.executable, "-c", _PROBE, ref("small_models.py", "WideVGG")],
                         capture_output=True, text=True, timeout=600, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["params"] == wide_vgg_params() > 2_000_000_000
    assert r["rss"] < 1.5 * 2**30, f"peak RSS {r['rss'] / 2**30:.2f} GiB"
    # VGG-16 x16 conv MACs (4x channels in and out) + the classifier, by hand
    convs = [(3, 256, 224), (256, 256, 224), (256, 512, 112), (512, 512, 112),
             (512, 1024, 56), (1024, 1024, 56), (1024, 1024, 56), (1024, 2048, 28),
             (2048, 2048, 28), (2048, 2048, 28), (2048, 2048, 14), (2048, 2048, 14),
             (2048, 2048, 14)]
    hand = sum(cin * cout * 9 * s * s for cin, cout, s in convs)
    hand += 100352 * 16384 + 16384 * 16384 + 16384 * 1000
    assert r["macs"] == hand
    assert r["frf"] == [212, 212]  # same geometry as VGG-16


def test_user_module_is_not_modified_by_meta_or_cpu_analysis():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    m.train()
    w = m[0].weight.detach().clone()
    analyze_model(m, (3, 8, 8), device="meta")
    analyze_model(m, (3, 8, 8))
    assert m.training and m[1].training                      # flags restored
    assert not m[0].weight.is_meta and (m[0].weight == w).all()
    assert int(m[1].num_batches_tracked) == 0               # ran in eval mode


def test_dtype_sets_bytes():
    a = analyze_model("lenet5", device="meta", dtype="float16")
    assert a.dtype == "float16" and a.totals.weight_bytes == 2 * a.totals.params


def test_peak_activation_memory_by_hand():
    # conv (out 8x8x8) -> in-place relu (no new storage) -> conv (out 4x8x8)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),
                      nn.Conv2d(8, 4, 3, padding=1))
    a = analyze_model(m, (3, 8, 8), device="meta")
    # while the last conv runs: its input (8*64) and output (4*64) are live; the graph
    # input (3*64) was freed after the first conv
    assert a.totals.peak_activation_bytes == 4 * (8 * 64 + 4 * 64)
    assert a.totals.activations == 8 * 64 + 8 * 64 + 4 * 64
