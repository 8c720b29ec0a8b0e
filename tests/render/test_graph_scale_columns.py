"""Issue 13's graph items: the fill scale fits the nodes drawn (depth 1 no longer paints every
block the top colour), columns are numbered in reading order with continuation labels that
name the real producer, and the folds are one note. Checked on the parsed SVG; the expected
figures are by hand (the scale's rule on chosen shares; resnet50's published [3, 4, 6, 3]
blocks)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from archlens.render import graphviz as gv

from .render_builder import GraphBuilder, conv_bn_relu, inception_block

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(gv.dot_binary() is None, reason="graphviz 'dot' not installed")


def texts(el) -> list[str]:
    return [" ".join("".join(t.itertext()).split()) for t in el.iter(f"{SVG}text")]


def test_scale_bins_are_quantiles_of_the_drawn_shares():
    # seven shares doubling from 0.1 %: six bins, the first holds the two smallest (7 / 6
    # rounds up to 2 nodes), each later bin starts at the next share
    s = gv.share_scale([0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064])
    assert s.edges == (0.004, 0.008, 0.016, 0.032, 0.064)
    assert s.labels == ("0.10-0.20 %", "0.40 %", "0.80 %", "1.6 %", "3.2 %", "6.4 %")
    assert s.colours == gv.SHARE_COLOURS
    assert s.colour(0.0011) == gv.SHARE_COLOURS[0] and s.colour(0.05) == gv.SHARE_COLOURS[4]
    assert s.colour(0.0) == gv.NO_MACS


def test_near_equal_shares_share_a_colour():
    # 1.25 %, 1.26 %, 1.27 % are one cost to a reviewer; 2.5 % is twice it
    s = gv.share_scale([0.0125, 0.0126, 0.0127, 0.0125, 0.025, 0.025])
    assert s.edges == (0.025,)
    assert s.colours == (gv.SHARE_COLOURS[0], gv.SHARE_COLOURS[-1])
    assert s.labels == ("1.2-1.3 %", "2.5 %")   # two significant digits
    one = gv.share_scale([0.2, 0.2, 0.2])
    assert one.colours == (gv.SHARE_COLOURS[-1],) and one.labels == ("20 %",)


def _strip():
    b = GraphBuilder((3, 64, 64))
    x = conv_bn_relu(b, "stem", b.input, 32, 3, 1, 1)
    for i in range(10):   # widths differ so nothing folds, and the costs grow block by block
        x = conv_bn_relu(b, f"block{i}.reduce", x, 32, 1)
        x = inception_block(b, f"block{i}", x, 8 + 4 * i)
    return b.analysis("strip")


def _fills(source: str) -> dict[str, str]:
    """Drawn node's name (2nd label line) -> fill colour, from the dot source."""
    out = {}
    for line in source.splitlines():
        m = re.match(r'\s*gn\d+ \[.*fillcolor="([^"]+)".*?<FONT POINT-SIZE="8"[^>]*>([^<]+)<',
                     line)
        if m:
            out[m.group(2)] = m.group(1)
    return out


def test_depth_one_blocks_get_different_colours_in_cost_order():
    a = _strip()
    g = gv.build(a, depth=1)
    fills = _fills(g.source)
    blocks = [f"block{i}" for i in range(10)]
    assert set(blocks) <= set(fills), fills
    order = [gv.SHARE_COLOURS.index(fills[b]) for b in blocks]
    # the blocks grow in width, so in MACs: the colours never get lighter along the strip
    assert order == sorted(order) and len(set(order)) >= 4, order
    # the legend lists every bin drawn with the range of the shares in it
    legend = [t for c, t in g.fills]
    assert len(legend) >= len(set(order))
    for lab in legend:
        assert f">{lab}<" in g.source


@needs_dot
def test_columns_are_numbered_left_to_right():
    a = _strip()
    g = gv.build(a)
    assert g.columns > 1
    root = ET.fromstring(gv.layout(g.source))
    heads = {}
    for el in root.iter(f"{SVG}g"):   # a header node, or the first line of a "from" label
        if el.get("class") != "node":
            continue
        for t, run in zip(texts(el), el.iter(f"{SVG}text")):
            m = re.fullmatch(r"column (\d+) of (\d+)", t)
            if m:
                assert int(m.group(2)) == g.columns and int(m.group(1)) not in heads
                heads[int(m.group(1))] = float(run.get("x"))
    assert sorted(heads) == list(range(1, g.columns + 1))
    xs = [heads[k] for k in sorted(heads)]
    assert xs == sorted(xs), xs                          # reading order: left to right
    stubs = [t for el in root.iter(f"{SVG}g") for t in texts(el)
             if t.startswith("→ continues in column")]
    assert stubs and all(int(s.rsplit(" ", 1)[1]) >= 2 for s in stubs)


@pytest.fixture(scope="module")
def resnet50():
    import archlens
    return archlens.analyze("resnet50", device="meta")


def test_folds_are_one_note_and_continuations_name_the_last_block(resnet50):
    g = gv.build(resnet50)
    folds = [n for n in g.notes if n.startswith("identical blocks")]
    # published [3, 4, 6, 3] bottlenecks: all but the first (downsampling) one of each
    # stage are identical and chained
    assert folds == ["identical blocks folded: layer1.1 .. layer1.2 x2; layer2.1 .. "
                     "layer2.3 x3; layer3.1 .. layer3.5 x5; layer4.1 .. layer4.2 x2"]
    # a column fed by a folded run names the run's last block, which really feeds it
    froms = re.findall(r"from (layer\d\.\d)\.\S+ \(column \d\)", g.source)
    assert froms and set(froms) <= {"layer1.2", "layer2.3", "layer3.5", "layer4.2"}, froms


def test_one_module_drawn_alone_names_what_feeds_it_and_what_it_feeds(resnet50):
    from archlens.errors import ArchlensError
    # the three top-level blocks with the most MACs: layer3 (6 bottlenecks at 14x14),
    # layer2, layer4; the stem conv is one box and is not a block
    assert [m for m, _ in gv.top_modules(resnet50)] == ["layer3", "layer2", "layer4"]
    g = gv.build(resnet50, module="layer3")
    drawn = [re.search(r'tooltip="([^"\\]+)', line).group(1)
             for line in g.source.splitlines() if line.lstrip().startswith("gn")
             and "fillcolor=" in line]
    assert drawn and all(h.startswith("layer3.") for h in drawn), drawn
    assert "from layer2.3" in g.source            # the last block of layer2 feeds layer3
    assert "→ to layer4" in g.source
    # only the folds drawn: layer3's 6 bottlenecks, the last 5 identical
    assert [n for n in g.notes if n.startswith("identical")] == [
        "identical blocks folded: layer3.1 .. layer3.5 x5"]
    with pytest.raises(ArchlensError, match="no module 'layer9'"):
        gv.build(resnet50, module="layer9")
