"""Spec parsing, validation and variant expansion (no Ray)."""
from __future__ import annotations

import socket

import pytest

from archlens.cli import main
from archlens.errors import SweepSpecError
from archlens.sweep.spec import load_spec
from archlens.sweep.variants import expand

from .conftest import EXAMPLES, FIXTURES


def spec(**kw):
    base = {"name": "t", "builder": "resnet", "params": {"depth": [18, 34]}}
    base.update(kw)
    return base


@pytest.mark.parametrize("data, message", [
    (spec(builder="resnte"), "unknown builder 'resnte'; did you mean: resnet"),
    (spec(builder="nope.py:build"), "builder file 'nope.py' not found"),
    (spec(params={"dpeth": [18]}), "parameter 'dpeth' is not accepted by builder 'resnet'; "
                                    "did you mean: depth?"),
    (spec(params={"depth": []}), "parameter 'depth' has no values"),
    (spec(params={"width_per_group": {"range": [64, 32]}}), "range low 64 > high 32 (empty)"),
    (spec(params={"depth": [19]}), "depth must be one of 18, 34, 50, 101, 152"),
    (spec(params={"depth": [18], "layers": [[2, 2, 2, 2]]}), "'depth' and 'layers' both"),
    (spec(params={"groups": {"uniform": [1, 4]}}), "random parameters need 'samples = N'"),
    (spec(constraints={"min_macs": 5e9, "max_macs": 1e9}),
     "contradictory constraints: min_macs 5,000,000,000 MACs > max_macs 1,000,000,000 MACs"),
    (spec(constraints={"max_mac": 1}), "unknown constraint 'max_mac'; did you mean: max_macs"),
    (spec(measure={"device": "gpu"}), "measure.device must be 'meta' or 'cpu'"),
    (spec(sampels=3), "unknown key 'sampels'; did you mean: samples?"),
    (spec(samples=0), "'samples' must be an integer from 1"),
    ({"name": "t"}, "'builder' is missing"),
])
def test_bad_specs_are_one_line_errors(data, message):
    with pytest.raises(SweepSpecError) as e:
        load_spec(data)
    text = str(e.value)
    assert message in text and "\n" not in text


def test_callable_builder_signature(tiny_ref):
    with pytest.raises(SweepSpecError, match="'widht' is not accepted .* did you mean: width"):
        load_spec({"builder": tiny_ref, "params": {"widht": [4]}})
    s = load_spec({"builder": tiny_ref, "params": {"width": [4, 8], "blocks": [1, 2]}})
    assert s.input == (3, 32, 32)  # the callable's default_input_shape
    assert len(s.builder_digest) == 64


def test_grid_order_ids_and_determinism():
    s = load_spec(spec(params={"depth": [18, 34], "resolution": [128, 224]}))
    vs = list(expand(s))
    assert [(v.params["depth"], v.input_shape) for v in vs] == [
        (18, (3, 128, 128)), (18, (3, 224, 224)), (34, (3, 128, 128)), (34, (3, 224, 224))]
    assert [v.index for v in vs] == [0, 1, 2, 3]
    assert len({v.id for v in vs}) == 4
    again = list(expand(load_spec(spec(params={"resolution": [224, 128], "depth": [34, 18]}))))
    # the id names the network, not its position: same variants, other order, same ids
    assert {v.id for v in again} == {v.id for v in vs}


def test_seeded_samples_are_reproducible_and_distinct():
    data = spec(params={"layers": [[1, 1, 1, 1], [2, 2, 2, 2]], "groups": [1, 2, 4, 8],
                        "width_per_group": {"randint": [4, 64]}}, samples=30, seed=7)
    data["params"]["block"] = "bottleneck"
    a = [(v.id, dict(v.params)) for v in expand(load_spec(data))]
    b = [(v.id, dict(v.params)) for v in expand(load_spec(data))]
    assert a == b and len(a) == 30 and len({i for i, _ in a}) == 30
    assert all(4 <= p["width_per_group"] <= 64 for _, p in a)
    other = [v.id for v in expand(load_spec({**data, "seed": 8}))]
    assert other != [i for i, _ in a]


def test_sampling_a_small_discrete_space_stops_at_its_size():
    s = load_spec(spec(params={"depth": [18, 34, 50]}, samples=100))
    assert sorted(v.params["depth"] for v in expand(s)) == [18, 34, 50]


def test_range_forms():
    s = load_spec(spec(params={"width_per_group": {"range": [16, 128], "factor": 2},
                               "groups": {"range": [1, 7], "step": 3}}))
    assert s.params[0].values == (16, 32, 64, 128)
    assert s.params[1].values == (1, 4, 7)


def test_examples_parse():
    sizes = {p.stem: sum(1 for _ in expand(load_spec(p))) for p in EXAMPLES.glob("*.toml")}
    assert sizes["small"] == 24 and sizes["resnet"] == 66
    # resnet.toml's grid holds the zoo's five depths
    s = load_spec(EXAMPLES / "resnet.toml")
    from archlens.sweep.worker import builder_for
    b = builder_for(s)
    zoo = {b.zoo_match(v.builder_params, v.input_shape) for v in expand(s)} - {None}
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"} <= zoo


def test_cli_bad_spec_one_line(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text('builder = "resnet"\n[params]\ndepth = []\n')
    assert main(["sweep", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archlens: error: ") and err.count("\n") == 1
    assert "has no values" in err and not (tmp_path / "o").exists()
    p.write_text('builder = "resnet"\n[params\n')
    assert main(["sweep", str(p)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


def test_cli_unreachable_address_before_any_work(tmp_path, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "o"
    assert main(["sweep", str(EXAMPLES / "small.toml"), "--out", str(out), "--address",
                 f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot reach a Ray cluster at 127.0.0.1:{port}" in err
    assert not out.exists()
    assert main(["sweep", str(EXAMPLES / "small.toml"), "--address", "nohostport"]) == 2
    assert "expected auto or HOST:PORT" in capsys.readouterr().err


def test_out_folder_rules(tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours")
    assert main(["sweep", str(EXAMPLES / "small.toml"), "--out", str(foreign)]) == 2
    assert "not empty and holds no archlens sweep" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["keep.txt"]


def test_fixture_arithmetic_is_independent():
    # the tiny builder's hand formulas, checked once against one literal case:
    # width 4, 1 block, 3x3: params (108+4) + (144+4) + (40+10) = 310
    from tests.sweep.fixtures.tiny import expected
    assert expected(4, 1, 3) == (310, 32 * 32 * (108 + 144) + 40, 5)
    assert FIXTURES.is_dir()
