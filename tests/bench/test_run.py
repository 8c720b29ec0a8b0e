"""A real (tiny) CPU bench run through the Python API and the CLI, and its renderers."""
from __future__ import annotations

import io
import json

import pytest
import torch

from archlens.bench.factorization import ASYM, STACK, Case
from archlens.bench.results import load_results, save_results
from archlens.bench.run import BenchConfig, run_factorization
from archlens.cli import main
from archlens.errors import ArchlensError

TINY = (Case(STACK, 5, 35, 48, 64, 64, False, "Mixed_5b.branch5x5_2"),
        Case(ASYM, 7, 17, 128, 128, 128, True, "Mixed_6b-e"))


@pytest.fixture(scope="module")
def tiny_results():
    cfg = BenchConfig(device="cpu", batches=(1,), cases=TINY, min_run_time=0.02, min_runs=3,
                      warmup=1, modules=False, networks=False, threads=1,
                      note="test run")
    seen = []
    doc = run_factorization(cfg, progress=lambda d, t, label: seen.append((d, t)))
    assert seen[-1] == (2, 2) and seen[0] == (0, 2)
    return doc


def test_quick_run_positive_latencies_and_ratios_from_medians(tiny_results):
    doc = tiny_results
    assert doc["schema"] == "archlens.bench/1"
    assert [c["id"] for c in doc["cases"]] == [c.id for c in TINY]
    for c, case in zip(doc["cases"], TINY):
        full, fact = c["full"], c["factorized"]
        for form in (full, fact):
            lat = form["latency"]
            assert lat["median_s"] > 0 and lat["runs"] >= 3
            assert lat["q1_s"] <= lat["median_s"] <= lat["q3_s"]
            assert form["gmacs_per_s"] == pytest.approx(form["macs"] / lat["median_s"] / 1e9)
            assert form["percent_of_peak"] is None  # CPU peak unknown
        assert c["latency_ratio"] == fact["latency"]["median_s"] / full["latency"]["median_s"]
        assert c["mac_ratio"] == pytest.approx(float(case.mac_ratio()))
        assert full["macs"] == case.full_macs() and fact["params"] == case.factorized_params()
        assert c["output_shape"] == list(case.output_shape(1))
    assert doc["cases"][0]["mac_ratio"] == pytest.approx(0.84)
    env = doc["env"]
    assert env["device"] == "cpu" and env["threads"] == 1 and env["note"] == "test run"
    assert env["torch"] == torch.__version__ and env["peak_gmacs"] is None


def test_results_round_trip(tiny_results, tmp_path):
    path = save_results(tiny_results, tmp_path / "bench.json")
    assert load_results(path) == json.loads(json.dumps(tiny_results))


def test_table_shows_every_case_with_units(tiny_results):
    from rich.console import Console

    from archlens.render.bench import bench_table
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(bench_table(tiny_results))
    text = buf.getvalue()
    assert "5x5 vs 3x3+3x3 @35x35 48->64->64" in text
    assert "7x7 vs 1x7+7x1 +BN/ReLU @17x17 128->128->128" in text
    assert "0.840" in text and "0.286" in text  # MAC ratios 21/25 and 2/7
    assert "94.1 M → 79.0 M" in text  # 94,080,000 -> 79,027,200 MACs
    assert "CPU:" in text and "1 thread," in text and "(ms)" in text


def test_figures_plot_the_ratios_with_units(tiny_results):
    from archlens.render.bench import bench_figures
    figs = bench_figures(tiny_results)
    assert set(figs) == {"ratio", "throughput", "latency"}
    ratio = figs["ratio"]
    points = {(x, y) for tr in ratio.data if tr.mode == "markers" for x, y in zip(tr.x, tr.y)}
    assert points == {(c["mac_ratio"], c["latency_ratio"]) for c in tiny_results["cases"]}
    assert "MACs" in ratio.layout.xaxis.title.text
    assert "seconds" in ratio.layout.yaxis.title.text
    assert "GMAC/s" in figs["throughput"].layout.xaxis.title.text
    assert "ms" in figs["latency"].layout.xaxis.title.text
    assert "peak unknown" in figs["throughput"].layout.title.text


def test_cli_quick_subset_writes_json(tmp_path, capsys):
    out = tmp_path / "q.json"
    rc = main(["bench", "factorization", "--quick", "--grids", "8", "--min-run-time", "0.01",
               "--min-runs", "2", "--threads", "1", "--no-modules", "--out", str(out)])
    assert rc == 0
    doc = load_results(out)
    assert doc["config"]["quick"] is True and doc["config"]["grids"] == [8]
    assert {c["id"] for c in doc["cases"] if c["kind"] == "factorization"} == {
        "asym3/g8/384-384-384/linear", "asym7/g8/384-384-384/linear",
        "asym7/g8/384-384-384/bnrelu"}
    assert not any(c["kind"] == "network" for c in doc["cases"])
    assert "wrote" in capsys.readouterr().out
    rc = main(["bench", "show", str(out)])
    shown = capsys.readouterr().out
    assert rc == 0 and "Factorization bench — CPU:" in shown
    assert "note: whole networks skipped (--quick)" in shown


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_is_one_line_error(capsys, tmp_path):
    rc = main(["bench", "factorization", "--device", "cuda", "--quick",
               "--out", str(tmp_path / "x.json")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("archlens: error:") and "--device cpu" in err
    assert "\n" not in err and not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("argv, words", [
    (["--batch", "0"], "positive integers"),
    (["--grids", "a,b"], "positive integers"),
    (["--threads", "0"], "--threads"),
])
def test_bad_arguments_are_one_line(argv, words, capsys):
    rc = main(["bench", "factorization", "--quick", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and words in err and "\n" not in err


def test_show_missing_file_is_one_line(capsys, tmp_path):
    assert main(["bench", "show", str(tmp_path / "none.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unsupported_dtype_is_reported_not_crashing(monkeypatch):
    from archlens.bench import timing

    def boom(*a, **k):
        raise RuntimeError('"slow_conv2d_cpu" not implemented for \'Half\'')
    monkeypatch.setattr(torch.nn.Conv2d, "forward", boom)
    with pytest.raises(ArchlensError, match="float16 convolutions are not supported on cpu"):
        timing.check_dtype_supported(torch.device("cpu"), torch.float16)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cuda_run_same_cases(dtype):
    doc = run_factorization(BenchConfig(device="cuda", dtype=dtype, batches=(1,), cases=TINY,
                                        min_run_time=0.02, min_runs=3, modules=False,
                                        networks=False))
    assert doc["env"]["device"] == "cuda" and doc["env"]["cudnn"]
    assert doc["env"]["cudnn_benchmark"] is True
    assert all(c["full"]["latency"]["median_s"] > 0 for c in doc["cases"])


def _zoo_has(*names: str) -> bool:
    from archlens import zoo
    return set(names) <= set(zoo.list_models())


@pytest.mark.slow
@pytest.mark.skipif(not _zoo_has("inception_v3", "inception_v3_unfactorized"),
                    reason="zoo inception models not registered")
def test_mixed_6b_pair_counts_by_hand():
    """Mixed_6b (c7 = 128) vs its unfactorized twin, on 17x17 (289 positions).

    The 7x7 branches differ: factorized 1x7 128->128, 7x1 128->192 (7 * 40,960 = 286,720
    weights) and 7x1, 1x7, 7x1 128->128, 1x7 128->192 (7 * 73,728 = 516,096); unfactorized
    7x7 128->192 (49 * 24,576 = 1,204,224) and 7x7 128->128, 7x7 128->192 (49 * 40,960 =
    2,007,040). Conv weights differ by 3,211,264 - 802,816 = 2,408,448; MACs by 289 times that
    = 696,041,472. The factorized block has three more BN(128) layers: 768 more affine params.
    """
    doc = run_factorization(BenchConfig(cases=(), batches=(1,), modules=True, networks=False,
                                        min_run_time=0.02, min_runs=2, warmup=1, threads=1))
    (c,) = doc["cases"]
    assert c["id"] == "module/Mixed_6b" and c["input_shape"] == [1, 768, 17, 17]
    full, fact = c["full"], c["factorized"]
    assert full["macs"] - fact["macs"] == 696_041_472
    assert full["params"] - fact["params"] == 2_408_448 - 768
    assert full["output_shape"] == fact["output_shape"] == [1, 768, 17, 17]
    assert c["latency_ratio"] > 0


def test_markdown_and_html_pages(tiny_results, tmp_path):
    from archlens.render.bench import bench_markdown, write_charts
    md = bench_markdown(tiny_results)
    lines = [line for line in md.splitlines() if line.startswith("| 5x5")]
    assert len(lines) == 1 and "| 0.840 |" in lines[0] and "94.1 M → 79.0 M" in lines[0]
    (page,) = write_charts(tiny_results, tmp_path, png=False, prefix="b")
    text = page.read_text()
    assert page.name == "b.html" and text.count("Plotly.newPlot") == 3
    assert text.count("plotly.js v") <= 2  # the library inlined once
