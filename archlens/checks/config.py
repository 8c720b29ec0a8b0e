"""Thresholds of the design checks: documented defaults, ``[tool.archlens.check]`` overrides.

Keys are written in kebab-case in TOML (``p1-error-drop = 4.0``); snake_case is accepted too.
``select`` / ``ignore`` lists of rule codes or prefixes may also live there. The reasons for
every default are in ``docs/principles.md``.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from archlens.errors import ConfigError, suggest

_FACTORIZE_WIDTHS = ("geometric", "out", "in")


@dataclass(frozen=True)
class CheckConfig:
    """Every threshold of the rules (defaults = the documented ones)."""

    # -- where "early" ends: fraction of conv/linear layers executed --------------------
    early_fraction: float = 0.5
    # -- P1 representational bottlenecks (drop = representation before / after) -----------
    p1_warn_drop_early: float = 2.0    # early grid reductions: warn from a 2x drop ...
    p1_warn_drop: float = 3.0          # ... later ones from 3x (the paper's 17->8 is 2.7x)
    p1_error_drop: float = 4.0         # pooling first quarters the representation: 4x
    p1_error_below_input: float = 0.5  # error only once below half the input's size
    p1_overcomplete: float = 1.0       # at or above the input's size: not a bottleneck
    p1_squeeze_warn: float = 4.0       # channel squeeze on the trunk (same grid)
    # -- P2 wider representations on coarser grids ---------------------------------------
    p2_min_area_ratio: float = 2.0     # a grid change that counts as "coarser"
    # -- P3 spatial aggregation over lower-dimensional embeddings --------------------------
    p3_wide_channels: int = 128        # a kxk conv over >= this many trunk channels is "wide"
    p3_reduce_ratio: float = 0.5       # proposed 1x1 reduction width = ratio * conv outputs
    p3_min_saving: float = 0.10        # report a fix only when it saves >= 10 % of the layer
    p3_min_in_channels: int = 16       # skip convs on images (3 channels): nothing to factor
    p3_asym_grid_min: int = 12         # asymmetric 1xn + nx1 pays off on 12..20 grids
    p3_asym_grid_max: int = 20
    p3_factorize_width: str = "geometric"  # intermediate width: sqrt(Cin*Cout) | out | in
    p3_expand_info: float = 2.0        # factorizing a conv that expands >= 2x is only info
    # -- P4 balance ----------------------------------------------------------------------
    p4_head_share: float = 0.5         # classifier holds >= half the parameters
    p4_layer_share: float = 0.5        # one layer holds >= half the parameters
    p4_stage_share: float = 0.5        # one grid stage holds >= half the conv MACs
    p4_min_depth: int = 10             # depth-width: only networks >= 10 conv layers deep
    p4_depth_share: float = 0.6        # one stage holds >= 60 % of the depth ...
    p4_width_per_layer: float = 4.0    # widest trunk < 4 channels per layer of depth: info
    p4_width_per_layer_warn: float = 1.0   # ... < 1 channel per layer (deeper than wide): warn
    # -- G1..G4: the ShuffleNet-V2 guidelines (docs/guidelines.md) ------------------------
    g1_min_excess: float = 1.4         # 1x1 conv memory access cost >= 1.4x its lower bound
    g1_warn_excess: float = 2.0        # ... warning from 2x
    g2_min_groups: int = 2             # grouped convs from 2 groups (depthwise excluded)
    g2_min_excess: float = 1.25        # traffic >= 1.25x the ungrouped conv of equal MACs
    g3_min_branches: int = 4           # a block merging >= 4 branches is fragmented
    g3_min_ratio: float = 1.5          # ... when its time share >= 1.5x its MAC share
    g3_min_share: float = 0.01         # ... and >= 1 % of the model's time
    g4_min_share: float = 0.10         # element-wise ops >= 10 % of the time ...
    g4_min_ratio: float = 3.0          # ... and >= 3x their MAC share
    g_peak_gmacs: float = 40.0         # assumed device without a profile: GMAC/s ...
    g_bandwidth_gbs: float = 20.0      # ... and GB/s (the dev CPU, 1 thread, docs/guidelines.md)
    # -- output --------------------------------------------------------------------------
    aggregate: bool = True             # merge repeated findings of one pattern into one
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def replace(self, **kw: Any) -> "CheckConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict[str, Any]:
        return {f.name.replace("_", "-"): (list(v) if isinstance(v := getattr(self, f.name),
                                                                     tuple) else v)
                for f in fields(self)}


DEFAULTS = CheckConfig()


def from_mapping(table: Mapping[str, Any], source: str = "config") -> CheckConfig:
    """Validate a ``[tool.archlens.check]`` table; unknown keys and bad values -> ConfigError."""
    known = {f.name: f for f in fields(CheckConfig)}
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = str(raw_key).replace("-", "_")
        if key not in known:
            close = suggest(str(raw_key), [k.replace("_", "-") for k in known])
            hint = f"; did you mean: {', '.join(close)}?" if close else (
                "; see docs/principles.md for the keys")
            raise ConfigError(f"{source}: unknown check setting {raw_key!r}{hint}")
        values[key] = _coerce(key, value, getattr(DEFAULTS, key), source)
    cfg = CheckConfig(**values)
    _validate(cfg, source)
    return cfg


def _coerce(key: str, value: Any, default: Any, source: str) -> Any:
    name = key.replace("_", "-")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {name} must be true or false, got {value!r}")
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {name} must be a list of rule codes, got {value!r}")
        return tuple(v.strip() for v in value)
    if isinstance(default, str):
        if value not in _FACTORIZE_WIDTHS:
            raise ConfigError(f"{source}: {name} must be one of "
                              f"{', '.join(_FACTORIZE_WIDTHS)}, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{source}: {name} must be a non-negative integer, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{source}: {name} must be a non-negative number, got {value!r}")
    return float(value)


def _validate(cfg: CheckConfig, source: str) -> None:
    for key in ("early_fraction", "p1_error_below_input", "p3_reduce_ratio", "p3_min_saving",
                "p4_head_share", "p4_layer_share", "p4_stage_share", "p4_depth_share",
                "g3_min_share", "g4_min_share"):
        v = getattr(cfg, key)
        if not 0 <= v <= 1:
            raise ConfigError(f"{source}: {key.replace('_', '-')} must be between 0 and 1, "
                              f"got {v}")
    for key in ("p1_warn_drop_early", "p1_warn_drop", "p1_error_drop", "p1_squeeze_warn",
                "p2_min_area_ratio", "p3_expand_info", "g1_min_excess", "g1_warn_excess",
                "g2_min_excess", "g3_min_ratio", "g4_min_ratio"):
        v = getattr(cfg, key)
        if v < 1:
            raise ConfigError(f"{source}: {key.replace('_', '-')} is a ratio and must be "
                              f">= 1, got {v}")
    if cfg.p4_width_per_layer_warn > cfg.p4_width_per_layer:
        raise ConfigError(f"{source}: p4-width-per-layer-warn ({cfg.p4_width_per_layer_warn}) "
                          f"must not exceed p4-width-per-layer ({cfg.p4_width_per_layer})")
    for key in ("g_peak_gmacs", "g_bandwidth_gbs"):
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"{source}: {key.replace('_', '-')} must be positive, got "
                              f"{getattr(cfg, key)}")
    if cfg.p3_asym_grid_min > cfg.p3_asym_grid_max:
        raise ConfigError(f"{source}: p3-asym-grid-min ({cfg.p3_asym_grid_min}) must not "
                          f"exceed p3-asym-grid-max ({cfg.p3_asym_grid_max})")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} not found; pass an existing TOML file "
                          "to --config") from None
    except IsADirectoryError:
        raise ConfigError(f"config path {str(path)!r} is a folder; pass a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix the file or drop --config") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(path)!r}: {e.strerror}") from None


def _table(doc: Mapping[str, Any], explicit: bool) -> Mapping[str, Any] | None:
    tool = doc.get("tool", {})
    arch = tool.get("archlens", {}) if isinstance(tool, Mapping) else {}
    if isinstance(arch, Mapping) and "check" in arch:
        return arch["check"]
    if explicit and "tool" not in doc:  # a dedicated file: its top level is the table
        return doc.get("check", doc)
    return None


_CACHE: dict[tuple[str, float], CheckConfig] = {}


def load_config(path: str | os.PathLike[str] | None = None, *,
                cwd: str | os.PathLike[str] | None = None) -> CheckConfig:
    """The check configuration.

    ``path``: a TOML file (``--config``): its ``[tool.archlens.check]`` table, or, for a file
    without a ``[tool]`` table, its ``[check]`` table or its top level. Without ``path``:
    ``pyproject.toml`` in ``cwd`` (default: the current directory) if it has the table,
    otherwise the defaults.
    """
    explicit = path is not None
    p = Path(path) if explicit else Path(cwd or os.getcwd()) / "pyproject.toml"
    if not explicit and not p.is_file():
        return DEFAULTS
    try:
        key = (str(p.resolve()), p.stat().st_mtime)
    except OSError:
        key = None
    if key is not None and key in _CACHE:
        return _CACHE[key]
    table = _table(_read_toml(p), explicit)
    if table is None:
        cfg = DEFAULTS
    elif not isinstance(table, Mapping):
        raise ConfigError(f"{p}: [tool.archlens.check] must be a table of settings")
    else:
        cfg = from_mapping(table, source=str(p.name if not explicit else p))
    if key is not None:
        _CACHE[key] = cfg
    return cfg


def resolve(config: "CheckConfig | Mapping[str, Any] | str | os.PathLike[str] | None"
            ) -> CheckConfig:
    """Accept what ``checks.run(config=...)`` accepts: a CheckConfig, a mapping of settings,
    a TOML path, or None (the current directory's pyproject.toml, else the defaults)."""
    if config is None:
        return load_config()
    if isinstance(config, CheckConfig):
        return config
    if isinstance(config, Mapping):
        return from_mapping(config)
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    raise ConfigError(f"check config must be a CheckConfig, a mapping or a TOML path, "
                      f"not {type(config).__name__}")
