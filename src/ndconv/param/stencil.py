"""Kernel (stencil) models: free, symmetric, antisymmetric, M-matrix, separable.

Shapes.  ``Stencil``, ``SymmetricStencil`` and ``SeparableStencil`` take any
positive size on every axis.  ``AntisymmetricStencil`` and ``MMatrixStencil``
are defined relative to the centre sample, so they need an odd size on every
axis (ValueError naming the shape otherwise).  θ always enumerates the free
entries in C (row-major) order of the kernel; ``order`` only changes ``mat()``,
i.e. the row order of ``Q``.
"""

from __future__ import annotations

import math
import string

import numpy as np

from ._base import LinearModel, ParamModel, as_order, as_shape, check_entries


def _linear_shape(shape) -> tuple[int, ...]:
    """The shape of a linear stencil model, whose Q has a nonzero or two per kernel entry."""
    shape = as_shape(shape)
    check_entries(shape, 2 * math.prod(shape))
    return shape


def _odd_shape(shape, model: str) -> tuple[int, ...]:
    shape = _linear_shape(shape)
    if any(s % 2 == 0 for s in shape):
        raise ValueError(f"shape must have an odd size on every axis ({model} needs a centre sample), "
                         f"got {shape}")
    return shape


class Stencil(LinearModel):
    """A free kernel: ``K(θ) = θ`` reshaped to ``shape``, ``Q = I``.

    Examples
    --------
    >>> from ndconv.param import Stencil
    >>> Stencil((2, 2)).model([1.0, 2.0, 3.0, 4.0])
    array([[1., 2.],
           [3., 4.]])
    """

    def __init__(self, shape, *, order: str = "C"):
        shape = _linear_shape(shape)
        f = np.arange(math.prod(shape))
        super().__init__(shape, f.size, f, f, np.ones(f.size), order)


class SymmetricStencil(LinearModel):
    """A kernel even in every axis: ``k[..., i, ...] = k[..., K−1−i, ...]``
    (invariant under flipping any axis).

    θ holds the leading corner ``k[:ceil(K₁/2), :ceil(K₂/2), …]`` in C order.  Any
    size works; with odd sizes the kernel is centred, and the periodic 'same'
    operator is symmetric with real eigenvalues.

    Examples
    --------
    >>> from ndconv.param import SymmetricStencil
    >>> SymmetricStencil((3, 3)).model([1.0, 2.0, 3.0, 4.0])
    array([[1., 2., 1.],
           [3., 4., 3.],
           [1., 2., 1.]])
    """

    def __init__(self, shape, *, order: str = "C"):
        shape = _linear_shape(shape)
        half = tuple((s + 1) // 2 for s in shape)
        index = np.indices(shape).reshape(len(shape), -1)
        folded = tuple(np.minimum(i, s - 1 - i) for i, s in zip(index, shape))
        cols = np.ravel_multi_index(folded, half)
        f = np.arange(math.prod(shape))
        super().__init__(shape, math.prod(half), f, cols, np.ones(f.size), order)


class AntisymmetricStencil(LinearModel):
    """A kernel odd about its centre: ``k(−x) = −k(x)`` (point reflection), so the
    centre is 0.  Odd sizes only; θ holds the ``(prod(shape) − 1)/2`` entries
    before the centre in C order.

    With periodic boundary the 'same' operator is antisymmetric: purely imaginary
    eigenvalues.

    Examples
    --------
    >>> from ndconv.param import AntisymmetricStencil
    >>> AntisymmetricStencil(3).model([1.0])
    array([ 1.,  0., -1.])
    """

    def __init__(self, shape, *, order: str = "C"):
        shape = _odd_shape(shape, "AntisymmetricStencil")
        size = math.prod(shape)
        t = np.arange((size - 1) // 2)
        rows = np.concatenate([t, size - 1 - t])  # reversing every axis maps flat f to size−1−f
        super().__init__(shape, t.size, rows, np.concatenate([t, t]), np.repeat([1.0, -1.0], t.size), order)


class MMatrixStencil(LinearModel):
    """The M-matrix idea as a kernel: off-centre entries ``−θ`` (C order), the
    centre ``Σθ``.  Odd sizes only; ``prod(shape) − 1`` parameters.

    With θ ≥ 0 the kernel sums to zero, like a (weighted) negative Laplacian; the
    periodic 'same' operator then has eigenvalues with non-negative real part.

    Examples
    --------
    >>> from ndconv.param import MMatrixStencil
    >>> MMatrixStencil(3).model([1.0, 1.0])
    array([-1.,  2., -1.])
    """

    def __init__(self, shape, *, order: str = "C"):
        shape = _odd_shape(shape, "MMatrixStencil")
        size = math.prod(shape)
        centre = (size - 1) // 2
        off = np.delete(np.arange(size), centre)
        t = np.arange(off.size)
        rows = np.concatenate([off, np.full(off.size, centre)])
        super().__init__(shape, off.size, rows, np.concatenate([t, t]), np.repeat([-1.0, 1.0], off.size), order)


class SeparableStencil(ParamModel):
    """A rank-one kernel ``k = v₁ ⊗ v₂ ⊗ … ⊗ v_d`` (not linear in θ).

    θ is the concatenation ``[v₁, v₂, …]``, ``sum(shape)`` parameters.  The
    Jacobian follows the product rule: ``J v = Σ_a v₁ ⊗ … ⊗ δv_a ⊗ … ⊗ v_d`` and
    ``(Jᴴ w)_a = w`` contracted with ``conj(v_b)`` on every axis ``b ≠ a``.

    Examples
    --------
    >>> from ndconv.param import SeparableStencil
    >>> SeparableStencil((2, 3)).model([1.0, 2.0, 1.0, 0.0, -1.0])
    array([[ 1.,  0., -1.],
           [ 2.,  0., -2.]])
    """

    is_linear = False

    def __init__(self, shape, *, order: str = "C"):
        self.shape = as_shape(shape)
        if len(self.shape) > len(string.ascii_letters):
            raise ValueError(f"shape must have at most 52 axes, got {len(self.shape)}")
        self.num_params = sum(self.shape)
        self.order = as_order(order)

    def factors(self, theta) -> list[np.ndarray]:
        """The 1-D vectors ``[v₁, v₂, …]`` that θ holds."""
        theta = self._theta(theta)
        return np.split(theta, np.cumsum(self.shape)[:-1])

    def _outer(self, vectors) -> np.ndarray:
        letters = string.ascii_letters[:len(vectors)]
        return np.einsum(",".join(letters) + "->" + letters, *vectors)

    def _model(self, theta: np.ndarray) -> np.ndarray:
        return self._outer(self.factors(theta))

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        factors, deltas = self.factors(theta), np.split(v, np.cumsum(self.shape)[:-1])
        out = np.zeros(self.shape, dtype=np.result_type(theta, v))
        for a, delta in enumerate(deltas):
            out = out + self._outer(factors[:a] + [delta] + factors[a + 1:])
        return out

    def _vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        factors = [np.conj(f) for f in self.factors(theta)]
        letters = string.ascii_letters[:len(self.shape)]
        parts = []
        for a in range(len(self.shape)):
            others = [f for b, f in enumerate(factors) if b != a]
            spec = letters + "," + ",".join(letters[b] for b in range(len(self.shape)) if b != a)
            parts.append(np.einsum(spec.rstrip(",") + "->" + letters[a], w, *others))
        return np.concatenate(parts)
