"""Which input samples each output chunk needs, and where they come from.

Pure index arithmetic, no dask and no data.  Along one convolved axis an output
block ``i0 … i1`` reads the extended input x̃ on ``lo … hi`` with
``lo = start + i0·stride − (K_d − 1)`` and ``hi = start + i1·stride``
(:class:`ndconv._shapes.AxisGeometry`).  :func:`ndconv.boundary.extension_index`
maps those indices onto the *whole* input (global ``n``), so wrap, reflect and
symmetric read the true far edge of the array, never the edge of a chunk.  The
indices are then cut into :class:`Segment` runs, each inside one input chunk and
read with a slice (step +1 or −1) or, for repeated samples, an index array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._shapes import AxisGeometry, mode_start
from ..boundary import extension_index


@dataclass(frozen=True)
class Segment:
    """Piece positions ``start … stop−1`` come from input chunk ``block`` at ``source``."""

    block: int
    start: int
    stop: int
    source: slice | np.ndarray   # indices inside the chunk


def chunk_bounds(chunks: tuple[int, ...]) -> np.ndarray:
    """``[0, c0, c0+c1, …, n]``: where each chunk starts, and the total length."""
    return np.concatenate([[0], np.cumsum(chunks, dtype=np.int64)])


def output_chunks(geometry: AxisGeometry, mode: str, input_chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Output chunk sizes that follow the input's chunking as closely as the geometry allows.

    Output ``i`` is centred on input sample ``start + i·stride − (K_d−1)//2`` (for
    'same' with origin 0: exactly ``i·stride``); it goes to the output chunk of the
    input chunk holding that centre.  'same' with stride 1 therefore keeps the input
    chunks exactly; 'full' adds ``(K_d−1)//2`` outputs to the first chunk and the rest
    to the last; 'valid' takes them off; a stride divides every chunk by it.  Chunks
    that would be empty are dropped.
    """
    g = geometry
    offset = mode_start(mode, g.kd) - (g.kd - 1) // 2
    cuts = [0]
    for c in chunk_bounds(input_chunks)[1:-1]:
        cut = min(max(-((offset - int(c)) // g.stride), 0), g.count)   # ceil((c − offset) / stride)
        if cut > cuts[-1]:
            cuts.append(cut)
    if cuts[-1] < g.count:
        cuts.append(g.count)
    return tuple(int(b - a) for a, b in zip(cuts[:-1], cuts[1:]))


def input_range(geometry: AxisGeometry, first: int, last: int) -> tuple[int, int]:
    """Indices ``lo, hi`` of x̃ that outputs ``first … last`` of this axis read."""
    g = geometry
    return g.start + first * g.stride - (g.kd - 1), g.start + last * g.stride


def _source(local: np.ndarray, step: int) -> slice | np.ndarray:
    if step == 0:
        return local.copy()
    stop = int(local[-1]) + step
    return slice(int(local[0]), None if stop < 0 else stop, step)


def axis_segments(n: int, bounds: np.ndarray, boundary: str, lo: int, hi: int) -> tuple[list[Segment], bool]:
    """Segments filling x̃[lo … hi] from the input chunks, and whether fill samples remain.

    For ``boundary='constant'`` the samples outside ``0 … n−1`` are covered by no
    segment (the piece starts filled with ``fill_value``).
    """
    index, inside = extension_index(n, lo, hi, boundary)
    block = np.searchsorted(bounds, index, side="right") - 1
    local = index - bounds[block]
    length = len(index)
    # joins[p]: sample p may extend the run holding p − 1 (same chunk, same side of the
    # edge, a step of −1, 0 or +1); turns[p]: it may not, or its step differs from the
    # previous one.  A run from ``begin`` takes its step from begin+1 and ends at the
    # first turn after that, so the loop below runs once per segment, not per sample.
    step = np.diff(local)
    joins = np.ones(length, bool)
    joins[1:] = (block[1:] == block[:-1]) & (inside[1:] == inside[:-1]) & (np.abs(step) <= 1)
    turns = np.flatnonzero(~joins[2:] | (step[1:] != step[:-1])) + 2
    segments: list[Segment] = []
    begin = 0
    while begin < length:
        if begin + 1 < length and joins[begin + 1]:
            after = np.searchsorted(turns, begin + 2)
            end = int(turns[after]) if after < len(turns) else length
            run_step = int(step[begin])
        else:
            end, run_step = begin + 1, 1
        if inside[begin]:
            segments.append(Segment(int(block[begin]), begin, end, _source(local[begin:end], run_step)))
        begin = end
    return segments, not bool(inside.all())
