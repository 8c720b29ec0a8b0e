"""Where the four principles apply at all: one "not applicable" note instead of invented
findings.

The principles of Szegedy et al. (2016, section 2) are about convolutional networks: spatial
aggregation by convolutions over grids that shrink stage by stage. A network in which no
convolution aggregates over a neighbourhood (a pure transformer: ViT, Swin, MLP-Mixer, whose
only conv is a non-overlapping patch embedding; a plain MLP) has nothing for P1-P4 to measure.
:func:`not_applicable` then gives one ``info`` finding, code ``scope.not-applicable``, that
says so and why; the rules are not run.
"""
from __future__ import annotations

from archlens.analysis import Finding
from archlens.checks._common import Context, base_type, is_spatial_conv, kxk

CODE = "scope.not-applicable"


def _patchify(nd) -> bool:
    """A non-overlapping patch embedding: kernel == stride, no padding (each input pixel is
    read once; nothing is aggregated across patch borders)."""
    return (tuple(nd.kernel) == tuple(nd.stride or (1, 1))
            and tuple(nd.padding or (0, 0)) == (0, 0))


def not_applicable(ctx: Context) -> Finding | None:
    """The note, when no conv on the main path aggregates over a spatial neighbourhood."""
    spatial = [nd for nd in ctx.main if is_spatial_conv(nd)]
    if any(not _patchify(nd) for nd in spatial):
        return None
    if not ctx.main or len(ctx.main) < 2:
        return None
    attention = sum(1 for nd in ctx.graph.layers if "attention" in base_type(nd).lower())
    if spatial:
        p = spatial[0]
        what = (f"its only spatial convolution{'s are' if len(spatial) > 1 else ' is'} a "
                f"{kxk(p.kernel)} stride-{p.stride[0]} patch embedding ({p.name})")
    else:
        what = "it has no spatial convolution"
    mixing = (f"; its positions are mixed by {attention} attention op"
              f"{'s' if attention != 1 else ''}" if attention else "")
    return Finding(
        code=CODE, severity="info", layers=(spatial[0].name,) if spatial else (),
        message=("the design principles (Inception-v3, section 2) are not applicable: they "
                 "concern convolutions aggregating over shrinking grids, and " + what),
        evidence=(f"{len(spatial)} spatial conv(s) on the main path, all non-overlapping "
                  f"(kernel = stride){mixing}; P1-P4 were not run"),
        fix="",
        data={"spatial_convs": [nd.name for nd in spatial], "attention_ops": attention})
