"""The RF status in the JSON contract (schema archlens.analysis/1.1) and in the one formatter."""
from __future__ import annotations

import json

import pytest

from archlens import analyze
from archlens.analysis import Analysis
from archlens.errors import ArchlensError
from archlens.graph import ReceptiveField
from archlens.render import _numbers as fmt

from . import modern_blocks as mb


@pytest.fixture(scope="module")
def vit():
    return analyze(mb.ViTLayer(), input_shape=(3, 32, 32), device="meta")


def test_global_feature_rf_round_trips_with_status_reason_and_node(vit):
    d = json.loads(vit.to_json())
    assert d["schema"] == "archlens.analysis/1.1"
    frf = d["feature_rf"]
    assert frf["status"] == "global" and frf["size"] == [32, 32] and frf["node"] == "getitem"
    assert frf["reason"] == "attention in attn.scaled_dot_product_attention"
    assert frf["grid"] == [4, 4]
    patch = next(x for x in d["layers"] if x["name"] == "patch")
    assert patch["rf"]["status"] == "exact" and patch["rf"]["reason"] is None
    b = Analysis.from_json(vit.to_json())
    assert b == vit and b.feature_rf.status == "global"


def test_unknown_status_serialises_null_numbers_and_round_trips():
    a = analyze(mb.SwinWindows(), input_shape=(3, 32, 32), device="meta")
    d = a.to_dict()
    assert d["feature_rf"]["status"] == "unknown" and d["feature_rf"]["size"] is None
    assert "within windows" in d["feature_rf"]["reason"]
    assert Analysis.from_dict(json.loads(json.dumps(d))) == a


def test_schema_1_documents_still_load_as_exact(vit):
    d = json.loads(vit.to_json())
    d["schema"] = "archlens.analysis/1"
    for x in [d["feature_rf"], d["input"]["rf"]] + [x["rf"] for x in d["layers"]]:
        if x is not None:
            for k in ("status", "reason", "grid", "node"):
                x.pop(k, None)
            if x["size"] is None:
                x.update(size=[1, 1], min_size=[1, 1], stride=[1, 1], padding=[0, 0])
    b = Analysis.from_dict(d)
    assert b.feature_rf.status == "exact" and b.feature_rf.size == (32, 32)
    d["feature_rf"]["status"] = "maybe"
    d["schema"] = "archlens.analysis/1.1"
    with pytest.raises(ArchlensError, match="status 'maybe'"):
        Analysis.from_dict(d)


def test_formatter_wording():
    exact = ReceptiveField((1311, 1311), (79, 79), (32, 32), (618, 618))
    assert fmt.rf(exact) == "1311 px" and fmt.rf(exact, short=True) == "1311"
    assert fmt.rf(ReceptiveField((35, 1311), (3, 3), (8, 32), (1, 1))) == "35x1311 px"
    g = ReceptiveField.whole((299, 299), "attention in blocks.0.attn")
    assert fmt.rf(g) == "global (whole input, 299 px) -- attention in blocks.0.attn"
    assert fmt.rf(g, short=True) == "global"
    u = ReceptiveField.unknown("cyclic shift along the H/W axis (roll at b.roll)")
    assert fmt.rf(u) == "unknown -- cyclic shift along the H/W axis (roll at b.roll)"
    assert fmt.rf(None) == "n/a" and not u.known and g.known
