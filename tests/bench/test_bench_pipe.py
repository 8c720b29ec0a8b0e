"""`archlens bench` through a pipe: the plain aligned table, not rich squeezed to 80 columns."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

from archlens.bench.results import save_results
from archlens.render.bench import HEADER

from .test_results import doc

ROOT = Path(__file__).resolve().parents[2]


def _results() -> dict:
    d = doc()
    long = copy.deepcopy(d["cases"][0])
    long.update(id="net/long", kind="network", title="inception_v3 vs inception_v3_unfactorized "
                                                      "(whole network, 299x299)", batch=8)
    d["cases"].append(long)
    d["env"].update(device_name="Test CPU", threads=1, dtype="float32")
    return d


def test_bench_show_through_a_pipe_is_one_aligned_line_per_row(tmp_path):
    path = save_results(_results(), tmp_path / "b.json")
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="80", TERM="dumb")
    r = subprocess.run([sys.executable, "-m", "archlens", "bench", "show", str(path)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("case "))
    table = lines[head:head + 4]            # header, rule, two rows
    assert all(h in table[0] for h in HEADER)
    assert set(table[1]) == {"-", " "}
    # no wrapping: each case is one line with its whole title and every cell
    assert table[2].startswith("asym3/g8/4-4-4/linear ")
    assert table[3].startswith("inception_v3 vs inception_v3_unfactorized (whole network, "
                               "299x299) ")
    assert len(table[0]) > 80 and len({len(x) for x in table}) == 1   # columns aligned
    for row in table[2:]:
        assert row.rstrip().endswith("%") and "0.500" in row and "2 ± 0.1" in row
    assert "│" not in r.stdout and "\x1b[" not in r.stdout       # no box, no colour codes
