"""Every registered model, every family: builds, runs, and matches its card's published figures.

Figures on the cards are independent of the code (torchvision's metadata, the papers'
arithmetic); these tests compare the builds against them, never against the code's own output.

MAC tolerance rule: fvcore also counts batch norm and pooling, so equality is not expected; a
count must be within 1 % of the published figure, or within the figure's own precision when
that is coarser - a figure given to k significant digits (k >= 2; "2.0 G" has two) is only
known to +-0.5 in its k-th digit, e.g. "1.5 G" (a paper's rounded figure) allows +-3.3 %.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from archlens.errors import DuplicateModelError, UnknownModelError
from archlens.zoo import card, get_model, list_models
from archlens.zoo.registry import ModelCard, Paper, register_model

pytestmark = [pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
              pytest.mark.filterwarnings("ignore:.*jit.script.*:DeprecationWarning")]


def _heavy(name: str) -> bool:
    c = card(name)
    return (c.published_macs or 0) > 5e9 or (c.published_params or 0) > 5e7


MODELS = [pytest.param(n, marks=pytest.mark.slow) if _heavy(n) else n for n in list_models()]


def macs_tolerance(published: int) -> float:
    """Relative tolerance for ``published`` (see the module docstring)."""
    digits = str(published).rstrip("0")
    sig = max(2, len(digits))
    exp = int(math.floor(math.log10(published)))
    return max(0.01, 0.5 * 10 ** (exp - sig + 1) / published)


def test_macs_tolerance_rule():
    assert macs_tolerance(4_089_000_000) == 0.01
    assert macs_tolerance(1_500_000_000) == pytest.approx(0.05 / 1.5)
    assert macs_tolerance(2_000_000_000) == pytest.approx(0.025)
    assert macs_tolerance(5_713_000_000) == 0.01


@pytest.fixture(scope="module", params=MODELS)
def built(request):
    """(name, card, model): one model alive at a time (pytest groups tests by this param)."""
    name = request.param
    return name, card(name), get_model(name)


def test_card_complete(built):
    name, c, _ = built
    assert c.name == name
    assert c.family and c.description and c.source
    assert c.paper.title and c.paper.authors and 1950 < c.paper.year < 2030
    assert len(c.input_shape) == 3 and all(d > 0 for d in c.input_shape)
    assert c.output_shape is not None, "every card documents its output shape"


def test_forward_default_input_and_batch2(built):
    _, c, model = built
    assert not model.training, "get_model returns eval mode"
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for n in (1, 2):
            y = model(torch.randn(n, *c.input_shape, generator=g))
            assert isinstance(y, torch.Tensor)
            assert tuple(y.shape) == (n, *c.output_shape)
            assert torch.isfinite(y).all()


def test_params_exact(built):
    _, c, model = built
    if c.published_params is None:
        pytest.skip("no published parameter count for this layout")
    assert sum(p.numel() for p in model.parameters()) == c.published_params


def test_macs_close_to_published(built, count_macs):
    _, c, model = built
    if c.published_macs is None:
        pytest.skip("no published MACs for this layout")
    total, _ = count_macs(model, torch.zeros(1, *c.input_shape))
    tol = macs_tolerance(c.published_macs)
    assert total == pytest.approx(c.published_macs, rel=tol), (
        f"fvcore {total:,} MACs vs published {c.published_macs:,} (tolerance {tol:.2%})")


def test_deterministic_build(built):
    name, _, model = built
    again = get_model(name)
    a, b = model.state_dict(), again.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_build_does_not_disturb_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    get_model("lenet5")
    assert torch.equal(torch.rand(3), expected)


def test_seed_changes_weights():
    a = get_model("resnet18", seed=0).conv1.weight
    b = get_model("resnet18", seed=1).conv1.weight
    assert not torch.equal(a, b)


def test_duplicate_registration_raises():
    before = list_models()
    dup = ModelCard(name="resnet50", family="resnet", paper=Paper("t", "a", 2000),
                    input_shape=(3, 8, 8), description="duplicate")
    with pytest.raises(DuplicateModelError, match="resnet50"):
        register_model(dup)(lambda: nn.Identity())
    assert list_models() == before
    assert card("resnet50").published_params == 25_557_032  # the original entry survives


def test_names_unique_and_families_known():
    names = list_models()
    assert len(names) == len(set(names))
    assert {"classic", "vgg", "resnet"} <= {card(n).family for n in names}
    assert set(list_models("vgg")) == {f"vgg{d}{s}" for d in (11, 13, 16, 19) for s in ("", "_bn")}


@pytest.mark.parametrize("typo, expected", [("inceptoin_v3", "inception_v3"),
                                            ("resnet5O", "resnet50"),
                                            ("vgg_16", "vgg16")])
def test_unknown_name_suggests(typo, expected):
    with pytest.raises(UnknownModelError) as info:
        get_model(typo)
    assert expected in info.value.suggestions
    assert "did you mean:" in str(info.value) and expected in str(info.value)
    assert str(info.value).startswith(f"unknown model {typo!r}")


def test_unknown_name_without_close_match_points_to_listing():
    with pytest.raises(UnknownModelError, match="archlens zoo"):
        card("zzzzzz")
