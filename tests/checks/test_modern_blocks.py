"""The checks on modern blocks (issue 10): each case seen on torchvision/timm, reproduced with a
small model written here and traced for real (meta device). Expected numbers are hand
arithmetic on the shapes written below, never the rule's own output."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archlens import api, checks
from archlens.checks._common import Context

CFG = checks.DEFAULTS


def analyse(model, shape):
    return api.analyze(model, shape, device="meta", checks=False)


def run(model, shape, **kw):
    return checks.run(analyse(model, shape), config=CFG, **kw)


def codes(fs):
    return [f.code for f in fs]


def cbr(cin, cout, k=3, s=1, g=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class SE(nn.Module):
    """Squeeze-excitation as in EfficientNet / RegNetY: pool -> 1x1 conv -> act -> 1x1 conv ->
    sigmoid -> multiply."""

    def __init__(self, c, r=4):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, c // r, 1), nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class SENet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = cbr(3, 32, s=2)                     # 32x32x32
        self.b1, self.se1 = cbr(32, 64, s=2), SE(64)    # 16x16x64
        self.b2, self.se2 = cbr(64, 128, s=2), SE(128)  # 8x8x128
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.se2(self.b2(self.se1(self.b1(self.stem(x)))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def test_se_gates_are_not_trunk_stages_and_the_head_pool_gets_no_p2():
    a = analyse(SENet(), (3, 64, 64))
    ctx = Context.of(a.graph)
    gate_types = sorted(a.graph[g].type for g in ctx.gates)
    # each gate: mean, fc1, relu, fc2, sigmoid (the multiply applies it and stays on the trunk)
    assert gate_types == sorted(["mean", "Conv2d", "relu", "Conv2d", "sigmoid"] * 2)
    assert not any(g in {c.name for c in ctx.main} for g in ctx.gates)
    from archlens.checks._common import stage_groups
    assert [g for g, _ in stage_groups(ctx)] == [(32, 32), (16, 16), (8, 8)]   # no 1x1 stage
    fs = checks.run(a, config=CFG)
    assert not [f for f in fs if f.code == "P2.narrow-coarse"]
    # the trunk still sees every block: the widths double as the grid halves
    assert [c.out_shape[1] for c in ctx.cuts if ctx.is_map(c) and c.type == "mul"] == [64, 128]


class ConvHead(nn.Module):
    """DLA / DPN / GhostNet: the classifier is a 1x1 conv on the pooled vector."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(cbr(3, 64, s=2), cbr(64, 128, s=2), cbr(128, 256, s=2))
        self.fc = nn.Conv2d(256, 10, 1)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.body(x), 1)).flatten(1)


def test_global_pool_before_a_conv_classifier_is_head_not_a_grid_reduction():
    fs = run(ConvHead(), (3, 64, 64), select="P1,P2")
    # 8x8x256 -> 1x1x256 is a 64x drop; it is the head, not a bottleneck
    assert not [f for f in fs if "adaptive_avg_pool2d" in f.layers[0]], fs


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, t=6, s=1):
        super().__init__()
        mid = cin * t
        self.expand, self.dw = cbr(cin, mid, 1), cbr(mid, mid, 3, s, g=mid)
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return self.project(self.dw(self.expand(x)))


class MobileNetLike(nn.Module):
    def __init__(self, squeeze_plain=False):
        super().__init__()
        self.stem = cbr(3, 32, s=2)                            # 32x32x32
        self.b1 = InvertedResidual(32, 48)                     # 32x32: 32 -> 192 -> 48
        self.b2 = InvertedResidual(48, 64, s=2)                # 16x16: 48 -> 288 -> 64
        self.plain = cbr(64, 512, 3) if squeeze_plain else nn.Identity()
        self.squeeze = cbr(512, 32, 1) if squeeze_plain else nn.Identity()
        self.tail = cbr(32 if squeeze_plain else 64, 128, 1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.tail(self.squeeze(self.plain(self.b2(self.b1(self.stem(x))))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def test_inverted_residual_projection_is_compared_with_the_block_input():
    # b1 projects 32x32x192 -> 32x32x48 (4.0x... with t=6: 192/48 = 4) and b2's 288 -> 64
    # (4.5x): against the internal expansion that is a squeeze, against the block's input
    # (32 -> 48 channels, 48 -> 64) it is a widening
    a = analyse(MobileNetLike(), (3, 64, 64))
    assert 288 / 64 > CFG.p1_squeeze_warn
    assert not [f for f in checks.run(a, config=CFG) if f.code == "P1.channel-squeeze"]


def test_a_plain_channel_squeeze_is_still_flagged():
    fs = run(MobileNetLike(squeeze_plain=True), (3, 64, 64), select="P1.channel-squeeze")
    [f] = fs
    assert f.layers == ("squeeze.0",)
    # 16x16x512 -> 16x16x32: 16x, below the input's 3x64x64 = 12,288 values
    assert f.data["drop"] == 512 / 32 and f.data["pre"] == 16 * 16 * 512
    assert f.data["post"] == 8192 < 12288


class HRNetLike(nn.Module):
    """Three branches at 16x16, 8x8 and 4x4 run side by side and fuse (up-sample + add), as
    in HRNet; the head adds them back down to 4x4."""

    def __init__(self):
        super().__init__()
        self.stem = cbr(3, 32, s=2)                               # 16x16x32
        self.to8, self.to4 = cbr(32, 64, s=2), cbr(64, 128, s=2)
        self.b16, self.b8, self.b4 = cbr(32, 32), cbr(64, 64), cbr(128, 128)
        self.up8, self.up4 = nn.Conv2d(64, 32, 1), nn.Conv2d(128, 32, 1)
        self.down16, self.down8 = cbr(32, 64, s=2), cbr(64, 128, s=2)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x16 = self.stem(x)
        x8 = self.to8(x16)
        x4 = self.to4(x8)
        x16, x8, x4 = self.b16(x16), self.b8(x8), self.b4(x4)
        f16 = x16 + F.interpolate(self.up8(x8), scale_factor=2) + F.interpolate(
            self.up4(x4), scale_factor=4)
        y = self.down8(self.down16(f16) + x8) + x4
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


def test_parallel_resolution_branches_are_not_one_trunk_reduction():
    a = analyse(HRNetLike(), (3, 32, 32))
    ctx = Context.of(a.graph)
    trunk = [c for c in ctx.cuts if ctx.is_map(c) and ctx.positions(c) > 1]
    # between the stem (16x16x32 = 8,192 values) and the final 4x4x128 sum (2,048) the branches
    # at 16, 8 and 4 run in parallel: 4x "drop" across them, early, below the input's 3,072
    assert (16 * 16 * 32) / (4 * 4 * 128) == 4.0 and 4 * 4 * 128 < 3 * 32 * 32
    assert [c.out_shape[2] for c in trunk][-2:] == [16, 4]
    assert not [f for f in checks.run(a, config=CFG) if f.code == "P1.grid-reduction"]


class PoolFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.c2 = cbr(64, 128), cbr(128, 128)
        self.pool, self.fc = nn.MaxPool2d(2), nn.Linear(256, 10)
        self.c3 = cbr(128, 256)

    def forward(self, x):
        x = self.c3(self.pool(self.c2(self.stem(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def test_a_single_trunk_pooling_first_reduction_is_still_flagged():
    [f] = run(PoolFirst(), (64, 16, 16), select="P1.grid-reduction")
    # 16x16x128 -> 8x8x128: 4x, early, 0.5x the input's 16,384 values
    assert f.layers == ("pool",) and f.data["drop"] == 4.0 and f.severity == "warning"
    assert f.data["post"] == 8 * 8 * 128 == 16384 // 2


class WSConv2d(nn.Conv2d):
    """Weight standardisation (timm's StdConv2d, BiT): a Conv2d subclass."""

    def forward(self, x):
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


class PaddedConv(nn.Conv2d):
    """A subclass that keeps Conv2d's forward: traced as one leaf of type PaddedConv."""


def test_conv_subclass_is_checked_as_a_conv():
    a = analyse(nn.Sequential(PaddedConv(192, 32, 5, padding=2)), (192, 28, 28))
    assert [(n.type, n.base_type) for n in a.graph.layers] == [("PaddedConv", "Conv2d")]
    # the course's bottleneck example: 28x28x192 -> 5x5 conv -> 32 channels
    for cls in (nn.Conv2d, WSConv2d, PaddedConv):
        [f] = run(nn.Sequential(cls(192, 32, 5, padding=2, bias=False)), (192, 28, 28),
                  select="P3")
        assert f.code == "P3.no-reduction", cls
        assert f.data["per_layer"][f.layers[0]]["macs"] == 28 * 28 * 32 * 5 * 5 * 192 - (
            28 * 28 * 192 * 16 + 28 * 28 * 32 * 5 * 5 * 16)          # 120,422,400 - 12,443,648


class SamePad(nn.Module):
    """TF "same" padding (timm tf_*): F.pad with amounts computed from the input's shape,
    before a strided depthwise conv inside an inverted residual."""

    def __init__(self):
        super().__init__()
        self.stem = cbr(3, 40, s=2)                     # 28x28x40
        self.expand = cbr(40, 240, 1)                   # 28x28x240
        self.dw = nn.Conv2d(240, 240, 3, 2, 0, groups=240, bias=False)
        self.project = nn.Conv2d(240, 80, 1, bias=False)
        self.fc = nn.Linear(80, 10)

    def forward(self, x):
        x = self.expand(self.stem(x))
        ih = x.shape[-2]
        pad = max((-(-ih // 2) - 1) * 2 + 3 - ih, 0)
        x = F.pad(x, [pad // 2, pad - pad // 2, pad // 2, pad - pad // 2])   # 28 -> 29
        x = self.project(self.dw(x))                     # 14x14x240 -> 14x14x80
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def test_tf_same_pad_is_not_a_trunk_tensor_of_its_own():
    a = analyse(SamePad(), (3, 56, 56))
    assert [n.out_shape[2] for n in a.graph if n.type == "pad"] == [29]
    # measured from before the expansion: 28x28x40 = 31,360 -> 14x14x240 = 47,040, no drop
    assert not [f for f in checks.run(a, config=CFG) if f.code == "P1.grid-reduction"]


class TinyViT(nn.Module):
    def __init__(self, hybrid=False, depth=2, dim=64):
        super().__init__()
        self.stem = nn.Sequential(cbr(3, 32, 3, 2), cbr(32, 64, 3, 2)) if hybrid else None
        self.patch = nn.Conv2d(64 if hybrid else 3, dim, 2 if hybrid else 8, 2 if hybrid else 8)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 4 * dim, batch_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        if self.stem is not None:
            x = self.stem(x)
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1)
        return self.head(self.encoder(x)[:, 0])


def test_pure_transformer_gets_one_not_applicable_note():
    fs = run(TinyViT(), (3, 32, 32))
    assert codes(fs) == ["scope.not-applicable"] and fs[0].severity == "info"
    assert "8x8 stride-8 patch embedding (patch)" in fs[0].message
    assert fs[0].data["attention_ops"] == 2                     # one per encoder layer
    # whatever is selected: the note, once
    assert codes(run(TinyViT(), (3, 32, 32), select="P3")) == ["scope.not-applicable"]


def test_hybrid_vit_head_is_only_what_follows_the_token_mixing():
    a = analyse(TinyViT(hybrid=True, depth=4), (3, 32, 32))
    ctx = Context.of(a.graph)
    head = 64 * 10 + 10                       # head Linear(64 -> 10)
    layer = 4 * 64 * 64 + 4 * 64 + 2 * (64 * 256) + 256 + 64 + 4 * 64   # attn + mlp + 2 LN
    assert a.totals.params == (3 * 9 * 32 + 64 + 32 * 9 * 64 + 128 + 64 * 4 * 64 + 64 + 64
                               + 4 * layer + head)
    assert ctx.last_positional.out_shape == (1, 1 + 4 * 4, 64)   # encoder output: 17 tokens
    # the encoder is body: the head holds 650 of ~0.28M params, no head finding
    fs = checks.run(a, config=CFG, select="P4.param-concentration")
    assert not [f for f in fs if f.severity == "warning"], fs


class ChannelsLast(nn.Module):
    """Swin-like: patch embedding, then blocks on a channels-last (N, H, W, C) trunk."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 96, 4, 4)
        self.norm = nn.LayerNorm(96)
        self.mlp = nn.Sequential(nn.Linear(96, 384), nn.GELU(), nn.Linear(384, 96))
        self.dw = nn.Conv2d(96, 96, 7, padding=3, groups=96)
        self.fc = nn.Linear(96, 10)

    def forward(self, x):
        x = self.patch(x).permute(0, 2, 3, 1)                 # N x 14 x 14 x 96
        x = x + self.mlp(self.norm(x))
        x = self.dw(x.permute(0, 3, 1, 2))                    # back to NCHW
        return self.fc(x.mean((2, 3)))


def test_channels_last_tensors_are_not_read_as_grids():
    a = analyse(ChannelsLast(), (3, 56, 56))
    ctx = Context.of(a.graph)
    lay = {n.name: ctx.layout.get(n.name) for n in a.graph}
    perms = [n.name for n in a.graph if n.type == "permute"]
    assert [lay[p] for p in perms] == ["nhwc", "nchw"]
    assert lay["mlp.2"] == "nhwc" and lay["norm"] == "nhwc" and lay["dw"] == "nchw"
    # a channels-last (1, 14, 14, 96) tensor is never taken for a 14x96 grid
    assert all(ctx.is_map(c) == (c.out_shape[1] in (3, 96)) for c in ctx.cuts
               if len(c.out_shape) == 4)


class SplitAttention(nn.Module):
    """ResNeSt split attention: radix-2 grouped conv, sum of splits, pooled gate reshaped to
    (N, radix, C), softmax over the radix, weighted sum of the splits."""

    def __init__(self, c=64, radix=2):
        super().__init__()
        self.radix = radix
        self.conv = nn.Conv2d(c, c * radix, 3, padding=1, groups=radix, bias=False)
        self.fc1, self.fc2 = nn.Conv2d(c, 32, 1), nn.Conv2d(32, c * radix, 1)

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        y = self.conv(x).view(n, self.radix, c, *x.shape[2:])
        g = y.sum(1).mean((2, 3), keepdim=True)
        att = self.fc2(F.relu(self.fc1(g))).view(n, self.radix, c).softmax(1)
        return (y * att.view(n, self.radix, c, 1, 1)).sum(1)


def test_split_attention_gate_is_found():
    model = nn.Sequential(cbr(3, 64, s=2), SplitAttention(), cbr(64, 128, s=2))
    a = analyse(model, (3, 32, 32))
    ctx = Context.of(a.graph)
    types = sorted(a.graph[g].type for g in ctx.gates)
    assert types.count("Conv2d") == 2 and "softmax" in types and "mean" in types
    assert "1.conv" not in ctx.gates and all(a.graph[g].out_shape[-1] == 1 or
                                             len(a.graph[g].out_shape) <= 3 for g in ctx.gates)
