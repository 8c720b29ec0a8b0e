"""The graph coloured by measured latency share (issue 14), with a toggle to MAC share.

Independent figures: the shares are hand-set seconds (0.997 s and 0.003 s of 1 s), so the
bins they must land in follow by hand from the scale's rule (bins fitted to the nodes drawn:
two shares 333x apart are two bins, the lightest and the darkest colour); the two convs have
equal MACs (same shapes), so by MAC share there is one bin, the darkest."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from torch import nn

import archlens
from archlens.render import graphviz as gv

from test_guidelines import fake_profile  # noqa: E402 - same folder (no package)

needs_dot = pytest.mark.skipif(gv.dot_binary() is None, reason="graphviz 'dot' not installed")


@pytest.fixture(scope="module")
def analysis():
    m = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
    return archlens.analyze(m, (8, 16, 16), device="meta")


def fill_of(source: str, text: str) -> str:
    """fillcolor of the drawn node whose label holds ``text`` (the module path)."""
    for line in source.splitlines():
        if "fillcolor=" in line and f">{text}<" in line:
            return re.search(r'fillcolor="([^"]+)"', line).group(1)
    raise AssertionError(f"no drawn node labelled {text!r}")


def test_fill_follows_the_latency_share_not_the_macs(analysis):
    names = [n.name for n in analysis.graph.layers]
    assert names[0] == "0" and "2" in names
    times = {"0": 0.997, "2": 0.003}          # 99.7 % and 0.3 % of the measured 1 s
    g = gv.build(analysis, colour_by=times, colour_label="latency share (measured)")
    assert fill_of(g.source, "2") == gv.SHARE_COLOURS[0]      # 0.3 %: the lower bin
    assert fill_of(g.source, "0") == gv.SHARE_COLOURS[-1]     # 99.7 %: the upper bin
    assert [t for _, t in g.fills] == ["0.30 %", "100 %"]
    assert "latency share (measured)" in g.source and "MAC share" not in g.source
    by_macs = gv.build(analysis, fold=False)
    assert fill_of(by_macs.source, "2") == gv.SHARE_COLOURS[-1]   # equal MACs: one bin
    assert fill_of(by_macs.source, "0") == gv.SHARE_COLOURS[-1]
    assert "MAC share" in by_macs.source


def test_untimed_layers_get_the_empty_fill(analysis):
    g = gv.build(analysis, colour_by={"0": 1.0})
    assert fill_of(g.source, "2") == gv.NO_MACS


@needs_dot
def test_report_section_holds_both_graphs_and_the_toggle(analysis):
    from archlens.render.profile import LATENCY_LABEL, report_section

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.radios = [], []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if a.get("id"):
                self.ids.append(a["id"])
            if tag == "input" and a.get("type") == "radio":
                self.radios.append(a["id"])

    prof = fake_profile(analysis, {"0": 0.997, "2": 0.003}, default=0.0)
    sec = report_section(prof, analysis=analysis)
    t = Tags()
    t.feed(sec.html)
    assert t.radios == ["lat-by-time", "lat-by-macs"]
    assert "lat-by-time-view" in t.ids and "lat-by-macs-view" in t.ids
    assert LATENCY_LABEL in sec.html and "MAC share" in sec.html
    assert "report.html" in sec.markdown
    assert "lat-by-time" not in report_section(prof).html      # no analysis: no graph
