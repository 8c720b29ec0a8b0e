"""Run every speed benchmark of archlens in turn (`make bench`).

Each script prints ratios against a baseline measured in the same process (or the same
machine state), never absolute pass/fail thresholds: the machines here are shared and noisy.

    python benchmarks/run_all.py [--skip dashboard,report]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "analyze": ["bench_analyze.py"],
    "report": ["bench_report.py"],
    "dashboard": ["bench_dashboard.py", "--no-server"],
    "factorization": ["bench_factorization_quick.py", "--out", "/tmp/archlens-bench-quick.json"],
    "profile": ["bench_profile.py", "--quick"],
    "sweep": ["bench_sweep.py", "--quick"],
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip", default="", help="comma-separated names to skip: " + ", ".join(SCRIPTS))
    args = p.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    failed = []
    for name, cmd in SCRIPTS.items():
        if name in skip:
            continue
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        print(f"=== {name}: exit {rc} in {time.perf_counter() - t0:.1f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
