"""Data flows one way: render receives analyses and diffs, never computes them."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from archlens.render import charts as ch

from .render_builder import toy_net

RENDER = Path(__file__).resolve().parents[2] / "archlens" / "render"
# stages that produce analyses: render may import types and constants, never these
FORBIDDEN_MODULES = ("archlens.api", "archlens.engine", "archlens.trace", "archlens.loader",
                     "archlens.checks.registry", "archlens.profile.run")
FORBIDDEN_NAMES = {("archlens.diff", "diff"), ("archlens.diff", "stage_deltas"),
                   ("archlens", "analyze"), ("archlens", "diff"), ("archlens", "check")}
# geometry helpers read from metrics by name (known; anything new here fails the test)
METRICS_ALLOWED = {("archlens.metrics.stages", "LEGEND"), ("archlens.metrics.stages", "Stage"),
                   ("archlens.metrics.stages", "head_costs"),
                   ("archlens.metrics.receptive_field", "feature_node"),  # console.py
                   ("archlens.metrics.erf", "EffectiveRF"), ("archlens.metrics.erf", "unit_window")}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                yield node.module, a.name


@pytest.mark.parametrize("path", sorted(RENDER.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(RENDER)))
def test_render_module_imports_no_analysis(path):
    for mod, name in _imports(path):
        assert not mod.startswith(FORBIDDEN_MODULES), (path.name, mod)
        assert (mod, name) not in FORBIDDEN_NAMES, (path.name, mod, name)
        if mod.startswith("archlens.metrics"):
            assert (mod, name) in METRICS_ALLOWED, (path.name, mod, name)


def test_compare_charts_take_a_diff_not_two_analyses():
    a, b = toy_net("a"), toy_net("b", blocks=1)
    with pytest.raises(TypeError, match="archlens.diff.Diff"):
        ch.stage_deltas(a)
    with pytest.raises(TypeError, match="archlens.diff.Diff"):
        ch.compare_figures(a, a, b)
    from archlens.diff import diff
    d = diff(a, b)
    assert set(ch.compare_figures(d, a, b)) == {"stage_deltas", "representation"}
