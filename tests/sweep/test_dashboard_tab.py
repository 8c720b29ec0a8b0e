"""The dashboard's Sweep tab (apps/_dashboard_sweep.py) under Streamlit's AppTest, on a
finished sweep folder made without Ray; loading it runs no builder code."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from .conftest import finished_sweep

APPS = Path(__file__).resolve().parents[2] / "apps"


def _script(apps: str, root: str) -> None:
    import sys
    sys.path.insert(0, apps)
    import streamlit as st
    st.session_state.setdefault("sweep_root", root)
    from _dashboard_sweep import tab_sweep
    tab_sweep()


def test_sweep_tab_draws_a_finished_sweep(tmp_path, tiny_ref):
    finished_sweep(tmp_path / "tiny", {
        "name": "tiny", "builder": tiny_ref,
        "params": {"width": [4, 8, 16], "blocks": [1, 2], "kernel": [1, 3]},
        "measure": {"checks": True}})
    (tmp_path / "tiny" / "manifest.json").unlink()  # the tab needs the table, not the spec
    at = AppTest.from_function(_script, args=(str(APPS), str(tmp_path)), default_timeout=120)
    at.run()
    assert not at.exception
    assert "12 variants: 12 ok" in at.markdown[0].value
    charts = at.get("plotly_chart")
    assert len(charts) >= 4  # two fronts, two EDFs, the plane, findings
    assert len(at.dataframe) == 1


def test_sweep_tab_without_sweeps_says_how(tmp_path):
    at = AppTest.from_function(_script, args=(str(APPS), str(tmp_path)), default_timeout=60)
    at.run()
    assert not at.exception and "archlens sweep examples/sweeps/small.toml" in at.info[0].value
