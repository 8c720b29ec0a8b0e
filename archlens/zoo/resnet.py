"""ResNet (He et al. 2015) and ResNeXt (Xie et al. 2016), torchvision's layout (ResNet v1.5).

One :class:`ResNet` builder serves every depth and cardinality; variants are data
(``block``, ``layers``, ``groups``, ``width_per_group``). Module names follow torchvision
(``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0``, ``fc``) so parameter counts
equal torchvision's published ones exactly. The stride of a downsampling bottleneck sits on its
3x3 conv (v1.5), which is what torchvision's published MACs measure.

ResNeXt's three equivalent block forms (the paper's Figure 3) are a builder option,
``block_form``:

- ``"a"`` split-transform-merge: ``groups`` explicit paths, each 1x1 -> 3x3 -> 1x1 back to the
  full width, summed (:class:`SplitTransformMergeBottleneck`);
- ``"b"`` early concatenation: paths of 1x1 -> 3x3, concatenated, then one shared 1x1
  (:class:`EarlyConcatBottleneck`);
- ``"c"`` grouped convolution (default): 1x1 -> grouped 3x3 -> 1x1 (:class:`Bottleneck`).

Batch norm is per channel, so it splits across paths exactly: each path carries the BN of its
own channels after its 1x1 and 3x3, and one BN follows the aggregation (sum in (a), the shared
1x1 in (b)). No conv has a bias in any form, so the three have identical parameter counts, and
:func:`grouped_to_block_form` maps form-(c) weights onto (a) or (b) so all three compute the
same function.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn

from archlens.zoo.registry import ModelCard, Paper, register_model

BlockForm = Literal["a", "b", "c"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, groups=groups,
                     bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs and an identity (or 1x1 projection) shortcut: ResNet-18/34."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and width_per_group=64")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x C x H x W
        identity = x if self.downsample is None else self.downsample(x)  # N x P x H/s x W/s
        out = self.relu(self.bn1(self.conv1(x)))  # N x P x H/s x W/s
        out = self.bn2(self.conv2(out))  # N x P x H/s x W/s
        return self.relu(out + identity)


def _bottleneck_width(planes: int, base_width: int, groups: int) -> int:
    return int(planes * (base_width / 64.0)) * groups


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (grouped for ResNeXt: form (c)) -> 1x1 expand (x4), plus shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64):
        super().__init__()
        width = _bottleneck_width(planes, base_width, groups)
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x C x H x W
        identity = x if self.downsample is None else self.downsample(x)  # N x 4P x H/s x W/s
        out = self.relu(self.bn1(self.conv1(x)))  # N x W x H x W
        out = self.relu(self.bn2(self.conv2(out)))  # N x W x H/s x W/s
        out = self.bn3(self.conv3(out))  # N x 4P x H/s x W/s
        return self.relu(out + identity)


class _Path(nn.Module):
    """One ResNeXt path: 1x1 reduce to d channels -> 3x3 d->d (-> 1x1 back up, form (a))."""

    def __init__(self, inplanes: int, d: int, stride: int, out_planes: int | None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, d)
        self.bn1 = nn.BatchNorm2d(d)
        self.conv2 = conv3x3(d, d, stride)
        self.bn2 = nn.BatchNorm2d(d)
        self.relu = nn.ReLU(inplace=True)
        self.conv3 = conv1x1(d, out_planes) if out_planes is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x C x H x W
        out = self.relu(self.bn1(self.conv1(x)))  # N x d x H x W
        out = self.relu(self.bn2(self.conv2(out)))  # N x d x H/s x W/s
        return out if self.conv3 is None else self.conv3(out)  # (a): N x 4P x H/s x W/s


class SplitTransformMergeBottleneck(nn.Module):
    """ResNeXt form (a): ``groups`` explicit paths, each ending in its own 1x1, summed."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64):
        super().__init__()
        d = _bottleneck_width(planes, base_width, groups) // groups
        self.paths = nn.ModuleList(_Path(inplanes, d, stride, planes * self.expansion)
                                   for _ in range(groups))
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x C x H x W
        identity = x if self.downsample is None else self.downsample(x)  # N x 4P x H/s x W/s
        out = self.paths[0](x)
        for path in self.paths[1:]:  # merge: sum of the paths' transforms
            out = out + path(x)  # N x 4P x H/s x W/s
        out = self.bn3(out)
        return self.relu(out + identity)


class EarlyConcatBottleneck(nn.Module):
    """ResNeXt form (b): paths of 1x1 -> 3x3, concatenated, then one shared 1x1."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64):
        super().__init__()
        width = _bottleneck_width(planes, base_width, groups)
        self.paths = nn.ModuleList(_Path(inplanes, width // groups, stride, None)
                                   for _ in range(groups))
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x C x H x W
        identity = x if self.downsample is None else self.downsample(x)  # N x 4P x H/s x W/s
        out = torch.cat([p(x) for p in self.paths], 1)  # N x W x H/s x W/s
        out = self.bn3(self.conv3(out))  # N x 4P x H/s x W/s
        return self.relu(out + identity)


_FORMS: dict[str, type[nn.Module]] = {"a": SplitTransformMergeBottleneck,
                                      "b": EarlyConcatBottleneck, "c": Bottleneck}


class ResNet(nn.Module):
    """Stem (7x7/2 conv, 3x3/2 max-pool), four stages of residual blocks, global pool, fc."""

    def __init__(self, block: type[nn.Module] = Bottleneck,
                 layers: Sequence[int] = (3, 4, 6, 3), num_classes: int = 1000,
                 groups: int = 1, width_per_group: int = 64,
                 block_form: BlockForm = "c", zero_init_residual: bool = False):
        super().__init__()
        if block_form not in _FORMS:
            from archlens.errors import ConfigError
            raise ConfigError(f"block_form must be 'a', 'b' or 'c', got {block_form!r}")
        if block_form != "c":
            if block is not Bottleneck:
                from archlens.errors import ConfigError
                raise ConfigError("block_form 'a'/'b' applies to bottleneck blocks only")
            block = _FORMS[block_form]
        self.block_form = block_form
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                last = getattr(m, "bn3", None) or getattr(m, "bn2", None)
                if isinstance(m, (Bottleneck, BasicBlock, SplitTransformMergeBottleneck,
                                  EarlyConcatBottleneck)) and last is not None:
                    nn.init.constant_(last.weight, 0)

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width)
                   for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # N x 3 x 224 x 224
        x = self.relu(self.bn1(self.conv1(x)))  # N x 64 x 112 x 112
        x = self.maxpool(x)  # N x 64 x 56 x 56
        x = self.layer1(x)  # N x 64e x 56 x 56   (e = block expansion: 1 or 4)
        x = self.layer2(x)  # N x 128e x 28 x 28
        x = self.layer3(x)  # N x 256e x 14 x 14
        x = self.layer4(x)  # N x 512e x 7 x 7
        x = self.avgpool(x)  # N x 512e x 1 x 1
        x = torch.flatten(x, 1)  # N x 512e
        return self.fc(x)  # N x 1000


# --------------------------------------------------------------------------- block forms

_BLOCK_KEY = re.compile(r"^(?P<pre>(?:.+\.)?)(?P<layer>conv1|bn1|conv2|bn2|conv3)\.(?P<param>\w+)$")


def grouped_to_block_form(state_dict: Mapping[str, torch.Tensor], form: BlockForm,
                          groups: int) -> dict[str, torch.Tensor]:
    """Rewrite a form-(c) state dict (grouped 3x3) so a form-``form`` model computes the same.

    Works on one block's ``state_dict()`` or a whole network's: a block is recognised by its
    ``<prefix>conv3.weight`` key (the ResNet stem's ``conv1``/``bn1`` have no ``conv3``
    sibling and pass through). Path ``i`` receives channels ``[i*d, (i+1)*d)`` of the
    reduction 1x1, of both BNs and of the grouped 3x3 (group ``i`` maps exactly those channels
    to those channels); in form (a) it also receives input columns ``[i*d, (i+1)*d)`` of the
    expanding 1x1, so the sum over paths equals the single 1x1 of form (c).
    """
    if form == "c":
        return dict(state_dict)
    if form not in ("a", "b"):
        from archlens.errors import ConfigError
        raise ConfigError(f"form must be 'a', 'b' or 'c', got {form!r}")
    out: dict[str, torch.Tensor] = {}
    for key, t in state_dict.items():
        m = _BLOCK_KEY.match(key)
        if not m or f"{m['pre']}conv3.weight" not in state_dict:
            out[key] = t
            continue
        pre, layer, param = m["pre"], m["layer"], m["param"]
        if layer == "conv3" and form == "b":
            out[key] = t
            continue
        if param == "num_batches_tracked":
            for i in range(groups):
                out[f"{pre}paths.{i}.{layer}.{param}"] = t.clone()
            continue
        dim = 1 if layer == "conv3" else 0  # conv3 splits its inputs, the rest their outputs
        for i, chunk in enumerate(torch.chunk(t, groups, dim=dim)):
            out[f"{pre}paths.{i}.{layer}.{param}"] = chunk.clone()
    return out


def make_block(form: BlockForm, inplanes: int, planes: int, stride: int = 1,
               groups: int = 32, base_width: int = 4, downsample: bool = False) -> nn.Module:
    """One ResNeXt bottleneck in the given form (for teaching and for the equivalence test)."""
    ds = None
    if downsample:
        ds = nn.Sequential(conv1x1(inplanes, planes * 4, stride), nn.BatchNorm2d(planes * 4))
    return _FORMS[form](inplanes, planes, stride, ds, groups, base_width)


# --------------------------------------------------------------------------- registry

_RESNET = Paper("Deep Residual Learning for Image Recognition",
                "K. He, X. Zhang, S. Ren, J. Sun", 2015, "1512.03385")
_RESNEXT = Paper("Aggregated Residual Transformations for Deep Neural Networks",
                 "S. Xie, R. Girshick, P. Dollar, Z. Tu, K. He", 2016, "1611.05431")
_SOURCE = ("torchvision.models *_Weights.IMAGENET1K_V1 meta (num_params, GFLOPS = "
           "multiply-accumulates)")
_RESNET_DESC = ("ResNet teaches that depth needs an easy path for the signal: each block "
                "learns a residual F(x) added to an identity shortcut, so a deeper network can "
                "always fall back to the shallower one and gradients reach early layers "
                "unattenuated. Stages halve the grid and double the width (the VGG rule); "
                "from 50 layers on, blocks are 1x1-reduce / 3x3 / 1x1-expand bottlenecks, the "
                "Inception 1x1 trick that keeps the 3x3 cheap.")
_RESNEXT_DESC = ("ResNeXt teaches cardinality - the number of parallel, identical paths - as a "
                 "third axis beside depth and width. A block splits its input into many "
                 "low-dimensional embeddings, transforms each with the same small topology and "
                 "aggregates them (split-transform-merge, Inception's idea without per-branch "
                 "hand design); forms (a) explicit paths, (b) early concatenation and (c) a "
                 "grouped 3x3 are the same function with the same parameters, so the "
                 "grouped convolution is just the efficient way to write it.")


def _resnet(name: str, block: type[nn.Module], layers: tuple[int, ...], params: int,
            macs: int, depth: int) -> ModelCard:
    kind = "basic blocks (two 3x3)" if block is BasicBlock else "bottleneck blocks (1x1-3x3-1x1)"
    return ModelCard(
        name=name, family="resnet", paper=_RESNET, input_shape=(3, 224, 224),
        description=_RESNET_DESC, published_params=params, published_macs=macs, source=_SOURCE,
        output_shape=(1000,), kwargs=dict(block=block, layers=layers),
        notes=(f"{depth} weight layers: {'-'.join(map(str, layers))} {kind} per stage; "
               "torchvision layout (v1.5: stride on the 3x3 of a downsampling bottleneck)"))


def _resnext(name: str, layers: tuple[int, ...], groups: int, width: int, params: int,
             macs: int) -> ModelCard:
    return ModelCard(
        name=name, family="resnet", paper=_RESNEXT, input_shape=(3, 224, 224),
        description=_RESNEXT_DESC, published_params=params, published_macs=macs,
        source=_SOURCE, output_shape=(1000,),
        kwargs=dict(block=Bottleneck, layers=layers, groups=groups, width_per_group=width),
        notes=(f"cardinality {groups}, {width} channels per path in the first stage; "
               "block_form='a'|'b'|'c' (default 'c', grouped conv) selects the paper's "
               "Figure 3 form; all three have the same parameters and, through "
               "archlens.zoo.resnet.grouped_to_block_form, the same outputs"))


@register_model(_resnext("resnext101_32x8d", (3, 4, 23, 3), 32, 8, 88_791_336, 16_414_000_000))
@register_model(_resnext("resnext50_32x4d", (3, 4, 6, 3), 32, 4, 25_028_904, 4_230_000_000))
@register_model(_resnet("resnet152", Bottleneck, (3, 8, 36, 3), 60_192_808, 11_514_000_000, 152))
@register_model(_resnet("resnet101", Bottleneck, (3, 4, 23, 3), 44_549_160, 7_801_000_000, 101))
@register_model(_resnet("resnet50", Bottleneck, (3, 4, 6, 3), 25_557_032, 4_089_000_000, 50))
@register_model(_resnet("resnet34", BasicBlock, (3, 4, 6, 3), 21_797_672, 3_664_000_000, 34))
@register_model(_resnet("resnet18", BasicBlock, (2, 2, 2, 2), 11_689_512, 1_814_000_000, 18))
def resnet(**kwargs) -> ResNet:
    """Every ResNet/ResNeXt: the card's ``kwargs`` (block, layers, groups, ...) pick the variant."""
    return ResNet(**kwargs)
