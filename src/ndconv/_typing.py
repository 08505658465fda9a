"""Literal types for the words of the contract."""

from __future__ import annotations

from typing import Literal, Union

import numpy as np
import numpy.typing as npt

Mode = Literal["full", "same", "valid"]
Boundary = Literal[
    "constant", "zero", "fill",
    "wrap", "periodic", "circular",
    "reflect", "mirror",
    "symmetric",
    "edge", "replicate", "nearest",
]
Method = Literal["auto", "direct", "fft", "overlap_add", "separable"]
IntOrTuple = Union[int, tuple[int, ...], list[int]]
ArrayLike = npt.ArrayLike
NDArray = np.ndarray

MODES: tuple[str, ...] = ("full", "same", "valid")
METHODS: tuple[str, ...] = ("auto", "direct", "fft", "overlap_add", "separable")
#: canonical boundary name for every accepted spelling
BOUNDARY_ALIASES: dict[str, str] = {
    "constant": "constant", "zero": "constant", "fill": "constant",
    "wrap": "wrap", "periodic": "wrap", "circular": "wrap",
    "reflect": "reflect", "mirror": "reflect",
    "symmetric": "symmetric",
    "edge": "edge", "replicate": "edge", "nearest": "edge",
}
