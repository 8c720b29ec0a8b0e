"""``archlens dashboard``: the streamlit command line it builds (without starting a server)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from archlens.cli import dashboard_cmd, main

REPO = Path(__file__).resolve().parents[2]


class _Exec(Exception):
    pass


@pytest.fixture
def captured(monkeypatch):
    """Replace os.execve (the command becomes the server) by a recorder."""
    calls = {}

    def fake_execve(path, argv, env):
        calls.update(path=path, argv=list(argv), env=dict(env))
        raise _Exec

    monkeypatch.setattr(dashboard_cmd.os, "execve", fake_execve)
    return calls


def _run(args, captured):
    with pytest.raises(_Exec):
        main(["dashboard", *args])
    return captured


def _opt(argv, name):
    return argv[argv.index(name) + 1]


def test_app_is_found_next_to_the_package():
    assert dashboard_cmd.app_path() == REPO / "apps" / "dashboard.py"


def test_defaults_bind_loopback_and_disable_stats(captured, capsys, monkeypatch):
    monkeypatch.delenv(dashboard_cmd.ALLOW_USER_CODE_ENV, raising=False)
    c = _run([], captured)
    argv = c["argv"]
    # the server process: archlens's warm-up wrapper around `streamlit run APP`
    assert argv[:4] == [sys.executable, "-m", "archlens.cli.dashboard_cmd",
                        str(REPO / "apps" / "dashboard.py")]
    assert _opt(argv, "--server.address") == "127.0.0.1"
    assert _opt(argv, "--server.port") == "8501"
    assert _opt(argv, "--server.headless") == "false"
    assert _opt(argv, "--browser.gatherUsageStats") == "false"
    assert _opt(argv, "--server.fileWatcherType") == "none"  # no module walk per run
    assert _opt(argv, "--runner.postScriptGC") == "false"  # no full gc.collect per rerun
    assert _opt(argv, "--runner.magicEnabled") == "false"  # no AST pass on the first run
    assert "--allow-user-code" not in argv
    assert dashboard_cmd.ALLOW_USER_CODE_ENV not in c["env"]
    assert "warning" not in capsys.readouterr().err


def test_port_headless_and_user_code(captured):
    c = _run(["--port", "8765", "--headless", "--allow-user-code"], captured)
    argv = c["argv"]
    assert _opt(argv, "--server.port") == "8765"
    assert _opt(argv, "--server.headless") == "true"
    assert argv[-2:] == ["--", "--allow-user-code"]  # script args after --
    assert c["env"][dashboard_cmd.ALLOW_USER_CODE_ENV] == "1"


def test_non_loopback_host_warns(captured, capsys):
    c = _run(["--host", "0.0.0.0"], captured)
    assert _opt(c["argv"], "--server.address") == "0.0.0.0"
    err = capsys.readouterr().err
    assert "warning" in err and "0.0.0.0" in err


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("192.168.1.5", False), ("::", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert dashboard_cmd.is_loopback(host) is loopback


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_bad_port_is_a_usage_error(port, capsys):
    assert main(["dashboard", "--port", port]) == 2
    assert "port must be an integer 1-65535" in capsys.readouterr().err


def test_missing_app_override_is_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(dashboard_cmd.APP_PATH_ENV, str(tmp_path / "nope.py"))
    assert main(["dashboard"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and dashboard_cmd.APP_PATH_ENV in err


def test_help_says_where_the_app_is(capsys):
    with pytest.raises(SystemExit):
        main(["dashboard", "--help"])
    out = capsys.readouterr().out
    assert "127.0.0.1" in out and "--allow-user-code" in out and "editable" in out


def test_app_reads_user_code_permission(monkeypatch):
    sys.path.insert(0, str(REPO / "apps"))
    try:
        import _dashboard_data as data
    finally:
        sys.path.remove(str(REPO / "apps"))
    monkeypatch.delenv(dashboard_cmd.ALLOW_USER_CODE_ENV, raising=False)
    assert data.user_code_allowed([]) is False
    assert data.user_code_allowed(["--allow-user-code"]) is True
    monkeypatch.setenv(dashboard_cmd.ALLOW_USER_CODE_ENV, "1")
    assert data.user_code_allowed([]) is True
    assert data.ALLOW_USER_CODE_ENV == dashboard_cmd.ALLOW_USER_CODE_ENV


def _all(argv, name):
    return [argv[i + 1] for i, a in enumerate(argv) if a == name]


def test_only_the_bound_address_is_an_allowed_host(captured, monkeypatch):
    """DNS rebinding: a page under another name gets no websocket session (Streamlit's
    server.allowedHosts); the loopback bind accepts its own localhost names only."""
    c = _run([], captured)
    assert _all(c["argv"], "--server.allowedHosts") == ["127.0.0.1", "localhost", "::1"]
    assert _opt(c["argv"], "--server.maxUploadSize") == str(dashboard_cmd.MAX_UPLOAD_MB)


def test_allow_host_adds_names_and_wildcard_binds_warn(captured, capsys):
    c = _run(["--host", "10.1.2.3", "--allow-host", "box.lan"], captured)
    assert _all(c["argv"], "--server.allowedHosts") == ["10.1.2.3", "box.lan"]
    assert dashboard_cmd.allowed_hosts("0.0.0.0") == ["*"]
    assert dashboard_cmd.allowed_hosts("0.0.0.0", ("a.lan",)) == ["a.lan"]
    captured.clear()
    _run(["--host", "0.0.0.0"], captured)
    assert "every Host name is accepted" in capsys.readouterr().err
