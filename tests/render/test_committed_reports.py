"""The committed example reports (reports/*/analysis.json) match what the code computes now.

Regenerate them with ``make reports`` when this fails.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "reports"
MODELS = sorted(p.parent.name for p in ROOT.glob("*/analysis.json"))


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS or ["<none committed>"])
def test_committed_analysis_is_up_to_date(model):
    if not MODELS:
        pytest.skip("no committed reports yet (make reports)")
    from archlens import api
    committed = json.loads((ROOT / model / "analysis.json").read_text())
    fresh = json.loads(json.dumps(api.analyze(model, checks=True).to_dict()))
    assert fresh == committed, f"reports/{model}/analysis.json is stale: run 'make reports'"
