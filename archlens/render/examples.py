"""Regenerate the example reports committed under ``reports/`` (``make reports``).

    python -m archlens.render.examples [--no-png] [--only NAME ...] [--out reports]

Single-model reports go to ``reports/<model>/``; comparisons to ``reports/<a>_vs_<b>/``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

MODELS = ("inception_v3", "googlenet", "resnet50", "resnext50_32x4d", "vgg16")
COMPARISONS = (("inception_v3", "inception_v3_unfactorized"),
               ("resnet50", "resnext50_32x4d"),
               ("inception_v3", "inception_v3_naive_reduction"))


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from archlens import api
    from archlens.errors import ArchlensError
    from archlens.render import report

    p = argparse.ArgumentParser(prog="python -m archlens.render.examples",
                                description=__doc__.splitlines()[0])
    p.add_argument("--out", default="reports", help="root folder (default: reports)")
    p.add_argument("--no-png", dest="png", action="store_false", help="skip PNG charts")
    p.add_argument("--only", nargs="*", default=None, metavar="NAME",
                   help="only these report folder names (e.g. inception_v3 resnet50_vs_resnext50_32x4d)")
    args = p.parse_args(argv)
    con = Console()
    root = Path(args.out)
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = api.analyze(name, checks=True)
        return cache[name]

    try:
        for m in MODELS:
            if args.only is None or m in args.only:
                report.write_report(get(m), root / m, png=args.png, console=con)
        for a, b in COMPARISONS:
            name = f"{a}_vs_{b}"
            if args.only is None or name in args.only:
                api.compare(get(a), get(b), root / name, png=args.png, console=con)
    except ArchlensError as e:
        print(f"archlens: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
