"""Pareto fronts, EDFs, the balance plane and top variants against brute force / hand values."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from archlens.sweep import fronts as F


def row(i, macs, y, **kw):
    return {"variant_id": f"v{i}", "index": i, "status": "ok", "macs": macs, "params": y,
            "rf": y, "config": "{}", **kw}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=40))
def test_pareto_front_equals_brute_force_dominance(points):
    rows = [row(i, x, y) for i, (x, y) in enumerate(points)]
    front = F.pareto_front(rows, "macs", "params")

    def dominated(r):
        return any(o["macs"] <= r["macs"] and o["params"] >= r["params"]
                   and (o["macs"], o["params"]) != (r["macs"], r["params"]) for o in rows)
    assert sorted(r["index"] for r in front) == sorted(r["index"] for r in rows
                                                       if not dominated(r))
    assert [r["macs"] for r in front] == sorted(r["macs"] for r in front)


def test_edf_hand_values():
    assert F.edf([3, 1, 2, 2]) == ([1, 2, 2, 3], [0.25, 0.5, 0.75, 1.0])


def test_subspaces_and_default_split():
    rows = [row(0, 1, 1, **{"p.block": "basic", "p.layers": "[2,2,2,2]"}),
            row(1, 2, 1, **{"p.block": "bottleneck", "p.layers": "[2,2,2,2]"}),
            row(2, 3, 1, **{"p.block": "basic", "p.layers": "[3,4,6,3]"}),
            row(3, 4, 1, **{"p.block": "basic", "p.layers": "[1,1,1,1]"})]
    assert F.default_subspace(rows) == "block"  # 2 values beat layers' 3
    groups = F.subspaces(rows, "layers")
    assert list(groups) == ["layers = 1-1-1-1", "layers = 2-2-2-2", "layers = 3-4-6-3"]


def test_balance_plane_band_and_references():
    rows = [row(i, m, 1, depth=10 + i, width=64) for i, m in enumerate([80, 100, 124, 200])]
    refs = [{"name": "zoo_a", "macs": 100, "depth": 5, "width": 32},
            {"name": "zoo_b", "macs": 500, "depth": 9, "width": 32}]
    plane = F.balance_plane(rows, refs, budget=100, tolerance=0.25)
    assert [r["index"] for r in plane.in_band] == [0, 1, 2]  # 80 >= 100/1.25, 124 <= 125
    assert [r["in_band"] for r in plane.references] == [True, False]
    assert F.balance_plane(rows).budget == 112  # median of 80, 100, 124, 200


def test_top_variants_and_findings_counts():
    rows = [row(0, 2e9, 10, rf=400, findings='{"P3.x":2}', findings_error=0,
                findings_warning=1),
            row(1, 1e9, 10, rf=100, findings='{"P3.x":1,"P4.y":1}', findings_error=0,
                findings_warning=0),
            {**row(2, 5e8, 1), "status": "pruned"}]
    top = F.top_variants(rows, 1)
    assert top["fewest_macs"][0]["index"] == 1  # the pruned row never competes
    assert top["rf_per_gmac"][0]["index"] == 0  # 200 px/GMAC vs 100
    assert top["fewest_findings"][0]["index"] == 1
    assert "lowest_latency" not in top
    assert F.findings_over_grid(rows) == {"P3.x": {"variants": 2, "findings": 3},
                                          "P4.y": {"variants": 1, "findings": 1}}
