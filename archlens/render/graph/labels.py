"""The text of the drawing: node labels (graphviz HTML-like tables), cluster titles, the
continuation labels between columns and the legend. Every model-derived string is escaped
for dot here (:mod:`archlens.sanitize`); every number comes from the analysis."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from archlens.graph import Node
from archlens.render import _numbers as fmt
from archlens.render.graph.structure import hier
from archlens.render.graph.style import (FUSABLE, HIGHLIGHT_COLOURS, NO_MACS, SEVERITY_COLOURS,
                                         SHARE_COLOURS, SHORT, severity_rank, strip_colour)
from archlens.render.graph.units import Unit
from archlens.sanitize import for_dot, for_dot_string

if TYPE_CHECKING:  # pragma: no cover
    from archlens.metrics.stages import Stage


def e(text: object) -> str:
    """Escape for graphviz HTML-like labels (:func:`archlens.sanitize.for_dot`)."""
    return for_dot(text)


def q(text: object) -> str:
    """A dot double-quoted string (tooltips, ids): each line sanitised
    (:func:`archlens.sanitize.for_dot_string`), the lines joined by dot's ``\\n``."""
    return '"' + "\\n".join(for_dot_string(x) for x in str(text).split("\n")) + '"'


def clip(s: str, n: int = 34) -> str:
    return s if len(s) <= n else "..." + s[-(n - 3):]


def op_text(n: Node) -> str:
    t = n.type
    base = getattr(n, "base_type", None) or n.type      # WSConv2d labels like the Conv2d it is
    if n.kernel and set(n.kernel) != {1} or base in ("Conv2d", "ConvTranspose2d") and n.kernel:
        t += " " + "x".join(str(k) for k in n.kernel)  # 1-D and 3-D kernels too
        if n.stride and set(n.stride) != {1}:
            t += f"/{fmt.pair(n.stride)}"
        if n.groups and n.groups > 1:
            t += f" g{n.groups}"
        if n.dilation and set(n.dilation) != {1}:
            t += f" d{fmt.pair(n.dilation)}"
    return t


def group_text(nodes: Sequence[Node], members: list[int]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for i in members:
        if nodes[i].type not in FUSABLE:
            counts[nodes[i].type] += 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    parts = [f"{c} {t}" for t, c in top]
    more = len(members) - sum(c for _, c in top)
    return ", ".join(parts) + (f" +{more}" if more > 0 else "")


def unit_path(un: Unit, nodes, head_index: int | None = None) -> str:
    """The full module path a drawn node stands for (for continuation labels); a folded
    node names the instance ``head_index`` (the head op of that block)."""
    head = nodes[un.members[0] if head_index is None else head_index]
    if un.kind == "group":
        return ".".join(hier(head)[:len(un.cluster) + 1])
    return head.name


# ----------------------------------------------------------------------------- nodes

def _texts(un: Unit, nodes) -> tuple[str, str, str]:
    """(title, name, shape line) of a drawn node."""
    ms = un.members
    head, last = nodes[ms[0]], nodes[ms[-1]]
    if un.kind == "input":
        return "input", "", "N x " + fmt.shape(head.out_shape)
    if un.kind == "group":
        name = un.fold_range if un.fold > 1 else un.label_name
        return group_text(nodes, ms), name, fmt.shape(last.out_shape)
    title = op_text(head) + "".join(f"+{SHORT.get(nodes[i].type, nodes[i].type)}"
                                    for i in un.fused)
    name = un.fold_range if un.fold > 1 else un.label_name
    if name.isdigit() and un.cluster:  # Sequential children: "classifier.0", not "0"
        name = f"{un.cluster[-1]}.{name}"
    if name == head.type:
        name = ""
    return title, name, fmt.shape(last.out_shape)


def _row(text_html: str) -> str:
    return f'<TR><TD></TD><TD ALIGN="LEFT">{text_html}</TD></TR>'


def node_stmt(un: Unit, nodes, colour: str, findings, status: str | None = None) -> str:
    """The dot statement of one drawn node filled with ``colour``: a stage strip, the title
    (type, kernel, fused followers, x N), the name, shape and cost, the finding codes and a
    comparison status; the tooltip's first line names the layer (the viewers read it)."""
    ms = un.members
    last = nodes[ms[-1]]
    macs = sum(nodes[i].macs for i in ms)
    prms = sum(nodes[i].params for i in ms)
    title, name, sub = _texts(un, nodes)
    cost = []
    if macs:
        cost.append(fmt.macs(macs) + (" each" if un.fold > 1 else ""))
    if prms and not macs:
        cost.append(fmt.params(prms))
    stage = last.stage if last.stage is not None else None
    dark = colour == SHARE_COLOURS[-1]
    font = ' COLOR="white"' if dark else ' COLOR="black"'
    badge = f'<FONT POINT-SIZE="7">S{stage}</FONT>' if stage is not None else " "
    rows = [f'<TR><TD BGCOLOR="{strip_colour(stage)}" WIDTH="14">{badge}</TD>'
            f'<TD ALIGN="LEFT"><B><FONT{font}>{e(title)}'
            + (f'  \u00d7{un.fold}' if un.fold > 1 else "") + "</FONT></B></TD></TR>"]
    if name:
        grey = font if dark else ' COLOR="#333333"'
        rows.append(_row(f'<FONT POINT-SIZE="8"{grey}>{e(clip(name))}</FONT>'))
    rows.append(_row(f'<FONT POINT-SIZE="8"{font}>'
                     f'{e(" | ".join([sub] + cost) if sub else " | ".join(cost))}</FONT>'))
    pen = ""
    if findings:
        sev = min((f.severity for f in findings), key=severity_rank)
        codes = sorted({f.code for f in findings})
        rows.append(_row(f'<FONT POINT-SIZE="8" COLOR="'
                         f'{SEVERITY_COLOURS.get(sev, "#c62828") if not dark else "white"}"><B>'
                         f'{e(", ".join(codes))}</B></FONT>'))
        pen = f', color="{SEVERITY_COLOURS.get(sev, "#c62828")}", penwidth=2.6'
    if status:
        hc = HIGHLIGHT_COLOURS.get(status, "#6a1b9a")
        rows.append(_row(f'<FONT POINT-SIZE="9" COLOR="{hc if not dark else "white"}"><B>'
                         f'{e(status)}</B></FONT>'))
        pen = f', color="{hc}", penwidth=4'
    label = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
             + "".join(rows) + "</TABLE>>")
    return (f'{un.id} [id={q(un.id)}, shape=box, fillcolor="{colour}", label={label}, '
            f'tooltip={q(_tooltip(un, nodes, macs, prms, findings))}{pen}];')


def _tooltip(un: Unit, nodes, macs: int, prms: int, findings) -> str:
    ms = un.members
    head, last = nodes[ms[0]], nodes[ms[-1]]
    return (f"{head.name if un.kind != 'group' else '.'.join(hier(head)[:len(un.cluster) + 1])}"
            f"{' (' + str(len(ms)) + ' layers)' if len(ms) > 1 else ''}\n"
            f"out {fmt.shape(last.out_shape)}\n{fmt.macs(macs)}\n{fmt.params(prms)}"
            + ("".join(f"\n{f.code}: {f.message}" for f in findings)))


# ----------------------------------------------------------------------------- clusters

def cluster_label(cp: tuple[str, ...], macs: int, prms: int,
                  fold: tuple[int, str] | None) -> str:
    """A module cluster's title with its summed numbers (per block when folded)."""
    if fold is not None:
        nfold, rng = fold
        title = f"{rng}  \u00d7{nfold} identical"
    else:
        title = ".".join(cp[-2:]) if cp[-1].isdigit() and len(cp) > 1 else cp[-1]
    per = " per block" if fold is not None else ""
    return (f'<<FONT POINT-SIZE="10"><B>{e(title)}</B></FONT>'
            f'<FONT POINT-SIZE="8" COLOR="#555555">  {e(fmt.macs(macs))}, '
            f'{e(fmt.params(prms))}{per}</FONT>>')


# ----------------------------------------------------------------------------- legend

def legend(grids: dict[int, "Stage"], findings, fills: Sequence[tuple[str, str]],
           title: str = "MAC share") -> str:
    """``fills``: (colour, share range) per bin of the drawing's scale."""
    rows = [f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{e(title)}</B></TD></TR>',
            '<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT POINT-SIZE="8">bins: equal numbers of the '
            'nodes drawn</FONT></TD></TR>']
    for colour, text in fills:
        rows.append(f'<TR><TD BGCOLOR="{colour}" WIDTH="14" BORDER="1"> </TD>'
                    f'<TD ALIGN="LEFT">{e(text)}</TD></TR>')
    rows.append(f'<TR><TD BGCOLOR="{NO_MACS}" WIDTH="14" BORDER="1"> </TD>'
                f'<TD ALIGN="LEFT">{"no MACs" if title == "MAC share" else "none"}</TD></TR>')
    if grids:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT"><B>stage: grid, effective stride'
                    '</B></TD></TR>')
        for s in sorted(grids):
            rows.append(f'<TR><TD BGCOLOR="{strip_colour(s)}" '
                        f'WIDTH="14" BORDER="1"><FONT POINT-SIZE="7">S{s}</FONT></TD>'
                        f'<TD ALIGN="LEFT">{e(grids[s].text)}</TD></TR>')
    sevs = sorted({f.severity for f in findings}, key=severity_rank)
    if sevs:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT"><B>findings (outline)</B></TD></TR>')
        for s in sevs:
            rows.append(f'<TR><TD BORDER="2" COLOR="{SEVERITY_COLOURS.get(s, "#c62828")}" '
                        f'WIDTH="14"> </TD><TD ALIGN="LEFT">{e(s)}</TD></TR>')
    return ('<<TABLE BORDER="1" COLOR="#bdbdbd" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
            + "".join(rows) + "</TABLE>>")
