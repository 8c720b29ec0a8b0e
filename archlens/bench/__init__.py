"""Latency bench of factorized vs full convolutions (Inception-v3's factorizations).

Saved MACs are not saved milliseconds: this measures both on the user's own hardware.

>>> from archlens.bench import BenchConfig, run_factorization, save_results
>>> doc = run_factorization(BenchConfig(quick=True))          # doctest: +SKIP
>>> save_results(doc, "bench.json")                            # doctest: +SKIP

Modules: :mod:`.factorization` (cases, the two forms, closed-form costs), :mod:`.timing`
(device-specific timing only), :mod:`.env` (environment record), :mod:`.results`
(``archlens.bench/1`` JSON), :mod:`.run` (orchestration).
"""
from __future__ import annotations

__all__ = ["BenchConfig", "Case", "default_cases", "run_factorization", "load_results",
           "save_results", "validate", "SCHEMA"]


def __getattr__(name: str):
    # Lazy, so `archlens.bench.results` can be used (report, dashboard) without importing torch.
    if name in ("BenchConfig", "run_factorization"):
        from archlens.bench import run
        return getattr(run, name)
    if name in ("Case", "default_cases"):
        from archlens.bench import factorization
        return getattr(factorization, name)
    if name in ("load_results", "save_results", "validate", "SCHEMA"):
        from archlens.bench import results
        return getattr(results, name)
    raise AttributeError(f"module 'archlens.bench' has no attribute {name!r}")
