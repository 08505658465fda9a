"""The dask graph: one task per output chunk, reading exactly the input chunks it needs.

Each task depends on the input chunks its piece of x̃ touches (its neighbours,
and for wrap/reflect/symmetric the chunks at the far edge of the whole array) and
on one small graph key holding the kernel, so the kernel is stored once, not in
every task.
"""

from __future__ import annotations

import itertools
import math

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from .._spec import ConvSpec
from ..methods import _opencv
from ._blocks import Segment, axis_segments, chunk_bounds, input_range, output_chunks
from ._task import ChunkPlan, compute_chunk

#: per axis, per output chunk: (segments, whether fill samples remain)
AxisPlan = list[tuple[tuple[Segment, ...], bool]]


def _batch_axis(in_chunks: tuple[int, ...], out_size: int) -> tuple[tuple[int, ...], AxisPlan]:
    """A batch axis keeps the input's chunks; an axis of length 1 broadcast by the kernel is one chunk."""
    if sum(in_chunks) == out_size:
        return in_chunks, [((Segment(b, 0, size, slice(None)),), False) for b, size in enumerate(in_chunks)]
    return (out_size,), [((Segment(0, 0, 1, slice(None)),), False)]


def _conv_axis(geometry, mode: str, boundary: str, in_chunks: tuple[int, ...]) -> tuple[tuple[int, ...], AxisPlan]:
    chunks = output_chunks(geometry, mode, in_chunks)
    bounds = chunk_bounds(in_chunks)
    plans: AxisPlan = []
    first = 0
    for size in chunks:
        lo, hi = input_range(geometry, first, first + size - 1)
        segments, filled = axis_segments(geometry.n, bounds, boundary, lo, hi)
        plans.append((tuple(segments), filled))
        first += size
    return chunks, plans


def _piece_length(spec: ConvSpec, conv_axis: int, out_size: int, segments: tuple[Segment, ...]) -> int:
    """Length of x̃ an output chunk of ``out_size`` samples reads (a batch axis: its chunk)."""
    if conv_axis < 0:
        return segments[-1].stop
    g = spec.geometry[conv_axis]
    return (out_size - 1) * g.stride + g.kd


def _kernel_slices(spec: ConvSpec, out_chunks: tuple[tuple[int, ...], ...],
                   index: tuple[int, ...]) -> tuple[slice, ...]:
    nb = len(index)
    slices = []
    for axis in range(nb):
        if spec.kernel.shape[axis] == 1:
            slices.append(slice(0, 1))
        else:
            begin = sum(out_chunks[axis][:index[axis]])
            slices.append(slice(begin, begin + out_chunks[axis][index[axis]]))
    return tuple(slices)


def same_window_crop(spec: ConvSpec, shape: tuple[int, ...]) -> tuple[slice, ...] | None:
    """Where the 'valid' outputs sit in the 'same' output of a piece, when 'same' is the faster call.

    The core may hand a 'same'-sized window of a small 2-D float kernel to OpenCV's
    filter engine; a 'valid' window reaches it only where the engine comparison
    prefers it to the loops: here the chunk computes the 'same' window of its piece
    (with the default zero boundary, which no kept output reads) and keeps its centre,
    ``kd//2 … kd//2 + n − kd`` on each axis.
    Only a graph of one chunk does so; with several, each task runs on one core,
    where OpenCV is not used (see :func:`build`).
    """
    if not (spec.ndim == 2 and spec.compute_dtype.kind == "f" and not spec.kernel_batched
            and spec.method in ("auto", "direct") and _opencv.available()
            and all(g.stride == 1 and g.dilation == 1 and g.k <= _opencv.MAX_SIDE for g in spec.geometry)):
        return None
    nb = len(shape) - spec.ndim
    return (slice(None),) * nb + tuple(slice(g.kd // 2, g.kd // 2 + n - g.kd + 1)
                                       for g, n in zip(spec.geometry, shape[nb:]))


def build(spec: ConvSpec, mode: str, xc: da.Array) -> da.Array:
    """The canonical-layout result of ``spec`` on the canonical-layout dask array ``xc``."""
    nb = xc.ndim - spec.ndim
    batch = spec.output_shape[:nb]
    axis_chunks, axis_plans = [], []
    for axis in range(xc.ndim):
        if axis < nb:
            chunks, plans = _batch_axis(xc.chunks[axis], batch[axis])
        else:
            chunks, plans = _conv_axis(spec.geometry[axis - nb], mode, spec.boundary, xc.chunks[axis])
        axis_chunks.append(chunks)
        axis_plans.append(plans)

    name = "ndconv-" + tokenize(xc.name, spec.kernel, spec.geometry, spec.boundary, spec.fill_value,
                                spec.method, mode)
    kernel_name = name + "-kernel"
    layer: dict = {}
    per_row = spec.kernel_batched
    kernel_c = spec.kernel if per_row else spec.kernel.reshape(spec.kernel_shape)
    if not per_row:
        layer[(kernel_name,)] = kernel_c
    strides = tuple(g.stride for g in spec.geometry)
    dilations = tuple(g.dilation for g in spec.geometry)
    conv_axes = tuple(range(nb, xc.ndim)) if per_row else None
    # several chunks: dask's own threads keep the cores busy, one task each, so a task
    # runs the core in its thread only (nested pools oversubscribed the cores: OpenCV's
    # threads spun while the other task ran, 1.75× the CPU time of the in-memory call)
    several = math.prod(len(c) for c in axis_chunks) > 1
    for index in itertools.product(*(range(len(c)) for c in axis_chunks)):
        picked = [axis_plans[axis][i] for axis, i in enumerate(index)]
        segments = tuple(p[0] for p in picked)
        shape = tuple(_piece_length(spec, axis - nb, axis_chunks[axis][i], seg)
                      for axis, (i, seg) in enumerate(zip(index, segments)))
        blocks = tuple(itertools.product(*(sorted({s.block for s in seg}) for seg in segments)))
        filled = any(p[1] for p in picked)
        plan = ChunkPlan(shape=shape, segments=segments, blocks=blocks, dtype=spec.compute_dtype,
                         fill_value=spec.fill_value if filled else None, axes=conv_axes,
                         stride=strides, dilation=dilations, method=spec.method,
                         crop=None if several else same_window_crop(spec, shape), one_core=several)
        if per_row:
            kernel_key = (kernel_name, *index[:nb])
            if kernel_key not in layer:
                layer[kernel_key] = np.ascontiguousarray(spec.kernel[_kernel_slices(spec, axis_chunks, index[:nb])])
        else:
            kernel_key = (kernel_name,)
        layer[(name, *index)] = (compute_chunk, plan, kernel_key, *[(xc.name, *b) for b in blocks])
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[xc])
    meta = np.empty((0,) * xc.ndim, dtype=spec.dtype)
    return da.Array(graph, name, tuple(axis_chunks), meta=meta)
