"""The trace: every executed leaf module and functional op, named and wired as executed."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archlens.engine import analyze_model, trace_graph
from archlens.loader import load_model
from .conftest import ref


def _graph(model, shape):
    return trace_graph(model, shape)


def test_torchvision_style_inception_records_functional_pools():
    model, _, _ = load_model(ref("tv_inception.py", "build"), device="meta")
    g = trace_graph(model, (1, 3, 299, 299), device="meta")
    pools = [n for n in g.layers if n.type in ("max_pool2d", "avg_pool2d")]
    # 2 stem max-pools + 2 in the reductions (6a, 7a) + 9 avg-pools in branch_pool
    assert [n.name for n in pools if n.type == "max_pool2d"] == [
        "max_pool2d", "max_pool2d#2", "Mixed_6a.max_pool2d", "Mixed_7a.max_pool2d"]
    assert sum(n.type == "avg_pool2d" for n in pools) == 9
    stem_pool = g["max_pool2d"]
    assert (stem_pool.kernel, stem_pool.stride, stem_pool.padding) == ((3, 3), (2, 2), (0, 0))
    assert stem_pool.out_shape == (1, 64, 73, 73) and stem_pool.inputs == ("Conv2d_2b_3x3.relu",)
    bp = g["Mixed_5b.avg_pool2d"]
    assert (bp.kernel, bp.stride, bp.padding) == ((3, 3), (1, 1), (1, 1))
    assert bp.attrs["count_include_pad"] is True and bp.attrs["ceil_mode"] is False
    cat = g["Mixed_5b.cat"]
    assert cat.inputs == ("Mixed_5b.branch1x1.relu", "Mixed_5b.branch5x5_2.relu",
                          "Mixed_5b.branch3x3dbl_3.relu", "Mixed_5b.branch_pool.relu")
    assert cat.out_shape == (1, 256, 35, 35)
    # Mixed_7b has three cats: two inner (3x3 splits), one output
    assert [n.name for n in g.layers if n.module == "Mixed_7b" and n.type == "cat"] == [
        "Mixed_7b.cat", "Mixed_7b.cat#2", "Mixed_7b.cat#3"]
    # AuxLogits does not run in eval mode: no node
    assert not any(n.name.startswith("AuxLogits") for n in g.layers)
    assert g.outputs == ("fc",) and g.nodes[0].name == "input"


def test_module_called_twice_gets_numbered_nodes_and_shared_params_once():
    a = analyze_model(ref("small_models.py", "Twice"), (4, 8, 8))
    names = [n.name for n in a.graph.layers]
    assert names == ["conv", "relu", "conv#2"]
    conv, relu, conv2 = a.graph.layers
    assert conv2.inputs == ("relu",) and relu.inputs == ("conv",)
    assert conv.params == 4 * 4 * 9 + 4 and conv2.params == 0  # shared weights, counted once
    # MACs per call: 8*8 outputs x 4 channels x (4 x 3 x 3) each
    assert conv.macs == conv2.macs == 8 * 8 * 4 * 4 * 9
    assert a.totals.params == 148 and a.totals.macs == 2 * 9216


def test_control_flow_inplace_and_padding_strings():
    model, _, _ = load_model(ref("small_models.py", "Branchy"))
    g = trace_graph(model, (1, 3, 32, 32))
    assert [n.name for n in g.layers] == ["stem", "relu", "same", "add", "max_pool2d", "valid",
                                          "mean", "head"]
    assert g["relu"].attrs.get("inplace") is True
    add = g["add"]
    assert add.type == "add" and add.attrs.get("inplace") is True
    assert add.inputs == ("same", "relu")
    # the in-place add is the new producer of its tensor: the pool reads it, not 'same'
    assert g["max_pool2d"].inputs == ("add",)
    # F.max_pool2d(x, 2): stride defaults to the kernel
    assert (g["max_pool2d"].kernel, g["max_pool2d"].stride) == ((2, 2), (2, 2))
    # padding='same' with kernel 5, dilation 2: total 8 -> 4 each side; 'valid' -> 0
    assert g["same"].padding == (4, 4) and g["same"].dilation == (2, 2)
    assert g["valid"].padding == (0, 0) and g["valid"].out_shape == (1, 8, 6, 6)
    assert g["mean"].out_shape == (1, 8) and g["head"].inputs == ("mean",)


def test_control_flow_other_branch_is_a_different_graph():
    model, _, _ = load_model(ref("small_models.py", "Branchy"))
    g = trace_graph(model, (1, 3, 16, 16))  # 8x8 after the stem: the branch is skipped
    assert "same" not in g and g["max_pool2d"].inputs == ("relu",)


def test_functional_geometry_and_root_level_names():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.Upsample(scale_factor=2)
            self.tconv = nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1, output_padding=0)

        def forward(self, x):  # N x 3 x 8 x 8
            a = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
            b = F.adaptive_avg_pool2d(x, (2, 3))
            c = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
            d = F.pad(x, (1, 2, 3, 4))
            e = self.tconv(x)
            f = self.up(x)
            return a.sum() + b.sum() + c.sum() + d.sum() + e.sum() + f.sum()

    g = _graph(M(), (1, 3, 8, 8))
    a = g["avg_pool2d"]
    assert (a.kernel, a.stride, a.padding) == ((3, 3), (2, 2), (1, 1))
    assert a.attrs["ceil_mode"] is True and a.attrs["count_include_pad"] is False
    assert a.out_shape == (1, 3, 5, 5)  # ceil((8 + 2 - 3) / 2) + 1
    b = g["adaptive_avg_pool2d"]
    assert b.kernel is None and b.attrs["output_size"] == (2, 3)
    assert g["interpolate"].attrs["size"] == (16, 16)
    assert g["interpolate"].attrs["mode"] == "bilinear"
    assert g["pad"].attrs["pad"] == (1, 2, 3, 4) and g["pad"].out_shape == (1, 3, 15, 11)
    t = g["tconv"]
    assert t.attrs["transposed"] is True and t.attrs["output_padding"] == (0, 0)
    assert (t.kernel, t.stride, t.padding) == ((4, 4), (2, 2), (1, 1))
    assert t.out_shape == (1, 3, 16, 16)
    assert g["up"].attrs["scale_factor"] == 2.0
    # root-level ops: just the op name, #k for repeats
    assert "sum" in g and "sum#6" in g and "add#5" in g


def test_metadata_reads_and_untracked_ops_are_not_nodes():
    class M(nn.Module):
        def forward(self, x):
            n, c = x.shape[0], x.size(1)
            noise = torch.zeros(3)  # no tracked input: not a node
            return x.view(n, c, -1) + noise.sum()

    g = _graph(M(), (2, 3, 4, 4))
    assert [n.type for n in g.layers] == ["view", "add"]
    assert g["view"].attrs.get("view") is True


def test_mlp_and_transformer_block_have_no_receptive_field():
    a = analyze_model(ref("small_models.py", "MLP"))
    assert a.input_shape == (1, 20)
    assert [n.type for n in a.graph.layers] == ["Linear", "ReLU", "Linear"]
    assert all(n.rf is None and n.stage is None for n in a.graph.layers)
    assert a.feature_rf is None
    assert a.totals.params == 20 * 64 + 64 + 64 * 10 + 10
    assert a.totals.macs == 20 * 64 + 64 * 10  # fvcore: in x out per row, batch 1
    b = analyze_model(ref("small_models.py", "Block"))
    types = [n.type for n in b.graph.layers]
    assert "MultiheadAttention" in types and b.feature_rf is None
    assert b.totals.params == sum(p.numel() for p in nn.TransformerEncoderLayer(
        32, 4, 64, batch_first=True).parameters())


def test_stage_index_of_grid_size():
    a = analyze_model(ref("tv_inception.py", "build"), device="meta")
    stage = {n.name: n.stage for n in a.graph}
    assert stage["input"] == 0
    assert stage["Conv2d_1a_3x3.conv"] == 1     # 149x149
    assert stage["Conv2d_2a_3x3.conv"] == 1     # 147x147 (valid padding stays in stage)
    assert stage["max_pool2d"] == 2             # 73x73
    assert stage["Mixed_5b.cat"] == 3           # 35x35
    assert stage["Mixed_6e.cat"] == 4           # 17x17
    assert stage["Mixed_7c.cat#3"] == 5         # 8x8
    assert stage["fc"] is None


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (2, 3, 40, 24)])
def test_shapes_follow_batch_and_input(shape):
    model, _, _ = load_model(ref("small_models.py", "Branchy"))
    g = trace_graph(model, shape)
    assert g.input.out_shape == shape
    assert g["stem"].out_shape == (shape[0], 8, (shape[2] + 1) // 2, (shape[3] + 1) // 2)



class _Breaks(nn.Module):
    def __init__(self, channels: int = 3):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.conv = nn.Conv2d(channels, 3, 3)   # channels != 3: the layer itself raises

    def forward(self, x):
        return self.conv(torch.relu(self.bn(x)))


def test_a_pass_that_raises_inside_a_layer_leaves_torch_function_on_and_the_next_pass_whole():
    """Regression: a torch-function state leaked by a failed pass made every later analysis in
    the process record only module layers (inception_v3: 16 nodes instead of 315)."""
    from archlens.errors import InputShapeError, ModelForwardError
    for _ in range(2):
        with pytest.raises((ModelForwardError, InputShapeError)):
            analyze_model(_Breaks(channels=4), (3, 8, 8))
        assert torch._C._is_torch_function_enabled()
    assert len(analyze_model("inception_v3", device="meta").graph.nodes) == 315
    assert [n.type for n in analyze_model(_Breaks(), (3, 8, 8)).graph.layers] == \
        ["BatchNorm2d", "relu", "Conv2d"]
