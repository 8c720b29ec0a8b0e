"""The one eager pass: shapes stay Python ints (no jit-traced sizes in the graph), both counters
agree where fvcore counts, and every MAC count is an int.

Independent figures: the gradient probe (tests/metrics/probe.py) for receptive fields, hand
arithmetic for MACs (in the comments), fvcore's own ``FlopCountAnalysis`` total.
Before the eager pass, the CPU path recorded inside fvcore's jit trace, where ``x.size()``
became traced values: these models then had 0-d ``size``/``floor_divide``/``get`` nodes, a
719-vs-527-like wrong ShuffleNet RF (here 25 px instead of 11), and no RF on TF "same" padding.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archlens.engine import analyze_model, trace_graph
from archlens.metrics.receptive_field import receptive_fields
from metrics.probe import prepare, probe

from .fixtures.shape_arith import Encoder, SegHead, ShuffleNetMini, TFSameNet

SHAPE_MODELS = [(ShuffleNetMini, (3, 16, 16)), (TFSameNet, (3, 15, 15)),
                (SegHead, (3, 16, 16)), (Encoder, (10, 16))]


def _ints(v) -> bool:
    if isinstance(v, (tuple, list)):
        return all(_ints(x) for x in v)
    return v is None or type(v) is int


@pytest.mark.parametrize("counter", ["eager", "fvcore"])
@pytest.mark.parametrize("cls,shape", SHAPE_MODELS, ids=[c.__name__ for c, _ in SHAPE_MODELS])
def test_no_zero_d_nodes_and_geometry_attrs_are_ints(cls, shape, counter):
    a = analyze_model(cls(), shape, counter=counter)
    assert [n.name for n in a.graph.layers if n.out_shape == ()] == []
    assert not any(n.base_type in ("size", "get", "floor_divide") for n in a.graph.layers)
    for n in a.graph.layers:
        for key in ("pad", "size", "output_size", "index"):
            assert _ints(n.attrs.get(key)), (n.name, key, n.attrs.get(key))
        assert all(type(s) is int for s in n.out_shape)


def test_tf_same_pad_amounts_come_from_the_shape():
    g = trace_graph(TFSameNet(), (1, 3, 15, 15))
    # 15 px, k3 s2: pad_total = (ceil(15/2) - 1) * 2 + 3 - 15 = 2 -> (1, 1); 8 px, k3 s1: 2
    assert g["conv1.pad"].attrs["pad"] == (1, 1, 1, 1)
    assert g["conv2.pad"].attrs["pad"] == (1, 1, 1, 1)


def test_interpolate_to_the_shape_of_another_map():
    g = trace_graph(SegHead(), (1, 3, 16, 16))
    assert g["interpolate"].attrs["size"] == (16, 16)


def _window(rf, axis: int, n_units: int) -> tuple[int, int]:
    c = (n_units - 1) // 2
    start = c * rf.stride[axis] - rf.padding[axis]
    return start, start + rf.size[axis] - 1


@pytest.mark.parametrize("cls,shape,size", [
    (ShuffleNetMini, (1, 3, 33, 33), 11),   # stem 3 (s2), then each unit's dw 3x3: +2*2
    (TFSameNet, (1, 3, 31, 31), 7),         # 3, then +2*2 at stride 2
], ids=["shufflenet", "tf_same"])
def test_receptive_field_equals_the_gradient_probe(cls, shape, size):
    net = prepare(cls())
    g = trace_graph(net, shape, dtype=torch.float64)
    rf = receptive_fields(g)[g.outputs[0]]
    assert rf is not None
    rows, cols, (mh, mw) = probe(net, shape)
    assert (rows, cols) == (_window(rf, 0, mh), _window(rf, 1, mw))
    assert rf.size == (size, size)


def test_transformer_encoder_macs_by_hand_and_the_fvcore_fused_path():
    # per layer, L=10 tokens, d=16, FF 32: QKV 3*L*d*d = 7,680; Q K^T L*L*d = 1,600;
    # A V 1,600; out proj L*d*d = 2,560; FF 2*L*d*32 = 10,240; 2 LayerNorms 2*5*L*d = 1,600
    per_layer = 7680 + 1600 + 1600 + 2560 + 10240 + 1600
    eager = analyze_model(Encoder(), (10, 16), device="cpu")
    assert eager.totals.macs == 2 * per_layer == 50_560
    assert eager.unsupported_ops == {}   # the CPU's fused attention kernel is one counted op
    # on meta, scaled_dot_product_attention runs PyTorch's math path: the same MACs, and its
    # scaling mul and softmax are listed as not counted, as for an explicit attention (the
    # math path's bookkeeping, e.g. aten::_unsafe_view, is not listed)
    meta = analyze_model(Encoder(), (10, 16), device="meta")
    assert meta.totals.macs == 50_560
    assert meta.unsupported_ops == {"aten::mul": 4, "aten::safe_softmax": 2}
    # plain fvcore under no_grad takes nn.MultiheadAttention's fused kernel and counts none of
    # it (QKV, attention, out projection): documented in docs/engine.md
    fv = analyze_model(Encoder(), (10, 16), counter="fvcore")
    assert fv.totals.macs == 2 * (per_layer - 7680 - 1600 - 1600 - 2560) == 23_680
    assert fv.unsupported_ops == {"aten::_native_multi_head_attention": 2}


class EinsumAttention(nn.Module):
    """MaxViT-style attention with einsums over (batch, heads, tokens, dim)."""

    def __init__(self, d: int = 8, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)

    def forward(self, x):  # N x L x d
        n, length, d = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.heads, d // self.heads).unbind(2)
        attn = torch.einsum("bihd,bjhd->bhij", q, k).softmax(-1)   # N x h x L x L
        return torch.einsum("bhij,bjhd->bihd", attn, v).reshape(n, length, d)


def test_generic_einsum_macs_are_ints_on_both_counters():
    # L=6, d=8, 2 heads of 4: qkv 6*8*24 = 1,152; each einsum 2*6*6*4 = 288
    expected = 1152 + 288 + 288
    for counter in ("eager", "fvcore"):
        a = analyze_model(EinsumAttention(), (6, 8), counter=counter)
        assert a.totals.macs == expected, counter
        assert all(type(n.macs) is int for n in a.graph.layers)
        assert [n.macs for n in a.graph.layers if n.base_type == "einsum"] == [288, 288]


def test_counter_choice_is_validated():
    from archlens.errors import ConfigError
    with pytest.raises(ConfigError, match="unknown counter"):
        analyze_model(TFSameNet(), (3, 15, 15), counter="ptflops")
    with pytest.raises(ConfigError, match="real tensors"):
        analyze_model(TFSameNet(), (3, 15, 15), device="meta", counter="fvcore")


class Bookkeeping(nn.Module):
    """View and copy ops only (data movement: zero MACs by convention, never 'not counted')."""

    def forward(self, x):  # N x C x H x W
        y = x.clone()
        y.as_strided_(y.shape, y.stride())
        return torch.ops.aten._unsafe_view(y.contiguous(), (x.shape[0], -1))


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_bookkeeping_ops_are_not_listed_as_not_counted(device):
    a = analyze_model(Bookkeeping(), (2, 4, 4), device=device)
    assert a.totals.macs == 0
    assert a.unsupported_ops == {}
