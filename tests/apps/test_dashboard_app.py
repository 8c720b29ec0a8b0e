"""The Streamlit dashboard under ``streamlit.testing.v1.AppTest`` (no browser, no server).

Expected numbers are independent of the engine: published parameter counts (Szegedy et al.
2016 / torchvision's metadata: Inception-v3 27,161,264; He et al. 2016 / torchvision:
ResNet-50 25,557,032) and a receptive field computed by hand from the paper's layer table.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(Path(__file__).resolve().parents[2] / "apps" / "dashboard.py")
INCEPTION_V3_PARAMS = 27_161_264
RESNET50_PARAMS = 25_557_032
# The auxiliary classifier does not run in eval mode, so its parameters are in no executed
# layer. By hand (InceptionAux on 17x17x768): conv0 1x1 768->128 + BN = 98,304 + 256;
# conv1 5x5 128->768 + BN = 2,457,600 + 1,536; fc 768->1000 = 769,000.
INCEPTION_V3_AUX_PARAMS = 98_304 + 256 + 2_457_600 + 1_536 + 769_000
INCEPTION_V3_EXECUTED_PARAMS = INCEPTION_V3_PARAMS - INCEPTION_V3_AUX_PARAMS

pytestmark = pytest.mark.slow


def _app(monkeypatch=None) -> AppTest:
    return AppTest.from_file(APP, default_timeout=120)


def _clean(at: AppTest) -> None:
    """No exception element and no error message in the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tab(at: AppTest, label: str) -> AppTest:
    at.session_state["tab"] = label
    return at.run()


def _frames(at: AppTest):
    return [d.value for d in at.dataframe]


@pytest.fixture(scope="module")
def inception() -> AppTest:
    """One app session on inception_v3 (the default model), shared by the tab tests; the
    analysis is cached process-wide, so later sessions reuse it."""
    at = _app()
    at.run()
    assert at.selectbox(key="model").value == "inception_v3"
    return at


def test_overview_inception_v3(inception):
    at = inception
    _clean(at)
    metrics = {m.label: m for m in at.metric}
    params = metrics["Parameters (count)"]
    assert params.value == "27.2 M"
    assert f"{INCEPTION_V3_PARAMS:,} parameters" in params.proto.help
    assert "MACs (whole network)" in metrics  # units named on the card
    assert at.text_input(key="input").value == "3x299x299"  # the card's input size


def test_layers_tab_table_and_layer_details(inception):
    at = _tab(inception, "Layers")
    _clean(at)
    (table,) = _frames(at)
    assert {"layer", "type", "out shape", "params", "ops", "RF"} <= set(table.columns)
    assert table["params"].sum() == INCEPTION_V3_EXECUTED_PARAMS
    # Mixed_5b.branch5x5_2 (5x5 conv on the 35x35 grid): by hand from the stem (3x3/2, 3x3,
    # 3x3, max 3x3/2, 1x1, 3x3, max 3x3/2) the input to Mixed_5b has RF 31 px at jump 8,
    # the 1x1 keeps it and the 5x5 adds 4 * 8: 63 x 63.
    name = next(n for n in table["layer"] if n.startswith("Mixed_5b.branch5x5_2")
                and "conv" in n)
    at.selectbox(key="layer_pick").set_value(name)
    at.run()
    _clean(at)
    text = "\n".join(m.value for m in at.markdown)
    assert "size: 63x63" in text, text[-1500:]
    assert "1 x 64 x 35 x 35" in text  # out shape of the 5x5 branch (paper: 35x35x64)
    # the selection survives switching tabs: the Charts view marks it, the graph centres it
    at = _tab(at, "Charts")
    _clean(at)
    assert any(name in c.value for c in at.caption)
    at = _tab(at, "Graph")
    _clean(at)
    assert f'highlight = "{name}"' in at.get("iframe")[0].proto.srcdoc


def test_layers_tab_filter_and_aggregation(inception):
    at = _tab(inception, "Layers")
    at.text_input(key="layer_filter").set_value("Mixed_7c").run()
    _clean(at)
    (table,) = _frames(at)
    assert len(table) > 0 and table["layer"].str.contains("Mixed_7c").all()
    at.text_input(key="layer_filter").set_value("").run()
    at.select_slider(key="depth").set_value(1).run()
    _clean(at)
    (table,) = _frames(at)
    assert "module" in table.columns
    assert table["params"].sum() == INCEPTION_V3_EXECUTED_PARAMS  # grouping loses nothing
    assert "Mixed_6e" in set(table["module"])
    at.select_slider(key="depth").set_value("all").run()


def test_graph_tab_embeds_pan_zoom_svg(inception):
    at = _tab(inception, "Graph")
    _clean(at)
    frames = at.get("iframe")
    assert len(frames) == 1
    page = frames[0].proto.srcdoc
    assert "<svg" in page and "addEventListener(\"wheel\"" in page
    assert "http://" not in page.split("<svg", 1)[0]  # no CDN: the viewer is inline
    assert "Mixed_6e" in page  # the drawing shows the network's modules


def test_charts_tab(inception):
    at = _tab(inception, "Charts")
    _clean(at)
    assert len(at.get("plotly_chart")) == 5


def test_principles_tab(inception):
    at = _tab(inception, "Principles")
    _clean(at)
    heads = [m.value for m in at.markdown if m.value.startswith("#### P")]
    assert [h.split(".")[0] for h in heads] == ["#### P1", "#### P2", "#### P3", "#### P4"]


def test_units_flops_doubles_the_numbers(inception):
    at = _tab(inception, "Overview")
    macs = next(m for m in at.metric if m.label.startswith("MACs"))
    at.radio(key="units").set_value("FLOPs").run()
    _clean(at)
    flops = next(m for m in at.metric if m.label.startswith("FLOPs"))
    num = int(flops.proto.help.split()[0].replace(",", ""))
    assert num == 2 * int(macs.proto.help.split()[0].replace(",", ""))
    at.radio(key="units").set_value("MACs").run()


def test_resnet50():
    at = _app()
    at.run()
    at.selectbox(key="model").set_value("resnet50").run()
    _clean(at)
    assert at.text_input(key="input").value == "3x224x224"
    params = next(m for m in at.metric if m.label == "Parameters (count)")
    assert f"{RESNET50_PARAMS:,} parameters" in params.proto.help


def test_compare_two_models():
    at = _app()
    at.run()
    at = _tab(at, "Compare")
    at.selectbox(key="cmp_a").set_value("inception_v3")
    at.selectbox(key="cmp_b").set_value("resnet50").run()
    _clean(at)
    totals = next(f for f in _frames(at) if "quantity" in f.columns)
    row = totals[totals["quantity"] == "parameters (count)"].iloc[0]
    assert row["A: inception_v3"] == INCEPTION_V3_PARAMS
    assert row["B: resnet50"] == RESNET50_PARAMS
    assert row["B - A"] == RESNET50_PARAMS - INCEPTION_V3_PARAMS
    stages = next(f for f in _frames(at) if "stage" in f.columns)
    assert stages["params A"].sum() == INCEPTION_V3_EXECUTED_PARAMS
    assert stages["params B"].sum() == RESNET50_PARAMS
    assert len(at.get("plotly_chart")) >= 1


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
    # the page stays usable: the tabs are there and fixing the input recovers
    assert [t.label for t in at.tabs][:2] == ["Overview", "Layers"]
    at.text_input(key="input").set_value("3x299x299").run()
    _clean(at)


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
