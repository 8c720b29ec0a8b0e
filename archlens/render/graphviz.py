"""The layer graph as a graphviz drawing: module clusters, cost labels, MAC-share colours.

What the drawing promises (and the tests check on the parsed SVG):

- the module hierarchy becomes nested clusters down to ``depth``; everything deeper is one
  node carrying the summed numbers of the layers it hides;
- every node says what it is (type, kernel/stride), what it produces (C x H x W) and what it
  costs (MACs); its fill colour is its share of the network's MACs (legend included);
- nodes named by a finding are outlined in the severity's colour and list the rule codes;
- each node carries a stage strip (``S2``: the 2nd grid size; the legend maps it to H x W);
- pointwise followers (BatchNorm, ReLU ...) are drawn inside their producer ("+BN+ReLU"),
  because a conv-BN-ReLU triple is one idea to a reviewer and three boxes triple the height;
- consecutive sibling blocks that are identical (same ops, attributes, input and output
  shapes, parameters and wiring, chained one into the next) are drawn once with "x N";
  anything less than identical is drawn in full;
- long chains are wrapped into side-by-side columns at top-level module boundaries so the
  picture fits a review page instead of being a strip 20x taller than wide;
- the cost of the layout is estimated before ``dot`` runs; above the budget the drawing is
  collapsed to a shallower depth and the notes say so.

Only formatting happens here: every number comes from the analysis.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from archlens.analysis import Analysis
from archlens.errors import ArchlensError, OutputError
from archlens.render.graph.columns import dissolve_tall, wrap
from archlens.render.graph.dot import (INSTALL_HINT, LayoutTimeout, dot_binary, layout,
                                       svg_size)
from archlens.render.graph.emit import Style, emit
from archlens.render.graph.structure import hier, max_depth, top_modules
from archlens.render.graph.style import (FUSABLE, HIGHLIGHT_COLOURS, NO_MACS, SEVERITY_COLOURS,
                                         SHARE_COLOURS, STAGE_COLOURS, Shares, ShareScale,
                                         share_scale)
from archlens.render.graph.units import assemble

__all__ = ["build", "top_modules", "block_pictures", "MARKDOWN_MAX_PT", "render_svg", "write_graph", "layout", "dot_binary", "svg_size",
           "share_scale", "ShareScale", "DotGraph", "GraphResult", "INSTALL_HINT", "LayoutTimeout",
           "layout_shallower",
           "DEFAULT_BUDGET", "FUSABLE", "SHARE_COLOURS", "NO_MACS",
           "STAGE_COLOURS", "SEVERITY_COLOURS", "HIGHLIGHT_COLOURS"]

# Layout budget: dot's crossing minimisation grows faster than linearly; above this many
# drawn nodes + edges the drawing is collapsed one level at a time.
DEFAULT_BUDGET = 1400
# ... and a densely wired drawing is collapsed too: more than DENSE_EDGES_PER_NODE edges a node
# (and DENSE_MIN_EDGES edges in all). DenseNet drawn at its dense layers (every layer reads
# every earlier one: 99 nodes, 1,163 edges for densenet161 at depth 3) took dot 23-33 s and
# over 60 s on a loaded machine, inside the node + edge budget; the same models at full depth
# (3.7 edges a node) or at depth 2 lay out in under 0.3 s (docs/report.md, "Graph").
DENSE_EDGES_PER_NODE = 6
DENSE_MIN_EDGES = 400


def _over_budget(nodes: int, edges: int, budget: int) -> str:
    """Why a drawing of this size is collapsed ("" when it is not)."""
    if nodes + edges > budget:
        return f"exceed the layout budget ({budget} nodes + edges)"
    if edges >= DENSE_MIN_EDGES and edges > DENSE_EDGES_PER_NODE * nodes:
        return (f"are too densely wired for the layout ({edges} edges, over "
                f"{DENSE_EDGES_PER_NODE} a node)")
    return ""


@dataclass(frozen=True)
class DotGraph:
    """The dot source plus what was decided while building it (for the console and report)."""

    source: str
    depth: int | None                  # depth drawn (None = full)
    requested_depth: int | None
    nodes: int                         # drawn nodes (without legend/anchor)
    edges: int
    clusters: int
    columns: int
    folds: tuple[str, ...]             # "Mixed_6c .. Mixed_6d x2"
    notes: tuple[str, ...]             # user-facing remarks (collapsing, folding)
    estimated_aspect: float            # height / width estimate before layout
    fills: tuple[tuple[str, str], ...] = ()   # (colour, share range) per fill bin (legend)


@dataclass(frozen=True)
class GraphResult:
    path: Path
    dot: DotGraph
    laid_out: bool                     # False when dot is missing and only .dot was written
    aspect: float | None               # height / width of the drawing
    seconds: float                     # layout time
    message: str = ""


def build(a: Analysis, *, depth: int | None = None, fold: bool = True, rankdir: str = "TB",
          fuse: bool = True, columns: int | None = None, budget: int = DEFAULT_BUDGET,
          id_prefix: str = "g", highlight: Mapping[str, str] | None = None,
          colour_by: Mapping[str, float] | None = None,
          colour_label: str = "MAC share", module: str | None = None) -> DotGraph:
    """Build the dot source for ``a`` (no layout yet). ``depth`` None draws every layer;
    ``columns`` None chooses the wrap for a page-like aspect ratio. ``highlight``: layer
    name -> ``changed`` | ``added`` | ``removed`` (a comparison): the drawn node holding the
    layer gets that status's thick outline and a line saying so; such layers are never
    folded away. ``colour_by``: layer name -> a measured cost (seconds of a latency profile,
    say) that replaces MACs as the fill colour's share, titled ``colour_label`` in the
    legend; folding is off then (folded copies share a MAC count, not a measured time).
    ``module``: draw only the layers under that module path (``Mixed_6e``, ``layer3``),
    with labels naming what feeds it and what it feeds."""
    highlight = dict(highlight or {})
    if highlight or colour_by is not None:
        fold = False
    if rankdir not in ("TB", "LR"):
        raise ArchlensError(f"--rankdir must be TB or LR, got {rankdir!r}")
    if depth is not None and depth < 1:
        raise ArchlensError(f"--depth must be a positive integer, got {depth}")
    hiers = [hier(n) for n in a.graph.nodes]
    full = max_depth(hiers)
    path = tuple(module.split(".")) if module else None
    if path and not any(h[:len(path)] == path and len(h) > len(path) for h in hiers):
        tops = ", ".join(name for name, _ in top_modules(a, len(hiers)))
        raise ArchlensError(f"no module {module!r} with layers in {a.model}; modules: {tops}")
    notes: list[str] = []
    d = depth if depth is not None and depth < full else None
    style = Style(rankdir=rankdir, id_prefix=id_prefix, highlight=highlight,
                  shares=Shares(colour_by) if colour_by is not None else None,
                  colour_label=colour_label)
    while True:
        g = _build(a, hiers, d, fold, fuse, columns, style, path)
        why = _over_budget(g.nodes, g.edges, budget)
        shallower = (full - 1 if d is None else d - 1)
        if not why or shallower < 1:
            break
        notes.append(f"{g.nodes} nodes at depth {d if d is not None else 'full'} {why}; "
                     f"collapsed to depth {shallower}")
        d = shallower
    notes += g.notes
    if g.folds:  # one note for all folds
        notes.append("identical blocks folded: " + "; ".join(g.folds))
    return DotGraph(source=g.source, depth=d, requested_depth=depth, nodes=g.nodes,
                    edges=g.edges, clusters=g.clusters, columns=g.columns, folds=g.folds,
                    notes=tuple(notes), estimated_aspect=g.estimated_aspect,
                    fills=g.fills)


def _build(a: Analysis, hiers, depth: int | None, fold: bool, fuse: bool,
           columns: int | None, style: Style, module: tuple[str, ...] | None) -> DotGraph:
    """One attempt at ``depth``: units, columns, dot text."""
    d = assemble(a, hiers, depth, fold, fuse, style.id_prefix, module)
    if not d.order:  # the module is a hidden copy of a folded run
        d = assemble(a, hiers, depth, False, fuse, style.id_prefix, module)
    notes: list[str] = []
    if columns != 1 and not module:  # a module drawn alone keeps its box
        for top in dissolve_tall(d.units, d.order, d.edges):
            notes.append(f"module '{top}' drawn without its cluster box so that it can "
                         "wrap into columns")
    ncols, est_aspect, col_of_item, items = wrap(d.units, d.order, d.edges, style.rankdir,
                                                 columns)
    source, nclusters, scale = emit(a, d, hiers, items, col_of_item, style)
    return DotGraph(source=source, depth=depth, requested_depth=depth, nodes=len(d.units),
                    edges=len(d.edges), clusters=nclusters, columns=ncols,
                    folds=tuple(d.folds), notes=tuple(notes), estimated_aspect=est_aspect,
                    fills=scale.legend())


# Widest picture a Markdown page shows at its natural size: GitHub's content column is
# about 880 px (660 pt at 96 px per inch); anything wider is scaled down, text with it.
MARKDOWN_MAX_PT = 660.0


def block_pictures(a: Analysis, k: int = 3, max_width: float = MARKDOWN_MAX_PT,
                   id_prefix: str = "b", notes: list[str] | None = None
                   ) -> list[tuple[str, int, str, int | None]]:
    """The ``k`` most expensive top-level blocks (:func:`top_modules`), each laid out alone
    in one column: (module, MACs, SVG, depth drawn; None = every layer). A block wider
    than ``max_width`` points at full depth (five inception branches side by side) is drawn
    with its children collapsed, so it reads at its natural size on a Markdown page. A
    layout that runs past dot's time limit is dropped for the collapsed one; a block with
    no layout in time is left out, and ``notes`` (when given) says so."""
    out = []
    for i, (name, macs) in enumerate(top_modules(a, k)):
        best = None
        for depth in (None, len(name.split(".")) + 1):
            g = build(a, module=name, columns=1, depth=depth, id_prefix=f"{id_prefix}{i}")
            try:
                svg = layout(g.source, "svg").decode("utf-8")
            except LayoutTimeout:
                continue
            width = (svg_size(svg) or (0.0, 0.0))[0]
            if best is None or width < best[0]:
                best = (width, svg, g.depth)
            if width <= max_width:
                break
        if best is None:
            if notes is not None:
                notes.append(f"block picture of {name} left out: graphviz layout took too long")
            continue
        out.append((name, macs, best[1], best[2]))
    return out


def layout_shallower(a: Analysis, g: DotGraph, notes: list[str], **kw) -> tuple[DotGraph, str]:
    """Lay out ``g``; when dot runs past its time limit, draw one level shallower and try
    again (down to depth 1), saying so in ``notes``. Raises :class:`LayoutTimeout` only when
    even depth 1 does not lay out in time."""
    full = max_depth([hier(n) for n in a.graph.nodes])
    while True:
        try:
            return g, layout(g.source, "svg").decode("utf-8")
        except LayoutTimeout as e:
            d = full if g.depth is None else g.depth
            if d <= 1:
                raise
            notes.append(f"{e.args[0].split(';')[0]} at depth {g.depth or 'full'}; drawn at "
                         f"depth {d - 1}")
            g = build(a, depth=d - 1, **kw)


def render_svg(a: Analysis, **kw) -> tuple[DotGraph, str]:
    """Build and lay out; returns the dot graph and the SVG text."""
    g = build(a, **kw)
    return g, layout(g.source, "svg").decode("utf-8")


def write_graph(a: Analysis, path: str | Path, **kw) -> GraphResult:
    """Write the drawing to ``path`` (.svg, .png, .pdf or .dot). Without graphviz the .dot
    source is written next to it and the result says how to install graphviz."""
    import time
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext not in ("svg", "png", "pdf", "dot", "gv"):
        raise ArchlensError(f"cannot write a graph as {path.suffix or 'no extension'!r}; "
                            "use a .svg, .png, .pdf or .dot file name")
    from archlens.outputs import write_file
    g = build(a, **kw)
    hint = "choose a writable path with -o"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if ext in ("dot", "gv"):
            write_file(path, g.source, hint=hint)
            return GraphResult(path, g, False, None, 0.0)
        if dot_binary() is None:
            dot_path = path.with_suffix(".dot")
            write_file(dot_path, g.source, hint=hint)
            return GraphResult(dot_path, g, False, None, 0.0,
                               message=f"graphviz 'dot' not found; wrote the source to "
                                       f"{dot_path}; {INSTALL_HINT}")
        t = time.perf_counter()
        svg = layout(g.source, "svg")
        seconds = time.perf_counter() - t
        size = svg_size(svg)
        data = svg if ext == "svg" else layout(g.source, ext)
        write_file(path, data, hint=hint)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}; choose a writable path "
                          "with -o") from None
    aspect = size[1] / size[0] if size and size[0] else None
    return GraphResult(path, g, True, aspect, seconds)
