"""``separable``: a low-rank kernel as sums of 1-D passes.

A 2-D kernel is split by its SVD, ``h = Σ_r σ_r u_r v_rᵀ``; the rank is the
smallest that keeps the dropped part below 1 % of the accuracy promise of §2
(so a Gaussian, a box or a Sobel kernel is rank 1 and a difference of two
Gaussians rank 2).  Kernels of three or more axes qualify when they are an
outer product of 1-D vectors (checked by successive unfoldings).  Each rank
term runs one 1-D pass per axis; a pass is a sampled problem with a kernel of
length 1 on every other axis, solved by the direct loops, or, for 2-D float
images in a 'same' window, by the computation of OpenCV's ``sepFilter2D``
(with or without OpenCV, and on one core inside ``ndconv.dask`` tasks): both
passes fused row by row
(:mod:`._sep_rows`, each output row's column sum in a row buffer that stays in
cache, the row sum written straight into the result; 0.70–0.88 of
``sepFilter2D``'s own time on 2048² float32 Gaussians), or, where OpenCV is
installed and enabled, ``sepFilter2D`` itself where those loops do not apply (more
than 150 taps per axis, a kernel longer than the image).

An earlier fused form (two output rows sharing the reads of their common input
rows, eight taps per sweep, row views and nested calls) ran in 0.46–0.76 of
``sepFilter2D``'s time but took 2.4–3.9 s to compile, past the 2 s a new signature
may cost, and was reverted; the plain-loop form compiles in about a second per dtype
(a fresh cache's first 2048² Gaussian call 1.5–1.7 s, 0.3–0.5 s before).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from . import _opencv, direct
from ._finite import all_finite
from ._guards import guarded
from ._keys import remembered
from ._problem import Problem, Sampled

#: share of the accuracy tolerance the dropped singular values may use
RANK_SHARE = 0.01
TOLERANCE = {"f4": 1e-5, "c8": 1e-5, "f8": 1e-12, "c16": 1e-12}


def _tolerance(dtype: np.dtype) -> float:
    return TOLERANCE.get(np.dtype(dtype).str[1:], 1e-12)


def _factor_2d(h: np.ndarray, tol: float) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The fewest SVD terms whose sum differs from ``h`` by at most the budget in Σ|·|.

    ``Σ_{i≥r} s_i·√(K0K1)`` bounds what the dropped terms change (in Σ|·|, which bounds
    the change of any output by ``max|x|`` times it), and gives the most terms that can
    be needed; the rank is then the first whose actual remainder fits.  The bound alone
    is loose by about √(K0K1): it kept 21 terms of a float64 65×65 Gaussian and
    declared a 97×97 one not separable, where one term leaves 2e-16 of it; and 2 or 3
    terms of a float32 41×41 Gaussian, whose product of float32 factors is rank 1 up to
    its own rounding (2e-8 of it, against a budget of 1e-7).
    """
    u, s, vh = np.linalg.svd(h)
    budget = RANK_SHARE * tol * np.abs(h).sum()
    scale = np.sqrt(h.shape[0] * h.shape[1])
    dropped = np.concatenate([np.cumsum(s[::-1])[::-1], [0.0]]) * scale  # dropped[r] = Σ_{i≥r} s_i·√(K0K1)
    most = max(1, int(np.argmax(dropped <= budget)))   # 0 only for an all-zero kernel
    rest = np.array(h, dtype=np.result_type(h, u), copy=True)
    for rank in range(1, most):
        rest -= np.outer(u[:, rank - 1] * s[rank - 1], vh[rank - 1, :])
        if np.abs(rest).sum() <= budget:
            break
    else:
        rank = most
    return [(u[:, r] * s[r], vh[r, :]) for r in range(rank)]


def _factor_rank1(h: np.ndarray, tol: float) -> list[np.ndarray] | None:
    """Vectors whose outer product is ``h`` (nD), or None if h is not rank 1."""
    vectors = []
    rest = h
    while rest.ndim > 1:
        k0 = rest.shape[0]
        pairs = _factor_2d(rest.reshape(k0, -1), tol)
        if pairs is None or len(pairs) != 1:
            return None
        u, v = pairs[0]
        vectors.append(u)
        rest = v.reshape(rest.shape[1:])
    vectors.append(rest)
    return vectors


#: a factor whose odd (even) part is at most this share of its largest entry is made exactly
#: even (odd): far below every dtype's accuracy promise, and only such vectors let OpenCV's
#: sepFilter2D take its symmetric path (it compares the taps exactly)
SYMMETRY_TOL = 1e-13


def _exact_symmetry(a: np.ndarray) -> np.ndarray:
    """``a`` made exactly symmetric or antisymmetric when it is so up to rounding.

    The SVD of a kernel that is even along an axis (a Gaussian, a box) returns a factor
    even only up to a few ulps, and float64 factors keep that difference; OpenCV then
    filters float64 images without folding the symmetric taps (2048² Gaussian 31×31,
    paired: ``sepFilter2D`` alone 0.90 of the time with exactly even factors, the whole
    call 0.92).  The change is of the size of the rounding already in the factor.
    """
    if a.dtype.kind == "c" or a.size < 2:
        return a
    even = (a + a[::-1]) / 2
    odd = (a - a[::-1]) / 2
    scale = SYMMETRY_TOL * np.abs(a).max()
    if np.abs(odd).max() <= scale:
        return even
    if np.abs(even).max() <= scale:
        return odd
    return a


@lru_cache(maxsize=64)
def _factors_cached(key: bytes, shape: tuple[int, ...], dtype: str) -> tuple[tuple[np.ndarray, ...], ...] | None:
    h = np.frombuffer(key, dtype=dtype).reshape(shape)
    work = h.astype(np.complex128 if h.dtype.kind == "c" else np.float64)
    tol = _tolerance(h.dtype)
    if h.ndim == 2:
        pairs = _factor_2d(work, tol)
        if pairs is None or len(pairs) > min(shape) // 2:
            return None
        return tuple((_exact_symmetry(u), _exact_symmetry(v)) for u, v in pairs)
    vectors = _factor_rank1(work, tol)
    return None if vectors is None else (tuple(_exact_symmetry(v) for v in vectors),)


def factors(h: np.ndarray) -> tuple[tuple[np.ndarray, ...], ...] | None:
    """Rank terms of a single kernel (no batch axes), each a tuple of 1-D vectors;
    None where the kernel is not usefully separable."""
    if h.ndim < 2 or any(k == 1 for k in h.shape) or h.size > 1 << 16:
        return None
    h = np.ascontiguousarray(h)
    return _factors_cached(h.tobytes(), h.shape, h.dtype.str)


def kernel_factors(sampled_h: np.ndarray, ndim: int):
    """Factors of a canonical kernel, or None when batched or not separable."""
    nb = sampled_h.ndim - ndim
    if any(s != 1 for s in sampled_h.shape[:nb]):
        return None
    h = sampled_h.reshape(sampled_h.shape[nb:])
    if h.dtype.kind in "iu" or not np.isfinite(h).all():
        return None
    return factors(h)


def _passes(sampled: Sampled, terms) -> np.ndarray:
    nd = sampled.ndim
    nb = sampled.z.ndim - nd
    total = None
    for vectors in terms:
        current = sampled
        for axis, vec in enumerate(vectors):
            shape = (1,) * nb + tuple(len(vec) if a == axis else 1 for a in range(nd))
            h = np.asarray(vec, dtype=sampled.z.dtype).reshape(shape)
            counts = list(current.z.shape[nb:])
            starts = [0] * nd
            strides = [1] * nd
            dilations = [1] * nd
            counts[axis] = sampled.counts[axis]
            starts[axis] = sampled.starts[axis]
            strides[axis] = sampled.strides[axis]
            dilations[axis] = sampled.dilations[axis]
            one = Sampled(current.z, h, tuple(starts), tuple(counts), tuple(strides), tuple(dilations))
            current = replace(current, z=direct.compute_sampled(one))
        term = current.z.astype(sampled.z.dtype, copy=False)
        total = term if total is None else total + term
    return total


def separable_sampled(sampled: Sampled) -> np.ndarray:
    terms = kernel_factors(sampled.h, sampled.ndim)
    if terms is None:
        return direct.compute_sampled(sampled)
    return _passes(sampled, terms)


_guarded = guarded(separable_sampled)


def opencv_keeps_nonfinite(kernel: np.ndarray, terms) -> bool:
    """A rank-1 kernel without zero taps, and factors without zeros: the two
    passes then give NaN/±∞ exactly where, and as, the 2-D sum does (the sign of
    each term is the product of the factors' signs)."""
    return len(terms) == 1 and bool(np.all(kernel != 0)) and all(np.all(v != 0) for v in terms[0])


def opencv_terms(kernel: np.ndarray) -> tuple[tuple[tuple[np.ndarray, np.ndarray], ...], bool] | None:
    """What ``sepFilter2D`` needs of a single 2-D kernel: its rank terms as pairs of
    factors in correlation form (flipped) and the kernel's dtype, read-only, and
    :func:`opencv_keeps_nonfinite`; None where the kernel is not usefully separable.

    Kept per kernel: after a large call the caches are cold, and finding the factors,
    checking their taps and flipping them cost a call 0.1 ms (1 % of a 2048² Gaussian).
    """
    h = np.ascontiguousarray(kernel.reshape(kernel.shape[-2:]))
    return _opencv_terms(h.tobytes(), h.shape, h.dtype.str)


@lru_cache(maxsize=64)
def _opencv_terms(key: bytes, shape: tuple[int, ...], dtype: str):
    h = np.frombuffer(key, dtype=dtype).reshape(shape)
    terms = kernel_factors(h, 2)
    if terms is None:
        return None
    flipped = []
    for u, v in terms:
        pair = tuple(np.ascontiguousarray(f[::-1], dtype=h.dtype) for f in (u, v))
        for f in pair:
            f.flags.writeable = False
        flipped.append(pair)
    return tuple(flipped), opencv_keeps_nonfinite(h, terms)


#: whether sepFilter2D's window applies, per problem key
_WINDOWS: dict = {}


def run(problem: Problem) -> np.ndarray:
    spec = problem.spec
    if spec.ndim == 2 and remembered(_WINDOWS, problem, lambda p: _opencv.sep_window_applies(p.spec)):
        kept = opencv_terms(spec.kernel)
        if kept is not None and (kept[1] or all_finite(spec.x)):
            return _opencv.sep_filter2d(spec, kept[0])
    sampled = problem.sampled
    if kernel_factors(sampled.h, sampled.ndim) is None and sampled.z.dtype.kind not in "iu":
        return direct.compute_sampled(sampled)
    return _guarded(sampled)
