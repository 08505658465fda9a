"""Direct summation for layers with few input channels: kernel rows of three taps, stride 1.

With ``Cin·K`` small (an RGB image's first layer: 3·9 = 27), the im2col GEMM's
inner dimension is too short for BLAS: each block of the output is loaded and
stored once per handful of multiply-adds.  Here the sum runs on the padded input
planes themselves, flattened so that one loop covers every output of a plane::

    acc[o, i·Wp + j] = Σ_c Σ_ki Σ_kj w[o, c, ki, kj] · xf[c, (i + ki)·Wp + j + kj]

with ``Wp`` the padded width: the ``Wp − Wout`` outputs at the end of each row are
computed and dropped, so that the loop over a plane is one long unit-stride loop
(NumPy-style views starting at zero), which LLVM vectorises.  Four output channels
share each load of the input, and the three taps of a kernel row are added in one
pass, so each accumulator is loaded and stored once per three multiply-adds.

The terms are added in the order of the im2col GEMM's inner dimension (channel,
kernel row, kernel column), each as one fused multiply-add, and the bias last; a
NaN or Inf reaches exactly the outputs whose window holds it.

Measured (B64 3→64 32² 3×3 float32, 2 cores, interleaved): 2.7 ms against 3.9 ms
for im2col + GEMM (bit for bit the same result); torch's conv2d took 2.7–3.3 ms on
that machine.
"""

from __future__ import annotations

import numba
import numpy as np

from ..boundary import extend
from ..methods._numba_kernels import run_jobs

#: output channels summed together (they share each load of the input)
CHANNELS = 4
#: layers whose inner dimension Cin·kh·kw is at most this run here (im2col + GEMM above).
#: Measured against im2col + GEMM, 3×3 float32, 2 cores: Cin = 1, 2, 3, 4, 8 took
#: 0.56–0.73 of the time (e.g. B64 8→64 32²: 5.5 against 7.8 ms); Cin = 16 and 32 tied
MAX_INNER = 80


def applies(kernel, stride, dilation, groups: int, in_channels: int, dtype: np.dtype) -> bool:
    """Whether a layer is a 2-D, stride-1, undilated, ungrouped float one with kernel rows of
    three taps and a short inner dimension."""
    return (len(kernel) == 2 and kernel[1] == 3 and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and groups == 1 and in_channels * kernel[0] * kernel[1] <= MAX_INNER
            and np.dtype(dtype) in (np.float32, np.float64))


@numba.njit(cache=True, nogil=True, boundscheck=False, fastmath={"contract"})
def _planes(xf, w, bias, y, wp, lo, hi):  # pragma: no cover - compiled
    # xf (B, C, Hp·Wp + 2): padded planes, rows of wp samples, two spare zeros at the end;
    # w (Co4, C, kh, 3) with Co4 a multiple of 4 (zero rows past Co); y (B, Co, Ho, Wo)
    nc, kh = w.shape[1], w.shape[2]
    co = y.shape[1]
    ho, wo = y.shape[2], y.shape[3]
    n = ho * wp
    acc = np.empty((4, n), y.dtype)
    for b in range(lo, hi):
        for o in range(0, w.shape[0], 4):
            a0 = acc[0]
            a1 = acc[1]
            a2 = acc[2]
            a3 = acc[3]
            for c in range(nc):
                plane = xf[b, c]
                for ki in range(kh):
                    base = ki * wp
                    s0 = plane[base:base + n]
                    s1 = plane[base + 1:base + 1 + n]
                    s2 = plane[base + 2:base + 2 + n]
                    w00 = w[o, c, ki, 0]
                    w01 = w[o, c, ki, 1]
                    w02 = w[o, c, ki, 2]
                    w10 = w[o + 1, c, ki, 0]
                    w11 = w[o + 1, c, ki, 1]
                    w12 = w[o + 1, c, ki, 2]
                    w20 = w[o + 2, c, ki, 0]
                    w21 = w[o + 2, c, ki, 1]
                    w22 = w[o + 2, c, ki, 2]
                    w30 = w[o + 3, c, ki, 0]
                    w31 = w[o + 3, c, ki, 1]
                    w32 = w[o + 3, c, ki, 2]
                    if c == 0 and ki == 0:   # the first tap row starts the sums (no zeroing pass)
                        for j in range(n):
                            u0 = s0[j]
                            u1 = s1[j]
                            u2 = s2[j]
                            a0[j] = w00 * u0 + w01 * u1 + w02 * u2
                            a1[j] = w10 * u0 + w11 * u1 + w12 * u2
                            a2[j] = w20 * u0 + w21 * u1 + w22 * u2
                            a3[j] = w30 * u0 + w31 * u1 + w32 * u2
                        continue
                    for j in range(n):
                        u0 = s0[j]
                        u1 = s1[j]
                        u2 = s2[j]
                        a0[j] = a0[j] + w00 * u0 + w01 * u1 + w02 * u2
                        a1[j] = a1[j] + w10 * u0 + w11 * u1 + w12 * u2
                        a2[j] = a2[j] + w20 * u0 + w21 * u1 + w22 * u2
                        a3[j] = a3[j] + w30 * u0 + w31 * u1 + w32 * u2
            for r in range(min(4, co - o)):
                beta = bias[o + r]
                ar = acc[r]
                for i in range(ho):
                    dst = y[b, o + r, i]
                    row = ar[i * wp:i * wp + wo]
                    for j in range(wo):
                        dst[j] = row[j] + beta


def correlate(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, pad, boundary: str, dtype: np.dtype,
              output: tuple[int, int], parallel: bool) -> np.ndarray:
    """y (B, Cout, *output) = the layer's cross-correlation of x with w, plus b; with
    ``parallel`` the cores share the batch."""
    dtype = np.dtype(dtype)
    batch, channels = x.shape[:2]
    hp, wp = (n + before + after for n, (before, after) in zip(x.shape[2:], pad))
    xf = np.empty((batch, channels, hp * wp + 2), dtype)
    planes = xf[:, :, :hp * wp].reshape(batch, channels, hp, wp)
    if boundary == "constant":
        # zero padding: x cast straight into its place among the zeros (no extended copy)
        (top, bottom), (left, right) = pad
        planes[:, :, :top] = 0
        planes[:, :, hp - bottom:] = 0
        planes[:, :, top:hp - bottom, :left] = 0
        planes[:, :, top:hp - bottom, wp - right:] = 0
        planes[:, :, top:hp - bottom, left:wp - right] = x
    else:
        planes[...] = extend(x.astype(dtype, copy=False), pad, boundary)
    xf[:, :, hp * wp:] = 0
    cout = w.shape[0]
    padded = -(-cout // CHANNELS) * CHANNELS
    wq = np.zeros((padded,) + w.shape[1:], dtype)
    wq[:cout] = w
    beta = np.zeros(cout, dtype) if b is None else b.astype(dtype)
    y = np.empty((batch, cout) + tuple(output), dtype)
    run_jobs(_planes, (xf, wq, beta, y, wp), batch, parallel=parallel)
    return y
