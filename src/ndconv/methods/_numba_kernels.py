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


@numba.njit(inline="always", **_options)
def _taps4(acc, z0, z1, z2, z3, w0, w1, w2, w3, first):  # pragma: no cover - compiled
    if first:
        for i in range(acc.size):
            acc[i] = w0 * z0[i] + w1 * z1[i] + w2 * z2[i] + w3 * z3[i]
    else:
        for i in range(acc.size):
            acc[i] += w0 * z0[i] + w1 * z1[i] + w2 * z2[i] + w3 * z3[i]


@numba.njit(inline="always", **_options)
def _taps1(acc, z0, w0, first):  # pragma: no cover - compiled
    if first:
        for i in range(acc.size):
            acc[i] = w0 * z0[i]
    else:
        for i in range(acc.size):
            acc[i] += w0 * z0[i]


def _correlate_rows_py(z, weights, tap_offsets, row_offsets, stride, ncols, out, out_offsets):  # pragma: no cover
    nbatch = z.shape[0]
    nrows = row_offsets.size
    ntaps = weights.size
    nblocks = (ncols + BLOCK - 1) // BLOCK
    for job in numba.prange(nbatch * nrows * nblocks):
        b = job // (nrows * nblocks)
        rest = job - b * nrows * nblocks
        r = rest // nblocks
        c0 = (rest - r * nblocks) * BLOCK
        m = min(ncols, c0 + BLOCK) - c0
        zb = z[b]
        acc = out[b, out_offsets[r] + c0:out_offsets[r] + c0 + m]
        base = row_offsets[r] + c0 * stride
        span = (m - 1) * stride + 1
        t = 0
        while t + 4 <= ntaps:
            o0 = base + tap_offsets[t]
            o1 = base + tap_offsets[t + 1]
            o2 = base + tap_offsets[t + 2]
            o3 = base + tap_offsets[t + 3]
            if stride == 1:  # contiguous views: the loop vectorises
                _taps4(acc, zb[o0:o0 + m], zb[o1:o1 + m], zb[o2:o2 + m], zb[o3:o3 + m],
                       weights[t], weights[t + 1], weights[t + 2], weights[t + 3], t == 0)
            else:
                _taps4(acc, zb[o0:o0 + span:stride], zb[o1:o1 + span:stride], zb[o2:o2 + span:stride],
                       zb[o3:o3 + span:stride], weights[t], weights[t + 1], weights[t + 2], weights[t + 3],
                       t == 0)
            t += 4
        while t < ntaps:
            o0 = base + tap_offsets[t]
            if stride == 1:
                _taps1(acc, zb[o0:o0 + m], weights[t], t == 0)
            else:
                _taps1(acc, zb[o0:o0 + span:stride], weights[t], t == 0)
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
