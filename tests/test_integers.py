"""Bool and integer inputs give exact int64 results with every method (§2), or
OverflowError when the exact result does not fit in int64."""

from __future__ import annotations

import numpy as np
import pytest

import ndconv
from conftest import BOUNDARIES, METHODS, MODES, rng_for
from ndconv.testing import reference_convolve

INT64_MAX = 2**63 - 1
INT_DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")


def assert_exact(y, x, k, **kwargs):
    assert y.dtype == np.int64
    want = reference_convolve(np.asarray(x), np.asarray(k), **kwargs)
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("method", METHODS)
def test_small_integers_every_dtype(method, dtype):
    rng = rng_for("small-int", dtype)
    info = np.iinfo(dtype) if dtype != "bool" else None
    lo, hi = (0, 2) if info is None else (max(info.min, -50), min(info.max, 50) + 1)
    for xs, ks in [((20,), (5,)), ((9, 8), (3, 3)), ((5, 4, 6), (2, 3, 2))]:
        x = rng.integers(lo, hi, xs).astype(dtype)
        k = rng.integers(lo, hi, ks).astype(dtype)
        for mode in MODES:
            for boundary in ("constant", "reflect", "wrap"):
                y = ndconv.convolve(x, k, mode, boundary, method=method)
                assert_exact(y, x, k, mode=mode, boundary=boundary)
        assert_exact(ndconv.correlate(x, k, "same", "edge", method=method, stride=2), x, k, mode="same",
                     boundary="edge", stride=2, correlate=True)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16"])
@pytest.mark.parametrize("method", METHODS)
def test_no_wraparound_in_the_input_dtype(method, dtype):
    info = np.iinfo(dtype)
    for value in (info.min, info.max):
        x = np.full(60, value, dtype=dtype)
        k = np.full(40, value, dtype=dtype)
        y = ndconv.convolve(x, k, method=method)
        assert y.dtype == np.int64
        assert y[39] == 40 * int(value) * int(value)
        assert y.max() == 40 * int(value) ** 2 if value else y.max() == 0


@pytest.mark.parametrize("method", METHODS)
def test_bool_counts(method):
    x = np.array([True, True, False, True, True, True])
    y = ndconv.convolve(x, np.ones(3, bool), "same", method=method)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [2, 2, 2, 2, 3, 2])
    np.testing.assert_array_equal(ndconv.convolve(x, np.ones(3, bool), "same", "wrap", method=method),
                                  [3, 2, 2, 2, 3, 3])


@pytest.mark.parametrize("exponent", [31, 38, 40, 41, 45, 52, 53, 58, 60, 62])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_large_values_exact(method, boundary, exponent):
    """Large int64 values with kernels that keep the result inside int64: every
    method must return the exact integers (no float rounding)."""
    rng = rng_for("large", boundary, exponent)
    top = 2**exponent
    x = rng.integers(-top, top, 23, dtype=np.int64)
    x[:3] = [top - 1, -top, top - 3]       # the extremes, odd values (not float-representable above 2**53)
    k = np.array([1, -1, 1, 1]) if exponent <= 60 else np.array([1, 1])
    for mode in MODES:
        y = ndconv.convolve(x, k, mode, boundary, method=method)
        assert_exact(y, x, k, mode=mode, boundary=boundary)
    x2 = rng.integers(-top // 4, top // 4, (7, 6), dtype=np.int64)
    k2 = np.array([[1, 0], [-1, 2]]) if exponent <= 60 else np.array([[1, 0], [0, 1]])
    assert_exact(ndconv.convolve(x2, k2, "same", boundary, method=method), x2, k2, mode="same", boundary=boundary)
    assert_exact(ndconv.correlate(x2, k2, "full", boundary, method=method, dilation=2), x2, k2, mode="full",
                 boundary=boundary, dilation=2, correlate=True)


@pytest.mark.parametrize("method", METHODS)
def test_exact_beyond_float64_precision(method):
    """2**53 + 1 is not a float64: a float computation rounded back would be off by one."""
    x = np.array([2**53 + 1, 3, 2**53 + 1, 7], dtype=np.int64)
    k = np.array([1, 1])
    y = ndconv.convolve(x, k, method=method)
    assert y.tolist() == [2**53 + 1, 2**53 + 4, 2**53 + 4, 2**53 + 8, 7]
    big = np.full((40, 40), 2**50 + 1, dtype=np.int64)
    y = ndconv.convolve(big, np.ones((5, 5), np.int64), "same", method=method)
    assert y[20, 20] == 25 * (2**50 + 1) and y[0, 0] == 9 * (2**50 + 1)


@pytest.mark.parametrize("method", METHODS)
def test_near_the_float_threshold(method):
    """Around Σ|h|·max|x| = 2**40 (where a float path may be rounded back)."""
    for value in (2**38 - 1, 2**38, 2**38 + 1, 2**39 - 1):
        x = np.array([value, -value, value, value, 1, -1], dtype=np.int64)
        k = np.array([1, 1, 1, 1])
        assert ndconv.convolve(x, k, method=method).tolist() == reference_convolve(x, k).tolist()
    rng = rng_for("threshold")
    x = rng.integers(-2**37, 2**37, 5000, dtype=np.int64)
    k = rng.integers(-3, 4, 200, dtype=np.int64)
    assert_exact(ndconv.convolve(x, k, "same", method=method), x, k, mode="same")


@pytest.mark.parametrize("method", METHODS)
def test_int64_limits_reached_exactly(method):
    x = np.array([2**62, 2**62 - 1], dtype=np.int64)
    assert ndconv.convolve(x, [1, 1], method=method).tolist() == [2**62, INT64_MAX, 2**62 - 1]
    x = np.array([-2**62, -2**62], dtype=np.int64)
    assert ndconv.convolve(x, [1, 1], method=method).tolist() == [-2**62, -2**63, -2**62]
    # Σ|h|·max|x| exceeds int64 but every output fits: still exact
    x = np.array([2**62, -2**62, 2**62, -2**62], dtype=np.int64)
    assert ndconv.convolve(x, [1, 1], method=method).tolist() == [2**62, 0, 0, 0, -2**62]
    x = np.array([INT64_MAX, -INT64_MAX - 1, 5], dtype=np.int64)
    assert ndconv.convolve(x, [1, 1], method=method).tolist() == [INT64_MAX, -1, -2**63 + 5, 5]


@pytest.mark.parametrize("method", METHODS)
def test_wrap_of_fast_lengths_exact_near_int64_limits(method):
    """Under 'wrap' with x of fast transform lengths, fft convolves the period itself and
    hands its exact fallback x unextended; the Python-integer sum (Σ|h|·max|x| beyond
    int64) must still read x̃ by the rule (found by the fuzzing campaign: [2**63 − …] came
    back with the wrapped samples taken as zeros)."""
    low = -2**63
    cases = [
        (np.array([low]), np.array([True, False]), {}),
        (np.array([low]), np.array([False, True]), {}),
        (np.array([2**62, 3]), np.array([1, 1]), {}),
        (np.array([2**62, 3, -2**62, 7]), np.array([1, 1, 1]), {"mode": "same"}),
        (np.array([[2**62, 1], [-2**62, 5]]), np.array([[1, 1], [0, 1]]), {"mode": "full"}),
        (np.array([low, 5, -1, 2, 2**62, 0]), np.array([False, True, True]),
         {"mode": "same", "stride": 2, "dilation": 2, "origin": 1}),
    ]
    for x, k, kw in cases:
        assert_exact(ndconv.convolve(x, k, boundary="wrap", method=method, **kw), x, k, boundary="wrap", **kw)
    with pytest.raises(OverflowError, match="does not fit in int64"):
        ndconv.convolve(np.array([low]), np.array([True, True]), boundary="wrap", method=method)


@pytest.mark.parametrize("method", METHODS)
def test_overflow_raises(method):
    cases = [
        (np.array([2**62, 2**62], dtype=np.int64), np.array([1, 1]), {}),
        (np.array([-2**62, -2**62, -1], dtype=np.int64), np.array([1, 1, 1]), {"mode": "same"}),
        (np.array([INT64_MAX], dtype=np.int64), np.array([2]), {}),
        (np.array([2**40] * 5, dtype=np.int64), np.array([2**23] * 3), {"mode": "valid"}),
        (np.full((4, 4), 2**61, dtype=np.int64), np.ones((2, 2), np.int64), {"boundary": "wrap"}),
        (np.array([2**32, 3], dtype=np.uint64), np.array([2**31], dtype=np.uint64), {"fill_value": 0}),
        (np.array([1, 2, 3], dtype=np.int64), np.array([1, 1, 1]), {"fill_value": 2**62, "mode": "full"}),
    ]
    for x, k, kw in cases:
        x = np.asarray(x)
        want = reference_convolve(x.astype(object), np.asarray(k).astype(object), **kw) \
            if "fill_value" not in kw or kw["fill_value"] == 0 else None
        if want is not None:
            assert max(abs(int(v)) for v in np.ravel(want)) > INT64_MAX  # the premise
        with pytest.raises(OverflowError, match="does not fit in int64"):
            ndconv.convolve(x, k, method=method, **kw)
        with pytest.raises(OverflowError, match="int64"):
            ndconv.correlate(x, k[::-1], method=method, **kw)
    # 'full' reads two fills of 2**62 at its ends (2**63 + 1 does not fit); 'valid' reads none
    assert ndconv.convolve(np.array([1, 2, 3]), [1, 1, 1], "valid", fill_value=2**62, method=method).tolist() == [6]


@pytest.mark.parametrize("method", METHODS)
def test_overflow_only_in_outputs_that_are_kept(method):
    """An output dropped by the stride or the mode may overflow: the result fits."""
    x = np.array([2**62, 2**62, 0, 0, 0], dtype=np.int64)
    assert ndconv.convolve(x, [1, 1], stride=2, method=method).tolist() == [2**62, 2**62, 0]
    with pytest.raises(OverflowError):
        ndconv.convolve(x, [1, 1], method=method)
    x = np.array([0, 0, 2**62], dtype=np.int64)     # y_full = [0, 0, 2**62, 2**63]
    assert ndconv.convolve(x, [1, 2], "same", method=method).tolist() == [0, 0, 2**62]
    with pytest.raises(OverflowError):
        ndconv.convolve(x, [1, 2], "same", origin=1, method=method)


@pytest.mark.parametrize("method", METHODS)
def test_uint64_values(method):
    ok = np.array([INT64_MAX, 0, 1], dtype=np.uint64)
    assert ndconv.convolve(ok, np.array([1], dtype=np.uint64), method=method).tolist() == [INT64_MAX, 0, 1]
    y = ndconv.convolve(np.array([5, 7], dtype=np.uint64), np.array([-3, 1], dtype=np.int8), method=method)
    assert y.dtype == np.int64 and y.tolist() == [-15, -16, 7]   # numpy would promote this pair to float64
    for above in (2**63, 2**64 - 1):
        with pytest.raises(OverflowError, match="x holds uint64 values above the int64 range"):
            ndconv.convolve(np.array([1, above], dtype=np.uint64), [1, 1], method=method)
        with pytest.raises(OverflowError, match="k holds uint64 values above the int64 range"):
            ndconv.correlate([1, 2, 3], np.array([above], dtype=np.uint64), method=method)


@pytest.mark.parametrize("method", METHODS)
def test_integer_fill_values(method):
    x = np.array([3, -1, 4], dtype=np.int16)
    for fill in (7, -2**40, np.int64(2**50), 5.0, True):
        y = ndconv.convolve(x, np.array([1, 2, 1], dtype=np.int8), "same", fill_value=fill, method=method)
        f = int(fill)
        assert y.tolist() == [f + 2 * 3 - 1, 3 - 2 + 4, -1 + 8 + f]
