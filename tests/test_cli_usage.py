"""Usage mistakes end like every other user mistake: one line, 'archlens: error: ...', exit 2."""
import pytest

from archlens.cli import main


@pytest.mark.parametrize("argv, needle", [
    (["frob"], "invalid choice: 'frob'"),
    (["analyze"], "required: MODEL"),
    (["analyze", "lenet5", "--batch", "0"], "--batch"),
    (["analyze", "lenet5", "--depth", "-1"], "--depth"),
    (["graph", "lenet5", "--columns", "x"], "--columns"),
    (["check", "lenet5", "--fail-on", "sometimes"], "--fail-on"),
    (["report", "lenet5", "--depth", "0"], "--depth"),
    (["dashboard", "--port", "70000"], "port"),
])
def test_usage_errors_are_one_line_with_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.startswith("archlens: error: ") and err.count("\n") == 1
    assert needle in err and "--help" in err
