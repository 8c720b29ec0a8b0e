"""Timing statistics, the results file (atomic save, round trip, one-line errors)."""
from __future__ import annotations

import copy
import json

import pytest

from archlens.bench.results import (SCHEMA, BenchResultsError, load_results, save_results,
                                    validate)
from archlens.bench.timing import Timing


def _form(median: float, macs: int) -> dict:
    t = Timing.from_times([median * 0.9, median, median * 1.1], 1)
    return {"label": "x", "macs": macs, "params": 10, "latency": t.to_dict(),
            "gmacs_per_s": macs / median / 1e9, "percent_of_peak": None}


def doc() -> dict:
    full, fact = _form(2e-3, 1_000_000), _form(1e-3, 500_000)
    return {"schema": SCHEMA, "env": {"device": "cpu"}, "config": {}, "skipped": [],
            "cases": [{"id": "asym3/g8/4-4-4/linear", "kind": "factorization", "batch": 1,
                       "grid": 8, "full": full, "factorized": fact, "mac_ratio": 0.5,
                       "latency_ratio": 1e-3 / 2e-3}]}


def test_timing_quantiles_by_hand():
    # numpy's default (linear) quantiles of 1..5 ms: q1 = 2, median = 3, q3 = 4.
    t = Timing.from_times([5e-3, 1e-3, 3e-3, 2e-3, 4e-3], 7)
    assert t.median_s == pytest.approx(3e-3)
    assert t.q1_s == pytest.approx(2e-3) and t.q3_s == pytest.approx(4e-3)
    assert t.iqr_s == pytest.approx(2e-3)
    assert (t.runs, t.number_per_run, t.min_s, t.max_s) == (5, 7, 1e-3, 5e-3)


def test_round_trip_and_atomic_save(tmp_path):
    path = save_results(doc(), tmp_path / "sub" / "bench.json")
    assert load_results(path) == doc()
    assert [p.name for p in path.parent.iterdir()] == ["bench.json"]  # no temp file left
    json.loads(path.read_text())  # plain JSON, no NaN


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.update(schema="archlens.analysis/1"), "schema"),
    (lambda d: d.pop("cases"), "lack 'cases'"),
    (lambda d: d["cases"][0].update(latency_ratio=0.7), "ratio of the medians"),
    (lambda d: d["cases"][0]["full"]["latency"].update(median_s=0.0), "must be positive"),
    (lambda d: d["cases"][0]["full"]["latency"].update(iqr_s=-1.0), "negative"),
    (lambda d: d["cases"][0]["factorized"].pop("macs"), "lacks 'macs'"),
    (lambda d: d["cases"].append(copy.deepcopy(d["cases"][0])), "appears twice"),
    (lambda d: d["cases"][0]["full"].update(gmacs_per_s=float("nan")), "finite"),
])
def test_validation_names_the_problem_in_one_line(mutate, words):
    d = doc()
    mutate(d)
    with pytest.raises(BenchResultsError) as e:
        validate(d)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(BenchResultsError, match="does not exist"):
        load_results(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BenchResultsError, match="is not JSON"):
        load_results(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "archlens.analysis/1"}))
    with pytest.raises(BenchResultsError, match=r"other\.json: schema"):
        load_results(other)


def test_save_refuses_invalid_and_leaves_nothing(tmp_path):
    d = doc()
    d["cases"][0]["latency_ratio"] = 3.0
    with pytest.raises(BenchResultsError):
        save_results(d, tmp_path / "x.json")
    assert not list(tmp_path.iterdir())
