"""ndconv.param: every model against its definition written entry by entry, Q in
both orders, Jacobians by gradcheck, the chain rule, the eigenvalue properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse

import ndconv
from ndconv.param import (
    Antisymmetric,
    AntisymmetricStencil,
    Diagonal,
    MMatrix,
    MMatrixStencil,
    SeparableStencil,
    Stencil,
    SymmetricStencil,
    chain,
)
from ndconv.testing import gradcheck

# -- the definitions, entry by entry -------------------------------------------------------


def diagonal_def(n, theta):
    K = np.zeros((n, n))
    for i in range(n):
        K[i, i] = theta[i]
    return K


def antisymmetric_def(n, theta):
    K, t = np.zeros((n, n)), 0
    for i in range(n):
        for j in range(i + 1, n):
            K[i, j], K[j, i] = theta[t], -theta[t]
            t += 1
    return K


def mmatrix_def(n, theta):
    K, t = np.zeros((n, n)), 0
    for i in range(n):
        for j in range(n):
            if j != i:
                K[i, j] = -theta[t]
                K[i, i] += theta[t]
                t += 1
    return K


def stencil_def(shape, theta):
    return np.array(theta, dtype=float).reshape(shape)


def symmetric_stencil_def(shape, theta):
    shape = (shape,) if isinstance(shape, int) else shape
    half = tuple((s + 1) // 2 for s in shape)
    K = np.zeros(shape)
    for index in itertools.product(*map(range, shape)):
        K[index] = np.reshape(theta, half)[tuple(min(i, s - 1 - i) for i, s in zip(index, shape))]
    return K


def antisymmetric_stencil_def(shape, theta):
    shape = (shape,) if isinstance(shape, int) else shape
    shape = (shape,) if isinstance(shape, int) else shape
    centre = tuple(s // 2 for s in shape)
    K, t = np.zeros(shape), 0
    for index in itertools.product(*map(range, shape)):  # C order
        if index == centre:
            break
        K[index] = theta[t]
        K[tuple(2 * c - i for c, i in zip(centre, index))] = -theta[t]  # the point reflection x → −x
        t += 1
    return K


def mmatrix_stencil_def(shape, theta):
    shape = (shape,) if isinstance(shape, int) else shape
    centre = tuple(s // 2 for s in shape)
    K, t = np.zeros(shape), 0
    for index in itertools.product(*map(range, shape)):
        if index != centre:
            K[index] = -theta[t]
            K[centre] += theta[t]
            t += 1
    return K


LINEAR = [  # (constructor, argument, definition, num_params)
    (Diagonal, 4, diagonal_def, 4),
    (Antisymmetric, 4, antisymmetric_def, 6),
    (MMatrix, 3, mmatrix_def, 6),
    (MMatrix, 4, mmatrix_def, 12),
    (Stencil, (2, 3), stencil_def, 6),
    (Stencil, 5, stencil_def, 5),
    (SymmetricStencil, (3, 4), symmetric_stencil_def, 4),
    (SymmetricStencil, (5,), symmetric_stencil_def, 3),
    (SymmetricStencil, (3, 3, 2), symmetric_stencil_def, 4),
    (AntisymmetricStencil, (3, 3), antisymmetric_stencil_def, 4),
    (AntisymmetricStencil, 5, antisymmetric_stencil_def, 2),
    (AntisymmetricStencil, (3, 1, 3), antisymmetric_stencil_def, 4),
    (MMatrixStencil, (3, 3), mmatrix_stencil_def, 8),
    (MMatrixStencil, (1, 5), mmatrix_stencil_def, 4),
]
LINEAR_IDS = [f"{c.__name__}-{a}" for c, a, _, _ in LINEAR]


@pytest.mark.parametrize("cls, arg, definition, p", LINEAR, ids=LINEAR_IDS)
@pytest.mark.parametrize("order", ["C", "F"])
def test_linear_model_matches_its_definition(cls, arg, definition, p, order):
    model = cls(arg, order=order)
    assert model.num_params == p and model.is_linear and model.order == order
    rng = np.random.default_rng(p)
    theta = rng.standard_normal(p)
    expected = definition(arg, theta)
    assert model.shape == expected.shape
    np.testing.assert_array_equal(model.model(theta), expected)
    np.testing.assert_array_equal(model(theta), expected)
    # Q, column by column from the definition of mat(): column t is vec(K(e_t)) in `order`
    Q = model.Q
    assert scipy.sparse.issparse(Q) and Q.shape == (math.prod(expected.shape), p)
    columns = np.stack([definition(arg, e).ravel(order=order) for e in np.eye(p)], axis=1)
    np.testing.assert_array_equal(Q.toarray(), columns)
    np.testing.assert_allclose(model.model(theta).ravel(order=order), Q @ theta, rtol=0, atol=1e-14)


def test_mmatrix_3_column_major_Q_is_the_course_notes_Q():
    notes_Q = np.array([[1, 1, 0, 0, 0, 0],
                        [0, 0, -1, 0, 0, 0],
                        [0, 0, 0, 0, -1, 0],
                        [-1, 0, 0, 0, 0, 0],
                        [0, 0, 1, 1, 0, 0],
                        [0, 0, 0, 0, 0, -1],
                        [0, -1, 0, 0, 0, 0],
                        [0, 0, 0, -1, 0, 0],
                        [0, 0, 0, 0, 1, 1]])
    Q = MMatrix(3, order="F").Q
    assert Q.shape == (9, 6)
    np.testing.assert_array_equal(Q.toarray(), notes_Q)
    t1, t2, t3, t4, t5, t6 = theta = np.arange(1.0, 7.0)
    K = np.array([[t1 + t2, -t1, -t2], [-t3, t3 + t4, -t4], [-t5, -t6, t5 + t6]])
    np.testing.assert_array_equal(MMatrix(3).model(theta), K)
    np.testing.assert_array_equal((Q @ theta).reshape(3, 3, order="F"), K)  # K = mat(Qθ), MATLAB's mat


def test_antisymmetric_3_is_the_course_notes_matrix():
    t1, t2, t3 = 1.0, 2.0, 3.0
    np.testing.assert_array_equal(Antisymmetric(3).model([t1, t2, t3]),
                                  [[0, t1, t2], [-t1, 0, t3], [-t2, -t3, 0]])


def test_separable_stencil_is_the_outer_product():
    model = SeparableStencil((2, 3, 4))
    assert model.num_params == 9 and not model.is_linear and not hasattr(model, "Q")
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal(2), rng.standard_normal(3), rng.standard_normal(4)
    np.testing.assert_allclose(model.model(np.concatenate([a, b, c])), a[:, None, None] * b[:, None] * c)
    assert [f.tolist() for f in model.factors(np.concatenate([a, b, c]))] == [a.tolist(), b.tolist(), c.tolist()]


def test_linear_model_is_linear_in_complex_theta_too():
    model = MMatrixStencil(3)
    theta = np.array([1 + 2j, -1j])
    np.testing.assert_allclose(model.model(theta), model.model(theta.real) + 1j * model.model(theta.imag))


# -- Jacobians ----------------------------------------------------------------------------

ALL_MODELS = [cls(arg) for cls, arg, _, _ in LINEAR] + [cls(arg, order="F") for cls, arg, _, _ in LINEAR[:4]] + [
    SeparableStencil(4), SeparableStencil((3, 2)), SeparableStencil((2, 3, 2)), SeparableStencil((3, 2), order="F")]


@pytest.mark.parametrize("model", ALL_MODELS, ids=repr)
def test_jacobians_by_gradcheck(model):
    theta = np.random.default_rng(model.num_params).standard_normal(model.num_params)
    gradcheck(model.model, model.jvp, model.vjp, theta)


@pytest.mark.parametrize("model", [SeparableStencil((3, 2)), MMatrix(3)], ids=repr)
def test_jacobians_by_gradcheck_complex(model):
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(model.num_params) + 1j * rng.standard_normal(model.num_params)
    gradcheck(model.model, model.jvp, model.vjp, theta)


def test_linear_jacobian_is_Q():
    model = MMatrix(3, order="F")
    v, w = np.arange(6.0), np.arange(9.0)
    np.testing.assert_array_equal(model.jvp(np.zeros(6), v).ravel(order="F"), model.Q @ v)
    np.testing.assert_array_equal(model.vjp(np.zeros(6), w), model.Q.T @ w)  # flat w is vec(w) in order F
    np.testing.assert_array_equal(model.vjp(np.zeros(6), w.reshape(3, 3, order="F")), model.Q.T @ w)


def test_gradcheck_catches_a_wrong_jvp_and_a_wrong_vjp():
    model = SeparableStencil((3, 2))
    theta = np.arange(1.0, 6.0)
    with pytest.raises(AssertionError, match=r"jvp against finite differences.*jvp\(theta, v\) = "):
        gradcheck(model.model, lambda t, v: 1.01 * model.jvp(t, v), model.vjp, theta)
    with pytest.raises(AssertionError, match=r"vjp against finite differences.*<v, vjp\(theta, w\)> = "):
        gradcheck(model.model, model.jvp, lambda t, w: model.vjp(t, w)[::-1], theta)
    with pytest.raises(AssertionError, match=r"vjp\(theta, w\) has shape \(4,\)"):
        gradcheck(model.model, None, lambda t, w: model.vjp(t, w)[:4], theta)
    with pytest.raises(ValueError, match="gradcheck needs jvp or vjp"):
        gradcheck(model.model, None, None, theta)
    gradcheck(model.model, model.jvp, None, theta)
    gradcheck(model.model, None, model.vjp, theta)


# -- the chain rule, with a stand-in kernel Jacobian built from ndconv.convolve ----------

class BruteForceKernelJacobian:
    """v ↦ convolve(x, v, ...) (exactly d/dε conv(x, k + εv): conv is linear in k),
    with the adjoint as the conjugate transpose of the dense matrix of unit kernels."""

    def __init__(self, x, kernel_shape, **kwargs):
        self.x, self.kernel_shape, self.kwargs = x, kernel_shape, kwargs
        units = np.eye(math.prod(kernel_shape)).reshape(-1, *kernel_shape)
        self.matrix = np.stack([self.matvec(e).ravel() for e in units], axis=1)
        self.shape = self.matrix.shape

    def matvec(self, v):
        return ndconv.convolve(self.x, np.reshape(v, self.kernel_shape), **self.kwargs)

    def rmatvec(self, w):
        return (self.matrix.conj().T @ np.ravel(w)).reshape(self.kernel_shape)


CHAIN_CASES = [
    (MMatrixStencil((3, 3)), dict(mode="same", boundary="wrap")),
    (AntisymmetricStencil(3), dict(mode="full")),
    (SymmetricStencil((3, 2)), dict(mode="valid")),
    (Stencil((2, 2)), dict(mode="same", boundary="reflect")),
    (SeparableStencil((3, 3)), dict(mode="same", boundary="symmetric")),
    (SeparableStencil((3, 3), order="F"), dict(mode="same", boundary="wrap", stride=2)),
]


@pytest.mark.parametrize("model, kwargs", CHAIN_CASES, ids=lambda c: repr(c) if not isinstance(c, dict) else "")
def test_chain_rule_through_a_convolution(model, kwargs):
    rng = np.random.default_rng(model.num_params)
    x = rng.standard_normal((6,) * len(model.shape))
    theta = rng.standard_normal(model.num_params)
    J = chain(model, BruteForceKernelJacobian(x, model.shape, **kwargs), theta)
    f = lambda t: ndconv.convolve(x, model.model(t), **kwargs)
    gradcheck(f, lambda t, v: J.matvec(v), lambda t, w: J.rmatvec(w), theta)
    dense = J.to_dense()
    assert J.shape == dense.shape == (f(theta).size, model.num_params)
    if model.is_linear:
        Q = model.Q.toarray()
        if model.order == "F":  # the kernel Jacobian's columns are in C order
            Q = np.stack([model.model(e).ravel() for e in np.eye(model.num_params)], axis=1)
        np.testing.assert_allclose(dense, J.jacobian.matrix @ Q, atol=1e-12)
    lin = J.aslinearoperator()
    w = rng.standard_normal(lin.shape[0])
    np.testing.assert_allclose(lin.rmatvec(w), dense.T @ w, atol=1e-12)
    np.testing.assert_allclose(J @ theta, J.matvec(theta))


def test_chain_errors():
    with pytest.raises(ValueError, match="theta must be given for the non-linear model SeparableStencil"):
        chain(SeparableStencil(3), BruteForceKernelJacobian(np.ones(4), (3,)))
    with pytest.raises(TypeError, match="jacobian must have matvec and rmatvec methods, got int"):
        chain(Stencil(3), 3)
    with pytest.raises(TypeError, match="model must be an ndconv.param model, got list"):
        chain([1, 2], BruteForceKernelJacobian(np.ones(4), (3,)))
    with pytest.raises(ValueError, match=r"theta must have shape \(3,\) \(num_params = 3\), got shape \(2,\)"):
        chain(Stencil(3), BruteForceKernelJacobian(np.ones(4), (3,)), [1.0, 2.0])


# -- errors -------------------------------------------------------------------------------

def test_bad_theta_names_theta_and_the_expected_size():
    with pytest.raises(ValueError, match=r"theta must have shape \(6,\) \(num_params = 6\), got shape \(5,\)"):
        MMatrix(3).model(np.ones(5))
    with pytest.raises(ValueError, match=r"theta must have shape \(4,\) \(num_params = 4\), got shape \(2, 2\)"):
        Stencil((2, 2)).model(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"theta must be a numeric vector of 3 entries, got dtype <U1"):
        Diagonal(3).model(["a", "b", "c"])
    with pytest.raises(ValueError, match=r"v must have shape \(5,\) \(num_params = 5\), got shape \(4,\)"):
        SeparableStencil((2, 3)).jvp(np.ones(5), np.ones(4))
    with pytest.raises(ValueError, match=r"w must have shape \(3, 3\) \(or \(9,\) flat in order 'F'\), got shape"):
        MMatrix(3, order="F").vjp(np.ones(6), np.ones(8))


@pytest.mark.parametrize("cls", [AntisymmetricStencil, MMatrixStencil])
def test_centred_stencils_need_odd_sizes(cls):
    with pytest.raises(ValueError, match=rf"shape must have an odd size on every axis \({cls.__name__} needs a "
                                         r"centre sample\), got \(3, 4\)"):
        cls((3, 4))


@pytest.mark.parametrize("cls", [Stencil, SymmetricStencil, AntisymmetricStencil, MMatrixStencil, SeparableStencil])
@pytest.mark.parametrize("shape", [0, (3, 0), (), "3", (2.0,), (True,)])
def test_bad_shape(cls, shape):
    with pytest.raises(ValueError, match=r"shape must be a positive int or a tuple of positive ints, got "):
        cls(shape)


@pytest.mark.parametrize("cls", [Diagonal, Antisymmetric, MMatrix])
@pytest.mark.parametrize("n", [0, -1, 2.5, "3", None])
def test_bad_n(cls, n):
    with pytest.raises(ValueError, match=r"n must be a positive int, got "):
        cls(n)


def test_bad_order():
    with pytest.raises(ValueError, match=r"order must be 'C' or 'F', got 'K'"):
        Stencil(3, order="K")
    with pytest.raises(ValueError, match=r"order must be 'C' or 'F', got 'c'"):
        SeparableStencil(3, order="c")


def test_repr():
    assert repr(MMatrix(3, order="F")) == "MMatrix(3, order='F')"
    assert repr(SymmetricStencil((3, 3))) == "SymmetricStencil((3, 3))"


# -- the eigenvalue properties of the notes ----------------------------------------------

def periodic_eigvals(k, input_shape):
    """λ = F(K u₁): fftn of the first column of the periodic 'same' operator, i.e. the
    kernel placed circularly with its tap j at offset j − (K−1)//2."""
    column = np.zeros(input_shape, dtype=np.result_type(k, float))
    for j in np.ndindex(*k.shape):
        column[tuple((jj - (kk - 1) // 2) % n for jj, kk, n in zip(j, k.shape, input_shape))] += k[j]
    return np.fft.fftn(column)


def periodic_matrix(k, input_shape):
    units = np.eye(math.prod(input_shape)).reshape(-1, *input_shape)
    return np.stack([ndconv.convolve(e, k, "same", "wrap").ravel() for e in units], axis=1)


@pytest.mark.parametrize("shape, input_shape", [((3,), (8,)), ((3, 3), (5, 4)), ((5, 1), (6, 3)), ((4,), (7,))])
def test_periodic_eigvals_from_the_definition_diagonalise_the_operator(shape, input_shape):
    k = np.random.default_rng(0).standard_normal(shape)
    lam = periodic_eigvals(k, input_shape)
    A = periodic_matrix(k, input_shape)
    # K = F* diag(λ) F, F = fftn on input_shape
    units = np.eye(A.shape[0]).reshape(-1, *input_shape)
    via_fft = np.stack([np.fft.ifftn(lam * np.fft.fftn(e)).ravel() for e in units], axis=1)
    np.testing.assert_allclose(via_fft, A, atol=1e-12)
    eig = np.linalg.eigvals(A)  # the same multiset: every eigenvalue near one of λ and back
    distance = np.abs(eig[:, None] - lam.ravel()[None, :])
    assert distance.min(axis=0).max() < 1e-9 and distance.min(axis=1).max() < 1e-9


@pytest.mark.parametrize("shape", [(3,), (5,), (3, 3), (5, 3), (3, 1, 3)])
def test_antisymmetric_stencil_periodic_eigenvalues_are_imaginary(shape):
    model = AntisymmetricStencil(shape)
    k = model.model(np.random.default_rng(1).standard_normal(model.num_params))
    lam = periodic_eigvals(k, tuple(s + 4 for s in shape))
    assert np.abs(lam.real).max() < 1e-12 and np.abs(lam.imag).max() > 0.1


@pytest.mark.parametrize("shape", [(3,), (5,), (3, 3), (5, 3), (3, 1, 3)])
def test_mmatrix_stencil_nonnegative_theta_gives_nonnegative_real_part(shape):
    model = MMatrixStencil(shape)
    k = model.model(np.random.default_rng(2).uniform(0, 1, model.num_params))
    lam = periodic_eigvals(k, tuple(s + 3 for s in shape))
    assert lam.real.min() > -1e-12
    assert abs(lam.ravel()[0]) < 1e-12  # constants are in the kernel: every row sums to zero


@pytest.mark.parametrize("shape", [(3,), (5,), (3, 3), (5, 3)])
def test_symmetric_stencil_periodic_eigenvalues_are_real(shape):
    model = SymmetricStencil(shape)
    k = model.model(np.random.default_rng(3).standard_normal(model.num_params))
    lam = periodic_eigvals(k, tuple(s + 2 for s in shape))
    assert np.abs(lam.imag).max() < 1e-12
    A = periodic_matrix(k, tuple(s + 2 for s in shape))
    np.testing.assert_allclose(A, A.T, atol=1e-14)


def test_dense_models_eigenvalue_properties():
    rng = np.random.default_rng(4)
    lam = np.linalg.eigvals(Antisymmetric(6).model(rng.standard_normal(15)))
    assert np.abs(lam.real).max() < 1e-12
    lam = np.linalg.eigvals(MMatrix(6).model(rng.uniform(0, 1, 30)))
    assert lam.real.min() > -1e-12


# -- with the real operator, where it exists ------------------------------------------------

@pytest.mark.parametrize("model, kwargs", [(MMatrixStencil((3, 3)), dict(boundary="wrap")),
                                           (SeparableStencil((3, 2)), dict(boundary="reflect", stride=2)),
                                           (SymmetricStencil(3), dict(mode="full"))], ids=repr)
def test_chain_with_conv_operator_jacobian_kernel(model, kwargs):
    operator = pytest.importorskip("ndconv.operator")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7,) * len(model.shape))
    theta = rng.standard_normal(model.num_params)
    op = operator.ConvOperator(model.model(theta), x.shape, **kwargs)
    J = chain(model, op.jacobian_kernel(x), theta)
    f = lambda t: ndconv.convolve(x, model.model(t), kwargs.get("mode", "same"), **{
        k: v for k, v in kwargs.items() if k != "mode"})
    gradcheck(f, lambda t, v: J.matvec(v), lambda t, w: J.rmatvec(w), theta)


@pytest.mark.parametrize("cls", [AntisymmetricStencil, MMatrixStencil, SymmetricStencil])
def test_periodic_eigvals_match_conv_operator(cls):
    operator = pytest.importorskip("ndconv.operator")
    model = cls((3, 3))
    k = model.model(np.random.default_rng(6).uniform(0, 1, model.num_params))
    lam = operator.ConvOperator(k, (6, 5), boundary="wrap").eigvals()
    np.testing.assert_allclose(lam, periodic_eigvals(k, (6, 5)), atol=1e-12)
