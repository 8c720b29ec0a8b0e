"""The stage model: contiguous stage numbers in depth order with grids and effective strides
(figures from the papers' tables: Inception-v3 Table 1, ResNet Table 1)."""
from __future__ import annotations

import pytest

from archlens import api
from archlens.graph import Node
from archlens.metrics.stages import stage_index


@pytest.mark.parametrize("model, texts", [
    # Inception-v3 (Szegedy et al. 2016, Table 1): 299 -> 149 -> 147 -> 73 -> 71 -> 35 ->
    # 17 -> 8, then global pooling; strides are the products of the layer strides.
    ("inception_v3", ["S0: 299x299, stride 1 px", "S1: 149x149 > 147x147, stride 2 px",
                      "S2: 73x73 > 71x71, stride 4 px", "S3: 35x35, stride 8 px",
                      "S4: 17x17, stride 16 px", "S5: 8x8, stride 32 px",
                      "S6: 1x1, global (one unit sees the whole input)"]),
    # ResNet-50 (He et al. 2016, Table 1): conv1 112, conv2_x 56, ... conv5_x 7, avg pool.
    ("resnet50", ["S0: 224x224, stride 1 px", "S1: 112x112, stride 2 px",
                  "S2: 56x56, stride 4 px", "S3: 28x28, stride 8 px", "S4: 14x14, stride 16 px",
                  "S5: 7x7, stride 32 px", "S6: 1x1, global (one unit sees the whole input)"]),
])
def test_stages_of_the_papers_networks(model, texts):
    a = api.analyze(model, checks=False, device="meta")
    assert [s.text for s in a.stages] == texts
    assert [s.index for s in a.stages] == list(range(len(texts)))
    # every spatial node carries its stage number; the head (flatten, fc) none
    assert {n.stage for n in a.graph if n.is_spatial} == set(range(len(texts)))
    assert a.graph["fc"].stage is None
    # the stages and the head hold every MAC exactly once
    from archlens.metrics.stages import head_costs
    assert sum(s.macs for s in a.stages) + head_costs(a.graph)["macs"] == a.totals.macs
    # the JSON carries the same stages, and a document reads back to them
    d = a.to_dict()
    assert [s["text"] for s in d["stages"]] == texts
    assert type(a).from_dict(d).stages == a.stages


def _n(name: str, hw: tuple[int, int] | None) -> Node:
    shape = (1, 8, *hw) if hw else (1, 8)
    return Node(name=name, type="x", kind="function", module="", inputs=(), in_shapes=(),
                out_shape=shape)


def test_numbers_are_contiguous_and_a_revisited_grid_rejoins_its_stage():
    # a stride-4 stem (64 -> 16) skips log2 class 1; global pooling (class 6) follows 8x8
    hws = [(64, 64), (16, 16), (15, 15), (8, 8), (1, 1), None, (16, 16)]
    nodes = [_n(f"n{i}", hw) for i, hw in enumerate(hws)]
    assert stage_index(nodes, (64, 64)) == [0, 1, 1, 2, 3, None, 1]
