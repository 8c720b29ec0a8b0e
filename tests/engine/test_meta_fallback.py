"""Meta builds that need real values: built on the CPU, moved to meta, and said so."""
from __future__ import annotations

import pytest

from archlens.cli import main
from archlens.engine import analyze_model
from archlens.errors import ModelLoadError


def test_tolist_builder_analyses_on_meta_with_a_note(fixture_ref):
    ref = fixture_ref("tolist_builder.py", "build")
    meta = analyze_model(ref, (3, 32, 32), device="meta")
    cpu = analyze_model(ref, (3, 32, 32), device="cpu")
    # convs 3->8->16->24, 3x3: params by hand 3*8*9+8 + 8*16*9+16 + 16*24*9+24 = 5,048
    assert meta.totals.params == cpu.totals.params == 224 + 1168 + 3480
    # MACs by hand: 16*16*8*27 + 8*8*16*72 + 4*4*24*144 = 55,296 + 73,728 + 55,296
    assert meta.totals.macs == cpu.totals.macs == 184_320
    assert len(meta.notes) == 1 and "built on the CPU and moved to meta" in meta.notes[0]
    assert "tolist_builder.py:build" in meta.notes[0]
    assert cpu.notes == ()
    assert meta.to_dict()["notes"] == list(meta.notes)


def test_the_cli_says_so_on_stderr(fixture_ref, capsys):
    ref = fixture_ref("tolist_builder.py", "build")
    assert main(["analyze", ref, "--input", "3x32x32", "--device", "meta", "--json", "-"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("archlens: note: building ") and err.count("\n") == 1


def test_a_builder_failing_on_cpu_too_reports_the_cpu_error(fixture_ref):
    with pytest.raises(ModelLoadError, match="no such width"):
        analyze_model(fixture_ref("tolist_builder.py", "broken"), (3, 32, 32), device="meta")
