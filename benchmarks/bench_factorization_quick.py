"""The quick factorization bench as a script: run it, print the table, check the time budget.

    python benchmarks/bench_factorization_quick.py [--out FILE.json] [--budget 60]

Same as ``archlens bench factorization --quick`` plus a wall-clock check: the quick mode must
finish within ``--budget`` seconds (60 on the project's 2-core CI machine). Exit code 1 when
it does not.
"""
from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench-factorization-quick.json", metavar="FILE.json")
    p.add_argument("--budget", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = p.parse_args(argv)

    from rich.console import Console

    from archlens.bench.results import save_results
    from archlens.bench.run import BenchConfig, run_factorization
    from archlens.render.bench import bench_table

    start = time.perf_counter()
    results = run_factorization(BenchConfig(device=args.device, quick=True))
    elapsed = time.perf_counter() - start
    save_results(results, args.out)
    console = Console()
    console.print(bench_table(results))
    console.print(f"quick bench: {len(results['cases'])} cases in {elapsed:.1f} s "
                  f"(budget {args.budget:.0f} s); wrote {args.out}")
    if elapsed > args.budget:
        console.print(f"[red]over budget by {elapsed - args.budget:.1f} s[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
