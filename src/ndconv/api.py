"""``convolve``, ``correlate`` and ``choose_method``: validate → plan → compute → restore."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._spec import make_spec
from ._typing import ArrayLike, Boundary, IntOrTuple, Method, Mode
from .methods import REGISTRY, MethodChoice, Problem, choose, plan


def _problem(x, k, mode, boundary, fill_value, axes, origin, stride, dilation, method, correlate) -> Problem:
    spec = make_spec(x, k, mode=mode, boundary=boundary, fill_value=fill_value, axes=axes, origin=origin,
                     stride=stride, dilation=dilation, method=method, correlate=correlate)
    return Problem(spec)


def _execute(problem: Problem) -> np.ndarray:
    spec = problem.spec
    name = spec.method if spec.method != "auto" else plan(problem)
    y = REGISTRY[str(name)].run(problem)
    return spec.to_user_layout(np.asarray(y).astype(spec.dtype, copy=False))


def convolve(x: ArrayLike, k: ArrayLike, mode: Mode = "full", boundary: Boundary = "constant", *,
             fill_value: Any = 0, axes: Any = None, origin: IntOrTuple = 0, stride: IntOrTuple = 1,
             dilation: IntOrTuple = 1, method: Method = "auto") -> np.ndarray:
    r"""Discrete convolution of ``x`` with the kernel ``k`` in 1-D, 2-D or nD.

    Parameters
    ----------
    x : array_like
        Input; bool, integer, float or complex.
    k : array_like
        Kernel, with at most ``x.ndim`` axes.
    mode : {'full', 'same', 'valid'}
        Which part of the full convolution to return: all ``N + K_d − 1``
        samples, the ``N`` samples centred by ``(K_d − 1)//2 + origin``, or the
        ``N − K_d + 1`` samples where the kernel lies inside ``x``.
    boundary : str
        How ``x`` is extended beyond its edges: ``'constant'`` (aliases
        ``'zero'``, ``'fill'``; value ``fill_value``), ``'wrap'`` (``'periodic'``,
        ``'circular'``), ``'reflect'`` (``'mirror'``; ``dcb|abcd|cba``),
        ``'symmetric'`` (``cba|abcd|dcb``), ``'edge'`` (``'replicate'``,
        ``'nearest'``).  The extension repeats as often as needed.
    fill_value : scalar
        Value outside ``x`` for ``boundary='constant'``.
    axes : int or sequence of int, optional
        Convolved axes of ``x``.  ``None``: all axes if ``k.ndim == x.ndim``,
        else the last ``k.ndim`` axes (the others are batch axes).  With
        ``k.ndim == x.ndim`` and a subset of axes, the other axes broadcast
        (one kernel per batch row).
    origin, stride, dilation : int or sequence of int
        Per convolved axis (an int applies to all).  ``origin`` shifts the
        'same' window (only with ``mode='same'``); ``stride`` keeps every
        ``stride``-th output; ``dilation`` spreads the kernel taps.
    method : {'auto', 'direct', 'fft', 'overlap_add', 'separable'}
        Algorithm; every method gives the same answer, ``'auto'`` the fastest
        by the cost model (see :func:`choose_method`).

    Returns
    -------
    ndarray
        int64 for bool/integer inputs (exact), float32 for float16/float32,
        otherwise ``numpy.result_type(x, k)``.

    Raises
    ------
    ValueError, TypeError
        For bad arguments, naming the argument, the value and what is allowed.
    OverflowError
        When an exact integer result does not fit in int64.

    Notes
    -----
    With the dilated kernel ``h_d`` (``h_d[d·j] = h[j]``, length
    ``K_d = d(K−1)+1``) and the extended input ``x̃``:

    .. math:: y_{full}[n] = \sum_j h_d[j]\, \tilde x[n-j], \qquad n = 0 … N+K_d-2

    'same' takes ``y_full[i + (K_d−1)//2 + origin]``, 'valid' takes
    ``y_full[i + K_d − 1]``, then the stride keeps ``y[0], y[s], …``.  Several
    axes: the same on each axis (an nD sum).  A NaN or Inf reaches exactly the
    outputs whose window holds it, whatever the method.

    Examples
    --------
    The worked example of the course notes, ``x = [3, 1, 2]``, ``h = [3, 2, 1]``:

    >>> import ndconv
    >>> ndconv.convolve([3, 1, 2], [3, 2, 1])
    array([ 9,  9, 11,  5,  2])
    >>> ndconv.convolve([3, 1, 2], [3, 2, 1], mode="same")
    array([ 9, 11,  5])
    >>> ndconv.convolve([1, 2, 3, 4], [1, 1, 1], mode="same", boundary="wrap")
    array([7, 6, 9, 8])
    >>> ndconv.convolve([1., 2., 3., 4., 5.], [1., -1.], mode="valid", stride=2)
    array([1., 1.])
    """
    return _execute(_problem(x, k, mode, boundary, fill_value, axes, origin, stride, dilation, method, False))


def correlate(x: ArrayLike, k: ArrayLike, mode: Mode = "full", boundary: Boundary = "constant", *,
              fill_value: Any = 0, axes: Any = None, origin: IntOrTuple = 0, stride: IntOrTuple = 1,
              dilation: IntOrTuple = 1, method: Method = "auto") -> np.ndarray:
    """Cross-correlation: exactly ``convolve(x, flip(conj(k)), ...)``.

    Same arguments and meaning as :func:`convolve` (the kernel is flipped on
    the convolved axes and conjugated, then everything else is identical).

    Examples
    --------
    The 4×4 example of the course notes, 'valid' as TensorFlow computes it:

    >>> import ndconv
    >>> image = [[0, 10, 10, 0], [20, 30, 30, 20], [10, 20, 20, 10], [0, 5, 5, 0]]
    >>> ndconv.correlate(image, [[1, 0], [0, 2]], mode="valid")
    array([[60, 70, 50],
           [60, 70, 50],
           [20, 30, 20]])
    >>> ndconv.correlate([1, 2, 3, 4, 5], [2, 1], mode="valid")
    array([ 4,  7, 10, 13])
    """
    return _execute(_problem(x, k, mode, boundary, fill_value, axes, origin, stride, dilation, method, True))


def choose_method(x: ArrayLike, k: ArrayLike, mode: Mode = "full", boundary: Boundary = "constant", *,
                  fill_value: Any = 0, axes: Any = None, origin: IntOrTuple = 0, stride: IntOrTuple = 1,
                  dilation: IntOrTuple = 1, method: Method = "auto", correlate: bool = False) -> MethodChoice:
    """The method ``method="auto"`` would run for these arguments.

    Guards come before speed: bool/integer inputs take only exact paths (the
    direct sum, or a float method whose rounded result is provably exact,
    ``Σ|h| · max|x| ≤ 2**40``); an FFT whose buffers would not fit in memory is never chosen (it is
    split by ``overlap_add``); non-finite values add the cost of keeping them
    local.  Among the rest, the lowest predicted time wins (constants measured
    by :func:`ndconv.tune`, built-in defaults otherwise).

    Returns
    -------
    MethodChoice
        A ``str`` (the method name) with ``costs`` (predicted seconds per method,
        ``inf`` where it does not apply), ``reasons`` and ``report()``.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> ndconv.choose_method(np.arange(10), [1, 2, 1])
    MethodChoice('direct')
    >>> choice = ndconv.choose_method(np.ones(4096), np.ones(4096))
    >>> str(choice), sorted(choice.costs)
    ('fft', ['direct', 'fft', 'overlap_add', 'separable'])
    """
    problem = _problem(x, k, mode, boundary, fill_value, axes, origin, stride, dilation, method, correlate)
    return choose(problem)
