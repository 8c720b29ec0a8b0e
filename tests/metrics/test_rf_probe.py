"""The analytic receptive field must EQUAL a gradient probe (see ``probe.py``), window for window.

The probe measures the input rows and columns that reach the centre output unit; the analytic
field predicts that window as ``[c*stride - padding, c*stride - padding + size - 1]`` (``c`` the
centre unit), so one comparison checks size, stride and padding at once. Two kinds of networks:

* >= 50 random small CNN DAGs (hypothesis): strided / padded / dilated convs and pools
  (max and avg, ceil_mode), Inception-style branches with asymmetric kernels (1x7, 7x1),
  grouped convs, concat, residual add, and deliberately misaligned branches (valid conv + an
  asymmetric F.pad). The analytic field is computed on a graph built from the spec (no tracer)
  *and* on ``trace_graph`` of the module; both must equal the probe.
* every zoo model, at its feature node, with thin inputs (the H extent on an H x w_min input,
  the W extent on h_min x W) so deep float64 probes stay affordable.
"""
from __future__ import annotations


import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from archlens.metrics.receptive_field import feature_node, receptive_fields

from .probe import capture_runner, prepare, probe
from .rf_dag import DagNet, build_graph

C = 4  # channels of every conv in the random DAGs


# ---- random DAGs ------------------------------------------------------------------------------

@st.composite
def trunk_op(draw, src: str) -> tuple:
    kind = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool"]))
    if kind == "conv":
        k = draw(st.integers(1, 5))
        d = draw(st.integers(1, 2)) if k > 1 else 1
        s = draw(st.integers(1, 3))
        p = draw(st.integers(0, (d * (k - 1) + 1) // 2))
        g = draw(st.sampled_from([1, 2, 4]))
        return ("conv", src, C, (k, k), (s, s), (p, p), (d, d), g)
    k = draw(st.integers(2, 3))
    s = draw(st.integers(1, 2))
    d = draw(st.integers(1, 2)) if kind == "maxpool" else 1
    p = draw(st.integers(0, k // 2))  # PyTorch: pad <= kernel_size / 2, dilation or not
    return (kind, src, (k, k), (s, s), (p, p), (d, d), draw(st.booleans()))


@st.composite
def branch_ops(draw, src: str, first: int) -> list[tuple]:
    """1-3 size-preserving ops (stride 1), some with misaligned (asymmetric) padding."""
    ops: list[tuple] = []
    for _ in range(draw(st.integers(1, 3))):
        cur = src if not ops else f"n{first + len(ops) - 1}"
        kind = draw(st.sampled_from(["conv", "conv", "conv", "maxpool", "avgpool"]))
        if kind != "conv":
            ops.append((kind, cur, (3, 3), (1, 1), (1, 1), (1, 1), False))
            continue
        kh, kw = draw(st.sampled_from([(1, 1), (3, 3), (5, 5), (1, 7), (7, 1), (1, 3), (3, 1)]))
        d = draw(st.integers(1, 2))
        g = draw(st.sampled_from([1, 2, 4]))
        eh, ew = d * (kh - 1), d * (kw - 1)  # total padding that keeps the size
        if draw(st.booleans()):  # centred ("same")
            ops.append(("conv", cur, C, (kh, kw), (1, 1), (eh // 2, ew // 2), (d, d), g))
        else:  # valid conv, then pad unevenly: the branch's window is shifted
            ops.append(("conv", cur, C, (kh, kw), (1, 1), (0, 0), (d, d), g))
            top, left = draw(st.integers(0, eh)), draw(st.integers(0, ew))
            ops.append(("pad", f"n{first + len(ops) - 1}", (left, ew - left, top, eh - top)))
    return ops


@st.composite
def dags(draw) -> list[tuple]:
    spec: list[tuple] = [("conv", "x", C, (3, 3), (1, 1), (1, 1), (1, 1), 1)]
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            spec.append(draw(trunk_op(f"n{len(spec) - 1}")))
        trunk = f"n{len(spec) - 1}"
        ends = []
        for _ in range(draw(st.integers(1, 3))):
            ops = draw(branch_ops(trunk, len(spec)))
            spec.extend(ops)
            ends.append(f"n{len(spec) - 1}")
        merge = draw(st.sampled_from(["cat", "add", "residual"]))
        if merge == "cat":
            spec.append(("cat", ends))
            spec.append(("conv", f"n{len(spec) - 1}", C, (1, 1), (1, 1), (0, 0), (1, 1), 1))
        elif merge == "add" and len(ends) > 1:
            spec.append(("add", ends))
        else:
            spec.append(("add", [trunk, *ends]))
        spec.append(("relu", f"n{len(spec) - 1}"))
    if draw(st.booleans()):
        spec.append(draw(trunk_op(f"n{len(spec) - 1}")))
    return spec


def _window(rf, axis: int, n_units: int) -> tuple[int, int]:
    c = (n_units - 1) // 2
    start = c * rf.stride[axis] - rf.padding[axis]
    return start, start + rf.size[axis] - 1


def _fitting_input(spec, net) -> tuple[int, int]:
    """An input on which the centre unit's window of every node lies strictly inside the image
    (grown until it does: padding on the far side shifts the centre unit's window)."""
    for side in (64, 128, 256, 512):  # any input the net accepts: the geometry is size-free
        try:
            g = build_graph(spec, net, (1, 3, side, side))
            break
        except RuntimeError:
            continue
    rf = receptive_fields(g)[g.nodes[-1].name]
    hw = [rf.size[a] + 2 * abs(rf.padding[a]) + 4 * rf.stride[a] + 4 for a in (0, 1)]
    for _ in range(8):
        g = build_graph(spec, net, (1, 3, *hw))
        rfs = receptive_fields(g)
        ok = [True, True]
        for n in g.nodes[1:]:
            for a in (0, 1):
                lo, hi = _window(rfs[n.name], a, n.out_shape[2 + a])
                ok[a] = ok[a] and 0 < lo and hi < hw[a] - 1
        if all(ok):
            return hw[0], hw[1]
        hw = [x if good else 2 * x for x, good in zip(hw, ok)]
    raise AssertionError(f"no input fits {spec}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(spec=dags(), pick=st.integers(0, 10_000))
def test_random_dags_equal_the_probe(spec, pick):
    from archlens.engine import trace_graph

    net = prepare(DagNet(spec, 3))
    h, w = _fitting_input(spec, net)
    shape = (1, 3, h, w)
    hand = build_graph(spec, net, shape)
    rfs = receptive_fields(hand)
    traced = trace_graph(net, shape, dtype=torch.float64)
    trfs = receptive_fields(traced)
    out = traced.outputs[0]
    assert trfs[out] == rfs[hand.nodes[-1].name], "tracer geometry differs from the spec's"
    assert feature_node(traced, trfs) == out

    # the output node and one other spatial node, picked at random
    names = [n.name for n in hand.nodes[1:] if rfs[n.name] is not None]
    for name in {hand.nodes[-1].name, names[pick % len(names)]}:
        rf = rfs[name]
        rows, cols, (mh, mw) = probe(lambda x, name=name: (net(x), net.acts[name])[1], shape)
        assert 0 < rows[0] and rows[1] < h - 1 and 0 < cols[0] and cols[1] < w - 1, \
            "probe window touches the border: input too small"
        assert (rows, cols) == (_window(rf, 0, mh), _window(rf, 1, mw)), (name, rf, spec)


def test_misaligned_union_is_what_the_probe_sees():
    # each branch sees 3 px; their union is 5: larger than any single path
    spec = [("conv", "x", C, (3, 3), (1, 1), (0, 0), (1, 1), 1), ("pad", "n0", (2, 0, 2, 0)),
            ("conv", "x", C, (3, 3), (1, 1), (0, 0), (1, 1), 1), ("pad", "n2", (0, 2, 0, 2)),
            ("add", ["n1", "n3"])]
    net = prepare(DagNet(spec, 3))
    rf = receptive_fields(build_graph(spec, net, (1, 3, 21, 21)))["n4"]
    rows, cols, (mh, mw) = probe(net, (1, 3, 21, 21))
    assert rf.size == (5, 5) and rf.min_size == (3, 3) and not rf.aligned
    assert (rows, cols) == (_window(rf, 0, mh), _window(rf, 1, mw)) == ((8, 12), (8, 12))


# ---- the zoo ----------------------------------------------------------------------------------

def _zoo_names() -> list[str]:
    try:
        from archlens.zoo import list_models
        return list_models()
    except Exception:  # the zoo failing to import is the zoo tests' business
        return []


# Every zoo model is probed on every run (about 3 CPU-minutes on 2 cores, the largest share
# of the suite): the receptive field is archlens's headline number, so no model is exempt.


def _meta_graph(name: str):
    """The traced graph at the card's input, on the meta device (nothing computed)."""
    from archlens.engine import trace_graph
    from archlens.zoo import card, get_model

    with torch.device("meta"):
        model = get_model(name)
    return trace_graph(model, (1, *card(name).input_shape), device="meta")


# Independent figures: Araujo et al., "Computing Receptive Fields of CNNs" (Distill 2019) for
# AlexNet 195, VGG-16 212 and Inception-v3 1311; the rest by hand (docs/receptive-field.md):
# ResNets: stem 11 (jump 4), then +2*jump per 3x3 conv; VGG: (convs, pool) per block.
_HAND = {"lenet5": (32, 4), "alexnet": (195, 32), "vgg11": (150, 32), "vgg13": (156, 32),
         "vgg16": (212, 32), "vgg19": (268, 32), "vgg16_bn": (212, 32), "inception_v3": (1311, 32),
         "resnet18": (435, 32), "resnet34": (899, 32), "resnet50": (427, 32),
         "resnet101": (971, 32), "resnet152": (1451, 32), "resnext50_32x4d": (427, 32),
         "resnext101_32x8d": (971, 32)}


@pytest.mark.parametrize("name", sorted(set(_HAND) & set(_zoo_names())))
def test_zoo_feature_rf_equals_hand_arithmetic(name):
    graph = _meta_graph(name)
    rfs = receptive_fields(graph)
    rf = rfs[feature_node(graph, rfs)]
    size, stride = _HAND[name]
    assert rf.size == (size, size) and rf.stride == (stride, stride)
    if name == "resnet50":  # 5 + 3*4 + 4 + 3*8 + 8 + 5*16 + 16 + 2*32
        assert rf.padding == (213, 213) and rf.min_size == (11, 11) and rf.aligned


def _probe_node(graph, name: str) -> str:
    """The node to probe: the feature node, or the map feeding it when it is an adaptive pool
    (its geometry depends on the input size, and the probe uses another size)."""
    node = graph[name]
    while node.attrs.get("output_size") is not None or "adaptive" in node.type.lower():
        node = graph[node.inputs[0]]
    return node.name


def _call(name: str) -> int:
    return int(name.rsplit("#", 1)[1]) if "#" in name else 1


def _runner(model, graph, name: str):
    """Capture the tensor of node ``name`` on the real model (forward hooks)."""
    node = graph[name]
    if node.kind == "module":
        return capture_runner(model, node.module_path, _call(name))
    for succ in graph.successors(name):  # a functional op: the input of the module reading it
        s = graph[succ]
        if s.kind == "module" and s.inputs and s.inputs[0] == name:
            return capture_runner(model, s.module_path, _call(succ), pre=True)
    # else it must be what its owner module returns (its last op, e.g. a block's cat)
    later = [n for n in graph.nodes[graph.position(name) + 1:] if n.module == node.module]
    assert not later, f"cannot capture {name!r}"
    return capture_runner(model, node.module, 1)


def _smallest_input(model, c: int, card_hw: tuple[int, int]) -> int:
    """The smallest square input (from a short ladder) the model accepts."""
    for s in (16, 32, 48, 64, 76, 96, 128, 160, 224, 299):
        if s > max(card_hw):
            break
        try:
            with torch.no_grad():
                model(torch.zeros(1, c, s, s))
            return s
        except Exception:
            continue
    return max(card_hw)


def _probe_and_compare(model, c: int, small: int, graph, rfs, node: str, label: str) -> None:
    """Probe ``node`` on both axes (thin inputs) and compare the centre unit's window."""
    rf = rfs[node]
    run = _runner(model, graph, node)
    for axis in (0, 1):
        big = rf.size[axis] + 4 * rf.stride[axis] + 8
        for _ in range(4):  # grow until the centre unit's window is inside the image
            shape = (1, c, big, small) if axis == 0 else (1, c, small, big)
            rows, cols, hw = probe(run, shape, axis=axis)
            measured = (rows, cols)[axis]
            lo, hi = _window(rf, axis, hw[axis])
            if 0 < lo and hi < big - 1:
                break
            big += max(-lo, hi - big, 0) * 2 + 2 * rf.stride[axis]
        assert 0 < measured[0] and measured[1] < big - 1, "window touches the border"
        assert measured == (lo, hi), (label, node, axis, rf)


@pytest.mark.slow
@pytest.mark.parametrize("name, quarters", [(n, q) for n, q in (("resnet18", (1, 2, 3)),
                                                                  ("inception_v3", (1, 2)))
                                             if n in _zoo_names()])
def test_zoo_inner_nodes_equal_probe(name, quarters):
    """Module outputs a quarter, half (and three quarters) into the network, inside branches."""
    from archlens.zoo import card, get_model

    c, hh, ww = card(name).input_shape
    graph = _meta_graph(name)
    rfs = receptive_fields(graph)
    mods = [n.name for n in graph.nodes[1:] if n.kind == "module" and rfs[n.name] is not None]
    picks = [mods[len(mods) * q // 4] for q in quarters]
    model = get_model(name)
    small = _smallest_input(model, c, (hh, ww))
    prepare(model)
    for node in picks:
        _probe_and_compare(model, c, small, graph, rfs, node, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", _zoo_names())
def test_zoo_feature_rf_equals_probe(name):
    from archlens.zoo import card, get_model

    c, hh, ww = card(name).input_shape
    graph = _meta_graph(name)
    rfs = receptive_fields(graph)
    feat = feature_node(graph, rfs)
    assert feat is not None
    node = _probe_node(graph, feat)
    assert rfs[node] is not None
    model = get_model(name)
    small = _smallest_input(model, c, (hh, ww))
    prepare(model)
    _probe_and_compare(model, c, small, graph, rfs, node, name)


def test_probe_target_is_not_cancelled_by_a_final_layernorm():
    """A plain channel sum of a LayerNorm output (weight 1, bias 0) is identically zero, so its
    gradient is rounding noise: on a constant input it is exactly zero and the probe used to
    raise "zero gradient everywhere" (torchvision vit_l_16 at encoder.ln, 2026-12-04). The
    probe weights the channels 1..2, so a per-position LayerNorm gives the 1x1 window."""
    ln = torch.nn.LayerNorm(3).double()

    def run(x):  # LayerNorm over the channels of an NCHW map, channels-last inside
        return ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    rows, cols, hw = probe(run, (1, 3, 9, 9), keep_norms=True)  # as for a global claim
    assert hw == (9, 9) and rows == (4, 4) and cols == (4, 4)
