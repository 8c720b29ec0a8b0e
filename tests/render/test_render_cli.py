"""`archlens graph`, `archlens report`, `archlens compare` end to end on a small zoo model."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from archlens.cli import main
from archlens.render import graphviz as gv

MODEL = "lenet5"


@pytest.mark.skipif(gv.dot_binary() is None, reason="graphviz 'dot' not installed")
def test_graph_command_writes_svg(tmp_path, capsys):
    out = tmp_path / "g.svg"
    assert main(["graph", MODEL, "--depth", "1", "-o", str(out)]) == 0
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    assert "wrote" in capsys.readouterr().err


def test_graph_command_rejects_unknown_extension(tmp_path, capsys):
    assert main(["graph", MODEL, "-o", str(tmp_path / "g.jpeg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("archlens: error:") and ".svg" in err and "\n" not in err


def test_report_and_compare_commands(tmp_path, capsys):
    rep = tmp_path / "rep"
    assert main(["report", MODEL, "--out", str(rep), "--no-png"]) == 0
    doc = json.loads((rep / "analysis.json").read_text())
    assert doc["schema"] == "archlens.analysis/1.1" and doc["model"] == MODEL
    out = capsys.readouterr().out
    assert "report.html, report.md, graph.svg" in out and "charts/: 5 .html" in out
    cmp_ = tmp_path / "cmp"
    assert main(["compare", MODEL, MODEL, "--out", str(cmp_), "--no-png"]) == 0
    data = json.loads((cmp_ / "compare.json").read_text())
    assert all(r["a"] == r["b"] for r in data["totals"])


def test_report_to_unwritable_place_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", MODEL, "--out", str(blocker / "r"), "--no-png"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("archlens: error: cannot write the report") and "\n" not in err


@pytest.mark.skipif(gv.dot_binary() is None, reason="graphviz 'dot' not installed")
def test_graph_command_draws_one_module(tmp_path, capsys):
    out = tmp_path / "c3.svg"
    assert main(["graph", MODEL, "--module", "c3", "-o", str(out)]) == 0
    tips = [a.get("{http://www.w3.org/1999/xlink}title", "")
            for a in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}a")]
    assert any(t.startswith("c3") for t in tips) and not any(t.startswith("f6") for t in tips)
    capsys.readouterr()
    assert main(["graph", MODEL, "--module", "nope", "-o", str(tmp_path / "n.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("archlens: error:") and "no module 'nope'" in err and "\n" not in err
