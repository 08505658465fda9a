"""Compiled loops of the direct method (Numba, cached on disk).

One loop form serves every dimension: the output is cut into rows along its
last axis (and rows into blocks of ``BLOCK`` samples, so two cores share even
a single 1-D row); each block accumulates the kernel taps four at a time over
zero-based views of the input, which LLVM vectorises.  ``tap_offsets``,
``row_offsets`` and ``out_offsets`` are flat element offsets into one batch
item of the input and of the output, so the same loop runs 1-D, 2-D and nD
problems, and any box of outputs (an interior or a border strip) can be
written in place.
"""

from __future__ import annotations

import numba
import numpy as np

BLOCK = 2048


_options = dict(cache=True, nogil=True, fastmath={"contract"}, boundscheck=False, error_model="numpy")


def _correlate_rows_py(z, weights, tap_offsets, row_offsets, stride, ncols, out, out_offsets):  # pragma: no cover
    # Offsets are unsigned so that no negative-index wrap-around test sits in the
    # inner loops (it blocks vectorisation), and no array view is created per
    # tap (reference counting would dominate short rows).
    nbatch = z.shape[0]
    nrows = row_offsets.size
    ntaps = weights.size
    nblocks = (ncols + BLOCK - 1) // BLOCK
    step = numba.uint64(stride)
    for job in numba.prange(nbatch * nrows * nblocks):
        b = job // (nrows * nblocks)
        rest = job - b * nrows * nblocks
        r = rest // nblocks
        c0 = (rest - r * nblocks) * BLOCK
        m = numba.uint64(min(ncols, c0 + BLOCK) - c0)
        zb = z[b]
        ob = out[b]
        o = numba.uint64(out_offsets[r] + c0)
        base = numba.uint64(row_offsets[r] + c0 * stride)
        t = 0
        while t + 4 <= ntaps:
            w0 = weights[t]
            w1 = weights[t + 1]
            w2 = weights[t + 2]
            w3 = weights[t + 3]
            i0 = base + numba.uint64(tap_offsets[t])
            i1 = base + numba.uint64(tap_offsets[t + 1])
            i2 = base + numba.uint64(tap_offsets[t + 2])
            i3 = base + numba.uint64(tap_offsets[t + 3])
            if stride == 1:
                if t == 0:
                    for i in range(m):
                        ob[o + i] = w0 * zb[i0 + i] + w1 * zb[i1 + i] + w2 * zb[i2 + i] + w3 * zb[i3 + i]
                else:
                    for i in range(m):
                        ob[o + i] += w0 * zb[i0 + i] + w1 * zb[i1 + i] + w2 * zb[i2 + i] + w3 * zb[i3 + i]
            else:
                if t == 0:
                    for i in range(m):
                        j = i * step
                        ob[o + i] = w0 * zb[i0 + j] + w1 * zb[i1 + j] + w2 * zb[i2 + j] + w3 * zb[i3 + j]
                else:
                    for i in range(m):
                        j = i * step
                        ob[o + i] += w0 * zb[i0 + j] + w1 * zb[i1 + j] + w2 * zb[i2 + j] + w3 * zb[i3 + j]
            t += 4
        while t < ntaps:
            w0 = weights[t]
            i0 = base + numba.uint64(tap_offsets[t])
            if stride == 1:
                if t == 0:
                    for i in range(m):
                        ob[o + i] = w0 * zb[i0 + i]
                else:
                    for i in range(m):
                        ob[o + i] += w0 * zb[i0 + i]
            else:
                if t == 0:
                    for i in range(m):
                        ob[o + i] = w0 * zb[i0 + i * step]
                else:
                    for i in range(m):
                        ob[o + i] += w0 * zb[i0 + i * step]
            t += 1


correlate_rows_parallel = numba.njit(parallel=True, **_options)(_correlate_rows_py)
correlate_rows_serial = numba.njit(parallel=False, **_options)(_correlate_rows_py)


def correlate_rows(z: np.ndarray, weights: np.ndarray, tap_offsets: np.ndarray, row_offsets: np.ndarray,
                   stride: int, ncols: int, out: np.ndarray, out_offsets: np.ndarray) -> None:
    """``out[b, out_offsets[r] + i] = Σ_t w[t] · z[b, row_offsets[r] + i·stride + tap_offsets[t]]``.

    ``z`` and ``out`` are 2-D (batch, flat item), ``i = 0 … ncols−1``.
    """
    work = z.shape[0] * row_offsets.size * ncols * max(1, weights.size)
    jobs = z.shape[0] * row_offsets.size * ((ncols + BLOCK - 1) // BLOCK)
    kernel = correlate_rows_parallel if work >= 200_000 and jobs > 1 else correlate_rows_serial
    kernel(z, weights, tap_offsets, row_offsets, stride, ncols, out, out_offsets)
