"""The separable method's fused 2-D loops: the definition's sums for every mode, rule,
origin and dilation, NaN kept local, results independent of the split over cores,
and the separate passes wherever the loops do not apply."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndconv
from ndconv._memory import cpu_count, one_core
from ndconv._shapes import AxisGeometry
from ndconv._spec import make_spec
from ndconv.methods import _fused_passes, _registry, planner, separable
from ndconv.methods._problem import Problem
from ndconv.testing import assert_conv_close, reference_convolve

BOUNDARIES = ["constant", "reflect", "symmetric", "edge", "wrap"]


@pytest.fixture
def fused_calls(monkeypatch):
    """The number of times the fused loops ran (a list that grows per call)."""
    calls = []
    real = _fused_passes.run

    def spy(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(_fused_passes, "run", spy)
    return calls


def _gaussian(n: int, sigma: float) -> np.ndarray:
    t = np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / sigma) ** 2)
    return t / t.sum()


@given(rows=st.integers(1, 12), cols=st.integers(1, 12), k0=st.integers(2, 6), k1=st.integers(2, 6),
       d0=st.integers(1, 3), d1=st.integers(1, 3), mode=st.sampled_from(["full", "same", "valid"]),
       boundary=st.sampled_from(BOUNDARIES), dtype=st.sampled_from([np.float32, np.float64]),
       batch=st.integers(1, 2), shift=st.integers(-3, 3), correlate=st.booleans(), seed=st.integers(0, 2**16))
def test_fused_loops_equal_the_definition(rows, cols, k0, k1, d0, d1, mode, boundary, dtype, batch, shift,
                                          correlate, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, rows, cols)).astype(dtype)
    k = np.outer(rng.standard_normal(k0), rng.standard_normal(k1)).astype(dtype)
    origin = (max(-(k0 - 1) // 2, min(k0 // 2, shift)), 0) if mode == "same" else 0
    kw = dict(mode=mode, boundary=boundary, dilation=(d0, d1), axes=(-2, -1), origin=origin)
    if mode == "valid" and (rows < (k0 - 1) * d0 + 1 or cols < (k1 - 1) * d1 + 1):
        return   # an empty 'valid' window: nothing to sum
    f = ndconv.correlate if correlate else ndconv.convolve
    got = f(x, k, method="separable", **kw)
    kk = np.conj(k[::-1, ::-1]) if correlate else k
    want = reference_convolve(x, kk, mode, boundary, dilation=(d0, d1), axes=(-2, -1), origin=origin)
    assert got.dtype == np.dtype(dtype)
    assert_conv_close(got, want, x, k)


def test_fused_loops_run_for_2d_float_kernels(fused_calls):
    x = np.random.default_rng(0).standard_normal((40, 50)).astype(np.float32)
    k = np.outer(_gaussian(7, 1.5), _gaussian(5, 1.0)).astype(np.float32)
    for boundary in BOUNDARIES:
        got = ndconv.convolve(x, k, "same", boundary, method="separable")
        assert_conv_close(got, reference_convolve(x, k, "same", boundary), x, k)
    assert len(fused_calls) == len(BOUNDARIES)


def test_rank_two_kernel_adds_its_terms(fused_calls):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 48))
    dog = np.outer(_gaussian(9, 1.0), _gaussian(9, 1.0)) - np.outer(_gaussian(9, 2.5), _gaussian(9, 2.5))
    assert len(separable.kernel_factors(dog, 2)) == 2
    got = ndconv.convolve(x, dog, "same", "reflect", method="separable")
    assert_conv_close(got, reference_convolve(x, dog, "same", "reflect"), x, dog)
    assert len(fused_calls) == 1


def test_rows_without_any_tap_inside_are_zero():
    # one input row, taps 5 rows apart: 'full' output rows 1…4 read only the zero border
    x = np.arange(1.0, 8.0).reshape(1, 7)
    k = np.outer([1.0, 2.0], [1.0, -1.0, 0.5])
    got = ndconv.convolve(x, k, "full", "constant", dilation=(5, 1), method="separable")
    want = reference_convolve(x, k, "full", "constant", dilation=(5, 1))
    assert got.shape == (6, 9)
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert not got[1:5].any()


def test_nan_stays_where_the_definition_puts_it(fused_calls):
    x = np.random.default_rng(2).standard_normal((30, 30)).astype(np.float32)
    x[10, 20] = np.nan
    x[3, 4] = np.inf
    k = np.outer(_gaussian(5, 1.0), _gaussian(3, 0.8)).astype(np.float32)   # no zero taps
    got = ndconv.convolve(x, k, "same", "reflect", method="separable")
    want = ndconv.convolve(x, k, "same", "reflect", method="direct")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-6)
    assert len(fused_calls) == 1


def test_zero_taps_with_nonfinite_input_leave_the_fused_loops(fused_calls):
    x = np.ones((20, 20))
    x[5, 5] = np.inf
    k = np.outer([1.0, 0.0, 1.0], [1.0, 2.0, 1.0])   # 0·∞ is NaN in the definition
    got = ndconv.convolve(x, k, "same", method="separable")
    want = ndconv.convolve(x, k, "same", method="direct")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert not fused_calls


def test_split_over_cores_never_changes_a_result():
    x = np.random.default_rng(3).standard_normal((700, 650)).astype(np.float32)   # over PARALLEL_WORK
    k = np.outer(_gaussian(21, 4.0), _gaussian(15, 3.0)).astype(np.float32)
    both = ndconv.convolve(x, k, "same", "symmetric", method="separable")
    with one_core():
        one = ndconv.convolve(x, k, "same", "symmetric", method="separable")
    np.testing.assert_array_equal(both, one)


def test_views_and_batches_read_in_place(fused_calls):
    rng = np.random.default_rng(4)
    base = rng.standard_normal((3, 80, 90))
    x = base[:, ::2, 5:70]          # strided view, batch of three images
    k = np.outer(_gaussian(5, 1.0), _gaussian(7, 2.0))
    got = ndconv.convolve(x, k, "same", "wrap", axes=(-2, -1), method="separable")
    want = reference_convolve(np.ascontiguousarray(x), k, "same", "wrap", axes=(-2, -1))
    assert_conv_close(got, want, x, k)
    assert len(fused_calls) == 1


def test_where_the_loops_do_not_apply():
    x = np.zeros((20, 20), np.float32)
    k = np.ones((3, 3), np.float32)
    assert _fused_passes.layout(make_spec(x, k, mode="same")) is not None
    assert _fused_passes.layout(make_spec(x, k, mode="same", stride=2)) is None
    assert _fused_passes.layout(make_spec(x, k, mode="same", fill_value=1.0)) is None
    assert _fused_passes.layout(make_spec(x.astype(np.complex64), k, mode="same")) is None
    assert _fused_passes.layout(make_spec(np.zeros(20), np.ones(3), mode="same")) is None
    long = np.ones((1, _fused_passes.MAX_TAPS + 1), np.float32)
    assert _fused_passes.layout(make_spec(np.zeros((4, 400), np.float32), long, mode="same")) is None
    # a window shifted so far right that the wrap border names columns it does not read
    rows = AxisGeometry(n=8, k=3, dilation=1, stride=1, start=1, count=8)
    cols = AxisGeometry(n=8, k=3, dilation=1, stride=1, start=6, count=4)
    assert _fused_passes._layout(rows, cols, "wrap") is None
    assert _fused_passes._layout(rows, cols, "constant") is not None


def test_cost_model_prices_the_fused_loops():
    x = np.zeros((512, 512), np.float32)
    k = np.outer(_gaussian(31, 5.0), _gaussian(31, 5.0)).astype(np.float32)
    problem = Problem(make_spec(x, k, mode="same"))
    cost, why = _registry.REGISTRY["separable"].terms(problem)
    assert "fused" in why
    passes = dict(cost)
    assert passes["direct_f4"] == pytest.approx(512 * 512 * 62 * _registry.FUSED_FACTOR / cpu_count())
    assert passes["direct_stream"] == 2 * 512 * 512 * 4
    assert planner.plan(problem) == "separable"
    with_zero = k.copy()
    with_zero[:, 0] = 0   # a zero factor tap: non-finite inputs need the scan first
    cost2 = _registry.REGISTRY["separable"].terms(Problem(make_spec(x, with_zero, mode="same")))[0]
    assert sum(units for key, units in cost2 if key == "direct_stream") == 3 * 512 * 512 * 4


def test_disabled_fused_loops_give_the_same_answer(monkeypatch, fused_calls):
    x = np.random.default_rng(5).standard_normal((64, 64)).astype(np.float32)
    k = np.outer(_gaussian(9, 2.0), _gaussian(9, 2.0)).astype(np.float32)
    fused = ndconv.convolve(x, k, "same", "edge", method="separable")
    monkeypatch.setattr(separable, "FUSED", False)
    other = ndconv.convolve(x, k, "same", "edge", method="separable")
    assert len(fused_calls) == 1
    np.testing.assert_allclose(fused, other, rtol=1e-5, atol=1e-6)
