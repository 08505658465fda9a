"""The chain rule: from a kernel Jacobian to the Jacobian with respect to θ.

For a layer ``z = conv(x, K(θ))`` the kernel Jacobian ``J_k`` (``v ↦ d/dε
conv(x, k + εv)``, e.g. ``ConvOperator(k, x.shape).jacobian_kernel(x)``) and the
model Jacobian ``J_θ K`` compose:

    J_θ z · v  = J_k (J_θK · v)        = J_k(model.jvp(θ, v))
    J_θ zᴴ · w = (J_θK)ᴴ (J_kᴴ · w)    = model.vjp(θ, J_k.rmatvec(w))

For a linear model ``J_θK · v = mat(Q v)`` and ``(J_θK)ᴴ w = Qᵀ vec(w)``, as in
the course notes.
"""

from __future__ import annotations

import numpy as np

from ._base import ParamModel


class ChainedJacobian:
    """``J_k ∘ J_θK``: θ-space (``num_params``) → the output space of ``J_k``.

    ``matvec(v)`` takes a vector of ``num_params`` entries and returns what
    ``jacobian.matvec`` returns; ``rmatvec(w)`` takes what ``jacobian.rmatvec``
    accepts and returns ``num_params`` entries.
    """

    def __init__(self, model: ParamModel, jacobian, theta):
        for name in ("matvec", "rmatvec"):
            if not callable(getattr(jacobian, name, None)):
                raise TypeError(f"jacobian must have matvec and rmatvec methods, got {type(jacobian).__name__}")
        self.model = model
        self.jacobian = jacobian
        self.theta = model._theta(theta)

    @property
    def shape(self) -> tuple[int, int]:
        """``(output size, num_params)``."""
        rows = getattr(self.jacobian, "shape", None)
        rows = rows[0] if rows is not None else np.asarray(self.matvec(np.zeros(self.model.num_params))).size
        return (int(rows), self.model.num_params)

    def matvec(self, v) -> np.ndarray:
        """``J_k(model.jvp(θ, v))``."""
        return self.jacobian.matvec(self.model.jvp(self.theta, v))

    def rmatvec(self, w) -> np.ndarray:
        """``model.vjp(θ, J_k.rmatvec(w))``; a flat kernel gradient is read in C order."""
        grad = np.asarray(self.jacobian.rmatvec(w))
        if grad.shape != self.model.shape:
            grad = grad.reshape(self.model.shape)
        return self.model.vjp(self.theta, grad)

    def __matmul__(self, v) -> np.ndarray:
        return self.matvec(v)

    def to_dense(self) -> np.ndarray:
        """The Jacobian matrix, column by column (small problems only)."""
        eye = np.eye(self.model.num_params)
        return np.stack([np.ravel(self.matvec(e)) for e in eye], axis=1)

    def aslinearoperator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` on flat vectors."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=lambda v: np.ravel(self.matvec(np.ravel(v))),
                              rmatvec=lambda w: self.rmatvec(np.ravel(w)),
                              dtype=np.result_type(getattr(self.jacobian, "dtype", np.float64), self.theta))

    def __repr__(self) -> str:
        return f"ChainedJacobian({self.model!r}, {type(self.jacobian).__name__})"


def chain(model: ParamModel, jacobian, theta=None) -> ChainedJacobian:
    """The Jacobian with respect to θ of ``f(K(θ))``, given ``jacobian = J_k f``.

    Parameters
    ----------
    model : ParamModel
        A kernel model (its ``shape`` is the kernel shape ``jacobian`` expects).
    jacobian : object with ``matvec(v)`` and ``rmatvec(w)``
        The Jacobian with respect to the kernel, e.g.
        ``ndconv.ConvOperator(k, x.shape, ...).jacobian_kernel(x)``.
    theta : array_like, optional
        Where to linearise the model; needed for non-linear models (default: zeros,
        which is exact for linear models, whose Jacobian does not depend on θ).

    Returns
    -------
    ChainedJacobian
        ``matvec(v) = J_k(model.jvp(θ, v))``, ``rmatvec(w) = model.vjp(θ, J_kᴴ w)``.

    Examples
    --------
    A stand-in kernel Jacobian: ``v ↦ conv(x, v, "valid")`` (linear in the kernel,
    so it does not depend on k), with its adjoint ``w ↦ flip(correlate(x, w, "valid"))``:

    >>> import numpy as np, ndconv
    >>> from ndconv.param import MMatrixStencil, chain
    >>> x = np.array([0.0, 1.0, 3.0, 1.0, 0.0])
    >>> class KernelJacobian:
    ...     def matvec(self, v):
    ...         return ndconv.convolve(x, v, "valid")
    ...     def rmatvec(self, w):
    ...         return ndconv.correlate(x, w, "valid")[::-1]
    >>> J = chain(MMatrixStencil(3), KernelJacobian())
    >>> J.matvec([1.0, 1.0])     # the kernel [-1, 2, -1]: a second difference of x
    array([-1.,  4., -1.])
    >>> J.to_dense()
    array([[-2.,  1.],
           [ 2.,  2.],
           [ 1., -2.]])
    """
    if not isinstance(model, ParamModel):
        raise TypeError(f"model must be an ndconv.param model, got {type(model).__name__}")
    if theta is None:
        if not model.is_linear:
            raise ValueError(f"theta must be given for the non-linear model {model!r}, got None")
        theta = np.zeros(model.num_params)
    return ChainedJacobian(model, jacobian, theta)
