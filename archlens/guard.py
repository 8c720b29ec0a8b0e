"""Guards around the one thing archlens cannot control: the user's model code.

    guarded(fn, label=..., timeout=None, quiet_stdout=False)
        runs ``fn()`` (an analysis) and turns what the user's code can do to a process into
        one-line errors that say where it happened (importing the file, building the model,
        the forward pass; the user's file:line): ``sys.exit`` -> :class:`UserCodeError`,
        ``RecursionError``/``MemoryError``/an allocator failure -> one line, ``--timeout``
        expiry -> :class:`ResourceLimitError`; Ctrl-C stays a KeyboardInterrupt but carries
        where it hit (``where`` attribute). ``quiet_stdout`` sends whatever the model prints
        to stderr, so ``--json -`` stays a JSON document.
    check_memory(model, input_shape, batch, device, dtype, limit)
        before a real (CPU/CUDA) forward: weights + peak activations estimated on the meta
        device (nothing allocated) against ``limit`` bytes; above it
        :class:`ResourceLimitError` suggesting ``--device meta`` or ``--max-memory``.
    available_memory(device) / parse_bytes(text)

The timeout uses SIGALRM, so it needs the main thread (elsewhere it is refused with one
line); it interrupts Python code at once and a long C++ kernel when it returns.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from archlens.errors import ArchlensError, ConfigError, ResourceLimitError, UserCodeError

T = TypeVar("T")
_PKG = str(Path(__file__).resolve().parent)
# archlens functions that mark the phase a frame belongs to
_PHASES = {"_import_target": "while importing", "_call": "while building the model",
           "run_traced": "during the forward pass", "_count_fvcore": "during the forward pass",
           "_count_meta": "during the forward pass", "_forward_ok": "during the forward pass",
           "_smallest_working": "during the forward pass"}
_ALLOC = re.compile(r"can't allocate memory|not enough memory|out of memory|"
                    r"DefaultCPUAllocator|Tried to allocate", re.I)


class _Timeout(BaseException):
    """Raised in the main thread by SIGALRM (a BaseException: user ``except Exception``
    blocks cannot swallow it)."""


def _is_library(filename: str) -> bool:
    f = os.path.abspath(filename)
    return (f.startswith(_PKG) or "site-packages" in f or "dist-packages" in f
            or f.startswith(os.path.dirname(os.__file__)) or filename.startswith("<frozen"))


def _describe(frames) -> str:
    """The phase (the innermost archlens entry point in ``frames``) and the innermost user
    frame: 'during the forward pass (at file.py:12 in forward)'."""
    phase = "during the analysis"
    for fr in frames:
        if os.path.abspath(fr.filename).startswith(_PKG) and fr.name in _PHASES:
            phase = _PHASES[fr.name]
    user = [fr for fr in frames if not _is_library(fr.filename)]
    if user:
        fr = user[-1]
        return f"{phase} (at {Path(fr.filename).name}:{fr.lineno} in {fr.name})"
    return phase


def where(tb: Any) -> str:
    """'while importing/building/during the forward pass (at file.py:12 in forward)'."""
    return _describe(traceback.extract_tb(tb) if tb is not None else [])


def _frame_where(frame: Any) -> str:
    """The same for a live frame (a signal handler's)."""
    return _describe(traceback.extract_stack(frame))


@contextlib.contextmanager
def _alarm(seconds: float | None):
    if not seconds:
        yield
        return
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"--timeout must be a positive number of seconds, got {seconds!r}")
    if threading.current_thread() is not threading.main_thread():
        raise ConfigError("--timeout needs the main thread (it uses SIGALRM); run the "
                          "analysis there or without a timeout")
    state: dict[str, str] = {}

    def on_alarm(signum, frame):
        state["where"] = _frame_where(frame)
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield state
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def guarded(fn: Callable[[], T], *, label: str, timeout: float | None = None,
            quiet_stdout: bool = False) -> T:
    """``fn()`` with the user's code kept from ending or hanging the process (see module)."""
    from archlens.sanitize import visible
    label = visible(label)
    out = contextlib.redirect_stdout(sys.stderr) if quiet_stdout else contextlib.nullcontext()
    state: dict[str, str] = {}
    try:
        with out, _alarm(timeout) as st:
            state = st if st is not None else {}
            return fn()
    except _Timeout:
        raise ResourceLimitError(
            f"analysis of {label} stopped after --timeout {timeout:g} s "
            f"{state.get('where', 'during the analysis')}; a forward pass that never "
            "returns? (use a larger --timeout, or --device meta to count without "
            "computing)") from None
    except SystemExit as e:
        raise UserCodeError(f"the code of {label} called sys.exit({e.code!r}) "
                            f"{where(e.__traceback__)}; archlens stopped the analysis") \
            from None
    except KeyboardInterrupt as e:
        e.where = f"{where(e.__traceback__)} of {label}"  # type: ignore[attr-defined]
        raise
    except RecursionError as e:
        raise UserCodeError(f"analysis of {label} hit Python's recursion limit "
                            f"({sys.getrecursionlimit()} frames) {where(e.__traceback__)}: "
                            "the model is nested too deeply for torch's recursive module "
                            "walks, or its code calls itself without end") from None
    except MemoryError as e:
        raise ResourceLimitError(f"analysis of {label} ran out of memory "
                                 f"{where(e.__traceback__)}; try --device meta (nothing is "
                                 "allocated) or a smaller --input/--batch") from None
    except RuntimeError as e:
        if isinstance(e, ArchlensError) or not _ALLOC.search(str(e)):
            raise
        raise ResourceLimitError(f"analysis of {label} could not allocate memory "
                                 f"{where(e.__traceback__)}; try --device meta (nothing is "
                                 "allocated) or a smaller --input/--batch") from None


# ----------------------------------------------------------------------------- memory

_MAX_BYTES = 2**62  # torch's storage size is an int64 count of bytes; keep a margin


def check_size(input_shape: Any, batch: int) -> None:
    """Refuse an input whose batch x C x H x W tensor (8 bytes per element at most) could
    not exist: torch's size arithmetic would overflow int64 (a raw RuntimeError)."""
    if input_shape is None or isinstance(batch, bool) or not isinstance(batch, int):
        return
    from archlens.errors import InputShapeError
    from archlens.shapes import format_shape, parse_shape
    dims = parse_shape(input_shape)
    n = batch * math.prod(dims)
    if n * 8 >= _MAX_BYTES:
        raise InputShapeError(
            f"input {batch}x{format_shape(dims)} has {n:.3g} elements, more than any tensor "
            f"can hold (torch sizes are int64 bytes, at most {_MAX_BYTES:.3g}); use a "
            "realistic --input/--batch")


_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6,
          "mib": 2**20, "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12,
          "tib": 2**40}


def parse_bytes(text: str) -> int | None:
    """'8G' / '512MiB' / '1.5GB' / '1000000' -> bytes (K/M/G/T alone are binary);
    'off'/'none' -> None (no limit)."""
    s = str(text).strip().lower().replace(" ", "")
    if s in ("off", "none", "no"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]*)", s)
    if not m or m.group(2) not in _UNITS or float(m.group(1)) <= 0:
        raise ConfigError(f"--max-memory expects a size like 8G, 512M, 2GiB or 'off', got "
                          f"{text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def available_memory(device: str = "cpu") -> int | None:
    """Bytes a forward on ``device`` may use now: MemAvailable (capped by a cgroup limit)
    on the CPU, free memory on a CUDA device; None when unknown."""
    if str(device).startswith("cuda"):
        try:
            import torch
            return int(torch.cuda.mem_get_info(torch.device(device))[0])
        except Exception:  # noqa: BLE001 - no CUDA: no default limit
            return None
    avail = None
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    if avail is None:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for cg in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            limit = int(Path(cg).read_text().strip())
            used_file = ("/sys/fs/cgroup/memory.current" if cg.endswith("max")
                         else "/sys/fs/cgroup/memory/memory.usage_in_bytes")
            used = int(Path(used_file).read_text().strip())
            if 0 < limit < 2**60:
                avail = min(avail if avail is not None else limit, max(limit - used, 0))
    return avail


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n < 2**30 else f"{n / 2**30:,.2f} GiB"


# Peak activation memory is a small multiple of the input's bytes in every network seen:
# 8x (googlenet) to 43x (vgg16) on the committed zoo reports, and a model must expand its
# input far beyond that to approach a limit this rule skips. A run whose known weights plus
# ACTIVATION_MARGIN x the input bytes fit under the limit therefore skips the meta estimate
# (a whole extra meta analysis: about half of a CLI run's time on inception_v3). The weights
# of every zoo model are under ZOO_WEIGHT_BOUND (tests/hardening/test_guard_fast_path.py
# checks every card); a user reference always gets the full estimate.
ACTIVATION_MARGIN = 4096
ZOO_WEIGHT_BOUND = 2**32  # bytes at 8 bytes per parameter: 512 M parameters


def _clearly_fits(model: Any, input_shape: Any, *, batch: int, dtype: str, limit: int) -> bool:
    """True when weights + ACTIVATION_MARGIN x input bytes fit under ``limit`` with weights
    known without running anything: an ``nn.Module`` (its own tensors) or a zoo name
    (ZOO_WEIGHT_BOUND). User references always get the full estimate."""
    import torch
    from archlens import engine
    from archlens.shapes import parse_shape
    try:
        itemsize = torch.empty((), dtype=engine.resolve_dtype(dtype)).element_size()
    except ArchlensError:
        return False
    if isinstance(model, torch.nn.Module):
        weights = sum(t.numel() * itemsize for t in
                      [*model.parameters(), *model.buffers()] if t.is_floating_point())
        if input_shape is None:
            input_shape = getattr(model, "default_input_shape", None)
    elif isinstance(model, str):
        from archlens import loader
        if loader.is_reference(model):
            return False
        from archlens.zoo import registry
        try:
            card = registry.card(model)
        except Exception:  # noqa: BLE001 - an unknown name: the analysis says so itself
            return False
        weights = ZOO_WEIGHT_BOUND
        if input_shape is None:
            input_shape = card.input_shape
    else:
        return False
    if input_shape is None or isinstance(batch, bool) or not isinstance(batch, int):
        return False
    try:
        elements = batch * math.prod(parse_shape(input_shape))
    except ArchlensError:
        return False
    return weights + ACTIVATION_MARGIN * elements * itemsize <= limit


def check_memory(model: Any, input_shape: Any, *, batch: int, device: str, dtype: str,
                 limit: int | str | None) -> int | None:
    """Refuse a real forward whose weights + peak activations, estimated on meta, exceed
    ``limit`` bytes ("auto": 90 % of :func:`available_memory`). Returns the estimate
    (bytes), or None when not checked: no limit, a meta run, or no meta estimate possible
    (value-dependent code: the real run then reports its own error)."""
    if isinstance(limit, str) and limit != "auto":
        limit = parse_bytes(limit)  # a malformed size is an error on every device
    if limit is None or str(device) in ("meta", "auto"):
        return None  # "auto" runs on meta; its CPU fallback only follows a failed meta pass
    if limit == "auto":
        avail = available_memory(device)
        if avail is None:
            return None
        limit, origin = int(avail * 0.9), f"90 % of the {_mib(avail)} available"
    else:
        limit, origin = int(limit), "--max-memory"
    if _clearly_fits(model, input_shape, batch=batch, dtype=dtype, limit=limit):
        return None
    from archlens import engine
    try:
        est = engine.analyze_model(model, input_shape, batch=batch, device="meta", dtype=dtype)
    except ArchlensError:
        return None
    need = est.totals.weight_bytes + est.totals.peak_activation_bytes
    if need > limit:
        from archlens.sanitize import visible
        shape = "x".join(str(s) for s in est.input_shape)
        raise ResourceLimitError(
            f"analysing {visible(est.model)} at {shape} on {device} needs about {_mib(need)} "
            f"(weights {_mib(est.totals.weight_bytes)} + peak activations "
            f"{_mib(est.totals.peak_activation_bytes)}, estimated on the meta device), over "
            f"the limit of {_mib(limit)} ({origin}); use --device meta (exact counts, nothing "
            "allocated), a smaller --input/--batch, or --max-memory")
    return need


# ----------------------------------------------------------------------------- TorchScript

def explain_script_modules(model: Any, label: str) -> None:
    """After a failed analysis: when the model holds TorchScript modules (which run no
    forward hooks, so archlens sees none of their layers and misreads the failure), raise
    :class:`UnsupportedModelError` saying so; otherwise return and let the error stand."""
    import torch
    from torch import nn

    from archlens.errors import UnsupportedModelError
    from archlens.sanitize import visible
    module = model
    if isinstance(model, str):
        from archlens import loader
        if not loader.is_reference(model):
            return  # the zoo holds no TorchScript
        try:
            module = loader.load_model(model)[0]
        except BaseException:  # noqa: BLE001 - reported by the original error
            return
    if not isinstance(module, nn.Module):
        return
    scripted: list[str] = []
    for n, m in module.named_modules():
        if isinstance(m, torch.jit.ScriptModule) and not any(
                n.startswith(s + ".") or s == "" for s in scripted):
            scripted.append(n)
    scripted = [n or "(the model itself)" for n in scripted]
    if scripted:
        more = f" (+{len(scripted) - 1} more)" if len(scripted) > 1 else ""
        raise UnsupportedModelError(
            f"{visible(label)} contains TorchScript module {visible(scripted[0])!r}{more}: "
            "scripted modules run no forward hooks, so archlens cannot see their layers; "
            "analyse the eager (un-scripted) module instead") from None


# ----------------------------------------------------------------------------- silent zeros

def check_counted(result: Any) -> Any:
    """A real-tensor analysis in which fvcore counted 0 MACs although conv/linear layers ran
    is wrong, not small: fvcore's jit trace keeps only ops that reach the returned value, so
    a forward returning None (or nothing that depends on them) counts nothing. Refuse it
    with one line instead of printing zeros; the meta path counts every executed op."""
    from archlens.engine import PAPER_TYPES
    from archlens.errors import UnsupportedModelError
    from archlens.sanitize import visible
    if result.device == "meta" or result.totals.macs:
        return result
    ran = [n for n in result.graph.layers
           if (getattr(n, "base_type", None) or n.type) in PAPER_TYPES and n.out_shape
           and math.prod(n.out_shape) > 0]
    if ran:
        raise UnsupportedModelError(
            f"fvcore counted 0 MACs for {visible(result.model)} although {len(ran)} conv/"
            f"linear layer{'s' if len(ran) != 1 else ''} ran (first: {visible(ran[0].name)!r}): "
            "its forward returns None or nothing computed from them, and fvcore's trace "
            "keeps only what reaches the output; return the output tensor, or analyse with "
            "--device meta (counts every executed op)")
    return result
