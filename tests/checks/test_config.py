"""Check thresholds: defaults, [tool.archlens.check] in pyproject.toml, --config files, errors."""
from __future__ import annotations

import pytest

from archlens import checks
from archlens.checks import config as C
from archlens.errors import ConfigError

from ._build import Builder


def test_defaults_when_no_pyproject_or_no_table(tmp_path):
    assert C.load_config(cwd=tmp_path) == C.DEFAULTS
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert C.load_config(cwd=tmp_path) == C.DEFAULTS


def test_pyproject_table_kebab_and_snake_case(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.archlens.check]\np1-error-drop = 5\np3_wide_channels = 256\n"
        "ignore = ['P4']\n")
    cfg = C.load_config(cwd=tmp_path)
    assert cfg.p1_error_drop == 5.0 and cfg.p3_wide_channels == 256
    assert cfg.ignore == ("P4",)


def test_config_file_top_level_or_tool_table(tmp_path):
    f = tmp_path / "checks.toml"
    f.write_text("select = 'P3'\np3-reduce-ratio = 0.25\n")
    cfg = C.load_config(f)
    assert cfg.select == ("P3",) and cfg.p3_reduce_ratio == 0.25
    g = tmp_path / "other.toml"
    g.write_text("[tool.archlens.check]\naggregate = false\n")
    assert C.load_config(g).aggregate is False


@pytest.mark.parametrize("text,match", [
    ("p1-error-dorp = 4\n", r"unknown check setting 'p1-error-dorp'; did you mean: p1-error-drop"),
    ("p1-error-drop = 'high'\n", "p1-error-drop must be a non-negative number"),
    ("p1-error-drop = 0.5\n", "is a ratio and must be >= 1"),
    ("p4-head-share = 1.5\n", "must be between 0 and 1"),
    ("aggregate = 1\n", "aggregate must be true or false"),
    ("p3-factorize-width = 'max'\n", "must be one of geometric, out, in"),
    ("p3-asym-grid-min = 30\n", "must not exceed p3-asym-grid-max"),
    ("p1-error-drop = [\n", "not valid TOML"),
])
def test_bad_settings_are_one_line_config_errors(tmp_path, text, match):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as e:
        C.load_config(f)
    assert "\n" not in str(e.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        C.load_config(tmp_path / "nope.toml")


def test_run_uses_the_config_select_and_mapping_configs():
    b = Builder(192, 28, 28)
    b.conv("conv", "input", 32, 5, p=2)
    g = b.graph()
    assert [f.code for f in checks.run(g, config={"select": ["P3.no-reduction"]})] == [
        "P3.no-reduction"]
    # a higher minimum width turns the finding off
    assert checks.run(g, config={"p3-wide-channels": 256}, select="P3.no-reduction") == ()
    with pytest.raises(ConfigError):
        checks.run(g, config={"nonsense": 1})
