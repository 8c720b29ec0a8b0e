"""``archlens analyze`` end to end through ``archlens.cli.main``."""
from __future__ import annotations

import json

from archlens.cli import main


def test_table_with_units_totals_and_feature_rf(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["analyze", "inception_v3", "--device", "meta"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "Params (M)" in line)
    assert "MACs (G)" in header and "MACs share (%)" in header and "RF (px)" in header
    rows = [line for line in out.splitlines() if line.startswith("│ Mixed_")]
    assert len(rows) == 11 and "Mixed_5b" in rows[0]        # depth "blocks" = 1 here
    assert "27,161,264 params" in out and "5,731,282,144 MACs" in out
    assert "Feature receptive field" in out and "1311x1311 px" in out
    assert "aten::avg_pool2d x9" in out


def test_units_flops_doubles_and_says_so(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["analyze", "resnet18", "--device", "meta", "--units", "flops"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs (G)" in out and "FLOPs = 2 x MACs" in out
    assert f"{2 * 1_819_065_856:,} FLOPs" in out


def test_depth_and_sort(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["analyze", "resnet50", "--device", "meta", "--depth", "1", "--sort",
                 "macs"]) == 0
    out = capsys.readouterr().out
    rows = [line.split("│")[1].strip() for line in out.splitlines()
            if line.startswith("│ ") and "Block" not in line]
    assert rows[0] == "layer3"  # the most MACs of ResNet-50's stages (6 blocks at 14x14)
    assert "layer1.0" not in out


def test_default_blocks_depth_resnet(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["analyze", "resnet50", "--device", "meta"]) == 0
    out = capsys.readouterr().out
    assert "│ layer1.0 " in out and "│ layer4.2 " in out


def test_json_stdout_only(capsys):
    assert main(["analyze", "lenet5", "--json", "-"]) == 0
    out = capsys.readouterr().out
    d = json.loads(out)  # nothing but the document on stdout
    assert d["schema"] == "archlens.analysis/1.1" and d["totals"]["params"] == 60_000


def test_json_file_written_atomically(tmp_path, capsys):
    path = tmp_path / "a.json"
    assert main(["analyze", "lenet5", "--device", "meta", "--json", str(path)]) == 0
    assert json.loads(path.read_text())["model"] == "lenet5"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temp file left behind
    assert "wrote" in capsys.readouterr().out


def test_file_reference_with_functional_pools(capsys, fixture_ref, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["analyze", fixture_ref("tv_inception.py", "build"), "--device", "meta"]) == 0
    out = capsys.readouterr().out
    assert "27,161,264 params" in out and "│ max_pool2d " in out


def test_unwritable_json_path(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")  # a file where a folder should be: unwritable even for root
    assert main(["analyze", "lenet5", "--device", "meta", "--json",
                 str(blocker / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archlens: error: cannot write") and err.count("\n") == 1
