"""The layer-graph viewer in the dashboard: a Streamlit bidirectional component
(``st.components.v2``) around archlens's one pan/zoom viewer (:mod:`archlens.render.viewer`:
the same markup, CSS and JavaScript as the report pages), which also reports clicks on nodes.

``st.graphviz_chart`` can neither zoom nor report a click, and a CDN pan/zoom library would
break offline use. What this module adds to the shared viewer (no network, no build step):
the "full screen" button; the box is as tall as the window below it (so its bottom and zoom
label stay on screen); the node of the selected layer is outlined and centred; a click (a
press and release without dragging) on a node sends the node's layer (the first line of its
tooltip) to Python as the ``node`` trigger value.

The SVG comes from archlens's graphviz renderer (names escaped for XML there), once per
session and viewer (a selection rerun sends only the drawing's key); it is parsed
with ``DOMParser`` and stripped of ``<script>``, ``<foreignObject>`` and ``on*`` attributes
before it is inserted, and the highlight is passed as data (JSON), never spliced into code.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from archlens.render.viewer import PANZOOM_JS, VIEWER_CSS, box_html

COMPONENT_NAME = "archlens.graph_viewer"

VIEWER_HTML = box_html(("in", "out", "fit", "full"))

# The component: the shared viewer (PANZOOM_JS, a plain function) and the ES module that
# Streamlit calls on every render with the current data.
VIEWER_JS = PANZOOM_JS + r"""
function clean(svgText) {
  var doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  var svg = doc.documentElement;
  if (!svg || svg.nodeName.toLowerCase() !== "svg") return null;
  svg.querySelectorAll("script, foreignObject").forEach(function (e) { e.remove(); });
  svg.querySelectorAll("*").forEach(function (e) {
    for (var i = e.attributes.length - 1; i >= 0; i--) {
      var n = e.attributes[i].name.toLowerCase();
      if (n.indexOf("on") === 0) e.removeAttribute(e.attributes[i].name);
    }
  });
  return document.importNode(svg, true);
}
export default function (component) {
  var data = component.data || {}, root = component.parentElement;
  var box = root.querySelector(".pz-box"), stage = root.querySelector(".pz-stage");
  var pz = box.__pz;
  if (!pz) {  // the viewer and its listeners, once per element
    pz = box.__pz = archlensPanZoom(box, "wheel: zoom, drag: pan, double-click: fit, " +
                                    "click a node: select it");
  }
  var send = component.setTriggerValue;
  // The drawing travels once per session and viewer: a rerun that only moves the selection
  // sends its key without the text, and the text is kept here (this page) by key.
  var kept = window.__archlensSvgs || (window.__archlensSvgs = new Map());
  if (typeof data.svg === "string" && data.key) {
    kept.delete(data.key); kept.set(data.key, data.svg);
    while (kept.size > 8) kept.delete(kept.keys().next().value);
  }
  if (pz.key !== data.key) {  // a new drawing: parse and insert it once
    var text = typeof data.svg === "string" ? data.svg : kept.get(data.key);
    if (text === undefined) {  // not here (a new page on an old session): ask for it
      if (pz.asked !== data.key) { pz.asked = data.key; send("need", data.key); }
      return;
    }
    stage.textContent = "";
    var svg = clean(text || "");
    if (svg) stage.appendChild(svg);
    pz.key = data.key; pz.focused = undefined;
    pz.state.s = 1; pz.state.x = 0; pz.state.y = 0;
  }
  pz.onNode(function (name) { send("node", name); });
  var hl = data.highlight || "";
  var hit = pz.outline(hl);
  pz.mark(data.marks || []);
  function fitHeight() {  // as tall as the window below the box's top edge
    if (document.fullscreenElement === box) { box.style.height = "100vh"; return; }
    var top = box.getBoundingClientRect().top + window.scrollY;
    var h = Math.max(360, window.innerHeight - Math.max(0, top - window.scrollY) - 24);
    box.style.height = Math.min(h, data.max_height || 1400) + "px";
  }
  function focus() {  // fit, then zoom to a readable scale around the selected node
    fitHeight(); pz.fit();
    if (hit) pz.centre(hit, 0.9);
  }
  if (pz.focused !== hl) { pz.focused = hl; requestAnimationFrame(focus); }
  window.addEventListener("resize", fitHeight);
  document.addEventListener("fullscreenchange", fitHeight);
  return function () {
    window.removeEventListener("resize", fitHeight);
    document.removeEventListener("fullscreenchange", fitHeight);
  };
}
"""


def svg_body(svg: str) -> str:
    """The SVG element alone: no XML prolog, DOCTYPE or leading comments (graphviz writes
    all three; DOMParser wants the element as the root)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""


def svg_key(svg: str) -> str:
    """Identifies a drawing, so the browser parses a new SVG only when it changed."""
    return hashlib.sha1(svg.encode("utf-8", "surrogatepass")).hexdigest()[:16]


_COMPONENT: Any = None


def _component():
    global _COMPONENT
    if _COMPONENT is None:
        import streamlit as st
        _COMPONENT = st.components.v2.component(COMPONENT_NAME, html=VIEWER_HTML,
                                                css=VIEWER_CSS, js=VIEWER_JS)
    return _COMPONENT


SENT_STATE = "_graph_viewer_sent"


def _forget_sent(key: str) -> None:
    """The browser asked for the drawing (``need``): send it with the next run."""
    import streamlit as st
    st.session_state.get(SENT_STATE, {}).pop(key, None)


def graph_viewer(svg: str, *, key: str, highlight: str | None = None,
                 marks: list[str] | tuple[str, ...] = (),
                 on_node: Callable[[], None] | None = None, max_height: int = 1400) -> Any:
    """Mount the viewer; returns the component's result (``.node``: the clicked layer, for
    the one run after a click). ``on_node`` runs before the script when a node is clicked
    (read the value with :func:`clicked_node`). ``marks``: layer or module names whose drawn
    nodes get a dashed orange outline (a comparison's changed units).

    The SVG text is sent once per session and viewer ``key`` (inception_v3's is ~211 KB);
    a later run of the same drawing, e.g. after a click that only moves the selection, sends
    ``svg: None`` and the key, and the browser uses the text it kept. A browser without it
    (a new page on the same session) sends the ``need`` trigger, and the next run sends the
    text again."""
    import streamlit as st
    body = svg_body(svg)
    digest = svg_key(body)
    sent = st.session_state.setdefault(SENT_STATE, {})
    out = _component()(key=key, data={"svg": body if sent.get(key) != digest else None,
                                      "key": digest, "highlight": highlight or "",
                                      "marks": [str(m) for m in marks],
                                      "max_height": int(max_height)},
                       on_node_change=on_node or (lambda: None),
                       on_need_change=lambda: _forget_sent(key))
    sent[key] = digest
    return out


def clicked_node(key: str) -> str | None:
    """In an ``on_node`` callback: the layer name the click sent (None if none)."""
    import streamlit as st
    value = st.session_state.get(key)
    try:
        name = value.get("node") if value is not None else None
    except AttributeError:
        name = getattr(value, "node", None)
    return name if isinstance(name, str) and name else None
