"""``archlens compare`` as CI runs it: analysis.json inputs, --fail-if budgets (exit codes and
the exact line each prints), --format json|markdown, malformed budgets."""
from __future__ import annotations

import copy
import json

import pytest

from archlens.cli import main


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    from archlens import api
    root = tmp_path_factory.mktemp("cmp")
    out = {}
    for m in ("inception_v3", "inception_v3_unfactorized"):
        p = root / f"{m}.json"
        p.write_text(api.analyze(m).to_json())
        out[m] = p
    # B with a smaller receptive field and an error finding (documents are data: CI
    # compares what analyze wrote)
    d = json.loads(out["inception_v3"].read_text())
    worse = copy.deepcopy(d)
    worse["model"] = "worse"
    worse["feature_rf"]["size"] = [1000, 1000]
    worse["findings"].append({"code": "P1.test", "severity": "error", "layers": ["fc"],
                              "message": "m", "evidence": "e", "fix": "", "saving": None,
                              "data": {}})
    out["worse"] = root / "worse.json"
    out["worse"].write_text(json.dumps(worse))
    return out


def _run(capsys, *argv):
    rc = main(["compare", *map(str, argv)])
    o = capsys.readouterr()
    return rc, o.out, o.err


def test_budgets_exceeded_exit_1_with_one_line_each(docs, capsys):
    a, b = docs["inception_v3"], docs["inception_v3_unfactorized"]
    rc, out, err = _run(capsys, a, b, "--format", "json", "--fail-if", "macs>+2%",
                        "--fail-if", "params>+0", "--fail-if", "feature_rf<-0",
                        "--fail-if", "findings.error>0")
    assert rc == 1
    # published parameter counts: 27,161,264 (torchvision Inception-v3); the unfactorized
    # variant adds 13,862,016 (the zoo card); MACs 5.73 G -> 9.73 G (+4.00 G, 1.70x)
    assert err.splitlines() == [
        "archlens: budget exceeded: macs>+2%: macs +4.00 G MACs (+69.7%; 5.73 G -> 9.73 G MACs)",
        "archlens: budget exceeded: params>+0: params +13.9 M params (+51.0%; 27.2 M -> 41.0 M "
        "params)"]
    doc = json.loads(out)
    assert doc["schema"] == "archlens.diff/1" and doc["counts"]["changed"] == 17
    assert [(x["expr"], x["exceeded"]) for x in doc["budgets"]] == [
        ("macs>+2%", True), ("params>+0", True), ("feature_rf<-0", False),
        ("findings.error>0", False)]
    t = {x["key"]: x for x in doc["totals"]}
    assert t["params"]["a"] == 27_161_264 and t["params"]["delta"] == 13_862_016


def test_within_budget_exits_0(docs, capsys):
    a, b = docs["inception_v3"], docs["inception_v3_unfactorized"]
    rc, out, err = _run(capsys, a, b, "--format", "markdown", "--fail-if", "macs>+70%",
                        "--fail-if", "layers<=262", "--fail-if", "findings.error>0")
    assert (rc, err) == (0, "")
    assert out.startswith("# Comparison: inception_v3 vs inception_v3_unfactorized\n")
    import html
    import re
    plain = html.unescape(re.sub(r"\\(.)", r"\1", out))  # the text a Markdown viewer shows
    assert "- ok: budget ok: macs>+70%: macs +4.00 G MACs (+69.7%; 5.73 G -> 9.73 G MACs)" \
        in plain
    assert "| changed | Mixed_6b.branch7x7_2.conv | factorization |" in out


@pytest.mark.parametrize("expr, exceeded", [
    ("layers<264", True), ("layers<263", False), ("layers<=263", True),   # B has 263
    ("layers>=263", True), ("layers>263", False),
    ("macs<-0", True), ("macs<=-42%", False), ("macs<-41%", True),          # -41.1 %
])
def test_operators_and_absolute_values(docs, capsys, expr, exceeded):
    # layers: A = inception_v3, B = unfactorized (263 layers); macs reversed: B = inception_v3,
    # 5.73 G / 9.73 G - 1 = -41.1 %
    a, b = docs["inception_v3_unfactorized"], docs["inception_v3"]
    if expr.startswith("layers"):
        a, b = b, a
    rc, _, err = _run(capsys, a, b, "--format", "json", "--fail-if", expr)
    assert rc == (1 if exceeded else 0), err
    assert (f"archlens: budget exceeded: {expr}:" in err) == exceeded


def test_receptive_field_and_error_budgets(docs, capsys):
    rc, _, err = _run(capsys, docs["inception_v3"], docs["worse"], "--format", "json",
                      "--fail-if", "feature_rf<-0", "--fail-if", "findings.error>0")
    assert rc == 1
    assert err.splitlines() == [
        "archlens: budget exceeded: feature_rf<-0: feature_rf -311 px (-23.7%; 1,311 -> "
        "1,000 px)",
        "archlens: budget exceeded: findings.error>0: findings.error of worse: 1 error findings"]


@pytest.mark.parametrize("expr, says", [
    ("macs>>2%", "expected METRIC OP VALUE"),
    ("macs", "expected METRIC OP VALUE"),
    ("", "expected METRIC OP VALUE"),
    ("flops>+2%", "unknown metric 'flops'"),
    ("mac>+2%", "did you mean macs?"),
    ("macs>2%", "needs a sign"),
    ("macs>+2G%", "takes no K/M/G suffix"),
])
def test_malformed_budget_is_one_line_error_before_any_work(docs, capsys, tmp_path, expr, says):
    out = tmp_path / "never"
    rc, stdout, err = _run(capsys, docs["inception_v3"], docs["inception_v3_unfactorized"],
                           "--out", out, "--fail-if", expr)
    assert rc == 2 and stdout == ""
    assert len(err.splitlines()) == 1 and err.startswith("archlens: error: --fail-if ")
    assert says in err and "Traceback" not in err
    assert not out.exists()


def test_report_folder_with_side_by_side_graphs(docs, capsys, tmp_path):
    from html.parser import HTMLParser
    out = tmp_path / "cmp"
    rc, stdout, err = _run(capsys, docs["inception_v3"], docs["inception_v3_unfactorized"],
                           "--out", out, "--no-png", "--md-assets",
                           "https://ci.example/artifacts/cmp/")
    assert rc == 0 and err == ""
    assert "inception_v3_unfactorized costs 1.70x the MACs of inception_v3" in stdout
    files = {p.name for p in out.iterdir()}
    assert {"report.html", "report.md", "compare.json", "graph_a.svg", "graph_b.svg"} <= files
    md = (out / "report.md").read_text()
    assert "](https://ci.example/artifacts/cmp/graph_b.svg)" in md
    # the changed convs are outlined in both graphs: B's 17 merged convs, A's 17 pairs
    for name, n in (("graph_b.svg", 17), ("graph_a.svg", 34)):
        svg = (out / name).read_text()
        assert svg.count('stroke="#6a1b9a" stroke-width="4"') == n, name

    class P(HTMLParser):
        ids: list = []

        def handle_starttag(self, tag, attrs):
            d = dict(attrs)
            if "id" in d:
                self.ids.append(d["id"])
    p = P()
    p.feed((out / "report.html").read_text())
    assert {"pz-a-box", "pz-b-box", "modules", "stages", "graphs"} <= set(p.ids)
