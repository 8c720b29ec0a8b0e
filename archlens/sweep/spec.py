"""Sweep specs: a TOML file (or a dict) -> a validated, immutable :class:`SweepSpec`.

Everything a spec can get wrong is found here, before any variant is built: unknown keys
(with close-match suggestions), an unknown builder, a parameter the builder does not accept,
an empty parameter or grid, random parameters without ``samples``, contradictory constraints.
Each is one :class:`~archlens.errors.SweepSpecError` line. The format is documented in
docs/sweep.md; examples live in examples/sweeps/.
"""
from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlens.errors import SweepSpecError, suggest

TOP_KEYS = ("name", "description", "builder", "input", "seed", "samples", "params",
            "constraints", "measure")
CONSTRAINT_KEYS = ("min_macs", "max_macs", "min_params", "max_params", "min_rf", "max_rf")
MEASURE_KEYS = ("device", "checks", "latency", "timeout_s", "batch_size")
DISCRETE_FORMS = ("values", "range")
RANDOM_FORMS = ("uniform", "log_uniform", "randint")
#: parameters the sweep consumes itself (never passed to the builder)
SWEEP_PARAMS = ("resolution",)
MAX_VARIANTS = 1_000_000
SPEC_LIMIT = 1_000_000  # bytes: a spec is a page of TOML


@dataclass(frozen=True)
class Param:
    """One swept parameter: a finite list of values, or a random distribution."""

    name: str
    values: tuple[Any, ...] = ()     # discrete: every value (grid axis / sample choices)
    dist: str | None = None          # random: "uniform" | "log_uniform" | "randint"
    low: float | int | None = None
    high: float | int | None = None

    @property
    def is_random(self) -> bool:
        return self.dist is not None

    def to_dict(self) -> dict[str, Any]:
        if self.dist:
            return {"name": self.name, self.dist: [self.low, self.high]}
        return {"name": self.name, "values": list(self.values)}


@dataclass(frozen=True)
class Constraints:
    """Bounds on MACs (multiply-accumulates), parameters (count) and the feature receptive
    field (px, the larger axis). ``None`` = unbounded."""

    min_macs: int | None = None
    max_macs: int | None = None
    min_params: int | None = None
    max_params: int | None = None
    min_rf: int | None = None
    max_rf: int | None = None

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in CONSTRAINT_KEYS if getattr(self, k) is not None}

    def violated_params(self, params: int) -> str | None:
        """Reason the parameter count breaks a bound (cheap: no trace needed), else None."""
        return _bound("params", params, self.min_params, self.max_params, "")

    def violated_analysis(self, macs: int, rf: int | None) -> str | None:
        """Reason MACs or the feature RF break a bound (after the meta analysis), else None."""
        why = _bound("macs", macs, self.min_macs, self.max_macs, " MACs")
        if why:
            return why
        if self.min_rf is None and self.max_rf is None:
            return None
        if rf is None:
            return "rf unknown: the feature receptive field could not be computed"
        return _bound("rf", rf, self.min_rf, self.max_rf, " px")


def _bound(what: str, value: int, lo: int | None, hi: int | None, unit: str) -> str | None:
    if lo is not None and value < lo:
        return f"{what} {value:,}{unit} < min_{what} {lo:,}{unit}"
    if hi is not None and value > hi:
        return f"{what} {value:,}{unit} > max_{what} {hi:,}{unit}"
    return None


@dataclass(frozen=True)
class Measures:
    """What each variant measures. The analysis (params, MACs, RF, depth, width) always runs."""

    device: str = "meta"       # "meta" (nothing allocated) | "cpu" (real tensors, fvcore)
    checks: bool = False       # design-principle findings counts per variant
    latency: bool = False      # measured CPU latency (needs archlens.profile)
    timeout_s: float = 300.0   # per variant; a slower variant is recorded as timed out
    batch_size: int = 0        # variants per Ray task; 0 = chosen from the variant count

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in MEASURE_KEYS}


@dataclass(frozen=True)
class SweepSpec:
    name: str
    builder: str
    params: tuple[Param, ...]
    constraints: Constraints = Constraints()
    measure: Measures = Measures()
    input: tuple[int, ...] | None = None  # (C, H, W); the builder's default when not given
    seed: int = 0
    samples: int | None = None            # seeded random sample of the space; None = full grid
    description: str = ""
    source: str | None = None             # the spec file, when loaded from one
    base_dir: str = "."                   # relative builder paths resolve against this
    builder_digest: str = ""              # sha256 of a file builder's source ('' for zoo)
    extra: Mapping[str, Any] = field(default_factory=dict)  # the spec as given (JSON types)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def grid_size(self) -> int:
        return math.prod(len(p.values) for p in self.params) if self.params else 1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form; what the fingerprint hashes (``source`` and ``base_dir`` left out:
        a moved spec file is the same sweep)."""
        return {"name": self.name, "builder": self.builder, "builder_digest": self.builder_digest,
                "input": list(self.input) if self.input else None, "seed": self.seed,
                "samples": self.samples, "params": [p.to_dict() for p in self.params],
                "constraints": self.constraints.to_dict(), "measure": self.measure.to_dict()}

    @property
    def fingerprint(self) -> str:
        """sha256 of the spec's meaning: equal for equal sweeps, so ``--resume`` can refuse a
        folder that holds a different one."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# ----------------------------------------------------------------------------------------
# parsing
# ----------------------------------------------------------------------------------------

def load_spec(spec: "str | Path | Mapping[str, Any] | SweepSpec") -> SweepSpec:
    """A :class:`SweepSpec` from a TOML path, a dict of the same shape, or a spec (returned)."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, Mapping):
        return parse_spec(spec, source=None, base_dir=Path.cwd())
    from archlens.io import read_text_bounded
    path = Path(spec).expanduser()
    text = read_text_bounded(path, what="sweep spec", limit=SPEC_LIMIT, error=SweepSpecError)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SweepSpecError(f"sweep spec {str(path)!r} is not valid TOML: {e}") from None
    return parse_spec(data, source=str(path), base_dir=path.resolve().parent)


def parse_spec(data: Mapping[str, Any], *, source: str | None, base_dir: Path) -> SweepSpec:
    where = f"{source}: " if source else "sweep spec: "

    def fail(msg: str) -> SweepSpecError:
        return SweepSpecError(where + msg)

    _unknown(data, TOP_KEYS, "key", fail)
    builder = data.get("builder")
    if not isinstance(builder, str) or not builder.strip():
        raise fail("'builder' is missing: name a zoo family (resnet, resnext, inception_v3) "
                   "or path/to/file.py:callable")
    name = data.get("name", Path(source).stem if source else "sweep")
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\\0"):
        raise fail(f"'name' must be a non-empty string without path separators, got {name!r}")
    seed = data.get("seed", 0)
    if not _is_int(seed):
        raise fail(f"'seed' must be an integer, got {seed!r}")
    samples = data.get("samples")
    if samples is not None and (not _is_int(samples) or not 1 <= samples <= MAX_VARIANTS):
        raise fail(f"'samples' must be an integer from 1 to {MAX_VARIANTS:,}, got {samples!r}")
    input_shape = None
    if data.get("input") is not None:
        from archlens.errors import InputShapeError
        from archlens.shapes import parse_shape
        try:
            input_shape = parse_shape(data["input"])
        except InputShapeError as e:
            raise fail(f"'input': {e}") from None
    raw_params = data.get("params", {})
    if not isinstance(raw_params, Mapping):
        raise fail("[params] must be a table of parameter = values")
    params = tuple(_param(k, v, fail) for k, v in raw_params.items())
    if samples is None:
        rnd = next((p for p in params if p.is_random), None)
        if rnd is not None:
            raise fail(f"parameter {rnd.name!r} is random ({rnd.dist}); random parameters "
                       "need 'samples = N' (a seeded sample of the space)")
        size = math.prod(len(p.values) for p in params) if params else 1
        if size > MAX_VARIANTS:
            raise fail(f"the grid has {size:,} variants (more than {MAX_VARIANTS:,}); use "
                       "'samples = N' for a seeded random sample of it")
    constraints = _constraints(data.get("constraints", {}), fail)
    measure = _measures(data.get("measure", {}), fail)

    from archlens.sweep.builders import resolve_builder
    b = resolve_builder(builder.strip(), base_dir, fail)
    b.check_params([p.name for p in params if p.name not in SWEEP_PARAMS], fail)
    for p in params:
        for v in p.values:
            why = b.check_value(p.name, _thaw(v))
            if why:
                raise fail(f"parameter {p.name!r}: {why}")
    if input_shape is None and b.default_input is None:
        raise fail(f"builder {builder.strip()!r} has no default input shape; set "
                   "input = \"3x224x224\" (C x H x W)")
    for p in params:
        if p.name == "resolution":
            for v in p.values:
                if not (_is_int(v) and v > 0) and not (
                        isinstance(v, list) and len(v) == 2 and all(_is_int(x) and x > 0 for x in v)):
                    raise fail(f"parameter 'resolution': every value must be a positive integer "
                               f"(or [H, W]), got {v!r}")
            if p.is_random and p.dist != "randint":
                raise fail("parameter 'resolution' must be discrete or randint")
    return SweepSpec(name=name.strip(), builder=builder.strip(), params=params,
                     constraints=constraints, measure=measure,
                     input=input_shape or tuple(b.default_input), seed=int(seed),
                     samples=samples, description=str(data.get("description", "")),
                     source=source, base_dir=str(base_dir), builder_digest=b.digest,
                     extra=_jsonable(data))


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def _unknown(table: Mapping[str, Any], known: tuple[str, ...], what: str, fail) -> None:
    for k in table:
        if k not in known:
            close = suggest(k, known)
            hint = f"; did you mean: {', '.join(close)}?" if close else (
                f"; known: {', '.join(known)}")
            raise fail(f"unknown {what} {k!r}{hint}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _param(name: str, v: Any, fail) -> Param:
    if isinstance(v, list):
        return _discrete(name, v, fail)
    if not isinstance(v, Mapping):
        return Param(name, (v,))  # a fixed value
    forms = [k for k in (*DISCRETE_FORMS, *RANDOM_FORMS) if k in v]
    extra = set(v) - {*DISCRETE_FORMS, *RANDOM_FORMS, "step", "factor"}
    if len(forms) != 1 or extra:
        raise fail(f"parameter {name!r}: a table takes exactly one of values, range, uniform, "
                   f"log_uniform, randint (plus step or factor for range), got {sorted(v)}")
    form = forms[0]
    if form == "values":
        if not isinstance(v["values"], list):
            raise fail(f"parameter {name!r}: 'values' must be a list")
        return _discrete(name, v["values"], fail)
    lohi = v[form]
    if not (isinstance(lohi, list) and len(lohi) == 2 and all(_is_num(x) for x in lohi)):
        raise fail(f"parameter {name!r}: {form} takes [low, high] numbers, got {lohi!r}")
    lo, hi = lohi
    if lo > hi:
        raise fail(f"parameter {name!r}: {form} low {lo} > high {hi} (empty)")
    if form == "range":
        return _discrete(name, _range(name, lo, hi, v, fail), fail)
    if (set(v) - {form}):
        raise fail(f"parameter {name!r}: step/factor apply to range only")
    if form == "randint" and not (_is_int(lo) and _is_int(hi)):
        raise fail(f"parameter {name!r}: randint takes integer bounds, got {lohi!r}")
    if form == "log_uniform" and lo <= 0:
        raise fail(f"parameter {name!r}: log_uniform needs positive bounds, got {lohi!r}")
    return Param(name, (), form, lo, hi)


def _range(name: str, lo, hi, v: Mapping[str, Any], fail) -> list[Any]:
    if "step" in v and "factor" in v:
        raise fail(f"parameter {name!r}: range takes step or factor, not both")
    out: list[Any] = []
    if "factor" in v:
        f = v["factor"]
        if not _is_num(f) or f <= 1 or lo <= 0:
            raise fail(f"parameter {name!r}: range factor must be > 1 with a positive low bound")
        x = lo
        while x <= hi * (1 + 1e-12):
            out.append(round(x) if _is_int(lo) and _is_int(f) else x)
            x = x * f
    else:
        step = v.get("step", 1)
        if not _is_num(step) or step <= 0:
            raise fail(f"parameter {name!r}: range step must be a positive number, got {step!r}")
        n = int(math.floor((hi - lo) / step + 1e-9)) + 1
        if n > MAX_VARIANTS:
            raise fail(f"parameter {name!r}: range has {n:,} values (more than {MAX_VARIANTS:,})")
        ints = _is_int(lo) and _is_int(step)
        out = [lo + i * step if ints else round(lo + i * step, 12) for i in range(n)]
    return out


def _discrete(name: str, values: list[Any], fail) -> Param:
    if not values:
        raise fail(f"parameter {name!r} has no values (an empty grid axis gives no variants)")
    seen: list[str] = []
    for x in values:
        if isinstance(x, Mapping):
            raise fail(f"parameter {name!r}: values must be numbers, strings, booleans or lists, "
                       f"got a table")
        key = canonical_json(x)
        if key in seen:
            raise fail(f"parameter {name!r}: value {x!r} is listed twice")
        seen.append(key)
    return Param(name, tuple(_freeze(x) for x in values))


def _thaw(x: Any) -> Any:
    return [_thaw(y) for y in x] if isinstance(x, tuple) else x


def _freeze(x: Any) -> Any:
    return tuple(_freeze(y) for y in x) if isinstance(x, list) else x


def _constraints(raw: Any, fail) -> Constraints:
    if not isinstance(raw, Mapping):
        raise fail("[constraints] must be a table")
    _unknown(raw, CONSTRAINT_KEYS, "constraint", fail)
    vals: dict[str, int] = {}
    for k, v in raw.items():
        if not _is_num(v) or v < 0:
            raise fail(f"constraint {k!r} must be a non-negative number, got {v!r}")
        if float(v) != int(v):
            raise fail(f"constraint {k!r} must be a whole number, got {v!r}")
        vals[k] = int(v)
    for what, unit in (("macs", " MACs"), ("params", ""), ("rf", " px")):
        lo, hi = vals.get(f"min_{what}"), vals.get(f"max_{what}")
        if lo is not None and hi is not None and lo > hi:
            raise fail(f"contradictory constraints: min_{what} {lo:,}{unit} > max_{what} "
                       f"{hi:,}{unit} (no variant can satisfy both)")
    return Constraints(**vals)


def _measures(raw: Any, fail) -> Measures:
    if not isinstance(raw, Mapping):
        raise fail("[measure] must be a table")
    _unknown(raw, MEASURE_KEYS, "measure key", fail)
    m = dict(raw)
    if m.get("device", "meta") not in ("meta", "cpu"):
        raise fail(f"measure.device must be 'meta' or 'cpu', got {m['device']!r}")
    for k in ("checks", "latency"):
        if not isinstance(m.get(k, False), bool):
            raise fail(f"measure.{k} must be true or false, got {m[k]!r}")
    t = m.get("timeout_s", 300.0)
    if not _is_num(t) or t <= 0:
        raise fail(f"measure.timeout_s must be a positive number of seconds, got {t!r}")
    b = m.get("batch_size", 0)
    if not _is_int(b) or b < 0:
        raise fail(f"measure.batch_size must be a non-negative integer, got {b!r}")
    return Measures(device=m.get("device", "meta"), checks=m.get("checks", False),
                    latency=m.get("latency", False), timeout_s=float(t), batch_size=b)
