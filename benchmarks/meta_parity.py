"""Meta against CPU on every conformance model: the default ``--device auto`` traces on the
meta device, so its numbers must be those of a CPU pass, node by node.

    python benchmarks/meta_parity.py [--only KEYS]

For each model of ``tests/conformance/catalogue.py`` (timm families, segmentation, video,
Conv1d, every torchvision classification builder) both analyses run on the same module, and
every node's name, type, input/output shapes, params, MACs and receptive field (size, stride,
status), the totals, the feature RF, the ops not counted and the findings' codes are compared.
The one documented difference (scaled-dot-product attention's math path on meta lists its
``mul``/softmax as not counted, docs/engine.md "Devices") is reported apart, not as a failure.
Prints one line per model and a summary; exit 1 when any model differs.
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# ops that scaled_dot_product_attention's math path (meta) runs and its fused CPU kernel hides
SDPA_MATH_OPS = frozenset({"aten::mul", "aten::safe_softmax", "aten::softmax", "aten::div"})


def node_view(n) -> tuple:
    rf = n.rf
    rfv = None if rf is None else (getattr(rf, "size", None), getattr(rf, "stride", None),
                                   getattr(rf, "status", None))
    return (n.name, n.type, tuple(map(tuple, n.in_shapes or ())), tuple(n.out_shape or ()),
            n.params, n.macs, rfv)


def compare(meta, cpu) -> tuple[list[str], list[str]]:
    """(differences, documented differences)."""
    diffs: list[str] = []
    noted: list[str] = []
    if meta.totals.to_dict() != cpu.totals.to_dict():
        a, b = meta.totals.to_dict(), cpu.totals.to_dict()
        diffs.append("totals " + ", ".join(f"{k} {a[k]} != {b.get(k)}" for k in a
                                           if a[k] != b.get(k)))
    if str(meta.feature_rf) != str(cpu.feature_rf):
        diffs.append(f"feature RF {meta.feature_rf} != {cpu.feature_rf}")
    mn, cn = list(meta.graph), list(cpu.graph)
    if len(mn) != len(cn):
        diffs.append(f"{len(mn)} nodes != {len(cn)}")
    for x, y in zip(mn, cn):
        vx, vy = node_view(x), node_view(y)
        if vx != vy:
            diffs.append(f"node {x.name}: {vx} != {vy}")
            break
    mu, cu = dict(meta.unsupported_ops), dict(cpu.unsupported_ops)
    if mu != cu:
        extra = {k: v - cu.get(k, 0) for k, v in mu.items() if v != cu.get(k, 0)}
        missing = {k: v for k, v in cu.items() if k not in mu}
        if not missing and set(extra) <= SDPA_MATH_OPS and any(
                "scaled_dot_product" in str(n.type) or "attention" in str(n.type).lower()
                or "Attention" in str(n.module) for n in mn):
            noted.append(f"not counted on meta only (SDPA math path): {extra}")
        else:
            diffs.append(f"not counted: meta {mu} != cpu {cu}")
    fm, fc = sorted(f.code for f in meta.findings), sorted(f.code for f in cpu.findings)
    if fm != fc:
        diffs.append(f"findings {fm} != {fc}")
    return diffs, noted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated keys, names or prefixes (resnet, timm:)")
    args = ap.parse_args(argv)
    from archlens import api
    from benchmarks.conformance import _selected
    from tests.conformance import catalogue as C
    todo = _selected(C.entries(), args.only)
    bad, noted, t_meta, t_cpu = 0, 0, 0.0, 0.0
    for i, e in enumerate(todo, 1):
        try:
            model = e.build()
        except Exception as ex:  # noqa: BLE001 - reported, not hidden
            print(f"[{i}/{len(todo)}] {e.key}: build failed: {type(ex).__name__}: {ex}")
            bad += 1
            continue
        try:
            t = time.perf_counter()
            meta = api.analyze(model, e.input_shape, device="meta")
            t_meta += time.perf_counter() - t
            t = time.perf_counter()
            cpu = api.analyze(model, e.input_shape, device="cpu")
            t_cpu += time.perf_counter() - t
        except Exception as ex:  # noqa: BLE001
            print(f"[{i}/{len(todo)}] {e.key}: analysis failed: {type(ex).__name__}: {ex}")
            bad += 1
            continue
        diffs, notes = compare(meta, cpu)
        bad += bool(diffs)
        noted += bool(notes)
        print(f"[{i}/{len(todo)}] {e.key}: {len(cpu.graph)} nodes, "
              f"{'DIFFERENT: ' + '; '.join(diffs) if diffs else 'equal'}"
              f"{' (' + '; '.join(notes) + ')' if notes else ''}", flush=True)
        del model, meta, cpu
        gc.collect()
    print(f"{len(todo)} models: {len(todo) - bad} equal on meta and CPU, {bad} different "
          f"({noted} with the documented SDPA difference); analysis time meta {t_meta:.0f} s, "
          f"CPU {t_cpu:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
