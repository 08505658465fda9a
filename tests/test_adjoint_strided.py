"""ndconv._adjoint_strided: the strided adjoint's 'full' correlation summed by output
phases, against the correlation of the zero-upsampled y it replaces (every rule, stride,
dilation, origin, mode, both float dtypes, 1-D and 2-D, batches; hypothesis), the dense
matrix's transpose through ConvOperator, NaN/±∞ in y, and where ConvOperator uses it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ndconv
from conftest import dense_adjoint, with_adjoint_plan
from ndconv import ConvOperator, _adjoint_strided

RULES = ["constant", "reflect", "symmetric", "edge", "wrap"]


def upsampled_full(op, y):
    """What the phases replace: correlate(upsample(y), g, 'full') by the direct method."""
    plan = op._adjoint_plan()
    return ndconv.correlate(plan.upsample(y), plan.kernel, **{**plan.options, "method": "direct"})


def phases_of(op):
    return _adjoint_strided.plan(op._spec.geometry, op._canonical_kernel())


def upsample_path(op):
    """A copy of ``op`` whose adjoint upsamples y (the path before the phases)."""
    return with_adjoint_plan(op, phases=None)


CASES = [   # input shape, kernel shape, options
    ((40, 37), (5, 5), dict(stride=2)),
    ((31, 30), (4, 3), dict(stride=(2, 3))),
    ((30, 31), (3, 6), dict(stride=(1, 2), dilation=(2, 1))),
    ((25, 27), (5, 4), dict(stride=3, origin=(1, -1))),
    ((9, 7), (7, 7), dict(stride=2)),                  # a kernel longer than the image
    ((20, 25), (3, 3), dict(stride=(3, 1), mode="full")),
    ((20, 25), (3, 4), dict(stride=2, mode="valid")),
    ((60,), (8,), dict(stride=2)),
    ((61,), (5,), dict(stride=4, dilation=3, origin=2)),
    ((3, 50), (6,), dict(stride=3, axes=-1)),
    ((2, 3, 20, 21), (3, 3), dict(stride=2, axes=(-2, -1))),
]


@pytest.mark.parametrize("boundary", RULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kshape, options", CASES)
def test_phases_are_the_upsampled_correlation(boundary, dtype, shape, kshape, options):
    rng = np.random.default_rng(sum(shape) + sum(kshape))
    k = rng.standard_normal(kshape).astype(dtype)
    op = ConvOperator(k, shape, boundary=boundary, **options)
    phases = phases_of(op)
    assert phases is not None
    y = rng.standard_normal(op.output_shape).astype(dtype)
    y_c = op._to_canonical(y)
    got, want = phases(y_c), upsampled_full(op, y_c)
    assert got.dtype == dtype and got.shape == want.shape
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(op.H(y), dense_adjoint(op, y), rtol=tol, atol=tol * np.abs(want).max())


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_phases_hypothesis(data):
    ndim = data.draw(st.integers(1, 2))
    shape = tuple(data.draw(st.integers(1, 20)) for _ in range(ndim))
    kshape = tuple(data.draw(st.integers(1, 6)) for _ in range(ndim))
    stride = tuple(data.draw(st.integers(1, 4)) for _ in range(ndim))
    dilation = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    boundary = data.draw(st.sampled_from(RULES))
    mode = data.draw(st.sampled_from(["same", "full", "valid"]))
    if mode == "valid" and any(d * (k - 1) + 1 > n for n, k, d in zip(shape, kshape, dilation)):
        mode = "same"
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    k = rng.standard_normal(kshape)
    op = ConvOperator(k, shape, boundary=boundary, stride=stride, dilation=dilation, mode=mode)
    y = rng.standard_normal(op.output_shape)
    phases = phases_of(op)
    if phases is None:          # every stride 1 after normalisation
        assert op._adjoint_plan().upsampled is None
        return
    want = dense_adjoint(op, y)
    np.testing.assert_allclose(op.H(y), want, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("seed", range(8))
def test_non_finite_values_as_the_upsampled_path(seed):
    """NaN and ±∞ in y: the same NaN, +∞ and −∞ samples as the upsampled path (the zeros
    between grid samples only ever meet finite taps)."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(8, 24, 2))
    k = rng.standard_normal(tuple(int(v) for v in rng.integers(2, 6, 2)))
    k[rng.random(k.shape) < 0.2] = 0.0
    op = ConvOperator(k, shape, boundary=RULES[seed % 5], stride=(2, 1 + seed % 3))
    y = rng.standard_normal(op.output_shape)
    spots = rng.integers(0, y.shape[0], 4), rng.integers(0, y.shape[1], 4)
    y[spots] = [np.inf, -np.inf, np.nan, np.inf]
    with np.errstate(invalid="ignore"):
        got, want = op.H(y), upsample_path(op).H(y)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10, atol=1e-10 * np.abs(want[finite]).max())


@pytest.mark.parametrize("boundary", RULES)
def test_operator_uses_the_phases(boundary, monkeypatch):
    calls = []
    run = _adjoint_strided.StridedFull.__call__
    monkeypatch.setattr(_adjoint_strided.StridedFull, "__call__", lambda self, y: calls.append(1) or run(self, y))
    rng = np.random.default_rng(9)
    k = rng.standard_normal((5, 5)).astype(np.float32)
    op = ConvOperator(k, (300, 280), boundary=boundary, stride=2)
    x = rng.standard_normal((300, 280)).astype(np.float32)
    y = rng.standard_normal(op.output_shape).astype(np.float32)
    got = op.H(y)
    assert calls and got.dtype == np.float32 and got.shape == (300, 280)
    np.testing.assert_allclose(got, upsample_path(op).H(y), rtol=1e-5, atol=1e-5)
    assert np.vdot(op(x).astype(np.float64), y) == pytest.approx(np.vdot(x, got.astype(np.float64)), rel=1e-5)


@pytest.mark.parametrize("what", ["stride 1", "3-D", "complex", "infinite tap", "fft", "batched kernel"])
def test_other_problems_keep_the_upsampled_path(what):
    k = np.ones((3, 3))
    shape, options = (30, 30), dict(boundary="reflect", stride=2)
    if what == "stride 1":
        options["stride"] = 1
    elif what == "3-D":
        k, shape = np.ones((3, 3, 3)), (12, 12, 12)
    elif what == "complex":
        k = k + 1j
    elif what == "infinite tap":
        k[1, 1] = np.inf        # 0·∞ on the zeros between samples: NaN in the definition's sum
    elif what == "fft":
        options["method"] = "fft"
    elif what == "batched kernel":
        k, shape = np.ones((2, 3, 3)), (2, 30, 30)
        options["axes"] = (-2, -1)
    op = ConvOperator(k, shape, **options)
    assert op._adjoint_plan().phases is None


def test_data_of_another_dtype_keeps_the_upsampled_path():
    """float64 data for a float32 operator: the result's dtype is the correlation's."""
    k = np.ones((5, 5), dtype=np.float32)
    op = ConvOperator(k, (40, 40), boundary="reflect", stride=2)
    y = np.ones(op.output_shape)
    assert op.H(y).dtype == ndconv.correlate(y, k).dtype


def test_float32_many_taps_accumulate_in_float64():
    """Past 150 taps a float32 kernel is summed in float64, as the direct loops sum it:
    the phases agree with the float64 transpose to float32's rounding of the result."""
    rng = np.random.default_rng(12)
    k = rng.standard_normal((13, 13)).astype(np.float32)
    op = ConvOperator(k, (60, 64), boundary="reflect", stride=2, method="direct")
    phases = phases_of(op)
    assert phases is not None and phases.kernel.dtype == np.float64
    y = (rng.standard_normal(op.output_shape) * 1e3 + 1e4).astype(np.float32)   # large terms, small sum
    got = op.H(y)
    want = dense_adjoint(op, y)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6 * np.abs(want).max())
