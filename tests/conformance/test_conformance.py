"""Conformance, fast subset for CI: models nobody here wrote (torchvision, timm), at small
inputs where the model takes them, against the independent references of
``tests/conformance/catalogue.py`` (params = sum of numel, MACs = fvcore's own count, feature RF
= the gradient probe, report written). ``benchmarks/conformance.py`` runs the whole set and
writes docs/conformance.md.

A case known to fail until a part of issue 10 lands is ``xfail(strict=True)`` with the reason:
it fails CI the moment it starts passing, so the marker cannot outlive the bug.
"""
from __future__ import annotations

import pytest
import torch

catalogue = pytest.importorskip("tests.conformance.catalogue")
pytest.importorskip("fvcore")


def _have_model_defs() -> bool:
    try:
        catalogue.timm()
        return True
    except Exception:
        return False


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not _have_model_defs(),
                                 reason="torchvision/timm model definitions not installed "
                                        "(make setup installs them)")]

E = catalogue.Entry


def xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


# (entry, probe the feature RF, also run the CPU path)
COUNTS = [
    pytest.param(E("torchvision", "resnet18", (3, 64, 64)), False, True, id="tv-resnet18"),
    pytest.param(E("torchvision", "mobilenet_v3_small", (3, 64, 64)), False, False,
                 id="tv-mobilenet_v3_small"),
    pytest.param(E("torchvision", "squeezenet1_1", (3, 64, 64)), False, True,
                 id="tv-squeezenet1_1"),
    pytest.param(E("torchvision", "shufflenet_v2_x0_5", (3, 64, 64)), True, True,
                 id="tv-shufflenet_v2_x0_5"),   # 527 px since the eager pass (was 719 on CPU)
    pytest.param(E("torchvision", "efficientnet_b0", (3, 64, 64)), False, False,
                 id="tv-efficientnet_b0"),
    pytest.param(E("timm", "resnest14d", (3, 64, 64)), False, False, id="timm-resnest14d"),
    pytest.param(E("timm", "tf_efficientnet_b0", (3, 64, 64)), True, False,
                 id="timm-tf_efficientnet_b0"),  # SE gates: global, as the probe sees
    pytest.param(E("timm", "hrnet_w18_small", (3, 64, 64)), False, False,
                 id="timm-hrnet_w18_small"),
    # CPU path too: meta and CPU totals differed on ViT/DeiT/MobileViT (SDPA) and the video
    # nets (adaptive_avg_pool3d) while the CPU path took fvcore's counts (docs/engine.md)
    pytest.param(E("timm", "vit_tiny_patch16_224", (3, 224, 224)), False, True,
                 id="timm-vit_tiny"),
    pytest.param(E("torchvision.video", "r3d_18", (3, 4, 32, 32)), False, True,
                 id="tv-r3d_18-conv3d"),
    pytest.param(E("local", "m5_conv1d", (1, 8000)), False, True, id="m5-conv1d"),
]


@pytest.mark.parametrize("entry, probe, cpu", COUNTS)
def test_params_macs_and_feature_rf_equal_the_references(entry, probe, cpu):
    row = catalogue.check(entry, do_probe=probe, do_report=False, cpu=cpu)
    assert row.ok, row.error
    assert row.params == row.params_ref                     # sum(p.numel())
    assert row.macs_fvcore is not None and row.macs_fvcore > 0
    assert row.problems == [], row.problems                 # MACs = fvcore, RF = probe
    if probe:
        assert row.rf["verdict"] in ("equal", "consistent (token position unknown)") or (
            row.rf["status"] in ("global", "unknown") and row.rf["verdict"].startswith(
                "not compared")), row.rf


@pytest.mark.parametrize("entry", [
    pytest.param(E("local", "m5_conv1d", (1, 8000)), id="conv1d"),
    pytest.param(E("torchvision.video", "r3d_18", (3, 4, 32, 32)), id="conv3d"),
    pytest.param(E("torchvision.segmentation", "lraspp_mobilenet_v3_large", (3, 64, 64)),
                 id="lraspp"),
])
def test_report_is_written_for_1d_3d_and_segmentation_models(entry, tmp_path):
    row = catalogue.check(entry, report_dir=tmp_path, do_probe=False, do_fvcore=False,
                          cpu=False)
    assert row.ok, row.error
    assert row.report.startswith("ok"), row.report


def test_the_probe_catches_a_wrong_feature_rf():
    """The harness itself: the right feature RF passes, one made too small is caught."""
    import dataclasses

    from archlens import api
    entry = E("torchvision", "squeezenet1_1", (3, 64, 64))
    model = entry.build()
    a = api.analyze(model, entry.input_shape, device="meta", checks=False)
    # SqueezeNet 1.1 by hand: conv 3x3/2 (3 px, jump 2), pool 3/2 (+4 -> 7, jump 4), fire2-3
    # (3x3 expand: +8 each -> 23), pool (+8 -> 31, jump 8), fire4-5 (+16 each -> 63), pool
    # (+16 -> 79, jump 16), fire6-9 (+32 each -> 207); the 1x1 classifier conv adds nothing
    assert a.feature_rf.size == (207, 207) and a.feature_rf.stride == (16, 16)
    bad = dataclasses.replace(a, feature_rf=dataclasses.replace(a.feature_rf, size=(99, 99)))
    assert catalogue.probe_feature(model, bad, entry.input_shape)["verdict"] == "WRONG"
    model = entry.build()
    got = catalogue.probe_feature(model, a, entry.input_shape)
    assert got["verdict"] == "equal", got
    assert [hi - lo + 1 for lo, hi in got["probe"]] == [207, 207]


def test_catalogue_has_every_torchvision_builder_and_30_timm_families():
    es = catalogue.entries()
    tvm = catalogue.tv()
    assert {e.name for e in es if e.source == "torchvision"} == set(
        tvm.list_models(module=tvm))
    assert len({e.family for e in es if e.source == "timm"}) >= 30
    assert sum(e.source == "torchvision.segmentation" for e in es) == 3
    assert any(e.source == "torchvision.video" for e in es) and any(
        len(e.input_shape) == 2 for e in es)


class _Einsum(torch.nn.Module):
    def forward(self, x):                     # x: 1 x 2 x 49 x 32 (heads, tokens, dim)
        return torch.einsum("bhid,bhjd->bhij", x, x)


def test_fvcore_einsum_rounding_is_corrected_to_the_exact_product():
    # by hand: 1 x 2 x 49 x 49 x 32 = 153,664 MACs; numpy's einsum_path report prints the
    # FLOP count as 3.073e+05, so fvcore says 153,650
    from archlens import api
    x = torch.zeros(1, 2, 49, 32)
    total, _, corr = catalogue.fvcore_macs(_Einsum(), x)
    assert total == 153_650 and corr == {"aten::einsum": 14}
    assert api.analyze(_Einsum(), (2, 49, 32), device="meta").totals.macs == 153_664


class _MHA(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x):                     # x: 1 x 10 x 16
        return self.attn(x, x, x, need_weights=False)[0]


def test_multihead_attention_reference_adds_the_attention_matmuls():
    # projections: 4 linears of 10 x 16 x 16 = 10,240 (fvcore counts them); Q K^T and A V:
    # 2 x 1 x 10 x 10 x 16 = 3,200 (fvcore lists SDPA as unsupported); total 13,440
    from archlens import api
    a = api.analyze(_MHA(), (10, 16), device="cpu")
    total, unsupported, _ = catalogue.fvcore_macs(_MHA(), torch.zeros(1, 10, 16))
    adj = catalogue.fvcore_adjustments(a, unsupported)
    assert total == 10_240 and adj == {"aten::scaled_dot_product_attention": 3_200}
    assert a.totals.macs == 13_440


def test_the_probe_budget_is_not_swallowed_as_an_unaccepted_input():
    """Regression: _accepts caught the budget's exception, so a thin probe that ran out of
    time read as 'input not accepted' and the row fell back to a different comparison."""
    import time

    import pytest

    from tests.conformance import catalogue as C

    def slow(x):
        time.sleep(3)
        return x

    with pytest.raises(C._Timeout):
        with C._time_limit(1):
            C._accepts(slow, (1, 3, 8, 8))


class _TfSame(torch.nn.Module):
    """Four 3x3 stride-2 convs with TF "same" padding computed from each input's size (timm's
    ``pad_type='same'``): total pad max((ceil(i/2) - 1) * 2 + 3 - i, 0), the smaller half on
    the left/top."""

    def __init__(self):
        super().__init__()
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(3 if i == 0 else 4, 4, 3, stride=2)
                                         for i in range(4))

    def forward(self, x):
        import math
        for conv in self.convs:
            pads = []
            for i in (x.shape[-1], x.shape[-2]):
                p = max((math.ceil(i / 2) - 1) * 2 + 3 - i, 0)
                pads += [p // 2, p - p // 2]
            x = conv(torch.nn.functional.pad(x, pads))
        return x


def test_thin_probe_keeps_the_padding_of_the_analysed_size():
    """Regression (NASNet-A / PNASNet at 331 px read as WRONG by 20 px): a thin input must have
    the analysed length modulo 32, or size-dependent padding differs from the analysis."""
    from archlens import api
    # by hand at 67 px: 67 -> 34 -> 17 -> 9 -> 5, left pads 1, 0, 1, 1 at jumps 1, 2, 4, 8:
    # 1 + 0 + 4 + 8 = 13 px; at 64 px every left pad is 0. Size 3 + 2 * (2 + 4 + 8) = 31 px.
    a = api.analyze(_TfSame(), (3, 67, 67), device="meta", checks=False)
    assert a.feature_rf.size == (31, 31) and a.feature_rf.padding == (13, 13)
    assert api.analyze(_TfSame(), (3, 64, 64), device="meta",
                       checks=False).feature_rf.padding == (0, 0)
    assert catalogue._thin_length(140, 67, 16) == 67 + 3 * 32
    got = catalogue.probe_feature(_TfSame(), a, (3, 67, 67))
    assert got["how"].startswith("thin inputs") and got["verdict"] == "equal", got
