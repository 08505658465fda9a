"""Convolution as a linear operator: ``ConvOperator`` and ``convolution_matrix``.

Transpose rules (per convolved axis; the nD map is their product).  With the
kernel ``h`` in convolution form (flipped and conjugated for a correlation),
``first``/``last`` the range of x̃ the outputs read and ``L = last − first + 1``:

    forward     y[i] = Σ_j h[j] · x̃[start + i·s − j·d]          i < count
                     = sample_s( conv_full(x̃[first..last], h_d) )[kd−1 + i·s]
    adjoint     x̄   = fold( correlate_full( upsample_s(y), h_d ) )
                where upsample_s puts y[i] at i·s (zeros between; nothing when
                s = 1), correlate_full (conj, unflipped kernel, 'full' mode)
                has exactly L samples — the adjoint on x̃[first..last] — and
                fold adds each x̃ sample back onto its source by the boundary
                rule (constant: dropped).
    transpose   Kᵀ y = conj(Kᴴ conj(y)).

So the adjoint is the core's own correlation (every method, same ``auto``)
plus a fold that touches only the ``kd − 1`` border samples per axis.  With a
'same' window and stride 1, the zero and periodic rules need no fold: the
adjoint is one 'same' correlation (constant, or wrap: the matrix is circulant).  With a
reflecting or edge rule, a 1-D or 2-D 'same' window, stride 1 and a kernel the direct
method would sum, the loops of :mod:`ndconv._adjoint_direct` sum the adjoint in place (the
folded border from the definition, beside an interior read from ``y``); with a stride,
those of :mod:`ndconv._adjoint_strided` sum the 'full' correlation phase by phase from
``y`` itself, without upsampling it.  A batch
axis that the kernel broadcast over (input length 1, output length > 1) is
summed.  The kernel Jacobian lives in :mod:`ndconv._operator_jacobian`, the
matrix in :mod:`ndconv._operator_matrix`, spectra and ``solve`` in
:mod:`ndconv._operator_spectral`.
"""

from __future__ import annotations

import math
import operator as _operator
import threading
from typing import Any, NamedTuple

import numpy as np

from . import _adjoint_direct, _adjoint_strided, _operator_jacobian, _operator_matrix, _operator_spectral
from ._errors import bad_value, check_memory
from ._operator_base import LinearMap
from ._spec import as_array, make_spec
from .api import convolve, correlate
from .boundary import fold

__all__ = ["ConvOperator", "convolution_matrix"]


def _operator_dtype(k: np.ndarray) -> np.dtype:
    """float32/float64/complex64/complex128 kernels keep their dtype; others give float64
    (float16 → float32)."""
    if k.dtype == np.float16:
        return np.dtype(np.float32)
    if k.dtype.kind in "fc":
        return k.dtype
    return np.dtype(np.float64)


def _input_shape(input_shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(_operator.index(n) for n in (
            (input_shape,) if isinstance(input_shape, (int, np.integer)) else input_shape))
    except TypeError:
        raise bad_value("input_shape", input_shape, "a tuple of positive ints") from None
    if not shape or min(shape) < 1:
        raise bad_value("input_shape", input_shape, "a tuple of positive ints")
    return shape


def _direct_sum(spec) -> bool:
    """Whether the forward runs the direct method (``auto`` choosing it, or asked for): a
    kernel the in-place adjoint loops sum faster than a 'full' correlation and its fold
    (by either direct engine: 64² to 2048² images, 3×3 to 7×7 kernels, 0.5–0.9 of the time
    where OpenCV sums the forward, 0.7–0.9 where the loops do)."""
    from .methods import planner
    from .methods._problem import Problem

    if spec.method not in ("auto", "direct") or spec.kernel_batched:
        return False
    return spec.method == "direct" or planner.plan(Problem(spec)) == "direct"


class _AdjointPlan(NamedTuple):
    """What ``ConvOperator._adjoint`` needs, made once from the geometry."""

    nb: int                                  # batch axes of y (canonical layout)
    strides: tuple[int, ...]
    upsampled: tuple[int, ...] | None        # lengths of y zero-upsampled by the strides
    kernel: np.ndarray                       # in convolution form (correlate flips it back)
    options: dict[str, Any]                  # of the one correlate call
    same: bool                               # that call is the whole adjoint (no fold)
    pad: tuple[tuple[int, int], ...]         # for the fold otherwise
    kept: threading.local                    # each thread's upsampling buffer
    loops: _adjoint_direct.AdjointLoops | None   # the whole adjoint in place (reflecting rules, 1-D/2-D)
    phases: _adjoint_strided.StridedFull | None  # the strided 'full' correlation without upsampling

    def upsample(self, y_c: np.ndarray) -> np.ndarray:
        """``y_c`` spread onto the stride grid, zeros between, in a buffer this thread keeps.

        Only grid samples are ever written, so the zeros stay; a fresh zeroed array each
        call cost more than the correlation that reads it (16 MiB at 2048², stride 2: its
        pages faulted in on first touch, 7.5 ms against 2.3 for the correlation).
        """
        shape = y_c.shape[:self.nb] + self.upsampled
        up = getattr(self.kept, "buffer", None)
        if up is None or up.shape != shape or up.dtype != y_c.dtype:
            up = self.kept.buffer = np.zeros(shape, dtype=y_c.dtype)
        up[(Ellipsis,) + tuple(slice(None, None, s) for s in self.strides)] = y_c
        return up


class ConvOperator(LinearMap):
    r"""The linear map ``x ↦ convolve(x, k, mode, boundary, …)`` on arrays of ``input_shape``.

    Parameters
    ----------
    k : array_like
        Kernel (float or complex; bool/integer kernels give a float64 operator).
    input_shape : tuple of int
        Shape of the inputs.  Axes not convolved are batch axes: the matrix is
        block-diagonal over them.
    mode, boundary, correlate, axes, origin, stride, dilation, method
        As in :func:`ndconv.convolve` (``correlate=True`` for
        :func:`ndconv.correlate`).
    fill_value : 0
        Only 0 is accepted (any other value makes the map affine, not linear).

    Attributes
    ----------
    input_shape, output_shape : tuple of int
    shape : (int, int)
        ``(prod(output_shape), prod(input_shape))``.
    dtype : numpy.dtype
        The kernel's float/complex dtype.
    last_solve : SolveInfo or None
        How the last :meth:`solve` ran (``method``, ``iterations``, ``istop``, ``residual``).

    Notes
    -----
    With ``h`` the kernel in convolution form, on each axis
    ``y[i] = Σ_j h[j] x̃[start + i·s − j·d]``; the adjoint correlates the
    stride-upsampled ``y`` with ``h`` ('full', conjugated) and folds the boundary
    extension back onto ``x`` (:func:`ndconv.boundary.fold`), so
    ``⟨K x, y⟩ = ⟨x, Kᴴ y⟩`` for every boundary, mode, origin, stride and dilation.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> op = ndconv.ConvOperator([1., 2., 3.], (5,), boundary="wrap")
    >>> op.shape
    (5, 5)
    >>> op(np.arange(5.))
    array([13.,  4., 10., 16., 17.])
    >>> op.H(np.ones(5))
    array([6., 6., 6., 6., 6.])
    >>> np.allclose(op.eigvals(), np.fft.fft(op.to_dense()[:, 0]))
    True
    """

    def __init__(self, k: Any, input_shape: Any, *, mode: str = "same", boundary: str = "constant",
                 correlate: bool = False, axes: Any = None, origin: Any = 0, stride: Any = 1,
                 dilation: Any = 1, method: str = "auto", fill_value: Any = 0) -> None:
        if not (isinstance(fill_value, (int, float, complex, np.number)) and fill_value == 0):
            raise bad_value("fill_value", fill_value, "0 for a linear operator (x ↦ convolve(x, k) + const is "
                            "affine; subtract the constant part from the data instead)")
        k_arr = as_array(k, "k")
        self.input_shape = _input_shape(input_shape)
        self.dtype = _operator_dtype(k_arr)
        self.kernel = k_arr.astype(self.dtype, copy=False)
        stand_in = np.broadcast_to(np.zeros((), dtype=self.dtype), self.input_shape)
        self._spec = make_spec(stand_in, self.kernel, mode=mode, boundary=boundary, axes=axes,
                               origin=origin, stride=stride, dilation=dilation, method=method,
                               correlate=bool(correlate))
        self._kwargs = dict(mode=mode, boundary=self._spec.boundary, axes=axes, origin=origin, stride=stride,
                            dilation=dilation, method=self._spec.method)
        self.mode, self.boundary, self.correlate = mode, self._spec.boundary, bool(correlate)
        canonical = np.broadcast_to(np.zeros(()), self._spec.output_shape)
        self.output_shape = tuple(self._spec.to_user_layout(canonical).shape)
        self.last_solve: _operator_spectral.SolveInfo | None = None

    # -- the map and its adjoint ----------------------------------------------
    def _forward(self, x: np.ndarray) -> np.ndarray:
        func = correlate if self.correlate else convolve
        return func(x, self.kernel, **self._kwargs)

    def _canonical_kernel(self) -> np.ndarray:
        """The kernel in convolution form, without its batch axes when it has no per-row kernels."""
        spec = self._spec
        return spec.kernel if spec.kernel_batched else spec.kernel.reshape(spec.kernel_shape)

    def _to_canonical(self, y: np.ndarray) -> np.ndarray:
        spec = self._spec
        nb = y.ndim - spec.ndim
        canonical = tuple(range(nb, y.ndim))
        return y if spec.axes == canonical else np.moveaxis(y, spec.axes, canonical)

    def _adjoint_plan(self) -> _AdjointPlan:
        """How :meth:`_adjoint` runs, from the geometry alone (made on the first call)."""
        plan = self.__dict__.get("_kept_adjoint")
        if plan is not None:
            return plan
        spec = self._spec
        nb = len(self.output_shape) - spec.ndim
        strides = tuple(g.stride for g in spec.geometry)
        upsampled = None
        if any(s > 1 for s in strides):
            upsampled = tuple((g.count - 1) * g.stride + 1 for g in spec.geometry)
        kernel = self._canonical_kernel()
        dilation = tuple(g.dilation for g in spec.geometry)
        # plain ints and None where they say the same as tuples: a tuple option costs each call
        # about 10 µs more to validate
        options: dict[str, Any] = {
            "axes": tuple(range(nb, len(self.output_shape))) if kernel.ndim == len(self.output_shape) and nb else None,
            "dilation": dilation[0] if len(set(dilation)) == 1 else dilation,
            "method": spec.method}
        same = spec.boundary in ("constant", "wrap") and all(g.is_same_window for g in spec.geometry)
        if same:
            origin = tuple(g.kd - 1 - g.start - (g.kd - 1) // 2 for g in spec.geometry)
            options.update(mode="same", boundary=spec.boundary, origin=origin[0] if len(set(origin)) == 1 else origin)
        else:
            options.update(mode="full")
        pad = tuple((-g.first_needed, g.last_needed - (g.n - 1)) for g in spec.geometry)
        loops = phases = None
        if not same and _direct_sum(spec):
            loops = _adjoint_direct.plan(spec.geometry, kernel, spec.boundary, math.prod(spec.output_shape[:nb]))
            if upsampled is not None:
                phases = _adjoint_strided.plan(spec.geometry, kernel)
        plan = self.__dict__["_kept_adjoint"] = _AdjointPlan(nb, strides, upsampled, kernel, options, same, pad,
                                                             threading.local(), loops, phases)
        return plan

    def _adjoint(self, y: np.ndarray) -> np.ndarray:
        spec = self._spec
        plan = self._adjoint_plan()
        y_c = self._to_canonical(np.asarray(y))
        nb = plan.nb
        if plan.loops is not None and y_c.dtype == plan.kernel.dtype:
            return spec.to_user_layout(plan.loops(y_c))
        if plan.phases is not None and y_c.dtype == plan.kernel.dtype:   # the 'full' correlation, by phases
            # (never with a batched kernel: no batch axis to sum back, as for the loops above)
            return spec.to_user_layout(fold(plan.phases(y_c), plan.pad, spec.boundary, overwrite_input=True))
        if plan.upsampled is not None:  # zero-upsample: y[i] at i·s
            y_c = plan.upsample(y_c)
        # plan.same: a 'same' window, stride 1, zero or periodic boundary.  Zero boundary: the
        # fold is a crop of the full correlation to [kd−1−start, … + n), itself a 'same'
        # window.  Periodic: the fold sums the full correlation over the period, which is the
        # 'same' window's correlation with y extended periodically (the matrix is circulant;
        # its transpose correlates).  Either way one call as dear as the forward (any engine),
        # where the full correlation and its fold took 1.25× the forward.  Otherwise the
        # correlation is the full one, folded back onto x by the boundary rule.
        x_c = correlate(y_c, plan.kernel, **plan.options)
        if not plan.same:
            x_c = fold(x_c, plan.pad, spec.boundary, overwrite_input=True)
        if plan.upsampled is not None and np.may_share_memory(x_c, y_c):   # never hand out the kept buffer
            x_c = x_c.copy()
        x_batch = spec.x.shape[:nb]
        summed = tuple(i for i, (a, b) in enumerate(zip(x_batch, x_c.shape[:nb])) if a == 1 and b != 1)
        if summed:
            x_c = x_c.sum(axis=summed, keepdims=True)
        return spec.to_user_layout(x_c)

    # -- matrices -------------------------------------------------------------
    def to_sparse(self, format: str = "csr"):
        """The matrix as a SciPy sparse matrix, built in O(nnz) memory from the geometry.

        Entries from several taps on one sample (wrap/reflect/... repeats) are
        summed; structural zeros (outside taps of the zero boundary, zero taps) are dropped.

        Examples
        --------
        >>> import ndconv
        >>> ndconv.ConvOperator([1., 2., 3.], (4,)).to_sparse().toarray()
        array([[2., 1., 0., 0.],
               [3., 2., 1., 0.],
               [0., 3., 2., 1.],
               [0., 0., 3., 2.]])
        """
        return _operator_matrix.to_sparse(self, format)

    def to_dense(self) -> np.ndarray:
        """The matrix as a dense array (``to_sparse().toarray()``)."""
        check_memory("the dense matrix", self.shape, math.prod(self.shape) * self.dtype.itemsize)
        return self.to_sparse("csr").toarray()

    # -- spectra, solve, Jacobian ---------------------------------------------
    def eigvals(self, basis: str = "fft") -> np.ndarray:
        """Eigenvalues of the matrix where a fast transform diagonalises it.

        Parameters
        ----------
        basis : {'fft', 'dct'}
            ``'fft'``: ``boundary='wrap'``, ``mode='same'``, stride 1 (any origin,
            dilation, correlate): the (multilevel) circulant matrix
            ``K = F⁻¹ diag(λ) F`` with F = ``numpy.fft.fftn`` over the convolved
            axes; λ in ``fftn`` order.  ``'dct'``: ``boundary='symmetric'``,
            ``mode='same'``, stride 1, and on every axis the kernel folded onto
            the period 2n of the symmetric extension is even about the output
            sample — typically an odd kernel symmetric about its centre with
            origin 0 (any dilation, correlate); then ``K = Dᵀ diag(λ) D`` with D =
            ``scipy.fft.dctn(·, norm='ortho')`` (DCT-II); λ in DCT index order.

        Returns
        -------
        ndarray of shape ``input_shape`` (batch axes repeat their block's eigenvalues).

        Raises
        ------
        ValueError
            Naming the condition that fails when the basis does not diagonalise the matrix.

        Examples
        --------
        >>> import ndconv
        >>> ndconv.ConvOperator([1., 2., 1.], (4,), boundary="wrap").eigvals().real
        array([4., 2., 0., 2.])
        >>> ndconv.ConvOperator([1., 2., 1.], (4,), boundary="symmetric").eigvals("dct").round(6)
        array([4.      , 3.414214, 2.      , 0.585786])
        """
        return _operator_spectral.eigvals(self, basis)

    def solve(self, y: Any, *, reg: float = 0.0, tol: float = 1e-10, maxiter: int | None = None) -> np.ndarray:
        """``argmin_x ‖K x − y‖² + reg·‖x‖²``, an array of ``input_shape``.

        Exact by FFT when :meth:`eigvals` (``'fft'``) applies, by DCT when
        ``eigvals('dct')`` applies: ``x = F⁻¹[conj(λ)/(|λ|² + reg) · F y]``, with 0
        (the pseudo-inverse) where ``|λ|² + reg ≤ 1e3·eps·max|λ|²``.  Otherwise
        LSQR (:func:`scipy.sparse.linalg.lsqr`, only matvec/rmatvec) with
        ``damp = sqrt(reg)``, ``atol = btol = tol`` and ``iter_lim = maxiter``.
        How it ran is stored in :attr:`last_solve` (``method``, ``iterations``,
        ``istop``, ``residual``).

        Examples
        --------
        >>> import numpy as np, ndconv
        >>> op = ndconv.ConvOperator([1., 4., 1.], (6,), boundary="wrap")
        >>> x = np.arange(6.)
        >>> np.allclose(op.solve(op(x)), x), op.last_solve.method
        (True, 'fft')
        >>> op = ndconv.ConvOperator([1., 4., 2.], (6,))
        >>> np.allclose(op.solve(op(x), tol=1e-14), x), op.last_solve.method
        (True, 'lsqr')
        """
        return _operator_spectral.solve(self, y, reg=reg, tol=tol, maxiter=maxiter)

    def jacobian_kernel(self, x: Any) -> LinearMap:
        """The linear map ``v ↦ d/dε K_{k+εv} x`` (``v`` shaped like ``k``) and its adjoint.

        The forward is ``convolve(x, v, …)`` with this operator's settings; the
        adjoint ``w ↦ ∂/∂k ⟨K_k x, w⟩`` is the kernel gradient of a convolution
        layer, computed by one core correlation of the extended input with the
        upsampled ``w``.  With ``correlate=True`` and a complex dtype the map
        conjugates ``v`` (antilinear); its adjoint then holds for ``Re⟨·, ·⟩``.

        Examples
        --------
        >>> import numpy as np, ndconv
        >>> op = ndconv.ConvOperator([1., 2.], (4,), mode="valid")
        >>> J = op.jacobian_kernel([1., 2., 3., 4.])
        >>> J([0., 1.])           # d/dk[1] of convolve(x, k, 'valid')
        array([1., 2., 3.])
        >>> J.H(np.ones(3))       # the kernel gradient of sum(output)
        array([9., 6.])
        """
        return _operator_jacobian.KernelJacobian(self, x)


def convolution_matrix(k: Any, input_shape: Any, *, sparse: bool = False, **kwargs: Any):
    """The matrix of :class:`ConvOperator` ``(k, input_shape, **kwargs)``.

    Parameters
    ----------
    k, input_shape, **kwargs
        As for :class:`ConvOperator` (``mode`` defaults to ``'same'``).
    sparse : bool
        Return a ``scipy.sparse`` CSR matrix (built in O(nnz) memory) instead of an ndarray.

    Examples
    --------
    The circulant matrix of a periodic 'same' convolution:

    >>> import ndconv
    >>> ndconv.convolution_matrix([1, 2, 3], (5,), boundary="wrap")
    array([[2., 1., 0., 0., 3.],
           [3., 2., 1., 0., 0.],
           [0., 3., 2., 1., 0.],
           [0., 0., 3., 2., 1.],
           [1., 0., 0., 3., 2.]])
    >>> ndconv.convolution_matrix([1, 2, 3], (5,), mode="full", sparse=True).nnz
    15
    """
    op = ConvOperator(k, input_shape, **kwargs)
    return op.to_sparse("csr") if sparse else op.to_dense()
