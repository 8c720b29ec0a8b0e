"""Rich renderables for ``archlens analyze``: the per-block table, totals and feature RF.

The core never prints: :class:`AnalysisView` implements rich's ``__rich_console__`` and the CLI
hands it to a Console. Aggregation (:func:`aggregate`) only groups and sums the numbers the
engine computed; it computes no metric.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from archlens.analysis import Analysis
from archlens.graph import Graph, Node, ReceptiveField
from archlens.render._numbers import rf as fmt_rf
from archlens.sanitize import for_terminal

MIN_ROWS = 12   # "blocks": the shallowest depth giving at least this many rows ...
MAX_ROWS = 60   # ... unless that exceeds this many, then one level shallower


@dataclass
class Row:
    """One table row: a block (module path cut to a depth) or a single layer."""

    key: str
    nodes: list[Node] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    @property
    def last(self) -> Node:
        return self.nodes[-1]

    @property
    def type(self) -> str:
        if len(self.nodes) == 1:
            return self.nodes[0].type
        return f"{len(self.nodes)} layers"


def group_key(node: Node, depth: int) -> str:
    """Module path cut to ``depth`` components; root-level functional ops keep their name."""
    key = node.depth_name(depth)
    if not key:
        return node.name
    if node.kind == "module" and key == node.module_path:
        return node.name  # a leaf at (or above) the cut: keep its #k call suffix
    return key


def aggregate(graph: Graph, depth: int) -> list[Row]:
    """Layers grouped by :func:`group_key`, rows in order of first execution."""
    rows: dict[str, Row] = {}
    for n in graph.layers:
        k = group_key(n, depth)
        rows.setdefault(k, Row(k)).nodes.append(n)
    return list(rows.values())


def auto_depth(graph: Graph) -> int:
    """The "blocks" depth: the shallowest depth with at least :data:`MIN_ROWS` rows (one
    shallower if that gives more than :data:`MAX_ROWS`). Inception-v3 -> 1 (``Mixed_5b``),
    ResNet -> 2 (``layer1.0``), VGG -> 2 (``features.0``)."""
    deepest = max((len(n.module_path.split(".")) for n in graph.layers if n.module_path),
                  default=1)
    counts = {d: len(aggregate(graph, d)) for d in range(1, deepest + 1)}
    for d in range(1, deepest + 1):
        if counts[d] >= MIN_ROWS:
            return d - 1 if counts[d] > MAX_ROWS and d > 1 else d
    return deepest


def _si(v: float, scale: float) -> str:
    return f"{v / scale:,.3f}" if scale > 1 else f"{int(v):,}"


def _scale(total: float) -> tuple[float, str]:
    """Column scale for a total: G, M, K or units (so small models are not all 0.000)."""
    for s, p in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if total >= s:
            return s, p
    return 1.0, "count"


def _shape(s: Sequence[int]) -> str:
    dims = list(s[1:]) if len(s) > 1 else list(s)
    return "x".join(str(d) for d in dims) if dims else "scalar"


def _rf(rf: ReceptiveField | None) -> str:
    return fmt_rf(rf, short=True)


def sort_rows(rows: list[Row], by: str) -> list[Row]:
    if by == "macs":
        return sorted(rows, key=lambda r: -r.macs)
    if by == "params":
        return sorted(rows, key=lambda r: -r.params)
    if by == "name":
        return sorted(rows, key=lambda r: r.key)
    return rows


class AnalysisView:
    """The ``archlens analyze`` output: table (one row per block), totals, feature RF."""

    def __init__(self, analysis: Analysis, *, depth: int | None = None, units: str = "macs",
                 sort: str = "order"):
        self.a = analysis
        self.depth = depth if depth is not None else auto_depth(analysis.graph)
        self.units = units
        self.sort = sort

    # ----- pieces -------------------------------------------------------------------------
    @property
    def _factor(self) -> int:
        return 2 if self.units == "flops" else 1

    @property
    def _unit(self) -> str:
        return "FLOPs" if self.units == "flops" else "MACs"

    def table(self) -> Table:
        a = self.a
        total = a.totals.macs or 1
        t = Table(title=f"{for_terminal(a.model)}  input {_shape(a.input_shape)} (CxHxW), batch "
                        f"{a.input_shape[0]}, {a.dtype}, {a.device}; depth {self.depth}",
                  title_justify="left", show_footer=True, header_style="bold")
        rows = sort_rows(aggregate(a.graph, self.depth), self.sort)
        t.add_column("Block / layer", footer="Total", no_wrap=True)
        t.add_column("Type")
        t.add_column("Output (CxHxW)")
        ps, pp = _scale(a.totals.params)
        ms, mp = _scale(a.totals.macs * self._factor)
        t.add_column(f"Params ({pp})", justify="right",
                     footer=_si(sum(r.params for r in rows), ps))
        t.add_column(f"{self._unit} ({mp})", justify="right",
                     footer=_si(a.totals.macs * self._factor, ms))
        t.add_column(f"{self._unit} share (%)", justify="right", footer="100.0")
        t.add_column("RF (px)", justify="right", footer=_rf(a.feature_rf))
        for r in rows:
            t.add_row(for_terminal(r.key), for_terminal(r.type), _shape(r.last.out_shape), _si(r.params, ps),
                      _si(r.macs * self._factor, ms), f"{100.0 * r.macs / total:.1f}",
                      _rf(r.last.rf))
        return t

    def totals_text(self) -> Text:
        a, tot = self.a, self.a.totals
        f = self._factor
        lines = [
            f"Parameters: {tot.params:,} params ({tot.trainable_params:,} trainable"
            + (f"; {tot.unused_params:,} in modules this pass never ran" if tot.unused_params
               else "") + f"); weights {tot.weight_bytes / 2**20:,.1f} MiB at {a.dtype}",
            f"Compute: {tot.macs * f:,} {self._unit} ({tot.macs * f / 1e9:,.3f} G {self._unit})"
            + (" [FLOPs = 2 x MACs]" if self.units == "flops" else
               " [MACs = multiply-accumulates]"),
            f"Paper profile (conv + linear only): {tot.paper_macs * f:,} {self._unit} "
            f"({tot.paper_macs * f / 1e9:,.3f} G {self._unit})",
            f"Activations: {tot.activations:,} elements (all layer outputs); peak activation "
            f"memory {tot.peak_activation_bytes / 2**20:,.1f} MiB (estimate: live tensors over "
            "the execution order)",
        ]
        frf = a.feature_rf
        if frf is not None and frf.status != "exact":
            where = frf.node or self._feature_node()
            lines.append(f"Feature receptive field"
                         f"{f' (at {for_terminal(where)})' if where else ''}: "
                         f"{for_terminal(fmt_rf(frf))}")
        elif frf is not None:
            where = frf.node or self._feature_node()
            lines.append(
                f"Feature receptive field{f' (at {for_terminal(where)})' if where else ''}: "
                f"{frf.size[0]}x{frf.size[1]} px (smallest path {frf.min_size[0]}x"
                f"{frf.min_size[1]} px), stride {frf.stride[0]}x{frf.stride[1]} px, padding "
                f"{frf.padding[0]}x{frf.padding[1]} px"
                + ("" if frf.aligned else ", paths not centre-aligned"))
        else:
            lines.append("Feature receptive field: n/a (no spatial layers)")
        if a.unsupported_ops:
            ops = ", ".join(f"{k} x{v}" for k, v in a.unsupported_ops.items())
            lines.append(f"Not counted (no MAC formula; excluded from the totals): {ops}")
        return Text("\n".join(lines))

    def _feature_node(self) -> str | None:
        try:
            from archlens.metrics.receptive_field import feature_node
        except ImportError:  # pragma: no cover
            return None
        return feature_node(self.a.graph, {n.name: n.rf for n in self.a.graph})

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Group(self.table(), self.totals_text())


def render_text(analysis: Analysis, *, width: int = 120, **kw) -> str:
    """The view as plain text at a fixed width (tests, Markdown)."""
    console = Console(width=width, record=True, file=_Null(), color_system=None)
    console.print(AnalysisView(analysis, **kw))
    return console.export_text()


class _Null:
    def write(self, s: str) -> int:
        return len(s)

    def flush(self) -> None:
        pass


__all__ = ["AnalysisView", "Row", "aggregate", "auto_depth", "group_key", "render_text",
           "sort_rows"]
