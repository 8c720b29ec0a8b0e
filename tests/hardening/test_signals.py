"""The hardening battery, signals: SIGTERM and SIGINT mid-run end cleanly (exit 143 / 130,
one line, no temp folder, the previous report intact). Real subprocesses, since exit codes
and signal delivery are the point."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hardening._cli import STRANGE

ROOT = Path(__file__).resolve().parents[2]
# A report run that blocks inside the report folder's temp stage (charts step) until killed.
SLOW_REPORT = """
import sys, time
import archlens.render.charts as ch
_orig = ch.figures
def slow(a):
    print("IN-TEMP", file=sys.stderr, flush=True)
    time.sleep(600)
    return _orig(a)
ch.figures = slow
from archlens.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _spawn(args, env_extra=None, code=None):
    env = dict(os.environ, **(env_extra or {}))
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "archlens",
                                                            *args]
    # SIGINT at its default, as in a terminal: a runner that starts the tests in the
    # background (``cmd &`` in a non-interactive shell) passes SIGINT down *ignored*, and then
    # Python never installs its KeyboardInterrupt handler -- Ctrl-C could not reach archlens
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(p, text, timeout=120):
    t0 = time.monotonic()
    seen = ""
    while time.monotonic() - t0 < timeout:
        line = p.stderr.readline()
        seen += line
        if text in line:
            return seen
        if p.poll() is not None:
            break
    pytest.fail(f"never saw {text!r}: {seen}")


@pytest.mark.parametrize("sig,rc,word", [(signal.SIGTERM, 143, "terminated"),
                                         (signal.SIGINT, 130, "interrupted")])
def test_signal_during_the_forward_pass(sig, rc, word):
    p = _spawn(["analyze", f"{STRANGE}:build", "--device", "meta"], {"HZ_MODE": "sleep"})
    _wait_for(p, "IN-FORWARD")  # imported, in the (sleeping) forward
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == rc, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"archlens: {word}") and \
        "Traceback" not in err


@pytest.mark.parametrize("sig,rc", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_writing_a_report_keeps_the_previous_one(tmp_path, sig, rc):
    out = tmp_path / "rep"
    first = subprocess.run([sys.executable, "-m", "archlens", "report", "resnet18",
                            "--device", "meta", "--out", str(out), "--no-png"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = (out / "report.html").read_bytes()
    p = _spawn(["report", "resnet18", "--device", "meta", "--out", str(out), "--no-png"],
               code=SLOW_REPORT)
    _wait_for(p, "IN-TEMP")
    assert [x for x in tmp_path.iterdir() if ".tmp-" in x.name]  # it is in its temp folder
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == rc, err
    assert err.strip().splitlines()[-1].startswith("archlens: ")
    assert "Traceback" not in err
    assert sorted(x.name for x in tmp_path.iterdir()) == ["rep"]  # no temp left
    assert (out / "report.html").read_bytes() == before


def test_sigkill_leftovers_are_cleaned_by_the_next_run(tmp_path):
    out = tmp_path / "rep"
    p = _spawn(["report", "resnet18", "--device", "meta", "--out", str(out), "--no-png"],
               code=SLOW_REPORT)
    _wait_for(p, "IN-TEMP")
    p.kill()
    p.wait()
    assert [x for x in tmp_path.iterdir() if ".tmp-" in x.name]  # what SIGKILL leaves
    r = subprocess.run([sys.executable, "-m", "archlens", "report", "resnet18", "--device",
                        "meta", "--out", str(out), "--no-png"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["rep"]
