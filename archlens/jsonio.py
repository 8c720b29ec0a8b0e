"""The JSON form of an :class:`~archlens.analysis.Analysis` (schema ``archlens.analysis/1.1``;
``/1`` documents still load).

The contract is documented in docs/json-contract.md; :func:`analysis_from_dict` rebuilds the
graph from the document alone (layers carry their producers' names in ``inputs``).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from archlens.errors import ArchlensError
from archlens.graph import INPUT, RF_STATUSES, Graph, Node, ReceptiveField

if TYPE_CHECKING:  # pragma: no cover
    from archlens.analysis import Analysis

from archlens.analysis import SCHEMA  # noqa: E402  (one definition)
# documents this version reads: /1 (no receptive-field status: every number was exact) and /1.1
READABLE = ("archlens.analysis/1", SCHEMA)
UNITS = {"macs": "multiply-accumulates", "params": "count", "activations": "elements",
         "bytes": "bytes", "intensity": "MACs per byte", "rf": "input pixels"}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict) or isinstance(v, MappingProxyType):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def _tuples(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_tuples(x) for x in v)
    if isinstance(v, dict):
        return {k: _tuples(x) for k, x in v.items()}
    return v


def rf_to_dict(rf: ReceptiveField | None) -> dict[str, Any] | None:
    return rf.to_dict() if rf is not None else None


def rf_from_dict(d: dict[str, Any] | None) -> ReceptiveField | None:
    """Both schema versions: ``/1`` documents have no ``status`` (every number was exact)."""
    if d is None:
        return None

    def tup(v: Any) -> tuple[int, int] | None:
        return tuple(v) if v is not None else None  # type: ignore[return-value]
    status = d.get("status", "exact")
    if status not in RF_STATUSES:
        raise ArchlensError(f"receptive field status {status!r} is not one of "
                            f"{', '.join(RF_STATUSES)}")
    size = tup(d.get("size"))
    return ReceptiveField(size=size, min_size=tup(d.get("min_size", d.get("size"))),
                          stride=tup(d.get("stride")), padding=tup(d.get("padding")),
                          aligned=bool(d.get("aligned", True)), status=status,
                          reason=d.get("reason") or "", grid=tup(d.get("grid")),
                          node=d.get("node"), bound=tup(d.get("bound")))


def _pair(v: Any) -> list[int] | None:
    return list(v) if v is not None else None


def node_to_dict(n: Node) -> dict[str, Any]:
    return {"name": n.name, "type": n.type, "base_type": n.base_type, "kind": n.kind, "module": n.module,
            "inputs": list(n.inputs), "kernel": _pair(n.kernel), "stride": _pair(n.stride),
            "padding": _pair(n.padding), "dilation": _pair(n.dilation), "groups": n.groups,
            "in_shapes": [list(s) for s in n.in_shapes], "out_shape": list(n.out_shape),
            "params": n.params, "macs": n.macs, "activations": n.activations,
            "rf": rf_to_dict(n.rf), "stage": n.stage, "intensity": n.intensity,
            "attrs": _jsonable(dict(n.attrs))}


def node_from_dict(d: dict[str, Any]) -> Node:
    def tup(v):
        return tuple(v) if v is not None else None
    return Node(name=d["name"], type=d["type"], base_type=d.get("base_type") or d["type"],
                kind=d.get("kind", "module"),
                module=d.get("module", ""), inputs=tuple(d["inputs"]),
                in_shapes=tuple(tuple(s) for s in d["in_shapes"]),
                out_shape=tuple(d["out_shape"]), kernel=tup(d.get("kernel")),
                stride=tup(d.get("stride")), padding=tup(d.get("padding")),
                dilation=tup(d.get("dilation")), groups=d.get("groups"),
                attrs=MappingProxyType(_tuples(d.get("attrs") or {})),
                params=int(d.get("params", 0)), macs=int(d.get("macs", 0)),
                activations=int(d.get("activations", 0)), rf=rf_from_dict(d.get("rf")),
                stage=d.get("stage"), intensity=d.get("intensity"))


def analysis_to_dict(a: "Analysis") -> dict[str, Any]:
    inp = a.graph.input
    return {
        "schema": SCHEMA,
        "model": a.model,
        "input_shape": list(a.input_shape),
        "dtype": a.dtype,
        "device": a.device,
        "units": dict(UNITS),
        "totals": a.totals.to_dict(),
        "feature_rf": rf_to_dict(a.feature_rf),
        "outputs": list(a.graph.outputs),
        "input": {"name": inp.name, "rf": rf_to_dict(inp.rf), "stage": inp.stage},
        "stages": [s.to_dict() for s in a.stages],
        "layers": [node_to_dict(n) for n in a.graph.layers],
        "unsupported_ops": dict(a.unsupported_ops),
        "findings": [f.to_dict() for f in a.findings],
        "counter": a.counter,
        "notes": list(a.notes),
    }


def analysis_from_dict(d: dict[str, Any]) -> "Analysis":
    from archlens.analysis import Analysis, Finding, Totals
    if not isinstance(d, dict):
        raise ArchlensError("not an archlens analysis document (expected a JSON object)")
    if d.get("schema") not in READABLE:
        raise ArchlensError(f"not an archlens analysis document (schema {d.get('schema')!r}, "
                            f"expected one of {', '.join(READABLE)})")
    from archlens.validate import check_analysis_document
    check_analysis_document(d, INPUT)  # one line naming the bad field
    shape = tuple(d["input_shape"])
    inp_extra = d.get("input") or {}
    nodes = [Node(name=INPUT, type="input", kind="input", module="", inputs=(), in_shapes=(),
                  out_shape=shape, rf=rf_from_dict(inp_extra.get("rf")),
                  stage=inp_extra.get("stage"))]
    nodes += [node_from_dict(x) for x in d["layers"]]
    # Stage numbers are re-derived from the shapes (archlens.metrics.stages), so a document
    # written by 0.1 (log2 numbering, with gaps) reads with the same stages as a fresh one.
    from dataclasses import replace as _replace

    from archlens.metrics.stages import stage_index
    hw = (shape[2], shape[3]) if len(shape) == 4 else None
    nodes = [_replace(n, stage=st) for n, st in zip(nodes, stage_index(nodes, hw))]
    outputs = tuple(d.get("outputs") or ((nodes[-1].name,) if nodes else ()))
    graph = Graph(nodes=tuple(nodes), outputs=outputs)
    findings = tuple(
        Finding(code=f["code"], severity=f["severity"], layers=tuple(f["layers"]),
                message=f["message"], evidence=f["evidence"], fix=f.get("fix", ""),
                saving=f.get("saving"), data=f.get("data") or {})
        for f in d.get("findings", ()))
    return Analysis(model=d["model"], input_shape=shape, dtype=d.get("dtype", "float32"),
                    device=d.get("device", "cpu"), graph=graph,
                    totals=Totals.from_dict(d["totals"]),
                    feature_rf=rf_from_dict(d.get("feature_rf")),
                    unsupported_ops={k: int(v) for k, v in d.get("unsupported_ops", {}).items()},
                    findings=findings, counter=d.get("counter", "unrecorded"),
                    notes=tuple(d.get("notes", ())))


def read_analysis(path: "str | os.PathLike[str]") -> "Analysis":
    """An ``analysis.json`` file (``archlens analyze --json`` or a report's) as an Analysis,
    read through :func:`archlens.io.load_json_bounded`; a missing, unreadable or malformed
    file is a one-line :class:`ArchlensError`."""
    import os  # noqa: F401 - annotation
    from archlens.io import load_json_bounded
    from archlens.sanitize import visible
    doc = load_json_bounded(path, what="analysis document")
    if not isinstance(doc, dict):
        raise ArchlensError(f"{visible(path)}: not an archlens analysis document (expected a "
                            "JSON object)")
    try:
        return analysis_from_dict(doc)
    except ArchlensError as e:
        raise ArchlensError(f"{visible(path)}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise ArchlensError(f"{visible(path)}: malformed archlens analysis document "
                            f"({type(e).__name__}: {visible(e)})") from None
