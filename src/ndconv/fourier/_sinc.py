"""Whittaker–Shannon reconstruction: a direct blocked sum and an FFT path for uniform grids."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import bad_choice, bad_type, bad_value, check_memory
from ._dft import numeric_array

METHODS = ("auto", "direct", "fft")
_BLOCK_BYTES = 1 << 23  # sinc matrix block of the direct sum
_GRID_ULPS = 64  # query points within this many ulps of u0 + m/L count as the grid (linspace is)
_FFT_MIN_WORK = 1 << 16  # below M·N, the direct sum always wins
_FFT_COST = 8.0  # FFT work per sample and log2 length, in direct multiply-adds (measured)


def _sinc_matrix(u: np.ndarray, n: int) -> np.ndarray:
    """``S[m, j] = sinc(u[m] − j)``, j = 0 … n−1, with sin(π(u − j)) = (−1)^j sin(πu)
    and u reduced by its nearest integer so large u keeps full accuracy."""
    r = np.rint(u)
    sign = 1.0 - 2.0 * np.mod(r, 2)  # (−1)^r
    sin_u = sign * np.sin(np.pi * (u - r))
    j = np.arange(n)
    alt = 1.0 - 2.0 * (j % 2)  # (−1)^j
    diff = u[:, None] - j[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (sin_u[:, None] * alt[None, :]) / (np.pi * diff)
    return np.where(diff == 0, 1.0, s)


def _direct(x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Σ_j x[..., j] sinc(u[m] − j) as a matrix product, in blocks of query points."""
    n = x.shape[-1]
    out = np.empty(x.shape[:-1] + u.shape, dtype=np.result_type(x, np.float64))
    rows = max(1, _BLOCK_BYTES // (8 * n))
    for start in range(0, u.size, rows):
        out[..., start:start + rows] = x @ _sinc_matrix(u[start:start + rows], n).T
    return out


def _grid_step(u: np.ndarray) -> int | None:
    """L if the (normalised) query points are u[0] + m/L, m = 0 … M−1, to a few ulps, else None
    (one point is such a grid with L = 1)."""
    if u.size < 2:
        return 1 if u.size == 1 else None
    step = (u[-1] - u[0]) / (u.size - 1)
    if not step > 0:
        return None
    lanes = round(1.0 / step)   # a step of 1 may come out as 1 + 1 ulp: the points decide below
    if lanes < 1:
        return None
    tol = _GRID_ULPS * np.finfo(np.float64).eps * max(1.0, float(np.max(np.abs(u))))
    if np.max(np.abs(u - (u[0] + np.arange(u.size) / lanes))) > tol:
        return None
    return lanes


def _fft(x: np.ndarray, u0: float, lanes: int, count: int) -> np.ndarray:
    """Query points u0 + m/L: write m = pL + r; then y[pL + r] = Σ_j x[j] g_r[p − j] with
    g_r[i] = sinc(u0 + r/L + i), one 'valid' convolution per phase r (polyphase form of
    the zero-upsampled samples convolved with the sampled sinc)."""
    from ..api import convolve

    n = x.shape[-1]
    per_lane = -(-count // lanes)  # P, outputs per phase
    check_memory("the sinc kernels of the FFT path", (lanes, n + per_lane - 1), 8 * lanes * (n + per_lane - 1))
    taps = np.arange(-(n - 1), per_lane)  # i = p − j
    phases = u0 + np.arange(lanes)[:, None] / lanes
    kernels = np.sinc(phases + taps[None, :])  # (L, N + P − 1)
    batch = x.reshape(-1, 1, n)
    y = convolve(kernels[None], batch, "valid", axes=-1)  # (B, L, P)
    y = np.swapaxes(y, -1, -2).reshape(x.shape[:-1] + (lanes * per_lane,))
    return y[..., :count]


def _fft_pays(n: int, count: int, lanes: int) -> bool:
    length = n + -(-count // lanes)
    return n * count >= _FFT_MIN_WORK and n * count > _FFT_COST * lanes * length * math.log2(length + 1)


def _along_last(x: np.ndarray, u: np.ndarray, method: str) -> np.ndarray:
    shape = x.shape[:-1] + u.shape
    check_memory("the result", shape, 2 * x.dtype.itemsize * math.prod(shape), " with a working copy")
    empty = u.size == 0 or x.size == 0   # nothing to compute: any method gives the empty result
    lanes = _grid_step(u.ravel()) if method != "direct" and u.ndim <= 1 and not empty else None
    if method == "fft" and lanes is None and not empty:
        raise bad_value("t", "non-uniform query points",
                        "a uniform grid whose step divides spacing for method='fft'")
    if lanes is not None and (method == "fft" or _fft_pays(x.shape[-1], u.size, lanes)):
        return _fft(x, float(u.flat[0]), lanes, u.size).reshape(shape)
    return _direct(x, u.ravel()).reshape(shape)


def _pair(name: str, value: Any, ndim: int) -> tuple[float, ...]:
    values = value if isinstance(value, (tuple, list)) else (value,) * ndim
    if len(values) != ndim:
        raise bad_value(name, value, f"a number or {ndim} numbers, one per axis of samples")
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise bad_type(name, v, "a real number")
        if not math.isfinite(v):
            raise bad_value(name, v, "finite")
    return tuple(float(v) for v in values)


def _query(t: Any, ndim: int) -> list[np.ndarray]:
    if ndim == 1 and not isinstance(t, tuple):
        coords = [t]
    elif isinstance(t, tuple) and len(t) == ndim:
        coords = list(t)
    else:
        raise bad_value("t", t if not isinstance(t, np.ndarray) else f"array of shape {t.shape}",
                        f"a tuple of {ndim} 1-D arrays of coordinates, one per axis of samples")
    out = []
    for c in coords:
        arr = numeric_array("t", c)
        if arr.dtype.kind == "c":
            raise bad_type("t", arr, "real coordinates")
        if ndim > 1 and arr.ndim != 1:
            raise bad_value("t", f"a coordinate array of shape {arr.shape}", "1-D arrays on a grid")
        if not np.all(np.isfinite(arr)):
            raise bad_value("t", "coordinates with NaN or Inf", "finite coordinates")
        out.append(arr.astype(np.float64))
    return out


def sinc_interpolate(samples: Any, t: Any, *, spacing: Any = 1.0, t0: Any = 0.0,
                     method: str = "auto") -> np.ndarray:
    r"""Whittaker–Shannon reconstruction of a band-limited signal from its samples.

    Parameters
    ----------
    samples : array_like, 1-D or 2-D (any nD)
        ``samples[n] = U(t0 + n·spacing)`` (per axis for 2-D: ``U(nX, mY)``).
    t : array_like or tuple of 1-D arrays
        1-D samples: query coordinates of any shape, the result has ``t``'s shape.
        2-D samples: a tuple ``(x, y)`` of two 1-D coordinate arrays; the result is
        on their outer grid, shape ``(len(x), len(y))``, ``out[i, j] = U(x[i], y[j])``
        (like ``numpy.meshgrid(x, y, indexing='ij')``).
    spacing : float or tuple of float
        Sampling interval X (per axis), > 0.
    t0 : float or tuple of float
        Coordinate of ``samples[0]`` (per axis).
    method : {'auto', 'direct', 'fft'}
        ``'direct'`` evaluates the sum as a matrix product, in blocks of bounded
        memory (O(N·M)).  ``'fft'`` needs query points on a uniform grid whose
        step divides ``spacing`` (``spacing/step`` an integer L) and computes the
        sum as L convolutions through :func:`ndconv.convolve` (O((N + M) log)).
        ``'auto'`` takes the FFT path when it applies and costs less.

    Returns
    -------
    ndarray
        float64 or complex128 (float32/complex64 samples keep their precision).

    Notes
    -----
    With the sampling interval at the Nyquist rate of the notes, X = 1/(2B),

    .. math:: U(x) = 2BX \sum_n U(nX)\, \operatorname{sinc}[2B(x - nX)]
                   = \sum_n U(t_0 + nX)\, \operatorname{sinc}\!\Big(\frac{x - t_0 - nX}{X}\Big),

    :math:`\operatorname{sinc}(s) = \sin(\pi s)/(\pi s)`; in 2-D the kernel is the
    product of one sinc per axis.  **Truncation**: the sum runs over the N given
    samples only, i.e. the signal is taken as zero outside them.  Each missing
    term is :math:`U(nX)\operatorname{sinc}(\cdot)`, of size about
    :math:`|U(nX)| / (\pi d)` at distance d samples, so the reconstruction is
    exact at the sample points, accurate in the interior when the signal decays
    (or is small) near both ends, and falls off to zero outside the window;
    a signal that does not decay (a pure tone) keeps an error of order
    1/(π·distance to the nearest end).  Samples of a signal that is not
    band-limited below 1/(2X) reconstruct its alias (see
    :func:`aliased_frequency`).

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.fourier import sinc_interpolate
    >>> sinc_interpolate([0.0, 1.0, 0.0], [0.5, 1.0, 1.5])   # one sinc lobe
    array([0.63662, 1.     , 0.63662])
    >>> grid = sinc_interpolate(np.eye(2), ([0.0, 0.5], [0.0, 1.0]))
    >>> grid.shape
    (2, 2)
    """
    if method not in METHODS:
        raise bad_choice("method", method, METHODS)
    x = numeric_array("samples", samples)
    if x.ndim == 0 or x.size == 0:
        raise bad_value("samples", f"an array of shape {x.shape}", "a non-empty array with at least one axis")
    steps = _pair("spacing", spacing, x.ndim)
    if any(s <= 0 for s in steps):
        raise bad_value("spacing", spacing, "positive")
    origins = _pair("t0", t0, x.ndim)
    coords = _query(t, x.ndim)
    single = x.dtype.kind in "fc" and x.dtype.itemsize <= {"f": 4, "c": 8}[x.dtype.kind]
    out_dtype = np.result_type(x.dtype, np.float32 if single else np.float64)
    y = x.astype(np.result_type(x.dtype, np.float64))
    for axis in range(x.ndim):
        u = (coords[axis] - origins[axis]) / steps[axis]
        if x.ndim == 1:
            y = _along_last(y, u, method)  # any shape of t
        else:
            y = np.moveaxis(_along_last(np.moveaxis(y, axis, -1), u, method), -1, axis)
    return y.astype(out_dtype, copy=False)
