"""A feature RF without a number (``global``: the whole input; ``unknown``) is shown with its
status in the diff, its tables and budgets -- never as 0 or a delta of 0."""
from __future__ import annotations

import io

import torch
from rich.console import Console
from torch import nn

from archlens import api
from archlens.budgets import evaluate, parse
from archlens.diff import diff
from archlens.render.compare import compare_md, console_summary


class Plain(nn.Module):
    """Two 3x3 convs: feature RF 5 px (exact)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return self.c2(torch.relu(self.c1(x)))


class Gated(Plain):
    """The same with an SE gate between the convs: every unit sees the whole input (global)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        y = torch.relu(self.c1(x))
        y = y * torch.sigmoid(self.fc(y.mean((2, 3), keepdim=True)))
        return self.c2(y)


def _diff():
    a = api.analyze(Plain(), (3, 16, 16), device="meta")
    b = api.analyze(Gated(), (3, 16, 16), device="meta")
    assert a.feature_rf.status == "exact" and b.feature_rf.status == "global"
    return diff(a, b)


def test_global_feature_rf_has_no_number_and_no_delta():
    t = _diff().total("feature_rf")
    assert (t.a, t.b, t.status_a, t.status_b, t.delta) == (5, None, "", "global", None)
    d = t.to_dict()
    assert d["b"] is None and d["delta"] is None and d["status_b"] == "global"


def test_tables_show_the_status_never_zero():
    d = _diff()
    row = next(line for line in compare_md(d).splitlines() if line.startswith("| feature RF"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["5", "global (whole input)", "n/a (A exact, B global)"]
    buf = io.StringIO()
    Console(file=buf, width=120).print(console_summary(d, None))
    line = next(x for x in buf.getvalue().splitlines() if "feature RF" in x)
    assert "global (whole input)" in line and "n/a (A exact, B global)" in line
    assert "(0" not in line and "+0" not in line


def test_a_budget_on_a_global_feature_rf_cannot_pass_silently():
    (o,) = evaluate(_diff(), [parse("feature_rf<-0")])
    assert o.exceeded and "cannot be checked" in o.message and "global" in o.message
