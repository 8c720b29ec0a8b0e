"""Sweeps on one local Ray instance (shared by the session: conftest.local_ray): every row equals archlens.analyze
of its variant alone, the zoo's members come back with their published counts, a second run
gives the same table, --resume skips finished work, and the report is well-formed."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pyarrow.parquet as pq
import pytest

import archlens
from archlens import zoo
from archlens.cli import main

from .conftest import EXAMPLES

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def small(local_ray, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "small"
    return archlens.sweep(EXAMPLES / "small.toml", out, workers=2)


def _alone(r):
    """The variant built by the zoo's own entry point (not the sweep's builder adapter)."""
    cfg = json.loads(r["config"])
    kw = {"layers": tuple(cfg["layers"])}
    kw["block"] = zoo.card("resnet18" if cfg["block"] == "basic" else "resnet50").kwargs["block"]
    import torch
    with torch.device("meta"):
        model = zoo.get_model("resnet50", **kw)
    return archlens.analyze(model, r["input"], device="meta", checks=False)


def test_every_row_equals_analyze_alone(small):
    rows = small.table.to_pylist()
    assert len(rows) == 24 and small.summary["counts"] == {"ok": 24}
    for r in rows:
        a = _alone(r)
        assert (r["params"], r["macs"], r["paper_macs"], r["rf"], r["rf_stride"]) == (
            a.totals.params, a.totals.macs, a.totals.paper_macs, max(a.feature_rf.size),
            max(a.feature_rf.stride)), r["config"]
    zoo_rows = {r["zoo_model"]: r for r in rows if r["zoo_model"]}
    assert set(zoo_rows) == {"resnet18", "resnet34", "resnet50"}
    for name, r in zoo_rows.items():
        assert r["params"] == zoo.card(name).published_params and r["input"] == "3x224x224"


def test_deep_members_published_counts(local_ray, tmp_path):
    res = archlens.sweep({"name": "deep", "builder": "resnet",
                          "params": {"depth": [101, 152]}}, tmp_path / "deep")
    for r in res.table.to_pylist():
        card = zoo.card(r["zoo_model"])
        assert r["params"] == card.published_params  # 44,549,160 and 60,192,808
        assert abs(r["paper_macs"] - card.published_macs) <= 0.005 * card.published_macs


def test_same_spec_same_table(local_ray, tmp_path, tiny_ref):
    spec = {"name": "tiny", "builder": tiny_ref, "params": {
        "width": [4, 8, 16], "blocks": [1, 2], "kernel": [1, 3]}, "measure": {"checks": True}}
    a = archlens.sweep(spec, tmp_path / "a", workers=2)
    b = archlens.sweep(spec, tmp_path / "b", workers=1)
    assert a.table.num_rows == 12 and a.table.equals(b.table)
    assert pq.read_table(tmp_path / "a" / "results.parquet").equals(
        pq.read_table(tmp_path / "b" / "results.parquet"))


def test_a_dying_worker_fails_only_its_variant(local_ray, tmp_path, tiny_ref):
    # one batch: the first variant kills its worker; the rest of the batch runs again alone
    res = archlens.sweep({"name": "crash", "builder": tiny_ref,
                          "params": {"crash": [True, False], "width": [4]},
                          "measure": {"batch_size": 4}}, tmp_path / "crash", workers=2)
    rows = res.table.to_pylist()
    assert [r["status"] for r in rows] == ["failed", "ok"]
    assert all(r["reason"].startswith("worker failed: ") for r in rows if r["status"] != "ok")


class _Doc(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a" and a.get("href", "").startswith("reports/"):
            self.links.append(a["href"])
        self.scripts += tag == "script"


def test_cli_resume_of_a_finished_sweep_and_report(small, capsys):
    # the CLI asks for the zoo references (the plane's stars): analysed on a worker
    assert main(["sweep", str(EXAMPLES / "small.toml"), "--out", str(small.out), "--resume",
                 "--top", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "0 variants analysed, 24 already written (resumed)" in out
    assert pq.read_table(small.out / "results.parquet").equals(small.table)
    doc = _Doc()
    doc.feed((small.out / "sweep.html").read_text(encoding="utf-8"))
    for anchor in ("summary", "pareto_macs_params", "pareto_macs_rf", "edf_macs", "balance",
                   "findings", "top", "table"):
        assert anchor in doc.ids
    assert doc.links and all((small.out / link).is_file() for link in doc.links)
    refs = json.loads((small.out / "summary.json").read_text())["references"]
    by = {r["name"]: r for r in refs}
    # depth = stem conv + 16 bottlenecks x 3 convs = 49 on the longest path
    assert by["resnet50"]["params"] == 25_557_032 and by["resnet50"]["depth"] == 49
    # without --resume the finished folder is refused, untouched
    assert main(["sweep", str(EXAMPLES / "small.toml"), "--out", str(small.out)]) == 2
    assert "already holds this sweep; pass --resume" in capsys.readouterr().err
