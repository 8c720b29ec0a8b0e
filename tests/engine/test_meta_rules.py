"""archlens.meta_rules: every call a direct rule accepts gets exactly what PyTorch's own meta
kernel returns (shape, strides, dtype, storage offset; in-place ops: the tensor itself), and
calls the kernel rejects are left to the kernel (the rule returns None)."""
from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
import torch

from archlens import meta_rules as mr

aten = torch.ops.aten
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _meta(*shape, dtype=torch.float32, fmt=None):
    t = torch.empty(shape, device="meta", dtype=dtype)
    return t.contiguous(memory_format=fmt) if fmt is not None else t


def _desc(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [(tuple(t.shape), t.stride(), t.dtype, t.storage_offset(), t.device.type)
            for t in outs]


def _compare(func, args, kwargs=None):
    """The rule's answer equals the kernel's; returns whether the rule accepted the call."""
    kwargs = kwargs or {}
    got = mr.RULES[func](args, kwargs)
    try:
        want = func(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the kernel rejects it: the rule must have declined
        assert got is None, f"{func} accepted a call its kernel rejects: {args} {kwargs}"
        return False
    if got is None:
        return False
    assert _desc(got) == _desc(want), (func, args, kwargs)
    if func._schema.is_mutable:
        assert got is args[0] and want is args[0]
    return True


def _cases_conv():
    for nd, dtype in itertools.product((1, 2, 3), DTYPES):
        sizes = {1: ((9,), (1,)), 2: ((7, 7), (16, 5), (1, 1)), 3: ((5, 6, 4),)}[nd]
        kernels = {1: (1, 3), 2: ((1, 1), (3, 3), (1, 7), (7, 1)), 3: ((1, 1, 1), (3, 3, 3))}[nd]
        for hw, k, s, p, d, (cin, groups), bias, tr in itertools.product(
                sizes, kernels, (1, 2), (0, 1, 3), (1, 2), ((4, 1), (4, 2), (4, 4), (1, 1)),
                (False, True), (False, True)):
            k = k if isinstance(k, tuple) else (k,)
            cout = 6 if groups in (1, 2) else 4
            x = _meta(2, cin, *hw, dtype=dtype)
            w = _meta(*((cin, cout // groups) if tr else (cout, cin // groups)), *k, dtype=dtype)
            b = _meta(cout, dtype=dtype) if bias else None
            op = [0] * nd if not tr else [min(s, d) - 1] * nd
            yield aten.convolution.default, (x, w, b, [s] * nd, [p] * nd, [d] * nd, tr, op,
                                             groups)


def test_convolution_equals_the_kernel():
    accepted = sum(_compare(f, a) for f, a in _cases_conv())
    assert accepted > 1000


def test_convolution_declines_what_the_kernel_would_judge():
    x = _meta(1, 3, 8, 8)
    w = _meta(8, 3, 3, 3)
    bad = [
        (x, _meta(8, 4, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1),  # channels
        (x, _meta(8, 3, 11, 11), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1),  # too big
        (x, w, _meta(7), [1, 1], [0, 0], [1, 1], False, [0, 0], 1),  # bias width
        (x.contiguous(memory_format=torch.channels_last), w, None, [1, 1], [0, 0], [1, 1],
         False, [0, 0], 1),  # another memory format: the kernel decides
        (x.to(torch.float64), w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1),  # dtypes
        (x, w, None, [0, 1], [0, 0], [1, 1], False, [0, 0], 1),  # zero stride
    ]
    for args in bad:
        assert mr.RULES[aten.convolution.default](args, {}) is None


def test_pools_equal_the_kernel():
    accepted = 0
    for dtype, hw, k, s, p, d, ceil in itertools.product(
            DTYPES, ((7, 7), (8, 5), (35, 35), (2, 2)), (1, 2, 3, (3, 1)), ((), 1, 2, 3),
            (0, 1, 2), (1, 2), (False, True)):
        x = _meta(2, 3, *hw, dtype=dtype)
        ks = list(k) if isinstance(k, tuple) else [k]
        st = [] if s == () else [s]
        accepted += _compare(aten.max_pool2d_with_indices.default, (x, ks, st, [p], [d], ceil))
        if d == 1:
            for include in (False, True):
                accepted += _compare(aten.avg_pool2d.default, (x, ks, st, [p], ceil, include))
        accepted += _compare(aten._adaptive_avg_pool2d.default, (x, [1, 1]))
        accepted += _compare(aten._adaptive_avg_pool2d.default, (x, [3, 2]))
    assert accepted > 1500
    # a channels-last input keeps its format: left to the kernel
    x = _meta(2, 3, 8, 8, fmt=torch.channels_last)
    assert mr.RULES[aten.max_pool2d_with_indices.default]((x, [2], [2]), {}) is None


def test_elementwise_cat_mean_addmm_equal_the_kernel():
    shapes = [(2, 6, 5, 5), (2, 6, 1, 1), (1, 6, 5, 5), (6, 1, 1), (5,), (2, 6, 5, 1), (),
              (2, 3, 4, 5, 6), (4, 9)]
    accepted = 0
    for dtype, a, b in itertools.product(DTYPES, shapes, shapes):
        x, y = _meta(*a, dtype=dtype), _meta(*b, dtype=dtype)
        accepted += _compare(aten.add.Tensor, (x, y))
        accepted += _compare(aten.mul.Tensor, (x, y))
        accepted += _compare(aten.add_.Tensor, (_meta(*a, dtype=dtype), y))
    for dtype, a in itertools.product(DTYPES, shapes):
        if not a:
            continue
        for dims, keep in itertools.product(([-1], [-2, -1], [0], [1, 2]), (False, True)):
            if max(d % len(a) for d in dims) < len(a) and len(set(d % len(a) for d in dims)) \
                    == len(dims):
                accepted += _compare(aten.mean.dim, (_meta(*a, dtype=dtype), dims, keep))
        for dim in range(-len(a), len(a)):
            parts = [_meta(*a, dtype=dtype), _meta(*a, dtype=dtype)]
            accepted += _compare(aten.cat.default, (parts, dim))
        for name in mr._INPLACE_UNARY:
            op = getattr(aten, name, None)
            if op is not None and op.default in mr.RULES:
                accepted += _compare(op.default, (_meta(*a, dtype=dtype),))
    for dtype, (m, k, n), bias in itertools.product(DTYPES, ((1, 8, 4), (3, 5, 7)),
                                                    ("1d", "2d")):
        w = _meta(n, k, dtype=dtype).t()          # linear: addmm(bias, x, weight.t())
        bb = _meta(n, dtype=dtype) if bias == "1d" else _meta(m, n, dtype=dtype)
        accepted += _compare(aten.addmm.default, (bb, _meta(m, k, dtype=dtype), w))
    assert accepted > 900
    # another dtype, a broadcasting failure, a mismatched cat: left to the kernel
    assert mr.RULES[aten.add.Tensor]((_meta(2, 3), _meta(2, 3, dtype=torch.float64)), {}) is None
    assert mr.RULES[aten.add.Tensor]((_meta(2, 3), _meta(4, 3)), {}) is None
    assert mr.RULES[aten.add_.Tensor]((_meta(1, 3), _meta(4, 3)), {}) is None
    assert mr.RULES[aten.cat.default](([_meta(2, 3), _meta(3, 3)], 1), {}) is None


def test_a_first_meta_analysis_of_inception_imports_neither_dynamo_nor_sympy():
    """The reason for the rules: PyTorch's Python meta kernels import torch._dynamo and sympy
    on first use (1.2-1.3 s). A fresh process analysing inception_v3 on meta needs neither."""
    code = ("import sys\nfrom archlens.engine import analyze_model\n"
            "analyze_model('inception_v3', device='meta')\n"
            "print(sorted(m for m in ('sympy', 'torch._dynamo') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "[]"
