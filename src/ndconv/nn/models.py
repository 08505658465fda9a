"""Ready-made networks."""

from __future__ import annotations

import numpy as np

from .._errors import bad_value


def lenet(in_channels: int = 1, num_classes: int = 10, input_size=(8, 8), *, seed=None, kernel_model=None):
    """A small LeNet-style network: two conv–ReLU–max-pool stages and two dense layers.

    ``Conv(in, 16, 3, padding="same") → ReLU → MaxPool(2) → Conv(16, 32, 3,
    padding="same") → ReLU → MaxPool(2) → Flatten → Linear(·, 64) → ReLU →
    Linear(64, num_classes)``, after LeCun et al. (1990).  ``kernel_model``
    (a callable ``shape → ndconv.param`` model, e.g. ``SymmetricStencil``)
    makes both convolutions learn parametric kernels.

    Examples
    --------
    >>> from ndconv.nn import lenet
    >>> net = lenet(seed=0)
    >>> net.forward(__import__("numpy").zeros((2, 1, 8, 8), "float32")).shape
    (2, 10)
    """
    from . import Conv, Flatten, Linear, MaxPool, ReLU, Sequential
    from ._layers_base import positive_int

    in_channels = positive_int("in_channels", in_channels)
    num_classes = positive_int("num_classes", num_classes)   # named here, not as Linear's out_features
    size = tuple(int(s) for s in np.atleast_1d(input_size))
    if len(size) != 2 or min(size) < 4:
        raise bad_value("input_size", input_size, "(height, width), each at least 4")
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31, 4)
    model_for = (lambda: kernel_model((3, 3))) if kernel_model is not None else (lambda: None)
    features = 32 * (size[0] // 4) * (size[1] // 4)
    return Sequential(
        Conv(in_channels, 16, 3, padding="same", seed=int(seeds[0]), kernel_model=model_for()), ReLU(), MaxPool(2),
        Conv(16, 32, 3, padding="same", seed=int(seeds[1]), kernel_model=model_for()), ReLU(), MaxPool(2),
        Flatten(), Linear(features, 64, seed=int(seeds[2])), ReLU(), Linear(64, num_classes, seed=int(seeds[3])),
    )
