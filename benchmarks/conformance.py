"""Conformance run: archlens on every torchvision classification builder, 42 timm families,
3 segmentation models, 3 Conv3d video models and a Conv1d net, against independent references
(``tests/conformance/catalogue.py``); writes ``docs/conformance.md``.

    python benchmarks/conformance.py                  # the whole set (tens of minutes)
    python benchmarks/conformance.py --only resnet,timm:vit_tiny_patch16_224
    python benchmarks/conformance.py --render-only    # rewrite the page from the results

Results go to ``benchmarks/results/conformance.jsonl`` (one JSON row per model, newest wins),
so a partial rerun (``--only``) updates its rows and the page is rebuilt from all of them.
Needs the test-only model definitions (``make setup`` installs torchvision and timm with
``--no-deps``). Times are wall-clock seconds on whatever machine ran it: informative only.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "conformance.jsonl"
PAGE = ROOT / "docs" / "conformance.md"


def _commit() -> str:
    try:
        return subprocess.check_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                       text=True).strip()
    except Exception:
        return "unknown"


def load() -> dict[str, dict]:
    rows: dict[str, dict] = {}
    if RESULTS.exists():
        for line in RESULTS.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                rows[d["key"]] = d
    return rows


def _append(row: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a") as f:
        f.write(json.dumps(row, default=list) + "\n")


def _selected(entries, only: str | None):
    if not only:
        return entries
    toks = [t.strip() for t in only.split(",") if t.strip()]
    return [e for e in entries if any(t == e.key or t == e.name or e.name.startswith(t)
                                      or e.key.startswith(t) for t in toks)]


def run(only: str | None, probe_seconds: int | None = 60) -> None:
    from tests.conformance import catalogue as C
    commit = _commit()
    todo = _selected(C.entries(), only)
    print(f"{len(todo)} models at {commit}", flush=True)
    for i, e in enumerate(todo, 1):
        t = time.perf_counter()
        r = C.check(e, probe_seconds=probe_seconds)
        d = dataclasses.asdict(r)
        d.update(verdict=r.verdict, commit=commit, source=e.source, name=e.name,
                 when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        _append(d)
        print(f"[{i}/{len(todo)}] {e.key}: {r.verdict} {time.perf_counter() - t:.1f} s "
              f"{'; '.join(r.problems) or r.error}", flush=True)
        del r
        gc.collect()


# ----------------------------------------------------------------------------------------
# the page
# ----------------------------------------------------------------------------------------

def _n(v) -> str:
    return "-" if v is None else f"{int(v):,}"


def _macs_cell(d: dict) -> str:
    ours, fv = d.get("macs"), d.get("macs_fvcore")
    if ours is None:
        return "-"
    adj = sum((d.get("adjust") or {}).values())
    if fv is None:
        return "fvcore failed"
    if ours == fv + adj:
        ops = ", ".join(o.split("::")[-1] for o in (d.get("adjust") or {}))
        return "= fvcore" + (f" + {_n(adj)} ({ops})" if adj else "")
    diff = ours - fv - adj
    return f"**{diff:+,}** ({100 * diff / max(fv, 1):+.2f} %)"


def _rf_cell(d: dict) -> str:
    rf = d.get("rf") or {}
    size = rf.get("size")
    status = rf.get("status", "-")
    text = (f"{size[0]}x{size[1]} px" if size else "none") + f" {status}"
    if rf.get("reason"):
        text += f" ({rf['reason']})"
    return text


def _probe_cell(d: dict) -> str:
    rf = d.get("rf") or {}
    v = rf.get("verdict", "-")
    pr = rf.get("probe")
    if v == "WRONG":
        return f"**WRONG**: probe {pr}, claimed {rf.get('expected')}"
    if v == "equal" and pr:
        ext = [pr[0][1] - pr[0][0] + 1, pr[1][1] - pr[1][0] + 1]
        return f"equal ({ext[0]}x{ext[1]} px, {rf.get('how', '')})"
    return v


def render(rows: dict[str, dict]) -> str:
    from tests.conformance.catalogue import FVCORE_UNCOUNTED
    order = ["torchvision", "timm", "torchvision.segmentation", "torchvision.video", "local"]
    ds = sorted(rows.values(), key=lambda d: (order.index(d["source"]) if d["source"] in order
                                              else 9, d["name"]))
    n = len(ds)
    passed = sum(1 for d in ds if d["verdict"] == "pass")
    analysed = sum(1 for d in ds if d.get("ok"))
    params_ok = sum(1 for d in ds if d.get("ok") and d.get("params") == d.get("params_ref"))
    macs_ok = sum(1 for d in ds if d.get("macs") is not None and d.get("macs_fvcore") is not None
                  and d["macs"] == d["macs_fvcore"] + sum((d.get("adjust") or {}).values()))
    meta_ok = sum(1 for d in ds if d.get("macs") is not None and d.get("macs_meta") == d["macs"])
    rf_v = [((d.get("rf") or {}).get("verdict") or "") for d in ds]
    rf_st = [((d.get("rf") or {}).get("status") or "") for d in ds]
    rf_equal = sum(1 for v in rf_v if v == "equal")
    rf_eq_exact = sum(1 for v, st in zip(rf_v, rf_st) if v == "equal" and st == "exact")
    rf_eq_global = sum(1 for v, st in zip(rf_v, rf_st) if v == "equal" and st == "global")
    rf_wrong = sum(1 for v in rf_v if v == "WRONG")
    rf_consistent = sum(1 for v in rf_v if v.startswith("consistent"))
    rf_unknown = sum(1 for v in rf_v if v.startswith("not compared: unknown"))
    rf_notrun = sum(1 for v in rf_v if v.startswith("not run"))
    rf_failed = sum(1 for v in rf_v if v.startswith("probe failed"))
    rf_noprobe = sum(1 for v in rf_v if v.startswith("not compared")
                     and not v.startswith("not compared: unknown"))
    rf_other = n - rf_equal - rf_wrong - rf_consistent - rf_unknown - rf_notrun - rf_failed \
        - rf_noprobe
    report_ok = sum(1 for d in ds if str(d.get("report", "")).startswith("ok"))
    per_commit: dict[str, int] = {}
    for d in ds:
        per_commit[d.get("commit", "?")] = per_commit.get(d.get("commit", "?"), 0) + 1
    commits = [f"{c} ({k} row{'' if k == 1 else 's'})"
               for c, k in sorted(per_commit.items(), key=lambda t: -t[1])]
    out = [
        "# Conformance: archlens on models nobody here wrote",
        "",
        "Generated by `python benchmarks/conformance.py` (do not edit by hand); the references "
        "and how each is measured are in `tests/conformance/catalogue.py`. CI runs a fast "
        "subset (`tests/conformance/`).",
        "",
        f"**{n} models** (every torchvision classification builder, {sum(1 for d in ds if d['source'] == 'timm')} "
        "timm families, 3 segmentation models, 3 Conv3d video models, a Conv1d net), "
        f"archlens commit(s) {', '.join(commits)}:",
        "",
        f"* analysed: {analysed}/{n}; parameters exact (`sum(p.numel())`): {params_ok}/{analysed}",
        f"* MACs equal to fvcore's own `FlopCountAnalysis` (plus the documented ops fvcore "
        f"leaves out and the exact value of its rounded einsums, see below): {macs_ok}/{analysed}; "
        f"meta path equal to the CPU path: {meta_ok}/{analysed}",
        f"* feature RF against the gradient probe: {rf_equal} equal ({rf_eq_exact} exact "
        f"windows, {rf_eq_global} global = the whole image), **{rf_wrong} wrong**"
        + (f", {rf_consistent} consistent (tokens)" if rf_consistent else "")
        + f"; not compared: {rf_unknown} unknown (the reason in the column), {rf_notrun} not "
        f"run (large variants, probe time budget), {rf_noprobe} without a probe (3-D/1-D "
        f"models, no hook on the feature tensor)"
        + (f", **{rf_failed} probe failed**" if rf_failed else "")
        + (f", {rf_other} other" if rf_other else ""),
        f"* `archlens report` written: {report_ok}/{analysed}",
        f"* verdict pass: **{passed}/{n}**",
        "",
        "Each row names the archlens commit it ran at (the `commit` field of "
        "`benchmarks/results/conformance.jsonl`). On commits before the eager pass (issue 10, "
        "`eng`) the CPU path took its MACs from fvcore itself, so on those rows the "
        "independent MAC comparison is the **meta** column (torch.utils.flop_counter), and "
        "the CPU feature RF still came from the jit-traced graph.",
        "",
        "## How to read a row",
        "",
        "* **params**: archlens's total; the verdict fails unless it equals "
        "`sum(p.numel() for p in model.parameters())`.",
        "* **MACs** (multiply-accumulates) of the CPU path (`--device cpu`), then how it "
        "compares with fvcore's `FlopCountAnalysis(model, x).total()` run on the same model "
        "with the fused `nn.MultiheadAttention` fast path off (as archlens runs it). fvcore has "
        "no handle for these ops and lists them as unsupported; archlens counts them, so the "
        "reference adds them with a formula written in the catalogue from the recorded shapes: "
        + ", ".join(f"`{op}`" for op in FVCORE_UNCOUNTED) + " (attention: Q K^T and the "
        "weighted sum of V, 2 x B x heads x L x S x Dh, also inside `nn.MultiheadAttention`, "
        "whose projections fvcore counts; 3-D adaptive average pooling: one "
        "addition per input element, fvcore's own rule for the 2-D op). `einsum`: fvcore "
        "reads generic einsum counts from numpy's `einsum_path` report, printed to four "
        "significant digits; the reference adds the exact product of the index sizes minus "
        "fvcore's rounded value, per einsum fvcore traced (docs/engine.md). **meta**: the "
        "`--device meta` total, which must equal the CPU one.",
        "* **feature RF**: what `archlens analyze` reports (size and status: `exact`, `global`, "
        "`unknown` with the reason).",
        "* **probe**: the gradient probe (`tests/metrics/probe.py`) at the network's feature "
        "tensor, chosen independently of the RF code (the last tensor on the main path with "
        "more than one position). An exact field is probed per axis on long thin inputs, so "
        "the whole window is measured; each long side keeps the analysed length modulo "
        "lcm(32, the feature stride), so padding computed from the input size (TF \"same\" "
        "padding: timm's NASNet-A and PNASNet at 331 px) is what it was in the analysis; models that take only their own size (ViT, Swin) are "
        "probed there (window clipped to the image); a `global` field must reach the whole "
        "image; on tokens without a grid, the middle token's support must fit in the claimed "
        "size. **WRONG** means the number a user sees is not the network's.",
        "* **time**: wall-clock seconds for the whole row (build, both analyses, fvcore, "
        "report, probe) on a shared 2-core machine: informative only.",
        "",
        "| model | params | MACs (CPU) | vs fvcore | meta | feature RF | probe | report | "
        "verdict | time s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in ds:
        meta = "=" if d.get("macs_meta") == d.get("macs") else _n(d.get("macs_meta"))
        rep = "ok" if str(d.get("report", "")).startswith("ok") else (d.get("report") or "-")
        verdict = d["verdict"] if d["verdict"] == "pass" else "**FAIL**"
        if d.get("error"):
            out.append(f"| {d['key']} | - | - | - | - | - | - | - | **FAIL**: {d['error']} | "
                       f"{(d.get('seconds') or {}).get('total', 0):.0f} |")
            continue
        out.append(" | ".join([
            f"| {d['key']} ({d.get('commit', '?')})", _n(d.get("params")), _n(d.get("macs")), _macs_cell(d), meta,
            _rf_cell(d), _probe_cell(d), rep, verdict,
            f"{(d.get('seconds') or {}).get('total', 0):.0f} |"]))
    fails = [d for d in ds if d["verdict"] != "pass"]
    out += ["", "## Failures, one line each", ""]
    if not fails:
        out.append("None.")
    for d in fails:
        out.append(f"* `{d['key']}`: " + ("; ".join(d.get("problems") or []) or d.get("error", "")))
    return "\n".join(out).replace("|", "\\|").replace("\\|", "|") + "\n"


def write_page(text: str) -> None:
    tmp = PAGE.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, PAGE)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated keys, names or prefixes (resnet, timm:)")
    p.add_argument("--render-only", action="store_true", help="rewrite the page from results")
    p.add_argument("--probe-seconds", type=int, default=60,
                   help="wall-clock cap per probe (0: none, and the largest variants too)")
    args = p.parse_args()
    if not args.render_only:
        run(args.only, args.probe_seconds or None)
    write_page(render(load()))
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
