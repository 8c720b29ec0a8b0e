"""Effective receptive field (Luo, Li, Urtasun, Zemel, NeurIPS 2016).

The theoretical receptive field (:mod:`archlens.metrics.receptive_field`) is the window of input
pixels that *can* influence a unit. The effective receptive field is how much each of them
*does*, at initialisation: the gradient of the selected output unit with respect to the input.
Luo et al. show it is Gaussian-like and occupies a fraction of the theoretical window, and that
for a stack of n convolutions its radius grows like sqrt(n) while the window grows like n.

Measurement (:func:`effective_rf`): the model is built as the analysis builds it (untrained,
its own initialisation), in eval mode and float64 (float32 underflows at the edge of deep
windows); ``samples`` random normal inputs are run up to the selected layer; the centre unit
of its output map (summed over channels) is back-propagated; the per-pixel *gradient energy*
(squared gradient summed over input channels, averaged over the samples) is the ERF map.
From it:

- ``sigma``: per axis, the standard deviation (px) of the energy distribution around its
  centroid. For n stacked k x k convolutions with independent zero-mean weights the expected
  energy is the n-fold convolution of a k-wide uniform, so sigma = sqrt(n (k^2 - 1) / 12):
  sqrt(2n/3) for 3x3.
- ``radius``: 2 sigma per axis, the half-width that holds ~95 % of a Gaussian (the 2-standard-
  deviation extent Luo et al. use).
- ``support``: the bounding box (px) of the pixels whose gradient is not exactly zero: the
  theoretical window as *measured* (equal to the analysis' receptive field for convolutions and
  average pooling; smaller behind max pooling or ReLUs that are off for every sample).

Only ``nn.Module`` layers can be probed (a forward hook captures the output of the k-th call
of the module, ``name#k``); functional ops (``add``, ``cat``) have no module to hook.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from torch import nn

    from archlens.analysis import Analysis
    from archlens.graph import Node, ReceptiveField

Pair = tuple[int, int]


@dataclass(frozen=True)
class EffectiveRF:
    """The measured effective receptive field of one output unit of one layer.

    All sizes are input pixels, (H, W). ``heatmap`` is the gradient energy per input pixel,
    scaled to a maximum of 1 (an H x W float array); ``theoretical`` / ``min_path`` are the
    analysis' receptive field of the layer (largest and smallest path), for comparison.
    """

    layer: str
    input_shape: tuple[int, int, int]   # (C, H, W)
    unit: Pair                          # (row, column) of the probed unit in the layer's output
    centre: tuple[float, float]         # energy centroid in the input (row, column), px
    sigma: tuple[float, float]          # px
    radius: tuple[float, float]         # 2 sigma, px
    support: Pair                       # px, bounding box of the non-zero gradient
    support_box: tuple[int, int, int, int]  # (top, left, bottom, right), inclusive, px
    theoretical: Pair | None            # the analysis' RF size (largest path), px
    min_path: Pair | None               # the analysis' RF size over the smallest path, px
    samples: int
    heatmap: Any = field(repr=False, compare=False)

    @property
    def fraction(self) -> tuple[float, float] | None:
        """The ERF's 2-sigma extent (2 x radius) as a fraction of the theoretical size."""
        if not self.theoretical:
            return None
        return tuple(min(1.0, 2 * r / t) if t else math.nan
                     for r, t in zip(self.radius, self.theoretical))  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the heatmap)."""
        return {"layer": self.layer, "input_shape": list(self.input_shape),
                "unit": list(self.unit), "centre": [round(v, 3) for v in self.centre],
                "sigma": [round(v, 3) for v in self.sigma],
                "radius": [round(v, 3) for v in self.radius],
                "support": list(self.support), "support_box": list(self.support_box),
                "theoretical": list(self.theoretical) if self.theoretical else None,
                "min_path": list(self.min_path) if self.min_path else None,
                "samples": self.samples, "units": "px",
                "method": "gradient energy of the centre unit at initialisation, float64"}


def unit_window(rf: "ReceptiveField", unit: Pair, *, smallest: bool = False
                ) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), inclusive input pixels, of ``unit``'s window.

    Unit i's largest-path window starts at ``i * stride - padding`` (effective stride and
    padding of the receptive field) and spans ``size``; the smallest-path window
    (``smallest=True``, ``min_size``) shares its centre. Coordinates may fall outside the
    image (padding)."""
    out = []
    for i, size, stride, pad, small in zip(unit, rf.size, rf.stride, rf.padding, rf.min_size):
        start = i * stride - pad
        if smallest:
            start += (size - small) // 2
            size = small
        out.append((start, start + size - 1))
    (t, b), (l_, r) = out
    return t, l_, b, r


class _Captured(Exception):
    """Raised by the hook once the layer's output is captured: the rest of the forward pass is
    not needed."""


def _module_of(model: "nn.Module", node: "Node") -> tuple["nn.Module", int]:
    from archlens.errors import ArchlensError
    if node.kind != "module":
        raise ArchlensError(
            f"the effective receptive field is measured at a module's output, and "
            f"{node.name} is a functional op ({node.type}) with no module to hook; pick the "
            "module layer before or after it")
    base, _, call = node.name.partition("#")
    try:
        module = model.get_submodule(base) if base else model
    except AttributeError:
        raise ArchlensError(f"layer {node.name}: no submodule {base!r} in the model") from None
    return module, int(call) if call.isdigit() else 1


def effective_rf(model: "str | nn.Module", layer: str | None = None,
                 input_shape: Any = None, *, analysis: "Analysis | None" = None,
                 unit: Pair | None = None, samples: int = 4, seed: int = 0,
                 device: str = "cpu") -> EffectiveRF:
    """Measure the effective receptive field of ``layer`` (default: the last module layer whose
    output is spatial) at initialisation.

    ``model``: a zoo name, a model reference or an ``nn.Module`` (never modified: a float64
    copy is probed). ``input_shape``: (C, H, W) or "CxHxW" (default: the card's). ``analysis``:
    the model's :func:`archlens.analyze` result at that input, if already at hand (otherwise
    one is made on the meta device). ``unit``: the (row, column) of the probed unit in the
    layer's output (default: the centre). ``samples``: random inputs averaged.
    """
    import torch

    from archlens import api
    from archlens.errors import ArchlensError, InputShapeError

    if samples < 1:
        raise ArchlensError(f"samples must be at least 1, got {samples}")
    if analysis is None:
        analysis = api.analyze(model, input_shape, device="meta", checks=False)
    chw = tuple(int(d) for d in analysis.input_shape[1:])
    if len(chw) != 3:
        raise InputShapeError(f"the effective receptive field needs an image input (C x H x W),"
                              f" got {chw}")
    spatial = [n for n in analysis.graph.layers
               if n.is_spatial and n.rf is not None and n.kind == "module"]
    if layer is None:
        if not spatial:
            raise ArchlensError(f"{analysis.model} has no module layer with a spatial output")
        node = spatial[-1]
    elif layer not in analysis.graph:
        from archlens.errors import suggest
        close = suggest(layer, [n.name for n in analysis.graph.layers])
        raise ArchlensError(f"{analysis.model} has no layer {layer!r}"
                            + (f"; did you mean {', '.join(close)}?" if close else ""))
    else:
        node = analysis.graph[layer]
    if not node.is_spatial:
        raise ArchlensError(f"layer {node.name} has a non-spatial output "
                            f"{tuple(node.out_shape)}; pick a layer with an N x C x H x W output")
    oh, ow = node.out_shape[2], node.out_shape[3]
    if unit is None:
        unit = ((oh - 1) // 2, (ow - 1) // 2)
    if not (0 <= unit[0] < oh and 0 <= unit[1] < ow):
        raise ArchlensError(f"unit {tuple(unit)} is outside {node.name}'s {oh} x {ow} output")

    module_in = _build(model)
    target, call = _module_of(module_in, node)
    captured: list[torch.Tensor] = []
    seen = [0]

    def hook(_m, _inp, out):
        seen[0] += 1
        if seen[0] == call:
            captured.append(out if isinstance(out, torch.Tensor) else out[0])
            raise _Captured

    g = torch.Generator().manual_seed(seed)
    x = torch.randn((samples, *chw), generator=g, dtype=torch.float64).to(device)
    x.requires_grad_(True)
    handle = target.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            try:
                module_in(x)
            except _Captured:
                pass
            if not captured:
                raise ArchlensError(f"layer {node.name} did not run in the forward pass")
            y = captured[0]
            if y.dim() != 4 or tuple(y.shape[2:]) != (oh, ow):
                raise ArchlensError(f"layer {node.name}: the probe saw an output of shape "
                                    f"{tuple(y.shape)}, the analysis {tuple(node.out_shape)}")
            y[:, :, unit[0], unit[1]].sum().backward()
    finally:
        handle.remove()
    energy = x.grad.detach().pow(2).sum(dim=1).mean(dim=0).cpu()  # H x W
    return _summarise(energy, node, chw, tuple(unit), samples)


def _build(model: "str | nn.Module") -> "nn.Module":
    import torch  # noqa: F401
    from torch import nn

    from archlens import loader
    if isinstance(model, nn.Module):
        m = copy.deepcopy(model)
    else:
        m, _, _ = loader.load_model(model)
    first = next(iter(m.parameters()), None)
    if first is not None and first.is_meta:
        from archlens.errors import UnsupportedModelError
        raise UnsupportedModelError("the model lives on the meta device (no weights); the "
                                    "effective receptive field needs real weights")
    return m.double().eval()


def _summarise(energy, node: "Node", chw, unit: Pair, samples: int) -> EffectiveRF:
    import torch

    h, w = energy.shape
    total = float(energy.sum())
    if not total > 0:
        from archlens.errors import ArchlensError
        raise ArchlensError(f"layer {node.name}: the gradient of unit {unit} is zero "
                            "everywhere (a dead unit at this initialisation); try another unit")
    p = energy / total
    rows = torch.arange(h, dtype=torch.float64)
    cols = torch.arange(w, dtype=torch.float64)
    pr, pc = p.sum(dim=1), p.sum(dim=0)
    cy, cx = float((pr * rows).sum()), float((pc * cols).sum())
    sy = math.sqrt(float((pr * (rows - cy) ** 2).sum()))
    sx = math.sqrt(float((pc * (cols - cx) ** 2).sum()))
    nz_r = torch.nonzero(energy.sum(dim=1) > 0).flatten()
    nz_c = torch.nonzero(energy.sum(dim=0) > 0).flatten()
    box = (int(nz_r[0]), int(nz_c[0]), int(nz_r[-1]), int(nz_c[-1]))
    rf = node.rf
    return EffectiveRF(
        layer=node.name, input_shape=tuple(chw), unit=unit, centre=(cy, cx), sigma=(sy, sx),
        radius=(2 * sy, 2 * sx), support=(box[2] - box[0] + 1, box[3] - box[1] + 1),
        support_box=box, theoretical=tuple(rf.size) if rf and rf.known else None,
        min_path=tuple(rf.min_size) if rf and rf.known else None, samples=samples,
        heatmap=(energy / float(energy.max())).to(torch.float32).numpy())


__all__ = ["EffectiveRF", "effective_rf", "unit_window"]
