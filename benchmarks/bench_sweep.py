"""Speed of `archlens sweep` on Ray (printed; no thresholds - the machines here are shared).

1. Throughput: N seeded random ResNet/ResNeXt variants (bottleneck blocks, 1-4 blocks per
   stage, cardinality 1-32, width per group 4-64, 128-224 px) analysed on the meta device
   on a local Ray instance, wall time including Ray start-up (target: 10,000 in <= 10 min
   on 2 cores).
2. Scaling: the same M variants with 1 worker and with 2 workers (separate local Ray
   instances); throughput from the first finished batch to the last (worker start-up and
   Ray start-up excluded, printed apart), ratio 2 / 1 (target >= 1.8x).
3. Driver memory: the driver's resident set size (RSS) sampled after every batch over a
   sweep of K tiny variants (the fixture builder: 0.01 s each, so the driver's own
   bookkeeping dominates); first quarter vs last quarter (target: flat).

    python benchmarks/bench_sweep.py [--variants 10000] [--scaling 200] [--memory 4000]
                                     [--quick] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from itertools import product
from pathlib import Path

HERE = Path(__file__).resolve().parent
TINY = HERE.parent / "tests" / "sweep" / "fixtures" / "tiny.py"


def space(n: int, seed: int = 2020) -> dict:
    layers = [list(p) for p in product((1, 2, 3, 4), repeat=4)]
    return {"name": f"bench{n}", "builder": "resnet", "samples": n, "seed": seed,
            "params": {"block": "bottleneck", "layers": layers,
                       "groups": [1, 2, 4, 8, 16, 32],
                       "width_per_group": [4, 8, 16, 32, 64],
                       "resolution": [128, 160, 192, 224]},
            "measure": {"batch_size": 16}}


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(spec, out: Path, workers: int, progress=None):
    from archlens.sweep import run_sweep
    t0 = time.perf_counter()
    res = run_sweep(spec, out, workers=workers, progress=progress)
    return res, time.perf_counter() - t0


def throughput(n: int, workers: int, root: Path) -> None:
    print(f"\n1. {n:,} ResNet/ResNeXt variants on meta, {workers} workers, local Ray")
    res, wall = run(space(n), root / "throughput", workers)
    r = res.summary["this_run"]
    c = res.summary["counts"]
    nodes = statistics.mean(x for x in res.table.column("nodes").to_pylist() if x)
    print(f"   counts: {c}; mean graph size {nodes:.0f} nodes")
    print(f"   wall {wall:.1f} s incl. Ray start-up {r['ray_startup_s']:.1f} s "
          f"(= {wall / 60:.2f} min; target 10,000 in <= 10 min)")
    print(f"   {n / wall:.2f} variants/s overall, {r['variants_per_s']:.2f} variants/s "
          "while the workers ran")
    if n < 10_000:
        print(f"   extrapolated to 10,000 at this rate: {10_000 / (n / wall) / 60:.1f} min")


def scaling(m: int, root: Path) -> None:
    print(f"\n2. scaling: the same {m} variants with 1 and 2 workers")
    rates = {}
    for w in (1, 2):
        times: list[float] = []

        def progress(ev, times=times):
            if ev["written"]:
                times.append(time.perf_counter())
        res, wall = run(space(m, seed=7), root / f"scale{w}", w, progress)
        steady = (len(times) - 1) and (res.summary["this_run"]["analysed"]
                                       * (len(times) - 1) / len(times)) / (times[-1] - times[0])
        rates[w] = steady
        r = res.summary["this_run"]
        print(f"   {w} worker(s): {steady:.2f} variants/s steady (first batch to last); "
              f"wall {wall:.1f} s, Ray start-up {r['ray_startup_s']:.1f} s")
    print(f"   ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x (target >= 1.8x)")


def memory(k: int, root: Path) -> None:
    print(f"\n3. driver memory over {k:,} tiny variants (RSS after every batch)")
    spec = {"name": "mem", "builder": f"{TINY}:build", "input": "3x8x8",
            "params": {"width": list(range(1, 1 + k // 10)), "blocks": [0, 1],
                       "kernel": [1, 3, 5, 7, 9]}, "measure": {"batch_size": 8}}
    samples: list[tuple[int, float]] = []
    res, wall = run(spec, root / "mem", 2,
                    lambda ev: samples.append((ev["done"], rss_mib())) if ev["written"] else None)
    q = max(1, len(samples) // 4)
    first = statistics.median(m for _, m in samples[:q])
    last = statistics.median(m for _, m in samples[-q:])
    print(f"   {res.summary['variants']:,} variants in {wall:.1f} s; driver RSS median first "
          f"quarter {first:.1f} MiB, last quarter {last:.1f} MiB "
          f"({last - first:+.1f} MiB, {100 * (last - first) / first:+.1f} %)")
    print(f"   per 1,000 variants: {1000 * (last - first) / max(1, samples[-1][0] - samples[0][0]):+.2f}"
          " MiB")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", type=int, default=10_000)
    p.add_argument("--scaling", type=int, default=200)
    p.add_argument("--memory", type=int, default=4000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="300 / 60 / 1,000 variants")
    p.add_argument("--skip", default="", help="comma-separated: throughput,scaling,memory")
    p.add_argument("--out", default=None, help="keep the sweep folders here")
    a = p.parse_args()
    if a.quick:
        a.variants, a.scaling, a.memory = 300, 60, 1000
    skip = set(a.skip.split(","))
    root = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="archlens-bench-sweep-"))
    print(f"bench_sweep: {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (machine shared: numbers are as noisy as it is busy)")
    try:
        if "throughput" not in skip:
            throughput(a.variants, a.workers, root)
        if "scaling" not in skip:
            scaling(a.scaling, root)
        if "memory" not in skip:
            memory(a.memory, root)
    finally:
        if not a.out:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
