"""The graphviz drawing, checked on the parsed SVG (xml.etree), never by grepping text."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from archlens.render import graphviz as gv

from .render_builder import GraphBuilder, conv_bn_relu, inception_block, toy_net

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(gv.dot_binary() is None, reason="graphviz 'dot' not installed")


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode())


def drawn_nodes(root: ET.Element, prefix: str = "g") -> list[ET.Element]:
    """Graph nodes (not the legend, anchor or column junctions)."""
    out = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node" and (g.get("id") or "").startswith(prefix + "n"):
            out.append(g)
    return out


def texts(el: ET.Element) -> list[str]:
    """Text runs, whitespace normalised (graphviz writes runs of spaces as NBSP)."""
    return [" ".join("".join(t.itertext()).split()) for t in el.iter(f"{SVG}text")]


def clusters(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"]


def node_with(root: ET.Element, text: str) -> ET.Element:
    hits = [g for g in drawn_nodes(root) if any(text in t for t in texts(g))]
    assert len(hits) == 1, (text, len(hits))
    return hits[0]


@needs_dot
def test_full_depth_counts_labels_and_clusters():
    a = toy_net()
    g, svg = gv.render_svg(a)
    root = parse(svg)
    # by hand: input, stem (conv+BN+ReLU drawn as one), one drawn copy of the 3 identical
    # blocks (1x1, 1x1, 3x3, 1x1, [3x3 3x3 folded], pool, pool-proj, cat = 8), reduce,
    # head (8), gap, flatten, fc
    assert len(drawn_nodes(root)) == 1 + 1 + 8 + 1 + 8 + 3 == g.nodes
    stem = node_with(root, "Conv2d 3x3/2+BN+ReLU")
    # 32 out channels x 16 x 16 outputs x 27 MACs + BN 32x16x16 = 221,184 + 8,192
    assert any("32x16x16 | 229 K MACs" == t for t in texts(stem))
    fc = node_with(root, "Linear")
    assert any("10 | 640 MACs" == t for t in texts(fc))          # 64 x 10
    titles = [" ".join(texts(c)) for c in clusters(root)]
    assert any(t.startswith("blocks ") for t in titles)
    assert any("blocks.0 .. blocks.2" in t and "\u00d73 identical" in t for t in titles)
    assert any(t.startswith("head ") for t in titles)
    # the two chained identical 3x3 convs in each block are one node marked x2
    pairs = [g for g in drawn_nodes(root) if "dbl_2 .. dbl_3" in texts(g)]
    assert len(pairs) == 2
    assert all("Conv2d 3x3+BN+ReLU \u00d72" in texts(g) for g in pairs)


@needs_dot
def test_no_fold_draws_every_block():
    a = toy_net()
    g, svg = gv.render_svg(a, fold=False)
    # 9 units per block (nothing folded): 1 + 1 + 3*9 + 1 + 9 + 3
    assert len(drawn_nodes(parse(svg))) == 42 == g.nodes
    assert g.folds == ()


def _two_blocks(width2: int, cin_change: bool = False):
    b = GraphBuilder((3, 32, 32))
    x = conv_bn_relu(b, "stem", b.input, 32, 3, 2, 1)
    x = inception_block(b, "blocks.0", x, 8)              # 32 channels out
    if cin_change:
        x = conv_bn_relu(b, "mid", x, 48, 1)              # the next block reads 48 channels
    x = inception_block(b, "blocks.1", x, width2)
    return b.analysis("two")


def test_fold_only_when_identical():
    assert "blocks.0 .. blocks.1 x2" in gv.build(_two_blocks(8)).folds
    # a different width: different shapes and costs -> drawn in full
    assert not any(f.startswith("blocks.0 ..") for f in gv.build(_two_blocks(16)).folds)
    # same block, but not fed by its twin (another layer in between): not folded
    assert not any(f.startswith("blocks.0 ..") for f in gv.build(_two_blocks(8, True)).folds)


@needs_dot
def test_findings_outlined_with_rule_codes():
    root = parse(gv.render_svg(toy_net())[1])
    node = node_with(root, "P1.bottleneck")
    strokes = {p.get("stroke") for p in node.iter() if p.get("stroke")}
    assert gv.SEVERITY_COLOURS["warning"] in strokes
    info = node_with(root, "P3.factorize-3x3")
    assert gv.SEVERITY_COLOURS["info"] in {p.get("stroke") for p in info.iter() if p.get("stroke")}


@needs_dot
def test_depth_collapses_into_groups_with_summed_numbers():
    a = toy_net()
    g, svg = gv.render_svg(a, depth=1)
    root = parse(svg)
    # input, stem, blocks, reduce, head, gap, flatten, fc
    assert len(drawn_nodes(root)) == 8
    assert clusters(root) == []
    blocks = node_with(root, "blocks")
    # 3 identical blocks of 7 convs + 7 BN: each 1x1 32->8: 8*32*256 = 65,536; each 3x3
    # 8->8: 8*72*256 = 147,456; BN 8*256 = 2,048 -> (4*65,536 + 3*147,456 + 7*2,048) * 3
    macs = (4 * 65536 + 3 * 147456 + 7 * 2048) * 3
    assert macs == 2_156_544
    assert any("2.16 M MACs" in t for t in texts(blocks))


def test_layout_guard_collapses_and_says_so():
    g = gv.build(toy_net(), budget=40)
    assert g.depth is not None and g.nodes + g.edges <= 40
    assert any("collapsed to depth" in n for n in g.notes)


@needs_dot
def test_hostile_module_name_is_text_not_markup():
    evil = "<img src=x onerror=alert(1)>"
    svg = gv.render_svg(toy_net(evil=evil))[1]
    root = parse(svg)  # parses: no broken markup
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert "img" not in tags and "script" not in tags
    assert not any(k.lower().startswith("on") for el in root.iter() for k in el.attrib)
    assert any(evil in " ".join(texts(c)) for c in clusters(root))


def test_without_dot_writes_source_and_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(gv, "dot_binary", lambda: None)
    res = gv.write_graph(toy_net(), tmp_path / "g.svg")
    assert not res.laid_out and res.path == tmp_path / "g.dot"
    assert res.path.read_text().startswith('digraph "toy"')
    assert "apt-get install graphviz" in res.message


@needs_dot
def test_long_chain_is_wrapped_into_columns():
    b = GraphBuilder((3, 64, 64))
    x = conv_bn_relu(b, "stem", b.input, 32, 3, 1, 1)
    for i in range(10):   # widths differ so nothing folds: a 10-block strip
        x = conv_bn_relu(b, f"block{i}.reduce", x, 32, 1)
        x = inception_block(b, f"block{i}", x, 8 + i)
    a = b.analysis("strip")
    one = gv.svg_size(gv.layout(gv.build(a, columns=1).source))
    g = gv.build(a)
    auto = gv.svg_size(gv.layout(g.source))
    assert g.columns > 1
    assert one[1] / one[0] > 3          # a single column is a strip
    assert 0.6 < auto[1] / auto[0] < 2.2  # wrapped: page-like


class _DenseLayer(__import__("torch").nn.Module):
    def __init__(self, c_in: int):
        import torch
        super().__init__()
        self.conv = torch.nn.Conv2d(c_in, 2, 3, padding=1)

    def forward(self, feats):
        import torch
        return self.conv(torch.cat(feats, 1))


class _DenseBlock(__import__("torch").nn.Module):
    """A DenseNet block: every layer reads the concatenation of the input and all earlier
    layers (torchvision's _DenseLayer takes the list and concatenates inside)."""

    def __init__(self, n: int):
        import torch
        super().__init__()
        self.layers = torch.nn.ModuleList(_DenseLayer(4 + 2 * i) for i in range(n))

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(feats))
        return feats[-1]


def test_densely_wired_drawing_is_collapsed_and_says_why():
    # 36 layers, each reading every earlier one: 1 + 2 + ... + 36 = 666 edges into the layers'
    # concatenations (DenseNet-161 drawn at its layers took dot 23-33 s, over 60 s under load)
    from archlens import api
    a = api.analyze(_DenseBlock(36), (4, 8, 8), device="meta", checks=False)
    g = gv.build(a)
    dense = [n for n in g.notes if "too densely wired" in n]
    # full depth (a node per layer and per concatenation: 73 nodes, 702 edges), then the
    # layers as boxes (37 nodes, 666 edges): both collapsed, each note with its numbers
    assert g.depth == 1 and len(dense) == 2, g.notes
    drawn, edges = int(dense[-1].split()[0]), int(dense[-1].split("(")[1].split()[0])
    assert edges >= 666 and edges > gv.DENSE_EDGES_PER_NODE * drawn
    assert g.edges < gv.DENSE_MIN_EDGES or g.edges <= gv.DENSE_EDGES_PER_NODE * g.nodes


def test_layout_timeout_draws_shallower_and_notes_it(monkeypatch):
    calls = []

    def slow_once(source, fmt_="svg", timeout=60.0):
        calls.append(source)
        if len(calls) == 1:
            raise gv.LayoutTimeout("graphviz layout took longer than 60 s; draw fewer layers")
        return b'<svg xmlns="http://www.w3.org/2000/svg" width="10pt" height="10pt"/>'

    monkeypatch.setattr(gv, "layout", slow_once)
    a = toy_net()
    notes: list[str] = []
    g, svg = gv.layout_shallower(a, gv.build(a), notes)
    assert len(calls) == 2 and g.depth is not None
    assert notes == [f"graphviz layout took longer than 60 s at depth full; drawn at depth "
                     f"{g.depth}"]
