"""What the dashboard's input-recovery buttons rely on: a too-small input carries the smallest
input that works, a channel mismatch names the channels the layer expects.

Independent figures: torchvision documents that Inception-v3 needs inputs of at least 75x75
(by hand, valid-padded 3x3 stride-2 / stride-1 layers: 75 -> 37 -> 35 -> 35 -> 17 -> 17 -> 15
-> 7, then Mixed_6a's 3x3/2 -> 3 and Mixed_7a's 3x3/2 -> 1; from 74 Mixed_7a gets 2 and its
output is empty); its stem convolution takes RGB (3 channels).
"""
from __future__ import annotations

import pytest

import archlens
from archlens.errors import InputShapeError


@pytest.mark.parametrize("device", ["meta"])
def test_too_small_input_carries_the_smallest_that_works(device):
    with pytest.raises(InputShapeError) as info:
        archlens.analyze("inception_v3", "3x16x16", device=device, checks=False)
    assert info.value.smallest == (3, 75, 75)
    assert "3x75x75" in str(info.value)
    archlens.analyze("inception_v3", "3x75x75", device=device, checks=False)  # it works


def test_channel_mismatch_says_how_many_channels_the_layer_expects():
    with pytest.raises(InputShapeError) as info:
        archlens.analyze("inception_v3", "1x299x299", device="meta", checks=False)
    msg = str(info.value)
    assert "expects 3 input channels, the input has 1" in msg
    assert "Conv2d_1a_3x3.conv" in msg and "--input 3x299x299" in msg
    assert info.value.expected_channels == 3
    assert "\n" not in msg
