"""Command line: argument parsing -> pipeline -> renderer.

Each subcommand lives in its own module exposing ``register(subparsers)`` which adds its parser
and sets ``func`` (``args -> exit code``). Every :class:`ArchlensError` and every usage error
becomes one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading

from archlens.errors import ArchlensError
from archlens.sanitize import visible

# module name -> (subcommand names it registers); imported lazily for a fast `--help`.
SUBCOMMANDS = ("zoo", "analyze", "check", "graph", "report", "compare", "bench", "profile",
               "dashboard", "sweep")
_MODULES = {"zoo": "zoo_cmd", "analyze": "analyze_cmd", "check": "check_cmd",
            "graph": "graph_cmd", "report": "report_cmd", "compare": "compare_cmd",
            "bench": "bench_cmd", "profile": "profile_cmd",
            "dashboard": "dashboard_cmd", "sweep": "sweep_cmd"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse's own convention)
        raise _UsageError(f"{message} (see '{self.prog} --help')")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    from archlens import __version__
    parser = _Parser(prog="archlens", description=(
        "Analyse and visualise CNN architectures: exact parameters and MACs, branch-correct "
        "receptive fields, the Inception-v3 design principles as a linter, reports, a dashboard "
        "and a factorization latency bench."),
        epilog="MODEL is a zoo name (see 'archlens zoo'), path/to/file.py:callable or "
               "package.module:callable. Numbers are MACs (multiply-accumulates) unless "
               "--units flops (FLOPs = 2 x MACs).")
    parser.add_argument("--version", action="version", version=f"archlens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    done: set[str] = set()
    for cmd in SUBCOMMANDS:
        mod_name = _MODULES[cmd]
        if mod_name in done:
            continue
        try:
            mod = importlib.import_module(f"archlens.cli.{mod_name}")
        except ModuleNotFoundError as e:  # a subcommand under construction
            if e.name != f"archlens.cli.{mod_name}":
                raise
            continue
        mod.register(sub)
        done.add(mod_name)
    return parser


class Terminated(BaseException):
    """SIGTERM (what ``timeout``, ``kill`` and supervisors send) as an exception, so every
    ``finally`` and temp-folder cleanup runs; the CLI exits 128 + 15 = 143."""


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup
    raise Terminated


@contextlib.contextmanager
def _signals():
    """SIGTERM raises :class:`Terminated` while the CLI runs (main thread only; the
    previous handler is restored, so in-process callers keep theirs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    try:
        with _signals():
            parser = build_parser()
            try:
                args = parser.parse_args(argv)
            except _UsageError as e:  # same one-line form as every other user mistake
                print(f"archlens: error: {visible(str(e))}", file=sys.stderr)
                return 2
            if not getattr(args, "func", None):
                parser.print_help()
                return 2
            return int(args.func(args) or 0)
    except ArchlensError as e:
        print(f"archlens: error: {visible(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        where = getattr(e, "where", "")
        print(f"archlens: interrupted{' ' + visible(where) if where else ''}; no output was "
              "left half-written", file=sys.stderr)
        return 130
    except Terminated:
        print("archlens: terminated (SIGTERM); no output was left half-written",
              file=sys.stderr)
        return 143
    except BrokenPipeError:
        return 0


def run() -> None:  # console-script entry point
    sys.exit(main())
