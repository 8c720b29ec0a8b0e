"""Result data types: :class:`Analysis` (graph + totals) and :class:`Finding` (a check result).

Pure data and its JSON form (the contract in docs/json-contract.md); no computation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archlens.graph import Graph, ReceptiveField

if TYPE_CHECKING:  # pragma: no cover
    from archlens.metrics.stages import Stage

SCHEMA = "archlens.analysis/1.1"  # /1 documents still load (archlens.jsonio)
SEVERITIES = ("error", "warning", "info")  # most severe first


@dataclass(frozen=True)
class Finding:
    """One design-principle finding.

    code      rule code, e.g. ``P3.factorize-5x5``
    severity  "error" | "warning" | "info"
    layers    node names involved (first = the one to fix)
    message   one line: what is wrong, citing the principle
    evidence  the numbers that triggered it (with units)
    fix       what to change, concretely
    saving    exact saving of the fix on this layer's real shapes: {"macs": int, "params": int}
    data      machine-readable evidence (ratios, shapes, assumed widths ...)
    """

    code: str
    severity: str
    layers: tuple[str, ...]
    message: str
    evidence: str
    fix: str = ""
    saving: dict[str, int] | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def principle(self) -> str:
        return self.code.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "layers": list(self.layers),
                "message": self.message, "evidence": self.evidence, "fix": self.fix,
                "saving": dict(self.saving) if self.saving is not None else None,
                "data": self.data}


@dataclass(frozen=True)
class Totals:
    params: int
    trainable_params: int
    macs: int
    paper_macs: int           # conv + linear only (the convention of published tables)
    activations: int          # sum of output elements of all layers
    weight_bytes: int         # parameters x bytes per element at the analysed dtype
    peak_activation_bytes: int  # estimate: max live tensor bytes over the execution order
    unused_params: int = 0    # params of modules the traced pass never ran (e.g. AuxLogits)

    def to_dict(self) -> dict[str, int]:
        return {"params": self.params, "trainable_params": self.trainable_params,
                "macs": self.macs, "paper_macs": self.paper_macs,
                "activations": self.activations, "weight_bytes": self.weight_bytes,
                "peak_activation_bytes": self.peak_activation_bytes,
                "unused_params": self.unused_params}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Totals":
        return cls(**{k: int(d[k]) for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Analysis:
    model: str                      # zoo name, reference string, or class name
    input_shape: tuple[int, ...]    # (N, C, H, W)
    dtype: str                      # e.g. "float32"
    device: str                     # "cpu" | "meta" | "cuda"
    graph: Graph
    totals: Totals
    feature_rf: ReceptiveField | None
    unsupported_ops: dict[str, int] = field(default_factory=dict)  # op -> times seen, uncounted
    findings: tuple[Finding, ...] = ()
    counter: str = "eager"          # the MAC counter: "eager" (default) or "fvcore"
    notes: tuple[str, ...] = ()     # what the engine did differently, for the user (stderr)

    @property
    def stages(self) -> "tuple[Stage, ...]":
        """The grid stages (:mod:`archlens.metrics.stages`): contiguous numbers in depth
        order, each with its grids and effective stride; derived from ``Node.stage``."""
        cached = self.__dict__.get("_stages")
        if cached is None:
            from archlens.metrics.stages import stages
            cached = stages(self.graph)
            object.__setattr__(self, "_stages", cached)
        return cached

    def with_findings(self, findings) -> "Analysis":
        from dataclasses import replace
        return replace(self, findings=tuple(findings))

    # ----- JSON (docs/json-contract.md) ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The ``archlens.analysis/1.1`` document: plain JSON types only."""
        from archlens.jsonio import analysis_to_dict
        return analysis_to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Analysis":
        """Rebuild an Analysis (graph included) from its JSON document alone."""
        from archlens.jsonio import analysis_from_dict
        return analysis_from_dict(d)

    @classmethod
    def from_json(cls, text: str) -> "Analysis":
        return cls.from_dict(json.loads(text))

    def _repr_html_(self) -> str:
        """Jupyter: summary cards and findings (archlens.render.html.repr_html)."""
        from archlens.render.html import repr_html
        return repr_html(self)
