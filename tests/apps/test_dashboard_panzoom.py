"""The pan/zoom SVG viewer: one self-contained HTML page (parsed, not grepped)."""
from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apps"))
from _dashboard_panzoom import panzoom_html  # noqa: E402

sys.path.pop(0)

SVG = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
       '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
       '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
       '<svg width="100pt" height="50pt" xmlns="http://www.w3.org/2000/svg" '
       'xmlns:xlink="http://www.w3.org/1999/xlink"><g id="graph0" class="graph">'
       '<g id="n1" class="node"><title>g1</title><g id="a_n1"><a xlink:title="stem.conv&#10;out">'
       '<polygon points="0,0 10,0 10,10"/><text>x &lt;/script&gt;</text></a></g></g></g></svg>')


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    return p


def test_one_inline_svg_and_script_no_external_resources():
    p = _parse(panzoom_html(SVG, height=500, highlight="stem.conv"))
    names = [t for t, _ in p.tags]
    assert names.count("svg") == 1 and names.count("script") == 1
    assert "?xml" not in panzoom_html(SVG)  # the prolog cannot sit inside HTML
    for tag, attrs in p.tags:  # nothing is fetched: no src, no stylesheet links
        assert "src" not in attrs, tag
        assert tag != "link"
    script = "".join(p.scripts)
    for event in ("wheel", "pointerdown", "pointermove", "dblclick"):
        assert f'"{event}"' in script
    assert '"stem.conv"' in script  # the highlight target, as a JSON string
    assert 'id="pz-box"' in panzoom_html(SVG) and "height: 500px" in panzoom_html(SVG, height=500)


def test_highlight_cannot_close_the_script():
    page = panzoom_html(SVG, highlight="</script><b>x")
    p = _parse(page)
    assert [t for t, _ in p.tags].count("script") == 1
    assert "b" not in [t for t, _ in p.tags]  # the payload stayed text inside the script
    assert '"<\\/script><b>x"' in "".join(p.scripts)
