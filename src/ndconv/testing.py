"""Testing utilities: a slow reference written from the definition.

:func:`reference_convolve` follows §1 of the contract literally — extend the
input by the boundary rule (through :func:`ndconv.boundary.extension_index`, an
index formula independent of the fast paths' padding), take the full
convolution ``y_full[n] = Σ_j h[j] · x̃[n − d·j]`` only at the outputs the mode
and stride keep, tap by tap — in exact Python integers for bool/integer
inputs and in float64/complex128 otherwise.  Every method is tested against it.
"""

from __future__ import annotations

import numbers

import numpy as np

from .boundary import extension_index

_ALIASES = {"zero": "constant", "fill": "constant", "periodic": "wrap", "circular": "wrap",
            "mirror": "reflect", "replicate": "edge", "nearest": "edge"}

__all__ = ["reference_convolve", "reference_correlate", "assert_conv_close", "tolerance"]


def _tuple(value, n):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    return value * n if len(value) == 1 else value


def reference_convolve(x, k, mode="full", boundary="constant", *, fill_value=0, axes=None, origin=0,
                       stride=1, dilation=1, correlate=False) -> np.ndarray:
    """The definition of §1, evaluated slowly and exactly (float64 / Python ints)."""
    x = np.asarray(x)
    k = np.asarray(k)
    boundary = _ALIASES.get(boundary, boundary)
    integer = x.dtype.kind in "biu" and k.dtype.kind in "biu"
    work = object if integer else (np.complex128 if "c" in (x.dtype.kind, k.dtype.kind) else np.float64)
    naxes = k.ndim if axes is None or k.ndim < x.ndim else \
        len((axes,) if isinstance(axes, numbers.Integral) else tuple(axes))
    origin, stride, dilation = (_tuple(v, naxes) for v in (origin, stride, dilation))
    if axes is None:
        axes = tuple(range(x.ndim - k.ndim, x.ndim))
        k = k.reshape((1,) * (x.ndim - k.ndim) + k.shape)
    else:
        axes = tuple(a % x.ndim for a in ((axes,) if isinstance(axes, numbers.Integral) else axes))
        if k.ndim < x.ndim:  # kernel axis i runs along x axis axes[i], with origin[i] etc.
            order = np.argsort(axes)
            k = np.transpose(k, order)
            origin, stride, dilation = (tuple(v[i] for i in order) for v in (origin, stride, dilation))
            axes = tuple(sorted(axes))
            shape = [1] * x.ndim
            for a, size in zip(axes, k.shape):
                shape[a] = size
            k = k.reshape(shape)
    if correlate:
        k = np.conj(np.flip(k, axis=axes))
    # output positions in full coordinates, per convolved axis
    extended = x.astype(work)
    positions = []
    for i, a in enumerate(axes):
        n, kk, d = x.shape[a], k.shape[a], dilation[i]
        kd = d * (kk - 1) + 1
        start = {"full": 0, "same": (kd - 1) // 2 + origin[i], "valid": kd - 1}[mode]
        length = {"full": n + kd - 1, "same": n, "valid": n - kd + 1}[mode]
        pos = np.arange(start, start + length, stride[i])
        first, last = int(pos[0]) - (kd - 1), int(pos[-1])
        idx, inside = extension_index(n, first, last, boundary)
        extended = np.take(extended, idx, axis=a)
        if boundary == "constant":
            mask_shape = [1] * x.ndim
            mask_shape[a] = idx.size
            extended = np.where(inside.reshape(mask_shape), extended, np.asarray(fill_value).astype(work))
        positions.append((pos - first, kk, d))
    batch = np.broadcast_shapes(tuple(1 if a in axes else s for a, s in enumerate(x.shape)),
                                tuple(1 if a in axes else s for a, s in enumerate(k.shape)))
    out_shape = list(batch)
    for (pos, _, _), a in zip(positions, axes):
        out_shape[a] = pos.size
    out = np.zeros(out_shape, dtype=work)
    kw = k.astype(work)
    for j in np.ndindex(*(k.shape[a] for a in axes)):
        tap_index = [slice(None)] * x.ndim
        window = [slice(None)] * x.ndim
        for jj, (pos, _, d), a in zip(j, positions, axes):
            tap_index[a] = slice(jj, jj + 1)
            window[a] = pos - d * jj
        sel = np.ix_(*[w if isinstance(w, np.ndarray) else np.arange(extended.shape[a])
                       for a, w in enumerate(window)])
        out = out + kw[tuple(tap_index)] * extended[sel]
    if integer:
        return out.astype(np.int64) if out.size else out.astype(np.int64)
    return out


def reference_correlate(x, k, mode="full", boundary="constant", **kwargs) -> np.ndarray:
    """:func:`reference_convolve` with ``correlate=True``."""
    return reference_convolve(x, k, mode, boundary, correlate=True, **kwargs)


def tolerance(dtype) -> float:
    """The accuracy promise of §2: 1e-5 for single precision, 1e-12 for double."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return 0.0
    return 1e-5 if dtype in (np.float16, np.float32, np.complex64) else 1e-12


def assert_conv_close(actual, expected, x, k, dtype=None) -> None:
    """Assert ``max|actual − expected| ≤ tol · Σ|k| · max|x|`` (exact for integers),
    with NaN/Inf in the same places."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"shape {actual.shape} != expected {expected.shape}")
    dtype = np.dtype(dtype if dtype is not None else actual.dtype)
    if dtype.kind in "iu":
        np.testing.assert_array_equal(actual, expected.astype(np.int64))
        return
    fin_x = np.asarray(x)[np.isfinite(np.asarray(x))] if np.asarray(x).size else np.zeros(1)
    scale = np.abs(np.asarray(k, dtype=complex)).sum() * (np.abs(fin_x).max() if fin_x.size else 1.0)
    bound = tolerance(dtype) * max(float(scale), np.finfo(float).tiny)
    bad_a, bad_e = ~np.isfinite(actual), ~np.isfinite(expected)
    if not np.array_equal(bad_a, bad_e):
        raise AssertionError(f"non-finite outputs differ: {np.argwhere(bad_a != bad_e)[:10].tolist()}")
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    diff = np.abs(np.where(bad_e, 0, actual.astype(complex) - np.where(bad_e, 0, expected)))
    worst = float(diff.max()) if diff.size else 0.0
    if worst > bound:
        raise AssertionError(f"max error {worst:.3g} exceeds tol·Σ|h|·max|x| = {bound:.3g}")
