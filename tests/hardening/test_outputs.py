"""archlens.outputs: nothing the user owns is deleted, no output is ever half-written, no temp
is left behind (files and report folders; permissions, symlinks, full disk, stale temps of
dead processes, concurrent writers, interrupts)."""
from __future__ import annotations

import errno
import os
import stat
import threading

import pytest

from archlens import outputs
from archlens.errors import OutputError
from tests.hardening.conftest import leftovers

DEAD_PID = 2**22 + 12345  # above pid_max's usual 4194304: never a live process


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


# ----------------------------------------------------------------------------- files

@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o755, 0o664])
def test_replaced_file_keeps_its_mode(tmp_path, mode):
    p = tmp_path / "a.json"
    p.write_text("old")
    os.chmod(p, mode)
    outputs.write_file(p, "new")
    assert p.read_text() == "new"
    assert stat.S_IMODE(p.stat().st_mode) == mode
    assert leftovers(tmp_path) == []


def test_new_file_gets_the_umask_mode_not_0600(tmp_path):
    p = tmp_path / "new.svg"
    outputs.write_file(p, b"<svg/>")
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~_umask()


def test_symlinked_file_is_followed_link_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    outputs.write_file(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"
    assert leftovers(tmp_path) == []


def test_relative_symlink_chain_is_followed(tmp_path):
    (tmp_path / "d").mkdir()
    real = tmp_path / "d" / "real.md"
    real.write_text("old")
    (tmp_path / "l1").symlink_to("d/real.md")
    (tmp_path / "l2").symlink_to("l1")
    outputs.write_file(tmp_path / "l2", "new")
    assert real.read_text() == "new" and (tmp_path / "l2").is_symlink()


@pytest.mark.parametrize("case", ["folder", "missing_parent", "parent_is_file", "too_long",
                                  "component_too_long"])
def test_unwritable_file_targets_are_one_line_errors(tmp_path, case):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("keep")
    target = {"folder": tmp_path / "dir",
              "missing_parent": tmp_path / "nope" / "x.json",
              "parent_is_file": tmp_path / "file" / "x.json",
              "too_long": tmp_path / ("n" * 300 + ".svg"),
              "component_too_long": tmp_path / ("d" * 300) / "x.svg"}[case]
    with pytest.raises(OutputError) as e:
        outputs.write_file(target, "data")
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400 and msg.startswith("cannot write")
    assert (tmp_path / "file").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


def test_full_disk_keeps_the_previous_file(small_disk):
    p = small_disk / "g.svg"
    p.write_text("previous good graph")
    with pytest.raises(OutputError) as e:
        outputs.write_file(p, "x" * 200_000)
    assert "No space left on device" in str(e.value) and "\n" not in str(e.value)
    assert p.read_text() == "previous good graph"
    assert leftovers(small_disk) == []


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / f".g.svg.{DEAD_PID}-abc123.archlens-tmp"
    alive = tmp_path / f".g.svg.{os.getppid()}-def456.archlens-tmp"
    other = tmp_path / f".g.svg.{DEAD_PID}-abc123.tmp"  # not our pattern: not ours
    for f in (dead, alive, other):
        f.write_text("partial")
    outputs.write_file(tmp_path / "g.svg", "new")
    assert not dead.exists() and alive.exists() and other.exists()


def test_interrupt_during_write_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    p.write_text("old")

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        outputs.write_file(p, "new")
    assert p.read_text() == "old" and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- folders

def _write_report(out, content="v1"):
    with outputs.output_dir(out) as tmp:
        (tmp / "report.html").write_text(content)
        (tmp / "charts").mkdir()
        (tmp / "charts" / "a.html").write_text(content)
    return out


@pytest.mark.parametrize("user_files", [["thesis.tex"], ["src/main.py"], [".hidden"],
                                        ["thesis.tex", "src/a.py", "notes/x.md"]])
def test_non_empty_folder_not_written_by_archlens_is_refused(tmp_path, user_files):
    out = tmp_path / "project"
    for f in user_files:
        (out / f).parent.mkdir(parents=True, exist_ok=True)
        (out / f).write_text("mine")
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    with pytest.raises(OutputError) as e:
        _write_report(out)
    assert "not written by archlens" in str(e.value) and "\n" not in str(e.value)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert all((out / f).read_text() == "mine" for f in user_files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_new_and_empty_folders_are_written_and_marked(tmp_path):
    for out in (tmp_path / "new" / "deep", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
            os.chmod(out, 0o750)
        _write_report(out)
        assert (out / "report.html").read_text() == "v1"
        assert outputs.is_report_dir(out)
    assert stat.S_IMODE((tmp_path / "empty").stat().st_mode) == 0o750
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "new") == []


def test_previous_report_is_replaced_whole(tmp_path):
    out = _write_report(tmp_path / "r", "v1")
    (out / "stale.html").write_text("from v1")
    _write_report(out, "v2")
    assert (out / "report.html").read_text() == "v2" and not (out / "stale.html").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt(),
                                 OSError(errno.ENOSPC, "No space left on device")])
def test_failure_inside_keeps_previous_report_and_removes_temp(tmp_path, exc):
    out = _write_report(tmp_path / "r", "v1")
    expected = OutputError if isinstance(exc, OSError) else type(exc)
    with pytest.raises(expected):
        with outputs.output_dir(out) as tmp:
            (tmp / "report.html").write_text("half")
            raise exc
    assert (out / "report.html").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_symlinked_report_folder_is_followed_link_kept(tmp_path):
    real = _write_report(tmp_path / "real", "v1")
    link = tmp_path / "link"
    link.symlink_to(real)
    _write_report(link, "v2")
    assert link.is_symlink() and (real / "report.html").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_file_as_report_folder_is_refused(tmp_path):
    f = tmp_path / "r"
    f.write_text("mine")
    with pytest.raises(OutputError, match="it is a file"):
        _write_report(f)
    assert f.read_text() == "mine"


def test_full_disk_during_report_keeps_previous_and_no_temp(small_disk):
    out = _write_report(small_disk / "r", "v1")
    with pytest.raises(OutputError) as e:
        with outputs.output_dir(out) as tmp:
            (tmp / "report.html").write_text("x" * 200_000)
    assert "No space left on device" in str(e.value) and "\n" not in str(e.value)
    assert (out / "report.html").read_text() == "v1"
    assert sorted(p.name for p in small_disk.iterdir()) == ["r"]


def test_mount_point_as_out_is_a_one_line_error(small_disk):
    with pytest.raises(OutputError) as e:
        _write_report(small_disk)
    assert "mount point" in str(e.value) and "\n" not in str(e.value)
    assert list(small_disk.iterdir()) == []


def test_stale_temp_folders_of_dead_processes_are_removed(tmp_path):
    out = _write_report(tmp_path / "r", "v1")
    stale = tmp_path / f".r.tmp-{DEAD_PID}-x1"
    stale.mkdir()
    (stale / outputs.MARKER).write_text("{}")
    live = tmp_path / f".r.tmp-{os.getppid()}-x2"
    live.mkdir()
    (live / outputs.MARKER).write_text("{}")
    foreign = tmp_path / f".r.tmp-{DEAD_PID}-x3"  # no marker: not ours, never touched
    foreign.mkdir()
    _write_report(out, "v2")
    assert not stale.exists() and live.exists() and foreign.exists()


def test_report_of_a_run_killed_mid_swap_is_put_back(tmp_path):
    out = _write_report(tmp_path / "r", "v1")
    old = tmp_path / f".r.old-{DEAD_PID}-x1"
    os.replace(out, old)  # what a SIGKILL between the two renames leaves
    outputs.check_output_dir(out)
    with outputs.output_dir(out) as tmp:
        assert (out / "report.html").read_text() == "v1"  # restored before the new run
        (tmp / "report.html").write_text("v2")
    assert (out / "report.html").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_concurrent_writers_leave_one_complete_report_and_nothing_else(tmp_path):
    out = tmp_path / "r"
    errors: list[BaseException] = []

    def run(i):
        try:
            for k in range(3):
                with outputs.output_dir(out) as tmp:
                    for n in range(20):
                        (tmp / f"f{n}.txt").write_text(f"{i}-{k}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    contents = {(out / f"f{n}.txt").read_text() for n in range(20)}
    assert len(contents) == 1  # one run's complete report, not a mix
