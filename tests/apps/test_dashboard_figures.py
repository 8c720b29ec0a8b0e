"""The dashboard's cached figures: the selection marker drawn on a cached figure dict is the
one plotly's own ``Figure.add_vline`` draws (on every subplot), and neither the marker nor
the wrapping for ``st.plotly_chart`` changes the cached dict (it is shared between sessions).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
go = pytest.importorskip("plotly.graph_objects")
from plotly.subplots import make_subplots  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apps"))
import _dashboard_data as data  # noqa: E402


def _two_rows():
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4])
    fig.add_trace(go.Bar(x=[0, 1, 2], y=[3, 1, 2]), row=1, col=1)
    fig.add_trace(go.Bar(x=[0, 1, 2], y=[1, 1, 1]), row=2, col=1)
    fig.add_vline(x=0.5, line=dict(color="#b0bec5", dash="dot"))  # a line already there
    return fig


def _dump(d) -> str:
    return json.dumps(d, sort_keys=True, default=str)


@pytest.mark.parametrize("build", [_two_rows, lambda: go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))])
def test_marker_is_plotly_add_vline_on_every_subplot(build):
    spec = build().to_dict()
    before = _dump(spec)
    marked = data.with_marker(spec, 1)
    assert _dump(spec) == before  # the cached dict is untouched
    ref = build()
    ref.add_vline(x=1, line=dict(color=data.SELECTED_COLOUR, width=2, dash="dash"))
    ours = [(s["xref"], s["yref"], s["x0"], s["x1"], s["y0"], s["y1"])
            for s in marked["layout"]["shapes"] if s["line"]["color"] == data.SELECTED_COLOUR]
    theirs = [(s.xref, s.yref, s.x0, s.x1, s.y0, s.y1) for s in ref.layout.shapes
              if s.line.color == data.SELECTED_COLOUR]
    assert ours == theirs and ours
    # the earlier shapes are kept, and one label names the marker
    assert len(marked["layout"]["shapes"]) == len(spec["layout"].get("shapes", ())) + len(ours)
    assert [a["text"] for a in marked["layout"]["annotations"]][-1] == "selected"


def test_figure_wrapper_serialises_like_a_validated_figure_and_leaves_the_dict():
    spec = data.with_marker(_two_rows().to_dict(), 2)
    before = _dump(spec)
    fast = data.figure(spec)
    assert json.loads(fast.to_json()) == json.loads(go.Figure(spec).to_json())
    assert _dump(spec) == before
