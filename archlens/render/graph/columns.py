"""Packing the top-level items (root modules and root ops, in execution order) into
side-by-side columns, so the drawing has a page-like height/width instead of being a strip
many times taller than wide. Sizes are estimated before ``dot`` runs."""
from __future__ import annotations

import math
from collections import defaultdict

from archlens.render.graph.units import Unit

# Size estimates (points) for choosing the column wrap before dot runs.
_NODE_W, _RANK_H, _CLUSTER_PAD, _LEGEND_H = 150.0, 64.0, 22.0, 330.0


def wrap(units: dict[str, Unit], order: list[str], edges, rankdir: str,
          columns: int | None) -> tuple[int, float, list[int], list[list[str]]]:
    """Split the top-level items (root modules / root ops, in order) into columns. Returns
    (columns, estimated height/width, column of each item, unit keys of each item)."""
    items, heights, widths = _items(units, order, edges)
    return _pack(items, heights, widths, rankdir, columns)


def dissolve_tall(units: dict[str, Unit], order: list[str], edges) -> list[str]:
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


def _items(units: dict[str, Unit], order: list[str], edges):
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


