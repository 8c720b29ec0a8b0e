"""Every rule explains itself: its docstring is what the dashboard's Principles tab shows
(``**title.** `` + ``inspect.getdoc(rule.func)``, rendered as Markdown)."""
from __future__ import annotations

import inspect
import re

import pytest

from archlens import checks
from archlens.checks import RULES
from archlens.checks.config import DEFAULTS

KEYS = set(DEFAULTS.to_dict())


@pytest.mark.parametrize("code", list(RULES))
def test_rule_docstring_states_principle_measure_thresholds_and_fix(code):
    rule = RULES[code]
    doc = inspect.getdoc(rule.func)
    assert doc and rule.doc == doc
    paragraphs = doc.split("\n\n")
    assert len(paragraphs[0].split()) >= 6 and rule.summary == " ".join(paragraphs[0].split())
    family = "Guideline" if code.startswith("G") else "Principle"   # G: ShuffleNet V2's
    assert f"**{family} {code[1]}.**" in doc
    for section in ("**Measured**", "**Thresholds.**", "**Fix.**"):
        assert section in doc, (code, section)
    # every configuration key the text names exists, with the default the text states
    named = set(re.findall(r"`([a-z0-9-]+)`", doc))
    assert named <= KEYS, named - KEYS
    stated = re.findall(r"`([a-z0-9-]+)` \(([0-9.]+)( %)?", doc)
    for key, value, percent in stated:
        number = float(value) / (100 if percent else 1)
        assert number == pytest.approx(float(DEFAULTS.to_dict()[key])), (key, value)


@pytest.mark.parametrize("code", list(RULES))
def test_rule_docstring_renders_as_plain_markdown(code):
    """No stray markup: only paragraphs, bold, emphasis and code spans, and nothing that
    Streamlit's Markdown would read as LaTeX ($) or an emoji/icon shortcode (:name:)."""
    markdown_it = pytest.importorskip("markdown_it")
    rule = RULES[code]
    text = f"**{rule.title}.** " + rule.doc          # as apps/dashboard.py composes it
    html = markdown_it.MarkdownIt("commonmark").render(text)
    tags = set(re.findall(r"<([a-z0-9]+)[ >]", html))
    assert tags <= {"p", "strong", "em", "code"}, tags
    assert "$" not in text and not re.search(r":[a-z_]+:", text)
    assert "*" not in re.sub(r"<[^>]+>", "", html)   # every asterisk became emphasis markup


def test_registering_a_rule_without_docstring_is_refused():
    from archlens.checks._registry import rule
    with pytest.raises(ValueError, match="needs a docstring"):
        rule("P9.undocumented", "t")(lambda ctx, cfg: [])
    assert "P9.undocumented" not in checks.RULES
