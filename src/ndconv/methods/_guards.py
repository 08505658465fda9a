"""What keeps approximate methods (fft, overlap_add, separable) exact in meaning.

* **Integers.** A float computation of an integer problem is rounded back to
  int64 only when ``Σ|h| · max|x| ≤ 2**40``: the float64 error is then far below
  1/2.  Otherwise the exact direct sum runs instead.
* **Non-finite values.** They are replaced by 0 for the spectral computation,
  and the outputs whose window holds one are set afterwards to what the sum of
  the definition gives in IEEE arithmetic: NaN when the window holds a NaN,
  an ∞ times a zero tap, or ∞ of both signs; ±∞ otherwise.  The windows are
  found by convolving 0/1 indicators with the kernel's support — exact integer
  counts, so no NaN leaks beyond its window and none is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from . import direct
from ._problem import Sampled

EXACT_FLOAT_BOUND = 2**40

Compute = Callable[[Sampled], np.ndarray]


def _counts(sampled: Sampled, compute: Compute, data: np.ndarray, support: np.ndarray) -> np.ndarray:
    problem = replace(sampled, z=data.astype(np.float64), h=support.astype(np.float64))
    return compute(problem) > 0.5


def _fix_nonfinite(sampled: Sampled, compute: Compute, bad: np.ndarray) -> np.ndarray:
    z, h = sampled.z, sampled.h
    y = compute(replace(sampled, z=np.where(bad, 0, z)))
    if z.dtype.kind == "c" or h.dtype.kind == "c":
        hit = _counts(sampled, compute, bad, np.ones(h.shape))
        y[hit] = complex(np.nan, np.nan)
        return y
    nan_in, pinf, ninf = np.isnan(z), z == np.inf, z == -np.inf
    anyinf = pinf | ninf
    nan_out = _counts(sampled, compute, nan_in, np.ones(h.shape))
    if anyinf.any():
        nan_out |= _counts(sampled, compute, anyinf, h == 0)
        plus = _counts(sampled, compute, pinf, h > 0) | _counts(sampled, compute, ninf, h < 0)
        minus = _counts(sampled, compute, pinf, h < 0) | _counts(sampled, compute, ninf, h > 0)
        nan_out |= plus & minus
        y[plus] = np.inf
        y[minus] = -np.inf
    y[nan_out] = np.nan
    return y


def guarded(compute: Compute) -> Compute:
    """Wrap a float method so integers stay exact and non-finite values stay local."""

    def run(sampled: Sampled) -> np.ndarray:
        if sampled.z.dtype.kind in "iu":
            if direct.integer_bound(sampled) > EXACT_FLOAT_BOUND:
                return direct.exact_integer(sampled)
            as_float = replace(sampled, z=sampled.z.astype(np.float64), h=sampled.h.astype(np.float64))
            return np.rint(compute(as_float)).astype(np.int64)
        if not np.isfinite(sampled.h).all():
            return direct.compute_sampled(sampled)  # every window holds the bad tap
        bad = ~np.isfinite(sampled.z)
        if bad.any():
            return _fix_nonfinite(sampled, compute, bad)
        return compute(sampled)

    run.__name__ = getattr(compute, "__name__", "run")
    return run
