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
* feature RF: the gradient probe of ``tests/metrics/probe.py`` (float64, conv weights 1/fan_in,
  norms -> identity, max -> average pooling over the same windows) at the feature node, at the
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


def entries(torchvision_all: bool = True) -> list[Entry]:
    """Every torchvision classification builder, the timm families, segmentation and video
    models, and the Conv1d net."""
    out: list[Entry] = []
    if torchvision_all:
        tvm = tv()
        for name in tvm.list_models(module=tvm):
            shape = (3, 299, 299) if name == "inception_v3" else (3, 224, 224)
            out.append(Entry("torchvision", name, shape, family=name.rstrip("0123456789_")))
    for name, family in TIMM:
        out.append(Entry("timm", name, _timm_input(name), family=family))
    for name in SEGMENTATION:
        out.append(Entry("torchvision.segmentation", name, (3, 224, 224), family="segmentation"))
    for name in VIDEO:
        out.append(Entry("torchvision.video", name, (3, 8, 112, 112), family="video (Conv3d)"))
    out.append(Entry("local", "m5_conv1d", (1, 8000), family="audio (Conv1d)"))
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


def fvcore_macs(model: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    """fvcore's own total (MACs) and its unsupported ops, on the real model."""
    import logging

    from fvcore.nn import FlopCountAnalysis
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with mha_fastpath_off(), torch.no_grad():
        fca = (FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
               .uncalled_modules_warnings(False).tracer_warnings("none"))
        total = fca.total()
        return int(round(total)), dict(fca.unsupported_ops())


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


def _accepts(run, shape) -> bool:
    try:
        with torch.no_grad():
            run(torch.zeros(shape, dtype=torch.float64))
        return True
    except Exception:
        return False


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
    from tests.metrics.probe import prepare, probe
    frf = analysis.feature_rf
    status, reason = rf_status(frf)
    out: dict[str, Any] = {"node": None, "layout": None, "status": status, "reason": reason,
                           "size": list(frf.size) if frf is not None else None,
                           "probe": None, "expected": None, "how": ""}
    node, layout = feature_tensor(analysis)
    if node is None or len(shape) != 3:
        out["verdict"] = "not compared: " + ("no feature map" if node is None
                                             else "the probe is 2-D only")
        return out
    out.update(node=node.name, layout=layout)
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
    prepare(model)
    C, H, W = shape
    if status == "unknown":
        out["verdict"] = f"not compared: unknown ({reason or 'no reason given'})"
        return out
    if status == "exact" and not tokens:
        small = next((s for s in (32, 64, 96, 128) if _accepts(run, (1, C, s, s))), None)
        if small is not None:
            got, want = [], []
            for ax in (0, 1):
                big = frf.size[ax] + 4 * frf.stride[ax] + 8
                for _ in range(4):
                    shp = (1, C, big, small) if ax == 0 else (1, C, small, big)
                    if not _accepts(run, shp):
                        break
                    rows, cols, hw = probe(run, shp, axis=ax)
                    lo, hi = _window(frf, ax, hw[ax])
                    if 0 < lo and hi < big - 1:
                        break
                    big += max(-lo, hi - big, 0) * 2 + 2 * frf.stride[ax] + 8
                else:
                    rows = cols = None
                measured = (rows, cols)[ax] if rows is not None else None
                if measured is None or not _accepts(run, shp):
                    got = None
                    break
                got.append(list(measured))
                want.append([lo, hi])
            if got is not None:
                out.update(probe=got, expected=want, how=f"thin inputs ({small} px wide)")
                out["verdict"] = "equal" if got == want else "WRONG"
                return out
    rows, cols, hw = probe(run, (1, *shape))
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


def check(entry: Entry, *, report_dir=None, do_probe: bool = True, do_report: bool = True,
          do_fvcore: bool = True, cpu: bool = True) -> Row:
    """Run every comparison on one model (see module doc); never raises."""
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
            row.macs_fvcore, row.fvcore_unsupported = fvcore_macs(model, x)
            row.seconds["fvcore"] = time.perf_counter() - t
            row.adjust = fvcore_adjustments(a, row.fvcore_unsupported)
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
    if do_probe:
        try:
            t = time.perf_counter()
            row.rf = probe_feature(model, a, entry.input_shape)
            row.seconds["probe"] = time.perf_counter() - t
            if row.rf.get("verdict") == "WRONG":
                row.problems.append(f"feature RF {row.rf.get('size')} ({row.rf['status']}) "
                                    f"!= probe: window {row.rf['expected']} vs "
                                    f"{row.rf['probe']}")
        except Exception as e:
            row.rf = {"verdict": f"probe failed: {type(e).__name__}: {e}"[:200]}
            row.problems.append(row.rf["verdict"])
    row.seconds["total"] = time.perf_counter() - t0
    return row


def _sdpa_macs(nd) -> int:
    """``scaled_dot_product_attention(q, k, v)``: Q K^T and (softmax) V, two batched matmuls of
    ``B x heads x L x S x Dh`` MACs each (q: B x heads x L x Dh, k: B x heads x S x Dh)."""
    q, k = nd.in_shapes[0], nd.in_shapes[1]
    return 2 * math.prod(q[:-1]) * int(k[-2]) * int(q[-1])


# fvcore ops without a handle (listed in its unsupported_ops) that archlens counts: the
# reference adds them with a formula written here, from the recorded shapes, never from
# archlens's own count. Everything else must equal fvcore exactly.
FVCORE_UNCOUNTED = {
    "aten::scaled_dot_product_attention": ("scaled_dot_product_attention", _sdpa_macs),
}


def fvcore_adjustments(analysis, unsupported: dict[str, int]) -> dict[str, int]:
    """MACs of the ops fvcore left uncounted, per op, when archlens counts them (the engine
    counts these since the eager pass; before it, archlens took fvcore's numbers and there is
    nothing to add)."""
    out: dict[str, int] = {}
    for op, (node_type, formula) in FVCORE_UNCOUNTED.items():
        if not unsupported.get(op):
            continue
        nodes = [n for n in analysis.graph.layers if n.type == node_type]
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


__all__ = ["Entry", "Row", "entries", "check", "fvcore_macs", "probe_feature", "tv", "timm",
           "FVCORE_UNCOUNTED"]
