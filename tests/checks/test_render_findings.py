"""Findings renderers: exact text at a fixed console width, and Markdown structure."""
from __future__ import annotations

from rich.console import Console

from archlens.analysis import Finding
from archlens.checks import summarize
from archlens.render.findings import findings_markdown, findings_renderable, summary_lines

F1 = Finding(code="P3.no-reduction", severity="warning", layers=("conv",),
             message="5x5 conv 192->32 at 28x28 has no 1x1 reduction",
             evidence="120,422,400 MACs", fix="insert a 1x1 conv 192->16",
             saving={"macs": 107_978_752, "params": 137_728},
             data={"per_layer": {"conv": {"macs": 107_978_752, "params": 137_728}}})
F2 = Finding(code="P1.grid-reduction", severity="error", layers=("pool",),
             message="35x35x288 -> 17x17x288 by max-pool", evidence="4.24x drop")


def test_rich_text_exact_at_fixed_width():
    console = Console(width=80, record=True, color_system=None)
    console.print(findings_renderable([F2, F1], summarize([F2, F1]), title="t"))
    lines = [ln.rstrip() for ln in console.export_text().splitlines()]
    assert lines[0] == "t"
    assert lines[1].startswith("Principle 1: avoid representational bottlenecks")
    assert lines[2] == "ERROR P1.grid-reduction  pool"
    assert lines[3] == "  35x35x288 -> 17x17x288 by max-pool"
    assert lines[4] == "  evidence: 4.24x drop"
    assert lines[6] == "WARN  P3.no-reduction  conv"
    assert "  saving: 107,978,752 MACs (108 M), 137,728 params" in lines
    assert "2 findings: 1 error, 1 warning, 0 info" in lines


def test_markdown_groups_by_principle_and_labels_units():
    md = findings_markdown([F2, F1], summarize([F2, F1]))
    assert md.index("### Principle 1") < md.index("### Principle 3")
    assert "- **error** `P1.grid-reduction` — 35x35x288 -> 17x17x288 by max-pool" in md
    assert "  - saving: 107,978,752 MACs (108 M), 137,728 params" in md
    assert findings_markdown([], None).endswith("No findings: the design checks found "
                                                "nothing to flag.\n")


def test_summary_reports_factorization_total_and_reference_difference():
    s = {"findings": 1, "counts": {"error": 0, "warning": 1, "info": 0},
         "saving": {"macs": 10, "params": 2}, "total_macs": 100,
         "factorization": {"findings": 1, "macs": 10, "params": 2},
         "reference": {"model": "base", "macs": 90, "mac_difference": 10}}
    lines = summary_lines(s)
    assert "factorization findings (P3.factorize-*): 1, total saving 10 MACs, 2 params" in lines
    assert "MAC difference to base: 10 MACs (100 - 90 MACs)" in lines
