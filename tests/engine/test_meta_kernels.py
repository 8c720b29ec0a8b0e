"""archlens.meta_kernels: the cheap meta outputs equal PyTorch's own meta kernels."""
from __future__ import annotations

import itertools

import pytest
import torch

from archlens import meta_kernels as mk
from archlens.engine import analyze_model

aten = torch.ops.aten


def _meta(*shape, dtype=torch.float32):
    return torch.empty(shape, device="meta", dtype=dtype)


def _desc(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [(tuple(t.shape), t.stride(), t.dtype, t.storage_offset(), t.device.type)
            for t in outs]


BN_OPS = {
    "native": lambda x, w, b, rm, rv, tr: aten.native_batch_norm.default(
        x, w, b, rm, rv, tr, 0.1, 1e-5),
    "legit": lambda x, w, b, rm, rv, tr: aten._native_batch_norm_legit.default(
        x, w, b, rm, rv, tr, 0.1, 1e-5),
    "no_training": lambda x, w, b, rm, rv, tr: aten._native_batch_norm_legit_no_training.default(
        x, w, b, rm, rv, 0.1, 1e-5),
}


@pytest.mark.parametrize("op,dtype,shape,fmt,training,affine", [
    (op, dt, sh, fmt, tr, af)
    for op, dt, sh, fmt, tr, af in itertools.product(
        BN_OPS, (torch.float32, torch.float64, torch.float16, torch.bfloat16),
        ((4, 6), (2, 6, 7), (2, 6, 5, 3), (2, 6, 3, 4, 5)), ("contiguous", "channels_last"),
        (False, True), (False, True))
    if not (fmt == "channels_last" and len(sh) < 4)])
def test_batch_norm_rule_equals_pytorch_meta_kernel(op, dtype, shape, fmt, training, affine):
    x = _meta(*shape, dtype=dtype)
    if fmt == "channels_last":
        x = x.to(memory_format=torch.channels_last if len(shape) == 4
                 else torch.channels_last_3d)
    c = shape[1]
    w = _meta(c) if affine else None
    b = _meta(c) if affine else None
    rm, rv = _meta(c), _meta(c)
    func = BN_OPS[op]
    expected = _desc(func(x, w, b, rm, rv, training))
    # the same call routed through meta_kernels (the direct rule)
    fn = {"native": aten.native_batch_norm.default, "legit": aten._native_batch_norm_legit.default,
          "no_training": aten._native_batch_norm_legit_no_training.default}[op]
    args = (x, w, b, rm, rv, training, 0.1, 1e-5) if op != "no_training" else \
        (x, w, b, rm, rv, 0.1, 1e-5)
    assert fn in mk._DIRECT
    assert _desc(mk.meta_call(fn, args, {})) == expected


def test_non_dense_batch_norm_input_runs_the_real_kernel():
    x = _meta(2, 6, 8, 8)[:, :, ::2, :]          # a strided view: neither format is dense
    c = _meta(6)
    expected = _desc(aten.native_batch_norm.default(x, c, c, c, c, False, 0.1, 1e-5))
    got = mk.meta_call(aten.native_batch_norm.default, (x, c, c, c, c, False, 0.1, 1e-5), {})
    assert _desc(got) == expected


@pytest.mark.parametrize("func,make", [
    (aten.add.Tensor, lambda: ((_meta(2, 3, 4, 4), _meta(1, 3, 1, 1)), {})),
    (aten.convolution.default, lambda: ((_meta(1, 3, 9, 9), _meta(8, 3, 3, 3), None, [2, 2],
                                         [1, 1], [1, 1], False, [0, 0], 1), {})),
    (aten.cat.default, lambda: (([_meta(1, 2, 5, 5), _meta(1, 3, 5, 5)], 1), {})),
    (aten.mean.dim, lambda: ((_meta(2, 3, 4, 4), [-1, -2], True), {})),
    (aten.addmm.default, lambda: ((_meta(10), _meta(4, 7), _meta(7, 10)), {})),
    (aten.add.Tensor, lambda: ((_meta(2, 3, dtype=torch.float16), 1.5), {"alpha": 2})),
])
def test_memoised_outputs_equal_the_kernel_and_are_fresh(func, make, monkeypatch):
    monkeypatch.setattr(mk, "RULES", {})  # the memo itself (direct rules: test_meta_rules.py)
    mk.clear()
    args, kwargs = make()
    expected = _desc(func(*args, **kwargs))
    first = mk.meta_call(func, args, kwargs)       # miss: the real kernel, remembered
    assert len(mk._CACHE) == 1
    args2, kwargs2 = make()                          # equal metadata, new tensors
    second = mk.meta_call(func, args2, kwargs2)      # hit
    assert len(mk._CACHE) == 1
    assert _desc(first) == _desc(second) == expected
    firsts = first if isinstance(first, tuple) else (first,)
    seconds = second if isinstance(second, tuple) else (second,)
    assert all(a is not b for a, b in zip(firsts, seconds))


def test_different_metadata_is_a_different_entry(monkeypatch):
    monkeypatch.setattr(mk, "RULES", {})
    mk.clear()
    a = mk.meta_call(aten.add.Tensor, (_meta(2, 3), _meta(2, 3)), {})
    b = mk.meta_call(aten.add.Tensor, (_meta(2, 3), 1), {})
    c = mk.meta_call(aten.add.Tensor, (_meta(2, 3), 1.0), {})   # int and float scalars differ
    d = mk.meta_call(aten.add.Tensor, (_meta(2, 3, dtype=torch.int64), 1.0), {})
    assert len(mk._CACHE) == 4
    assert d.dtype == torch.float32 and a.dtype == b.dtype == c.dtype == torch.float32


@pytest.mark.parametrize("func,args", [
    (aten.relu_.default, lambda: (_meta(2, 3),)),                 # in place: same object back
    (aten.view.default, lambda: (_meta(2, 3), [6])),              # a view of its input
    (aten.transpose.int, lambda: (_meta(2, 3), 0, 1)),
    (aten.add_.Tensor, lambda: (_meta(2, 3), _meta(2, 3))),
])
def test_aliasing_ops_are_never_memoised(func, args):
    mk.clear()
    a = args()
    out = mk.meta_call(func, a, {})
    assert not mk._CACHE
    if func in (aten.relu_.default, aten.add_.Tensor):
        assert out is a[0]
    else:
        assert out._base is a[0]


def test_meta_analysis_is_the_same_with_a_warm_cache():
    mk.clear()
    cold = analyze_model("resnet50", device="meta")
    n = len(mk._CACHE)
    assert n > 0
    warm = analyze_model("resnet50", device="meta")
    assert len(mk._CACHE) == n                        # every signature was a hit
    assert warm.graph.nodes == cold.graph.nodes
    assert warm.totals == cold.totals
    cpu = analyze_model("resnet50", device="cpu")
    assert [n.out_shape for n in warm.graph.nodes] == [n.out_shape for n in cpu.graph.nodes]
    assert warm.totals.macs == cpu.totals.macs
    assert warm.totals.paper_macs == 4_089_184_256  # conv + linear: the published 4.09 G


def test_skip_meta_init_leaves_meta_tensors_and_fills_real_ones():
    with mk.skip_meta_init():
        m = torch.empty(3, 4, device="meta")
        assert m.normal_() is m and m.uniform_(-1, 1) is m and m.fill_(2.0) is m
        assert m.zero_() is m and m.shape == (3, 4) and m.is_meta
        r = torch.zeros(3, 4)
        r.fill_(2.0)
        assert float(r.sum()) == 24.0              # real tensors are filled
        torch.nn.init.kaiming_normal_(r)
        assert float(r.abs().sum()) > 0


def test_meta_build_without_init_has_the_same_parameters():
    from archlens import loader, zoo
    ref = zoo.get_model("resnet50")
    model, _name, _default = loader.load_model("resnet50", device="meta")
    got = [(n, tuple(p.shape), p.dtype, p.is_meta) for n, p in model.named_parameters()]
    assert got == [(n, tuple(p.shape), p.dtype, True) for n, p in ref.named_parameters()]
    assert [(n, tuple(b.shape)) for n, b in model.named_buffers()] == \
        [(n, tuple(b.shape)) for n, b in ref.named_buffers()]
