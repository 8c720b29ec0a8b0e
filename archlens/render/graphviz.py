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

import math
import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archlens.analysis import Analysis
from archlens.errors import ArchlensError, MissingDependencyError, OutputError
from archlens.graph import Node

if TYPE_CHECKING:  # pragma: no cover
    from archlens.metrics.stages import Stage
from archlens.render import _numbers as fmt
from archlens.sanitize import for_dot, for_dot_string

# Pointwise ops drawn inside their producer (same shape in and out, no spatial extent).
FUSABLE = frozenset({
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "GroupNorm", "LayerNorm",
    "ReLU", "ReLU6", "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "LeakyReLU", "leaky_relu",
    "GELU", "gelu", "SiLU", "silu", "Sigmoid", "sigmoid", "Hardswish", "hardswish", "Hardsigmoid",
    "Mish", "Tanh", "tanh", "ELU", "elu", "PReLU", "Dropout", "Dropout2d", "dropout", "Identity",
    "contiguous", "clone",
})
_SHORT = {"BatchNorm1d": "BN", "BatchNorm2d": "BN", "BatchNorm3d": "BN", "SyncBatchNorm": "BN",
          "relu": "ReLU", "relu_": "ReLU", "ReLU": "ReLU", "ReLU6": "ReLU6", "relu6": "ReLU6",
          "hardtanh": "ReLU6", "hardtanh_": "ReLU6", "Dropout": "Drop", "dropout": "Drop",
          "Dropout2d": "Drop", "sigmoid": "Sigmoid", "silu": "SiLU", "gelu": "GELU"}

# MAC share bins (upper bounds, fraction of the network's MACs) and their fill colours
# (ColorBrewer YlOrRd; white for layers without MACs).
SHARE_BINS = (0.001, 0.005, 0.01, 0.02, 0.05, 1.01)
SHARE_COLOURS = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#f03b20")
SHARE_LABELS = ("< 0.1 %", "0.1-0.5 %", "0.5-1 %", "1-2 %", "2-5 %", ">= 5 %")
NO_MACS = "#ffffff"
STAGE_COLOURS = ("#8dd3c7", "#bebada", "#80b1d3", "#fdb462", "#b3de69", "#fccde5", "#d9d9d9",
                 "#bc80bd", "#ccebc5", "#ffed6f")
SEVERITY_COLOURS = {"error": "#c62828", "warning": "#e65100", "info": "#1565c0"}

# Layout budget: dot's crossing minimisation grows faster than linearly; above this many
# drawn nodes + edges the drawing is collapsed one level at a time.
DEFAULT_BUDGET = 1400
# Size estimates (points) for choosing the column wrap before dot runs.
_NODE_W, _RANK_H, _CLUSTER_PAD, _LEGEND_H = 150.0, 64.0, 22.0, 330.0


@dataclass
class _Unit:
    """One drawn node: a single op (plus fused pointwise followers) or a collapsed module."""

    id: str
    members: list[int]                 # node indices, execution order
    cluster: tuple[str, ...]           # enclosing module path (cluster nesting)
    kind: str                          # "node" | "group" | "input"
    label_name: str                    # name relative to the cluster
    fused: list[int] = field(default_factory=list)
    fold: int = 1                      # x N when a group stands for N identical blocks
    fold_range: str = ""


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


@dataclass(frozen=True)
class GraphResult:
    path: Path
    dot: DotGraph
    laid_out: bool                     # False when dot is missing and only .dot was written
    aspect: float | None               # height / width of the drawing
    seconds: float                     # layout time
    message: str = ""


# ----------------------------------------------------------------------------- structure

def _hier(n: Node) -> tuple[str, ...]:
    """Position of a node in the module tree: leaf modules by their path, functional ops as a
    child of the module that calls them (``Mixed_5b.cat``)."""
    if n.kind == "input":
        return (n.name,)
    if n.kind == "module":
        base = n.name.split("#", 1)[0]
        return tuple(base.split(".")) if base else (n.type,)
    parent = tuple(n.module.split(".")) if n.module else ()
    leaf = n.name.rsplit(".", 1)[-1] if n.module and n.name.startswith(n.module + ".") else n.name
    return parent + (leaf,)


def _max_depth(hiers: Sequence[tuple[str, ...]]) -> int:
    return max((len(h) for h in hiers), default=1)


def _signature(nodes: Sequence[Node], members: list[int], prefix_len: int, hiers) -> tuple:
    """Everything that must match for two blocks to be drawn as one: ops, attributes, shapes,
    costs and the wiring (internal inputs by position, external inputs by order seen)."""
    local = {nodes[i].name: j for j, i in enumerate(members)}
    ext: dict[str, int] = {}
    sig = []
    for i in members:
        n = nodes[i]
        ins = []
        for src in n.inputs:
            if src in local:
                ins.append(("in", local[src]))
            else:
                ins.append(("ext", ext.setdefault(src, len(ext))))
        sig.append((hiers[i][prefix_len:], n.type, n.kind, n.kernel, n.stride, n.padding,
                    n.dilation, n.groups, n.in_shapes, n.out_shape, n.params, n.macs,
                    tuple(sorted((n.attrs or {}).items(), key=lambda kv: kv[0]))
                    if _hashable(n.attrs) else None, tuple(ins)))
    return tuple(sig)


def _hashable(attrs) -> bool:
    try:
        hash(tuple((attrs or {}).items()))
        return True
    except TypeError:
        return False


def _find_folds(a: Analysis, hiers, depth: int | None):
    """Runs of identical, chained sibling blocks. Returns ``alias`` (hidden node index ->
    the index it is drawn as), ``run_of`` (node index -> (run id, instance)) and the runs."""
    nodes = a.graph.nodes
    index = {n.name: i for i, n in enumerate(nodes)}
    succ: dict[int, list[int]] = defaultdict(list)
    for i, n in enumerate(nodes):
        for s in n.inputs:
            if s in index:
                succ[index[s]].append(i)
    limit = depth if depth is not None else _max_depth(hiers)
    members: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, h in enumerate(hiers):
        if nodes[i].kind == "input":
            continue
        for L in range(1, min(len(h) - 1, limit) + 1):
            members[h[:L]].append(i)
    # children of each parent, modules and leaves mixed, in order of first execution
    children: dict[tuple[str, ...], list[tuple[int, tuple[str, ...] | None, int]]] = defaultdict(list)
    for p, ms in members.items():
        children[p[:-1]].append((ms[0], p, -1))
    for i, h in enumerate(hiers):
        if nodes[i].kind != "input" and len(h) - 1 <= limit:
            children[h[:-1]].append((i, None, i))
    alias: dict[int, int] = {}
    run_of: dict[int, tuple[int, int]] = {}
    runs: list[list[tuple[str, ...]]] = []
    for parent in sorted(children, key=len):
        if parent and any(m in alias for m in members.get(parent, [])):
            continue  # inside a hidden instance
        items = sorted(children[parent], key=lambda t: t[0])
        sigs = [(_signature(nodes, members[p], len(p), hiers) if p is not None else None)
                for _, p, _ in items]
        j = 0
        while j < len(items):
            p = items[j][1]
            if p is None or any(m in alias for m in members[p]):
                j += 1
                continue
            run = [p]
            k = j + 1
            while k < len(items) and items[k][1] is not None and sigs[k] == sigs[j] and \
                    _chained(nodes, members[run[-1]], members[items[k][1]], succ, index):
                run.append(items[k][1])
                k += 1
            if len(run) > 1:
                rid = len(runs)
                runs.append(run)
                first = members[run[0]]
                for inst, q in enumerate(run):
                    for pos, m in enumerate(members[q]):
                        run_of[m] = (rid, inst)
                        if inst:
                            alias[m] = first[pos]
            j = k
    return alias, run_of, runs, members


def _chained(nodes, prev: list[int], nxt: list[int], succ, index) -> bool:
    """``nxt`` reads only from ``prev`` (besides itself) and ``prev`` feeds only ``nxt``."""
    ps, ns = set(prev), set(nxt)
    if nxt[0] <= prev[-1]:
        return False
    for i in nxt:
        for s in nodes[i].inputs:
            j = index.get(s)
            if j is not None and j not in ns and j not in ps:
                return False
    for i in prev:
        for j in succ.get(i, ()):
            if j not in ps and j not in ns:
                return False
    return any(index.get(s) in ps for i in nxt for s in nodes[i].inputs)


# ----------------------------------------------------------------------------- labels

def _e(text: object) -> str:
    """Escape for graphviz HTML-like labels (:func:`archlens.sanitize.for_dot`)."""
    return for_dot(text)


def _q(text: object) -> str:
    """A dot double-quoted string (tooltips, ids): each line sanitised
    (:func:`archlens.sanitize.for_dot_string`), the lines joined by dot's ``\\n``."""
    return '"' + "\\n".join(for_dot_string(x) for x in str(text).split("\n")) + '"'


def share_colour(macs: int, total: int) -> str:
    if macs <= 0 or total <= 0:
        return NO_MACS
    share = macs / total
    for bound, colour in zip(SHARE_BINS, SHARE_COLOURS):
        if share < bound:
            return colour
    return SHARE_COLOURS[-1]


def _op_text(n: Node) -> str:
    t = n.type
    base = getattr(n, "base_type", None) or n.type      # WSConv2d labels like the Conv2d it is
    if n.kernel and set(n.kernel) != {1} or base in ("Conv2d", "ConvTranspose2d") and n.kernel:
        t += " " + "x".join(str(k) for k in n.kernel)  # 1-D and 3-D kernels too
        if n.stride and set(n.stride) != {1}:
            t += f"/{fmt.pair(n.stride)}"
        if n.groups and n.groups > 1:
            t += f" g{n.groups}"
        if n.dilation and set(n.dilation) != {1}:
            t += f" d{fmt.pair(n.dilation)}"
    return t


def _group_text(nodes: Sequence[Node], members: list[int]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for i in members:
        if nodes[i].type not in FUSABLE:
            counts[nodes[i].type] += 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    parts = [f"{c} {t}" for t, c in top]
    more = len(members) - sum(c for _, c in top)
    return ", ".join(parts) + (f" +{more}" if more > 0 else "")


# ----------------------------------------------------------------------------- build

def build(a: Analysis, *, depth: int | None = None, fold: bool = True, rankdir: str = "TB",
          fuse: bool = True, columns: int | None = None, budget: int = DEFAULT_BUDGET,
          id_prefix: str = "g", highlight: Mapping[str, str] | None = None,
          colour_by: Mapping[str, float] | None = None,
          colour_label: str = "MAC share") -> DotGraph:
    """Build the dot source for ``a`` (no layout yet). ``depth`` None draws every layer;
    ``columns`` None chooses the wrap for a page-like aspect ratio. ``highlight``: layer
    name -> ``changed`` | ``added`` | ``removed`` (a comparison): the drawn node holding the
    layer gets that status's thick outline and a line saying so; such layers are never
    folded away. ``colour_by``: layer name -> a measured cost (seconds of a latency profile,
    say) that replaces MACs as the fill colour's share, titled ``colour_label`` in the
    legend; folding is off then (folded copies share a MAC count, not a measured time)."""
    highlight = dict(highlight or {})
    if highlight or colour_by is not None:
        fold = False
    if rankdir not in ("TB", "LR"):
        raise ArchlensError(f"--rankdir must be TB or LR, got {rankdir!r}")
    if depth is not None and depth < 1:
        raise ArchlensError(f"--depth must be a positive integer, got {depth}")
    hiers = [_hier(n) for n in a.graph.nodes]
    full = _max_depth(hiers)
    notes: list[str] = []
    d = depth if depth is not None and depth < full else None
    while True:
        g = _build(a, hiers, d, fold, rankdir, fuse, columns, id_prefix, highlight,
                   colour_by, colour_label)
        cost = g.nodes + g.edges
        shallower = (full - 1 if d is None else d - 1)
        if cost <= budget or shallower < 1:
            break
        notes.append(f"{g.nodes} nodes at depth {d if d is not None else 'full'} exceed the "
                      f"layout budget ({budget} nodes + edges); collapsed to depth {shallower}")
        d = shallower
    src_notes = notes + list(g.notes) + [f"identical blocks folded: {f}" for f in g.folds]
    return DotGraph(source=g.source, depth=d, requested_depth=depth, nodes=g.nodes,
                    edges=g.edges, clusters=g.clusters, columns=g.columns, folds=g.folds,
                    notes=tuple(src_notes), estimated_aspect=g.estimated_aspect)


def _build(a: Analysis, hiers, depth, fold, rankdir, fuse, columns, id_prefix,
           highlight: Mapping[str, str] | None = None,
           colour_by: Mapping[str, float] | None = None,
           colour_label: str = "MAC share") -> DotGraph:
    nodes = a.graph.nodes
    total_macs = max(a.totals.macs, 0)
    shares = _Shares(colour_by) if colour_by is not None else None
    index = {n.name: i for i, n in enumerate(nodes)}
    notes_local: list[str] = []
    if fold:
        alias, run_of, runs, members = _find_folds(a, hiers, depth)
    else:
        alias, run_of, runs, members = {}, {}, [], {}

    # ---- units
    units: dict[str, _Unit] = {}
    unit_of: dict[int, str] = {}
    order: list[str] = []
    for i, n in enumerate(nodes):
        if i in alias:
            continue
        h = hiers[i]
        if n.kind == "input":
            key, cl, kind, name = "input", (), "input", "input"
        elif depth is not None and len(h) > depth:
            key, cl, kind, name = "grp:" + ".".join(h[:depth]), h[:depth - 1], "group", h[depth - 1]
        else:
            key, cl, kind = "op:" + n.name, h[:-1], "node"
            name = n.name[len(".".join(cl)) + 1:] if cl and n.name.startswith(".".join(cl) + ".") \
                else n.name
        if key not in units:
            units[key] = _Unit(id=f"{id_prefix}n{len(units)}", members=[], cluster=cl, kind=kind,
                               label_name=name)
            order.append(key)
        units[key].members.append(i)
        unit_of[i] = key

    def resolve(i: int) -> str:
        return unit_of[alias.get(i, i)]

    # ---- consumers per visible node (after aliasing, ignoring cross-instance edges)
    def crosses(u: int, v: int) -> bool:
        ru, rv = run_of.get(u), run_of.get(v)
        return ru is not None and rv is not None and ru[0] == rv[0] and ru[1] != rv[1]

    consumers: dict[int, set[int]] = defaultdict(set)
    for v, n in enumerate(nodes):
        for s in n.inputs:
            u = index.get(s)
            if u is None or crosses(u, v):
                continue
            consumers[alias.get(u, u)].add(alias.get(v, v))

    # ---- fuse pointwise followers into their producer
    if fuse:
        for key in list(order):
            un = units.get(key)
            if un is None or un.kind != "node":
                continue
            i = un.members[0]
            n = nodes[i]
            if n.type not in FUSABLE or len(n.inputs) != 1 or n.inputs[0] not in index:
                continue
            p = alias.get(index[n.inputs[0]], index[n.inputs[0]])
            pkey = unit_of[p]
            pu = units[pkey]
            if pu.kind != "node" or pu.cluster != un.cluster or consumers[p] != {i} or \
                    nodes[p].out_shape != n.out_shape:
                continue
            pu.members.append(i)
            pu.fused.append(i)
            unit_of[i] = pkey
            del units[key]
            order.remove(key)
            # the producer's consumers are now the fused node's consumers
            consumers[p] = consumers[i]

    # ---- fold labels
    folds: list[str] = []
    cluster_fold: dict[tuple[str, ...], tuple[int, str]] = {}
    for run in runs:
        first, last = run[0], run[-1]
        folds.append(f"{'.'.join(first)} .. {'.'.join(last)} x{len(run)}")
        rng = f"{first[-1]} .. {last[-1]}"
        if first[-1].isdigit() and len(first) > 1:  # "layer1.1 .. layer1.2", not "1 .. 2"
            rng = f"{'.'.join(first[-2:])} .. {'.'.join(last[-2:])}"
        if depth is not None and len(first) >= depth:
            key = "grp:" + ".".join(first[:depth])
            if key in units:
                units[key].fold = len(run)
                units[key].fold_range = rng
        else:
            cluster_fold[first] = (len(run), rng)

    # ---- a cluster around a single drawn node says nothing: draw the node, named by it
    renamed: set[str] = set()
    while True:
        counts: dict[tuple[str, ...], int] = defaultdict(int)
        for key in order:
            cl = units[key].cluster
            for L in range(1, len(cl) + 1):
                counts[cl[:L]] += 1
        moved = False
        for key in order:
            un = units[key]
            cp = un.cluster
            if not cp or counts[cp] != 1 or un.kind == "input":
                continue
            if cp in cluster_fold:
                if un.fold > 1:
                    continue  # keep the cluster: both levels are folded
                un.fold, un.fold_range = cluster_fold.pop(cp)
            if un.kind == "node" and key not in renamed:
                un.label_name = cp[-1]
                renamed.add(key)
            else:
                un.label_name = f"{cp[-1]}.{un.label_name}"
            un.cluster = cp[:-1]
            moved = True
        if not moved:
            break

    # ---- edges
    edges: dict[tuple[str, str], tuple[int, ...]] = {}
    for v, n in enumerate(nodes):
        if v in alias:
            continue
        for s in n.inputs:
            u = index.get(s)
            if u is None or crosses(u, v):
                continue
            ku, kv = resolve(u), unit_of[v]
            if ku != kv and (ku, kv) not in edges:
                edges[(ku, kv)] = nodes[alias.get(u, u)].out_shape

    # ---- findings per unit
    unit_findings: dict[str, list] = defaultdict(list)
    for f in a.findings:
        for lname in f.layers[:1] or ():
            j = index.get(lname)
            if j is not None and alias.get(j, j) in unit_of:
                unit_findings[resolve(j)].append(f)

    # ---- stages (archlens.metrics.stages): the legend prints Stage.text
    grids = {st.index: st for st in a.stages}

    # ---- columns
    if columns != 1:
        for top in _dissolve_tall(units, order, edges):
            notes_local.append(f"module '{top}' drawn without its cluster box so that it can "
                               "wrap into columns")
    ncols, est_aspect, col_of_item, items = _wrap(units, order, edges, rankdir, columns)

    # ---- emit
    out: list[str] = []
    w = out.append
    w(f"digraph {_q(a.model)} {{")
    w(f'  graph [rankdir={rankdir}, fontname="Helvetica", fontsize=10, nodesep=0.12, '
      f'ranksep=0.22, pad=0.15, bgcolor="white", labeljust=l, outputorder=edgesfirst, '
      f'id={_q(id_prefix)}, mclimit=0.6, remincross=false, searchsize=20];')
    w('  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9, '
      'margin="0.05,0.02", penwidth=0.7, color="#555555", height=0.3];')
    w('  edge [arrowsize=0.45, penwidth=0.7, color="#555555"];')

    tree: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for key in order:
        tree[units[key].cluster].append(key)
    cluster_paths = set()
    for cl in tree:
        for L in range(1, len(cl) + 1):
            cluster_paths.add(cl[:L])
    kids: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for cp in sorted(cluster_paths, key=lambda c: (len(c), _first(units, tree, c, cluster_paths))):
        kids[cp[:-1]].append(cp)
    cluster_ids = {cp: f"{id_prefix}c{i}" for i, cp in enumerate(sorted(cluster_paths))}

    def emit_unit(key: str, indent: str) -> None:
        un = units[key]
        status = [highlight[nodes[i].name] for i in un.members if nodes[i].name in highlight] \
            if highlight else []
        w(indent + _node_stmt(a, un, nodes, total_macs, unit_findings.get(key, []), grids,
                              status[0] if status else None, shares))

    def emit_cluster(cp: tuple[str, ...], indent: str) -> None:
        # every layer under this module path, hidden fold instances included (a folded
        # cluster's own path covers its first instance only: numbers per block)
        ms = [i for i, h in enumerate(hiers) if len(h) > len(cp) and h[:len(cp)] == cp]
        macs = sum(nodes[i].macs for i in ms)
        prms = sum(nodes[i].params for i in ms)
        if cp in cluster_fold:
            nfold, rng = cluster_fold[cp]
            title = f"{rng}  \u00d7{nfold} identical"
        else:
            title = ".".join(cp[-2:]) if cp[-1].isdigit() and len(cp) > 1 else cp[-1]
        per = " per block" if cp in cluster_fold else ""
        lab = (f'<<FONT POINT-SIZE="10"><B>{_e(title)}</B></FONT>'
               f'<FONT POINT-SIZE="8" COLOR="#555555">  {_e(fmt.macs(macs))}, '
               f'{_e(fmt.params(prms))}{per}</FONT>>')
        folded = cp in cluster_fold
        w(f"{indent}subgraph cluster_{cluster_ids[cp]} {{")
        w(f'{indent}  id={_q(cluster_ids[cp])}; label={lab}; style="rounded{",filled" if folded else ""}"; '
          f'color="{"#6a1b9a" if folded else "#9e9e9e"}"; fillcolor="#f7f2fa"; '
          f'penwidth={1.6 if folded else 0.8}; fontname="Helvetica"; margin=6;')
        for key in tree.get(cp, []):
            emit_unit(key, indent + "  ")
        for sub in kids.get(cp, []):
            emit_cluster(sub, indent + "  ")
        w(f"{indent}}}")

    for key in tree.get((), []):
        emit_unit(key, "  ")
    for cp in kids.get((), []):
        emit_cluster(cp, "  ")

    # legend + column anchor
    w(f"  {id_prefix}legend [shape=plaintext, style=\"\", margin=0, "
      f"label={_legend(grids, a.findings, colour_label if shares else 'MAC share')}, "
      f"id={_q(id_prefix + 'legend')}];")
    anchor = f"{id_prefix}top"
    w(f'  {anchor} [style=invis, shape=point, width=0, height=0, label=""];')
    # the legend hangs below the last drawn unit: at the top it would make the first rank
    # as tall as the legend and stretch the first edges
    w(f"  {units[order[-1]].id} -> {id_prefix}legend [style=invis];")

    col_of_unit: dict[str, int] = {}
    for it, keys in enumerate(items):
        for k in keys:
            col_of_unit[k] = col_of_item[it]
    heads: set[str] = set()
    junctions: dict[tuple[str, int], str] = {}
    for (ku, kv), shp in edges.items():
        cu, cv = col_of_unit.get(ku, 0), col_of_unit.get(kv, 0)
        tip = f"tooltip={_q(fmt.shape(shp) or '')}"
        if cu == cv:
            w(f"  {units[ku].id} -> {units[kv].id} [{tip}];")
            continue
        # one dashed jump per (producer, column) to a junction at the column's top, which
        # then fans out like an ordinary edge
        # no line across the page: the producer gets a stub saying where its output
        # continues, the column a label saying where it comes from
        j = junctions.get((ku, cv))
        if j is None:
            j = junctions[(ku, cv)] = f"{id_prefix}j{len(junctions)}"
            src = _unit_path(units[ku], nodes)
            w(f'  {j} [id={_q(j)}, shape=plaintext, style="", margin=0, height=0.2, '
              f'label=<<FONT POINT-SIZE="9" COLOR="#546e7a">from {_e(_clip(src, 40))} '
              f'(column {cu + 1}) ↓</FONT>>, tooltip={_q("from " + src)}];')
            stub = f"{j}s"
            if (ku, "stub") not in junctions:
                junctions[(ku, "stub")] = stub
                w(f'  {stub} [id={_q(stub)}, shape=plaintext, style="", margin=0, height=0.2, '
                  f'label=<<FONT POINT-SIZE="9" COLOR="#546e7a">continues in column {cv + 1} '
                  f'→</FONT>>];')
                w(f'  {units[ku].id} -> {stub} [{tip}, style=dashed, color="#9e9e9e", '
                  f'arrowhead=none];')
            w(f"  {anchor} -> {j} [style=invis];")
        w(f"  {j} -> {units[kv].id} [{tip}];")
    # every column starts at the top: anchor -> its first unit and every unit fed from another
    # column (those edges do not constrain ranks)
    firsts = {}
    for it, keys in enumerate(items):
        c = col_of_item[it]
        if c not in firsts and keys:
            firsts[c] = keys[0]
    for c, k in sorted(firsts.items()):
        if c > 0:
            heads.add(k)
    for k in sorted(heads, key=lambda k: order.index(k)):
        w(f"  {anchor} -> {units[k].id} [style=invis];")
    w("}")
    return DotGraph(source="\n".join(out) + "\n", depth=depth, requested_depth=depth,
                    nodes=len(units), edges=len(edges), clusters=len(cluster_paths),
                    columns=ncols, folds=tuple(folds), notes=tuple(notes_local),
                    estimated_aspect=est_aspect)


def _first(units, tree, c, cluster_paths) -> int:
    best = 1 << 60
    for cl, keys in tree.items():
        if cl[:len(c)] == c:
            for k in keys:
                best = min(best, units[k].members[0])
    return best


def _all_units(tree, kids, cp) -> list[str]:
    out = list(tree.get(cp, []))
    for sub in kids.get(cp, []):
        out += _all_units(tree, kids, sub)
    return out


HIGHLIGHT_COLOURS = {"changed": "#6a1b9a", "added": "#2e7d32", "removed": "#c62828"}


class _Shares:
    """A measured cost per layer (``colour_by``) and its total, for the fill colour."""

    def __init__(self, values: Mapping[str, float]):
        self.values = {k: max(float(v), 0.0) for k, v in values.items()}
        self.total = sum(self.values.values())

    def of(self, nodes, members) -> float:
        return sum(self.values.get(nodes[i].name, 0.0) for i in members)


def _node_stmt(a: Analysis, un: _Unit, nodes, total_macs: int, findings, grids,
               status: str | None = None, shares: "_Shares | None" = None) -> str:
    ms = un.members
    head = nodes[ms[0]]
    last = nodes[ms[-1]]
    macs = sum(nodes[i].macs for i in ms)
    prms = sum(nodes[i].params for i in ms)
    if un.kind == "input":
        title = "input"
        sub = "N x " + fmt.shape(head.out_shape)
        name = ""
    elif un.kind == "group":
        title = _group_text(nodes, ms)
        name = un.fold_range if un.fold > 1 else un.label_name
        sub = fmt.shape(last.out_shape)
    else:
        title = _op_text(head) + "".join(f"+{_SHORT.get(nodes[i].type, nodes[i].type)}"
                                         for i in un.fused)
        name = un.fold_range if un.fold > 1 else un.label_name
        if name.isdigit() and un.cluster:  # Sequential children: "classifier.0", not "0"
            name = f"{un.cluster[-1]}.{name}"
        if name == head.type:
            name = ""
        sub = fmt.shape(last.out_shape)
    cost = []
    if macs:
        cost.append(fmt.macs(macs) + (" each" if un.fold > 1 else ""))
    if prms and not macs:
        cost.append(fmt.params(prms))
    stage = last.stage if last.stage is not None else None
    colour = (share_colour(macs * un.fold, total_macs) if shares is None
              else share_colour(shares.of(nodes, ms), shares.total))
    font = ' COLOR="white"' if colour == SHARE_COLOURS[-1] else ""
    strip = STAGE_COLOURS[stage % len(STAGE_COLOURS)] if stage is not None else "#ffffff"
    font = font or ' COLOR="black"'
    badge = f'<FONT POINT-SIZE="7">S{stage}</FONT>' if stage is not None else " "
    rows = [f'<TR><TD BGCOLOR="{strip}" WIDTH="14">{badge}</TD>'
            f'<TD ALIGN="LEFT"><B><FONT{font}>{_e(title)}'
            + (f'  \u00d7{un.fold}' if un.fold > 1 else "") + "</FONT></B></TD></TR>"]
    if name:
        grey = font if colour == SHARE_COLOURS[-1] else ' COLOR="#333333"'
        rows.append(f'<TR><TD></TD><TD ALIGN="LEFT"><FONT POINT-SIZE="8"{grey}>'
                    f'{_e(_clip(name))}</FONT></TD></TR>')
    rows.append(f'<TR><TD></TD><TD ALIGN="LEFT"><FONT POINT-SIZE="8"{font}>'
                f'{_e(" | ".join([sub] + cost) if sub else " | ".join(cost))}</FONT></TD></TR>')
    pen = ""
    if findings:
        sev = min((f.severity for f in findings),
                  key=lambda s: ("error", "warning", "info").index(s)
                  if s in ("error", "warning", "info") else 3)
        codes = sorted({f.code for f in findings})
        rows.append(f'<TR><TD></TD><TD ALIGN="LEFT"><FONT POINT-SIZE="8" COLOR="'
                    f'{SEVERITY_COLOURS.get(sev, "#c62828") if colour != SHARE_COLOURS[-1] else "white"}"><B>'
                    f'{_e(", ".join(codes))}</B></FONT></TD></TR>')
        pen = f', color="{SEVERITY_COLOURS.get(sev, "#c62828")}", penwidth=2.6'
    if status:
        hc = HIGHLIGHT_COLOURS.get(status, "#6a1b9a")
        rows.append(f'<TR><TD></TD><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="'
                    f'{hc if colour != SHARE_COLOURS[-1] else "white"}"><B>{_e(status)}</B>'
                    f'</FONT></TD></TR>')
        pen = f', color="{hc}", penwidth=4'
    label = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
             + "".join(rows) + "</TABLE>>")
    names = [nodes[i].name for i in ms]
    tip = (f"{head.name if un.kind != 'group' else '.'.join(_hier(head)[:len(un.cluster) + 1])}"
           f"{' (' + str(len(ms)) + ' layers)' if len(ms) > 1 else ''}\n"
           f"out {fmt.shape(last.out_shape)}\n{fmt.macs(macs)}\n{fmt.params(prms)}"
           + ("".join(f"\n{f.code}: {f.message}" for f in findings)))
    del names
    shape = "box" if un.kind != "input" else "box"
    return (f'{un.id} [id={_q(un.id)}, shape={shape}, fillcolor="{colour}", label={label}, '
            f'tooltip={_q(tip)}{pen}];')


def _unit_path(un: _Unit, nodes) -> str:
    """The full module path a drawn node stands for (for continuation labels)."""
    head = nodes[un.members[0]]
    if un.kind == "group":
        return ".".join(_hier(head)[:len(un.cluster) + 1])
    return head.name


def _clip(s: str, n: int = 34) -> str:
    return s if len(s) <= n else "..." + s[-(n - 3):]


def _legend(grids: dict[int, "Stage"], findings, title: str = "MAC share") -> str:
    rows = [f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{_e(title)}</B></TD></TR>']
    for colour, text in zip(SHARE_COLOURS, SHARE_LABELS):
        rows.append(f'<TR><TD BGCOLOR="{colour}" WIDTH="14" BORDER="1"> </TD>'
                    f'<TD ALIGN="LEFT">{_e(text)}</TD></TR>')
    rows.append(f'<TR><TD BGCOLOR="{NO_MACS}" WIDTH="14" BORDER="1"> </TD>'
                f'<TD ALIGN="LEFT">{"no MACs" if title == "MAC share" else "none"}</TD></TR>')
    if grids:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT"><B>stage: grid, effective stride'
                    '</B></TD></TR>')
        for s in sorted(grids):
            rows.append(f'<TR><TD BGCOLOR="{STAGE_COLOURS[s % len(STAGE_COLOURS)]}" '
                        f'WIDTH="14" BORDER="1"><FONT POINT-SIZE="7">S{s}</FONT></TD>'
                        f'<TD ALIGN="LEFT">{_e(grids[s].text)}</TD></TR>')
    sevs = sorted({f.severity for f in findings},
                  key=lambda s: ("error", "warning", "info").index(s)
                  if s in ("error", "warning", "info") else 3)
    if sevs:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT"><B>findings (outline)</B></TD></TR>')
        for s in sevs:
            rows.append(f'<TR><TD BORDER="2" COLOR="{SEVERITY_COLOURS.get(s, "#c62828")}" '
                        f'WIDTH="14"> </TD><TD ALIGN="LEFT">{_e(s)}</TD></TR>')
    return ('<<TABLE BORDER="1" COLOR="#bdbdbd" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
            '<TR><TD COLSPAN="2"><FONT POINT-SIZE="8">'
            + "".join([]) + "</FONT></TD></TR>" + "".join(rows) + "</TABLE>>").replace(
        '<TR><TD COLSPAN="2"><FONT POINT-SIZE="8"></FONT></TD></TR>', "")


def _wrap(units: dict[str, _Unit], order: list[str], edges, rankdir: str,
          columns: int | None) -> tuple[int, float, list[int], list[list[str]]]:
    """Split the top-level items (root modules / root ops, in order) into columns. Returns
    (columns, estimated height/width, column of each item, unit keys of each item)."""
    items, heights, widths = _items(units, order, edges)
    return _pack(items, heights, widths, rankdir, columns)


def _dissolve_tall(units: dict[str, _Unit], order: list[str], edges) -> list[str]:
    """A top-level module holding most of the network (VGG's ``features``) cannot be split
    into columns while it is one cluster: draw its children at the top level instead (their
    names keep the module path). Returns the modules dissolved."""
    done: list[str] = []
    for _ in range(3):
        items, heights, _ = _items(units, order, edges)
        total = sum(heights)
        big = max(range(len(items)), key=heights.__getitem__, default=None)
        if big is None or len(items[big]) < 6 or heights[big] < 0.45 * total:
            break
        top = units[items[big][0]].cluster[:1]
        if not top:
            break
        for k in items[big]:
            un = units[k]
            if un.cluster[:1] == top:
                un.cluster = un.cluster[1:]
                un.label_name = f"{top[0]}.{un.label_name}"
        done.append(top[0])
    return done


def _items(units: dict[str, _Unit], order: list[str], edges):
    items: list[list[str]] = []
    item_key: dict[str, int] = {}
    for key in order:
        un = units[key]
        top = un.cluster[0] if un.cluster else None
        ident = ("cl", top) if top is not None else ("u", key)
        if ident not in item_key or (items and item_key[ident] != len(items) - 1
                                     and top is None):
            item_key[ident] = len(items)
            items.append([])
        items[item_key[ident]].append(key)
    # longest path (in units) and width per item
    pos = {k: i for i, k in enumerate(order)}
    preds: dict[str, list[str]] = defaultdict(list)
    for (u, v) in edges:
        preds[v].append(u)
    heights, widths = [], []
    for keys in items:
        ks = set(keys)
        rank: dict[str, int] = {}
        for k in sorted(keys, key=pos.__getitem__):
            rank[k] = 1 + max((rank[p] for p in preds[k] if p in ks and p in rank), default=0)
        per_rank: dict[int, int] = defaultdict(int)
        for r in rank.values():
            per_rank[r] += 1
        depth_levels = max((len(units[k].cluster) for k in keys), default=0)
        heights.append(max(rank.values(), default=1) * _RANK_H + depth_levels * _CLUSTER_PAD)
        widths.append(max(per_rank.values(), default=1) * _NODE_W + depth_levels * 12)
    return items, heights, widths


def _pack(items, heights, widths, rankdir, columns):
    target = 1.25 if rankdir == "TB" else 0.55   # height / width of a review page / screen
    total_h = sum(heights)

    def pack(k: int) -> list[int]:
        cap = total_h / k
        cols, c, acc = [], 0, 0.0
        for h in heights:
            if acc > 0 and acc + h / 2 > cap and c < k - 1:
                c, acc = c + 1, 0.0
            cols.append(c)
            acc += h
        return cols

    def aspect(cols: list[int]) -> float:
        n = max(cols) + 1 if cols else 1
        ch = [0.0] * n
        cw = [0.0] * n
        for h, wd, c in zip(heights, widths, cols):
            ch[c] += h
            cw[c] = max(cw[c], wd)
        ch[-1] += _LEGEND_H  # the legend hangs below the last column
        along, across = max(ch), sum(cw) + 20 * (n - 1) + 120  # + legend
        return along / across if rankdir == "TB" else across / along

    if columns is not None:
        cols = pack(max(1, columns))
        return max(cols, default=0) + 1, aspect(cols), cols, items
    best = None
    for k in range(1, min(len(items), 16) + 1):
        cols = pack(k)
        r = aspect(cols)
        score = abs(math.log(r / target))
        if best is None or score < best[0] - 1e-9:
            best = (score, cols, r)
    assert best is not None
    return max(best[1], default=0) + 1, best[2], best[1], items


# ----------------------------------------------------------------------------- layout

def dot_binary() -> str | None:
    return shutil.which("dot")


INSTALL_HINT = ("install graphviz to draw it: 'sudo apt-get install graphviz' (Debian/Ubuntu), "
                "'brew install graphviz' (macOS), 'conda install graphviz'")


def layout(source: str, fmt_: str = "svg", timeout: float = 60.0) -> bytes:
    """Run ``dot -T<fmt_>``. Raises MissingDependencyError without the binary."""
    exe = dot_binary()
    if exe is None:
        raise MissingDependencyError(f"graphviz 'dot' not found; {INSTALL_HINT}")
    try:
        proc = subprocess.run([exe, f"-T{fmt_}"], input=source.encode(), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ArchlensError(f"graphviz layout took longer than {timeout:.0f} s; draw fewer "
                            "layers with --depth 2 (or 1)") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ArchlensError(f"graphviz 'dot' failed: {err[-1] if err else proc.returncode}")
    return proc.stdout


_SIZE = re.compile(rb'<svg[^>]*?width="([\d.]+)pt"[^>]*?height="([\d.]+)pt"', re.S)


def svg_size(svg: bytes | str) -> tuple[float, float] | None:
    """(width, height) in points from the root element of a graphviz SVG."""
    import xml.etree.ElementTree as ET
    data = svg.encode() if isinstance(svg, str) else svg
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    w, h = root.get("width", ""), root.get("height", "")
    try:
        return float(w.rstrip("pt")), float(h.rstrip("pt"))
    except ValueError:
        return None


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
