"""Fidelity of ``archlens profile`` (ratios printed; no thresholds -- those belong to a human).

1. Profiler overhead: the sum of per-layer medians against the whole-model median measured
   without the profiler, interleaved in the same run (target: within 10 %), on inception_v3
   and resnet50, CPU.
2. Analytical estimate: max(MACs / peak, bytes / bandwidth) under the measured roofline
   against the measured median, for every conv of resnet50 (target: median absolute error
   within 25 %), with the distribution of the signed error.
3. ShuffleNet V2 (Ma et al. 2018), Tables 1 and 2, direction on this CPU: a stack of 10 blocks
   of two 1x1 convs on 56x56 at (nearly) equal MACs, (a) c1:c2 = 1:1, 1:2, 1:6, 1:12 and (b)
   1x1 group convs with g = 1, 2, 4, 8. The paper's finding: 1:1 is fastest, and more groups
   are slower; printed beside each measured ratio is what the paper's memory-access-cost
   formula predicts for the same shapes (the paper's own speeds are on a GPU and an ARM core).

The machine is shared: the load average is printed with every result; repeat noisy runs.

    python benchmarks/bench_profile.py [--threads 1] [--repeats 2] [--quick]
"""
from __future__ import annotations

import argparse
import os
import statistics

import torch
from torch import nn

import archlens
from archlens.bench.timing import measure
from archlens.profile.traffic import memory_access_cost


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def overhead(models, threads: int, repeats: int, min_time: float) -> dict[str, object]:
    print("\n1. profiler overhead: sum of per-layer medians / whole-model median (target "
          "within 10 %)")
    profiles = {}
    for name in models:
        for r in range(repeats):
            p = archlens.profile(name, threads=threads, min_time=min_time)
            profiles.setdefault(name, p)
            print(f"   {name:<14} run {r + 1}: whole {p.whole_median_s * 1e3:8.2f} ms, sum of "
                  f"{len(p.layers)} layer medians {p.sum_median_s * 1e3:8.2f} ms -> "
                  f"{100 * p.overhead_fraction:+6.2f} %  ({p.repeats} passes, {load()})",
                  flush=True)
    return profiles


def estimate(p) -> None:
    print("\n2. analytical estimate vs measured, convs of resnet50 (target: median |error| "
          "within 25 %)")
    r = p.roofline
    print(f"   roofline: peak {r.peak_macs_per_s / 1e9:.1f} GMAC/s (GEMM "
          f"{r.gemm_macs_per_s / 1e9:.1f}, conv {r.conv_macs_per_s / 1e9:.1f}), bandwidth "
          f"{r.bandwidth_bytes_per_s / 1e9:.1f} GB/s, ridge {r.ridge_macs_per_byte:.2f} MACs/byte")
    errs = [p.estimate_error(lp) for lp in p.layers if lp.type == "Conv2d"]
    errs = [e for e in errs if e is not None]
    absd = sorted(abs(e) for e in errs)
    q = statistics.quantiles(errs, n=4)
    print(f"   {len(errs)} convs: median |error| {100 * statistics.median(absd):.1f} %; signed "
          f"error quartiles {100 * q[0]:+.1f} / {100 * q[1]:+.1f} / {100 * q[2]:+.1f} %; "
          f"min {100 * min(errs):+.1f} %, max {100 * max(errs):+.1f} %")
    edges = [-1.0, -0.5, -0.25, -0.1, 0.1, 0.25, 0.5, float("inf")]
    hist = []
    for lo, hi in zip(edges, edges[1:]):
        k = sum(1 for e in errs if lo <= e < hi)
        hist.append(f"[{100 * lo:+.0f}, {'+inf' if hi == float('inf') else f'{100 * hi:+.0f}'}) %: {k}")
    print("   distribution: " + "; ".join(hist))
    total_est = sum(p.estimate_s(lp) for lp in p.layers)
    print(f"   whole model: estimate {total_est * 1e3:.2f} ms vs measured sum "
          f"{p.sum_median_s * 1e3:.2f} ms ({100 * (total_est / p.sum_median_s - 1):+.1f} %)")


class Stack(nn.Module):
    """10 blocks of two 1x1 convs: c1 -> c2 -> c1 (groups g), on an h x w map."""

    def __init__(self, c1: int, c2: int, groups: int = 1, blocks: int = 10):
        super().__init__()
        layers = []
        for _ in range(blocks):
            layers += [nn.Conv2d(c1, c2, 1, groups=groups, bias=False),
                       nn.Conv2d(c2, c1, 1, groups=groups, bias=False)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


def shufflenet_tables(threads: int, quick: bool, hw: int = 56) -> None:
    torch.set_num_threads(threads)
    dev = torch.device("cpu")
    print(f"\n3. ShuffleNet V2 Tables 1 and 2 on this CPU ({threads} thread(s), batch 1, "
          f"{hw}x{hw}, 10 blocks of two 1x1 convs)")
    cases1 = [("1:1", 128, 128), ("1:2", 90, 181), ("1:6", 52, 314), ("1:12", 37, 443)]
    cases2 = [(1, 128), (2, 182), (4, 256), (8, 360)]   # c divisible by g, c*c/g within 1.1 %
    for title, cases, build, mac_mem in (
            ("Table 1: c1:c2 at equal MACs (paper: 1:1 fastest, slower as the ratio grows)",
             [(f"c1:c2 = {r} ({a}, {b})", a, b, 1) for r, a, b in cases1],
             None, None),
            ("Table 2: 1x1 group conv at equal MACs (paper: more groups, slower)",
             [(f"g = {g} (c = {c})", c, c, g) for g, c in cases2], None, None)):
        print(f"   {title}")
        mods = [Stack(a, b, g).eval() for _, a, b, g in cases]
        xs = [torch.randn(1, a, hw, hw) for _, a, _, _ in cases]
        fns = []
        for m, x in zip(mods, xs):
            fns.append((lambda m=m, x=x: m(x)))
        with torch.no_grad():
            times = measure(fns, dev, threads=threads, min_run_time=0.5 if quick else 2.0,
                            min_runs=5 if quick else 10, rounds=2 if quick else 4)
        base = None
        for (label, a, b, g), t in zip(cases, times):
            macs = 10 * 2 * hw * hw * a * b / g
            cost = 10 * 2 * memory_access_cost(hw, hw, a, b, g)
            rate = macs / t.median_s
            if base is None:
                base = (rate, cost, macs)
            print(f"     {label:<26} {macs / 1e6:8.1f} MMACs  median {t.median_s * 1e3:7.3f} ms "
                  f"(IQR {t.iqr_s * 1e3:.3f})  speed at equal MACs {rate / base[0]:.2f}x "
                  f"of the first  | paper's formula: memory access cost "
                  f"{cost / base[1]:.2f}x")
        print(f"     ({load()})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2, help="profile runs per model")
    ap.add_argument("--quick", action="store_true", help="shorter timing (CI smoke)")
    ap.add_argument("--skip", default="", help="comma-separated: overhead,estimate,shufflenet")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    print(f"archlens profile benchmark: torch {torch.__version__}, {args.threads} thread(s), "
          f"{load()}")
    min_time = 1.0 if args.quick else 4.0
    profiles = {}
    if "overhead" not in skip:
        profiles = overhead(("inception_v3", "resnet50"), args.threads,
                            1 if args.quick else args.repeats, min_time)
    if "estimate" not in skip:
        p = profiles.get("resnet50") or archlens.profile("resnet50", threads=args.threads,
                                                          min_time=min_time)
        estimate(p)
    if "shufflenet" not in skip:
        shufflenet_tables(args.threads, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
