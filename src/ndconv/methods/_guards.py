"""What keeps approximate methods (fft, overlap_add, separable) exact in meaning.

* **Integers.** A float computation of an integer problem is rounded back to
  int64 only when ``Σ|h| · max|x| ≤ 2**40``: the float64 error is then far below
  1/2.  Otherwise the exact direct sum runs instead.
* **Non-finite values.** They are replaced by 0 for the spectral computation,
  and the outputs whose window holds one are set afterwards to what the sum of
  the definition gives in IEEE arithmetic: NaN when the window holds a NaN,
  an ∞ times a zero tap, or ∞ of both signs; ±∞ otherwise (complex values:
  each of the real and imaginary parts, from the real products ``ac − bd`` and
  ``ad + bc`` of each tap).  The windows are found by convolving 0/1 indicators
  with the kernel's support — exact integer counts, so no NaN leaks beyond its
  window and none is lost.
* **Magnitude.** A transform sums a whole row of samples, so finite data of
  large magnitude (float32 from about 1e31 on a 2048² image) can overflow in
  the spectra where the sums of the definition do not.  A non-finite result of
  finite inputs is therefore computed again on the data scaled by powers of two
  to magnitude 1, and scaled back: exact, and ±∞ only where the definition's
  value is out of range.  The check of the result is skipped when Σ|z|·Σ|h|
  times the transform size cannot reach the range (data of ordinary
  magnitude); Σ|z| comes from the pass that looks for NaN and ±∞ anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from . import direct
from ._finite import abs_sum, all_finite, power_of_two_exponent, times_power_of_two
from ._problem import Sampled

EXACT_FLOAT_BOUND = 2**40

Compute = Callable[[Sampled], np.ndarray]


def _rescaled(sampled: Sampled, compute: Compute) -> np.ndarray:
    """``compute`` on z and h scaled to magnitude 1 by powers of two, scaled back.  (The
    guarded methods get z extended already: no fill value is left to scale.)"""
    ez, eh = power_of_two_exponent(sampled.z), power_of_two_exponent(sampled.h)
    y = compute(replace(sampled, z=times_power_of_two(sampled.z, -ez), h=times_power_of_two(sampled.h, -eh)))
    return times_power_of_two(y, ez + eh)


def _cannot_overflow(sampled: Sampled, z_sum: float) -> bool:
    """No sum of a transform can leave the range: every forward value is at most Σ|z| (Σ|h|),
    the products at most Σ|z|·Σ|h|, the inverse's partial sums at most F times that (F ≤
    2**nd·Π(n + K_d) points per transform), with a margin of 4 for the real transforms'
    half-spectrum steps; Σ|z| counts each sample as often as x̃ may repeat it."""
    nd = sampled.ndim
    lengths = list(zip(sampled.z.shape[sampled.z.ndim - nd:], sampled.dilated_shape))
    points = 2**nd * math.prod(n + kd for n, kd in lengths)
    # z kept unextended, the rule aside (wrap's period, overlap-add's tiles): a transform may
    # read a sample of z once per sample of x̃ it covers, at most Π(n + 2·K_d) times
    repeats = 1 if sampled.boundary == "constant" else math.prod(n + 2 * kd for n, kd in lengths)
    bound = z_sum * repeats * abs_sum(sampled.h) * points * 4
    return bound < float(np.finfo(sampled.z.real.dtype).max)


def _finite_or_rescaled(sampled: Sampled, compute: Compute) -> np.ndarray:
    """``compute`` of finite data, or :func:`_rescaled` when the spectra overflowed (no
    warning from the first attempt: its overflow is handled here)."""
    with np.errstate(over="ignore", invalid="ignore"):
        y = compute(sampled)
    return y if all_finite(y) else _rescaled(sampled, compute)


def _counts(sampled: Sampled, compute: Compute, data: np.ndarray, support: np.ndarray) -> np.ndarray:
    problem = replace(sampled, z=data.astype(np.float64), h=support.astype(np.float64))
    return compute(problem) > 0.5


def _classify(sampled: Sampled, compute: Compute, nan_in: np.ndarray,
              terms: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NaN, +∞ and −∞ outputs of ``Σ_(zp, hp) Σ_j hp[j] · zp[…]`` in IEEE arithmetic.

    A sum of extended reals is NaN when a term is (a NaN input, ∞ times a zero
    tap) or when ∞ of both signs meet; otherwise ±∞ when an ∞ is in it.
    """
    nan_out = _counts(sampled, compute, nan_in, np.ones(sampled.h.shape))
    plus = np.zeros_like(nan_out)
    minus = np.zeros_like(nan_out)
    for zp, hp in terms:
        pinf, ninf = zp == np.inf, zp == -np.inf
        if not (pinf.any() or ninf.any()):
            continue
        nan_out |= _counts(sampled, compute, pinf | ninf, hp == 0)
        plus |= _counts(sampled, compute, pinf, hp > 0) | _counts(sampled, compute, ninf, hp < 0)
        minus |= _counts(sampled, compute, pinf, hp < 0) | _counts(sampled, compute, ninf, hp > 0)
    return nan_out | (plus & minus), plus, minus


def _fix_nonfinite(sampled: Sampled, compute: Compute, bad: np.ndarray) -> np.ndarray:
    z, h = sampled.z, sampled.h
    y = _finite_or_rescaled(replace(sampled, z=np.where(bad, 0, z)), compute)
    if y.dtype.kind == "c":
        # (a + ib)(c + id) = (ac − bd) + i(ad + bc), tap by tap, as the direct sum does
        a, b, c, d = z.real, z.imag, h.real, h.imag
        parts = [(y.real, [(a, c), (b, -d)]), (y.imag, [(a, d), (b, c)])]
    else:
        parts = [(y, [(z, h)])]
    nan_in = np.isnan(z)
    for out, terms in parts:
        nan_out, plus, minus = _classify(sampled, compute, nan_in, terms)
        out[plus] = np.inf
        out[minus] = -np.inf
        out[nan_out] = np.nan
    return y


def guarded(compute: Compute) -> Compute:
    """Wrap a float method so integers stay exact and non-finite values stay local."""

    def run(sampled: Sampled) -> np.ndarray:
        if sampled.z.dtype.kind in "iu":
            if direct.integer_bound(sampled) > EXACT_FLOAT_BOUND:
                return direct.exact_integer(sampled)
            as_float = replace(sampled, z=sampled.z.astype(np.float64), h=sampled.h.astype(np.float64))
            return np.rint(compute(as_float)).astype(np.int64)
        if not all_finite(sampled.h):
            return direct.compute_sampled(sampled)  # every window holds the bad tap
        z_sum = abs_sum(sampled.z)   # NaN/∞ for non-finite z (or an overflowing float64 sum)
        if not math.isfinite(z_sum) and not all_finite(sampled.z):
            return _fix_nonfinite(sampled, compute, ~np.isfinite(sampled.z))
        if _cannot_overflow(sampled, z_sum):   # data of ordinary magnitude: no check of the result
            return compute(sampled)
        return _finite_or_rescaled(sampled, compute)

    run.__name__ = getattr(compute, "__name__", "run")
    return run
