"""archlens.sanitize: every hostile name is inert in its sink, checked by that sink's own parser
(rich's renderer, html.parser / an XML parser, graphviz ``dot``, a CommonMark+GFM parser)."""
from __future__ import annotations

import html.parser
import io
import shutil
import subprocess
import unicodedata
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.console import Console
from rich.table import Table

from archlens import sanitize as S
from tests.hardening.hostile import HOSTILE

NAMES = list(HOSTILE.values())
IDS = list(HOSTILE)
# Text mixing every kind of hostile character, for the property tests.
HOSTILE_TEXT = st.text(alphabet=st.sampled_from(
    list("ab_1.[]/\\`*|<>&\"'()!#~:{}- \n\r\t\x1b\x00\x07\x9b\u202e\udcff\u2028")),
    max_size=40).map(lambda s: s.replace("a", "[/bold]").replace("b", "[link]"))


def _no_controls(s: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cs") or c in "\u202e\u2028" for c in s)


def _rich_plain(markup: str) -> str:
    buf = io.StringIO()
    Console(file=buf, width=500, color_system=None, emoji=False).print(
        markup, soft_wrap=True, highlight=False, end="")
    return buf.getvalue()


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_visible_has_no_control_characters_and_is_idempotent_on_clean_text(name):
    v = S.visible(name)
    assert _no_controls(v)
    assert v.encode("utf-8").decode("utf-8") == v  # no lone surrogates: any UTF-8 writer takes it
    assert S.visible(v) == v


def test_visible_spells_controls_like_python_escapes():
    assert S.visible("\x1b]0;t\x07") == "\\x1b]0;t\\x07"
    assert S.visible("a\nb\tc\r") == "a\\nb\\tc\\r"
    assert S.visible("\x9b\u202e\udcff\x00") == "\\x9b\\u202e\\udcff\\x00"
    assert S.visible("Mixed_5b.branch3x3") == "Mixed_5b.branch3x3"
    assert S.visible("C:\\x") == "C:\\x"  # the user's backslashes are kept


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_terminal_markup_prints_the_visible_text_exactly(name):
    # rich interprets markup; what reaches the terminal is the name with controls visible,
    # nothing lost ([link] stays), no crash ([/bold]), no escape byte.
    out = _rich_plain(f"[bold]{S.for_terminal(name)}[/bold] [dim]{S.for_terminal(name)}[/]")
    assert out == f"{S.visible(name)} {S.visible(name)}"
    assert "\x1b" not in out


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_terminal_table_cell_and_title(name):
    t = Table(title=S.for_terminal(name))
    t.add_column(S.for_terminal(name))
    t.add_row(S.for_terminal(name))
    buf = io.StringIO()
    Console(file=buf, width=2000, color_system=None, emoji=False).print(t)
    out = buf.getvalue()
    assert out.count(S.visible(name)) >= 3 if S.visible(name).strip() else True
    assert "\x1b" not in out


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_html_text_and_attributes_stay_text(name):
    for quote in ('"', "'"):
        doc = f"<p title={quote}{S.for_html(name)}{quote}>{S.for_html(name)}</p>"
        p = _Collect()
        p.feed(doc)
        p.close()
        assert p.tags == ["p"]
        assert p.attrs == [{"title": S.visible(name)}]
        assert "".join(p.text) == S.visible(name)


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_svg_is_well_formed_xml(name):
    doc = f'<svg xmlns="http://www.w3.org/2000/svg"><title>{S.for_html(name)}</title>' \
          f'<g id="{S.for_html(name)}"/></svg>'
    root = ET.fromstring(doc.encode("utf-8"))
    assert root[0].text in (S.visible(name), None if not name else "")
    assert root[1].get("id") == S.visible(name)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz dot not installed")
def test_dot_accepts_every_hostile_name_in_labels_and_strings():
    lines = ["digraph G {"]
    for i, name in enumerate(NAMES):
        lines.append(f'  n{i} [id="{S.for_dot_string(name)}", tooltip="{S.for_dot_string(name)}"'
                     f', label=<<b>{S.for_dot(name)}</b>>];')
    lines.append("}")
    r = subprocess.run(["dot", "-Tsvg"], input="\n".join(lines).encode("utf-8"),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    root = ET.fromstring(r.stdout)  # the SVG dot wrote is valid XML
    ns = {"s": "http://www.w3.org/2000/svg"}
    texts = {"".join(t.itertext()) for t in root.iterfind(".//s:text", ns)}
    ids = {g.get("id") for g in root.iterfind(".//s:g", ns)}
    for name in NAMES:
        v = S.visible(name)
        if v.strip():
            assert v.strip() in {t.strip() for t in texts}, v
            assert v in ids, v


def _md_visible(s: str) -> str:  # what a Markdown reader sees: breaks folded, controls shown
    return S.visible(S.fold_lines(s))


def _md():
    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


class _Tree(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _render(md_src: str) -> _Tree:
    t = _Tree()
    t.feed(_md().render(md_src))
    t.close()
    return t


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_markdown_text_renders_as_plain_text(name):
    t = _render(f"- item {S.for_markdown(name)} end")
    assert t.tags == ["ul", "li"]
    assert "".join(t.text).strip() == f"item {_md_visible(name)} end".strip()


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_markdown_table_cells_stay_one_cell(name):
    src = (f"| a | b |\n| --- | --- |\n| {S.for_markdown(name)} | "
           f"{S.for_markdown_code(name, in_table=True)} |\n")
    t = _render(src)
    assert t.tags.count("td") == 2, src
    assert set(t.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "code"}
    assert t.tags.count("code") == 1


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_markdown_code_span_shows_the_name_verbatim(name):
    html_out = _md().render(f"x {S.for_markdown_code(name)} y")
    t = _Tree()
    t.feed(html_out)
    t.close()
    assert t.tags == ["p", "code"]
    assert "".join(t.text) == f"x {_md_visible(name) or ' '} y\n"


@settings(max_examples=150, deadline=None)
@given(HOSTILE_TEXT)
def test_property_every_sink(s):
    v = S.visible(s)
    assert _no_controls(v)
    assert _rich_plain(f"[b]{S.for_terminal(s)}[/b]") == v
    p = _Collect()
    p.feed(f'<p title="{S.for_html(s)}">{S.for_html(s)}</p>')
    p.close()
    assert p.tags == ["p"] and p.attrs == [{"title": v}] and "".join(p.text) == v
    t = _render(f"- {S.for_markdown(s)}")  # at the start of a list item: no block structure
    assert t.tags == ["ul", "li"]
    assert "".join(t.text).strip() == _md_visible(s).strip()
