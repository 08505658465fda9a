"""ndconv.torch against torch's own convolution (CPU, float32).

``python benchmarks/torch_fft.py`` prints the markdown section; ``render()`` returns it.
Cases: a 512×512 image with a K×K kernel and a 2**16 signal with K taps, 'same'
cross-correlation with zero padding.  Contenders: ``torch.nn.functional.conv2d/conv1d``
(``padding="same"``); ``ndconv.torch.correlate`` as a call without gradients runs it on
the CPU (on ndconv's NumPy core, ``method="auto"``); and ``method="fft"`` and
``method="direct"`` on torch's own engines (``NUMPY_CORE`` off: what runs when a
gradient is wanted, or on CUDA).  Times are medians of interleaved runs
(:func:`ndconv.bench.time_interleaved`).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

import ndconv.torch
from ndconv.bench import time_interleaved
from ndconv.torch import _functional

IMAGE_KERNELS = (7, 15, 31, 63)
SIGNAL_KERNELS = (64, 256, 1024, 4096)
REPEAT = 5
BUDGET = 1.0  # seconds per contender and case, once it has its minimum samples


def _case(x: torch.Tensor, k: torch.Tensor) -> dict[str, float]:
    torch_conv = F.conv2d if k.ndim == 2 else F.conv1d
    lead = (1, 1)
    origin = 1 - k.shape[0] % 2

    def on_torch(method: str):
        def call():
            _functional.NUMPY_CORE = False
            try:
                ndconv.torch.correlate(x, k, mode="same", origin=origin, method=method)
            finally:
                _functional.NUMPY_CORE = True
        return call

    calls = {
        "torch": lambda: torch_conv(x.reshape(lead + x.shape), k.reshape(lead + k.shape), padding="same"),
        "auto": lambda: ndconv.torch.correlate(x, k, mode="same", origin=origin),
        "fft": on_torch("fft"),
        "direct": on_torch("direct"),
    }
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # torch: 'same' with an even kernel copies the input
        for call in calls.values():   # warm up (FFT plans, allocator)
            call()
        return time_interleaved(calls, REPEAT, BUDGET, seed=0)   # a fresh order each round


def _rows(label: str, x: torch.Tensor, kernels: tuple[int, ...], ndim: int,
          limit_rows: list[str] | None = None) -> list[str]:
    """The table rows; with ``limit_rows``, each case's bounds and profile go there."""
    rows = []
    for size in kernels:
        k = torch.randn((size,) * ndim)
        t = _case(x, k)
        rows.append(f"| {label} | {'×'.join([str(size)] * ndim)} | {t['torch'] * 1e3:.2f} | {t['auto'] * 1e3:.2f} "
                    f"| {t['auto'] / t['torch']:.2f} | {t['fft'] * 1e3:.2f} | {t['direct'] * 1e3:.2f} "
                    f"| {t['fft'] / t['torch']:.2f} |")
        if limit_rows is not None:
            limit_rows.append(_limit_row(label, x, k, t["auto"]))
    return rows


def _limit_row(label: str, x: torch.Tensor, k: torch.Tensor, seconds: float) -> str:
    """Roofline bounds of one case (as in *Limits and profiles*) and where ndconv.torch's time goes."""
    import limits

    machine = limits.machine_limits()
    memory = 4 * (2 * x.numel() + k.numel()) / machine["bandwidth"]      # x in, k, 'same' y out
    direct = 2 * x.numel() * k.numel() / machine["gemm_f4"]
    fft = limits.fft_flops(tuple(x.shape), tuple(k.shape), "same") / machine["fft_f4"]
    limit = max(memory, min(direct, fft))
    origin = 1 - k.shape[0] % 2

    def call():
        with torch.no_grad():
            ndconv.torch.correlate(x, k, mode="same", origin=origin)

    return (f"| {label} | {'×'.join(map(str, k.shape))} | {seconds * 1e3:.2f} | {memory * 1e3:.3f} | "
            f"{direct * 1e3:.3g} | {fft * 1e3:.3g} | {seconds / limit:.1f} | "
            f"{limits.where(limits.top_functions(call))} |")


def render() -> str:
    """The markdown section "ndconv.torch FFT path vs torch conv" measured on this machine."""
    torch.manual_seed(0)
    lines = [
        "## ndconv.torch FFT path vs torch conv",
        "",
        f"CPU float32, torch {torch.__version__}, {torch.get_num_threads()} threads; 'same' cross-correlation, "
        "zero padding; times in ms (median of interleaved runs). **ndconv.torch** is the call as it runs here "
        "with no gradient wanted: on ndconv's NumPy core, `method='auto'`. **on torch's engines** is what runs "
        "when a gradient is wanted or on CUDA (`NUMPY_CORE` off): `method='fft'` (torch.fft) and "
        "`method='direct'` (torch's conv on the extended input). Ratios below 1: ndconv is faster.",
        "",
        "| input | kernel | torch conv | ndconv.torch | ratio | on torch's engines: fft | direct | fft / torch |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    limit_rows: list[str] = []
    lines += _rows("512×512", torch.randn(512, 512), IMAGE_KERNELS, 2, limit_rows)
    lines += _rows("2^16", torch.randn(2 ** 16), SIGNAL_KERNELS, 1, limit_rows)
    lines += ["", "On torch's engines the FFT path costs about the same whatever the kernel size, torch's "
              "direct convolution grows with the number of taps: the crossover is where fft / torch falls "
              f"below 1, and `method='auto'` there takes the FFT from {ndconv.torch.FFT_MIN_TAPS} taps on "
              "(`ndconv.torch.FFT_MIN_TAPS`).", "",
              "Bounds of the ndconv.torch call (measured in this process, as in *Limits and profiles*): memory = "
              "x, k and y once through memory; direct = 2 FLOPs per output × tap at the float32 GEMM rate; FFT "
              "= three transforms of the padded size (1-D: overlap-add's best block) at scipy.fft's rate; "
              "distance = ndconv.torch / max(memory, min(direct, FFT)). Profile: cProfile of the call.", "",
              "| input | kernel | ndconv.torch ms | memory ms | direct ms | FFT ms | distance | where the time goes |",
              "|---|---|---:|---:|---:|---:|---:|---|", *limit_rows, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
