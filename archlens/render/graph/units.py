"""The drawn nodes ("units") of a graph and the edges between them: which layers each unit
stands for (one op with its fused pointwise followers, a collapsed module, or the first of a
run of folded identical blocks), how the clusters nest, and the findings each carries."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from archlens.analysis import Analysis
from archlens.render.graph.structure import find_folds
from archlens.render.graph.style import FUSABLE


@dataclass
class Unit:
    """One drawn node: a single op (plus fused pointwise followers) or a collapsed module."""

    id: str
    members: list[int]                 # node indices, execution order
    cluster: tuple[str, ...]           # enclosing module path (cluster nesting)
    kind: str                          # "node" | "group" | "input"
    label_name: str                    # name relative to the cluster
    fused: list[int] = field(default_factory=list)
    fold: int = 1                      # x N when a group stands for N identical blocks
    fold_range: str = ""


@dataclass
class Drawing:
    """Everything decided about what is drawn, before columns and dot text."""

    units: dict[str, Unit]
    order: list[str]                   # unit keys in execution order
    unit_of: dict[int, str]            # node index -> unit key
    alias: dict[int, int]              # hidden fold instance -> the node it is drawn as
    run_of: dict[int, tuple[int, int]]
    runs: list
    edges: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)
    sources: dict[tuple[str, str], int] = field(default_factory=dict)  # edge -> producer
    folds: list[str] = field(default_factory=list)
    cluster_fold: dict[tuple[str, ...], tuple[int, str]] = field(default_factory=dict)
    findings: dict[str, list] = field(default_factory=dict)
    # drawing one module only (``restrict``): the units left out, and the edges that enter or
    # leave the module (drawn as labels naming the other end)
    outside: dict[str, Unit] = field(default_factory=dict)
    inbound: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)
    outbound: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)

    def unit(self, key: str) -> Unit:
        return self.units[key] if key in self.units else self.outside[key]

    def resolve(self, i: int) -> str:
        return self.unit_of[self.alias.get(i, i)]

    def producer(self, key: str, u: int) -> int:
        """The layer that unit ``key`` stands for as the producer ``u`` (its head op, or for
        a folded run the head of the instance ``u`` belongs to: ``layer1.2.conv1``, not
        the first instance's ``layer1.1.conv1``)."""
        head = self.unit(key).members[0]
        if u not in self.alias:
            return head
        inst = self.run_of[u][1]
        for m, first in self.alias.items():
            if first == head and self.run_of[m][1] == inst:
                return m
        return u

    def crosses(self, u: int, v: int) -> bool:
        """An edge between two different instances of one folded run (not drawn)."""
        ru, rv = self.run_of.get(u), self.run_of.get(v)
        return ru is not None and rv is not None and ru[0] == rv[0] and ru[1] != rv[1]


def assemble(a: Analysis, hiers, depth: int | None, fold: bool, fuse: bool,
             id_prefix: str, module: tuple[str, ...] | None = None) -> Drawing:
    """The units, edges and findings of ``a`` drawn at ``depth`` (None: every layer);
    ``module``: only the layers under that module path."""
    alias, run_of, runs, _ = find_folds(a, hiers, depth) if fold else ({}, {}, [], {})
    d = Drawing(units={}, order=[], unit_of={}, alias=alias, run_of=run_of, runs=runs)
    _make_units(a, hiers, depth, id_prefix, d)
    if fuse:
        _fuse(a, d)
    _fold_labels(d, depth)
    _drop_single_clusters(d)
    _edges(a, d)
    _findings(a, d)
    if module:
        _restrict(d, hiers, module)
    return d


def _restrict(d: Drawing, hiers, module: tuple[str, ...]) -> None:
    """Keep the units under ``module``; the edges into and out of it are kept apart."""
    keep = [k for k in d.order if d.units[k].kind != "input"
            and hiers[d.units[k].members[0]][:len(module)] == module]
    ks = set(keep)
    edges = {}
    for (ku, kv), shp in d.edges.items():
        if ku in ks and kv in ks:
            edges[(ku, kv)] = shp
        elif kv in ks:
            d.inbound[(ku, kv)] = shp
        elif ku in ks:
            d.outbound[(ku, kv)] = shp
    d.folds = [f for f, run in zip(d.folds, d.runs) if run[0][:len(module)] == module]
    d.outside = {k: u for k, u in d.units.items() if k not in ks}
    d.units = {k: d.units[k] for k in keep}
    d.order, d.edges = keep, edges


def _make_units(a: Analysis, hiers, depth, id_prefix: str, d: Drawing) -> None:
    for i, n in enumerate(a.graph.nodes):
        if i in d.alias:
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
        if key not in d.units:
            d.units[key] = Unit(id=f"{id_prefix}n{len(d.units)}", members=[], cluster=cl,
                                kind=kind, label_name=name)
            d.order.append(key)
        d.units[key].members.append(i)
        d.unit_of[i] = key


def _consumers(a: Analysis, d: Drawing, index) -> dict[int, set[int]]:
    """Consumers per visible node (after aliasing, ignoring cross-instance edges)."""
    consumers: dict[int, set[int]] = defaultdict(set)
    for v, n in enumerate(a.graph.nodes):
        for s in n.inputs:
            u = index.get(s)
            if u is None or d.crosses(u, v):
                continue
            consumers[d.alias.get(u, u)].add(d.alias.get(v, v))
    return consumers


def _fuse(a: Analysis, d: Drawing) -> None:
    """Pointwise followers are drawn inside their producer (``+BN+ReLU``) when the producer
    feeds nothing else."""
    nodes = a.graph.nodes
    index = {n.name: i for i, n in enumerate(nodes)}
    consumers = _consumers(a, d, index)
    for key in list(d.order):
        un = d.units.get(key)
        if un is None or un.kind != "node":
            continue
        i = un.members[0]
        n = nodes[i]
        if n.type not in FUSABLE or len(n.inputs) != 1 or n.inputs[0] not in index:
            continue
        p = d.alias.get(index[n.inputs[0]], index[n.inputs[0]])
        pkey = d.unit_of[p]
        pu = d.units[pkey]
        if pu.kind != "node" or pu.cluster != un.cluster or consumers[p] != {i} or \
                nodes[p].out_shape != n.out_shape:
            continue
        pu.members.append(i)
        pu.fused.append(i)
        d.unit_of[i] = pkey
        del d.units[key]
        d.order.remove(key)
        # the producer's consumers are now the fused node's consumers
        consumers[p] = consumers[i]


def _fold_labels(d: Drawing, depth: int | None) -> None:
    for run in d.runs:
        first, last = run[0], run[-1]
        d.folds.append(f"{'.'.join(first)} .. {'.'.join(last)} x{len(run)}")
        rng = f"{first[-1]} .. {last[-1]}"
        if first[-1].isdigit() and len(first) > 1:  # "layer1.1 .. layer1.2", not "1 .. 2"
            rng = f"{'.'.join(first[-2:])} .. {'.'.join(last[-2:])}"
        if depth is not None and len(first) >= depth:
            key = "grp:" + ".".join(first[:depth])
            if key in d.units:
                d.units[key].fold = len(run)
                d.units[key].fold_range = rng
        else:
            d.cluster_fold[first] = (len(run), rng)


def _drop_single_clusters(d: Drawing) -> None:
    """A cluster around a single drawn node says nothing: draw the node, named by it."""
    renamed: set[str] = set()
    while True:
        counts: dict[tuple[str, ...], int] = defaultdict(int)
        for key in d.order:
            cl = d.units[key].cluster
            for L in range(1, len(cl) + 1):
                counts[cl[:L]] += 1
        moved = False
        for key in d.order:
            un = d.units[key]
            cp = un.cluster
            if not cp or counts[cp] != 1 or un.kind == "input":
                continue
            if cp in d.cluster_fold:
                if un.fold > 1:
                    continue  # keep the cluster: both levels are folded
                un.fold, un.fold_range = d.cluster_fold.pop(cp)
            if un.kind == "node" and key not in renamed:
                un.label_name = cp[-1]
                renamed.add(key)
            else:
                un.label_name = f"{cp[-1]}.{un.label_name}"
            un.cluster = cp[:-1]
            moved = True
        if not moved:
            break


def _edges(a: Analysis, d: Drawing) -> None:
    nodes = a.graph.nodes
    index = {n.name: i for i, n in enumerate(nodes)}
    for v, n in enumerate(nodes):
        if v in d.alias:
            continue
        for s in n.inputs:
            u = index.get(s)
            if u is None or d.crosses(u, v):
                continue
            ku, kv = d.resolve(u), d.unit_of[v]
            if ku != kv and (ku, kv) not in d.edges:
                d.edges[(ku, kv)] = nodes[d.alias.get(u, u)].out_shape
                d.sources[(ku, kv)] = u


def _findings(a: Analysis, d: Drawing) -> None:
    index = {n.name: i for i, n in enumerate(a.graph.nodes)}
    found: dict[str, list] = defaultdict(list)
    for f in a.findings:
        for lname in f.layers[:1] or ():
            j = index.get(lname)
            if j is not None and d.alias.get(j, j) in d.unit_of:
                found[d.resolve(j)].append(f)
    d.findings = found
