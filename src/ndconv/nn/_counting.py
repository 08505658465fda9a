"""Counting parameters: of a model, and of a convolution against a dense layer.

The course notes' argument for convolution layers is a count: a 32×32×3 image
and 64 filters of 5×5 need 5·5·3·64 = 4,800 weights as a convolution, but
3,072 · 50,176 ≈ 154 million as a dense layer with the same output.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._errors import bad_choice, bad_type, bad_value
from .._shapes import mode_length
from ._layers_base import positive_int

_MODES = ("valid", "same", "full")


def count_parameters(model: Any) -> int:
    """Number of trainable values of a layer or model: the sum of the sizes of ``params``.

    With a ``kernel_model`` a :class:`~ndconv.nn.Conv` layer learns θ, so θ is
    what is counted, not the kernels built from it.

    Parameters
    ----------
    model : Layer or Sequential
        Anything with a ``params`` mapping of name → array.

    Returns
    -------
    int

    Examples
    --------
    >>> from ndconv.nn import Conv, Linear, count_parameters
    >>> count_parameters(Linear(3072, 10))       # 3072·10 weights + 10 biases
    30730
    >>> count_parameters(Conv(3, 64, 5, bias=False))
    4800
    >>> from ndconv.param import SymmetricStencil
    >>> count_parameters(Conv(3, 64, 5, bias=False, kernel_model=SymmetricStencil((5, 5))))  # 3·3 θ a kernel
    1728
    """
    params = getattr(model, "params", None)
    if not isinstance(params, Mapping):
        raise bad_type("model", model, "an ndconv.nn layer or model (something with a params mapping)")
    return sum(int(np.size(value)) for value in params.values())


class ParameterComparison(NamedTuple):
    """Weights of a convolution layer and of a dense layer with the same input and output.

    ``output_shape`` is ``(out_channels, *spatial)``; ``ratio`` is ``dense / conv``.
    """

    conv: int
    dense: int
    output_shape: tuple[int, ...]

    @property
    def ratio(self) -> float:
        return self.dense / self.conv


def _shape(name: str, value: object, allowed: str, *, length: int | None = None) -> tuple[int, ...]:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (tuple, list, numbers.Integral)):
        raise bad_type(name, value, allowed)
    items = (value,) if isinstance(value, numbers.Integral) else tuple(value)
    if length is not None and len(items) == 1:
        items = items * length
    ok = all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and v >= 1 for v in items)
    if not ok or (length is not None and len(items) != length):
        raise bad_value(name, value, allowed)
    return tuple(int(v) for v in items)


def conv_vs_dense(input_shape: Any, kernel_size: Any, out_channels: int, *, mode: str = "valid",
                  bias: bool = False) -> ParameterComparison:
    """Parameters of a convolution layer against a dense layer doing the same mapping.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, *spatial)`` with 1 to 3 spatial axes, channels first like
        the rest of :mod:`ndconv.nn` (the notes' 32×32×3 image is ``(3, 32, 32)``).
    kernel_size : int or tuple of int
        An int means that size on every spatial axis.
    out_channels : int
        Number of filters (output feature maps).
    mode : {'valid', 'same', 'full'}
        Output size on each spatial axis, for the dense layer's output:
        ``n − k + 1`` (``'valid'``, the notes' choice), ``n`` or ``n + k − 1``.
        It does not change the convolution's count.
    bias : bool
        Count a bias per output channel (conv) or per output value (dense).
        The notes count weights only.

    Returns
    -------
    ParameterComparison
        ``(conv, dense, output_shape)``, with the property ``ratio = dense / conv``.

    Notes
    -----
    With ``C`` input channels, ``F`` filters of ``K₁×…×K_d`` and an output of
    ``F·M`` values from ``N`` inputs::

        conv  = K₁⋯K_d · C · F  (+ F)
        dense = N · F·M          (+ F·M)

    The convolution shares each filter over all positions; the dense layer
    learns a separate weight for every (input, output) pair.

    Examples
    --------
    The course notes' example: 64 filters of 5×5 over a 32×32 colour image.

    >>> from ndconv.nn import conv_vs_dense
    >>> counts = conv_vs_dense((3, 32, 32), 5, 64)
    >>> counts
    ParameterComparison(conv=4800, dense=154140672, output_shape=(64, 28, 28))
    >>> f"{counts.dense:,} / {counts.conv:,} = {counts.ratio:,.0f}×"
    '154,140,672 / 4,800 = 32,113×'
    >>> conv_vs_dense((3, 32, 32), 5, 64, mode="same", bias=True)
    ParameterComparison(conv=4864, dense=201392128, output_shape=(64, 32, 32))
    """
    shape = _shape("input_shape", input_shape, "(channels, *spatial) with 1 to 3 spatial axes, each >= 1")
    if not 2 <= len(shape) <= 4:
        raise bad_value("input_shape", input_shape, "(channels, *spatial) with 1 to 3 spatial axes, each >= 1")
    channels, spatial = shape[0], shape[1:]
    kernel = _shape("kernel_size", kernel_size, f"an int or a tuple of {len(spatial)} ints >= 1",
                    length=len(spatial))
    filters = positive_int("out_channels", out_channels)
    if not isinstance(mode, str) or mode not in _MODES:
        raise bad_choice("mode", mode, _MODES)
    if not isinstance(bias, (bool, np.bool_)):
        raise bad_type("bias", bias, "a bool")
    out_spatial = tuple(mode_length(mode, n, k) for n, k in zip(spatial, kernel))
    if min(out_spatial) < 1:
        raise bad_value("kernel_size", kernel_size, f"at most the input's spatial shape {spatial} in mode 'valid'")
    outputs = filters * math.prod(out_spatial)
    conv = math.prod(kernel) * channels * filters + (filters if bias else 0)
    dense = math.prod(shape) * outputs + (outputs if bias else 0)
    return ParameterComparison(conv, dense, (filters, *out_spatial))
