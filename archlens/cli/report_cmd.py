"""``archlens report MODEL`` and ``archlens compare A B``: the design-review folders."""
from __future__ import annotations

import argparse

from archlens.cli.common import (add_model_arguments, analysis_from_args, input_shape,
                                 positive_int)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write the design-review report (HTML, Markdown, graph, charts, JSON)",
        description=(
            "Analyse MODEL, run the design checks and write a report folder: report.html "
            "(one self-contained file: summary cards, findings with fixes and savings, "
            "charts, the layer graph, a sortable layer table), report.md (for pull requests), "
            "graph.svg, analysis.json (the analysis contract), charts/*.html (embeddable "
            "plotly fragments; the page must load plotly.js) and charts/*.png (kaleido, when "
            "Chromium is present). The folder is written atomically: a failed run leaves the "
            "previous report intact. MODEL may also be an analysis.json ('archlens analyze "
            "MODEL --json FILE' or a report's): it is validated and reported, not "
            "re-analysed. --out must be a new or empty folder, or one archlens wrote (it "
            "holds a .archlens-report marker): a folder with other files is refused, never "
            "replaced."),
        epilog="Example: archlens report inception_v3 --out reports/inception_v3")
    add_model_arguments(p)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default: reports/MODEL/)")
    p.add_argument("--depth", type=positive_int, default=None, metavar="N",
                   help="graph: module levels drawn as clusters (default: every layer)")
    png = p.add_mutually_exclusive_group()
    png.add_argument("--png", dest="png", action="store_true", default=True,
                     help="also render charts/*.png with kaleido (default when Chromium is "
                          "installed)")
    png.add_argument("--no-png", dest="png", action="store_false",
                     help="skip the static images (faster; report.md then links the HTML "
                          "charts)")
    p.add_argument("--bench", default=None, metavar="FILE.json",
                   help="include a factorization bench results file ('archlens bench "
                        "factorization --out FILE.json')")
    p.set_defaults(func=run_report)

    c = subparsers.add_parser(
        "compare", help="compare two models: totals, per-stage deltas, findings diff",
        description=(
            "Analyse models A and B and write a comparison folder: totals with deltas "
            "(B - A), per-stage MACs and parameters with deltas, the findings present in one "
            "and not the other (same rule code on the same layer name), charts, report.html, "
            "report.md and compare.json."),
        epilog="Example: archlens compare inception_v3 inception_v3_unfactorized")
    c.add_argument("model_a", metavar="A", help="first model (zoo name or reference)")
    c.add_argument("model_b", metavar="B", help="second model")
    add_model_arguments(c, model=False)
    c.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: reports/A_vs_B/)")
    png = c.add_mutually_exclusive_group()
    png.add_argument("--png", dest="png", action="store_true", default=True,
                     help="also render charts/*.png (default when Chromium is installed)")
    png.add_argument("--no-png", dest="png", action="store_false", help="skip static images")
    c.set_defaults(func=run_compare)


def _check_batch(args) -> None:
    from archlens.errors import InputShapeError
    if args.batch < 1:
        raise InputShapeError(f"--batch must be a positive integer, got {args.batch}")


def run_report(args: argparse.Namespace) -> int:
    from archlens.outputs import check_output_dir
    from archlens.render import report
    _check_batch(args)
    shape = input_shape(args)
    if args.out is not None:
        check_output_dir(args.out)  # refuse a user's folder before spending the analysis
    if args.model.endswith(".json") and ":" not in args.model:
        from archlens.jsonio import read_analysis
        model = read_analysis(args.model)  # a saved analysis: reported, not re-analysed
    else:
        model = analysis_from_args(args)
    report.write_report(model, args.out, input_shape=shape, depth=args.depth, png=args.png,
                        bench=args.bench)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from archlens import api
    from archlens.render import report
    _check_batch(args)
    shape = input_shape(args)
    a, b = args.model_a, args.model_b
    if args.batch != 1 or args.device != "cpu":
        a = api.analyze(a, shape, batch=args.batch, device=args.device)
        b = api.analyze(b, shape, batch=args.batch, device=args.device)
    report.write_compare(a, b, args.out, input_shape=shape, png=args.png)
    return 0
