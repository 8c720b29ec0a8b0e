"""``archlens graph MODEL``: the layer graph as SVG/PNG/PDF (graphviz) or .dot source."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from archlens.cli.common import add_model_arguments, analysis_from_args, positive_int


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "graph", help="draw the layer graph (graphviz): clusters, costs, findings",
        description=(
            "Draw MODEL's layer graph with graphviz: the module hierarchy as clusters down to "
            "--depth (deeper levels collapsed into one node with summed numbers); each node "
            "shows type, kernel/stride, output shape and MACs, is filled by its share of the "
            "network's MACs, carries its stage (grid size) and is outlined when a design "
            "check flags it. Identical consecutive blocks are drawn once with 'xN'. Long "
            "networks are wrapped into columns for a page-like aspect ratio. Without "
            "graphviz's 'dot' the .dot source is written and the message says how to install "
            "graphviz."),
        epilog="Example: archlens graph inception_v3 --depth 2 -o inception_v3.svg")
    add_model_arguments(p)
    p.add_argument("--depth", type=positive_int, default=None, metavar="N",
                   help="module levels drawn as clusters; deeper levels become one node "
                        "(default: every layer)")
    fold = p.add_mutually_exclusive_group()
    fold.add_argument("--fold", dest="fold", action="store_true", default=True,
                      help="draw identical consecutive blocks once with 'xN' (default)")
    fold.add_argument("--no-fold", dest="fold", action="store_false",
                      help="draw every block")
    p.add_argument("--rankdir", choices=("TB", "LR"), default="TB",
                   help="TB: top to bottom (default); LR: left to right")
    p.add_argument("--columns", type=positive_int, default=None, metavar="N",
                   help="wrap the network into N columns (default: chosen for a page-like "
                        "aspect ratio)")
    p.add_argument("--module", default=None, metavar="PATH",
                   help="draw only the layers under this module path (e.g. Mixed_6e, "
                        "layer3), with labels naming what feeds it and what it feeds")
    p.add_argument("--no-checks", action="store_true",
                   help="do not run the design checks (no finding outlines)")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="output file: .svg, .png, .pdf or .dot (default: MODEL.svg)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from archlens.sanitize import for_terminal as escape

    from archlens.render import graphviz as gv
    from archlens.render.output import safe_name

    err = Console(stderr=True)
    with err.status(f"analysing {escape(args.model)} ..."):
        a = analysis_from_args(args, checks=not args.no_checks)
    out = Path(args.output) if args.output else Path(f"{safe_name(a.model)}.svg")
    with err.status("laying out the graph (graphviz dot) ..."):
        res = gv.write_graph(a, out, depth=args.depth, fold=args.fold, rankdir=args.rankdir,
                             columns=args.columns, module=args.module)
    g = res.dot
    for note in g.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if res.message:
        print(f"archlens: {res.message}", file=sys.stderr)
        return 1 if not out.suffix.lower() in (".dot", ".gv") else 0
    shape = (f", height/width {res.aspect:.2f}" if res.aspect else "")
    timing = f" in {res.seconds:.2f} s" if res.laid_out else ""
    err.print(f"wrote {escape(str(res.path))}: {g.nodes} nodes, {g.edges} edges, depth "
              f"{'full' if g.depth is None else g.depth}, {g.columns} column"
              f"{'s' if g.columns != 1 else ''}{shape}{timing}", highlight=False)
    return 0
