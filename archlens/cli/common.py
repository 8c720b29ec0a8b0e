"""Arguments shared by the subcommands that take a MODEL."""
from __future__ import annotations

import argparse

from archlens.shapes import parse_shape

MODEL_HELP = ("zoo name (see 'archlens zoo'), path/to/file.py:callable or "
              "package.module:callable (loading a file or module runs its code)")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a clear one-line usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    import math
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _shape_arg(text: str) -> tuple[int, ...]:
    return parse_shape(text)  # raises InputShapeError -> one-line error, exit 2


def add_model_arguments(p: argparse.ArgumentParser, *, model: bool = True) -> None:
    if model:
        p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--input", metavar="CxHxW", default=None,
                   help="input shape without batch, e.g. 3x299x299 (default: the zoo card's)")
    p.add_argument("--batch", type=positive_int, default=1, metavar="N",
                   help="batch size (default: 1)")
    p.add_argument("--device", choices=("auto", "cpu", "meta", "cuda"), default="auto",
                   help="where the one forward pass runs; the numbers are the same on every "
                        "device. auto (default): meta, and the CPU when the model's forward "
                        "needs real values (data-dependent code), said in a note; cpu: real "
                        "tensors; meta: nothing allocated (shapes only); cuda")
    p.add_argument("--max-memory", default="auto", metavar="SIZE",
                   help="refuse a cpu/cuda run whose weights + peak activations (estimated "
                        "on the meta device first) exceed SIZE, e.g. 8G, 512M, 'off' "
                        "(default: auto = 90%% of the available memory)")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="stop loading and tracing the model after SECONDS (a forward pass "
                        "that never returns; default: no limit)")


def add_counter_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--counter", choices=("eager", "fvcore"), default="eager",
                   help="MAC counter. eager (default): the one eager forward pass counts at "
                        "the dispatch level (torch.utils.flop_counter's formulas plus "
                        "fvcore-equal ones), on any device; fvcore: fvcore's own "
                        "FlopCountAnalysis (a second, jit-traced pass) mapped onto the layers, "
                        "real tensors only (docs/engine.md lists where the two differ)")


def add_markdown_arguments(p: argparse.ArgumentParser, pictures: str = "its pictures") -> None:
    """``--md-assets URL`` / ``--md-inline`` (exclusive): how report.md reaches its pictures."""
    mdg = p.add_mutually_exclusive_group()
    mdg.add_argument("--md-assets", default=None, metavar="URL",
                     help=f"report.md links {pictures} under this URL (where CI publishes the "
                          "folder), so it can be pasted into a GitHub or GitLab pull request; "
                          "default: links relative to the folder")
    mdg.add_argument("--md-inline", action="store_true",
                     help="report.md carries its pictures inside it as data: URIs (one file, "
                          "nothing to publish) for viewers that show data: images (VS Code, "
                          "Jupyter, pandoc, Obsidian); GitHub strips data: images from "
                          "Markdown, so for GitHub use --md-assets")


def print_notes(analysis) -> None:
    """The engine's notes (e.g. a meta build that fell back to the CPU), one line each, on
    stderr: they qualify the result without being part of it."""
    import sys

    from archlens.sanitize import visible
    for note in getattr(analysis, "notes", ()):
        sys.stderr.write(f"archlens: note: {visible(note)}\n")


def input_shape(args: argparse.Namespace) -> tuple[int, ...] | None:
    return parse_shape(args.input) if args.input else None


def analysis_from_args(args: argparse.Namespace, model: str | None = None, **kw):
    from archlens import api
    from archlens.errors import InputShapeError
    if args.batch < 1:
        raise InputShapeError(f"--batch must be a positive integer, got {args.batch}")
    if getattr(args, "counter", None) is not None:
        kw.setdefault("counter", args.counter)
    analysis = api.analyze(model or args.model, input_shape(args), batch=args.batch,
                           device=args.device, max_memory=getattr(args, "max_memory", "auto"),
                           timeout=getattr(args, "timeout", None), quiet_stdout=True, **kw)
    print_notes(analysis)
    return analysis
