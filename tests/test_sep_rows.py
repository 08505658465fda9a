"""ndconv.methods._sep_rows: the fused separable row loops, against a literal 2-D sum over
the image extended by numpy.pad (every rule, anchor, dtype, sizes down to one sample and
kernels as long as the image), against cv2.sepFilter2D where installed, ±∞/NaN where the
definition puts them, and the OpenCV engine's calls that now run them."""

from __future__ import annotations

import contextlib
import importlib.util

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import ndconv
from ndconv import filters
from ndconv.methods import _opencv, _sep_rows

PAD_MODES = {"reflect": "reflect", "symmetric": "symmetric", "edge": "edge", "constant": "constant"}
HAVE_CV2 = importlib.util.find_spec("cv2") is not None


def literal(x, ky, kx, anchor, boundary):
    """y[i, j] = Σ_a Σ_b ky[a]·kx[b]·x̃[i + a − ay, j + b − ax], in float64, term by term."""
    ax, ay = anchor
    pads = ((ay, ky.size - 1 - ay), (ax, kx.size - 1 - ax))
    xe = np.pad(x.astype(np.float64), pads, mode=PAD_MODES[boundary])
    y = np.zeros(x.shape)
    for a in range(ky.size):
        for b in range(kx.size):
            y += float(ky[a]) * float(kx[b]) * xe[a:a + x.shape[0], b:b + x.shape[1]]
    return y


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_literal_sum(data):
    n0, n1 = data.draw(st.integers(1, 30)), data.draw(st.integers(1, 30))
    k0, k1 = data.draw(st.integers(1, min(n0, 9))), data.draw(st.integers(1, min(n1, 9)))
    anchor = (data.draw(st.integers(0, k1 - 1)), data.draw(st.integers(0, k0 - 1)))
    boundary = data.draw(st.sampled_from(_sep_rows.BOUNDARIES))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.standard_normal((n0, n1)).astype(dtype)
    ky, kx = rng.standard_normal(k0).astype(dtype), rng.standard_normal(k1).astype(dtype)
    assert _sep_rows.applies(x, ky, kx, boundary)
    got = _sep_rows.sep_filter(x, ky, kx, anchor, boundary)
    assert got.dtype == dtype and got.shape == x.shape
    want = literal(x, ky, kx, anchor, boundary)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(x).max() * np.abs(ky).sum() * np.abs(kx).sum())


@pytest.mark.skipif(not HAVE_CV2, reason="OpenCV not installed")
@pytest.mark.parametrize("boundary", _sep_rows.BOUNDARIES)
@pytest.mark.parametrize("shape, k0, k1, anchor", [((37, 41), 5, 7, (3, 2)), ((64, 64), 17, 17, (8, 8)),
                                                   ((9, 200), 9, 31, (0, 8)), ((3, 3), 3, 3, (2, 0))])
def test_as_opencv(boundary, shape, k0, k1, anchor):
    import cv2

    rng = np.random.default_rng(k0 * k1)
    x = rng.standard_normal(shape).astype(np.float32)
    ky, kx = rng.standard_normal(k0).astype(np.float32), rng.standard_normal(k1).astype(np.float32)
    border = getattr(cv2, _opencv._BORDERS[boundary])
    want = cv2.sepFilter2D(x, -1, kx, ky, anchor=anchor, borderType=border)
    np.testing.assert_allclose(_sep_rows.sep_filter(x, ky, kx, anchor, boundary), want, rtol=1e-5, atol=1e-5)


def test_non_finite_values_where_the_definition_puts_them():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 50))
    x[5, 7], x[20, 0], x[39, 30] = np.nan, np.inf, -np.inf
    ky, kx = rng.standard_normal(5), rng.standard_normal(3)
    ky[1] = 0.0                 # a zero tap: 0·∞ and 0·NaN are NaN in the sum of the definition
    with np.errstate(invalid="ignore"):
        got = _sep_rows.sep_filter(x, ky, kx, (1, 2), "reflect")
        want = literal(x, ky, kx, (1, 2), "reflect")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-12, atol=1e-12)


def test_zero_rule_skips_the_rows_outside():
    """Rows of x̃ outside x add nothing under the zero rule (the loops skip them), and the
    columns outside read as zeros."""
    x = np.ones((6, 5))
    ky, kx = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0])
    got = _sep_rows.sep_filter(x, ky, kx, (1, 1), "constant")
    np.testing.assert_allclose(got, literal(x, ky, kx, (1, 1), "constant"))


def test_into_dst_and_from_views():
    rng = np.random.default_rng(2)
    big = rng.standard_normal((30, 70)).astype(np.float32)
    x = big[:, ::2]                                   # not C-contiguous
    ky, kx = rng.standard_normal(5).astype(np.float32), rng.standard_normal(7).astype(np.float32)
    want = literal(x, ky, kx, (3, 2), "edge")
    dst = np.empty((30, 35), np.float32)
    assert _sep_rows.sep_filter(x, ky, kx, (3, 2), "edge", dst) is dst
    np.testing.assert_allclose(dst, want, rtol=1e-5, atol=1e-5)
    tile = big[2:28, 10:45]                           # rows contiguous, a longer row step: read in place
    flat, step = _sep_rows._flat_rows(tile)
    assert step == 70 and np.shares_memory(flat, big)
    np.testing.assert_allclose(_sep_rows.sep_filter(tile, ky, kx, (3, 2), "edge"),
                               literal(tile, ky, kx, (3, 2), "edge"), rtol=1e-5, atol=1e-5)
    flipped = big[::-1, :35]                          # a negative row step: copied
    assert not np.shares_memory(_sep_rows._flat_rows(flipped)[0], big)
    np.testing.assert_allclose(_sep_rows.sep_filter(flipped, ky, kx, (3, 2), "reflect"),
                               literal(flipped, ky, kx, (3, 2), "reflect"), rtol=1e-5, atol=1e-5)
    strided = np.empty((30, 70), np.float32)[:, ::2]  # a dst that is not contiguous either
    assert _sep_rows.sep_filter(x, ky, kx, (3, 2), "edge", strided) is strided
    np.testing.assert_allclose(strided, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("image, ky, kx, boundary", [
    (np.ones((8, 8), np.float32), np.ones(3, np.float64), np.ones(3, np.float32), "reflect"),   # mixed dtypes
    (np.ones((8, 8), np.int64), np.ones(3, np.int64), np.ones(3, np.int64), "reflect"),
    (np.ones((8, 8)), np.ones(3), np.ones(3), "wrap"),
    (np.ones((2, 8)), np.ones(3), np.ones(3), "reflect"),            # kernel longer than the image
    (np.ones((8, 8)), np.ones(151), np.ones(3), "reflect"),
    (np.ones((2, 8, 8)), np.ones(3), np.ones(3), "reflect"),
])
def test_declined(image, ky, kx, boundary):
    assert not _sep_rows.applies(image, ky, kx, boundary)


@pytest.mark.skipif(not HAVE_CV2, reason="OpenCV not installed")
def test_the_engine_and_the_filters_run_the_loops(monkeypatch):
    """The separable method's OpenCV route and filters.gaussian call the fused loops, with
    the results of the definition."""
    calls = []
    real = _sep_rows.sep_filter
    monkeypatch.setattr(_sep_rows, "sep_filter", lambda *args, **kw: calls.append(args[3]) or real(*args, **kw))
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 260)).astype(np.float32)
    g = filters.gaussian_kernel(2.0).astype(np.float32)
    got = ndconv.convolve(x, g, mode="same", boundary="reflect", method="separable")
    want = ndconv.convolve(x, g, mode="same", boundary="reflect", method="direct")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert calls, "the separable method did not reach the fused loops"
    calls.clear()
    np.testing.assert_allclose(filters.gaussian(x, 2.0), ndi.gaussian_filter(x, 2.0, mode="mirror"),
                               rtol=1e-5, atol=1e-5)
    assert calls == [(8, 8)]


@pytest.mark.parametrize("where", ["opencv off", "one core"])
def test_the_loops_need_no_opencv(monkeypatch, where):
    """With OpenCV disabled (or absent), and inside one_core (an ndconv.dask task), the
    separable method and filters.gaussian still run the fused loops."""
    from ndconv._memory import one_core

    calls = []
    real = _sep_rows.sep_filter
    monkeypatch.setattr(_sep_rows, "sep_filter", lambda *args, **kw: calls.append(args[3]) or real(*args, **kw))
    if where == "opencv off":
        monkeypatch.setattr(_opencv, "ENABLED", False)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((200, 180)).astype(np.float32)
    g = filters.gaussian_kernel(2.0).astype(np.float32)
    with one_core() if where == "one core" else contextlib.nullcontext():
        got = ndconv.convolve(x, g, mode="same", boundary="reflect", method="separable")
        assert len(calls) == 1
        smooth = filters.gaussian(x, 2.0)
        assert len(calls) == 2
        # float32 weights in float64: rank 1 only to float32's precision, so several terms
        wide = ndconv.convolve(x.astype(np.float64), g, mode="same", boundary="reflect", method="separable")
    np.testing.assert_allclose(got, ndconv.convolve(x, g, mode="same", boundary="reflect", method="direct"),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(smooth, ndi.gaussian_filter(x, 2.0, mode="mirror"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wide, ndconv.convolve(x.astype(np.float64), g.astype(np.float64), mode="same",
                                                     boundary="reflect", method="direct"), rtol=1e-6, atol=1e-6)
