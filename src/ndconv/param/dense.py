"""Dense n×n models of the course notes: diagonal, antisymmetric, M-matrix."""

from __future__ import annotations

import numbers

import numpy as np

from .._errors import bad_value
from ._base import LinearModel, check_entries


def _size(n) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise bad_value("n", n, "a positive int")
    return int(n)


class Diagonal(LinearModel):
    """``K(θ) = diag(θ)``, n×n from n parameters.

    Examples
    --------
    >>> from ndconv.param import Diagonal
    >>> Diagonal(3).model([1.0, 2.0, 3.0])
    array([[1., 0., 0.],
           [0., 2., 0.],
           [0., 0., 3.]])
    """

    def __init__(self, n: int, *, order: str = "C"):
        n = _size(n)
        check_entries((n, n), n)
        i = np.arange(n)
        super().__init__((n, n), n, i * n + i, i, np.ones(n), order)

    def _repr_args(self) -> tuple:
        return (self.shape[0],)


class Antisymmetric(LinearModel):
    """``K = −Kᵀ``: θ fills the strict upper triangle row by row, n(n−1)/2 parameters.

    Its eigenvalues are purely imaginary.

    Examples
    --------
    >>> from ndconv.param import Antisymmetric
    >>> Antisymmetric(3).model([1.0, 2.0, 3.0])
    array([[ 0.,  1.,  2.],
           [-1.,  0.,  3.],
           [-2., -3.,  0.]])
    """

    def __init__(self, n: int, *, order: str = "C"):
        n = _size(n)
        check_entries((n, n), n * (n - 1))
        i, j = np.triu_indices(n, k=1)  # row by row
        p = i.size
        t = np.arange(p)
        rows = np.concatenate([i * n + j, j * n + i])
        super().__init__((n, n), p, rows, np.concatenate([t, t]), np.repeat([1.0, -1.0], p), order)

    def _repr_args(self) -> tuple:
        return (self.shape[0],)


class MMatrix(LinearModel):
    """M-matrix: off-diagonal entries ``−θ`` taken row by row, each diagonal entry
    the sum of its row's θ, n(n−1) parameters.

    With θ ≥ 0 every row sums to zero and the matrix is diagonally dominant with
    non-positive off-diagonal entries — like a discretised diffusion operator,
    its eigenvalues have non-negative real part.  ``MMatrix(3, order="F").Q``
    is the 9×6 ``Q`` of the course notes.

    Examples
    --------
    >>> from ndconv.param import MMatrix
    >>> MMatrix(3).model([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    array([[ 3., -1., -2.],
           [-3.,  7., -4.],
           [-5., -6., 11.]])
    """

    def __init__(self, n: int, *, order: str = "C"):
        n = _size(n)
        check_entries((n, n), 2 * n * n)
        i, j = np.nonzero(~np.eye(n, dtype=bool))  # off-diagonal positions, row by row
        t = np.arange(i.size)
        rows = np.concatenate([i * n + j, i * n + i])
        cols = np.concatenate([t, t])
        values = np.repeat([-1.0, 1.0], i.size)
        super().__init__((n, n), i.size, rows, cols, values, order)

    def _repr_args(self) -> tuple:
        return (self.shape[0],)
