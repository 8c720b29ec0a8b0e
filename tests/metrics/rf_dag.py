"""Small CNN DAGs described as data, built twice: as an ``nn.Module`` (for the gradient probe
and the tracer) and as a hand-made :class:`archlens.graph.Graph` whose geometry comes from the
spec itself, not from any tracer — so the analytic receptive field can be tested before and
independently of ``archlens.engine.trace_graph``.

A spec is a list of ops; op ``i`` produces node ``n{i}``; ``"x"`` is the input. Kinds:

``("conv", src, cout, (kh, kw), (sh, sw), (ph, pw), (dh, dw), groups)``
``("convT", src, cout, (kh, kw), (sh, sw), (ph, pw))``
``("maxpool" | "avgpool", src, (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode)``
``("pad", src, (left, right, top, bottom))``    ``("relu" | "bn", src)``
``("cat" | "add", [src, ...])``                  ``("gap", src)`` adaptive avg pool to 1x1
``("upsample", src, factor)`` nearest            ``("mulgate", src, gate_src)`` x * sigmoid(g)
"""
from __future__ import annotations

from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from archlens.graph import INPUT, Graph, Node

Spec = list[tuple]


def _srcs(op: tuple) -> list[str]:
    if op[0] in ("cat", "add"):
        return list(op[1])
    if op[0] == "mulgate":
        return [op[1], op[2]]
    return [op[1]]


class DagNet(nn.Module):
    """Executes a spec; ``acts`` holds every node's output of the last forward."""

    def __init__(self, spec: Spec, in_ch: int):
        super().__init__()
        self.spec = spec
        self.ops = nn.ModuleDict()
        ch = {"x": in_ch}
        for i, op in enumerate(spec):
            name, kind = f"n{i}", op[0]
            if kind == "conv":
                _, src, cout, k, s, p, d, g = op
                self.ops[name] = nn.Conv2d(ch[src], cout, k, s, p, d, g, bias=True)
                ch[name] = cout
            elif kind == "convT":
                _, src, cout, k, s, p = op
                self.ops[name] = nn.ConvTranspose2d(ch[src], cout, k, s, p)
                ch[name] = cout
            elif kind == "maxpool":
                _, src, k, s, p, d, ceil = op
                self.ops[name] = nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
                ch[name] = ch[src]
            elif kind == "avgpool":
                _, src, k, s, p, d, ceil = op
                self.ops[name] = nn.AvgPool2d(k, s, p, ceil_mode=ceil)
                ch[name] = ch[src]
            elif kind == "pad":  # functional in forward, so a tracer sees F.pad and its amounts
                ch[name] = ch[op[1]]
            elif kind == "relu":
                self.ops[name] = nn.ReLU()
                ch[name] = ch[op[1]]
            elif kind == "bn":
                self.ops[name] = nn.BatchNorm2d(ch[op[1]])
                ch[name] = ch[op[1]]
            elif kind == "gap":
                self.ops[name] = nn.AdaptiveAvgPool2d(1)
                ch[name] = ch[op[1]]
            elif kind == "upsample":
                self.ops[name] = nn.Upsample(scale_factor=op[2], mode="nearest")
                ch[name] = ch[op[1]]
            elif kind == "cat":
                ch[name] = sum(ch[s] for s in op[1])
            elif kind in ("add", "mulgate"):
                ch[name] = ch[op[1][0]] if kind == "add" else ch[op[1]]
            else:
                raise ValueError(kind)
        self.channels = ch
        self.acts: dict[str, torch.Tensor] = {}

    def forward(self, x):
        acts = {"x": x}
        for i, op in enumerate(self.spec):
            name, kind = f"n{i}", op[0]
            if kind == "cat":
                y = torch.cat([acts[s] for s in op[1]], dim=1)
            elif kind == "add":
                y = acts[op[1][0]]
                for s in op[1][1:]:
                    y = y + acts[s]
            elif kind == "mulgate":
                y = acts[op[1]] * torch.sigmoid(acts[op[2]])
            elif kind == "pad":
                y = F.pad(acts[op[1]], tuple(op[2]))
            else:
                y = self.ops[name](acts[op[1]])
            acts[name] = y
        self.acts = acts
        return acts[f"n{len(self.spec) - 1}"]


def build_graph(spec: Spec, net: DagNet, input_shape: tuple[int, int, int, int]) -> Graph:
    """A Graph with the spec's geometry; shapes from one real forward pass."""
    with torch.no_grad():
        net(torch.zeros(input_shape, dtype=next(net.parameters(), torch.zeros(1)).dtype))
    shp = {k: tuple(v.shape) for k, v in net.acts.items()}
    ref = {"x": INPUT}
    nodes = [Node(name=INPUT, type="input", kind="input", module="", inputs=(), in_shapes=(),
                  out_shape=tuple(input_shape))]
    for i, op in enumerate(spec):
        name, kind = f"n{i}", op[0]
        ref[name] = name
        srcs = _srcs(op)
        common = dict(name=name, module="", inputs=tuple(ref[s] for s in srcs),
                      in_shapes=tuple(shp[s] for s in srcs), out_shape=shp[name])
        if kind == "conv":
            _, _, _, k, s, p, d, g = op
            node = Node(type="Conv2d", kind="module", kernel=k, stride=s, padding=p, dilation=d,
                        groups=g, **common)
        elif kind == "convT":
            _, _, _, k, s, p = op
            node = Node(type="ConvTranspose2d", kind="module", kernel=k, stride=s, padding=p,
                        dilation=(1, 1), groups=1,
                        attrs=MappingProxyType({"transposed": True, "output_padding": (0, 0)}),
                        **common)
        elif kind in ("maxpool", "avgpool"):
            _, _, k, s, p, d, ceil = op
            node = Node(type="MaxPool2d" if kind == "maxpool" else "AvgPool2d", kind="module",
                        kernel=k, stride=s, padding=p, dilation=d,
                        attrs=MappingProxyType({"ceil_mode": ceil}), **common)
        elif kind == "pad":
            node = Node(type="pad", kind="function", attrs=MappingProxyType({"pad": op[2]}),
                        **common)
        elif kind == "gap":
            node = Node(type="AdaptiveAvgPool2d", kind="module",
                        attrs=MappingProxyType({"output_size": (1, 1)}), **common)
        elif kind == "upsample":
            node = Node(type="Upsample", kind="module",
                        attrs=MappingProxyType({"scale_factor": op[2], "mode": "nearest"}),
                        **common)
        elif kind == "mulgate":
            # the sigmoid of the gate, then the multiply: two nodes
            sig = Node(name=name + ".sigmoid", type="sigmoid", kind="function", module="",
                       inputs=(ref[op[2]],), in_shapes=(shp[op[2]],), out_shape=shp[op[2]])
            nodes.append(sig)
            common["inputs"] = (ref[op[1]], sig.name)
            node = Node(type="mul", kind="function", **common)
        else:  # relu, bn, cat, add
            node = Node(type={"relu": "ReLU", "bn": "BatchNorm2d"}.get(kind, kind),
                        kind="module" if kind in ("relu", "bn") else "function", **common)
        nodes.append(node)
    return Graph(nodes=tuple(nodes), outputs=(nodes[-1].name,))
