"""Every user mistake: one line on stderr, exit 2, no traceback."""
from __future__ import annotations

import pytest

from archlens.cli import main
from .conftest import ref


def _fails(capsys, argv) -> str:
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err and cap.out == ""
    assert cap.err.startswith("archlens: error: ") and cap.err.count("\n") == 1
    return cap.err


@pytest.mark.parametrize("shape, says", [
    ("3x299", "takes a 3-dimensional input"), ("3xabcx299", "'abc' is not an integer"),
    ("0x224x224", "positive integer"), ("-3x224x224", "positive integer"),
    ("3x299x299x2x1", "expected CxHxW")])
def test_malformed_input(capsys, shape, says):
    assert says in _fails(capsys, ["analyze", "inception_v3", f"--input={shape}"])


def test_unknown_zoo_name_suggests(capsys):
    err = _fails(capsys, ["analyze", "inceptoin_v3"])
    assert "unknown model 'inceptoin_v3'" in err and "did you mean: inception_v3" in err


def test_missing_file_and_attribute(capsys, tmp_path):
    assert "not found" in _fails(capsys, ["analyze", f"{tmp_path}/nope.py:build"])
    err = _fails(capsys, ["analyze", ref("small_models.py", "Twcie")])
    assert "has no attribute 'Twcie'" in err and "did you mean: Twice" in err
    assert "not found" in _fails(capsys, ["analyze", "no_such_pkg.models:build"])


def test_callable_not_returning_a_module(capsys):
    err = _fails(capsys, ["analyze", ref("small_models.py", "not_a_module")])
    assert "returned a dict, not an nn.Module" in err


def test_forward_raises_names_module_and_shape(capsys):
    err = _fails(capsys, ["analyze", ref("small_models.py", "Raises"), "--input", "3x16x16"])
    assert "module 'fc' (Linear)" in err and "input shape 1x8x14x14" in err
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in err


@pytest.mark.parametrize("model, small, layer, minimum", [
    # independent figures: torchvision documents 75x75 (Inception-v3) and 63x63 (AlexNet) as
    # the smallest inputs; VGG's five 2x2 pools need 32
    ("inception_v3", "3x64x64", "Mixed_7a.branch3x3_2.conv", "3x75x75"),
    ("alexnet", "3x40x40", "features.12", "3x63x63"),
    ("vgg16", "3x16x16", "features.30", "3x32x32"),
])
def test_input_too_small_names_layer_and_minimum(capsys, model, small, layer, minimum):
    err = _fails(capsys, ["analyze", model, "--input", small, "--device", "meta"])
    assert f"input {small} is too small for {model}" in err
    assert f"layer '{layer}'" in err and f"smallest input that works is {minimum}" in err


def test_too_small_on_cpu_path_too(capsys):
    err = _fails(capsys, ["analyze", "inception_v3", "--input", "3x64x64"])
    assert "smallest input that works is 3x75x75" in err


def test_bad_batch_and_non_default_shape(capsys):
    assert "--batch" in _fails(capsys, ["analyze", "lenet5", "--batch", "0"])
    err = _fails(capsys, ["analyze", ref("small_models.py", "Twice")])
    assert "no default input shape" in err
