"""A device roofline measured by two micro-benchmarks, recorded with the profile.

* **peak compute**: a large square GEMM (``n x n @ n x n``: ``n^3`` MACs) at the profiled
  dtype, thread count and device -- the classic compute roof: the dense rate this software
  stack reaches. A large 3x3 convolution (``256 -> 256`` channels on a 56x56 map, batch 1:
  1.85 GMACs) is measured and recorded beside it (``conv_macs_per_s``); a conv can beat the
  GEMM (then its percent of roofline exceeds 100). Why the GEMM and not the better of the two:
  on resnet50 (quiet CPU, 1 thread) the analytical estimate of its 53 convs had a median
  absolute error of 11 % under the GEMM roof and 28 % under the best-of-both roof (the 56x56
  conv runs faster than most real layers); docs/profile.md;
* **bandwidth**: ``dst.copy_(src)`` of a tensor far larger than the last-level cache (default
  256 MiB per side on CPU, 1 GiB on CUDA): ``2 x size`` bytes (one read, one write) per copy.

Each is the median of several timed calls after warm-up. The roofline then says, for a layer of
intensity ``I`` (MACs per byte), ``attainable = min(peak, I x bandwidth)``; the ridge point is
``peak / bandwidth`` MACs per byte. This is a measured *software* roofline, not a data-sheet one:
it is what the same library can reach, which is what a layer's percent of roofline is judged
against.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Roofline:
    """Peak MAC/s and bandwidth in bytes/s, with how each was measured."""

    peak_macs_per_s: float
    bandwidth_bytes_per_s: float
    gemm_macs_per_s: float = 0.0
    conv_macs_per_s: float = 0.0
    gemm_n: int = 0
    copy_bytes: int = 0
    method: str = ""

    @property
    def ridge_macs_per_byte(self) -> float:
        return self.peak_macs_per_s / self.bandwidth_bytes_per_s

    def attainable(self, intensity: float) -> float:
        """MAC/s a layer of ``intensity`` MACs/byte can reach under this roofline."""
        return min(self.peak_macs_per_s, intensity * self.bandwidth_bytes_per_s)

    def estimate_s(self, macs: float, nbytes: float) -> float:
        """Analytical latency: the larger of compute time and traffic time."""
        return max(macs / self.peak_macs_per_s, nbytes / self.bandwidth_bytes_per_s)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ridge_macs_per_byte"] = self.ridge_macs_per_byte
        d["units"] = {"peak_macs_per_s": "multiply-accumulates / s",
                      "bandwidth_bytes_per_s": "bytes / s"}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Roofline":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _median_time(fn: Callable[[], Any], sync: Callable[[], None], repeats: int,
                 warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_roofline(device: str = "cpu", dtype: str = "float32", *, gemm_n: int | None = None,
                     copy_mib: int | None = None, repeats: int = 5) -> Roofline:
    """Measure peak MAC/s (GEMM, conv) and copy bandwidth on ``device`` at ``dtype``."""
    import torch

    from archlens.engine import resolve_dtype
    dt = resolve_dtype(dtype)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    n = gemm_n or (8192 if cuda else 1024)
    mib = copy_mib or (1024 if cuda else 256)
    sync = (lambda: torch.cuda.synchronize(dev)) if cuda else (lambda: None)
    with torch.no_grad():
        a = torch.randn(n, n, device=dev).to(dt)
        b = torch.randn(n, n, device=dev).to(dt)
        gemm = n ** 3 / _median_time(lambda: torch.mm(a, b), sync, repeats)
        del a, b
        conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).to(device=dev, dtype=dt)
        x = torch.randn(1, 256, 56, 56, device=dev).to(dt)
        conv_macs = 56 * 56 * 256 * 256 * 9
        conv_rate = conv_macs / _median_time(lambda: conv(x), sync, repeats)
        del conv, x
        numel = mib * 2 ** 20 // torch.empty((), dtype=dt).element_size()
        src = torch.empty(numel, device=dev, dtype=dt).fill_(1)
        dst = torch.empty_like(src)
        nbytes = 2 * src.numel() * src.element_size()
        bw = nbytes / _median_time(lambda: dst.copy_(src), sync, repeats)
        del src, dst
    return Roofline(peak_macs_per_s=gemm, bandwidth_bytes_per_s=bw,
                    gemm_macs_per_s=gemm, conv_macs_per_s=conv_rate, gemm_n=n,
                    copy_bytes=nbytes,
                    method=(f"peak: a {n}x{n} GEMM (a 3x3 256->256 conv on 56x56 recorded "
                            f"beside it); "
                            f"bandwidth: copy_ of {mib} MiB (read + write counted); "
                            f"medians of {repeats} calls after warm-up"))
