"""The report folder: parsed HTML/Markdown, escaping, atomic writes, the console summary."""
from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from archlens.errors import OutputError
from archlens.render import report

from .render_builder import toy_net

EVIL = "<img src=x onerror=alert(1)>"


class Tags(HTMLParser):
    """Every start tag with its attributes, script bodies and text, as a browser tokenises."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def parse_html(text: str) -> Tags:
    p = Tags()
    p.feed(text)
    p.close()
    return p


def assert_no_injection(p: Tags) -> None:
    assert not [t for t, _ in p.tags if t == "img"]
    handlers = [(t, k) for t, a in p.tags for k in a if k.lower().startswith("on")]
    assert handlers == []


@pytest.fixture(scope="module")
def evil_report(tmp_path_factory) -> tuple[Path, object]:
    a = toy_net("evil", evil=EVIL)
    out = tmp_path_factory.mktemp("rep") / "evil"
    report.write_report(a, out, png=False, console=False)
    return out, a


def test_report_folder_contents(evil_report):
    out, a = evil_report
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    # three block pictures: "blocks" (blocks.1 and .2), the renamed first block, "head"
    blocks = [f"graph_block_{i}.svg" for i in (1, 2, 3)]
    assert names == sorted(["report.html", "report.md", "graph.svg", "graph_overview.svg",
                            "analysis.json", ".archlens-report"]  # the ownership marker (archlens.outputs)
                           + blocks + [f"charts/{c}.html" for c in report_charts()])
    assert json.loads((out / "analysis.json").read_text()) == json.loads(
        json.dumps(a.to_dict()))
    assert not list(out.parent.glob(".evil.*"))  # no temporary folders left


def report_charts():
    from archlens.render.charts import CHARTS
    return list(CHARTS)


def test_html_is_self_contained_and_escaped(evil_report):
    out, a = evil_report
    p = parse_html((out / "report.html").read_text())
    assert_no_injection(p)
    big = [s for s in p.scripts if len(s) > 1_000_000]
    assert len(big) == 1 and "plotly" in big[0][:2000].lower()    # plotly.js inlined once
    assert not [a_ for t, a_ in p.tags if t == "script" and a_.get("src")]  # nothing fetched
    charts = [a_ for t, a_ in p.tags if t == "div" and (a_.get("class") or "") ==
              "plotly-graph-div"]
    assert len(charts) == len(report_charts())
    # the graph SVG is inlined: its nodes are elements of this document
    nodes = [a_ for t, a_ in p.tags if t == "g" and a_.get("class") == "node"
             and (a_.get("id") or "").startswith("gn")]
    assert len(nodes) > 10
    # layer table: one row per layer, names as text
    rows = [1 for t, a_ in p.tags if t == "tr"]
    assert len(rows) >= len(a.graph.layers) + 1
    text = "".join(p.text)
    assert f"{EVIL}.branch1x1.conv" in text
    for s in p.scripts:   # chart data cannot close the script element
        assert "</script" not in s.lower() and "<img" not in s.lower()


def test_markdown_is_escaped(evil_report):
    from markdown_it import MarkdownIt
    out, _ = evil_report
    md = (out / "report.md").read_text()
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    p = parse_html(html)
    imgs = [a for t, a in p.tags if t == "img"]
    assert [a["src"] for a in imgs] == ["graph_overview.svg"] + [   # --no-png: the graphs
        f"graph_block_{i}.svg" for i in (1, 2, 3)]
    assert imgs[2]["alt"] == f"{EVIL}, every layer"     # the hostile name is text
    assert "Every layer: `graph.svg`" in md   # named, not a link: no <a> in the report
    assert not [(t, k) for t, a in p.tags for k in a if k.lower().startswith("on")]
    tables = [t for t, _ in p.tags if t == "table"]
    assert len(tables) == 3                             # summary + stages + findings


def test_graph_svg_is_escaped(evil_report):
    import xml.etree.ElementTree as ET
    out, _ = evil_report
    root = ET.parse(out / "graph.svg").getroot()
    assert "img" not in {el.tag.split("}")[-1] for el in root.iter()}


def test_failed_run_keeps_previous_report(tmp_path, monkeypatch):
    out = tmp_path / "r"
    report.write_report(toy_net(), out, png=False, console=False)  # the previous report
    (out / "marker").write_text("previous")
    from archlens.render import charts

    def boom(a):
        raise RuntimeError("chart failure")

    monkeypatch.setattr(charts, "figures", boom)
    with pytest.raises(RuntimeError):
        report.write_report(toy_net(), out, png=False, console=False)
    assert (out / "marker").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    monkeypatch.undo()
    report.write_report(toy_net(), out, png=False, console=False)
    assert not (out / "marker").exists() and (out / "report.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_unwritable_destination_is_one_line_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError) as e:
        report.write_report(toy_net(), blocker / "sub", png=False, console=False)
    assert "\n" not in str(e.value) and "--out" in str(e.value)


def test_console_summary_exact():
    from rich.console import Console
    a = toy_net()
    info = report.ReportInfo(out=Path("reports/toy"), files=["report.html", "report.md",
                                                              "graph.svg", "analysis.json",
                                                              "charts/a.html", "charts/b.html",
                                                              "charts/a.png"],
                             graph_nodes=22, graph_depth=None, graph_columns=1,
                             graph_aspect=1.5, notes=["identical blocks drawn once: x"])
    con = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    con.print(report.summary(a, info))
    # params: stem 864 + 64, blocks 3 x 2,864, head 9,184, fc 650 = 19,354 (by hand)
    # MACs: stem 221,184 + BN 8,192; blocks 3 x 718,848; head 4 x 32,768 + 3 x 147,456 +
    # BN 7,168; fc 640 = 2,967,168. Feature RF 3 + 3 x 8 + 2 + 16 + 28 = 73 px, stride 32.
    assert con.export_text() == (
        "╭─ archlens report: toy ─────────────────────────────────────────╮\n"
        "│ parameters  19.4 K (19,354)                                    │\n"
        "│ MACs        2.97 M MACs (2,967,168); conv + linear 2.91 M MACs │\n"
        "│ feature RF  73 px, stride 32 px                                │\n"
        "│ findings    2 (0 error, 1 warning, 1 info)                     │\n"
        "│ graph       22 nodes, depth full, 1 column, height/width 1.50  │\n"
        "│                                                                │\n"
        "│ folder      reports/toy/                                       │\n"
        "│ wrote       report.html, report.md, graph.svg, analysis.json   │\n"
        "│             charts/: 2 .html, 1 .png                           │\n"
        "│ note: identical blocks drawn once: x                           │\n"
        "╰────────────────────────────────────────────────────────────────╯\n")


def test_compare_report(tmp_path):
    from archlens import api
    a, b = toy_net("a"), toy_net("b", blocks=1, findings=False)
    out = api.compare(a, b, tmp_path / "cmp", png=False, console=False)
    data = json.loads((out / "compare.json").read_text())
    totals = {r["quantity"]: (r["a"], r["b"]) for r in data["totals"]}
    blk_params = 256 * 4 + 576 * 3 + 16 * 7   # one block by hand
    assert totals["parameters"][0] - totals["parameters"][1] == 2 * blk_params
    assert [f["code"] for f in data["findings"]["only_a"]] == ["P1.bottleneck",
                                                               "P3.factorize-3x3"]
    assert data["findings"]["only_b"] == []
    # blocks.1 and blocks.2 exist only in A: their layer units are "removed"
    removed = {c["name"].split(".")[1] for c in data["changes"] if c["status"] == "removed"}
    assert removed == {"1", "2"} and data["counts"]["changed"] == data["counts"]["added"] == 0
    p = parse_html((out / "report.html").read_text())
    assert_no_injection(p)
    assert len([s for s in p.scripts if len(s) > 1_000_000]) == 1


def test_repr_html():
    a = toy_net(evil=EVIL)
    if not hasattr(a, "_repr_html_"):
        pytest.skip("Analysis._repr_html_ not wired")
    p = parse_html(a._repr_html_())
    assert_no_injection(p)
    assert "19.4 K" in "".join(p.text)


def test_md_assets_prefixes_every_picture(tmp_path):
    from archlens import api
    out = api.report(toy_net(), tmp_path / "r", png=False, console=False,
                     md_assets="https://ci.example/run/7/")
    md = (out / "report.md").read_text()
    assert "](https://ci.example/run/7/graph_overview.svg)" in md
    assert "](https://ci.example/run/7/graph.svg)" in md
    assert "](graph" not in md


@pytest.mark.parametrize("device,expect", [
    ("meta", "traced on the meta device (shapes only, no values: the numbers of a CPU pass)"),
    ("cpu", "counted on cpu")])
def test_header_says_where_the_pass_ran(device, expect):
    import dataclasses

    from archlens.render import html as H
    a = dataclasses.replace(toy_net(), device=device)
    assert expect in H.meta_line(a)


def test_report_survives_a_graph_layout_that_never_finishes(tmp_path, monkeypatch):
    """dot past its limit at every depth: the report is still written, with graph.dot and a
    note, instead of failing (densenet161 under load failed whole before)."""
    from archlens.render import graphviz as gv

    def never(source, fmt_="svg", timeout=60.0):
        raise gv.LayoutTimeout("graphviz layout took longer than 60 s; draw fewer layers")

    monkeypatch.setattr(gv, "layout", never)
    monkeypatch.setattr(gv, "dot_binary", lambda: "/usr/bin/dot")
    info = report.ReportInfo(out=tmp_path / "r")
    out = report.write_report(toy_net(), tmp_path / "r", png=False, console=False, info=info)
    files = {p.name for p in Path(out).iterdir()}
    assert {"report.html", "report.md", "analysis.json", "graph.dot"} <= files
    assert "graph.svg" not in files
    assert any("even at depth 1: wrote graph.dot" in n for n in info.notes), info.notes
