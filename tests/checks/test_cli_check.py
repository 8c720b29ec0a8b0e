"""`archlens check`: exit codes as a CI gate, the three formats, usage errors."""
from __future__ import annotations

import json

import pytest

from archlens.cli import main

NET = '''
import torch.nn as nn

class Net(nn.Module):
    """Pooling before widening: 32x32x256 -> 15x15x256 (4.55x drop)."""
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(256, 256, 1)
        self.pool = nn.MaxPool2d(3, 2)
        self.c2 = nn.Conv2d(256, 512, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        x = self.pool(self.c1(x))
        return self.fc(self.gap(self.c2(x)).flatten(1))
'''


@pytest.fixture()
def net(tmp_path):
    p = tmp_path / "net.py"
    p.write_text(NET)
    return f"{p}:Net"


def test_error_finding_exits_1_and_fail_on_never_exits_0(net, capsys):
    assert main(["check", net, "--input", "256x32x32"]) == 1
    out = capsys.readouterr().out
    assert "P1.grid-reduction" in out and "32x32x256 -> 15x15x256 by max-pool" in out
    assert main(["check", net, "--input", "256x32x32", "--fail-on", "never"]) == 0
    assert main(["check", net, "--input", "256x32x32", "--ignore", "P1"]) == 0


def test_fail_on_warning_and_json_schema(capsys):
    assert main(["check", "ng_bottleneck_direct", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "archlens.check/1" and doc["model"] == "ng_bottleneck_direct"
    [f] = [f for f in doc["findings"] if f["code"] == "P3.no-reduction"]
    assert set(f) >= {"code", "severity", "layers", "message", "evidence", "fix", "saving"}
    assert f["saving"]["macs"] == 120_422_400 - 12_443_648
    assert doc["summary"]["counts"]["warning"] >= 1
    assert main(["check", "ng_bottleneck_direct", "--fail-on", "warning"]) == 1
    capsys.readouterr()


def test_markdown_and_text(capsys):
    assert main(["check", "ng_bottleneck_direct", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("## archlens check: ng_bottleneck_direct")
    assert "### Principle 3" in md and "`P3.no-reduction`" in md and "120,422,400" in md
    assert main(["check", "ng_bottleneck_direct"]) == 0
    text = capsys.readouterr().out
    assert "Principle 3" in text and "savings offered (best fix per layer): 107,978,752 MACs" \
        in text


@pytest.mark.parametrize("argv,msg", [
    (["--select", "P7"], "unknown rule code 'P7'"),
    (["--ignore", "P3.factorise-large"], "did you mean: P3.factorize-large"),
    (["--fail-on", "sometimes"], "invalid choice"),
    (["--config", "/nonexistent/checks.toml"], "not found"),
])
def test_usage_errors_exit_2_with_one_line(argv, msg, capsys):
    assert main(["check", "ng_bottleneck_direct", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_unknown_model_exits_2(capsys):
    assert main(["check", "inception_v4"]) == 2
    assert "unknown model" in capsys.readouterr().err
