"""Sweep builders: the thing a spec's ``builder`` names, turned into ``params -> nn.Module``.

* zoo families (``resnet``, ``resnext``, ``inception_v3``): TOML-friendly parameters mapped onto
  the zoo's own builder arguments (``block = "basic"`` -> ``BasicBlock``, ``depth = 50`` ->
  bottleneck blocks ``[3, 4, 6, 3]``), so a variant is built by the same code as the zoo member
  it may equal; a variant whose full builder arguments and input equal a zoo card's is named
  after it (``zoo_model``), which is how published figures reappear in a sweep.
* ``path/to/file.py:callable`` / ``package.module:callable``: called with the variant's
  parameters as keyword arguments; its signature says which names it accepts.

Builders know nothing about Ray or results; :mod:`archlens.sweep.worker` calls ``build``.
"""
from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from archlens.errors import ArchlensError, suggest

RESNET_DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
                 50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3)),
                 152: ("bottleneck", (3, 8, 36, 3))}


class VariantError(ArchlensError):
    """A parameter combination the builder rejects (recorded on the variant's row)."""


@dataclass
class Builder:
    """``params -> nn.Module`` plus what a sweep needs to know about it."""

    name: str                                  # as the spec gave it
    accepts: tuple[str, ...] | None            # accepted parameter names; None = any (**kwargs)
    build: Callable[[Mapping[str, Any]], nn.Module]
    default_input: tuple[int, ...] | None = None
    digest: str = ""                           # sha256 of a file builder's source
    zoo_cards: tuple[str, ...] = ()            # zoo members this builder can reproduce
    to_zoo_kwargs: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    zoo_defaults: Mapping[str, Any] = field(default_factory=dict)  # the zoo builder's own
    value_checks: Mapping[str, Callable[[Any], str | None]] = field(default_factory=dict)
    exclusive: tuple[tuple[str, str], ...] = ()  # parameter pairs a spec may not sweep together

    def check_params(self, names: Sequence[str], fail) -> None:
        if self.accepts is None:
            return
        for n in names:
            if n not in self.accepts:
                close = suggest(n, self.accepts)
                hint = f"; did you mean: {', '.join(close)}?" if close else (
                    f"; it accepts: {', '.join(self.accepts)} (and resolution)")
                raise fail(f"parameter {n!r} is not accepted by builder {self.name!r}{hint}")
        for a, b in self.exclusive:
            if a in names and b in names:
                raise fail(f"parameters {a!r} and {b!r} both set the blocks; give one of them")

    def check_value(self, name: str, value: Any) -> str | None:
        """Why ``value`` is not a valid ``name`` for this builder (None when it is)."""
        f = self.value_checks.get(name)
        return f(value) if f else None

    def zoo_match(self, params: Mapping[str, Any], input_shape: Sequence[int]) -> str | None:
        """The zoo member this variant is, exactly (same builder arguments and input), or None."""
        if not self.zoo_cards or self.to_zoo_kwargs is None:
            return None
        from archlens import zoo
        mine = _normal({**self.zoo_defaults, **self.to_zoo_kwargs(params)})
        for name in self.zoo_cards:
            card = zoo.card(name)
            if tuple(card.input_shape) == tuple(input_shape) and _normal(
                    {**self.zoo_defaults, **card.kwargs}) == mine:
                return name
        return None


def _normal(kw: Mapping[str, Any]) -> dict[str, Any]:
    def norm(v):
        if isinstance(v, (list, tuple)):
            return tuple(norm(x) for x in v)
        if isinstance(v, type):
            return f"{v.__module__}.{v.__qualname__}"
        return v
    return {k: norm(v) for k, v in kw.items()}


# ----------------------------------------------------------------------------------------
# zoo families
# ----------------------------------------------------------------------------------------

def _resnet_family(name: str, defaults: dict[str, Any]) -> Builder:
    from archlens.zoo import resnet as rn
    accepts = ("depth", "block", "layers", "groups", "width_per_group", "block_form",
               "num_classes")
    blocks = {"basic": rn.BasicBlock, "bottleneck": rn.Bottleneck}

    def to_kwargs(p: Mapping[str, Any]) -> dict[str, Any]:
        p = dict(p)
        if "depth" in p:
            if "block" in p or "layers" in p:
                raise VariantError("give depth or block/layers, not both")
            p["block"], p["layers"] = RESNET_DEPTHS[p.pop("depth")]
        kw = {**defaults, **p}
        kw["block"] = blocks[kw["block"]]
        kw["layers"] = tuple(kw["layers"])
        return kw

    def build(p: Mapping[str, Any]) -> nn.Module:
        kw = to_kwargs(p)
        if kw["block"] is rn.BasicBlock and (kw["groups"] != 1 or kw["width_per_group"] != 64):
            raise VariantError("basic blocks take groups = 1 and width_per_group = 64 only")
        if kw["block_form"] != "c" and kw["block"] is rn.BasicBlock:
            raise VariantError("block_form 'a'/'b' applies to bottleneck blocks only")
        return rn.ResNet(**kw)

    def layers_ok(v: Any) -> str | None:
        if not (isinstance(v, (list, tuple)) and len(v) == 4
                and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v)):
            return f"layers must be 4 positive integers (blocks per stage), got {_show(v)}"
        return None

    checks = {
        "depth": lambda v: None if v in RESNET_DEPTHS else (
            f"depth must be one of {', '.join(map(str, RESNET_DEPTHS))} (or give block and "
            f"layers), got {_show(v)}"),
        "block": lambda v: None if v in blocks else (
            f"block must be 'basic' or 'bottleneck', got {_show(v)}"),
        "layers": layers_ok,
        "groups": _positive_int("groups"),
        "width_per_group": _positive_int("width_per_group"),
        "num_classes": _positive_int("num_classes"),
        "block_form": lambda v: None if v in ("a", "b", "c") else (
            f"block_form must be 'a', 'b' or 'c', got {_show(v)}"),
    }
    cards = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
             "resnext101_32x8d")

    return Builder(name=name, accepts=accepts, build=build, default_input=(3, 224, 224),
                   zoo_cards=cards, to_zoo_kwargs=to_kwargs, value_checks=checks,
                   zoo_defaults=_signature_defaults(rn.ResNet),
                   exclusive=(("depth", "block"), ("depth", "layers")))


def _inception_v3() -> Builder:
    from archlens.zoo.inception_v3 import Inception3
    defaults = dict(num_classes=1000, aux_logits=True, dropout=0.5, unfactorized=False,
                    reduction="efficient", first_stride=2, first_pool=True)
    accepts = tuple(k for k in defaults)

    def build(p: Mapping[str, Any]) -> nn.Module:
        return Inception3(**{**defaults, **p})

    def zoo_kwargs(p: Mapping[str, Any]) -> dict[str, Any]:
        return dict(p)

    checks = {
        "reduction": lambda v: None if v in ("efficient", "pool_then_conv", "conv_then_pool")
        else f"reduction must be efficient, pool_then_conv or conv_then_pool, got {_show(v)}",
        "first_stride": _positive_int("first_stride"),
        "num_classes": _positive_int("num_classes"),
        "unfactorized": _bool("unfactorized"), "first_pool": _bool("first_pool"),
        "aux_logits": _bool("aux_logits"),
    }
    cards = ("inception_v3", "inception_v3_unfactorized", "inception_v3_naive_reduction",
             "inception_v3_expand_then_pool", "inception_v3_151", "inception_v3_79")
    return Builder(name="inception_v3", accepts=accepts, build=build,
                   default_input=(3, 299, 299), zoo_cards=cards, to_zoo_kwargs=zoo_kwargs,
                   value_checks=checks, zoo_defaults=_signature_defaults(Inception3))


def _signature_defaults(cls: type) -> dict[str, Any]:
    """The keyword defaults of a zoo class: what a card's ``kwargs`` are relative to."""
    return {n: p.default for n, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _positive_int(name: str) -> Callable[[Any], str | None]:
    return lambda v: None if isinstance(v, int) and not isinstance(v, bool) and v >= 1 else (
        f"{name} must be a positive integer, got {_show(v)}")


def _bool(name: str) -> Callable[[Any], str | None]:
    return lambda v: None if isinstance(v, bool) else f"{name} must be true or false, got {_show(v)}"


def _show(v: Any) -> str:
    return repr(list(v)) if isinstance(v, tuple) else repr(v)


FAMILIES: dict[str, Callable[[], Builder]] = {
    "resnet": lambda: _resnet_family("resnet", dict(
        block="bottleneck", layers=(3, 4, 6, 3), num_classes=1000, groups=1,
        width_per_group=64, block_form="c")),
    "resnext": lambda: _resnet_family("resnext", dict(
        block="bottleneck", layers=(3, 4, 6, 3), num_classes=1000, groups=32,
        width_per_group=4, block_form="c")),
    "inception_v3": _inception_v3,
}


# ----------------------------------------------------------------------------------------
# file.py:callable / package.module:callable
# ----------------------------------------------------------------------------------------

def _callable_builder(ref: str, base_dir: Path, fail) -> Builder:
    from archlens.errors import ModelLoadError
    from archlens.loader import load_callable
    target, _, attr = ref.rpartition(":")
    digest = ""
    if target.endswith(".py") or "/" in target:
        path = Path(target).expanduser()
        if not path.is_absolute():
            path = (base_dir / path).resolve()
        if not path.is_file():
            raise fail(f"builder file {target!r} not found (relative paths resolve against the "
                       f"spec's folder, {str(base_dir)!r})")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        ref = f"{path}:{attr}"
    try:
        obj = load_callable(ref)
    except ModelLoadError as e:
        raise fail(f"builder {ref!r}: {e}") from None
    if not callable(obj):
        raise fail(f"builder {ref!r} is a {type(obj).__name__}, not a callable")
    if not digest:
        src = inspect.getsourcefile(obj) if not isinstance(obj, nn.Module) else None
        if src and Path(src).is_file():
            digest = hashlib.sha256(Path(src).read_bytes()).hexdigest()
    try:
        sig = inspect.signature(obj)
        accepts: tuple[str, ...] | None = tuple(
            n for n, p in sig.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            accepts = None
    except (TypeError, ValueError):
        accepts = None

    def build(p: Mapping[str, Any]) -> nn.Module:
        model = obj(**p)
        if not isinstance(model, nn.Module):
            raise VariantError(f"{ref} returned a {type(model).__name__}, not an nn.Module")
        return model

    shape = getattr(obj, "default_input_shape", None)
    return Builder(name=ref, accepts=accepts, build=build,
                   default_input=tuple(shape) if shape else None, digest=digest)


def resolve_builder(name: str, base_dir: Path | str, fail=None) -> Builder:
    """The :class:`Builder` a spec names; ``fail(msg)`` makes the exception to raise."""
    from archlens.errors import SweepSpecError
    fail = fail or SweepSpecError
    if ":" in name or name.endswith(".py"):
        if ":" not in name:
            raise fail(f"builder {name!r} names no callable; use {name}:build (file.py:callable)")
        return _callable_builder(name, Path(base_dir), fail)
    if name not in FAMILIES:
        close = suggest(name, FAMILIES)
        hint = f"; did you mean: {', '.join(close)}?" if close else (
            f"; zoo families: {', '.join(FAMILIES)}, or path/to/file.py:callable")
        raise fail(f"unknown builder {name!r}{hint}")
    return FAMILIES[name]()
