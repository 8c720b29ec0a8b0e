"""``archlens bench``: latency of factorized vs full convolutions on the user's own hardware.

    archlens bench factorization [--device cpu|cuda] [--dtype float32|float16|bfloat16]
        [--channels-last] [--batch 1,32] [--grids 35,17,8] [--quick] [--out FILE.json]
        [--threads N] [--charts DIR]
    archlens bench show FILE.json [--charts DIR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from archlens.errors import ArchlensError
from archlens.sanitize import for_terminal


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers, e.g. 1,32; got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers, e.g. 1,32; got {text!r}")
    return values


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="measure latency of factorized vs full convolutions (CPU or CUDA)",
        description="Latency benchmarks. Saved MACs are not saved milliseconds: "
                    "'factorization' times Inception-v3's factorizations against the full "
                    "convolutions on this machine; 'show' renders a results file.")
    sub = p.add_subparsers(dest="bench_command", metavar="BENCH")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    f = sub.add_parser(
        "factorization",
        help="time 5x5 vs two 3x3 and n x n vs 1 x n + n x 1 (and Mixed_6b, whole networks)",
        description=(
            "Time each full convolution and its factorized twin at Inception-v3's real shapes "
            "(5x5 vs 3x3+3x3 on 35x35; n x n vs 1xn+nx1, n = 3, 5, 7, on each grid; with and "
            "without BN+ReLU between the factors), then Mixed_6b and whole networks "
            "(inception_v3 vs inception_v3_unfactorized, resnet50 vs resnext50_32x4d; not "
            "with --quick). Prints a table, writes the results JSON (archlens.bench/1) "
            "atomically. Timing: warm-up, torch.utils.benchmark blocked_autorange, fixed "
            "threads on CPU, cuDNN benchmark mode and synchronisation on CUDA, no_grad, eval "
            "mode; the median and IQR of the runs are reported."),
        epilog="Example: archlens bench factorization --quick --out bench.json")
    f.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to run (default: cpu); cuda needs a CUDA build of torch and a GPU")
    f.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                   help="tensor and weight dtype (default: float32)")
    f.add_argument("--channels-last", action="store_true",
                   help="NHWC memory format for inputs and weights")
    f.add_argument("--batch", type=_int_list, default=None, metavar="B[,B...]",
                   help="batch sizes (default: 1,32; 1 with --quick)")
    f.add_argument("--network-batch", type=_int_list, default=None, metavar="B[,B...]",
                   help="batch sizes for Mixed_6b and the whole networks (default: --batch)")
    f.add_argument("--grids", type=_int_list, default=(35, 17, 8), metavar="G[,G...]",
                   help="grid sizes H=W of the asymmetric cases; 35 adds the 5x5 cases "
                        "(default: 35,17,8)")
    f.add_argument("--quick", action="store_true",
                   help="a few representative cases, short timing, no whole networks "
                        "(under a minute on 2 CPU cores)")
    f.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads, fixed for the whole run (default: cores available)")
    f.add_argument("--min-run-time", type=float, default=None, metavar="S",
                   help="timed seconds per form at least (default: 1.0; 0.25 with --quick)")
    f.add_argument("--min-runs", type=int, default=None, metavar="N",
                   help="timed runs per form at least (default: 10)")
    f.add_argument("--no-networks", action="store_true",
                   help="skip the whole-network pairs (Mixed_6b is still timed)")
    f.add_argument("--no-modules", action="store_true",
                   help="skip the Mixed_6b module pair (factorization cases only, with "
                        "--no-networks)")
    f.add_argument("--out", default=None, metavar="FILE.json",
                   help="results file (default: bench-factorization-DEVICE-DTYPE.json)")
    f.add_argument("--charts", default=None, metavar="DIR",
                   help="also write the charts into DIR: OUT-STEM.html (all figures, offline) and "
                        "OUT-STEM_{ratio,throughput,latency}.png unless --no-png")
    f.add_argument("--no-png", action="store_true", help="with --charts: HTML only")
    f.add_argument("--note", default=None, metavar="TEXT",
                   help="a note stored with the environment, e.g. 'shared 2-core VM'")
    f.set_defaults(func=_run_factorization)

    s = sub.add_parser("show", help="render a results file (table, optional charts)",
                       description="Print the table of an archlens.bench/1 results file and "
                                   "optionally write its charts.")
    s.add_argument("file", metavar="FILE.json", help="a file written by 'bench factorization'")
    s.add_argument("--charts", default=None, metavar="DIR",
                   help="write the charts (HTML, and PNG unless --no-png) into DIR")
    s.add_argument("--no-png", action="store_true", help="with --charts: HTML only")
    s.set_defaults(func=_run_show)


def _console():
    from rich.console import Console
    return Console(), Console(stderr=True)


def _print_table(console, results) -> None:
    """The rich table on a terminal; through a pipe or into a file (where rich would squeeze
    it into 80 columns) the plain aligned table, one line per row."""
    from archlens.render.bench import bench_table, bench_text
    if console.is_terminal:
        console.print(bench_table(results))
    else:
        sys.stdout.write(bench_text(results))
        sys.stdout.flush()


def _run_factorization(args: argparse.Namespace) -> int:
    from archlens.bench.results import save_results
    from archlens.bench.run import BenchConfig, run_factorization
    from archlens.render.bench import write_charts

    if args.threads is not None and args.threads < 1:
        raise ArchlensError(f"--threads must be a positive integer, got {args.threads}")
    if args.min_run_time is not None and args.min_run_time <= 0:
        raise ArchlensError(f"--min-run-time must be positive seconds, got {args.min_run_time}")
    out = args.out or f"bench-factorization-{args.device}-{args.dtype}.json"
    cfg = BenchConfig(device=args.device, dtype=args.dtype, channels_last=args.channels_last,
                      batches=args.batch, network_batches=args.network_batch, grids=args.grids, quick=args.quick,
                      threads=args.threads, min_run_time=args.min_run_time,
                      min_runs=args.min_runs, networks=False if args.no_networks else None,
                      modules=not args.no_modules,
                      note=args.note)
    console, err = _console()
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)
    with Progress(TextColumn("[bold]bench[/]"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=err,
                  transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        results = run_factorization(cfg, progress=progress)
    path = save_results(results, out)
    _print_table(console, results)
    for s in results.get("skipped", []):
        err.print(f"[yellow]skipped[/] {for_terminal(s['id'])}: {for_terminal(s['reason'])}")
    console.print(f"wrote {for_terminal(path)}")
    if args.charts:
        for p in write_charts(results, args.charts, png=not args.no_png,
                              prefix=Path(path).stem):
            console.print(f"wrote {for_terminal(p)}")
    return 0


def _run_show(args: argparse.Namespace) -> int:
    from archlens.bench.results import load_results
    from archlens.render.bench import write_charts

    results = load_results(args.file)
    console, _ = _console()
    _print_table(console, results)
    for note in results.get("notes", []):
        console.print(f"note: {for_terminal(note)}", highlight=False)
    if args.charts:
        for p in write_charts(results, args.charts, png=not args.no_png,
                              prefix=Path(args.file).stem):
            console.print(f"wrote {for_terminal(p)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from archlens.cli import main
    sys.exit(main(["bench", *sys.argv[1:]]))
