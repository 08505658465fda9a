"""``direct``: the sum of the definition, term by term.

Floating and complex inputs run compiled row-wise loops (Numba); bool and
integer inputs accumulate exactly in int64, falling back to Python integers
when ``Σ|h| · max|x|`` could leave the int64 range (OverflowError if the exact
result does).  When OpenCV is installed, 2-D float images with small kernels
and a 'same'-sized window are handed to its filter engine, which computes the
identical sum with the boundary applied natively.
"""

from __future__ import annotations

import numpy as np

from . import _opencv
from ._problem import Problem, Sampled
from ._taps import flat_offsets

INT64_MAX = np.iinfo(np.int64).max
#: float32 sums of more taps than this accumulate in float64
FLOAT32_ACC_TAPS = 64


def accumulator_dtype(dtype: np.dtype, ntaps: int) -> np.dtype:
    if dtype == np.float32 and ntaps > FLOAT32_ACC_TAPS:
        return np.dtype(np.float64)
    if dtype == np.complex64 and ntaps > FLOAT32_ACC_TAPS:
        return np.dtype(np.complex128)
    return np.dtype(dtype)


def integer_bound(sampled: Sampled) -> int:
    """An upper bound of ``|y|``: ``Σ|h| · max|z|`` over each batch pair, in Python ints."""
    if sampled.z.size == 0:
        return 0
    zmax = max(abs(int(sampled.z.max())), abs(int(sampled.z.min())))
    axes = tuple(range(sampled.h.ndim - sampled.ndim, sampled.h.ndim))
    hsum = int(np.max(np.asarray(np.abs(sampled.h.astype(object)).sum(axis=axes))))
    return zmax * hsum


def _run_numba(sampled: Sampled, acc_dtype: np.dtype) -> np.ndarray:
    from ._numba_kernels import correlate_rows

    zp, firsts = sampled.padded()
    nd = sampled.ndim
    item_shape = zp.shape[zp.ndim - nd:]
    taps, rows = flat_offsets(sampled, item_shape, firsts)
    g = np.flip(sampled.h, axis=tuple(range(sampled.h.ndim - nd, sampled.h.ndim)))
    ncols = sampled.counts[-1]
    nb = zp.ndim - nd
    out = np.zeros(sampled.output_shape, dtype=acc_dtype)
    if not any(s != 1 for s in g.shape[:nb]):  # one kernel for every batch row
        z2 = np.ascontiguousarray(zp).reshape(-1, int(np.prod(item_shape)))
        w = np.ascontiguousarray(g, dtype=acc_dtype).ravel()
        out3 = out.reshape(z2.shape[0], rows.size, ncols)
        correlate_rows(z2, w, taps, rows, sampled.strides[-1], ncols, out3)
        return out
    zb = np.broadcast_to(zp, out.shape[:nb] + item_shape)
    gb = np.broadcast_to(g, out.shape[:nb] + g.shape[nb:])
    for index in np.ndindex(out.shape[:nb]):
        z2 = np.ascontiguousarray(zb[index]).reshape(1, -1)
        w = np.ascontiguousarray(gb[index], dtype=acc_dtype).ravel()
        correlate_rows(z2, w, taps, rows, sampled.strides[-1], ncols, out[index].reshape(1, rows.size, ncols))
    return out


def _run_python_ints(sampled: Sampled) -> np.ndarray:
    """Exact sum in Python integers (object arrays), tap by tap."""
    zp, firsts = sampled.padded()
    nd = sampled.ndim
    nb = zp.ndim - nd
    zo = zp.astype(object)
    g = np.flip(sampled.h, axis=tuple(range(nb, sampled.h.ndim))).astype(object)
    out = np.zeros(sampled.output_shape, dtype=object)
    for m in np.ndindex(sampled.kernel_shape):
        window = tuple(slice(f + mi * d, f + mi * d + (c - 1) * s + 1, s)
                       for f, mi, d, c, s in zip(firsts, m, sampled.dilations, sampled.counts, sampled.strides))
        out += g[(Ellipsis,) + m].reshape(g.shape[:nb] + (1,) * nd) * zo[(Ellipsis,) + window]
    return out


def exact_integer(sampled: Sampled) -> np.ndarray:
    """int64 result of an integer problem, computed exactly."""
    if integer_bound(sampled) <= INT64_MAX:
        return _run_numba(sampled, np.dtype(np.int64))
    out = _run_python_ints(sampled)
    if out.size and (out.max() > INT64_MAX or out.min() < -INT64_MAX - 1):
        raise OverflowError("the exact integer result does not fit in int64 "
                            f"(largest magnitude {max(abs(out.max()), abs(out.min()))}); "
                            "convert the inputs to float64 for an approximate result")
    return out.astype(np.int64)


def compute_sampled(sampled: Sampled) -> np.ndarray:
    """Direct sum of a sampled problem in its own dtype (no engine dispatch)."""
    dtype = sampled.z.dtype
    if dtype.kind in "iu":
        return exact_integer(sampled)
    ntaps = int(np.prod(sampled.kernel_shape))
    return _run_numba(sampled, accumulator_dtype(dtype, ntaps))


def run(problem: Problem) -> np.ndarray:
    if _opencv.filter2d_applies(problem.spec):
        return _opencv.filter2d(problem.spec)
    return compute_sampled(problem.sampled)
