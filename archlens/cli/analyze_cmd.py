"""``archlens analyze``: trace a model once and print its per-block costs (or write JSON).

    archlens analyze MODEL [--input 3x299x299] [--batch N] [--device cpu|meta|cuda]
                     [--counter eager|fvcore] [--depth N|blocks] [--units macs|flops]
                     [--sort order|macs|params|name] [--json PATH|-]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from archlens.cli.common import (add_counter_argument, add_model_arguments, analysis_from_args,
                                 positive_int)
from archlens.sanitize import for_terminal

_EPILOG = """\
examples:
  archlens analyze inception_v3                      table by block (Mixed_5b ...)
  archlens analyze resnet50 --depth 1 --sort macs
  archlens analyze vgg16 --device meta               nothing allocated
  archlens analyze resnet50 --counter fvcore         fvcore's own count, mapped on layers
  archlens analyze my_net.py:build --input 3x224x224 --json analysis.json
  archlens analyze inception_v3 --json - | jq .totals

Numbers: MACs = multiply-accumulates (fvcore's "flops"); --units flops shows FLOPs = 2 x MACs.
The JSON document follows schema archlens.analysis/1.1 (docs/json-contract.md).
"""


def _depth(text: str) -> int | None:
    if text == "blocks":
        return None
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'blocks', got {text!r}") from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="per-layer params, MACs, shapes and receptive fields of a model",
        description="Trace MODEL once and report, per block, parameters, MACs "
                    "(multiply-accumulates), output shape, share of the total and receptive "
                    "field, then the totals (params, MACs, conv+linear 'paper profile', "
                    "activations, weight and peak activation memory) and the feature receptive "
                    "field. MACs are counted in the same eager forward pass that records the "
                    "graph (or by fvcore with --counter fvcore); ops that no formula covers are "
                    "listed, never counted as a silent zero.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    add_counter_argument(p)
    p.add_argument("--depth", type=_depth, default=None, metavar="N|blocks",
                   help="aggregate the table to module depth N (1 = top-level modules); "
                        "default 'blocks': the shallowest depth with at least 12 rows")
    p.add_argument("--units", choices=("macs", "flops"), default="macs",
                   help="macs (multiply-accumulates, default) or flops (= 2 x MACs)")
    p.add_argument("--sort", choices=("order", "macs", "params", "name"), default="order",
                   help="row order: execution order (default), most MACs, most params, name")
    p.add_argument("--json", metavar="PATH|-", default=None,
                   help="write the analysis as JSON (schema archlens.analysis/1.1) to PATH, "
                        "atomically, or to stdout with '-' (then no table is printed)")
    p.set_defaults(func=run)


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`archlens.outputs.write_file`)."""
    from archlens.outputs import write_file
    write_file(path, text, hint="choose a writable path for --json")


def run(args: argparse.Namespace) -> int:
    analysis = analysis_from_args(args)
    if args.json == "-":
        sys.stdout.write(analysis.to_json() + "\n")
        return 0
    if args.json:
        write_atomic(args.json, analysis.to_json() + "\n")
    from rich.console import Console

    from archlens.render.console import AnalysisView
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 140
    console = Console(width=width)
    console.print(AnalysisView(analysis, depth=args.depth, units=args.units, sort=args.sort))
    if args.json:
        console.print(f"wrote {for_terminal(args.json)}")
    return 0
