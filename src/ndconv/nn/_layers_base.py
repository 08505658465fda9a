"""What every layer shares: the ``Layer`` base class and argument helpers.

A layer has ``forward(x)``, ``backward(dy) -> dx``, ``params`` (name → the
layer's own arrays, updated in place by optimizers) and ``grads`` (same keys,
filled by ``backward``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._errors import bad_choice, bad_value, check_memory
from .._spec import per_axis

_DTYPES = ("float32", "float64")


class Layer:
    """Base class of the layers of :mod:`ndconv.nn`; a layer without parameters
    has empty ``params`` and ``grads``.

    Every layer remembers the arguments it was built with (``init_args``), so
    that :meth:`Sequential.save` can write the architecture next to the weights.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        build = cls.__init__

        def __init__(self, *args: Any, **kw: Any) -> None:
            if "init_args" not in self.__dict__:  # the outermost constructor records
                self.init_args = (args, kw)
            build(self, *args, **kw)

        __init__.__doc__, __init__.__wrapped__ = build.__doc__, build  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign]

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def __call__(self, x: Any) -> np.ndarray:
        """Same as :meth:`forward`."""
        return self.forward(x)

    def forward(self, x: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dy: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _saved(self, name: str = "_x") -> Any:
        value = getattr(self, name, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs a forward pass first")
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def as_dtype(dtype: object) -> np.dtype:
    """``float32`` or ``float64`` (any spelling NumPy accepts)."""
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in _DTYPES:
        raise bad_choice("dtype", dtype, ("float32", "float64"))
    return resolved


def positive_int(name: str, value: object) -> int:
    """An int >= 1 (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)) \
            or value < 1:
        raise bad_value(name, value, "an int >= 1")
    return int(value)


def window(name: str, value: object) -> tuple[int, ...]:
    """A kernel or pool size: an int, or a tuple of 1 to 3 ints >= 1."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return (positive_int(name, value),)
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 3:
        raise bad_value(name, value, "an int or a tuple of 1 to 3 ints >= 1")
    return per_axis(name, value, len(value), minimum=1)


def float_input(x: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """``x`` as a float array: cast to ``dtype``, or integers/bools to float64."""
    arr = np.asarray(x)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind not in "f":
        return arr.astype(np.float64)
    return arr


def normal_draws(rng: np.random.Generator, shape: tuple[int, ...], scale: float, dtype: np.dtype,
                 what: str) -> np.ndarray:
    """``scale`` times standard normal draws (float64, scaled in place), in ``dtype``.

    Refused with a :class:`~ndconv._errors.MemoryLimitError` naming ``what`` when the
    draws and their cast need more memory than the machine has: a layer of
    50000 × 50000 weights would otherwise be drawn and then killed by the OS.
    """
    dtype = np.dtype(dtype)
    cast = 0 if dtype == np.float64 else dtype.itemsize
    check_memory(what, shape, math.prod(shape) * (8 + cast), " while drawn in float64")
    draws = rng.standard_normal(shape)
    draws *= scale
    return draws.astype(dtype, copy=False)


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, dtype: np.dtype,
              what: str = "the weight") -> np.ndarray:
    """He (Kaiming) normal draws: standard deviation ``sqrt(2 / fan_in)``."""
    return normal_draws(rng, shape, np.sqrt(2.0 / fan_in), dtype, what)
