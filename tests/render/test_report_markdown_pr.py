"""report.md for pull requests: pictures inlined (--md-inline) or under a URL (--md-assets),
and a compact findings table."""
from __future__ import annotations

import base64
import html
import re

import pytest

from archlens.analysis import Finding
from archlens.render import markdown as M

from .render_builder import toy_net

LONG = ("3x3 conv 192->192 at 17x17: factorize into 1x3 + 3x1 with intermediate width 192 "
        "because the asymmetric pair costs two thirds of the square kernel on a grid this "
        "size (Principle 3: spatial aggregation can be done over lower-dimensional embeddings)")


def _cells(md_text: str) -> list[list[str]]:
    rows = []
    for line in md_text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [html.unescape(re.sub(r"\\(.)", r"\1", c.strip()))
                     for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.append(cells)
    return rows[1:]


def test_findings_table_is_one_short_row_per_distinct_finding():
    fs = tuple(Finding("P3.factorize-3x3", "info", (f"Mixed_6{c}.conv",), LONG, "evidence",
                       fix="replace by 1x3 192->192 then 3x1 192->192 (same output grid 17x17): "
                           "saves 33 % of the layer's MACs and parameters, by the paper",
                       saving={"macs": 1000, "params": 10}) for c in "bcd")
    fs += (Finding("P1.bottleneck", "warning", ("reduce",), "drop", "ev", fix="widen"),)
    rows = _cells(M.findings_table(fs, 10_000))
    assert len(rows) == 2                                      # the three P3s are one row
    assert rows[0][:3] == ["warning", "P1.bottleneck", "reduce"]
    p3 = rows[1]
    assert p3[2].startswith("x3: Mixed_6b")
    assert len(p3[3]) <= M.FINDING_CHARS and p3[3].endswith("...") and "Principle" not in p3[3]
    assert len(p3[4]) <= M.FIX_CHARS and p3[4].endswith("...")
    assert p3[5] == "saves 1.00 K MACs (10.0 %), 10 params each"


def test_short_keeps_short_text_whole():
    assert M.short("drop 4x (Principle 1: avoid bottlenecks)", 80) == "drop 4x"
    assert M.short("a b c", 80) == "a b c"


def _data_pictures(md_text: str) -> list[tuple[str, bytes]]:
    out = []
    for mime, b64 in re.findall(r"\]\(data:([a-z/+]+);base64,([A-Za-z0-9+/=]+)\)", md_text):
        out.append((mime, base64.b64decode(b64)))
    return out


def test_md_inline_puts_every_picture_inside_the_file(tmp_path):
    from archlens import api
    from archlens.render import graphviz as gv
    if gv.dot_binary() is None:
        pytest.skip("graphviz dot not installed")
    out = api.report(toy_net(), tmp_path / "r", png=False, console=False, md_inline=True)
    md = (out / "report.md").read_text()
    pics = _data_pictures(md)
    assert pics and all(m == "image/svg+xml" for m, _ in pics)
    assert pics[0][1] == (out / "graph_overview.svg").read_bytes()   # the file's own bytes
    # no picture left pointing at a file
    assert not re.findall(r"!\[[^\]]*\]\((?!data:)", md)


def test_md_inline_and_md_assets_exclude_each_other(tmp_path):
    from archlens import api
    from archlens.errors import ConfigError
    with pytest.raises(ConfigError, match="exclude each other"):
        api.report(toy_net(), tmp_path / "r", png=False, console=False, md_inline=True,
                   md_assets="https://x/")


def test_cli_refuses_both_md_options(capsys):
    from archlens.cli import main
    rc = main(["report", "toy", "--md-inline", "--md-assets", "https://x/"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "not allowed with argument" in err
