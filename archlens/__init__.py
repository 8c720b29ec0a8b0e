"""archlens: analyse and visualise convolutional network architectures.

Public API (everything the CLI and the dashboard use):

- :func:`analyze` (model -> :class:`~archlens.analysis.Analysis`)
- :func:`check` (analysis -> findings)
- :func:`report` (analysis -> report folder)
- :func:`effective_rf` (model + layer -> measured effective receptive field)
- :func:`diff` (two analyses -> :class:`~archlens.diff.Diff` data), :func:`load`
- :func:`profile` (model -> measured per-layer latency, :class:`~archlens.profile.Profile`)
- :func:`sweep` (TOML spec -> design-space results table, on Ray), :func:`load_sweep`
- :mod:`archlens.zoo` (list_models, get_model, card)
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["analyze", "check", "diff", "load", "report", "compare", "effective_rf", "profile",
           "sweep", "load_sweep", "zoo", "__version__"]


def __getattr__(name: str):
    # Lazy: `import archlens` must not import torch until something needs it.
    if name in ("zoo", "profile"):  # archlens.profile: a callable package (see its doc)
        import importlib
        return importlib.import_module(f"archlens.{name}")
    if name == "sweep":  # the package, callable as the API function (see its docstring)
        import importlib
        return importlib.import_module("archlens.sweep")
    if name in ("analyze", "check", "diff", "load", "report", "compare", "effective_rf",
                "load_sweep"):
        from archlens import api
        return getattr(api, name)
    raise AttributeError(f"module 'archlens' has no attribute {name!r}")
