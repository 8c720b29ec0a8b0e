"""Profile views: the terminal table at a fixed width, plotly figures parsed as data."""
from __future__ import annotations

from rich.console import Console

from archlens.profile.result import LayerProfile, Profile
from archlens.profile.roofline import Roofline
from archlens.render.profile import ProfileView, roofline_chart, share_chart, treemap

ROOF = Roofline(peak_macs_per_s=4e10, bandwidth_bytes_per_s=2e10, method="test")


def profile() -> Profile:
    def lp(name, typ, module, macs, nbytes, ms):
        return LayerProfile(name=name, type=typ, kind="module", module=module, macs=macs,
                            read_bytes=nbytes, weight_bytes=0, write_bytes=0,
                            median_s=ms / 1e3, q1_s=ms / 1e3 * 0.9, q3_s=ms / 1e3 * 1.1)
    layers = (lp("stem.conv", "Conv2d", "stem.conv", 80_000_000, 2_000_000, 2.0),
              lp("stem.relu", "ReLU", "stem.relu", 0, 4_000_000, 0.5),
              lp("<b>x</b>", "Conv2d", "<b>x</b>", 20_000_000, 1_000_000, 1.5))
    return Profile(model="m", input_shape=(1, 3, 32, 32), device="cpu", dtype="float32",
                   threads=1, channels_last=False, warmup=1, repeats=5, layers=layers,
                   whole_median_s=4.1e-3, whole_q1_s=4.0e-3, whole_q3_s=4.3e-3,
                   roofline=ROOF, env={"device_name": "Test CPU", "torch": "2.x"})


def test_table_states_units_shares_estimate_and_overhead():
    c = Console(width=200, record=True, color_system=None)
    c.print(ProfileView(profile(), top=3))
    text = c.export_text()
    assert "median ms" in text and "GMAC/s" in text and "estimate ms" in text
    # stem.conv: 2.000 ms, 50.0 % of 4 ms, 80 % of the MACs, 40.0 GMAC/s, estimate
    # max(80e6/4e10, 2e6/2e10) = 2.000 ms, error +0 %
    row = next(line for line in text.splitlines() if "stem.conv" in line)
    for cell in ("2.000", "50.0", "80.0", "40.0", "compute", "+0"):
        assert cell in row, (cell, row)
    assert "sum of per-layer medians: 4.000 ms (-2.4 % of the whole-model median)" in text
    assert "unattributed (between timed ops): 0.100 ms" in text
    assert "ridge 2.00 MACs/byte" in text
    assert "<b>x</b>" in text            # a model's name is text, never markup


def test_roofline_chart_marks_the_ridge_and_places_layers():
    fig = roofline_chart(profile())
    names = [t.name for t in fig.data]
    assert "ridge point" in names and "roofline (measured)" in names
    ridge = next(t for t in fig.data if t.name == "ridge point")
    assert tuple(ridge.x) == (2.0,) and tuple(ridge.y) == (40.0,)
    conv = next(t for t in fig.data if t.name == "Conv2d")
    assert sorted(conv.y) == [20e6 / 1.5e-3 / 1e9, 40.0]
    assert all("&lt;b&gt;" in h or "<b>x" not in h for h in conv.hovertext)


def test_share_chart_and_treemap_sum_to_the_profile():
    fig = share_chart(profile())
    lat = next(t for t in fig.data if t.name.startswith("latency"))
    assert sum(lat.y) == 100.0 or abs(sum(lat.y) - 100.0) < 1e-9
    tm = treemap(profile()).data[0]
    leaf = [v for i, v in zip(tm.ids, tm.values) if i.startswith("n:")]
    assert abs(sum(leaf) - 4.0) < 1e-9


def test_hostile_model_and_layer_names_are_text_in_the_terminal():
    from dataclasses import replace
    p = profile()
    lp = replace(p.layers[0], name="[bold]x\x1b]0;t\x07")
    p = replace(p, model="[/bold]m", layers=(lp,) + p.layers[1:])
    c = Console(width=200, record=True, color_system=None)
    c.print(ProfileView(p, top=3))
    text = c.export_text()
    assert "[/bold]m" in text and "[bold]x\\x1b]0;t\\x07" in text and "\x1b" not in text


def test_report_section_html_parses_and_escapes_model_text():
    from html.parser import HTMLParser

    from archlens.render.profile import section_html, section_markdown

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.cells, self.ids = [], [], []
            self._td = False

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self._td = tag == "td"
            self.ids += [v for k, v in attrs if k == "id"]

        def handle_data(self, data):
            if self._td:
                self.cells.append(data)
                self._td = False

    p = profile()
    c = Collect()
    c.feed(section_html(p, top=3))
    assert "<b>x</b>" in c.cells and "stem.conv" in c.cells   # the layer <b>x</b> is text
    assert "b" not in c.tags
    assert {"profile-shares", "profile-roofline", "profile-treemap"} <= set(c.ids)
    md = section_markdown(p, top=3)
    assert "| stem.conv | Conv2d | 2.000 | 50.0 | 80.0 | 40.0 | compute | 2.000 | +0 |" in md
    assert "<b>" not in md
