"""Running the CLI in-process for the battery, and the assertions every case shares."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODELS = Path(__file__).parent / "models"
STRANGE = str(MODELS / "strange.py")


@dataclass
class Run:
    rc: int
    out: str
    err: str


def cli(capsys, *args: str) -> Run:
    from archlens.cli import main
    capsys.readouterr()
    rc = main([str(a) for a in args])
    c = capsys.readouterr()
    return Run(rc, c.out, c.err)


def assert_one_line_error(r: Run, rc: int = 2, *, contains: str | tuple[str, ...] = ()) -> str:
    """Exit code ``rc``, stderr exactly one line 'archlens: ...', no traceback, and that line
    free of raw control characters."""
    assert r.rc == rc, (r.rc, r.err)
    lines = r.err.strip("\n").split("\n")
    assert len(lines) == 1, r.err
    line = lines[0]
    assert line.startswith("archlens: "), line
    assert "Traceback" not in r.err and "\x1b" not in r.err and "\x00" not in r.err
    for c in (contains,) if isinstance(contains, str) else contains:
        assert c in line, line
    return line
