"""Identical findings grouped, fix costs shown as costs, the totals of every fix (hand
arithmetic on Inception-v3's findings)."""
from __future__ import annotations

import pytest

from archlens import api
from archlens.render import findings as F


@pytest.fixture(scope="module")
def v3():
    return api.analyze("inception_v3", device="meta")


def test_three_identical_p3_findings_are_one_group(v3):
    groups = F.repeats(v3.findings)
    p3 = [ms for f, ms in groups if f.code == "P3.factorize-large"]
    assert len(p3) == 1 and len(p3[0]) == 3
    assert F.where(p3[0]) == "x3: Mixed_5b, 5c, 5d (.branch5x5_2.conv)"


def test_totals_and_costs_by_hand(v3):
    # P3: 5x5 48->64 at 35x35 = 94,080,000 MACs vs 3x3 48->55 + 3x3 55->64 =
    # 1225 * 9 * (48*55 + 55*64) = 67,914,000: 26,166,000 saved, three times
    # P1: the parallel 3x3 stride-2 conv 192->204 at 35x35 the fix adds: 1225*9*192*204
    t = F.totals(v3.findings)
    assert t["macs_saved"] == 3 * (94_080_000 - 1225 * 9 * (48 * 55 + 55 * 64)) == 78_498_000
    assert t["params_saved"] == 3 * (25 * 48 * 64 - 9 * (48 * 55 + 55 * 64))
    assert t["macs_cost"] == 1225 * 9 * 192 * 204 == 431_827_200
    text = F.totals_text(v3.findings, v3.totals.macs)
    assert text.startswith("Every fix applied: saves 78.5 M MACs (1.4 % of 5.73 G MACs) and "
                           "64.1 K params; costs +432 M MACs")


def test_markdown_table_has_one_row_per_distinct_finding_and_the_cost(v3):
    from archlens.render.markdown import findings_table
    md = findings_table(v3.findings, v3.totals.macs)
    rows = [line for line in md.splitlines() if line.startswith("| warning")]
    assert len(rows) == 2 and len(v3.findings) == 4
    assert "costs +432 M MACs" in rows[0] and "x3: Mixed_5b, 5c, 5d" in rows[1]
