"""Every method against the oracle: modes, boundaries, dtypes, nD, batch axes,
per-row kernels, long kernels, origin, stride, dilation, fill value, correlate;
the OpenCV dispatch of the direct method on and off; ``choose_method``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import ndconv
from conftest import (
    ALIASES,
    BOUNDARIES,
    DTYPES,
    ENGINE_IDS,
    ENGINES,
    METHODS,
    MIXED,
    MODES,
    check,
    expected_dtype,
    make_array,
    rng_for,
)
from ndconv.methods import REGISTRY, _costs, _opencv
from ndconv.methods import fft as fft_module
from ndconv.testing import assert_conv_close, reference_convolve

SHAPES = {  # (x shape, k shape) per dimension: odd/even, square/not, kernel longer than x
    1: [((9,), (3,)), ((8,), (4,)), ((5,), (1,)), ((3,), (7,)), ((2,), (9,)), ((1,), (4,))],
    2: [((7, 8), (3, 3)), ((9, 6), (2, 4)), ((6, 7), (5, 1)), ((3, 2), (5, 6)), ((1, 4), (3, 2))],
    3: [((4, 5, 6), (3, 2, 3)), ((3, 4, 2), (2, 5, 3)), ((2, 3, 4), (1, 1, 2))],
}


def _fits(mode, xs, ks, dilation=1):
    return mode != "valid" or all(dilation * (k - 1) + 1 <= n for n, k in zip(xs, ks))


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_float64_grid(engine, mode, boundary, ndim, set_opencv):
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("grid", mode, boundary, ndim)
    for xs, ks in SHAPES[ndim]:
        if _fits(mode, xs, ks):
            check(rng.standard_normal(xs), rng.standard_normal(ks), method, mode=mode, boundary=boundary)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_dtypes(engine, mode, boundary, dtype, set_opencv):
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("dtypes", mode, boundary, dtype)
    for xs, ks in [((10,), (3,)), ((8, 9), (3, 3)), ((7, 6), (2, 4)), ((4, 3, 5), (2, 2, 3))]:
        x, k = make_array(rng, xs, dtype), make_array(rng, ks, dtype)
        y = check(x, k, method, mode=mode, boundary=boundary)
        assert y.dtype == expected_dtype(dtype, dtype)


@pytest.mark.parametrize("pair", MIXED, ids=["-".join(p) for p in MIXED])
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_mixed_dtypes(engine, pair, set_opencv):
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("mixed", pair)
    for (xs, ks), mode, boundary in [(((11,), (4,)), "full", "constant"), (((9, 8), (3, 3)), "same", "reflect"),
                                     (((6, 7), (2, 3)), "valid", "wrap")]:
        for dx, dk in (pair, pair[::-1]):
            check(make_array(rng, xs, dx), make_array(rng, ks, dk), method, mode=mode, boundary=boundary)


@pytest.mark.parametrize(("x_dtype", "k_dtype", "result"), [
    ("float32", "float32", "float32"), ("float64", "float64", "float64"), ("float16", "float16", "float32"),
    ("float16", "float32", "float32"), ("float16", "float64", "float64"), ("bool", "bool", "int64"),
    ("int8", "int8", "int64"), ("uint8", "int16", "int64"), ("uint32", "int8", "int64"),
    ("bool", "float32", "float32"), ("int8", "float16", "float32"), ("int64", "float32", "float64"),
    ("complex64", "complex64", "complex64"), ("complex64", "float64", "complex128"),
    ("float32", "complex128", "complex128"), ("complex64", "float16", "complex64"),
    ("int16", "complex64", "complex64"), ("float16", "bool", "float32"),
])
@pytest.mark.parametrize("method", METHODS)
def test_result_dtype_table(method, x_dtype, k_dtype, result):
    """§2, spelled out case by case (not through the helper the other tests use)."""
    x = np.ones((6, 5), dtype=x_dtype)
    k = np.ones((2, 3), dtype=k_dtype)
    for func in (ndconv.convolve, ndconv.correlate):
        y = func(x, k, "same", method=method)
        assert y.dtype == np.dtype(result)
        assert abs(y[2, 2] - 6) <= 6 * 1e-5  # all-ones: each output sums the 6 taps


@pytest.mark.parametrize("alias", sorted(ALIASES))
@pytest.mark.parametrize("method", METHODS)
def test_boundary_aliases(method, alias):
    """Each alias gives exactly the rule it names, and agrees with the oracle."""
    rng = rng_for("alias", alias)
    x, k = rng.standard_normal((6, 7)), rng.standard_normal((3, 4))
    kw = {"fill_value": 0.5} if ALIASES[alias] == "constant" else {}
    for mode in ("full", "same"):
        y = check(x, k, method, mode=mode, boundary=alias, **kw)
        np.testing.assert_array_equal(y, ndconv.convolve(x, k, mode, ALIASES[alias], method=method, **kw))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_kernel_longer_than_input(engine, boundary, set_opencv):
    """The extension repeats as often as needed: K up to 4N + 3, N down to 1."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("long", boundary)
    for n in (1, 2, 3, 5):
        for kk in (n + 1, 2 * n + 1, 4 * n + 3):
            x, k = rng.standard_normal(n), rng.standard_normal(kk)
            for mode in ("full", "same"):
                check(x, k, method, mode=mode, boundary=boundary)
            check(x, k, method, mode="same", boundary=boundary, dilation=2, stride=2)
    x, k = rng.standard_normal((2, 3)), rng.standard_normal((7, 9))
    check(x, k, method, mode="same", boundary=boundary)
    check(x, k, method, mode="full", boundary=boundary, correlate=True)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_every_origin(engine, boundary, set_opencv):
    """Every origin the contract allows, odd and even kernels, per axis."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("origin", boundary)
    x1 = rng.standard_normal(9)
    for kk, d in ((1, 1), (2, 1), (3, 1), (4, 1), (3, 2), (2, 3)):
        kd = d * (kk - 1) + 1
        k = rng.standard_normal(kk)
        for origin in range(-((kd - 1) // 2), kd - 1 - (kd - 1) // 2 + 1):
            check(x1, k, method, mode="same", boundary=boundary, origin=origin, dilation=d)
            check(x1, k, method, mode="same", boundary=boundary, origin=origin, dilation=d, correlate=True)
    x2, k2 = rng.standard_normal((8, 9)), rng.standard_normal((4, 3))
    for origin in [(0, 0), (1, 0), (-1, 1), (2, -1), (1, 1), [-1, -1]]:
        check(x2, k2, method, mode="same", boundary=boundary, origin=origin)
    check(rng.standard_normal((5, 6, 4)), rng.standard_normal((2, 3, 4)), method, mode="same",
          boundary=boundary, origin=(1, -1, 2))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_stride_and_dilation(engine, mode, boundary, set_opencv):
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("stride", mode, boundary)
    x1 = rng.standard_normal(17)
    for kk in (1, 2, 3, 4):
        k = rng.standard_normal(kk)
        for stride in (1, 2, 3, 5):
            for dilation in (1, 2, 3):
                if _fits(mode, (17,), (kk,), dilation):
                    check(x1, k, method, mode=mode, boundary=boundary, stride=stride, dilation=dilation)
    x2, k2 = rng.standard_normal((11, 10)), rng.standard_normal((3, 2))
    for stride, dilation in [((2, 1), (1, 3)), ((1, 3), (2, 1)), (2, 2), ((3, 2), (2, 4))]:
        check(x2, k2, method, mode=mode, boundary=boundary, stride=stride, dilation=dilation)
    x3, k3 = rng.standard_normal((7, 6, 9)), rng.standard_normal((2, 3, 2))
    check(x3, k3, method, mode=mode, boundary=boundary, stride=(2, 1, 3), dilation=(1, 2, 3))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_fill_value(engine, mode, set_opencv):
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("fill", mode)
    for fill in (1.5, -3.0, 1e3):
        for xs, ks in [((9,), (4,)), ((7, 8), (3, 3)), ((3, 4, 5), (2, 3, 2)), ((2,), (7,))]:
            if _fits(mode, xs, ks):
                for boundary in ("constant", "fill", "zero"):
                    check(rng.standard_normal(xs), rng.standard_normal(ks), method, mode=mode,
                          boundary=boundary, fill_value=fill, stride=2 if len(xs) == 1 else 1)
    check(make_array(rng, (6, 5), "complex128"), make_array(rng, (2, 3), "complex128"), method,
          mode=mode, fill_value=2 - 1j)
    check(make_array(rng, (9,), "int8"), make_array(rng, (3,), "int8"), method, mode=mode, fill_value=-7)
    check(make_array(rng, (9,), "bool"), make_array(rng, (3,), "bool"), method, mode=mode, fill_value=True)
    check(make_array(rng, (6, 7), "float32"), make_array(rng, (3, 3), "float32"), method, mode=mode,
          fill_value=np.float64(2.5))


def test_fill_value_is_ignored_by_other_boundaries():
    x, k = np.arange(6.0), np.array([1.0, 2.0, 3.0])
    for boundary in ("wrap", "reflect", "symmetric", "edge"):
        np.testing.assert_array_equal(ndconv.convolve(x, k, boundary=boundary, fill_value=9.0),
                                      ndconv.convolve(x, k, boundary=boundary))
    assert not np.array_equal(ndconv.convolve(x, k, fill_value=9.0), ndconv.convolve(x, k))


@pytest.mark.parametrize("dtype", ["float64", "complex128", "int64", "float32", "complex64"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_correlate(engine, boundary, dtype, set_opencv):
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("correlate", boundary, dtype)
    for (xs, ks), mode in [(((10,), (3,)), "full"), (((10,), (4,)), "same"), (((8, 9), (3, 2)), "same"),
                           (((8, 9), (3, 3)), "valid"), (((4, 5, 3), (2, 2, 3)), "full")]:
        x, k = make_array(rng, xs, dtype), make_array(rng, ks, dtype)
        check(x, k, method, mode=mode, boundary=boundary, correlate=True)
        check(x, k, method, mode=mode, boundary=boundary, correlate=True, stride=2, dilation=1)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_batch_axes(engine, mode, boundary, set_opencv):
    """k.ndim < x.ndim: the leading axes of x are batch axes (explicit axes too)."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("batch", mode, boundary)
    x = rng.standard_normal((3, 7, 8))
    check(x, rng.standard_normal((3, 2)), method, mode=mode, boundary=boundary)
    check(x, rng.standard_normal(4), method, mode=mode, boundary=boundary, stride=2)
    check(x, rng.standard_normal((2, 3)), method, mode=mode, boundary=boundary, axes=(0, 2))
    # kernel axis i runs along x axis axes[i], with origin/stride/dilation[i]
    check(x, rng.standard_normal((3, 2)), method, mode=mode, boundary=boundary, axes=(2, 1),
          stride=(1, 2), dilation=(2, 1))
    check(x, rng.standard_normal(3), method, mode=mode, boundary=boundary, axes=-3)
    x4 = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    check(x4, rng.standard_normal((3, 3)).astype(np.float32), method, mode=mode, boundary=boundary,
          correlate=True)
    if mode == "same":
        check(x, rng.standard_normal((3, 4)), method, mode=mode, boundary=boundary, axes=(2, 1),
              origin=(1, -1))


def test_batch_axes_equal_loop_over_rows():
    """Batch rows are independent: the same as convolving each row alone."""
    rng = rng_for("rows")
    x, k = rng.standard_normal((4, 3, 9, 8)), rng.standard_normal((3, 2))
    for method in METHODS:
        y = ndconv.convolve(x, k, "same", "reflect", method=method, origin=(1, 0))
        for index in np.ndindex(4, 3):
            np.testing.assert_allclose(y[index], ndconv.convolve(x[index], k, "same", "reflect",
                                                                 method="direct", origin=(1, 0)),
                                       rtol=0, atol=1e-12 * np.abs(k).sum() * np.abs(x).max())


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_per_row_kernels(engine, mode, boundary, set_opencv):
    """k.ndim == x.ndim with a subset of axes: the other axes broadcast as in NumPy."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("perrow", mode, boundary)
    x = rng.standard_normal((4, 9))
    check(x, rng.standard_normal((4, 3)), method, mode=mode, boundary=boundary, axes=1)
    check(x, rng.standard_normal((1, 3)), method, mode=mode, boundary=boundary, axes=(-1,))
    check(rng.standard_normal((1, 9)), rng.standard_normal((4, 3)), method, mode=mode, boundary=boundary,
          axes=-1)  # one input row, four kernels
    check(x.T, rng.standard_normal((2, 4)), method, mode=mode, boundary=boundary, axes=0, stride=2)
    x3 = rng.standard_normal((2, 5, 6))
    check(x3, rng.standard_normal((2, 1, 3)), method, mode=mode, boundary=boundary, axes=2)
    check(x3, rng.standard_normal((2, 3, 1)), method, mode=mode, boundary=boundary, axes=(1,))
    check(x3, rng.standard_normal((1, 3, 2)), method, mode=mode, boundary=boundary, axes=(2, 1))
    check(x3, rng.standard_normal((2, 2, 3)), method, mode=mode, boundary=boundary, axes=(1, 2),
          correlate=True)
    check(x3.astype(np.complex64), make_array(rng, (2, 1, 3), "complex64"), method, mode=mode,
          boundary=boundary, axes=2)


def test_per_row_kernels_equal_loop_over_rows():
    rng = rng_for("perrow-loop")
    x, k = rng.standard_normal((5, 12)), rng.standard_normal((5, 4))
    for method in METHODS:
        y = ndconv.convolve(x, k, "same", "wrap", axes=1, method=method)
        for r in range(5):
            np.testing.assert_allclose(y[r], ndconv.convolve(x[r], k[r], "same", "wrap", method="direct"),
                                       rtol=0, atol=1e-12 * np.abs(k).sum() * np.abs(x).max())


@pytest.mark.parametrize("method", METHODS)
def test_non_contiguous_and_read_only_inputs(method):
    rng = rng_for("layout")
    base = rng.standard_normal((12, 14))
    x = base[::2, 1::2]                         # strided view
    k = np.asfortranarray(rng.standard_normal((3, 3)))
    x_ro = base.copy()
    x_ro.flags.writeable = False
    for xx in (x, x.T, x_ro, np.broadcast_to(rng.standard_normal(7), (5, 7))):
        check(xx, k, method, mode="same", boundary="reflect")
    before = base.copy()
    ndconv.convolve(base, k, "same", "wrap", method=method)
    np.testing.assert_array_equal(base, before)  # the input is never modified


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_lists_and_scalars_of_python_types(engine, set_opencv):
    method, cv = engine
    set_opencv(cv)
    check([3, 1, 2], [3, 2, 1], method)
    check([[1.5, 2], [3, 4]], [[1, 0], [0, 1j]], method, mode="same")
    check([True, False, True], [True, True], method, mode="full")
    np.testing.assert_array_equal(ndconv.convolve([3, 1, 2], [3, 2, 1], method=method), [9, 9, 11, 5, 2])


@pytest.mark.parametrize("method", METHODS)
def test_longer_problems(method):
    """Sizes where overlap_add cuts several blocks and accumulators switch precision."""
    rng = rng_for("longer", method)
    x, k = rng.standard_normal(3000), rng.standard_normal(37)
    for mode in MODES:
        check(x, k, method, mode=mode, boundary="reflect", stride=3)
    check(x.astype(np.float32), rng.standard_normal(100).astype(np.float32), method, mode="same")
    check(rng.standard_normal((70, 64)), rng.standard_normal((9, 13)), method, mode="valid", boundary="edge")
    check(make_array(rng, (400,), "complex128"), make_array(rng, (21,), "complex128"), method, mode="full",
          dilation=3)


@pytest.mark.parametrize("dtype", ["float32", "complex64"])
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_single_precision_with_many_taps(engine, dtype, set_opencv):
    """Single-precision sums of many taps (where accumulators may switch to double)
    keep §2's 1e-5 accuracy and the single-precision dtype."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("many-taps", dtype)
    for xs, ks in [((2000,), (149,)), ((2000,), (151,)), ((1500,), (700,)), ((40, 45), (13, 13)),
                   ((30, 30), (11, 11)), ((12, 12, 12), (6, 6, 5))]:
        x, k = make_array(rng, xs, dtype), make_array(rng, ks, dtype)
        x += 3  # same-signed terms are the hard case for a single-precision accumulator
        k = (np.abs(k) + 0.5).astype(dtype) if len(ks) == 1 else k
        for mode in ("full", "same"):
            assert check(x, k, method, mode=mode).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_large_2d_kernels(engine, boundary, dtype, set_opencv):
    """Kernel sides above 11 on 2-D float images (where the fft method may use
    OpenCV's DFT engine), every origin corner, and the other modes."""
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("big-2d-kernel", boundary, dtype)
    for xs, ks, corner in [((40, 45), (13, 13), 0), ((30, 33), (12, 17), 1), ((26, 40), (25, 12), 2)]:
        x, k = make_array(rng, xs, dtype), make_array(rng, ks, dtype)
        lo = [-((kk - 1) // 2) for kk in ks]
        hi = [kk - 1 - (kk - 1) // 2 for kk in ks]
        check(x, k, method, mode="same", boundary=boundary)
        check(x, k, method, mode="same", boundary=boundary, origin=[lo, hi, (lo[0], hi[1])][corner],
              correlate=corner == 1)
    x, k = make_array(rng, (30, 33), dtype), make_array(rng, (12, 17), dtype)
    for mode in ("full", "valid"):
        check(x, k, method, mode=mode, boundary=boundary)


LARGE = [  # inputs above the direct method's small-input size (2**15 elements): interior + border boxes
    ((40_000,), (5,), {"stride": 3}),
    ((40_000,), (4,), {"dilation": 2}),
    ((190, 185), (3, 4), {}),
    ((190, 185), (5, 3), {"stride": (2, 1), "dilation": (1, 2)}),
    ((36, 33, 30), (3, 2, 3), {}),
    ((12, 3000), (7,), {}),                      # batch rows
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_large_inputs(engine, boundary, set_opencv):
    method, cv = engine
    set_opencv(cv)
    rng = rng_for("large", boundary)
    for xs, ks, kw in LARGE:
        x, k = rng.standard_normal(xs), rng.standard_normal(ks)
        for mode in MODES:
            check(x, k, method, mode=mode, boundary=boundary, **kw)
        if len(ks) == len(xs):
            origin = tuple((kk - 1) - (kk - 1) // 2 for kk in ks) if not kw else 0
            check(x.astype(np.float32), k.astype(np.float32), method, mode="same", boundary=boundary,
                  origin=origin, correlate=True, **kw)
    x, k = rng.integers(-50, 50, (9, 4000)), rng.integers(-3, 4, (9, 6))
    check(x, k, method, mode="same", boundary=boundary, axes=1)      # per-row kernels, exact integers
    check(x + 0.5j, k, method, mode="full", boundary=boundary, axes=-1)


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "separable"])
def test_interior_and_border_boxes_on_small_inputs(method, mode, boundary, ndim, monkeypatch):
    """The box split of the direct loops (interior read in place, borders padded),
    forced on small inputs where every box shape occurs."""
    from ndconv.methods import direct

    if not hasattr(direct, "SMALL_INPUT"):  # pragma: no cover - the split moved
        pytest.skip("direct.SMALL_INPUT is gone")
    monkeypatch.setattr(direct, "SMALL_INPUT", 0)
    monkeypatch.setattr(direct, "NUMPY_WORK", 0)   # the loops, not numpy.convolve
    rng = rng_for("boxes", mode, boundary, ndim)
    for xs, ks in SHAPES[ndim]:
        x, k = rng.standard_normal(xs), rng.standard_normal(ks)
        for kw in ({}, {"stride": 2}, {"stride": 3, "dilation": 2}, {"fill_value": 1.5}):
            if _fits(mode, xs, ks, kw.get("dilation", 1)):
                check(x, k, method, mode=mode, boundary=boundary, **kw)
        if mode == "same":
            check(x, k, method, mode=mode, boundary=boundary, origin=[kd - 1 - (kd - 1) // 2 for kd in ks])
            check(x, k, method, mode=mode, boundary=boundary, origin=[-((kd - 1) // 2) for kd in ks])
        if _fits(mode, xs, ks):
            check((x * 3).astype(np.int64), (k * 4).astype(np.int64), method, mode=mode, boundary=boundary)
    xs, ks = SHAPES[ndim][0]
    check(rng.standard_normal((3, *xs)), rng.standard_normal(ks), method, mode=mode, boundary=boundary)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
def test_thin_problems_run_with_their_longest_axis_last(mode, boundary, monkeypatch):
    """A small problem (one padded box) with one or two outputs per row along its last
    axis runs transposed (``direct._thin_box``): equal to the definition in 2-D and
    3-D, with batch axes, per-row kernels, strides, dilations, origins and a fill
    value — and really taken."""
    from ndconv.methods import direct

    calls = []
    thin_box = direct._thin_box
    monkeypatch.setattr(direct, "_thin_box", lambda *a: calls.append(a[-1].shape) or thin_box(*a))
    monkeypatch.setattr(_opencv, "ENABLED", False)
    rng = rng_for("thin", mode, boundary)
    cases = [((40, 2), (3, 3), {}), ((3, 30, 3), (4, 3), {}), ((9, 18, 3), (3, 2, 3), {}),
             ((10, 17, 4), (3, 3, 3), {"stride": (1, 1, 2)}), ((25, 6), (3, 3), {"dilation": 2}),
             ((35, 4), (5, 3), {"fill_value": -2.5})]
    for xs, ks, kw in cases:
        if _fits(mode, xs[-len(ks):], ks, kw.get("dilation", 1)):
            check(rng.standard_normal(xs), rng.standard_normal(ks), "direct", mode=mode, boundary=boundary, **kw)
    if mode == "same":
        check(rng.standard_normal((24, 3)), rng.standard_normal((3, 5)), "direct", mode=mode, boundary=boundary,
              origin=(1, -2))
    x, k = rng.standard_normal((3, 20, 3)), rng.standard_normal((3, 3, 3))   # one kernel per row
    check(x, k, "direct", mode=mode, boundary=boundary, axes=(1, 2))
    assert calls, "no thin problem was computed transposed"


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_border_boxes_run_in_one_frame_per_axis(boundary, monkeypatch):
    """Every border box is summed by one call of the loops per axis (in 2-D the rows
    above and below, the columns beside, transposed; in 3-D three frames), beside the
    interior's: equal to the definition for wide and narrow borders, strides, dilation,
    origins, a fill value, batch axes and per-row kernels, and never writing into a
    read-only x."""
    from ndconv.methods import _numba_kernels, direct

    calls = []
    correlate_rows = _numba_kernels.correlate_rows
    monkeypatch.setattr(_numba_kernels, "correlate_rows",
                        lambda *a, **kw: calls.append(a[0].shape) or correlate_rows(*a, **kw))
    monkeypatch.setattr(direct, "SMALL_INPUT", 0)
    monkeypatch.setattr(direct, "NUMPY_WORK", 0)   # the loops, not numpy.convolve
    monkeypatch.setattr(_opencv, "ENABLED", False)   # the compiled loops, not OpenCV's engine
    rng = rng_for("frames", boundary)
    cases = [((20, 30), (3, 5), {}), ((19, 26), (4, 6), {"origin": (1, -2)}), ((21, 40), (3, 3), {"stride": (1, 2)}),
             ((25, 31), (5, 3), {"stride": (2, 3), "dilation": (1, 2)}), ((18, 24), (3, 4), {"dilation": 2}),
             ((17, 23), (5, 5), {"fill_value": -2.5}), ((4, 13, 22), (3, 5), {}),
             ((12, 3), (5, 5), {"fill_value": 1.5}), ((30, 6), (1, 9), {}), ((6, 30), (9, 1), {}),
             ((20, 40), (3, 9), {"stride": (1, 2)}),
             ((40, 20), (9, 3), {"stride": (3, 1), "dilation": (2, 1)})]
    cases += [((9, 10, 12), (3, 3, 5), {}), ((2, 8, 9, 10), (3, 2, 3), {"fill_value": 0.5}),
              ((12, 11, 13), (3, 5, 3), {"stride": (2, 1, 3), "dilation": (1, 2, 1)}),
              ((10, 9, 4), (3, 3, 3), {"origin": (-1, 0, 1)})]
    counts = []
    for xs, ks, kw in cases:
        x = rng.standard_normal(xs)
        x.flags.writeable = False
        calls.clear()
        check(x, rng.standard_normal(ks), "direct", mode="same", boundary=boundary, **kw)
        counts.append(len(calls))
    # the interior and one frame per axis (per box, the first case alone made five calls)
    assert counts[0] == 3 and max(counts) == 4 and all(c <= 4 for c in counts), counts
    x, k = rng.standard_normal((3, 12, 20)), rng.standard_normal((3, 3, 5))   # one kernel per row
    check(x, k, "direct", mode="same", boundary=boundary, axes=(1, 2))
    xi, ki = rng.integers(-1000, 1000, (16, 22)), rng.integers(-9, 10, (3, 5))
    check(xi, ki, "direct", mode="full", boundary=boundary, fill_value=7)      # float64 loops, exact
    check(xi * 2**45, ki, "direct", mode="same", boundary=boundary)            # int64 loops, exact


@pytest.mark.parametrize("boundary", ["constant", "reflect", "wrap"])
def test_layouts_are_built_once_per_geometry(boundary, monkeypatch):
    """The boxes, frames and offsets of the loops depend on the geometry only and are
    kept between calls: a second call with other data, another fill value or another
    kernel of the same shape reuses them and still equals the definition; another batch
    count, stride or origin builds its own."""
    from ndconv.methods import direct

    monkeypatch.setattr(direct, "SMALL_INPUT", 0)
    monkeypatch.setattr(direct, "NUMPY_WORK", 0)   # the loops, not numpy.convolve
    monkeypatch.setattr(_opencv, "ENABLED", False)
    direct._layout.cache_clear()
    rng = rng_for("layouts", boundary)
    for fill in (0.0, 2.5, -1.0):
        x, k = rng.standard_normal((19, 23)), rng.standard_normal((3, 5))
        check(x, k, "direct", mode="same", boundary=boundary, fill_value=fill)
    assert direct._layout.cache_info().misses == 1 and direct._layout.cache_info().hits == 2
    check(rng.standard_normal((2, 19, 23)), rng.standard_normal((3, 5)), "direct", mode="same", boundary=boundary)
    check(rng.standard_normal((19, 23)), rng.standard_normal((3, 5)), "direct", mode="same", boundary=boundary,
          stride=(1, 2))
    check(rng.standard_normal((19, 23)), rng.standard_normal((3, 5)), "direct", mode="same", boundary=boundary,
          origin=(1, -1))
    assert direct._layout.cache_info().misses == 4


def test_small_padded_boxes_keep_their_window_with_the_layout(monkeypatch):
    """The single padded box of a small 1-D or 3-D input keeps its window of x̃ (a gather
    plan) and its offsets with the layout: worked out once per geometry, then reused for
    other values and kernels of the same shape, equal to the definition for every
    boundary rule and fill (a small input is extended whole by them, so they share one
    geometry).  Windows above KEPT_WINDOW samples are not kept."""
    from ndconv.methods import direct

    monkeypatch.setattr(direct, "NUMPY_WORK", 0)   # the loops, not numpy.convolve, for the 1-D rows
    built = []
    real = direct._window
    monkeypatch.setattr(direct, "_window", lambda box, layout: built.append(layout.z.shape) or real(box, layout))
    direct._layout.cache_clear()
    rng = rng_for("kept windows")
    for boundary in ("constant", "reflect", "symmetric", "wrap", "edge"):
        for fill in ((0.0, 2.5) if boundary == "constant" else (0.0,)):
            for _ in range(2):
                check(rng.standard_normal(300), rng.standard_normal(7), "direct", mode="same", boundary=boundary,
                      fill_value=fill)
                check(rng.standard_normal((9, 8, 7)), rng.standard_normal((3, 3, 2)), "direct", mode="full",
                      boundary=boundary, fill_value=fill)
    # small inputs are extended whole: one geometry for a zero fill, one for every other rule and fill
    assert sorted(built) == sorted([(300,), (306,), (9, 8, 7), (13, 12, 9)])
    layout = direct._layout((300,), (7,), (3,), (300,), (1,), (1,), "wrap", direct.SMALL_INPUT)
    assert [kept is not None for _, kept in layout.padded] == [True]
    monkeypatch.setattr(direct, "KEPT_WINDOW", 100)
    direct._layout.cache_clear()
    layout = direct._layout((300,), (7,), (3,), (300,), (1,), (1,), "wrap", direct.SMALL_INPUT)
    assert [kept is None for _, kept in layout.padded] == [True]
    direct._layout.cache_clear()


def test_padded_boxes_keep_their_offsets(monkeypatch):
    """The single padded box of a 1-D or 3-D input too large to keep its window keeps its
    offsets between calls (another fill, another kernel of the same shape) and still equals
    the definition; boxes of more than CACHED_ROWS rows build them on each call."""
    from ndconv.methods import direct

    monkeypatch.setattr(direct, "KEPT_WINDOW", 0)
    monkeypatch.setattr(direct, "NUMPY_WORK", 0)
    direct._layout.cache_clear()
    direct._padded_offsets.cache_clear()
    rng = rng_for("padded offsets")
    for fill in (0.0, 1.5):
        check(rng.standard_normal(300), rng.standard_normal(7), "direct", mode="same", boundary="constant",
              fill_value=fill)
        check(rng.standard_normal((9, 8, 7)), rng.standard_normal((3, 3, 2)), "direct", mode="full",
              boundary="reflect")
    info = direct._padded_offsets.cache_info()
    assert info.misses == 2 and info.hits >= 2
    monkeypatch.setattr(direct, "CACHED_ROWS", 8)   # the 3-D box has 9·8 rows: not kept
    check(rng.standard_normal((7, 6, 7)), rng.standard_normal((3, 3, 2)), "direct", mode="full", boundary="wrap")
    assert direct._padded_offsets.cache_info().misses == 2
    direct._layout.cache_clear()


def test_large_interiors_build_their_offsets_per_call(monkeypatch):
    """Interior boxes of more than CACHED_ROWS rows leave their (megabyte) offsets out of
    the layout cache and build them in each call, with the same result."""
    from ndconv.methods import direct

    monkeypatch.setattr(direct, "SMALL_INPUT", 0)
    monkeypatch.setattr(direct, "NUMPY_WORK", 0)   # the loops, not numpy.convolve
    monkeypatch.setattr(direct, "CACHED_ROWS", 4)
    monkeypatch.setattr(_opencv, "ENABLED", False)
    direct._layout.cache_clear()
    rng = rng_for("uncached")
    check(rng.standard_normal((14, 9, 11)), rng.standard_normal((3, 2, 3)), "direct", mode="same", boundary="wrap")
    check(rng.standard_normal((3, 2, 20)), rng.standard_normal((1, 1, 3)), "direct", mode="same", boundary="reflect")
    assert direct._layout.cache_info().currsize == 2
    built = []
    inner_offsets = direct._inner_offsets
    monkeypatch.setattr(direct, "_inner_offsets", lambda *a: built.append(a[0]) or inner_offsets(*a))
    check(rng.standard_normal((14, 9, 11)), rng.standard_normal((3, 2, 3)), "direct", mode="same", boundary="wrap")
    assert direct._layout.cache_info().hits == 1 and len(built) == 1   # the layout kept, the offsets built


@pytest.mark.parametrize("mode", MODES)
def test_fft_wrap_transforms_the_period_itself(mode, monkeypatch):
    """With boundary='wrap' and fast lengths, fft runs one circular convolution of x's own
    size (kernel folded onto the period): equal to the definition for every mode, stride,
    dilation, origin, kernels longer than x, batch axes, per-row kernels, integers (exact),
    complex and float32 — and really taken."""
    from ndconv.methods import _registry

    calls = []
    periodic = _registry._fft_periodic
    monkeypatch.setattr(_registry, "_fft_periodic", lambda s: calls.append(s.input_shape) or periodic(s))
    rng = rng_for("periodic", mode)
    cases = [((16,), (5,), {}), ((12,), (30,), {}), ((10,), (4,), {"stride": 3, "dilation": 2}),
             ((8, 6), (3, 4), {}), ((10, 12), (4, 25), {"dilation": (1, 2)}), ((6, 8, 10), (3, 2, 5), {"stride": 2}),
             ((3, 16, 10), (5, 3), {})]
    for xs, ks, kw in cases:
        x, k = rng.standard_normal(xs), rng.standard_normal(ks)
        if _fits(mode, xs[-len(ks):], ks, max(np.atleast_1d(kw.get("dilation", 1)))):
            check(x, k, "fft", mode=mode, boundary="wrap", **kw)
            check((x * 5).astype(np.int64), (k * 3).astype(np.int64), "fft", mode=mode, boundary="wrap", **kw)
            check(x.astype(np.float32), k.astype(np.float32), "fft", mode=mode, boundary="wrap", **kw)
            check(x + 1j * rng.standard_normal(xs), k, "fft", mode=mode, boundary="wrap", **kw)
    if mode == "same":
        check(rng.standard_normal((10, 8)), rng.standard_normal((4, 3)), "fft", mode=mode, boundary="wrap",
              origin=(2, -1))
    x, k = rng.standard_normal((3, 12, 10)), rng.standard_normal((3, 3, 5))   # one kernel per row
    check(x, k, "fft", mode=mode, boundary="wrap", axes=(1, 2))
    assert calls, "the circular path was not taken"
    calls.clear()
    check(rng.standard_normal((13, 7)), rng.standard_normal((3, 3)), "fft", mode=mode, boundary="wrap")
    assert not calls, "13 × 7 real is not a fast length: the padded path should run"


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_fft_wrap_keeps_nonfinite_values_local(value):
    """The circular path keeps NaN/±∞ in the windows that hold them, across the period's edge."""
    x = np.arange(1.0, 17.0)
    x[0] = value
    k = np.array([1.0, 2.0, 0.5])
    check(x, k, "fft", mode="same", boundary="wrap")
    check(x.reshape(4, 4), k.reshape(1, 3), "fft", mode="full", boundary="wrap")


def test_fft_wrap_prices_the_period():
    """The cost model prices the circular path with x's own lengths."""
    choice = ndconv.choose_method(np.ones((32, 32, 32), np.float32), np.ones((7, 7, 7), np.float32),
                                  mode="same", boundary="wrap")
    assert "transform sizes (32, 32, 32)" in choice.reasons["fft"]
    choice = ndconv.choose_method(np.ones((32, 32, 32), np.float32), np.ones((7, 7, 7), np.float32),
                                  mode="same", boundary="reflect")
    assert "transform sizes (32, 32, 32)" not in choice.reasons["fft"]


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("per_bit", [0, fft_module.DFT_TAPS_PER_BIT, 1000])
def test_kernel_spectrum_by_dft_columns_equals_the_fft(dtype, per_bit, monkeypatch):
    """The kernel's transform on the leading axes is a DFT-matrix product when it has few
    taps; it must equal the FFT of the zero-padded kernel (per_bit 0: never, 1000: always),
    batched kernels and 3-D included."""
    monkeypatch.setattr(fft_module, "DFT_TAPS_PER_BIT", per_bit)
    rng = rng_for("dft-columns", dtype, per_bit)
    real = np.dtype(dtype).kind != "c"
    for shape, sizes in [((7, 5), (60, 48)), ((2, 31, 30), (2079, 60)), ((3, 4, 6, 5), (27, 25, 30))]:
        h = make_array(rng, shape, dtype)
        nd = len(sizes)
        axes = tuple(range(h.ndim - nd, h.ndim))
        got = fft_module._kernel_forward(h, axes, sizes, real)
        want = fft_module._forward(h, axes, sizes, real)
        assert got.dtype == want.dtype and got.shape == want.shape
        tol = 1e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
        assert np.abs(got - want).max() <= tol * np.abs(h).sum()


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_input_spectrum_by_one_nd_call_or_axis_by_axis(dtype, monkeypatch):
    """The input's transform: one rfftn/fftn call while the padding at most doubles the
    rows (ND_PADDING), else axis by axis; both equal NumPy's transform of the padded
    input, with a batch axis and in 3-D, and the N-D call runs exactly where it should."""
    rng = rng_for("forward-nd", dtype)
    real = np.dtype(dtype).kind != "c"
    nd_calls = []
    for name in ("rfftn", "fftn"):
        original = getattr(fft_module.sfft, name)
        monkeypatch.setattr(fft_module.sfft, name,
                            lambda *a, _f=original, **k: nd_calls.append(k["s"]) or _f(*a, **k))
    for shape, axes, sizes, nd_call in [((30, 20), (0, 1), (30, 20), True), ((30, 20), (0, 1), (60, 27), True),
                                        ((30, 20), (0, 1), (61, 20), False), ((3, 9, 8), (1, 2), (18, 10), True),
                                        ((3, 9, 8), (1, 2), (19, 10), False), ((5, 6, 7), (0, 1, 2), (7, 8, 9), True),
                                        ((5, 6, 7), (0, 1, 2), (12, 6, 7), False), ((40,), (0,), (64,), False)]:
        a = make_array(rng, shape, dtype)
        nd_calls.clear()
        got = fft_module._forward(a, axes, sizes, real)
        want = (np.fft.rfftn if real else np.fft.fftn)(a, s=sizes, axes=axes)
        assert nd_calls == ([sizes] if nd_call else []), (shape, sizes)
        assert got.shape == want.shape and got.dtype == np.result_type(a.dtype, np.complex64)
        tol = 1e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
        assert np.abs(got - want).max() <= tol * np.abs(a).sum()


def test_kernel_spectrum_takes_the_fft_where_the_matrix_would_not_pay(monkeypatch):
    """Few columns to transform, or a matrix too large to keep: the FFT (never a product)."""
    calls = []
    monkeypatch.setattr(fft_module, "_dft_columns", lambda *a: calls.append(a))
    h = np.ones((31, 3))
    fft_module._kernel_forward(h, (0, 1), (2079, 40), True)          # 21 columns < 31 taps
    fft_module._kernel_forward(np.ones((64, 200)), (0, 1), (2**13, 256), True)   # 2^19 entries
    assert calls == []
    assert np.allclose(fft_module._kernel_forward(h, (0, 1), (2079, 40), True),
                       fft_module._forward(h, (0, 1), (2079, 40), True))


@pytest.mark.parametrize("shape, kshape, threads", [
    ((4, 4, 4), (3, 3, 3), {1}), ((32, 32, 32), (7, 7, 7), {1}), ((128, 128), (31, 31), {1}), ((4096,), (255,), {1}),
    ((3, 100, 100), (5, 5), {1}), ((64, 64, 64), (3, 3, 3), {2}), ((600, 600), (31, 31), {2}),
    ((48, 80, 80), (5, 5), {1, 2})])   # 48 rows of 80² on every core, the one 80² kernel on one
def test_small_transforms_run_on_one_thread(shape, kshape, threads, monkeypatch):
    """Every scipy.fft call of the fft method gets one worker below PARALLEL_POINTS points
    (all batch rows counted) and every core from there on; the answer is the same either way."""
    monkeypatch.setattr(fft_module, "cpu_count", lambda: 2)
    seen = []
    for name in ("rfft", "irfft", "fft", "ifft", "rfftn", "fftn"):
        original = getattr(fft_module.sfft, name)
        monkeypatch.setattr(fft_module.sfft, name,
                            lambda *a, _f=original, **k: seen.append(k["workers"]) or _f(*a, **k))
    rng = rng_for("fft-workers", shape)
    x = make_array(rng, shape, "float32")
    k = make_array(rng, kshape, "float32")
    got = ndconv.convolve(x, k, mode="same", boundary="wrap", method="fft")
    assert seen and set(seen) == threads
    monkeypatch.setattr(fft_module, "PARALLEL_POINTS", 1 if threads == {1} else 2**62)
    seen.clear()
    again = ndconv.convolve(x, k, mode="same", boundary="wrap", method="fft")
    assert set(seen) == ({2} if threads == {1} else {1})
    assert np.array_equal(got, again)


def test_fft_cost_counts_a_fixed_cost_per_axis_and_threads_only_on_large_transforms(monkeypatch):
    """The model's fft: FFT_CALLS + one call per transformed axis, and its transform units
    shared by the cores only from PARALLEL_POINTS points on, as the code runs them."""
    from ndconv._spec import make_spec
    from ndconv.methods import _registry
    from ndconv.methods._problem import Problem

    monkeypatch.setattr(_registry, "cpu_count", lambda: 2)
    for shape, kshape in [((16,), (3,)), ((8, 8), (3, 3)), ((4, 4, 4), (3, 3, 3))]:
        terms, _ = REGISTRY["fft"].terms(Problem(make_spec(np.ones(shape), np.ones(kshape), method="fft")))
        assert dict(terms)["call"] == _registry.FFT_CALLS + len(shape)

    def units(side: int) -> float:
        x = np.ones((side, side), np.float32)
        terms, _ = REGISTRY["fft"].terms(Problem(make_spec(x, np.ones((3, 3), np.float32), mode="same",
                                                           boundary="wrap", method="fft")))
        return dict(terms)["fft_f4"]

    one_thread = _registry._fft_units((500, 500), 2.5, True)      # 250000 points: below 2**18
    assert units(500) == one_thread
    assert units(600) == _registry._fft_units((600, 600), 2.5, True) / 2


def test_dft_columns_use_exact_phases():
    """E's columns are the DFTs of unit impulses, to full accuracy at the largest phases u·r."""
    size, taps = 6000, 64
    e = fft_module._dft_columns(size, taps, np.dtype(np.complex128))
    want = np.fft.fft(np.eye(size, taps), axis=0)
    np.testing.assert_allclose(e, want, rtol=0, atol=1e-13)
    assert not e.flags.writeable


def test_overlap_add_really_cuts_blocks():
    """The premise of test_longer_problems: several blocks for the 1-D case."""
    _size, b = fft_module.block_length(37, 3000 + 36, 1)[:2]
    assert b < 3000 + 36
    _size, b = fft_module.block_length(37, 1000, 3)[:2]
    assert math.ceil(1000 / b) > 1


@pytest.mark.parametrize("mode", MODES)
def test_fft_falls_back_to_blocks_when_memory_is_short(mode, monkeypatch):
    rng = rng_for("fft-memory", mode)
    monkeypatch.setattr(fft_module, "MEMORY_SHARE", 1e-12)
    assert ndconv.choose_method(rng.standard_normal(500), rng.standard_normal(9)).costs["fft"] == math.inf
    check(rng.standard_normal(500), rng.standard_normal(9), "fft", mode=mode, boundary="symmetric")
    check(rng.standard_normal((40, 30)), rng.standard_normal((5, 4)), "fft", mode=mode)


# --------------------------------------------------------------------- overlap-add tiles (2-D and nD)


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles of a few outputs each (a different count per axis) in transforms a little
    larger than their segments: edge tiles, last shorter tiles and interior ones all occur."""

    def plan(kds, counts, strides, real, cores):
        outs = tuple(min(c, 3 + axis) for axis, c in enumerate(counts))
        sizes = tuple((b - 1) * s + kd + axis for axis, (b, s, kd) in enumerate(zip(outs, strides, kds)))
        tiles = math.prod(-(-c // b) for c, b in zip(counts, outs))
        return sizes, outs, tiles, 1.0

    monkeypatch.setattr(fft_module, "tile_plan", plan)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
def test_tiles_every_mode_and_boundary(small_tiles, mode, boundary):
    rng = rng_for("tiles", mode, boundary)
    for xs, ks, kw in [((17, 14), (4, 3), {}), ((13, 16), (3, 5), {"stride": (2, 3)}),
                       ((15, 12), (3, 2), {"dilation": 2, "origin": (1, 0) if mode == "same" else 0}),
                       ((6, 7, 8), (3, 2, 3), {"stride": (1, 2, 1)}), ((4, 9), (6, 11), {})]:
        if _fits(mode, xs, ks, kw.get("dilation", 1)):
            check(rng.standard_normal(xs), rng.standard_normal(ks), "overlap_add", mode=mode, boundary=boundary,
                  **kw)


@pytest.mark.parametrize("dtype", ["float32", "complex64", "complex128", "int64", "bool"])
def test_tiles_dtypes_and_batch_axes(small_tiles, dtype):
    rng = rng_for("tiles-dtypes", dtype)
    x, k = make_array(rng, (3, 11, 10), dtype), make_array(rng, (4, 3), dtype)
    assert check(x, k, "overlap_add", mode="same", boundary="reflect", axes=(1, 2)).dtype == expected_dtype(dtype,
                                                                                                            dtype)
    # per-row kernels (the kernel's batch axis against x's), and a batch axis broadcast by the kernel
    check(x, make_array(rng, (3, 4, 3), dtype), "overlap_add", mode="full", axes=(1, 2))
    check(x[:1], make_array(rng, (3, 4, 3), dtype), "overlap_add", mode="valid", axes=(1, 2))


@pytest.mark.parametrize("boundary", ["wrap", "reflect", "symmetric", "edge"])
def test_tiles_read_the_rule_from_x_without_extending_it(small_tiles, boundary, monkeypatch):
    """Under these rules each tile gathers its samples of x̃ from x: the whole extension
    (Problem.sampled) is never built."""
    from ndconv.methods import _problem

    monkeypatch.setattr(_problem, "extend", lambda *a, **k: pytest.fail("x was extended"))
    rng = rng_for("tiles-rule", boundary)
    check(rng.standard_normal((9, 13)), rng.standard_normal((5, 4)), "overlap_add", mode="full", boundary=boundary)
    x = rng.standard_normal((9, 13)) + 1e300   # large data: the result is checked, x̃ repeats samples
    check(x, rng.standard_normal((5, 4)), "overlap_add", mode="same", boundary=boundary)


def test_tiles_keep_nan_local(small_tiles):
    x = np.ones((20, 20))
    x[7, 12] = np.nan
    y = ndconv.convolve(x, np.ones((3, 3)), mode="same", method="overlap_add")
    assert np.isnan(y).sum() == 9 and np.isnan(y[6:9, 11:14]).all()


def test_tiles_bits_do_not_depend_on_the_threads(monkeypatch):
    """The plan's own tiles, shared by the cores or all on one: the same bits."""
    rng = rng_for("tiles-threads")
    x, k = rng.standard_normal((1200, 1000)).astype(np.float32), rng.standard_normal((21, 21)).astype(np.float32)
    sizes, outs, tiles, _ = fft_module.tile_plan((21, 21), (1200, 1000), (1, 1), True, 2)
    assert tiles > 2
    shared = ndconv.convolve(x, k, mode="same", boundary="wrap", method="overlap_add")
    monkeypatch.setattr(fft_module, "PARALLEL_TILE_UNITS", math.inf)
    alone = ndconv.convolve(x, k, mode="same", boundary="wrap", method="overlap_add")
    np.testing.assert_array_equal(shared, alone)
    check(x, k, "overlap_add", mode="same", boundary="wrap")


@pytest.mark.parametrize("kds, counts, strides", [((31, 31), (2048, 2048), (1, 1)), ((11, 101), (4096, 300), (1, 1)),
                                                  ((9, 9, 9), (192, 192, 192), (1, 1, 1)),
                                                  ((5, 5), (1000, 1000), (2, 3))])
def test_tile_plan_cuts_cache_sized_square_tiles(kds, counts, strides):
    """Each tile's segment fits its transform, tiles cover the output, stay within TILE_POINTS
    and are not much longer on one axis than on another that is cut."""
    sizes, outs, tiles, units = fft_module.tile_plan(kds, counts, strides, True, 2)
    assert tiles == math.prod(-(-c // b) for c, b in zip(counts, outs)) > 1
    assert all((b - 1) * s + kd <= f for f, b, s, kd in zip(sizes, outs, strides, kds))
    assert math.prod(sizes) <= fft_module.TILE_POINTS and units > 0
    cut = [f for f, b, c in zip(sizes, outs, counts) if b < c]
    assert max(sizes) <= fft_module.TILE_ASPECT * min(cut)


def test_auto_takes_tiles_only_where_the_whole_transform_leaves_the_cache():
    rng = rng_for("tiles-auto")
    small = ndconv.choose_method(rng.standard_normal((300, 300)), rng.standard_normal((31, 31)), mode="same")
    assert small.costs["overlap_add"] == math.inf and "cache" in small.reasons["overlap_add"]
    big = np.broadcast_to(np.float32(1), (4096, 4096))
    k = rng.standard_normal((31, 31)).astype(np.float32)   # full rank: not separable
    choice = ndconv.choose_method(big, k, mode="same", boundary="reflect")
    assert choice == "overlap_add" and "tiles" in choice.reasons["overlap_add"]


# --------------------------------------------------------------------- numpy.convolve for small rows


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_small_rows_go_to_numpy_convolve_and_keep_the_definition(dtype, monkeypatch):
    """A single small 1-D float row with the zero boundary, stride and dilation 1: summed by
    ``numpy.convolve`` (a spy counts it), every mode and origin, NaN/±∞ where the definition
    puts them (zero taps included: 0·∞ is NaN)."""
    from ndconv.methods import direct

    calls = []
    real = direct.numpy_sum
    monkeypatch.setattr(direct, "numpy_sum", lambda spec: calls.append(spec) or real(spec))
    rng = rng_for("numpy-rows", dtype)
    for n, k in [(1, 1), (10, 3), (5, 8), (100, 7), (64, 64)]:
        x = rng.standard_normal(n).astype(dtype)
        h = rng.standard_normal(k).astype(dtype)
        for kw in ({"mode": "full"}, {"mode": "same"}, {"mode": "same", "origin": -((k - 1) // 2)},
                   {"mode": "valid"}):
            if kw["mode"] == "valid" and k > n:
                continue
            before = len(calls)
            check(x, h, "direct", **kw)
            check(x, h, "direct", correlate=True, **kw)
            assert len(calls) == before + 2, (n, k, kw)
    x = rng.standard_normal(40).astype(dtype)
    x[[3, 20]] = [np.nan, np.inf]
    h = np.array([1.0, 0.0, -2.0, 0.5], dtype)
    with np.errstate(invalid="ignore"):
        y, expected = ndconv.convolve(x, h, method="direct"), reference_convolve(x, h)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(y), np.isneginf(expected))


def test_numpy_convolve_not_used_outside_its_domain(monkeypatch):
    """Batches, 2-D, strides, dilations, other boundaries, complex and integer rows, many
    products, and float32 kernels long enough to need float64 sums stay with the loops."""
    from ndconv.methods import direct

    calls = []
    real = direct.numpy_sum
    monkeypatch.setattr(direct, "numpy_sum", lambda spec: calls.append(spec) or real(spec))
    rng = rng_for("numpy-domain")
    x, h = rng.standard_normal(50), rng.standard_normal(5)
    for kw in ({"stride": 2}, {"dilation": 2}, {"boundary": "reflect", "mode": "same"},
               {"fill_value": 1.0}, {"mode": "same", "boundary": "wrap"}):
        check(x, h, "direct", **kw)
    check(rng.standard_normal((3, 50)), h, "direct", axes=-1)
    check(rng.standard_normal((9, 9)), rng.standard_normal((3, 3)), "direct")
    check(x.astype(complex), h, "direct")
    check((x * 10).astype(np.int64), (h * 10).astype(np.int64), "direct")
    check(rng.standard_normal(2**16), rng.standard_normal(4), "direct")        # 2**18 products
    check(rng.standard_normal(400).astype(np.float32), rng.standard_normal(151).astype(np.float32), "direct")
    assert calls == []


# --------------------------------------------------------------------- OpenCV dispatch

needs_cv2 = pytest.mark.skipif(_opencv._cv2() is None, reason="OpenCV is not installed")


@needs_cv2
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("boundary", ["constant", "reflect", "symmetric", "edge"])
def test_opencv_branch_is_taken_and_exact(dtype, boundary, monkeypatch):
    """2-D float 'same' stride 1, kernel side ≤ 11: the direct method hands it to
    OpenCV (checked by a spy) and the result is still the definition's."""
    calls = []
    real = _opencv.filter2d
    monkeypatch.setattr(_opencv, "filter2d", lambda spec: calls.append(spec) or real(spec))
    monkeypatch.setattr(_opencv, "ENABLED", True)
    # the engine is taken where the cost model rates it faster: make sure it does
    monkeypatch.setitem(_costs.constants(), "opencv_f4", 1e-15)
    monkeypatch.setitem(_costs.constants(), "opencv_f8", 1e-15)
    rng = rng_for("cv-spy", dtype, boundary)
    for ks in [(1, 1), (3, 3), (2, 4), (5, 5), (7, 6), (11, 11), (11, 3)]:
        x = rng.standard_normal((3, 15, 14)).astype(dtype)
        k = rng.standard_normal(ks).astype(dtype)
        before = len(calls)
        check(x, k, "direct", mode="same", boundary=boundary)
        origin = (ks[0] - 1 - (ks[0] - 1) // 2, -((ks[1] - 1) // 2))
        check(x, k, "direct", mode="same", boundary=boundary, origin=origin, correlate=True)
        assert len(calls) == before + 2, ks
    monkeypatch.setattr(_opencv, "ENABLED", False)
    before = len(calls)
    check(rng.standard_normal((9, 9)).astype(dtype), rng.standard_normal((3, 3)).astype(dtype), "direct",
          mode="same", boundary=boundary)
    assert len(calls) == before


@needs_cv2
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["full", "valid"])
def test_opencv_takes_zero_boundary_windows_of_other_sizes(dtype, mode, monkeypatch):
    """'full' and 'valid' with the zero boundary: the image zero-extended after its end
    (for 'full'), filtered, cut to the window — the definition's result, batches and
    correlations included; the spy fails if the engine is not taken."""
    calls = []
    real = _opencv.filter2d
    monkeypatch.setattr(_opencv, "filter2d", lambda spec: calls.append(spec) or real(spec))
    monkeypatch.setattr(_opencv, "ENABLED", True)
    from ndconv.methods import _registry, direct

    monkeypatch.setattr(direct, "_ENGINES", {})   # the engine whatever the cost model says
    monkeypatch.setattr(_registry, "direct_engine", lambda problem: ("opencv", ([("call", 1)], "")))
    rng = rng_for("cv-windows", dtype, mode)
    for xs, ks in [((15, 14), (1, 1)), ((15, 14), (3, 3)), ((3, 15, 14), (2, 4)), ((9, 12), (5, 5)),
                   ((2, 12, 11), (11, 3)), ((11, 11), (11, 11)), ((12, 30), (7, 6))]:
        x = rng.standard_normal(xs).astype(dtype)
        k = rng.standard_normal(ks).astype(dtype)
        before = len(calls)
        check(x, k, "direct", mode=mode)
        check(x, k, "direct", mode=mode, correlate=True)
        assert len(calls) == before + 2, (xs, ks)
    spec = calls[-1]
    assert _opencv.extension(spec) == ((6, 5) if mode == "full" else (0, 0))


@needs_cv2
def test_opencv_kernel_facts_follow_a_kernel_changed_in_place(monkeypatch):
    """The flipped kernel and its facts (finite, no zero tap) are kept by the kernel's
    bytes, not its identity: a tap set to zero in place sends NaN inputs back to the
    loops (filter2D would drop ``0·NaN``), and a changed tap changes the result."""
    monkeypatch.setattr(_opencv, "ENABLED", True)
    from ndconv.methods import _registry, direct

    monkeypatch.setattr(direct, "_ENGINES", {})
    monkeypatch.setattr(_registry, "direct_engine", lambda problem: ("opencv", ([("call", 1)], "")))
    rng = rng_for("cv-facts")
    x = rng.standard_normal((12, 13))
    k = rng.standard_normal((3, 3)) + 3.0                       # no zero tap
    check(x, k, "direct", mode="same")
    x[5, 6] = np.nan
    check(x, k, "direct", mode="same")
    k[1, 1] = 0.0                                               # now 0·NaN must give NaN at (5, 6)
    y = ndconv.convolve(x, k, "same", method="direct")
    assert np.isnan(y[5, 6])
    assert_conv_close(y, reference_convolve(x, k, mode="same"), x, k)
    k[0, 0] = np.inf                                            # a non-finite tap: never OpenCV
    calls = []
    real = _opencv.filter2d
    monkeypatch.setattr(_opencv, "filter2d", lambda spec: calls.append(spec) or real(spec))
    x[5, 6] = 1.0
    with np.errstate(invalid="ignore"):
        y, expected = ndconv.convolve(x, k, "same", method="direct"), reference_convolve(x, k, mode="same")
    np.testing.assert_array_equal(np.isinf(y), np.isinf(expected))
    assert calls == []


def test_opencv_windows_are_priced_by_the_samples_filtered(monkeypatch):
    """OpenCV filters the whole (zero-extended) image: 'valid' is priced as 'same', 'full'
    as the extended image plus its copy."""
    monkeypatch.setattr(_opencv, "ENABLED", True)
    if not _opencv.available():
        pytest.skip("OpenCV is not installed")
    from ndconv._spec import make_spec
    from ndconv.methods import Problem, _registry

    x, k = np.ones((40, 30), np.float32), np.ones((5, 3), np.float32)
    price = {}
    for mode in ("same", "valid", "full"):
        price[mode] = {}
        for key, units in _registry._opencv_filter2d_terms(Problem(make_spec(x, k, mode=mode)))[0]:
            price[mode][key] = price[mode].get(key, 0) + units
    assert price["valid"] == price["same"]
    assert price["full"]["opencv_f4"] == 44 * 32 * 15
    assert price["full"]["copy"] == 44 * 32 and price["full"]["call"] == 2


@needs_cv2
def test_opencv_not_used_outside_its_domain(monkeypatch):
    """wrap, fill ≠ 0, stride, dilation, big kernels, 1-D/3-D, per-row kernels, ints, complex,
    windows other than 'same' under a boundary rule other than zero."""
    calls = []
    real = _opencv.filter2d
    monkeypatch.setattr(_opencv, "filter2d", lambda spec: calls.append(spec) or real(spec))
    monkeypatch.setattr(_opencv, "ENABLED", True)
    rng = rng_for("cv-domain")
    x, k = rng.standard_normal((16, 15)), rng.standard_normal((3, 3))
    cases = [{"mode": "same", "boundary": "wrap"}, {"mode": "same", "fill_value": 1.0}, {"mode": "same", "stride": 2},
             {"mode": "same", "dilation": 2}, {"mode": "full", "boundary": "reflect"},
             {"mode": "valid", "boundary": "edge"}, {"mode": "full", "fill_value": 2.0},
             {"mode": "full", "stride": 2}, {"mode": "valid", "dilation": 2}]
    for kw in cases:
        check(x, k, "direct", **kw)
    check(x, rng.standard_normal((13, 12)), "direct", mode="same")
    check(x[:2, :2], k, "direct", mode="same")             # kernel larger than the image
    check(x.astype(np.int64), k.astype(np.int64), "direct", mode="same")
    check(x.astype(complex), k, "direct", mode="same")
    check(rng.standard_normal((3, 16)), rng.standard_normal((3, 3)), "direct", mode="same", axes=1)
    check(rng.standard_normal(30), rng.standard_normal(3), "direct", mode="same")
    check(rng.standard_normal((5, 6, 7)), rng.standard_normal((3, 3, 3)), "direct", mode="same")
    assert calls == []


# --------------------------------------------------------------------- choose_method


def test_choose_method_is_a_str_with_costs_and_report():
    rng = rng_for("choose")
    x, k = rng.standard_normal(64), rng.standard_normal(5)
    choice = ndconv.choose_method(x, k)
    assert isinstance(choice, str)
    assert choice in METHODS
    assert set(choice.costs) == set(REGISTRY)
    assert all(isinstance(c, float) and c > 0 for c in choice.costs.values())
    assert choice.costs[str(choice)] == min(choice.costs.values())
    report = choice.report()
    assert isinstance(report, str) and f"chosen: {choice}" in report
    for name in REGISTRY:
        assert name in report
    assert repr(choice) == f"MethodChoice({str(choice)!r})"


def test_choose_method_marks_inapplicable_methods():
    rng = rng_for("choose-na")
    choice = ndconv.choose_method(rng.standard_normal((20, 20)), rng.standard_normal((4, 4)))
    assert choice.costs["separable"] == math.inf  # a random 4x4 is not low-rank
    assert choice != "separable"
    sep = ndconv.choose_method(rng.standard_normal((20, 20)), np.outer([1.0, 2, 1], [1.0, 0, -1]))
    assert math.isfinite(sep.costs["separable"])


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int32", "int64"])
def test_choose_method_integers_take_exact_paths(dtype):
    # small values: a float method's rounded result is provably exact, so speed decides
    big = np.ones(4096, dtype=dtype)
    choice = ndconv.choose_method(big, big)
    assert choice in ("fft", "overlap_add") and "exact" in choice.guard
    np.testing.assert_array_equal(ndconv.convolve(big, big), np.convolve(big.astype(np.int64), big.astype(np.int64)))
    # small kernels: the direct sum is cheapest anyway
    assert ndconv.choose_method(np.ones(4096, dtype), np.ones(3, dtype)) == "direct"
    if np.dtype(dtype).itemsize >= 4:
        # values whose sums may pass 2**40: only the direct sum is exact
        large = np.full(4096, 2**30, dtype=dtype)
        choice = ndconv.choose_method(large, large)
        assert choice == "direct" and "exact" in choice.guard
        assert all(np.isinf(c) for name, c in choice.costs.items() if name != "direct")


def test_choose_method_prefers_fft_for_long_kernels():
    assert ndconv.choose_method(np.ones(4096), np.ones(4096)) in ("fft", "overlap_add")
    assert ndconv.choose_method(np.ones(64), np.ones(3)) == "direct"


def test_choose_method_accepts_every_keyword_and_validates():
    rng = rng_for("choose-kw")
    x, k = rng.standard_normal((10, 12)), rng.standard_normal((3, 3))
    choice = ndconv.choose_method(x, k, "same", "wrap", fill_value=0, axes=(0, 1), origin=(1, 0),
                                  stride=(1, 2), dilation=1, method="auto", correlate=True)
    assert choice in METHODS
    with pytest.raises(ValueError, match="mode must be"):
        ndconv.choose_method(x, k, "sam")


@pytest.mark.parametrize("case", range(8))
def test_auto_runs_what_choose_method_says(case, monkeypatch):
    """'auto' executes exactly the method choose_method names, for several problem kinds."""
    rng = rng_for("auto", case)
    problems = [
        (rng.standard_normal(50), rng.standard_normal(3), {}),
        (rng.standard_normal(5000), rng.standard_normal(700), {}),
        (rng.standard_normal((64, 64)), np.outer(rng.standard_normal(9), rng.standard_normal(9)), {"mode": "same"}),
        (rng.standard_normal((40, 40)), rng.standard_normal((5, 5)), {"mode": "same", "boundary": "reflect"}),
        (np.arange(100), np.arange(5), {}),
        (rng.standard_normal((3, 2000)), rng.standard_normal(300), {"mode": "valid", "stride": 2}),
        (rng.standard_normal((30, 30, 30)), rng.standard_normal((7, 7, 7)), {"mode": "same"}),
        (np.where(np.arange(4000) == 7, np.nan, 1.0), rng.standard_normal(500), {}),
    ]
    x, k, kw = problems[case]
    ran = []
    for name, method in REGISTRY.items():
        spy = lambda p, _run=method.run, _name=name: ran.append(_name) or _run(p)
        monkeypatch.setitem(REGISTRY, name, dataclasses.replace(method, run=spy))
    choice = ndconv.choose_method(x, k, **kw)
    y = ndconv.convolve(x, k, **kw)
    assert ran == [str(choice)]
    check(x, k, **kw)
    np.testing.assert_array_equal(y, ndconv.convolve(x, k, method=str(choice), **kw))


# --------------------------------------------------------------------- the oracle itself


def test_oracle_agrees_with_numpy_and_scipy():
    """The reference every test leans on, anchored to independent implementations."""
    import scipy.signal

    rng = rng_for("oracle")
    x, k = rng.standard_normal(11), rng.standard_normal(5)
    for mode in MODES:
        np.testing.assert_allclose(reference_convolve(x, k, mode), np.convolve(x, k, mode), atol=1e-12)
    np.testing.assert_allclose(reference_convolve(x, k, correlate=True), np.correlate(x, k, "full"), atol=1e-12)
    x2, k2 = rng.standard_normal((7, 8)), rng.standard_normal((3, 5))
    for ours, theirs in (("constant", "fill"), ("wrap", "wrap"), ("symmetric", "symm")):
        for mode in MODES:
            np.testing.assert_allclose(reference_convolve(x2, k2, mode, ours),
                                       scipy.signal.convolve2d(x2, k2, mode, boundary=theirs), atol=1e-12)
    xi, ki = np.arange(-4, 5), np.array([3, -2, 7])
    assert reference_convolve(xi, ki).tolist() == np.convolve(xi, ki).tolist()


def test_assert_conv_close_can_fail():
    x, k = np.arange(5.0), np.array([1.0, 2.0])
    y = reference_convolve(x, k)
    assert_conv_close(y, y, x, k)
    with pytest.raises(AssertionError, match="max error"):
        assert_conv_close(y + 1e-9 * np.arange(y.size), y, x, k)
    with pytest.raises(AssertionError, match="shape"):
        assert_conv_close(y[:-1], y, x, k)
    with pytest.raises(AssertionError, match="non-finite"):
        assert_conv_close(np.where(np.arange(y.size) == 2, np.nan, y), y, x, k)
    with pytest.raises(AssertionError):
        assert_conv_close(y.astype(np.int64) + 1, y.astype(np.int64), x, k)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_strided_rows_gather_each_phase_once(boundary, dtype, monkeypatch):
    """A stride along the rows sums gathered runs (``_strided_rows``) where taps share
    them (a 2-D kernel's rows lie further apart than one run reaches, so each row has runs
    of its own): equal to the definition in 1-D, 2-D and 3-D, for strides 2 and 3,
    dilations, origins, batches and per-row kernels; where no two taps share a run the
    plain strided loop runs; a NaN stays in the outputs whose window holds it."""
    from ndconv.methods import _numba_kernels, direct

    used = []
    strided = _numba_kernels._strided_rows
    monkeypatch.setattr(_numba_kernels, "_strided_rows", lambda *a: used.append(a[-1]) or strided(*a))
    monkeypatch.setattr(direct, "SMALL_INPUT", 0)
    monkeypatch.setattr(direct, "NUMPY_WORK", 0)
    monkeypatch.setattr(_opencv, "ENABLED", False)
    rng = rng_for("gather", boundary, dtype)
    gap = _numba_kernels.GATHER_GAP
    cases = [((301,), (8,), {"stride": 2}), ((300,), (9,), {"stride": 3, "origin": 1}),
             ((4, 257), (6,), {"stride": 2, "dilation": 5}),
             ((40, 51), (5, 5), {"stride": 2}), ((33, 47), (4, 7), {"stride": (3, 2), "origin": (-1, 2)}),
             ((30, 61), (3, 6), {"stride": (1, 3), "dilation": (2, 3)}),
             ((3, 20, 31), (3, 4), {"stride": 2}), ((9, 12, 37), (2, 3, 5), {"stride": (2, 1, 2)}),
             ((700,), (4,), {"stride": 2, "dilation": gap + 3})]    # every tap in a run of its own
    for xs, ks, kw in cases:
        x = make_array(rng, xs, dtype)
        used.clear()
        check(x, make_array(rng, ks, dtype), "direct", mode="same", boundary=boundary, **kw)
        assert bool(used) == (kw.get("dilation") != gap + 3), (xs, ks, kw)
    x = rng.standard_normal((3, 40))
    per_row = rng.standard_normal((3, 6))
    check(x, per_row, "direct", mode="same", boundary=boundary, stride=2, axes=-1)
    x = rng.standard_normal((24, 80))
    x[10, 33] = np.nan
    k = rng.standard_normal((3, 4))
    used.clear()
    y = ndconv.convolve(x, k, "same", boundary, method="direct", stride=2)
    reach = ndconv.convolve(np.isnan(x).astype(float), np.ones((3, 4)), "same", boundary, stride=2) > 0
    assert used and reach.any()
    assert np.array_equal(np.isnan(y), reach)


@pytest.mark.parametrize("stride", [2, 3, 7])
def test_stride_groups_map_every_tap_to_its_sample(stride):
    """Each tap's start in the gathered runs points at the sample it reads: its group's
    first offset plus whole strides; groups never mix phases and cover every tap."""
    from ndconv.methods import _numba_kernels

    rng = rng_for("groups", stride)
    for _ in range(50):
        taps = np.unique(rng.integers(0, 5000, size=rng.integers(2, 40))).astype(np.intp)
        rng.shuffle(taps)
        reads, starts, spans, width = _numba_kernels.stride_groups(taps, stride, 1000)
        group, shift = np.divmod(reads.astype(np.int64), width)
        assert np.array_equal(starts[group] + shift * stride, taps)
        assert np.all(shift <= spans[group]) and np.all(spans < width - min(1000, _numba_kernels.BLOCK) + 1)
        assert np.all(taps % stride == starts[group] % stride)
