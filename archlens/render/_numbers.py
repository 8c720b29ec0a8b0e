"""Number formatting shared by the report renderers: every number carries its unit."""
from __future__ import annotations

from collections.abc import Sequence

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def si(value: float, digits: int = 3) -> str:
    """``5713000000 -> '5.71 G'`` (3 significant digits; plain integers below 1000)."""
    v = float(value)
    for scale, prefix in _PREFIXES:
        if abs(v) >= scale:
            return f"{_sig(v / scale, digits)} {prefix}"
    if v == int(v):
        return f"{int(v)}"
    return _sig(v, digits)


def _sig(v: float, digits: int) -> str:
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.{max(digits - 2, 0)}f}"
    return f"{v:.{max(digits - 1, 0)}f}"


def macs(value: float) -> str:
    """``5.71 G MACs``: the one spelling of a MAC count everywhere (prefix, space, unit)."""
    return f"{si(value)} MACs"


def params(value: float) -> str:
    return f"{si(value)} params"


def signed(value: float, unit: str = "") -> str:
    """A delta with an explicit sign: ``+1.2 G``, ``-340 K``, ``0``."""
    if value == 0:
        return f"0{(' ' + unit) if unit else ''}"
    sign = "+" if value > 0 else "-"
    return f"{sign}{si(abs(value))}{(' ' + unit) if unit else ''}"


def delta(va: float, vb: float, unit: str = "") -> str:
    """B - A with its unit and relative change: ``+4.00 G MACs (+70.1%)``, ``0``,
    ``+12 (new)`` when A is 0. The comparison's tables and charts print this text."""
    d = vb - va
    u = f" {unit}" if unit else ""
    if d == 0:
        return f"0{u}"
    rel = f" ({d / va:+.1%})" if va else " (new)"
    return f"{signed(d)}{u}{rel}"


def pct(part: float, whole: float, digits: int = 1) -> str:
    return f"{100.0 * part / whole:.{digits}f} %" if whole else "n/a"


def shape(s: Sequence[int] | None, batch: bool = False) -> str:
    if not s:
        return ""
    dims = list(s if batch else s[1:]) or list(s)
    return "x".join(str(d) for d in dims)


def pair(p: Sequence[int] | None) -> str:
    """``(3, 3) -> '3'``, ``(1, 7) -> '1x7'``; any number of axes (Conv1d, Conv3d)."""
    if not p:
        return ""
    return str(p[0]) if len(set(p)) == 1 else "x".join(str(v) for v in p)


def rf(field, short: bool = False) -> str:
    """One receptive field with its status, the one wording every renderer uses:

    ``"1311 px"`` (exact; ``"35x1311 px"`` when H and W differ), ``"global (whole input, 299 px)
    -- attention in blocks.0.attn"``, ``"unknown -- <reason naming the op>"``, ``"n/a"`` (the
    node holds no map of the image). ``short``: the table-cell form (``"1311"``, ``"global"``,
    ``"unknown"``) under a column headed "RF (px)". The reason text comes from the model (module
    names): sanitise it for the sink like any model-supplied name.
    """
    if field is None:
        return "n/a"
    status = getattr(field, "status", "exact")
    if status == "unknown":
        return "unknown" if short else f"unknown -- {field.reason or 'reason not recorded'}"
    if status == "global":
        if short:
            return "global"
        return (f"global (whole input, {pair(field.size)} px)"
                + (f" -- {field.reason}" if field.reason else ""))
    return pair(field.size) if short else f"{pair(field.size)} px"
