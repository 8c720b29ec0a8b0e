"""A two-node Ray cluster on this machine (head + one worker node on loopback ports, each
``ray start --block`` in its own process group under tmp, stopped by those groups): the
driver is killed mid-sweep with SIGINT and with SIGKILL, ``--resume`` finishes, no finished
variant is analysed twice, the final table equals the table computed without Ray, and the
work ran on both nodes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pyarrow.parquet as pq
import pytest

from archlens.sweep.spec import load_spec
from archlens.sweep.store import rows_to_table, table_schema
from archlens.sweep.variants import expand
from archlens.sweep.worker import analyse_batch

from ._cluster import Cluster

pytest.importorskip("ray")
SLEEP = 0.25  # seconds per variant build on the cluster, so a sweep can be killed mid-way
N = 30  # variants


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    log = tmp / "builds.jsonl"
    c = Cluster(tmp, nodes=2, cpus_per_node=1,
                worker_env={"ARCHLENS_TINY_LOG": str(log), "ARCHLENS_TINY_SLEEP": str(SLEEP)})
    c.log = log
    try:
        c.start()
        yield c
    finally:
        c.stop()
        assert c.leftover() == [], "cluster processes left running"


def _spec(tmp_path, tiny_ref, tag):
    p = tmp_path / "spec.toml"
    p.write_text(f'name = "{tag}"\nbuilder = "{tiny_ref}"\n[params]\ntag = "{tag}"\n'
                 "width = [4, 6, 8, 10, 12]\nblocks = [1, 2, 3]\nkernel = [1, 3]\n"
                 "[measure]\nbatch_size = 2\n")
    return p


def _sweep(c, spec, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "archlens", "sweep", str(spec), "--out",
                             str(out), "--address", c.address, "--no-report", "--quiet",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=c.env())


def _written_ids(out):
    ids = []
    for f in sorted((out / "parts").glob("part-*.parquet")):
        ids += pq.read_table(f, columns=["variant_id"]).column(0).to_pylist()
    return ids


def _builds(c, tag):
    lines = [json.loads(x) for x in c.log.read_text().splitlines()] if c.log.exists() else []
    return Counter(json.dumps({k: v for k, v in d.items() if k != "tag"}, sort_keys=True)
                   for d in lines if d["tag"] == tag)


def _key(cfg):
    return json.dumps({k: cfg[k] for k in ("blocks", "kernel", "width")}, sort_keys=True)


def _reference(spec_path):
    """The same sweep without Ray (builds not logged, no sleep): the expected table."""
    spec = load_spec(spec_path)
    env = {k: os.environ.pop(k) for k in ("ARCHLENS_TINY_LOG", "ARCHLENS_TINY_SLEEP")
           if k in os.environ}
    try:
        rows = analyse_batch(spec, list(expand(spec)))
    finally:
        os.environ.update(env)
    t = rows_to_table(spec, rows, "ref")
    return t.select([f.name for f in table_schema(spec)])


def _kill_when_written(proc, out, sig, at_least=4, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sweep ended before it could be killed: {proc.communicate()}")
        if len(_written_ids(out)) >= at_least if (out / "parts").is_dir() else False:
            proc.send_signal(sig)
            return proc.communicate(timeout=120)
        time.sleep(0.1)
    proc.kill()
    pytest.fail("no part written in time")


def test_sigint_then_sigkill_then_resume_on_two_nodes(cluster, tmp_path, tiny_ref):
    tag = "kill"
    spec = _spec(tmp_path, tiny_ref, tag)
    out = tmp_path / "out"
    # 1. SIGINT: the driver stops submitting, writes the batches in flight, exits 130
    proc = _sweep(cluster, spec, out)
    _, err = _kill_when_written(proc, out, signal.SIGINT, at_least=4)
    assert proc.returncode == 130 and "continue with --resume" in err, err
    assert not (out / "results.parquet").exists()
    first = _written_ids(out)
    assert len(first) == len(set(first)) < N
    assert sum(_builds(cluster, tag).values()) == len(first)  # nothing built and lost
    # 2. --resume, then SIGKILL mid-way: only the batches in flight are lost
    proc = _sweep(cluster, spec, out, "--resume")
    _kill_when_written(proc, out, signal.SIGKILL, at_least=len(first) + 4)
    assert proc.returncode == -signal.SIGKILL
    second = _written_ids(out)
    assert len(second) == len(set(second)) < N and set(first) <= set(second)
    time.sleep(1.0)  # the killed driver's tasks may still be finishing on the cluster
    # 3. --resume finishes
    proc = _sweep(cluster, spec, out, "--resume")
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"{N - len(second)} variants analysed, {len(second)} already written" in stdout
    final = _written_ids(out)
    assert len(final) == len(set(final)) == N  # every variant written exactly once
    builds = _builds(cluster, tag)
    table = pq.read_table(out / "results.parquet")
    keys = {r["variant_id"]: _key(json.loads(r["config"])) for r in table.to_pylist()}
    for vid in second:  # finished before a kill: never analysed again
        assert builds[keys[vid]] == 1, (vid, builds[keys[vid]])
    assert set(builds) == set(keys.values())
    assert table.equals(_reference(spec))  # the table an uninterrupted run computes
    nodes = set(pq.read_table(out / "timings.parquet").column("node").to_pylist())
    assert len(nodes) == 2, nodes  # the work ran on both nodes
