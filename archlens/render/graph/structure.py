"""The module tree of the layers and the runs of identical, chained sibling blocks that the
drawing folds into one ("layer3.1 .. layer3.5 x5")."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from archlens.analysis import Analysis
from archlens.graph import Node


def hier(n: Node) -> tuple[str, ...]:
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


def max_depth(hiers: Sequence[tuple[str, ...]]) -> int:
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


def find_folds(a: Analysis, hiers, depth: int | None):
    """Runs of identical, chained sibling blocks. Returns ``alias`` (hidden node index ->
    the index it is drawn as), ``run_of`` (node index -> (run id, instance)) and the runs."""
    nodes = a.graph.nodes
    index = {n.name: i for i, n in enumerate(nodes)}
    succ: dict[int, list[int]] = defaultdict(list)
    for i, n in enumerate(nodes):
        for s in n.inputs:
            if s in index:
                succ[index[s]].append(i)
    limit = depth if depth is not None else max_depth(hiers)
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




def top_modules(a: Analysis, k: int = 3, min_layers: int = 2) -> list[tuple[str, int]]:
    """The ``k`` top-level modules holding the most MACs (name, MACs), each with at least
    ``min_layers`` layers besides pointwise followers (a conv-BN-ReLU module is one box,
    which says nothing drawn alone)."""
    from archlens.render.graph.style import FUSABLE
    macs: dict[str, int] = defaultdict(int)
    layers: dict[str, int] = defaultdict(int)
    for n in a.graph.nodes:
        h = hier(n)
        if n.kind != "input" and len(h) > 1:
            macs[h[0]] += n.macs
            layers[h[0]] += n.type not in FUSABLE
    ranked = sorted((m for m in macs if layers[m] >= min_layers and macs[m] > 0),
                    key=lambda m: -macs[m])
    out: list[tuple[str, int]] = []
    for m in ranked:  # identical blocks (Mixed_6c, Mixed_6d) once: the first one runs first
        if not any(macs[o] == macs[m] and layers[o] == layers[m] for o, _ in out):
            out.append((m, macs[m]))
    return out[:k]
