"""Rich renderables for the model zoo: the listing table and one model's card.

Pure formatting of :class:`~archlens.zoo.registry.ModelCard` data (the core never prints; the
CLI hands these to a rich ``Console``). Every number carries its unit; parameter counts are
exact, with thousands separators.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from archlens.zoo.registry import ModelCard, Paper


def short_cite(paper: Paper) -> str:
    """``He et al. 2015`` from ``"K. He, X. Zhang, S. Ren, J. Sun"`` and the year."""
    authors = [a.strip() for a in paper.authors.replace(" and ", ", ").split(",") if a.strip()]
    first = authors[0] if authors else "?"
    etal = len(authors) > 1 or first.endswith("et al.")
    surname = first.removesuffix("et al.").strip().split(" ")[-1] if first else "?"
    if len(authors) == 2:
        return f"{surname} & {authors[1].split(' ')[-1]} {paper.year}"
    return f"{surname}{' et al.' if etal else ''} {paper.year}"


def shape_text(shape: Iterable[int] | None) -> str:
    return "x".join(str(d) for d in shape) if shape else "-"


def params_text(n: int | None) -> str:
    return f"{n:,}" if n is not None else "-"


def macs_short(n: int | None) -> str:
    """Published MACs as the tables print them: ``4.089 G MACs``, ``12.444 M MACs``."""
    if n is None:
        return "-"
    if n >= 100_000_000:
        return f"{n / 1e9:.3f} G MACs"
    if n >= 100_000:
        return f"{n / 1e6:.3f} M MACs"
    return f"{n:,} MACs"


def macs_exact(n: int | None) -> str:
    if n is None:
        return "not published"
    return f"{n:,} MACs ({macs_short(n)}; FLOPs = 2 x MACs)"


def zoo_table(cards: Iterable[ModelCard], title: str | None = None, *,
              paper: bool = True, family: bool = True) -> Table:
    """One row per model: name, family, input, params (exact), published MACs, paper.

    ``paper=False`` / ``family=False`` drop those columns (for narrow terminals: names and
    numbers are never cut)."""
    cards = list(cards)
    table = Table(title=title or f"archlens zoo: {len(cards)} models", box=box.SIMPLE_HEAD,
                  caption="params: exact parameter counts; MACs: multiply-accumulates at the "
                          "input shown, batch 1, as published; '-' = no published figure",
                  caption_justify="left")
    table.add_column("name", style="bold cyan", no_wrap=True)
    if family:
        table.add_column("family", no_wrap=True)
    table.add_column("input", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("published MACs", justify="right", no_wrap=True)
    if paper:
        table.add_column("paper", no_wrap=True)
    for c in cards:
        row = [c.name, *([c.family] if family else []), shape_text(c.input_shape),
               params_text(c.published_params), macs_short(c.published_macs)]
        table.add_row(*row, *([short_cite(c.paper)] if paper else []))
    return table


def _kwarg_text(v: Any) -> str:
    if isinstance(v, type) or callable(v):
        return getattr(v, "__name__", repr(v))
    return repr(v)


def kwargs_text(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_kwarg_text(v)}" for k, v in kwargs.items()) or "(defaults)"


def model_card(c: ModelCard) -> Panel:
    """Every field of one card: identity, figures with units, paper, description, notes, source."""
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column(overflow="fold")
    paper = str(c.paper)
    rows = [
        ("family", c.family),
        ("input", f"{shape_text(c.input_shape)} (C x H x W, batch 1)"),
        ("output", shape_text(c.output_shape)),
        ("params", f"{params_text(c.published_params)} (exact)" if c.published_params is not None
         else "not published"),
        ("published MACs", macs_exact(c.published_macs)),
        ("paper", paper),
        ("arXiv", f"https://arxiv.org/abs/{c.paper.arxiv}" if c.paper.arxiv else "-"),
        ("builder args", kwargs_text(c.kwargs)),
        ("source", c.source or "-"),
    ]
    for k, v in rows:
        fields.add_row(k, Text(v))
    parts: list[Any] = [fields, Text(""), Text("What it teaches", style="bold"),
                        Text(c.description)]
    if c.notes:
        parts += [Text(""), Text("Notes", style="bold"), Text(c.notes)]
    return Panel(Group(*parts), title=Text(c.name, style="bold cyan"), title_align="left",
                 subtitle=f"archlens.zoo.get_model({c.name!r})", subtitle_align="right")
