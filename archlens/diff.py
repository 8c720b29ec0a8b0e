"""Architecture diff: two analyses -> :class:`Diff` data (no rendering here).

The graphs are aligned by module path. The unit of comparison is a *layer unit*: an op
with its pointwise followers (``conv -> bn -> relu`` is one unit named by the conv), so a
wider conv is one change, not three. A unit is

* **same**     -- present in both with the same op, kernel, stride, padding, dilation, groups
  and channel counts (its cost may still differ when the grid differs);
* **changed**  -- present in both, with the kinds that differ: ``kernel``, ``width``
  (input or output channels), ``groups``, ``stride``, ``padding``, ``dilation``, ``type``;
  ``factorization`` when one model runs a single conv where the other runs two stacked ones
  that see the same window (Inception's 7x7 vs 1x7 + 7x1; the second conv of the pair is
  folded into the change, not listed as added/removed);
* **added** / **removed** -- present in one model only.

A parameter-free op (pool, cat, add) whose channel count changed only because its inputs
did is a consequence, not a change: it is counted in ``Diff.consequential``, not listed.
Per-stage deltas align the stages by index (:mod:`archlens.metrics.stages`), so two
networks with different grids (299 vs 224 inputs) still line up stage by stage.
"""
from __future__ import annotations

import sys
import types
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from archlens.analysis import Analysis, Finding
from archlens.graph import Node, Pair

SCHEMA = "archlens.diff/1"

# Ops drawn into their producer's unit (they keep shape and only transform values).
POINTWISE = frozenset({
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "GroupNorm", "LayerNorm",
    "InstanceNorm1d", "InstanceNorm2d", "LocalResponseNorm", "FrozenBatchNorm2d",
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Hardswish", "Hardsigmoid", "Hardtanh", "Sigmoid", "Tanh", "Softplus", "Dropout",
    "Dropout2d", "AlphaDropout", "Identity",
    "relu", "relu_", "relu6", "leaky_relu", "gelu", "silu", "hardswish", "hardsigmoid",
    "hardtanh", "sigmoid", "tanh", "dropout", "batch_norm", "layer_norm", "group_norm",
})

KINDS = ("factorization", "type", "kernel", "width", "groups", "stride", "padding",
         "dilation")


def _base_type(n: Node) -> str:
    return getattr(n, "base_type", None) or n.type


def _channels(shape: Sequence[int] | None) -> int | None:
    return int(shape[1]) if shape is not None and len(shape) >= 2 else None


@dataclass(frozen=True)
class Unit:
    """An op and its pointwise followers (``members[0]`` is the op)."""

    members: tuple[Node, ...]

    @property
    def head(self) -> Node:
        return self.members[0]

    @property
    def name(self) -> str:
        return self.head.name

    @property
    def last(self) -> Node:
        return self.members[-1]

    @property
    def cin(self) -> int | None:
        h = self.head
        return _channels(h.in_shapes[0]) if h.in_shapes else None

    @property
    def cout(self) -> int | None:
        return _channels(self.head.out_shape)

    @property
    def macs(self) -> int:
        return sum(m.macs for m in self.members)

    @property
    def params(self) -> int:
        return sum(m.params for m in self.members)

    def signature(self) -> dict[str, Any]:
        h = self.head
        return {"type": _base_type(h), "kernel": h.kernel, "stride": h.stride,
                "padding": h.padding, "dilation": h.dilation, "groups": h.groups,
                "width": (self.cin, self.cout)}

    def describe(self) -> str:
        """``Conv2d 1x7 128->192 /2 g32`` (kernel, channels, stride when not 1, groups)."""
        h = self.head
        parts = [_base_type(h)]
        if h.kernel is not None:
            parts.append(f"{h.kernel[0]}x{h.kernel[1]}")
        if self.cin is not None and self.cout is not None:
            parts.append(f"{self.cin}->{self.cout}" if self.params or self.cin != self.cout
                         else f"{self.cout} ch")
        if h.stride is not None and tuple(h.stride) != (1, 1):
            s = h.stride
            parts.append(f"/{s[0]}" if s[0] == s[1] else f"/{s[0]}x{s[1]}")
        if h.groups and h.groups != 1:
            parts.append(f"g{h.groups}")
        return " ".join(parts)


def units(a: Analysis) -> dict[str, Unit]:
    """Layer units of an analysis keyed by their op's name, in execution order."""
    g = a.graph
    owner: dict[str, list[Node]] = {}
    out: dict[str, list[Node]] = {}
    for n in g.layers:
        if (_base_type(n) in POINTWISE and len(n.inputs) == 1 and n.inputs[0] in owner
                and len(g.successors(n.inputs[0])) == 1):
            ms = owner[n.inputs[0]]
            ms.append(n)
            owner[n.name] = ms
            continue
        ms = [n]
        owner[n.name] = ms
        out[n.name] = ms
    return {k: Unit(tuple(v)) for k, v in out.items()}


@dataclass(frozen=True)
class Change:
    """One unit that differs. ``name``: the op's name (A's for removed, B's otherwise).
    ``a``/``b``: one-line descriptions (None where absent). ``factors``: the unit names of
    the side that runs two convs where the other runs one. MACs are multiply-accumulates;
    ``rf_*`` the receptive-field size (H, W) in input px after the unit."""

    name: str
    status: str                      # "changed" | "added" | "removed"
    kinds: tuple[str, ...]
    a: str | None
    b: str | None
    macs_a: int
    macs_b: int
    params_a: int
    params_b: int
    rf_a: Pair | None
    rf_b: Pair | None
    stage_a: int | None
    stage_b: int | None
    factors: tuple[str, ...] = ()

    @property
    def block(self) -> str:
        """Top-level module (``Mixed_6b``), the name when it has none."""
        return self.name.split(".", 1)[0]

    @property
    def stage(self) -> int | None:
        return self.stage_b if self.stage_b is not None else self.stage_a

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "kinds": list(self.kinds),
                "a": self.a, "b": self.b, "block": self.block,
                "macs_a": self.macs_a, "macs_b": self.macs_b,
                "params_a": self.params_a, "params_b": self.params_b,
                "rf_a": list(self.rf_a) if self.rf_a else None,
                "rf_b": list(self.rf_b) if self.rf_b else None,
                "stage_a": self.stage_a, "stage_b": self.stage_b,
                "factors": list(self.factors)}


@dataclass(frozen=True)
class Total:
    """One total of both models. ``a`` / ``b`` is None where the quantity has no number: the
    feature RF when it is ``global`` (the whole input, not a property of the network) or
    ``unknown``, or the model has no feature map; ``status_a`` / ``status_b`` say which, and
    ``delta`` is then None -- never a 0 that reads as "unchanged"."""

    key: str        # budget name: macs, params, feature_rf ...
    quantity: str   # printed name
    unit: str       # multiply-accumulates | count | elements | bytes | input px
    a: int | None
    b: int | None
    status_a: str = ""   # "" (a number) | "global" | "unknown" | "no feature map"
    status_b: str = ""

    @property
    def known(self) -> bool:
        return self.a is not None and self.b is not None

    @property
    def delta(self) -> int | None:
        return self.b - self.a if self.a is not None and self.b is not None else None

    def to_dict(self) -> dict[str, Any]:
        d = {"key": self.key, "quantity": self.quantity, "unit": self.unit, "a": self.a,
             "b": self.b, "delta": self.delta}
        if self.status_a or self.status_b:
            d.update(status_a=self.status_a or "exact", status_b=self.status_b or "exact")
        return d


@dataclass(frozen=True)
class StageDelta:
    """Stage ``index`` of both models (``index`` None: the non-spatial head)."""

    index: int | None
    label_a: str
    label_b: str
    text_a: str
    text_b: str
    macs_a: int
    macs_b: int
    params_a: int
    params_b: int
    layers_a: int
    layers_b: int

    @property
    def key(self) -> str:
        return "head" if self.index is None else f"S{self.index}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key, "label_a": self.label_a,
                "label_b": self.label_b, "text_a": self.text_a, "text_b": self.text_b,
                "macs_a": self.macs_a, "macs_b": self.macs_b, "params_a": self.params_a,
                "params_b": self.params_b, "layers_a": self.layers_a,
                "layers_b": self.layers_b}


@dataclass(frozen=True)
class Diff:
    a: str
    b: str
    input_shape_a: tuple[int, ...]
    input_shape_b: tuple[int, ...]
    totals: tuple[Total, ...]
    changes: tuple[Change, ...]
    same: int                         # units in both, unchanged
    consequential: int                # parameter-free ops whose width followed their inputs
    units_a: int
    units_b: int
    stages: tuple[StageDelta, ...]
    only_a: tuple[Finding, ...]       # findings (rule code, first layer) in A only
    only_b: tuple[Finding, ...]
    both: tuple[tuple[str, str], ...]
    headline: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        """True when nothing differs: no change, equal totals, the same findings."""
        return (not self.changes and not self.only_a and not self.only_b
                and all((t.a, t.status_a) == (t.b, t.status_b) for t in self.totals))

    def total(self, key: str) -> Total:
        for t in self.totals:
            if t.key == key:
                return t
        raise KeyError(key)

    def by_status(self, status: str) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "a": self.a, "b": self.b,
                "input_shape_a": list(self.input_shape_a),
                "input_shape_b": list(self.input_shape_b),
                "units": {"macs": "multiply-accumulates", "params": "count",
                          "rf": "input px"},
                "headline": self.headline,
                "totals": [t.to_dict() for t in self.totals],
                "counts": {"same": self.same, "changed": len(self.by_status("changed")),
                           "added": len(self.by_status("added")),
                           "removed": len(self.by_status("removed")),
                           "consequential": self.consequential,
                           "units_a": self.units_a, "units_b": self.units_b},
                "changes": [c.to_dict() for c in self.changes],
                "stages": [s.to_dict() for s in self.stages],
                "findings": {"only_a": [f.to_dict() for f in self.only_a],
                             "only_b": [f.to_dict() for f in self.only_b],
                             "both": [list(k) for k in self.both]},
                "notes": list(self.notes)}


# ----------------------------------------------------------------------------- alignment

def _kinds(ua: Unit, ub: Unit) -> tuple[str, ...]:
    sa, sb = ua.signature(), ub.signature()
    return tuple(k for k in KINDS if k in sa and sa[k] != sb[k])


def _merged_kernel(u1: Unit, u2: Unit) -> Pair | None:
    """Kernel of the single conv that sees the same window as ``u1`` then ``u2``."""
    h1, h2 = u1.head, u2.head
    if h1.kernel is None or h2.kernel is None or h1.stride is None:
        return None
    return tuple(k1 + (k2 - 1) * s for k1, k2, s in zip(h1.kernel, h2.kernel, h1.stride))


def _next_unit(a: Analysis, us: dict[str, Unit], u: Unit) -> Unit | None:
    succ = a.graph.successors(u.last.name)
    return us.get(succ[0]) if len(succ) == 1 else None


def _factor_pair(pair_side: Analysis, pus: dict[str, Unit], first: Unit, single: Unit,
                 other_names: dict[str, Unit]) -> Unit | None:
    """The second conv when ``first`` + it (in ``pair_side``) equals ``single``: the same
    window (merged kernel), the same input and output channels, and the second conv absent
    from the other model."""
    second = _next_unit(pair_side, pus, first)
    if second is None or second.name in other_names:
        return None
    if _base_type(first.head) != _base_type(single.head) or \
            _base_type(second.head) != _base_type(single.head) or single.head.kernel is None:
        return None
    if (first.head.groups or 1) != 1 or (second.head.groups or 1) != 1:
        return None
    if _merged_kernel(first, second) != tuple(single.head.kernel):
        return None
    if first.cin != single.cin or second.cout != single.cout:
        return None
    return second


def _rf(u: Unit | None) -> Pair | None:
    return (tuple(u.last.rf.size) if u is not None and u.last.rf is not None
            and u.last.rf.known else None)


def _change(name, status, kinds, ua: Sequence[Unit], ub: Sequence[Unit], desc_a=None,
            desc_b=None, factors=()) -> Change:
    la, lb = (ua[-1] if ua else None), (ub[-1] if ub else None)
    return Change(
        name=name, status=status, kinds=tuple(kinds),
        a=desc_a if desc_a is not None else (" + ".join(u.describe() for u in ua) or None),
        b=desc_b if desc_b is not None else (" + ".join(u.describe() for u in ub) or None),
        macs_a=sum(u.macs for u in ua), macs_b=sum(u.macs for u in ub),
        params_a=sum(u.params for u in ua), params_b=sum(u.params for u in ub),
        rf_a=_rf(la), rf_b=_rf(lb),
        stage_a=ua[0].head.stage if ua else None, stage_b=ub[0].head.stage if ub else None,
        factors=tuple(factors))


def _align(a: Analysis, b: Analysis) -> tuple[list[Change], int, int, int, int]:
    ua, ub = units(a), units(b)
    changes: list[Change] = []
    absorbed_a: set[str] = set()
    absorbed_b: set[str] = set()
    same = consequential = 0
    for name, x in ua.items():
        y = ub.get(name)
        if y is None:
            continue
        kinds = _kinds(x, y)
        if not kinds:
            same += 1
            continue
        if "kernel" in kinds:
            second = _factor_pair(a, ua, x, y, ub)
            if second is not None:        # A runs two convs where B runs one
                absorbed_a.add(second.name)
                changes.append(_change(name, "changed", ("factorization",), [x, second], [y],
                                       factors=(x.name, second.name)))
                continue
            second = _factor_pair(b, ub, y, x, ua)
            if second is not None:        # B factorizes A's conv
                absorbed_b.add(second.name)
                changes.append(_change(name, "changed", ("factorization",), [x], [y, second],
                                       factors=(y.name, second.name)))
                continue
        if kinds == ("width",) and x.params == 0 and y.params == 0:
            consequential += 1
            continue
        changes.append(_change(name, "changed", kinds, [x], [y]))
    for name, x in ua.items():
        if name not in ub and name not in absorbed_a:
            changes.append(_change(name, "removed", (), [x], []))
    for name, y in ub.items():
        if name not in ua and name not in absorbed_b:
            changes.append(_change(name, "added", (), [], [y]))
    order = {n: i for i, n in enumerate([*ub, *(k for k in ua if k not in ub)])}
    changes.sort(key=lambda c: order.get(c.name, 1 << 30))
    return changes, same, consequential, len(ua), len(ub)


# ----------------------------------------------------------------------------- numbers

def _feature_rf(x: Analysis) -> tuple[int | None, str]:
    """(size in px, "") of an exact feature RF; (None, status) otherwise."""
    rf = x.feature_rf
    if rf is None:
        return None, "no feature map"
    if rf.status != "exact" or rf.size is None:
        return None, rf.status
    return int(rf.size[0]), ""


def _totals(a: Analysis, b: Analysis) -> tuple[Total, ...]:

    def sev(x: Analysis, s: str) -> int:
        return sum(f.severity == s for f in x.findings)

    ta, tb = a.totals, b.totals
    rows = [("params", "parameters", "count", ta.params, tb.params),
            ("macs", "MACs", "multiply-accumulates", ta.macs, tb.macs),
            ("paper_macs", "conv + linear MACs", "multiply-accumulates", ta.paper_macs,
             tb.paper_macs),
            ("activations", "activations", "elements", ta.activations, tb.activations),
            ("peak_activation_bytes", "peak activation memory", "bytes",
             ta.peak_activation_bytes, tb.peak_activation_bytes),
            ("weight_bytes", "weight memory", "bytes", ta.weight_bytes, tb.weight_bytes),
            ("layers", "layers", "count", len(a.graph.layers), len(b.graph.layers)),
            ("findings", "findings", "count", len(a.findings), len(b.findings))]
    rows += [(f"findings.{s}", f"findings ({s})", "count", sev(a, s), sev(b, s))
             for s in ("error", "warning", "info")]
    (ra, sa), (rb, sb) = _feature_rf(a), _feature_rf(b)
    out = [Total(*r) for r in rows]
    out.insert(6, Total("feature_rf", "feature RF", "input px", ra, rb, sa, sb))
    return tuple(out)


def stage_deltas(a: Analysis, b: Analysis) -> tuple[StageDelta, ...]:
    """Per stage index (then the head) of both models."""
    from archlens.metrics.stages import head_costs
    sa, sb = a.stages, b.stages
    rows = []
    for i in range(max(len(sa), len(sb))):
        x = sa[i] if i < len(sa) else None
        y = sb[i] if i < len(sb) else None
        rows.append(StageDelta(
            index=i, label_a=x.label if x else "", label_b=y.label if y else "",
            text_a=x.text if x else "", text_b=y.text if y else "",
            macs_a=x.macs if x else 0, macs_b=y.macs if y else 0,
            params_a=x.params if x else 0, params_b=y.params if y else 0,
            layers_a=x.layers if x else 0, layers_b=y.layers if y else 0))
    ha, hb = head_costs(a.graph), head_costs(b.graph)
    if ha["layers"] or hb["layers"]:
        rows.append(StageDelta(index=None, label_a="head", label_b="head",
                               text_a="head: non-spatial layers", text_b="head: non-spatial layers",
                               macs_a=ha["macs"], macs_b=hb["macs"], params_a=ha["params"],
                               params_b=hb["params"], layers_a=ha["layers"],
                               layers_b=hb["layers"]))
    return tuple(rows)


def _finding_key(f: Finding) -> tuple[str, str]:
    return (f.code, f.layers[0] if f.layers else "")


def compress_names(names: Sequence[str]) -> str:
    """``Mixed_5b, 5c, 5d``: after the first, each name drops the part up to the last
    separator (``_``, ``.``, ``-``) of the prefix it shares with the first."""
    names = list(dict.fromkeys(names))
    if not names:
        return ""
    first = names[0]
    out = [first]
    for n in names[1:]:
        k = 0
        while k < min(len(first), len(n)) and first[k] == n[k]:
            k += 1
        cut = max(first.rfind(sep, 0, k) for sep in "_.-") + 1
        out.append(n[cut:] if 0 < cut < len(n) else n)
    return ", ".join(out)


def _si(v: float) -> str:
    from archlens.render._numbers import si
    return si(v)


def _headline(d_macs: Total, stages: Sequence[StageDelta], changes: Sequence[Change],
              a: str, b: str, same: int, units_a: int, units_b: int) -> str:
    va, vb = d_macs.a, d_macs.b
    if not changes and va == vb:
        return f"{b} has the same structure and cost as {a} ({same} layer units, all the same)."
    ratio = f"{vb / va:.2f}x" if va else "n/a x"
    sign = "+" if vb >= va else "-"
    head = f"{b} costs {ratio} the MACs of {a} ({sign}{_si(abs(vb - va))} MACs)"
    delta = vb - va
    top_stage = None
    if delta:
        top = max(stages, key=lambda s: abs(s.macs_b - s.macs_a))
        top_stage = top.index
        share = (top.macs_b - top.macs_a) / delta
        if share > 0:
            where = top.label_b or top.label_a
            head += (", all in " if share > 0.995 else f", {share:.0%} of it in ") + \
                f"stage {where}"
    matched = same + sum(c.status == "changed" for c in changes)
    if matched < 0.5 * min(units_a, units_b):
        return head + (f"; only {matched} of {units_a} / {units_b} layer units share a module "
                       "path, so compare them by totals and stages.")
    ch = [c for c in changes if c.status == "changed"]
    if ch:
        in_top = [c for c in ch if top_stage is not None and c.stage == top_stage
                  and (c.macs_b - c.macs_a) * delta > 0] or ch
        head += f", from {compress_names([c.block for c in in_top])}: {_what(in_top)}"
    extra = []
    for status in ("added", "removed"):
        k = sum(c.status == status for c in changes)
        if k:
            extra.append(f"{k} unit{'s' if k != 1 else ''} {status}")
    if extra:
        head += " (" + ", ".join(extra) + ")"
    return head + "."


def _what(ch: Sequence[Change]) -> str:
    """What the changes are: ``7x7 instead of 1x7 + 7x1 (13 convs)`` for factorizations,
    else the kinds with their counts (``width (32 units), groups (16 units)``)."""
    import re

    def kern(text: str | None) -> str:
        return " + ".join(sorted(re.findall(r"\b\d+x\d+\b", text or "")))

    parts = []
    fs = [c for c in ch if "factorization" in c.kinds]
    if fs:
        (kb, ka), n = Counter((kern(c.b), kern(c.a)) for c in fs).most_common(1)[0]
        more = f", {len(fs) - n} other factorization{'s' if len(fs) - n != 1 else ''}" \
            if len(fs) > n else ""
        parts.append(f"{kb} instead of {ka} ({n} conv{'s' if n != 1 else ''}{more})")
    kinds = Counter(k for c in ch if "factorization" not in c.kinds for k in c.kinds)
    parts += [f"{k} ({n} unit{'s' if n != 1 else ''})"
              for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], KINDS.index(kv[0])))]
    return ", ".join(parts)


def diff(a: Analysis, b: Analysis) -> Diff:
    """Align ``b`` against ``a`` (deltas are B - A)."""
    changes, same, consequential, n_a, n_b = _align(a, b)
    totals = _totals(a, b)
    stages = stage_deltas(a, b)
    ka = {_finding_key(f): f for f in a.findings}
    kb = {_finding_key(f): f for f in b.findings}
    notes = []
    if tuple(a.input_shape) != tuple(b.input_shape):
        notes.append(f"the inputs differ ({'x'.join(map(str, a.input_shape[1:]))} vs "
                     f"{'x'.join(map(str, b.input_shape[1:]))}): stages are aligned by index, "
                     "costs of unchanged layers differ with the grid")
    d = Diff(a=a.model, b=b.model, input_shape_a=tuple(a.input_shape),
             input_shape_b=tuple(b.input_shape), totals=totals, changes=tuple(changes),
             same=same, consequential=consequential, units_a=n_a, units_b=n_b, stages=stages,
             only_a=tuple(f for k, f in ka.items() if k not in kb),
             only_b=tuple(f for k, f in kb.items() if k not in ka),
             both=tuple(k for k in ka if k in kb), notes=tuple(notes))
    from dataclasses import replace
    return replace(d, headline=_headline(d.total("macs"), stages, changes, a.model, b.model,
                                         same, n_a, n_b))


__all__ = ["Change", "Diff", "StageDelta", "Total", "Unit", "compress_names", "diff",
           "stage_deltas", "units"]


# ``archlens.diff`` is both this module and the public function: once this module is imported
# it shadows the lazy ``archlens.diff`` attribute, so the module itself is callable and calls
# :func:`archlens.api.diff` (analyses, analysis.json paths or models), as profile/sweep do.
class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> "Diff":
        from archlens.api import diff as api_diff
        return api_diff(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
