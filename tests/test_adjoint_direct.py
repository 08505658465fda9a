"""ndconv._adjoint_direct: the in-place adjoint loops of 2-D 'same' operators with a
reflecting or edge rule, against the dense matrix's transpose (every rule, origin,
dilation, even kernels, both float dtypes, batches, kernels longer than the interior),
against the fold path they replace inside ConvOperator, NaN locality, and where
ConvOperator uses them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ndconv
from conftest import dense_adjoint, with_adjoint_plan
from ndconv import ConvOperator, _adjoint_direct
from ndconv.boundary import extension_index
from ndconv.methods import _opencv

RULES = _adjoint_direct.BOUNDARIES


def loops_of(op):
    spec = op._spec
    return _adjoint_direct.plan(spec.geometry, op._canonical_kernel(), spec.boundary)


def has_interior(g, boundary):
    """Some i reads only y (start ≤ i ≤ n − kd + start) and is the source of no other x̃ sample."""
    source = extension_index(g.n, g.start - (g.kd - 1), g.start + g.n - 1, boundary)[0]
    once = np.bincount(source, minlength=g.n) == 1
    i = np.arange(g.n)
    return bool((once & (i >= g.start) & (i <= g.n - g.kd + g.start)).any())


CASES = [   # input shape, kernel shape, dilation, origin
    ((40, 37), (5, 5), 1, 0),
    ((30, 41), (3, 4), 1, 0),
    ((9, 7), (4, 2), 1, 0),
    ((20, 25), (3, 3), (2, 3), 0),
    ((20, 25), (5, 3), 1, (1, -1)),
    ((20, 25), (4, 4), 1, (-1, 2)),
    ((12, 12), (7, 7), 1, 0),
    ((16, 9), (1, 5), 1, 0),
    ((8, 30), (6, 1), (1, 2), 0),
]


@pytest.mark.parametrize("boundary", RULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kshape, dilation, origin", CASES)
def test_loops_are_the_transpose(boundary, dtype, shape, kshape, dilation, origin):
    rng = np.random.default_rng(sum(shape) + sum(kshape))
    k = rng.standard_normal(kshape).astype(dtype)
    op = ConvOperator(k, shape, mode="same", boundary=boundary, dilation=dilation, origin=origin)
    loops = loops_of(op)
    assert loops is not None
    y = rng.standard_normal(shape).astype(dtype)
    got = loops(y)
    assert got.dtype == dtype and got.shape == shape
    want = dense_adjoint(op, y)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_loops_hypothesis(data):
    n0, n1 = data.draw(st.integers(1, 24)), data.draw(st.integers(1, 24))
    k0, k1 = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    d0, d1 = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    kd = (d0 * (k0 - 1) + 1, d1 * (k1 - 1) + 1)
    origin = tuple(data.draw(st.integers(-((n - 1) // 2), n - 1 - (n - 1) // 2)) for n in kd)
    boundary = data.draw(st.sampled_from(RULES))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    k = rng.standard_normal((k0, k1)).astype(dtype)
    op = ConvOperator(k, (n0, n1), mode="same", boundary=boundary, dilation=(d0, d1), origin=origin)
    loops = loops_of(op)
    if loops is None:   # no interior: the operator keeps its fold path
        assert not all(has_interior(g, boundary) for g in op._spec.geometry)
        return
    y = rng.standard_normal((n0, n1)).astype(dtype)
    want = dense_adjoint(op, y)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loops(y), want, rtol=tol, atol=tol * max(1.0, np.abs(want).max()))


def test_no_interior_is_declined():
    """A kernel as long as the image leaves no sample summed from y alone."""
    op = ConvOperator(np.ones((5, 5)), (6, 5), boundary="reflect")
    assert loops_of(op) is None
    op = ConvOperator(np.ones((3, 3)), (50, 3), boundary="reflect")   # reflect folds onto the middle column
    assert loops_of(op) is None


@pytest.mark.parametrize("what", ["wrap", "constant", "stride", "full", "complex", "3-D"])
def test_other_problems_are_declined(what):
    k = np.ones((3, 3))
    options = {"wrap": dict(boundary="wrap"), "constant": dict(boundary="constant"),
               "stride": dict(boundary="reflect", stride=2), "full": dict(boundary="reflect", mode="full"),
               "complex": dict(boundary="reflect"), "3-D": dict(boundary="reflect")}[what]
    shape = (20, 20, 20) if what == "3-D" else (20, 20)
    if what == "complex":
        k = k + 1j
    if what == "3-D":
        k = np.ones((3, 3, 3))
    op = ConvOperator(k, shape, **options)
    assert loops_of(op) is None


def test_batch_and_strided_input():
    rng = np.random.default_rng(3)
    k = rng.standard_normal((5, 4)).astype(np.float32)
    op = ConvOperator(k, (2, 3, 30, 33), boundary="symmetric", axes=(-2, -1))
    loops = loops_of(op)
    big = rng.standard_normal((2, 3, 30, 66)).astype(np.float32)
    y = big[..., ::2]                       # not contiguous
    got = loops(y)
    single = ConvOperator(k, (30, 33), boundary="symmetric")
    for b in np.ndindex(2, 3):
        np.testing.assert_allclose(got[b], dense_adjoint(single, y[b]), rtol=2e-5, atol=2e-5)


def test_float32_many_taps_accumulate_in_float64():
    """Past FLOAT32_ACC_TAPS taps the loops sum in float64 (as the direct loops do) and
    return float32."""
    rng = np.random.default_rng(4)
    k = rng.standard_normal((13, 13)).astype(np.float32)   # 169 taps
    op = ConvOperator(k, (40, 40), boundary="reflect")
    loops = loops_of(op)
    assert loops.acc == np.float64
    y = rng.standard_normal((40, 40)).astype(np.float32)
    got = loops(y)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, dense_adjoint(op, y), rtol=1e-5, atol=1e-5)


def test_nan_stays_local():
    k = np.ones((3, 3))
    op = ConvOperator(k, (30, 30), boundary="reflect")
    y = np.zeros((30, 30))
    y[15, 15] = np.nan
    y[0, 29] = np.nan           # a corner: folds onto its mirror images
    got = loops_of(op)(y)
    a = op.to_dense()
    hit = (np.abs(a.T) @ np.isnan(y).ravel().astype(float) > 0).reshape(30, 30)
    np.testing.assert_array_equal(np.isnan(got), hit)


def fold_path(op):
    """The same operator with its adjoint on the fold path (full correlation, then fold)."""
    return with_adjoint_plan(op, loops=None)


@pytest.mark.parametrize("seed", range(12))
def test_non_finite_values_as_the_fold_path(seed):
    """±∞ and NaN in y give the fold path's NaN and ±∞, sample for sample: every tap is its
    own term (two taps of opposite sign on one sample of x̃ make ∞ − ∞ there, where their
    merged weight would not), and the strips' padding reads nothing."""
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(6, 20, 2))
    k = rng.standard_normal(tuple(rng.integers(2, 6, 2)))
    k[rng.random(k.shape) < 0.2] = 0.0          # zero taps: 0·∞ is NaN in the definition
    boundary = RULES[seed % 3]
    op = ConvOperator(k, shape, boundary=boundary)
    if loops_of(op) is None:
        pytest.skip("no interior")
    y = rng.standard_normal(shape)
    spots = rng.integers(0, shape[0], 4), rng.integers(0, shape[1], 4)
    y[spots] = [np.inf, -np.inf, np.nan, np.inf]
    y[0, rng.integers(0, shape[1])] = -np.inf      # a border row and a border column
    y[rng.integers(0, shape[0]), -1] = np.nan
    with np.errstate(invalid="ignore"):
        got, want = loops_of(op)(y), fold_path(op).H(y)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10, atol=1e-10 * np.abs(want[finite]).max())


@pytest.mark.parametrize("opencv", [True, False])
@pytest.mark.parametrize("boundary", RULES)
def test_operator_uses_the_loops(monkeypatch, opencv, boundary):
    """Whichever engine sums the forward (OpenCV's or the loops)."""
    monkeypatch.setattr(_opencv, "ENABLED", opencv)
    rng = np.random.default_rng(5)
    k = rng.standard_normal((5, 5)).astype(np.float32)
    op = ConvOperator(k, (300, 280), boundary=boundary)
    plan = op._adjoint_plan()
    assert plan.loops is not None
    y = rng.standard_normal((300, 280)).astype(np.float32)
    got = op.H(y)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, fold_path(op).H(y), rtol=1e-5, atol=1e-5)
    x = rng.standard_normal((300, 280)).astype(np.float32)
    assert np.vdot(op(x).astype(np.float64), y) == pytest.approx(np.vdot(x, got.astype(np.float64)), rel=1e-5)


@pytest.mark.parametrize("boundary", RULES)
@pytest.mark.parametrize("shape, kshape, dilation, origin", [((50,), (5,), 1, 0), ((3, 2, 50), (4,), 2, 1),
                                                             ((20,), (7,), 1, -3), ((4, 300), (64,), 1, 0)])
def test_one_dimensional(boundary, shape, kshape, dilation, origin):
    """1-D operators (and batches of them) run as images one row high per item."""
    rng = np.random.default_rng(len(shape) + kshape[0])
    k = rng.standard_normal(kshape)
    op = ConvOperator(k, shape, boundary=boundary, dilation=dilation, origin=origin, axes=-1)
    assert op._adjoint_plan().loops is not None
    y = rng.standard_normal(shape)
    np.testing.assert_allclose(op.H(y), dense_adjoint(op, y), rtol=1e-12, atol=1e-12 * np.abs(y).max())


@pytest.mark.parametrize("boundary", RULES)
def test_one_dimensional_along_a_leading_axis(boundary):
    """axes=0 of a 2-D input: the canonical layout puts the batch first (a batch count taken
    from the user's layout had reshaped y into the wrong rows)."""
    rng = np.random.default_rng(7)
    op = ConvOperator(rng.standard_normal(6), (50, 3), boundary=boundary, axes=0)
    assert op._adjoint_plan().loops is not None
    y = rng.standard_normal((50, 3))
    np.testing.assert_allclose(op.H(y), dense_adjoint(op, y), rtol=1e-12, atol=1e-12 * np.abs(y).max())


@pytest.mark.parametrize("boundary", RULES)
def test_correlating_operator(boundary):
    """correlate=True: the loops get the kernel in convolution form (flipped)."""
    rng = np.random.default_rng(6)
    k = rng.standard_normal((4, 3))
    op = ConvOperator(k, (30, 31), boundary=boundary, correlate=True, origin=(1, 0))
    assert op._adjoint_plan().loops is not None
    y = rng.standard_normal((30, 31))
    np.testing.assert_allclose(op.H(y), dense_adjoint(op, y), rtol=1e-12, atol=1e-12 * np.abs(y).max())


def test_operator_keeps_its_fold_path_otherwise():
    k = np.ones((5, 5), dtype=np.float32)
    assert ConvOperator(k, (300, 280), boundary="reflect", method="fft")._adjoint_plan().loops is None
    op = ConvOperator(k, (300, 280), boundary="reflect")
    y = np.ones((300, 280))                 # float64 data for a float32 operator: the fold path's dtypes
    assert op.H(y).dtype == ndconv.correlate(y, k).dtype
