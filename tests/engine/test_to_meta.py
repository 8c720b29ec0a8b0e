"""``loader.to_meta``: the meta copy is what ``copy.deepcopy`` with meta twins would make.

The copy is built by ``loader._copy_module`` (a faster path than deepcopy's generic
reduce/reconstruct for plain modules). Checked here against ``copy.deepcopy`` itself, on zoo
models and on the cases where a shortcut could differ: tied weights, a submodule shared by
two parents, a module with its own ``__deepcopy__``, non-empty hook tables, mutable
attributes (which must not be shared with the user's model), and modules whose class defines
``__setstate__``."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from archlens import analyze
from archlens.loader import to_meta
from archlens.zoo import get_model


def _reference(model: nn.Module) -> nn.Module:
    memo = {}
    for t in list(model.parameters()) + list(model.buffers()):
        memo[id(t)] = (nn.Parameter(torch.empty_like(t, device="meta"),
                                    requires_grad=t.requires_grad)
                       if isinstance(t, nn.Parameter) else torch.empty_like(t, device="meta"))
    return copy.deepcopy(model, memo)


def _describe(m: nn.Module) -> list:
    """Everything a copy must reproduce: the module tree (types, names, sharing), each
    module's non-tensor attributes, and each tensor's metadata and identity pattern."""
    ids: dict[int, int] = {}

    def ident(o):
        return ids.setdefault(id(o), len(ids))

    out = []
    for name, mod in m.named_modules(remove_duplicate=False):
        attrs = {k: v for k, v in vars(mod).items()
                 if k not in ("_parameters", "_buffers", "_modules")
                 and not (isinstance(v, dict) and k.endswith("hooks"))}
        out.append((name, type(mod).__name__, ident(mod), repr(sorted(attrs.items(),
                                                                       key=str))))
        for pn, p in list(mod._parameters.items()) + list(mod._buffers.items()):
            out.append((name, pn, None if p is None else (
                type(p).__name__, tuple(p.shape), p.dtype, p.device.type,
                p.requires_grad, ident(p))))
        hooks = {k: len(v) for k, v in vars(mod).items()
                 if isinstance(v, dict) and k.endswith("hooks")}
        out.append((name, "hooks", sorted(hooks.items())))
    return out


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.again = self.block                      # one submodule, two parents
        self.head = nn.Linear(4, 4)
        self.tied = nn.Linear(4, 4)
        self.tied.weight = self.head.weight          # tied weights
        self.config = {"widths": [4, 8], "name": "x"}  # mutable, must be copied
        self.cache: dict = {}
        self.register_buffer("table", torch.arange(6), persistent=False)

    def forward(self, x):
        y = self.block(x).mean((2, 3))
        self.cache["last"] = y                       # a forward that caches on the module
        return self.tied(self.head(y))


class OwnCopy(nn.Module):
    copies = 0

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def __deepcopy__(self, memo):
        OwnCopy.copies += 1
        new = OwnCopy.__new__(OwnCopy)
        memo[id(self)] = new
        new.__dict__.update({k: copy.deepcopy(v, memo) for k, v in self.__dict__.items()})
        return new

    def forward(self, x):
        return self.conv(x)


def test_matches_deepcopy_on_tricky_modules():
    m = Shared()
    m.head.register_forward_hook(lambda mod, i, o: None)
    c, ref = to_meta(m), _reference(m)
    assert _describe(c) == _describe(ref)
    assert c.again is c.block and c.tied.weight is c.head.weight
    assert c.head.weight.is_meta and c.table.is_meta and not m.head.weight.is_meta
    assert c.config == m.config and c.config is not m.config
    assert c.config["widths"] is not m.config["widths"]
    assert len(c.head._forward_hooks) == 1
    c(torch.empty(1, 3, 8, 8, device="meta"))
    assert "last" in c.cache and m.cache == {}       # the user's model is untouched


def test_a_module_with_its_own_deepcopy_is_copied_by_it():
    OwnCopy.copies = 0
    m = nn.Sequential(OwnCopy(), nn.ReLU())
    c = to_meta(m)
    assert OwnCopy.copies == 1 and c[0].conv.weight.is_meta
    assert _describe(c) == _describe(_reference(m))


@pytest.mark.parametrize("name", ["inception_v3", "resnet50", "resnext50_32x4d", "vgg16",
                                  "googlenet"])
def test_matches_deepcopy_on_zoo_models(name):
    m = get_model(name)
    assert _describe(to_meta(m)) == _describe(_reference(m))


def test_analysis_of_a_cpu_model_on_meta_is_unchanged():
    m = get_model("resnet50")
    a = analyze(m, (3, 224, 224), device="meta")
    assert a.totals.params == 25_557_032           # torchvision's published count
    assert a.totals.macs == analyze(m, (3, 224, 224), device="cpu").totals.macs
    assert not next(m.parameters()).is_meta
