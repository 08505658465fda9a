"""Extension of an array beyond its edges by the five boundary rules.

Drawn on ``abcd`` with three samples each side::

    constant   0 0 0 | a b c d | 0 0 0      (fill_value)
    wrap       b c d | a b c d | a b c
    reflect    d c b | a b c d | c b a      (edge not repeated)
    symmetric  c b a | a b c d | d c b      (edge repeated)
    edge       a a a | a b c d | d d d

Every rule repeats as far as needed, so a kernel longer than the input is fine:
``reflect`` is periodic with period ``2(n-1)``, ``symmetric`` with ``2n``,
``wrap`` with ``n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._spec import normalize_boundary

_NUMPY_MODE = {"wrap": "wrap", "reflect": "reflect", "symmetric": "symmetric", "edge": "edge"}


def extension_index(n: int, first: int, last: int, boundary: str) -> tuple[np.ndarray, np.ndarray]:
    """Source index of x̃[first … last] in x, and a mask of the samples inside x.

    For ``boundary="constant"`` the samples outside are ``fill_value`` (the mask is
    False there and the index is clipped); for every other rule the mask is all True.

    >>> extension_index(4, -3, 6, "reflect")[0]
    array([3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
    >>> extension_index(4, -3, 6, "symmetric")[0]
    array([2, 1, 0, 0, 1, 2, 3, 3, 2, 1])
    """
    boundary = normalize_boundary(boundary)
    i = np.arange(first, last + 1)
    inside = (i >= 0) & (i < n)
    if boundary == "constant":
        return np.clip(i, 0, n - 1), inside
    if boundary == "wrap":
        idx = i % n
    elif boundary == "edge":
        idx = np.clip(i, 0, n - 1)
    elif boundary == "symmetric":
        m = i % (2 * n)
        idx = np.where(m < n, m, 2 * n - 1 - m)
    elif n == 1:  # reflect of a single sample
        idx = np.zeros_like(i)
    else:  # reflect
        period = 2 * (n - 1)
        m = i % period
        idx = np.where(m < n, m, period - m)
    return idx, np.ones_like(inside)


def extend(x: np.ndarray, pad: tuple[tuple[int, int], ...], boundary: str, fill_value: Any = 0) -> np.ndarray:
    """Extend the last ``len(pad)`` axes of ``x`` by ``(before, after)`` samples each.

    >>> extend(np.array([1, 2, 3, 4]), ((3, 3),), "reflect")
    array([4, 3, 2, 1, 2, 3, 4, 3, 2, 1])
    >>> extend(np.array([1, 2]), ((3, 3),), "wrap")
    array([2, 1, 2, 1, 2, 1, 2, 1])
    """
    boundary = normalize_boundary(boundary)
    widths = ((0, 0),) * (x.ndim - len(pad)) + tuple(pad)
    if not any(b or a for b, a in widths):
        return x
    if boundary == "constant":
        return np.pad(x, widths, mode="constant", constant_values=fill_value)
    # numpy.pad repeats wrap/reflect/symmetric/edge correctly for any width
    return np.pad(x, widths, mode=_NUMPY_MODE[boundary])
