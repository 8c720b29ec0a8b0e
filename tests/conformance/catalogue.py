"""The conformance set: model definitions nobody on this project wrote (torchvision, timm), how
to build them, and the independent references each analysis is compared with.

torchvision's and timm's Python model definitions are test-only dependencies (``make setup``
installs them with ``--no-deps``, see the Makefile); archlens never imports them.
torchvision's compiled ops do not load against this CPU torch, so ``torch.library.register_fake``
is a no-op while ``torchvision.models`` is imported, then restored (timm after it).

References, per model (``check``):

* params: ``sum(p.numel() for p in model.parameters())``;
* MACs: fvcore's own ``FlopCountAnalysis(model, x).total()`` (its "flops" are MACs), run here
  on the real model, with PyTorch's fused ``nn.MultiheadAttention`` fast path switched off
  (``torch.backends.mha.set_fastpath_enabled(False)``) as archlens does; with the fast path on,
  fvcore sees one fused op under ``no_grad`` and drops the QKV and output projections;
* feature RF: the gradient probe of ``tests/metrics/probe.py`` (float64, jittered positive conv
  weights ``(1 + U[0, 1)) / fan_in``, in-place activations off, norms -> identity, max -> average pooling over the same windows) at the feature node, at the
  model's own input size: the centre unit's input support must equal the analytic window
  clipped to the image, a ``global`` field must see the whole image, and an ``unknown`` one
  must say why;
* ``archlens report`` (``api.report``, no PNG) must write its folder.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

_IMPORTED: dict[str, Any] = {}


def tv():
    """``torchvision.models`` (pure Python), imported with the register_fake patch."""
    if "tv" not in _IMPORTED:
        real = torch.library.register_fake
        torch.library.register_fake = lambda *a, **k: (lambda f: f)
        try:
            import torchvision.models as tvm
            import torchvision.models.segmentation  # noqa: F401
            import torchvision.models.video  # noqa: F401
        finally:
            torch.library.register_fake = real
        _IMPORTED["tv"] = tvm
    return _IMPORTED["tv"]


def timm():
    if "timm" not in _IMPORTED:
        tv()  # torchvision first (timm imports it), under the patch
        import timm as _timm
        _IMPORTED["timm"] = _timm
    return _IMPORTED["timm"]


@dataclass(frozen=True)
class Entry:
    """One conformance model: ``source`` (torchvision | timm | torchvision.segmentation |
    torchvision.video | local), its builder name and the input it is analysed at (C, H, W) or
    (C, T, H, W)."""

    source: str
    name: str
    input_shape: tuple[int, ...]
    family: str = ""
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}:{self.name}"

    def build(self) -> nn.Module:
        torch.manual_seed(0)
        if self.source == "timm":
            m = timm().create_model(self.name, pretrained=False)
        elif self.source == "local":
            m = LOCAL[self.name]()
        else:
            tvm = tv()
            kw = {"weights": None}
            if self.source == "torchvision.segmentation":
                kw["weights_backbone"] = None
                kw["aux_loss"] = False
            m = tvm.get_model(self.name, **kw)
        return m.eval()


# ----------------------------------------------------------------------------------------
# the set
# ----------------------------------------------------------------------------------------

# timm: >= 30 families, small variants, CNNs and hybrids (one per family)
TIMM = [
    ("resnet18", "resnet"), ("resnest14d", "resnest"), ("regnetx_002", "regnet"),
    ("regnety_002", "regnet (SE)"), ("efficientnet_b0", "efficientnet"),
    ("tf_efficientnet_b0", "efficientnet (TF same padding)"),
    ("mobilenetv3_small_100", "mobilenetv3"), ("convnext_atto", "convnext"),
    ("swin_tiny_patch4_window7_224", "swin"), ("vit_tiny_patch16_224", "vit"),
    ("maxvit_tiny_tf_224", "maxvit"), ("nasnetalarge", "nasnet"), ("pnasnet5large", "pnasnet"),
    ("hrnet_w18_small", "hrnet"), ("dla34", "dla"), ("dpn48b", "dpn"), ("ghostnet_100", "ghostnet"),
    ("mobilevit_xxs", "mobilevit"), ("skresnet18", "sknet"), ("seresnext26d_32x4d", "senet"),
    ("cspresnet50", "cspnet"), ("xception41", "xception"), ("inception_v4", "inception-v4"),
    ("densenet121", "densenet"), ("rexnet_100", "rexnet"), ("mnasnet_100", "mnasnet"),
    ("lcnet_050", "lcnet"), ("repvgg_a0", "repvgg"), ("res2net50_14w_8s", "res2net"),
    ("ese_vovnet19b_dw", "vovnet"), ("nf_resnet26", "nfnet (scaled WS conv)"),
    ("resnetv2_50x1_bit", "bit (StdConv + GroupNorm)"), ("botnet26t_256", "botnet (attention)"),
    ("levit_128s", "levit (hybrid)"), ("poolformer_s12", "metaformer"),
    ("mixer_s16_224", "mlp-mixer"), ("deit_tiny_patch16_224", "deit"),
    ("edgenext_xx_small", "edgenext (hybrid)"), ("gernet_s", "gernet"),
    ("tf_mixnet_s", "mixnet (TF same padding)"), ("selecsls42b", "selecsls"),
    ("sequencer2d_s", "sequencer (BiLSTM along H and W)"),
]

SEGMENTATION = ["fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
VIDEO = ["r3d_18", "mc3_18", "r2plus1d_18"]


class AudioConv1d(nn.Module):
    """A 1-D conv net on a raw waveform in the shape of M5 (Dai et al. 2017: 80-wide strided
    first conv, then 3-wide convs and pooling); there is no Conv1d classification model in
    torchvision or timm, so this one is written here, from the paper's layer table."""

    def __init__(self, classes: int = 35, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i, (k, s, c) in enumerate([(80, 16, width), (3, 1, width), (3, 1, 2 * width),
                                       (3, 1, 4 * width)]):
            layers += [nn.Conv1d(cin, c, k, s), nn.BatchNorm1d(c), nn.ReLU(), nn.MaxPool1d(4)]
            cin = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean(-1))


LOCAL: dict[str, Callable[[], nn.Module]] = {"m5_conv1d": AudioConv1d}


def _timm_input(name: str) -> tuple[int, int, int]:
    cfg = timm().get_pretrained_cfg(name)
    size = tuple(getattr(cfg, "input_size", None) or (3, 224, 224)) if cfg else (3, 224, 224)
    return tuple(int(s) for s in size)  # type: ignore[return-value]


# the largest torchvision variants run last (the full run is long on a small machine)
_BIG = ("vit_h", "vit_l", "regnet_y_128gf", "regnet_y_32gf", "regnet_x_32gf", "regnet_y_16gf",
        "regnet_x_16gf", "convnext_large", "convnext_base", "efficientnet_v2_l",
        "efficientnet_v2_m", "efficientnet_b7", "efficientnet_b6", "efficientnet_b5", "swin_b",
        "swin_v2_b", "resnext101", "wide_resnet101", "vgg19", "vit_b", "swin_v2_s", "swin_s")
# models that only take their own input size
_FIXED = ("vit_", "swin", "maxvit")


def entries(torchvision_all: bool = True) -> list[Entry]:
    """The timm families, segmentation, video and Conv1d models, then every torchvision
    classification builder (small before large). torchvision CNNs run at 160x160 (they take
    any size; MACs are compared with fvcore at the same size, the RF probe uses its own
    inputs), transformers at the size they require, timm models at their configured size."""
    out: list[Entry] = []
    for name, family in TIMM:
        out.append(Entry("timm", name, _timm_input(name), family=family))
    for name in SEGMENTATION:
        out.append(Entry("torchvision.segmentation", name, (3, 160, 160), family="segmentation"))
    for name in VIDEO:
        out.append(Entry("torchvision.video", name, (3, 8, 112, 112), family="video (Conv3d)"))
    out.append(Entry("local", "m5_conv1d", (1, 8000), family="audio (Conv1d)"))
    if torchvision_all:
        tvm = tv()
        names = tvm.list_models(module=tvm)
        names = ([n for n in names if not n.startswith(_BIG)]
                 + [n for n in names if n.startswith(_BIG)])
        for name in names:
            shape = (3, 224, 224) if name.startswith(_FIXED) else (3, 160, 160)
            out.append(Entry("torchvision", name, shape, family=name.rstrip("0123456789_")))
    return out


# ----------------------------------------------------------------------------------------
# references
# ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def mha_fastpath_off() -> Iterator[None]:
    be = getattr(torch.backends, "mha", None)
    if be is None or not hasattr(be, "set_fastpath_enabled"):
        yield
        return
    was = be.get_fastpath_enabled()
    be.set_fastpath_enabled(False)
    try:
        yield
    finally:
        be.set_fastpath_enabled(was)


def reference_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def einsum_macs_exact(equation: str, shapes: list[tuple[int, ...]]) -> int | None:
    """MACs of a two-operand einsum: the product of the sizes of every index (each output
    element sums over the contracted ones); None for other forms (ellipsis, 3+ operands)."""
    eq = equation.replace(" ", "")
    lhs = eq.split("->")[0].split(",")
    if len(lhs) != 2 or "." in eq or any(len(t) != len(sh) for t, sh in zip(lhs, shapes)):
        return None
    size: dict[str, int] = {}
    for t, sh in zip(lhs, shapes):
        for c, n in zip(t, sh):
            size[c] = max(size.get(c, 1), int(n))
    return math.prod(size.values())


def fvcore_macs(model: nn.Module, x: torch.Tensor
                ) -> tuple[int, dict[str, int], dict[str, int]]:
    """fvcore's own total (MACs), its unsupported ops, and the correction of its einsum
    rounding, on the real model.

    fvcore's generic ``aten::einsum`` handle (every equation but two matmul forms) reads the
    count from the report string of ``numpy.einsum_path``, which prints it with four significant
    digits (``Optimized FLOP count: 1.967e+07``): a rounded number (MaxViT's window attention,
    1 x 64 x 2 x 49 x 49 x 32 = 9,834,496 MACs, comes out as 9,835,000). The handle is wrapped
    here: fvcore's own value still makes its total, and the exact count (the product of the
    index sizes, from the shapes fvcore traced) minus fvcore's is returned per op as the
    correction ``{"aten::einsum": d}`` (only when non-zero)."""
    import logging

    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import einsum_flop_jit, get_shape
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    rounding: list[int] = []

    def einsum_handle(inputs, outputs):
        theirs = einsum_flop_jit(inputs, outputs)
        shapes = [get_shape(v) for v in inputs[1].node().inputs()]
        exact = einsum_macs_exact(str(inputs[0].toIValue()), shapes)
        if exact is not None:
            rounding.append(exact - int(theirs))
        return theirs

    with mha_fastpath_off(), torch.no_grad():
        fca = (FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
               .uncalled_modules_warnings(False).tracer_warnings("none")
               .set_op_handle("aten::einsum", einsum_handle))
        total = fca.total()
        corr = {"aten::einsum": sum(rounding)} if sum(rounding) else {}
        return int(round(total)), dict(fca.unsupported_ops()), corr


def rf_status(rf) -> tuple[str, str]:
    """(status, reason) of a receptive field: ``rf``'s own when the engine gives one, else
    ``exact`` for a number and ``unknown`` for None."""
    if rf is None:
        return "unknown", "no receptive field"
    return (str(getattr(rf, "status", "exact") or "exact"),
            str(getattr(rf, "reason", "") or ""))


def feature_tensor(analysis):
    """The network's feature tensor, chosen independently of the receptive-field code: the
    last node on the main path (gates left out) whose output still has more than one position
    (a spatial map, a channels-last map, or tokens), with its layout."""
    from archlens.checks._common import Context
    ctx = Context.of(analysis.graph)
    nd = ctx.last_positional
    return (None, None) if nd is None else (nd, ctx.layout.get(nd.name))


def _runner(model: nn.Module, graph, name: str):
    """Capture node ``name``'s tensor on the real model: a module's output, else the input of
    the module that reads it, else the output of the module whose last op it is."""
    from tests.metrics.probe import capture_runner

    def call(n: str) -> int:
        return int(n.rsplit("#", 1)[1]) if "#" in n else 1

    node = graph[name]
    run = _capture(model, graph, node, call, capture_runner)
    if run is None:
        return None

    def tensor(x):                      # segmentation models return {"out": ..., "aux": ...}
        y = run(x)
        if isinstance(y, dict):
            y = y["out"] if "out" in y else next(iter(y.values()))
        return y[0] if isinstance(y, (tuple, list)) else y
    return tensor


def _capture(model, graph, node, call, capture_runner):
    name = node.name
    if node.kind == "module":
        return capture_runner(model, node.module_path, call(name))
    for succ in graph.successors(name):
        s = graph[succ]
        if s.kind == "module" and s.inputs and s.inputs[0] == name:
            return capture_runner(model, s.module_path, call(succ), pre=True)
    later = [n for n in graph.nodes[graph.position(name) + 1:] if n.module == node.module]
    if later:
        return None
    return capture_runner(model, node.module, 1)


def _window(frf, ax: int, n_units: int) -> tuple[int, int]:
    """The analytic input window of the centre unit (of ``n_units``) on axis ``ax``."""
    c = (n_units - 1) // 2
    lo = c * frf.stride[ax] - frf.padding[ax]
    return lo, lo + frf.size[ax] - 1


def _thin_length(n: int, size: int, stride: Any) -> int:
    """The smallest length >= ``n`` congruent to ``size`` (the analysed length of the axis)
    modulo lcm(32, the feature stride): a thin input must give every layer the padding it
    had in the analysis. TF "same" padding (timm's ``pad_type='same'``: NASNet, PNASNet, the
    ``tf_*`` models) computes its amounts from each layer's input size, so a stride-2 layer pads
    differently on an odd and an even map, and the window of the analysed size (NASNet-A at 331
    px) would be compared with that of another size, 20 px away (CI's 2026-12-03 full run).
    Keeping the residue modulo 32 also keeps what the analysed size already satisfied
    (divisibility by the total stride or a window)."""
    m = 32
    if isinstance(stride, int) or (hasattr(stride, "denominator") and stride.denominator == 1):
        m = math.lcm(32, int(stride))
    return size + max(0, -(-(n - size) // m)) * m


def _accepts(run, shape) -> bool:
    try:
        with torch.no_grad():
            run(torch.zeros(shape, dtype=torch.float64))
        return True
    except Exception:
        return False


_NORMS = tuple(c for c in (getattr(nn.modules.batchnorm, "_NormBase", None), nn.LayerNorm,
                           nn.GroupNorm, nn.LocalResponseNorm, getattr(nn, "RMSNorm", None))
               if c is not None)


PROBE_JITTER_SEED = 0


def prepare(model: nn.Module, keep_norms: bool = False) -> nn.Module:
    """The probe's preparation (``tests/metrics/probe.py``: float64, eval, positive weights
    ``(1 + U[0, 1)) / fan_in`` (``jitter``, as tests/metrics/test_rf_modern.py), zero biases,
    in-place activations off) with the norms made identities *in place*, not swapped for ``Identity``:
    batch norms get identity statistics (their fused activation, timm's ``BatchNormAct2d``,
    still runs and can be hooked), other norms skip their normalisation on the instance; only
    real torch norm classes are touched (torchvision's ``Conv2dNormActivation`` has "Norm" in
    its name but is a conv block)."""
    from tests.metrics.probe import prepare as _prepare
    import torch.nn.functional as F
    bn = nn.modules.batchnorm._BatchNorm
    for m in model.modules():
        # activations that saturate on the probe's growing positive values (residual sums
        # pass 6 after a few blocks) would cut the gradient: same support, no saturation
        if isinstance(m, (nn.ReLU6, nn.Hardtanh)):
            m.forward = F.relu                                    # type: ignore[method-assign]
        elif isinstance(m, nn.Hardsigmoid):
            m.forward = torch.sigmoid                             # type: ignore[method-assign]
        elif isinstance(m, nn.Hardswish):
            m.forward = F.silu                                    # type: ignore[method-assign]
        elif (isinstance(m, nn.Conv2d) and type(m) is not nn.Conv2d
              and "std" in type(m).__name__.lower() and not getattr(m, "same_pad", False)):
            # weight standardisation turns the constant probe weights into 0/0: plain conv
            m.forward = (lambda x, _m=m: F.conv2d(               # type: ignore[method-assign]
                x, _m.weight, _m.bias, _m.stride, _m.padding, _m.dilation, _m.groups))

        if isinstance(m, bn):           # eval-mode identity: mean 0, var 1, eps 0, affine 1, 0
            m.eps = 0.0
            if m.running_mean is not None:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
            if m.weight is not None:
                with torch.no_grad():
                    m.weight.fill_(1.0)
        elif isinstance(m, _NORMS) and not keep_norms:  # skip the statistics, keep the act
            act = getattr(m, "act", None)
            m.forward = ((lambda x, *a, _act=act, **k: _act(x)) if isinstance(act, nn.Module)
                         else (lambda x, *a, **k: x.clone()))     # type: ignore[method-assign]
    # the shared prepare swaps every child whose class name contains "Norm" for Identity:
    # hide the names from it (the norms are identities already, the conv blocks stay)
    renamed = [m for m in model.modules() if "Norm" in type(m).__name__]
    with _plain_class_names(renamed):
        # the same unequal positive weights as the probe's own fixtures (jitter): a softmax gate
        # over equal branches (ResNeSt's split attention, SK) cancels exactly on equal weights
        # and the probe would miss the gate's global path (timm resnest14d read as WRONG)
        return _prepare(model, jitter=PROBE_JITTER_SEED, keep_norms=keep_norms)


@contextlib.contextmanager
def _plain_class_names(mods: list[nn.Module]) -> Iterator[None]:
    """Give each module a throwaway subclass whose name has no "Norm" while ``prepare`` runs."""
    old = [(m, type(m)) for m in mods]
    made: dict[type, type] = {}
    for m, cls in old:
        if cls not in made:
            made[cls] = type(cls.__name__.replace("Norm", "Nrm"), (cls,), {})
        m.__class__ = made[cls]
    try:
        yield
    finally:
        for m, cls in old:
            m.__class__ = cls


def probe_feature(model: nn.Module, analysis, shape: tuple[int, ...]) -> dict[str, Any]:
    """Probe the feature tensor and compare it with ``analysis.feature_rf`` (the number a user
    sees), see the module doc.

    An ``exact`` field is probed per axis on a long, thin input (the axis ``size + 4 x stride +
    8`` px long, grown until the centre window lies inside it, the other axis as thin as the
    model accepts), so the whole window is measured, not its crop by the image; a model that
    only takes its own size (ViT, Swin) is probed there and the window compared clipped to the
    image. A ``global`` field must reach the whole image. On a token tensor (no grid) the
    middle token's support must fit in the claimed size.

    Returns ``{"node", "layout", "status", "reason", "size", "probe", "expected", "how",
    "verdict"}``, verdict ``equal`` | ``WRONG`` | ``consistent`` | ``not compared: why``."""
    from tests.metrics.probe import probe
    frf = analysis.feature_rf
    status, reason = rf_status(frf)
    out: dict[str, Any] = {"node": None, "layout": None, "status": status, "reason": reason,
                           "size": list(frf.size) if frf is not None and frf.size is not None else None,
                           "probe": None, "expected": None, "how": ""}
    node, layout = feature_tensor(analysis)
    if node is None or len(shape) != 3:
        out["verdict"] = "not compared: " + ("no feature map" if node is None
                                             else "the probe is 2-D only")
        return out
    out.update(node=node.name, layout=layout)
    # a global claim is checked with the norms real (GroupNorm / InstanceNorm statistics over
    # the map are one way a field becomes global; they can only add support), an exact one
    # with the norms as identities (their statistics would cover the whole map)
    keep = status == "global"
    prepare(model, keep_norms=keep)  # first: it swaps norms for Identity, hooks go on what runs
    run = _runner(model, analysis.graph, node.name)
    if run is None:
        out["verdict"] = f"not compared: cannot capture {node.name} with a hook"
        return out
    tokens = layout not in ("nchw", "nhwc")
    if layout == "nhwc":
        inner = run
        run = lambda x: inner(x).permute(0, 3, 1, 2)            # noqa: E731
    elif tokens:
        inner = run

        def run(x):                                             # middle token as a 1x1 map
            y = inner(x)
            y = y.reshape(y.shape[0], -1, y.shape[-1])
            return y[:, y.shape[1] // 2, :, None, None]
    C, H, W = shape
    if status == "unknown":
        out["verdict"] = f"not compared: unknown ({reason or 'no reason given'})"
        return out
    if status == "exact" and not tokens:
        small = next((s for s in (64, 128, 224) if _accepts(run, (1, C, s, s))), None)
        if small is not None:
            got, want = [], []
            for ax in (0, 1):
                big = _thin_length(frf.size[ax] + 4 * frf.stride[ax] + 8, (H, W)[ax],
                                  frf.stride[ax])
                measured = None
                for _ in range(4):
                    shp = (1, C, big, small) if ax == 0 else (1, C, small, big)
                    if not _accepts(run, shp):
                        break
                    rows, cols, hw = probe(run, shp, axis=ax)
                    lo, hi = _window(frf, ax, hw[ax])
                    measured = (rows, cols)[ax]
                    if 0 < lo and hi < big - 1:
                        break
                    measured = None
                    big = _thin_length(big + max(-lo, hi - big, 0) * 2 + 2 * frf.stride[ax] + 8,
                                      (H, W)[ax], frf.stride[ax])
                if measured is None:
                    got = None
                    break
                got.append(list(measured))
                want.append([lo, hi])
            if got is not None:
                out.update(probe=got, expected=want, how=f"thin inputs ({small} px wide)")
                out["verdict"] = "equal" if got == want else "WRONG"
                return out
    rows, cols, hw = probe(run, (1, *shape), keep_norms=keep)
    out["probe"] = [list(rows), list(cols)]
    out["how"] = f"own input {H}x{W}"
    if status == "global":
        want = [[0, H - 1], [0, W - 1]]
    elif tokens:
        ext = [rows[1] - rows[0] + 1, cols[1] - cols[0] + 1]
        out["expected"] = f"extent <= {list(frf.size)}"
        out["verdict"] = ("consistent (token position unknown)"
                          if ext[0] <= frf.size[0] and ext[1] <= frf.size[1] else "WRONG")
        return out
    else:
        want = [[max(lo, 0), min(hi, n - 1)] for lo, hi, n in
                (_window(frf, 0, hw[0]) + (H,), _window(frf, 1, hw[1]) + (W,))]
        out["how"] += ", window clipped to the image"
    out["expected"] = want
    out["verdict"] = "equal" if [list(rows), list(cols)] == want else "WRONG"
    return out


@dataclass
class Row:
    key: str
    family: str
    input_shape: tuple[int, ...]
    ok: bool = False
    error: str = ""
    params: int | None = None
    params_ref: int | None = None
    macs: int | None = None
    macs_meta: int | None = None
    macs_fvcore: int | None = None
    fvcore_unsupported: dict[str, int] = field(default_factory=dict)
    adjust: dict[str, int] = field(default_factory=dict)
    rf: dict[str, Any] = field(default_factory=dict)
    report: str = ""
    findings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "pass" if self.ok and not self.problems else "FAIL"


class _Timeout(BaseException):
    """The probe's wall-clock budget ran out. A BaseException, so that no ``except Exception``
    on the way (``_accepts``, a model's own fallback code) can swallow it: swallowed inside
    ``_accepts``, a thin-input probe that ran out of time became "input not accepted", and
    the harness fell back to the image-clipped comparison (torchvision inception_v3 was
    reported WRONG under load; on a quiet machine its thin probe is equal)."""


@contextlib.contextmanager
def _time_limit(seconds: int | None) -> Iterator[None]:
    """Raise :class:`_Timeout` after ``seconds`` of wall-clock (SIGALRM; None: no limit)."""
    import signal
    if not seconds:
        yield
        return

    def fire(signum, frame):
        raise _Timeout()
    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _rf_claim(a) -> dict[str, Any]:
    status, reason = rf_status(a.feature_rf)
    return {"status": status, "reason": reason,
            "size": (list(a.feature_rf.size) if a.feature_rf is not None
                     and a.feature_rf.size is not None else None)}


def check(entry: Entry, *, report_dir=None, do_probe: bool = True, do_report: bool = True,
          do_fvcore: bool = True, cpu: bool = True, probe_seconds: int | None = None) -> Row:
    """Run every comparison on one model (see module doc); never raises. ``probe_seconds``
    caps the probe (the full run's budget; a capped probe is reported as not run, and the
    largest variants are not probed then)."""
    from archlens import api
    row = Row(entry.key, entry.family, entry.input_shape)
    t0 = time.perf_counter()
    try:
        model = entry.build()
    except Exception as e:  # a builder that does not run here is reported, not hidden
        row.error = f"build: {type(e).__name__}: {e}"[:300]
        return row
    row.seconds["build"] = time.perf_counter() - t0
    row.params_ref = reference_params(model)
    try:
        t = time.perf_counter()
        meta = api.analyze(model, entry.input_shape, device="meta", checks=True)
        row.seconds["analyze_meta"] = time.perf_counter() - t
        row.macs_meta = meta.totals.macs
        a = meta
        if cpu:
            t = time.perf_counter()
            a = api.analyze(model, entry.input_shape, device="cpu", checks=True)
            row.seconds["analyze_cpu"] = time.perf_counter() - t
        row.params, row.macs = a.totals.params, a.totals.macs
        row.findings = sorted({f.code for f in a.findings})
    except Exception as e:
        row.error = f"analyze: {type(e).__name__}: {e}"[:300]
        return row
    row.ok = True
    if row.params != row.params_ref:
        row.problems.append(f"params {row.params:,} != {row.params_ref:,}")
    if cpu and row.macs_meta != row.macs:
        row.problems.append(f"MACs meta {row.macs_meta:,} != cpu {row.macs:,}")
    if do_fvcore:
        try:
            t = time.perf_counter()
            x = torch.zeros((1, *entry.input_shape))
            row.macs_fvcore, row.fvcore_unsupported, rounding = fvcore_macs(model, x)
            row.seconds["fvcore"] = time.perf_counter() - t
            row.adjust = {**fvcore_adjustments(a, row.fvcore_unsupported), **rounding}
            ref = row.macs_fvcore + sum(row.adjust.values())
            if ref != row.macs:
                row.problems.append(f"MACs {row.macs:,} != fvcore {row.macs_fvcore:,}"
                                    + (f" + {sum(row.adjust.values()):,} ({', '.join(row.adjust)})"
                                       if row.adjust else ""))
        except Exception as e:
            row.problems.append(f"fvcore: {type(e).__name__}: {e}"[:200])
    if do_report:
        import io
        import tempfile
        from pathlib import Path

        from rich.console import Console
        try:
            t = time.perf_counter()
            with tempfile.TemporaryDirectory(dir=report_dir) as d:
                out = api.report(a, Path(d) / "r", png=False,
                                 console=Console(file=io.StringIO()))
                files = sorted(p.name for p in Path(out).iterdir())
            row.seconds["report"] = time.perf_counter() - t
            row.report = f"ok ({len(files)} files)"
        except Exception as e:
            row.report = f"failed: {type(e).__name__}: {e}"[:200]
            row.problems.append("report " + row.report)
    if do_probe and probe_seconds and entry.name.startswith(_BIG):
        row.rf = {"verdict": "not run: large variant (its family is probed on a small one)",
                  **_rf_claim(a)}
    elif do_probe:
        try:
            t = time.perf_counter()
            with _time_limit(probe_seconds):
                row.rf = probe_feature(model, a, entry.input_shape)
            row.seconds["probe"] = time.perf_counter() - t
            if row.rf.get("verdict") == "WRONG":
                row.problems.append(f"feature RF {row.rf.get('size')} ({row.rf['status']}) "
                                    f"!= probe: window {row.rf['expected']} vs "
                                    f"{row.rf['probe']}")
        except _Timeout:
            row.rf = {"verdict": f"not run: probe over its {probe_seconds} s budget "
                                 "(float64 convs on CPU)", **_rf_claim(a)}
        except Exception as e:
            row.rf = {"verdict": f"probe failed: {type(e).__name__}: {e}"[:200], **_rf_claim(a)}
            row.problems.append(row.rf["verdict"])
    row.seconds["total"] = time.perf_counter() - t0
    return row


def _sdpa_macs(nd) -> int:
    """``scaled_dot_product_attention(q, k, v)``: Q K^T and (softmax) V, two batched matmuls of
    ``B x heads x L x S x Dh`` MACs each (q: B x heads x L x Dh, k: B x heads x S x Dh).

    ``nn.MultiheadAttention`` (one opaque node in archlens; with the fused fast path off, as
    both counters run it, it projects with ``linear`` -- counted by fvcore -- and calls the same
    SDPA, which fvcore lists as unsupported): ``2 x N x L x S x E`` (heads x Dh = E), from the
    query (L, N, E) / batch_first (N, L, E) / unbatched (L, E) and key shapes."""
    q, k = nd.in_shapes[0], nd.in_shapes[1]
    if nd.base_type == "MultiheadAttention":
        if len(q) == 2:
            n, lq, e, s = 1, q[0], q[1], k[0]
        elif nd.attrs.get("batch_first"):
            n, lq, e, s = q[0], q[1], q[2], k[1]
        else:
            lq, n, e, s = q[0], q[1], q[2], k[0]
        return 2 * int(n) * int(lq) * int(s) * int(e)
    return 2 * math.prod(q[:-1]) * int(k[-2]) * int(q[-1])


# fvcore ops without a handle (listed in its unsupported_ops) that archlens counts: the
# reference adds them with a formula written here, from the recorded shapes, never from
# archlens's own count. Everything else must equal fvcore exactly.
def _pool3d_macs(nd) -> int:
    """``adaptive_avg_pool3d``: one addition per input element, fvcore's own convention for
    ``adaptive_avg_pool2d`` (which it has a handle for) carried to the 3-D op (which it
    has not)."""
    return math.prod(nd.in_shapes[0])


def _lstm_macs(nd) -> int:
    """``nn.LSTM`` (fvcore has no handle for ``aten::lstm``), the paper arithmetic per step and
    batch element: each layer and direction multiplies its input (I for the first layer, then
    dirs x P) and its hidden state (P = proj_size or H) by four gates' weights (4H each), plus
    the projection (P x H) when there is one."""
    x = nd.in_shapes[0]
    steps = math.prod(x[:-1])
    h, proj = int(nd.attrs["hidden_size"]), int(nd.attrs.get("proj_size") or 0)
    p = proj or h
    dirs = 2 if nd.attrs.get("bidirectional") else 1
    total, i = 0, int(x[-1])
    for _ in range(int(nd.attrs["num_layers"])):
        total += dirs * (4 * h * i + 4 * h * p + (p * h if proj else 0))
        i = dirs * p
    return steps * total


FVCORE_UNCOUNTED = {
    "aten::scaled_dot_product_attention": (("scaled_dot_product_attention",
                                            "MultiheadAttention"), _sdpa_macs),
    "aten::adaptive_avg_pool3d": (("adaptive_avg_pool3d", "AdaptiveAvgPool3d"), _pool3d_macs),
    "aten::lstm": (("LSTM",), _lstm_macs),
}


def fvcore_adjustments(analysis, unsupported: dict[str, int]) -> dict[str, int]:
    """MACs of the ops fvcore left uncounted, per op, when archlens counts them (the engine
    counts these since the eager pass; before it, archlens took fvcore's numbers and there is
    nothing to add)."""
    out: dict[str, int] = {}
    for op, (node_types, formula) in FVCORE_UNCOUNTED.items():
        if not unsupported.get(op):
            continue
        nodes = [n for n in analysis.graph.layers
                 if n.type in node_types or n.base_type in node_types]
        if nodes and all(n.macs > 0 for n in nodes):
            out[op] = sum(formula(n) for n in nodes)
    return out


def fmt_int(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def mac_delta(row: Row) -> str:
    if row.macs is None or row.macs_fvcore is None:
        return "-"
    if row.macs == row.macs_fvcore:
        return "="
    d = row.macs - row.macs_fvcore
    return f"{d:+,} ({100 * d / row.macs_fvcore:+.2f} %)" if row.macs_fvcore else f"{d:+,}"


__all__ = ["Entry", "Row", "entries", "check", "fvcore_macs", "einsum_macs_exact",
           "probe_feature", "tv", "timm",
           "FVCORE_UNCOUNTED"]
