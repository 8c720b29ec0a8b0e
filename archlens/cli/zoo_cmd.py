"""``archlens zoo``: list the registered models, or print one model's card.

    archlens zoo [--family F]
    archlens zoo NAME
"""
from __future__ import annotations

import argparse
import os
import sys

_EPILOG = """\
examples:
  archlens zoo                       all models: family, input, exact params, published MACs
  archlens zoo --family resnet       only one family (classic, vgg, inception, resnet, ...)
  archlens zoo inception_v3          the card: paper, description, figures and their source
  archlens zoo resnext50_32x4d       builder arguments of a variant (e.g. block_form)

Parameter counts are exact; MACs are multiply-accumulates at the default input, batch 1,
as published (FLOPs = 2 x MACs). Build a model in Python with
archlens.zoo.get_model(NAME, **overrides); analyse it with 'archlens analyze NAME'.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "zoo", help="list the model zoo, or show one model's card",
        description="List the registered models (a table), or print the card of one: "
                    "paper, what the design teaches, published parameters and MACs and "
                    "where those figures come from.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", metavar="NAME",
                   help="a zoo name, e.g. inception_v3 (unknown names get close matches)")
    p.add_argument("--family", metavar="F", default=None,
                   help="list only this family (with NAME: ignored)")
    p.set_defaults(func=run)


def _console():
    from rich.console import Console
    # Piped output (no terminal) gets a fixed, wide layout so the table never truncates numbers.
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return Console(width=120)
    return Console()


def run(args: argparse.Namespace) -> int:
    from archlens import zoo
    from archlens.render.zoo import model_card, zoo_table

    console = _console()
    if args.name:
        console.print(model_card(zoo.card(args.name)))  # UnknownModelError -> exit 2
        return 0
    names = zoo.list_models(args.family)  # unknown family -> ArchlensError -> exit 2
    title = (None if args.family is None
             else f"archlens zoo: family {args.family!r}, {len(names)} models")
    # All columns need ~115 terminal columns; narrower terminals drop the citation, then the
    # family, rather than cut names or numbers ('archlens zoo NAME' shows everything).
    console.print(zoo_table((zoo.card(n) for n in names), title=title,
                            paper=console.width >= 115, family=console.width >= 90))
    return 0
