"""The dashboard's Profile tab file renders a profile (streamlit AppTest, no browser)."""
from __future__ import annotations

from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"
FIX = Path(__file__).parent / "fixtures" / "models.py"

SCRIPT = '''
import sys
sys.path.insert(0, {apps!r})
from archlens import api
from archlens.profile import Profile
import _dashboard_profile as tab

a = api.analyze({ref!r}, checks=False)
tab.show_profile(a, Profile.from_json({doc!r}))
'''


def test_tab_renders_a_profile_with_metrics_table_charts_and_guidelines():
    testing = pytest.importorskip("streamlit.testing.v1")
    import archlens
    from archlens.profile.roofline import Roofline
    p = archlens.profile(f"{FIX}:Mixed", warmup=1, repeats=3,
                         roofline=Roofline(peak_macs_per_s=1e10, bandwidth_bytes_per_s=1e10))
    at = testing.AppTest.from_string(
        SCRIPT.format(apps=str(APPS), ref=f"{FIX}:Mixed", doc=p.to_json(indent=None)),
        default_timeout=60)
    at.run()
    assert not at.exception
    assert [m.label for m in at.metric] == ["whole model (median)", "sum of layer medians",
                                            "peak (measured)", "bandwidth (measured)"]
    assert at.metric[0].value == f"{p.whole_median_s * 1e3:.2f} ms"
    assert at.dataframe[0].value.shape[0] == len(p.layers)
    assert any("Guidelines on measured times" in s.value for s in at.subheader)
