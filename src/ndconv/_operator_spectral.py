"""Eigenvalues by FFT (periodic) or DCT-II (symmetric), and the least-squares solve.

Periodic 'same' convolution, stride 1: on each axis
``y[i] = Σ_j h[j] x[(i + start − j·d) mod n]`` — a circulant matrix in 1-D, BCCB
in 2-D, multilevel circulant in nD — so ``K = F⁻¹ diag(λ) F`` with
``λ = fftn(K e₀)`` (the first column).

Half-sample symmetric extension (``boundary='symmetric'``): x̃ is 2n-periodic
and even about −½, so ``K x = R (c ⊛ E x)`` with E that 2n-periodic even
extension, c the kernel folded onto one period 2n (``c[(j·d − start) mod 2n]``)
and R the restriction to ``0 … n−1``.  When c is even (``c[t] = c[−t mod 2n]``)
the circulant ``c ⊛`` keeps even sequences even and ``K = Dᵀ diag(λ) D`` with D
the orthonormal DCT-II and ``λ_m = Σ_t c[t] cos(π m t / n)`` (the first n
samples of the 2n-point DFT of c).  Conversely a DCT-II-diagonal K needs
``Ĉ(m) = Ĉ(−m)`` for ``0 < m < n``, i.e. c even: the condition is exact.  It holds
for an odd kernel symmetric about its centre with origin 0 (any dilation that
keeps the dilated length odd) — the usual case — and also when origin is a
multiple of n, or when taps alias onto symmetric places of the period (tests
check every case against the dense matrix).  Per axis in nD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from .methods._finite import power_of_two_exponent, times_power_of_two


@dataclass(frozen=True)
class SolveInfo:
    """How :meth:`ndconv.ConvOperator.solve` ran.

    ``method`` is ``'fft'``, ``'dct'`` or ``'lsqr'``; ``iterations`` the LSQR
    iterations (0 for the transforms); ``istop`` LSQR's stop reason (1: the
    tolerance was met, 7: ``maxiter`` reached; ``None`` for the transforms);
    ``residual`` ``‖K x − y‖``; ``zeroed`` how many eigenvalues were treated as 0.
    """

    method: str
    iterations: int
    istop: int | None
    residual: float
    zeroed: int = 0


def _folded_kernel(op, periods: tuple[int, ...]) -> np.ndarray:
    """The kernel as a periodic stencil: ``c[(j·d − start) mod P] += h[j]`` on each axis.

    ``K x = R (c ⊛ E x)`` where E extends x to one period P (wrap: P = n;
    symmetric: P = 2n) and R keeps ``0 … n−1``.  Batch axes first (per-row kernels).
    """
    spec = op._spec
    nb = spec.x.ndim - spec.ndim
    c = spec.kernel
    for i, (g, period) in enumerate(zip(spec.geometry, periods)):
        target = (g.dilation * np.arange(g.k) - g.start) % period
        moved = np.moveaxis(c, nb + i, 0)
        out = np.zeros((period,) + moved.shape[1:], dtype=c.dtype)
        np.add.at(out, target, moved)
        c = np.moveaxis(out, 0, nb + i)
    return c


def _why_not(op, basis: str) -> str | None:
    """The first condition that keeps ``basis`` from diagonalising ``op``, or None."""
    spec = op._spec
    rule = {"fft": "wrap", "dct": "symmetric"}[basis]
    if spec.boundary != rule:
        return f"boundary={rule!r} (got {spec.boundary!r})"
    for axis, g in zip(spec.axes, spec.geometry):
        if not (g.stride == 1 and g.count == g.n):
            return (f"mode='same' and stride 1 on every convolved axis (got mode={op.mode!r}, "
                    f"stride {g.stride} on axis {axis})")
    if op.output_shape != op.input_shape:
        return f"output_shape == input_shape (got {op.output_shape} from {op.input_shape})"
    if basis == "dct":
        nb = spec.x.ndim - spec.ndim
        c = _folded_kernel(op, tuple(2 * g.n for g in spec.geometry))
        scale = float(np.abs(c).max())
        for i, axis in enumerate(spec.axes):
            mirrored = np.roll(np.flip(c, axis=nb + i), 1, axis=nb + i)      # c[−t mod 2n]
            if not np.allclose(c, mirrored, rtol=0, atol=8 * np.finfo(c.real.dtype).eps * scale):
                return (f"a kernel even about its output sample on every axis, modulo the period 2n of "
                        f"the symmetric extension (e.g. an odd kernel symmetric about its centre with "
                        f"origin 0); not on axis {axis}")
    return None


def eigvals(op, basis: str = "fft") -> np.ndarray:
    if basis not in ("fft", "dct"):
        raise ValueError(f"basis must be 'fft' or 'dct', got {basis!r}")
    reason = _why_not(op, basis)
    if reason is not None:
        raise ValueError(f"eigvals(basis={basis!r}) needs {reason}; no fast transform "
                         f"diagonalises this operator (use to_dense() and numpy.linalg.eigvals)")
    spec = op._spec
    periods = tuple(g.n * (1 if basis == "fft" else 2) for g in spec.geometry)
    c = _folded_kernel(op, periods)
    nb = c.ndim - spec.ndim
    lam = np.fft.fftn(c, axes=tuple(range(nb, c.ndim)))
    if basis == "dct":  # c even mod 2n: λ_m = Σ_t c[t] cos(π m t / n), the first n of the 2n-point DFT
        lam = lam[(Ellipsis,) + tuple(slice(0, g.n) for g in spec.geometry)]
        lam = lam if op.dtype.kind == "c" else lam.real
    lam = np.broadcast_to(lam, spec.x.shape).astype(np.result_type(lam.dtype, op.dtype), copy=False)
    return spec.to_user_layout(lam).copy()


def _diagonal_solve(op, y: np.ndarray, basis: str, reg: float) -> tuple[np.ndarray, int]:
    spec = op._spec
    lam = op._to_canonical(eigvals(op, basis))
    y_c = op._to_canonical(y)
    dims = tuple(range(y_c.ndim - spec.ndim, y_c.ndim))
    power = np.abs(lam) ** 2 + reg
    threshold = 1e3 * np.finfo(np.float64).eps * max(float(power.max()), np.finfo(float).tiny)
    keep = power > threshold
    gain = np.where(keep, np.conj(lam) / np.where(keep, power, 1), 0)
    if basis == "fft":
        x = np.fft.ifftn(gain * np.fft.fftn(y_c, axes=dims), axes=dims)
        if op.dtype.kind != "c" and y.dtype.kind != "c":
            x = x.real
    else:
        x = scipy.fft.idctn(gain * scipy.fft.dctn(y_c, axes=dims, norm="ortho"), axes=dims, norm="ortho")
    return spec.to_user_layout(x), int(np.count_nonzero(~keep))


def solve(op, y, *, reg: float = 0.0, tol: float = 1e-10, maxiter: int | None = None) -> np.ndarray:
    from scipy.sparse.linalg import lsqr

    reg = float(reg)
    if not reg >= 0:
        raise ValueError(f"reg must be a number >= 0, got {reg!r}")
    if not float(tol) > 0:
        raise ValueError(f"tol must be a number > 0, got {tol!r}")
    if maxiter is not None and int(maxiter) < 1:
        raise ValueError(f"maxiter must be None or an int >= 1, got {maxiter!r}")
    y = np.asarray(y)
    if y.shape != op.output_shape:
        if y.ndim == 1 and y.size == op.shape[0]:
            y = y.reshape(op.output_shape)
        else:
            raise ValueError(f"y must have shape output_shape={op.output_shape} or be a flat vector "
                             f"of {op.shape[0]}, got shape {y.shape}")
    dtype = np.result_type(y.dtype, op.dtype, np.float32)
    # x is linear in y (reg fixed): solve for y scaled to magnitude 1 by a power of two, which is
    # exact, and scale x back — y of 1e37 (float32) or 1e300 overflowed in the transforms and norms
    e = power_of_two_exponent(y) if y.dtype.kind in "fc" else 0
    y = times_power_of_two(y.astype(dtype, copy=False), -e)
    for basis in ("fft", "dct"):
        if _why_not(op, basis) is None:
            x, zeroed = _diagonal_solve(op, y, basis, reg)
            x = x.astype(dtype, copy=False)
            residual = float(np.linalg.norm(op(x) - y))
            op.last_solve = SolveInfo(basis, 0, None, _unscaled(residual, e), zeroed)
            return times_power_of_two(x, e)
    result = lsqr(op.aslinearoperator(), y.reshape(-1), damp=np.sqrt(reg), atol=tol, btol=tol,
                  iter_lim=None if maxiter is None else int(maxiter))
    x, istop, iterations, r1norm = result[0], result[1], result[2], result[3]
    op.last_solve = SolveInfo("lsqr", int(iterations), int(istop), _unscaled(float(r1norm), e))
    return times_power_of_two(x.reshape(op.input_shape).astype(dtype, copy=False), e)


def _unscaled(norm: float, e: int) -> float:
    """``norm · 2**e`` (∞ beyond float64)."""
    try:
        return math.ldexp(norm, e)
    except OverflowError:
        return math.inf
