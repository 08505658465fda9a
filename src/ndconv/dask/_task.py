"""The work of one output chunk: assemble its piece of x̃, then the core ``convolve`` in mode 'valid'.

Runs on the workers; it imports no dask, so a task is a plain function of NumPy
arrays (cheap to pickle, safe to retry: it writes nothing but its own result).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._spec import check_int64_range
from ..api import convolve
from ..methods import _opencv
from ._blocks import Segment

# The core looks for OpenCV lazily, on its first call, and that first look is not
# thread-safe (importlib.util.find_spec raises while another thread imports cv2).
# Dask runs chunks on several threads at once: look once here, at import.
_opencv.available()


@dataclass(frozen=True)
class ChunkPlan:
    """Everything one output chunk needs besides the data (canonical layout)."""

    shape: tuple[int, ...]                  # the piece of x̃: batch, then convolved axes
    segments: tuple[tuple[Segment, ...], ...]  # per axis of the piece
    blocks: tuple[tuple[int, ...], ...]     # input chunks, in the order the task receives them
    dtype: np.dtype                         # compute dtype
    fill_value: Any                         # None when every sample comes from x
    axes: tuple[int, ...] | None            # convolved axes when the kernel carries batch axes
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    method: str
    crop: tuple[slice, ...] | None = None   # run mode 'same' and keep this window (see graph.same_window_crop)


def _read(chunk: np.ndarray, segments: tuple[Segment, ...]) -> np.ndarray:
    """The samples of ``chunk`` the segments name: slices as a view, index arrays by ``take``."""
    view = chunk[tuple(s.source if isinstance(s.source, slice) else slice(None) for s in segments)]
    for axis, s in enumerate(segments):
        if not isinstance(s.source, slice):
            view = np.take(view, s.source, axis=axis)
    return view


def assemble(plan: ChunkPlan, chunks: tuple[np.ndarray, ...]) -> np.ndarray:
    """x̃ on the window of this output chunk, gathered from the input chunks."""
    if plan.fill_value is None:
        piece = np.empty(plan.shape, dtype=plan.dtype)
    else:
        piece = np.full(plan.shape, plan.fill_value, dtype=plan.dtype)
    where = {key: chunk for key, chunk in zip(plan.blocks, chunks)}
    for combo in itertools.product(*plan.segments):
        chunk = where[tuple(s.block for s in combo)]
        values = _read(np.asarray(chunk), combo)
        if values.dtype == np.uint64:
            check_int64_range(values, "x")
        piece[tuple(slice(s.start, s.stop) for s in combo)] = values
    return piece


def compute_chunk(plan: ChunkPlan, kernel: np.ndarray, *chunks: np.ndarray) -> np.ndarray:
    """One output chunk: the core path on its piece, mode 'valid' (no boundary left to apply)."""
    piece = assemble(plan, chunks)
    if plan.crop is not None:
        return convolve(piece, kernel, mode="same", axes=plan.axes, method=plan.method)[plan.crop]
    return convolve(piece, kernel, mode="valid", axes=plan.axes, stride=plan.stride,
                    dilation=plan.dilation, method=plan.method)
