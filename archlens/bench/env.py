"""The environment a benchmark ran in, recorded next to its numbers.

Latencies mean nothing without the machine, the library versions (cuDNN or oneDNN pick the
convolution algorithm), the thread count and the dtype; all of them go into the results JSON.
"""
from __future__ import annotations

import os
import platform
import re
from typing import Any

import torch

#: Dense peak throughput in GMAC/s (= vendor TFLOPS * 1000 / 2), per (device-name substring,
#: dtype). From NVIDIA's data sheets (dense, no sparsity; SXM boards). float32 is the plain
#: FP32 rate: with TF32 convolutions allowed (PyTorch's default for cuDNN) a float32 run can
#: exceed it, which the results then show as more than 100 %. Unknown devices get ``None``.
_GPU_PEAK_GMACS: tuple[tuple[str, str, float], ...] = (
    ("H200", "float32", 67_000 / 2), ("H200", "bfloat16", 989_500 / 2),
    ("H200", "float16", 989_500 / 2),
    ("H100", "float32", 67_000 / 2), ("H100", "bfloat16", 989_500 / 2),
    ("H100", "float16", 989_500 / 2),
    ("A100", "float32", 19_500 / 2), ("A100", "bfloat16", 312_000 / 2),
    ("A100", "float16", 312_000 / 2),
)


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (Unix): on a shared machine, how busy it was."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux), or platform's best guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the host's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def onednn_version() -> str | None:
    """oneDNN (MKL-DNN) version torch was built with; torch has no API for it, so it is read
    from the build configuration string."""
    if not torch.backends.mkldnn.is_available():
        return None
    m = re.search(r"(?:MKL-DNN|oneDNN)\s+v?([\d.]+)", torch.__config__.show())
    return m.group(1) if m else "available (version unknown)"


def cuda_driver_version() -> str | None:
    """The NVIDIA driver version, via NVML when torch can reach it."""
    if not torch.cuda.is_available():
        return None
    try:
        import pynvml  # shipped with torch's CUDA wheels as nvidia-ml-py
        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:  # noqa: BLE001 - optional; the record says unknown
        return None


def peak_gmacs(device_name: str, device: str, dtype: str) -> float | None:
    """Vendor peak in GMAC/s for the device and dtype, or ``None`` when unknown (always on CPU:
    a CPU's peak depends on its clock, vector width and FMA ports, which archlens does not
    measure)."""
    if device != "cuda":
        return None
    for key, dt, value in _GPU_PEAK_GMACS:
        if key in device_name and dt == dtype:
            return value
    return None


def collect(device: str, dtype: str, threads: int, *, channels_last: bool = False,
            note: str | None = None) -> dict[str, Any]:
    """The environment record of the results JSON."""
    env: dict[str, Any] = {
        "device": device,
        "device_name": cpu_model() if device == "cpu" else torch.cuda.get_device_name(0),
        "cpu_model": cpu_model(),
        "cores_available": available_cores(),
        "threads": threads,
        "load_average_start": load_average(),
        "dtype": dtype,
        "channels_last": channels_last,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "onednn": onednn_version(),
        "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
        "flush_denormal": device == "cpu",
        "cuda": torch.version.cuda,
        "cudnn": None,
        "driver": None,
        "cudnn_benchmark": None,
        "tf32_conv": None,
    }
    if device == "cuda":
        env.update(cudnn=torch.backends.cudnn.version(), driver=cuda_driver_version(),
                   cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
                   tf32_conv=bool(torch.backends.cudnn.allow_tf32),
                   gpu_capability=".".join(map(str, torch.cuda.get_device_capability(0))))
    peak = peak_gmacs(env["device_name"], device, dtype)
    env["peak_gmacs"] = peak
    env["peak_note"] = ("vendor dense peak (data sheet)" if peak is not None else
                        "unknown on CPU: percent of peak not reported" if device == "cpu" else
                        "unknown for this GPU: percent of peak not reported")
    if note:
        env["note"] = note
    return env
