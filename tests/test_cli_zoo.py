"""``archlens zoo``: listing, one card, unknown names; the zoo renderables at fixed width."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from archlens.cli import main
from archlens.render.zoo import macs_short, model_card, short_cite, zoo_table
from archlens.zoo import list_models
from archlens.zoo.registry import ModelCard, Paper

ROOT = Path(__file__).resolve().parents[1]


def test_zoo_lists_every_model_with_exact_figures(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # other tests in the worker may leave a narrow width
    assert main(["zoo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    for name in list_models():
        assert name in out
    # published figures, typed from torchvision's metadata
    for text in ("25,557,032", "4.089 G MACs", "138,357,544", "15.470 G MACs", "61,100,840",
                 "27,161,264", "5.713 G MACs", "He et al. 2015", "3x299x299", "1x32x32"):
        assert text in out


def test_zoo_family_filter(capsys):
    assert main(["zoo", "--family", "vgg"]) == 0
    out = capsys.readouterr().out
    assert "vgg16_bn" in out and "138,365,992" in out
    assert "resnet50" not in out and "alexnet" not in out


def test_zoo_unknown_family_exit_2(capsys):
    assert main(["zoo", "--family", "rsnet"]) == 2
    out, err = capsys.readouterr()
    assert "did you mean: resnet" in err and "Traceback" not in err and out == ""


def test_zoo_card_inception_v3(capsys):
    assert main(["zoo", "inception_v3"]) == 0
    out = capsys.readouterr().out
    for text in ("inception_v3", "Rethinking the Inception", "1512.00567",
                 "3x299x299", "27,161,264", "5,713,000,000 MACs", "What it teaches", "source"):
        assert text in out


def test_zoo_card_shows_variant_builder_args(capsys):
    assert main(["zoo", "resnext50_32x4d"]) == 0
    out = capsys.readouterr().out
    assert "groups=32" in out and "width_per_group=4" in out and "block=Bottleneck" in out


def test_zoo_unknown_name_exit_2_with_suggestion(capsys):
    assert main(["zoo", "inceptoin_v3"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("archlens: error: unknown model 'inceptoin_v3'; did you mean: "
                          "inception_v3")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_zoo_help_has_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["zoo", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "archlens zoo --family resnet" in out and "MACs" in out


def test_entry_point_subprocess():
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # piped: fixed 120 columns
    ok = subprocess.run([sys.executable, "-m", "archlens", "zoo", "resnet50"], cwd=ROOT,
                        capture_output=True, text=True, timeout=120, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "25,557,032" in ok.stdout and "Deep Residual Learning" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "archlens", "zoo", "inceptoin_v3"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2
    assert "did you mean: inception_v3" in bad.stderr and "Traceback" not in bad.stderr
    assert bad.stdout == ""


# --------------------------------------------------------------------------- renderables

_CARDS = [
    ModelCard(name="tiny", family="demo", paper=Paper("A Paper", "A. Smith, B. Jones", 2001),
              input_shape=(3, 32, 32), description="Teaches nothing.", published_params=1234567,
              published_macs=4_089_000_000, source="hand", output_shape=(10,)),
    ModelCard(name="bare", family="demo", paper=Paper("Solo", "C. Solo", 1999, "1234.5678"),
              input_shape=(1, 8, 8), description="Nothing published.", output_shape=(2,),
              notes="a note"),
]


def _text(renderable, width: int = 100) -> str:
    import io
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_zoo_table_exact_text():
    assert _text(zoo_table(_CARDS, title="zoo")).splitlines() == [
        "                                     zoo                                     ",
        "                                                                             ",
        "  name   family   input        params   published MACs   paper               ",
        " ─────────────────────────────────────────────────────────────────────────── ",
        "  tiny   demo     3x32x32   1,234,567     4.089 G MACs   Smith & Jones 2001  ",
        "  bare   demo     1x8x8             -                -   Solo 1999           ",
        "                                                                             ",
        "params: exact parameter counts; MACs: multiply-accumulates at the input      ",
        "shown, batch 1, as published; '-' = no published figure                      ",
    ]


def test_model_card_lists_all_fields():
    text = _text(model_card(_CARDS[1]))
    for field in ("family", "input", "output", "params", "published MACs", "paper", "arXiv",
                  "builder args", "source", "What it teaches", "Notes", "a note",
                  "https://arxiv.org/abs/1234.5678", "not published", "(defaults)"):
        assert field in text


@pytest.mark.parametrize("authors, year, expected", [
    ("K. He, X. Zhang, S. Ren, J. Sun", 2015, "He et al. 2015"),
    ("C. Szegedy et al.", 2014, "Szegedy et al. 2014"),
    ("K. Simonyan, A. Zisserman", 2014, "Simonyan & Zisserman 2014"),
    ("Y. LeCun", 1989, "LeCun 1989"),
])
def test_short_cite(authors, year, expected):
    assert short_cite(Paper("t", authors, year)) == expected


@pytest.mark.parametrize("macs, expected", [(4_089_000_000, "4.089 G MACs"),
                                            (714_000_000, "0.714 G MACs"),
                                            (12_443_648, "12.444 M MACs"),
                                            (840, "840 MACs"), (None, "-")])
def test_macs_short_units(macs, expected):
    assert macs_short(macs) == expected
