"""NaN and Inf stay local, whatever the method (§2).

The non-finite outputs must be exactly those whose window — the samples
x̃[n − d·j] for *every* tap j, zero-valued taps included — holds a non-finite
input, and their values must be what the sum of the definition gives in IEEE
arithmetic (the oracle): NaN for a NaN, for ∞·0 and for ∞ of both signs, ±∞
otherwise; complex values part by part.  An FFT must not spread them.
"""

from __future__ import annotations

import numpy as np
import pytest

import ndconv
from conftest import BOUNDARIES, ENGINE_IDS, ENGINES, METHODS, MODES, compute, rng_for
from ndconv.testing import reference_convolve, tolerance

FLOAT_DTYPES = ("float16", "float32", "float64", "complex64", "complex128")
BAD_VALUES = (np.nan, np.inf, -np.inf)
BAD_COMPLEX = (complex(np.inf, 1.0), complex(2.0, -np.inf), complex(np.nan, 1.0), complex(-np.inf, np.inf))


def oracle(x, k, **kwargs):
    with np.errstate(invalid="ignore", over="ignore"):
        return reference_convolve(x, k, **kwargs)


def window_mask(bad: np.ndarray, k_shape, **kwargs) -> np.ndarray:
    """Outputs whose window holds a flagged input: an exact integer count of the
    flagged samples under an all-ones kernel of the same shape (zero taps count)."""
    kwargs = {key: value for key, value in kwargs.items() if key not in ("fill_value", "correlate")}
    return reference_convolve(bad.astype(np.int64), np.ones(k_shape, np.int64), **kwargs) > 0


def assert_ieee_equal(y: np.ndarray, expected: np.ndarray, x, k) -> None:
    """NaN where the oracle has NaN, the same ±∞, finite values within §2's tolerance;
    complex values compared part by part."""
    assert y.shape == expected.shape
    parts = [(y.real, expected.real), (y.imag, expected.imag)] if y.dtype.kind == "c" else [(y, expected)]
    for got, want in parts:
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg="NaN positions differ")
        inf = np.isinf(want)
        np.testing.assert_array_equal(np.isinf(got), inf, err_msg="Inf positions differ")
        np.testing.assert_array_equal(got[inf], want[inf], err_msg="Inf signs differ")
        finite = np.isfinite(want)
        xa = np.asarray(x)
        fin_x = np.abs(xa[np.isfinite(xa)]).max() if np.isfinite(xa).any() else 1.0
        k_abs = np.abs(np.asarray(k)[np.isfinite(k)]).sum() if np.isfinite(k).any() else 1.0
        bound = tolerance(y.dtype) * max(k_abs * fin_x, 1e-300)
        if finite.any():
            assert np.abs(got[finite] - want[finite]).max() <= bound


def _poison(rng, x: np.ndarray, count: int) -> np.ndarray:
    x = x.copy()
    values = BAD_VALUES + (BAD_COMPLEX if x.dtype.kind == "c" else ())
    for _ in range(count):
        x.flat[rng.integers(x.size)] = values[rng.integers(len(values))]
    return x


def _data(rng, shape, dtype):
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


CASES = [((15,), (3,)), ((12,), (4,)), ((4,), (6,)), ((9, 10), (3, 3)), ((8, 9), (2, 4)), ((12, 13), (5, 5)),
         ((20, 20), (9, 9)), ((5, 6, 7), (2, 3, 2))]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_nonfinite_inputs_stay_in_their_windows(engine, mode, boundary, dtype, set_opencv):
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("nonfinite", mode, boundary, dtype)
    for case, (xs, ks) in enumerate(CASES):
        if mode == "valid" and any(kk > n for n, kk in zip(xs, ks)):
            continue
        x = _poison(rng, _data(rng, xs, dtype), 1 + case % 3)
        k = _data(rng, ks, dtype)
        if case % 2:
            k.flat[rng.integers(k.size)] = 0  # a zero tap still puts its sample in the window
        kw = {"mode": mode, "boundary": boundary}
        if case == 3:
            kw.update(stride=2, dilation=2 if mode != "valid" else 1)
        if case == 4 and mode == "same":
            kw.update(origin=(1, -1))
        y = compute(x, k, method, **kw)
        assert y.dtype == (np.float32 if dtype == "float16" else np.dtype(dtype))
        np.testing.assert_array_equal(~np.isfinite(y), window_mask(~np.isfinite(x), ks, **kw))
        assert_ieee_equal(y, oracle(x, k, **kw), x, k)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_nonfinite_kernel(engine, dtype, set_opencv):
    """A NaN/Inf tap is in every window: values are the IEEE sums (∞ times a zero
    of the extension is NaN, so even 'zero' boundary outputs differ)."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("bad-kernel", dtype)
    for xs, ks in [((10,), (3,)), ((9, 8), (3, 3)), ((12, 12), (8, 8)), ((9, 9), (5, 4))]:
        for bad in BAD_VALUES:
            x, k = _data(rng, xs, dtype), _data(rng, ks, dtype)
            x.flat[rng.integers(x.size)] = 0.0
            k.flat[rng.integers(k.size)] = bad
            for mode, boundary in [("full", "constant"), ("same", "reflect"), ("same", "constant"),
                                   ("valid", "wrap")]:
                y = compute(x, k, method, mode=mode, boundary=boundary)
                assert not np.isfinite(y).any()
                assert_ieee_equal(y, oracle(x, k, mode=mode, boundary=boundary), x, k)
    # NaN kernel tap and Inf inputs together
    x, k = _data(rng, (7, 6), dtype), _data(rng, (2, 3), dtype)
    x[3, 3], k[1, 1] = np.inf, np.nan
    y = compute(x, k, method, mode="same", boundary="edge")
    assert np.isnan(y).all()


def assert_exactly_ieee(y, want):
    """Same NaN and ±∞ positions, finite values to rounding (FFT methods)."""
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-12)  # NaN/Inf positions must match exactly


@pytest.mark.parametrize("method", METHODS)
def test_zero_taps_count_in_the_window(method):
    """Hand-worked: y[n] = Σ_j h[j] x[n − j] with h = [1, 0, 1]."""
    h = np.array([1.0, 0.0, 1.0])
    y = ndconv.convolve(np.array([1.0, np.nan, 2.0, 3.0, 4.0]), h, method=method)
    assert_exactly_ieee(y, [1.0, np.nan, np.nan, np.nan, 6.0, 3.0, 4.0])
    y = ndconv.convolve(np.array([1.0, np.inf, 2.0, 3.0, 4.0]), h, method=method)
    assert_exactly_ieee(y, [1.0, np.inf, np.nan, np.inf, 6.0, 3.0, 4.0])  # 0·∞ = NaN
    y = ndconv.convolve(np.array([np.inf, -np.inf]), np.array([1.0, 1.0]), method=method)
    assert_exactly_ieee(y, [np.inf, np.nan, -np.inf])                      # ∞ − ∞ = NaN
    y = ndconv.convolve(np.array([np.inf, -np.inf]), np.array([1.0, -1.0]), method=method)
    assert_exactly_ieee(y, [np.inf, -np.inf, np.inf])
    y = ndconv.convolve(np.array([1.0, 2.0, np.inf, 3.0]), np.array([2.0, -1.0]), "same", method=method)
    assert_exactly_ieee(y, [2.0, 3.0, np.inf, -np.inf])


@pytest.mark.parametrize("method", METHODS)
def test_complex_infinities_keep_their_ieee_value(method):
    """(∞ + 0j)(1 + 1j) = ∞ + ∞j and (∞ + 0j)(2 + 0j) = ∞ + NaN·j, as the direct sum gives."""
    x = np.array([1, 2, np.inf, 3, 4], dtype=complex)
    y = ndconv.convolve(x, np.array([1 + 1j, 2 - 1j]), method=method)
    assert y[2] == complex(np.inf, np.inf) and y[3] == complex(np.inf, -np.inf)
    assert np.isfinite(y[[0, 1, 4, 5]]).all()
    y = ndconv.convolve(x, np.array([1.0 + 0j, 2.0]), method=method)
    assert np.isposinf(y[2].real) and np.isnan(y[2].imag)
    assert_ieee_equal(y, oracle(x, np.array([1.0 + 0j, 2.0])), x, np.array([1.0, 2.0]))


@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_nonfinite_fill_value(engine, fill, set_opencv):
    """A non-finite fill reaches exactly the outputs whose window leaves x."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("bad-fill", fill)
    for xs, ks, mode in [((10,), (3,), "full"), ((10,), (4,), "same"), ((8, 9), (3, 3), "same"),
                         ((8, 9), (3, 2), "valid")]:
        x, k = rng.standard_normal(xs), rng.standard_normal(ks)
        y = compute(x, k, method, mode=mode, fill_value=fill)
        inside = reference_convolve(np.ones(xs, np.int64), np.ones(ks, np.int64), mode=mode)
        leaves_x = inside < np.prod(ks)  # fewer samples of x than taps in the window
        np.testing.assert_array_equal(~np.isfinite(y), leaves_x)
        assert leaves_x.any() == (mode != "valid")
        assert_ieee_equal(y, oracle(x, k, mode=mode, fill_value=fill), x, k)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["auto", "fft", "overlap_add"])
def test_fft_does_not_spread_nan_on_long_signals(method, mode):
    rng = rng_for("long-nan", mode)
    x, k = rng.standard_normal(6000), rng.standard_normal(301)
    x[[0, 2500, 2501, 5999]] = [np.nan, np.inf, -np.inf, np.nan]
    y = ndconv.convolve(x, k, mode, method=method)
    np.testing.assert_array_equal(~np.isfinite(y), window_mask(~np.isfinite(x), k.shape, mode=mode))
    assert np.isfinite(y).sum() > 0.8 * y.size
    assert_ieee_equal(y, oracle(x, k, mode=mode), x, k)


@pytest.mark.parametrize("method", METHODS)
def test_fft_does_not_spread_nan_in_2d(method):
    rng = rng_for("nan-2d", method)
    x, k = rng.standard_normal((64, 70)), rng.standard_normal((15, 15))
    x[10, 20] = np.nan
    x[50, 3] = -np.inf
    for boundary in BOUNDARIES:
        y = ndconv.convolve(x, k, "same", boundary, method=method)
        mask = window_mask(~np.isfinite(x), k.shape, mode="same", boundary=boundary)
        np.testing.assert_array_equal(~np.isfinite(y), mask)
        assert mask.sum() < 0.2 * mask.size


@pytest.mark.parametrize("method", METHODS)
def test_all_nonfinite_input(method):
    x = np.full((5, 6), np.nan)
    assert np.isnan(ndconv.convolve(x, np.ones((2, 2)), "same", method=method)).all()
    y = ndconv.convolve(np.full(7, np.inf), np.array([1.0, 2.0]), "valid", method=method)
    np.testing.assert_array_equal(y, np.full(6, np.inf))
    y = ndconv.convolve(np.full(7, -np.inf, dtype=np.float32), np.array([1.0, 0.0], np.float32), "valid",
                        method=method)
    assert y.dtype == np.float32 and np.isnan(y).all()


@pytest.mark.parametrize("method", METHODS)
def test_nonfinite_with_batches_and_per_row_kernels(method):
    rng = rng_for("batch-nan", method)
    x = rng.standard_normal((3, 4, 20))
    x[1, 2, 5] = np.nan
    x[2, 0, 19] = np.inf
    k = rng.standard_normal((3, 1, 4))
    k[0, 0, 1] = 0.0
    for kw in [{"axes": 2}, {"axes": (2,), "mode": "same", "boundary": "wrap"}]:
        y = compute(x, k, method, **kw)
        assert_ieee_equal(y, oracle(x, k, **kw), x, k)
        assert (~np.isfinite(y)).sum() == (~np.isfinite(oracle(x, k, **kw))).sum() > 0
    y = compute(x, k[0, 0], method, mode="same", boundary="symmetric", correlate=True)
    assert_ieee_equal(y, oracle(x, k[0, 0], mode="same", boundary="symmetric", correlate=True), x, k)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_nonfinite_with_separable_kernels(engine, dtype, set_opencv):
    """Low-rank kernels (the separable method's and OpenCV sepFilter2D's domain):
    a Gaussian, a Sobel (zero taps), signed outer products, a rank-2 sum."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("separable-nan", dtype)
    g = np.exp(-0.5 * np.arange(-3, 4) ** 2)
    kernels = [np.outer(g, g), np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]),
               np.outer(rng.standard_normal(5), rng.standard_normal(4)),
               np.outer([1.0, -2.0, 1.0], [-1.0, 3.0, 2.0]) + np.outer([0.5, 1.0, -1.0], [2.0, -1.0, 1.0])]
    for boundary in ("constant", "reflect", "symmetric", "edge", "wrap"):
        for kernel in kernels:
            x = rng.standard_normal((16, 17))
            x[4, 5], x[4, 9], x[11, 11], x[0, 16] = np.inf, -np.inf, np.nan, np.inf
            x, k = x.astype(dtype), kernel.astype(dtype)
            y = compute(x, k, method, mode="same", boundary=boundary)
            np.testing.assert_array_equal(~np.isfinite(y),
                                          window_mask(~np.isfinite(x), k.shape, mode="same", boundary=boundary))
            assert_ieee_equal(y, oracle(x, k, mode="same", boundary=boundary), x, k)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_large_inputs_with_nonfinite_values(engine, dtype, set_opencv):
    """Above the size where the finiteness check and the direct loops change strategy
    (2**16 elements): zero taps, separable and non-separable kernels, a strided view.
    (The oracle's non-finite outputs are, by definition, the windows holding one.)"""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("large-nan", dtype)
    x = _data(rng, (270, 250), dtype)
    x[150, 7], x[0, 0], x[269, 140], x[80, 249] = np.nan, np.inf, -np.inf, np.inf
    zero_tap = rng.standard_normal((3, 3))
    zero_tap[1, 2] = 0.0
    cases = [(x, np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]), "constant"),      # Sobel: zero taps, rank 1
             (x, zero_tap, "reflect"),
             (x, np.outer(rng.random(5) + 0.5, rng.random(5) + 0.5), "edge"),  # separable, no zero tap
             (x[::-1, ::2], rng.standard_normal((3, 2)), "wrap")]               # a strided view
    for xx, k, boundary in cases:
        k = k.astype(dtype)
        y = compute(xx, k, method, mode="same", boundary=boundary)
        expected = oracle(xx, k, mode="same", boundary=boundary)
        assert 0 < (~np.isfinite(expected)).sum() < 200
        assert_ieee_equal(y, expected, xx, k)


# Finite data of large magnitude: a transform sums a whole row, so its spectra can overflow
# where no sum of the definition does (float32 1e35 on 64² gave inf on every output of
# method='fft'); such results are computed again on data scaled by powers of two.

@pytest.mark.parametrize(("dtype", "scale"), [("float32", 2.0**116), ("float64", 2.0**1010),
                                              ("complex64", 2.0**116), ("complex128", 2.0**1010)])
@pytest.mark.parametrize("shape", [(300,), (64, 64)], ids=["1d", "2d"])
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_large_finite_data_do_not_overflow_the_spectra(engine, shape, dtype, scale, set_opencv):
    method, opencv = engine
    set_opencv(opencv)
    rng = rng_for("large", shape, dtype)
    x = rng.standard_normal(shape) * scale
    k = rng.standard_normal((15,) * len(shape))
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape) * scale
    x, k = x.astype(dtype), k.astype(dtype)
    expected = oracle(x, k, mode="same")
    assert np.isfinite(expected).all()
    got = ndconv.convolve(x, k, mode="same", method=method)
    assert np.isfinite(got).all()
    bound = tolerance(dtype) * np.abs(k).astype(np.float64).sum() * np.abs(x).astype(np.float64).max()
    assert np.abs(got.astype(np.complex128) - expected).max() <= bound


@pytest.mark.parametrize("method", ["fft", "overlap_add"])
def test_results_out_of_range_overflow_only_where_the_definition_does(method):
    """Outputs beyond float32's range are ±∞, as the sums of the definition are; the others within
    §2's bound (relative to the largest input, so the small outputs far from it may be noise)."""
    x = np.zeros(4096, np.float32)
    x[1000:1010] = 3e38
    x[3000:3010] = 1.0
    k = np.ones(9, np.float32)
    with np.errstate(over="ignore"):
        expected = oracle(x, k).astype(np.float32)   # float64 sums, out of float32's range: ∞
    got = ndconv.convolve(x, k, method=method)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], atol=1e-5 * 9 * 3e38)


def test_opencv_dft_overflow_falls_back_to_the_rescaled_fft(set_opencv):
    from ndconv._spec import make_spec
    from ndconv.methods import _opencv, _registry
    from ndconv.methods._problem import Problem

    set_opencv(True)
    rng = rng_for("opencv-dft-large")
    x = rng.standard_normal((1024, 1024)) * 2.0**1010          # about 1e304
    k = rng.standard_normal((31, 31))
    problem = Problem(make_spec(x, k, mode="same", method="fft"))
    if _registry._fft_engine(problem)[0] != "opencv":
        pytest.skip("OpenCV's DFT is not the cheaper engine here (or not installed)")
    assert not np.isfinite(_opencv.filter2d(problem.spec)).all()   # the case: OpenCV alone overflows
    got = ndconv.convolve(x, k, mode="same", method="fft")
    assert np.isfinite(got).all()
    small = ndconv.convolve(np.ldexp(x, -1010), k, mode="same", method="fft")
    np.testing.assert_allclose(got, np.ldexp(small, 1010), rtol=0, atol=1e-12 * np.abs(k).sum() * 2.0**1010 * 5)
