"""The shape handling every ndconv linear map shares, and the adjoint wrapper.

A subclass gives ``input_shape``, ``output_shape``, ``dtype`` and two methods
on arrays of exactly those shapes: ``_forward(x)`` and ``_adjoint(y)`` (the
conjugate transpose).  Everything else — flat vectors, column blocks, ``@``,
``.T``, ``.H``, dense and sparse matrices, a SciPy ``LinearOperator`` — is here.
"""

from __future__ import annotations

import math

import numpy as np

from ._errors import bad_choice, check_memory

#: the formats of scipy.sparse that ``to_sparse(format)`` returns
SPARSE_FORMATS = ("csr", "csc", "coo", "bsr", "dia", "dok", "lil")


def sparse_format(format: object) -> str:
    """``format`` checked before any matrix is built (SciPy's own error named neither the
    argument nor the formats, and came after the whole matrix)."""
    if not isinstance(format, str) or format not in SPARSE_FORMATS:
        raise bad_choice("format", format, SPARSE_FORMATS)
    return format


class LinearMap:
    """Base of :class:`ndconv.ConvOperator`, its adjoints and the Jacobians."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    dtype: np.dtype
    #: True for a map that is linear over the reals only (f(i·v) = −i·f(v));
    #: its adjoint then holds for the real inner product Re⟨·, ·⟩.
    antilinear: bool = False
    #: how errors name the vectors this map takes and returns (the adjoints swap them)
    _names: tuple[str, str] = ("x", "y")

    def __getstate__(self) -> dict:
        """Pickled and copied without what the map keeps for speed (``_kept_*``: its adjoint
        and transpose, an adjoint's plan and per-thread buffers), which it makes again."""
        return {name: value for name, value in self.__dict__.items() if not name.startswith("_kept_")}

    # -- to be provided -------------------------------------------------------
    def _forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _adjoint(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shapes ---------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(prod(output_shape), prod(input_shape))``: the shape of the matrix."""
        return math.prod(self.output_shape), math.prod(self.input_shape)

    def _apply(self, func, x, shape: tuple[int, ...], other: tuple[int, ...], name: str) -> np.ndarray:
        x = np.asarray(x)
        size = math.prod(shape)
        if x.shape == shape:
            return func(x)
        if x.ndim == 1 and x.size == size:
            return func(x.reshape(shape)).reshape(-1)
        if x.ndim == 2 and x.shape[0] == size:
            return self._columns(func, x, shape, other)
        label = "input_shape" if name == "x" else "output_shape"     # in the words of the operator
        raise ValueError(f"{name} must have shape {label}={shape}, be a flat vector of {size} "
                         f"or a ({size}, m) array, got shape {x.shape}")

    def _columns(self, func, x: np.ndarray, shape: tuple[int, ...], other: tuple[int, ...]) -> np.ndarray:
        """``func`` on each column of the ``(prod(shape), m)`` array ``x``, flat columns out."""
        columns = [func(x[:, j].reshape(shape)).reshape(-1) for j in range(x.shape[1])]
        if not columns:
            return np.zeros((math.prod(other), 0), dtype=np.result_type(x.dtype, self.dtype))
        return np.stack(columns, axis=1)

    def _apply_columns(self, func, x, shape: tuple[int, ...], other: tuple[int, ...], name: str) -> np.ndarray:
        """Always column by column, even where a ``(prod(shape), m)`` block has the shape
        ``shape`` itself (input_shape ``(n, 1)`` and one column, or the 1×1 identity of a
        map from one sample), which :meth:`_apply` reads as one array."""
        x = np.asarray(x)
        size = math.prod(shape)
        if x.ndim != 2 or x.shape[0] != size:
            raise ValueError(f"{name} must be a ({size}, m) array, got shape {x.shape}")
        return self._columns(func, x, shape, other)

    def matvec(self, x) -> np.ndarray:
        """Apply the map: ``x`` of ``input_shape`` → ``output_shape``; a flat vector
        (C order) → flat vector; a ``(prod(input_shape), m)`` array → column by column."""
        return self._apply(self._forward, x, self.input_shape, self.output_shape, self._names[0])

    def rmatvec(self, y) -> np.ndarray:
        """Apply the adjoint (conjugate transpose); shapes as in :meth:`matvec`, reversed."""
        return self._apply(self._adjoint, y, self.output_shape, self.input_shape, self._names[1])

    def matmat(self, x) -> np.ndarray:
        """The map on each column of a ``(prod(input_shape), m)`` array."""
        return self._apply_columns(self._forward, x, self.input_shape, self.output_shape, self._names[0])

    def rmatmat(self, y) -> np.ndarray:
        """The adjoint on each column of a ``(prod(output_shape), m)`` array."""
        return self._apply_columns(self._adjoint, y, self.output_shape, self.input_shape, self._names[1])

    def __call__(self, x) -> np.ndarray:
        return self.matvec(x)

    def __matmul__(self, x) -> np.ndarray:
        return self.matvec(x)

    # -- transposes -----------------------------------------------------------
    @property
    def H(self) -> LinearMap:
        """The adjoint (conjugate transpose) as a map of its own (made once: ``op.H(y)`` in a
        loop spent a fifth of a small call building it)."""
        adjoint = self.__dict__.get("_kept_H")
        if adjoint is None or adjoint.base is not self:     # not kept, or kept by the original of a copy
            adjoint = self.__dict__["_kept_H"] = AdjointMap(self, conjugate=True)
        return adjoint

    @property
    def T(self) -> LinearMap:
        """The transpose (no conjugation) as a map of its own."""
        transpose = self.__dict__.get("_kept_T")
        if transpose is None or transpose.base is not self:
            transpose = self.__dict__["_kept_T"] = AdjointMap(self, conjugate=False)
        return transpose

    def adjoint(self) -> LinearMap:
        """Same as :attr:`H`."""
        return self.H

    def transpose(self) -> LinearMap:
        """Same as :attr:`T`."""
        return self.T

    # -- matrices -------------------------------------------------------------
    def to_dense(self) -> np.ndarray:
        """The matrix, column by column (``prod(output_shape) × prod(input_shape)``)."""
        self._check_linear("to_dense")
        rows, cols = self.shape
        check_memory("the dense matrix", self.shape, (rows + cols) * cols * np.dtype(self.dtype).itemsize,
                     " with the identity it is built from")
        eye = np.eye(cols, dtype=self.dtype)
        return self.matmat(eye)

    def to_sparse(self, format: str = "csr"):
        """The matrix as a SciPy sparse matrix (here built from :meth:`to_dense`)."""
        import scipy.sparse
        format = sparse_format(format)
        return scipy.sparse.csr_matrix(self.to_dense()).asformat(format)

    def _check_linear(self, what: str) -> None:
        if self.antilinear:
            raise ValueError(f"{what} needs a complex-linear map; this one is antilinear "
                             "(a correlation in a complex kernel: v ↦ correlate(x, v) conjugates v), "
                             "so no complex matrix represents it")

    def aslinearoperator(self):
        """A :class:`scipy.sparse.linalg.LinearOperator` with matvec, rmatvec, matmat, rmatmat."""
        from scipy.sparse.linalg import LinearOperator
        self._check_linear("aslinearoperator")
        return LinearOperator(self.shape, matvec=lambda v: self.matvec(np.ravel(v)),
                              rmatvec=lambda v: self.rmatvec(np.ravel(v)),
                              matmat=self.matmat, rmatmat=self.rmatmat, dtype=self.dtype)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.input_shape} -> {self.output_shape}, dtype={self.dtype}>"


class AdjointMap(LinearMap):
    """``base.H`` (conjugate=True) or ``base.T`` (conjugate=False)."""

    def __init__(self, base: LinearMap, conjugate: bool) -> None:
        self.base = base
        self.conjugate = conjugate
        self.input_shape = base.output_shape
        self.output_shape = base.input_shape
        self.dtype = base.dtype
        self.antilinear = base.antilinear
        self._names = base._names[::-1]

    def _forward(self, y: np.ndarray) -> np.ndarray:
        if self.conjugate:
            return self.base._adjoint(y)
        return np.conj(self.base._adjoint(np.conj(y)))

    def _adjoint(self, x: np.ndarray) -> np.ndarray:
        if self.conjugate:
            return self.base._forward(x)
        return np.conj(self.base._forward(np.conj(x)))

    @property
    def H(self) -> LinearMap:
        return self.base if self.conjugate else AdjointMap(self, conjugate=True)

    @property
    def T(self) -> LinearMap:
        return self.base if not self.conjugate else AdjointMap(self, conjugate=False)

    def to_dense(self) -> np.ndarray:
        dense = self.base.to_dense().T
        return np.conj(dense) if self.conjugate else dense.copy()

    def to_sparse(self, format: str = "csr"):
        format = sparse_format(format)
        matrix = self.base.to_sparse("csr").T
        return (matrix.conj() if self.conjugate else matrix).asformat(format)

    def __repr__(self) -> str:
        return f"{self.base!r}.{'H' if self.conjugate else 'T'}"
