"""One stage model: the same stage numbers and text in the JSON, report.html (stage table
and graph legend), report.md, the charts and the graph, for every zoo model."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from archlens import api
from archlens.zoo import list_models


class _Cells(HTMLParser):
    """Text of every first-column cell of a table body, and of every legend row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in = False
        self._buf = ""

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._in, self._buf = True, ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._in:
            self.rows[-1].append(self._buf.strip())
            self._in = False

    def handle_data(self, data):
        if self._in:
            self._buf += data


def _md_first_column(text: str) -> list[str]:
    cells = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| -") and not line.startswith("| :"):
            first = re.split(r"(?<!\\)\|", line)[1].strip()
            cells.append(html.unescape(re.sub(r"\\(.)", r"\1", first)))
    return cells[1:]  # without the header


def _dot_texts(src: str) -> set[str]:
    return {html.unescape(t) for t in re.findall(r">([^<>]+)</TD>", src)}


@pytest.mark.parametrize("model", list_models())
def test_stage_text_is_the_same_everywhere(model):
    from archlens.render import charts as ch
    from archlens.render import graphviz as gv
    from archlens.render import html as H
    from archlens.render import markdown as M
    a = api.analyze(model, device="meta", checks=False)
    texts = [s.text for s in a.stages]
    labels = {s.label for s in a.stages}
    # contiguous numbers in depth order: S0 is the input, every spatial node has one
    assert [s.index for s in a.stages] == list(range(len(texts)))
    assert texts[0].startswith("S0: ")
    assert {n.stage for n in a.graph if n.is_spatial} == set(range(len(texts)))
    # JSON
    assert [s["text"] for s in a.to_dict()["stages"]] == texts
    # report.html: the stage table and the legend beside the graph
    p = _Cells()
    p.feed(H.stages_html(a))
    assert [r[0] for r in p.rows[1:] if not r[0].startswith("head")] == texts
    g = gv.build(a)
    legend = H.graph_legend(a, g.fills)
    for t in texts:
        assert html.escape(t) in legend
    # report.md
    assert [c for c in _md_first_column(M.stages_md(a)) if not c.startswith("head")] == texts
    # the graph: legend rows carry the text, node strips the numbers
    src = g.source
    assert set(texts) <= _dot_texts(src)
    badges = {int(b) for b in re.findall(r'<FONT POINT-SIZE="7">S(\d+)</FONT>', src)}
    assert badges == set(range(len(texts)))
    # charts: every stage name any chart prints is one of the labels
    named = set()
    for fig in ch.figures(a).values():
        for ann in fig.layout.annotations or ():
            if ann.text and re.match(r"S\d+ \d+x\d+$", ann.text):
                named.add(ann.text)
        for tr in fig.data:
            for lab in (getattr(tr, "labels", None) or ()):
                if re.match(r"S\d+ \d+x\d+$", str(lab)):
                    named.add(str(lab))
    assert named <= labels and (named or len(labels) <= 1)
