"""Hand-built graphs for the rule tests: shapes, params and MACs written by formula here,
independently of the engine (so the rules are tested without tracing anything)."""
from __future__ import annotations

import math

from archlens.graph import INPUT, Graph, Node


def _out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


class Builder:
    def __init__(self, c: int, h: int, w: int, batch: int = 1):
        self.batch = batch
        self.nodes = [Node(name=INPUT, type="input", kind="input", module="", inputs=(),
                           in_shapes=(), out_shape=(batch, c, h, w))]

    def _shape(self, name: str) -> tuple[int, ...]:
        return next(nd.out_shape for nd in self.nodes if nd.name == name)

    def _add(self, **kw) -> str:
        shape = kw["out_shape"]
        kw.setdefault("activations", math.prod(shape))
        kw.setdefault("kind", "module")
        kw.setdefault("module", kw["name"].rsplit(".", 1)[0] if "." in kw["name"] else "")
        self.nodes.append(Node(**kw))
        return kw["name"]

    def conv(self, name, x, cout, k, s=1, p=0, groups=1, bias=False):
        kh, kw_ = (k, k) if isinstance(k, int) else k
        sh, sw = (s, s) if isinstance(s, int) else s
        ph, pw = (p, p) if isinstance(p, int) else p
        n, cin, h, w = self._shape(x)
        ho, wo = _out(h, kh, sh, ph), _out(w, kw_, sw, pw)
        params = kh * kw_ * (cin // groups) * cout + (cout if bias else 0)
        macs = n * ho * wo * kh * kw_ * (cin // groups) * cout
        return self._add(name=name, type="Conv2d", inputs=(x,), in_shapes=((n, cin, h, w),),
                         out_shape=(n, cout, ho, wo), kernel=(kh, kw_), stride=(sh, sw),
                         padding=(ph, pw), dilation=(1, 1), groups=groups, params=params,
                         macs=macs)

    def relu(self, name, x):
        s = self._shape(x)
        return self._add(name=name, type="ReLU", inputs=(x,), in_shapes=(s,), out_shape=s)

    def pool(self, name, x, k, s, p=0, type="MaxPool2d"):
        n, c, h, w = self._shape(x)
        ho, wo = _out(h, k, s, p), _out(w, k, s, p)
        return self._add(name=name, type=type, inputs=(x,), in_shapes=((n, c, h, w),),
                         out_shape=(n, c, ho, wo), kernel=(k, k), stride=(s, s),
                         padding=(p, p), dilation=(1, 1))

    def gap(self, name, x):
        n, c, h, w = self._shape(x)
        return self._add(name=name, type="AdaptiveAvgPool2d", inputs=(x,),
                         in_shapes=((n, c, h, w),), out_shape=(n, c, 1, 1))

    def flatten(self, name, x):
        s = self._shape(x)
        return self._add(name=name, type="Flatten", inputs=(x,), in_shapes=(s,),
                         out_shape=(s[0], math.prod(s[1:])))

    def linear(self, name, x, out, bias=True):
        s = self._shape(x)
        return self._add(name=name, type="Linear", inputs=(x,), in_shapes=(s,),
                         out_shape=(s[0], out), params=s[-1] * out + (out if bias else 0),
                         macs=s[0] * s[-1] * out)

    def cat(self, name, *xs):
        shapes = tuple(self._shape(x) for x in xs)
        c = sum(s[1] for s in shapes)
        n, _, h, w = shapes[0]
        return self._add(name=name, type="cat", kind="function", inputs=tuple(xs),
                         in_shapes=shapes, out_shape=(n, c, h, w))

    def add(self, name, a, b):
        s = self._shape(a)
        return self._add(name=name, type="add", kind="function", inputs=(a, b),
                         in_shapes=(s, self._shape(b)), out_shape=s)

    def graph(self, output: str | None = None) -> Graph:
        return Graph(nodes=tuple(self.nodes), outputs=(output or self.nodes[-1].name,))


def classifier(b: Builder, x: str, classes: int = 10) -> str:
    return b.linear("fc", b.flatten("flatten", b.gap("avgpool", x)), classes)
