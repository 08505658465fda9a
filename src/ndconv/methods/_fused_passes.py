"""A rank-1 2-D kernel's two passes fused row by row (the ``separable`` method's own loops).

For ``h = u ⊗ v`` (convolution form) and stride 1, output ``(i, j)`` of a 2-D image is

    y[i, j] = Σ_b v'[b] · t_i[j + b·d1],    t_i[p] = Σ_a u'[a] · x̃[r0 + i + a·d0, c0 + p]

with ``u' = u[::-1]``, ``v' = v[::-1]`` (correlation form), ``r0``/``c0`` the first
extended row/column any output reads (:attr:`AxisGeometry.first_needed`) and ``x̃`` the
extended image.  Each output row's column sum ``t_i`` is formed in a row buffer that
stays in the core's cache, its border extended there, and the row sum written
straight into the result.  So the image is read in place and the result written once:
no padded copy and no intermediate image, where two separate passes (or OpenCV's
``sepFilter2D``) stream an intermediate image through memory.

The boundary enters only through two index maps.  Rows: ``rows[q]`` is the row of
``x`` that ``x̃[r0 + q]`` copies, or −1 for a zero row (``boundary='constant'``,
skipped); columns: the buffer holds ``t_i`` at every column of ``x`` the window reads
directly, and each border position copies the column ``cols[p]`` names (or is zero).
That needs every border column to name a column the window reads directly, which
holds for the centred windows of every mode and rule; where it does not (a far-
shifted origin under ``'wrap'``), :func:`layout` returns None and the separate
passes run instead.

Measured against ``cv2.sepFilter2D`` on 2048² float32 (2 cores, interleaved, paired
medians): 5 taps 0.49–0.55, 11 taps 0.68–0.85, 31 taps 0.60–0.95 (0.81–0.95 for a
symmetric kernel, which OpenCV's column filter folds), 63 taps 0.72–0.75.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numba
import numpy as np

from .._memory import empty_apart
from .._shapes import AxisGeometry
from ..boundary import extension_index
from ._numba_kernels import _options, run_jobs
from ._taps import PARALLEL_WORK

#: per-axis taps up to which float32 sums stay in float32 (direct.FLOAT32_ACC_TAPS)
MAX_TAPS = 150


class Layout(NamedTuple):
    """The index maps and the directly read column span of one geometry and rule."""

    rows: np.ndarray   # int64, count0 + (K0−1)·d0 source rows (−1: a zero row)
    cols: np.ndarray   # int64, count1 + (K1−1)·d1 source columns (−1: a zero column)
    offset: int        # column of x read at buffer position 0 (may be negative)
    lo: int            # buffer positions lo … hi−1 read x's columns lo+offset … directly
    hi: int


def _index_map(g: AxisGeometry, boundary: str) -> np.ndarray:
    length = g.count + (g.k - 1) * g.dilation
    first = g.first_needed
    index, inside = extension_index(g.n, first, first + length - 1, boundary)
    return np.where(inside, index, -1).astype(np.int64)


@lru_cache(maxsize=64)
def _layout(rows_g: AxisGeometry, cols_g: AxisGeometry, boundary: str) -> Layout | None:
    rows = _index_map(rows_g, boundary)
    cols = _index_map(cols_g, boundary)
    offset = cols_g.first_needed
    lo = max(0, -offset)
    hi = min(cols.size, cols_g.n - offset)
    if hi <= lo:
        return None
    border = np.concatenate([cols[:lo], cols[hi:]])
    named = border[border >= 0] - offset
    if named.size and (named.min() < lo or named.max() >= hi):
        return None
    for a in (rows, cols):
        a.setflags(write=False)
    return Layout(rows, cols, offset, lo, hi)


def layout(spec) -> Layout | None:
    """The fused loops' layout for ``spec``, or None where they do not apply:
    two float32/float64 axes, stride 1, at most :data:`MAX_TAPS` taps per axis, a
    zero fill for ``'constant'``, and border columns the window reads directly."""
    if spec.ndim != 2 or spec.compute_dtype not in (np.float32, np.float64):
        return None
    if spec.boundary == "constant" and spec.fill_value != 0:
        return None
    rows_g, cols_g = spec.geometry
    if any(g.stride != 1 or g.k > MAX_TAPS or g.count == 0 for g in spec.geometry):
        return None
    if max(g.count + (g.k - 1) * g.dilation for g in spec.geometry) >= 2**31:
        return None
    return _layout(rows_g, cols_g, spec.boundary)


def run(spec, lay: Layout, terms) -> np.ndarray:
    """``Σ_r (u_r ⊗ v_r) * x`` for the rank terms ``[(u_r, v_r), …]`` (convolution form)."""
    dtype = spec.compute_dtype
    n0, n1 = spec.x.shape[-2:]
    rows_g, cols_g = spec.geometry
    x3 = np.ascontiguousarray(spec.x, dtype=dtype).reshape(-1, n0, n1)
    out = empty_apart((x3.shape[0], rows_g.count, cols_g.count), dtype, x3)
    jobs = out.shape[0] * ((rows_g.count + 1) // 2)   # pairs of output rows
    work = out.size * (rows_g.k + cols_g.k)
    for r, (u, v) in enumerate(terms):
        uc = np.ascontiguousarray(np.asarray(u)[::-1], dtype=dtype)
        vc = np.ascontiguousarray(np.asarray(v)[::-1], dtype=dtype)
        args = (x3, lay.rows, lay.cols, uc, vc, rows_g.dilation, cols_g.dilation,
                lay.offset, lay.lo, lay.hi, out, r > 0)
        run_jobs(_fused_rows, args, jobs, parallel=work >= PARALLEL_WORK)
    return out.reshape(spec.output_shape)


def units(spec) -> float:
    """Output × tap products of one rank term (the cost model's work)."""
    return math.prod(spec.output_shape) * sum(spec.kernel_shape)


# ---------------------------------------------------------------- compiled loops

@numba.njit(**_options)
def _weighted_sum(src, bases, weights, n, dst, d0, add):  # pragma: no cover - compiled
    """``dst[d0 + j] (=|+=) Σ_t weights[t] · src[bases[t] + j]`` for j < n, taps in
    order, in passes of 8, 4, 2 and 1 taps (a pass is one vectorised sweep)."""
    ntaps = bases.size
    m = numba.uint64(n)
    o = numba.uint64(d0)
    t = 0
    first = not add
    while t < ntaps:
        left = ntaps - t
        if left >= 8:
            w0 = weights[t]
            w1 = weights[t + 1]
            w2 = weights[t + 2]
            w3 = weights[t + 3]
            w4 = weights[t + 4]
            w5 = weights[t + 5]
            w6 = weights[t + 6]
            w7 = weights[t + 7]
            i0 = numba.uint64(bases[t])
            i1 = numba.uint64(bases[t + 1])
            i2 = numba.uint64(bases[t + 2])
            i3 = numba.uint64(bases[t + 3])
            i4 = numba.uint64(bases[t + 4])
            i5 = numba.uint64(bases[t + 5])
            i6 = numba.uint64(bases[t + 6])
            i7 = numba.uint64(bases[t + 7])
            if first:
                for j in range(m):
                    dst[o + j] = (w0 * src[i0 + j] + w1 * src[i1 + j] + w2 * src[i2 + j] + w3 * src[i3 + j]
                                  + w4 * src[i4 + j] + w5 * src[i5 + j] + w6 * src[i6 + j] + w7 * src[i7 + j])
            else:
                for j in range(m):
                    dst[o + j] += (w0 * src[i0 + j] + w1 * src[i1 + j] + w2 * src[i2 + j] + w3 * src[i3 + j]
                                   + w4 * src[i4 + j] + w5 * src[i5 + j] + w6 * src[i6 + j] + w7 * src[i7 + j])
            t += 8
        elif left >= 4:
            w0 = weights[t]
            w1 = weights[t + 1]
            w2 = weights[t + 2]
            w3 = weights[t + 3]
            i0 = numba.uint64(bases[t])
            i1 = numba.uint64(bases[t + 1])
            i2 = numba.uint64(bases[t + 2])
            i3 = numba.uint64(bases[t + 3])
            if first:
                for j in range(m):
                    dst[o + j] = w0 * src[i0 + j] + w1 * src[i1 + j] + w2 * src[i2 + j] + w3 * src[i3 + j]
            else:
                for j in range(m):
                    dst[o + j] += w0 * src[i0 + j] + w1 * src[i1 + j] + w2 * src[i2 + j] + w3 * src[i3 + j]
            t += 4
        elif left >= 2:
            w0 = weights[t]
            w1 = weights[t + 1]
            i0 = numba.uint64(bases[t])
            i1 = numba.uint64(bases[t + 1])
            if first:
                for j in range(m):
                    dst[o + j] = w0 * src[i0 + j] + w1 * src[i1 + j]
            else:
                for j in range(m):
                    dst[o + j] += w0 * src[i0 + j] + w1 * src[i1 + j]
            t += 2
        else:
            w0 = weights[t]
            i0 = numba.uint64(bases[t])
            if first:
                for j in range(m):
                    dst[o + j] = w0 * src[i0 + j]
            else:
                for j in range(m):
                    dst[o + j] += w0 * src[i0 + j]
            t += 1
        first = False
    if first:   # no taps (every row a zero row) and nothing to add to
        for j in range(m):
            dst[o + j] = 0


@numba.njit(**_options)
def _shared_sum(src, bases, wa, wb, n, da, db, d0):  # pragma: no cover - compiled
    """``da[d0 + j] += Σ_t wa[t] · src[bases[t] + j]`` and ``db[d0 + j] = Σ_t wb[t] · src[bases[t] + j]``
    in one sweep per 4 taps: two output rows from one read of the rows they share."""
    ntaps = bases.size
    m = numba.uint64(n)
    o = numba.uint64(d0)
    t = 0
    first = True
    while t < ntaps:
        if ntaps - t >= 4:
            a0 = wa[t]
            a1 = wa[t + 1]
            a2 = wa[t + 2]
            a3 = wa[t + 3]
            b0 = wb[t]
            b1 = wb[t + 1]
            b2 = wb[t + 2]
            b3 = wb[t + 3]
            i0 = numba.uint64(bases[t])
            i1 = numba.uint64(bases[t + 1])
            i2 = numba.uint64(bases[t + 2])
            i3 = numba.uint64(bases[t + 3])
            if first:
                for j in range(m):
                    x0 = src[i0 + j]
                    x1 = src[i1 + j]
                    x2 = src[i2 + j]
                    x3 = src[i3 + j]
                    da[o + j] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                    db[o + j] = b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3
            else:
                for j in range(m):
                    x0 = src[i0 + j]
                    x1 = src[i1 + j]
                    x2 = src[i2 + j]
                    x3 = src[i3 + j]
                    da[o + j] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                    db[o + j] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3
            t += 4
        else:
            a0 = wa[t]
            b0 = wb[t]
            i0 = numba.uint64(bases[t])
            if first:
                for j in range(m):
                    x0 = src[i0 + j]
                    da[o + j] += a0 * x0
                    db[o + j] = b0 * x0
            else:
                for j in range(m):
                    x0 = src[i0 + j]
                    da[o + j] += a0 * x0
                    db[o + j] += b0 * x0
            t += 1
        first = False


@numba.njit(**_options)
def _finish_row(line, cols, offset, lo, hi, v, col_bases, of, o, count1, add):  # pragma: no cover - compiled
    """Copy the border columns into the row buffer, then the row sum into ``of[o …]``."""
    for p in range(lo):
        c = cols[p]
        line[p] = line[c - offset] if c >= 0 else 0
    for p in range(hi, cols.size):
        c = cols[p]
        line[p] = line[c - offset] if c >= 0 else 0
    _weighted_sum(line, col_bases, v, count1, of, o, add)


@numba.njit(**_options)
def _fused_rows(x3, rows, cols, u, v, d0, d1, offset, lo, hi, out3, add, job_lo, job_hi):  # pragma: no cover
    """Output rows ``2q`` and ``2q + 1`` for the jobs ``image · ⌈count0/2⌉ + q`` in ``job_lo … job_hi−1``
    (one rank term).

    A pair whose ``K0 + 1`` rows all lie in x (dilation 1) shares their reads: the first
    row's first tap, both rows' shared taps in one sweep, the second row's last tap.
    Other rows sum their own taps that lie in x.  Either way each row's sum depends
    on its index only, never on how the jobs are split.
    """
    n0 = x3.shape[1]
    n1 = x3.shape[2]
    count0 = out3.shape[1]
    count1 = out3.shape[2]
    pairs = (count0 + 1) // 2
    k0 = u.size
    k1 = v.size
    xf = x3.ravel()
    of = out3.ravel()
    line = np.empty(cols.size, x3.dtype)
    line2 = np.empty(cols.size, x3.dtype)
    row_bases = np.empty(k0 + 1, np.int64)
    row_weights = np.empty(k0, x3.dtype)
    col_bases = np.empty(k1, np.int64)
    for b in range(k1):
        col_bases[b] = b * d1
    width = hi - lo
    for job in range(job_lo, job_hi):
        image = job // pairs
        first_row = 2 * (job - image * pairs)
        start = image * n0 * n1 + offset + lo
        out_row = image * count0 + first_row
        shared = d0 == 1 and first_row + 1 < count0
        if shared:
            for a in range(k0 + 1):
                r = rows[first_row + a]
                if r < 0:
                    shared = False
                    break
                row_bases[a] = start + r * n1
        if shared:
            _weighted_sum(xf, row_bases[:1], u[:1], width, line, lo, False)
            _shared_sum(xf, row_bases[1:k0], u[1:], u[:k0 - 1], width, line, line2, lo)
            _weighted_sum(xf, row_bases[k0:], u[k0 - 1:], width, line2, lo, True)
            _finish_row(line, cols, offset, lo, hi, v, col_bases, of, out_row * count1, count1, add)
            _finish_row(line2, cols, offset, lo, hi, v, col_bases, of, (out_row + 1) * count1, count1, add)
            continue
        for i in range(first_row, min(first_row + 2, count0)):
            n = 0
            for a in range(k0):
                r = rows[i + a * d0]
                if r >= 0:
                    row_bases[n] = start + r * n1
                    row_weights[n] = u[a]
                    n += 1
            _weighted_sum(xf, row_bases[:n], row_weights[:n], width, line, lo, False)
            _finish_row(line, cols, offset, lo, hi, v, col_bases, of, (image * count0 + i) * count1, count1, add)
