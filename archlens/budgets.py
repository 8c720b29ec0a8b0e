"""CI budgets for ``archlens compare BASELINE MODEL --fail-if EXPR``: parse and evaluate.

An expression is ``METRIC OP VALUE``:

* ``METRIC`` -- a total of the diff (:data:`METRICS`): ``macs``, ``params``, ``feature_rf``,
  ``findings.error`` ...
* ``OP`` -- ``>``, ``>=``, ``<``, ``<=``; the budget is *exceeded* when the comparison holds.
* ``VALUE`` -- with a sign (``+2%``, ``+0``, ``-0``, ``-1.5M``) it bounds the change
  B - A, as a percentage of A when it ends in ``%``; without a sign (``0``, ``5G``) it bounds
  B's own value. ``K``/``M``/``G``/``T`` multiply by 10^3 ... 10^12.

So ``macs>+2%`` fails when B costs more than 2 % more MACs than A, ``params>+0`` when B has
any extra parameter, ``feature_rf<-0`` when B's receptive field shrank, ``findings.error>0``
when B has an error finding.
"""
from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from archlens.errors import ConfigError

METRICS = ("macs", "paper_macs", "params", "activations", "peak_activation_bytes",
           "weight_bytes", "feature_rf", "layers", "findings", "findings.error",
           "findings.warning", "findings.info")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_SCALE = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_EXPR = re.compile(r"^\s*([a-z_.]+)\s*(>=|<=|>|<)\s*([+-]?)(\d+(?:\.\d+)?)\s*([KMGT]?)\s*(%?)\s*$",
                   re.I)
_UNITS = {"macs": "MACs", "paper_macs": "MACs", "params": "params", "activations": "elements",
          "peak_activation_bytes": "bytes", "weight_bytes": "bytes", "feature_rf": "px",
          "layers": "layers", "findings": "findings", "findings.error": "error findings",
          "findings.warning": "warning findings", "findings.info": "info findings"}


@dataclass(frozen=True)
class Budget:
    text: str          # as written
    metric: str
    op: str
    value: float       # the bound: a delta (relative: in percent) or B's value
    delta: bool        # signed value: bounds B - A
    relative: bool     # ends in %: bounds (B - A) / A in percent


@dataclass(frozen=True)
class Outcome:
    budget: Budget
    exceeded: bool
    message: str       # one line: the measured figure with its unit


def parse(text: str) -> Budget:
    """One ``--fail-if`` expression; a malformed one is a one-line :class:`ConfigError`."""
    m = _EXPR.match(text or "")
    hint = (f"expected METRIC OP VALUE such as 'macs>+2%', 'params>+0', 'feature_rf<-0' or "
            f"'findings.error>0' (OP: > >= < <=; METRIC: {', '.join(METRICS)})")
    if not m:
        raise ConfigError(f"--fail-if {text!r}: {hint}")
    metric, op, sign, num, scale, pct = m.groups()
    metric = metric.lower()
    if metric not in METRICS:
        from archlens.errors import suggest
        close = suggest(metric, METRICS)
        raise ConfigError(f"--fail-if {text!r}: unknown metric {metric!r}"
                          + (f"; did you mean {close[0]}?" if close else f"; {hint}"))
    if pct and not sign:
        raise ConfigError(f"--fail-if {text!r}: a percentage bounds the change from A, so it "
                          f"needs a sign: '{metric}{op}+{num}%' or '{metric}{op}-{num}%'")
    if pct and scale:
        raise ConfigError(f"--fail-if {text!r}: a percentage takes no K/M/G suffix")
    value = float(num) * _SCALE[scale.upper()] * (-1 if sign == "-" else 1)
    return Budget(text=text.strip(), metric=metric, op=op, value=value, delta=bool(sign),
                  relative=bool(pct))


def parse_all(texts: Iterable[str] | None) -> list[Budget]:
    return [parse(t) for t in texts or ()]


def _num(v: float, metric: str) -> str:
    from archlens.render._numbers import si
    if metric in ("feature_rf", "layers") or metric.startswith("findings"):
        return f"{int(v):,}"
    return si(v)


def evaluate(diff, budgets: Sequence[Budget]) -> list[Outcome]:
    """Each budget against a :class:`~archlens.diff.Diff` (A = baseline, B = candidate)."""
    out = []
    for bgt in budgets:
        t = diff.total(bgt.metric)
        unit = _UNITS[bgt.metric]
        if not t.known:  # a global / unknown feature RF has no number: the budget cannot
            # pass silently (it is reported exceeded, saying why)
            sa, sb = t.status_a or "exact", t.status_b or "exact"
            out.append(Outcome(budget=bgt, exceeded=True, message=(
                f"budget cannot be checked: {bgt.text}: {bgt.metric} of {diff.a} is {sa}, "
                f"of {diff.b} {sb} (no number to compare)")))
            continue
        d = t.b - t.a
        if bgt.relative:
            measured = (d / t.a * 100) if t.a else (0.0 if d == 0 else math.copysign(math.inf, d))
        else:
            measured = d if bgt.delta else t.b
        exceeded = _OPS[bgt.op](measured, bgt.value)
        rel = f"{d / t.a:+.1%}" if t.a else ("+0.0%" if d == 0 else "A is 0")
        sign = "+" if d >= 0 else "-"
        figure = (f"{bgt.metric} {sign}{_num(abs(d), bgt.metric)} {unit} ({rel}; "
                  f"{_num(t.a, bgt.metric)} -> {_num(t.b, bgt.metric)} {unit})")
        if not bgt.delta:
            figure = f"{bgt.metric} of {diff.b}: {_num(t.b, bgt.metric)} {unit}"
        out.append(Outcome(budget=bgt, exceeded=exceeded,
                           message=f"{'budget exceeded' if exceeded else 'budget ok'}: "
                                   f"{bgt.text}: {figure}"))
    return out


__all__ = ["Budget", "METRICS", "Outcome", "evaluate", "parse", "parse_all"]
