"""The profile JSON round-trips; the CLI writes it atomically, shows progress on long runs,
and turns every user mistake into one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import archlens
from archlens.cli import main
from archlens.errors import ConfigError
from archlens.profile import Profile, load
from archlens.profile.roofline import Roofline, measure_roofline

FIX = Path(__file__).parent / "fixtures" / "models.py"
ROOF = Roofline(peak_macs_per_s=2e9, bandwidth_bytes_per_s=1e9, gemm_macs_per_s=2e9,
                conv_macs_per_s=1.5e9, gemm_n=64, copy_bytes=2 ** 21, method="test")


@pytest.fixture(scope="module")
def prof():
    return archlens.profile(f"{FIX}:Mixed", warmup=1, repeats=3, roofline=ROOF)


def test_json_round_trips_exactly(prof):
    d = prof.to_dict()
    text = json.dumps(d)
    back = Profile.from_json(text)
    assert back == prof
    assert back.to_dict() == json.loads(text)
    assert d["schema"] == "archlens.profile/1" and d["units"]["time"] == "seconds"


def test_derived_numbers_follow_the_roofline_arithmetic(prof):
    conv = prof["a"]           # 3 -> 8, 3x3, 16x16: 16*16*8*3*9 MACs
    assert conv.macs == 16 * 16 * 8 * 3 * 9
    assert conv.bytes == (3 * 16 * 16 + 8 * 3 * 9 + 8 + 8 * 16 * 16) * 4
    est = max(conv.macs / 2e9, conv.bytes / 1e9)
    assert prof.estimate_s(conv) == pytest.approx(est)
    assert prof.estimate_error(conv) == pytest.approx(est / conv.median_s - 1)
    assert ROOF.ridge_macs_per_byte == 2.0
    assert prof.bound(conv) == ("compute" if conv.macs / conv.bytes >= 2 else "memory")
    attainable = min(2e9, conv.macs / conv.bytes * 1e9)
    assert prof.percent_of_roofline(conv) == pytest.approx(
        100 * conv.macs / conv.median_s / attainable)
    row = prof.layer_row(conv)
    assert row["latency_share"] == pytest.approx(conv.median_s / prof.sum_median_s)


def test_blocks_partition_the_layers(prof):
    blocks = prof.blocks(1)
    assert sum(b["nodes"] for b in blocks) == len(prof.layers)
    assert sum(b["median_s"] for b in blocks) == pytest.approx(prof.sum_median_s)
    assert sum(b["latency_share"] for b in blocks) == pytest.approx(1.0)


def test_not_a_profile_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="not an archlens profile"):
        Profile.from_dict({"schema": "archlens.analysis/1"})
    bad = tmp_path / "p.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="does not parse"):
        load(str(bad))
    with pytest.raises(ConfigError, match="malformed"):
        Profile.from_dict({"schema": "archlens.profile/1"})


def test_roofline_micro_benchmark_measures_positive_rates():
    r = measure_roofline("cpu", "float32", gemm_n=64, copy_mib=1, repeats=2)
    assert r.peak_macs_per_s == r.gemm_macs_per_s > 0 and r.conv_macs_per_s > 0
    assert r.bandwidth_bytes_per_s > 0 and r.copy_bytes == 2 * 2 ** 20
    assert Roofline.from_dict(r.to_dict()) == r


def test_cli_writes_json_and_prints_units(tmp_path, capsys):
    out = tmp_path / "p.json"
    rc = main(["profile", f"{FIX}:Mixed", "--warmup", "1", "--repeats", "3", "--no-roofline",
               "--json", str(out), "--charts", str(tmp_path / "charts")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "median ms" in text and "whole model: median" in text and "GMACs" in text
    p = load(str(out))
    assert p.repeats == 3 and p.roofline is None
    assert sorted(x.name for x in (tmp_path / "charts").iterdir()) == [
        "roofline.html", "shares.html", "treemap.html"]
    assert not [x for x in tmp_path.iterdir() if x.name.endswith(".tmp")]


def test_a_model_running_for_seconds_shows_progress(capsys):
    rc = main(["profile", f"{FIX}:slow", "--warmup", "1", "--repeats", "4", "--no-roofline",
               "--json", "-"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "archlens profile: timing" in err and "4/4" in err


@pytest.mark.parametrize("argv,msg", [
    (["profile", "resnet5"], "unknown model 'resnet5'; did you mean"),
    (["profile", f"{FIX}:Mixed", "--device", "cuda"], "no CUDA device"),
    (["profile", f"{FIX}:Mixed", "--warmup", "-1"], "--warmup must be >= 0"),
    (["profile", f"{FIX}:Mixed", "--repeats", "0"], "expected a positive integer"),
])
def test_cli_errors_are_one_line(argv, msg, capsys):
    import torch
    if "cuda" in argv and torch.cuda.is_available():  # pragma: no cover
        pytest.skip("a GPU is present")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("archlens: error:") and msg in err and err.count("\n") == 1


def test_cli_shows_a_saved_profile_without_measuring(prof, tmp_path, capsys):
    path = tmp_path / "saved.json"
    path.write_text(prof.to_json(), encoding="utf-8")
    assert main(["profile", str(path), "--top", "2", "--sort", "order"]) == 0
    out = capsys.readouterr().out
    assert f"{2} of {len(prof.layers)}" in out and "whole model: median" in out
    assert f"{prof.whole_median_s * 1e3:.3f} ms" in out


def test_report_with_a_saved_profile_gets_the_latency_section(prof, tmp_path, capsys):
    from html.parser import HTMLParser
    saved = tmp_path / "p.json"
    saved.write_text(prof.to_json(), encoding="utf-8")
    out = tmp_path / "report"
    assert main(["report", f"{FIX}:Mixed", "--no-png", "--out", str(out),
                 "--profile", str(saved)]) == 0

    class Ids(HTMLParser):
        ids: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.ids += [v for k, v in attrs if k == "id"]

    ids = Ids()
    ids.feed((out / "report.html").read_text(encoding="utf-8"))
    assert {"profile", "profile-shares", "profile-roofline", "profile-treemap"} <= set(ids.ids)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Latency profile (cpu, float32, measured)" in md and "| median ms |" in md


def test_report_refuses_a_profile_of_another_model(prof, tmp_path, capsys):
    saved = tmp_path / "p.json"
    saved.write_text(prof.to_json(), encoding="utf-8")
    assert main(["report", f"{FIX}:Sleepy", "--no-png", "--out", str(tmp_path / "r"),
                 "--profile", str(saved)]) == 2
    assert "whose layers differ" in capsys.readouterr().err
    assert not (tmp_path / "r" / "report.html").exists()


def test_check_with_a_profile_runs_the_guidelines_on_measured_times(tmp_path, capsys):
    saved = tmp_path / "u.json"
    assert main(["profile", f"{FIX}:Unbalanced", "--warmup", "1", "--repeats", "3",
                 "--no-roofline", "--json", str(saved)]) == 0
    capsys.readouterr()
    assert main(["check", f"{FIX}:Unbalanced", "--profile", str(saved), "--format",
                 "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    g1 = [f for f in doc["findings"] if f["code"] == "G1.unequal-widths"]
    assert len(g1) == 1 and g1[0]["data"]["time_source"] == "measured"
    assert g1[0]["data"]["time_ms"] == pytest.approx(load(str(saved))["conv"].median_s * 1e3)
