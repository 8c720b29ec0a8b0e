"""Design-space sweeps: a TOML spec -> thousands of variants analysed on Ray -> one table.

``archlens.sweep`` is both this package and the public API function: calling it,
``archlens.sweep(spec, out=None, *, workers=None, address=None, resume=False)``, runs
:func:`archlens.api.sweep` (a package attribute named like the package would otherwise be
shadowed by the package itself once imported).

Stages (data flows one way): :mod:`spec` (parse and validate) -> :mod:`variants` (expansion,
deterministic ids) -> :mod:`worker` (one variant -> one row, inside a Ray task) ->
:mod:`store` (incremental Parquet, final table, summary) -> :mod:`fronts` (Pareto fronts,
EDFs, the width/depth plane: pure functions of the table) -> ``archlens.render.sweep``.
:mod:`runner` drives it on Ray. Design notes: docs/sweep.md.
"""
import sys
import types

from archlens.sweep.runner import SweepInterrupted, SweepResult, load_sweep, run_sweep
from archlens.sweep.spec import SweepSpec, load_spec

__all__ = ["SweepInterrupted", "SweepResult", "SweepSpec", "load_spec", "load_sweep",
           "run_sweep"]


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from archlens.api import sweep
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
