"""One exception hierarchy. Every message is one line that says what went wrong and what to do.

The CLI turns any :class:`ArchlensError` into ``archlens: error: <message>`` on stderr and exit
code 2; nothing a user can cause ends in a traceback.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class ArchlensError(Exception):
    """Base class of every error archlens raises on purpose."""


class UnknownModelError(ArchlensError, KeyError):
    """A zoo name that is not registered (the message carries close-match suggestions)."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name = name
        self.suggestions = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
        hint = f"; did you mean: {', '.join(self.suggestions)}?" if self.suggestions else (
            "; run 'archlens zoo' to list the models")
        super().__init__(f"unknown model {name!r}{hint}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class DuplicateModelError(ArchlensError):
    """A zoo name registered twice."""


class ModelLoadError(ArchlensError):
    """A model reference (file.py:callable, pkg.mod:callable) that cannot be loaded."""


class InputShapeError(ArchlensError, ValueError):
    """A malformed input shape, or one too small for the network."""


class ModelForwardError(ArchlensError):
    """The model's forward pass raised; the message names the module path and its input shape."""


class UnsupportedModelError(ArchlensError):
    """A model archlens cannot analyse (and why)."""


class ConfigError(ArchlensError, ValueError):
    """A bad configuration value (pyproject [tool.archlens], --config, --select ...)."""


class OutputError(ArchlensError, OSError):
    """An output path that cannot be written (nothing is left half-written)."""


class MissingDependencyError(ArchlensError):
    """An optional system component (graphviz 'dot', Chromium) is absent; says how to install it."""


def suggest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Close matches of ``name`` among ``known`` (for 'did you mean' hints)."""
    return difflib.get_close_matches(name, list(known), n=n, cutoff=0.6)


class UserCodeError(ArchlensError):
    """The user's model code stopped the analysis (sys.exit, recursion, out of memory...);
    the message says where: importing, building or the forward pass, and the file:line."""


class ResourceLimitError(ArchlensError):
    """An analysis refused or stopped by a limit: --max-memory (estimated on meta) or
    --timeout; the message gives the numbers and the way out (--device meta, a larger limit)."""


class SweepSpecError(ConfigError):
    """A sweep spec (TOML) that cannot run: unknown builder or key, a parameter the builder does
    not accept, an empty grid, contradictory constraints. Raised before any work starts."""


class ClusterError(ArchlensError):
    """A Ray cluster that cannot be reached or started (the message names the address)."""
