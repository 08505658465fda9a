"""The 'full' correlation of a strided operator's adjoint, by phases of the output.

``ConvOperator._adjoint`` with a stride ``s`` correlates the zero-upsampled ``u``
(``u[s·i] = y[i]``, zeros between) with the kernel, 'full', and folds the result back
onto x by the boundary rule.  Of the taps that meet a sample of that correlation,
only those landing on the stride grid read anything but a zero: along one axis, the
output ``m = s·q + p`` (phase ``p``) is

    z[s·q + p] = Σ_{j: (p + d·j − (K−1)) ≡ 0 (mod s)} g[j] · y[q + e_j],
    e_j = (p + d·j − (K−1)) / s,                    K = d·(k−1) + 1,

a correlation of ``y`` itself with the taps of that phase, read with unit steps.
This module sums exactly those terms (zero-boundary ``y``: taps outside it are not
summed) and writes ``z`` once, instead of building ``u`` (a 2048² float32 image at
stride 2: 1 ms) and summing every tap over it, three of four of them on zeros
(1.6 ms).  1-D and 2-D real float problems with a finite kernel (where a tap is ±∞
or NaN, ``0·∞`` makes the upsampled sum NaN where this one is not; those keep it).
A float32 kernel of more than 150 taps is summed in float64, as the direct loops do.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from .methods import _numba_kernels
from .methods._taps import shares_cores
from .methods.direct import accumulator_dtype


class _Phases(NamedTuple):
    """One axis: its taps sorted by phase (``taps[ptr[p]:ptr[p + 1]]``), each tap's
    offset into ``y`` (``offsets[j]``), the outputs of each phase (``counts``) and all."""

    taps: np.ndarray
    ptr: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    size: int


def _phases(ny: int, k: int, stride: int, dilation: int) -> _Phases:
    span = dilation * (k - 1) + 1
    size = (ny - 1) * stride + 1 + span - 1            # the 'full' correlation of u
    j = np.arange(k)
    phase = (span - 1 - dilation * j) % stride
    order = np.argsort(phase, kind="stable")
    ptr = np.searchsorted(phase[order], np.arange(stride + 1))
    offsets = (phase + dilation * j - (span - 1)) // stride
    counts = (size - np.arange(stride) + stride - 1) // stride
    return _Phases(order.astype(np.intp), ptr.astype(np.intp), offsets.astype(np.intp),
                   counts.astype(np.intp), size)


class StridedFull:
    """``correlate(upsample(y), g, mode='full', dilation=d)`` for one geometry and kernel."""

    def __init__(self, geometry, kernel: np.ndarray) -> None:
        if kernel.ndim == 1:
            kernel = kernel.reshape(1, -1)
            geometry = (None,) + tuple(geometry)
        self.ndim = len(geometry) - (geometry[0] is None)
        # summed in the direct loops' accumulator: float64 for float32 kernels of many taps
        self.kernel = np.ascontiguousarray(kernel, dtype=accumulator_dtype(kernel.dtype, kernel.size))
        self.axes = tuple(_phases(1, 1, 1, 1) if g is None else _phases(g.count, k, g.stride, g.dilation)
                          for g, k in zip(geometry, self.kernel.shape))
        self.strides = tuple(1 if g is None else g.stride for g in geometry)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        """z for ``y`` of shape (batch..., *counts), the kernel's dtype."""
        y = np.ascontiguousarray(y)
        lead = y.shape[:y.ndim - self.ndim]
        flat = y.reshape((-1, 1 if self.ndim == 1 else y.shape[-2], y.shape[-1]))
        rows, cols = self.axes
        out = np.empty((flat.shape[0], rows.size, cols.size), dtype=y.dtype)
        jobs = flat.shape[0] * rows.size
        work = out.size * self.kernel.size // (self.strides[0] * self.strides[1])
        _numba_kernels.run_jobs(_phase_rows, (flat, self.kernel, self.strides[0], self.strides[1], rows.taps,
                                              rows.ptr, rows.offsets, cols.taps, cols.ptr, cols.offsets,
                                              cols.counts, out), jobs, parallel=shares_cores(work, out.dtype))
        return out.reshape(lead + out.shape[1 + (self.ndim == 1):])


def plan(geometry, kernel: np.ndarray) -> StridedFull | None:
    """The phase loops for this geometry, or None where the upsampled path stays (no
    stride, 3-D and up, a batched, complex or non-float kernel, a tap not finite)."""
    if len(geometry) not in (1, 2) or kernel.ndim != len(geometry) or kernel.dtype.kind != "f":
        return None
    if all(g.stride == 1 for g in geometry) or not np.isfinite(kernel).all():
        return None
    return StridedFull(geometry, kernel)


@numba.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _phase_rows(y, g, s0, s1, taps0, ptr0, off0, taps1, ptr1, off1, counts1, out,
                job_lo, job_hi):  # pragma: no cover - compiled
    """Rows ``job`` (batch item × output row) of ``out``: for each column phase, its
    outputs summed in a row buffer with unit steps, then written on the stride grid.
    Plain loops over flat offsets (no views): they vectorise and compile quickly."""
    nb, n0, n1 = y.shape
    rows = out.shape[1]
    width = out.shape[2]
    buf = np.empty(counts1.max(), dtype=g.dtype)     # the accumulator's dtype
    flat_y = y.ravel()
    flat_out = out.ravel()
    for job in range(job_lo, job_hi):
        b = job // rows
        m0 = job - b * rows
        p0 = m0 % s0
        q0 = m0 // s0
        dst = (b * rows + m0) * width
        for p1 in range(s1):
            count = counts1[p1]
            for q in range(count):
                buf[q] = 0
            for a0 in range(ptr0[p0], ptr0[p0 + 1]):
                j0 = taps0[a0]
                i0 = q0 + off0[j0]
                if i0 < 0 or i0 >= n0:
                    continue
                row = (b * n0 + i0) * n1
                for a1 in range(ptr1[p1], ptr1[p1 + 1]):
                    j1 = taps1[a1]
                    shift = off1[j1]
                    lo = max(0, -shift)
                    hi = min(count, n1 - shift)
                    w = g[j0, j1]
                    src = numba.uint64(row + shift + lo)
                    at = numba.uint64(lo)
                    for q in range(numba.uint64(max(hi - lo, 0))):
                        buf[at + q] += w * flat_y[src + q]
            at = numba.uint64(dst + p1)
            step = numba.uint64(s1)
            for q in range(numba.uint64(count)):
                flat_out[at + step * q] = buf[q]
