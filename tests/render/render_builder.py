"""A hand-built graph for renderer tests: shapes, params, MACs and receptive fields computed
here with the textbook formulas, independent of the engine, so renderer tests do not depend
on tracing and their numbers can be checked by hand.
"""
from __future__ import annotations

from archlens.analysis import Analysis, Finding, Totals
from archlens.graph import INPUT, Graph, Node, ReceptiveField


class GraphBuilder:
    """``b = GraphBuilder((3, 32, 32)); x = b.conv("stem.conv", b.input, 16, 3, 2, 1)``."""

    def __init__(self, chw: tuple[int, int, int]):
        self.nodes: list[Node] = []
        shape = (1, *chw)
        self.nodes.append(Node(name=INPUT, type="input", kind="input", module="", inputs=(),
                               in_shapes=(), out_shape=shape, activations=0,
                               rf=ReceptiveField((1, 1), (1, 1), (1, 1), (0, 0)), stage=0))
        self.grids: list[tuple[int, int]] = [chw[1:]]

    @property
    def input(self) -> str:
        return INPUT

    def _get(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def _stage(self, shape) -> int | None:
        if len(shape) != 4:
            return None
        hw = tuple(shape[2:])
        if hw not in self.grids:
            self.grids.append(hw)
        return self.grids.index(hw)

    def _add(self, **kw) -> str:
        out = kw["out_shape"]
        act = 1
        for d in out:
            act *= d
        ins = kw["in_shapes"]
        moved = kw.get("params", 0) + act + sum(_numel(s) for s in ins)
        kw.setdefault("activations", act)
        kw.setdefault("stage", self._stage(out))
        kw["intensity"] = kw.get("macs", 0) / (4 * moved) if moved else None
        self.nodes.append(Node(**kw))
        return kw["name"]

    def _window(self, name, type_, module, src, k, s, p, cout, params, macs_per_out, kind):
        x = self._get(src)
        n, c, h, w = x.out_shape
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        rf = x.rf
        size = tuple(rf.size[i] + (k - 1) * rf.stride[i] for i in range(2))
        stride = tuple(rf.stride[i] * s for i in range(2))
        pad = tuple(rf.padding[i] + p * rf.stride[i] for i in range(2))
        mins = tuple(rf.min_size[i] + (k - 1) * rf.stride[i] for i in range(2))
        out = (n, cout, ho, wo)
        return self._add(name=name, type=type_, kind=kind, module=module, inputs=(src,),
                         in_shapes=(x.out_shape,), out_shape=out, kernel=(k, k), stride=(s, s),
                         padding=(p, p), dilation=(1, 1), groups=1, params=params,
                         macs=macs_per_out * _numel(out),
                         rf=ReceptiveField(size, mins, stride, pad))

    def conv(self, name: str, src: str, cout: int, k: int, s: int = 1, p: int = 0) -> str:
        cin = self._get(src).out_shape[1]
        return self._window(name, "Conv2d", name, src, k, s, p, cout, cout * cin * k * k,
                            cin * k * k, "module")

    def pool(self, name: str, src: str, k: int, s: int, p: int = 0, op="max_pool2d",
             module: str = "") -> str:
        c = self._get(src).out_shape[1]
        return self._window(name, op, module, src, k, s, p, c, 0, 0, "function")

    def pointwise(self, name: str, src: str, type_: str = "BatchNorm2d") -> str:
        x = self._get(src)
        params = 2 * x.out_shape[1] if type_.startswith("BatchNorm") else 0
        kind = "module" if type_[0].isupper() else "function"
        module = name if kind == "module" else name.rsplit(".", 1)[0] if "." in name else ""
        return self._add(name=name, type=type_, kind=kind, module=module, inputs=(src,),
                         in_shapes=(x.out_shape,), out_shape=x.out_shape, params=params,
                         macs=_numel(x.out_shape) if type_.startswith("BatchNorm") else 0,
                         rf=x.rf)

    def merge(self, name: str, srcs: list[str], op: str = "cat") -> str:
        xs = [self._get(s) for s in srcs]
        shape = list(xs[0].out_shape)
        if op == "cat":
            shape[1] = sum(x.out_shape[1] for x in xs)
        size = tuple(max(x.rf.size[i] for x in xs) for i in range(2))
        mins = tuple(min(x.rf.min_size[i] for x in xs) for i in range(2))
        big = max(xs, key=lambda x: x.rf.size)
        aligned = len({(x.rf.padding[0] - (x.rf.size[0] - 1) / 2) for x in xs}) == 1
        return self._add(name=name, type=op, kind="function", module=name.rsplit(".", 1)[0],
                         inputs=tuple(srcs), in_shapes=tuple(x.out_shape for x in xs),
                         out_shape=tuple(shape), macs=0,
                         rf=ReceptiveField(size, mins, big.rf.stride, big.rf.padding, aligned))

    def linear(self, name: str, src: str, cout: int) -> str:
        x = self._get(src)
        cin = x.out_shape[-1]
        return self._add(name=name, type="Linear", kind="module", module=name, inputs=(src,),
                         in_shapes=(x.out_shape,), out_shape=(1, cout),
                         params=cin * cout + cout, macs=cin * cout, rf=None, stage=None)

    def flatten(self, name: str, src: str) -> str:
        x = self._get(src)
        return self._add(name=name, type="flatten", kind="function", module="",
                         inputs=(src,), in_shapes=(x.out_shape,),
                         out_shape=(1, _numel(x.out_shape)), rf=None, stage=None)

    def analysis(self, model: str = "toy", findings: tuple[Finding, ...] = ()) -> Analysis:
        g = Graph(nodes=tuple(self.nodes), outputs=(self.nodes[-1].name,))
        params = sum(n.params for n in g.layers)
        macs = sum(n.macs for n in g.layers)
        paper = sum(n.macs for n in g.layers if n.type in ("Conv2d", "Linear"))
        acts = sum(n.activations for n in g.layers)
        spatial = [n for n in g.layers if n.is_spatial]
        return Analysis(model=model, input_shape=self.nodes[0].out_shape, dtype="float32",
                        device="cpu", graph=g,
                        totals=Totals(params, params, macs, paper, acts, 4 * params,
                                      4 * max(n.activations for n in g.layers)),
                        feature_rf=spatial[-1].rf if spatial else None,
                        findings=tuple(findings))


def _numel(shape) -> int:
    out = 1
    for d in shape:
        out *= d
    return out


def conv_bn_relu(b: GraphBuilder, prefix: str, src: str, cout: int, k: int, s: int = 1,
                 p: int = 0) -> str:
    x = b.conv(f"{prefix}.conv", src, cout, k, s, p)
    x = b.pointwise(f"{prefix}.bn", x, "BatchNorm2d")
    return b.pointwise(f"{prefix}.relu", x, "relu")


def inception_block(b: GraphBuilder, prefix: str, src: str, width: int) -> str:
    """A 4-branch block: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 | pool -> 1x1, then cat."""
    b1 = conv_bn_relu(b, f"{prefix}.branch1x1", src, width, 1)
    b2 = conv_bn_relu(b, f"{prefix}.branch3x3_1", src, width, 1)
    b2 = conv_bn_relu(b, f"{prefix}.branch3x3_2", b2, width, 3, 1, 1)
    b3 = conv_bn_relu(b, f"{prefix}.dbl_1", src, width, 1)
    b3 = conv_bn_relu(b, f"{prefix}.dbl_2", b3, width, 3, 1, 1)
    b3 = conv_bn_relu(b, f"{prefix}.dbl_3", b3, width, 3, 1, 1)
    b4 = b.pool(f"{prefix}.avg_pool2d", src, 3, 1, 1, op="avg_pool2d", module=prefix)
    b4 = conv_bn_relu(b, f"{prefix}.branch_pool", b4, width, 1)
    return b.merge(f"{prefix}.cat", [b1, b2, b3, b4])


def toy_net(name: str = "toy", *, blocks: int = 3, evil: str | None = None,
            findings: bool = True) -> Analysis:
    """stem (3x3/2 conv) -> ``blocks`` identical inception blocks on 16x16 -> reduction pool
    -> one more block on 8x8 -> global pool -> fc. ``evil`` renames the first block."""
    b = GraphBuilder((3, 32, 32))
    x = conv_bn_relu(b, "stem", b.input, 32, 3, 2, 1)          # 1 x 32 x 16 x 16
    first = evil or "blocks.0"
    for i in range(blocks):
        x = inception_block(b, first if i == 0 else f"blocks.{i}", x, 8)  # 1 x 32 x 16 x 16
    x = b.pool("reduce", x, 2, 2, op="max_pool2d")              # 1 x 32 x 8 x 8
    x = inception_block(b, "head", x, 16)                        # 1 x 64 x 8 x 8
    x = b.pool("gap", x, 8, 8, op="avg_pool2d")                  # 1 x 64 x 1 x 1
    x = b.flatten("flatten", x)
    b.linear("fc", x, 10)
    fs = ()
    if findings:
        fs = (Finding("P1.bottleneck", "warning", ("reduce",), "representation drops 4x at "
                      "once", "32x16x16 -> 32x8x8 (4.0x fewer activations)",
                      fix="expand channels before pooling", saving=None),
              Finding("P3.factorize-3x3", "info", ("head.dbl_2.conv",),
                      "3x3 conv on 8x8 grid", "16 -> 16 channels", fix="use 1x3 + 3x1",
                      saving={"macs": 6144, "params": 768}))
    return b.analysis(name, fs)
