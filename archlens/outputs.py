"""Every file and folder archlens writes goes through here: archlens replaces only what it
created, never leaves a half-written output, and cleans up after itself.

    write_file(path, data)     one file (graph, JSON, Markdown, chart): written to a temp file
                               in the same folder and renamed over the target; the permissions
                               of a replaced file are kept (a new one gets 0666 & ~umask);
                               a symlink is followed (its target is replaced, the link stays)
    output_dir(out)            context manager for a report folder: yields a temp folder
                               next to ``out``; on success it replaces ``out``, on any error
                               or signal it is removed

Ownership: a report folder carries the marker file :data:`MARKER`. ``output_dir`` refuses a
non-empty folder without it (one-line :class:`OutputError`), so ``--out ~/Documents`` can
never be wiped; an empty folder is taken over (its mode kept). Temp names carry the writing
process's id: ``.NAME.tmp-PID-XXXX`` (folders, holding the marker from their first moment)
and ``.NAME.PID-XXXX.archlens-tmp`` (files). A run removes the ones of dead processes next to
its target (a SIGKILLed run leaves nothing behind for long); a folder's previous version
``.NAME.old-PID-XXXX``, left by a run killed mid-swap, is put back when ``NAME`` is missing.
Concurrent runs into one folder serialise their swap on an ``flock`` of the parent folder
(no lock file): the last one wins and nothing else is left.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from archlens.errors import OutputError

MARKER = ".archlens-report"
_MARKER_TEXT = json.dumps({"written_by": "archlens",
                           "note": "archlens replaces this folder on the next run with the "
                                   "same --out; delete this file to keep it from archlens"})
_FILE_TMP = re.compile(r"^\.(?P<name>.*)\.(?P<pid>\d+)-[A-Za-z0-9_]+\.archlens-tmp$")
_DIR_TMP = re.compile(r"^\.(?P<name>.*)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[A-Za-z0-9_]+$")
_NAME_KEEP = 80  # characters of the target name kept in temp names (NAME_MAX is 255 bytes)


def _why(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def _shown(path: Path | str) -> str:
    s = str(path)
    return s if len(s) <= 120 else s[:60] + "..." + s[-57:]


def _error(verb: str, path: Path | str, e: OSError, hint: str) -> OutputError:
    return OutputError(f"cannot {verb} {_shown(path)!r}: {_why(e)}; {hint}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def resolve_target(path: str | Path) -> Path:
    """The path a write really replaces: symlinks followed (the link itself is kept)."""
    p = Path(path).expanduser()
    if p.is_symlink():
        return Path(os.path.realpath(p))
    return p


# ----------------------------------------------------------------------------- files

def write_file(path: str | Path, data: str | bytes, *, hint: str = "choose a writable path"
               ) -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; returns the path written.

    Readers never see a partial file; on any failure (full disk, read-only folder, a name too
    long, a signal) the previous file is untouched and the temp file is gone."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        target = resolve_target(path)
        try:
            old = target.stat()
        except FileNotFoundError:
            old = None
    except OSError as e:
        raise _error("write", path, e, hint) from None
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise OutputError(f"cannot write {_shown(path)!r}: it is a folder; give a file name")
    folder = target.parent
    _clean_stale_files(folder, target.name)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:_NAME_KEEP]}.{os.getpid()}-",
                                   suffix=".archlens-tmp", dir=folder)
    except OSError as e:
        raise _error("write", path, e, hint) from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            if old is not None:
                os.chmod(tmp, stat.S_IMODE(old.st_mode))
                if hasattr(os, "chown") and (old.st_uid, old.st_gid) != (os.getuid(),
                                                                          os.getgid()):
                    with contextlib.suppress(OSError):
                        os.chown(tmp, old.st_uid, old.st_gid)
            else:
                os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        except OSError as e:
            raise _error("write", path, e, hint) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(path)


def _clean_stale_files(folder: Path, name: str) -> None:
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        m = _FILE_TMP.match(entry)
        if m and name.startswith(m.group("name")) and not _alive(int(m.group("pid"))):
            with contextlib.suppress(OSError):
                os.unlink(folder / entry)


# ----------------------------------------------------------------------------- folders

def is_report_dir(path: Path) -> bool:
    """True when ``path`` is a folder archlens wrote (it carries :data:`MARKER`)."""
    return (path / MARKER).is_file()


def check_output_dir(out: str | Path) -> Path:
    """The folder a report would replace (symlinks followed); :class:`OutputError` when it
    is a file, or a non-empty folder archlens did not write."""
    try:
        target = resolve_target(out)
        st = os.stat(target)  # one stat: another run may be swapping the folder right now
    except FileNotFoundError:
        return target
    except OSError as e:
        raise _error("write the report to", out, e, "choose a folder with --out") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write the report to {_shown(out)!r}: it is a file; choose a "
                          "folder with --out")
    if not is_report_dir(target):
        try:
            with os.scandir(target) as it:
                empty = not any(it)
        except FileNotFoundError:  # swapped away by another run: it was a report
            empty = True
        except OSError as e:
            raise _error("write the report to", out, e, "choose a folder with --out") from None
        if not empty:
            raise OutputError(
                f"refusing to write the report into {_shown(out)!r}: the folder is not empty "
                f"and was not written by archlens (no {MARKER} file); choose a new or empty "
                "folder with --out, e.g. --out " + str(Path(out) / "archlens-report"))
    return target


def _clean_stale_dirs(parent: Path, name: str) -> None:
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    target = parent / name
    for entry in entries:
        m = _DIR_TMP.match(entry)
        if not m or m.group("name") != name[:_NAME_KEEP] or _alive(int(m.group("pid"))):
            continue
        p = parent / entry
        if not is_report_dir(p):
            continue  # not ours: never touch it
        if m.group("kind") == "old" and not target.exists():
            with contextlib.suppress(OSError):
                os.replace(p, target)  # a run killed mid-swap: put the report back
                continue
        shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def output_dir(out: str | Path) -> Iterator[Path]:
    """Yield a fresh temp folder (already holding the marker) next to ``out``; when the
    block succeeds it replaces ``out`` (the previous version is removed only after the new
    one is in place); when it raises -- any error, Ctrl-C, a SIGTERM turned into an
    exception -- the temp folder is removed and ``out`` is untouched. OSErrors inside the
    block (a full disk) become one-line :class:`OutputError`."""
    target = check_output_dir(out)
    parent = target.parent
    hint = "choose a writable folder with --out"
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _error("write the report to", out, e, hint) from None
    _clean_stale_dirs(parent, target.name)
    stem = f".{target.name[:_NAME_KEEP]}"
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"{stem}.tmp-{os.getpid()}-", dir=parent))
    except OSError as e:
        raise _error("write the report to", out, e, hint) from None
    try:
        try:
            (tmp / MARKER).write_text(_MARKER_TEXT + "\n", encoding="utf-8")
            os.chmod(tmp, 0o777 & ~_umask())
            yield tmp
        except OutputError:
            raise
        except OSError as e:
            raise _error("write the report to", out, e,
                         "the previous report (if any) is intact") from None
        with _locked(parent):
            check_output_dir(out)  # another process may have created it meanwhile
            _swap(tmp, target, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(tmp: Path, target: Path, out: str | Path) -> None:
    old = None
    try:
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
            old = Path(tempfile.mkdtemp(prefix=f".{target.name[:_NAME_KEEP]}.old-"
                                               f"{os.getpid()}-", dir=target.parent))
            os.replace(target, old)  # onto an empty folder: allowed
        os.replace(tmp, target)
    except OSError as e:
        if old is not None and not target.exists():
            with contextlib.suppress(OSError):
                os.replace(old, target)
        if old is not None and old.exists() and not any(old.iterdir()):
            with contextlib.suppress(OSError):
                old.rmdir()
        hint = ("it is a mount point; write the report into a folder inside it"
                if e.errno == errno.EBUSY else "the previous report (if any) is intact")
        raise _error("move the report into", out, e, hint) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
