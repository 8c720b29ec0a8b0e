"""Hand arithmetic and structure checks for the classic, VGG and ResNet/ResNeXt builds.

Every expected number here is typed from a paper, a course or torchvision's metadata, or
computed by hand from layer shapes - never read back from the code under test.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archlens.errors import ConfigError
from archlens.zoo import card, get_model
from archlens.zoo.resnet import grouped_to_block_form, make_block

pytestmark = [pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
              pytest.mark.filterwarnings("ignore:.*jit.script.*:DeprecationWarning")]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# --------------------------------------------------------------------------- teaching blocks

def test_ng_bottleneck_direct_macs_and_params(count_macs):
    m = get_model("ng_bottleneck_direct")
    total, by_op = count_macs(m, torch.zeros(1, 192, 28, 28))
    assert total == by_op["conv"] == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400
    assert n_params(m) == 5 * 5 * 192 * 32 + 32  # weights + one bias per output channel


def test_ng_bottleneck_reduced_macs_and_params(count_macs):
    m = get_model("ng_bottleneck_reduced")
    total, _ = count_macs(m, torch.zeros(1, 192, 28, 28))
    reduce_1x1 = 28 * 28 * 16 * 192  # 2,408,448
    conv_5x5 = 28 * 28 * 32 * 5 * 5 * 16  # 10,035,200
    assert (reduce_1x1, conv_5x5) == (2_408_448, 10_035_200)
    assert total == reduce_1x1 + conv_5x5 == 12_443_648
    assert n_params(m) == (192 * 16 + 16) + (5 * 5 * 16 * 32 + 32)


# --------------------------------------------------------------------------- LeNet-5

# LeCun et al. 1998, Table I, read column by column: the S2 maps feeding each C3 map.
PAPER_TABLE_I = [
    {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {0, 4, 5}, {0, 1, 5},
    {0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {0, 3, 4, 5}, {0, 1, 4, 5}, {0, 1, 2, 5},
    {0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}, {0, 1, 2, 3, 4, 5},
]


def test_lenet5_params_per_layer_match_paper():
    m = get_model("lenet5")
    # the paper's "trainable parameters" for each layer (Section II-B)
    assert n_params(m.c1) == 156 == 6 * (5 * 5 + 1)
    assert n_params(m.s2) == 12 == 6 * 2
    assert n_params(m.c3) == 1516 == 60 * 25 + 16
    assert n_params(m.s4) == 32 == 16 * 2
    assert n_params(m.c5) == 48_120 == 120 * (16 * 25 + 1)
    assert n_params(m.f6) == 10_164 == 84 * (120 + 1)
    assert n_params(m.output) == 0  # fixed RBF prototypes are not trained
    assert m.output.prototypes.shape == (10, 84)
    assert n_params(m) == 60_000


def test_lenet5_c3_connects_exactly_table_i():
    """Gradient probe: C3 map j depends on S2 map i iff the paper's table connects them."""
    c3 = get_model("lenet5").c3
    for j, expected in enumerate(PAPER_TABLE_I):
        x = torch.randn(1, 6, 14, 14, requires_grad=True)
        c3(x)[0, j].sum().backward()
        used = {i for i in range(6) if x.grad[0, i].abs().sum() > 0}
        assert used == expected, f"C3 map {j}"


def test_lenet5_macs_by_hand(count_macs):
    m = get_model("lenet5")
    _, by_op = count_macs(m, torch.zeros(1, 1, 32, 32))
    c1 = 28 * 28 * 6 * 5 * 5  # 117,600
    c3 = 10 * 10 * 60 * 5 * 5  # 150,000 (60 connections in Table I, not 6 x 16 = 96)
    c5 = 120 * 16 * 5 * 5  # 48,000
    f6 = 84 * 120  # 10,080
    assert by_op["conv"] == c1 + c3 + c5
    assert by_op["linear"] == f6


def test_lenet5_output_is_rbf_distance():
    m = get_model("lenet5")
    with torch.no_grad():
        m.output.prototypes.zero_()
        h = torch.randn(3, 84)
        assert torch.allclose(m.output(h), (h ** 2).sum(1, keepdim=True).expand(3, 10))


# --------------------------------------------------------------------------- AlexNet, VGG

def test_alexnet_layer_names_and_classifier_params():
    m = get_model("alexnet")
    names = dict(m.named_modules())
    assert isinstance(names["features.0"], nn.Conv2d) and isinstance(names["classifier.6"],
                                                                        nn.Linear)
    fc = (256 * 6 * 6 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert n_params(m.classifier) == fc == 58_631_144


# total conv channels of the paper's Table 1 configurations A, B, D, E
VGG_CONV_CHANNELS = {
    "vgg11": 64 + 128 + 2 * 256 + 4 * 512,
    "vgg13": 2 * 64 + 2 * 128 + 2 * 256 + 4 * 512,
    "vgg16": 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512,
    "vgg19": 2 * 64 + 2 * 128 + 4 * 256 + 8 * 512,
}


@pytest.mark.parametrize("name", sorted(VGG_CONV_CHANNELS))
def test_vgg_bn_adds_two_params_per_conv_channel(name):
    assert (card(f"{name}_bn").published_params - card(name).published_params
            == 2 * VGG_CONV_CHANNELS[name])


def test_vgg16_layout_by_hand():
    m = get_model("vgg16")
    convs = [x for x in m.features if isinstance(x, nn.Conv2d)]
    assert len(convs) == 13 and all(c.kernel_size == (3, 3) for c in convs)
    assert isinstance(dict(m.named_modules())["classifier.6"], nn.Linear)
    # 3x3 conv params by hand + the three fc layers
    widths = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    conv = sum(9 * a * b + b for a, b in zip(widths, widths[1:]))
    fc = 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert n_params(m) == conv + fc == 138_357_544


# --------------------------------------------------------------------------- paper profile

# conv + linear MACs only (what published tables count) must round to the published figure;
# fvcore's extra BN/pooling MACs are what the 1 % registry tolerance absorbs.
PROFILE = ["alexnet", "vgg16", "resnet18", "resnet50", "resnext50_32x4d",
           pytest.param("resnext101_32x8d", marks=pytest.mark.slow)]


@pytest.mark.parametrize("name", PROFILE)
def test_paper_profile_macs_match_published(name, count_macs):
    c = card(name)
    _, by_op = count_macs(get_model(name), torch.zeros(1, *c.input_shape))
    assert by_op["conv"] + by_op["linear"] == pytest.approx(c.published_macs, rel=5e-4)


def test_resnet50_by_hand_first_layers(count_macs):
    m = get_model("resnet50")
    names = dict(m.named_modules())
    for key in ("conv1", "bn1", "layer1.0.conv1", "layer1.0.downsample.0", "layer4.2.bn3", "fc"):
        assert key in names
    assert n_params(m.conv1) == 7 * 7 * 3 * 64
    assert names["layer2.0.conv2"].stride == (2, 2)  # v1.5: stride on the 3x3
    assert names["layer2.0.conv1"].stride == (1, 1)


# --------------------------------------------------------------------------- ResNeXt forms

def _randomise_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine terms, so a wrong channel mapping shows up."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                k = m.num_features
                m.running_mean.copy_(torch.randn(k, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(k, generator=g) + 0.5)
                m.weight.copy_(torch.rand(k, generator=g) + 0.5)
                m.bias.copy_(torch.randn(k, generator=g) * 0.1)


@pytest.mark.parametrize("stride, downsample, inplanes", [(1, False, 256), (2, True, 256),
                                                          (1, True, 64)])
@pytest.mark.parametrize("form", ["a", "b"])
def test_block_forms_equivalent_single_block(form, stride, downsample, inplanes, count_macs):
    torch.manual_seed(0)
    c = make_block("c", inplanes, 64, stride, groups=32, base_width=4, downsample=downsample)
    other = make_block(form, inplanes, 64, stride, groups=32, base_width=4,
                       downsample=downsample)
    _randomise_bn(c)
    assert n_params(other) == n_params(c)
    # by hand (paper, Fig. 3): 1x1 256->128, 3x3 grouped 128->128 (32 groups), 1x1 128->256
    convs = inplanes * 128 + 9 * 4 * 128 + 128 * 256
    bns = 2 * (128 + 128 + 256)
    ds = (inplanes * 256 + 2 * 256) if downsample else 0
    assert n_params(c) == convs + bns + ds
    assert len(other.paths) == 32
    assert all(m.groups == 1 for m in other.modules() if isinstance(m, nn.Conv2d))
    other.load_state_dict(grouped_to_block_form(c.state_dict(), form, 32))
    c.eval(), other.eval()
    x = torch.randn(2, inplanes, 16, 16)
    with torch.no_grad():
        yc, yo = c(x), other(x)
    assert yc.shape == (2, 256, 16 // stride, 16 // stride)
    torch.testing.assert_close(yo, yc, atol=1e-5, rtol=1e-5)
    # same multiplies too: each path's share of the 1x1s and of the grouped 3x3
    assert count_macs(other, x[:1])[1]["conv"] == count_macs(c, x[:1])[1]["conv"]


@pytest.mark.slow
def test_block_forms_equivalent_whole_network():
    c = get_model("resnext50_32x4d")
    _randomise_bn(c)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        yc = c(x)
        for form in ("a", "b"):
            m = get_model("resnext50_32x4d", block_form=form)
            assert n_params(m) == 25_028_904
            with torch.no_grad():
                y_untrained = m(x)
            m.load_state_dict(grouped_to_block_form(c.state_dict(), form, 32))  # strict
            y = m(x)
            assert not torch.allclose(y_untrained, yc, atol=1e-5)  # the load is what matters
            torch.testing.assert_close(y, yc, atol=1e-5, rtol=1e-4)


def test_block_form_rejects_unknown():
    with pytest.raises(ConfigError, match="block_form"):
        get_model("resnext50_32x4d", block_form="d")
    with pytest.raises(ConfigError):
        get_model("resnet18", block_form="a")  # basic blocks have no paths
