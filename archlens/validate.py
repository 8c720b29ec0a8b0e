"""Validation of analysis documents (``analysis.json``) before they are rebuilt.

:func:`check_analysis_document` raises one :class:`AnalysisDocumentError` naming the first
bad field by its path (``layers[12].macs``) with what was expected and what was found.
It checks what a reader relies on: types (integers are never booleans or floats), signs
(counts and sizes are non-negative, shapes positive or zero), the totals against the layers
(MACs and activations are the layer sums; parameters are the layer sums plus
``unused_params``; paper-profile MACs and trainable parameters at most the totals), and the
graph references (layer names unique, every ``inputs`` entry names the input or an earlier
layer, every ``outputs`` entry a layer). Keys it does not know are left alone (newer
writers add keys; a reader of schema 1 ignores them); the keys it knows are checked when
present, so receptive-field status keys added in 1.x are validated only as what they are.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archlens.errors import ArchlensError


class AnalysisDocumentError(ArchlensError, ValueError):
    """An analysis document with a missing or malformed field (the message names it)."""


def _fail(path: str, expected: str, value: Any) -> None:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise AnalysisDocumentError(f"malformed analysis document: {path} must be {expected}, "
                                f"got {shown}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _count(d: Mapping, key: str, path: str, *, required: bool = False) -> int | None:
    if key not in d:
        if required:
            _fail(f"{path}.{key}" if path else key, "present (a non-negative integer)",
                  None)
        return None
    v = d[key]
    if not _is_int(v) or v < 0:
        _fail(f"{path}.{key}" if path else key, "a non-negative integer", v)
    return v


def _str(d: Mapping, key: str, path: str, *, required: bool = True,
         empty: bool = True) -> str | None:
    if key not in d or d[key] is None:
        if required:
            _fail(f"{path}.{key}" if path else key, "a string", d.get(key))
        return None
    v = d[key]
    if not isinstance(v, str) or (not empty and not v):
        _fail(f"{path}.{key}" if path else key, "a non-empty string" if not empty
              else "a string", v)
    return v


def _ints(v: Any, path: str, *, minimum: int | None = 0, length: tuple[int, int] = (0, 8),
          nullable: bool = False) -> None:
    if v is None and nullable:
        return
    what = (f"a list of {length[0]}..{length[1]} integers"
            + (f" >= {minimum}" if minimum is not None else ""))
    if not isinstance(v, list) or not length[0] <= len(v) <= length[1]:
        _fail(path, what, v)
    for x in v:
        if not _is_int(x) or (minimum is not None and x < minimum):
            _fail(path, what, v)


def _rf(v: Any, path: str) -> None:
    if v is None:
        return
    if not isinstance(v, dict):
        _fail(path, "an object or null", v)
    for key in ("size", "stride", "padding"):
        if key not in v:
            continue  # an RF of status 'unknown'/'global' may carry no numbers
        _ints(v[key], f"{path}.{key}", minimum=None if key == "padding" else 0,
              length=(1, 3), nullable=True)
    if "min_size" in v:
        _ints(v["min_size"], f"{path}.min_size", length=(1, 3), nullable=True)
    if "status" in v and not isinstance(v["status"], str):
        _fail(f"{path}.status", "a string", v["status"])


def check_analysis_document(d: Any, input_name: str = "input") -> None:
    """Raise :class:`AnalysisDocumentError` unless ``d`` is a well-formed analysis document
    (the schema string itself is checked by the reader)."""
    if not isinstance(d, dict):
        _fail("the document", "a JSON object", type(d).__name__)
    _str(d, "model", "")
    _ints(d.get("input_shape"), "input_shape", minimum=1, length=(1, 5))
    for key in ("dtype", "device"):
        _str(d, key, "", required=False)

    totals = d.get("totals")
    if not isinstance(totals, dict):
        _fail("totals", "an object", totals)
    t = {k: _count(totals, k, "totals", required=k in ("params", "macs"))
         for k in ("params", "trainable_params", "macs", "paper_macs", "activations",
                   "weight_bytes", "peak_activation_bytes", "unused_params")}

    layers = d.get("layers")
    if not isinstance(layers, list):
        _fail("layers", "a list", layers)
    seen = {input_name}
    sums = {"params": 0, "macs": 0, "activations": 0}
    for i, layer in enumerate(layers):
        p = f"layers[{i}]"
        if not isinstance(layer, dict):
            _fail(p, "an object", layer)
        name = _str(layer, "name", p, empty=False)
        if name in seen:
            _fail(f"{p}.name", "unique (and not the input's name)", name)
        _str(layer, "type", p, empty=False)
        for key in ("base_type", "kind", "module"):
            _str(layer, key, p, required=False)
        inputs = layer.get("inputs")
        if not isinstance(inputs, list):
            _fail(f"{p}.inputs", "a list of layer names", inputs)
        for j, src in enumerate(inputs):
            if not isinstance(src, str) or src not in seen:
                _fail(f"{p}.inputs[{j}]", "the input or an earlier layer's name", src)
        in_shapes = layer.get("in_shapes")
        if not isinstance(in_shapes, list):
            _fail(f"{p}.in_shapes", "a list of shapes", in_shapes)
        for j, s in enumerate(in_shapes):
            _ints(s, f"{p}.in_shapes[{j}]")
        _ints(layer.get("out_shape"), f"{p}.out_shape")
        for key in ("kernel", "stride", "dilation"):
            _ints(layer.get(key), f"{p}.{key}", minimum=1, length=(1, 3), nullable=True)
        _ints(layer.get("padding"), f"{p}.padding", minimum=None, length=(1, 6),
              nullable=True)
        if layer.get("groups") is not None and (not _is_int(layer["groups"])
                                                or layer["groups"] < 1):
            _fail(f"{p}.groups", "a positive integer or null", layer["groups"])
        if layer.get("stage") is not None and (not _is_int(layer["stage"])
                                               or layer["stage"] < 0):
            _fail(f"{p}.stage", "a non-negative integer or null", layer["stage"])
        for key in sums:
            v = _count(layer, key, p)
            sums[key] += v or 0
        _rf(layer.get("rf"), f"{p}.rf")
        if layer.get("attrs") is not None and not isinstance(layer["attrs"], dict):
            _fail(f"{p}.attrs", "an object", layer["attrs"])
        seen.add(name)

    if sums["macs"] != t["macs"]:
        _fail("totals.macs", f"the sum of the layers' MACs ({sums['macs']:,})", t["macs"])
    if t["activations"] is not None and sums["activations"] != t["activations"]:
        _fail("totals.activations", f"the sum of the layers' activations "
              f"({sums['activations']:,})", t["activations"])
    unused = t["unused_params"]
    if unused is not None and sums["params"] + unused != t["params"]:
        _fail("totals.params", f"the layers' parameters plus unused_params "
              f"({sums['params'] + unused:,})", t["params"])
    if unused is None and sums["params"] > t["params"]:
        _fail("totals.params", f"at least the layers' parameters ({sums['params']:,})",
              t["params"])
    if t["paper_macs"] is not None and t["paper_macs"] > t["macs"]:
        _fail("totals.paper_macs", f"at most totals.macs ({t['macs']:,})", t["paper_macs"])
    if t["trainable_params"] is not None and t["trainable_params"] > t["params"]:
        _fail("totals.trainable_params", f"at most totals.params ({t['params']:,})",
              t["trainable_params"])

    outputs = d.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list):
            _fail("outputs", "a list of layer names", outputs)
        for j, o in enumerate(outputs):
            if not isinstance(o, str) or o not in seen:
                _fail(f"outputs[{j}]", "a layer's name", o)
    _rf(d.get("feature_rf"), "feature_rf")
    inp = d.get("input")
    if inp is not None:
        if not isinstance(inp, dict):
            _fail("input", "an object", inp)
        _rf(inp.get("rf"), "input.rf")
    uo = d.get("unsupported_ops", {})
    if not isinstance(uo, dict):
        _fail("unsupported_ops", "an object", uo)
    for k, v in uo.items():
        if not _is_int(v) or v < 0:
            _fail(f"unsupported_ops[{k!r}]", "a non-negative integer", v)

    findings = d.get("findings", [])
    if not isinstance(findings, list):
        _fail("findings", "a list", findings)
    from archlens.analysis import SEVERITIES
    for i, f in enumerate(findings):
        p = f"findings[{i}]"
        if not isinstance(f, dict):
            _fail(p, "an object", f)
        for key in ("code", "message", "evidence"):
            _str(f, key, p)
        _str(f, "fix", p, required=False)
        if f.get("severity") not in SEVERITIES:
            _fail(f"{p}.severity", f"one of {', '.join(SEVERITIES)}", f.get("severity"))
        if not isinstance(f.get("layers"), list) or not all(isinstance(x, str)
                                                            for x in f["layers"]):
            _fail(f"{p}.layers", "a list of layer names", f.get("layers"))
        sv = f.get("saving")
        if sv is not None:
            if not isinstance(sv, dict):
                _fail(f"{p}.saving", "an object or null", sv)
            for k, v in sv.items():
                if not _is_int(v):
                    _fail(f"{p}.saving.{k}", "an integer", v)
        if f.get("data") is not None and not isinstance(f["data"], dict):
            _fail(f"{p}.data", "an object", f["data"])
