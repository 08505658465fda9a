"""Band-limited resampling and the apparent frequency after sampling."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from .._errors import bad_type, bad_value, check_memory
from ._dft import numeric_array, positive_int


def resample(x: Any, num: int, axis: int = -1) -> np.ndarray:
    r"""Resample ``x`` to ``num`` samples along ``axis`` by zero-padding or
    truncating its spectrum; equal to :func:`scipy.signal.resample`.

    Parameters
    ----------
    x : array_like
        Samples of a periodic, band-limited signal (real or complex).
    num : int
        Number of samples of the result, ≥ 1.
    axis : int
        Resampled axis.

    Returns
    -------
    ndarray
        ``num`` samples over the same interval: ``y[k] = U(k · N/num · X)``.

    Notes
    -----
    With :math:`\hat u = \mathrm{fft}(u)` of length N, the result is
    :math:`\frac{M}{N}\,\mathrm{ifft}_M(\hat v)` where :math:`\hat v` keeps the
    frequencies :math:`|f_x| < \min(N, M)/2` and is zero elsewhere.  When the
    smaller length is even, its Nyquist bin :math:`f_x = \pm\min(N, M)/2` is
    shared: upsampling splits :math:`\hat u[N/2]` in two halves at :math:`\pm N/2`,
    downsampling adds the two bins :math:`\pm M/2` of :math:`\hat u`.  Real input
    gives a real result (SciPy's rfft path).  The result interpolates the periodic
    extension of ``x``, so a signal that is not periodic on the window rings near
    its ends.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.fourier import resample
    >>> resample(np.cos(2 * np.pi * np.arange(4) / 4), 8).round(6)
    array([ 1.      ,  0.707107,  0.      , -0.707107, -1.      , -0.707107,
            0.      ,  0.707107])
    """
    arr = numeric_array("x", x)
    num = positive_int("num", num)
    if isinstance(axis, (bool, np.bool_)):
        raise bad_type("axis", axis, "an int")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise bad_type("axis", axis, "an int") from None
    if arr.ndim == 0 or not -arr.ndim <= axis < arr.ndim:
        raise bad_value("axis", axis, f"an axis of an array with {arr.ndim} dimensions")
    if arr.shape[axis] == 0:
        raise bad_value("x", f"an array of shape {arr.shape}", f"non-empty along axis {axis}")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    shape = arr.shape[:axis % arr.ndim] + (num,) + arr.shape[axis % arr.ndim + 1:]
    item = 16 if arr.dtype.kind == "c" else 8
    check_memory("the result", shape, 3 * item * math.prod(shape), " with its spectrum and a working copy")
    from scipy.signal import resample as scipy_resample  # scipy.signal imports slowly: on first use

    return scipy_resample(arr, num, axis=axis)


def aliased_frequency(f: Any, fs: Any) -> np.ndarray | np.floating:
    r"""The frequency in [0, fs/2] that a tone of frequency ``f`` appears at after
    sampling at rate ``fs``.

    Parameters
    ----------
    f : array_like of real
        Frequencies (any sign; finite).
    fs : array_like of real
        Sampling rates, > 0 and finite; broadcasts against ``f``.

    Returns
    -------
    ndarray or numpy scalar, float64

    Notes
    -----
    Sampling replicates the spectrum at every multiple of fs
    (:math:`\hat U_s(f_x) = \sum_n \hat U(f_x - n/X)`, fs = 1/X), and a real tone
    has the two lines ±f.  The line that falls in the baseband
    [−fs/2, fs/2] is :math:`f - n f_s` with n = round(f/fs); its magnitude is
    the apparent frequency: :math:`f_a = \min(f \bmod f_s,\; f_s - f \bmod f_s)`.
    A tone is reproduced faithfully only when f < fs/2 (Nyquist: fs = 2B).

    Examples
    --------
    >>> from ndconv.fourier import aliased_frequency
    >>> aliased_frequency([1, 4, 6, 9, 10, 11, 14, -3], fs=10)
    array([1., 4., 4., 1., 0., 1., 4., 3.])
    """
    f_arr = np.asarray(f)
    fs_arr = np.asarray(fs)
    for name, arr in (("f", f_arr), ("fs", fs_arr)):
        if arr.dtype.kind not in "iuf":
            raise bad_type(name, arr, "real numbers")
    if not np.all(np.isfinite(f_arr)):
        raise bad_value("f", f if f_arr.ndim == 0 else "an array with NaN or Inf", "finite")
    if not np.all(np.isfinite(fs_arr) & (fs_arr > 0)):
        raise bad_value("fs", fs if fs_arr.ndim == 0 else "an array with values ≤ 0, NaN or Inf", "positive and finite")
    f64, fs64 = f_arr.astype(np.float64), fs_arr.astype(np.float64)
    rest = np.mod(f64, fs64)
    out = np.minimum(rest, fs64 - rest)
    return out[()] if out.ndim == 0 else out
