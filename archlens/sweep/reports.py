"""Full design-review reports (``archlens.report``) of a sweep's top variants.

Each variant is rebuilt from its row (builder + parameters + input), analysed on the meta
device with the design checks, and written to ``DIR/reports/<variant_id>/`` without static
images; the sweep report links to them.
"""
from __future__ import annotations

import json
from typing import Any

from archlens.sweep.fronts import top_variants


def write_top_reports(result: Any, k: int) -> dict[str, str]:
    """Reports of the top ``k`` variants per objective; returns {variant_id: relative link}."""
    import torch

    import archlens
    from archlens.shapes import parse_shape
    from archlens.sweep.spec import SWEEP_PARAMS
    from archlens.sweep.worker import builder_for
    from archlens.sweep.store import read_spec
    spec = result.spec or read_spec(result.out)  # a file builder's code runs here
    if spec is None:
        from archlens.errors import ArchlensError
        raise ArchlensError(f"cannot rebuild the spec of {str(result.out)!r} (its builder "
                            "moved?); run the sweep again to write variant reports")
    rows = result.table.to_pylist()
    chosen: dict[str, dict[str, Any]] = {}
    for best in top_variants(rows, k).values():
        for r in best:
            chosen.setdefault(r["variant_id"], r)
    links: dict[str, str] = {}
    b = builder_for(spec)
    for vid, r in chosen.items():
        params = {n: v for n, v in json.loads(r["config"]).items() if n not in SWEEP_PARAMS}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            with torch.device("meta"):
                model = b.build(params).eval()
        a = archlens.analyze(model, parse_shape(r["input"]), device="meta")
        from dataclasses import replace
        a = replace(a, model=f"{spec.name} variant {vid}")
        archlens.report(a, result.out / "reports" / vid, png=False, console=False)
        links[vid] = f"reports/{vid}/report.html"
    return links
