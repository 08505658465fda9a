"""Where the time goes, and how far each case is from the machine's limits.

For every case of the main table:

* **roofline**: the memory bound (bytes of x, k and the output once through
  memory at the copy bandwidth measured here, now), the direct sum's compute
  bound (2 FLOPs per output × tap at the float32/float64 GEMM peak measured
  here: no convolution loop can beat the machine's multiply-add rate) and the
  FFT bound (the transforms of the convolution theorem — forward of x and k,
  inverse of the product — at scipy.fft's measured throughput).  The case's
  limit is max(memory, min(direct, FFT)), and *distance* = ndconv's time / limit;
* **profile**: cProfile of ``ndconv.convolve`` on the case; the three functions
  with the largest own time (compiled Numba loops and engine calls count as one
  function each), as shares of the total.

``run_benchmarks.py`` renders it from the main table's results.
"""

from __future__ import annotations

import cProfile
import functools
import math
import pstats

import numpy as np
import scipy.fft
from operators import _best  # best of a few calls, after one warm-up

import ndconv
from ndconv import bench

FFT_FLOPS_PER_POINT = 2.5      # real transform: about 2.5·N·log2 N FLOPs


@functools.lru_cache(maxsize=1)
def machine_limits() -> dict[str, float]:
    """Copy bandwidth (bytes/s), GEMM FLOP/s (float32, float64), FFT FLOP/s (float32, float64);
    measured once per process (every section of the page reads the same figures)."""
    rng = np.random.default_rng(0)
    big = rng.standard_normal(1 << 23)                           # 64 MiB: main memory
    out = np.empty_like(big)
    limits = {"bandwidth": 2 * big.nbytes / _best(lambda: np.copyto(out, big))}
    for name, dtype in (("f4", np.float32), ("f8", np.float64)):
        a = rng.standard_normal((2048, 2048)).astype(dtype)
        limits["gemm_" + name] = 2 * 2048**3 / _best(lambda: a @ a, 3)
        image = rng.standard_normal((2048, 2048)).astype(dtype)
        n = image.size
        seconds = _best(lambda: scipy.fft.rfft2(image, workers=bench.threads()), 5)
        limits["fft_" + name] = FFT_FLOPS_PER_POINT * n * math.log2(n) / seconds
    return limits


def bounds(case: bench.Case, limits: dict[str, float]) -> dict[str, float]:
    """Seconds: memory, direct (compute) and FFT bounds of a case."""
    dtype = np.dtype(case.dtype)
    outputs = math.prod(n + k - 1 if case.mode == "full" else n for n, k in zip(case.x_shape, case.k_shape))
    nbytes = (math.prod(case.x_shape) + math.prod(case.k_shape) + outputs) * dtype.itemsize
    key = "f4" if dtype in (np.float32, np.complex64) else "f8"
    complex_factor = 4 if dtype.kind == "c" else 1                # a complex multiply-add is 4 real ones
    direct = 2 * case.work * complex_factor / limits["gemm_" + key]
    fft = fft_flops(case.x_shape, case.k_shape, case.mode) * (2 if dtype.kind == "c" else 1) / limits["fft_" + key]
    if dtype.kind in "iu":
        fft = math.inf                                           # exact integers: the FFT is not a bound
    return {"memory": nbytes / limits["bandwidth"], "direct": direct, "fft": fft}


def fft_flops(x_shape: tuple[int, ...], k_shape: tuple[int, ...], mode: str) -> float:
    """FLOPs of the cheapest convolution by transforms: whole-array (nD), or blockwise
    (1-D overlap-add with the best power-of-two block) — three transforms per block."""
    padded = math.prod(n + k - 1 for n, k in zip(x_shape, k_shape))
    whole = 3 * FFT_FLOPS_PER_POINT * padded * math.log2(max(padded, 2))
    if len(x_shape) != 1:
        return whole
    n, k = x_shape[0], k_shape[0]
    outputs = n + k - 1 if mode == "full" else n
    best = whole
    size = 1 << max(1, (2 * k - 1).bit_length())
    while size < 4 * padded:
        blocks = math.ceil(outputs / (size - k + 1))
        best = min(best, 2 * FFT_FLOPS_PER_POINT * size * math.log2(size) * blocks
                   + FFT_FLOPS_PER_POINT * size * math.log2(size))
        size *= 2
    return best


def profile(case: bench.Case, calls: int = 5) -> list[tuple[str, float]]:
    """The three functions with the largest own time in ``ndconv.convolve`` on ``case``."""
    x, k = case.arrays()
    return top_functions(lambda: ndconv.convolve(x, k, case.mode, case.boundary), calls)


def top_functions(call, calls: int = 5, names: dict[str, str] | None = None) -> list[tuple[str, float]]:
    """The three functions with the largest own time in ``calls`` calls of ``call`` (after one
    outside the profile: compiling, planning), as shares of the total; ``names`` renames some."""
    call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    names = names or {}
    own: dict[str, float] = {}            # own (total) time per function; alike names together
    for func, data in pstats.Stats(profiler).stats.items():
        name = names.get(_name(func), _name(func))
        own[name] = own.get(name, 0.0) + data[2]
    total = sum(own.values()) or 1.0
    return [(name, t / total) for name, t in sorted(own.items(), key=lambda item: -item[1])[:3]]


def where(shares: list[tuple[str, float]]) -> str:
    """``top_functions``' result as the page writes it."""
    return ", ".join(f"{name} {share:.0%}" for name, share in shares)


def _name(func) -> str:
    filename, _, name = func
    if filename == "~":                                           # a builtin / C function
        if "acquire" in name:
            return "waiting for the other core"
        return name.strip("<>").replace("built-in method ", "").replace("method ", "")
    module = filename.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    return f"{module}.{name}"


def _ms(seconds: float) -> str:
    return "–" if not math.isfinite(seconds) else f"{seconds * 1e3:.3g}"


def render(results: list[bench.CaseResult]) -> str:
    limits = machine_limits()
    lines = [
        "## Limits and profiles",
        f"Measured now, in this process: copy bandwidth {limits['bandwidth'] / 1e9:.1f} GB/s (64 MiB, read + "
        f"write), GEMM {limits['gemm_f4'] / 1e9:.0f} GFLOP/s float32 and {limits['gemm_f8'] / 1e9:.0f} float64 "
        f"(2048² matmul), scipy.fft {limits['fft_f4'] / 1e9:.1f} / {limits['fft_f8'] / 1e9:.1f} GFLOP/s "
        "(rfft2 2048², 2.5·N·log2 N). Bounds: memory = x, k and the output once through memory; direct = "
        "2 FLOPs per output × tap at the GEMM rate; FFT = three transforms of the padded size; limit = "
        "max(memory, min(direct, FFT)); distance = ndconv / limit. Profile: cProfile of `ndconv.convolve`, "
        "own time of the three largest functions (a compiled loop or an engine call is one function).",
        "| case | ndconv ms | memory ms | direct ms | FFT ms | distance | where the time goes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        case = result.case
        b = bounds(case, limits)
        limit = max(b["memory"], min(b["direct"], b["fft"]))
        top = where(profile(case))
        lines.append(f"| {case.title} | {_ms(result.ndconv)} | {_ms(b['memory'])} | {_ms(b['direct'])} | "
                     f"{_ms(b['fft'])} | {result.ndconv / limit:.1f} | {top} |")
    return "\n\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:])
