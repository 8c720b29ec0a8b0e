"""Shared helpers of the ShuffleNet-V2 guidelines G1..G4 (Ma et al., ECCV 2018, sec. 3).

Time per node is *measured* when the checks run with a profile (``checks.run(analysis,
profile=p)``: the :class:`~archlens.checks._common.Context` carries its per-node medians and
its measured roofline) and *estimated* otherwise: the roofline estimate ``max(MACs / peak,
bytes / bandwidth)`` with the assumed device of the configuration (``g-peak-gmacs``,
``g-bandwidth-gbs``). Every finding says which of the two it used.
"""
from __future__ import annotations

from dataclasses import dataclass

from archlens.checks._common import Context
from archlens.checks.config import CheckConfig
from archlens.graph import Node
from archlens.profile.traffic import node_traffic

GUIDELINES = {
    "G1": "Equal channel width minimizes memory access cost",
    "G2": "Excessive group convolution increases memory access cost",
    "G3": "Network fragmentation reduces the degree of parallelism",
    "G4": "Element-wise operations are non-negligible",
}


@dataclass(frozen=True)
class Times:
    """Seconds per node, how they were obtained, and the device model behind estimates."""

    seconds: dict[str, float]
    measured: bool
    peak_macs_per_s: float
    bandwidth_bytes_per_s: float
    itemsize: int
    device: str

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    @property
    def source(self) -> str:
        return (f"measured on {self.device}" if self.measured else
                f"estimated (roofline of an assumed device: {self.peak_macs_per_s / 1e9:.0f} "
                f"GMAC/s, {self.bandwidth_bytes_per_s / 1e9:.0f} GB/s)")

    def traffic_s(self, nbytes: float) -> float:
        return nbytes / self.bandwidth_bytes_per_s


def node_times(ctx: Context, cfg: CheckConfig) -> Times:
    if ctx.roofline is not None:
        peak, bw = ctx.roofline
    else:
        peak, bw = cfg.g_peak_gmacs * 1e9, cfg.g_bandwidth_gbs * 1e9
    if ctx.timing is not None:
        secs = {n.name: float(ctx.timing.get(n.name, 0.0)) for n in ctx.graph.layers}
        return Times(secs, True, peak, bw, ctx.itemsize, ctx.device or "the profiled device")
    secs = {}
    for n in ctx.graph.layers:
        tr = node_traffic(n, ctx.itemsize)
        secs[n.name] = max(n.macs / peak, tr.total / bw)
    return Times(secs, False, peak, bw, ctx.itemsize, "")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


# -- element-wise ops (G4) ----------------------------------------------------------------

_ELEMENTWISE = {
    # modules (eval mode: BatchNorm is a per-channel affine map, Dropout the identity)
    "relu", "relu6", "leakyrelu", "prelu", "elu", "selu", "celu", "gelu", "silu", "mish",
    "sigmoid", "tanh", "hardswish", "hardsigmoid", "hardtanh", "softplus",
    "batchnorm1d", "batchnorm2d", "batchnorm3d", "dropout", "dropout2d", "identity",
    # functional ops
    "add", "sub", "mul", "div", "batch_norm", "clamp", "clip", "neg", "exp", "pow",
    "sqrt", "rsqrt", "where", "maximum", "minimum",
}


def is_elementwise(n: Node) -> bool:
    """An op that touches every element once and does at most a few arithmetic operations per
    element: activations, eval-mode BN, residual adds, gates (``x * s``)."""
    if n.kind == "input" or not n.out_shape:
        return False
    t = n.base_type.lower().rstrip("_")   # a user subclass of nn.ReLU is a ReLU
    if t not in _ELEMENTWISE:
        return False
    return all(len(s) == len(n.out_shape) for s in n.in_shapes)


def is_bn(n: Node) -> bool:
    return n.base_type.lower().rstrip("_") in ("batchnorm1d", "batchnorm2d", "batchnorm3d",
                                               "batch_norm")


def is_merge(n: Node) -> bool:
    """A node that joins parallel branches: concatenation or a sum of several inputs."""
    return n.base_type.lower().rstrip("_") in ("cat", "concat", "concatenate", "stack", "add") \
        and len(n.inputs) >= 2
