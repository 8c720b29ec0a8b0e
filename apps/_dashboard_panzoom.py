"""An SVG viewer with wheel zoom and drag pan, as one self-contained HTML document.

``st.graphviz_chart`` cannot zoom, and a CDN pan/zoom library would break offline use, so the
viewer is ~60 lines of inline JavaScript: the SVG sits in a clipped box and a CSS transform
(translate + scale) moves it. Wheel zooms around the cursor, drag pans, double-click or the
"fit" button fits the drawing to the box; "+"/"-" zoom around the centre. The node of the
selected layer is outlined and centred.
"""
from __future__ import annotations

import html
import json
import re

_XML_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.S)

_TEMPLATE = r"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
html, body {{ margin: 0; padding: 0; font-family: sans-serif; overflow: hidden; }}
#pz-box {{ position: relative; width: 100%; height: {height}px; overflow: hidden;
  border: 1px solid #ddd; border-radius: 6px; background: #fff; cursor: grab;
  touch-action: none; }}
#pz-box.dragging {{ cursor: grabbing; }}
#pz-stage {{ position: absolute; left: 0; top: 0; transform-origin: 0 0; }}
#pz-stage svg {{ display: block; }}
#pz-bar {{ position: absolute; right: 8px; top: 8px; z-index: 2; display: flex; gap: 4px; }}
#pz-bar button {{ width: 34px; height: 28px; border: 1px solid #bbb; border-radius: 4px;
  background: #fafafa; cursor: pointer; font-size: 14px; }}
#pz-zoom {{ position: absolute; left: 8px; bottom: 6px; z-index: 2; font-size: 12px;
  color: #555; background: rgba(255,255,255,.8); padding: 1px 4px; }}
.pz-hit polygon, .pz-hit ellipse, .pz-hit path {{ stroke: #d500f9 !important;
  stroke-width: 3px !important; }}
</style></head><body>
<div id="pz-box" title="{title}">
  <div id="pz-bar"><button id="pz-in" title="zoom in">+</button>
    <button id="pz-out" title="zoom out">&minus;</button>
    <button id="pz-fit" title="fit to the box">fit</button></div>
  <div id="pz-stage">{svg}</div>
  <div id="pz-zoom"></div>
</div>
<script>
(function () {{
  var box = document.getElementById("pz-box"), stage = document.getElementById("pz-stage");
  var label = document.getElementById("pz-zoom"), svg = stage.querySelector("svg");
  var s = 1, x = 0, y = 0, drag = null, highlight = {highlight};
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
  document.getElementById("pz-in").onclick = function () {{
    zoomAt(1.25, box.clientWidth / 2, box.clientHeight / 2); }};
  document.getElementById("pz-out").onclick = function () {{
    zoomAt(0.8, box.clientWidth / 2, box.clientHeight / 2); }};
  document.getElementById("pz-fit").onclick = fit;
  // Outline the drawn node that holds the selected layer and centre on it: the node whose
  // tooltip names the layer itself, else the collapsed module with the longest matching path.
  var hit = null, best = -1;
  if (highlight && svg) {{
    var groups = svg.querySelectorAll("g.node");
    for (var i = 0; i < groups.length; i++) {{
      var g = groups[i], a = g.querySelector("a");
      var tip = a ? (a.getAttribute("xlink:title") || a.getAttribute("title") || "") : "";
      var head = tip.split("\n")[0].replace(/ \(\d+ layers\)$/, "");
      if (!head) continue;
      var score = head === highlight ? 1e9 :
        (highlight.indexOf(head + ".") === 0 ? head.length : -1);
      if (score > best) {{ best = score; hit = g; }}
    }}
    if (hit) hit.classList.add("pz-hit");
  }}
  function focus() {{  // fit, then zoom to a readable scale around the selected node
    fit();
    if (!hit) return;
    var hb = hit.getBoundingClientRect(), br = box.getBoundingClientRect();
    zoomAt(Math.max(s, 0.9) / s, hb.left - br.left + hb.width / 2,
           hb.top - br.top + hb.height / 2);
    hb = hit.getBoundingClientRect();
    x += br.left + box.clientWidth / 2 - (hb.left + hb.width / 2);
    y += br.top + box.clientHeight / 2 - (hb.top + hb.height / 2); apply();
  }}
  focus();
  var last = [box.clientWidth, box.clientHeight];
  window.addEventListener("resize", function () {{
    if (box.clientWidth !== last[0] || box.clientHeight !== last[1]) {{
      last = [box.clientWidth, box.clientHeight]; focus();
    }}
  }});
}})();
</script></body></html>"""


def panzoom_html(svg: str, *, height: int = 720, highlight: str | None = None,
                 title: str = "layer graph") -> str:
    """A standalone HTML page showing ``svg`` with zoom and pan (no external resources).

    ``highlight``: a layer name; the drawn node whose tooltip names it (or, when the drawing
    is collapsed, the module with the longest path that contains it) is outlined in magenta
    and centred at a readable zoom.
    """
    body = _XML_PROLOG.sub("", svg, count=1)
    # </script> inside the SVG text cannot happen for graphviz output, but never let data
    # close our script element.
    body = body.replace("</script", "<\\/script")
    return _TEMPLATE.format(height=int(height), svg=body, title=html.escape(title),
                            highlight=json.dumps(highlight or "").replace("</", "<\\/"))
