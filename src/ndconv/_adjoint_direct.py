"""The adjoint of a 1-D or 2-D 'same' convolution with a reflecting or edge boundary, summed in place.

``ConvOperator._adjoint`` otherwise correlates ``y`` 'full' and folds the border of
that (n+K−1)² result back onto x (:func:`ndconv.boundary.fold`).  The fold visits
the border columns of every row after the whole image has left the cache: for a
2048² float32 image and a 5×5 kernel the correlation took 1.06 of the forward's
time and the fold another 0.08 (0.21 ms, strided).

Here the adjoint is written the way the direct loops write the forward: an
interior box where ``x̄[i] = Σ_j conj(h[j]) · y[i − start + d·j]`` (every tap inside
``y`` and no extended sample folding onto ``i``) is read from ``y`` in place by the
row loops on every core, and the thin border around it is summed from the
definition by :func:`_border_rows` / :func:`_border_cols` on the calling thread
while the other cores start on the interior (``_numba_kernels.Overlap``).  On each
axis the border sample ``x̄[i]`` adds the correlation at every ``m`` of the extended
input whose source is ``i`` (``extension_index``), so the result is the same sum
as fold ∘ full correlation, term for term up to the order of the additions.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ._memory import empty_apart
from .boundary import extension_index
from .methods import _numba_kernels, _taps
from .methods.direct import accumulator_dtype

#: boundary rules this path serves (zero and periodic adjoints are one 'same' call already)
BOUNDARIES = ("reflect", "symmetric", "edge")


class _Axis(NamedTuple):
    """One axis of the adjoint: its interior ``[lo, hi)`` and, for every i, the
    positions m of x̃ whose source is i (``ms[ptr[i]:ptr[i + 1]]``)."""

    lo: int
    hi: int
    ptr: np.ndarray
    ms: np.ndarray
    start: int
    dilation: int


def _axis(n: int, kd: int, start: int, dilation: int, boundary: str) -> _Axis | None:
    first, last = start - (kd - 1), start + n - 1            # x̃ read by the forward ('same' window)
    source = extension_index(n, first, last, boundary)[0]
    m = np.arange(first, last + 1)
    order = np.argsort(source, kind="stable")
    ptr = np.searchsorted(source[order], np.arange(n + 1))
    single = (np.diff(ptr) == 1) & (np.arange(n) >= start) & (np.arange(n) <= n - kd + start)
    lo = int(np.argmax(single)) if single.any() else 0
    hi = lo + (int(np.argmin(single[lo:])) if not single[lo:].all() else n - lo)
    if hi - lo < 1:
        return None
    return _Axis(lo, hi, ptr.astype(np.intp), m[order].astype(np.intp), start, dilation)


class _ColumnTerms(NamedTuple):
    """The border columns' terms (see :func:`_column_terms`); ``span`` is the width of the
    strip of y each column reads, the rest are the loop's arguments in this order."""

    weights: np.ndarray
    rows: np.ndarray
    columns: np.ndarray
    count: np.ndarray
    firsts: np.ndarray
    span: int

    def loop_arguments(self) -> tuple[np.ndarray, ...]:
        return self.weights, self.rows, self.columns, self.count, self.firsts


def _column_terms(c: np.ndarray, cols: _Axis, edge: np.ndarray, n1: int, d0: int) -> _ColumnTerms:
    """Per border column i1, its terms ``c[j0, j1] · y[i0 − s0 + d0·j0, m − start + d1·j1]``
    over every m of x̃ whose source is i1 and every tap reading inside y: the weight, the
    row offset ``d0·j0`` and the column ``u`` in a strip of ``y`` starting at ``firsts``.

    One term per tap, never merged: (c1 + c2)·∞ and c1·∞ + c2·∞ differ when c1 and c2
    differ in sign, and the fold path (and the definition) add the taps one by one.
    Returns the weights, row offsets, columns (padded with zero-weight terms that read
    nothing: ``count`` says how many are real), ``count``, ``firsts`` and the strip width."""
    k0, k1 = c.shape
    per_column = []
    for i1 in edge:
        ms = cols.ms[cols.ptr[i1]:cols.ptr[i1 + 1]]
        yc = (ms[:, None] - cols.start + cols.dilation * np.arange(k1)[None, :]).ravel()
        taps = np.tile(np.arange(k1), ms.size)
        keep = (yc >= 0) & (yc < n1)
        per_column.append((yc[keep], taps[keep]))
    span = max([int(yc.max() - yc.min()) + 1 for yc, _ in per_column if yc.size] + [1])
    width = max([yc.size for yc, _ in per_column] + [1]) * k0
    weights = np.zeros((edge.size, width), dtype=c.dtype)
    rows = np.zeros((edge.size, width), dtype=np.intp)
    columns = np.zeros((edge.size, width), dtype=np.intp)
    count = np.zeros(edge.size, dtype=np.intp)
    firsts = np.zeros(edge.size, dtype=np.intp)
    for t, (yc, taps) in enumerate(per_column):
        if not yc.size:
            continue
        firsts[t] = first = min(int(yc.min()), n1 - span)
        j0 = np.repeat(np.arange(k0), yc.size)
        n = j0.size
        count[t] = n
        weights[t, :n] = c[j0, np.tile(taps, k0)]
        rows[t, :n] = d0 * j0
        columns[t, :n] = np.tile(yc - first, k0)
    return _ColumnTerms(weights, rows, columns, count, firsts, span)


class AdjointLoops:
    """The adjoint of one operator's geometry, built once (see the module's docstring)."""

    def __init__(self, rows: _Axis, cols: _Axis, kernel: np.ndarray, shape: tuple[int, int]) -> None:
        self.rows, self.cols, self.shape = rows, cols, shape
        self.dtype = kernel.dtype
        self.acc = accumulator_dtype(kernel.dtype, kernel.size)
        self.weights = np.ascontiguousarray(np.conj(kernel), dtype=self.acc)
        n1 = shape[1]
        self.taps = _taps.tap_offsets(kernel.shape, (rows.dilation, cols.dilation), shape)
        r = np.arange(rows.lo, rows.hi, dtype=np.intp)
        self.row_offsets = (r - rows.start) * n1 + (cols.lo - cols.start)
        self.out_offsets = r * n1 + cols.lo
        self.edge_rows = np.r_[0:rows.lo, rows.hi:shape[0]].astype(np.intp)
        self.edge_cols = np.r_[0:cols.lo, cols.hi:n1].astype(np.intp)
        self.col_terms = _column_terms(self.weights, cols, self.edge_cols, n1, rows.dilation)
        self.overlap = [0.0]   # the border's time over the interior's, as last measured

    def __call__(self, y: np.ndarray) -> np.ndarray:
        """x̄ for ``y`` of shape (batch..., n0, n1) (1-D: (batch..., n1), as many items as
        planned) and the kernel's dtype, C-contiguous or not."""
        y = np.ascontiguousarray(y)
        shape = y.shape
        flat_y = y.reshape((-1,) + self.shape)
        out = empty_apart(flat_y.shape, self.acc, flat_y)   # the loops read y in place
        rows, cols = self.rows, self.cols
        flat_w = self.weights.ravel()

        def border() -> None:
            acc_row = np.empty(self.shape[1], dtype=self.acc)
            acc_col = np.empty(BLOCK, dtype=self.acc)
            reach = rows.dilation * (self.weights.shape[0] - 1)
            strip = np.empty(self.col_terms.span * (BLOCK + reach), dtype=self.acc)
            for b in range(flat_y.shape[0]):
                _border_rows(flat_y[b], self.weights, out[b], self.edge_rows, cols.lo, cols.hi, self.edge_cols,
                             rows.ptr, rows.ms, cols.ptr, cols.ms, rows.start, cols.start, rows.dilation,
                             cols.dilation, acc_row)
                _border_cols(flat_y[b], out[b], rows.lo, rows.hi, self.edge_cols, *self.col_terms.loop_arguments(),
                             rows.start, reach, strip, acc_col)

        first = _numba_kernels.Overlap(border, self.overlap[0])
        _numba_kernels.correlate_rows(flat_y.reshape(flat_y.shape[0], -1), flat_w, self.taps, self.row_offsets, 1,
                                      cols.hi - cols.lo, out.reshape(out.shape[0], -1), self.out_offsets, first=first)
        self.overlap[0] = first.ratio
        return out.reshape(shape).astype(self.dtype, copy=False)


def plan(geometry, kernel: np.ndarray, boundary: str, batch: int = 1) -> AdjointLoops | None:
    """The loops for this geometry and kernel (in convolution form, 1-D or 2-D, real
    float), or None where this path does not apply (another rule, a stride, a window
    other than 'same', or no interior).  A 1-D problem with ``batch`` items runs as one
    image of ``batch`` rows and a kernel one row high (nothing couples its rows)."""
    if boundary not in BOUNDARIES or len(geometry) not in (1, 2) or kernel.ndim != len(geometry) \
            or kernel.dtype.kind != "f":
        return None
    if not all(g.stride == 1 and g.count == g.n for g in geometry):
        return None
    axes = [_axis(g.n, g.kd, g.start, g.dilation, boundary) for g in geometry]
    if None in axes:
        return None
    if len(axes) == 1:
        return AdjointLoops(_axis(batch, 1, 0, 1, boundary), axes[0], np.ascontiguousarray(kernel).reshape(1, -1),
                            (batch, geometry[0].n))
    return AdjointLoops(axes[0], axes[1], np.ascontiguousarray(kernel), (geometry[0].n, geometry[1].n))


#: rows of the border columns gathered and summed at a time (:func:`_border_cols`)
BLOCK = 64


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _border_rows(y, c, out, rows, lo1, hi1, cols, ptr0, ms0, ptr1, ms1, s0, s1, d0, d1,
                 acc):  # pragma: no cover - compiled
    """``out[i0, :]`` for each i0 in ``rows``: the interior columns [lo1, hi1) as one
    correlation per row of ``y`` read, the border columns ``cols`` from their sources.

    Flat unsigned offsets in the loop over a row: it carries no negative-index check and
    vectorises.  Written with plain loops and no array slicing, it compiles in about 0.8 s
    where a form with row views and slice assignments took 2.4 s (a fresh cache's first
    ``op.H``)."""
    n0, n1 = y.shape
    k0, k1 = c.shape
    flat = y.ravel()
    m = numba.uint64(hi1 - lo1)
    dst = numba.uint64(lo1)
    for r in range(rows.size):
        i0 = rows[r]
        for i in range(n1):
            acc[i] = 0
        for p in range(ptr0[i0], ptr0[i0 + 1]):
            m0 = ms0[p]
            for j0 in range(k0):
                yr = m0 - s0 + d0 * j0
                if yr < 0 or yr >= n0:
                    continue
                for j1 in range(k1):
                    w = c[j0, j1]
                    src = numba.uint64(yr * n1 + lo1 + d1 * j1 - s1)
                    for i in range(m):
                        acc[dst + i] += w * flat[src + i]
                for t in range(cols.size):
                    i1 = cols[t]
                    for q in range(ptr1[i1], ptr1[i1 + 1]):
                        m1 = ms1[q]
                        for j1 in range(k1):
                            yc = m1 - s1 + d1 * j1
                            if 0 <= yc < n1:
                                acc[i1] += c[j0, j1] * y[yr, yc]
        for i in range(n1):
            out[i0, i] = acc[i]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _border_cols(y, out, lo0, hi0, cols, weights, row_offsets, columns, count, firsts, s0, reach, strip,
                 acc):  # pragma: no cover - compiled
    """``out[i0, cols[t]] = Σ_q weights[t, q] · y[i0 − s0 + row_offsets[t, q], firsts[t] + columns[t, q]]``
    (the first ``count[t]`` terms) for the rows [lo0, hi0), whose taps all lie inside y and
    onto which nothing folds.

    :data:`BLOCK` rows at a time, each border column's strip of ``y`` is gathered
    transposed into ``strip`` (flat: ``span`` lines of ``BLOCK + reach``) and summed along
    the rows (vector loops; summed down a column, each output was a chain of dependent
    additions: 0.5 ms for a 2048² image's six border columns)."""
    span = strip.size // (BLOCK + reach)
    line = numba.uint64(BLOCK + reach)
    for lo in range(lo0, hi0, BLOCK):
        nb = min(hi0, lo + BLOCK) - lo
        m = numba.uint64(nb)
        for t in range(cols.size):
            f = firsts[t]
            for rr in range(nb + reach):
                for u in range(span):
                    strip[u * (BLOCK + reach) + rr] = y[lo - s0 + rr, f + u]
            for i in range(nb):
                acc[i] = 0
            for q in range(count[t]):
                w = weights[t, q]
                src = numba.uint64(columns[t, q]) * line + numba.uint64(row_offsets[t, q])
                for i in range(m):
                    acc[i] += w * strip[src + i]
            i1 = cols[t]
            for i in range(nb):
                out[lo + i, i1] = acc[i]
