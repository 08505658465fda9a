"""Layers without convolution: activations, ``Flatten`` and ``Linear``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import bad_value
from ._layers_base import Layer, as_dtype, float_input, he_normal, positive_int


class ReLU(Layer):
    """``max(x, 0)``; the gradient at 0 is 0, like torch.

    Examples
    --------
    >>> ReLU().forward([-1.0, 2.0])
    array([0., 2.])
    """

    def forward(self, x: Any) -> np.ndarray:
        x = float_input(x)
        self._x = x
        return np.maximum(x, 0)

    def backward(self, dy: Any) -> np.ndarray:
        x = self._saved()
        return np.where(x > 0, np.asarray(dy, dtype=x.dtype), 0).astype(x.dtype)


class LeakyReLU(Layer):
    """``x`` where ``x > 0``, else ``negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if isinstance(negative_slope, (bool, np.bool_)) or not np.isscalar(negative_slope) \
                or not np.isreal(negative_slope) or not np.isfinite(negative_slope):
            raise bad_value("negative_slope", negative_slope, "a finite real number")
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> np.ndarray:
        x = float_input(x)
        self._x = x
        return np.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy: Any) -> np.ndarray:
        x = self._saved()
        slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.negative_slope))
        return (np.asarray(dy, dtype=x.dtype) * slope).astype(x.dtype)

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class Tanh(Layer):
    """``tanh(x)``; gradient ``1 - tanh(x)²``."""

    def forward(self, x: Any) -> np.ndarray:
        self._y = np.tanh(float_input(x))
        return self._y

    def backward(self, dy: Any) -> np.ndarray:
        y = self._saved("_y")
        return (np.asarray(dy, dtype=y.dtype) * (1 - y * y)).astype(y.dtype)


class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``, computed without overflow; gradient ``σ(1 - σ)``."""

    def forward(self, x: Any) -> np.ndarray:
        x = float_input(x)
        e = np.exp(-np.abs(x))
        self._y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
        return self._y

    def backward(self, dy: Any) -> np.ndarray:
        y = self._saved("_y")
        return (np.asarray(dy, dtype=y.dtype) * y * (1 - y)).astype(y.dtype)


class Flatten(Layer):
    """``(batch, *rest) → (batch, prod(rest))``."""

    def forward(self, x: Any) -> np.ndarray:
        x = float_input(x)
        if x.ndim < 1:
            raise bad_value("x", x, "an array with a batch axis")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: Any) -> np.ndarray:
        return np.asarray(dy).reshape(self._saved("_shape"))


class Linear(Layer):
    """Fully connected layer ``y = x Wᵀ + b``, ``W`` of shape ``(out_features, in_features)``.

    Initialisation: ``W`` drawn He-normal (standard deviation
    ``sqrt(2 / in_features)``, suited to the ReLU networks of this package) from
    ``numpy.random.default_rng(seed)``; ``b`` zero.  Inputs are cast to ``dtype``.

    Examples
    --------
    >>> layer = Linear(3, 2, seed=0)
    >>> layer.forward(np.ones((4, 3))).shape
    (4, 2)
    >>> sorted(layer.params)
    ['bias', 'weight']
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 dtype: object = np.float32, seed: Any = None) -> None:
        super().__init__()
        self.in_features = positive_int("in_features", in_features)
        self.out_features = positive_int("out_features", out_features)
        self.dtype = as_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.params["weight"] = he_normal(rng, (self.out_features, self.in_features), self.in_features,
                                          self.dtype)
        if bias:
            self.params["bias"] = np.zeros(self.out_features, dtype=self.dtype)

    def forward(self, x: Any) -> np.ndarray:
        x = float_input(x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise bad_value("x", x.shape, f"an array of shape (batch, {self.in_features})")
        self._x = x
        y = x @ self.params["weight"].T
        if "bias" in self.params:
            y = y + self.params["bias"]
        return y

    def backward(self, dy: Any) -> np.ndarray:
        x = self._saved()
        dy = float_input(dy, self.dtype)
        self.grads = {"weight": dy.T @ x}
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=0)
        return dy @ self.params["weight"]

    def __repr__(self) -> str:
        return (f"Linear({self.in_features}, {self.out_features}, bias={'bias' in self.params}, "
                f"dtype={self.dtype.name})")
