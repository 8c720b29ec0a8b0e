"""Receptive-field status on modern blocks, each checked against the gradient probe (probe.py).

``exact``: the analytic window of the centre unit equals the probe's support (size, stride and
padding at once; every input is sized so the window lies inside the image). ``global``: the
probe's support is the whole input (and the input is larger than any window the block's convs
alone could reach). ``unknown``: no number, and the reason names the op that broke the geometry.
The blocks are small re-implementations (modern_blocks.py) on 8 channels: float64 stays cheap.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

import archlens

from archlens.engine import trace_graph
from archlens.metrics.receptive_field import feature_node, feature_rf, receptive_fields
from archlens.metrics import rf_layout as L

from . import modern_blocks as mb
from .probe import prepare, probe


def _analyse(model, size: int):
    g = trace_graph(model.eval(), (1, 3, size, size))
    rfs = receptive_fields(g)
    return g, rfs, rfs[g.outputs[0]]


def _probe(model, size: int):
    prepare(model, jitter=0)  # unequal positive weights: gates over equal branches do not cancel
    rows, cols, hw = probe(model, (1, 3, size, size))
    return rows, cols, hw


def _assert_exact(model, size: int, rf):
    assert rf.status == "exact" and rf.reason == "", rf
    rows, cols, hw = _probe(model, size)
    assert hw == rf.grid
    for (lo, hi), s, j, p, n in zip((rows, cols), rf.size, rf.stride, rf.padding, hw):
        c = (n - 1) // 2
        start = c * j - p
        assert 0 < start and start + s - 1 < size - 1, "test input too small for the window"
        assert (lo, hi) == (start, start + s - 1), (rows, cols, rf)


def _assert_global(model, size: int, rf, mixer: str):
    assert rf.status == "global" and rf.size == (size, size) and rf.stride == (0, 0), rf
    assert mixer in rf.reason, rf.reason
    rows, cols, _ = _probe(model, size)
    assert rows == (0, size - 1) and cols == (0, size - 1)


EXACT = [
    # (model, input size, analytic size, stride): hand arithmetic in the comments
    # stem 4/4: 4 (j4); each dw 7x7 adds 6*4 = 24: 28, 52; down 2x2/2 adds 4: 56 (j8); one more
    # dw 7x7 adds 6*8 = 48: 104. LayerNorm / Linear on channels-last are pointwise.
    (mb.ConvNeXtStack, 160, 104, 8),
    # conv 3/2 (3, j2), maxpool 3/2 (7, j4); unit/2: dw 3x3/2 (15, j8); two stride-1 units: +16
    # each on the branch (31, 47); chunk, cat and the channel shuffle keep the geometry
    (mb.ShuffleNetUnits, 64, 47, 8),
    # stem 3/2 valid (3, j2); sep 7x7/2 then 7x7: +6*2 + 6*4 = 39; sep3 after sep 5/2 + 7/2 max:
    # b0 (39, j4) -> b3 = 39 + 2*4 + 2*4 = 55 (the widest branch; the shifted 1/2 path is inside)
    (mb.NASNetCells, 63, 55, 4),
    # conv 3x3 (3, j1); the four 2x2 phases cat'ed = a 2x2/2 window (4, j2); 3x3 (+4: 8)
    (mb.SliceMerge, 32, 8, 2),
    # TF same: 3/2 (3, j2), dw 5/2 (+8: 11, j4), max 3/2 (+8: 19, j8), dil-2 3x3 (+32: 51)
    (mb.TFSameNet, 61, 51, 8),
    # WSConv2d 7/2 (7, j2), maxpool 3/2 (11, j4), dilated 3x3 d2 (+16: 27)
    (mb.WSNet, 64, 27, 4),
]


@pytest.mark.parametrize("cls, size, want, stride", EXACT, ids=[c[0].__name__ for c in EXACT])
def test_exact_fields_equal_the_probe(cls, size, want, stride, monkeypatch):
    monkeypatch.setattr(mb.WSConv2d, "standardize", False)  # same geometry, probe-able weights
    model = cls()
    g, rfs, rf = _analyse(model, size)
    assert rf.size == (want, want) and rf.stride == (stride, stride)
    _assert_exact(model, size, rf)
    frf = feature_rf(g, rfs)
    assert frf.status == "exact" and frf.size == rf.size and frf.node == feature_node(g, rfs)


def test_a_partial_space_to_depth_after_windows_stays_unknown():
    """Three of the four phases do not take every unit: no span, the field stays unknown."""
    class Partial(nn.Module):
        def __init__(self):
            super().__init__()
            self.win = mb.SwinWindows()
            self.conv = nn.Conv2d(3 * mb.C, mb.C, 1)

        def forward(self, x):
            x = self.win(x).permute(0, 2, 3, 1)
            x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :],
                           x[..., 0::2, 1::2, :]], -1)
            return self.conv(x.permute(0, 3, 1, 2)).mean((2, 3), keepdim=True)
    g, rfs, rf = _analyse(Partial(), 32)
    assert rf.status == "unknown" and "within windows" in rf.reason


def test_wsconv_subclass_is_opened_and_keeps_its_geometry():
    g = trace_graph(mb.WSNet().eval(), (1, 3, 64, 64))
    convs = [n for n in g.layers if n.type == "conv2d"]
    assert [(n.kernel, n.stride, n.padding, n.dilation) for n in convs] == [
        ((7, 7), (2, 2), (3, 3), (1, 1)), ((3, 3), (1, 1), (2, 2), (2, 2))]


GLOBAL = [
    (mb.SENet, 16, "global pooling in se.mean"),
    (mb.ResNeStBlock, 16, "global pooling in sa.mean"),
    (lambda: mb.ViTLayer(fused=True), 32, "attention in attn.scaled_dot_product_attention"),
    (lambda: mb.ViTLayer(fused=False), 32, "matmul over positions in attn.matmul"),
    (lambda: mb.ViTLayer(torch_mha=True), 32, "attention in attn"),
    (mb.EinsumAttention, 16, "einsum over positions in einsum"),
    # two window blocks at 8x8 (unknown per unit), patch merging to 4x4, then one window of 4
    # covering the whole map: every unit sees the union of all units -- the whole image
    (mb.SwinPair, 32, "matmul over positions in last.attn.matmul"),
    # the same with torchvision's patch merging (x[..., 0::2, 0::2, :] ... cat on channels):
    # the four phases together take every unit, so the span survives the merge
    (lambda: mb.SwinPair(slices=True), 32, "matmul over positions in last.attn.matmul"),
    # timm's form pads to the window after the merge (zero amounts on a merged layout)
    (lambda: mb.SwinPair(pad_zero=True), 32, "matmul over positions in last.attn.matmul"),
    # BoTNet: q @ k over the flattened H*W positions; the relative-position logits go through a
    # pad/flatten skew whose layout is not followed, but are added to logits that already see
    # every position (timm's botnet26t reported 71 px exact at an earlier node before)
    (mb.BoTNetBlock, 16, "matmul over positions in attn.matmul"),
]


@pytest.mark.parametrize("make, size, mixer", GLOBAL,
                         ids=["se", "resnest", "vit-sdpa", "vit-matmul", "vit-mha", "einsum",
                              "swin-last-window", "swin-slice-merge", "swin-zero-pad",
                              "botnet-relpos"])
def test_global_fields_are_the_whole_input_by_the_probe(make, size, mixer):
    model = make()
    g, rfs, rf = _analyse(model, size)
    _assert_global(model, size, rf, mixer)
    assert feature_rf(g, rfs).status == "global"


def test_botnet_feature_node_is_the_last_map_not_an_earlier_exact_node():
    g, rfs, _ = _analyse(mb.BoTNetBlock(), 16)
    frf = feature_rf(g, rfs)
    assert frf.node == "proj" and frf.status == "global" and frf.size == (16, 16)
    # every node after the logits sees the whole image; none falls back to "no map"
    after = g.position("attn.softmax")
    assert all(rfs[n.name] is not None and rfs[n.name].status == "global"
               for n in g.nodes[after:])


def test_vit_feature_node_is_the_token_map_not_the_patch_embedding():
    g, rfs, _ = _analyse(mb.ViTLayer(), 32)
    frf = feature_rf(g, rfs)
    # the tokens after the encoder layer (x[:, 1:] drops the class token), not the patch conv
    assert frf.node == "getitem" and frf.status == "global" and frf.size == (32, 32)
    tokens = rfs["add#3"]  # N x 17 x C with the class token: still a map of the 4 x 4 patches
    assert tokens.status == "global" and tokens.grid == (4, 4)


@pytest.mark.parametrize("make, size, op", [
    (mb.SwinWindows, 32, "matmul at blocks.0.attn.matmul"),
    (lambda: mb.EinsumAttention(window=4), 16, "einsum at einsum"),
], ids=["swin-windows", "maxvit-block-einsum"])
def test_attention_within_windows_is_unknown_with_the_op_named(make, size, op):
    model = make()
    g, rfs, rf = _analyse(model, size)
    assert rf.status == "unknown" and rf.size is None and rf.stride is None
    assert "within windows" in rf.reason and op in rf.reason
    frf = feature_rf(g, rfs)
    assert frf.status == "unknown" and frf.reason == rf.reason
    # never a silent number from an earlier node: everything after the first window is unknown
    after = g.position(op.split(" at ")[1])
    assert all(rfs[n.name] is None or rfs[n.name].status != "exact" for n in g.nodes[after:])


def test_shifted_windows_roll_is_named_when_it_comes_first():
    block = mb.SwinBlock(8, 4, 2)

    class OnlyShift(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = torch.nn.Conv2d(3, mb.C, 4, 4)
            self.block = block

        def forward(self, x):
            return self.block(self.patch(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    g, rfs, rf = _analyse(OnlyShift(), 32)
    assert rf.status == "unknown" and "cyclic shift along the H/W axis" in rf.reason
    assert "roll at block.roll" in rf.reason


@pytest.mark.parametrize("use_size", [False, True], ids=["scale_factor", "size=x.shape"])
def test_hrnet_fusion_low_branch_exact_high_branch_bounded(use_size):
    model = mb.HRFusion(use_size)
    g, rfs, rf = _analyse(model, 32)
    # low: stem 3/2 (3, j2), to_low 3/2 (7, j4), low 3x3 (15); the high path through
    # high_to_low 3/2: 3 + 4 + 4 = 11 -- inside; size 15, stride 4
    assert rf.size == (15, 15) and rf.stride == (4, 4)
    _assert_exact(model, 32, rf)
    model = mb.HRFusion(use_size)
    model.out = "high"
    g, rfs, rf = _analyse(model, 32)
    # nearest x2 upsampling: the window depends on the unit's phase -> unknown, bounded
    assert rf.status == "unknown" and "phase" in rf.reason and "interpolate" in rf.reason
    rows, cols, _ = _probe(model, 32)
    assert rows[1] - rows[0] + 1 <= rf.bound[0] and cols[1] - cols[0] + 1 <= rf.bound[1]


def test_layout_algebra_window_partition_round_trip():
    lay = L.nchw((1, 8, 8, 8))
    nhwc = L.permute(lay, (0, 2, 3, 1))
    parts = L.reshape(nhwc, (1, 2, 4, 2, 4, 8))
    assert parts[1] == (L.seg(2, ((0, 2, 4),)),) and parts[2] == (L.seg(4, ((0, 4, 1),)),)
    win = L.reshape(L.permute(parts, (0, 1, 3, 2, 4, 5)), (4, 16, 8))
    assert L.dim_axes(win[0]) == {0, 1} and L.dim_axes(win[1]) == {0, 1}
    back = L.reshape(L.permute(L.reshape(win, (1, 2, 2, 4, 4, 8)), (0, 1, 3, 2, 4, 5)),
                     (1, 8, 8, 8))
    assert back == nhwc and L.is_map(back, (8, 8))
    assert not L.is_map(L.reshape(lay, (1, 512)), (8, 8))  # channels and pixels in one dim
    assert L.reshape(lay, (1, 8, 3, 21)) is None  # 64 pixels cut unevenly: unknown


class _StackSum(nn.Module):
    """Selective-kernel style: two branches stacked on a new dim, then summed over it."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=2, dilation=2)

    def forward(self, x):
        return torch.stack([self.a(x), self.b(x)], dim=self.dim).sum(self.dim)


@pytest.mark.parametrize("dim", [1, -5])
def test_stack_then_sum_is_the_union_of_the_branch_windows(dim):
    # by hand: a 3x3 window and a dilated 3x3 (5x5) around the same centre -> 5 px, exact
    # (timm's skresnet18 crashed the RF pass here: the stacked dim was built wrongly)
    a = archlens.analyze(_StackSum(dim), (4, 16, 16), device="meta")
    rf = a.feature_rf
    assert rf.status == "exact" and tuple(rf.size) == (5, 5) and tuple(rf.stride) == (1, 1)


class _InplaceAfterNorm(nn.Module):
    """A tensor saved for backward (``a * a``), then an in-place ReLU after a norm (timm's
    BatchNormAct2d, dpn48b): with the norm an identity the ReLU would overwrite ``a``."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        a = self.conv1(x)
        sq = a * a
        return self.conv2(self.act(self.bn(a)) + sq)


def test_probe_survives_inplace_activations_after_identity_norms():
    # two 3x3 convs: 5 px, stride 1; the probe must run (it failed on dpn48b) and agree
    model = _InplaceAfterNorm()
    g, rfs, rf = _analyse(model, 16)
    assert rf.size == (5, 5) and rf.stride == (1, 1)
    _assert_exact(model, 16, rf)


class _NormNet(nn.Module):
    """conv 3x3 -> a normalisation -> conv 3x3 (channels-last for a LayerNorm over channels)."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = {"group": lambda: nn.GroupNorm(2, 4), "instance": lambda: nn.InstanceNorm2d(4),
                     "layer_chw": lambda: nn.LayerNorm((4, 16, 16)),
                     "layer_c": lambda: nn.LayerNorm(4), "batch": lambda: nn.BatchNorm2d(4),
                     # no running statistics: even eval mode normalises by the batch's own
                     "batch_no_running": lambda: nn.BatchNorm2d(4, track_running_stats=False),
                     "functional_group": lambda: nn.Identity(),
                     "functional_batch_train": lambda: nn.Identity()}[kind]()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        x = self.conv1(x)
        if self.kind == "layer_c":
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        elif self.kind == "functional_group":
            x = torch.nn.functional.group_norm(x, 2)
        elif self.kind == "functional_batch_train":
            x = torch.nn.functional.batch_norm(x, None, None, training=True)
        else:
            x = self.norm(x)
        return self.conv2(x)


@pytest.mark.parametrize("kind, mixer", [
    ("group", "GroupNorm statistics over positions in norm"),
    ("instance", "InstanceNorm2d statistics over positions in norm"),
    ("layer_chw", "LayerNorm statistics over positions in norm"),
    ("functional_group", "group_norm statistics over positions in group_norm"),
    ("batch_no_running", "BatchNorm2d statistics over positions in norm"),
    ("functional_batch_train", "batch_norm statistics over positions in batch_norm"),
])
def test_norms_whose_statistics_span_the_map_are_global_by_the_real_norm_probe(kind, mixer):
    # the probe keeps the norms real here: the mean and variance couple every position
    model = _NormNet(kind).eval()
    g, rfs, rf = _analyse(model, 16)
    assert rf.status == "global" and rf.size == (16, 16) and mixer in rf.reason, rf
    prepare(model, jitter=0, keep_norms=True)
    rows, cols, _ = probe(model, (1, 3, 16, 16), keep_norms=True)
    assert rows == (0, 15) and cols == (0, 15)


@pytest.mark.parametrize("kind", ["layer_c", "batch"])
def test_per_pixel_norms_stay_exact_by_the_real_norm_probe(kind):
    # LayerNorm over channels only and BatchNorm in eval: per position, two 3x3 convs = 5 px
    model = _NormNet(kind).eval()
    g, rfs, rf = _analyse(model, 16)
    assert rf.status == "exact" and rf.size == (5, 5), rf
    prepare(model, jitter=0, keep_norms=True)
    rows, cols, hw = probe(model, (1, 3, 16, 16), keep_norms=True)
    c = (hw[0] - 1) // 2
    assert rows == (c - 2, c + 2) and cols == (c - 2, c + 2)
