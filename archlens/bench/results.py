"""The bench results file (``schema: "archlens.bench/1"``): save atomically, load, validate.

Layout (all latencies in seconds, MACs are multiply-accumulates per forward call of the whole
batch, throughput in GMAC/s)::

    {"schema": "archlens.bench/1", "created": ISO-8601, "env": {...}, "config": {...},
     "units": {...}, "notes": [...],
     "cases": [{"id", "kind": "factorization"|"module"|"network", "title", "batch",
                "grid", "input_shape", "output_shape", "spec": {...},
                "full": FORM, "factorized": FORM,
                "mac_ratio", "param_ratio", "latency_ratio", "mac_saving"}],
     "skipped": [{"id", "reason"}]}
    FORM = {"label", "macs", "params", "latency": {"median_s", "q1_s", "q3_s", "iqr_s",
            "runs", "number_per_run", "min_s", "max_s"}, "gmacs_per_s", "percent_of_peak"}

Ratios are factorized / full; ``latency_ratio`` is the ratio of the two medians.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from archlens.errors import ArchlensError, OutputError

SCHEMA = "archlens.bench/1"
UNITS = {"latency": "seconds (median of timed runs; IQR = q3 - q1)",
         "macs": "multiply-accumulates per forward call (whole batch)",
         "params": "count", "throughput": "GMAC/s (1e9 multiply-accumulates per second)",
         "ratios": "factorized / full"}


class BenchResultsError(ArchlensError, ValueError):
    """A results file that is missing, not JSON, or not an archlens.bench/1 document."""


def save_results(results: dict[str, Any], path: str | Path) -> Path:
    """Validate, then write ``path`` atomically (temp file in the same folder + rename), so a
    reader never sees half a file."""
    from archlens.outputs import write_file
    validate(results)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot write bench results to {path}: {e.strerror or e}; "
                          "choose a writable --out path") from None
    write_file(path, json.dumps(results, indent=1, allow_nan=False) + "\n",
               hint="choose a writable --out path")
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a results file; one-line :class:`BenchResultsError` otherwise."""
    from archlens.io import load_json_bounded
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise BenchResultsError(f"bench results file {path} does not exist; create one with "
                                "'archlens bench factorization --out FILE.json'")
    data = load_json_bounded(path, what="bench results file", error=BenchResultsError)
    try:
        validate(data)
    except BenchResultsError as e:
        raise BenchResultsError(f"{path}: {e}") from None
    return data


def _fail(msg: str) -> None:
    raise BenchResultsError(msg)


def _num(value: Any, where: str, *, positive: bool = False, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(f"{where} must be a finite number, got {value!r}")
    if positive and value <= 0:
        _fail(f"{where} must be positive, got {value!r}")


def _object(value: Any, keys: tuple[str, ...], where: str) -> None:
    """``value`` must be a JSON object holding every one of ``keys``."""
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    for key in keys:
        if key not in value:
            _fail(f"{where} lacks '{key}'")


def _form(form: Any, where: str) -> None:
    _object(form, ("label", "macs", "params", "latency", "gmacs_per_s"), where)
    _num(form["macs"], f"{where}.macs", positive=True)
    _num(form["params"], f"{where}.params")
    _num(form["gmacs_per_s"], f"{where}.gmacs_per_s", positive=True)
    _num(form.get("percent_of_peak"), f"{where}.percent_of_peak", allow_none=True)
    lat = form["latency"]
    _object(lat, ("median_s", "q1_s", "q3_s", "iqr_s", "runs"), f"{where}.latency")
    _num(lat["median_s"], f"{where}.latency.median_s", positive=True)
    _num(lat["iqr_s"], f"{where}.latency.iqr_s")
    if lat["iqr_s"] < 0:
        _fail(f"{where}.latency.iqr_s is negative")
    if not isinstance(lat["runs"], int) or lat["runs"] < 1:
        _fail(f"{where}.latency.runs must be a positive integer")


def validate(data: Any) -> None:
    """Raise :class:`BenchResultsError` (one line, naming the field) unless ``data`` is a
    well-formed ``archlens.bench/1`` document with consistent ratios."""
    if not isinstance(data, dict):
        _fail("bench results must be a JSON object")
    if data.get("schema") != SCHEMA:
        _fail(f"schema is {data.get('schema')!r}, expected {SCHEMA!r} "
              "(a file written by 'archlens bench factorization')")
    for key in ("env", "config", "cases"):
        if key not in data:
            _fail(f"bench results lack '{key}'")
    if not isinstance(data["env"], dict) or "device" not in data["env"]:
        _fail("env must be an object naming the device")
    if not isinstance(data["cases"], list):
        _fail("cases must be a list")
    seen: set[tuple[str, int]] = set()
    for i, case in enumerate(data["cases"]):
        _object(case, ("id", "kind", "batch", "full", "factorized", "mac_ratio",
                       "latency_ratio"), f"cases[{i}]")
        where = f"case {case['id']!r} (batch {case['batch']})"
        if (case["id"], case["batch"]) in seen:
            _fail(f"{where} appears twice")
        seen.add((case["id"], case["batch"]))
        _form(case["full"], f"{where}.full")
        _form(case["factorized"], f"{where}.factorized")
        _num(case["mac_ratio"], f"{where}.mac_ratio", positive=True)
        _num(case["latency_ratio"], f"{where}.latency_ratio", positive=True)
        expect = case["factorized"]["latency"]["median_s"] / case["full"]["latency"]["median_s"]
        if not math.isclose(case["latency_ratio"], expect, rel_tol=1e-9):
            _fail(f"{where}.latency_ratio {case['latency_ratio']} is not the ratio of the "
                  f"medians ({expect})")
    if not isinstance(data.get("skipped", []), list):
        _fail("skipped must be a list")
