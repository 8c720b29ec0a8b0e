"""Speed of `archlens sweep` on Ray (printed; no thresholds - the machines here are shared).

1. Where a variant's time goes, in-process (no Ray): the meta build (with weight init skipped,
   as the worker does, and with it, as before), ``archlens.analyze``, the rest of the row,
   and the driver's Parquet part write, per variant.
2. Scaling: the same S seeded random ResNet/ResNeXt variants (bottleneck blocks, 1-4 blocks per
   stage, cardinality 1-32, width per group 4-64, 128-224 px) on a local Ray instance with 1
   worker and with 2 workers (separate instances). Throughput from the first written batch to
   the last (Ray start-up printed apart), and the steady rate between the written batches
   nearest 10 % and 90 % of the variants (what a long sweep runs at: without the second
   worker's start and the end, where one worker may idle while the other finishes its last
   batch), the ratio 2 / 1 of each (target >= 1.8x), the sweep's own
   cost per variant with 1 worker (its wall per variant minus the worker's time in the
   variant: Ray dispatch, streaming, serialisation, the driver's writes and progress), and
   the 2-worker rate extrapolated to 10,000 variants including Ray start-up (target <= 10 min).
3. Driver memory: the driver's resident set size (RSS) after every written batch over one
   sweep of K tiny variants (the fixture builder at 3x8x8, ~10 ms each, so the driver's own
   bookkeeping dominates): RSS at 1,000 written vs at K (target: flat).

The load average is sampled every second during each part and printed with it: on a shared
2-core machine absolute numbers are as noisy as the machine is busy; compare ratios.

    python benchmarks/bench_sweep.py [--breakdown 30] [--scaling 512] [--memory 5000]
                                     [--batch 8] [--quick] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from itertools import product
from pathlib import Path

HERE = Path(__file__).resolve().parent
TINY = HERE.parent / "tests" / "sweep" / "fixtures" / "tiny.py"


def space(n: int, seed: int = 2020, batch: int = 8) -> dict:
    layers = [list(p) for p in product((1, 2, 3, 4), repeat=4)]
    return {"name": f"bench{n}", "builder": "resnet", "samples": n, "seed": seed,
            "params": {"block": "bottleneck", "layers": layers,
                       "groups": [1, 2, 4, 8, 16, 32],
                       "width_per_group": [4, 8, 16, 32, 64],
                       "resolution": [128, 160, 192, 224]},
            "measure": {"batch_size": batch}}


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Load:
    """The 1-minute load average, sampled every second while the block runs."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()

    @contextmanager
    def sampling(self):
        def loop():
            while not self._stop.is_set():
                self.samples.append(os.getloadavg()[0])
                self._stop.wait(1.0)
        t = threading.Thread(target=loop, daemon=True)
        self._stop.clear()
        t.start()
        try:
            yield self
        finally:
            self._stop.set()
            t.join()

    def line(self) -> str:
        s = self.samples or [os.getloadavg()[0]]
        return (f"load average during it {min(s):.1f} / {statistics.median(s):.1f} / "
                f"{max(s):.1f} (min / median / max, 2 cores)")


def ms(x: float) -> str:
    return f"{x * 1e3:7.1f} ms"


def breakdown(m: int, root: Path) -> None:
    import torch

    import archlens
    from archlens.sweep import worker
    from archlens.sweep.spec import load_spec
    from archlens.sweep.store import Store
    from archlens.sweep.variants import expand
    print(f"\n1. where a variant's time goes, in-process (no Ray), {m} ResNet/ResNeXt variants")
    spec = load_spec(space(m, seed=11))
    vs = list(expand(spec))
    b = worker.builder_for(spec)
    worker.warm_up()

    def build_with_init(kw):
        with torch.device("meta"):
            return b.build(kw).eval()

    # time the build and the analysis inside the worker's own call (wrappers on the two
    # functions it calls), so the rest of the row is measured, not a difference of runs
    spent = {"build": 0.0, "analyze": 0.0}
    orig_build, orig_analyze = worker._build, archlens.analyze

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t0
        return wrapper
    t = {"build (meta, with init: before)": 0.0, "whole row (analyse_variant)": 0.0}
    nodes = []
    load = Load()
    with load.sampling():
        worker._build, archlens.analyze = timed("build", orig_build), timed("analyze",
                                                                           orig_analyze)
        try:
            for v in vs:
                t0 = time.perf_counter()
                row = worker.analyse_variant(spec, v)
                t1 = time.perf_counter()
                build_with_init(v.builder_params)
                t2 = time.perf_counter()
                t["whole row (analyse_variant)"] += t1 - t0
                t["build (meta, with init: before)"] += t2 - t1
                nodes.append(row["nodes"])
        finally:
            worker._build, archlens.analyze = orig_build, orig_analyze
        t["build (meta, init skipped)"] = spent["build"]
        t["archlens.analyze"] = spent["analyze"]
        store = Store(root / "parts-bench", spec, resume=False, run="bench")
        store.open()
        rows = [dict(worker.empty_row(v), elapsed_s=0.1, node="n", pid=1) for v in vs]
        store.write_part(rows[:1])  # pyarrow's one-off Parquet set-up (~0.3 s) not counted
        t0 = time.perf_counter()
        for i in range(0, len(rows), 8):
            store.write_part(rows[i:i + 8])
        part = (time.perf_counter() - t0) / len(rows)
    per = {k: x / m for k, x in t.items()}
    whole = per["whole row (analyse_variant)"]
    rest = whole - per["build (meta, init skipped)"] - per["archlens.analyze"]
    print(f"   mean graph size {statistics.mean(nodes):.0f} nodes; {load.line()}")
    for k in ("build (meta, with init: before)", "build (meta, init skipped)",
              "archlens.analyze"):
        print(f"   {k:34s} {ms(per[k])} per variant")
    print(f"   {'rest of the row (counts, depth/width)':34s} {ms(rest)} per variant")
    print(f"   {'= one row in the worker':34s} {ms(whole)} per variant; analysis share "
          f"{100 * per['archlens.analyze'] / whole:.0f} %")
    print(f"   {'Parquet part write (driver)':34s} {ms(part)} per variant (batches of 8)")
    print(f"   init skip saves {ms(per['build (meta, with init: before)'] - per['build (meta, init skipped)'])}"
          " per variant")


def steady_rate(times: list[tuple[float, int]], total: int) -> float:
    """Variants per second between the written batches nearest 10 % and 90 % of ``total``
    (``times``: (clock, variants written) after each written batch)."""
    lo = min(times, key=lambda p: abs(p[1] - 0.1 * total))
    hi = min(times, key=lambda p: abs(p[1] - 0.9 * total))
    return (hi[1] - lo[1]) / (hi[0] - lo[0]) if hi[0] > lo[0] else float("nan")


def scaling(s: int, batch: int, root: Path) -> None:
    import pyarrow.parquet as pq

    from archlens.sweep import run_sweep
    print(f"\n2. scaling: the same {s} ResNet/ResNeXt variants, local Ray, 1 and 2 workers "
          f"(batches of {batch})")
    rates, steady, walls, startups, loads = {}, {}, {}, {}, {}
    per_variant_worker = None
    for w in (1, 2):
        times: list[tuple[float, int]] = []

        def progress(ev, times=times):
            if ev["written"]:
                times.append((time.perf_counter(), ev["written"]))
        load = Load()
        with load.sampling():
            t0 = time.perf_counter()
            res = run_sweep(space(s, seed=7, batch=batch), root / f"scale{w}", workers=w,
                            progress=progress)
            walls[w] = time.perf_counter() - t0
        (ta, na), (tb, nb) = times[0], times[-1]
        rates[w] = (nb - na) / (tb - ta) if tb > ta else float("nan")
        steady[w] = steady_rate(times, s)
        startups[w] = res.summary["this_run"]["ray_startup_s"]
        loads[w] = load
        el = [x for x in pq.read_table(res.out / "timings.parquet").column(
            "elapsed_s").to_pylist() if x is not None]
        if w == 1:
            per_variant_worker = statistics.mean(el)
        # busy share: the workers' time inside variants over their wall time (steady window);
        # near 100 % means the sweep itself (driver, Ray) kept them fed, whatever the load
        busy = statistics.mean(el) * (nb - na) / ((tb - ta) * w) if tb > ta else float("nan")
        counts = res.summary["counts"]
        print(f"   {w} worker(s): {rates[w]:.2f} variants/s (first written batch to last), "
              f"steady {steady[w]:.2f} variants/s (10 % -> 90 % written); "
              f"wall {walls[w]:.1f} s incl. Ray start-up {startups[w]:.1f} s; {counts}")
        print(f"      workers busy in variants {100 * busy:.0f} % of the time; {load.line()}")
    ratio = rates[2] / rates[1]
    print(f"   ratio 2 workers / 1 worker: {ratio:.2f}x first-to-last, "
          f"{steady[2] / steady[1]:.2f}x steady (target >= 1.8x; needs 2 free cores)")
    wall1 = 1 / rates[1]
    print(f"   1 worker: {ms(wall1)} per variant in the sweep vs {ms(per_variant_worker)} in "
          f"the worker's variant (build + analyze + row): the sweep's own cost "
          f"{ms(wall1 - per_variant_worker)} per variant "
          f"({100 * (wall1 - per_variant_worker) / wall1:.0f} %: Ray dispatch, streaming, "
          "serialisation, driver writes, progress)")
    t10k = startups[2] + 10_000 / rates[2]
    t10k_steady = startups[2] + 10_000 / steady[2]
    print(f"   extrapolated: 10,000 such variants on 2 workers incl. Ray start-up: "
          f"{t10k / 60:.1f} min at the first-to-last rate, {t10k_steady / 60:.1f} min at the "
          f"steady rate, at this load (target <= 10 min)")


def memory(k: int, root: Path) -> None:
    from archlens.sweep import run_sweep
    print(f"\n3. driver memory over one sweep of {k:,} tiny variants (RSS after every batch)")
    spec = {"name": "mem", "builder": f"{TINY}:build", "input": "3x8x8",
            "params": {"width": list(range(1, 1 + k // 10)), "blocks": [0, 1],
                       "kernel": [1, 3, 5, 7, 9]}, "measure": {"batch_size": 8}}
    samples: list[tuple[int, float]] = []
    load = Load()
    with load.sampling():
        t0 = time.perf_counter()
        res = run_sweep(spec, root / "mem", workers=2,
                        progress=lambda ev: samples.append((ev["done"], rss_mib()))
                        if ev["written"] else None)
        wall = time.perf_counter() - t0
    n = res.summary["variants"]
    at = min(samples, key=lambda x: abs(x[0] - 1000))
    end = samples[-1]
    per_k = 1000 * (end[1] - at[1]) / max(1, end[0] - at[0])
    print(f"   {n:,} variants in {wall:.1f} s ({res.summary['counts']}); {load.line()}")
    print(f"   driver RSS at {at[0]:,} written: {at[1]:.1f} MiB; at {end[0]:,}: {end[1]:.1f} MiB "
          f"({end[1] - at[1]:+.1f} MiB, {per_k:+.2f} MiB per 1,000 variants; peak "
          f"{max(m for _, m in samples):.1f} MiB)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--breakdown", type=int, default=30, help="variants timed in-process")
    p.add_argument("--scaling", type=int, default=512, help="variants per worker count")
    p.add_argument("--memory", type=int, default=5000, help="tiny variants (>= 2,000)")
    p.add_argument("--batch", type=int, default=8, help="variants per Ray task (scaling)")
    p.add_argument("--quick", action="store_true", help="10 / 32 / 2,000 variants")
    p.add_argument("--skip", default="", help="comma-separated: breakdown,scaling,memory")
    p.add_argument("--out", default=None, help="keep the sweep folders here")
    a = p.parse_args()
    if a.quick:
        a.breakdown, a.scaling, a.memory = 10, 32, 2000
    skip = set(a.skip.split(","))
    root = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="archlens-bench-sweep-"))
    import archlens  # noqa: F401  (the driver's imports, before the first RSS reading)
    rss0 = rss_mib()
    print(f"bench_sweep: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start "
          f"(machine shared: numbers are as noisy as it is busy); python {sys.version.split()[0]}")
    print(f"driver RSS at start {rss0:.1f} MiB")
    load = Load()
    try:
        with load.sampling():
            if "breakdown" not in skip:
                breakdown(a.breakdown, root)
            if "scaling" not in skip:
                scaling(a.scaling, a.batch, root)
            if "memory" not in skip:
                memory(a.memory, root)
    finally:
        if not a.out:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\ndriver RSS at end {rss_mib():.1f} MiB (start {rss0:.1f} MiB); whole run: "
          f"{load.line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
