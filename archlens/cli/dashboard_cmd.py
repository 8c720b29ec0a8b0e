"""``archlens dashboard``: serve the Streamlit dashboard (``apps/dashboard.py``).

    archlens dashboard [--host 127.0.0.1] [--port 8501] [--allow-host NAME] [--allow-user-code]
                       [--headless]

This module only builds the ``streamlit run`` command line and runs it; everything the page
shows comes from archlens's public API inside the app.
"""
from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

from archlens.errors import ArchlensError, MissingDependencyError

#: Environment variable the app reads to allow ``file.py:callable`` references (the CLI also
#: passes ``--allow-user-code`` after ``--`` to the script; either one enables it).
ALLOW_USER_CODE_ENV = "ARCHLENS_DASHBOARD_ALLOW_USER_CODE"
#: Override of the app location (for installs without the repository checkout).
APP_PATH_ENV = "ARCHLENS_DASHBOARD_APP"

#: Largest upload the page accepts (images for the RF overlay, bench results), MB.
MAX_UPLOAD_MB = 32

_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


def app_path() -> Path:
    """Where ``apps/dashboard.py`` is: ``$ARCHLENS_DASHBOARD_APP``, else next to the package.

    The app lives in the repository (``<repo>/apps/dashboard.py``), beside the ``archlens``
    package, so it is found when archlens is installed editable from a checkout
    (``pip install -e .``), which is how the project is installed.
    """
    override = os.environ.get(APP_PATH_ENV)
    if override:
        p = Path(override).expanduser()
        if not p.is_file():
            raise ArchlensError(f"{APP_PATH_ENV}={override} is not a file; point it at "
                                "apps/dashboard.py or unset it")
        return p.resolve()
    import archlens
    p = Path(archlens.__file__).resolve().parent.parent / "apps" / "dashboard.py"
    if not p.is_file():
        raise ArchlensError(
            f"the dashboard app was not found at {p}; install archlens editable from the "
            f"repository ('pip install -e .') or set {APP_PATH_ENV} to apps/dashboard.py")
    return p


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_WILDCARD = {"0.0.0.0", "::", "[::]", ""}


def allowed_hosts(host: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The ``Host`` header values the server accepts (Streamlit's ``server.allowedHosts``,
    checked on the websocket every page talks through): the bound address, ``localhost``
    names for a loopback bind, and the names given with ``--allow-host``. A page reached
    under any other name (a DNS-rebinding attack on a loopback server) gets no session.
    A wildcard bind (0.0.0.0, ::) without ``--allow-host`` accepts any name (``*``)."""
    names = [h.strip("[]").lower() for h in extra if h.strip()]
    if host in _WILDCARD:
        return names or ["*"]
    base = [host.strip("[]").lower()]
    if is_loopback(host):
        base += ["localhost", "127.0.0.1", "::1"]
    return list(dict.fromkeys(base + names))


def streamlit_command(app: Path, *, host: str, port: int, headless: bool,
                      allow_user_code: bool, allow_host: tuple[str, ...] = ()) -> list[str]:
    """The server's argv: ``streamlit run APP OPTIONS [-- --allow-user-code]`` through
    :func:`serve` (same interpreter, so the venv's streamlit runs)."""
    cmd = [sys.executable, "-m", "archlens.cli.dashboard_cmd", str(app),
           "--server.address", host, "--server.port", str(port),
           "--server.headless", "true" if headless else "false",
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
           "--server.maxUploadSize", str(MAX_UPLOAD_MB),
           # no source watcher: it re-walks every imported module (torch's thousands) on each
           # script run, ~0.6 CPU s per new visitor (docs/dashboard.md "Speed"); a served
           # dashboard does not hot-reload its own code (a user's model file is re-read by
           # its mtime, not through the watcher)
           "--server.fileWatcherType", "none",
           # no forced full garbage collection after every script run: with torch and an
           # analysis in memory, gc.collect(2) holds the GIL for ~0.25 s on this CI machine
           # while the event loop waits to send the run's last messages, on every click,
           # switch and first page (py-spy, docs/dashboard.md "Speed"); Python's own
           # generational collector still runs
           "--runner.postScriptGC", "false",
           # no "magic" (bare expressions written to the page): the app uses none, and its
           # AST pass cost the server's first visitor ~0.15 s (py-spy)
           "--runner.magicEnabled", "false"]
    for name in allowed_hosts(host, allow_host):
        cmd += ["--server.allowedHosts", name]
    if allow_user_code:
        cmd += ["--", "--allow-user-code"]
    return cmd


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be an integer 1-65535, got {text!r}") from None
    if not 1 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"port must be an integer 1-65535, got {v}")
    return v


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dashboard", help="explore and compare models in a local Streamlit dashboard",
        description=(
            "Serve the Streamlit dashboard (apps/dashboard.py): pick a zoo model, change the "
            "input size, batch and aggregation depth, and see the summary, the layer table, "
            "the zoomable graph, the charts, the design-principle findings, a comparison of two "
            "models and bench results. Runs 'streamlit run' on the app, bound to 127.0.0.1 "
            "(this machine only) unless --host says otherwise. The app file is found next to "
            "the archlens package, i.e. when archlens is installed editable from the "
            f"repository (pip install -e .); set {APP_PATH_ENV} to use another copy."),
        epilog="Example: archlens dashboard --port 8502   (then open http://127.0.0.1:8502/)")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                   help="address to bind (default: 127.0.0.1; anything else exposes the "
                        "dashboard to your network, and a warning is printed)")
    p.add_argument("--port", type=_port, default=8501, metavar="N",
                   help="TCP port (default: 8501)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also accept requests addressed to NAME (the Host header; repeatable). "
                        "By default only the bound address (and localhost names for a "
                        "loopback bind) is accepted, so a web page cannot reach the "
                        "dashboard through DNS rebinding")
    p.add_argument("--allow-user-code", action="store_true",
                   help="let the page load models from path/to/file.py:callable or "
                        "package.module:callable; loading a file or module EXECUTES its code "
                        "in the server process, so only enable it for code you trust")
    p.add_argument("--headless", action="store_true",
                   help="do not open a browser window (for servers and scripts)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app = app_path()
    if importlib.util.find_spec("streamlit") is None:
        raise MissingDependencyError(
            "streamlit is not installed; install it with 'pip install streamlit'")
    if not is_loopback(args.host):
        print(f"archlens: warning: binding the dashboard to {args.host} exposes it to other "
              "machines on the network; use --host 127.0.0.1 to keep it local"
              + (" (and --allow-user-code lets anyone who can reach it run code here)"
                 if args.allow_user_code else ""), file=sys.stderr)
    if args.host in _WILDCARD and not args.allow_host:
        print("archlens: warning: with a wildcard address every Host name is accepted; "
              "name the ones you use with --allow-host", file=sys.stderr)
    cmd = streamlit_command(app, host=args.host, port=args.port, headless=args.headless,
                            allow_user_code=args.allow_user_code,
                            allow_host=tuple(getattr(args, "allow_host", ()) or ()))
    env = dict(os.environ)
    if args.allow_user_code:
        env[ALLOW_USER_CODE_ENV] = "1"
    else:
        env.pop(ALLOW_USER_CODE_ENV, None)
    print(f"archlens: serving the dashboard at http://{_url_host(args.host)}:{args.port}/ "
          "(Ctrl+C stops it)", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        # Become the server: signals (Ctrl+C, SIGTERM from a supervisor) reach streamlit
        # directly and no orphaned server can outlive this command.
        os.execve(cmd[0], cmd, env)
    proc = subprocess.Popen(cmd, env=env)  # pragma: no cover - Windows
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 130


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


# ----------------------------------------------------------------------------- server process

def _warm(app: str) -> None:
    """Analyse the page's default model into the app's own cache (``st.cache_resource`` in
    ``_dashboard_data``) before the server accepts visitors, so the first visitor does not
    wait for torch to import and the model to be traced. Done in the main thread, before
    streamlit starts: importing pandas/plotly from two threads at once is not safe.
    Failures only cost the head start (the page reports real errors itself)."""
    import logging
    quiet = ("streamlit.runtime.scriptrunner_utils.script_run_context",
             "streamlit.runtime.caching.cache_data_api",
             "streamlit.runtime.caching.cache_resource_api")
    try:
        import streamlit  # noqa: F401 - its loggers exist (and get their levels) on import
        for name in quiet:  # "no runtime yet" is expected here
            logging.getLogger(name).setLevel(logging.ERROR)
        folder = str(Path(app).resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        import _dashboard_data  # the module the app imports (same sys.modules entry)
        name = _dashboard_data.warm_default()
        _preimport()
        print(f"archlens: {name} analysed and cached for the first visitor", file=sys.stderr)
    except Exception as e:  # noqa: BLE001
        print(f"archlens: dashboard warm-up skipped: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        for name in quiet:
            logging.getLogger(name).setLevel(logging.NOTSET)


#: Modules the page's first script run imports that the warm-up's analysis does not (found by
#: diffing ``sys.modules`` around a first run): ~0.15 s the first visitor used to wait for
#: (streamlit.emojis alone ~90 ms, the graph viewer with archlens.sanitize ~45 ms). Streamlit's
#: internal names may move between versions: a missing one is skipped.
PREIMPORT = ("_dashboard_panzoom", "streamlit.emojis", "streamlit.runtime.scriptrunner.magic_funcs",
             "streamlit.web.skills", "pyarrow.pandas_compat", "packaging.tags")


def _preimport() -> None:
    import importlib
    for name in PREIMPORT:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def serve(argv: list[str]) -> int:
    """``python -m archlens.cli.dashboard_cmd APP [streamlit run options] [-- script args]``:
    warm the default analysis, then hand over to ``streamlit run`` in this process."""
    _warm(argv[0])
    from streamlit.web import cli as st_cli
    sys.argv = ["streamlit", "run", *argv]
    return st_cli.main(prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
