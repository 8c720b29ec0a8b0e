"""Findings renderers: exact text at a fixed console width, and Markdown structure."""
from __future__ import annotations

from rich.console import Console

from archlens.analysis import Finding
from archlens.checks import summarize
from archlens.render.findings import findings_markdown, findings_renderable, summary_lines

F1 = Finding(code="P3.no-reduction", severity="warning", layers=("conv",),
             message="5x5 conv 192->32 at 28x28 has no 1x1 reduction",
             evidence="120,422,400 MACs", fix="insert a 1x1 conv 192->16",
             saving={"macs": 107_978_752, "params": 137_728},
             data={"per_layer": {"conv": {"macs": 107_978_752, "params": 137_728}}})
F2 = Finding(code="P1.grid-reduction", severity="error", layers=("pool",),
             message="35x35x288 -> 17x17x288 by max-pool", evidence="4.24x drop")


def test_rich_text_exact_at_fixed_width():
    console = Console(width=80, record=True, color_system=None)
    console.print(findings_renderable([F2, F1], summarize([F2, F1]), title="t"))
    lines = [ln.rstrip() for ln in console.export_text().splitlines()]
    assert lines[0] == "t"
    assert lines[1].startswith("Principle 1: avoid representational bottlenecks")
    assert lines[2] == "ERROR P1.grid-reduction  pool"
    assert lines[3] == "  35x35x288 -> 17x17x288 by max-pool"
    assert lines[4] == "  evidence: 4.24x drop"
    assert lines[6] == "WARN  P3.no-reduction  conv"
    assert "  saving: 107,978,752 MACs (108 M), 137,728 params" in lines
    assert "2 findings: 1 error, 1 warning, 0 info" in lines


def test_markdown_groups_by_principle_and_labels_units():
    md = findings_markdown([F2, F1], summarize([F2, F1]))
    assert md.index("### Principle 1") < md.index("### Principle 3")
    assert "- **error** `P1.grid-reduction` — 35x35x288 -&gt; 17x17x288 by max-pool" in md
    assert "  - saving: 107,978,752 MACs (108 M), 137,728 params" in md
    assert findings_markdown([], None).endswith("No findings: the design checks found "
                                                "nothing to flag.\n")


def test_summary_reports_factorization_total_and_reference_difference():
    s = {"findings": 1, "counts": {"error": 0, "warning": 1, "info": 0},
         "saving": {"macs": 10, "params": 2}, "total_macs": 100,
         "factorization": {"findings": 1, "macs": 10, "params": 2},
         "reference": {"model": "base", "macs": 90, "mac_difference": 10}}
    lines = summary_lines(s)
    assert "factorization findings (P3.factorize-*): 1, total saving 10 MACs, 2 params" in lines
    assert "MAC difference to base: 10 MACs (100 - 90 MACs)" in lines


# ---------------------------------------------------------------------------------------
# hostile layer names: the Markdown must render to text, never to markup
# ---------------------------------------------------------------------------------------

EVIL = "<img src=x onerror=alert(1)>"
EVIL_LINK = "a`b](javascript:alert(1)) **x** [c"


def _render(md: str) -> str:
    """Markdown -> HTML as GitHub would (raw HTML allowed), with markdown-it-py if installed;
    else None and the caller checks the escaped source instead."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # pragma: no cover - markdown-it-py is a test dependency here
        return None
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(md)


def _tags(html_text: str) -> list[tuple[str, dict]]:
    from html.parser import HTMLParser

    class P(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.tags, self.text = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

        def handle_data(self, data):
            self.text.append(data)
    p = P()
    p.feed(html_text)
    p.close()
    return p.tags, "".join(p.text)


def _evil_analysis():
    """A real model whose module names are markup, through the real pipeline: its head holds
    most parameters (P4.param-concentration names the largest head layer in its evidence)."""
    import torch.nn as nn

    import archlens

    class Evil(nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module(EVIL, nn.Conv2d(3, 8, 3, padding=1))
            self.pool = nn.MaxPool2d(2)
            self.add_module(EVIL_LINK, nn.Linear(8 * 16 * 16, 64))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):                     # N x 3 x 32 x 32
            x = self.pool(getattr(self, EVIL)(x))  # N x 8 x 16 x 16
            x = getattr(self, EVIL_LINK)(x.flatten(1))  # N x 64
            return self.fc(x)                      # N x 10
    return archlens.analyze(Evil(), (3, 32, 32))


def test_hostile_layer_names_do_not_inject_markup_through_the_real_pipeline():
    a = _evil_analysis()
    names = {nd.name for nd in a.graph.nodes}
    assert EVIL in names and EVIL_LINK in names
    hit = [f for f in a.findings if EVIL_LINK in f.layers]
    assert hit and any(EVIL_LINK in f.evidence for f in hit)   # a name inside the text
    md = findings_markdown(a.findings, summarize(a.findings, a), title=f"check {EVIL}")
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    html_text = _render(md)
    if html_text is None:  # pragma: no cover
        assert "](javascript" not in md.replace("\\]", "")
        return
    tags, text = _tags(html_text)
    assert not [t for t, _ in tags if t in ("img", "a", "script", "em")]
    assert [t for t, _ in tags].count("strong") == len(a.findings)   # severities only
    assert not [(t, k) for t, attrs in tags for k in attrs if k.lower().startswith("on")]
    # the names come back as text, character for character
    assert f"check {EVIL}" in text
    assert EVIL_LINK in text


def test_hand_built_finding_with_every_special_character_renders_literally():
    name = "x|y`z\\n*_[]~<b>&amp;"
    f = Finding(code="P9.test", severity="warning", layers=(name, "``", " lead"),
                message=f"layer {name}\nline two _u_ Mixed_5b", evidence=f"{name} | cell",
                fix=f"rename {name}\r\nnow")
    md = findings_markdown([f], None)
    # one list item: no line break survives inside a field
    assert [ln for ln in md.splitlines() if ln.startswith("- ")] == [md.splitlines()[4]]
    html_text = _render(md)
    if html_text is None:  # pragma: no cover
        return
    tags, text = _tags(html_text)
    assert [t for t, _ in tags if t not in ("h2", "h3", "ul", "li", "strong", "code", "p")] \
        == []
    codes = [t for t, _ in tags if t == "code"]
    assert len(codes) == 4                        # the rule code and the three layer names
    assert "Mixed_5b" in md                       # intraword _ needs no escape
    for piece in (f"layer {name} line two _u_ Mixed_5b", f"{name} \\| cell".replace("\\|", "|"),
                  f"rename {name} now", "``", " lead"):
        assert piece in text, piece
