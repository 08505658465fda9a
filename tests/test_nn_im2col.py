"""ndconv.nn._im2col: the compiled col2im (the input gradient's scatter) against the
per-tap NumPy adds it replaced, bit for bit, and as the adjoint of im2col (dot test):
1-D, 2-D and 3-D, strides, dilations, both float dtypes, NaN and ±∞ in the columns."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ndconv.nn._im2col import col2im, im2col


def per_tap_adds(cols, z, kernel, dilation, stride, output):
    """The NumPy col2im: one strided add per kernel tap, taps in order."""
    cols = cols.reshape(z.shape[:2] + tuple(kernel) + tuple(output))
    with np.errstate(invalid="ignore"):
        for tap in np.ndindex(*kernel):
            target = tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                           for t, d, s, o in zip(tap, dilation, stride, output))
            z[(slice(None), slice(None)) + target] += cols[(slice(None), slice(None)) + tap]
    return z


@st.composite
def geometries(draw):
    ndim = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    output = tuple(draw(st.integers(1, 7 if ndim < 3 else 4)) for _ in range(ndim))
    padded = tuple(s * (o - 1) + d * (k - 1) + 1 + draw(st.integers(0, 2))
                   for k, d, s, o in zip(kernel, dilation, stride, output))
    return kernel, dilation, stride, output, padded


@settings(max_examples=120, deadline=None)
@given(geometry=geometries(), batch=st.integers(1, 3), channels=st.integers(1, 3),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_col2im_is_the_per_tap_adds_and_the_adjoint_of_im2col(geometry, batch, channels, dtype, seed):
    kernel, dilation, stride, output, padded = geometry
    rng = np.random.default_rng(seed)
    cols = rng.standard_normal((batch, channels, math.prod(kernel) * math.prod(output))).astype(dtype)
    z = np.zeros((batch, channels) + padded, dtype)
    col2im(cols, z, kernel, dilation, stride, output)
    want = per_tap_adds(cols, np.zeros_like(z), kernel, dilation, stride, output)
    assert np.array_equal(z, want)                       # the same sums in the same order
    x = rng.standard_normal((batch, channels) + padded)
    gathered = im2col(x, kernel, dilation, stride, output, np.empty(cols.shape))
    scattered = np.zeros((batch, channels) + padded)
    col2im(cols.astype(np.float64), scattered, kernel, dilation, stride, output)
    assert np.vdot(gathered, cols.astype(np.float64)) == pytest.approx(np.vdot(x, scattered), rel=1e-10, abs=1e-10)


def test_col2im_keeps_nan_and_infinities_where_the_adds_put_them():
    rng = np.random.default_rng(4)
    kernel, dilation, stride, output = (3, 3), (1, 2), (2, 1), (5, 6)
    padded = (2 * 4 + 3, 5 + 4 + 1)
    cols = rng.standard_normal((2, 3, 9 * 30))
    cols[0, 1, 7] = np.nan
    cols[1, 0, 40] = np.inf
    cols[1, 0, 40 + 30] = -np.inf        # the next tap onto a sample near it: ∞ − ∞ where they meet
    cols[1, 2, 100] = np.inf
    z = np.zeros((2, 3) + padded)
    col2im(cols, z, kernel, dilation, stride, output)
    want = per_tap_adds(cols, np.zeros_like(z), kernel, dilation, stride, output)
    np.testing.assert_array_equal(z, want)               # NaN where NaN, ±∞ where ±∞
    assert np.isnan(z).any() and np.isinf(z).any()
