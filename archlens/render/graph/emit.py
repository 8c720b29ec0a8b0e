"""The dot source of a :class:`~archlens.render.graph.units.Drawing`: graph attributes, nested
module clusters, the legend, the edges, and the edges that leave a column (drawn as a
"continues in column k" stub at the producer and a "from NAME (column j)" label on top of
the consumer's column instead of a line across the page)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from archlens.analysis import Analysis
from archlens.render import _numbers as fmt
from archlens.render.graph import labels as L
from archlens.render.graph.style import Shares, ShareScale, share_scale
from archlens.render.graph.units import Drawing


@dataclass
class Style:
    """How the units are drawn: direction, ids, fill source, comparison outlines."""

    rankdir: str
    id_prefix: str
    highlight: Mapping[str, str]
    shares: Shares | None
    colour_label: str


def unit_shares(a: Analysis, d: Drawing, style: Style) -> dict[str, float]:
    """Each drawn unit's share of the network's cost (MACs, or ``colour_by``); a folded unit
    stands for all its blocks."""
    nodes = a.graph.nodes
    out = {}
    for key in d.order:
        un = d.units[key]
        if style.shares is None:
            total = max(a.totals.macs, 0)
            macs = sum(nodes[i].macs for i in un.members) * un.fold
            out[key] = macs / total if total > 0 and macs > 0 else 0.0
        else:
            t = style.shares.total
            out[key] = style.shares.of(nodes, un.members) / t if t > 0 else 0.0
    return out


def emit(a: Analysis, d: Drawing, hiers, items: list[list[str]], col_of_item: list[int],
         style: Style) -> tuple[str, int, ShareScale]:
    """(dot source, number of clusters, the fill scale)."""
    shares = unit_shares(a, d, style)
    scale = share_scale(shares.values())
    out: list[str] = []
    w = out.append
    p = style.id_prefix
    w(f"digraph {L.q(a.model)} {{")
    w(f'  graph [rankdir={style.rankdir}, fontname="Helvetica", fontsize=10, nodesep=0.12, '
      f'ranksep=0.22, pad=0.15, bgcolor="white", labeljust=l, outputorder=edgesfirst, '
      f'id={L.q(p)}, mclimit=0.6, remincross=false, searchsize=20];')
    w('  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9, '
      'margin="0.05,0.02", penwidth=0.7, color="#555555", height=0.3];')
    w('  edge [arrowsize=0.45, penwidth=0.7, color="#555555"];')
    nclusters = _clusters(a, d, hiers, style, lambda key: scale.colour(shares[key]), w)
    grids = {st.index: st for st in a.stages}
    title = style.colour_label if style.shares else "MAC share"
    w(f"  {p}legend [shape=plaintext, style=\"\", margin=0, "
      f"label={L.legend(grids, a.findings, scale.legend(), title)}, "
      f"id={L.q(p + 'legend')}];")
    w(f'  {p}top [style=invis, shape=point, width=0, height=0, label=""];')
    # the legend hangs below the last drawn unit: at the top it would make the first rank
    # as tall as the legend and stretch the first edges
    w(f"  {d.units[d.order[-1]].id} -> {p}legend [style=invis];")
    _edges(a, d, items, col_of_item, p, w)
    w("}")
    return "\n".join(out) + "\n", nclusters, scale


def _unit_stmt(a: Analysis, d: Drawing, key: str, style: Style, colour: str) -> str:
    nodes = a.graph.nodes
    un = d.units[key]
    hl = style.highlight
    status = [hl[nodes[i].name] for i in un.members if nodes[i].name in hl] if hl else []
    return L.node_stmt(un, nodes, colour, d.findings.get(key, []),
                       status[0] if status else None)


def _first(d: Drawing, tree, c) -> int:
    best = 1 << 60
    for cl, keys in tree.items():
        if cl[:len(c)] == c:
            for k in keys:
                best = min(best, d.units[k].members[0])
    return best


def _clusters(a: Analysis, d: Drawing, hiers, style: Style, fill, w) -> int:
    """Emit the units nested in their module clusters; returns the number of clusters."""
    nodes = a.graph.nodes
    tree: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for key in d.order:
        tree[d.units[key].cluster].append(key)
    paths = {cl[:n] for cl in tree for n in range(1, len(cl) + 1)}
    kids: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for cp in sorted(paths, key=lambda c: (len(c), _first(d, tree, c))):
        kids[cp[:-1]].append(cp)
    ids = {cp: f"{style.id_prefix}c{i}" for i, cp in enumerate(sorted(paths))}

    def cluster(cp: tuple[str, ...], indent: str) -> None:
        # every layer under this module path, hidden fold instances included (a folded
        # cluster's own path covers its first instance only: numbers per block)
        ms = [i for i, h in enumerate(hiers) if len(h) > len(cp) and h[:len(cp)] == cp]
        fold = d.cluster_fold.get(cp)
        lab = L.cluster_label(cp, sum(nodes[i].macs for i in ms),
                              sum(nodes[i].params for i in ms), fold)
        folded = fold is not None
        w(f"{indent}subgraph cluster_{ids[cp]} {{")
        w(f'{indent}  id={L.q(ids[cp])}; label={lab}; style="rounded{",filled" if folded else ""}"; '
          f'color="{"#6a1b9a" if folded else "#9e9e9e"}"; fillcolor="#f7f2fa"; '
          f'penwidth={1.6 if folded else 0.8}; fontname="Helvetica"; margin=6;')
        for key in tree.get(cp, []):
            w(indent + "  " + _unit_stmt(a, d, key, style, fill(key)))
        for sub in kids.get(cp, []):
            cluster(sub, indent + "  ")
        w(f"{indent}}}")

    for key in tree.get((), []):
        w("  " + _unit_stmt(a, d, key, style, fill(key)))
    for cp in kids.get((), []):
        cluster(cp, "  ")
    return len(paths)


def _column_heads(d: Drawing, firsts: dict[int, str], entered: set[int], p: str,
                  w) -> dict[int, str]:
    """With several columns, each starts at the top and is numbered ("column 2 of 3"): a
    column fed from another says so in the label of its first "from NAME" junction; any
    other gets a header node above its first unit. Returns column -> header node id."""
    heads: dict[int, str] = {}
    for c, k in sorted(firsts.items()):
        if c in entered:  # numbered by its junction; the anchor keeps it at the top
            w(f"  {p}top -> {d.units[k].id} [style=invis];")
            continue
        h = heads[c] = f"{p}col{c + 1}"
        w(f'  {h} [id={L.q(h)}, shape=plaintext, style="", margin=0, height=0.2, '
          f'label=<{_column_title(c, len(firsts))}>];')
        w(f"  {p}top -> {h} [style=invis];")
        w(f"  {h} -> {d.units[k].id} [style=invis, weight=20];")
    return heads


def _column_title(c: int, n: int) -> str:
    return f'<FONT POINT-SIZE="10" COLOR="#37474f"><B>column {c + 1} of {n}</B></FONT>'


def _edges(a: Analysis, d: Drawing, items, col_of_item, p: str, w) -> None:
    nodes = a.graph.nodes
    units = d.units
    col_of_unit = {k: col_of_item[it] for it, keys in enumerate(items) for k in keys}
    firsts: dict[int, str] = {}
    for it, keys in enumerate(items):
        if col_of_item[it] not in firsts and keys:
            firsts[col_of_item[it]] = keys[0]
    ncols = len(firsts)
    entered = {col_of_unit.get(kv, 0) for ku, kv in d.edges
               if col_of_unit.get(ku, 0) != col_of_unit.get(kv, 0)} - {0}
    heads = _column_heads(d, firsts, entered, p, w) if ncols > 1 else {}
    starts = dict(heads)   # column -> the node that numbers it
    junctions: dict[tuple[str, object], str] = {}
    for (ku, kv), shp in d.edges.items():
        cu, cv = col_of_unit.get(ku, 0), col_of_unit.get(kv, 0)
        tip = f"tooltip={L.q(fmt.shape(shp) or '')}"
        if cu == cv:
            w(f"  {units[ku].id} -> {units[kv].id} [{tip}];")
            continue
        # no line across the page: the producer gets a stub saying where its output
        # continues, the column a label saying where it comes from (the first one also
        # numbers the column)
        j = junctions.get((ku, cv))
        if j is None:
            j = junctions[(ku, cv)] = f"{p}j{len(junctions)}"
            src = L.unit_path(units[ku], nodes, d.producer(ku, d.sources[(ku, kv)]))
            title = "" if cv in starts else _column_title(cv, ncols) + "<BR/>"
            starts.setdefault(cv, j)
            w(f'  {j} [id={L.q(j)}, shape=plaintext, style="", margin=0, height=0.2, '
              f'label=<{title}<FONT POINT-SIZE="9" COLOR="#546e7a">from '
              f'{L.e(L.clip(src, 40))} (column {cu + 1}) ↓</FONT>>, '
              f'tooltip={L.q("from " + src)}];')
            stub = f"{j}s"
            if (ku, "stub") not in junctions:
                junctions[(ku, "stub")] = stub
                w(f'  {stub} [id={L.q(stub)}, shape=plaintext, style="", margin=0, height=0.2, '
                  f'label=<<FONT POINT-SIZE="9" COLOR="#546e7a">→ continues in column '
                  f'{cv + 1}</FONT>>];')
                w(f'  {units[ku].id} -> {stub} [{tip}, style=dashed, color="#9e9e9e", '
                  f'arrowhead=none];')
            w(f"  {p}top -> {j} [style=invis];")
        w(f"  {j} -> {units[kv].id} [{tip}];")
    if len(starts) > 1:  # the numbered tops side by side, column 1 leftmost
        chain = [starts[c] for c in sorted(starts)]
        w(f"  {{rank=same; {'; '.join(chain)}}}")
        w(f"  {' -> '.join(chain)} [style=invis];")
    _module_ends(a, d, heads, col_of_unit, p, w)


def _module_ends(a: Analysis, d: Drawing, heads, col_of_unit, p: str, w) -> None:
    """One module drawn alone: a label "from NAME" above each unit fed from outside it, a
    stub "→ to NAME" below each unit that feeds the rest of the network."""
    nodes = a.graph.nodes
    seen: dict[str, str] = {}
    for n, ((ku, kv), shp) in enumerate(d.inbound.items()):
        src = L.unit_path(d.unit(ku), nodes, d.producer(ku, d.sources[(ku, kv)]))
        j = seen.get(ku)
        if j is None:
            j = seen[ku] = f"{p}i{n}"
            w(f'  {j} [id={L.q(j)}, shape=plaintext, style="", margin=0, height=0.2, '
              f'label=<<FONT POINT-SIZE="9" COLOR="#546e7a">from {L.e(L.clip(src, 40))} ↓'
              f'</FONT>>, tooltip={L.q("from " + src)}];')
            w(f"  {heads.get(col_of_unit.get(kv, 0), p + 'top')} -> {j} [style=invis];")
        w(f"  {j} -> {d.units[kv].id} [tooltip={L.q(fmt.shape(shp) or '')}];")
    targets: dict[str, list[str]] = defaultdict(list)
    for (ku, kv) in d.outbound:
        targets[ku].append(L.unit_path(d.unit(kv), nodes))
    for n, (ku, names) in enumerate(targets.items()):
        dst = _common_module(names)
        o = f"{p}o{n}"
        w(f'  {o} [id={L.q(o)}, shape=plaintext, style="", margin=0, height=0.2, '
          f'label=<<FONT POINT-SIZE="9" COLOR="#546e7a">→ to {L.e(L.clip(dst, 40))}</FONT>>, '
          f'tooltip={L.q("to " + ", ".join(names))}];')
        w(f'  {d.units[ku].id} -> {o} [style=dashed, color="#9e9e9e"];')


def _common_module(names: list[str]) -> str:
    """``Mixed_6e`` for Mixed_6e.branch1x1.conv and Mixed_6e.branch_pool.conv; a single
    name as it is; names without a common module: the first and how many more."""
    if len(names) == 1:
        return names[0]
    parts = [n.split(".") for n in names]
    common = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    if common:
        return ".".join(common)
    return f"{names[0]} and {len(names) - 1} more"
