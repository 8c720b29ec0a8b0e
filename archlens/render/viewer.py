"""The one pan/zoom viewer for graphviz SVGs, offline (no external resources): the report
and comparison pages (:func:`viewer_html`) and the dashboard's Streamlit component
(apps/_dashboard_panzoom.py, which wraps :data:`PANZOOM_JS` in an ES module and adds the
click report to Python) run the same code.

The SVG sits in a clipped box and a CSS transform (translate + scale) moves it. Wheel zooms
around the cursor, drag pans, double-click or "fit" fits the drawing to the box, "+"/"-"
zoom around the centre, "1:1" shows actual size, "full screen" (where the box has that
button) toggles the browser's fullscreen mode. ``initial="readable"`` opens at actual size
(graphviz's 9 pt labels are 12 px text) on the top of the drawing, so the page never shows
6 px text; ``initial="fit"`` fits the box. A node can be outlined and centred
(``highlight``), and buttons elsewhere in the page can focus a node:
``<button data-pz-target="BOX" data-pz-node="layer name">``. A press and release without
dragging on a node calls the viewer's ``onNode`` callback with the node's layer (the first
line of its tooltip).
"""
from __future__ import annotations

import json
import re

from archlens.sanitize import for_html

_XML_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.S)

# Class-based, so one rule set serves every box of a page and the dashboard's shadow root.
VIEWER_CSS = """
.pz-box { position: relative; width: 100%; height: 600px; overflow: hidden;
  border: 1px solid #ddd; border-radius: 6px; background: #fff; cursor: grab;
  touch-action: none; font-family: sans-serif; }
.pz-box:fullscreen { border-radius: 0; }
.pz-box.dragging { cursor: grabbing; }
.pz-stage { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
.pz-stage svg { display: block; max-width: none; }
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

_BUTTONS = {
    "in": '<button{id} class="pz-in" title="zoom in">+</button>',
    "out": '<button{id} class="pz-out" title="zoom out">&minus;</button>',
    "one": '<button{id} class="pz-one" title="actual size">1:1</button>',
    "fit": '<button{id} class="pz-fit" title="fit the drawing to the box (or double-click)">'
           'fit</button>',
    "full": '<button{id} class="pz-full" title="full screen (Esc leaves)">full screen</button>',
}


def box_html(buttons: tuple[str, ...] = ("in", "out", "one", "fit"), *, box_id: str = "",
             height: int | None = None, title: str = "", svg: str = "") -> str:
    """The viewer's markup: the box, its button bar, the stage (holding ``svg``) and the zoom
    label. With ``box_id`` every element also gets an id (``BOX-box``, ``BOX-fit`` ...)."""
    ident = (lambda part: f' id="{box_id}-{part}"') if box_id else (lambda part: "")
    attrs = ident("box") + (f' style="height: {int(height)}px"' if height else "") \
        + (f' title="{for_html(title)}"' if title else "") + ' tabindex="0"'
    bar = "\n    ".join(_BUTTONS[b].format(id=ident(b)) for b in buttons)
    return (f'<div class="pz-box"{attrs}>\n  <div class="pz-bar"{ident("bar")}>\n    {bar}\n'
            f'  </div>\n  <div class="pz-stage"{ident("stage")}>{svg}</div>\n'
            f'  <div class="pz-zoom"{ident("zoom")}></div>\n</div>')


# The viewer itself: a function of the box element. Plain script (no module syntax), so a
# static page can inline it and the dashboard's ES module can prepend it.
PANZOOM_JS = r"""
function archlensPanZoom(box, hint) {
  var stage = box.querySelector(".pz-stage"), label = box.querySelector(".pz-zoom");
  var st = {s: 1, x: 0, y: 0, drag: null, onNode: null, hit: null};
  function svg() { return stage.querySelector("svg"); }
  function apply() {
    stage.style.transform = "translate(" + st.x + "px," + st.y + "px) scale(" + st.s + ")";
    label.textContent = Math.round(st.s * 100) + " %  (" + hint + ")";
  }
  function size() {
    var g = svg(), r = g ? g.getBoundingClientRect() : {width: 1, height: 1};
    return {w: r.width / st.s || 1, h: r.height / st.s || 1};
  }
  function fit() {
    var d = size(), bw = box.clientWidth, bh = box.clientHeight;
    st.s = Math.min(bw / d.w, bh / d.h, 1.5) * 0.98;
    st.x = (bw - d.w * st.s) / 2; st.y = Math.max(4, (bh - d.h * st.s) / 2); apply();
  }
  function actual() {  // 1:1, the top of the drawing, centred when it is narrower
    var d = size(), bw = box.clientWidth;
    st.s = 1; st.x = d.w < bw ? (bw - d.w) / 2 : 0; st.y = 40; apply();
  }
  function zoomAt(f, cx, cy) {
    var ns = Math.min(20, Math.max(0.02, st.s * f));
    st.x = cx - (cx - st.x) * ns / st.s; st.y = cy - (cy - st.y) * ns / st.s; st.s = ns;
    apply();
  }
  function nodeName(g) {  // the layer a drawn node stands for: its tooltip's first line
    var a = g.querySelector("a");
    var tip = a ? (a.getAttribute("xlink:title") || a.getAttribute("title") || "") : "";
    if (!tip) { var t = g.querySelector("title"); tip = t ? t.textContent : ""; }
    return tip.split("\n")[0].replace(/ \(\d+ layers\)$/, "");
  }
  // The drawn node that holds a layer: the node whose tooltip names the layer itself, else
  // the collapsed module with the longest path that contains it.
  function find(name) {
    var hit = null, best = -1, g = svg();
    if (!name || !g) return null;
    g.querySelectorAll("g.node").forEach(function (n) {
      var head = nodeName(n);
      if (!head) return;
      var score = head === name ? 1e9 : (name.indexOf(head + ".") === 0 ? head.length : -1);
      if (score > best) { best = score; hit = n; }
    });
    return hit;
  }
  function outline(name) {  // magenta outline on the node holding ``name`` (only that one)
    var g = svg();
    if (g) g.querySelectorAll(".pz-hit").forEach(function (n) { n.classList.remove("pz-hit"); });
    st.hit = find(name);
    if (st.hit) st.hit.classList.add("pz-hit");
    box.setAttribute("data-highlight", st.hit ? nodeName(st.hit) : "");
    return st.hit;
  }
  function mark(names) {  // dashed orange outline on every node holding one of ``names``
    var g = svg(), marked = 0;
    if (g) {
      g.querySelectorAll(".pz-mark").forEach(function (n) { n.classList.remove("pz-mark"); });
      if (names.length) g.querySelectorAll("g.node").forEach(function (n) {
        var head = nodeName(n);
        if (!head) return;
        for (var i = 0; i < names.length; i++) {
          var m = names[i];
          if (m === head || m.indexOf(head + ".") === 0 || head.indexOf(m + ".") === 0) {
            n.classList.add("pz-mark"); marked++; break;
          }
        }
      });
    }
    box.setAttribute("data-marked", String(marked));
    return marked;
  }
  function centre(hit, minScale) {  // zoom to at least minScale around ``hit``, centre it
    var hb = hit.getBoundingClientRect(), br = box.getBoundingClientRect();
    zoomAt(Math.max(st.s, minScale) / st.s, hb.left - br.left + hb.width / 2,
           hb.top - br.top + hb.height / 2);
    hb = hit.getBoundingClientRect();
    st.x += br.left + box.clientWidth / 2 - (hb.left + hb.width / 2);
    st.y += br.top + box.clientHeight / 2 - (hb.top + hb.height / 2); apply();
  }
  box.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = box.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, {passive: false});
  box.addEventListener("pointerdown", function (e) {
    if (e.target.tagName === "BUTTON") return;
    st.drag = {px: e.clientX, py: e.clientY, x: st.x, y: st.y, moved: false, id: e.pointerId};
    box.classList.add("dragging");
  });
  box.addEventListener("pointermove", function (e) {
    var d = st.drag;
    if (!d) return;
    var dx = e.clientX - d.px, dy = e.clientY - d.py;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) > 4) {
      d.moved = true;  // a drag, not a click: keep the pointer while it leaves the box
      try { box.setPointerCapture(d.id); } catch (err) { /* pointer already gone */ }
    }
    if (d.moved) { st.x = d.x + dx; st.y = d.y + dy; apply(); }
  });
  box.addEventListener("pointerup", function (e) {
    var d = st.drag;
    st.drag = null; box.classList.remove("dragging");
    if (!d || d.moved || !st.onNode) return;
    var t = e.composedPath ? e.composedPath()[0] : e.target;
    var g = t && t.closest ? t.closest("g.node") : null;
    if (g) { var name = nodeName(g); if (name) st.onNode(name); }
  });
  box.addEventListener("pointercancel", function () {
    st.drag = null; box.classList.remove("dragging"); });
  box.addEventListener("dblclick", fit);
  function button(cls, f) { var b = box.querySelector("." + cls); if (b) b.onclick = f; }
  button("pz-in", function () { zoomAt(1.25, box.clientWidth / 2, box.clientHeight / 2); });
  button("pz-out", function () { zoomAt(0.8, box.clientWidth / 2, box.clientHeight / 2); });
  button("pz-fit", fit);
  button("pz-one", actual);
  button("pz-full", function () {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (box.requestFullscreen) box.requestFullscreen();
  });
  return {state: st, apply: apply, fit: fit, actual: actual, zoomAt: zoomAt, find: find,
          outline: outline, mark: mark, centre: centre, nodeName: nodeName,
          onNode: function (f) { st.onNode = f; }};
}
"""

# A static page's viewer: open (readable or fit) on the highlight, stage buttons, resize.
_PAGE_SCRIPT = r"""
(function () {{
  var P = {pj}, highlight = {highlight}, initial = {initial};
  var box = document.getElementById(P + "-box");
  var pz = archlensPanZoom(box, "wheel: zoom, drag: pan, double-click: fit");
  var hit = pz.outline(highlight);
  function start() {{
    if (initial === "fit") {{ pz.fit(); if (hit) pz.centre(hit, 0.9); }}
    else {{ pz.actual(); if (hit) pz.centre(hit, 1); }}
  }}
  start();
  document.querySelectorAll('[data-pz-target="' + P + '"]').forEach(function (b) {{
    b.addEventListener("click", function (e) {{
      var g = pz.outline(e.currentTarget.getAttribute("data-pz-node"));
      if (!g) return;
      pz.state.s = 1; pz.centre(g, 1);
      box.scrollIntoView({{block: "nearest"}});
    }});
  }});
  var last = [box.clientWidth, box.clientHeight];
  window.addEventListener("resize", function () {{
    if (box.clientWidth !== last[0] || box.clientHeight !== last[1]) {{
      last = [box.clientWidth, box.clientHeight]; start();
    }}
  }});
}})();
"""


def _svg_body(svg: str) -> str:
    body = _XML_PROLOG.sub("", svg, count=1)
    # </script> inside SVG text cannot happen for graphviz output, but never let data close
    # our script element.
    return body.replace("</script", "<\\/script")


def _script(box_id: str, highlight: str | None, initial: str) -> str:
    js = lambda v: json.dumps(v).replace("</", "<\\/")  # noqa: E731
    return PANZOOM_JS + _PAGE_SCRIPT.format(pj=js(box_id), highlight=js(highlight or ""),
                                            initial=js(initial))


def viewer_html(svg: str, *, box_id: str = "pz", height: int = 720,
                highlight: str | None = None, title: str = "layer graph",
                initial: str = "readable") -> str:
    """A pan/zoom box for a page: ``<style>``, the box, its ``<script>``. ``box_id`` must be
    unique in the page (its elements are ``BOX-box``, ``BOX-stage`` ...)."""
    if initial not in ("readable", "fit"):
        raise ValueError(f"initial must be 'readable' or 'fit', got {initial!r}")
    p = re.sub(r"[^A-Za-z0-9_-]", "_", box_id)
    return ("<style>" + VIEWER_CSS + "</style>"
            + box_html(box_id=p, height=height, title=title, svg=_svg_body(svg))
            + "<script>" + _script(p, highlight, initial) + "</script>")
