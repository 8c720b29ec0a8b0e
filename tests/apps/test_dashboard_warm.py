"""The server's warm-up leaves nothing for the first visitor to import (docs/dashboard.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

APP = Path(__file__).resolve().parents[2] / "apps" / "dashboard.py"

PROBE = f"""
import json, sys
from archlens.cli.dashboard_cmd import _warm
_warm({str(APP)!r})
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(APP)!r}, default_timeout=120)
before = set(sys.modules)
at.run()
new = sorted(set(sys.modules) - before)
print(json.dumps({{"exceptions": len(at.exception), "new": new}}))
"""

# imported by AppTest itself (its runner and its component discovery), not by a real session
APPTEST_OWN = ("streamlit.testing", "streamlit.components.v2.manifest_scanner",
               "packaging._elffile", "packaging._manylinux", "packaging._musllinux",
               "packaging.utils", "pyarrow.vendored")


def test_first_script_run_after_the_warm_up_imports_nothing_of_its_own():
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["exceptions"] == 0
    left = [m for m in out["new"] if not m.startswith(APPTEST_OWN)]
    assert left == [], f"the first visitor still imports {left}: add them to PREIMPORT"
