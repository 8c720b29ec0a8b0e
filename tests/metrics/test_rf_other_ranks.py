"""Models whose windows slide over 1-d or 3-d positions (Conv1d audio nets, Conv3d video nets):
their receptive field exists but is not modelled, so the feature RF is ``unknown`` with that
reason, never "no spatial layers"; models with no window at all keep ``None``."""
from __future__ import annotations

import json

import torch.nn as nn

from archlens import analyze
from archlens.analysis import Analysis
from archlens.render import _numbers as fmt


def test_conv1d_net_feature_rf_is_unknown_with_the_reason():
    m = nn.Sequential(nn.Conv1d(1, 8, 5, stride=2), nn.ReLU(), nn.Conv1d(8, 8, 3),
                      nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 2))
    a = analyze(m, input_shape=(1, 100), device="meta")
    f = a.feature_rf
    assert f is not None and f.status == "unknown" and f.size is None
    assert "1-d (N, C, L)" in f.reason and "Conv1d at 2" in f.reason and f.node == "2"
    assert "unknown" in fmt.rf(f)
    assert Analysis.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_conv3d_net_names_its_last_3d_window():
    m = nn.Sequential(nn.Conv3d(3, 4, 3), nn.MaxPool3d(2), nn.Flatten())
    a = analyze(m, input_shape=(3, 6, 10, 10), device="meta")
    f = a.feature_rf
    assert f.status == "unknown" and "3-d (N, C, T, H, W)" in f.reason
    assert "MaxPool3d at 1" in f.reason


def test_token_and_vector_models_still_have_none():
    mlp = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 2))
    assert analyze(mlp, input_shape=(20,), device="meta").feature_rf is None
    enc = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
    assert analyze(enc, input_shape=(5, 16), device="meta").feature_rf is None


def test_a_1d_conv_over_channels_in_an_image_model_changes_nothing():
    class ECA(nn.Module):  # ECA-Net's gate: a 1-d conv along the channel axis of a 4-d map
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 8, 3)
            self.eca = nn.Conv1d(1, 1, 3, padding=1, bias=False)

        def forward(self, x):
            y = self.c(x)
            w = self.eca(y.mean((2, 3)).unsqueeze(1)).squeeze(1).sigmoid()
            return y * w[:, :, None, None]

    f = analyze(ECA(), input_shape=(3, 12, 12), device="meta").feature_rf
    assert f.status == "global" and f.size == (12, 12)
