"""The layer-graph viewer: a Streamlit bidirectional component (``st.components.v2``) that
shows the graphviz SVG with wheel zoom and drag pan, and reports clicks on nodes.

``st.graphviz_chart`` can neither zoom nor report a click, and a CDN pan/zoom library would
break offline use, so the viewer is ~150 lines of inline JavaScript (no network, no build
step): the SVG sits in a clipped box and a CSS transform (translate + scale) moves it. Wheel
zooms around the cursor, drag pans, double-click or "fit" fits the drawing, "+"/"-" zoom
around the centre, "full screen" toggles the browser's fullscreen mode. The box is as tall as
the window below it (so its bottom and zoom label stay on screen). The node of the selected
layer is outlined and centred. A click (a press and release without dragging) on a node sends
the node's layer (the first line of its tooltip) to Python as the ``node`` trigger value.

The SVG comes from archlens's graphviz renderer (names escaped for XML there); it is parsed
with ``DOMParser`` and stripped of ``<script>``, ``<foreignObject>`` and ``on*`` attributes
before it is inserted, and the highlight is passed as data (JSON), never spliced into code.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

COMPONENT_NAME = "archlens.graph_viewer"

VIEWER_HTML = """<div class="pz-box" tabindex="0">
  <div class="pz-bar">
    <button class="pz-in" title="zoom in">+</button>
    <button class="pz-out" title="zoom out">&minus;</button>
    <button class="pz-fit" title="fit the drawing to the box (or double-click)">fit</button>
    <button class="pz-full" title="full screen (Esc leaves)">full screen</button>
  </div>
  <div class="pz-stage"></div>
  <div class="pz-zoom"></div>
</div>"""

VIEWER_CSS = """
.pz-box { position: relative; width: 100%; height: 600px; overflow: hidden;
  border: 1px solid #ddd; border-radius: 6px; background: #fff; cursor: grab;
  touch-action: none; font-family: sans-serif; }
.pz-box:fullscreen { border-radius: 0; }
.pz-box.dragging { cursor: grabbing; }
.pz-stage { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
.pz-stage svg { display: block; }
.pz-stage g.node { cursor: pointer; }
.pz-bar { position: absolute; right: 8px; top: 8px; z-index: 2; display: flex; gap: 4px; }
.pz-bar button { min-width: 34px; height: 28px; border: 1px solid #bbb; border-radius: 4px;
  background: #fafafa; cursor: pointer; font-size: 13px; }
.pz-zoom { position: absolute; left: 8px; bottom: 6px; z-index: 2; font-size: 12px;
  color: #555; background: rgba(255,255,255,.85); padding: 1px 4px; }
.pz-hit polygon, .pz-hit ellipse, .pz-hit path { stroke: #d500f9 !important;
  stroke-width: 4px !important; }
.pz-mark polygon, .pz-mark path { stroke: #ff6d00 !important; stroke-width: 3.5px !important;
  stroke-dasharray: 6 3; }
"""

VIEWER_JS = r"""
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
function nodeName(g) {
  var a = g.querySelector("a");
  var tip = a ? (a.getAttribute("xlink:title") || a.getAttribute("title") || "") : "";
  if (!tip) { var t = g.querySelector("title"); tip = t ? t.textContent : ""; }
  return tip.split("\n")[0].replace(/ \(\d+ layers\)$/, "");
}
export default function (component) {
  var data = component.data || {}, root = component.parentElement;
  var box = root.querySelector(".pz-box"), stage = root.querySelector(".pz-stage");
  var label = root.querySelector(".pz-zoom");
  var st = box.__pz;
  if (!st || st.key !== data.key) {  // a new drawing: parse and insert it once
    stage.textContent = "";
    var svg = clean(data.svg || "");
    if (svg) stage.appendChild(svg);
    st = box.__pz = {key: data.key, s: 1, x: 0, y: 0, drag: null, svg: svg};
  }
  st.send = component.setTriggerValue;
  var svg = st.svg;
  function apply() {
    stage.style.transform = "translate(" + st.x + "px," + st.y + "px) scale(" + st.s + ")";
    label.textContent = Math.round(st.s * 100) + " %  (wheel: zoom, drag: pan, " +
      "double-click: fit, click a node: select it)";
  }
  function size() {
    var r = svg ? svg.getBoundingClientRect() : {width: 1, height: 1};
    return {w: r.width / st.s || 1, h: r.height / st.s || 1};
  }
  function fitHeight() {  // as tall as the window below the box's top edge
    if (document.fullscreenElement === box) { box.style.height = "100vh"; return; }
    var top = box.getBoundingClientRect().top + window.scrollY;
    var h = Math.max(360, window.innerHeight - Math.max(0, top - window.scrollY) - 24);
    box.style.height = Math.min(h, data.max_height || 1400) + "px";
  }
  function fit() {
    var d = size(), bw = box.clientWidth, bh = box.clientHeight;
    st.s = Math.min(bw / d.w, bh / d.h, 1.5) * 0.98;
    st.x = (bw - d.w * st.s) / 2; st.y = Math.max(4, (bh - d.h * st.s) / 2); apply();
  }
  function zoomAt(f, cx, cy) {
    var ns = Math.min(20, Math.max(0.02, st.s * f));
    st.x = cx - (cx - st.x) * ns / st.s; st.y = cy - (cy - st.y) * ns / st.s; st.s = ns;
    apply();
  }
  if (!box.__wired) {  // listeners once per element; they read the current state object
    box.__wired = true;
    box.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = box.getBoundingClientRect();
      box.__zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, {passive: false});
    box.addEventListener("pointerdown", function (e) {
      if (e.target.tagName === "BUTTON") return;
      var s = box.__pz;
      s.drag = {px: e.clientX, py: e.clientY, x: s.x, y: s.y, moved: false};
      box.classList.add("dragging");
    });
    box.addEventListener("pointermove", function (e) {
      var s = box.__pz;
      if (!s.drag) return;
      var dx = e.clientX - s.drag.px, dy = e.clientY - s.drag.py;
      if (Math.abs(dx) + Math.abs(dy) > 4) s.drag.moved = true;
      if (s.drag.moved) { s.x = s.drag.x + dx; s.y = s.drag.y + dy; box.__apply(); }
    });
    box.addEventListener("pointerup", function (e) {
      var s = box.__pz, d = s.drag;
      s.drag = null; box.classList.remove("dragging");
      if (!d || d.moved) return;
      var t = e.composedPath ? e.composedPath()[0] : e.target;
      var g = t && t.closest ? t.closest("g.node") : null;
      if (g) { var name = nodeName(g); if (name) s.send("node", name); }
    });
    box.addEventListener("pointercancel", function () {
      box.__pz.drag = null; box.classList.remove("dragging"); });
    box.addEventListener("dblclick", function () { box.__fit(); });
    root.querySelector(".pz-in").onclick = function () {
      box.__zoomAt(1.25, box.clientWidth / 2, box.clientHeight / 2); };
    root.querySelector(".pz-out").onclick = function () {
      box.__zoomAt(0.8, box.clientWidth / 2, box.clientHeight / 2); };
    root.querySelector(".pz-fit").onclick = function () { box.__fit(); };
    root.querySelector(".pz-full").onclick = function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else if (box.requestFullscreen) box.requestFullscreen();
    };
  }
  box.__apply = apply; box.__fit = fit; box.__zoomAt = zoomAt;
  // Outline the drawn node that holds the selected layer: the node whose tooltip names the
  // layer itself, else the collapsed module with the longest path that contains it.
  var hit = null, best = -1, hl = data.highlight || "";
  if (svg) {
    svg.querySelectorAll(".pz-hit").forEach(function (g) { g.classList.remove("pz-hit"); });
    if (hl) {
      svg.querySelectorAll("g.node").forEach(function (g) {
        var head = nodeName(g);
        if (!head) return;
        var score = head === hl ? 1e9 : (hl.indexOf(head + ".") === 0 ? head.length : -1);
        if (score > best) { best = score; hit = g; }
      });
      if (hit) hit.classList.add("pz-hit");
    }
  }
  box.setAttribute("data-highlight", hit ? nodeName(hit) : "");
  // Mark (dashed orange) every drawn node holding one of data.marks (a comparison's changes)
  var marks = data.marks || [], marked = 0;
  if (svg) {
    svg.querySelectorAll(".pz-mark").forEach(function (g) { g.classList.remove("pz-mark"); });
    if (marks.length) {
      svg.querySelectorAll("g.node").forEach(function (g) {
        var head = nodeName(g);
        if (!head) return;
        for (var i = 0; i < marks.length; i++) {
          var m = marks[i];
          if (m === head || m.indexOf(head + ".") === 0 || head.indexOf(m + ".") === 0) {
            g.classList.add("pz-mark"); marked++; break;
          }
        }
      });
    }
  }
  box.setAttribute("data-marked", String(marked));
  function focus() {  // fit, then zoom to a readable scale around the selected node
    fitHeight(); fit();
    if (!hit) return;
    var hb = hit.getBoundingClientRect(), br = box.getBoundingClientRect();
    zoomAt(Math.max(st.s, 0.9) / st.s, hb.left - br.left + hb.width / 2,
           hb.top - br.top + hb.height / 2);
    hb = hit.getBoundingClientRect();
    st.x += br.left + box.clientWidth / 2 - (hb.left + hb.width / 2);
    st.y += br.top + box.clientHeight / 2 - (hb.top + hb.height / 2); apply();
  }
  if (st.focused !== hl) { st.focused = hl; requestAnimationFrame(focus); }
  function onResize() { fitHeight(); }
  window.addEventListener("resize", onResize);
  document.addEventListener("fullscreenchange", onResize);
  return function () {
    window.removeEventListener("resize", onResize);
    document.removeEventListener("fullscreenchange", onResize);
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


def graph_viewer(svg: str, *, key: str, highlight: str | None = None,
                 marks: list[str] | tuple[str, ...] = (),
                 on_node: Callable[[], None] | None = None, max_height: int = 1400) -> Any:
    """Mount the viewer; returns the component's result (``.node``: the clicked layer, for
    the one run after a click). ``on_node`` runs before the script when a node is clicked
    (read the value with :func:`clicked_node`). ``marks``: layer or module names whose drawn
    nodes get a dashed orange outline (a comparison's changed units)."""
    body = svg_body(svg)
    return _component()(key=key, data={"svg": body, "key": svg_key(body),
                                       "highlight": highlight or "",
                                       "marks": [str(m) for m in marks],
                                       "max_height": int(max_height)},
                        on_node_change=on_node or (lambda: None))


def clicked_node(key: str) -> str | None:
    """In an ``on_node`` callback: the layer name the click sent (None if none)."""
    import streamlit as st
    value = st.session_state.get(key)
    try:
        name = value.get("node") if value is not None else None
    except AttributeError:
        name = getattr(value, "node", None)
    return name if isinstance(name, str) and name else None
