"""The matrix of a ConvOperator, built from the geometry in O(nnz) memory.

Row ``r`` is output ``r`` (C order of ``output_shape``); for each kernel tap
the column is the source sample of x̃ that tap reads (through
:func:`ndconv.boundary.extension_index`), so each row holds one entry per tap:
a ``(rows, taps)`` block of column indices and values becomes a CSR matrix
directly (``indptr = taps·r``), repeats of the extension are summed by
``sum_duplicates`` and the zero boundary's outside taps dropped as zeros.
"""

from __future__ import annotations

import math

import numpy as np

from ._errors import check_memory
from ._operator_base import sparse_format
from .boundary import extension_index


def _axis_taps(g, boundary: str) -> tuple[np.ndarray, np.ndarray]:
    """Source index and inside-mask, shape (taps, count), of one convolved axis."""
    idx, inside = extension_index(g.n, g.first_needed, g.last_needed, boundary)
    position = g.start + g.stride * np.arange(g.count) - g.first_needed        # in x̃[first..]
    read = position[None, :] - g.dilation * np.arange(g.k)[:, None]
    return idx[read], inside[read]


def _canonical_strides(shape: tuple[int, ...], conv_axes: tuple[int, ...]) -> list[int]:
    """Element strides of a C-ordered ``shape``, listed in the canonical axis order."""
    strides = [math.prod(shape[a + 1:]) for a in range(len(shape))]
    order = [a for a in range(len(shape)) if a not in conv_axes] + list(conv_axes)
    return [strides[a] for a in order]


def to_sparse(op, format: str = "csr"):
    import scipy.sparse

    format = sparse_format(format)
    spec = op._spec
    nd, nb = spec.ndim, spec.x.ndim - spec.ndim
    out_c = spec.output_shape
    x_batch = spec.x.shape[:nb]
    in_strides = _canonical_strides(op.input_shape, spec.axes)
    ndim = nb + nd

    def along(c: int, values: np.ndarray) -> np.ndarray:
        shape = [1] * ndim
        shape[c] = values.size
        return values.reshape(shape)

    # batch part of the column index: a batch axis broadcast by the kernel reads row 0 of x
    base = np.zeros((1,) * ndim, dtype=np.int64)
    for c in range(nb):
        if x_batch[c] == out_c[c]:
            base = base + along(c, np.arange(out_c[c], dtype=np.int64) * in_strides[c])
    per_axis = [_axis_taps(g, spec.boundary) for g in spec.geometry]
    taps = math.prod(spec.kernel_shape)
    rows = math.prod(out_c)
    index_dtype = np.int32 if max(op.shape) < 2**31 - 1 else np.int64
    # (taps, rows) indices and values, their transposed copies and the CSR arrays
    entry = np.dtype(index_dtype).itemsize + np.dtype(op.dtype).itemsize
    check_memory("the sparse matrix", op.shape, 3 * taps * rows * entry, f" for {taps} taps per row")
    cols = np.empty((taps, rows), dtype=index_dtype)
    vals = np.empty((taps, rows), dtype=op.dtype)
    kernel = spec.kernel
    constant = spec.boundary == "constant"
    for t, tap in enumerate(np.ndindex(*spec.kernel_shape)):
        col = base
        mask = True
        for a, j in enumerate(tap):
            source, inside = per_axis[a]
            col = col + along(nb + a, source[j].astype(np.int64) * in_strides[nb + a])
            if constant:
                mask = mask & along(nb + a, inside[j])
        value = kernel[(Ellipsis,) + tap].reshape(kernel.shape[:nb] + (1,) * nd)
        value = np.broadcast_to(value * mask if constant else value, out_c)
        cols[t] = spec.to_user_layout(np.broadcast_to(col, out_c)).reshape(-1)
        vals[t] = spec.to_user_layout(value).reshape(-1)
    cols, vals = cols.T.reshape(-1), vals.T.reshape(-1)
    indptr = np.arange(0, rows * taps + 1, taps, dtype=index_dtype)
    matrix = scipy.sparse.csr_matrix((vals, cols, indptr), shape=op.shape)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix.asformat(format)
