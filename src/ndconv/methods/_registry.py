"""The registry of methods: name → how to run it and what it costs.

Every method solves the same :class:`~ndconv.methods._problem.Problem` and must
give the same answer (§2).  ``cost`` returns predicted seconds, or ``inf`` with
a reason when the method does not apply.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _opencv, direct, separable
from ._costs import constants
from ._guards import guarded
from ._problem import Problem
from .fft import block_length, blockwise_sampled, fft_sampled, fits_in_memory

Cost = tuple[float, str]


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable[[Problem], np.ndarray]
    cost: Callable[[Problem], Cost]
    exact: bool
    summary: str


def _dtype_key(dtype: np.dtype) -> str:
    return {"f4": "f4", "f8": "f8", "c8": "c8", "c16": "c16"}.get(np.dtype(dtype).str[1:], "i8")


def _precision_key(dtype: np.dtype) -> str:
    return "f4" if np.dtype(dtype) in (np.float32, np.complex64) else "f8"


def _outputs(problem: Problem) -> int:
    return int(np.prod(problem.spec.output_shape, dtype=np.int64))


def _taps(problem: Problem) -> int:
    return int(np.prod(problem.spec.kernel_shape, dtype=np.int64))


def _direct_cost(problem: Problem) -> Cost:
    c = constants()
    spec = problem.spec
    work = _outputs(problem) * _taps(problem)
    if _opencv.filter2d_applies(spec):
        return c["call"] + c["opencv_" + _precision_key(spec.compute_dtype)] * work, "OpenCV filter2D"
    padded = int(np.prod(spec.x.shape[:spec.x.ndim - spec.ndim] +
                         tuple(g.n + g.pad_before + g.pad_after for g in spec.geometry), dtype=np.int64))
    return (c["call"] + c["direct_" + _dtype_key(spec.compute_dtype)] * work + c["copy"] * padded,
            "compiled loops")


def _fft_units(shape: tuple[int, ...], batch: int, real: bool) -> float:
    size = float(np.prod(shape, dtype=np.float64))
    return batch * size * max(1.0, math.log2(max(size, 2))) * (0.5 if real else 1.0)


def _fft_cost(problem: Problem) -> Cost:
    spec = problem.spec
    if not fits_in_memory(problem.sampled):
        return math.inf, "its transform buffers would not fit in available memory (overlap_add splits it)"
    c = constants()
    real = spec.compute_dtype.kind != "c"
    from .fft import _transform_sizes

    sizes = _transform_sizes(problem.sampled, real)
    batch = int(np.prod(spec.batch_shape, dtype=np.int64))
    kbatch = int(np.prod(spec.kernel.shape[:spec.kernel.ndim - spec.ndim], dtype=np.int64))
    units = _fft_units(sizes, 2 * batch + kbatch, real)
    return c["call"] * 3 + c["fft_" + _precision_key(spec.compute_dtype)] * units, f"transform sizes {sizes}"


def _overlap_add_cost(problem: Problem) -> Cost:
    spec = problem.spec
    c = constants()
    axis = int(np.argmax([g.count for g in spec.geometry]))
    g = spec.geometry[axis]
    size, b = block_length(g.kd, g.count, g.stride)
    nblocks = -(-g.count // b)
    if nblocks < 2:
        return math.inf, "a single block: the same as fft"
    real = spec.compute_dtype.kind != "c"
    from .fft import _transform_sizes

    sizes = list(_transform_sizes(problem.sampled, real))
    sizes[axis] = size
    batch = int(np.prod(spec.batch_shape, dtype=np.int64))
    units = _fft_units(tuple(sizes), 2 * batch * nblocks + 1, real)
    return (c["call"] * (3 + nblocks / 64) + c["fft_" + _precision_key(spec.compute_dtype)] * units,
            f"{nblocks} blocks of {b} outputs, transform size {size}")


def _separable_cost(problem: Problem) -> Cost:
    spec = problem.spec
    terms = separable.kernel_factors(spec.kernel, spec.ndim) if spec.compute_dtype.kind not in "iu" else None
    if terms is None:
        return math.inf, "the kernel is not low-rank (or is batched, integer or a single axis)"
    c = constants()
    rank = len(terms)
    outputs = _outputs(problem)
    taps = sum(spec.kernel_shape)
    if spec.ndim == 2 and _opencv.window_applies(spec):
        return c["call"] + rank * c["opencv_" + _precision_key(spec.compute_dtype)] * outputs * taps, \
            f"rank {rank}, OpenCV sepFilter2D"
    key = "direct_" + _dtype_key(spec.compute_dtype)
    inputs = int(np.prod(spec.x.shape, dtype=np.int64))
    return (c["call"] * spec.ndim * rank + rank * c[key] * max(outputs, inputs) * taps
            + c["copy"] * inputs * rank * spec.ndim, f"rank {rank}, {spec.ndim} passes per term")


def _run_fft(problem: Problem) -> np.ndarray:
    if not fits_in_memory(problem.sampled):
        return _blockwise(problem.sampled)
    return _fft(problem.sampled)


_fft = guarded(fft_sampled)
_blockwise = guarded(blockwise_sampled)

REGISTRY: dict[str, Method] = {
    "direct": Method("direct", direct.run, _direct_cost, True,
                     "the sum of the definition (Numba loops; OpenCV for small 2-D float kernels)"),
    "fft": Method("fft", _run_fft, _fft_cost, False, "scipy.fft convolution theorem, whole array"),
    "overlap_add": Method("overlap_add", lambda p: _blockwise(p.sampled), _overlap_add_cost, False,
                          "blockwise FFT along the longest axis, bounded memory"),
    "separable": Method("separable", separable.run, _separable_cost, False,
                        "SVD of the kernel, rank-r sums of 1-D passes"),
}
