"""ndconv.torch on a CUDA GPU against cuDNN (IEEE float32) and FFT long convolutions.

``python benchmarks/gpu.py [--output FILE]`` on a machine with a CUDA device prints the
markdown section (and writes it to FILE); ``render()`` returns it.  Without a GPU,
``run_benchmarks.py`` copies the section last measured on one from
``benchmarks/gpu_results.md`` into docs/benchmarks.md.

Cases (float32, TF32 off for every contender — ndconv.torch computes IEEE float32, so
cuDNN is held to the same arithmetic):

* **Images**: 8 images of 1024², 'same' cross-correlation with a K×K kernel, zero
  padding; contenders ``torch.nn.functional.conv2d(padding="same")`` (cuDNN) and
  ``ndconv.torch.correlate`` with ``method="direct"`` (for one channel, the Triton
  stencil of ``ndconv.torch._triton``; cuDNN where it does not apply) and
  ``method="fft"`` (torch.fft).
* **Long 1-D convolutions** (FlashFFTConv's setting: a Hyena-style causal convolution,
  a kernel as long as the sequence, one per channel): ``u`` of shape (B, H, L), ``k`` of
  shape (H, L), ``y[…, i] = Σ_{j ≤ i} k[…, j] · u[…, i − j]`` for ``i < L``;
  L = 2^16 … 2^20.  Contenders: the plain torch.fft convolution FlashFFTConv compares
  with (``irfft(rfft(u, 2L) · rfft(k, 2L))[:L]``), ``ndconv.torch.convolve`` (per-row
  kernels, ``mode="same"`` with the origin that keeps the causal window), and cuDNN's
  depthwise ``conv1d`` while its O(L²) work stays affordable.  The error column is
  max |y − y64| / max |y64| against a float64 FFT on the device.

Times, after warm-up, with CUDA events: **one call** is the median of ``REPEAT`` calls
each started on an idle device (its latency: the host's work before the first kernel
counts); **back to back** is the mean of ``STREAM`` calls queued one after another
(what a training loop sees: host work overlaps the device's, except where a call waits
for the device — ndconv's FFT path does, to look for NaN/±∞ in its result).
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
STREAM = 50
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


def _stream(call, count: int = STREAM) -> float:
    """Mean seconds per call of ``count`` calls queued back to back."""
    for _ in range(3):
        call()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(count):
        call()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / 1e3 / count


def memory_floor() -> tuple[float, float]:
    """(seconds, bytes per second): reading the 8 × 1024² float32 images and writing a result
    of the same size at the speed a device-to-device copy of them runs (back to back)."""
    x = torch.empty(8, 1024, 1024, device="cuda")
    y = torch.empty_like(x)
    seconds = _stream(lambda: y.copy_(x))
    return seconds, 2 * x.numel() * x.element_size() / seconds


def image_rows() -> list[str]:
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(8, 1024, 1024, device="cuda", generator=gen)
    rows = []
    for size in IMAGE_KERNELS:
        k = torch.randn(size, size, device="cuda", generator=gen)
        calls = {
            "cudnn": lambda: F.conv2d(x[:, None], k[None, None], padding="same"),
            "direct": lambda: nt.correlate(x, k, mode="same", method="direct"),
            "fft": lambda: nt.correlate(x, k, mode="same", method="fft"),
        }
        with torch.no_grad():
            t = {name: _time(call) for name, call in calls.items()}
            b = {name: _stream(call, STREAM if size < 63 else 5) for name, call in calls.items()}
            ref = F.conv2d(x[:, None].double(), k[None, None].double(), padding="same")[:, 0]
            err = {m: float((nt.correlate(x, k, mode="same", method=m) - ref).abs().max() / ref.abs().max())
                   for m in ("direct", "fft")}
        best, best_b = min(t["direct"], t["fft"]), min(b["direct"], b["fft"])
        rows.append(f"| 8×1024² | {size}×{size} | {t['cudnn'] * 1e3:.3f} | {t['direct'] * 1e3:.3f} "
                    f"| {t['fft'] * 1e3:.3f} | {best / t['cudnn']:.2f} | {b['cudnn'] * 1e3:.3f} "
                    f"| {b['direct'] * 1e3:.3f} | {b['fft'] * 1e3:.3f} | {best_b / b['cudnn']:.2f} "
                    f"| {err['direct']:.1e} / {err['fft']:.1e} |")
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
            calls = {
                "torch.fft": lambda: _causal_fft(u, k),
                "ndconv": lambda: nt.convolve(u, k[None], mode="same", origin=origin, axes=-1, method="fft"),
            }
            t = {name: _time(call) for name, call in calls.items()}
            b = {name: _stream(call, 20) for name, call in calls.items()}
            if length <= CUDNN_LONG_MAX:
                weight = k.flip(-1)[:, None]   # conv1d correlates
                t["cudnn"] = _time(lambda: F.conv1d(F.pad(u, (length - 1, 0)), weight, groups=channels), 5)
                cudnn = f"{t['cudnn'] * 1e3:.2f}"
            else:
                cudnn = f"not run (B·H·L² = {batch * channels * length ** 2:.1e} multiply-adds)"
        rows.append(f"| {batch}×{channels}×2^{length.bit_length() - 1} | {t['torch.fft'] * 1e3:.3f} "
                    f"| {t['ndconv'] * 1e3:.3f} | {t['ndconv'] / t['torch.fft']:.2f} | {b['torch.fft'] * 1e3:.3f} "
                    f"| {b['ndconv'] * 1e3:.3f} | {b['ndconv'] / b['torch.fft']:.2f} | {cudnn} "
                    f"| {err['ndconv']:.1e} / {err['torch.fft']:.1e} |")
    return rows


DEPTHWISE = ((8, 1024, 4096), (16, 768, 1024))
DEPTHWISE_TAPS = (4, 7, 16, 31)   # 31: more than the stencil takes depthwise, cuDNN


def depthwise_rows() -> list[str]:
    """One kernel per channel, a few taps (a Mamba/Hyena short convolution), 'full' correlation."""
    rows = []
    for batch, channels, length in DEPTHWISE:
        gen = torch.Generator(device="cuda").manual_seed(channels)
        x = torch.randn(batch, channels, length, device="cuda", generator=gen)
        for taps in DEPTHWISE_TAPS:
            w = torch.randn(channels, 1, taps, device="cuda", generator=gen)
            calls = {
                "cudnn": lambda: F.conv1d(x, w, None, 1, taps - 1, 1, channels),
                "ndconv": lambda: nt.correlate(x, w.reshape(1, channels, taps), axes=-1, method="direct"),
            }
            with torch.no_grad():
                t = {name: _time(call) for name, call in calls.items()}
                b = {name: _stream(call) for name, call in calls.items()}
                ref = F.conv1d(x.double(), w.double(), None, 1, taps - 1, 1, channels)
                err = float((calls["ndconv"]() - ref).abs().max() / ref.abs().max())
            rows.append(f"| {batch}×{channels}×{length} | {taps} | {t['cudnn'] * 1e3:.3f} | {t['ndconv'] * 1e3:.3f} "
                        f"| {t['ndconv'] / t['cudnn']:.2f} | {b['cudnn'] * 1e3:.3f} | {b['ndconv'] * 1e3:.3f} "
                        f"| {b['ndconv'] / b['cudnn']:.2f} | {err:.1e} |")
    return rows


def render() -> str:
    """The markdown section "GPU: ndconv.torch on CUDA" measured on this machine's GPU."""
    with nt.ieee_float32():   # cuDNN held to ndconv.torch's IEEE float32; the caller's setting restored after
        images, long, depthwise = image_rows(), long_rows(), depthwise_rows()
    floor, bandwidth = memory_floor()
    props = torch.cuda.get_device_properties(0)
    lines = [
        "## GPU: ndconv.torch on CUDA",
        "",
        f"Measured {datetime.date.today().isoformat()} on {props.name} ({props.multi_processor_count} SMs, "
        f"{props.total_memory / 2**30:.0f} GiB), torch "
        f"{torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; float32 with "
        "TF32 off for every contender (IEEE arithmetic, as ndconv.torch computes); times in ms, median of "
        f"{REPEAT} calls timed with CUDA events after warm-up (**one call**: each started on an idle device, so the "
        f"host's work before the first kernel counts) and the mean of {STREAM} calls queued one after another "
        "(**back to back**: the host's work hidden behind the device's, except where a call waits for the device — "
        "ndconv's FFT path does, to look for NaN/±∞ in its result). Produced by `python benchmarks/gpu.py` on a GPU "
        "machine (docs/benchmarks.md copies it from benchmarks/gpu_results.md when the page is made without one).",
        "",
        "### Images: ndconv.torch vs cuDNN conv2d",
        "",
        "'same' cross-correlation, zero padding. ratio = ndconv's faster method / cuDNN (below 1: ndconv wins); "
        "error = max|y − y64| / max|y64| of ndconv's direct / fft against float64 cuDNN.",
        "",
        "| images | kernel | one call: cuDNN conv2d | ndconv direct | ndconv fft | ratio "
        "| back to back: cuDNN conv2d | ndconv direct | ndconv fft | ratio | error direct / fft |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *images,
        "",
        f"Memory floor of these rows: reading the images and writing the result (67 MB) at the "
        f"{bandwidth / 1e12:.2f} TB/s a device-to-device copy of them ran here takes {floor * 1e3:.3f} ms. "
        "With one channel in and out, 'ndconv direct' is ndconv's Triton stencil (ndconv/torch/_triton.py), "
        "not cuDNN: cuDNN's IEEE float32 convolution of one channel runs far from that floor.",
        "",
        "### Long causal convolutions (FlashFFTConv's setting)",
        "",
        "Per-channel kernels as long as the sequence. ratio = ndconv / torch.fft; error = max|y − y64| / max|y64| "
        "of ndconv / torch.fft against a float64 FFT.",
        "",
        "| B×H×L | one call: torch.fft conv | ndconv.torch fft | ratio | back to back: torch.fft conv "
        "| ndconv.torch fft | ratio | cuDNN depthwise conv1d | error ndconv / torch.fft |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
        *long,
        "",
        "ndconv's FFT path puts two real rows that share a kernel into one complex transform (cuFFT's real "
        "transforms add a pre- or post-processing pass, and torch copies the input of the inverse one), and "
        "applies the inverse's 1/F to the kernel's spectrum; this pays for its look for NaN/±∞ in the result "
        "(a sum over it and one wait for the device, so that a non-finite value can be kept local by the "
        "direct sum) and the host's own work per call.",
        "",
        "### Short depthwise convolutions (one kernel per channel)",
        "",
        "x of shape (B, C, L), one kernel of K taps per channel, 'full' correlation: cuDNN's depthwise "
        "`conv1d(groups=C)` against `ndconv.torch.correlate(x, k[None], axes=-1)` (per-row kernels: on "
        "ndconv's Triton stencil up to 16 taps and from 2^24 outputs, on cuDNN otherwise). ratio = ndconv / cuDNN; "
        "error = max|y − y64| / max|y64| against float64 cuDNN.",
        "",
        "| B×C×L | K | one call: cuDNN | ndconv | ratio | back to back: cuDNN | ndconv | ratio | error |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *depthwise,
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
