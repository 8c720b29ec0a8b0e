"""Which ops the receptive-field pass may treat as *position-wise* (output pixel i reads input
pixel i only, with broadcasting): the allow-list behind its fallback rule.

Before 2026-12-03 the fallback took every op without a rule whose output kept the pixel dims'
sizes as position-wise, so a ``sort``, ``torch.rot90``, ``grid_sample``, an FFT, an LSTM run
along W, or an ``index_select`` that reverses W got a silently wrong window (each measured
against the gradient probe, tests/metrics/test_rf_positionwise.py). Now an op is position-wise
only when something says so:

* PyTorch itself: the ATen operator of that name carries ``torch.Tag.pointwise`` (every
  elementwise unary/binary op, activations such as ``relu``/``gelu``/``silu``, ``where``,
  ``masked_fill``, ``clamp``, ``addcmul`` ...). This list is PyTorch's, not ours, so new
  elementwise ops are covered as PyTorch tags them;
* :data:`FUNCTIONS`: position-wise ops that carry no tag (dropouts, copies, casts, views of the
  same shape, broadcasting, batch norm -- statistics per channel);
* :data:`MODULES`: torch.nn classes that compute position-wise (activations, dropouts, norms whose
  statistics do not span the map -- the pass's norm rule sees to those that do --, channel
  shuffle). A node's ``base_type`` is the torch.nn class it subclasses, so ``class
  MyAct(nn.GELU)`` counts (typed by behaviour, not name);
* :data:`ALONG_DIM`: ops that move or mix values only along one dim (``index_select``, ``gather``,
  ``scatter`` ...): position-wise when that dim holds no pixels (the rule is in the pass).

Everything else is ``unknown``, naming the op: an honest "no rule" instead of a guess.
"""
from __future__ import annotations

import functools

import torch

# ops with no pointwise tag that still read position i for output position i
FUNCTIONS = frozenset({
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    "feature_dropout", "native_dropout",
    "contiguous", "clone", "detach", "copy", "to", "type", "type_as", "float", "double", "half",
    "bfloat16", "int", "long", "bool", "cpu", "cuda", "requires_grad", "alias",
    "expand", "expand_as", "broadcast_to", "repeat", "tile", "fill", "zero",
    "batch_norm", "instance_norm", "local_response_norm",
    "hardswish", "floor_divide", "identity", "and", "or", "xor",
    "tril", "triu",   # masks by position: output i is input i or 0
})

# torch.nn classes (by name, matched against a node's ``base_type``) that are position-wise
MODULES = frozenset({
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Hardswish", "Hardsigmoid", "Hardtanh", "Hardshrink", "Softshrink", "Tanhshrink", "Sigmoid",
    "Tanh", "LogSigmoid", "Softplus", "Softsign", "Threshold", "GLU",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "Identity", "Sequential",   # a Sequential is a node only when empty: the identity
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d",
    "LazyBatchNorm2d", "LazyBatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LayerNorm", "GroupNorm",
    "RMSNorm", "LocalResponseNorm", "CrossMapLRN2d",
    "ChannelShuffle", "Softmax2d",   # Softmax2d: over channels, per pixel
    "QuantStub", "DeQuantStub",
})

# ops that move values along their ``dim`` only: position-wise when that dim holds no pixels
ALONG_DIM = frozenset({
    "index_select", "gather", "scatter", "scatter_add", "scatter_reduce", "index_add",
    "index_copy", "index_fill", "take_along_dim",
})


@functools.lru_cache(maxsize=512)
def tagged_pointwise(name: str) -> bool:
    """True when the ATen operator ``name`` (any overload) carries ``torch.Tag.pointwise``."""
    packet = getattr(torch.ops.aten, name, None) if name.isidentifier() else None
    if packet is None:
        return False
    try:
        return any(torch.Tag.pointwise in getattr(packet, o).tags for o in packet.overloads())
    except (AttributeError, RuntimeError):
        return False


def is_positionwise(kind: str, op: str, base_type: str) -> bool:
    """``op``: the node's type, lower case, without leading/trailing underscores (``mul_`` ->
    ``mul``); ``base_type``: the torch.nn class a module node subclasses."""
    if kind == "module":
        return base_type in MODULES
    return op in FUNCTIONS or tagged_pointwise(op)
