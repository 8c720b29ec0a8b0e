"""Ops with no geometry rule are ``unknown``, never silently position-wise (rf_pointwise.py).

Each op below once got an ``exact`` window by the old fallback ("same shape, so pointwise") that
the gradient probe contradicts: ``rot90`` and an ``index_select`` that reverses W move the
window, ``grid_sample`` and an FFT read anywhere, an LSTM along W and ``cumsum`` along W read
every earlier column, circular padding wraps the border units' windows to the far side. The
ops that *are* position-wise (PyTorch's pointwise tag, dropouts, casts, channel-only gathers)
and the padding modes whose border units stay inside their window keep exact windows, checked
by the probe at four output units -- corners and off-centre, not only the centre, since a moved
window can keep the centre unit in place.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archlens.engine import trace_graph
from archlens.metrics.receptive_field import receptive_fields
from archlens.metrics.rf_pointwise import is_positionwise, tagged_pointwise

from .probe import max_pool_as_avg, prepare

H = W = 32


class Around(nn.Module):
    """conv 3x3 -> ``fn`` -> conv 3x3, 2 channels (``c`` for the channel-moving ops)."""

    def __init__(self, fn, c: int = 2):
        super().__init__()
        self.fn = fn
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.b(self.fn(self.a(x)))


class AlongW(nn.Module):
    """conv -> an LSTM run along W (each row a sequence; CRNN-style) -> conv."""

    def __init__(self, bidirectional: bool):
        super().__init__()
        self.a = nn.Conv2d(2, 2, 3, padding=1)
        self.rnn = nn.LSTM(2, 2, bidirectional=bidirectional)
        self.b = nn.Conv2d(4 if bidirectional else 2, 2, 3, padding=1)

    def forward(self, x):
        n, c, h, w = x.shape
        y = self.a(x).permute(3, 0, 2, 1).reshape(w, n * h, c)
        y, _ = self.rnn(y)
        return self.b(y.reshape(w, n, h, -1).permute(1, 3, 2, 0))


class MyReflect(nn.ReflectionPad2d):
    """A subclass: typed by what it subclasses."""


def _write_w(x):
    y = x.clone()
    y[:, :, :, :16] = F.avg_pool2d(x, 9, 1, 4)[:, :, :, :16]
    return y


def _write_channel(x):
    y = torch.zeros_like(x)
    y[:, 0] = F.avg_pool2d(x, 9, 1, 4)[:, 0]
    y[:, 1, :, :3] = 0.0   # a constant into part of W: a mask, position-wise
    return y


def _reverse_w(x):
    return x.index_select(3, torch.arange(x.shape[3] - 1, -1, -1))


UNKNOWN = {
    "rot90": (lambda: Around(lambda x: torch.rot90(x, 1, (2, 3))), "rot90"),
    "grid_sample": (lambda: Around(lambda x: F.grid_sample(
        x, torch.zeros(x.shape[0], x.shape[2], x.shape[3], 2, dtype=x.dtype),
        align_corners=False)), "grid_sample"),
    "fft": (lambda: Around(lambda x: torch.fft.ifft2(torch.fft.fft2(x)).real), "fft"),
    "lstm_along_w": (lambda: AlongW(False), "LSTM along the W axis in one direction"),
    "index_select_w": (lambda: Around(_reverse_w), "index_select along the W axis"),
    "gather_w": (lambda: Around(lambda x: x.gather(3, torch.zeros_like(x, dtype=torch.long))),
                 "gather along the W axis"),
    "topk_w": (lambda: Around(lambda x: x.topk(x.shape[-1], -1).values), "topk"),
    "cumsum_w": (lambda: Around(lambda x: x.cumsum(-1)), "cumsum along the W axis"),
    "cummax_h": (lambda: Around(lambda x: x.cummax(2).values), "cummax along the H axis"),
    "circular_conv": (lambda: nn.Sequential(
        nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"), nn.Conv2d(2, 2, 3, padding=1)),
        "circular padding"),
    "circular_pad": (lambda: Around(lambda x: F.pad(x, (2, 2, 2, 2), mode="circular")),
                     "circular padding"),
    "reflect_wider_than_the_window": (lambda: Around(
        lambda x: F.pad(x, (3, 1, 3, 1), mode="reflect")), "reflect padding wider"),
    "reflect_then_relu_then_conv": (lambda: nn.Sequential(
        nn.Conv2d(2, 2, 3), nn.ReflectionPad2d(1), nn.ReLU(), nn.Conv2d(2, 2, 3)),
        "reflect padding"),
    "reflect_conv_even_same": (lambda: nn.Sequential(
        nn.Conv2d(2, 2, 4, padding="same", padding_mode="reflect"), nn.Conv2d(2, 2, 3)),
        "reflect padding wider"),
    "setitem_into_part_of_w": (lambda: Around(_write_w), "assignment into part of the W axis"),
    # the i-th source element goes to the i-th selected position: not position-wise
    "masked_scatter": (lambda: Around(lambda x: x.masked_scatter(x > 0, F.avg_pool2d(x, 9, 1, 4))),
                       "masked_scatter"),
    "pixel_shuffle": (lambda: nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.PixelShuffle(2),
                                            nn.Conv2d(2, 2, 3, padding=1)), "PixelShuffle"),
}

EXACT = {
    "reflect_conv_same": lambda: nn.Sequential(
        nn.Conv2d(2, 2, 5, padding=2, padding_mode="reflect"), nn.Conv2d(2, 2, 3, padding=1)),
    "cyclegan_reflect_pads": lambda: nn.Sequential(  # ResnetGenerator: pad 3 + 7x7, pad 1 + 3x3
        nn.ReflectionPad2d(3), nn.Conv2d(2, 2, 7), nn.ReLU(),
        MyReflect(1), nn.Conv2d(2, 2, 3), nn.ReLU(), nn.ReflectionPad2d((1, 1, 0, 0)),
        nn.Conv2d(2, 2, 3, padding=(1, 0))),
    "setitem_channel": lambda: Around(_write_channel),
    # both directions: every step reads every step -- the whole row (W window = 32, stride 0)
    "bilstm_along_w": lambda: AlongW(True),
    "replicate_pad": lambda: Around(lambda x: F.pad(x, (2, 2, 2, 2), mode="replicate")),
    "index_select_channels": lambda: Around(lambda x: x.index_select(1, torch.tensor([1, 0]))),
    "gather_channels": lambda: Around(lambda x: x.gather(1, torch.zeros_like(x,
                                                                           dtype=torch.long))),
    "normalize_channels": lambda: Around(lambda x: F.normalize(x)),
    "cumsum_channels": lambda: Around(lambda x: x.cumsum(1)),
    "tagged_pointwise": lambda: Around(lambda x: torch.where(x > 0, x, 0.1 * x).clamp(-3, 3)
                                       .masked_fill(x < -100, 0.0) * torch.sigmoid(x) + x.abs()),
    "untagged_but_listed": lambda: Around(lambda x: F.hardswish(F.dropout(
        x.contiguous().to(x.dtype), 0.0)).type_as(x)),
    "second_operand_gives_only_a_shape": lambda: Around(
        lambda x: F.avg_pool2d(x, 5, 1, 2).flatten(2).reshape_as(x) + x.expand_as(
            F.max_pool2d(x, 9, 1, 4))),
    "modules": lambda: nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Hardswish(),
                                     nn.Dropout2d(0.0), nn.LocalResponseNorm(2), nn.Identity(),
                                     nn.Sequential(), nn.Conv2d(2, 2, 3, padding=1)),
}


def _analyse(net: nn.Module):
    prepare(net)
    graph = trace_graph(net, (1, 2, H, W), dtype=torch.float64)
    return receptive_fields(graph)[graph.outputs[0]]


def _probe(net: nn.Module, unit: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    x = torch.ones((1, 2, H, W), dtype=torch.float64, requires_grad=True)
    with max_pool_as_avg():
        y = net(x)
    y[0, :, unit[0], unit[1]].sum().backward()
    g = x.grad.abs().sum((0, 1))
    rows = torch.nonzero(g.sum(1) > 0).flatten()
    cols = torch.nonzero(g.sum(0) > 0).flatten()
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))


def _units(net: nn.Module) -> list[tuple[int, int]]:
    with torch.no_grad():
        oh, ow = net(torch.ones((1, 2, H, W), dtype=torch.float64)).shape[-2:]
    return [(1, 1), (oh // 2, ow // 2), (oh // 4, 3 * ow // 4), (oh - 2, ow - 2)]


def _claimed(rf, unit: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    out = []
    for ax, n in enumerate(unit):
        start = n * rf.stride[ax] - rf.padding[ax]
        out.append((max(0, start), min((H, W)[ax] - 1, start + rf.size[ax] - 1)))
    return tuple(out)  # type: ignore[return-value]


@pytest.mark.parametrize("case", sorted(UNKNOWN))
def test_ops_without_a_rule_are_unknown_naming_the_op(case):
    build, words = UNKNOWN[case]
    rf = _analyse(build())
    assert rf.status == "unknown", (case, rf)
    assert words in rf.reason, rf.reason


@pytest.mark.parametrize("case", ["rot90", "index_select_w", "lstm_along_w", "circular_conv",
                                  "reflect_wider_than_the_window", "cumsum_w",
                                  "setitem_into_part_of_w"])
def test_the_old_pointwise_answer_was_wrong_by_the_probe(case):
    """The trap is real: the zero-padding, position-wise window (what the old fallback
    claimed: the two 3x3 convs' 5x5, or 7x7 / 5x5 with the pad) misses where the probe's
    gradient goes for some output unit."""
    net = prepare(UNKNOWN[case][0]())
    plain = _analyse(Around(nn.Identity()))  # conv 3x3 -> conv 3x3: 5x5, stride 1, padding 2
    misses = [u for u in _units(net) if _probe(net, u) != _claimed(plain, u)]
    assert misses, case


@pytest.mark.parametrize("case", sorted(EXACT))
def test_positionwise_ops_and_safe_padding_keep_the_exact_window(case):
    net = EXACT[case]()
    rf = _analyse(net)
    assert rf.status == "exact", rf
    for unit in _units(net):
        assert _probe(net, unit) == _claimed(rf, unit), (case, unit, rf)


def test_mixing_along_a_pixel_axis_is_global_on_that_axis_only():
    """normalize over W divides by the norm of the whole row (the probe sees the row); sort
    along W puts any value of the row anywhere in it (the probe cannot show that on a constant
    input: the sort of equal values is the identity), so the row is worked out by hand: every
    unit's W window is the whole row (stride 0), the H window stays the two convs' 5."""
    for fn in (lambda x: F.normalize(x, dim=3), lambda x: x.sort(-1).values,
               lambda x: torch.argsort(x, dim=3).to(x.dtype)):
        rf = _analyse(Around(fn))
        assert rf.status == "exact", rf
        assert (rf.size, rf.stride, rf.padding) == ((5, W), (1, 0), (2, 0)), rf
    net = Around(lambda x: F.normalize(x, dim=3))
    rf = _analyse(net)
    for unit in _units(net):
        assert _probe(net, unit) == _claimed(rf, unit)


def test_the_allow_list_reads_pytorchs_pointwise_tag_and_types_modules_by_behaviour():
    assert tagged_pointwise("gelu") and tagged_pointwise("masked_fill")
    assert not tagged_pointwise("sort") and not tagged_pointwise("rot90")
    assert not tagged_pointwise("no_such_op") and not tagged_pointwise("fft_fft2")
    assert is_positionwise("function", "gelu", "gelu")
    assert is_positionwise("function", "dropout", "dropout")
    assert not is_positionwise("function", "grid_sample", "grid_sample")
    assert is_positionwise("module", "mygelu", "GELU")       # class MyGELU(nn.GELU)
    assert not is_positionwise("module", "lstm", "LSTM")
    assert not is_positionwise("module", "pixelshuffle", "PixelShuffle")


def test_an_assignment_is_a_node_on_the_data_path():
    """``y[:, 0] = z`` used to leave no node: z's path (and its 9x9 pool) vanished from the graph
    and from the field. Now the write is a node reading y and z, and the field is the pool's. A
    constant written into part of W (``y[:, 1, :, :3] = 0``) stays no node: no path is lost."""
    net = Around(_write_channel)
    graph = trace_graph(net, (1, 2, H, W))
    writes = [n for n in graph.nodes if n.type == "setitem"]
    assert len(writes) == 1, [n.name for n in writes]  # the constant write is no node
    assert len(writes[0].inputs) == 2 and any("getitem" in i for i in writes[0].inputs)
    rf = _analyse(Around(_write_channel))
    assert (rf.status, rf.size) == ("exact", (13, 13))  # 3 + 9 - 1 + 3 - 1
