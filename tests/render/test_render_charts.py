"""Plotly figures: units on the axes, the right traces at the right layers."""
from __future__ import annotations

from archlens.render import charts as ch

from .render_builder import toy_net


def test_every_chart_names_its_units():
    a = toy_net()
    figs = ch.figures(a)
    assert list(figs) == ["layer_costs", "representation", "receptive_field", "compute_share",
                          "intensity"]
    for slug, fig in figs.items():
        if slug == "compute_share":
            continue
        titles = [ax.title.text for ax in (fig.layout[k] for k in fig.layout
                                           if k.startswith(("xaxis", "yaxis"))) if ax.title.text]
        assert any("(" in t for t in titles), (slug, titles)   # every y title has a unit


def test_trunk_is_the_representation_between_blocks():
    # by hand: after these layers only their own output is alive
    assert ch.trunk_nodes(toy_net()) == [
        "stem.conv", "stem.bn", "stem.relu", "blocks.0.cat", "blocks.1.cat", "blocks.2.cat",
        "reduce", "head.cat", "gap", "flatten", "fc"]


def test_representation_marks_p1_findings_on_a_log_axis():
    a = toy_net()
    fig = ch.representation_size(a)
    assert fig.layout.yaxis.type == "log"
    p1 = [t for t in fig.data if t.name == "P1 finding"]
    assert len(p1) == 1
    layers = [n.name for n in a.graph.layers]
    assert list(p1[0].x) == [layers.index("reduce")]
    assert list(p1[0].y) == [32 * 8 * 8]


def test_receptive_field_has_input_reference_and_stride():
    a = toy_net()
    fig = ch.receptive_field(a)
    refs = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert [s.y0 for s in refs] == [32]                     # input 32 px
    stride = next(t for t in fig.data if t.name == "effective stride")
    assert max(stride.y) == 32  # stem /2, reduce /2, gap /8 -> 2*2*8
    rf = next(t for t in fig.data if t.name == "RF size")
    # head.dbl_3 after stem(3,/2) blocks(1+3+3 on /2 grid) reduce(2,/2) and head: max path
    # through three blocks' double 3x3 (+4 each at stride 2 -> +8) ...; feature RF below
    assert max(rf.y) == a.feature_rf.size[0] == 73


def test_compute_share_sums_to_total():
    a = toy_net()
    tm = ch.compute_share(a).data[0]
    values = dict(zip(tm.ids, tm.values))
    stage_ids = [i for i, p in zip(tm.ids, tm.parents) if p == "toy"]
    assert sum(values[i] for i in stage_ids) == a.totals.macs


def test_stage_deltas_between_two_models():
    a, b = toy_net("a"), toy_net("b", blocks=1)
    from archlens.diff import diff
    fig = ch.stage_deltas(diff(a, b))
    bars = {t.name: dict(zip(t.x, t.y)) for t in fig.data if t.yaxis in (None, "y")}
    blk = 4 * 65536 + 3 * 147456 + 7 * 2048   # one block's MACs by hand
    assert bars["a"]["S1"] - bars["b"]["S1"] == 2 * blk
    # the annotation over S1 is the table's delta text
    ann = [x.text for x in fig.layout.annotations if x.x == "S1" and x.yref == "y"]
    assert ann == [f"-{2 * blk / 1e6:.2f} M (-{2 * blk / (bars['a']['S1']):.1%})"]


# ----------------------------------------------------------------------------- issue 12 fixes

import dataclasses  # noqa: E402
import math  # noqa: E402

import pytest  # noqa: E402

from archlens.graph import Graph, ReceptiveField  # noqa: E402
from archlens.render import chart_layout as L  # noqa: E402


def _with_global_pool(a):
    """toy_net whose gap is a global pooling (status global), as the engine marks
    AdaptiveAvgPool2d: the feature RF is then head.cat's (45 px, stride 4)."""
    nodes = []
    for n in a.graph.nodes:
        if n.name == "gap":
            n = dataclasses.replace(n, rf=ReceptiveField.whole((32, 32), "global pooling in gap",
                                                               grid=(1, 1)))
        nodes.append(n)
    g = Graph(nodes=tuple(nodes), outputs=a.graph.outputs)
    cat = g["head.cat"].rf
    return dataclasses.replace(a, graph=g, feature_rf=dataclasses.replace(cat, node="head.cat"))


def _title(fig) -> str:
    """The title as plain text (subtitle lines joined with spaces)."""
    import html
    import re
    return html.unescape(re.sub(r"<[^>]+>", "", fig.layout.title.text.replace("<br>", " ")))


def test_every_chart_title_names_the_model_so_a_png_reads_alone():
    a = toy_net("toy_model")
    for slug, fig in ch.figures(a).items():
        assert _title(fig).startswith("toy_model: "), slug


def test_representation_reference_line_is_labelled():
    a = toy_net()
    fig = ch.representation_size(a)
    ref = [t for t in fig.data if t.name and t.name.startswith("input image")]
    assert len(ref) == 1 and set(ref[0].y) == {3 * 32 * 32}     # C*H*W of the 3x32x32 input
    assert "3,072 elements" in ref[0].name
    # the text beside the line sits at the line: annotations on a log axis take log10(y)
    ann = [x for x in fig.layout.annotations if x.text and x.text.startswith("input image")]
    assert len(ann) == 1 and ann[0].y == pytest.approx(math.log10(3072))


def test_log_axes_label_decades_only():
    a = toy_net()
    figs = ch.figures(a)
    logs = [(slug, ax) for slug, fig in figs.items()
            for k in fig.layout if k.startswith("yaxis") and (ax := fig.layout[k]).type == "log"]
    assert {s for s, _ in logs} >= {"representation", "intensity", "receptive_field"}
    for slug, ax in logs:
        if ax.tickmode == "array":          # the stride axis: every power of two
            assert all(math.log2(v).is_integer() for v in ax.tickvals), slug
        else:                               # decades only: no bare "2", "5" minor labels
            assert ax.dtick == 1, slug


def test_receptive_field_line_ends_where_the_subtitle_says():
    a = toy_net()
    fig = ch.receptive_field(a)
    rf = next(t for t in fig.data if t.name == "RF size")
    last = max(i for i, y in enumerate(rf.y) if y is not None)
    assert rf.y[last] == 73 and "feature RF 73 px, stride 32 px at gap" in _title(fig)


def test_receptive_field_with_global_pooling_shows_both_numbers():
    a = _with_global_pool(toy_net())
    fig = ch.receptive_field(a)
    layers = [n.name for n in a.graph.layers]
    rf = next(t for t in fig.data if t.name == "RF size")
    xs = [x for x, y in zip(rf.x, rf.y) if y is not None]
    # the line stops at the feature node with its RF (by hand: 45 px, stride 2 * 2 = 4 px)
    assert xs[-1] == layers.index("head.cat") and rf.y[list(rf.x).index(xs[-1])] == 45
    title = _title(fig)
    assert "feature RF 45 px, stride 4 px at head.cat" in title
    assert "from gap on every unit sees the whole input (32 px: global pooling in gap)" in title
    glob = [t for t in fig.data if t.name and t.name.startswith("global from gap")]
    assert len(glob) == 1 and list(glob[0].x) == [layers.index("gap")]
    stride = next(t for t in fig.data if t.name == "effective stride")
    assert 0 not in stride.y and max(v for v in stride.y if v) == 4   # no global 0/1x1 step


def test_receptive_field_with_a_global_feature_says_where_exact_ends():
    a = _with_global_pool(toy_net())
    a = dataclasses.replace(a, feature_rf=a.graph["gap"].rf)
    title = _title(ch.receptive_field(a))
    assert "feature RF global (whole input, 32 px)" in title
    assert "the line ends at the last exact RF, 45 px at head.cat" in title


def test_intensity_has_the_ridge_of_its_stated_machine():
    fig = ch.intensity(toy_net())
    # docs/guidelines.md: the assumed device is 40 GMAC/s and 20 GB/s -> 2 MACs per byte
    ridge = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert [s.y0 for s in ridge] == [2.0]
    title = _title(fig)
    assert "2 MACs/byte" in title and "40 GMAC/s / 20 GB/s" in title
    assert any("compute-bound" in (x.text or "") for x in fig.layout.annotations)
    fig = ch.intensity(toy_net(), ridge=12.5, source="measured on X (profile roofline)")
    assert [s.y0 for s in fig.layout.shapes if s.y0 == s.y1] == [12.5]
    assert "measured on X" in _title(fig)


def _strip(fig):
    """(text, row) of the stage-strip labels: annotations under the plot area."""
    return [(x.text, x.yshift) for x in fig.layout.annotations
            if x.yref == "paper" and x.y == 0 and (x.yshift or 0) < 0]


@pytest.mark.parametrize("slug", ["layer_costs", "representation", "receptive_field",
                                  "intensity"])
def test_depth_charts_name_stages_and_blocks_under_the_axis(slug):
    a = toy_net()
    fig = ch.figures(a)[slug]
    texts = [t for t, _ in _strip(fig)]
    assert [t for t in texts if t.startswith("S")] == ["S1 16x16", "S2 8x8", "S3 1x1"]
    assert "stem .. blocks" in texts and "reduce .. head" in texts and "head" in texts
    # nothing of the strip is drawn over the data (the old rotated labels were)
    assert not [x for x in fig.layout.annotations if x.textangle == -90]


def test_place_rows_never_overlaps_and_keeps_lines_clear():
    spans = [(0, 50), (30, 80), (60, 90), (100, 120), (10, 20)]
    rows = L.place_rows(spans)
    for i, (a0, a1) in enumerate(spans):
        for j, (b0, b1) in enumerate(spans):
            if i < j and rows[i] == rows[j]:
                assert a1 + L.GAP_PX <= b0 or b1 + L.GAP_PX <= a0
    # labels starting at their leader line, close together: a staircase, no line crossed
    spans = [(x, x + 60) for x in (0, 5, 10, 200)]
    rows = L.place_rows(spans, leaders=[s[0] for s in spans], right_first=True)
    assert rows == [2, 1, 0, 0]


def test_top_layer_labels_do_not_collide():
    a = toy_net()
    fig = ch.layer_costs(a, top_k=12)
    labels = [x for x in fig.layout.annotations if x.yref == "y" and x.showarrow is False]
    assert len(labels) == 12
    n = len(a.graph.layers)
    plot_px = ch.WIDTH - fig.layout.margin.l - fig.layout.margin.r

    def px(x):
        return (x + 0.5) / n * plot_px
    boxes = []
    for x in labels:
        w = L.text_px(x.text)
        left = px(x.x) if x.xanchor == "left" else px(x.x) - w
        boxes.append((x.y, left, left + w))
    for i, (y1, l1, r1) in enumerate(boxes):
        for y2, l2, r2 in boxes[i + 1:]:
            if y1 == y2:
                assert r1 <= l2 or r2 <= l1
    leaders = [s for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1
               and s.yref == "y"]
    assert len(leaders) == 12


def test_treemap_is_in_depth_order_with_slivers_grouped():
    a = toy_net()
    tm = ch.compute_share(a, sliver=0.05).data[0]
    assert tm.sort is False
    kids = {}
    for i, p, lab in zip(tm.ids, tm.parents, tm.labels):
        kids.setdefault(p, []).append(lab)
    assert kids["toy"] == ["S1 16x16", "S2 8x8", "head (non-spatial)"]
    # S1: stem, then blocks (execution order, although blocks is larger)
    assert kids["toy/S1 16x16"] == ["stem", "blocks"]
    values = dict(zip(tm.ids, tm.values))
    blocks = [i for i, p in zip(tm.ids, tm.parents) if p == "toy/S1 16x16/blocks"]
    # blocks.0/1/2 each 1/3 of the block MACs (> 5 % of the total): not grouped
    assert [values[i] for i in blocks] == [values["toy/S1 16x16/blocks"] // 3] * 3
    assert kids["toy/S2 8x8"] == ["head"]
    # with a 30 % threshold the three blocks (each ~27 %) become one tile; its layers (with
    # MACs) by hand: 3 blocks x 7 convs x (conv + BN) = 42
    tm = ch.compute_share(a, sliver=0.30).data[0]
    grouped = [(lab, v) for lab, p, v in zip(tm.labels, tm.parents, tm.values)
               if p == "toy/S1 16x16/blocks"]
    assert grouped == [("other (42 layers)", values["toy/S1 16x16/blocks"])]


def test_compare_tick_labels_break_lines_instead_of_printing_br():
    from archlens.diff import diff
    a, b = toy_net("a"), toy_net("b", blocks=1)
    figs = ch.compare_figures(diff(a, b), a, b)
    for fig in figs.values():
        ticks = [t for k in fig.layout if k.startswith("xaxis")
                 for t in (fig.layout[k].ticktext or ())]
        assert ticks and all("&lt;br" not in t for t in ticks)
        assert any("<br>" in t for t in ticks)
