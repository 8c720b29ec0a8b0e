"""Where the milliseconds go: measured latency per node of the analysed graph, memory traffic,
a measured device roofline and an analytical estimate beside the measurement.

    >>> import archlens
    >>> p = archlens.profile("resnet50", threads=2)          # doctest: +SKIP
    >>> p.whole_median_s, p.sum_median_s, p["fc"].median_s   # doctest: +SKIP

``archlens.profile`` is both this package and the function that runs a profile: the package
module is callable (``archlens.profile(...)`` is :func:`archlens.api.profile`),
so ``from archlens.profile import Profile`` and ``archlens.profile("resnet50")`` both work.
Design notes and the JSON schema: docs/profile.md.
"""
from __future__ import annotations

import sys
import types

from typing import Any

from archlens.profile.result import SCHEMA, LayerProfile, Profile, load
from archlens.profile.roofline import Roofline, measure_roofline
from archlens.profile.traffic import Traffic, node_traffic

__all__ = ["profile_model", "Profile", "LayerProfile", "Roofline", "measure_roofline",
           "Traffic", "node_traffic", "load", "SCHEMA", "ProfileError"]


def __getattr__(name: str) -> Any:
    # the measuring side imports torch: loaded on first use, so the pure parts (traffic,
    # result) stay cheap to import (the G checks read them)
    if name in ("profile_model", "ProfileError"):
        from archlens.profile import run
        return getattr(run, name)
    raise AttributeError(f"module 'archlens.profile' has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Profile:
        from archlens.api import profile   # with the guards around the user's code
        return profile(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
