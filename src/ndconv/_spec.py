"""ConvSpec: every argument of convolve/correlate validated and normalised once.

The spec puts the problem in a canonical layout — batch axes first, convolved
axes last, kernel already flipped/conjugated for correlation — so that every
method solves the same thing: a full convolution sampled on an arithmetic
progression (see :class:`ndconv._shapes.AxisGeometry`).
"""

from __future__ import annotations

import math
import numbers
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._errors import bad_choice, bad_type, bad_value, check_memory
from ._shapes import AxisGeometry, axis_geometry, broadcast, dilated_length
from ._typing import BOUNDARY_ALIASES, METHODS, MODES

_SUPPORTED_KINDS = "bool, integer, float16/32/64 or complex64/128"


def normalize_mode(mode: object) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise bad_choice("mode", mode, MODES)
    return mode


def normalize_boundary(boundary: object) -> str:
    if not isinstance(boundary, str) or boundary not in BOUNDARY_ALIASES:
        raise bad_choice("boundary", boundary, BOUNDARY_ALIASES)
    return BOUNDARY_ALIASES[boundary]


def normalize_method(method: object) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise bad_choice("method", method, METHODS)
    return method


def as_array(value: Any, name: str) -> np.ndarray:
    """``np.asarray`` with the dtype check of §2 and errors naming ``name``."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise bad_value(name, value, "an array of numbers") from exc
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    if kind not in "biufc" or (kind == "f" and size > 8) or (kind == "c" and size > 16):
        raise bad_type(name, arr, f"an array of {_SUPPORTED_KINDS} numbers")
    return arr


def check_int64_range(arr: np.ndarray, name: str) -> None:
    """uint64 values above the int64 range cannot be summed exactly in int64.

    Called after the memory check: it reads every value, which must not happen
    for a huge (broadcast) input that is refused anyway.
    """
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and int(arr.max()) > np.iinfo(np.int64).max:
        raise OverflowError(f"{name} holds uint64 values above the int64 range; "
                            "exact integer results are computed in int64")


def result_dtype(x_dtype: np.dtype, k_dtype: np.dtype) -> np.dtype:
    """§2: exact int64 for bool/integer pairs, float16 → float32, else result_type."""
    if x_dtype.kind in "biu" and k_dtype.kind in "biu":
        return np.dtype(np.int64)
    dtype = np.result_type(x_dtype, k_dtype)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


def per_axis(name: str, value: object, naxes: int, *, minimum: int | None) -> tuple[int, ...]:
    """An int (same on every axis) or one int per convolved axis."""
    if type(value) is int and (minimum is None or value >= minimum):   # the common call, without the ABC checks
        return (value,) * naxes
    allowed = f"an int or a sequence of {naxes} ints" + (f" >= {minimum}" if minimum is not None else "")
    items = [value] if isinstance(value, (numbers.Integral, np.integer)) else value
    try:
        values = [operator.index(v) for v in items]  # type: ignore[union-attr]
    except TypeError as exc:
        raise bad_value(name, value, allowed) from exc
    if isinstance(value, (bool, np.bool_)) or any(isinstance(v, (bool, np.bool_)) for v in items):
        raise bad_value(name, value, allowed)
    if len(values) == 1:
        values = values * naxes
    if len(values) != naxes or (minimum is not None and min(values, default=minimum) < minimum):
        raise bad_value(name, value, allowed)
    return tuple(values)


def normalize_axes(axes: object, x_ndim: int, k_ndim: int) -> tuple[tuple[int, ...], bool]:
    """Convolved axes of x, and whether k carries broadcast (per-row) axes."""
    if axes is None:
        return tuple(range(x_ndim - k_ndim, x_ndim)), False
    items = [axes] if isinstance(axes, (numbers.Integral, np.integer)) else axes
    allowed = f"None, an int or a sequence of distinct ints in [-{x_ndim}, {x_ndim - 1}]"
    try:
        values = [operator.index(a) for a in items]  # type: ignore[union-attr]
    except TypeError as exc:
        raise bad_value("axes", axes, allowed) from exc
    if any(not -x_ndim <= a < x_ndim for a in values):
        raise bad_value("axes", axes, allowed)
    values = [a % x_ndim for a in values]
    if len(set(values)) != len(values) or not values:
        raise bad_value("axes", axes, allowed)
    if k_ndim == x_ndim:
        return tuple(values), True
    if len(values) != k_ndim:
        raise ValueError(f"axes must name one axis of x per kernel axis ({k_ndim}) when "
                         f"k.ndim < x.ndim, got {axes!r}")
    return tuple(values), False


def _fill(fill_value: object, dtype: np.dtype) -> Any:
    if type(fill_value) is int and fill_value == 0:   # the default, without the ABC checks
        return 0 if dtype.kind in "iu" else dtype.type(0)
    if not isinstance(fill_value, (numbers.Number, np.generic)) or isinstance(
            fill_value, (np.datetime64, np.timedelta64)):
        raise bad_value("fill_value", fill_value, "a real or complex number")
    if dtype.kind in "iu":
        if not (isinstance(fill_value, (numbers.Integral, np.integer, bool, np.bool_))
                or (isinstance(fill_value, (numbers.Real, np.floating)) and float(fill_value).is_integer())):
            raise bad_value("fill_value", fill_value, "an integer for bool/integer inputs")
        if not -2**63 <= int(fill_value) < 2**63:
            raise bad_value("fill_value", fill_value, "an integer in the int64 range for bool/integer inputs")
        return int(fill_value)
    if dtype.kind == "f" and isinstance(fill_value, (numbers.Complex, np.complexfloating)) \
            and not isinstance(fill_value, numbers.Real):
        raise bad_value("fill_value", fill_value, "a real number for real inputs")
    try:
        with np.errstate(over="ignore"):
            value = dtype.type(fill_value)
        # NaN and ±∞ are fills too; a finite one must stay finite in the computing type
        out_of_range = bool(np.isfinite(np.complex128(fill_value))) and not bool(np.isfinite(value))
    except OverflowError:                   # a Python int beyond any float
        out_of_range = True
    if out_of_range:
        limit = float(np.finfo(dtype).max)
        raise bad_value("fill_value", fill_value, f"a number within {dtype.name}'s range (±{limit:.4g}), "
                        "the type the result is computed in")
    return value


def _move(a: np.ndarray, source: tuple[int, ...], destination: tuple[int, ...]) -> np.ndarray:
    """``numpy.moveaxis``, skipped when nothing moves (the common case, 10 µs a call)."""
    return a if source == destination else np.moveaxis(a, source, destination)


@dataclass(frozen=True)
class ConvSpec:
    """The validated problem, in canonical layout.

    ``x`` has shape ``batch_x + input lengths``, ``kernel`` has shape
    ``batch_k + kernel lengths`` (same number of batch axes, broadcastable), both
    in ``compute_dtype``; ``kernel`` is in convolution form (already flipped and
    conjugated when the user asked for a correlation).
    """

    x: np.ndarray
    kernel: np.ndarray
    geometry: tuple[AxisGeometry, ...]
    boundary: str
    fill_value: Any
    method: str
    dtype: np.dtype            # result dtype
    compute_dtype: np.dtype
    axes: tuple[int, ...]      # convolved axes of the user's x, in kernel order
    out_ndim: int
    #: the layout make_spec built this spec from (shapes, dtypes, options: everything but
    #: x's strides and the kernel's values); None for a spec made otherwise.  The plan key
    #: stands on it (:func:`ndconv.methods._keys.plan_key`), so a spec derived with other
    #: shapes or geometry must set it to None
    layout: Any = field(default=None, compare=False, repr=False)

    @property
    def ndim(self) -> int:
        """Number of convolved axes."""
        return len(self.geometry)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        nb = self.x.ndim - self.ndim
        return broadcast(self.x.shape[:nb], self.kernel.shape[:nb])

    @property
    def kernel_batched(self) -> bool:
        nb = self.x.ndim - self.ndim
        return any(s != 1 for s in self.kernel.shape[:nb])

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Canonical output shape: batch, then the convolved axes."""
        return self.batch_shape + tuple(g.count for g in self.geometry)

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return tuple(g.k for g in self.geometry)

    @property
    def is_integer(self) -> bool:
        return self.dtype.kind in "iu"

    @property
    def is_complex(self) -> bool:
        return self.compute_dtype.kind == "c"

    def to_user_layout(self, y: np.ndarray) -> np.ndarray:
        """Move the convolved axes of a canonical result back where the user had them."""
        nb = y.ndim - self.ndim
        return _move(y, tuple(range(nb, y.ndim)), self.axes)


def make_spec(x: Any, k: Any, *, mode: object = "full", boundary: object = "constant",
              fill_value: object = 0, axes: object = None, origin: object = 0,
              stride: object = 1, dilation: object = 1, method: object = "auto",
              correlate: bool = False) -> ConvSpec:
    """Validate every argument of convolve/correlate and build the canonical spec.

    Everything that depends on shapes, dtypes and options only (the axes, the
    geometry, the dtypes, the fill, the memory a result needs) is kept per
    combination (:func:`_layout`); each call still reads the arrays, checks the
    memory available and the uint64 range, and puts x and k in canonical layout.
    """
    x_arr = as_array(x, "x")
    k_arr = as_array(k, "k")
    if x_arr.ndim == 0:
        raise bad_value("x", x, "an array with at least 1 dimension (0-d arrays have no axis to convolve)")
    if k_arr.ndim == 0:
        raise bad_value("k", k, "an array with at least 1 dimension (0-d arrays have no axis to convolve)")
    if k_arr.ndim > x_arr.ndim:
        raise ValueError(f"k must not have more dimensions than x, got k.ndim={k_arr.ndim} "
                         f"and x.ndim={x_arr.ndim}")
    if x_arr.size == 0 or k_arr.size == 0:
        raise ValueError(f"x and k must be non-empty, got x.shape={x_arr.shape} and k.shape={k_arr.shape}")
    options = (mode, boundary, fill_value, axes, origin, stride, dilation, method)
    try:
        key: Any = (x_arr.shape, k_arr.shape, x_arr.dtype, k_arr.dtype, bool(correlate), options_key(options))
        layout = _LAYOUTS.get(key)
    except TypeError:        # an option that cannot be a key (an array, a list of lists)
        key = layout = None
    if layout is None:
        layout = _layout(x_arr, k_arr, *options)
        if key is not None:
            if len(_LAYOUTS) >= _LAYOUTS_MAX:
                _LAYOUTS.clear()
            _LAYOUTS[key] = layout
    check_memory("the result", layout.out_shape, layout.need, " with its working copy")
    check_int64_range(x_arr, "x")
    check_int64_range(k_arr, "k")

    nb, conv_axes, compute_dtype = layout.nb, layout.axes, layout.compute_dtype
    x_c = _move(x_arr, conv_axes, layout.canonical).astype(compute_dtype, copy=False)
    if layout.per_row:
        k_c = _move(k_arr, conv_axes, layout.canonical)
    else:
        k_c = k_arr.reshape((1,) * nb + k_arr.shape)
    k_c = k_c.astype(compute_dtype, copy=False)
    if correlate:
        k_c = np.flip(k_c, axis=layout.canonical)
        if k_c.dtype.kind == "c":
            k_c = np.conj(k_c)
    return ConvSpec(x=x_c, kernel=k_c, geometry=layout.geometry, boundary=layout.boundary,
                    fill_value=layout.fill, method=layout.method, dtype=layout.dtype, compute_dtype=compute_dtype,
                    axes=conv_axes, out_ndim=len(layout.out_shape), layout=layout)


@dataclass(frozen=True, eq=False)
class _Layout:
    """What a spec takes from shapes, dtypes and options alone.  Compared and hashed by
    identity: one object per kept combination, a cheap part of a plan key."""

    axes: tuple[int, ...]
    canonical: tuple[int, ...]
    per_row: bool
    nb: int
    geometry: tuple[AxisGeometry, ...]
    boundary: str
    fill: Any
    method: str
    dtype: np.dtype
    compute_dtype: np.dtype
    out_shape: tuple[int, ...]
    need: int


#: layouts kept by :func:`make_spec`, keyed by shapes, dtypes and typed options
_LAYOUTS: dict[Any, _Layout] = {}
_LAYOUTS_MAX = 256
#: option types whose values key a layout as they are (with their types, see options_key)
_PLAIN_OPTION_TYPES = frozenset({str, int, bool, type(None)})


def options_key(values: tuple) -> Any:
    """The key of several option values, each with its type: plain types (str, int, bool,
    None: no zero of either sign, no sequence) as they are, the others through
    :func:`option_key` (the typed key of each option took a third of a small call's front
    end); TypeError for what cannot be a key.  The key of every kept spec or layout."""
    types = tuple(map(type, values))
    if _PLAIN_OPTION_TYPES.issuperset(types):
        return types, values
    return tuple(map(option_key, values))


def option_key(value: object) -> Any:
    """``value`` with its type (so that ``origin=1.0`` still fails after ``origin=1`` ran, and
    ``fill_value=1`` and ``1.0`` stay apart; a zero with its sign); TypeError for what cannot be a key."""
    if isinstance(value, (list, tuple)):
        return type(value), tuple(option_key(v) for v in value)
    if isinstance(value, np.ndarray):
        raise TypeError("an array option is validated afresh")
    hash(value)
    if isinstance(value, (float, complex, np.inexact)) and value == 0:   # -0.0 equals 0.0 as a key
        return type(value), value, repr(value)
    return type(value), value


def _layout(x_arr: np.ndarray, k_arr: np.ndarray, mode: object, boundary: object, fill_value: object,
            axes: object, origin: object, stride: object, dilation: object, method: object) -> _Layout:
    """Validate the options against the shapes and dtypes of x and k (errors name the argument)."""
    mode = normalize_mode(mode)
    boundary = normalize_boundary(boundary)
    method = normalize_method(method)
    conv_axes, per_row = normalize_axes(axes, x_arr.ndim, k_arr.ndim)
    naxes = len(conv_axes)
    origins = per_axis("origin", origin, naxes, minimum=None)
    strides = per_axis("stride", stride, naxes, minimum=1)
    dilations = per_axis("dilation", dilation, naxes, minimum=1)
    if mode != "same" and any(origins):
        raise ValueError(f"origin is allowed only with mode='same', got origin={origin!r} with mode={mode!r}")

    dtype = result_dtype(x_arr.dtype, k_arr.dtype)
    compute_dtype = dtype
    fill = _fill(fill_value, compute_dtype)

    # canonical layout: batch axes first, convolved axes last (in kernel order)
    nb = x_arr.ndim - naxes
    canonical = tuple(range(nb, x_arr.ndim))
    x_shape = _move(x_arr, conv_axes, canonical).shape
    if per_row:
        k_shape = _move(k_arr, conv_axes, canonical).shape
        try:
            broadcast(x_shape[:nb], k_shape[:nb])
        except ValueError:
            raise ValueError(f"the axes of x and k that are not convolved must broadcast, got "
                             f"x.shape={x_arr.shape}, k.shape={k_arr.shape} with axes={axes!r}") from None
    else:
        k_shape = (1,) * nb + k_arr.shape

    geometry = []
    for i in range(naxes):
        n, kk = x_shape[nb + i], k_shape[nb + i]
        kd = dilated_length(kk, dilations[i])
        if mode == "valid" and kd > n:
            raise ValueError(f"mode='valid' needs the dilated kernel to fit in x on every convolved "
                             f"axis, got kernel length {kd} (k={kk}, dilation={dilations[i]}) > "
                             f"input length {n} on axis {conv_axes[i]}")
        if mode == "same" and not 0 <= (kd - 1) // 2 + origins[i] <= kd - 1:
            lo, hi = -((kd - 1) // 2), kd - 1 - (kd - 1) // 2
            raise ValueError(f"origin must keep the window inside the full output: between {lo} and "
                             f"{hi} for a kernel of length {kd} on axis {conv_axes[i]}, got {origins[i]}")
        geometry.append(axis_geometry(mode, n, kk, origin=origins[i], stride=strides[i],
                                      dilation=dilations[i]))

    batch = broadcast(x_shape[:nb], k_shape[:nb])
    out_shape = batch + tuple(g.count for g in geometry)
    ext_elems = math.prod(x_shape[:nb] + tuple(g.n + g.pad_before + g.pad_after for g in geometry))
    need = (math.prod(out_shape) + ext_elems) * compute_dtype.itemsize
    return _Layout(axes=conv_axes, canonical=canonical, per_row=per_row, nb=nb, geometry=tuple(geometry),
                   boundary=boundary, fill=fill, method=method, dtype=dtype, compute_dtype=compute_dtype,
                   out_shape=out_shape, need=need)
