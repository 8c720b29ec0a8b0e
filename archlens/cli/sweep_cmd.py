"""``archlens sweep SPEC.toml``: a design-space sweep on Ray, its table and its report."""
from __future__ import annotations

import argparse
import sys

from archlens.cli.common import positive_int

_EPILOG = """\
examples:
  archlens sweep examples/sweeps/small.toml                 local Ray on this machine's cores
  archlens sweep examples/sweeps/resnet.toml --workers 2 --out sweeps/resnet
  archlens sweep SPEC.toml --resume                         finish an interrupted sweep
  archlens sweep SPEC.toml --address 127.0.0.1:6379         an existing Ray cluster

The folder gets results.parquet (one row per variant: parameters, params, MACs, feature RF,
depth, width, findings counts, status), summary.json, timings.parquet, incremental parts/,
sweep.html (Pareto fronts, complexity EDFs, width/depth plane, top variants) and full reports
of the top variants under reports/. MACs are multiply-accumulates (FLOPs = 2 x MACs); the
receptive field is in input pixels. The spec format is in docs/sweep.md.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="analyse a design space of variants on Ray (Pareto fronts, EDFs)",
        description=(
            "Expand SPEC.toml (a builder - zoo family resnet, resnext, inception_v3, or "
            "path/to/file.py:callable - and its parameters as grids, ranges or seeded random "
            "samples) into variants, analyse each on the meta device on Ray workers, prune by "
            "the spec's MAC/parameter/receptive-field bounds, and write the results table "
            "incrementally. A failed or timed-out variant is recorded with its error; Ctrl-C "
            "writes what is in flight and --resume continues. Two runs of the same spec give "
            "the same table."),
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", metavar="SPEC.toml", help="the sweep spec (see examples/sweeps/)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: sweeps/NAME/, NAME from the spec)")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="concurrent Ray tasks (default: every CPU of the instance or cluster); "
                        "without --address, also the local instance's CPUs")
    p.add_argument("--address", default=None, metavar="auto|HOST:PORT",
                   help="an existing Ray cluster (default: start a local instance, no "
                        "dashboard, stopped at the end)")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: skip every variant already written")
    p.add_argument("--top", type=int, default=2, metavar="K",
                   help="write full design-review reports of the top K variants per objective "
                        "into DIR/reports/ (default: 2; 0: none)")
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="skip sweep.html and the top-variant reports")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _rate_column():
    """A rich progress column showing the throughput in variants per second."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task):
            return Text(f"{task.fields.get('rate') or 0.0:.2f} variants/s", style="cyan")
    return RateColumn()


def _require_extra() -> None:
    import importlib.util

    from archlens.errors import MissingDependencyError
    missing = [m for m in ("ray", "pyarrow") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(f"archlens sweep needs {' and '.join(missing)}; install "
                                     "them with: pip install 'archlens[sweep]'")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from archlens.errors import ConfigError
    _require_extra()
    from archlens.sweep import SweepInterrupted, run_sweep
    if args.top < 0:
        raise ConfigError(f"--top must be 0 or a positive integer, got {args.top}")
    err = Console(stderr=True)
    out = Console()
    bar = None
    task = None
    if not args.quiet:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        bar = Progress(TextColumn("[bold]sweep[/]"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("variants"), _rate_column(), TextColumn("ETA"),
                       TimeRemainingColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
                       TextColumn("{task.fields[counts]}"), console=err, transient=False)

    def progress(ev):
        nonlocal task
        if bar is None:
            return
        if task is None:  # the first event: the spec is valid and Ray is up
            bar.start()
            task = bar.add_task("sweep", total=ev["total"], completed=ev["done"], rate=0.0,
                                counts="")
        c = ev["counts"]
        counts = " ".join(f"{k} {c[k]}" for k in ("ok", "pruned", "failed", "timeout")
                          if c.get(k))
        bar.update(task, completed=ev["done"], rate=ev["rate"], counts=counts)

    try:
        result = run_sweep(args.spec, args.out, workers=args.workers, address=args.address,
                           resume=args.resume, progress=progress, references=args.report)
    except SweepInterrupted as e:
        if task is not None:
            bar.stop()
            task = None
        print(f"archlens: {e}", file=sys.stderr)
        return 130
    finally:
        if task is not None:
            bar.stop()
    from archlens.render.sweep import console_summary
    out.print(console_summary(result))
    if args.report:
        from archlens.sweep.reports import write_top_reports
        from archlens.render.sweep import write_sweep_report
        links = write_top_reports(result, args.top) if args.top else {}
        path = write_sweep_report(result, links=links)
        out.print(f"report: {path}")
        if links:
            out.print(f"full reports of {len(links)} top variants: {result.out / 'reports'}")
    sys.stdout.flush()
    return 0
