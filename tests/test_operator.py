"""ConvOperator and convolution_matrix (§3): the forward map against the core and
the oracle, exact adjoints (dot tests over every boundary × mode × origin ×
stride × dilation × correlate × dtype × ndim 1–3), the matrix (dense, sparse,
O(nnz)), eigenvalues by FFT and DCT against numpy.linalg.eigvals, solve
(FFT, DCT, LSQR, pseudo-inverse, tolerance), the kernel Jacobian (dot test and
finite differences) and every error message."""

from __future__ import annotations

import math
import re
import tracemalloc

import numpy as np
import pytest
import scipy.fft
import scipy.linalg
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

import ndconv
from conftest import ALIASES, BOUNDARIES, MODES
from ndconv import ConvOperator, convolution_matrix
from ndconv.testing import dottest, reference_convolve

DTYPES = (np.float32, np.float64, np.complex64, np.complex128)

#: (input_shape, kernel shape, stride, dilation): 1-D to 3-D, even kernels,
#: kernels longer than the input, single samples, strides and dilations
GEOMETRIES = [
    ((5,), (3,), 1, 1),
    ((6,), (4,), 2, 1),
    ((4,), (7,), 1, 2),      # dilated kernel far longer than the input
    ((1,), (2,), 1, 1),
    ((7,), (2,), 3, 3),
    ((4, 5), (3, 2), (1, 2), (2, 1)),
    ((3, 4), (4, 5), 1, 1),  # kernel longer than the input on both axes
    ((2, 3, 4), (2, 1, 3), (1, 1, 2), (1, 2, 1)),
]


def random(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    value = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        value = value + 1j * rng.standard_normal(shape)
    return value.astype(dtype)


def origins(mode, kshape, dilation):
    """Origins to try: 0, and in 'same' mode the two extremes the contract allows."""
    if mode != "same":
        return [0]
    dilation = (dilation,) * len(kshape) if isinstance(dilation, int) else dilation
    kd = [d * (k - 1) + 1 for k, d in zip(kshape, dilation)]
    low = tuple(-((n - 1) // 2) for n in kd)
    high = tuple(n - 1 - (n - 1) // 2 for n in kd)
    return [0, low, high]


def fits(mode, shape, kshape, dilation):
    dilation = (dilation,) * len(kshape) if isinstance(dilation, int) else dilation
    return mode != "valid" or all(d * (k - 1) + 1 <= n for n, k, d in zip(shape, kshape, dilation))


# -- forward ----------------------------------------------------------------------

@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("correlate", [False, True])
def test_forward_is_the_core(boundary, mode, correlate):
    for i, (shape, kshape, stride, dilation) in enumerate(GEOMETRIES):
        if not fits(mode, shape, kshape, dilation):
            continue
        k, x = random(kshape, np.complex128, i), random(shape, np.float64, i + 1)
        for origin in origins(mode, kshape, dilation):
            op = ConvOperator(k, shape, mode=mode, boundary=boundary, correlate=correlate, origin=origin,
                              stride=stride, dilation=dilation)
            expected = reference_convolve(x, k, mode, boundary, origin=origin, stride=stride,
                                          dilation=dilation, correlate=correlate)
            np.testing.assert_allclose(op(x), expected, atol=1e-12)
            assert op.output_shape == expected.shape
            assert op.shape == (expected.size, x.size)
            np.testing.assert_allclose(op @ x.ravel(), expected.ravel(), atol=1e-12)
            np.testing.assert_allclose(op.matvec(x.ravel()[:, None]), expected.ravel()[:, None], atol=1e-12)


def test_attributes_and_dtypes():
    op = ConvOperator(np.ones(3, np.float32), (6,), stride=2)
    assert (op.input_shape, op.output_shape, op.shape, op.dtype) == ((6,), (3,), (3, 6), np.float32)
    assert op(np.ones(6, np.float32)).dtype == np.float32
    assert ConvOperator([1, 2, 1], (4,)).dtype == np.float64
    assert ConvOperator(np.ones(2, np.float16), (4,)).dtype == np.float32
    assert ConvOperator(np.ones(2, np.complex64), (4,)).dtype == np.complex64
    assert ConvOperator([1., 2.], 5).input_shape == (5,)
    assert "ConvOperator (6,) -> (3,)" in repr(op)
    assert repr(op.H).endswith(".H")


def test_columns_and_empty_column_block():
    op = ConvOperator([1., 2., 3.], (2, 3), boundary="edge")
    block = np.arange(12.).reshape(6, 2)
    out = op.matvec(block)
    np.testing.assert_allclose(out[:, 1], op(block[:, 1].reshape(2, 3)).ravel())
    assert op.matvec(np.zeros((6, 0))).shape == (6, 0)
    np.testing.assert_allclose(op.rmatmat(out), np.stack([op.H(c) for c in out.T], 1))


def test_column_blocks_shaped_like_the_input_are_still_columns():
    """A (prod(input_shape), m) block can have the input's own shape: input_shape (n, 1)
    with one column, or the 1×1 identity of a map from one sample.  matmat, rmatmat,
    to_dense and aslinearoperator read it column by column (the Jacobian of a 1×1 kernel
    gave to_dense() of shape (1, 2) for its (2, 1) matrix)."""
    jac = ConvOperator(np.ones((1, 1)), (1, 2), mode="full").jacobian_kernel(np.array([[1.0, 2.0]]))
    assert jac.shape == (2, 1) and jac.to_dense().shape == (2, 1)
    np.testing.assert_allclose(jac.to_dense().ravel(), [1.0, 2.0])
    np.testing.assert_allclose(jac.T.to_dense(), [[1.0, 2.0]])
    op = ConvOperator([1.0, 2.0, 4.0], (3, 1), axes=0, mode="full")
    column = np.array([[1.0], [0.0], [0.0]])
    assert op.matmat(column).shape == (5, 1)
    assert op(column).shape == (5, 1)                       # matvec: an array of input_shape
    np.testing.assert_allclose(op.aslinearoperator().matmat(column), op.to_dense()[:, :1])
    np.testing.assert_allclose(op.rmatmat(np.eye(5)[:, :1]), op.to_dense().T[:, :1])
    with pytest.raises(ValueError, match=r"x must be a \(3, m\) array, got shape \(3,\)"):
        op.matmat(np.ones(3))


# -- adjoint ----------------------------------------------------------------------

@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("correlate", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dottest_every_setting(boundary, mode, correlate, dtype):
    for i, (shape, kshape, stride, dilation) in enumerate(GEOMETRIES):
        if not fits(mode, shape, kshape, dilation):
            continue
        k = random(kshape, dtype, i)
        for origin in origins(mode, kshape, dilation):
            op = ConvOperator(k, shape, mode=mode, boundary=boundary, correlate=correlate, origin=origin,
                              stride=stride, dilation=dilation)
            assert dottest(op)
            assert dottest(op, complex_=True)       # a real operator on complex vectors
            assert dottest(op.T, seed=1)
            assert dottest(op.H, seed=2)


@settings(max_examples=60)
@given(data=st.data())
def test_dottest_hypothesis(data):
    ndim = data.draw(st.integers(1, 3), label="ndim")
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim), label="shape"))
    kshape = tuple(data.draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim), label="kshape"))
    stride = tuple(data.draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim), label="stride"))
    dilation = tuple(data.draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim), label="dilation"))
    mode = data.draw(st.sampled_from(MODES), label="mode")
    if not fits(mode, shape, kshape, dilation):
        mode = "full"
    origin = 0
    if mode == "same":
        kd = [d * (k - 1) + 1 for k, d in zip(kshape, dilation)]
        origin = tuple(data.draw(st.integers(-((n - 1) // 2), n - 1 - (n - 1) // 2)) for n in kd)
    boundary = data.draw(st.sampled_from(BOUNDARIES + tuple(ALIASES)), label="boundary")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    op = ConvOperator(random(kshape, dtype, 0), shape, mode=mode, boundary=boundary, origin=origin,
                      stride=stride, dilation=dilation, correlate=data.draw(st.booleans(), label="correlate"))
    assert dottest(op)


@pytest.mark.parametrize("method", ["direct", "fft", "overlap_add", "separable"])
def test_adjoint_through_every_method(method):
    k = random((3, 2), np.float64, 3)
    op = ConvOperator(k, (9, 8), boundary="reflect", stride=(2, 1), dilation=(1, 2), method=method)
    assert dottest(op)
    np.testing.assert_allclose(op.H(np.ones(op.output_shape)),
                               ConvOperator(k, (9, 8), boundary="reflect", stride=(2, 1), dilation=(1, 2),
                                            method="direct").H(np.ones(op.output_shape)), atol=1e-12)


BATCHED = [  # batch axes in input_shape: one kernel for every row, or one per row (broadcast)
    dict(k=(3,), shape=(3, 5), boundary="wrap", stride=2),
    dict(k=(2, 3), shape=(3, 4, 5), boundary="symmetric", axes=(0, 2), stride=(1, 2)),
    dict(k=(3, 1, 2), shape=(3, 4, 5), boundary="edge", axes=(0, 2)),
    dict(k=(1, 3, 2), shape=(2, 4, 5), boundary="wrap", axes=(1, 2), stride=2),
    dict(k=(2, 3, 2), shape=(1, 4, 5), boundary="reflect", axes=(1, 2), stride=2),  # kernel rows broadcast x
    dict(k=(2, 3, 2), shape=(2, 4, 5), boundary="reflect", axes=(2, 1), correlate=True),
    dict(k=(7,), shape=(2, 3), boundary="reflect", axes=0, correlate=True, mode="full", stride=3),
]


@pytest.mark.parametrize("case", BATCHED)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_batch_axes(case, dtype):
    case = dict(case)
    k, shape = random(case.pop("k"), dtype, 5), case.pop("shape")
    op = ConvOperator(k, shape, **case)
    assert dottest(op)
    x = random(shape, dtype, 6)
    func = ndconv.correlate if case.get("correlate") else ndconv.convolve
    np.testing.assert_allclose(op(x), func(x, k, case.get("mode", "same"), case["boundary"],
                                           axes=case.get("axes"), stride=case.get("stride", 1)))
    dense = op.to_dense()
    np.testing.assert_allclose(dense, _columns(op), atol=1e-12)
    np.testing.assert_allclose(dense.conj().T, _columns(op.H), atol=1e-12)


def _columns(op) -> np.ndarray:
    n = op.shape[1]
    return np.stack([np.ravel(op(np.eye(n, dtype=op.dtype)[j].reshape(op.input_shape))) for j in range(n)], 1)


# -- matrices ---------------------------------------------------------------------

@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
def test_matrix_against_columns(boundary, mode):
    for i, (shape, kshape, stride, dilation) in enumerate(GEOMETRIES):
        if not fits(mode, shape, kshape, dilation):
            continue
        for origin in origins(mode, kshape, dilation)[::2]:
            for correlate in (False, True):
                op = ConvOperator(random(kshape, np.complex128, i), shape, mode=mode, boundary=boundary,
                                  origin=origin, stride=stride, dilation=dilation, correlate=correlate)
                dense, sparse = op.to_dense(), op.to_sparse()
                assert scipy.sparse.issparse(sparse) and sparse.format == "csr"
                np.testing.assert_allclose(dense, _columns(op), atol=1e-12)
                np.testing.assert_allclose(dense.conj().T, _columns(op.H), atol=1e-12)
                np.testing.assert_allclose(op.T.to_dense(), dense.T)
                np.testing.assert_allclose(op.H.to_sparse("csc").toarray(), dense.conj().T)
                np.testing.assert_array_equal(sparse.toarray(), dense)
                assert sparse.nnz <= op.shape[0] * math.prod(kshape)


def test_matrix_structures():
    np.testing.assert_array_equal(convolution_matrix([1, 2, 3], (5,), boundary="wrap"),
                                  [[2, 1, 0, 0, 3], [3, 2, 1, 0, 0], [0, 3, 2, 1, 0],
                                   [0, 0, 3, 2, 1], [1, 0, 0, 3, 2]])
    toeplitz = convolution_matrix([1, 2, 3], (4,), mode="full")
    np.testing.assert_array_equal(toeplitz, scipy.linalg.toeplitz([1, 2, 3, 0, 0, 0], [1, 0, 0, 0]))
    sparse = convolution_matrix([1, 2, 3], (4,), mode="full", sparse=True)
    assert sparse.nnz == 12 and sparse.format == "csr"
    # BCCB: a 2-D periodic matrix is block circulant with circulant blocks
    bccb = convolution_matrix(np.arange(1., 10.).reshape(3, 3), (3, 4), boundary="wrap")
    blocks = [bccb[:4, 4 * j:4 * j + 4] for j in range(3)]
    for i in range(3):
        for j in range(3):
            np.testing.assert_array_equal(bccb[4 * i:4 * i + 4, 4 * j:4 * j + 4], blocks[(j - i) % 3])
    # repeats of a long periodic extension are summed
    np.testing.assert_array_equal(convolution_matrix(np.ones(5), (2,), boundary="wrap"), [[3, 2], [2, 3]])


def test_to_sparse_is_O_nnz():
    """Memory in O(nnz), no dense intermediate (its time is in docs/benchmarks.md)."""
    op = ConvOperator(np.arange(1., 26.).reshape(5, 5), (512, 512), boundary="wrap")
    op.to_sparse()                                   # warm up imports
    tracemalloc.start()
    sparse = op.to_sparse()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sparse.nnz == 512 * 512 * 25
    assert peak < 6 * sparse.nnz * 16                # a few copies of (index, value) per entry
    assert peak < 1e-3 * op.shape[0] * op.shape[1] * 8   # a dense matrix would be 550 GB
    x = np.random.default_rng(0).standard_normal((512, 512))
    np.testing.assert_allclose(sparse @ x.ravel(), op(x).ravel(), atol=1e-9)


# -- eigenvalues ------------------------------------------------------------------

PERIODIC = [
    dict(k=(3,), shape=(6,)),
    dict(k=(4,), shape=(5,), origin=1),
    dict(k=(3,), shape=(7,), dilation=2, origin=-2),
    dict(k=(9,), shape=(4,)),                        # kernel longer than the input
    dict(k=(3, 2), shape=(4, 5), correlate=True),
    dict(k=(2, 2, 3), shape=(3, 2, 4), dilation=(1, 2, 1)),
]


@pytest.mark.parametrize("case", PERIODIC)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_eigvals_fft(case, dtype):
    case = dict(case)
    k, shape = random(case.pop("k"), dtype, 1), case.pop("shape")
    op = ConvOperator(k, shape, boundary="wrap", **case)
    lam = op.eigvals()
    assert lam.shape == shape
    dense = op.to_dense()
    expected = np.linalg.eigvals(dense)
    np.testing.assert_allclose(np.sort_complex(lam.ravel()), np.sort_complex(expected), atol=1e-10)
    # K = F⁻¹ diag(λ) F, F = fftn
    eye = np.eye(dense.shape[1]).reshape((-1,) + shape)
    rebuilt = np.fft.ifftn(lam * np.fft.fftn(eye, axes=range(1, eye.ndim)), axes=range(1, eye.ndim))
    np.testing.assert_allclose(rebuilt.reshape(dense.shape[1], -1).T, dense, atol=1e-12)


def test_eigvals_batch_axes_repeat_the_blocks():
    op = ConvOperator([1., 3., 2.], (2, 5), boundary="wrap")
    lam = op.eigvals()
    np.testing.assert_allclose(lam[0], lam[1])
    np.testing.assert_allclose(np.sort_complex(lam.ravel()), np.sort_complex(np.linalg.eigvals(op.to_dense())),
                               atol=1e-12)


def dct_diagonalises(op) -> bool:
    dims = tuple(range(len(op.input_shape)))
    eye = np.eye(op.shape[1]).reshape((-1,) + op.input_shape)
    basis = scipy.fft.dctn(eye, axes=[d + 1 for d in dims], norm="ortho").reshape(op.shape[1], -1).T  # D
    m = basis @ op.to_dense() @ basis.T
    return bool(np.abs(m - np.diag(np.diag(m))).max() < 1e-10 * max(1, np.abs(m).max()))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_eigvals_dct_qualifies_exactly_when_the_dct_diagonalises(n):
    """Every 1-D geometry: eigvals('dct') succeeds iff D K Dᵀ is diagonal, and then equals its diagonal."""
    rng = np.random.default_rng(n)
    for K in (1, 2, 3, 4, 5):
        for d in (1, 2, 3):
            kd = d * (K - 1) + 1
            for origin in range(-((kd - 1) // 2), kd - (kd - 1) // 2):
                for symmetric in (True, False):
                    h = rng.standard_normal(K)
                    h = h + h[::-1] if symmetric else h
                    op = ConvOperator(h, (n,), boundary="symmetric", origin=origin, dilation=d)
                    diagonal = dct_diagonalises(op)
                    try:
                        lam = op.eigvals("dct")
                    except ValueError:
                        assert not diagonal, (K, d, origin, symmetric)
                        continue
                    assert diagonal, (K, d, origin, symmetric)
                    basis = scipy.fft.dct(np.eye(n), axis=0, norm="ortho")
                    np.testing.assert_allclose(basis.T @ np.diag(lam) @ basis, op.to_dense(), atol=1e-12)
    # the usual case: odd symmetric kernel, origin 0, any dilation
    assert ConvOperator([1., 2., 1.], (n,), boundary="symmetric", dilation=2).eigvals("dct").shape == (n,)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_eigvals_dct_nd(dtype):
    k = random((3, 5), dtype, 0)
    k = k + k[::-1] + k[:, ::-1] + k[::-1, ::-1]
    op = ConvOperator(k, (4, 6), boundary="symmetric", correlate=True)
    lam = op.eigvals("dct")
    assert lam.shape == (4, 6) and lam.dtype.kind == np.dtype(dtype).kind
    assert dct_diagonalises(op)
    np.testing.assert_allclose(np.sort_complex(lam.ravel()), np.sort_complex(np.linalg.eigvals(op.to_dense())),
                               atol=1e-10)
    x = random((4, 6), dtype, 1)
    np.testing.assert_allclose(scipy.fft.idctn(lam * scipy.fft.dctn(x, norm="ortho"), norm="ortho"), op(x),
                               atol=1e-12)


@pytest.mark.parametrize("kwargs, basis, message", [
    (dict(boundary="reflect"), "fft", r"eigvals\(basis='fft'\) needs boundary='wrap' \(got 'reflect'\)"),
    (dict(boundary="wrap", mode="full"), "fft", r"needs mode='same' and stride 1 on every convolved axis "
                                                r"\(got mode='full', stride 1 on axis 0\)"),
    (dict(boundary="wrap", stride=2), "fft", r"got mode='same', stride 2 on axis 0"),
    (dict(boundary="wrap"), "dct", r"eigvals\(basis='dct'\) needs boundary='symmetric' \(got 'wrap'\)"),
    (dict(boundary="symmetric", origin=1), "dct", r"a kernel even about its output sample on every axis.*"
                                                  r"not on axis 0; no fast transform"),
    (dict(boundary="symmetric"), "dft", r"basis must be 'fft' or 'dct', got 'dft'"),
])
def test_eigvals_errors(kwargs, basis, message):
    op = ConvOperator([1., 2., 1.], (5,), **kwargs)
    with pytest.raises(ValueError, match=message):
        op.eigvals(basis)
    with pytest.raises(ValueError, match=r"needs a kernel even"):
        ConvOperator([1., 2., 3.], (5,), boundary="symmetric").eigvals("dct")
    with pytest.raises(ValueError, match=r"output_shape == input_shape \(got \(2, 5\) from \(1, 5\)\)"):
        ConvOperator(np.ones((2, 3)), (1, 5), boundary="wrap", axes=1).eigvals()


# -- solve ------------------------------------------------------------------------

def normal_solution(op, y, reg):
    a = op.to_dense()
    return np.linalg.solve(a.conj().T @ a + reg * np.eye(a.shape[1]), a.conj().T @ y.ravel())


@pytest.mark.parametrize("boundary, kernel, method", [
    ("wrap", [[1., 2., 0.5], [0.2, 4., 1.]], "fft"),
    ("symmetric", [[0.5, 1., 0.5], [1., 8., 1.], [0.5, 1., 0.5]], "dct"),
    ("reflect", [[0.5, 1., 0.5], [1., 8., 1.], [0.5, 1., 0.5]], "lsqr"),
    ("constant", [[1., 2., 0.], [0.5, 6., 0.5]], "lsqr"),
])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_solve_recovers_x(boundary, kernel, method, dtype):
    kernel = np.asarray(kernel, dtype)
    op = ConvOperator(kernel, (6, 7), boundary=boundary)
    x = random((6, 7), dtype, 2)
    y = op(x)
    found = op.solve(y, tol=1e-14)
    assert op.last_solve.method == method and found.shape == (6, 7) and found.dtype == np.dtype(dtype)
    np.testing.assert_allclose(found, x, atol=1e-8)
    for reg in (0.1, 3.0):
        np.testing.assert_allclose(op.solve(y, reg=reg, tol=1e-14).ravel(), normal_solution(op, y, reg),
                                   atol=1e-8)
    assert op.last_solve.residual >= 0
    np.testing.assert_allclose(op.solve(y.ravel(), tol=1e-14), found, atol=1e-8)   # a flat y


def test_solve_pseudo_inverse_where_an_eigenvalue_is_zero():
    """[1, 1] on an even periodic grid has λ = 0 at the Nyquist frequency: reg = 0 gives the
    minimum-norm least-squares solution (the pseudo-inverse), not inf or nan."""
    op = ConvOperator([1., 1.], (6,), boundary="wrap")
    assert np.isclose(np.abs(op.eigvals()).min(), 0)
    y = np.arange(6.)
    x = op.solve(y)
    assert op.last_solve.zeroed == 1 and np.isfinite(x).all()
    np.testing.assert_allclose(x, np.linalg.pinv(op.to_dense()) @ y, atol=1e-12)
    op = ConvOperator([1., 2., 1.], (4,), boundary="symmetric", dilation=2)   # DCT eigenvalue 0 too
    lam = op.eigvals("dct")
    assert np.isclose(np.abs(lam).min(), 0)
    np.testing.assert_allclose(op.solve(y[:4]), np.linalg.pinv(op.to_dense()) @ y[:4], atol=1e-12)


def test_solve_iterations_and_tolerance():
    op = ConvOperator(np.array([1., 3., 1.5]), (40,), boundary="edge", stride=1)
    x = np.sin(np.arange(40.))
    y = op(x)
    loose = op.solve(y, tol=1e-3)
    loose_info = op.last_solve
    tight = op.solve(y, tol=1e-13)
    tight_info = op.last_solve
    assert loose_info.method == tight_info.method == "lsqr"
    assert 0 < loose_info.iterations < tight_info.iterations
    assert np.abs(tight - x).max() < 1e-9 < np.abs(loose - x).max()
    op.solve(y, tol=1e-13, maxiter=3)
    assert op.last_solve.iterations == 3 and op.last_solve.istop == 7
    # a non-square (strided) operator solves in the least-squares sense
    strided = ConvOperator([1., 2., 1.], (9,), stride=2)
    found = strided.solve(strided(x[:9]), reg=0.5, tol=1e-14)
    np.testing.assert_allclose(found, normal_solution(strided, strided(x[:9]), 0.5), atol=1e-9)


def test_solve_errors():
    op = ConvOperator([1., 2.], (4,))
    with pytest.raises(ValueError, match=r"y must have shape output_shape=\(4,\) or be a flat vector of 4, "
                                         r"got shape \(5,\)"):
        op.solve(np.ones(5))
    with pytest.raises(ValueError, match=r"reg must be a number >= 0, got -1.0"):
        op.solve(np.ones(4), reg=-1)
    with pytest.raises(ValueError, match=r"tol must be a number > 0, got 0"):
        op.solve(np.ones(4), tol=0)
    with pytest.raises(ValueError, match=r"maxiter must be None or an int >= 1, got 0"):
        op.solve(np.ones(4), maxiter=0)


def test_aslinearoperator():
    from scipy.sparse.linalg import LinearOperator
    op = ConvOperator(random((2, 3), np.complex128, 0), (3, 4), mode="full", boundary="reflect")
    lin = op.aslinearoperator()
    assert isinstance(lin, LinearOperator) and lin.shape == op.shape and lin.dtype == op.dtype
    dense = op.to_dense()
    v = random(12, np.complex128, 1)
    np.testing.assert_allclose(lin.matvec(v), dense @ v, atol=1e-12)
    np.testing.assert_allclose(lin.rmatvec(dense @ v), dense.conj().T @ (dense @ v), atol=1e-12)
    np.testing.assert_allclose(lin.matmat(np.eye(12)), dense, atol=1e-12)
    np.testing.assert_allclose((lin.H @ np.eye(op.shape[0])), dense.conj().T, atol=1e-12)


# -- the kernel Jacobian ----------------------------------------------------------

@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("correlate", [False, True])
def test_jacobian_kernel(boundary, mode, correlate):
    for i, (shape, kshape, stride, dilation) in enumerate(GEOMETRIES):
        if not fits(mode, shape, kshape, dilation):
            continue
        for origin in origins(mode, kshape, dilation)[:2]:
            k, x = random(kshape, np.float64, i), random(shape, np.float64, i + 7)
            op = ConvOperator(k, shape, mode=mode, boundary=boundary, correlate=correlate, origin=origin,
                              stride=stride, dilation=dilation)
            jac = op.jacobian_kernel(x)
            assert jac.input_shape == kshape and jac.output_shape == op.output_shape
            assert dottest(jac)
            v = random(kshape, np.float64, 3)
            np.testing.assert_allclose(jac(v), (op_with(op, k + 1e-3 * v)(x) - op(x)) / 1e-3, atol=1e-9)
            w = random(op.output_shape, np.float64, 4)
            # finite differences of the scalar <op_k(x), w> in every kernel entry
            grad = np.zeros(kshape)
            for j in np.ndindex(*kshape):
                step = np.zeros(kshape)
                step[j] = 1e-6
                grad[j] = (np.vdot(op_with(op, k + step)(x), w) - np.vdot(op_with(op, k - step)(x), w)).real / 2e-6
            np.testing.assert_allclose(jac.H(w), grad, atol=1e-7)
            np.testing.assert_allclose(jac.to_dense(), _columns(jac), atol=1e-12)
            np.testing.assert_allclose(jac.H.to_dense(), _columns(jac).conj().T, atol=1e-12)


def op_with(op, k):
    return ConvOperator(k, op.input_shape, **{key: value for key, value in op._kwargs.items() if key != "method"},
                        correlate=op.correlate)


@pytest.mark.parametrize("correlate", [False, True])
@pytest.mark.parametrize("case", BATCHED)
def test_jacobian_kernel_complex_and_batched(correlate, case):
    case = dict(case, correlate=correlate)
    k, shape = random(case.pop("k"), np.complex128, 1), case.pop("shape")
    op = ConvOperator(k, shape, **case)
    x = random(shape, np.complex128, 2)
    jac = op.jacobian_kernel(x)
    assert jac.antilinear == correlate
    assert dottest(jac)
    w = random(op.output_shape, np.complex128, 3)
    # the gradient of Re<op_k(x), w> in the real and imaginary part of each kernel entry
    grad = jac.H(w)
    for j in list(np.ndindex(*k.shape))[:4]:
        for unit in (1, 1j):
            step = np.zeros(k.shape, complex)
            step[j] = 1e-6 * unit
            numeric = (np.vdot(op_with(op, k + step)(x), w) - np.vdot(op_with(op, k - step)(x), w)).real / 2e-6
            assert np.isclose(numeric, (np.conj(unit) * grad[j]).real, atol=1e-7)
    if correlate:
        with pytest.raises(ValueError, match=r"to_dense needs a complex-linear map; this one is antilinear"):
            jac.to_dense()
    else:
        np.testing.assert_allclose(jac.to_dense(), _columns(jac), atol=1e-12)


# -- dottest itself, errors -------------------------------------------------------

class _Broken(ConvOperator):
    def _adjoint(self, y):
        return 2 * super()._adjoint(y)


def test_dottest_reports_both_sides(capsys):
    broken = _Broken([1., 2.], (5,))
    with pytest.raises(AssertionError, match=r"dottest FAILED: <op x, y> = .*, <x, op\^H y> = .*relative error"):
        dottest(broken)
    assert dottest(broken, raise_error=False) is False
    assert "dottest FAILED" in capsys.readouterr().out
    assert dottest(ConvOperator([1., 2.], (5,)), verbose=True)
    assert "dottest passed" in capsys.readouterr().out


def test_errors():
    op = ConvOperator([1., 2.], (3, 4))
    with pytest.raises(ValueError, match=r"x must have shape input_shape=\(3, 4\), be a flat vector of 12 "
                                         r"or a \(12, m\) array, got shape \(4, 3\)"):
        op(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"y must have shape output_shape=\(3, 4\), be a flat vector of 12 "
                                         r"or a \(12, m\) array, got shape \(13,\)"):
        op.H(np.ones(13))
    with pytest.raises(ValueError, match=r"x must have shape input_shape=\(3, 4\), be a flat vector of 12 "
                                         r"or a \(12, m\) array, got shape \(2,\)"):
        op.T.rmatvec(np.ones(2))
    with pytest.raises(ValueError, match=r"fill_value must be 0 for a linear operator .*, got 1"):
        ConvOperator([1., 2.], (3,), fill_value=1)
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of positive ints, got \(3, 0\)"):
        ConvOperator([1., 2.], (3, 0))
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of positive ints, got 'ab'"):
        ConvOperator([1., 2.], "ab")
    with pytest.raises(ValueError, match=r"mode must be 'full', 'same' or 'valid', got 'sam'"):
        ConvOperator([1., 2.], (3,), mode="sam")
    with pytest.raises(ValueError, match=r"mode='valid' needs the dilated kernel to fit"):
        ConvOperator([1., 2., 3.], (2,), mode="valid")
    with pytest.raises(TypeError, match=r"k must be an array of"):
        ConvOperator(["a"], (3,))
    with pytest.raises(ValueError, match=r"x must have shape input_shape=\(3, 4\), got shape \(3,\)"):
        op.jacobian_kernel(np.ones(3))


@pytest.mark.parametrize("fmt", ["xyz", "CSR", None, 1])
def test_to_sparse_format_is_checked_first(fmt):
    """SciPy's error (``Format xyz is unknown.``) named neither the argument nor the choices,
    and came after the whole matrix was built; every operator now checks ``format`` first."""
    op = ndconv.ConvOperator(np.ones((3, 3)), (5, 6), boundary="reflect")
    for matrix_of in (op, op.T, op.H, op.jacobian_kernel(np.ones((5, 6)))):
        with pytest.raises(ValueError, match=r"format must be 'csr', 'csc', 'coo', 'bsr', 'dia', 'dok' or 'lil', "
                                             rf"got {re.escape(repr(fmt))}"):
            matrix_of.to_sparse(fmt)
    assert op.to_sparse("lil").format == "lil" and op.T.to_sparse("coo").format == "coo"


@pytest.mark.parametrize(("boundary", "path"), [("wrap", "fft"), ("symmetric", "dct"), ("constant", "lsqr")])
@pytest.mark.parametrize(("dtype", "e"), [(np.float32, 120), (np.float64, 990), (np.float64, -990)])
def test_solve_any_magnitude(boundary, path, dtype, e):
    """x is linear in y: y of about 1e36 (float32) or 1e±298 overflowed in the transforms and
    norms (NaN, or a residual of inf).  y is now solved at magnitude 1 and x scaled back exactly."""
    rng = np.random.default_rng(3)
    op = ndconv.ConvOperator(np.array([1.0, 3.0, 1.0], dtype), (40,), boundary=boundary)
    y = op(rng.standard_normal(40).astype(dtype))
    unit = op.solve(y, reg=1e-3)
    unit_info = op.last_solve
    assert unit_info.method == path
    big = op.solve(np.ldexp(y, e), reg=1e-3)
    assert np.isfinite(big).all()
    if path == "lsqr":   # iterative: the same iterations on data scaled exactly
        np.testing.assert_allclose(big, np.ldexp(unit, e), rtol=1e-6, atol=0)
    else:
        np.testing.assert_array_equal(big, np.ldexp(unit, e))
    assert np.isclose(op.last_solve.residual, math.ldexp(unit_info.residual, e), rtol=1e-3, atol=0)


@pytest.mark.parametrize("shape,kshape,kw", [((17,), (5,), {}), ((17,), (4,), {"origin": 1}),
                                             ((20, 23), (5, 4), {"dilation": (2, 3)}), ((9,), (12,), {}),
                                             ((3, 20, 23), (6, 5), {"origin": (-1, 1), "correlate": True})])
def test_periodic_adjoint_is_one_same_window_correlation(shape, kshape, kw, monkeypatch):
    """The transpose of a circulant matrix correlates: the wrap rule's adjoint (stride 1,
    'same' window) is one 'same' correlation with y extended periodically, no full
    correlation and fold; it is still the matrix's conjugate transpose."""
    from ndconv import operator as operator_module

    rng = np.random.default_rng(len(shape) * 10 + kshape[0])
    k = rng.standard_normal(kshape) + 1j * rng.standard_normal(kshape)
    op = ndconv.ConvOperator(k, shape, boundary="wrap", **kw)
    y = rng.standard_normal(op.output_shape) + 1j * rng.standard_normal(op.output_shape)
    modes = []
    original = operator_module.correlate
    monkeypatch.setattr(operator_module, "correlate", lambda *a, **k: modes.append(k.get("mode")) or original(*a, **k))
    got = op.H(y)
    assert modes == ["same"]
    dense = op.to_dense()
    np.testing.assert_allclose(got.ravel(), dense.conj().T @ y.ravel(), atol=1e-10)


def test_adjoint_and_transpose_are_made_once_and_follow_copies():
    """``op.H``/``op.T`` are kept (a loop of ``op.H(y)`` rebuilt them every call), and so is the
    plan of the adjoint; a copy of the operator gets adjoints of its own; the kept plan gives
    the matrix's conjugate transpose on every call, strided and batched alike."""
    import copy
    import pickle

    rng = np.random.default_rng(7)
    k = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    for kw in ({}, {"stride": (2, 1), "boundary": "reflect"}, {"boundary": "wrap", "origin": (1, 0)}):
        op = ndconv.ConvOperator(k, (2, 9, 8), axes=(1, 2), **kw)
        assert op.H is op.H and op.T is op.T and op.H.H is op and op.T.T is op
        twin = copy.copy(op)
        assert twin.H is not op.H and twin.H.base is twin and twin.T.base is twin
        dense = op.to_dense()
        for _ in range(2):
            y = rng.standard_normal(op.output_shape) + 1j * rng.standard_normal(op.output_shape)
            np.testing.assert_allclose(op.H(y).ravel(), dense.conj().T @ y.ravel(), atol=1e-10)
            np.testing.assert_allclose(twin.T(y).ravel(), dense.T @ y.ravel(), atol=1e-10)
        again = pickle.loads(pickle.dumps(op))          # what it keeps (a per-thread buffer) is not pickled
        assert not any(name.startswith("_kept_") for name in vars(again))
        np.testing.assert_allclose(again.H(y), op.H(y), rtol=0, atol=0)
        assert op.H(y) is not op.H(y) and not np.shares_memory(op.H(y), op.H(y))
