"""Max and average pooling over the spatial axes of ``(batch, channels, *spatial)``.

A tuple ``kernel_size`` pools the last ``len(kernel_size)`` axes; an int pools
every spatial axis (1 to 3) with that size, like ``torch.nn.MaxPool2d(2)`` on images.

Windows come from ``sliding_window_view`` taken every ``stride`` samples (no
padding; a partial window at the end is dropped, like torch's default).  The
gradient of average pooling spreads ``dy / prod(kernel)`` over each window; that
of max pooling goes to the argmax of each window (the first one on ties, like
torch), accumulated with ``np.add.at`` where windows overlap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import bad_value
from .._spec import per_axis
from ._layers_base import Layer, float_input, window


class _Pool(Layer):
    def __init__(self, kernel_size: Any, stride: Any = None) -> None:
        super().__init__()
        self._square = not isinstance(kernel_size, (tuple, list))
        self.kernel_size = window("kernel_size", kernel_size)
        self._stride = stride
        if self._square:
            if stride is not None:
                per_axis("stride", stride, 1, minimum=1)
            self.stride = self.kernel_size if stride is None else per_axis("stride", stride, 1, minimum=1)
        else:
            self._resolve(len(self.kernel_size))

    def _resolve(self, naxes: int) -> None:
        """Per-axis ``kernel_size`` and ``stride`` for ``naxes`` pooled axes."""
        self.kernel_size = self.kernel_size[:1] * naxes if self._square else self.kernel_size
        stride = self._stride
        self.stride = self.kernel_size if stride is None else per_axis("stride", stride, naxes, minimum=1)

    def _windows(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """``x`` as a float array and its windows ``(*lead, *out, *kernel)``."""
        x = float_input(x)
        if self._square:
            if not 3 <= x.ndim <= 5:
                raise bad_value("x", x.shape, "an array (batch, channels, *spatial) with 1 to 3 spatial axes")
            self._resolve(x.ndim - 2)
        naxes = len(self.kernel_size)
        if x.ndim < naxes + 1 or any(n < k for n, k in zip(x.shape[-naxes:], self.kernel_size)):
            raise bad_value("x", x.shape, f"an array (batch, channels, *spatial) whose last {naxes} "
                            f"axes are at least kernel_size={self.kernel_size}")
        axes = tuple(range(x.ndim - naxes, x.ndim))
        views = np.lib.stride_tricks.sliding_window_view(x, self.kernel_size, axis=axes)
        steps = (slice(None),) * (x.ndim - naxes) + tuple(slice(None, None, s) for s in self.stride)
        return x, views[steps]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool(_Pool):
    """Maximum over windows of ``kernel_size`` every ``stride`` (default ``kernel_size``)
    samples — ``torch.nn.MaxPool{1,2,3}d`` without padding.

    Examples
    --------
    >>> MaxPool(2).forward(np.array([[[1.0, 3.0, 2.0, 2.0, 9.0]]]))
    array([[[3., 2.]]])
    """

    def forward(self, x: Any) -> np.ndarray:
        x, views = self._windows(x)
        naxes = len(self.kernel_size)
        flat = views.reshape(views.shape[:-naxes] + (-1,))
        best = flat.argmax(axis=-1)                              # first maximum on ties
        self._x, self._best = x, best
        return np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]

    def backward(self, dy: Any) -> np.ndarray:
        x = self._saved()
        naxes = len(self.kernel_size)
        best = self._best
        dy = np.asarray(dy, dtype=x.dtype)
        lead, spatial = x.shape[:-naxes], x.shape[-naxes:]
        offsets = np.unravel_index(best, self.kernel_size)       # position inside each window
        out_shape = best.shape[-naxes:]
        coords = []
        for a in range(naxes):                                    # loop over axes, not pixels
            start = np.arange(out_shape[a]) * self.stride[a]
            start = start.reshape((-1,) + (1,) * (naxes - 1 - a))
            coords.append(start + offsets[a])
        target = np.ravel_multi_index(tuple(coords), spatial)     # (*lead, *out) flat spatial index
        dx = np.zeros((math.prod(lead), math.prod(spatial)), dtype=x.dtype)
        rows = np.arange(dx.shape[0]).reshape((-1,) + (1,) * naxes)
        np.add.at(dx, (rows, target.reshape((dx.shape[0],) + out_shape)), dy.reshape((dx.shape[0],) + out_shape))
        return dx.reshape(x.shape)


class AvgPool(_Pool):
    """Mean over windows of ``kernel_size`` every ``stride`` (default ``kernel_size``)
    samples — ``torch.nn.AvgPool{1,2,3}d`` without padding.

    Examples
    --------
    >>> AvgPool(2).forward(np.array([[[1.0, 3.0, 2.0, 2.0, 9.0]]]))
    array([[[2., 2.]]])
    """

    def forward(self, x: Any) -> np.ndarray:
        x, views = self._windows(x)
        naxes = len(self.kernel_size)
        self._x = x
        self._out_shape = views.shape[-2 * naxes:-naxes]
        return views.mean(axis=tuple(range(-naxes, 0)))

    def backward(self, dy: Any) -> np.ndarray:
        x = self._saved()
        naxes = len(self.kernel_size)
        share = np.asarray(dy, dtype=x.dtype) / x.dtype.type(math.prod(self.kernel_size))
        dx = np.zeros_like(x)
        lead = (slice(None),) * (x.ndim - naxes)
        for offset in np.ndindex(*self.kernel_size):             # loop over the window, not pixels
            where = tuple(slice(o, o + s * (n - 1) + 1, s)
                          for o, s, n in zip(offset, self.stride, self._out_shape))
            dx[lead + where] += share
        return dx
