"""Design-space statistics of a results table: Pareto fronts, complexity EDFs per sub-space,
the width/depth plane at a fixed budget, top variants per objective, findings over the grid.

Pure functions of the rows (``table.to_pylist()`` dicts); the renderers only draw what these
return. Only rows with ``status == "ok"`` take part (pruned, failed and timed-out variants are
counted in the summary, not plotted).
"""
from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Front:
    """A Pareto front: ``x`` minimised (a cost), ``y`` maximised (what the cost buys)."""

    key: str
    x: str
    y: str
    title: str
    x_label: str
    y_label: str


FRONTS = (
    Front("macs_params", "macs", "params", "capacity per MAC: most parameters at each budget",
          "MACs (multiply-accumulates)", "parameters (count)"),
    Front("macs_rf", "macs", "rf", "receptive field per MAC: largest feature RF at each budget",
          "MACs (multiply-accumulates)", "feature receptive field (px, larger axis)"),
    Front("latency_macs", "latency_ms", "macs",
          "work per millisecond: most MACs at each measured latency",
          "latency (ms, measured)", "MACs (multiply-accumulates)"),
)


def ok_rows(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if r.get("status") == "ok"]


def pareto_front(rows: Iterable[Row], x: str, y: str) -> list[Row]:
    """The rows no other row dominates (x no larger and y no smaller, one strictly), sorted
    by x. Rows missing x or y are left out. Equal points are all kept."""
    pts = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
    pts.sort(key=lambda r: (r[x], -r[y]))
    front: list[Row] = []
    best_y = -math.inf
    best_x = None
    for r in pts:
        if r[y] > best_y:
            front.append(r)
            best_y, best_x = r[y], r[x]
        elif r[y] == best_y and r[x] == best_x:
            front.append(r)
    return front


def edf(values: Iterable[float]) -> tuple[list[float], list[float]]:
    """The empirical distribution function: sorted values and F(v) = fraction <= v."""
    xs = sorted(v for v in values if v is not None)
    n = len(xs)
    return xs, [(i + 1) / n for i in range(n)]


def param_names(rows: Sequence[Row]) -> list[str]:
    """The swept parameters (``p.<name>`` columns), in the spec's order."""
    return [k[2:] for k in rows[0] if k.startswith("p.")] if rows else []


def subspaces(rows: Iterable[Row], by: str) -> dict[str, list[Row]]:
    """Rows grouped by the value of parameter ``by`` (its ``p.<by>`` column), in value order."""
    groups: dict[Any, list[Row]] = {}
    for r in rows:
        groups.setdefault(r.get(f"p.{by}"), []).append(r)
    def order(v):
        return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))
    return {_label(by, k): groups[k] for k in sorted(groups, key=order)}


def _label(by: str, v: Any) -> str:
    if isinstance(v, str) and v.startswith("["):
        try:
            v = "-".join(str(x) for x in json.loads(v))
        except ValueError:
            pass
    return f"{by} = {v}"


def default_subspace(rows: Sequence[Row]) -> str | None:
    """The parameter to split EDFs by: the swept one with the fewest (>= 2) distinct values."""
    best = None
    for name in param_names(rows):
        n = len({json.dumps(r.get(f"p.{name}"), sort_keys=True) for r in rows})
        if n >= 2 and (best is None or n < best[0]):
            best = (n, name)
    return best[1] if best else None


@dataclass(frozen=True)
class Plane:
    budget: int                  # MACs
    tolerance: float             # the band is [budget / (1 + t), budget * (1 + t)]
    in_band: list[Row]
    others: list[Row]
    references: list[dict[str, Any]]


def balance_plane(rows: Iterable[Row], references: Sequence[Mapping[str, Any]] = (),
                  budget: int | None = None, tolerance: float = 0.25) -> Plane | None:
    """Principle 4's width/depth plane at a fixed budget: the variants whose MACs lie within
    ``tolerance`` of ``budget`` (default: the median MACs of the ok variants), the others, and
    the zoo's own models (``references``) to place on it. None without depth/width data."""
    pts = [r for r in ok_rows(rows) if r.get("depth") is not None and r.get("width")
           is not None and r.get("macs") is not None]
    if not pts:
        return None
    if budget is None:
        budget = int(statistics.median(r["macs"] for r in pts))
    lo, hi = budget / (1 + tolerance), budget * (1 + tolerance)
    band = [r for r in pts if lo <= r["macs"] <= hi]
    rest = [r for r in pts if not lo <= r["macs"] <= hi]
    refs = [dict(r, in_band=lo <= r["macs"] <= hi) for r in references
            if r.get("depth") is not None and r.get("width") is not None]
    return Plane(budget, tolerance, band, rest, refs)


@dataclass(frozen=True)
class Objective:
    key: str
    title: str
    score: Callable[[Row], float | None]   # larger is better
    unit: str


def _ratio(a: str, b: str, scale: float = 1.0) -> Callable[[Row], float | None]:
    def f(r: Row) -> float | None:
        if r.get(a) is None or not r.get(b):
            return None
        return r[a] / r[b] * scale
    return f


OBJECTIVES = (
    Objective("fewest_macs", "fewest MACs", lambda r: -r["macs"] if r.get("macs") is not None
              else None, "MACs"),
    Objective("rf_per_gmac", "largest feature RF per GMAC", _ratio("rf", "macs", 1e9),
              "px per GMAC"),
    Objective("params_per_gmac", "most parameters per GMAC", _ratio("params", "macs", 1e9),
              "params per GMAC"),
    Objective("fewest_findings", "fewest design findings (errors, then warnings)",
              lambda r: None if r.get("findings_warning") is None else
              -(1000 * (r.get("findings_error") or 0) + r["findings_warning"]), "findings"),
    Objective("lowest_latency", "lowest measured latency",
              lambda r: -r["latency_ms"] if r.get("latency_ms") is not None else None, "ms"),
)


def top_variants(rows: Iterable[Row], k: int) -> dict[str, list[Row]]:
    """Per objective with data: the ``k`` best ok variants (ties: fewer MACs, then index)."""
    pts = ok_rows(rows)
    out: dict[str, list[Row]] = {}
    for o in OBJECTIVES:
        scored = [(o.score(r), r) for r in pts]
        scored = [(s, r) for s, r in scored if s is not None]
        if not scored:
            continue
        scored.sort(key=lambda t: (-t[0], t[1].get("macs") or 0, t[1]["index"]))
        out[o.key] = [r for _, r in scored[:k]]
    return out


def findings_over_grid(rows: Iterable[Row]) -> dict[str, dict[str, int]]:
    """Per rule code: in how many ok variants it fired, and how many findings in total."""
    variants: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r in ok_rows(rows):
        if not r.get("findings"):
            continue
        for code, n in json.loads(r["findings"]).items():
            variants[code] += 1
            total[code] += n
    return {c: {"variants": variants[c], "findings": total[c]} for c in sorted(variants)}


def counts_line(summary: Mapping[str, Any]) -> str:
    c = summary.get("counts", {})
    parts = [f"{c[k]:,} {k}" for k in ("ok", "pruned", "failed", "timeout") if c.get(k)]
    return f"{summary.get('variants', 0):,} variants: " + (", ".join(parts) or "none run")
