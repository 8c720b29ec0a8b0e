"""The public API: the only entry points the CLI and the dashboard call.

Each function delegates to its stage (engine -> checks -> render); data flows one way.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from archlens.analysis import Analysis, Finding
    from archlens.diff import Diff


def analyze(model: "str | nn.Module", input_shape: Sequence[int] | str | None = None, *,
            batch: int = 1, device: str = "auto", dtype: str = "float32",
            checks: bool = True, check_config: Any = None,
            max_memory: int | str | None = None, timeout: float | None = None,
            quiet_stdout: bool = False, counter: str = "eager") -> "Analysis":
    """Trace ``model`` once and annotate every layer with shapes, params, MACs, activations and
    receptive field; with ``checks`` (default) the design-principle findings are attached.

    ``model``: a zoo name, ``path/to/file.py:callable``, ``package.module:callable`` or an
    ``nn.Module``. ``input_shape``: (C, H, W) or "CxHxW"; defaults to the zoo card's.
    ``device``: "auto" (default: the meta device, and the CPU when the forward pass needs
    real values, said in ``notes``), "cpu" (real tensors), "meta" (nothing allocated) or
    "cuda"; the numbers do not depend on it (docs/engine.md, "Devices").
    ``counter``: "eager" (default; the one eager pass counts MACs at the dispatch level) or
    "fvcore" (fvcore's own count mapped onto the nodes; real tensors only). docs/engine.md.

    Guards (:mod:`archlens.guard`): ``max_memory`` (bytes, "8G", or "auto" = 90 % of the
    available memory) refuses a CPU/CUDA run whose weights + peak activations, estimated
    on meta first, exceed it; ``timeout`` (seconds, main thread only) stops a forward
    that never returns; ``quiet_stdout`` sends what the model prints to stderr. Whatever
    the guards, ``sys.exit``, recursion and allocation failures in the user's code become
    one-line errors naming where they happened.
    """
    from archlens import engine, guard
    label = model if isinstance(model, str) else type(model).__name__

    def run() -> "Analysis":
        guard.check_size(input_shape, batch)
        guard.check_memory(model, input_shape, batch=batch, device=device, dtype=dtype,
                           limit=max_memory)
        try:
            return guard.check_counted(engine.analyze_model(
                model, input_shape, batch=batch, device=device, dtype=dtype,
                counter=counter))
        except Exception as e:  # a scripted submodule takes no hooks: say so
            from archlens.errors import ArchlensError
            if isinstance(e, ArchlensError):
                guard.explain_script_modules(model, label)
            raise

    result = guard.guarded(run, label=label, timeout=timeout, quiet_stdout=quiet_stdout)
    if checks:
        result = result.with_findings(check(result, config=check_config))
    return result


def check(analysis: "Analysis | str | nn.Module", *, config: Any = None,
          select: Sequence[str] | None = None, ignore: Sequence[str] | None = None,
          input_shape: Sequence[int] | str | None = None,
          profile: Any = None) -> "tuple[Finding, ...]":
    """Design-principle findings (Inception-v3 paper, section 2) for an analysis or a model;
    with ``profile`` (an :class:`~archlens.profile.Profile` of the model) also ShuffleNet V2's
    guidelines G1-G4 on its measured times."""
    from archlens import checks
    from archlens.analysis import Analysis
    if not isinstance(analysis, Analysis):
        analysis = analyze(analysis, input_shape, checks=False)
    return checks.run(analysis, config=config, select=select, ignore=ignore, profile=profile)


def load(source: "Analysis | str | Path | nn.Module",
         input_shape: Sequence[int] | str | None = None, **kw: Any) -> "Analysis":
    """An Analysis from an Analysis (returned as is), an ``analysis.json`` path (read, not
    re-analysed) or a model (zoo name, reference, ``nn.Module``: analysed with checks)."""
    from archlens.analysis import Analysis
    if isinstance(source, Analysis):
        return source
    if isinstance(source, (str, Path)) and str(source).endswith(".json"):
        from archlens.jsonio import read_analysis
        return read_analysis(source)
    return analyze(source, input_shape, **kw)


def diff(a: "Analysis | str | Path | nn.Module", b: "Analysis | str | Path | nn.Module", *,
         input_shape: Sequence[int] | str | None = None) -> "Diff":
    """Architecture diff of B against A (render-free data, deltas B - A): layer units
    aligned by module path (same / changed: kernel, width, groups, factorization / added /
    removed), totals, per-stage deltas by stage index, findings in one and not the other,
    and a headline sentence. A and B: analyses, ``analysis.json`` paths or models."""
    from archlens.diff import diff as _diff
    return _diff(load(a, input_shape), load(b, input_shape))


def budgets(d: "Diff", expressions: Sequence[str]) -> list[Any]:
    """Evaluate CI budgets (``--fail-if`` expressions, :mod:`archlens.budgets`) against a
    diff; a malformed expression is a one-line ConfigError. Returns the outcomes."""
    from archlens import budgets as _budgets
    return _budgets.evaluate(d, _budgets.parse_all(expressions))


def _analysed(source, input_shape, console, **kw) -> "Analysis":
    """``load`` with a progress line on the report's console (None: stdout; False: silent)."""
    from archlens.analysis import Analysis
    if isinstance(source, Analysis):
        return source
    from archlens.render.output import Steps, console_or_none
    name = source if isinstance(source, (str, Path)) else type(source).__name__
    with Steps(console_or_none(console)).step("analyse", f"analysing {name}"):
        return load(source, input_shape, **kw)


def report(model: "Analysis | str | nn.Module", out: str | Path | None = None, *,
           input_shape: Sequence[int] | str | None = None, depth: int | None = None,
           png: bool = True, bench: str | Path | None = None, console: Any = None,
           sections: Sequence[Any] = (), md_assets: str | None = None,
           md_inline: bool = False) -> Path:
    """Write the design-review report (HTML, Markdown, SVG graph, charts, analysis.json)
    into ``out`` (default ``reports/<model>/``), atomically. Returns the folder.
    ``model``: an Analysis, an ``analysis.json`` path or a model (analysed with checks).
    ``sections``: extra :class:`archlens.render.report.Section` objects to append;
    ``md_assets``: URL prefix for report.md's pictures (a pull request can show them);
    ``md_inline``: the pictures inside report.md as data: URIs (not on GitHub)."""
    from archlens.render import report as _report
    a = _analysed(model, input_shape, console)
    return _report.write_report(a, out, depth=depth, png=png, bench=bench, console=console,
                                sections=sections, md_assets=md_assets, md_inline=md_inline)


def compare(a: "Analysis | str | nn.Module", b: "Analysis | str | nn.Module",
            out: str | Path | None = None, *, input_shape: Sequence[int] | str | None = None,
            png: bool = True, console: Any = None, budgets: Sequence[str] = (),
            md_assets: str | None = None, md_inline: bool = False) -> Path:
    """Write the comparison folder of B against A (architecture diff, totals, per-stage
    deltas, side-by-side graphs with the changes outlined, findings diff, charts; with
    ``budgets`` (``--fail-if`` expressions) their outcomes). Returns the folder."""
    from archlens import budgets as _budgets
    from archlens.diff import diff as _diff
    from archlens.render import compare as _compare
    parsed = _budgets.parse_all(budgets)
    aa = _analysed(a, input_shape, console)
    bb = _analysed(b, input_shape, console)
    d = _diff(aa, bb)
    return _compare.write_compare(d, aa, bb, out, png=png, console=console,
                                  budgets=_budgets.evaluate(d, parsed), md_assets=md_assets,
                                  md_inline=md_inline)


def effective_rf(model: "str | nn.Module", layer: str | None = None,
                 input_shape: Sequence[int] | str | None = None, *, analysis: Any = None,
                 unit: tuple[int, int] | None = None, samples: int = 4, seed: int = 0,
                 device: str = "cpu") -> Any:
    """The effective receptive field of ``layer`` at initialisation (Luo et al., NeurIPS 2016):
    the gradient energy of its centre unit w.r.t. the input, with its measured radius
    (2 sigma, px) beside the theoretical window. See :mod:`archlens.metrics.erf`."""
    from archlens.metrics import erf
    return erf.effective_rf(model, layer, input_shape, analysis=analysis, unit=unit,
                            samples=samples, seed=seed, device=device)


def profile(model: "str | nn.Module", input_shape: Sequence[int] | str | None = None, *,
            device: str = "cpu", dtype: str = "float32", batch: int = 1,
            threads: int | None = None, channels_last: bool = False, warmup: int = 3,
            repeats: int | None = None, min_time: float = 3.0, roofline: Any = True,
            progress: Any = None) -> "Any":
    """Measured latency of every layer of the analysed graph (median and IQR over ``repeats``
    passes), the whole-model median beside their sum, bytes moved per layer, the device
    roofline (measured) and the analytical estimate per layer: a
    :class:`~archlens.profile.Profile` (``to_dict`` / ``from_dict``). See docs/profile.md."""
    from archlens import guard
    from archlens.profile.run import profile_model
    label = model if isinstance(model, str) else type(model).__name__
    # the user's code runs many times here: the same guards as analyze (sys.exit, recursion,
    # allocation failures -> one line); what it prints goes to stderr (--json - stays JSON)
    return guard.guarded(lambda: profile_model(
        model, input_shape, device=device, dtype=dtype, batch=batch, threads=threads,
        channels_last=channels_last, warmup=warmup, repeats=repeats, min_time=min_time,
        roofline=roofline, progress=progress), label=label, quiet_stdout=True)


def sweep(spec: Any, out: str | Path | None = None, *, workers: int | None = None,
          address: str | None = None, resume: bool = False, progress: Any = None,
          references: bool = False) -> Any:
    """Run a design-space sweep on Ray and return its :class:`~archlens.sweep.SweepResult`:
    ``.table`` (pyarrow; ``.to_pandas()``) has one row per variant (its parameters, status,
    params, MACs, feature RF in px, depth, width, findings counts), ``.summary`` the counts.

    ``spec``: a TOML path, a dict of the same shape, or a :class:`~archlens.sweep.SweepSpec`
    (format: docs/sweep.md). Results go to ``out`` (default ``sweeps/<name>/``), written as
    they arrive; ``resume=True`` skips the variants already there. ``address``: ``"auto"`` or
    ``"HOST:PORT"`` of an existing Ray cluster (default: a local instance, or the Ray session
    this process already started). Bad specs raise one-line
    :class:`~archlens.errors.SweepSpecError` before any work starts. ``references``: also
    analyse the family's zoo members for the report's width/depth plane (``summary``).
    """
    from archlens.sweep import run_sweep
    return run_sweep(spec, out, workers=workers, address=address, resume=resume,
                     progress=progress, references=references)


def load_sweep(out: str | Path) -> Any:
    """The :class:`~archlens.sweep.SweepResult` of a finished sweep folder."""
    from archlens.sweep import load_sweep as _load
    return _load(out)
