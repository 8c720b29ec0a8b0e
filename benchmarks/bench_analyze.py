"""Speed of the analysis engine (ratios printed; no thresholds -- those belong to a human).

1. inception_v3 at 299: ``analyze_model`` vs fvcore's ``FlopCountAnalysis(model, x).total()``
   alone, same process, same model, interleaved repeats, median of each (target <= 0.6x).
2. Whole process: ``archlens analyze inception_v3 --json FILE`` vs ``python -c`` that imports
   torch and builds the model (target <= 1.1x), median of repeats.
3. Linear scaling: a chain of N convolutions and a residual network of N blocks, analysed on
   the meta device and on CPU; milliseconds per node at several sizes (target <= 0.1 ms).
   With each meta size, the interposition floor: the same forward pass on meta under the
   three things any dispatch-level tracer needs and that do no work here -- a torch function
   mode that only calls the op, a dispatch mode that only computes the output shapes
   (archlens's own meta kernels, the fastest way there is), and a forward pre-/post-hook on
   every module that returns at once -- and the analysis as a multiple of that floor.

    python benchmarks/bench_analyze.py [--repeats 3] [--quick] [--large] [--threads N]
                                       [--clock wall|cpu] [--only inception|process|scaling]

``--threads`` sets torch's intra-op threads for this process and the subprocesses (on an
oversubscribed shared machine, 2 threads make tiny ops wait on each other: 1 is steadier).
"""
from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torch import nn

from archlens import zoo
from archlens.engine import analyze_model


def fvcore_total(model: nn.Module, x: torch.Tensor) -> int:
    from fvcore.nn import FlopCountAnalysis
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    return int(FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
               .uncalled_modules_warnings(False).tracer_warnings("none").total())


CLOCK = "wall"   # --clock: "wall" (perf_counter) or "cpu" (this process's / the child's CPU time)


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(fn) -> float:
    """Seconds ``fn`` took: wall time, or with ``--clock cpu`` the CPU time of this process
    plus its children (steadier than wall time on a shared machine: time spent waiting for a
    core is not counted; use with --threads 1, as 2 intra-op threads add both threads' time)."""
    if CLOCK == "cpu":
        t, c = time.process_time(), _child_cpu()
        fn()
        return (time.process_time() - t) + (_child_cpu() - c)
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


class ConvChain(nn.Module):
    """N 3x3 convs (8 channels, 16x16): a long chain, 2 nodes per conv (conv, relu)."""

    def __init__(self, n: int):
        super().__init__()
        self.body = nn.Sequential(*[m for _ in range(n)
                                    for m in (nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())])

    def forward(self, x):  # N x 8 x 16 x 16
        return self.body(x)


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):  # N x 8 x 16 x 16
        return torch.relu(x + self.bn(self.conv(x)))


class ResNet(nn.Module):
    """N residual blocks: 4 nodes per block (conv, bn, add, relu)."""

    def __init__(self, n: int):
        super().__init__()
        self.blocks = nn.Sequential(*[Res() for _ in range(n)])

    def forward(self, x):  # N x 8 x 16 x 16
        return self.blocks(x)


def bench_inception(repeats: int) -> None:
    model = zoo.get_model("inception_v3")
    x = torch.randn(1, 3, 299, 299)
    fvcore_total(model, x)                       # warm-up (imports, allocator)
    analyze_model(model, (3, 299, 299), device="cpu")
    ours, base = [], []
    for _ in range(repeats):
        base.append(timed(lambda: fvcore_total(model, x)))
        ours.append(timed(lambda: analyze_model(model, (3, 299, 299), device="cpu")))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"inception_v3 @299, CPU, {torch.get_num_threads()} threads, {repeats} repeats "
          f"(median):")
    print(f"  fvcore FlopCountAnalysis.total() alone : {b * 1e3:9.1f} ms")
    print(f"  archlens analyze_model (eager pass+RF+metrics): {o * 1e3:9.1f} ms")
    print(f"  ratio analyze / fvcore                  : {o / b:9.2f} x   (target <= 0.6 x)")
    meta = statistics.median(timed(lambda: analyze_model("inception_v3", device="meta"))
                             for _ in range(repeats))
    print(f"  archlens analyze_model, device=meta     : {meta * 1e3:9.1f} ms "
          f"({meta / b:.2f} x fvcore; the default device=auto runs this one)")


def bench_process(repeats: int, threads: int | None) -> None:
    """Whole processes, so imports count: the CLI against the floor (torch + the model)."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "a.json")
        # the CLI's default --device auto: a meta pass (docs/engine.md "Devices")
        cli = [sys.executable, "-m", "archlens", "analyze", "inception_v3", "--json", out]
        floor = [sys.executable, "-c", "import torch; from archlens import zoo; "
                 "zoo.get_model('inception_v3')"]
        subprocess.run(cli, check=True, env=env, capture_output=True)  # warm the file cache
        a, b = [], []
        for _ in range(repeats):
            b.append(timed(lambda: subprocess.run(floor, check=True, env=env)))
            a.append(timed(lambda: subprocess.run(cli, check=True, env=env,
                                                  capture_output=True)))
    fa, fb = statistics.median(a), statistics.median(b)
    print(f"whole process, {repeats} repeats (median):")
    print(f"  python -c 'import torch; build inception_v3'   : {fb:6.2f} s")
    print(f"  archlens analyze inception_v3 --json FILE      : {fa:6.2f} s")
    print(f"  ratio                                          : {fa / fb:6.2f} x   "
          "(target <= 1.1 x)")


def interposition_floor(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Seconds of one meta forward pass under no-op interposition (see the module doc): what
    recording module boundaries and every op costs before any recording is done."""
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    from archlens.loader import to_meta
    from archlens.meta_kernels import meta_call

    class Calls(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    class Shapes(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return meta_call(func, args, kwargs or {})

    m = to_meta(model)
    x = torch.empty((1, *input_shape), device="meta")
    handles = []
    for mod in m.modules():
        handles.append(mod.register_forward_pre_hook(lambda mod, a, k: None, with_kwargs=True))
        handles.append(mod.register_forward_hook(lambda mod, a, k, o: None, with_kwargs=True))
    try:
        def run() -> None:
            with torch.no_grad(), Calls(), Shapes():
                m(x)
        run()
        return timed(run)
    finally:
        for h in handles:
            h.remove()


def bench_scaling(sizes: list[int], repeats: int) -> None:
    for label, build in (("conv chain", ConvChain), ("residual net", ResNet)):
        print(f"{label}: ms per node (device=meta | cpu | meta interposition floor)")
        rows = []
        for n in sizes:
            model = build(n).eval()
            a = analyze_model(model, (8, 16, 16), device="meta")
            nodes = len(a.graph)
            tm = min(timed(lambda: analyze_model(model, (8, 16, 16), device="meta"))
                     for _ in range(repeats))
            tc = min(timed(lambda: analyze_model(model, (8, 16, 16)))
                     for _ in range(repeats))
            x = torch.randn(1, 8, 16, 16)
            tf = min(timed(lambda: fvcore_total(model, x)) for _ in range(repeats))
            fl = min(interposition_floor(model, (8, 16, 16)) for _ in range(repeats))
            rows.append((n, nodes, tm, tc))
            print(f"  N={n:5d}  nodes={nodes:6d}  meta {tm * 1e3:8.1f} ms "
                  f"({tm / nodes * 1e3:.3f} ms/node)  cpu {tc * 1e3:8.1f} ms "
                  f"({tc / nodes * 1e3:.3f} ms/node; fvcore alone {tf * 1e3:.1f} ms)  "
                  f"floor {fl / nodes * 1e3:.3f} ms/node (meta analysis {tm / fl:.1f}x it)")
        n0, k0, m0, c0 = rows[0]
        n1, k1, m1, c1 = rows[-1]
        print(f"  growth {k0}->{k1} nodes (x{k1 / k0:.1f}): meta time x{m1 / m0:.1f}, cpu time "
              f"x{c1 / c0:.1f}  (linear: equal to the node ratio)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smaller scaling sizes")
    p.add_argument("--large", action="store_true",
                   help="scaling up to ~50k nodes (12,500 residual blocks; minutes)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time (default) or CPU time of the process and its children "
                        "(steadier on a shared machine; use with --threads 1)")
    p.add_argument("--only", choices=("inception", "process", "scaling"), action="append",
                   help="run only these parts (repeatable; default all three)")
    args = p.parse_args()
    global CLOCK
    CLOCK = args.clock
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
          f"{CLOCK} clock, {load()}")
    parts = args.only or ["inception", "process", "scaling"]
    if "inception" in parts:
        bench_inception(args.repeats)
    if "process" in parts:
        bench_process(args.repeats, args.threads)
    if "scaling" in parts:
        sizes = [125, 250, 500] if args.quick else [250, 2500, 12500] if args.large \
            else [250, 500, 1000, 2000]
        bench_scaling(sizes, max(1, args.repeats - 1))
    print(f"done, {load()}")


if __name__ == "__main__":
    main()
