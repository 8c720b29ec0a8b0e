"""One variant -> one row, without Ray: equal to archlens.analyze of the variant alone, zoo
members with their published figures, constraints, failures and timeouts recorded."""
from __future__ import annotations

import pytest

import archlens
from archlens import zoo
from archlens.sweep.spec import load_spec
from archlens.sweep.variants import expand
from archlens.sweep.worker import analyse_batch, analyse_variant

from .fixtures.tiny import expected


def rows(data):
    s = load_spec(data)
    return s, analyse_batch(s, list(expand(s)))


def test_tiny_rows_match_hand_arithmetic_and_analyze(tiny_ref):
    s, rs = rows({"builder": tiny_ref, "params": {"width": [4, 6], "blocks": [1, 3],
                                                  "kernel": [3, 5]}})
    assert len(rs) == 8
    for r in rs:
        import json
        p = json.loads(r["config"])
        params, macs, rf = expected(p["width"], p["blocks"], p["kernel"])
        assert (r["status"], r["params"], r["paper_macs"], r["rf"]) == ("ok", params, macs, rf)
        # total MACs add the global average pool: one per input element (fvcore's rule)
        assert r["macs"] == macs + 32 * 32 * p["width"]
        assert r["depth"] == p["blocks"] + 1 and r["width"] == p["width"]


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])  # 101/152: test_local
def test_resnet_depths_reappear_with_published_counts(name):
    depth = int(name.removeprefix("resnet"))
    s, (r,) = rows({"builder": "resnet", "params": {"depth": [depth]}})
    card = zoo.card(name)
    assert r["zoo_model"] == name
    assert r["params"] == card.published_params  # torchvision's num_params, exactly
    assert abs(r["paper_macs"] - card.published_macs) <= 0.005 * card.published_macs
    alone = archlens.analyze(name, device="meta", checks=False)
    assert (r["macs"], r["rf"]) == (alone.totals.macs, max(alone.feature_rf.size))


def test_widened_and_grouped_neighbours_match_published_figures():
    # torchvision's published num_params for wide_resnet50_2 (width_per_group 128) and
    # resnext50_32x4d: independent of the zoo (wide_resnet50_2 is not in it)
    s, rs = rows({"builder": "resnet", "params": {
        "layers": [[3, 4, 6, 3]], "block": "bottleneck", "width_per_group": [128]}})
    assert rs[0]["params"] == 68_883_240 and rs[0]["zoo_model"] is None
    s, rs = rows({"builder": "resnext", "params": {"groups": [32]}})
    assert rs[0]["params"] == 25_028_904 and rs[0]["zoo_model"] == "resnext50_32x4d"


def test_resolution_changes_macs_not_params():
    s, (a, b) = rows({"builder": "resnet", "params": {"depth": [18], "resolution": [224, 448]}})
    assert a["params"] == b["params"] and b["input"] == "3x448x448"
    # every grid doubles per side (224 and 448 halve evenly down to 7 and 14): each conv costs
    # 4x; the fc (512 x 1000 MACs) does not scale
    fc = 512 * 1000
    assert b["paper_macs"] - fc == 4 * (a["paper_macs"] - fc)


def test_constraints_prune_and_record_why():
    s, rs = rows({"builder": "resnet", "params": {"depth": [18, 50, 152]},
                  "constraints": {"max_params": 30_000_000, "min_rf": 430}})
    by = {r["config"]: r for r in rs}
    r152 = by['{"depth":152}']
    assert r152["status"] == "pruned" and r152["macs"] is None  # pruned before the trace
    assert r152["reason"] == "params 60,192,808 > max_params 30,000,000"
    r50 = by['{"depth":50}']
    assert r50["status"] == "pruned" and r50["reason"] == "rf 427 px < min_rf 430 px"
    assert by['{"depth":18}']["status"] == "ok"  # 435 px


def test_failures_are_rows_not_exceptions(tiny_ref):
    s, rs = rows({"builder": tiny_ref, "params": {"width": [4], "fail": [False, True]}})
    assert [r["status"] for r in rs] == ["ok", "failed"]
    assert rs[1]["reason"] == "RuntimeError: asked to fail"
    s, rs = rows({"builder": tiny_ref, "params": {"exit": [True]}})  # sys.exit in user code
    assert rs[0]["status"] == "failed" and "called sys.exit(3)" in rs[0]["reason"]
    s, rs = rows({"builder": "resnet", "params": {"block": ["basic"], "groups": [1, 32],
                                                  "layers": [[2, 2, 2, 2]]}})
    assert rs[1]["status"] == "failed"
    assert rs[1]["reason"] == "basic blocks take groups = 1 and width_per_group = 64 only"


def test_timeout_is_recorded(tiny_ref):
    s = load_spec({"builder": tiny_ref, "params": {"hang": [5.0]},
                   "measure": {"timeout_s": 0.3}})
    (v,) = expand(s)
    r = analyse_variant(s, v)
    assert r["status"] == "timeout" and r["reason"] == "timed out after 0.3 s"
    assert r["elapsed_s"] < 3


def test_checks_measure():
    s, (r,) = rows({"builder": "resnet", "params": {"depth": [50]},
                    "measure": {"checks": True}})
    findings = archlens.check(archlens.analyze("resnet50", device="meta", checks=False))
    assert r["findings_info"] + r["findings_warning"] + r["findings_error"] == len(findings)
    import json
    codes = json.loads(r["findings"])
    assert sum(codes.values()) == len(findings) and set(codes) == {f.code for f in findings}


def test_latency_measure_is_measured(tiny_ref):
    s, (r, pruned) = rows({"builder": tiny_ref, "params": {"width": [4, 64]},
                           "constraints": {"max_params": 10_000},
                           "measure": {"latency": True}})
    assert r["status"] == "ok" and r["latency_ms"] > 0
    assert r["latency_note"].startswith("median of whole-model passes on cpu, 1 thread")
    assert pruned["status"] == "pruned" and pruned["latency_ms"] is None  # never profiled


def test_meta_build_skips_only_the_fills_of_meta_tensors():
    import torch
    from torch import nn

    from archlens.meta_kernels import skip_meta_init as _skip_meta_init
    with _skip_meta_init(), torch.device("meta"):
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    assert [tuple(p.shape) for p in m.parameters()] == [(4, 3, 3, 3), (4,), (4,), (4,)]
    assert all(p.is_meta for p in m.parameters())
    real = torch.zeros(3)
    with _skip_meta_init():
        real.fill_(2.0)
        torch.nn.init.normal_(real, mean=5.0, std=0.0)
    assert real.tolist() == [5.0, 5.0, 5.0]  # real tensors are still initialised
