"""``archlens profile``: measured latency per layer, memory traffic and the device roofline.

    archlens profile MODEL [--input CxHxW] [--device cpu|cuda] [--dtype float32|bfloat16|float16]
                     [--batch N] [--threads N] [--channels-last] [--warmup N] [--repeats N]
                     [--min-time S] [--no-roofline] [--top N] [--sort latency|macs|bytes|order]
                     [--depth N] [--json PATH|-] [--charts DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from archlens.cli.common import MODEL_HELP, input_shape, positive_int

_EPILOG = """\
examples:
  archlens profile resnet50 --threads 1             top layers by measured time, blocks, totals
  archlens profile inception_v3 --sort order --top 400
  archlens profile resnet50 --json resnet50.profile.json --charts charts/
  archlens profile resnet50 --device cuda --dtype bfloat16
  archlens profile resnet50.profile.json --top 30     show a saved profile (no measuring)

Times are medians over the timed passes (ms), IQR = interquartile range; time % and MACs % are
shares of the model; GMAC/s = 10^9 multiply-accumulates per second; roofline % = achieved over
min(peak, intensity x bandwidth) of the measured roofline; the estimate is analytical
(max of MACs / peak and bytes / bandwidth), never a measurement. JSON: schema
archlens.profile/1 (docs/profile.md).
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "profile", help="measured latency per layer, memory traffic and roofline",
        description="Time every layer of MODEL's analysed graph (the same nodes as 'archlens "
                    "analyze': leaf modules and functional ops) over many passes after a "
                    "warm-up: median and IQR per layer, the whole-model median (measured "
                    "without the profiler) beside the sum of per-layer medians, bytes moved "
                    "per layer at the dtype, a roofline measured on the device (large GEMM and "
                    "conv for peak MAC/s, a large copy for bandwidth) and an analytical "
                    "estimate per layer beside the measured time. CUDA: events around each op "
                    "without per-layer synchronisation, cuDNN benchmark mode.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP + "; or a profile .json written "
                   "by --json, shown again without measuring")
    p.add_argument("--input", metavar="CxHxW", default=None,
                   help="input shape without batch, e.g. 3x299x299 (default: the zoo card's)")
    p.add_argument("--batch", type=positive_int, default=1, metavar="N",
                   help="batch size (default: 1)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to time (default: cpu)")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="dtype of weights and input; bytes are counted at it (default float32)")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads for the whole run (default: torch's, the cores available)")
    p.add_argument("--channels-last", action="store_true",
                   help="model and input in channels-last (NHWC) memory format")
    p.add_argument("--warmup", type=int, default=3, metavar="N",
                   help="untimed warm-up passes (default: 3)")
    p.add_argument("--repeats", type=positive_int, default=None, metavar="N",
                   help="timed passes (default: enough to fill --min-time, 10..200)")
    p.add_argument("--min-time", type=float, default=3.0, metavar="S",
                   help="seconds of timed passes when --repeats is not given (default: 3)")
    p.add_argument("--no-roofline", action="store_true",
                   help="skip the roofline micro-benchmark (no estimate, no roofline %%)")
    p.add_argument("--top", type=positive_int, default=15, metavar="N",
                   help="layers in the table (default: 15)")
    p.add_argument("--sort", choices=("latency", "macs", "bytes", "order"), default="latency",
                   help="layer order: most time (default), most MACs, most bytes, execution")
    p.add_argument("--depth", type=positive_int, default=1, metavar="N",
                   help="module depth of the blocks table (default: 1 = top-level modules)")
    p.add_argument("--json", metavar="PATH|-", default=None,
                   help="write the profile (schema archlens.profile/1) to PATH atomically, or "
                        "to stdout with '-' (then no table is printed)")
    p.add_argument("--charts", metavar="DIR", default=None,
                   help="also write shares.html, roofline.html and treemap.html (plotly, "
                        "offline) into DIR")
    p.set_defaults(func=run)


class _Progress:
    """Progress on stderr once a run has lasted ``after`` seconds: a rich bar on a terminal,
    a plain line about every second otherwise (logs, CI)."""

    def __init__(self, after: float = 1.0):
        self.t0 = time.monotonic()
        self.after = after
        self.last = 0.0
        self.bar = None
        self.task = None
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, phase: str) -> None:
        now = time.monotonic() - self.t0
        if now < self.after:
            return
        if self.tty and phase == "timing" and total:
            if self.bar is None:
                from rich.console import Console
                from rich.progress import Progress
                self.bar = Progress(console=Console(stderr=True), transient=True)
                self.bar.start()
                self.task = self.bar.add_task("timing passes", total=total)
            self.bar.update(self.task, completed=done)
            return
        if now - self.last >= 1.0 or (total and done == total):
            self.last = now
            what = f"{phase} {done}/{total}" if total else (f"{phase} {done}" if done else phase)
            print(f"archlens profile: {what} ({now:.0f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run(args: argparse.Namespace) -> int:
    from archlens import api
    from archlens.cli.analyze_cmd import write_atomic
    from archlens.errors import ConfigError
    if args.warmup < 0:
        raise ConfigError(f"--warmup must be >= 0, got {args.warmup}")
    if args.min_time <= 0:
        raise ConfigError(f"--min-time must be positive, got {args.min_time}")
    if args.charts:
        _check_folder(args.charts)
    if args.model.endswith(".json") and Path(args.model).is_file():
        from archlens.profile import load
        prof = load(args.model)
    else:
        progress = _Progress()
        try:
            prof = api.profile(args.model, input_shape(args), device=args.device,
                               dtype=args.dtype, batch=args.batch, threads=args.threads,
                               channels_last=args.channels_last, warmup=args.warmup,
                               repeats=args.repeats, min_time=args.min_time,
                               roofline=not args.no_roofline, progress=progress)
        finally:
            progress.close()
    if args.json == "-":
        sys.stdout.write(prof.to_json() + "\n")
    elif args.json:
        write_atomic(args.json, prof.to_json() + "\n")
    if args.charts:
        _write_charts(prof, Path(args.charts), args.depth)
    if args.json == "-":
        return 0
    from rich.console import Console

    from archlens.render.profile import ProfileView
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
    console = Console(width=width)
    console.print(ProfileView(prof, top=args.top, sort=args.sort, depth=args.depth))
    for what in (args.json, args.charts):
        if what:
            console.print(f"wrote {what}")
    return 0


def profile_for(spec: str, analysis, args: argparse.Namespace):
    """``--profile cpu|cuda`` (measure now, with progress) or ``--profile FILE.json`` (read a
    profile written by ``archlens profile --json``) for ``analysis``'s model, checked to hold
    the same layers."""
    from archlens import api
    from archlens.errors import ConfigError
    if spec in ("cpu", "cuda"):
        progress = _Progress()
        try:
            return api.profile(args.model, input_shape(args), device=spec,
                               batch=getattr(args, "batch", 1), progress=progress)
        finally:
            progress.close()
    from archlens.profile import load
    prof = load(spec)
    names = [n.name for n in analysis.graph.layers]
    if [lp.name for lp in prof.layers] != names or tuple(prof.input_shape) != tuple(
            analysis.input_shape):
        raise ConfigError(f"profile {spec!r} is of {prof.model} on "
                          f"{'x'.join(map(str, prof.input_shape))}, whose layers differ from "
                          f"{analysis.model} on {'x'.join(map(str, analysis.input_shape))}; "
                          "profile this model with 'archlens profile MODEL --json PATH'")
    return prof


def _check_folder(folder: str) -> None:
    from archlens.errors import OutputError
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise OutputError(f"--charts {folder!r} is a file; give a folder")


def _write_charts(prof, folder: Path, depth: int) -> None:
    from archlens.cli.analyze_cmd import write_atomic
    from archlens.errors import OutputError
    from archlens.render.profile import figures
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {str(folder)!r}: {e.strerror or e}") from None
    for name, fig in figures(prof).items():
        if name == "shares":
            from archlens.render.profile import share_chart
            fig = share_chart(prof, depth)
        write_atomic(folder / f"{name}.html", fig.to_html(include_plotlyjs=True, full_html=True))
