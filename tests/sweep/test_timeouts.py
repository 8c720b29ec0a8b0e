"""Timed-out variants on a local Ray instance: the worker's alarm (``measure.timeout_s``) and,
for a variant that alarm cannot stop, the driver's deadline, which cancels the task. Either
way that variant alone is a ``timeout`` row with its reason, the sweep finishes, and the rest
of its batch is analysed exactly once."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest

import archlens
from archlens.sweep import runner

from .fixtures.tiny import expected

pytest.importorskip("ray")

GRACE_S = 1.0


@pytest.fixture
def short_grace(monkeypatch):
    monkeypatch.setattr(runner, "DEADLINE_GRACE_S", GRACE_S)


def _parts(out):
    rows = []
    for f in sorted((out / "parts").glob("part-*.parquet")):
        rows += pq.read_table(f, columns=["variant_id", "p.width", "status", "pid"]).to_pylist()
    return rows


def test_a_hang_past_the_alarm_is_cancelled_alone(local_ray, short_grace, tmp_path, tiny_ref):
    spec = {"name": "stuck", "builder": tiny_ref,
            "params": {"width": [4, 6, 8, 10, 12], "stuck_width": 8},
            "measure": {"timeout_s": 2.0, "batch_size": 5}}
    res = archlens.sweep(spec, tmp_path / "stuck", workers=1)
    rows = res.table.to_pylist()
    assert [(r["p.width"], r["status"]) for r in rows] == [
        (4, "ok"), (6, "ok"), (8, "timeout"), (10, "ok"), (12, "ok")]
    assert rows[2]["reason"] == (
        "no result within 3 s (timeout_s 2 + 1 s grace): the variant did not stop at its "
        "alarm; its worker was cancelled")
    assert rows[2]["params"] is None and rows[2]["macs"] is None  # nothing measured
    assert [r["params"] for r in rows if r["status"] == "ok"] == [
        expected(w, 1, 3)[0] for w in (4, 6, 10, 12)]
    assert res.summary["counts"] == {"ok": 4, "timeout": 1}
    assert res.summary["failures"] == [{"variant_id": rows[2]["variant_id"],
                                        "status": "timeout", "reason": rows[2]["reason"]}]
    # every variant written once: 4 and 6 (streamed before the hang) were not run again, and
    # 10 and 12 ran on a new worker after the stuck one was cancelled
    parts = _parts(tmp_path / "stuck")
    assert sorted(r["p.width"] for r in parts) == [4, 6, 8, 10, 12]
    pid = {r["p.width"]: r["pid"] for r in parts}
    assert pid[4] == pid[6] and pid[8] is None and pid[10] == pid[12] != pid[4]


def test_a_batch_queued_behind_hangs_is_not_timed_out(local_ray, short_grace, tmp_path,
                                                      tiny_ref):
    # 4 single-variant tasks in flight on 2 CPUs: two hang, two wait in Ray's queue for a
    # CPU. A deadline counted from submission would time the waiting ones out unrun; the
    # driver counts from the task's start (its first streamed item) instead.
    spec = {"name": "queued", "builder": tiny_ref,
            "params": {"width": [8, 4], "stuck_width": 8, "blocks": [1, 2]},
            "measure": {"timeout_s": 2.0, "batch_size": 1}}
    res = archlens.sweep(spec, tmp_path / "queued", workers=2)
    by = {(r["p.width"], r["p.blocks"]): r["status"] for r in res.table.to_pylist()}
    assert by == {(8, 1): "timeout", (8, 2): "timeout", (4, 1): "ok", (4, 2): "ok"}


def test_the_workers_alarm_times_a_variant_out_on_ray(local_ray, tmp_path, tiny_ref):
    res = archlens.sweep({"name": "alarm", "builder": tiny_ref,
                          "params": {"width": [4, 6], "hang": [0.0, 30.0]},
                          "measure": {"timeout_s": 0.5, "batch_size": 4}},
                         tmp_path / "alarm", workers=1)
    rows = res.table.to_pylist()
    assert [r["status"] for r in rows] == ["ok", "timeout", "ok", "timeout"]
    assert {r["reason"] for r in rows if r["status"] == "timeout"} == {
        "timed out after 0.5 s"}
    assert len({r["pid"] for r in _parts(tmp_path / "alarm")}) == 1  # no worker was killed
