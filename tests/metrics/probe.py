"""The gradient probe: an independent measurement of a receptive field on the real model.

Make the network a positive, linear-on-the-support averaging machine — conv weights 1/fan_in and
zero bias, every normalisation layer replaced by Identity, max pooling replaced by averaging over
the *same* window (dilation and ceil_mode included), float64 (float32 underflows on deep nets:
the edge of a ResNet-152's window weighs ~3^-50 per axis) — feed ones, backprop from the centre
output unit, and read which input pixels got a non-zero gradient. With positive weights nothing
cancels, so the support is exactly the union of the windows over all paths.

Modern blocks (tests/metrics/test_rf_modern.py): GELU, sigmoid gates and softmax attention keep
every path positive on the ones input (GELU' > 0 there; softmax weights > 0). Softmax attention's
*key* path cancels exactly on a constant input (the softmax Jacobian sums to zero against equal
values), but the *value* path carries every position, so "support = every pixel" is what the
probe sees when an op mixes all positions -- status ``global``. Cancellation can only hide
support, never create it, so a probe that sees the whole input is a true global.

Per-axis independence makes deep models affordable: the H extent is measured on a tall, thin
input (H large, W as small as the network accepts) by summing the whole centre row, and W on a
wide, short one.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

_REAL_MAX_POOL = F.max_pool2d
_REAL_ADAPTIVE_MAX = F.adaptive_max_pool2d


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def avg_like_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                        return_indices=False):
    """Average over exactly the windows ``max_pool2d`` would use (dilated, ceil_mode, padded).

    Depthwise conv with weights 1/(kh*kw); the output size is taken from the real max pool so
    ceil_mode's "last window must start inside the input" rule is PyTorch's own.
    """
    k = _pair(kernel_size)
    s = _pair(stride if stride not in (None, ()) else kernel_size)
    p, d = _pair(padding), _pair(dilation)
    with torch.no_grad():
        oh, ow = _REAL_MAX_POOL(x.detach(), k, s, p, d, ceil_mode=ceil_mode).shape[-2:]
    need = [(o - 1) * ss + dd * (kk - 1) + 1 for o, ss, dd, kk in zip((oh, ow), s, d, k)]
    have = [n + 2 * pp for n, pp in zip(x.shape[-2:], p)]
    extra = [max(0, a - b) for a, b in zip(need, have)]
    xp = F.pad(x, (p[1], p[1] + extra[1], p[0], p[0] + extra[0]))
    c = x.shape[1]
    w = torch.full((c, 1, k[0], k[1]), 1.0 / (k[0] * k[1]), dtype=x.dtype, device=x.device)
    y = F.conv2d(xp, w, stride=s, dilation=d, groups=c)[..., :oh, :ow]
    if return_indices:
        raise NotImplementedError("probe: max_pool2d(return_indices=True)")
    return y


def _avg_adaptive(x, output_size, return_indices=False):
    return F.adaptive_avg_pool2d(x, output_size)


@contextlib.contextmanager
def max_pool_as_avg() -> Iterator[None]:
    """Patch ``F.max_pool2d`` (which ``nn.MaxPool2d`` calls too) and ``F.adaptive_max_pool2d``."""
    F.max_pool2d, F.adaptive_max_pool2d = avg_like_max_pool2d, _avg_adaptive
    try:
        yield
    finally:
        F.max_pool2d, F.adaptive_max_pool2d = _REAL_MAX_POOL, _REAL_ADAPTIVE_MAX


_REAL_NORMS = {name: getattr(F, name) for name in ("layer_norm", "group_norm", "batch_norm",
                                                   "instance_norm")}


_REAL_SOFTMAX = (F.softmax, torch.softmax, torch.Tensor.softmax)
_REAL_SDPA = F.scaled_dot_product_attention


def _cool(x: torch.Tensor) -> torch.Tensor:
    """``x`` scaled into [-1, 1] by a *detached* constant: no new path, no saturation."""
    return x / (x.detach().abs().amax() + 1.0)


def _softmax(x, dim=None, _stacklevel=3, dtype=None):  # F.softmax's and torch.softmax's form
    if dim is None:
        dim = 0 if x.dim() in (0, 1, 3) else 1  # F.softmax's legacy implicit dim
    return _REAL_SOFTMAX[2](_cool(x), dim, dtype=dtype)


def _softmax_method(self, dim, dtype=None):
    return _REAL_SOFTMAX[2](_cool(self), dim, dtype=dtype)


def _sdpa(q, k, v, *a, scale=None, **kw):
    bound = float(q.detach().abs().amax() * k.detach().abs().amax() * q.shape[-1]) + 1.0
    return _REAL_SDPA(q, k, v, *a, scale=1.0 / bound, **kw)


@contextlib.contextmanager
def softmax_unsaturated() -> Iterator[None]:
    """Softmax (``F.softmax``, ``torch.softmax``, ``Tensor.softmax``, and inside
    ``F.scaled_dot_product_attention``) on logits scaled into [-1, 1] by a detached constant.
    On the probe's un-normalised activations (norms are identities, so values grow layer by
    layer) logits reach thousands and softmax weights underflow to exact zeros in float64,
    cutting real paths (timm botnet26t: the probe saw 199 of 256 rows). A detached positive
    scale changes no dependency: it neither adds nor removes a path, so the support is the
    structural one."""
    F.softmax = torch.softmax = _softmax
    torch.Tensor.softmax = _softmax_method
    F.scaled_dot_product_attention = _sdpa
    try:
        yield
    finally:
        F.softmax, torch.softmax, torch.Tensor.softmax = _REAL_SOFTMAX
        F.scaled_dot_product_attention = _REAL_SDPA


@contextlib.contextmanager
def norms_as_identity() -> Iterator[None]:
    """Functional normalisations (``F.layer_norm`` inside timm's LayerNorm2d, a user's
    ``F.group_norm``) pass their input through, as :func:`prepare` does for norm *modules*: on the
    probe's constant input they would output zeros and hide every path (and their statistics'
    coupling is not counted as receptive field, docs/receptive-field.md)."""
    for name in _REAL_NORMS:  # a copy: an in-place activation after the norm (timm's
        # BatchNormAct2d, ReLU(inplace=True)) must not overwrite a tensor saved for backward
        setattr(F, name, lambda x, *a, **k: x.clone())
    try:
        yield
    finally:
        for name, fn in _REAL_NORMS.items():
            setattr(F, name, fn)


def prepare(model: nn.Module, jitter: int | None = None, keep_norms: bool = False) -> nn.Module:
    """In place: float64, eval, positive averaging weights, zero biases, norms -> Identity.

    In-place activations (``inplace=True`` modules) are switched to out-of-place: the probe
    needs every tensor saved for backward intact.

    ``keep_norms``: the normalisation layers stay real (and functional norms run), so their
    statistics' coupling is measured (GroupNorm over the map makes the field global).

    ``jitter`` (a seed): weights ``(1 + U[0, 1)) / fan_in`` instead of ``1 / fan_in`` -- still
    positive, but no longer equal, so a softmax *gate* over equal branches (ResNeSt's split
    attention, SK) does not cancel exactly: with identical branches the gate's gradient is
    ``sum_r p_r (delta - p) x_r = 0`` and the probe would miss the gate's global path."""
    gen = torch.Generator().manual_seed(jitter) if jitter is not None else None
    for mod in model.modules():  # in-place activations break backward once norms pass their
        if isinstance(getattr(mod, "inplace", None), bool):   # input through (timm dpn48b)
            mod.inplace = False
    for name, mod in list(model.named_modules()):
        for cname, child in list(mod.named_children()):
            if "Norm" in type(child).__name__ and not keep_norms:
                setattr(mod, cname, nn.Identity())
    model.double().eval()
    with torch.no_grad():
        for mod in model.modules():
            w = getattr(mod, "weight", None)
            if isinstance(w, torch.Tensor) and w.dim() >= 2:
                w.fill_(1.0 / w[0].numel())
                if gen is not None:
                    w.mul_(1 + torch.rand(w.shape, generator=gen, dtype=w.dtype))
            b = getattr(mod, "bias", None)
            if isinstance(b, torch.Tensor):
                b.zero_()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def support(grad: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    """((first, last) row, (first, last) column) with a non-zero gradient."""
    g = grad.detach().abs().sum(dim=(0, 1))  # H x W
    rows = torch.nonzero(g.sum(1) > 0).flatten()
    cols = torch.nonzero(g.sum(0) > 0).flatten()
    if rows.numel() == 0:
        raise AssertionError("probe: zero gradient everywhere (no path to the input?)")
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))


def probe(run: Callable[[torch.Tensor], torch.Tensor], input_shape: tuple[int, ...],
          axis: int | None = None, keep_norms: bool = False
          ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Backprop from the centre unit of ``run(x)`` (a N x C x h x w map) to a ones input.

    ``axis`` None: the single centre unit; 0: the whole centre row (for the H extent on a thin
    input); 1: the whole centre column. ``keep_norms``: functional norms run for real (see
    :func:`prepare`). Returns (row extent, column extent, (h, w) of the map).
    """
    x = torch.ones(input_shape, dtype=torch.float64, requires_grad=True)
    with max_pool_as_avg(), softmax_unsaturated(), (
            contextlib.nullcontext() if keep_norms else norms_as_identity()):
        y = run(x)
    h, w = y.shape[-2:]
    ch, cw = (h - 1) // 2, (w - 1) // 2
    if axis is None:
        target = y[0, :, ch, cw]
    elif axis == 0:
        target = y[0, :, ch, :]
    else:
        target = y[0, :, :, cw]
    # channels weighted 1..2, not summed plainly: a plain channel sum of a LayerNorm output
    # (weight 1, bias 0 after prepare) is identically 0, so its gradient is only rounding
    # noise -- torchvision vit_l_16's probe at encoder.ln read "zero gradient everywhere" once
    # that noise happened to vanish. Positive weights keep a positive net's support unchanged.
    wts = torch.linspace(1.0, 2.0, target.shape[0], dtype=target.dtype)
    (target * wts.reshape((-1,) + (1,) * (target.dim() - 1))).sum().backward()
    rows, cols = support(x.grad)
    return rows, cols, (h, w)


class _Stop(Exception):
    def __init__(self, t):
        self.t = t


def capture_runner(model: nn.Module, module_path: str, call: int = 1,
                   pre: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """A ``run`` for :func:`probe`: the output (or, ``pre``, the first input) of the ``call``-th
    call of ``module_path``; the forward pass stops there (the head may not accept the size)."""
    mod = model.get_submodule(module_path) if module_path else model

    def run(x):
        count = [0]

        def hook(m, args, out=None):
            count[0] += 1
            if count[0] == call:
                raise _Stop(args[0] if pre else out)

        h = mod.register_forward_pre_hook(hook) if pre else mod.register_forward_hook(hook)
        try:
            model(x)
        except _Stop as s:
            return s.t
        finally:
            h.remove()
        raise AssertionError(f"probe: {module_path!r} call {call} never happened")

    return run
