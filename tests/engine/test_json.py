"""The JSON contract (docs/json-contract.md): schema, keys, units, and a lossless round trip."""
from __future__ import annotations

import json

import pytest

from archlens.analysis import Analysis, Finding
from archlens.engine import analyze_model
from archlens.errors import ArchlensError
from archlens.graph import Graph

LAYER_KEYS = {"name", "type", "inputs", "kernel", "stride", "padding", "dilation", "groups",
              "in_shapes", "out_shape", "params", "macs", "activations", "rf", "stage",
              "intensity", "module", "kind", "attrs", "base_type"}


@pytest.fixture(scope="module")
def inception():
    return analyze_model("inception_v3", device="meta")


def test_document_has_the_contract_keys(inception):
    d = json.loads(inception.to_json())
    assert d["schema"] == "archlens.analysis/1.1"
    assert {"model", "input_shape", "units", "totals", "feature_rf", "layers",
            "unsupported_ops", "findings"} <= set(d)
    assert d["model"] == "inception_v3" and d["input_shape"] == [1, 3, 299, 299]
    assert d["units"]["macs"] == "multiply-accumulates" and d["units"]["params"] == "count"
    assert {"params", "trainable_params", "macs", "activations", "paper_macs"} <= set(d["totals"])
    assert d["totals"]["params"] == 27_161_264
    assert d["feature_rf"]["size"] == [1311, 1311]
    assert set(d["layers"][0]) == LAYER_KEYS
    conv = next(x for x in d["layers"] if x["name"] == "Mixed_5b.branch1x1.conv")
    assert conv["kernel"] == [1, 1] and conv["groups"] == 1
    assert conv["in_shapes"] == [[1, 192, 35, 35]] and conv["out_shape"] == [1, 64, 35, 35]
    assert conv["params"] == 192 * 64 and conv["macs"] == 35 * 35 * 64 * 192
    assert conv["inputs"] == ["maxpool2"]
    assert d["unsupported_ops"] == {"aten::avg_pool2d": 9}


def test_round_trip_rebuilds_the_graph_from_json_alone(inception):
    finding = Finding(code="P3.factorize-large", severity="warning", layers=("Mixed_5b.cat",),
                      message="m", evidence="e", fix="f", saving={"macs": 1, "params": 2},
                      data={"ratio": 0.5, "shape": [1, 2]})
    a = inception.with_findings([finding])
    text = a.to_json()
    b = Analysis.from_json(text)
    assert isinstance(b.graph, Graph)
    assert b.graph == a.graph          # every node, field by field (attrs, rf, stage ...)
    assert b.totals == a.totals and b.feature_rf == a.feature_rf
    assert b.findings == a.findings and b.unsupported_ops == a.unsupported_ops
    assert b == a
    assert b.to_json() == text
    # the rebuilt graph is wired: successors come from `inputs`
    assert set(b.graph.successors("maxpool2")) >= {"Mixed_5b.branch1x1.conv"}


def test_non_spatial_layers_serialise_rf_as_null(fixture_ref):
    a = analyze_model(fixture_ref("small_models.py", "MLP"))
    d = a.to_dict()
    assert d["feature_rf"] is None and all(x["rf"] is None for x in d["layers"])
    assert Analysis.from_dict(json.loads(json.dumps(d))) == a


def test_wrong_schema_is_a_one_line_error():
    with pytest.raises(ArchlensError, match="schema"):
        Analysis.from_dict({"schema": "other/1"})
