"""The Jacobian of a convolution with respect to its kernel.

With ``h`` the kernel in convolution form and z = x̃[first..last] on each axis,
``y[i] = Σ_j h[j] z[kd−1 + i·s − j·d]`` is linear in h:

    forward   v ↦ convolve(x, v, same settings)
    adjoint   g[j] = Σ_i conj(z[kd−1 + i·s − j·d]) w[i]
                   = conj(C[(K−1−j)·d]),  C = correlate(z, w, 'valid', dilation=s)
              — one core correlation of the extended input with the
              stride-dilated w, sampled with stride d and flipped.
    batch     rows sharing one kernel are summed.
    correlate k = flip(conj(h)): the gradient is conj(flip(g)); for complex
              data v ↦ correlate(x, v) conjugates v (antilinear), and
              Re⟨J v, w⟩ = Re⟨v, Jᴴ w⟩ holds instead of the complex identity.
"""

from __future__ import annotations

import numpy as np

from ._operator_base import LinearMap
from .api import convolve, correlate
from .boundary import extend


class KernelJacobian(LinearMap):
    """``v ↦ d/dε K_{k+εv} x`` for a fixed input ``x``; see :meth:`ConvOperator.jacobian_kernel`."""

    def __init__(self, op, x) -> None:
        x = np.asarray(x)
        if x.shape != op.input_shape:
            raise ValueError(f"x must have shape input_shape={op.input_shape}, got shape {x.shape}")
        self.op = op
        self.x = x
        self.input_shape = tuple(op.kernel.shape)
        self.output_shape = op.output_shape
        self.dtype = np.result_type(op.dtype, x.dtype, np.float32)
        self.antilinear = op.correlate and self.dtype.kind == "c"

    def _forward(self, v: np.ndarray) -> np.ndarray:
        func = correlate if self.op.correlate else convolve
        return func(self.x, v, **self.op._kwargs)

    def _extended_input(self) -> np.ndarray:
        """x̃[first..last] on every convolved axis, canonical layout."""
        spec = self.op._spec
        z = self.op._to_canonical(self.x)
        z = extend(z, tuple((g.pad_before, g.pad_after) for g in spec.geometry), spec.boundary)
        window = tuple(slice(g.first_needed + g.pad_before, g.last_needed + g.pad_before + 1)
                       for g in spec.geometry)
        return z[(Ellipsis,) + window]

    def _adjoint(self, w: np.ndarray) -> np.ndarray:
        spec = self.op._spec
        nd = spec.ndim
        w_c = self.op._to_canonical(np.asarray(w))
        nb = w_c.ndim - nd
        dims = tuple(range(nb, w_c.ndim))
        z = self._extended_input()
        c = correlate(z, w_c, mode="valid", axes=dims, dilation=tuple(g.stride for g in spec.geometry),
                      stride=tuple(g.dilation for g in spec.geometry), method=spec.method)
        k_batch = spec.kernel.shape[:nb]
        summed = tuple(i for i in range(nb) if k_batch[i] == 1)
        if summed:
            c = c.sum(axis=summed, keepdims=True)
        grad = np.conj(np.flip(c, axis=dims))                     # gradient in convolution form
        if self.op.correlate:
            grad = np.conj(np.flip(grad, axis=dims))
        if self.op.kernel.ndim == nd:                             # one kernel for every row
            return grad.reshape(self.input_shape)
        return spec.to_user_layout(grad)
