"""The DFT as a matrix, centred transforms and their frequency grids."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
import scipy.fft

from .._errors import MemoryLimitError, bad_choice, bad_type, bad_value, check_memory
from .._memory import available_bytes, format_bytes

NORMS = (None, "backward", "ortho", "forward")
_BLOCK_BYTES = 1 << 24  # index temporaries of dft_matrix, per block of rows


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int ≥ 1, or the error that names ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise bad_type(name, value, "a positive int")
    try:
        n = operator.index(value)
    except TypeError:
        raise bad_type(name, value, "a positive int") from None
    if n < 1:
        raise bad_value(name, n, "a positive int")
    return n


def positive_float(name: str, value: Any) -> float:
    """``value`` as a finite float > 0, or the error that names ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise bad_type(name, value, "a positive real number")
    if not (math.isfinite(value) and value > 0):
        raise bad_value(name, value, "a positive finite number")
    return float(value)


def numeric_array(name: str, value: Any) -> np.ndarray:
    """``value`` as an ndarray of bool, integer, float or complex dtype."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise bad_type(name, arr, "an array of numbers")
    return arr


def _unit_roots(n: int) -> np.ndarray:
    """``w[m] = exp(−2πi m/n)``, m = 0 … n−1, accurate to the last bit: the angle is
    reduced to [−π, π] and the quarter turns (1, −i, −1, i) are exact."""
    m = np.arange(n)
    signed = np.where(2 * m > n, m - n, m)
    angle = (2 * np.pi / n) * signed
    w = np.cos(angle) - 1j * np.sin(angle)
    quarter = (4 * m) % n == 0
    w[quarter] = np.array([1, -1j, -1, 1j])[(4 * m[quarter]) // n]
    return w


def dft_matrix(n: int, *, centered: bool = False) -> np.ndarray:
    r"""The n×n matrix of the discrete Fourier transform.

    Parameters
    ----------
    n : int
        Size, ≥ 1.
    centered : bool
        ``False``: ``F @ u == numpy.fft.fft(u)`` (row 0 is :math:`f_x = 0`).
        ``True``: ``F @ u == fftshift(fft(ifftshift(u)))`` (the middle row,
        ``n//2``, is :math:`f_x = 0` and the middle sample is :math:`x = 0`).

    Returns
    -------
    ndarray, complex128, shape (n, n)

    Notes
    -----
    :math:`\hat u[f_x] = \sum_{x=0}^{M-1} u[x] \exp(-2\pi i f_x x / M)`, so
    :math:`F[f, x] = w^{f x}` with :math:`w = e^{-2\pi i/M}`.  The exponent is
    taken as the exact integer :math:`f x \bmod M` and looked up in a table of the
    M roots of unity, so entries are correct to rounding even for large n.  The
    centred matrix is :math:`F_c[a, b] = w^{(a - h)(b - h)}`, ``h = n//2``: the
    rows and columns of F reindexed by ``fftshift``, i.e. equal to
    ``fftshift(fft(ifftshift(eye(n), axes=0), axis=0), axes=0)``.  The matrix
    needs ``16 n²`` bytes; a size that does not fit in the memory available is
    refused with a ValueError before anything is allocated.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.fourier import dft_matrix
    >>> dft_matrix(4).real
    array([[ 1.,  1.,  1.,  1.],
           [ 1.,  0., -1.,  0.],
           [ 1., -1.,  1., -1.],
           [ 1.,  0., -1.,  0.]])
    >>> u = np.array([1.0, 2.0, 0.0, -1.0])
    >>> np.allclose(dft_matrix(4) @ u, np.fft.fft(u))
    True
    """
    n = positive_int("n", n)
    need = 16 * n * n
    available = available_bytes(need)
    if need > available:
        raise MemoryLimitError(f"n={n} gives a dft_matrix of {format_bytes(need)}, more than the "
                         f"{format_bytes(available)} of memory available")
    shift = n // 2 if centered else 0
    roots = _unit_roots(n)
    index = np.arange(n, dtype=np.int64) - shift  # frequency (rows) and position (columns) indices
    out = np.empty((n, n), dtype=np.complex128)
    rows = max(1, _BLOCK_BYTES // (8 * n))
    for start in range(0, n, rows):
        block = index[start:start + rows, None] * index[None, :]  # |f·x| < n², exact in int64
        out[start:start + rows] = roots[np.mod(block, n)]
    return out


def _axes_and_norm(x: np.ndarray, axes: Any, norm: Any) -> tuple[int, ...]:
    if norm not in NORMS:
        raise bad_choice("norm", norm, NORMS)
    if x.ndim == 0:
        raise bad_value("x", x, "an array with at least one axis")
    if axes is None:
        axes_t = tuple(range(x.ndim))
    else:
        try:
            axes_t = tuple(operator.index(a) for a in np.atleast_1d(np.asarray(axes, dtype=object)))
        except TypeError:
            raise bad_type("axes", axes, "an int or a sequence of ints") from None
        if any(not -x.ndim <= a < x.ndim for a in axes_t):
            raise bad_value("axes", axes, f"axes of an array with {x.ndim} dimensions")
        axes_t = tuple(a % x.ndim for a in axes_t)
        if len(set(axes_t)) != len(axes_t):
            raise bad_value("axes", axes, "distinct axes")
    for a in axes_t:
        if x.shape[a] == 0:
            raise bad_value("x", x.shape, f"non-empty along the transformed axes (axis {a} has length 0)")
    return axes_t


def cfft(x: Any, axes: Any = None, norm: str | None = None) -> np.ndarray:
    """Centred nD DFT: ``fftshift(fftn(ifftshift(x)))`` over ``axes``.

    The zero position is the middle sample ``n//2`` of each axis, and the zero
    frequency lands in the middle of the output (``freqs(n, centered=True)``).

    Parameters
    ----------
    x : array_like
        Numbers (bool, integer, float or complex).
    axes : int or sequence of int, optional
        Transformed axes; ``None`` (default) transforms all of them.
    norm : {None, 'backward', 'ortho', 'forward'}
        As in :func:`scipy.fft.fftn`.

    Returns
    -------
    ndarray, complex (complex64 for float32 input, as scipy.fft)

    Examples
    --------
    >>> from ndconv.fourier import cfft
    >>> cfft([0.0, 0.0, 1.0, 0.0, 0.0])   # a centred impulse has a flat, real spectrum
    array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    arr = numeric_array("x", x)
    axes_t = _axes_and_norm(arr, axes, norm)
    y = scipy.fft.fftn(scipy.fft.ifftshift(arr, axes=axes_t), axes=axes_t, norm=norm)
    return scipy.fft.fftshift(y, axes=axes_t)


def icfft(x: Any, axes: Any = None, norm: str | None = None) -> np.ndarray:
    """Inverse of :func:`cfft`: ``fftshift(ifftn(ifftshift(x)))`` over ``axes``.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.fourier import cfft, icfft
    >>> u = np.arange(6.0).reshape(2, 3)
    >>> np.allclose(icfft(cfft(u)), u)
    True
    """
    arr = numeric_array("x", x)
    axes_t = _axes_and_norm(arr, axes, norm)
    y = scipy.fft.ifftn(scipy.fft.ifftshift(arr, axes=axes_t), axes=axes_t, norm=norm)
    return scipy.fft.fftshift(y, axes=axes_t)


def freqs(n: int, d: float = 1.0, *, centered: bool = False) -> np.ndarray:
    """The frequencies of the n DFT bins for sample spacing ``d``.

    ``centered=False``: the order of :func:`numpy.fft.fft` (equal to
    :func:`numpy.fft.fftfreq`); ``centered=True``: the order of :func:`cfft`,
    ``(k − n//2) / (n d)`` for k = 0 … n−1, zero in the middle.

    Examples
    --------
    >>> from ndconv.fourier import freqs
    >>> freqs(4)
    array([ 0.  ,  0.25, -0.5 , -0.25])
    >>> freqs(4, centered=True)
    array([-0.5 , -0.25,  0.  ,  0.25])
    >>> freqs(5, d=0.1, centered=True)
    array([-4., -2.,  0.,  2.,  4.])
    """
    n = positive_int("n", n)
    d = positive_float("d", d)
    check_memory("the frequencies", (n,), 3 * 8 * n, " with the integer bins and the shifted copy")
    f = np.fft.fftfreq(n, d)
    return np.fft.fftshift(f) if centered else f
