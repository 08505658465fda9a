"""A fast test for NaN and ±∞ in large arrays."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

#: arrays below this many elements are checked by ``isfinite(a).all()``
SMALL = 1 << 16


def _nonfinite_sum_py(flat, zero):  # pragma: no cover - compiled
    # x·0 is 0 for a finite x and NaN for NaN/±∞: the sum is NaN iff one is present.
    # (The zero comes in as an argument so that the compiler cannot fold x·0 away.)
    total = zero
    for i in range(flat.size):
        total += flat[i] * zero
    return total


@lru_cache(maxsize=1)
def _nonfinite_sum():
    """The compiled sum; Numba is imported on first use, not with ndconv.

    Reassociation lets LLVM vectorise the sum; it cannot hide a NaN (NaN +
    anything is NaN in any order), and no-NaN/no-Inf assumptions are not enabled.
    """
    import numba

    return numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy",
                      fastmath={"reassoc", "nsz"})(_nonfinite_sum_py)


def all_finite(a: np.ndarray) -> bool:
    """True when ``a`` holds no NaN or ±∞ (bool/integer arrays always do).

    One vectorised pass on one core, several times faster than
    ``isfinite(a).all()`` on large arrays and free of thread wake-ups.
    """
    if a.dtype.kind not in "fc":
        return True
    if a.size < SMALL or not a.flags.c_contiguous:
        return bool(np.isfinite(a).all())
    flat = a.reshape(-1)
    if a.dtype.kind == "c":
        flat = flat.view(flat.real.dtype)
    return bool(np.isfinite(_nonfinite_sum()(flat, flat.dtype.type(0))))


def _abs_sum_py(flat, zero):  # pragma: no cover - compiled
    total = zero   # in the input's precision (float32 sums vectorise twice as wide); NaN/±∞ carried
    for i in range(flat.size):
        total += abs(flat[i])
    return total


@lru_cache(maxsize=1)
def _abs_sum():
    import numba

    return numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy",
                      fastmath={"reassoc", "nsz"})(_abs_sum_py)


def abs_sum(a: np.ndarray) -> float:
    """``Σ|a|`` (real and imaginary parts), one pass like :func:`all_finite`: NaN or ∞ when
    ``a`` holds one — or when the sum overflows, in ``a``'s precision, for finite data of
    large magnitude (:func:`all_finite` tells the two apart)."""
    if a.size < SMALL or not a.flags.c_contiguous:
        parts = (a.real, a.imag) if a.dtype.kind == "c" else (a,)
        with np.errstate(over="ignore", invalid="ignore"):
            return float(sum(np.abs(part).sum() for part in parts))
    flat = a.reshape(-1)
    if a.dtype.kind == "c":
        flat = flat.view(flat.real.dtype)
    return float(_abs_sum()(flat, flat.dtype.type(0)))


def power_of_two_exponent(a: np.ndarray) -> int:
    """``e`` with ``max|a|·2**−e`` in [0.5, 1) (real and imaginary parts), 0 for zeros or
    non-finite data: scaling by ``2**−e`` brings ``a`` to magnitude 1 exactly."""
    parts = (a.real, a.imag) if a.dtype.kind == "c" else (a,)
    peak = max((float(np.max(np.abs(part))) for part in parts if part.size), default=0.0)
    return math.frexp(peak)[1] if 0 < peak < math.inf else 0


def times_power_of_two(a: np.ndarray, e: int) -> np.ndarray:
    """``a · 2**e``, exact (complex part by part); ±∞ where that is out of range."""
    with np.errstate(over="ignore"):
        if a.dtype.kind != "c":
            return np.ldexp(a, e)
        out = np.empty_like(a)
        out.real, out.imag = np.ldexp(a.real, e), np.ldexp(a.imag, e)
        return out
