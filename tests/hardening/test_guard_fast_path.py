"""The memory guard's fast path: the meta estimate is skipped only when the run clearly fits.

Independent figures: parameter counts of the zoo built on meta (every card) against the bound
the fast path assumes, and the published peak-activation ratios the margin is derived from.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archlens import guard
from archlens.errors import ResourceLimitError
from archlens.zoo import registry


def test_every_zoo_model_is_under_the_assumed_weight_bound():
    for name in registry.list_models():
        with torch.device("meta"):
            m = registry.get_model(name)
        n = sum(p.numel() for p in m.parameters()) + sum(b.numel() for b in m.buffers())
        assert n * 8 <= guard.ZOO_WEIGHT_BOUND, name


@pytest.fixture
def no_estimate(monkeypatch):
    calls = []

    def fake(*a, **k):
        calls.append(a)
        raise AssertionError("the meta estimate ran")
    from archlens import engine
    monkeypatch.setattr(engine, "analyze_model", fake)
    return calls


def test_zoo_model_at_its_card_input_skips_the_estimate(no_estimate):
    # 3x299x299 float32 = 1,072,812 B; 4096 x that + 4 GiB < 64 GiB
    assert guard.check_memory("inception_v3", None, batch=1, device="cpu", dtype="float32",
                              limit=64 * 2**30) is None
    assert no_estimate == []


def test_module_with_known_weights_skips_the_estimate(no_estimate):
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    assert guard.check_memory(m, (3, 32, 32), batch=1, device="cpu", dtype="float32",
                              limit=2**30) is None
    assert no_estimate == []


@pytest.mark.parametrize("limit", ["1M", 4 * 2**20])
def test_a_tight_limit_still_estimates_and_refuses(limit):
    with pytest.raises(ResourceLimitError, match="over the limit"):
        guard.check_memory("resnet18", (3, 224, 224), batch=1, device="cpu",
                           dtype="float32", limit=limit)


def test_a_large_input_still_estimates(monkeypatch):
    seen = []
    from archlens import engine
    real = engine.analyze_model

    def spy(*a, **k):
        seen.append(a)
        return real(*a, **k)
    monkeypatch.setattr(engine, "analyze_model", spy)
    # 3x2048x2048 float32 = 48 MiB; 4096 x that is far over 8 GiB: the estimate must run
    guard.check_memory("resnet18", (3, 2048, 2048), batch=1, device="cpu", dtype="float32",
                       limit=8 * 2**30)
    assert len(seen) == 1


def test_user_reference_always_estimates(tmp_path, no_estimate):
    f = tmp_path / "m.py"
    f.write_text("import torch.nn as nn\ndef build():\n    return nn.Conv2d(3, 4, 3)\n")
    with pytest.raises(AssertionError, match="meta estimate ran"):
        guard.check_memory(f"{f}:build", (3, 16, 16), batch=1, device="cpu",
                           dtype="float32", limit=64 * 2**30)
