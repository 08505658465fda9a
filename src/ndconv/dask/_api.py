"""``ndconv.dask.convolve`` / ``correlate``: validate (make_spec on placeholders) → graph → restore axes."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import dask.array as da
import numpy as np

from .._shapes import axis_geometry, dilated_length
from .._spec import ConvSpec, as_array, make_spec, normalize_axes, normalize_mode, per_axis, result_dtype
from .._typing import Boundary, IntOrTuple, Method, Mode
from ._graph import build

__all__ = ["convolve", "correlate"]

#: make_spec's refusal of results larger than this machine's memory starts so; the
#: dask path never holds the whole result, so that one check does not apply to it.
_MEMORY_REFUSAL = "the result has shape"


def _placeholder(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An array of ``shape`` that occupies one element: make_spec reads shapes and dtypes only."""
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def _check_x(x: Any) -> None:
    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a dask array for ndconv.dask, got {type(x).__name__}; use ndconv.convolve "
                        "for in-memory arrays, or pass dask.array.from_array(x, chunks=...)")
    if any(math.isnan(c) for c in x.shape):
        raise ValueError(f"x must have known chunk sizes, got shape {x.shape} (unknown sizes are nan); "
                         "call x.compute_chunk_sizes() first")
    as_array(np.empty(0, dtype=x.dtype), "x")   # the core's dtype check and wording


def _spec_beyond_memory(shape: tuple[int, ...], k: np.ndarray, dtype: np.dtype, correlate: bool,
                        options: dict[str, Any]) -> ConvSpec:
    """The spec of a problem that make_spec validated but refused for its size in memory.

    Rebuilt on a small placeholder (batch axes 1, each convolved axis as long as
    its dilated kernel), then given the geometry of the true lengths.
    """
    axes, _ = normalize_axes(options["axes"], len(shape), k.ndim)
    naxes = len(axes)
    mode = normalize_mode(options["mode"])
    origin = per_axis("origin", options["origin"], naxes, minimum=None)
    stride = per_axis("stride", options["stride"], naxes, minimum=1)
    dilation = per_axis("dilation", options["dilation"], naxes, minimum=1)
    k_lengths = [k.shape[a] if k.ndim == len(shape) else k.shape[i] for i, a in enumerate(axes)]
    small = [1] * len(shape)
    for a, kk, d in zip(axes, k_lengths, dilation):
        small[a] = dilated_length(kk, d)
    spec = make_spec(_placeholder(tuple(small), dtype), k, correlate=correlate, **options)
    geometry = tuple(axis_geometry(mode, shape[a], kk, origin=o, stride=s, dilation=d)
                     for a, kk, o, s, d in zip(axes, k_lengths, origin, stride, dilation))
    nb = len(shape) - naxes
    batch = tuple(shape[a] for a in range(len(shape)) if a not in axes)
    return dataclasses.replace(spec, x=_placeholder(batch + tuple(g.n for g in geometry), dtype),
                               geometry=geometry, out_ndim=nb + naxes, layout=None)


def _prepare(x: Any, k: Any, correlate: bool, options: dict[str, Any]) -> ConvSpec:
    """Validate every argument exactly as ndconv.convolve does, without reading x."""
    _check_x(x)
    if isinstance(k, da.Array):
        k = k.compute()
    k = as_array(k, "k")
    dtype = result_dtype(x.dtype, k.dtype)
    try:
        return make_spec(_placeholder(x.shape, dtype), k, correlate=correlate, **options)
    except ValueError as exc:
        if not str(exc).startswith(_MEMORY_REFUSAL):
            raise
    return _spec_beyond_memory(x.shape, k, dtype, correlate, options)


def _run(x: Any, k: Any, correlate: bool, **options: Any) -> da.Array:
    spec = _prepare(x, k, correlate, options)
    nb = x.ndim - spec.ndim
    canonical = tuple(range(nb, x.ndim))
    xc = x if spec.axes == canonical else da.moveaxis(x, spec.axes, canonical)
    y = build(spec, normalize_mode(options["mode"]), xc)
    return y if spec.axes == canonical else da.moveaxis(y, canonical, spec.axes)


def convolve(x: Any, k: Any, mode: Mode = "full", boundary: Boundary = "constant", *,
             fill_value: Any = 0, axes: Any = None, origin: IntOrTuple = 0, stride: IntOrTuple = 1,
             dilation: IntOrTuple = 1, method: Method = "auto") -> da.Array:
    """Convolution of a dask array, lazily, equal to :func:`ndconv.convolve` on the whole array.

    Parameters
    ----------
    x : dask.array.Array
        Input, any chunking (chunks smaller than the kernel included), with known
        chunk sizes.  bool, integer, float or complex.
    k : array_like or dask.array.Array
        Kernel.  It is small: a dask kernel is computed once, here, and stored once
        in the graph.
    mode, boundary, fill_value, axes, origin, stride, dilation
        As :func:`ndconv.convolve`.  The boundary rule extends the *whole* array:
        a chunk at the left edge reads, under ``'wrap'``, the last chunk of the
        array, never its own far edge.
    method : {'auto', 'direct', 'fft', 'overlap_add', 'separable'}
        Passed to the core in every chunk (``'auto'`` chooses per chunk).

    Returns
    -------
    dask.array.Array
        Lazy; the dtype of :func:`ndconv.convolve`.  Its chunks follow the input's
        along every axis: a 'same' result with stride 1 has exactly the input's
        chunks; 'full' and 'valid' grow or shrink the first and last chunk by half
        the kernel; a stride divides every chunk by the stride.

    Raises
    ------
    TypeError
        When ``x`` is not a dask array, or for a dtype the core refuses.
    ValueError
        For bad arguments (worded as :func:`ndconv.convolve` words them), or when
        ``x`` has unknown chunk sizes.

    Notes
    -----
    Each output chunk is one task.  It gathers from the input chunks exactly the
    samples of the extended input its outputs read (the indices of
    :func:`ndconv.boundary.extension_index` on the whole array), then runs the core
    :func:`ndconv.convolve` on that piece with ``mode='valid'``, so a large kernel
    uses the FFT or overlap-add inside the chunk.  Arguments are checked here, when
    the graph is built; an exact integer result that overflows int64 raises
    OverflowError when the chunk is computed.

    Examples
    --------
    >>> import dask.array as da, ndconv.dask
    >>> x = da.from_array([1, 2, 3, 4, 5, 6], chunks=2)
    >>> y = ndconv.dask.convolve(x, [1, 1, 1], mode="same", boundary="wrap")
    >>> y.chunks
    ((2, 2, 2),)
    >>> y.compute()
    array([ 9,  6,  9, 12, 15, 12])
    """
    return _run(x, k, False, mode=mode, boundary=boundary, fill_value=fill_value, axes=axes, origin=origin,
                stride=stride, dilation=dilation, method=method)


def correlate(x: Any, k: Any, mode: Mode = "full", boundary: Boundary = "constant", *,
              fill_value: Any = 0, axes: Any = None, origin: IntOrTuple = 0, stride: IntOrTuple = 1,
              dilation: IntOrTuple = 1, method: Method = "auto") -> da.Array:
    """Cross-correlation of a dask array: exactly ``convolve(x, flip(conj(k)), ...)``, as :func:`ndconv.correlate`.

    Examples
    --------
    >>> import dask.array as da, ndconv.dask
    >>> ndconv.dask.correlate(da.arange(1, 6, chunks=2), [2, 1], mode="valid").compute()
    array([ 4,  7, 10, 13])
    """
    return _run(x, k, True, mode=mode, boundary=boundary, fill_value=fill_value, axes=axes, origin=origin,
                stride=stride, dilation=dilation, method=method)
