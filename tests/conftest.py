"""Shared fixtures only (keep this file minimal)."""
from __future__ import annotations

import logging
from collections import Counter

import pytest


def fvcore_macs(model, x) -> tuple[int, Counter]:
    """fvcore's count (multiply-accumulates; fvcore calls them "flops") and its per-operator
    split, with no_grad and without fvcore's warnings about ops it does not count."""
    import torch
    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad():
        fca = FlopCountAnalysis(model, x)
        fca.unsupported_ops_warnings(False)
        fca.uncalled_modules_warnings(False)
        return int(fca.total()), Counter(fca.by_operator())


@pytest.fixture
def count_macs():
    """``count_macs(model, x) -> (total MACs, Counter by operator)`` via fvcore."""
    return fvcore_macs
