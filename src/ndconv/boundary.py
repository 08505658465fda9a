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

import math
import operator
from functools import lru_cache
from typing import Any

import numpy as np

from ._errors import bad_value, check_memory
from ._fold_loops import add_columns
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
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise bad_value("n", n, "an int >= 1 (the length of x along the axis)")
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
    widths = ((0, 0),) * (x.ndim - len(pad)) + _pad_pairs(x, pad)
    if not any(b or a for b, a in widths):
        return x
    if boundary != "constant" and any((b or a) and n == 0 for n, (b, a) in zip(x.shape, widths)):
        raise bad_value("x", f"an array of shape {x.shape}",
                        f"non-empty along each extended axis (only 'constant' extends an empty axis, not {boundary!r})")
    shape = tuple(n + b + a for n, (b, a) in zip(x.shape, widths))
    check_memory("the extended input", shape, math.prod(shape) * x.dtype.itemsize)
    if boundary == "constant":
        # a filled array and one copy: numpy.pad took twice as long (B64 3×32² batch: 0.28 → 0.13 ms)
        order = "F" if x.flags.fnc else "C"   # as numpy.pad
        if _is_zero(fill_value):
            out = np.zeros(shape, x.dtype, order)
        else:
            value = np.asarray(fill_value)
            if x.dtype.kind in "iub" and value.dtype.kind == "f":
                int(value)                    # NaN and ±∞ raise, as in numpy.pad
            out = np.empty(shape, x.dtype, order)
            out[...] = value                  # numpy.pad's casting (complex to real, -1 to uint8 255)
        out[tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, widths))] = x
        return out
    # numpy.pad repeats wrap/reflect/symmetric/edge correctly for any width
    return np.pad(x, widths, mode=_NUMPY_MODE[boundary])


def _pad_pairs(x: np.ndarray, pad) -> tuple[tuple[int, int], ...]:
    """``pad`` as (before, after) pairs of ints >= 0, at most one per axis of ``x``."""
    allowed = f"at most {x.ndim} (before, after) pairs of ints >= 0, one per last axis of x"
    try:
        pairs = tuple((operator.index(before), operator.index(after)) for before, after in pad)
    except (TypeError, ValueError):
        raise bad_value("pad", pad, allowed) from None
    if len(pairs) > x.ndim or any(before < 0 or after < 0 for before, after in pairs):
        raise bad_value("pad", pad, allowed)
    return pairs


def _is_zero(value: Any) -> bool:
    """``value`` is +0 (−0.0 is not: a fill of −0.0 keeps its sign, as numpy.pad's does)."""
    try:
        return bool(value == 0) and not bool(np.signbit(np.real(value)))
    except (TypeError, ValueError):
        return False


def fold(z: np.ndarray, pad: tuple[tuple[int, int], ...], boundary: str, *,
         overwrite_input: bool = False) -> np.ndarray:
    """The adjoint of :func:`extend`: add every extended sample back onto its source.

    ``z`` holds x̃ on its last ``len(pad)`` axes, ``before`` samples before x and
    ``after`` samples after it (a negative width means x̃ starts or ends inside
    x: those samples of x receive nothing).  Each sample x̃[m] is added onto
    x[source(m)] by the boundary rule (:func:`extension_index`), so repeats
    of a long extension are all summed; for ``boundary="constant"`` the samples
    outside x are dropped (the fill value is a constant, not a function of x).

    ``⟨extend(x, pad, b), z⟩ = ⟨x, fold(z, pad, b)⟩`` for every x and z.

    Parameters
    ----------
    z : ndarray
        The extended array.
    pad : sequence of (int, int)
        ``(before, after)`` for each of the last ``len(pad)`` axes.
    boundary : str
        Any boundary rule or alias.
    overwrite_input : bool
        Allow the result to be a view of ``z`` with ``z`` changed in place
        (no copy when x̃ covers x); a read-only ``z`` is copied all the same.

    Examples
    --------
    >>> fold(np.array([1, 10, 100, 1000, 10000, 100000, 1000000]), ((2, 1),), "reflect")
    array([    100,    1010, 1010001,  100000])
    >>> fold(np.arange(1, 8), ((2, 2),), "wrap")
    array([ 9, 12,  7])
    >>> fold(np.arange(1, 8), ((2, 2),), "constant")
    array([3, 4, 5])
    """
    boundary = normalize_boundary(boundary)
    z = np.asarray(z)
    pad = tuple((int(before), int(after)) for before, after in pad)
    lead = z.ndim - len(pad)
    if lead < 0:
        raise ValueError(f"pad must not name more axes than z has, got {len(pad)} pairs for z.ndim={z.ndim}")
    owned = overwrite_input and z.flags.writeable   # a read-only z is copied, not written
    for i, (before, after) in enumerate(pad):
        n = z.shape[lead + i] - before - after
        if n < 1:
            raise ValueError(f"pad must leave at least one sample of x on axis {lead + i}, got "
                             f"(before, after)={(before, after)} for length {z.shape[lead + i]}")
        z, owned = _fold_axis(z, lead + i, n, -before, boundary, owned)
    return z if owned else z.copy()


def _fold_axis(z: np.ndarray, axis: int, n: int, first: int, boundary: str,
               owned: bool) -> tuple[np.ndarray, bool]:
    """Fold x̃[first … first+L−1] along ``axis`` onto x of length ``n``."""
    length = z.shape[axis]
    lo = min(max(0, -first), length)          # z[lo:hi] lies inside x
    hi = max(min(length, n - first), lo)
    zm = np.moveaxis(z, axis, 0)
    if hi - lo == n:                          # x̃ covers x: the inside part is a view
        out = zm[lo:hi] if owned else zm[lo:hi].copy()
    else:
        out = np.zeros((n,) + zm.shape[1:], dtype=z.dtype)
        out[first + lo:first + hi] = zm[lo:hi]
    if boundary != "constant":
        columns = z.ndim == 2 and axis == 1 and z.dtype.kind in "fc"
        for begin, end in ((0, lo), (hi, length)):   # only the samples outside x: O(border)
            if end > begin:
                source, run, unique = _border(n, first + begin, first + end - 1, boundary)
                values = zm[begin:end]
                if columns:        # strided columns of a 2-D image: one compiled pass over the rows
                    add_columns(values.T, out.T, source)
                elif run is not None:
                    out[run] += values
                elif unique:
                    out[source] += values
                else:
                    np.add.at(out, source, values)
    return np.moveaxis(out, 0, axis), True


@lru_cache(maxsize=256)
def _border(n: int, first: int, last: int, boundary: str) -> tuple[np.ndarray, slice | None, bool]:
    """Where the border samples x̃[first … last] come from (:func:`extension_index`), as a
    slice when they run by ±1, and whether no source repeats; kept, since an operator's
    adjoint folds the same borders every call (their Python cost was 0.1 ms a call)."""
    source = extension_index(n, first, last, boundary)[0]
    source.flags.writeable = False
    return source, _as_run(source), np.unique(source).size == source.size


def _as_run(source: np.ndarray) -> slice | None:
    """``source`` as a slice when it steps by +1 or −1 (every reflect/wrap border that fits
    in x): a strided add, where an index array gathers and scatters sample by sample (a
    2052² float32 reflect fold of two samples a side took 127 µs with index arrays)."""
    if source.size == 1:
        return slice(int(source[0]), int(source[0]) + 1)
    step = int(source[1]) - int(source[0])
    if step not in (1, -1) or not np.array_equal(np.diff(source), np.full(source.size - 1, step)):
        return None
    stop = int(source[-1]) + step
    return slice(int(source[0]), stop if stop >= 0 else None, step)
