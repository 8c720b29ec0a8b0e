"""Small re-implementations of the blocks people bring (written here, not copied): ConvNeXt, Swin,
ViT, ResNeSt, ShuffleNet-V2, NASNet, TF "same" padding, HRNet fusion, SE, WSConv2d, MaxViT-style
einsum attention, BoTNet relative-position attention. Each is the block's own geometry on tiny widths, so the float64 probe is fast.

Every model maps an N x 3 x H x W image to an N x C x h x w map (token models reshape their
tokens back at the end, as timm's feature extractors do), so the probe reads its output.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

C = 8


class ConvNeXtBlock(nn.Module):
    """dw 7x7 -> permute to channels-last -> LayerNorm -> Linear 4x -> GELU -> Linear -> back."""

    def __init__(self, c: int = C):
        super().__init__()
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c)
        self.pwconv1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 1e-6))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)  # N x H x W x C
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class LayerNorm2d(nn.LayerNorm):
    """timm's channels-first LayerNorm: permute, F.layer_norm, permute back (an opened module)."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtStack(nn.Module):
    """Stem 4/4, two blocks, a 2x2/2 downsample behind LayerNorm2d, one more block."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, C, 4, 4)
        self.stage1 = nn.Sequential(ConvNeXtBlock(), ConvNeXtBlock())
        self.down = nn.Sequential(LayerNorm2d(C), nn.Conv2d(C, C, 2, 2))
        self.stage2 = ConvNeXtBlock()

    def forward(self, x):
        return self.stage2(self.down(self.stage1(self.stem(x))))


# ---- attention -------------------------------------------------------------------------------

class Attention(nn.Module):
    """timm-style multi-head self-attention over tokens: qkv Linear, reshape, unbind, SDPA."""

    def __init__(self, c: int = C, heads: int = 2, fused: bool = True):
        super().__init__()
        self.heads, self.fused = heads, fused
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x, mask=None):  # B x N x C
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused and mask is None:
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
            if mask is not None:
                attn = attn + mask
            y = attn.softmax(dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, n, c))


class ViTLayer(nn.Module):
    """Patch embed 8/8, class token, position embedding, one pre-norm encoder layer; the patch
    tokens are reshaped back to a map (``x[:, 1:]``) at the end."""

    def __init__(self, fused: bool = True, torch_mha: bool = False):
        super().__init__()
        self.patch = nn.Conv2d(3, C, 8, 8)
        self.cls = nn.Parameter(torch.zeros(1, 1, C))
        self.pos = nn.Parameter(torch.zeros(1, 17, C))
        self.norm1 = nn.LayerNorm(C)
        self.torch_mha = torch_mha
        self.attn = (nn.MultiheadAttention(C, 2, batch_first=True) if torch_mha
                     else Attention(fused=fused))
        self.norm2 = nn.LayerNorm(C)
        self.mlp = nn.Sequential(nn.Linear(C, 2 * C), nn.GELU(), nn.Linear(2 * C, C))

    def forward(self, x):
        x = self.patch(x)                                   # N x C x 4 x 4
        b, c, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)                    # N x 16 x C
        x = torch.cat([self.cls.expand(b, -1, -1), x], 1) + self.pos   # N x 17 x C
        y = self.norm1(x)
        x = x + (self.attn(y, y, y, need_weights=False)[0] if self.torch_mha else self.attn(y))
        x = x + self.mlp(self.norm2(x))
        return x[:, 1:].transpose(1, 2).reshape(b, c, h, w)


def window_partition(x, ws: int):
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)


def window_reverse(win, ws: int, h: int, w: int):
    c = win.shape[-1]
    x = win.view(-1, h // ws, w // ws, ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


class SwinBlock(nn.Module):
    """Channels-last Swin block: (shifted) window partition, attention, reverse, MLP."""

    def __init__(self, res: int, ws: int, shift: int):
        super().__init__()
        self.res, self.ws = res, ws
        self.shift = 0 if ws >= res else shift  # as in Swin: no shift when one window covers all
        self.norm1 = nn.LayerNorm(C)
        self.attn = Attention(fused=False)
        self.norm2 = nn.LayerNorm(C)
        self.mlp = nn.Sequential(nn.Linear(C, 2 * C), nn.GELU(), nn.Linear(2 * C, C))
        mask = None
        if self.shift:
            img = torch.zeros(1, res, res, 1)
            cuts = (slice(0, -ws), slice(-ws, -self.shift), slice(-self.shift, None))
            cnt = 0
            for hs in cuts:
                for wsl in cuts:
                    img[:, hs, wsl, :] = cnt
                    cnt += 1
            mw = window_partition(img, ws).squeeze(-1)
            mask = (mw.unsqueeze(1) - mw.unsqueeze(2)).ne(0).float() * -100.0
            mask = mask.unsqueeze(1)  # nW x 1 x N x N
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):  # N x H x W x C
        b, h, w, c = x.shape
        y = self.norm1(x)
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        win = window_partition(y, self.ws)
        win = self.attn(win, self.mask)
        y = window_reverse(win, self.ws, h, w)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class SwinPair(nn.Module):
    """Patch embed 4/4 (channels-last via permute), a window block and a shifted-window block at
    8x8 with windows of 4, then patch merging to 4x4 and one block whose window covers it all."""

    def __init__(self, slices: bool = False, pad_zero: bool = False):
        super().__init__()
        self.slices, self.pad_zero = slices, pad_zero
        self.patch = nn.Conv2d(3, C, 4, 4)
        self.blocks = nn.Sequential(SwinBlock(8, 4, 0), SwinBlock(8, 4, 2))
        self.merge = nn.Linear(4 * C, C)
        self.last = SwinBlock(4, 4, 2)

    def forward(self, x):
        x = self.patch(x).permute(0, 2, 3, 1)        # N x 8 x 8 x C
        x = self.blocks(x)
        b, h, w, c = x.shape                         # patch merging: 2x2 neighbours -> channels
        if self.slices:  # torchvision's form: four strided slices (the 2x2 phases), then cat
            x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :],
                           x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        else:            # timm's form: reshape + permute
            x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).flatten(3)
        x = self.merge(x)
        if self.pad_zero:  # timm's Swin pads H, W up to the window: zero amounts here
            x = F.pad(x, (0, 0, 0, 0, 0, 0))
        return self.last(x).permute(0, 3, 1, 2)


class SliceMerge(nn.Module):
    """A conv, then torchvision's patch merging (strided slices + cat on channels, a 2x2/2
    space-to-depth), then a 3x3 conv: exact. ``phases`` drops one phase when 3."""

    def __init__(self, phases: int = 4):
        super().__init__()
        self.phases = phases
        self.conv1 = nn.Conv2d(3, C, 3, 1, 1)
        self.conv2 = nn.Conv2d(phases * C, C, 3, 1, 1)

    def forward(self, x):
        x = self.conv1(x).permute(0, 2, 3, 1)
        parts = [x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
                 x[..., 1::2, 1::2, :]][:self.phases]
        return self.conv2(torch.cat(parts, -1).permute(0, 3, 1, 2))


class SwinWindows(nn.Module):
    """The first two Swin blocks alone (the windows do not cover the 8x8 map)."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, C, 4, 4)
        self.blocks = nn.Sequential(SwinBlock(8, 4, 0), SwinBlock(8, 4, 2))

    def forward(self, x):
        return self.blocks(self.patch(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class EinsumAttention(nn.Module):
    """MaxViT-style relative attention written with einsum, over all positions of a map."""

    def __init__(self, heads: int = 2, window: int | None = None):
        super().__init__()
        self.heads, self.window = heads, window
        self.stem = nn.Conv2d(3, C, 3, 2, 1)
        self.qkv = nn.Conv2d(C, 3 * C, 1)

    def forward(self, x):
        x = self.stem(x)
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=1)
        if self.window:  # block attention: partition into windows (batch of windows)
            ws = self.window

            def part(t):
                t = t.view(b, c, h // ws, ws, w // ws, ws).permute(0, 2, 4, 1, 3, 5)
                return t.reshape(-1, self.heads, c // self.heads, ws * ws)
            q, k, v = part(q), part(k), part(v)
        else:
            q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        attn = torch.einsum("bhdi,bhdj->bhij", q, k).softmax(dim=-1)
        y = torch.einsum("bhij,bhdj->bhdi", attn, v)
        if self.window:
            ws = self.window
            y = y.reshape(b, h // ws, w // ws, c, ws, ws).permute(0, 3, 1, 4, 2, 5)
        return x + y.reshape(b, c, h, w)


def relative_logits_1d(q, rel, width: int):
    """Relative-position logits along the last position axis, as in Attention Augmented Conv
    (Bello et al. 2019) and BoTNet: ``q @ rel^T`` over the 2W-1 offsets, then the pad /
    flatten / reshape skew that turns relative offsets into absolute key positions.
    q: (B, H, W, d) -> (B, H, W, W) [query w, key w']."""
    b, h, w, _ = q.shape
    x = (q @ rel.transpose(-1, -2)).reshape(-1, w, 2 * w - 1)
    x = F.pad(F.pad(x, [0, 1]).flatten(1), [0, w - 1])
    x = x.reshape(-1, w + 1, 2 * w - 1)[:, :w, w - 1:]
    return x.reshape(b, h, w, w)


class RelPosAttention(nn.Module):
    """BoTNet's bottleneck attention on an NCHW map: 1x1 qkv conv, q @ k over the flattened
    H*W positions plus 2-D relative-position logits (per axis, :func:`relative_logits_1d`),
    softmax over all positions, attn @ v, reshape back to the map."""

    def __init__(self, res: int, c: int = C):
        super().__init__()
        self.res = res
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.rel_h = nn.Parameter(torch.randn(2 * res - 1, c) * 0.1)
        self.rel_w = nn.Parameter(torch.randn(2 * res - 1, c) * 0.1)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = torch.split(self.qkv(x), [c, c, c], dim=1)
        q = q.reshape(b, c, h * w).transpose(-1, -2)            # B x HW x C
        k = k.reshape(b, c, h * w)
        v = v.reshape(b, c, h * w).transpose(-1, -2)
        qm = q.reshape(b, h, w, c)
        lw = relative_logits_1d(qm, self.rel_w, w)              # B x H x W x W'
        lh = relative_logits_1d(qm.transpose(1, 2), self.rel_h, h)   # B x W x H x H'
        pos = (lw[:, :, None, :, :].expand(-1, -1, h, -1, -1).permute(0, 1, 3, 2, 4)
               + lh[:, :, None, :, :].expand(-1, -1, w, -1, -1).permute(0, 3, 1, 4, 2))
        attn = (q @ k * c ** -0.5 + pos.reshape(b, h * w, h * w)).softmax(dim=-1)
        return (attn @ v).transpose(-1, -2).reshape(b, c, h, w)


class BoTNetBlock(nn.Module):
    """stem 3x3/2 -> relative-position self-attention at 8x8 -> 1x1 conv (a BoTNet stage)."""

    def __init__(self, res: int = 8):
        super().__init__()
        self.stem = nn.Conv2d(3, C, 3, 2, 1)
        self.attn = RelPosAttention(res)
        self.proj = nn.Conv2d(C, C, 1)

    def forward(self, x):
        return self.proj(F.relu(self.attn(self.stem(x))))


# ---- gates -----------------------------------------------------------------------------------

class SE(nn.Module):
    def __init__(self, c: int = C, r: int = 2):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))


class SENet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, C, 3, 1, 1)
        self.se = SE()
        self.conv2 = nn.Conv2d(C, C, 3, 1, 1)

    def forward(self, x):
        return self.conv2(self.se(self.conv1(x)))


class SplitAttention(nn.Module):
    """ResNeSt's split attention (radix 2, cardinality 1): a 3x3 conv to radix*C, the splits
    summed, pooled, two 1x1 convs, a softmax over the radix on a (N, 1, radix, C) view, and the
    splits re-weighted and summed."""

    def __init__(self, c: int = C, radix: int = 2):
        super().__init__()
        self.radix = radix
        self.conv = nn.Conv2d(c, c * radix, 3, 1, 1, groups=radix)
        self.fc1 = nn.Conv2d(c, c // 2, 1)
        self.fc2 = nn.Conv2d(c // 2, c * radix, 1)

    def forward(self, x):
        x = self.conv(x)
        b, rc, h, w = x.shape
        splits = x.reshape(b, self.radix, rc // self.radix, h, w)
        gap = splits.sum(dim=1).mean((2, 3), keepdim=True)
        attn = self.fc2(F.relu(self.fc1(gap)))
        attn = attn.view(b, 1, self.radix, -1).transpose(1, 2)   # N x radix x 1 x C
        attn = F.softmax(attn, dim=1).reshape(b, -1)
        attn = attn.view(b, self.radix, rc // self.radix, 1, 1)
        return (splits * attn).sum(dim=1)


class ResNeStBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, C, 3, 1, 1)
        self.conv1 = nn.Conv2d(C, C, 1)
        self.sa = SplitAttention()
        self.conv3 = nn.Conv2d(C, C, 1)

    def forward(self, x):
        x = self.stem(x)
        return F.relu(x + self.conv3(self.sa(self.conv1(x))))


# ---- CNN cells -------------------------------------------------------------------------------

def channel_shuffle(x, groups: int):
    b, c, h, w = x.shape
    x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(b, c, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNet-V2 unit: stride 1 (chunk, one branch, cat, shuffle) or 2 (both branches)."""

    def __init__(self, c: int, stride: int):
        super().__init__()
        self.stride = stride
        half = c // 2
        cin = c if stride == 2 else half
        if stride == 2:
            self.branch1 = nn.Sequential(nn.Conv2d(c, c, 3, 2, 1, groups=c), nn.BatchNorm2d(c),
                                         nn.Conv2d(c, half, 1), nn.ReLU())
        self.branch2 = nn.Sequential(nn.Conv2d(cin, half, 1), nn.ReLU(),
                                     nn.Conv2d(half, half, 3, stride, 1, groups=half),
                                     nn.BatchNorm2d(half), nn.Conv2d(half, half, 1), nn.ReLU())

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetUnits(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, C, 3, 2, 1)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.units = nn.Sequential(ShuffleUnit(C, 2), ShuffleUnit(C, 1), ShuffleUnit(C, 1))

    def forward(self, x):
        return self.units(self.maxpool(self.conv1(x)))


class SepConv(nn.Module):
    """NASNet's separable conv: (ReLU, depthwise k, pointwise) twice."""

    def __init__(self, c: int, k: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, k, stride, k // 2, groups=c),
                                  nn.Conv2d(c, c, 1), nn.ReLU(),
                                  nn.Conv2d(c, c, k, 1, k // 2, groups=c), nn.Conv2d(c, c, 1))

    def forward(self, x):
        return self.body(x)


class FactorizedReduction(nn.Module):
    """NASNet's path: avg-pool 1/2 of x, and of x shifted by one pixel (pad right/bottom, crop
    the first row and column), concatenated."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c // 2, 1)
        self.conv2 = nn.Conv2d(c, c // 2, 1)

    def forward(self, x):
        a = self.conv1(F.avg_pool2d(x, 1, 2, count_include_pad=False))
        y = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        b = self.conv2(F.avg_pool2d(y, 1, 2, count_include_pad=False))
        return torch.cat([a, b], 1)


class NASCell(nn.Module):
    """A reduction cell: sep 5x5/2 + sep 7x7/2, max 3x3/2 + sep 7x7/2, avg 3x3/2 (no padding
    counted) + sep 5x5/2, and the factorized-reduction shortcut; outputs concatenated."""

    def __init__(self, c: int = C):
        super().__init__()
        self.s5, self.s7a, self.s7b, self.s5b = (SepConv(c, 5, 2), SepConv(c, 7, 2),
                                                  SepConv(c, 7, 2), SepConv(c, 5, 2))
        self.path = FactorizedReduction(c)
        self.sep3 = SepConv(c, 3)

    def forward(self, x):
        b0 = self.s5(x) + self.s7a(x)
        b1 = F.max_pool2d(x, 3, 2, 1) + self.s7b(x)
        b2 = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False) + self.s5b(x)
        b3 = self.sep3(b0) + self.path(x)
        return torch.cat([b0, b1, b2, b3], 1)


class NASNetCells(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, C, 3, 2, 0)
        self.cell = NASCell()

    def forward(self, x):
        return self.cell(self.stem(x))


# TF "same" padding and timm's Conv2dSame: the engine's fixture, shared
from tests.engine.fixtures.shape_arith import Conv2dSame, pad_same  # noqa: E402,F401


class TFSameNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = Conv2dSame(3, C, 3, 2)
        self.c2 = Conv2dSame(C, C, 5, 2, groups=C)
        self.c3 = Conv2dSame(C, C, 3, 1, dilation=2)

    def forward(self, x):
        x = self.c2(self.c1(x))
        x = F.max_pool2d(pad_same(x, 3, 2), 3, 2)
        return self.c3(x)


class HRFusion(nn.Module):
    """HRNet-style exchange between a 1/2 and a 1/4 branch: the low branch is upsampled (nearest,
    scale 2, as ``interpolate(size=x.shape[-2:])`` too) into the high one, the high branch
    enters the low one through a 3x3/2 conv."""

    def __init__(self, use_size: bool = False):
        super().__init__()
        self.use_size = use_size
        self.stem = nn.Conv2d(3, C, 3, 2, 1)
        self.high = nn.Conv2d(C, C, 3, 1, 1)
        self.to_low = nn.Conv2d(C, C, 3, 2, 1)
        self.low = nn.Conv2d(C, C, 3, 1, 1)
        self.low_to_high = nn.Conv2d(C, C, 1)
        self.high_to_low = nn.Conv2d(C, C, 3, 2, 1)
        self.out = "low"

    def forward(self, x):
        x = self.stem(x)
        hi, lo = self.high(x), self.low(self.to_low(x))
        if self.use_size:
            up = F.interpolate(self.low_to_high(lo), size=hi.shape[-2:], mode="nearest")
        else:
            up = F.interpolate(self.low_to_high(lo), scale_factor=2, mode="nearest")
        hi2 = F.relu(hi + up)
        lo2 = F.relu(lo + self.high_to_low(hi))
        return lo2 if self.out == "low" else hi2


class WSConv2d(nn.Conv2d):
    """Weight-standardised conv (BiT / NFNet): a subclass whose forward is user code. The probe
    switches ``standardize`` off (constant probe weights would standardise to 0); the geometry is
    the same either way."""

    standardize = True

    def forward(self, x):
        w = self.weight
        if self.standardize:
            m = w.mean(dim=(1, 2, 3), keepdim=True)
            v = w.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
            w = (w - m) / torch.sqrt(v + 1e-5)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class WSNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = WSConv2d(3, C, 7, 2, 3)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.c2 = WSConv2d(C, C, 3, 1, 2, dilation=2)

    def forward(self, x):
        return self.c2(self.pool(self.c1(x)))
