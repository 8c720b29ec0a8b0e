"""Parsing and validating input shapes ("3x299x299" -> (3, 299, 299))."""
from __future__ import annotations

from collections.abc import Sequence

from archlens.errors import InputShapeError


def parse_shape(text: str | Sequence[int]) -> tuple[int, ...]:
    """Parse ``CxHxW`` (or ``C,H,W``; also ``F`` or ``CxL`` for non-image models).

    Every dimension must be a positive integer; the message says which one is not.
    """
    if not isinstance(text, str):
        dims = tuple(text)
        raw = "x".join(str(d) for d in dims)
    else:
        raw = text.strip().lower().replace(",", "x").replace("×", "x")
        parts = [p.strip() for p in raw.split("x")]
        dims = []
        for p in parts:
            try:
                dims.append(int(p))
            except ValueError:
                raise InputShapeError(f"malformed input shape {text!r}: {p!r} is not an integer "
                                      "(expected CxHxW, e.g. 3x299x299)") from None
        dims = tuple(dims)
    if not dims or len(dims) > 4:
        raise InputShapeError(f"malformed input shape {raw!r}: expected CxHxW, e.g. 3x299x299")
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool) or d <= 0:
            raise InputShapeError(f"malformed input shape {raw!r}: every dimension must be a "
                                  "positive integer (expected CxHxW, e.g. 3x299x299)")
    return dims


def format_shape(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)
