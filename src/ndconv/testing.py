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

from ._spec import normalize_boundary, normalize_mode
from .boundary import extension_index

__all__ = ["reference_convolve", "reference_correlate", "assert_conv_close", "tolerance", "gradcheck", "dottest"]


def _tuple(value, n):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    return value * n if len(value) == 1 else value


def reference_convolve(x, k, mode="full", boundary="constant", *, fill_value=0, axes=None, origin=0,
                       stride=1, dilation=1, correlate=False) -> np.ndarray:
    """The definition of §1, evaluated slowly and exactly (float64 / Python ints).

    Same arguments and meaning as :func:`ndconv.convolve` (plus ``correlate``);
    every fast path of ndconv is tested against it.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.testing import reference_convolve
    >>> reference_convolve([3, 1, 2], [3, 2, 1])
    array([ 9,  9, 11,  5,  2])
    >>> reference_convolve([1., 2., 3., 4.], [1., 1., 1.], "same", "symmetric")
    array([ 4.,  6.,  9., 11.])
    """
    x = np.asarray(x)
    k = np.asarray(k)
    # only the names go through the library (extension_index reads the rule's name there
    # anyway); the rest is taken literally
    mode = normalize_mode(mode)
    boundary = normalize_boundary(boundary)
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


def gradcheck(f, jvp, vjp, theta, *, eps: float = 1e-6, rtol: float = 1e-6, atol: float = 1e-9,
              directions: int = 3, seed: int = 0) -> None:
    """Check a Jacobian, both directions, against central finite differences.

    For ``directions`` random unit directions ``v`` (shaped like θ) and random
    ``w`` (shaped like ``f(θ)``), with ``d = (f(θ + εv) − f(θ − εv)) / 2ε``:

    1. ``jvp(θ, v) ≈ d`` (forward mode against finite differences);
    2. ``⟨v, vjp(θ, w)⟩ ≈ ⟨d, w⟩`` (reverse mode against finite differences);
    3. ``⟨jvp(θ, v), w⟩ = ⟨v, vjp(θ, w)⟩`` (the two are adjoint, to rounding),

    with ``⟨a, b⟩ = vdot(a, b) = Σ conj(a)·b``, so ``vjp`` is the adjoint ``Jᴴ w``
    (``Jᵀ w`` for real data).  Pass ``None`` for ``jvp`` or ``vjp`` to skip the
    checks that need it.

    Parameters
    ----------
    f : callable
        ``f(theta) -> array``.
    jvp, vjp : callable or None
        ``jvp(theta, v) -> array like f(theta)``; ``vjp(theta, w) -> array like theta``.
    theta : array_like
        The point where the Jacobian is checked (float or complex).
    eps : float
        Finite-difference step, relative to ``max(1, ‖θ‖)``.
    rtol, atol : float
        A check passes when ``|lhs − rhs| ≤ rtol·(|lhs| + |rhs|) + atol·scale``, with
        ``scale = max(1, ‖f(θ)‖)`` (norms for arrays; ``‖w‖`` also for inner products).
    directions : int
        How many random directions to try.
    seed : int
        Seed of the random directions (the check is deterministic).

    Raises
    ------
    AssertionError
        Naming the check that failed and showing both sides.

    Notes
    -----
    Central differences have error ``O(ε²‖f'''‖ + δ‖f‖/ε)`` (δ the rounding unit):
    about 1e-10 relative for smooth float64 functions with the defaults, far
    below ``rtol``; float32 functions need ``eps ≈ 1e-3`` and ``rtol ≈ 1e-2``.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.testing import gradcheck
    >>> f = lambda t: np.array([t[0] * t[1], np.sin(t[0])])
    >>> jvp = lambda t, v: np.array([v[0] * t[1] + t[0] * v[1], np.cos(t[0]) * v[0]])
    >>> vjp = lambda t, w: np.array([w[0] * t[1] + np.cos(t[0]) * w[1], w[0] * t[0]])
    >>> gradcheck(f, jvp, vjp, [0.5, 2.0])
    >>> gradcheck(f, jvp, lambda t, w: 2 * vjp(t, w), [0.5, 2.0])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: gradcheck: vjp against finite differences, direction 0: <v, vjp(theta, w)> = ...
    """
    if jvp is None and vjp is None:
        raise ValueError("gradcheck needs jvp or vjp, got None for both")
    theta = np.asarray(theta)
    theta = theta.astype(np.result_type(theta.dtype, np.float64))
    rng = np.random.default_rng(seed)

    def draw(shape, dtype):
        z = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            z = z + 1j * rng.standard_normal(shape)
        return z

    def compare(what, lhs_name, lhs, rhs_name, rhs, scale):
        lhs, rhs = np.asarray(lhs), np.asarray(rhs)
        if lhs.shape != rhs.shape:
            raise AssertionError(f"gradcheck: {what}: {lhs_name} has shape {lhs.shape}, "
                                 f"{rhs_name} has shape {rhs.shape}")
        err = float(np.linalg.norm(np.ravel(lhs - rhs)))
        bound = rtol * float(np.linalg.norm(np.ravel(lhs)) + np.linalg.norm(np.ravel(rhs))) + atol * scale
        if not err <= bound:
            with np.printoptions(precision=10, threshold=20):
                raise AssertionError(f"gradcheck: {what}: {lhs_name} = {lhs} but {rhs_name} = {rhs} "
                                     f"(difference {err:.3g} > bound {bound:.3g})")

    f0 = np.asarray(f(theta))
    scale = max(1.0, float(np.linalg.norm(np.ravel(f0))))
    step = eps * max(1.0, float(np.linalg.norm(np.ravel(theta))))
    for i in range(directions):
        v = draw(theta.shape, theta.dtype)
        v = v / np.linalg.norm(np.ravel(v))
        w = draw(f0.shape, np.result_type(f0.dtype, theta.dtype))
        diff = (np.asarray(f(theta + step * v)) - np.asarray(f(theta - step * v))) / (2 * step)
        wscale = scale * max(1.0, float(np.linalg.norm(np.ravel(w))))
        if jvp is not None:
            jv = np.asarray(jvp(theta, v))
            compare(f"jvp against finite differences, direction {i}", "jvp(theta, v)", jv,
                    "(f(theta + eps v) - f(theta - eps v)) / 2eps", diff, scale)
        if vjp is not None:
            vjw = np.asarray(vjp(theta, w))
            if vjw.shape != theta.shape:
                raise AssertionError(f"gradcheck: vjp(theta, w) has shape {vjw.shape}, theta has {theta.shape}")
            compare(f"vjp against finite differences, direction {i}", "<v, vjp(theta, w)>",
                    np.vdot(v, vjw), "<finite difference, w>", np.vdot(diff, w), wscale)
        if jvp is not None and vjp is not None:
            compare(f"adjoint test, direction {i}", "<jvp(theta, v), w>", np.vdot(jv, w),
                    "<v, vjp(theta, w)>", np.vdot(v, vjw), wscale)


def dottest(op, *, rtol: float | None = None, complex_: bool | None = None, raise_error: bool = True,
            seed: int = 0, verbose: bool = False) -> bool:
    """Dot test: check ``⟨op x, y⟩ = ⟨x, opᴴ y⟩`` for random ``x`` and ``y``.

    Parameters
    ----------
    op : linear map
        Anything with ``input_shape``, ``output_shape``, ``dtype``, ``matvec`` and
        ``rmatvec`` (:class:`ndconv.ConvOperator`, its ``.T``/``.H``, a Jacobian).
    rtol : float, optional
        Allowed ``|lhs − rhs| / (‖op x‖·‖y‖ + ‖x‖·‖opᴴ y‖)``; default 1e-4 for
        single precision, 1e-10 for double.
    complex_ : bool, optional
        Use complex ``x`` and ``y`` (default: when ``op.dtype`` is complex).
    raise_error : bool
        Raise AssertionError on failure (else print both sides and return False).
    seed : int
        Seed of the random vectors.
    verbose : bool
        Print both sides even when the test passes.

    Returns
    -------
    bool
        Whether the two sides agree.

    Notes
    -----
    ``⟨a, b⟩ = Σ conj(a)·b``.  For a map flagged ``antilinear`` (``f(i·v) = −i·f(v)``,
    e.g. the kernel Jacobian of a complex correlation) the real parts are compared.

    Examples
    --------
    >>> import ndconv
    >>> from ndconv.testing import dottest
    >>> dottest(ndconv.ConvOperator([1., 2., 3.], (8,), boundary="reflect", stride=2))
    True
    """
    missing = [name for name in ("input_shape", "output_shape", "dtype", "matvec", "rmatvec") if not hasattr(op, name)]
    if missing:
        raise TypeError(f"op must be a linear map with input_shape, output_shape, dtype, matvec and rmatvec "
                        f"(an ndconv.ConvOperator, its .T/.H, a Jacobian), got {type(op).__name__} "
                        f"without {', '.join(missing)}")
    dtype = np.dtype(op.dtype)
    use_complex = dtype.kind == "c" if complex_ is None else bool(complex_)
    single = dtype in (np.float32, np.complex64)
    if rtol is None:
        rtol = 1e-4 if single else 1e-10
    rng = np.random.default_rng(seed)

    def draw(shape):
        value = rng.standard_normal(shape)
        if use_complex:
            value = value + 1j * rng.standard_normal(shape)
        return value.astype(np.result_type(value.dtype, np.float32 if single else np.float64))

    x, y = draw(tuple(op.input_shape)), draw(tuple(op.output_shape))
    forward, backward = np.asarray(op.matvec(x)), np.asarray(op.rmatvec(y))
    lhs, rhs = np.vdot(forward, y), np.vdot(x, backward)
    if getattr(op, "antilinear", False):
        lhs, rhs = lhs.real, rhs.real
    scale = np.linalg.norm(forward) * np.linalg.norm(y) + np.linalg.norm(x) * np.linalg.norm(backward)
    error = abs(lhs - rhs) / max(float(scale), np.finfo(float).tiny)
    passed = bool(error <= rtol)
    report = (f"dottest {'passed' if passed else 'FAILED'}: <op x, y> = {lhs:.16g}, "
              f"<x, op^H y> = {rhs:.16g}, relative error {error:.3g} (rtol {rtol:g})")
    if not passed and raise_error:
        raise AssertionError(report)
    if verbose or not passed:
        print(report)
    return passed
