"""Speed of `archlens report` against the fvcore baseline, and the graph's layout figures.

    python benchmarks/bench_report.py [--repeat N] [--model inception_v3]

Prints, for the model (default inception_v3):
- the wall time of a script that only imports torch and runs fvcore's
  FlopCountAnalysis(...).total() on the model (the baseline a user already has);
- `archlens report MODEL --no-png` and `archlens report MODEL` end to end (fresh processes),
  with their ratios to the baseline (targets: 1.5x and 3x);
- the full-depth graph layout time (target: under 1 s) and the drawing's height/width for
  inception_v3 and resnet152.
Each process timing is the median of --repeat runs.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = """
import torch
from fvcore.nn import FlopCountAnalysis
from archlens.zoo import get_model, card
m = get_model({model!r}).eval()
x = torch.randn(1, *card({model!r}).input_shape)
with torch.no_grad():
    fca = FlopCountAnalysis(m, x)
    fca.unsupported_ops_warnings(False)
    fca.uncalled_modules_warnings(False)
    print(fca.total())
"""


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def layout_figures(model: str) -> tuple[float, float, int, int]:
    """(layout seconds, height/width, nodes, columns) of the full-depth drawing."""
    from archlens import api
    from archlens.render import graphviz as gv
    a = api.analyze(model, checks=True)
    g = gv.build(a)
    t = time.perf_counter()
    svg = gv.layout(g.source)
    dt = time.perf_counter() - t
    w, h = gv.svg_size(svg)
    return dt, h / w, g.nodes, g.columns


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--model", default="inception_v3")
    args = p.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        base = wall([py, "-c", BASELINE.format(model=args.model)], args.repeat)
        nopng = wall([py, "-m", "archlens", "report", args.model, "--no-png", "--out",
                      str(Path(tmp) / "a")], args.repeat)
        withpng = wall([py, "-m", "archlens", "report", args.model, "--out",
                        str(Path(tmp) / "b")], args.repeat)
    print(f"fvcore FlopCountAnalysis baseline ({args.model}): {base:6.2f} s")
    print(f"archlens report --no-png:                  {nopng:6.2f} s  "
          f"ratio {nopng / base:4.2f}x (target <= 1.5x)")
    print(f"archlens report (with PNG):                {withpng:6.2f} s  "
          f"ratio {withpng / base:4.2f}x (target <= 3x)")
    for m in ("inception_v3", "resnet152"):
        dt, aspect, nodes, cols = layout_figures(m)
        print(f"{m:<14} full-depth layout {dt:5.2f} s (target < 1 s), {nodes} nodes, "
              f"{cols} columns, height/width {aspect:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
