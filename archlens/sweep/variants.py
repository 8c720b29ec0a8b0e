"""Variant expansion: a :class:`SweepSpec` -> its variants, each with a deterministic id.

* Without ``samples``: the full grid, the cartesian product of the parameters in the order the
  spec lists them (the last parameter varies fastest).
* With ``samples = N``: N draws from ``random.Random(seed)`` (a list is a uniform choice,
  ``uniform``/``log_uniform``/``randint`` their distributions), repeated draws dropped, so the
  same spec always gives the same variants in the same order.

A variant's id is the sha256 (first 16 hex digits) of what defines the network: the builder
(its source digest for a file), the input shape and the parameters. It does not depend on the
variant's position, the run, the machine or the spec file's path, so ``--resume`` can match
finished rows and two sweeps that share a variant share its id.
"""
from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlens.sweep.spec import Param, SweepSpec, canonical_json


@dataclass(frozen=True)
class Variant:
    index: int                    # position in the expansion (the table's order)
    id: str                       # deterministic, see module docstring
    params: Mapping[str, Any]     # JSON types (lists, not tuples)
    input_shape: tuple[int, ...]  # (C, H, W)

    @property
    def builder_params(self) -> dict[str, Any]:
        """The parameters passed to the builder (``resolution`` is the sweep's own)."""
        from archlens.sweep.spec import SWEEP_PARAMS
        return {k: v for k, v in self.params.items() if k not in SWEEP_PARAMS}


def builder_key(spec: SweepSpec) -> str:
    if ":" in spec.builder:
        target, _, attr = spec.builder.rpartition(":")
        return f"{Path(target).name}:{attr}@{spec.builder_digest[:16]}"
    return spec.builder


def variant_id(spec: SweepSpec, params: Mapping[str, Any], input_shape: tuple[int, ...]) -> str:
    doc = {"builder": builder_key(spec), "input": list(input_shape), "params": dict(params)}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:16]


def input_for(spec: SweepSpec, params: Mapping[str, Any], default: tuple[int, ...] | None
              ) -> tuple[int, ...]:
    shape = tuple(spec.input or default or ())
    res = params.get("resolution")
    if res is not None:
        h, w = (res, res) if isinstance(res, int) else tuple(res)
        shape = (*shape[:-2], h, w) if len(shape) >= 3 else (3, h, w)
    return shape


def _thaw(x: Any) -> Any:
    return [_thaw(y) for y in x] if isinstance(x, tuple) else x


def _draw(p: Param, rng: random.Random) -> Any:
    if p.dist == "uniform":
        return round(rng.uniform(p.low, p.high), 6)
    if p.dist == "log_uniform":
        return round(math.exp(rng.uniform(math.log(p.low), math.log(p.high))), 6)
    if p.dist == "randint":
        return rng.randint(int(p.low), int(p.high))
    return p.values[rng.randrange(len(p.values))]


def expand(spec: SweepSpec, default_input: tuple[int, ...] | None = None) -> Iterator[Variant]:
    """The spec's variants in their deterministic order (lazily: memory flat in their count)."""
    names = spec.param_names
    if spec.samples is None:
        combos: Iterator[tuple[Any, ...]] = itertools.product(*(p.values for p in spec.params))
    else:
        combos = _samples(spec)
    seen: set[str] = set()
    index = 0
    for combo in combos:
        params = {n: _thaw(v) for n, v in zip(names, combo)}
        shape = input_for(spec, params, default_input)
        vid = variant_id(spec, params, shape)
        if vid in seen:
            continue
        seen.add(vid)
        yield Variant(index, vid, params, shape)
        index += 1


def _samples(spec: SweepSpec) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(spec.seed)
    space = spec.grid_size() if not any(p.is_random for p in spec.params) else math.inf
    target = min(spec.samples or 0, space)
    drawn: set[str] = set()
    misses = 0
    while len(drawn) < target and misses < 100 * max(target, 1):
        combo = tuple(_draw(p, rng) for p in spec.params)
        key = canonical_json([_thaw(v) for v in combo])
        if key in drawn:
            misses += 1
            continue
        drawn.add(key)
        yield combo


def count(spec: SweepSpec, default_input: tuple[int, ...] | None = None) -> int:
    return sum(1 for _ in expand(spec, default_input))
