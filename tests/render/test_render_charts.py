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
