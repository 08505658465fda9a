"""The layers of §5: ``Conv``, ``MaxPool``, ``AvgPool``, activations, ``Flatten``,
``Linear`` and the container ``Sequential`` (the layers live in ``_layers_*``).

``Sequential.params`` and ``Sequential.grads`` are flat dicts whose keys are the
layer's index and the parameter's name, ``"0.weight"``, ``"3.bias"`` (nested
containers add their own prefixes, ``"2.0.weight"``); the values are the layers'
own arrays, so optimizers that update ``model.params`` in place train the layers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._errors import bad_type
from ._layers_base import Layer
from ._layers_conv import Conv
from ._layers_pool import AvgPool, MaxPool
from ._layers_simple import Flatten, LeakyReLU, Linear, ReLU, Sigmoid, Tanh

__all__ = ["Layer", "Conv", "MaxPool", "AvgPool", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Flatten",
           "Linear", "Sequential"]


class Sequential(Layer):
    """Layers applied one after the other; ``backward`` runs them in reverse.

    Examples
    --------
    >>> model = Sequential(Linear(4, 3, seed=0), ReLU(), Linear(3, 2, seed=1))
    >>> len(model), model.forward(np.ones((5, 4))).shape
    (3, (5, 2))
    >>> sorted(model.params)
    ['0.bias', '0.weight', '2.bias', '2.weight']
    """

    def __init__(self, *layers: Layer) -> None:
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise bad_type(f"layers[{i}]", layer, "an ndconv.nn layer")
        self.layers = list(layers)

    @property
    def params(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers)
                for name, value in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers)
                for name, value in layer.grads.items()}

    def forward(self, x: Any) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: Any) -> np.ndarray:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def save(self, path) -> Path:
        """Write the architecture and the parameters to ``path`` (.npz; written
        to a temporary file and renamed, so the file is whole or absent).

        Examples
        --------
        >>> import tempfile, os
        >>> model = Sequential(Linear(4, 3, seed=0), ReLU(), Linear(3, 2, seed=1))
        >>> path = model.save(os.path.join(tempfile.mkdtemp(), "net.npz"))
        >>> again = Sequential.load(path)
        >>> bool(np.array_equal(again.forward(np.ones((1, 4))), model.forward(np.ones((1, 4)))))
        True
        """
        from ._serialize import save

        return save(self, path)

    @classmethod
    def load(cls, path) -> "Sequential":
        """A model written by :meth:`save`, rebuilt from its architecture."""
        from ._serialize import load

        return load(path)

    def __repr__(self) -> str:
        inner = ",\n".join("  " + repr(layer) for layer in self.layers)
        return f"Sequential(\n{inner}\n)"
