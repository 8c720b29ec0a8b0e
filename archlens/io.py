"""Reading files a user points at (analysis documents, bench results), with limits.

    read_text_bounded(path, what=..., limit=...)   UTF-8 text of a regular file, at most
                                                   ``limit`` bytes
    load_json_bounded(path, what=..., limit=...)   the same, parsed as JSON

Each failure is one :class:`InputFileError` line naming the file and what to do: missing,
a folder, not a regular file (``/dev/zero``, a FIFO that would block), larger than the limit
(checked before and while reading, so an endless file cannot exhaust memory), not UTF-8,
not JSON (line and column), nested too deeply for the parser, or NaN/Infinity.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from archlens.errors import ArchlensError

DEFAULT_LIMIT = 256 * 2**20  # bytes; inception_v3's analysis.json is about 1 MiB


class InputFileError(ArchlensError, ValueError):
    """A file given to archlens that cannot be read as what it should be."""


def _shown(path: Path | str) -> str:
    from archlens.sanitize import visible
    s = visible(str(path))
    return s if len(s) <= 120 else s[:60] + "..." + s[-57:]


def read_text_bounded(path: str | Path, *, what: str = "file", limit: int = DEFAULT_LIMIT,
                      error: type[ArchlensError] = InputFileError) -> str:
    """The UTF-8 text of ``path`` (a regular file of at most ``limit`` bytes)."""
    p = Path(path).expanduser()
    name = f"{what} {_shown(path)!r}"
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{name} does not exist; check the path") from None
    except OSError as e:
        raise error(f"cannot read {name}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{name} is a folder; give a file") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{name} is not a regular file (a device, pipe or socket); give a file")
    if st.st_size > limit:
        raise error(f"{name} is {st.st_size:,} bytes, over the {limit:,}-byte limit for a "
                    f"{what}")
    try:
        with open(p, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise error(f"cannot read {name}: {e.strerror or e}") from None
    if len(data) > limit:
        raise error(f"{name} is over the {limit:,}-byte limit for a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{name} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
                    f"{e.start}); give a {what} archlens wrote") from None


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def load_json_bounded(path: str | Path, *, what: str = "JSON file",
                      limit: int = DEFAULT_LIMIT,
                      error: type[ArchlensError] = InputFileError) -> Any:
    """``path`` parsed as strict JSON (no NaN/Infinity), with the limits above."""
    text = read_text_bounded(path, what=what, limit=limit, error=error)
    name = f"{what} {_shown(path)!r}"
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise error(f"{name} is not JSON (line {e.lineno}, column {e.colno}: {e.msg})") \
            from None
    except ValueError as e:
        raise error(f"{name} is not strict JSON: {e}") from None
    except RecursionError:
        raise error(f"{name} is nested too deeply to be a {what}") from None
