"""ndconv.torch on a CUDA GPU against cuDNN (IEEE float32) and FFT long convolutions.

``python benchmarks/gpu.py [--output FILE]`` on a machine with a CUDA device prints the
markdown section (and writes it to FILE); ``render()`` returns it.  Without a GPU,
``run_benchmarks.py`` copies the section last measured on one from
``benchmarks/gpu_results.md`` into docs/benchmarks.md.

Cases (float32, TF32 off for every contender — ndconv.torch computes IEEE float32, so
cuDNN is held to the same arithmetic):

* **Images**: 8 images of 1024², 'same' cross-correlation with a K×K kernel, zero
  padding; contenders ``torch.nn.functional.conv2d(padding="same")`` (cuDNN) and
  ``ndconv.torch.correlate`` with ``method="direct"`` (cuDNN on the extended input)
  and ``method="fft"`` (torch.fft).
* **Long 1-D convolutions** (FlashFFTConv's setting: a Hyena-style causal convolution,
  a kernel as long as the sequence, one per channel): ``u`` of shape (B, H, L), ``k`` of
  shape (H, L), ``y[…, i] = Σ_{j ≤ i} k[…, j] · u[…, i − j]`` for ``i < L``;
  L = 2^16 … 2^20.  Contenders: the plain torch.fft convolution FlashFFTConv compares
  with (``irfft(rfft(u, 2L) · rfft(k, 2L))[:L]``), ``ndconv.torch.convolve`` (per-row
  kernels, ``mode="same"`` with the origin that keeps the causal window), and cuDNN's
  depthwise ``conv1d`` while its O(L²) work stays affordable.  The error column is
  max |y − y64| / max |y64| against a float64 FFT on the device.

Times: CUDA events around each call after warm-up, median of ``REPEAT`` calls.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import ndconv.torch as nt

REPEAT = 21
IMAGE_KERNELS = (3, 7, 15, 31, 63, 127)
LENGTHS = (2**16, 2**18, 2**20)
#: cuDNN's direct long convolution costs B·H·L² multiply-adds: timed up to this length
CUDNN_LONG_MAX = 2**16
RESULTS = Path(__file__).with_name("gpu_results.md")


def _time(call, repeat: int = REPEAT) -> float:
    """Median seconds of ``call()`` on the current CUDA stream."""
    for _ in range(3):
        call()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    times.sort()
    return times[len(times) // 2]


def image_rows() -> list[str]:
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(8, 1024, 1024, device="cuda", generator=gen)
    rows = []
    for size in IMAGE_KERNELS:
        k = torch.randn(size, size, device="cuda", generator=gen)
        with torch.no_grad():
            t = {
                "cudnn": _time(lambda: F.conv2d(x[:, None], k[None, None], padding="same")),
                "direct": _time(lambda: nt.correlate(x, k, mode="same", method="direct")),
                "fft": _time(lambda: nt.correlate(x, k, mode="same", method="fft")),
            }
            ref = F.conv2d(x[:, None].double(), k[None, None].double(), padding="same")[:, 0]
            err = {m: float((nt.correlate(x, k, mode="same", method=m) - ref).abs().max() / ref.abs().max())
                   for m in ("direct", "fft")}
        best = min(t["direct"], t["fft"])
        rows.append(f"| 8×1024² | {size}×{size} | {t['cudnn'] * 1e3:.3f} | {t['direct'] * 1e3:.3f} "
                    f"| {t['fft'] * 1e3:.3f} | {best / t['cudnn']:.2f} | {err['direct']:.1e} / {err['fft']:.1e} |")
    return rows


def _causal_fft(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    n = 2 * u.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :u.shape[-1]]


def long_rows() -> list[str]:
    rows = []
    for length in LENGTHS:
        batch, channels = (8, 32) if length <= 2**18 else (4, 16)
        gen = torch.Generator(device="cuda").manual_seed(length)
        u = torch.randn(batch, channels, length, device="cuda", generator=gen)
        k = torch.randn(channels, length, device="cuda", generator=gen) / length ** 0.5
        origin = -((length - 1) // 2)   # the 'same' window starting at output 0: y[i] = full[i]
        with torch.no_grad():
            ref = _causal_fft(u.double(), k.double())
            ours = nt.convolve(u, k[None], mode="same", origin=origin, axes=-1, method="fft")
            plain = _causal_fft(u, k)
            err = {name: float((y - ref).abs().max() / ref.abs().max()) for name, y in (("ndconv", ours),
                                                                                        ("torch.fft", plain))}
            t = {
                "torch.fft": _time(lambda: _causal_fft(u, k)),
                "ndconv": _time(lambda: nt.convolve(u, k[None], mode="same", origin=origin, axes=-1, method="fft")),
            }
            if length <= CUDNN_LONG_MAX:
                weight = k.flip(-1)[:, None]   # conv1d correlates
                t["cudnn"] = _time(lambda: F.conv1d(F.pad(u, (length - 1, 0)), weight, groups=channels), 5)
                cudnn = f"{t['cudnn'] * 1e3:.2f}"
            else:
                cudnn = f"not run (B·H·L² = {batch * channels * length ** 2:.1e} multiply-adds)"
        rows.append(f"| {batch}×{channels}×2^{length.bit_length() - 1} | {t['torch.fft'] * 1e3:.3f} "
                    f"| {t['ndconv'] * 1e3:.3f} | {t['ndconv'] / t['torch.fft']:.2f} | {cudnn} "
                    f"| {err['ndconv']:.1e} / {err['torch.fft']:.1e} |")
    return rows


def render() -> str:
    """The markdown section "GPU: ndconv.torch on CUDA" measured on this machine's GPU."""
    with nt.ieee_float32():   # cuDNN held to ndconv.torch's IEEE float32; the caller's setting restored after
        images, long = image_rows(), long_rows()
    props = torch.cuda.get_device_properties(0)
    lines = [
        "## GPU: ndconv.torch on CUDA",
        "",
        f"Measured {datetime.date.today().isoformat()} on {props.name} ({props.multi_processor_count} SMs, "
        f"{props.total_memory / 2**30:.0f} GiB), torch "
        f"{torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; float32 with "
        "TF32 off for every contender (IEEE arithmetic, as ndconv.torch computes); times in ms, median of "
        f"{REPEAT} calls timed with CUDA events after warm-up. Produced by `python benchmarks/gpu.py` on a GPU "
        "machine (docs/benchmarks.md copies it from benchmarks/gpu_results.md when the page is made without one).",
        "",
        "### Images: ndconv.torch vs cuDNN conv2d",
        "",
        "'same' cross-correlation, zero padding. ratio = ndconv's faster method / cuDNN (below 1: ndconv wins); "
        "error = max|y − y64| / max|y64| of ndconv's direct / fft against float64 cuDNN.",
        "",
        "| images | kernel | cuDNN conv2d | ndconv direct | ndconv fft | ratio | error direct / fft |",
        "|---|---|---:|---:|---:|---:|---|",
        *images,
        "",
        "### Long causal convolutions (FlashFFTConv's setting)",
        "",
        "Per-channel kernels as long as the sequence. ratio = ndconv / torch.fft; error = max|y − y64| / max|y64| "
        "of ndconv / torch.fft against a float64 FFT.",
        "",
        "| B×H×L | torch.fft conv | ndconv.torch fft | ratio | cuDNN depthwise conv1d | error ndconv / torch.fft |",
        "|---|---:|---:|---:|---|---|",
        *long,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="also write the section to this file")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure", file=sys.stderr)
        return 1
    text = render()
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
