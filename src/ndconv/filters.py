"""Classic image filters, each equal to its ``scipy.ndimage`` namesake.

Every filter is a 'same'-sized cross-correlation computed by
:func:`ndconv.correlate` (``method="auto"``), so the core picks the algorithm
(except that a 2-D float Gaussian or box of 7 or more taps per axis goes straight
to one separable filter call with its own 1-D weights — ``sepFilter2D``'s sum, run
by ndconv's fused row loops (OpenCV not needed) — see ``STRAIGHT_TO_OPENCV_TAPS``):
a Gaussian, box, Sobel or Prewitt kernel is an outer product of 1-D vectors,
which the core recognises and runs as 1-D passes (the ``separable`` method;
both passes fused row by row for 2-D float images) whenever
its cost model rates that cheaper — for a 17×17 Gaussian always, for a 3×3
Sobel on a large image not (two passes stream the image twice for 3 taps saved).

Boundaries use ndconv's names (§1 of the contract), **not** ndimage's; the
default is ``boundary="reflect"``, which is ndimage's ``mode="mirror"``::

    ndconv boundary   scipy.ndimage mode   drawn on abcd
    'reflect'         'mirror'             d c b | a b c d | c b a
    'symmetric'       'reflect' (default)  c b a | a b c d | d c b
    'edge'            'nearest'            a a a | a b c d | d d d
    'wrap'            'wrap'               b c d | a b c d | a b c
    'constant'        'constant'           0 0 0 | a b c d | 0 0 0  (fill_value)

Data types follow :func:`ndconv.correlate`: float32 (and float16) give
float32, float64 gives float64, complex stays complex.  Integer and bool
inputs give exact ``int64`` for the integer-weight filters (:func:`sobel`,
:func:`prewitt`, :func:`laplace`) and float64 for the others; ndimage would
instead round the result back into the input's integer type (and wrap around
for unsigned types), so ``sobel(x)`` equals ``ndimage.sobel(x.astype(np.int64))``.

With ``boundary="constant"`` and a non-zero ``fill_value`` the image is
extended by ``fill_value`` and then filtered (§1); ndimage fills the input of
each 1-D pass with ``cval`` instead, which gives the same Gaussian and box
results but a different :func:`sobel`/:func:`prewitt` near the edges.

``match_template`` (normalised cross-correlation) and ``find_matches`` are
documented in :mod:`ndconv._match` and exported here.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache, reduce
from typing import Any

import numpy as np

from ._errors import bad_choice, bad_value, check_memory
from ._match import find_matches, match_template
from ._spec import as_array, normalize_axes, normalize_boundary
from ._typing import ArrayLike, Boundary
from .api import correlate
from .methods import _opencv

__all__ = ["box", "find_matches", "gaussian", "gaussian_kernel", "gradient_magnitude", "laplace",
           "match_template", "prewitt", "sobel"]

#: an nD kernel up to this many taps goes to ``correlate`` whole (the core
#: factors it into 1-D passes); a larger one is applied as 1-D passes here
WHOLE_KERNEL_TAPS = 1 << 16
GRADIENT_OPERATORS = ("sobel", "prewitt")
#: a 2-D float image whose two 1-D weight vectors have at least this many taps each goes
#: straight to one sepFilter2D call (:func:`ndconv.methods._opencv.centred_sep_filter`);
#: with fewer the core's loops over the whole kernel were faster (2048² float32, paired:
#: box 3 and 5 ran 1.48 and 1.2–1.3× slower through sepFilter2D, Gaussian σ=0.5 1.34×;
#: from 7 taps on it was 0.90–0.94 of the core's path)
STRAIGHT_TO_OPENCV_TAPS = 7


def _image(x: ArrayLike) -> np.ndarray:
    arr = as_array(x, "x")
    if arr.ndim == 0 or arr.size == 0:
        raise bad_value("x", arr, "a non-empty array with at least one axis")
    return arr


def _weight_dtype(x: np.ndarray, integer_weights: bool) -> type:
    """Kernel dtype that keeps the result type of §2 (float32 stays float32)."""
    if x.dtype.kind in "biu":
        return np.int64 if integer_weights else np.float64
    return np.float32 if x.dtype in (np.float16, np.float32, np.complex64) else np.float64


def _axes(axes: object, ndim: int) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(ndim))
    return normalize_axes(axes, ndim, ndim)[0]


def _per_axis_float(name: str, value: object, n: int) -> tuple[float, ...]:
    allowed = f"a number >= 0 or a sequence of {n} numbers >= 0"
    items = [value] if isinstance(value, (numbers.Real, np.floating, np.integer)) else value
    try:
        values = tuple(float(v) for v in items)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise bad_value(name, value, allowed) from exc
    if len(values) == 1:
        values = values * n
    if len(values) != n or not all(math.isfinite(v) and v >= 0 for v in values):
        raise bad_value(name, value, allowed)
    return values


def _separable(x: np.ndarray, vectors: dict[int, np.ndarray], boundary: Any, fill_value: Any) -> np.ndarray:
    """Correlate ``x`` ('same') with the outer product of ``vectors`` (axis → 1-D weights)."""
    axes = sorted(vectors)
    taps = math.prod(vectors[a].size for a in axes)
    if not axes:  # identity on every axis: still the result type of correlate
        return correlate(x, np.ones((1,) * x.ndim, dtype=_weight_dtype(x, False)), "same", boundary,
                         fill_value=fill_value)
    if len(axes) == 2 and x.ndim == 2 and min(v.size for v in vectors.values()) >= STRAIGHT_TO_OPENCV_TAPS:
        fast = _opencv.centred_sep_filter(x, vectors[0], vectors[1], normalize_boundary(boundary), fill_value)
        if fast is not None:
            return fast
    if len(axes) == 1 or taps > WHOLE_KERNEL_TAPS:
        for a in axes:
            x = correlate(x, vectors[a], "same", boundary, fill_value=fill_value, axes=a)
        return x
    kernel = reduce(np.multiply.outer, [vectors[a] for a in axes])
    return correlate(x, kernel, "same", boundary, fill_value=fill_value,
                     axes=None if len(axes) == x.ndim else tuple(axes))


def _gaussian_1d(sigma: float, truncate: float) -> np.ndarray:
    """scipy.ndimage's weights: radius ``int(truncate·sigma + 0.5)``, normalised."""
    radius = int(truncate * sigma + 0.5)
    if sigma == 0 or radius == 0:
        return np.ones(1)
    # the taps, their squares, the exponentials and the normalised weights
    check_memory("the Gaussian kernel", (2 * radius + 1,), 4 * 8 * (2 * radius + 1),
                 f" for sigma={sigma:g} and truncate={truncate:g}")
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * t * t)
    return weights / weights.sum()


@lru_cache(maxsize=64)
def _gaussian_weights(sigma: float, truncate: float, dtype: type) -> np.ndarray:
    """:func:`_gaussian_1d` in ``dtype``, read-only, kept: a filter called in a loop (or after a
    pass over a large image, caches cold) spent a tenth of a 2048² call building it."""
    weights = _gaussian_1d(sigma, truncate).astype(dtype)
    weights.flags.writeable = False
    return weights


def _truncate(truncate: object) -> float:
    if isinstance(truncate, (numbers.Real, np.floating, np.integer)) and math.isfinite(truncate) and truncate >= 0:
        return float(truncate)
    raise bad_value("truncate", truncate, "a finite number >= 0")


def gaussian_kernel(sigma: float | tuple[float, ...], *, ndim: int = 2, truncate: float = 4.0) -> np.ndarray:
    """The normalised Gaussian kernel that :func:`gaussian` applies.

    Parameters
    ----------
    sigma : float or sequence of float
        Standard deviation in samples, one for all axes or one per axis
        (``0`` leaves that axis alone: the kernel has length 1 there).
    ndim : int
        Number of axes of the kernel.
    truncate : float
        Radius in standard deviations: each axis has ``2r + 1`` taps with
        ``r = int(truncate·sigma + 0.5)``, the rule of ``scipy.ndimage``.

    Returns
    -------
    ndarray
        float64, shape ``(2r₀+1, …)``, summing to 1: the outer product of the
        1-D kernels ``exp(−t²/2σ²)``, each normalised.

    Examples
    --------
    >>> from ndconv.filters import gaussian_kernel
    >>> gaussian_kernel(1.0, ndim=1, truncate=2.0).round(4)
    array([0.0545, 0.2442, 0.4026, 0.2442, 0.0545])
    >>> gaussian_kernel((1.0, 0.5)).shape
    (9, 5)
    >>> float(gaussian_kernel(2.0).sum())
    1.0
    """
    if not isinstance(ndim, (numbers.Integral, np.integer)) or isinstance(ndim, bool) or ndim < 1:
        raise bad_value("ndim", ndim, "an int >= 1")
    sigmas = _per_axis_float("sigma", sigma, int(ndim))
    truncate = _truncate(truncate)
    vectors = [_gaussian_1d(s, truncate) for s in sigmas]
    shape = tuple(v.size for v in vectors)
    # the outer products, the last one and the one before it
    check_memory("the Gaussian kernel", shape, 2 * 8 * math.prod(shape), f" for sigma={sigma!r}")
    return reduce(np.multiply.outer, vectors)


def gaussian(x: ArrayLike, sigma: float | tuple[float, ...], *, boundary: Boundary = "reflect",
             fill_value: Any = 0, truncate: float = 4.0, axes: Any = None) -> np.ndarray:
    """Gaussian blur, equal to ``scipy.ndimage.gaussian_filter``.

    Parameters
    ----------
    x : array_like
        Input of any number of axes.
    sigma : float or sequence of float
        Standard deviation, for all filtered axes or one per axis in ``axes``.
    boundary : str
        ndconv boundary rule (module docstring: ``'reflect'`` is ndimage's
        ``'mirror'``, ``'symmetric'`` ndimage's ``'reflect'``).
    fill_value : scalar
        Value outside ``x`` for ``boundary='constant'``.
    truncate : float
        Kernel radius in standard deviations (see :func:`gaussian_kernel`).
    axes : int or sequence of int, optional
        Axes to blur; all by default.

    Returns
    -------
    ndarray
        Same shape as ``x``; float32 for float16/float32, float64 for
        float64 and integers, complex for complex inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.filters import gaussian
    >>> gaussian(np.array([0.0, 0.0, 1.0, 0.0, 0.0]), 1.0, truncate=1.0).round(4)
    array([0.    , 0.2741, 0.4519, 0.2741, 0.    ])
    """
    x = _image(x)
    axes_ = _axes(axes, x.ndim)
    sigmas = _per_axis_float("sigma", sigma, len(axes_))
    truncate = _truncate(truncate)
    dtype = _weight_dtype(x, False)
    vectors = {a: _gaussian_weights(s, truncate, dtype) for a, s in zip(axes_, sigmas)}
    return _separable(x, {a: v for a, v in vectors.items() if v.size > 1}, boundary, fill_value)


def _derivative(x: np.ndarray, axis: object, smooth: list[int], boundary: Any, fill_value: Any) -> np.ndarray:
    if not isinstance(axis, (numbers.Integral, np.integer)) or isinstance(axis, bool) \
            or not -x.ndim <= axis < x.ndim:
        raise bad_value("axis", axis, f"an int in [-{x.ndim}, {x.ndim - 1}]")
    dtype = _weight_dtype(x, True)
    vectors = {a: np.array(smooth, dtype=dtype) for a in range(x.ndim)}
    vectors[int(axis) % x.ndim] = np.array([-1, 0, 1], dtype=dtype)
    return _separable(x, vectors, boundary, fill_value)


def sobel(x: ArrayLike, axis: int = -1, *, boundary: Boundary = "reflect", fill_value: Any = 0) -> np.ndarray:
    """Sobel derivative along ``axis``, equal to ``scipy.ndimage.sobel``.

    Correlates with ``[-1, 0, 1]`` along ``axis`` (``y[i] = x[i+1] − x[i−1]``:
    positive where values grow) and smooths with ``[1, 2, 1]`` along every
    other axis, in any number of dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.filters import sobel
    >>> ramp = np.tile(np.arange(5.0), (3, 1))
    >>> sobel(ramp, axis=1)
    array([[0., 8., 8., 8., 0.],
           [0., 8., 8., 8., 0.],
           [0., 8., 8., 8., 0.]])
    >>> sobel(np.arange(5), boundary="edge")       # integers: exact int64
    array([1, 2, 2, 2, 1])
    """
    return _derivative(_image(x), axis, [1, 2, 1], boundary, fill_value)


def prewitt(x: ArrayLike, axis: int = -1, *, boundary: Boundary = "reflect", fill_value: Any = 0) -> np.ndarray:
    """Prewitt derivative along ``axis``, equal to ``scipy.ndimage.prewitt``.

    ``[-1, 0, 1]`` along ``axis``, ``[1, 1, 1]`` along every other axis.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.filters import prewitt
    >>> prewitt(np.tile(np.arange(4.0), (3, 1)), axis=1, boundary="edge")
    array([[3., 6., 6., 3.],
           [3., 6., 6., 3.],
           [3., 6., 6., 3.]])
    """
    return _derivative(_image(x), axis, [1, 1, 1], boundary, fill_value)


def laplace(x: ArrayLike, *, boundary: Boundary = "reflect", fill_value: Any = 0) -> np.ndarray:
    """Discrete Laplacian, equal to ``scipy.ndimage.laplace``.

    The sum over all axes of the second difference ``x[i−1] − 2x[i] + x[i+1]``
    (in 2-D the 5-point stencil), computed as one correlation.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.filters import laplace
    >>> laplace(np.array([0, 0, 1, 0, 0]))
    array([ 0,  1, -2,  1,  0])
    >>> laplace(np.eye(3), boundary="constant")
    array([[-4.,  2.,  0.],
           [ 2., -4.,  2.],
           [ 0.,  2., -4.]])
    """
    x = _image(x)
    dtype = _weight_dtype(x, True)
    if 3 ** x.ndim > WHOLE_KERNEL_TAPS:
        total = None
        for a in range(x.ndim):
            term = correlate(x, np.array([1, -2, 1], dtype=dtype), "same", boundary, fill_value=fill_value, axes=a)
            total = term if total is None else total + term
        return total
    kernel = np.zeros((3,) * x.ndim, dtype=dtype)
    centre = (1,) * x.ndim
    kernel[centre] = -2 * x.ndim
    for a in range(x.ndim):
        for side in (0, 2):
            kernel[centre[:a] + (side,) + centre[a + 1:]] = 1
    return correlate(x, kernel, "same", boundary, fill_value=fill_value)


def box(x: ArrayLike, size: int | tuple[int, ...], *, boundary: Boundary = "reflect", fill_value: Any = 0,
        axes: Any = None) -> np.ndarray:
    """Moving average over a ``size`` box, equal to ``scipy.ndimage.uniform_filter``.

    Parameters
    ----------
    size : int or sequence of int
        Box length, for all filtered axes or one per axis in ``axes``.  An
        even length puts the extra sample before the centre:
        ``y[i] = mean(x[i − size//2 … i + (size−1)//2])``, as ndimage does.

    Other parameters as in :func:`gaussian`.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.filters import box
    >>> box(np.array([0.0, 3.0, 6.0, 9.0]), 3, boundary="edge")
    array([1., 3., 6., 8.])
    """
    x = _image(x)
    axes_ = _axes(axes, x.ndim)
    allowed = f"an int >= 1 or a sequence of {len(axes_)} ints >= 1"
    items = [size] if isinstance(size, (numbers.Integral, np.integer)) else size
    try:
        sizes = [int(s) for s in items if isinstance(s, (numbers.Integral, np.integer)) and not isinstance(s, bool)]
        ok = len(sizes) == len(list(items)) and len(sizes) in (1, len(axes_)) and min(sizes) >= 1
    except TypeError:
        ok = False
    if not ok:
        raise bad_value("size", size, allowed)
    sizes = sizes * len(axes_) if len(sizes) == 1 else sizes
    dtype = _weight_dtype(x, False)
    taps = sum(s for s in sizes if s > 1)
    check_memory("the box weights", (taps,), taps * np.dtype(dtype).itemsize, f" for size={size!r}")
    vectors = {a: np.full(s, 1.0 / s, dtype=dtype) for a, s in zip(axes_, sizes) if s > 1}
    return _separable(x, vectors, boundary, fill_value)


def gradient_magnitude(x: ArrayLike, *, operator: str = "sobel", boundary: Boundary = "reflect",
                       fill_value: Any = 0) -> np.ndarray:
    """``sqrt(Σ_axis derivative(x, axis)²)``, equal to
    ``scipy.ndimage.generic_gradient_magnitude(x, scipy.ndimage.sobel)``.

    Parameters
    ----------
    operator : {'sobel', 'prewitt'}
        The derivative filter applied along each axis.

    Returns
    -------
    ndarray
        float32 for float16/float32 inputs, float64 otherwise (integer inputs
        are differentiated exactly, then squared in float64); the modulus for
        complex inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.filters import gradient_magnitude
    >>> gradient_magnitude(np.tile(np.arange(4.0), (3, 1)), boundary="edge")
    array([[4., 8., 8., 4.],
           [4., 8., 8., 4.],
           [4., 8., 8., 4.]])
    """
    if not isinstance(operator, str) or operator not in GRADIENT_OPERATORS:
        raise bad_choice("operator", operator, GRADIENT_OPERATORS)
    x = _image(x)
    derivative = sobel if operator == "sobel" else prewitt
    total = None
    for a in range(x.ndim):
        d = derivative(x, a, boundary=boundary, fill_value=fill_value)
        if d.dtype.kind == "c":
            d = np.abs(d)
        elif d.dtype.kind == "i":
            d = d.astype(np.float64)
        d *= d
        total = d if total is None else np.add(total, d, out=total)
    return np.sqrt(total, out=total)
