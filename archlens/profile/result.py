"""The profile's data: per-node measured latency next to MACs, bytes and the roofline (pure).

:class:`Profile` is what ``archlens.profile(...)`` returns, what ``archlens profile --json``
writes (schema ``archlens.profile/1``, see docs/profile.md) and what renderers and the G rules
read. Everything derived (intensity, achieved throughput, percent of roofline, the analytical
estimate and its error, shares) is computed from the stored fields, so a document read back
with :meth:`Profile.from_dict` gives the same numbers.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from archlens.profile.roofline import Roofline

SCHEMA = "archlens.profile/1"
UNITS = {"time": "seconds", "macs": "multiply-accumulates", "bytes": "bytes",
         "intensity": "MACs per byte", "throughput": "MACs per second",
         "bandwidth": "bytes per second"}


@dataclass(frozen=True)
class LayerProfile:
    """One node of the analysed graph: its cost and its measured latency over the passes."""

    name: str
    type: str
    kind: str                # "module" | "function"
    module: str              # module path the node belongs to (blocks aggregate on it)
    macs: int
    read_bytes: int
    weight_bytes: int
    write_bytes: int
    median_s: float
    q1_s: float
    q3_s: float

    @property
    def bytes(self) -> int:
        return self.read_bytes + self.weight_bytes + self.write_bytes

    @property
    def iqr_s(self) -> float:
        return self.q3_s - self.q1_s

    @property
    def intensity(self) -> float | None:
        """MACs per byte moved (None when the node moves nothing: a view)."""
        return self.macs / self.bytes if self.bytes else None

    @property
    def achieved_macs_per_s(self) -> float | None:
        return self.macs / self.median_s if self.macs and self.median_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LayerProfile":
        return cls(**{f.name: d[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Profile:
    """Measured latency per node of ``model`` on one device, dtype and thread count."""

    model: str
    input_shape: tuple[int, ...]
    device: str
    dtype: str
    threads: int
    channels_last: bool
    warmup: int
    repeats: int                 # timed passes per node (and whole-model passes)
    layers: tuple[LayerProfile, ...]
    whole_median_s: float        # whole forward pass, no profiler attached
    whole_q1_s: float
    whole_q3_s: float
    roofline: Roofline | None = None
    env: dict[str, Any] = field(default_factory=dict)
    # analysed nodes a timed pass did not run as ops (expected empty): no time, listed so
    # that nothing is silently zero
    missing: tuple[str, ...] = ()

    # ----- totals -------------------------------------------------------------------------
    @property
    def sum_median_s(self) -> float:
        """Sum of the per-node medians."""
        return sum(lp.median_s for lp in self.layers)

    @property
    def unattributed_s(self) -> float:
        """Whole-model median minus the sum of per-node medians: time between the timed ops
        (Python glue of ``forward``); negative when the profiler itself slowed the ops down."""
        return self.whole_median_s - self.sum_median_s

    @property
    def overhead_fraction(self) -> float:
        """``sum of per-node medians / whole-model median - 1``."""
        return self.sum_median_s / self.whole_median_s - 1.0 if self.whole_median_s else 0.0

    @property
    def total_macs(self) -> int:
        return sum(lp.macs for lp in self.layers)

    def latency(self) -> dict[str, float]:
        """Node name -> measured median seconds (what the G rules read)."""
        return {lp.name: lp.median_s for lp in self.layers}

    def __getitem__(self, name: str) -> LayerProfile:
        for lp in self.layers:
            if lp.name == name:
                return lp
        raise KeyError(name)

    # ----- per-layer derived numbers -------------------------------------------------------
    def estimate_s(self, lp: LayerProfile) -> float | None:
        """Analytical latency under the measured roofline: max(MACs / peak, bytes / bandwidth)."""
        if self.roofline is None:
            return None
        return self.roofline.estimate_s(lp.macs, lp.bytes)

    def estimate_error(self, lp: LayerProfile) -> float | None:
        """(estimate - measured) / measured; None when either is unknown or zero."""
        est = self.estimate_s(lp)
        if est is None or lp.median_s <= 0 or (lp.macs == 0 and lp.bytes == 0):
            return None
        return est / lp.median_s - 1.0

    def bound(self, lp: LayerProfile) -> str | None:
        """"compute" when the layer's intensity is at or above the ridge point, else "memory"."""
        if self.roofline is None or lp.intensity is None:
            return None
        return "compute" if lp.intensity >= self.roofline.ridge_macs_per_byte else "memory"

    def percent_of_roofline(self, lp: LayerProfile) -> float | None:
        """Achieved MAC/s as a percentage of what the roofline allows at the layer's intensity."""
        ach = lp.achieved_macs_per_s
        if self.roofline is None or ach is None or lp.intensity is None:
            return None
        return 100.0 * ach / self.roofline.attainable(lp.intensity)

    def layer_row(self, lp: LayerProfile) -> dict[str, Any]:
        """Stored and derived numbers of one layer (the JSON's ``layers`` entries)."""
        t = self.sum_median_s
        m = self.total_macs
        return {**lp.to_dict(), "bytes": lp.bytes, "intensity": lp.intensity,
                "achieved_macs_per_s": lp.achieved_macs_per_s,
                "latency_share": lp.median_s / t if t else None,
                "mac_share": lp.macs / m if m else None,
                "estimate_s": self.estimate_s(lp), "estimate_error": self.estimate_error(lp),
                "percent_of_roofline": self.percent_of_roofline(lp), "bound": self.bound(lp)}

    # ----- blocks -------------------------------------------------------------------------
    def blocks(self, depth: int = 1) -> list[dict[str, Any]]:
        """Per-module aggregation at ``depth`` (1 = top-level modules), in execution order:
        name, nodes, MACs, bytes, summed median seconds, latency and MAC shares."""
        order: list[str] = []
        acc: dict[str, dict[str, Any]] = {}
        for lp in self.layers:
            parts = lp.module.split(".") if lp.module else []
            key = ".".join(parts[:depth]) if parts else "(root)"
            if key not in acc:
                order.append(key)
                acc[key] = {"name": key, "nodes": 0, "macs": 0, "bytes": 0, "median_s": 0.0,
                            "estimate_s": 0.0 if self.roofline else None}
            a = acc[key]
            a["nodes"] += 1
            a["macs"] += lp.macs
            a["bytes"] += lp.bytes
            a["median_s"] += lp.median_s
            if self.roofline is not None:
                a["estimate_s"] += self.estimate_s(lp)
        t, m = self.sum_median_s, self.total_macs
        for a in acc.values():
            a["latency_share"] = a["median_s"] / t if t else None
            a["mac_share"] = a["macs"] / m if m else None
        return [acc[k] for k in order]

    # ----- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "model": self.model, "input_shape": list(self.input_shape),
            "device": self.device, "dtype": self.dtype, "threads": self.threads,
            "channels_last": self.channels_last, "warmup": self.warmup,
            "repeats": self.repeats, "units": dict(UNITS),
            "whole": {"median_s": self.whole_median_s, "q1_s": self.whole_q1_s,
                      "q3_s": self.whole_q3_s},
            "sum_of_layer_medians_s": self.sum_median_s,
            "unattributed_s": self.unattributed_s,
            "overhead_fraction": self.overhead_fraction,
            "roofline": self.roofline.to_dict() if self.roofline else None,
            "env": dict(self.env), "missing": list(self.missing),
            "layers": [self.layer_row(lp) for lp in self.layers],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Profile":
        from archlens.errors import ConfigError
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            got = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise ConfigError(f"not an archlens profile (schema {got!r}, expected {SCHEMA!r}); "
                              "write one with 'archlens profile MODEL --json PATH'")
        try:
            whole = d["whole"]
            return cls(model=d["model"], input_shape=tuple(d["input_shape"]), device=d["device"],
                       dtype=d["dtype"], threads=int(d["threads"]),
                       channels_last=bool(d["channels_last"]), warmup=int(d["warmup"]),
                       repeats=int(d["repeats"]),
                       layers=tuple(LayerProfile.from_dict(x) for x in d["layers"]),
                       whole_median_s=float(whole["median_s"]), whole_q1_s=float(whole["q1_s"]),
                       whole_q3_s=float(whole["q3_s"]),
                       roofline=Roofline.from_dict(d["roofline"]) if d.get("roofline") else None,
                       env=dict(d.get("env") or {}), missing=tuple(d.get("missing") or ()))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"malformed archlens profile: {type(e).__name__}: {e}; "
                              "re-create it with 'archlens profile MODEL --json PATH'") from None

    @classmethod
    def from_json(cls, text: str) -> "Profile":
        from archlens.errors import ConfigError
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ConfigError(f"profile JSON does not parse: {e}") from None


def load(path: str) -> Profile:
    """Read a profile JSON file (``archlens profile --json``); one-line errors."""
    from archlens.errors import ConfigError
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read profile {path!r}: {e.strerror or e}") from None
    return Profile.from_json(text)


def shares(items: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Normalise (latency, macs) pairs to (latency share, MAC share)."""
    items = list(items)
    t = sum(a for a, _ in items) or 1.0
    m = sum(b for _, b in items) or 1.0
    return [(a / t, b / m) for a, b in items]
