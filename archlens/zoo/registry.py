"""The zoo registry: ``@register_model(card)`` builders, looked up by name.

Variants are builder arguments, not copied classes: a card carries ``kwargs`` that are passed
to the shared builder (timm's ``@register_model`` pattern).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from archlens.errors import DuplicateModelError, UnknownModelError


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str
    year: int
    arxiv: str | None = None  # arXiv id, e.g. "1512.00567"; None for papers not on arXiv

    def __str__(self) -> str:
        ref = f", arXiv:{self.arxiv}" if self.arxiv else ""
        return f"{self.authors} ({self.year}). {self.title}{ref}"


@dataclass(frozen=True)
class ModelCard:
    """What the zoo knows about a model, independent of building it.

    ``published_params`` / ``published_macs`` are the figures a reader can check elsewhere
    (MACs are multiply-accumulates at ``input_shape``, batch 1); ``source`` says where they
    come from. ``None`` means no published figure exists for that layout.
    """

    name: str
    family: str
    paper: Paper
    input_shape: tuple[int, int, int]  # (C, H, W)
    description: str
    published_params: int | None = None
    published_macs: int | None = None
    source: str = ""
    output_shape: tuple[int, ...] | None = None  # without batch, e.g. (1000,)
    kwargs: dict[str, Any] = field(default_factory=dict)  # builder arguments of this variant
    notes: str = ""  # what a variant changed, exactly


@dataclass(frozen=True)
class _Entry:
    card: ModelCard
    builder: Callable[..., nn.Module]


_REGISTRY: dict[str, _Entry] = {}


def register_model(card: ModelCard) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register ``builder(**card.kwargs)`` under ``card.name``. Stack decorators for variants."""

    def deco(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if card.name in _REGISTRY:
            raise DuplicateModelError(f"model {card.name!r} is already registered "
                                      f"(by {_REGISTRY[card.name].builder.__qualname__})")
        _REGISTRY[card.name] = _Entry(card, builder)
        return builder

    return deco


def _ensure_loaded() -> None:
    # The family modules register on import; import them lazily so `import archlens` stays cheap.
    from archlens.zoo import _families  # noqa: F401


def list_models(family: str | None = None) -> list[str]:
    """Registered names (sorted by family, then in registration order), optionally one family."""
    _ensure_loaded()
    names = [n for n, e in _REGISTRY.items() if family is None or e.card.family == family]
    if family is not None and not names:
        from archlens.errors import ArchlensError, suggest
        fams = sorted({e.card.family for e in _REGISTRY.values()})
        close = suggest(family, fams)
        hint = f"; did you mean: {', '.join(close)}?" if close else f"; families: {', '.join(fams)}"
        raise ArchlensError(f"unknown family {family!r}{hint}")
    return names


def families() -> list[str]:
    _ensure_loaded()
    seen: dict[str, None] = {}
    for e in _REGISTRY.values():
        seen.setdefault(e.card.family, None)
    return list(seen)


def card(name: str) -> ModelCard:
    """The :class:`ModelCard` of ``name``; :class:`UnknownModelError` with suggestions otherwise."""
    _ensure_loaded()
    try:
        return _REGISTRY[name].card
    except KeyError:
        raise UnknownModelError(name, _REGISTRY) from None


def get_model(name: str, *, seed: int = 0, **overrides: Any) -> nn.Module:
    """Build ``name`` untrained, deterministically initialised (``seed``), in eval mode.

    ``overrides`` replace the card's builder arguments (e.g. ``aux_logits=False``).
    """
    c = card(name)
    entry = _REGISTRY[name]
    kwargs = {**c.kwargs, **overrides}
    with _seeded(seed):
        model = entry.builder(**kwargs)
    return model.eval()


class _seeded:
    """Fork the global RNG so building a model never disturbs the caller's random state."""

    def __init__(self, seed: int):
        self.seed = seed

    def __enter__(self):
        self._fork = torch.random.fork_rng(devices=[])
        self._fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)
