"""Run the factorization bench: cases and model pairs -> timed forms -> a results document.

Device-independent: the same modules, inputs and bookkeeping run on CPU and CUDA; only
:mod:`archlens.bench.timing` knows the device. Nothing here prints; progress is reported through
an optional callback so the CLI can draw a progress bar.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from archlens.bench import env as _env
from archlens.bench import timing
from archlens.bench.factorization import MODEL_PAIRS, Case, ModelPair, default_cases
from archlens.bench.results import SCHEMA, UNITS, validate
from archlens.errors import ArchlensError

#: progress(done, total, label): called before each timed pair and once at the end.
Progress = Callable[[int, int, str], None]


@dataclass
class BenchConfig:
    """What to run. ``None`` fields take the mode's default (quick or full)."""

    device: str = "cpu"
    dtype: str = "float32"
    channels_last: bool = False
    batches: Sequence[int] | None = None  # default: (1,) quick, (1, 32) full
    grids: Sequence[int] = (35, 17, 8)
    quick: bool = False
    threads: int | None = None  # default: the cores this process may use
    min_run_time: float | None = None  # timed seconds per form at least; 0.25 quick, 1.0 full
    min_runs: int | None = None  # timed runs per form at least (10)
    warmup: int = 3
    max_time: float | None = None  # seconds per case (both forms) at most; 1.5 quick, none full
    modules: bool = True  # Mixed_6b pair
    networks: bool | None = None  # whole networks; default: not in quick mode
    network_batches: Sequence[int] | None = None  # batch sizes for module/network pairs
    cases: Sequence[Case] | None = None  # override the case list (tests, custom studies)
    seed: int = 0
    note: str | None = None  # recorded in env.note (e.g. "shared 2-core VM")
    extra_notes: list[str] = field(default_factory=list)

    def resolved(self) -> "BenchConfig":
        q = self.quick
        return BenchConfig(
            device=self.device, dtype=self.dtype, channels_last=self.channels_last,
            batches=tuple(self.batches) if self.batches else ((1,) if q else (1, 32)),
            grids=tuple(self.grids), quick=q,
            threads=self.threads or _env.available_cores(),
            min_run_time=self.min_run_time if self.min_run_time is not None else (
                0.25 if q else 1.0),
            min_runs=self.min_runs if self.min_runs is not None else 10,
            warmup=self.warmup, modules=self.modules,
            max_time=self.max_time if self.max_time is not None else (1.5 if q else None),
            networks=(not q) if self.networks is None else self.networks,
            network_batches=tuple(self.network_batches) if self.network_batches else None,
            cases=tuple(self.cases) if self.cases is not None else tuple(
                default_cases(self.grids, quick=q)),
            seed=self.seed, note=self.note, extra_notes=list(self.extra_notes))


def _check_config(cfg: BenchConfig) -> None:
    for b in (*cfg.batches, *(cfg.network_batches or ())):
        if not isinstance(b, int) or b < 1:
            raise ArchlensError(f"batch sizes must be positive integers, got {b!r}")
    for g in cfg.grids:
        if not isinstance(g, int) or g < 1:
            raise ArchlensError(f"grid sizes must be positive integers, got {g!r}")
    if cfg.min_run_time <= 0:
        raise ArchlensError(f"min_run_time must be positive seconds, got {cfg.min_run_time}")
    if cfg.min_runs < 1:
        raise ArchlensError(f"min_runs must be a positive integer, got {cfg.min_runs}")


def _place(module: nn.Module, device: torch.device, dtype: torch.dtype,
           channels_last: bool) -> nn.Module:
    module = module.eval().to(device=device, dtype=dtype)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    return module


def _input(shape: Sequence[int], device: torch.device, dtype: torch.dtype, channels_last: bool,
           seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g).to(device=device, dtype=dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _form(label: str, macs: int, params: int, t: timing.Timing, peak: float | None,
          **extra: Any) -> dict[str, Any]:
    gmacs = macs / t.median_s / 1e9
    return {"label": label, "macs": int(macs), "params": int(params), "latency": t.to_dict(),
            "gmacs_per_s": gmacs,
            "percent_of_peak": (100.0 * gmacs / peak) if peak else None, **extra}


def _pair_entry(cid: str, kind: str, title: str, batch: int, full: dict, fact: dict,
                **extra: Any) -> dict[str, Any]:
    return {"id": cid, "kind": kind, "title": title, "batch": batch, **extra,
            "full": full, "factorized": fact,
            "mac_ratio": fact["macs"] / full["macs"],
            "param_ratio": (fact["params"] / full["params"]) if full["params"] else None,
            "mac_saving": 1 - fact["macs"] / full["macs"],
            "latency_ratio": fact["latency"]["median_s"] / full["latency"]["median_s"]}


def count_macs(module: nn.Module, x: torch.Tensor) -> int:
    """Convolution + linear MACs of one forward call (torch.utils.flop_counter counts 2 FLOPs
    per multiply-accumulate; halved here)."""
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() // 2


def _build_pair(pair: ModelPair, seed: int) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
    from archlens import zoo
    mods = []
    for name in (pair.full_model, pair.factorized_model):
        m = zoo.get_model(name, seed=seed)
        if pair.submodule:
            for attr in pair.submodule.split("."):
                m = getattr(m, attr)
        mods.append(m.eval())
    chw = pair.input_chw or tuple(zoo.card(pair.full_model).input_shape)
    return mods[0], mods[1], tuple(chw)


def _missing_models(pair: ModelPair) -> list[str]:
    from archlens import zoo
    try:
        known = set(zoo.list_models())
    except Exception as e:  # noqa: BLE001 - a zoo under construction must not stop the bench
        return [f"zoo unavailable ({type(e).__name__}: {e})"]
    return [n for n in (pair.full_model, pair.factorized_model) if n not in known]


def run_factorization(config: BenchConfig | None = None, *,
                      progress: Progress | None = None) -> dict[str, Any]:
    """Time every case (and module / network pair) in ``config``; return an
    ``archlens.bench/1`` document (validated). Raises :class:`ArchlensError` for a device or
    dtype the machine cannot run."""
    cfg = (config or BenchConfig()).resolved()
    _check_config(cfg)
    device = timing.resolve_device(cfg.device)
    dtype = timing.resolve_dtype(cfg.dtype)
    timing.prepare(device, cfg.threads)
    timing.check_dtype_supported(device, dtype)
    environment = _env.collect(cfg.device, cfg.dtype, cfg.threads,
                               channels_last=cfg.channels_last, note=cfg.note)
    peak = environment["peak_gmacs"]

    pairs: list[ModelPair] = [p for p in MODEL_PAIRS
                              if (p.kind == "module" and cfg.modules)
                              or (p.kind == "network" and cfg.networks)]
    skipped: list[dict[str, str]] = []
    runnable: list[ModelPair] = []
    for p in pairs:
        missing = _missing_models(p)
        if missing:
            skipped.append({"id": p.id, "reason": "not in the zoo: " + ", ".join(missing)})
        else:
            runnable.append(p)
    pair_batches = cfg.network_batches or cfg.batches
    total = len(cfg.batches) * len(cfg.cases) + len(pair_batches) * len(runnable)
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        if progress:
            progress(done, total, label)
        done += 1

    def timed(modules: tuple[nn.Module, nn.Module], x: torch.Tensor,
              label: str) -> list[timing.Timing]:
        tick(label)
        with torch.no_grad():
            return timing.measure([lambda: modules[0](x), lambda: modules[1](x)], device,
                                  threads=cfg.threads, min_run_time=cfg.min_run_time,
                                  min_runs=cfg.min_runs, warmup=cfg.warmup,
                                  max_time=cfg.max_time)

    entries: list[dict[str, Any]] = []
    for batch in cfg.batches:
        for i, case in enumerate(cfg.cases):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed + i)
                full = _place(case.build_full(), device, dtype, cfg.channels_last)
                fact = _place(case.build_factorized(), device, dtype, cfg.channels_last)
            x = _input(case.input_shape(batch), device, dtype, cfg.channels_last, cfg.seed)
            with torch.no_grad():
                shapes = (tuple(full(x).shape), tuple(fact(x).shape))
            if shapes[0] != shapes[1] or shapes[0] != case.output_shape(batch):
                raise RuntimeError(f"case {case.id}: output shapes differ {shapes}")  # a bug
            t_full, t_fact = timed((full, fact), x, f"{case.title} b{batch}")
            entries.append(_pair_entry(
                case.id, "factorization", case.title, batch,
                _form(f"{case.n}x{case.n} conv", case.full_macs() * batch, case.full_params(),
                      t_full, peak),
                _form(("3x3 + 3x3" if case.kind == "stack" else f"1x{case.n} + {case.n}x1")
                      + (" (BN+ReLU between)" if case.bn_relu else ""),
                      case.factorized_macs() * batch, case.factorized_params(), t_fact, peak,
                      bn_params=case.bn_params()),
                grid=case.grid, input_shape=list(case.input_shape(batch)),
                output_shape=list(shapes[0]), spec=case.to_dict(), macs_source="closed form"))
            del full, fact, x
    for batch in pair_batches:
        for pair in runnable:
            try:
                m_full, m_fact, chw = _build_pair(pair, cfg.seed)
            except Exception as e:  # noqa: BLE001 - a zoo model under construction
                skipped.append({"id": pair.id, "batch": batch,
                                "reason": f"build failed: {type(e).__name__}: {e}"})
                done += 1
                continue
            shape = (batch, *chw)
            x1 = torch.randn(1, *chw)
            macs = (count_macs(m_full, x1) * batch, count_macs(m_fact, x1) * batch)
            params = tuple(sum(p.numel() for p in m.parameters()) for m in (m_full, m_fact))
            m_full = _place(m_full, device, dtype, cfg.channels_last)
            m_fact = _place(m_fact, device, dtype, cfg.channels_last)
            x = _input(shape, device, dtype, cfg.channels_last, cfg.seed)
            with torch.no_grad():
                outs = (tuple(m_full(x).shape), tuple(m_fact(x).shape))
            t_full, t_fact = timed((m_full, m_fact), x, f"{pair.id} b{batch}")
            entries.append(_pair_entry(
                pair.id, pair.kind, f"{pair.full_label} vs {pair.factorized_label}", batch,
                _form(pair.full_label, macs[0], params[0], t_full, peak,
                      model=pair.full_model, output_shape=list(outs[0])),
                _form(pair.factorized_label, macs[1], params[1], t_fact, peak,
                      model=pair.factorized_model, output_shape=list(outs[1])),
                grid=chw[-1], input_shape=list(shape), output_shape=list(outs[1]),
                spec={"submodule": pair.submodule, "note": pair.note},
                macs_source="torch.utils.flop_counter (conv + linear; FLOPs / 2)"))
            del m_full, m_fact, x
    if progress:
        progress(total, total, "done")
    environment["load_average_end"] = _env.load_average()

    notes = [
        "MACs and params of factorization cases count convolution weights only (bias-free "
        "convs); BN+ReLU between factors is timed but its elementwise work is not a MAC.",
        "latency_ratio = median(factorized) / median(full); mac_ratio = MACs(factorized) / "
        "MACs(full).",
    ]
    if cfg.device == "cpu":
        notes.append("CPU: peak GMAC/s unknown, so percent of peak is not reported.")
    if not cfg.networks:
        notes.append("whole networks skipped" + (" (--quick)" if cfg.quick else ""))
    notes += cfg.extra_notes
    doc = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "env": environment,
        "config": {"device": cfg.device, "dtype": cfg.dtype, "channels_last": cfg.channels_last,
                   "batches": list(cfg.batches),
                   "network_batches": list(pair_batches) if runnable else [],
                   "grids": list(cfg.grids), "quick": cfg.quick,
                   "threads": cfg.threads, "min_run_time_s": cfg.min_run_time,
                   "min_runs": cfg.min_runs, "warmup_calls": cfg.warmup,
                   "max_time_per_case_s": cfg.max_time,
                   "timer": "torch.utils.benchmark.Timer.blocked_autorange",
                   "grad": "torch.no_grad(), eval mode", "seed": cfg.seed},
        "units": UNITS,
        "notes": notes,
        "cases": entries,
        "skipped": skipped,
    }
    validate(doc)
    return doc
