"""The work of one output chunk: assemble its piece of x̃, then the core ``convolve`` in mode 'valid'.

Runs on the workers; it imports no dask, so a task is a plain function of NumPy
arrays (cheap to pickle, safe to retry: it writes nothing but its own result).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._memory import one_core
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
    one_core: bool = False                  # run the core in the task's thread only (see graph.build)


def _read(chunk: np.ndarray, segments: tuple[Segment, ...]) -> np.ndarray:
    """The samples of ``chunk`` the segments name: slices as a view, index arrays by ``take``."""
    view = chunk[tuple(s.source if isinstance(s.source, slice) else slice(None) for s in segments)]
    for axis, s in enumerate(segments):
        if not isinstance(s.source, slice):
            view = np.take(view, s.source, axis=axis)
    return view


#: pieces from this many bytes on are assembled in a buffer the thread keeps between
#: tasks: a fresh one pays a page fault per 4 KiB on first touch, which made assembling
#: a 1024² float32 piece 5× slower than the copy itself
KEEP_BYTES = 1 << 20
_workspace = threading.local()


def _piece_buffer(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < KEEP_BYTES:
        return np.empty(shape, dtype)
    store = getattr(_workspace, "piece", None)
    if store is None or store.size < nbytes:
        store = _workspace.piece = np.empty(nbytes, np.uint8)
    return store[:nbytes].view(dtype).reshape(shape)


def assemble(plan: ChunkPlan, chunks: tuple[np.ndarray, ...]) -> np.ndarray:
    """x̃ on the window of this output chunk, gathered from the input chunks.

    The piece may live in this thread's workspace: it is valid until the thread
    assembles the next one, so the caller convolves it at once and keeps only the result.
    """
    piece = _piece_buffer(plan.shape, np.dtype(plan.dtype))
    if plan.fill_value is not None:
        piece.fill(plan.fill_value)
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
    with one_core() if plan.one_core else contextlib.nullcontext():
        piece = assemble(plan, chunks)
        if plan.crop is not None:
            return convolve(piece, kernel, mode="same", axes=plan.axes, method=plan.method)[plan.crop]
        return convolve(piece, kernel, mode="valid", axes=plan.axes, stride=plan.stride,
                        dilation=plan.dilation, method=plan.method)
