"""An SVG viewer with wheel zoom and drag pan inside a static page (the report and the
comparison), offline: no external resources. (The dashboard has its own Streamlit component,
apps/_dashboard_panzoom.py, which also reports clicks to Python.)

The SVG sits in a clipped box and a CSS transform (translate + scale) moves it. Wheel zooms
around the cursor, drag pans, double-click or "fit" fits the drawing to the box, "+"/"-"
zoom around the centre, "1:1" shows actual size. ``initial="readable"`` opens at actual size
(graphviz's 9 pt labels are 12 px text) on the top of the drawing, so the page never shows
6 px text; ``initial="fit"`` fits the box (the dashboard). A node can be outlined and
centred (``highlight``), and buttons elsewhere in the page can focus a node:
``<button data-pz-target="BOX" data-pz-node="layer name">``.
"""
from __future__ import annotations

import json
import re

from archlens.sanitize import for_html

_XML_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.S)

_STYLE = r"""
#{p}-box {{ position: relative; width: 100%; height: {height}px; overflow: hidden;
  border: 1px solid #ddd; border-radius: 6px; background: #fff; cursor: grab;
  touch-action: none; }}
#{p}-box.dragging {{ cursor: grabbing; }}
#{p}-stage {{ position: absolute; left: 0; top: 0; transform-origin: 0 0; }}
#{p}-stage svg {{ display: block; max-width: none; }}
#{p}-bar {{ position: absolute; right: 8px; top: 8px; z-index: 2; display: flex; gap: 4px; }}
#{p}-bar button {{ min-width: 34px; height: 28px; border: 1px solid #bbb; border-radius: 4px;
  background: #fafafa; cursor: pointer; font-size: 14px; }}
#{p}-zoom {{ position: absolute; left: 8px; bottom: 6px; z-index: 2; font-size: 12px;
  color: #555; background: rgba(255,255,255,.8); padding: 1px 4px; }}
#{p}-box .pz-hit polygon, #{p}-box .pz-hit ellipse, #{p}-box .pz-hit path {{
  stroke: #d500f9 !important; stroke-width: 3px !important; }}
"""

_BOX = r"""<div id="{p}-box" class="pz-box" title="{title}">
  <div id="{p}-bar"><button id="{p}-in" title="zoom in">+</button>
    <button id="{p}-out" title="zoom out">&minus;</button>
    <button id="{p}-one" title="actual size">1:1</button>
    <button id="{p}-fit" title="fit to the box">fit</button></div>
  <div id="{p}-stage">{svg}</div>
  <div id="{p}-zoom"></div>
</div>"""

_SCRIPT = r"""
(function () {{
  var P = {pj};
  var box = document.getElementById(P + "-box"), stage = document.getElementById(P + "-stage");
  var label = document.getElementById(P + "-zoom"), svg = stage.querySelector("svg");
  var s = 1, x = 0, y = 0, drag = null, highlight = {highlight}, initial = {initial};
  function apply() {{
    stage.style.transform = "translate(" + x + "px," + y + "px) scale(" + s + ")";
    label.textContent = Math.round(s * 100) + " %  (wheel: zoom, drag: pan, double-click: fit)";
  }}
  function size() {{
    var r = svg ? svg.getBoundingClientRect() : {{width: 1, height: 1}};
    return {{w: r.width / s || 1, h: r.height / s || 1}};
  }}
  function fit() {{
    var d = size(), bw = box.clientWidth, bh = box.clientHeight;
    s = Math.min(bw / d.w, bh / d.h, 1.5) * 0.98;
    x = (bw - d.w * s) / 2; y = Math.max(4, (bh - d.h * s) / 2); apply();
  }}
  function actual() {{  // 1:1, the top of the drawing, centred when it is narrower
    var d = size(), bw = box.clientWidth;
    s = 1; x = d.w < bw ? (bw - d.w) / 2 : 0; y = 40; apply();
  }}
  function zoomAt(f, cx, cy) {{
    var ns = Math.min(20, Math.max(0.02, s * f));
    x = cx - (cx - x) * ns / s; y = cy - (cy - y) * ns / s; s = ns; apply();
  }}
  box.addEventListener("wheel", function (e) {{
    e.preventDefault();
    var r = box.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }}, {{passive: false}});
  box.addEventListener("pointerdown", function (e) {{
    if (e.target.tagName === "BUTTON") return;
    drag = {{px: e.clientX, py: e.clientY, x: x, y: y}}; box.classList.add("dragging");
    box.setPointerCapture(e.pointerId);
  }});
  box.addEventListener("pointermove", function (e) {{
    if (!drag) return;
    x = drag.x + e.clientX - drag.px; y = drag.y + e.clientY - drag.py; apply();
  }});
  function end() {{ drag = null; box.classList.remove("dragging"); }}
  box.addEventListener("pointerup", end); box.addEventListener("pointercancel", end);
  box.addEventListener("dblclick", fit);
  document.getElementById(P + "-in").onclick = function () {{
    zoomAt(1.25, box.clientWidth / 2, box.clientHeight / 2); }};
  document.getElementById(P + "-out").onclick = function () {{
    zoomAt(0.8, box.clientWidth / 2, box.clientHeight / 2); }};
  document.getElementById(P + "-fit").onclick = fit;
  document.getElementById(P + "-one").onclick = actual;
  // The drawn node that holds a layer: the node whose tooltip names the layer itself, else
  // the collapsed module with the longest matching path.
  function find(name) {{
    var hit = null, best = -1;
    if (!name || !svg) return null;
    var groups = svg.querySelectorAll("g.node");
    for (var i = 0; i < groups.length; i++) {{
      var g = groups[i], a = g.querySelector("a");
      var tip = a ? (a.getAttribute("xlink:title") || a.getAttribute("title") || "") : "";
      var head = tip.split("\n")[0].replace(/ \(\d+ layers\)$/, "");
      if (!head) continue;
      var score = head === name ? 1e9 : (name.indexOf(head + ".") === 0 ? head.length : -1);
      if (score > best) {{ best = score; hit = g; }}
    }}
    return hit;
  }}
  function centre(hit, minScale) {{
    var hb = hit.getBoundingClientRect(), br = box.getBoundingClientRect();
    zoomAt(Math.max(s, minScale) / s, hb.left - br.left + hb.width / 2,
           hb.top - br.top + hb.height / 2);
    hb = hit.getBoundingClientRect();
    x += br.left + box.clientWidth / 2 - (hb.left + hb.width / 2);
    y += br.top + box.clientHeight / 2 - (hb.top + hb.height / 2); apply();
  }}
  var hit = find(highlight);
  if (hit) hit.classList.add("pz-hit");
  function start() {{
    if (initial === "fit") {{ fit(); if (hit) centre(hit, 0.9); }}
    else {{ actual(); if (hit) centre(hit, 1); }}
  }}
  start();
  var buttons = document.querySelectorAll('[data-pz-target="' + P + '"]');
  for (var k = 0; k < buttons.length; k++) {{
    buttons[k].addEventListener("click", function (e) {{
      var g = find(e.currentTarget.getAttribute("data-pz-node"));
      if (!g) return;
      var old = svg.querySelectorAll(".pz-hit");
      for (var j = 0; j < old.length; j++) old[j].classList.remove("pz-hit");
      g.classList.add("pz-hit"); s = 1; centre(g, 1);
      box.scrollIntoView({{block: "nearest"}});
    }});
  }}
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
    return _SCRIPT.format(pj=js(box_id), highlight=js(highlight or ""), initial=js(initial))


def viewer_html(svg: str, *, box_id: str = "pz", height: int = 720,
                highlight: str | None = None, title: str = "layer graph",
                initial: str = "readable") -> str:
    """A pan/zoom box for a page: ``<style>``, the box, its ``<script>``. ``box_id`` must be
    unique in the page (its elements are ``BOX-box``, ``BOX-stage`` ...)."""
    if initial not in ("readable", "fit"):
        raise ValueError(f"initial must be 'readable' or 'fit', got {initial!r}")
    p = re.sub(r"[^A-Za-z0-9_-]", "_", box_id)
    return ("<style>" + _STYLE.format(p=p, height=int(height)) + "</style>"
            + _BOX.format(p=p, svg=_svg_body(svg), title=for_html(title))
            + "<script>" + _script(p, highlight, initial) + "</script>")

