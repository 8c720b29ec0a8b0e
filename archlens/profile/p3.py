"""P3 fixes meet measurements: the latency ratio of a factorization on this device.

A ``P3.factorize-*`` finding states the exact MACs its fix saves; whether that saves time
depends on the device (archlens's own bench: on a CPU a 3x3 -> 1x3 + 3x1 split on 35x35 is
slower although it saves 33 % of the MACs). :func:`with_measured_latency` adds, to each such
finding, the measured latency ratio *for the same shapes*: the finding's first layer as it is
(kernel, stride, padding, channels and grid from the graph) against the chain of factor convs
the finding proposes (``data["factors"]``), either

* looked up in ``archlens bench factorization`` results (``bench=`` a results file or
  document): a case with the same kind, kernel, grid and channels, measured on the same
  device type and dtype; or
* measured now, interleaved (:func:`archlens.bench.timing.measure`), bias-free convs at batch
  1 on the device, dtype and thread count given.

The rule itself is not changed: this returns new findings whose ``fix`` ends with
"measured -12 % latency on this CPU (0.88x ...)" and whose ``data`` carries
``measured_latency_ratio`` and how it was obtained.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from archlens.analysis import Analysis, Finding

CODES = ("P3.factorize-large", "P3.factorize-asymmetric")


def _spec(analysis: Analysis, f: Finding) -> dict[str, Any] | None:
    factors = f.data.get("factors")
    layer = f.layers[0] if f.layers else None
    if not factors or layer not in analysis.graph:
        return None
    nd = analysis.graph[layer]
    if nd.kernel is None or not nd.in_shapes or len(nd.in_shapes[0]) != 4:
        return None
    _, cin, h, w = nd.in_shapes[0]
    return {"layer": layer, "cin": cin, "cout": nd.out_shape[1], "grid": (h, w),
            "kernel": tuple(nd.kernel), "stride": tuple(nd.stride or (1, 1)),
            "padding": tuple(nd.padding or (0, 0)), "factors": factors}


def _from_bench(spec: dict[str, Any], bench: dict[str, Any] | None, device: str,
                dtype: str) -> tuple[float, str] | None:
    if not bench:
        return None
    env = bench.get("env", {})
    if env.get("device") != device or env.get("dtype") != dtype:
        return None
    mids = {fc["out_channels"] for fc in spec["factors"][:-1]}
    for case in bench.get("cases", []):
        s = case.get("spec") or {}
        if case.get("kind") != "factorization" or s.get("bn_relu"):
            continue
        if (s.get("grid"), s.get("cin"), s.get("cout"), s.get("n")) == (
                spec["grid"][0], spec["cin"], spec["cout"], spec["kernel"][0]) \
                and spec["grid"][0] == spec["grid"][1] and {s.get("mid")} == mids \
                and spec["stride"] == (1, 1):
            return float(case["latency_ratio"]), f"bench case {case.get('id')}"
    return None


def _measure(spec: dict[str, Any], device: str, dtype: str, threads: int | None,
             min_run_time: float) -> tuple[float, str]:
    import torch
    from torch import nn

    from archlens.bench.timing import measure, prepare, resolve_device
    from archlens.engine import resolve_dtype
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    full = nn.Conv2d(spec["cin"], spec["cout"], spec["kernel"], stride=spec["stride"],
                     padding=spec["padding"], bias=False)
    chain = nn.Sequential(*[nn.Conv2d(fc["in_channels"], fc["out_channels"],
                                      tuple(fc["kernel"]), stride=tuple(fc["stride"]),
                                      padding=tuple(fc["padding"]), bias=False)
                            for fc in spec["factors"]])
    full, chain = full.to(dev, dt).eval(), chain.to(dev, dt).eval()
    x = torch.randn(1, spec["cin"], *spec["grid"]).to(dev, dt)
    old = torch.get_num_threads()
    try:
        prepare(dev, threads or old)
        with torch.no_grad():
            if full(x).shape != chain(x).shape:
                raise ValueError("factorized form changes the output shape")
            t_full, t_fact = measure([lambda: full(x), lambda: chain(x)], dev,
                                     threads=threads or old, min_run_time=min_run_time,
                                     min_runs=10, rounds=4)
    finally:
        torch.set_num_threads(old)
        if dev.type == "cpu":
            torch.set_flush_denormal(False)
    return (t_fact.median_s / t_full.median_s,
            f"measured now, medians of {t_full.runs} and {t_fact.runs} runs")


def with_measured_latency(findings: Sequence[Finding], analysis: Analysis, *,
                          device: str = "cpu", dtype: str = "float32",
                          threads: int | None = None, bench: Any = None,
                          min_run_time: float = 1.0) -> tuple[Finding, ...]:
    """``findings`` with each P3 factorization fix followed by its measured latency ratio."""
    if bench is not None and not isinstance(bench, dict):
        from archlens.bench.results import load_results
        bench = load_results(bench)
    where = "this CPU" if device == "cpu" else f"this {device.upper()} device"
    out = []
    seen: dict[str, tuple[float, str]] = {}   # the same shapes are measured once
    for f in findings:
        spec = _spec(analysis, f) if f.code in CODES else None
        if spec is None:
            out.append(f)
            continue
        key = repr({k: v for k, v in spec.items() if k != "layer"})
        if key not in seen:
            seen[key] = _from_bench(spec, bench, device, dtype) or _measure(
                spec, device, dtype, threads, min_run_time)
        ratio, how = seen[key]
        grp = f" (for {spec['layer']}, the first of the group)" if len(f.layers) > 1 else ""
        text = (f"; measured {100 * (ratio - 1):+.0f} % latency on {where}{grp} "
                f"({ratio:.2f}x the full conv's median, {dtype}, {how})")
        out.append(replace(f, fix=f.fix + text, data={
            **f.data, "measured_latency_ratio": ratio, "measured_how": how,
            "measured_on": f"{device} {dtype}", "measured_layer": spec["layer"]}))
    return tuple(out)
