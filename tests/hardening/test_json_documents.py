"""The hardening battery, JSON side: analysis documents read by ``archlens report FILE.json``
(and ``Analysis.from_dict``), and bench results files. Each bad document is one line naming
the bad field or the file's problem; nothing is written."""
from __future__ import annotations

import copy
import json
import os

import pytest

from archlens.analysis import Analysis
from archlens.errors import ArchlensError
from tests.hardening._cli import assert_one_line_error, cli


@pytest.fixture(scope="module")
def doc():
    import archlens
    return json.loads(archlens.analyze("resnet18", device="meta").to_json())


def _set(d, path, value):
    *head, last = path
    for k in head:
        d = d[k]
    if value is _DEL:
        del d[last]
    else:
        d[last] = value


_DEL = object()
# (path in the document, new value, the field the one line must name)
MUTATIONS = [
    (("layers", 3, "macs"), -5, "layers[3].macs"),
    (("layers", 3, "macs"), 1.5, "layers[3].macs"),
    (("layers", 3, "macs"), "10", "layers[3].macs"),
    (("layers", 3, "macs"), True, "layers[3].macs"),
    (("layers", 3, "params"), -1, "layers[3].params"),
    (("layers", 3, "activations"), None, "layers[3].activations"),
    (("layers", 0, "out_shape"), [1, -64, 112, 112], "layers[0].out_shape"),
    (("layers", 0, "out_shape"), "1x64x112x112", "layers[0].out_shape"),
    (("layers", 0, "in_shapes"), [[1, 3, "a", 224]], "layers[0].in_shapes[0]"),
    (("layers", 0, "in_shapes"), None, "layers[0].in_shapes"),
    (("layers", 0, "kernel"), [0, 7], "layers[0].kernel"),
    (("layers", 0, "stride"), [2, 2, 2, 2], "layers[0].stride"),
    (("layers", 0, "groups"), 0, "layers[0].groups"),
    (("layers", 0, "stage"), -1, "layers[0].stage"),
    (("layers", 0, "name"), "", "layers[0].name"),
    (("layers", 0, "name"), 7, "layers[0].name"),
    (("layers", 1, "name"), "conv1", "layers[1].name"),          # duplicate name
    (("layers", 2, "inputs"), ["no_such_layer"], "layers[2].inputs[0]"),
    (("layers", 2, "inputs"), ["fc"], "layers[2].inputs[0]"),    # a later layer
    (("layers", 2, "inputs"), "bn1", "layers[2].inputs"),
    (("layers", 0, "rf"), {"size": [-1, 7], "stride": [2, 2], "padding": [3, 3]},
     "layers[0].rf.size"),
    (("layers", 0, "rf"), [7, 7], "layers[0].rf"),
    (("layers", 0, "type"), None, "layers[0].type"),
    (("layers", 0), "conv", "layers[0]"),
    (("layers",), {}, "layers"),
    (("totals", "macs"), 1, "totals.macs"),                     # contradicts the layers
    (("totals", "macs"), -1, "totals.macs"),
    (("totals", "params"), 1, "totals.params"),
    (("totals", "activations"), 0, "totals.activations"),
    (("totals", "paper_macs"), 10**15, "totals.paper_macs"),
    (("totals", "trainable_params"), 10**12, "totals.trainable_params"),
    (("totals", "macs"), _DEL, "totals.macs"),
    (("totals",), [], "totals"),
    (("input_shape",), [1, 3, 0, 224], "input_shape"),
    (("input_shape",), "1x3x224x224", "input_shape"),
    (("model",), 5, "model"),
    (("outputs",), ["nowhere"], "outputs[0]"),
    (("feature_rf",), {"size": "big"}, "feature_rf.size"),
    (("unsupported_ops",), {"aten::foo": -1}, "unsupported_ops"),
    (("findings",), [{"code": "P1.x", "severity": "fatal", "layers": [], "message": "m",
                      "evidence": "e"}], "findings[0].severity"),
    (("findings",), [{"code": "P1.x", "severity": "info", "layers": "conv1", "message": "m",
                      "evidence": "e"}], "findings[0].layers"),
    (("findings",), [{"code": "P1.x", "severity": "info", "layers": [], "message": "m",
                      "evidence": "e", "saving": {"macs": "lots"}}], "findings[0].saving.macs"),
    (("findings",), "none", "findings"),
    (("schema",), "archlens.analysis/99", "schema"),
]


@pytest.mark.parametrize("path,value,field", MUTATIONS,
                         ids=[f"{'.'.join(map(str, m[0]))}={str(m[1])[:12]}" for m in MUTATIONS])
def test_from_dict_names_the_bad_field(doc, path, value, field):
    d = copy.deepcopy(doc)
    _set(d, path, value)
    with pytest.raises(ArchlensError) as e:
        Analysis.from_dict(d)
    msg = str(e.value)
    assert "\n" not in msg and field in msg, msg


def test_valid_document_reads_back_and_reports(doc, capsys, tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps(doc))
    r = cli(capsys, "report", p, "--out", tmp_path / "rep", "--no-png")
    assert r.rc == 0, r.err
    back = json.loads((tmp_path / "rep" / "analysis.json").read_text())
    assert back["totals"] == doc["totals"] and len(back["layers"]) == len(doc["layers"])


@pytest.mark.parametrize("path,value,field", MUTATIONS[:12],
                         ids=[f"cli-{'.'.join(map(str, m[0]))}" for m in MUTATIONS[:12]])
def test_report_of_a_bad_document_is_one_line_and_writes_nothing(doc, capsys, tmp_path, path,
                                                                  value, field):
    d = copy.deepcopy(doc)
    _set(d, path, value)
    p = tmp_path / "a.json"
    p.write_text(json.dumps(d))
    r = cli(capsys, "report", p, "--out", tmp_path / "rep", "--no-png")
    assert_one_line_error(r, 2, contains=field)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.json"]


def _bad_file(tmp_path, case):
    p = tmp_path / "a.json"
    if case == "missing":
        return tmp_path / "missing.json"
    if case == "folder":
        (tmp_path / "d.json").mkdir()
        return tmp_path / "d.json"
    if case == "dev_zero":  # an endless file behind a .json name
        (tmp_path / "z.json").symlink_to("/dev/zero")
        return tmp_path / "z.json"
    if case == "fifo":
        os.mkfifo(tmp_path / "f.json")
        return tmp_path / "f.json"
    data = {"not_utf8": b"\xff\xfe{\"a\": 1}", "empty": b"", "truncated": b'{"schema": "arch',
            "nan": b'{"schema": "archlens.analysis/1", "x": NaN}',
            "nested": b"[" * 100_000 + b"]" * 100_000, "array": b"[1, 2]",
            "string": b'"hello"', "wrong_schema": b'{"schema": "other/1"}',
            "no_layers": b'{"schema": "archlens.analysis/1", "model": "m", '
                         b'"input_shape": [1, 3, 8, 8], "totals": {"params": 0, "macs": 0}}',
            "binary": bytes(range(256))}[case]
    p.write_bytes(data)
    return p


FILE_CASES = [("missing", "does not exist"), ("folder", "is a folder"),
              ("dev_zero", "not a regular file"), ("fifo", "not a regular file"),
              ("not_utf8", "not UTF-8"), ("empty", "not JSON"), ("truncated", "not JSON"),
              ("nan", "NaN"), ("nested", "nested too deeply"), ("array", "JSON object"),
              ("string", "JSON object"), ("wrong_schema", "schema"),
              ("no_layers", "layers"), ("binary", "not UTF-8")]


@pytest.mark.parametrize("case,contains", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_analysis_files(capsys, tmp_path, case, contains):
    p = _bad_file(tmp_path, case)
    before = sorted(x.name for x in tmp_path.iterdir())
    r = cli(capsys, "report", p, "--out", tmp_path / "rep", "--no-png")
    assert_one_line_error(r, 2, contains=contains)
    assert sorted(x.name for x in tmp_path.iterdir()) == before


@pytest.mark.parametrize("case,contains", [c for c in FILE_CASES if c[0] not in
                                           ("wrong_schema", "no_layers", "array", "string")],
                         ids=[c[0] for c in FILE_CASES if c[0] not in
                              ("wrong_schema", "no_layers", "array", "string")])
def test_bad_bench_results_files(capsys, tmp_path, case, contains):
    p = _bad_file(tmp_path, case)
    r = cli(capsys, "report", "resnet18", "--device", "meta", "--bench", p, "--out",
            tmp_path / "rep", "--no-png")
    assert_one_line_error(r, 2, contains=contains)
    assert not (tmp_path / "rep").exists()


def test_oversized_document_is_refused_before_reading(tmp_path):
    from archlens.io import InputFileError, read_text_bounded
    p = tmp_path / "big.json"
    p.write_bytes(b" " * 2048)
    with pytest.raises(InputFileError, match="over the 1,024-byte limit"):
        read_text_bounded(p, what="analysis document", limit=1024)
