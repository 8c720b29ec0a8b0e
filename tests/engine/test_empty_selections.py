"""An empty intermediate is not always a too-small input.

timm's rope ViTs (qwen3_vit, deepseek_vit) split off their prefix tokens with ``x[:, :0]``
when there are none and concatenate the empty piece back: the forward pass is fine (PyTorch
runs it), yet archlens used to refuse the model at its default input ("input 3x768x768 is too
small ... the smallest input that works is 3x816x816"). An empty output now means "too small"
only when a window op (conv, pool) reads or makes an empty map, or an op other than an explicit
selection empties inputs that were not empty; a crop that empties the map is still diagnosed.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archlens.engine import analyze_model
from archlens.errors import InputShapeError


class PrefixSplit(nn.Module):
    """Patch tokens, zero prefix tokens split off and put back (timm's rope attention)."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 4, 4)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)      # N x 64 x 8
        prefix, rest = t[:, :0], t[:, 0:]
        return self.proj(torch.cat([prefix.float() * 2, rest * 2], 1)).mean(1)


class Crop(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3)
        self.b = nn.Conv2d(8, 8, 3)

    def forward(self, x):
        return self.b(self.a(x)[:, :, 4:-4, 4:-4]).mean((2, 3))


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_an_empty_selection_that_the_model_puts_back_is_fine(device):
    a = analyze_model(PrefixSplit(), (3, 32, 32), device=device)
    # by hand: patch conv 8 * 3*4*4 * 8*8 = 24,576; linear 64 tokens * 8 * 8 = 4,096
    assert a.totals.macs == 24_576 + 4_096
    assert a.totals.params == 3 * 16 * 8 + 8 + 8 * 8 + 8


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("size, where", [(12, "'b' (Conv2d) receives a 2x2 map"),
                                         (8, "'getitem' (getitem) receives a 6x6 map")])
def test_a_crop_that_empties_the_map_is_still_too_small(device, size, where):
    with pytest.raises(InputShapeError) as e:
        analyze_model(Crop(), (3, size, size), device=device)
    assert f"input 3x{size}x{size} is too small for Crop" in str(e.value)
    assert where in str(e.value)
    assert "the smallest input that works is 3x13x13" in str(e.value)


def test_the_empty_piece_has_no_path_and_the_tokens_keep_their_window():
    """The zero-length prefix is like a constant: the concatenated tokens keep the patch conv's
    exact 4x4 / 4 window (it used to be unknown: "slice drops pixels of a concatenated dim"), so
    does the feature RF (the last token map), and the mean over the tokens sees all 32 px."""
    a = analyze_model(PrefixSplit(), (3, 32, 32), device="meta")
    cat = next(n for n in a.graph.nodes if n.type == "cat")
    assert (cat.rf.status, cat.rf.size, cat.rf.stride, cat.rf.padding) == \
        ("exact", (4, 4), (4, 4), (0, 0))
    assert (a.feature_rf.status, a.feature_rf.size) == ("exact", (4, 4))
    mean = next(n for n in a.graph.nodes if n.type == "mean")
    assert (mean.rf.status, mean.rf.size) == ("global", (32, 32))
