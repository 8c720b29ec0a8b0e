"""``archlens report MODEL``: the design-review folder."""
from __future__ import annotations

import argparse

from archlens.cli.common import (add_markdown_arguments, add_model_arguments, analysis_from_args,
                                 input_shape, positive_int)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write the design-review report (HTML, Markdown, graph, charts, JSON)",
        description=(
            "Analyse MODEL, run the design checks and write a report folder: report.html "
            "(one self-contained file: summary cards, stages, findings with fixes and "
            "savings, charts, the layer graph in a pan/zoom viewer with its legend, a "
            "sortable layer table), report.md (for pull requests: summary, stages, a compact "
            "findings table with one short row per distinct finding, chart images; pictures "
            "linked relative to the folder, under --md-assets URL, or inlined with "
            "--md-inline), graph.svg, "
            "graph_overview.svg (one box per top-level module, legible at page width), "
            "analysis.json (the analysis contract), charts/*.html (embeddable plotly "
            "fragments; the page must load plotly.js) and charts/*.png (kaleido, when "
            "Chromium is present). The folder is written atomically: a failed run leaves the "
            "previous report intact. MODEL may also be an analysis.json ('archlens analyze "
            "MODEL --json FILE' or a report's): it is validated and reported, not "
            "re-analysed. --out must be a new or empty folder, or one archlens wrote (it "
            "holds a .archlens-report marker): a folder with other files is refused, never "
            "replaced."),
        epilog=("Examples: archlens report inception_v3 --out reports/inception_v3; "
                "archlens report my_net.py:build --input 3x224x224 --md-assets "
                "https://ci.example/run/7/report/ (report.md for a pull request comment)"))
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
    p.add_argument("--profile", default=None, metavar="cpu|cuda|FILE",
                   help="add a latency profile section: measure now on cpu or cuda, or read "
                        "FILE written by 'archlens profile --json'; with it the G1-G4 "
                        "guidelines run on the measured times and P3 factorization fixes get "
                        "a latency ratio measured for their shapes (docs/profile.md)")
    add_markdown_arguments(p, "its pictures and the full graph")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from archlens import api
    from archlens.outputs import check_output_dir
    if args.out is not None:
        check_output_dir(args.out)  # refuse a user's folder before spending the analysis
    if args.model.endswith(".json") and ":" not in args.model:
        model = api.load(args.model)  # a saved analysis: reported, not re-analysed
    else:
        model = analysis_from_args(args)
    sections = ()
    if args.profile:
        sections = (_profile_section(args, model),)
    api.report(model, args.out, depth=args.depth, png=args.png, bench=args.bench,
               sections=sections, md_assets=args.md_assets, md_inline=args.md_inline)
    return 0


def _profile_section(args: argparse.Namespace, analysis):
    """Profile (measured now or read), G1-G4 on it, P3 fixes with measured latency ratios,
    rendered as the report's extra section."""
    from archlens import api
    from archlens.cli.profile_cmd import profile_for
    from archlens.profile.p3 import with_measured_latency
    from archlens.profile.run import device_available
    from archlens.render.profile import report_section
    if args.profile in ("cpu", "cuda") and args.model.endswith(".json"):
        from archlens.errors import ConfigError
        raise ConfigError("--profile cpu|cuda measures the model: give the model's name or "
                          "reference, or --profile FILE.json with a saved profile")
    prof = profile_for(args.profile, analysis, args)
    findings = api.check(analysis, profile=prof)
    if device_available(prof.device):
        findings = with_measured_latency(findings, analysis, device=prof.device,
                                         dtype=prof.dtype, threads=prof.threads,
                                         bench=args.bench)
    return report_section(prof, findings, analysis=analysis)
