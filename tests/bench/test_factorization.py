"""Factorization cases: closed forms against the paper's arithmetic and hand counts, and the
construction checked by composing the linear factorized form into one equivalent kernel."""
from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from archlens.bench.factorization import (ASYM, STACK, Case, MODEL_PAIRS, default_cases)


def eq(kind: str, n: int, c: int, grid: int = 17, bn: bool = False) -> Case:
    return Case(kind, n, grid, c, c, c, bn)


# ---- closed forms: the paper's ratios on equal channels ---------------------------------------

def test_5x5_vs_two_3x3_saves_28_percent():
    # Szegedy et al. 2016, sec. 3.1: (9 + 9) / 25 of the cost -> 28 % saved.
    case = eq(STACK, 5, 64, grid=35)
    assert case.mac_ratio() == Fraction(18, 25)
    assert 1 - case.mac_ratio() == Fraction(7, 25)  # 0.28 exactly
    assert Fraction(case.factorized_params(), case.full_params()) == Fraction(18, 25)


def test_3x3_vs_1x3_3x1_saves_33_percent():
    # sec. 3.2: (3 + 3) / 9 -> 33 % saved.
    assert 1 - eq(ASYM, 3, 128).mac_ratio() == Fraction(1, 3)


@pytest.mark.parametrize("n", [3, 5, 7, 9])
@pytest.mark.parametrize("c", [1, 128, 192])
def test_n_by_n_vs_1xn_nx1_is_one_minus_2_over_n(n, c):
    assert 1 - eq(ASYM, n, c).mac_ratio() == 1 - Fraction(2, n)


def test_7x7_saves_71_percent():
    assert round(float(1 - eq(ASYM, 7, 160).mac_ratio()), 4) == 0.7143  # 5/7


# ---- exact counts on unequal channels (hand arithmetic) ---------------------------------------

def test_mixed_5b_branch5x5_48_to_64_exact_counts():
    # 5x5, 48 -> 64 on 35x35:     35*35 = 1225; 25 * 48 * 64 = 76,800 weights
    #                             MACs = 1225 * 76,800 = 94,080,000
    # 3x3 48 -> 64, 3x3 64 -> 64: 9 * 48 * 64 = 27,648; 9 * 64 * 64 = 36,864; sum 64,512
    #                             MACs = 1225 * 64,512 = 79,027,200; ratio 64,512/76,800 = 0.84
    case = Case(STACK, 5, 35, 48, 64, 64, False)
    assert case.full_params() == 76_800
    assert case.full_macs() == 94_080_000
    assert case.factorized_params() == 64_512
    assert case.factorized_macs() == 79_027_200
    assert case.mac_ratio() == Fraction(84, 100)


def test_asymmetric_unequal_channels_exact_counts():
    # 7x7, 128 -> 192 on 17x17 with a 160-wide 1x7 (17*17 = 289):
    #   full: 49 * 128 * 192 = 1,204,224 weights; MACs 289 * 1,204,224 = 348,020,736
    #   1x7 128 -> 160: 7 * 20,480 = 143,360; 7x1 160 -> 192: 7 * 30,720 = 215,040
    #   sum 358,400 weights; MACs 289 * 358,400 = 103,577,600
    case = Case(ASYM, 7, 17, 128, 160, 192, True)
    assert case.full_params() == 1_204_224
    assert case.full_macs() == 348_020_736
    assert case.factorized_params() == 358_400
    assert case.factorized_macs() == 103_577_600
    assert case.bn_params() == 320  # gamma + beta of 160 channels, outside the ratio


@pytest.mark.parametrize("case", [Case(STACK, 5, 35, 48, 64, 64, False),
                                  Case(STACK, 5, 11, 3, 5, 7, True),
                                  Case(ASYM, 7, 17, 128, 160, 192, True),
                                  Case(ASYM, 3, 8, 384, 384, 384, False),
                                  Case(ASYM, 5, 9, 6, 4, 2, False)])
def test_closed_forms_match_the_built_modules(case):
    """Independent counts: parameters of the built modules, and MACs from
    torch.utils.flop_counter (2 FLOPs per MAC) on a real forward pass."""
    full, fact = case.build_full().eval(), case.build_factorized().eval()
    conv_params = sum(m.weight.numel() for m in fact.modules()
                      if isinstance(m, torch.nn.Conv2d))
    assert sum(p.numel() for p in full.parameters()) == case.full_params()
    assert conv_params == case.factorized_params()
    assert sum(p.numel() for p in fact.parameters()) == case.factorized_params() + case.bn_params()
    x = torch.randn(case.input_shape(2))
    for module, expect in ((full, case.full_macs()), (fact, case.factorized_macs())):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(x)
        assert counter.get_total_flops() == 2 * 2 * expect  # batch 2, 2 FLOPs per MAC


# ---- the two forms agree ---------------------------------------------------------------------

@pytest.mark.parametrize("case", default_cases((35, 17, 8)), ids=lambda c: c.id)
def test_both_forms_compute_the_same_output_shape(case):
    x = torch.randn(case.input_shape(1))
    with torch.no_grad():
        assert case.build_full()(x).shape == case.build_factorized()(x).shape \
            == case.output_shape(1)


def _compose_asym(row_w: torch.Tensor, col_w: torch.Tensor) -> torch.Tensor:
    # row: Cmid x Cin x 1 x n, col: Cout x Cmid x n x 1  ->  Cout x Cin x n x n
    # out[o, y, x] = sum_m sum_ky col[o,m,ky] * sum_i sum_kx row[m,i,kx] * in[i, y+ky-p, x+kx-p]
    return torch.einsum("omk,mil->oikl", col_w[:, :, :, 0], row_w[:, :, 0, :])


def _compose_stack(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    # Cross-correlations compose by adding offsets: 3x3 after 3x3 -> 5x5 where
    # W[o, i, a+c, b+d] += sum_m second[o, m, a, b] * first[m, i, c, d].
    cout, cin = second.shape[0], first.shape[1]
    w = torch.zeros(cout, cin, 5, 5, dtype=first.dtype)
    for a in range(3):
        for b in range(3):
            for c in range(3):
                for d in range(3):
                    w[:, :, a + c, b + d] += second[:, :, a, b] @ first[:, :, c, d]
    return w


@pytest.mark.parametrize("n", [3, 5, 7])
def test_linear_asymmetric_form_equals_composed_full_kernel_everywhere(n):
    torch.manual_seed(n)
    case = Case(ASYM, n, 9, 5, 6, 4, False)
    fact = case.build_factorized().double().eval()
    full = case.build_full().double().eval()
    with torch.no_grad():
        full.conv.weight.copy_(_compose_asym(fact.row.weight, fact.col.weight))
        x = torch.randn(case.input_shape(2), dtype=torch.float64)
        a, b = full(x), fact(x)
    # Zero padding commutes with the separable kernel, so every output position matches.
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_linear_stacked_form_equals_composed_5x5_away_from_the_border():
    torch.manual_seed(5)
    case = Case(STACK, 5, 12, 4, 7, 3, False)
    fact = case.build_factorized().double().eval()
    full = case.build_full().double().eval()
    with torch.no_grad():
        full.conv.weight.copy_(_compose_stack(fact.first.weight, fact.second.weight))
        x = torch.randn(case.input_shape(2), dtype=torch.float64)
        a, b = full(x), fact(x)
    # The intermediate map is zero-padded, not computed from padded input: the outer ring of
    # width 1 differs, everything inside matches.
    torch.testing.assert_close(a[..., 1:-1, 1:-1], b[..., 1:-1, 1:-1], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(a[..., 0, :], b[..., 0, :])  # the border really differs


def test_bn_relu_between_factors_breaks_linearity():
    torch.manual_seed(0)
    case = Case(ASYM, 3, 6, 3, 3, 3, True)
    fact = case.build_factorized().double().eval()
    x = torch.randn(case.input_shape(1), dtype=torch.float64)
    linear = Case(ASYM, 3, 6, 3, 3, 3, False).build_factorized().double().eval()
    with torch.no_grad():
        assert not torch.allclose(fact(-x), -fact(x))  # ReLU in between
        assert torch.allclose(linear(-x), -linear(x))


# ---- the case list ---------------------------------------------------------------------------

def test_default_cases_cover_the_brief():
    cases = default_cases((35, 17, 8))
    ids = {c.id for c in cases}
    assert len(ids) == len(cases)
    assert {c.n for c in cases if c.kind == ASYM} == {3, 5, 7}
    assert {c.cin for c in cases if c.kind == ASYM and c.grid == 17} == {128, 160, 192}
    assert "stack5/g35/48-64-64/linear" in ids and "stack5/g35/48-64-64/bnrelu" in ids
    assert all(any(c.bn_relu for c in cases if c.kind == k) for k in (ASYM, STACK))
    assert not any(c.kind == STACK for c in default_cases((17,)))
    quick = default_cases((35, 17, 8), quick=True)
    assert 5 <= len(quick) < len(cases)
    assert {p.full_model for p in MODEL_PAIRS} >= {"inception_v3_unfactorized", "resnet50"}


@pytest.mark.parametrize("kwargs", [dict(kind="nope", n=3), dict(kind=STACK, n=7),
                                    dict(kind=ASYM, n=4)])
def test_invalid_cases_are_rejected(kwargs):
    with pytest.raises(ValueError):
        Case(grid=8, cin=4, mid=4, cout=4, bn_relu=False, **kwargs)
