"""The hardening battery, CLI side: bad model references, shapes and options, strange models
and output faults. Each case asserts the exact behaviour: the exit code, one line on stderr,
no traceback, nothing the user owned deleted, nothing half-written, no temp left."""
from __future__ import annotations

import json
import os
import stat

import pytest

from tests.hardening._cli import STRANGE, assert_one_line_error, cli
from tests.hardening.conftest import leftovers

# --------------------------------------------------------------------- model references
# (reference, HZ_MODE, exit code, text the one line must contain)
REFERENCES = [
    ("inceptoin_v3", "", 2, "did you mean: inception_v3"),
    ("no_such_model_at_all", "", 2, "archlens zoo"),
    ("/nonexistent/dir/net.py:build", "", 2, "not found"),
    (f"{STRANGE}", "", 2, "names no callable"),
    (f"{STRANGE}:biuld", "", 2, "did you mean: build"),
    (f"{STRANGE}:NOT_CALLABLE", "", 2, "is a int"),
    (f"{STRANGE}:NotAModule", "", 2, "not an nn.Module subclass"),
    (f"{STRANGE}:returns_int", "", 2, "returned a int"),
    (f"{STRANGE}:needs_args", "", 2, "needs no arguments"),
    (f"{STRANGE}:build", "typeerror", 2, ("building", "TypeError", "strange.py:")),
    (f"{STRANGE}:build", "raise_import", 2, ("importing", "ValueError: broken at import")),
    (f"{STRANGE}:build", "raise_build", 2, ("building", "RuntimeError: builder failed")),
    (f"{STRANGE}:build", "exit_import", 2, ("sys.exit(3)", "while importing", "strange.py:")),
    (f"{STRANGE}:build", "exit_build", 2, ("sys.exit(5)", "while building the model")),
    (f"{STRANGE}:build", "exit_build_none", 2, ("sys.exit(None)", "building")),
    (f"{STRANGE}:build", "exit_forward", 2, ("sys.exit(4)", "during the forward pass",
                                             "in forward")),
    (f"{STRANGE}:build", "recurse", 2, "RecursionError"),
    (f"{STRANGE}:build", "memory", 2, "MemoryError"),
    (f"{STRANGE}:build", "kbd", 130, ("interrupted", "during the forward pass")),
    (f"{STRANGE}:Scripted", "", 2, ("TorchScript", "'b'")),
    (f"{STRANGE}:deep", "", 2, "recursion limit"),
    ("os:getcwd", "", 2, "not an nn.Module"),
    ("no_such_pkg_xyz.mod:build", "", 2, "not found"),
    ("/" + "n" * 300 + ".py:build", "", 2, "File name too long"),
    ("net\x1b]0;title\x07.py:build", "", 2, "\\x1b]0;title\\x07"),
]


@pytest.mark.parametrize("ref,mode,rc,contains", REFERENCES,
                         ids=[f"{i}-{r[1] or r[0][-18:]}" for i, r in enumerate(REFERENCES)])
def test_model_references(capsys, monkeypatch, ref, mode, rc, contains):
    monkeypatch.setenv("HZ_MODE", mode)
    r = cli(capsys, "analyze", ref, "--input", "3x16x16")
    assert_one_line_error(r, rc, contains=contains)
    assert r.out == ""


def test_forward_returning_none_is_counted_by_the_eager_pass(capsys, monkeypatch):
    """The eager pass counts every executed op, so a forward that returns None still gets its
    conv's MACs (by hand: 8 out channels x 14 x 14 outputs x 3 x 3 x 3 = 42,336); fvcore's
    jit trace keeps only what reaches the output, so ``--counter fvcore`` is refused instead
    of printing 0 MACs."""
    import json
    monkeypatch.setenv("HZ_MODE", "none")
    r = cli(capsys, "analyze", f"{STRANGE}:build", "--input", "3x16x16", "--json", "-")
    assert r.rc == 0, r.err
    assert json.loads(r.out)["totals"]["macs"] == 8 * 14 * 14 * 27
    r = cli(capsys, "analyze", f"{STRANGE}:build", "--input", "3x16x16", "--counter", "fvcore")
    assert_one_line_error(r, 2, contains=("0 MACs", "returns None", "--device meta"))


# --------------------------------------------------------------------- shapes and options
OPTIONS = [
    (["--input", "3x"], "malformed input shape"),
    (["--input", "axbxc"], "is not an integer"),
    (["--input", "0x16x16"], "positive integer"),
    (["--input=-3x16x16"], "positive integer"),
    (["--input", "3x16x16x16x16"], "malformed input shape"),
    (["--input", "3x1e3x3"], "is not an integer"),
    (["--input", ""], None),
    (["--input", "3x10000000000x10000000000"], "more than any tensor can hold"),
    (["--input", "3x99999999999999999999x2", "--device", "meta"], "more than any tensor"),
    (["--input", "3x100000x100000", "--device", "cpu"], ("needs about", "--device meta")),
    (["--batch", "100000", "--input", "3x224x224", "--device", "cpu"],
     ("needs about", "--max-memory")),
    (["--max-memory", "1M", "--device", "cpu"], ("over the limit of 1.0 MiB", "--max-memory")),
    (["--max-memory", "10X"], "--max-memory expects a size"),
    (["--batch", "0"], "positive integer"),
    (["--batch", "-1"], "positive integer"),
    (["--batch", "x"], "positive integer"),
    (["--depth", "0"], "positive integer"),
    (["--device", "tpu"], "invalid choice"),
    (["--device", "cuda"], "CUDA is not available"),
    (["--timeout", "0"], "positive number"),
    (["--timeout", "nan"], "positive number"),
    (["--timeout", "-5"], "positive number"),
    (["--units", "bits"], "invalid choice"),
    (["--sort", "size"], "invalid choice"),
    (["--input", "3x8x8", "--device", "meta"], "too small"),
]


@pytest.mark.parametrize("extra,contains", OPTIONS, ids=[" ".join(o[0]) or "empty"
                                                         for o in OPTIONS])
def test_shapes_and_options(capsys, extra, contains):
    model = "inception_v3" if "3x8x8" in extra else "resnet18"
    r = cli(capsys, "analyze", model, *extra)
    if contains is None:  # an empty --input means the default shape: a normal run
        assert r.rc == 0 and "Parameters:" in r.out
        return
    assert_one_line_error(r, 2, contains=contains)
    assert r.out == ""


def test_timeout_stops_a_forward_that_never_returns(capsys, monkeypatch):
    monkeypatch.setenv("HZ_MODE", "hang")
    r = cli(capsys, "analyze", f"{STRANGE}:build", "--timeout", "1")
    assert_one_line_error(r, 2, contains=("--timeout 1 s", "during the forward pass",
                                          "in forward"))


def test_model_that_prints_does_not_corrupt_json_on_stdout(capsys, monkeypatch):
    monkeypatch.setenv("HZ_MODE", "print")
    r = cli(capsys, "analyze", f"{STRANGE}:build", "--json", "-")
    assert r.rc == 0
    doc = json.loads(r.out)
    assert doc["totals"]["macs"] == 8 * 14 * 14 * 3 * 3 * 3  # Cout x H x W x k x k x Cin
    assert "hello from forward" in r.err


# --------------------------------------------------------------------- strange models
def test_conv1d_model_in_analyze_graph_and_report(capsys, tmp_path):
    ref = f"{STRANGE}:Conv1dNet"
    r = cli(capsys, "analyze", ref, "--json", tmp_path / "a.json")
    assert r.rc == 0, r.err
    doc = json.loads((tmp_path / "a.json").read_text())
    # hand arithmetic: conv1 8 x 62 x (3 x 3); conv2 8 x 29 x (8 x 5)
    assert doc["totals"]["macs"] == 8 * 62 * 9 + 8 * 29 * 40
    r = cli(capsys, "graph", ref, "-o", tmp_path / "g.svg")
    assert r.rc == 0, r.err
    assert "Conv1d 5/2" in (tmp_path / "g.svg").read_text()
    r = cli(capsys, "report", ref, "--out", tmp_path / "rep", "--no-png")
    assert r.rc == 0, r.err
    assert (tmp_path / "rep" / "report.html").is_file()


def test_model_without_parameters(capsys):
    r = cli(capsys, "analyze", f"{STRANGE}:no_params", "--input", "3x8x8")
    assert r.rc == 0 and "Parameters: 0 params" in r.out


# --------------------------------------------------------------------- output faults
def _json_target(tmp_path, case):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("keep")
    return {"folder": tmp_path / "dir",
            "missing_parent": tmp_path / "nope" / "a.json",
            "parent_is_file": tmp_path / "file" / "a.json",
            "name_too_long": tmp_path / ("n" * 300 + ".json")}[case]


@pytest.mark.parametrize("case", ["folder", "missing_parent", "parent_is_file",
                                  "name_too_long"])
def test_json_output_faults(capsys, tmp_path, case):
    target = _json_target(tmp_path, case)
    r = cli(capsys, "analyze", "resnet18", "--device", "meta", "--json", target)
    assert_one_line_error(r, 2, contains="cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]
    assert (tmp_path / "file").read_text() == "keep"


@pytest.mark.parametrize("case", ["folder", "parent_is_file", "name_too_long"])
def test_graph_output_faults(capsys, tmp_path, case):
    target = _json_target(tmp_path, case).with_suffix(".svg") if case != "folder" else \
        _json_target(tmp_path, case)
    r = cli(capsys, "graph", "resnet18", "--device", "meta", "-o", target)
    assert r.rc == 2, r.err
    assert "Traceback" not in r.err and r.err.strip().splitlines()[-1].startswith("archlens:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


def test_graph_with_an_unknown_extension(capsys, tmp_path):
    r = cli(capsys, "graph", "resnet18", "--device", "meta", "-o", tmp_path / "g.jpg")
    assert r.rc == 2 and "use a .svg, .png, .pdf or .dot" in r.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_json_over_an_existing_file_keeps_its_mode(capsys, tmp_path, mode):
    p = tmp_path / "a.json"
    p.write_text("{}")
    os.chmod(p, mode)
    r = cli(capsys, "analyze", "resnet18", "--device", "meta", "--json", p)
    assert r.rc == 0
    assert stat.S_IMODE(p.stat().st_mode) == mode and json.loads(p.read_text())["layers"]
    assert leftovers(tmp_path) == []


def test_json_through_a_symlink_replaces_the_target(capsys, tmp_path):
    real = tmp_path / "real.json"
    real.write_text("{}")
    (tmp_path / "link.json").symlink_to(real)
    r = cli(capsys, "analyze", "resnet18", "--device", "meta", "--json",
            tmp_path / "link.json")
    assert r.rc == 0 and (tmp_path / "link.json").is_symlink()
    assert json.loads(real.read_text())["model"] == "resnet18"


def test_report_into_a_users_folder_is_refused_and_nothing_deleted(capsys, tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "thesis.tex").write_text("my thesis")
    (project / "src" / "main.py").write_text("print(1)")
    r = cli(capsys, "report", "resnet18", "--device", "meta", "--out", project, "--no-png")
    assert_one_line_error(r, 2, contains=("not written by archlens", "--out"))
    assert (project / "thesis.tex").read_text() == "my thesis"
    assert sorted(p.name for p in project.iterdir()) == ["src", "thesis.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_report_twice_then_into_a_symlink(capsys, tmp_path):
    out = tmp_path / "rep"
    for _ in range(2):
        r = cli(capsys, "report", "resnet18", "--device", "meta", "--out", out, "--no-png")
        assert r.rc == 0, r.err
    link = tmp_path / "link"
    link.symlink_to(out)
    r = cli(capsys, "report", "resnet18", "--device", "meta", "--out", link, "--no-png")
    assert r.rc == 0, r.err
    assert link.is_symlink() and (out / "report.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "rep"]


def test_report_onto_a_full_disk_keeps_the_previous_report(capsys, small_disk):
    out = small_disk / "r"
    out.mkdir()
    (out / ".archlens-report").write_text("{}")
    (out / "report.html").write_text("previous")
    r = cli(capsys, "report", "resnet18", "--device", "meta", "--out", out, "--no-png")
    assert_one_line_error(r, 2, contains="No space left on device")
    assert (out / "report.html").read_text() == "previous"
    assert sorted(p.name for p in small_disk.iterdir()) == ["r"]


def test_graph_onto_a_full_disk_keeps_the_previous_graph(capsys, small_disk):
    g = small_disk / "g.svg"
    g.write_text("<svg>previous</svg>")
    r = cli(capsys, "graph", "inception_v3", "--device", "meta", "-o", g)
    assert_one_line_error(r, 2, contains="No space left on device")
    assert g.read_text() == "<svg>previous</svg>"
    assert sorted(p.name for p in small_disk.iterdir()) == ["g.svg"]
