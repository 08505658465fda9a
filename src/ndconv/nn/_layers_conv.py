"""The convolution layer: free weights, or weights from a parametric kernel model.

With ``kernel_model`` the layer learns ``theta`` of shape ``(out, in/groups,
num_params)`` and each (out, in) kernel is ``model(theta[o, i])``.  For a linear
model ``vec(K) = Q θ``, so all kernels at once are ``θ @ Qᵀ`` and the gradient is
``dθ = dW_flat @ Q`` (chain rule through a linear map); non-linear models loop
over the pairs with ``model.vjp``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import bad_type, bad_value
from .._spec import normalize_boundary, per_axis
from ..param import ParamModel
from . import functional
from ._layers_base import Layer, as_dtype, float_input, he_normal, normal_draws, positive_int, window


class Conv(Layer):
    """Convolution layer over 1 to 3 spatial axes (``len(kernel_size)``), through
    :func:`ndconv.nn.functional.conv` — ``torch.nn.Conv{1,2,3}d``.

    ``params``: ``"weight"`` ``(out_channels, in_channels/groups, *kernel_size)``
    (or ``"theta"`` with a ``kernel_model``) and ``"bias"`` ``(out_channels,)``.
    Weights are drawn He-normal (standard deviation ``sqrt(2 / fan_in)``,
    ``fan_in = in_channels/groups * prod(kernel_size)``) from
    ``numpy.random.default_rng(seed)``; biases start at zero.  With a linear
    ``kernel_model``, θ is drawn so that the effective weights have that mean
    variance; with :class:`~ndconv.param.SeparableStencil` each factor entry has
    standard deviation ``std ** (1/d)``.

    A tuple ``kernel_size`` gives the number of spatial axes (1 to 3); an int ``k``
    means a square 2-D kernel ``(k, k)`` like ``torch.nn.Conv2d`` — or, with a
    ``kernel_model``, ``k`` on each axis of the model's shape.

    Examples
    --------
    >>> layer = Conv(1, 4, (3, 3), padding="same", seed=0)
    >>> layer.forward(np.ones((2, 1, 8, 8))).shape
    (2, 4, 8, 8)
    >>> layer.backward(np.ones((2, 4, 8, 8))).shape, layer.grads["weight"].shape
    ((2, 1, 8, 8), (4, 1, 3, 3))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, *, stride: Any = 1,
                 padding: Any = 0, boundary: str = "constant", dilation: Any = 1, groups: int = 1,
                 bias: bool = True, kernel_model: ParamModel | None = None, dtype: object = np.float32,
                 seed: Any = None) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.out_channels = positive_int("out_channels", out_channels)
        self.kernel_size = window("kernel_size", kernel_size)
        if not isinstance(kernel_size, (tuple, list)):
            naxes = len(getattr(kernel_model, "shape", (0, 0)))
            self.kernel_size = self.kernel_size * (naxes if 1 <= naxes <= 3 else 2)
        naxes = len(self.kernel_size)
        self.groups = positive_int("groups", groups)
        for name, count in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if count % self.groups:
                raise bad_value("groups", groups, f"a divisor of {name}={count}")
        strides = per_axis("stride", stride, naxes, minimum=1)
        dilations = per_axis("dilation", dilation, naxes, minimum=1)
        normalize_boundary(boundary)
        functional._padding(padding, self.kernel_size, dilations, strides)
        self.options = dict(stride=stride, padding=padding, boundary=boundary, dilation=dilation,
                            groups=self.groups)
        self.dtype = as_dtype(dtype)
        self.kernel_model = kernel_model
        rng = np.random.default_rng(seed)
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        pairs = (self.out_channels, self.in_channels // self.groups)
        if kernel_model is None:
            self.params["weight"] = he_normal(rng, pairs + self.kernel_size, fan_in, self.dtype)
        else:
            self._init_theta(kernel_model, rng, pairs, np.sqrt(2.0 / fan_in))
        if bias:
            self.params["bias"] = np.zeros(self.out_channels, dtype=self.dtype)

    def _init_theta(self, model: Any, rng: np.random.Generator, pairs: tuple[int, int], std: float) -> None:
        if not isinstance(model, ParamModel):
            raise bad_type("kernel_model", model, "an ndconv.param model or None")
        if tuple(model.shape) != self.kernel_size:
            raise bad_value("kernel_model", model, f"a model of shape kernel_size={self.kernel_size}")
        if model.is_linear:
            self._Q = model.Q.toarray().astype(self.dtype)
            norm2 = float((self._Q ** 2).sum())
            scale = std * np.sqrt(model.size / norm2) if norm2 else 0.0
        else:
            scale = std ** (1.0 / len(self.kernel_size))
        self.params["theta"] = normal_draws(rng, pairs + (model.num_params,), scale, self.dtype, "theta")

    def weight(self) -> np.ndarray:
        """The effective weight ``(out_channels, in_channels/groups, *kernel_size)``."""
        if self.kernel_model is None:
            return self.params["weight"]
        theta, model = self.params["theta"], self.kernel_model
        shape = theta.shape[:2] + self.kernel_size
        if model.is_linear:
            return _unflatten(theta @ self._Q.T, self.kernel_size, model.order)  # θ @ Qᵀ: vec(K) per pair
        out = np.empty(shape, dtype=self.dtype)
        for o, i in np.ndindex(*shape[:2]):
            out[o, i] = model.model(theta[o, i])
        return out

    def _theta_grad(self, dw: np.ndarray) -> np.ndarray:
        theta, model = self.params["theta"], self.kernel_model
        assert model is not None
        if model.is_linear:
            return (_flatten(dw, model.order) @ self._Q).astype(self.dtype)
        out = np.empty_like(theta)
        for o, i in np.ndindex(*theta.shape[:2]):
            out[o, i] = model.vjp(theta[o, i], dw[o, i])
        return out

    def forward(self, x: Any) -> np.ndarray:
        x = float_input(x, self.dtype)
        w = self.weight()
        if x.ndim != w.ndim:   # x is the caller's; this layer's kernel fixes the spatial axes
            raise bad_value("x", functional._Shape(x.shape),
                            f"an array (batch, {self.in_channels}, *spatial) with {w.ndim - 2} spatial "
                            f"axes for this layer's kernel of size {tuple(w.shape[2:])}")
        self._x, self._w = x, w
        return functional.conv(x, w, self.params.get("bias"), **self.options)

    def backward(self, dy: Any) -> np.ndarray:
        x = self._saved()
        dy = float_input(dy, self.dtype)
        dx, dw, db = functional.conv_backward(dy, x, self._w, **self.options)
        self.grads = {"weight": dw} if self.kernel_model is None else {"theta": self._theta_grad(dw)}
        if "bias" in self.params:
            self.grads["bias"] = db
        return dx

    def __repr__(self) -> str:
        extra = "" if self.kernel_model is None else f", kernel_model={self.kernel_model!r}"
        return (f"Conv({self.in_channels}, {self.out_channels}, {self.kernel_size}, "
                + ", ".join(f"{k}={v!r}" for k, v in self.options.items()) + extra + ")")


def _axes(naxes: int, order: str) -> tuple[int, ...]:
    kernel_axes = tuple(range(2, 2 + naxes))
    return (0, 1) + (kernel_axes[::-1] if order == "F" else kernel_axes)


def _flatten(w: np.ndarray, order: str) -> np.ndarray:
    """``(out, in, *kernel) → (out, in, prod(kernel))``, each kernel vectorised in ``order``."""
    return w.transpose(_axes(w.ndim - 2, order)).reshape(w.shape[:2] + (-1,))


def _unflatten(flat: np.ndarray, kernel: tuple[int, ...], order: str) -> np.ndarray:
    """The inverse of :func:`_flatten`."""
    stored = kernel[::-1] if order == "F" else kernel
    return flat.reshape(flat.shape[:2] + stored).transpose(_axes(len(kernel), order))
