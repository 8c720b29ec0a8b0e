"""Model-supplied text made safe for the sink it goes to. One function per sink.

Module paths, op types, file names and model references come from the user's code and can
hold anything: ANSI/OSC escapes (``\\x1b]0;title\\x07`` retitles a terminal), rich markup
(``[/bold]`` crashes a rich print, ``[link]`` vanishes), HTML (``<img onerror=...>``),
Markdown (backticks, ``](javascript:...)``, ``|`` in table cells), NUL and other control
characters that make ``dot`` fail or an SVG invalid XML, lone surrogates from undecodable
file names that make every UTF-8 write fail. Every renderer passes such text through the
function for its sink, and only through it:

    visible(s)          control characters shown as ``\\x1b``-style text; for plain
                        terminal output (error lines, progress printed without markup)
    for_terminal(s)     visible(s), then rich markup escaped: for rich ``print``/``Table``
    for_html(s)         visible(s), then HTML-escaped, quotes too: text and attribute
                        values in HTML and SVG (XML 1.0 forbids most C0 characters)
    for_dot(s)          the same for graphviz HTML-like labels (``label=<...>``)
    for_dot_string(s)   the inside of a DOT double-quoted string (tooltips, ids): visible,
                        backslashes and quotes escaped, so ``dot`` never fails
    for_markdown(s)     Markdown text and table cells: nothing can open emphasis, code,
                        a link, an image, a heading, an HTML tag or a new table cell
                        (line breaks fold to a space, as Markdown itself would show them)
    for_markdown_code(s, in_table=False)
                        a complete code span (fences included) showing ``s`` verbatim

JSON gets the text as is: :mod:`json` escapes what JSON needs, and a document must keep the
real names. What counts as a control character: Unicode categories Cc (C0, DEL, C1) and Cs
(lone surrogates), the line/paragraph separators U+2028/U+2029 and the bidirectional
overrides/isolates that reorder displayed text ("Trojan Source": U+061C, U+200E/F,
U+202A-E, U+2066-9). Other format characters (zero-width joiners in emoji) are kept.
Backslashes already in the text are kept as they are (paths stay readable).
"""
from __future__ import annotations

import html
import re
import unicodedata

from rich.markup import escape as _rich_escape

__all__ = ["visible", "fold_lines", "for_terminal", "for_html", "for_dot", "for_dot_string",
           "for_markdown", "for_markdown_code"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                  "\u2066\u2067\u2068\u2069\u2028\u2029")


def _is_control(ch: str) -> bool:
    return ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs")


def _show(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


# Fast path: most names are plain ASCII without controls.
_CONTROL_OR_NON_ASCII = re.compile(r"[\x00-\x1f\x7f-\U0010ffff]")


def visible(text: object) -> str:
    """``text`` with every control character replaced by its escape written out as text
    (``\\x1b``, ``\\n``, ``\\u202e``, ``\\udcff``), so it cannot act on a terminal or a parser."""
    s = str(text)
    if not _CONTROL_OR_NON_ASCII.search(s):
        return s
    return "".join(_show(c) if _is_control(c) else c for c in s)


def for_terminal(text: object) -> str:
    """For rich output that interprets markup (``console.print``, ``Table`` cells, panel
    titles): control characters visible and every ``[tag]`` escaped, so ``[/bold]`` prints
    as ``[/bold]`` and ``[link]`` text stays. Trailing backslashes are doubled so they
    cannot escape markup that follows them; printed with nothing after them, they show
    doubled."""
    s = visible(text)
    # Backslashes at the end would escape (an odd count) or eat half of themselves before
    # (any count) a tag that follows: double them all, as rich does for a single one.
    s += "\\" * (len(s) - len(s.rstrip("\\")))
    s = _rich_escape(s)
    # rich also turns a backslash before a '[' that opens no tag into nothing ("a\\[" would
    # print "a["): give each such '[' one more backslash, which rich removes again.
    return _BACKSLASH_BRACKET.sub(
        lambda m: m.group(0) if _RICH_TAG.match(s, m.end() - 1) else "\\" + m.group(0), s)


_BACKSLASH_BRACKET = re.compile(r"\\+\[")
_RICH_TAG = re.compile(r"\[[a-z#/@][^[]*?]")  # what rich.markup parses as a tag


def for_html(text: object) -> str:
    """HTML or SVG text and attribute values (single- or double-quoted)."""
    return html.escape(visible(text), quote=True)


def for_dot(text: object) -> str:
    """Text inside a graphviz HTML-like label (``label=<...>``): XML-escaped, no control
    characters (``dot`` rejects them), backslashes doubled (``dot`` expands ``\\N``, ``\\G``
    even in HTML-like labels, entity-encoded or not), and never empty (``<b></b>`` is a
    syntax error to ``dot``, so the empty string becomes one space)."""
    return html.escape(visible(text), quote=True).replace("\\", "\\\\") or " "


def for_dot_string(text: object) -> str:
    """The inside of a DOT double-quoted string (without the quotes). DOT's escString
    gives ``\\N``, ``\\l``... a meaning, so every backslash is doubled, and graphviz
    decodes HTML entities in every string, so ``&`` is written ``&amp;``."""
    return (visible(text).replace("&", "&amp;").replace("\\", "\\\\")
            .replace('"', '\\"'))


# ASCII punctuation that can start Markdown structure inside a line: backslash escapes,
# code spans, emphasis, links and images (with '[' and ']' escaped, '(' and '!' cannot
# form one), table cells, strikethrough; HTML and autolinks are handled by entities. An
# underscore between two ASCII letters or digits can neither open nor close emphasis
# (CommonMark's flanking rules), so ``Mixed_5b`` stays readable.
_MD_PUNCT = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")


def fold_lines(text: object) -> str:
    """Every line break (CR, LF, CRLF, U+2028/9) as one space: what Markdown would do."""
    return _LINE_BREAK.sub(" ", str(text))


def for_markdown(text: object) -> str:
    """Markdown text, list items and table cells (GitHub renders inline HTML, so ``< > &``
    become entities; Markdown punctuation is backslash-escaped; a line break becomes one
    space and other control characters visible text, so a name cannot end the line or the
    cell)."""
    s = _MD_PUNCT.sub(lambda m: "\\" + m.group(0), visible(fold_lines(text)))
    s = re.sub(r"[&<>]", lambda m: _HTML_ENTITIES[m.group(0)], s)
    # At the start of a line (a list item, a paragraph) a few more things open blocks: list
    # markers, setext/thematic-break underlines, ordered-list numbers, indented code.
    s = _MD_LEAD_MARK.sub(lambda m: m.group(1) + _lead_escape(m.group(2)), s, count=1)
    lead = len(s) - len(s.lstrip(" "))
    return "&#32;" * lead + s[lead:]


def _lead_escape(mark: str) -> str:  # "1." -> "1\\.", "-" -> "\\-"
    return mark[:-1] + "\\" + mark[-1]


_MD_LEAD_MARK = re.compile(r"^( *)([-+=#>]|\d+[.)])")


def for_markdown_code(text: object, *, in_table: bool = False) -> str:
    """A Markdown code span showing ``text`` verbatim (line breaks folded to a space, other
    control characters visible).

    Inside a code span nothing is interpreted, so the only way out is a backtick run as
    long as the fence: the fence is one longer than the longest run in the text, padded
    with a space when the text starts or ends with a backtick or a space. In a GFM table a
    ``|`` still ends the cell, even in a code span, so ``in_table=True`` writes it ``\\|``
    (GFM removes that backslash before the span is rendered)."""
    s = visible(fold_lines(text)) or " "
    longest = max((len(r) for r in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space on each side unless the content is all spaces.
    pad = " " if s.strip(" ") and (s[:1] in ("`", " ") or s[-1:] in ("`", " ")) else ""
    if in_table:
        s = s.replace("|", "\\|")
    return f"{fence}{pad}{s}{pad}{fence}"
