"""The Streamlit dashboard under ``streamlit.testing.v1.AppTest`` (no browser, no server).

Expected numbers are independent of the engine: published parameter counts (Szegedy et al.
2016 / torchvision's metadata: Inception-v3 27,161,264; He et al. 2016 / torchvision:
ResNet-50 25,557,032), receptive fields computed by hand from the papers' layer tables, and
torchvision's documented 75x75 minimum input of Inception-v3.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apps"))
import _dashboard_data as dashboard_data  # noqa: E402
import _dashboard_panzoom as pz  # noqa: E402

sys.path.pop(0)

APP = str(Path(__file__).resolve().parents[2] / "apps" / "dashboard.py")
INCEPTION_V3_PARAMS = 27_161_264
RESNET50_PARAMS = 25_557_032
# The auxiliary classifier does not run in eval mode, so its parameters are in no executed
# layer. By hand (InceptionAux on 17x17x768): conv0 1x1 768->128 + BN = 98,304 + 256;
# conv1 5x5 128->768 + BN = 2,457,600 + 1,536; fc 768->1000 = 769,000.
INCEPTION_V3_AUX_PARAMS = 98_304 + 256 + 2_457_600 + 1_536 + 769_000
INCEPTION_V3_EXECUTED_PARAMS = INCEPTION_V3_PARAMS - INCEPTION_V3_AUX_PARAMS
# Mixed_5b.branch5x5_2 (5x5 conv on the 35x35 grid): by hand from the stem (3x3/2, 3x3, 3x3,
# max 3x3/2, 1x1, 3x3, max 3x3/2) the input to Mixed_5b has RF 31 px at jump 8, the 1x1 keeps
# it and the 5x5 adds 4 * 8: 63 x 63.
MIXED_5B_5X5 = "Mixed_5b.branch5x5_2.conv"

pytestmark = pytest.mark.slow


class StreamlitWarnings(logging.Handler):
    """Collects WARNING+ records of Streamlit's own loggers (they do not propagate to root).
    AppTest's harness warning about a missing ScriptRunContext is not the app's."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if "ScriptRunContext" not in msg and "No runtime found" not in msg:
            self.records.append(f"{record.name}: {msg}")

    def __enter__(self) -> "StreamlitWarnings":
        self._loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)
                         if n.startswith("streamlit")] + [logging.getLogger("streamlit")]
        for lg in self._loggers:
            lg.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        for lg in self._loggers:
            lg.removeHandler(self)


def _app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def _clean(at: AppTest) -> None:
    """No exception element and no error message in the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tab(at: AppTest, label: str) -> AppTest:
    at.session_state["tab"] = label
    return at.run()


def _frames(at: AppTest):
    return [d.value for d in at.dataframe]


def _graph_data(at: AppTest) -> dict:
    (comp,) = at.get("bidi_component")
    return json.loads(comp.proto.json)


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture(scope="module")
def inception() -> AppTest:
    """One app session on inception_v3 (the default model), shared by the tab tests; the
    analysis is cached process-wide, so later sessions reuse it."""
    at = _app()
    at.run()
    assert at.selectbox(key="model").value == "inception_v3"
    return at


def test_every_tab_renders_without_exceptions_or_streamlit_warnings(inception):
    at = inception
    with StreamlitWarnings() as log:
        for label in ("Overview", "Layers", "Graph", "Charts", "Receptive field",
                      "Principles", "Compare", "Benchmarks", "Profile", "Sweep"):
            _tab(at, label)
            _clean(at)
            assert not at.warning, (label, [w.value for w in at.warning])
        # selecting a layer through the Layers picker (it used to log a Session State warning)
        _tab(at, "Layers")
        at.selectbox(key="layer_pick_layers").set_value(MIXED_5B_5X5).run()
        _clean(at)
        _tab(at, "Graph")
        _clean(at)
    assert not log.records, log.records


def test_overview_inception_v3(inception):
    at = _tab(inception, "Overview")
    _clean(at)
    metrics = {m.label: m for m in at.metric}
    params = metrics["Parameters (count)"]
    assert params.value == "27.2 M"
    assert f"{INCEPTION_V3_PARAMS:,} parameters" in params.proto.help
    assert "MACs (whole network)" in metrics  # units named on the card
    assert at.text_input(key="input").value == "3x299x299"  # the card's input size
    # the model's description is shown once (main area), not again in the sidebar
    desc = next(c.value for c in at.main.caption if "factorization" in c.value)
    assert not [c for c in at.sidebar.caption if c.value == desc]
    # the uncounted ops say how small they are (a bound, in % of the counted MACs)
    (box,) = [i.value for i in at.info if "Not counted" in i.value]
    assert "avg\\_pool2d x9" in box or "avg_pool2d x9" in box
    assert "at most" in box and "% of the counted MACs" in box


def test_layers_tab_table_inspector_and_selection_across_tabs(inception):
    at = _tab(inception, "Layers")
    _clean(at)
    (table,) = _frames(at)
    assert {"layer", "type", "stage", "RF", "findings", "out shape", "params", "ops"} <= set(
        table.columns)
    assert table["params"].sum() == INCEPTION_V3_EXECUTED_PARAMS
    at.selectbox(key="layer_pick_layers").set_value(MIXED_5B_5X5).run()
    _clean(at)
    text = _text(at)
    assert "size: 63x63 px" in text, text[-1500:]
    assert "status: exact" in text
    assert "1 x 64 x 35 x 35" in text  # out shape of the 5x5 branch (paper: 35x35x64)
    assert "kernel 5x5, stride 1x1, padding 2x2" in text
    # the selection survives switching tabs: the Charts view marks it, the graph outlines it
    at = _tab(at, "Charts")
    _clean(at)
    assert any("is marked" in c.value for c in at.caption)
    assert at.selectbox(key="layer_pick_charts").value == MIXED_5B_5X5
    at = _tab(at, "Graph")
    _clean(at)
    assert _graph_data(at)["highlight"] == MIXED_5B_5X5
    assert at.selectbox(key="layer_pick_graph").value == MIXED_5B_5X5


def test_layers_filters_survive_a_tab_switch_and_bars_scale_to_the_largest(inception):
    at = _tab(inception, "Layers")
    at.text_input(key="layer_filter").set_value("Mixed_7c").run()
    _clean(at)
    (table,) = _frames(at)
    assert len(table) > 0 and table["layer"].str.contains("Mixed_7c").all()
    at = _tab(at, "Overview")
    at = _tab(at, "Layers")
    assert at.text_input(key="layer_filter").value == "Mixed_7c"
    (table,) = _frames(at)
    assert table["layer"].str.contains("Mixed_7c").all()
    cfg = json.loads(at.dataframe[0].proto.columns)
    bar = cfg["ops %"]["type_config"]
    assert bar["max_value"] == pytest.approx(table["ops %"].max())
    at.text_input(key="layer_filter").set_value("").run()


def test_aggregated_table_stage_spans_and_sums():
    at = _app(model="vgg16", depth="1", tab="Layers")
    at.run()
    _clean(at)
    (table,) = _frames(at)
    assert "module" in table.columns
    assert table["params"].sum() == 138_357_544  # Simonyan & Zisserman / torchvision
    # features runs from the 224x224 input (stage 0) to pool5 at 7x7: 224 / 7 = 2^5 -> 5
    assert table.set_index("module").loc["features", "stage"] == "0-5"


def test_graph_tab_component_data():
    at = _app(tab="Graph")  # a new session: its first graph run carries the drawing
    at.run()
    _clean(at)
    (comp,) = at.get("bidi_component")
    assert comp.proto.component_name == "archlens.graph_viewer"
    assert "http://" not in comp.proto.js_content and "https://" not in comp.proto.js_content
    page = _graph_data(at)
    assert page["svg"].lstrip().startswith("<svg")
    assert "Mixed_6e" in page["svg"]
    assert page["key"] == pz.svg_key(page["svg"])
    # one merged note for the folded blocks, not one per fold
    notes = [c.value for c in at.caption if "folded" in c.value.lower()]
    assert len(notes) == 1 and notes[0].count("Identical blocks folded") == 1
    # a run that only moves the selection sends the drawing's key, not its text again
    at.session_state["selected_layer"] = MIXED_5B_5X5
    at.run()
    _clean(at)
    again = _graph_data(at)
    assert again["svg"] is None and again["key"] == page["key"]
    assert again["highlight"] == MIXED_5B_5X5
    # after another tab too (the browser keeps the text by key)
    at = _tab(_tab(at, "Overview"), "Graph")
    assert _graph_data(at)["svg"] is None
    # another drawing (depth 1) is sent
    at.selectbox(key="depth").set_value(1).run()
    _clean(at)
    depth1 = _graph_data(at)
    assert depth1["svg"].lstrip().startswith("<svg") and depth1["key"] != page["key"]
    # the browser lacks the text (a new page on this session) and sends `need`: the
    # callback forgets what was sent, so the next run carries the text again
    at.session_state[pz.SENT_STATE] = {}
    at.run()
    assert _graph_data(at)["svg"] == depth1["svg"]


def test_charts_tab(inception):
    at = _tab(inception, "Charts")
    _clean(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 5
    # the four along-depth charts report clicked points (the compute-share sunburst does not)
    assert sum(1 for c in charts if c.proto.selection_mode) == 4


def test_principles_findings_name_their_layers_and_select_them(inception):
    at = _tab(inception, "Principles")
    _clean(at)
    heads = [m.value for m in at.markdown if m.value.startswith("#### P")]
    assert [h.split(".")[0] for h in heads] == ["#### P1", "#### P2", "#### P3", "#### P4"]
    pills = [p for p in at.get("button_group") if p.proto.label.startswith("Layer")]
    assert pills and all(p.proto.options for p in pills)  # every finding names its layers
    # the three P3 findings on Mixed_5b/5c/5d each name a different layer
    p3 = [json.dumps([o.content for o in p.proto.options]) for p in pills
          if "5x5" in json.dumps([o.content for o in p.proto.options])]
    assert len(set(p3)) == len(p3) >= 3


def test_units_flops_doubles_the_numbers(inception):
    at = _tab(inception, "Overview")
    macs = next(m for m in at.metric if m.label.startswith("MACs"))
    at.radio(key="units").set_value("FLOPs").run()
    _clean(at)
    flops = next(m for m in at.metric if m.label.startswith("FLOPs"))
    num = int(flops.proto.help.split()[0].replace(",", ""))
    assert num == 2 * int(macs.proto.help.split()[0].replace(",", ""))
    at.radio(key="units").set_value("MACs").run()


def test_url_with_every_parameter_opens_that_view():
    at = _app(model="resnet50", input="3x192x192", batch="2", depth="2", units="FLOPs",
              device="meta", tab="Graph", layer="layer3.0.conv2", cmp_a="vgg16",
              cmp_b="resnet18")
    at.run()
    _clean(at)
    assert at.selectbox(key="model").value == "resnet50"
    assert at.text_input(key="input").value == "3x192x192"
    assert at.text_input(key="batch").value == "2"
    assert at.selectbox(key="depth").value == 2
    assert at.radio(key="units").value == "FLOPs"
    assert at.radio(key="device").value == "meta"
    assert at.session_state["tab"] == "Graph"
    assert at.session_state["selected_layer"] == "layer3.0.conv2"
    assert _graph_data(at)["highlight"] == "layer3.0.conv2"
    # resnet50 at 3x192x192, batch 2: the inspector shows the 3x3 conv of layer3's first block
    # at 192 / 16 = 12 px (its stride-2 conv2 halves 24 -> 12), 256 channels
    assert "2 x 256 x 12 x 12" in _text(at)
    at.query_params["tab"] = "Compare"
    at = _tab(at, "Compare")
    _clean(at)
    assert at.selectbox(key="cmp_a").value == "vgg16"
    assert at.selectbox(key="cmp_b").value == "resnet18"


def test_unknown_model_in_the_url_warns_and_opens_the_default():
    at = _app(model="bogus_net")
    at.run()
    assert not at.exception
    (w,) = at.warning
    assert "Unknown model" in w.value and "bogus\\_net" in w.value or "bogus_net" in w.value
    assert "inception_v3" in w.value and "\n" not in w.value
    assert at.selectbox(key="model").value == "inception_v3"


@pytest.mark.parametrize("text, words", [
    ("3x16x16", "too small"),           # a real input, too small for the network
    ("3xabcx299", "not an integer"),    # malformed
])
def test_bad_input_is_an_error_message_not_an_exception(text, words):
    at = _app()
    at.run()
    at.text_input(key="input").set_value(text).run()
    assert not at.exception
    assert len(at.error) == 1 and words in at.error[0].value, [e.value for e in at.error]
    # the page stays usable: the tabs are there and a button recovers the card's input
    assert [t.label for t in at.tabs][:2] == ["Overview", "Layers"]
    at.button(key="reset_input").click().run()
    _clean(at)
    assert at.text_input(key="input").value == "3x299x299"


@pytest.mark.parametrize("text", ["0", "4097", "two", "1.5", "-3", "\u00b2"])
def test_bad_batch_is_one_error_line_and_a_good_one_analyses(text):
    at = _app()
    at.run()
    at.text_input(key="batch").set_value(text).run()
    assert not at.exception
    (e,) = at.error
    assert e.value.startswith("Batch: expected a whole number from 1 to 4096") and "\n" not in e.value
    at.text_input(key="batch").set_value(" 3 ").run()
    _clean(at)
    assert not at.error
    assert "input 3 x 3 x 299 x 299" in at.subheader[0].value  # the overview, batch 3


def test_input_recovery_smallest_input_and_channels():
    at = _app()
    at.run()
    at.text_input(key="input").set_value("3x16x16").run()
    btn = at.button(key="use_smallest")
    assert "3x75x75" in btn.label  # torchvision: Inception-v3 needs at least 75x75
    btn.click().run()
    _clean(at)
    assert at.text_input(key="input").value == "3x75x75"
    at.text_input(key="input").set_value("1x299x299").run()
    assert "expects 3 input channels, the input has 1" in at.error[0].value
    at.button(key="use_channels").click().run()
    _clean(at)
    assert at.text_input(key="input").value == "3x299x299"


def test_rf_tab_overlay_and_measured_erf():
    # LeNet-5 by hand: C1 5x5 -> 5 px; S2 2x2/2 -> 6 px, jump 2; C3 5x5 -> 6 + 4*2 = 14 px
    at = _app(model="lenet5", tab="Receptive field", layer="c3.convs.0")
    at.run()
    _clean(at)
    assert "theoretical window **14x14 px**" in _text(at)
    (fig,) = [c for c in at.get("plotly_chart") if c.proto.id and "rf_overlay" in c.proto.id]
    spec = json.loads(fig.proto.spec)
    rects = [s for s in spec["layout"]["shapes"] if s["type"] == "rect"]
    # the centre unit (4, 4) of the 10x10 output: rows 4*2 - 0 .. +13 = 8..21 -> edges +-0.5
    assert rects[0]["x1"] - rects[0]["x0"] == 14
    assert rects[0]["y0"] == pytest.approx(7.5) and rects[0]["y1"] == pytest.approx(21.5)
    at.toggle(key="rf_measure").set_value(True).run()
    _clean(at)
    text = _text(at)
    assert "effective RF radius" in text and "non-zero gradient over 14x14 px" in text


def test_resnet50():
    at = _app()
    at.run()
    at.selectbox(key="model").set_value("resnet50").run()
    _clean(at)
    assert at.text_input(key="input").value == "3x224x224"
    params = next(m for m in at.metric if m.label == "Parameters (count)")
    assert f"{RESNET50_PARAMS:,} parameters" in params.proto.help


def test_compare_two_models_through_the_architecture_diff():
    at = _app()
    at.run()
    at = _tab(at, "Compare")
    at.selectbox(key="cmp_a").set_value("inception_v3")
    at.selectbox(key="cmp_b").set_value("resnet50").run()
    _clean(at)
    totals = next(f for f in _frames(at) if "quantity" in f.columns)
    row = totals[totals["quantity"] == "parameters"].iloc[0]
    assert row["A: inception_v3"] == INCEPTION_V3_PARAMS
    assert row["B: resnet50"] == RESNET50_PARAMS
    assert row["B - A"] == RESNET50_PARAMS - INCEPTION_V3_PARAMS
    stages = next(f for f in _frames(at) if "stage" in f.columns and "params A" in f.columns)
    assert stages["params A"].sum() == INCEPTION_V3_EXECUTED_PARAMS
    assert stages["params B"].sum() == RESNET50_PARAMS
    assert len(at.get("bidi_component")) == 2  # the two graphs side by side


def test_compare_names_the_factorized_modules():
    at = _app(tab="Compare", cmp_a="inception_v3", cmp_b="inception_v3_unfactorized")
    at.run()
    _clean(at)
    heads = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert "costs" in heads[0] and "MACs" in heads[0]  # the diff's headline
    changes = next(f for f in _frames(at) if "unit" in f.columns)
    row = changes.set_index("unit").loc["Mixed_5b.branch3x3dbl_2.conv"]
    assert row["status"] == "changed" and "factorization" in row["what"]
    # by hand: 5x5 64->96 + BN = 153,600 + 192; 3x3 64->96 + BN + 3x3 96->96 + BN =
    # 55,296 + 192 + 82,944 + 192: B - A = 15,168 parameters
    assert row["params B - A"] == 15_168
    graphs = at.get("bidi_component")
    assert "Mixed_5b.branch3x3dbl_2.conv" in json.loads(graphs[0].proto.json)["marks"]


def test_user_code_is_off_unless_allowed(monkeypatch):
    monkeypatch.delenv("ARCHLENS_DASHBOARD_ALLOW_USER_CODE", raising=False)
    at = _app()
    at.run()
    assert not [t for t in at.text_input if t.key == "user_model"]


_USER_MODEL = '''
import torch
from torch import nn

def build():
    # N x 3 x 32 x 32 -> N x 8 x 16 x 16 -> N x 8 -> N x 10
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

def broken():
    raise RuntimeError("the user's builder fails")

HOSTILE = "x`](http:evil/a)![i](http:evil/i)$e^x$:red[boo]<b>"

def hostile():
    m = nn.Sequential()
    m.add_module(HOSTILE, nn.Conv2d(3, 8, 5))
    m.add_module("pool", nn.AdaptiveAvgPool2d(1))
    return m
'''


def test_user_code_when_allowed(monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHLENS_DASHBOARD_ALLOW_USER_CODE", "1")
    f = tmp_path / "mynet.py"
    f.write_text(_USER_MODEL)
    at = _app()
    at.run()
    assert any("EXECUTES" in w.value for w in at.warning)
    at.text_input(key="user_model").set_value(f"{f}:build").run()
    at.text_input(key="input").set_value("3x32x32").run()
    _clean(at)
    params = next(m for m in at.metric if m.label == "Parameters (count)")
    # by hand: conv 3*8*9 + 8 = 224, linear 8*10 + 10 = 90
    assert f"{224 + 90:,} parameters" in params.proto.help
    at.text_input(key="user_model").set_value(f"{f}:broken").run()
    assert not at.exception
    assert len(at.error) == 1
    assert "the user's builder fails" in at.error[0].value, at.error[0].value


def test_hostile_layer_names_are_inert_in_markdown(monkeypatch, tmp_path):
    """A module name with a backtick, a link, an image, LaTeX, a colour directive and HTML is
    shown, never interpreted: every Markdown call escapes it."""
    from archlens.sanitize import for_markdown_code
    monkeypatch.setenv("ARCHLENS_DASHBOARD_ALLOW_USER_CODE", "1")
    f = tmp_path / "hostile.py"
    f.write_text(_USER_MODEL)
    hostile = "x`](http:evil/a)![i](http:evil/i)$e^x$:red[boo]<b>"
    at = _app()
    at.run()
    at.text_input(key="user_model").set_value(f"{f}:hostile").run()
    at.text_input(key="input").set_value("3x16x16").run()
    _clean(at)
    at.session_state["selected_layer"] = hostile
    for tab in ("Layers", "Graph", "Charts", "Receptive field", "Principles"):
        at = _tab(at, tab)
        _clean(at)
        for el in [*at.markdown, *at.caption, *at.info, *at.warning]:
            assert "](http:evil" not in el.value.replace(
                for_markdown_code(hostile), ""), (tab, el.value)
    at = _tab(at, "Layers")
    assert for_markdown_code(hostile) in _text(at)  # shown verbatim in a code span


def _bench_doc() -> dict:
    def form(label, macs, median):
        return {"label": label, "macs": macs, "params": macs // 1225,
                "latency": {"median_s": median, "q1_s": median * 0.95, "q3_s": median * 1.05,
                            "iqr_s": median * 0.1, "runs": 7, "number_per_run": 10,
                            "min_s": median * 0.9, "max_s": median * 1.2},
                "gmacs_per_s": macs / median / 1e9, "percent_of_peak": None}
    # 5x5 vs two 3x3 on a 35x35 grid, 64 -> 64 channels: 25 vs 18 weights per in-out pair
    full, fact = 25 * 64 * 64 * 35 * 35, 18 * 64 * 64 * 35 * 35
    return {"schema": "archlens.bench/1", "created": "2026-01-01T00:00:00+00:00",
            "env": {"device": "cpu", "device_name": "test CPU", "threads": 2,
                    "dtype": "float32"},
            "config": {}, "units": {}, "notes": ["hand-made document"],
            "cases": [{"id": "5x5_vs_3x3x2", "kind": "factorization", "title": "5x5 vs 3x3+3x3",
                       "batch": 1, "grid": 35, "input_shape": [1, 64, 35, 35],
                       "output_shape": [1, 64, 35, 35], "spec": {},
                       "full": form("5x5", full, 2e-3), "factorized": form("3x3+3x3", fact, 1.6e-3),
                       "mac_ratio": fact / full, "param_ratio": 18 / 25,
                       "latency_ratio": 1.6e-3 / 2e-3, "mac_saving": 1 - fact / full}],
            "skipped": []}


def test_benchmarks_tab_loads_a_results_file(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(_bench_doc()))
    at = _app()
    at.run()
    at = _tab(at, "Benchmarks")
    at.text_input(key="bench_path").set_value(str(path)).run()
    _clean(at)
    (table,) = _frames(at)
    assert math.isclose(table["MAC ratio (fact./full)"][0], 0.72)  # paper: 28 % saving
    assert math.isclose(table["full median (ms)"][0], 2.0)
    assert len(at.get("plotly_chart")) == 3
    at.text_input(key="bench_path").set_value(str(tmp_path / "missing.json")).run()
    assert not at.exception
    assert len(at.error) == 1 and "does not exist" in at.error[0].value


@pytest.mark.parametrize("content, words", [
    (None, "not a regular file"),                   # /dev/zero: endless, never read
    (b"\xff\xfe{not utf-8", "not UTF-8"),
    (b"[" * 100_000, "nested too deeply"),          # nesting too deep for json
])
def test_benchmarks_path_box_bad_files_are_one_line(tmp_path, content, words):
    if content is None:
        path = "/dev/zero"
    else:
        path = str(tmp_path / "bad.json")
        Path(path).write_bytes(content)
    at = _app(tab="Benchmarks")
    at.run()
    at.text_input(key="bench_path").set_value(path).run()
    assert not at.exception
    (err,) = at.error
    assert words in err.value and "\n" not in err.value and "Traceback" not in err.value


def test_benchmarks_empty_state_offers_the_bundled_cpu_results():
    at = _app(tab="Benchmarks")
    at.run()
    _clean(at)
    assert any("No GPU results" in i.value and "--device cuda" in i.value for i in at.info)
    at.button(key="bench_bundled").click().run()
    _clean(at)
    (table,) = _frames(at)
    assert len(table) == 83  # the bundled full CPU set
    # 5x5 -> two 3x3: 18/25 of the MACs (the paper's 28 % saving) is among the cases
    assert (table["MAC ratio (fact./full)"].round(6) == 0.72).any()
    assert len(at.get("plotly_chart")) == 3


def test_overview_findings_table_is_escaped_html(inception):
    """The overview's findings are a static HTML table (no data grid on the first page):
    one row per finding, in order, every cell escaped text."""
    from html import escape

    import archlens
    at = _tab(inception, "Overview")
    _clean(at)
    (table,) = [h.proto.body for h in at.get("html") if "al-findings" in h.proto.body]
    a = archlens.analyze("inception_v3")
    fs = sorted(a.findings, key=lambda f: ({"error": 0, "warning": 1, "info": 2}[f.severity],
                                           f.code))
    assert table.count("<tr>") == len(fs) + 1  # the header and one row per finding
    pos = [table.index(escape(f.message)) for f in fs]
    assert pos == sorted(pos)
    hostile = "x`](http:evil/a)<b>$e^x$"
    html = dashboard_data.findings_html(
        [type("F", (), {"severity": "warning", "code": "P1.x", "layers": (hostile,),
                        "message": "<script>alert(1)</script>", "fix": "a & b"})()])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert escape(hostile) in html and "<b>" not in html and "a &amp; b" in html
