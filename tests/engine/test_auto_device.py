"""``device="auto"`` (the default): the meta device, and the CPU when the forward pass needs
values, with a note; the numbers are those of a CPU pass."""
from __future__ import annotations

import json
import subprocess
import sys

import torch
from torch import nn

from archlens import api
from archlens.engine import analyze_model


class ValueDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.wide = nn.Conv2d(8, 16, 3)
        self.narrow = nn.Conv2d(8, 4, 3)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.wide(y) if y.mean().item() > -1e9 else self.narrow(y)


def _numbers(a):
    return (a.totals.params, a.totals.macs, a.totals.activations,
            [(n.name, n.out_shape, n.macs, n.params) for n in a.graph.layers],
            a.feature_rf)


def test_auto_runs_on_meta_with_the_cpu_numbers():
    auto = analyze_model("resnet18")
    assert auto.device == "meta" and not auto.notes
    assert _numbers(auto) == _numbers(analyze_model("resnet18", device="cpu"))
    assert api.analyze("resnet18", checks=False).device == "meta"


def test_auto_falls_back_to_the_cpu_when_the_forward_needs_values_and_says_so():
    model = ValueDependent()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a = analyze_model(model, (3, 12, 12))
    assert a.device == "cpu"
    assert len(a.notes) == 1 and "meta device failed" in a.notes[0] and "item" in a.notes[0]
    assert [n.name for n in a.graph.layers if n.base_type == "Conv2d"] == ["conv", "wide"]
    assert _numbers(a) == _numbers(analyze_model(model, (3, 12, 12), device="cpu"))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(not p.is_meta for p in model.parameters())


def test_auto_with_the_fvcore_counter_uses_real_tensors():
    a = analyze_model("lenet5", counter="fvcore")
    assert a.device == "cpu" and a.counter == "fvcore"


def test_cli_default_is_auto_and_the_json_says_where_it_ran(tmp_path):
    out = tmp_path / "a.json"
    r = subprocess.run([sys.executable, "-m", "archlens", "analyze", "lenet5", "--json",
                        str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["device"] == "meta"
    h = subprocess.run([sys.executable, "-m", "archlens", "analyze", "--help"],
                       capture_output=True, text=True).stdout
    assert "auto (default)" in " ".join(h.split())
