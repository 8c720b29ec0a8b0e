"""``archlens check``: the Inception-v3 design principles as a linter (CI gate).

    archlens check MODEL [--input CxHxW] [--format text|json|markdown]
                   [--fail-on error|warning|never] [--select P1,P3] [--ignore P4]
                   [--config FILE] [--reference MODEL|none] [--profile cpu|cuda|FILE]

Exit status: 1 when a finding at or above ``--fail-on`` exists (default: error), 0 otherwise,
2 on usage errors (unknown model or rule code, bad config).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from archlens.cli.common import add_model_arguments, analysis_from_args, input_shape

_EPILOG = """\
rules (select or ignore by code or prefix, e.g. --select P1,P3 --ignore P3.factorize-asymmetric):
  P1.grid-reduction         grid reduction that shrinks the trunk representation too much
  P1.channel-squeeze        channel count collapses on the trunk at a constant grid
  P2.narrow-coarse          coarser grid stage not wider than the finer stages before it
  P3.no-reduction           wide kxk conv without a 1x1 channel reduction before it
  P3.factorize-large        n x n conv (n >= 5) -> stacked 3x3 convs
  P3.factorize-asymmetric   n x n conv on a 12..20 grid -> 1 x n then n x 1
  P4.param-concentration    most parameters in the classifier head (or one layer)
  P4.stage-imbalance        one grid stage does most of the convolution work
  P4.depth-width            depth piled into one stage, or a network much deeper than wide
  G1.unequal-widths         1x1 conv with very unequal input and output widths
  G2.group-count            grouped conv whose groups raise its memory traffic at equal MACs
  G3.fragmentation          many-branch block whose time share exceeds its MAC share
  G4.elementwise            element-wise ops take a time share far above their MAC share
  (G1-G4: ShuffleNet V2's guidelines, run with --profile (measured times) or when selected,
  e.g. --select G1,G2,G3,G4 (roofline estimates); docs/guidelines.md)

examples:
  archlens check inception_v3                          exit 1 only on errors
  archlens check vgg16 --fail-on warning --format markdown
  archlens check inception_v3_unfactorized --select P3 --format json
  archlens check my_net.py:build --input 3x224x224 --config checks.toml
  archlens check inception_v3 --profile cpu              + G1-G4 on times measured now
  archlens check resnet50 --profile resnet50.profile.json

Thresholds come from [tool.archlens.check] in ./pyproject.toml or --config FILE (see
docs/principles.md). Savings are exact MACs (multiply-accumulates) and parameters of the
proposed fix on the layer's real shapes.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "check", help="check a model against the Inception-v3 design principles",
        description="Lint a CNN against the four design principles of the Inception-v3 paper "
                    "(Szegedy et al. 2016, section 2): representational bottlenecks, width on "
                    "coarse grids, spatial aggregation over reduced embeddings (1x1 "
                    "reductions, factorized convolutions), balance of width and depth. Each "
                    "finding names the layers, the numbers behind it, a concrete fix and its "
                    "exact saving.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                   help="output format (default: text; json follows schema archlens.check/1)")
    p.add_argument("--fail-on", choices=("error", "warning", "never"), default="error",
                   help="exit 1 when a finding of this severity or worse exists "
                        "(default: error; never: always exit 0)")
    p.add_argument("--select", metavar="CODES", default=None,
                   help="only these rules: comma-separated codes or prefixes, e.g. P1,P3")
    p.add_argument("--ignore", metavar="CODES", default=None,
                   help="skip these rules: comma-separated codes or prefixes, e.g. P4")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="TOML file with check thresholds ([tool.archlens.check] or top level); "
                        "default: ./pyproject.toml if it has [tool.archlens.check]")
    p.add_argument("--reference", metavar="MODEL", default=None,
                   help="model to report the MAC difference against, next to the total "
                        "factorization saving (default: for a zoo variant whose "
                        "factorization savings exceed 10%% of its MACs, its base model, e.g. "
                        "inception_v3 for inception_v3_unfactorized; 'none' to skip)")
    p.add_argument("--profile", metavar="cpu|cuda|FILE", default=None,
                   help="also run the G1-G4 guidelines on measured times: profile the model "
                        "now on cpu or cuda, or read FILE written by 'archlens profile --json'")
    p.set_defaults(func=run)


_RANK = {"error": 0, "warning": 1, "info": 2}


def _console():
    from rich.console import Console
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return Console(width=120)
    return Console()


def _base_model(name: str) -> str | None:
    """The zoo model a variant is named after (``inception_v3_unfactorized`` -> ``inception_v3``)."""
    from archlens import zoo
    from archlens.errors import ArchlensError
    try:
        known = set(zoo.list_models())
    except ArchlensError:
        return None
    if name not in known:
        return None
    parts = name.split("_")
    for i in range(len(parts) - 1, 0, -1):
        cand = "_".join(parts[:i])
        if cand in known:
            return cand
    return None


def _reference(args: argparse.Namespace, analysis, summary: dict) -> dict | None:
    choice = args.reference
    if choice is not None and choice.lower() == "none":
        return None
    if choice is None:
        fact = summary.get("factorization", {}).get("macs", 0)
        if not analysis.totals.macs or fact < 0.10 * analysis.totals.macs:
            return None
        choice = _base_model(args.model)
        if choice is None:
            return None
    ref = analysis_from_args(args, model=choice, checks=False)
    return {"model": choice, "macs": ref.totals.macs,
            "mac_difference": analysis.totals.macs - ref.totals.macs}


def run(args: argparse.Namespace) -> int:
    from archlens import checks
    from archlens.render.findings import findings_markdown, findings_renderable

    input_shape(args)  # validate before the (slow) trace
    # Resolve config and codes first: a typo in --select is a usage error, exit 2, no trace.
    cfg = checks.load_config(args.config) if args.config else checks.load_config()
    checks.selected_codes(args.select if args.select is not None else cfg.select,
                          [*(args.ignore.split(",") if args.ignore else []), *cfg.ignore])
    analysis = analysis_from_args(args, checks=False)
    prof = None
    if args.profile:
        from archlens.cli.profile_cmd import profile_for
        prof = profile_for(args.profile, analysis, args)
    findings = checks.run(analysis, config=cfg, select=args.select, ignore=args.ignore,
                          profile=prof)
    if prof is not None:  # P3 factorization fixes meet a measurement on the same device
        from archlens.profile.p3 import with_measured_latency
        from archlens.profile.run import device_available
        if device_available(prof.device):
            findings = with_measured_latency(findings, analysis, device=prof.device,
                                             dtype=prof.dtype, threads=prof.threads)
    summary = checks.summarize(findings, analysis)
    ref = _reference(args, analysis, summary)
    if ref:
        summary["reference"] = ref

    if args.format == "json":
        doc = checks.to_json(analysis, findings, summary)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif args.format == "markdown":
        title = f"archlens check: {analysis.model} ({'x'.join(map(str, analysis.input_shape))})"
        sys.stdout.write(findings_markdown(findings, summary, title=title))
    else:
        title = (f"archlens check {analysis.model}  input "
                 f"{'x'.join(map(str, analysis.input_shape))}  "
                 f"({analysis.totals.macs:,} MACs, {analysis.totals.params:,} params)")
        _console().print(findings_renderable(findings, summary, title=title))

    if args.fail_on == "never":
        return 0
    limit = _RANK[args.fail_on]
    return 1 if any(_RANK.get(f.severity, 9) <= limit for f in findings) else 0
