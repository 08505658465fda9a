"""Algebraic properties of the definition, checked on every method without the
oracle: commutativity, associativity, distributivity, the convolution theorem,
correlation as convolution with the flipped conjugate kernel, and how modes,
stride, dilation, fill value and boundaries relate to each other."""

from __future__ import annotations

import numpy as np
import pytest

import ndconv
from conftest import BOUNDARIES, METHODS, MODES, make_array, rng_for

NUMPY_PAD = {"constant": "constant", "wrap": "wrap", "reflect": "reflect", "symmetric": "symmetric",
             "edge": "edge"}


def assert_close(a, b, scale, rtol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * max(float(scale), 1e-300))


def _scale(*arrays):
    out = 1.0
    for a in arrays:
        out *= float(np.abs(np.asarray(a, dtype=complex)).sum())
    return out


@pytest.mark.parametrize("dtype", ["float64", "complex128", "int64"])
@pytest.mark.parametrize("method", METHODS)
def test_commutative_zero_boundary_full(method, dtype):
    rng = rng_for("commute", dtype)
    for xs, ks in [((9,), (4,)), ((3,), (11,)), ((6, 5), (3, 7)), ((3, 4, 2), (2, 2, 5))]:
        x, k = make_array(rng, xs, dtype), make_array(rng, ks, dtype)
        assert_close(ndconv.convolve(x, k, method=method), ndconv.convolve(k, x, method=method), _scale(x, k))


@pytest.mark.parametrize("method", METHODS)
def test_associative(method):
    rng = rng_for("assoc")
    for shapes in [((12,), (3,), (5,)), ((7, 6), (2, 3), (3, 3)), ((4, 3, 5), (2, 2, 2), (1, 3, 2))]:
        x, a, b = (rng.standard_normal(s) for s in shapes)
        left = ndconv.convolve(ndconv.convolve(x, a, method=method), b, method=method)
        right = ndconv.convolve(x, ndconv.convolve(a, b, method=method), method=method)
        assert_close(left, right, _scale(x, a, b))
    xi, ai, bi = np.arange(-5, 7), np.array([2, -1, 3]), np.array([1, 1, -4, 2])
    np.testing.assert_array_equal(ndconv.convolve(ndconv.convolve(xi, ai, method=method), bi, method=method),
                                  ndconv.convolve(xi, ndconv.convolve(ai, bi, method=method), method=method))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_distributive_over_kernels_any_boundary(method, boundary):
    """x*(a+b) = x*a + x*b: linear in the kernel for every rule, mode, origin, stride."""
    rng = rng_for("distrib-k", boundary)
    x = rng.standard_normal((9, 8))
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for kw in [{"mode": "full"}, {"mode": "same", "origin": (1, -1)}, {"mode": "valid", "stride": 2},
               {"mode": "same", "dilation": (2, 1), "stride": (1, 3)}]:
        lhs = ndconv.convolve(x, a + b, boundary=boundary, method=method, **kw)
        rhs = ndconv.convolve(x, a, boundary=boundary, method=method, **kw) + \
            ndconv.convolve(x, b, boundary=boundary, method=method, **kw)
        assert_close(lhs, rhs, _scale(a + b) * np.abs(x).max() * 4)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_linear_in_x(method, boundary):
    """(αx1 + x2)*k = α(x1*k) + x2*k: every rule extends x linearly (fill 0)."""
    rng = rng_for("distrib-x", boundary)
    x1, x2 = rng.standard_normal((7, 9)), rng.standard_normal((7, 9))
    k = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    for mode in MODES:
        lhs = ndconv.convolve(-2.5 * x1 + x2, k, mode, boundary, method=method)
        rhs = -2.5 * ndconv.convolve(x1, k, mode, boundary, method=method) + \
            ndconv.convolve(x2, k, mode, boundary, method=method)
        assert_close(lhs, rhs, _scale(k) * 8)


@pytest.mark.parametrize("method", METHODS)
def test_fill_value_is_a_shift_of_the_input(method):
    """With fill f the extension is (x − f) zero-extended, plus f everywhere, so in
    'full' mode every output gains f·Σh (all taps are counted)."""
    rng = rng_for("fill-shift")
    x, k = rng.standard_normal((6, 7)), rng.standard_normal((3, 2))
    for fill in (1.5, -4.0):
        for mode in MODES:
            got = ndconv.convolve(x, k, mode, fill_value=fill, method=method)
            want = ndconv.convolve(x - fill, k, mode, method=method) + fill * k.sum()
            assert_close(got, want, _scale(k) * (np.abs(x).max() + abs(fill)) * 4)


def _folded(h: np.ndarray, n: tuple[int, ...], dilation: int = 1) -> np.ndarray:
    """The dilated kernel wrapped onto an n-periodic grid: h_p[r] = Σ_{j ≡ r} h_d[j]."""
    out = np.zeros(n, dtype=np.result_type(h, float))
    for j in np.ndindex(h.shape):
        out[tuple((dilation * ji) % ni for ji, ni in zip(j, n))] += h[j]
    return out


@pytest.mark.parametrize("method", METHODS)
def test_convolution_theorem_wrap_same(method):
    """Wrap + 'same' is circular convolution re-indexed: y[i] = c[(i + start) mod N]
    with c = ifft(fft(x)·fft(h folded onto N)) and start = (K_d − 1)//2 + origin,
    so y = roll(c, −start) — for odd and even kernels and kernels longer than x."""
    rng = rng_for("theorem")
    cases = [((16,), (5,), 0, 1), ((16,), (7,), 2, 1), ((10,), (4,), 0, 1), ((10,), (4,), 1, 1),
             ((5,), (13,), 0, 1), ((9,), (3,), -1, 3), ((8, 6), (3, 5), 0, 1), ((7, 9), (5, 3), (1, -1), 1),
             ((4, 5), (7, 9), 0, 1)]
    for xs, ks, origin, dilation in cases:
        x = rng.standard_normal(xs) + 1j * rng.standard_normal(xs)
        h = rng.standard_normal(ks)
        y = ndconv.convolve(x, h, "same", "wrap", origin=origin, dilation=dilation, method=method)
        circular = np.fft.ifftn(np.fft.fftn(x) * np.fft.fftn(_folded(h, xs, dilation)))
        origins = origin if isinstance(origin, tuple) else (origin,) * len(xs)
        starts = tuple((dilation * (kk - 1)) // 2 + o for kk, o in zip(ks, origins))
        assert_close(y, np.roll(circular, tuple(-s for s in starts), axis=tuple(range(len(xs)))),
                     _scale(h) * np.abs(x).max() * 10)
    # the odd-kernel case the notes use: centred kernel, no shift beyond (K−1)/2
    x, h = rng.standard_normal(12), np.array([1.0, 2.0, 3.0])
    c = np.real(np.fft.ifft(np.fft.fft(x) * np.fft.fft(h, 12)))
    assert_close(ndconv.convolve(x, h, "same", "wrap", method=method), np.roll(c, -1), 60)


@pytest.mark.parametrize("dtype", ["float64", "complex128", "int64", "float32"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_correlate_is_convolve_with_flipped_conjugate(method, boundary, dtype):
    rng = rng_for("corr-flip", boundary, dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    x, k = make_array(rng, (8, 9), dtype), make_array(rng, (3, 4), dtype)
    flipped = np.conj(k[::-1, ::-1]) if k.dtype.kind == "c" else k[::-1, ::-1]
    for kw in [{"mode": "full"}, {"mode": "same"}, {"mode": "same", "origin": (-1, 2)},
               {"mode": "valid", "stride": (2, 1)}, {"mode": "same", "dilation": 2, "stride": 2}]:
        assert_close(ndconv.correlate(x, k, boundary=boundary, method=method, **kw),
                     ndconv.convolve(x, flipped, boundary=boundary, method=method, **kw), _scale(k) * 8, tol)
    # batch axes and per-row kernels: only the convolved axes are flipped
    xb = make_array(rng, (3, 10, 4), dtype)
    kb = make_array(rng, (3, 3, 1), dtype)
    kb_flipped = np.conj(kb[:, ::-1, :]) if kb.dtype.kind == "c" else kb[:, ::-1, :]
    assert_close(ndconv.correlate(xb, kb, "same", boundary, axes=1, method=method),
                 ndconv.convolve(xb, kb_flipped, "same", boundary, axes=1, method=method), _scale(kb) * 8, tol)
    k1 = make_array(rng, (4,), dtype)
    k1_flipped = np.conj(k1[::-1]) if k1.dtype.kind == "c" else k1[::-1]
    assert_close(ndconv.correlate(xb, k1, "valid", boundary, axes=1, method=method),
                 ndconv.convolve(xb, k1_flipped, "valid", boundary, axes=1, method=method), _scale(k1) * 8, tol)


def test_correlate_matches_its_definition_by_hand():
    """y[n] = Σ_m x[n+m]·conj(h[m]) in the 'valid' window, written out."""
    x = np.array([1 + 2j, 3 - 1j, 0.5j, 2.0, -1 + 1j])
    h = np.array([2 - 1j, 1j])
    want = [x[n] * np.conj(h[0]) + x[n + 1] * np.conj(h[1]) for n in range(4)]
    for method in METHODS:
        np.testing.assert_allclose(ndconv.correlate(x, h, "valid", method=method), want, atol=1e-12)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_same_and_valid_are_windows_of_full(method, boundary):
    rng = rng_for("windows", boundary)
    x = rng.standard_normal((9, 10))
    for ks, dilation in [((3, 4), 1), ((2, 5), (2, 1)), ((1, 3), 3)]:
        k = rng.standard_normal(ks)
        kd = [d * (kk - 1) + 1 for kk, d in zip(ks, np.broadcast_to(dilation, 2))]
        full = ndconv.convolve(x, k, "full", boundary, dilation=dilation, method=method)
        scale = _scale(k) * np.abs(x).max() * 4
        for o0 in range(-((kd[0] - 1) // 2), kd[0] - 1 - (kd[0] - 1) // 2 + 1):
            same = ndconv.convolve(x, k, "same", boundary, origin=(o0, 0), dilation=dilation, method=method)
            s0, s1 = (kd[0] - 1) // 2 + o0, (kd[1] - 1) // 2
            assert_close(same, full[s0:s0 + 9, s1:s1 + 10], scale)
        valid = ndconv.convolve(x, k, "valid", boundary, dilation=dilation, method=method)
        assert_close(valid, full[kd[0] - 1:9, kd[1] - 1:10], scale)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_full_equals_valid_of_numpy_padded_input(method, boundary):
    """§1's 'same as numpy.pad': full with a rule = valid on np.pad(x, K_d − 1, rule),
    including pads longer than x (the extension repeats)."""
    rng = rng_for("numpy-pad", boundary)
    for xs, ks in [((7,), (3,)), ((3,), (8,)), ((2, 5), (4, 3)), ((1, 3), (3, 2))]:
        x, k = rng.standard_normal(xs), rng.standard_normal(ks)
        pad = [(kk - 1, kk - 1) for kk in ks]
        fill = 0.75 if boundary == "constant" else 0
        extra = {"constant_values": fill} if boundary == "constant" else {}
        padded = np.pad(x, pad, mode=NUMPY_PAD[boundary], **extra)
        got = ndconv.convolve(x, k, "full", boundary, fill_value=fill, method=method)
        assert_close(got, ndconv.convolve(padded, k, "valid", method=method), _scale(k) * 4)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_stride_keeps_every_sth_output(method, boundary, mode):
    rng = rng_for("stride-sub", boundary, mode)
    x, k = rng.standard_normal((11, 13)), rng.standard_normal((3, 2))
    dense = ndconv.convolve(x, k, mode, boundary, method=method)
    for stride in [2, 3, (1, 4), (5, 2), 20]:
        s = np.broadcast_to(stride, 2)
        assert_close(ndconv.convolve(x, k, mode, boundary, stride=stride, method=method),
                     dense[::s[0], ::s[1]], _scale(k) * 4)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_dilation_is_a_zero_stuffed_kernel(method, boundary):
    rng = rng_for("dilation", boundary)
    x, k = rng.standard_normal((12, 11)), rng.standard_normal((3, 2))
    for d in [(2, 1), (1, 3), (3, 2)]:
        stuffed = np.zeros((d[0] * 2 + 1, d[1] + 1))
        stuffed[::d[0], ::d[1]] = k
        for mode in MODES:
            assert_close(ndconv.convolve(x, k, mode, boundary, dilation=d, method=method),
                         ndconv.convolve(x, stuffed, mode, boundary, method=method), _scale(k) * 4)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_identity_and_shift_kernels(method, boundary):
    rng = rng_for("identity", boundary)
    x = rng.standard_normal((6, 7))
    for mode in MODES:
        np.testing.assert_allclose(ndconv.convolve(x, [[1.0]], mode, boundary, method=method), x, atol=1e-12)
    # a delta at j shifts by j in 'full' zero boundary
    delta = np.zeros((3, 4))
    delta[2, 1] = 1.0
    full = ndconv.convolve(x, delta, method=method)
    want = np.zeros((8, 10))
    want[2:8, 1:8] = x
    np.testing.assert_allclose(full, want, atol=1e-12)
    # wrap 'same': a delta is a circular shift
    d1 = np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(ndconv.convolve(x[0], d1, "same", "wrap", method=method), np.roll(x[0], 1),
                               atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_wrap_is_translation_equivariant(method):
    rng = rng_for("equivariant")
    x, k = rng.standard_normal((9, 8)), rng.standard_normal((4, 3))
    y = ndconv.convolve(x, k, "same", "wrap", method=method)
    for shift in [(1, 0), (0, 3), (-2, 5)]:
        assert_close(ndconv.convolve(np.roll(x, shift, (0, 1)), k, "same", "wrap", method=method),
                     np.roll(y, shift, (0, 1)), _scale(k) * 4)


@pytest.mark.parametrize("method", METHODS)
def test_complex_splits_into_real_parts(method):
    rng = rng_for("complex-split")
    x = rng.standard_normal((7, 8)) + 1j * rng.standard_normal((7, 8))
    k = rng.standard_normal((3, 3))
    for boundary in BOUNDARIES:
        y = ndconv.convolve(x, k, "same", boundary, method=method)
        assert_close(y, ndconv.convolve(x.real, k, "same", boundary, method=method)
                     + 1j * ndconv.convolve(x.imag, k, "same", boundary, method=method), _scale(k) * 8)


@pytest.mark.parametrize("method", METHODS)
def test_boundaries_agree_where_the_window_stays_inside(method):
    """'valid' outputs never read the extension: every rule (and fill) gives the same."""
    rng = rng_for("valid-inside")
    x, k = rng.standard_normal((8, 9)), rng.standard_normal((3, 4))
    ref = ndconv.convolve(x, k, "valid", method=method)
    for boundary in BOUNDARIES:
        assert_close(ndconv.convolve(x, k, "valid", boundary, fill_value=0, method=method), ref, _scale(k) * 4)
    assert_close(ndconv.convolve(x, k, "valid", fill_value=7.0, method=method), ref, _scale(k) * 4)
