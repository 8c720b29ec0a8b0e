"""``archlens compare A B``: architecture diff, comparison folder, CI budgets."""
from __future__ import annotations

import argparse
import json
import sys

from archlens.cli.common import add_markdown_arguments, add_model_arguments, analysis_from_args

_FORMATS = ("report", "json", "markdown")


def register(subparsers) -> None:
    c = subparsers.add_parser(
        "compare", help="architecture diff of two models; CI budgets with --fail-if",
        description=(
            "Compare model B against baseline A. A and B are zoo names, model references or "
            "analysis.json files ('archlens analyze MODEL --json FILE', or a report's). The "
            "layers are aligned by module path: each layer unit (an op with its BN and "
            "activation) is the same, changed (kernel, width, groups, stride, padding, "
            "dilation, type, or factorization: one conv where the other runs two), added or "
            "removed. The default --format report writes a folder: report.html (headline, "
            "totals, module diff, per-stage deltas aligned by stage index, both graphs side "
            "by side with the changes outlined, findings in one and not the other, charts), "
            "report.md, compare.json, graph_a.svg, graph_b.svg, charts/. --format json or "
            "markdown prints the comparison to stdout instead (for bots; add --out to also "
            "write the folder). Budgets: each --fail-if that holds prints one line on stderr "
            "and the exit code is 1."),
        epilog=(
            "Budget expressions: METRIC OP VALUE. OP is >, >=, < or <= and the budget fails "
            "when it holds. A signed VALUE bounds the change B - A (with %: relative to A), "
            "an unsigned one B's own value; K/M/G/T suffixes. METRIC: macs, paper_macs, "
            "params, activations, peak_activation_bytes, weight_bytes, feature_rf, layers, "
            "findings, findings.error, findings.warning, findings.info. Examples: "
            "archlens compare baseline.json my_net.py:build --fail-if 'macs>+2%' "
            "--fail-if 'params>+0' --fail-if 'feature_rf<-0' --fail-if 'findings.error>0'. "
            "Exit codes: 0 within budget, 1 a budget exceeded, 2 an error."))
    c.add_argument("model_a", metavar="A",
                   help="baseline: zoo name, reference or analysis.json")
    c.add_argument("model_b", metavar="B", help="candidate: zoo name, reference or analysis.json")
    add_model_arguments(c, model=False)
    c.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: reports/A_vs_B/ with --format report)")
    c.add_argument("--format", choices=_FORMATS, default="report",
                   help="report: write the folder and print a summary (default); json / "
                        "markdown: print the comparison to stdout")
    c.add_argument("--fail-if", action="append", default=[], metavar="EXPR", dest="fail_if",
                   help="a budget, e.g. 'macs>+2%%' (repeatable; see below); exit code 1 "
                        "when one is exceeded")
    add_markdown_arguments(c, "its pictures")
    png = c.add_mutually_exclusive_group()
    png.add_argument("--png", dest="png", action="store_true", default=True,
                     help="also render charts/*.png (default when Chromium is installed)")
    png.add_argument("--no-png", dest="png", action="store_false", help="skip static images")
    c.set_defaults(func=run_compare)


def _load(args, ref: str, steps):
    """An analysis.json is read (not re-analysed); anything else is analysed with the
    CLI's guards (timeout, memory limit, user stdout kept off ours)."""
    from archlens import api
    if ref.endswith(".json") and ":" not in ref:
        return api.load(ref)
    with steps.step("analyse", f"analysing {ref}"):
        return analysis_from_args(args, model=ref)


def run_compare(args: argparse.Namespace) -> int:
    from archlens import api, budgets
    from archlens.outputs import check_output_dir
    from archlens.render import compare as render
    from archlens.render.output import Steps, console_or_none
    budgets.parse_all(args.fail_if)  # a malformed budget fails before any analysis
    if args.out is not None:
        check_output_dir(args.out)  # refuse a user's folder before spending the analysis
    quiet = args.format != "report"
    con = False if quiet else None
    steps = Steps(console_or_none(con))
    a = _load(args, args.model_a, steps)
    b = _load(args, args.model_b, steps)
    d = api.diff(a, b)
    outcomes = api.budgets(d, args.fail_if)
    if args.format == "report" or args.out is not None:
        api.compare(a, b, args.out, png=args.png, console=con, budgets=args.fail_if,
                    md_assets=args.md_assets, md_inline=args.md_inline)
    if args.format == "json":
        sys.stdout.write(json.dumps(render.compare_json(d, outcomes), indent=1) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render.compare_md(d, budgets=outcomes) + "\n")
    exceeded = [o for o in outcomes if o.exceeded]
    if not quiet:
        for o in outcomes:
            if not o.exceeded:
                print(o.message)
    for o in exceeded:
        print(f"archlens: {o.message}", file=sys.stderr)
    return 1 if exceeded else 0
