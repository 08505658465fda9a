"""``direct``: the sum of the definition, term by term.

Floating and complex inputs run compiled row-wise loops (Numba), a single small
1-D float row ``numpy.convolve`` (:data:`NUMPY_WORK`); bool and
integer inputs accumulate exactly in int64, falling back to Python integers
when ``Σ|h| · max|x|`` could leave the int64 range (OverflowError if the exact
result does).  When OpenCV is installed, 2-D float images with small kernels
and a 'same'-sized window (or, with the zero boundary, a 'full' or 'valid' one) are
handed to its filter engine when the engine comparison rates it faster; it computes
the identical sum with the boundary applied natively.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from .._memory import empty_apart
from ..boundary import extension_index
from . import _numba_kernels, _opencv, _taps
from ._finite import all_finite
from ._keys import remembered
from ._problem import Gather, Problem, Sampled, apply_gather, gather_plan

INT64_MAX = np.iinfo(np.int64).max
#: float32 sums of more taps than this accumulate in float64: a recursive sum of
#: n terms errs by at most (n−1)·2⁻²⁴·Σ|terms|, within §2's 1e-5 for n ≤ 150
FLOAT32_ACC_TAPS = 150


def accumulator_dtype(dtype: np.dtype, ntaps: int) -> np.dtype:
    if dtype == np.float32 and ntaps > FLOAT32_ACC_TAPS:
        return np.dtype(np.float64)
    if dtype == np.complex64 and ntaps > FLOAT32_ACC_TAPS:
        return np.dtype(np.complex128)
    return np.dtype(dtype)


def largest_magnitude(a: np.ndarray) -> int:
    """``max|a|`` of an integer array, in Python ints (no int64 overflow at −2**63)."""
    return max(abs(int(a.max())), abs(int(a.min()))) if a.size else 0


def kernel_abs_sum(h: np.ndarray, ndim: int) -> int:
    """``Σ|h|`` over the last ``ndim`` axes, the largest over batch rows, in Python ints."""
    axes = tuple(range(h.ndim - ndim, h.ndim))
    return int(np.max(np.asarray(np.abs(h.astype(object)).sum(axis=axes))))


def integer_bound(sampled: Sampled) -> int:
    """An upper bound of ``|y|``: ``Σ|h| · max|z|`` over each batch pair, in Python ints."""
    return largest_magnitude(sampled.z) * kernel_abs_sum(sampled.h, sampled.ndim)


def spec_integer_bound(spec) -> int:
    """``Σ|h| · max|x̃|`` of an integer problem before extension (the fill value counts for 'constant')."""
    xmax = largest_magnitude(spec.x)
    if spec.boundary == "constant":
        xmax = max(xmax, abs(int(spec.fill_value)))
    return xmax * kernel_abs_sum(spec.kernel, spec.ndim)


def _axis_segments(n: int, kd: int, start: int, count: int, stride: int) -> list[tuple[int, int, bool]]:
    """Output ranges ``[a, b)`` of one axis: before, inside and after the outputs
    whose window lies wholly in the input (flag True for the inside one)."""
    lo = min(count, max(0, -(-(kd - 1 - start) // stride)))
    hi = min(count, max(lo, (n - 1 - start) // stride + 1)) if n - 1 >= start else lo
    return [(a, b, inside) for a, b, inside in ((0, lo, False), (lo, hi, True), (hi, count, False)) if b > a]


#: 1-D and n-D inputs up to this many elements are padded whole: one box has the least
#: overhead, and copying them costs less than the calls for three (1-D) or 27 (3-D) boxes
#: (the whole pad measured 0.65–0.85 of the frames' time for 1000–10000 samples and
#: for 32³ and 64³ volumes).  2-D inputs run in frames at every size: with their layout
#: kept (:func:`_layout`) they took 0.65–0.97 of the whole pad's time from 8² to 512²
SMALL_INPUT = 1 << 18


def padded_whole(size: int, ndim: int, small: int | None = None) -> bool:
    """Whether a problem of ``size`` input elements on ``ndim`` axes is extended whole and
    summed as one box (``small``: :data:`SMALL_INPUT`, which tests lower)."""
    return ndim != 2 and size <= (SMALL_INPUT if small is None else small)


def _boxes(sampled: Sampled, small: int | None = None) -> list[tuple[tuple[int, int, bool], ...]]:
    """Boxes of outputs: the interior (read straight from z) and the border slabs.

    Peeled axis by axis: the outputs before and after the interior on axis 0 (every
    other axis whole), then on axis 1 within axis 0's interior, and so on — 2·nd
    border boxes rather than the 3^nd − 1 of a grid (each box costs a call).
    """
    if padded_whole(sampled.z.size, sampled.ndim, small):
        return [tuple((0, c, False) for c in sampled.counts)]
    per_axis = [_axis_segments(n, kd, st, c, s) for n, kd, st, c, s in zip(
        sampled.input_shape, sampled.dilated_shape, sampled.starts, sampled.counts, sampled.strides)]
    boxes, inner = [], []
    for axis, segments in enumerate(per_axis):
        rest = tuple((0, c, False) for c in sampled.counts[axis + 1:])
        boxes += [tuple(inner) + ((a, b, False),) + rest for a, b, inside in segments if not inside]
        middle = [(a, b, True) for a, b, inside in segments if inside]
        if not middle:
            return boxes
        inner.append(middle[0])
    return boxes + [tuple(inner)]


def _run_numba(sampled: Sampled, acc_dtype: np.dtype) -> np.ndarray:
    """Direct sum by the compiled loops, without padding the bulk of the input:
    the interior box reads ``z`` in place, only the thin border boxes are
    padded (small copies, gathered into one frame per axis, :func:`_border_frames`).
    How the problem is cut, and the index arrays, come from :func:`_layout`."""
    correlate_rows = _numba_kernels.correlate_rows
    nd = sampled.ndim
    nb = sampled.z.ndim - nd
    out = empty_apart(sampled.output_shape, acc_dtype, sampled.z)   # the loops read z in place
    g = sampled.h[(Ellipsis,) + (slice(None, None, -1),) * nd]   # flipped on the convolved axes
    kernel_batched = any(s != 1 for s in g.shape[:nb])
    z = sampled.z if sampled.z.flags.c_contiguous else np.ascontiguousarray(sampled.z)
    if kernel_batched:
        pairs = [(index, z[tuple(i if zs > 1 else 0 for i, zs in zip(index, z.shape[:nb]))],
                  g[tuple(i if gs > 1 else 0 for i, gs in zip(index, g.shape[:nb]))])
                 for index in np.ndindex(out.shape[:nb])]
    else:
        pairs = [((), z.reshape((-1,) + z.shape[nb:]), g.reshape(g.shape[nb:]))]
    layout = _layout(sampled.z.shape, sampled.kernel_shape, sampled.starts, sampled.counts, sampled.strides,
                     sampled.dilations, sampled.boundary, SMALL_INPUT)
    for index, zi, gi in pairs:
        weights = np.ascontiguousarray(gi, dtype=acc_dtype).ravel()
        zi = zi.reshape((-1,) + zi.shape[zi.ndim - nd:])
        oi = out[index].reshape(zi.shape[0], -1)
        frames = None
        if layout.frames:   # summed by this thread while the other cores start on the interior
            frames = _numba_kernels.Overlap(
                lambda zi=zi, gi=gi, oi=oi: _border_frames(layout.frames, zi, gi, oi, sampled, acc_dtype),
                layout.overlap[0])
        for box, offsets in layout.inner:   # read z in place
            taps, rows, outs, ncols = offsets or _inner_offsets(box, sampled)
            correlate_rows(zi.reshape(zi.shape[0], -1), weights, taps, rows, sampled.strides[-1], ncols, oi, outs,
                           first=frames)
            if frames is not None:
                layout.overlap[0] = frames.ratio
                frames = None
        if frames is not None:   # no interior
            frames.job()
        for box, kept in layout.padded:
            if kept is not None:   # a small box: its window and offsets kept with the layout
                zp = apply_gather(zi, kept.gather, sampled.fill_value)
                taps, rows, outs = kept.offsets
                correlate_rows(zp.reshape(zp.shape[0], -1), weights, taps, rows, sampled.strides[-1], kept.ncols,
                               oi, outs)
                continue
            sub = Sampled(zi, gi, tuple(st + a * s for st, (a, _, _), s in zip(sampled.starts, box, sampled.strides)),
                          tuple(b - a for a, b, _ in box), sampled.strides, sampled.dilations,
                          sampled.boundary, sampled.fill_value)
            zp, firsts = sub.window()   # every read in range
            zp = np.ascontiguousarray(zp)
            if _thin(sub.counts):
                target = oi.reshape((zi.shape[0],) + sampled.counts)[(slice(None),) + tuple(
                    slice(a, b) for a, b, _ in box)]
                _thin_box(zp, gi, sub, acc_dtype, target)
                continue
            offsets = _padded_offsets if math.prod(sub.counts[:-1]) <= CACHED_ROWS else _box_offsets
            taps, rows, outs, _ = offsets(box, zp.shape[1:], tuple(firsts), sub.kernel_shape, sub.dilations,
                                          sub.strides, sampled.counts)
            correlate_rows(zp.reshape(zp.shape[0], -1), weights, taps, rows, sub.strides[-1], sub.counts[-1],
                           oi, outs)
    return out


@dataclass(frozen=True)
class _Frame:
    """The border boxes peeled off along one axis: how their frame is gathered and summed."""

    gather: Gather                    # on a batch of items (axis 0: the batch)
    order: tuple[int, ...]            # the axes in summing order (the last two swapped for the last axis)
    taps: np.ndarray
    rows: np.ndarray
    ncols: int
    outs: np.ndarray                  # into the output (or, swapped, into the result)
    result_shape: tuple[int, ...] | None = None   # swapped: the boxes' outputs one after the other
    places: tuple[tuple[tuple[slice, ...], int, int], ...] = ()   # swapped: each box and its rows of the result


@dataclass(frozen=True)
class _Window:
    """A small padded box's window of x̃ (read by ``apply_gather``, output 0 at 0) and its
    loops' taps, row and output offsets: kept with the layout (a small 1-D call spent
    12 µs of its 70–90 working them out)."""

    gather: Gather
    offsets: tuple[np.ndarray, np.ndarray, np.ndarray]
    ncols: int


#: a padded box keeps its window (:class:`_Window`) up to this many samples of x̃ per item
KEPT_WINDOW = 1 << 14


@dataclass(frozen=True)
class _Layout:
    """How :func:`_run_numba` cuts a problem: interior boxes, padded boxes, border frames."""

    inner: tuple   # per interior box: the box, and its taps, rows, outs, ncols (None beyond CACHED_ROWS rows)
    padded: tuple  # per box summed from its own window of x̃: the box, and its _Window (None: large or thin)
    frames: tuple[_Frame, ...]        # the border boxes, one frame per axis (2-D and n-D)
    # the frames' time over the interior's, as last measured (see _numba_kernels.run_jobs)
    overlap: list = field(default_factory=lambda: [0.0], compare=False, hash=False)


def _box_offsets(box: tuple, item: tuple[int, ...], firsts: tuple[int, ...], kernel_shape: tuple[int, ...],
                 dilations: tuple[int, ...], strides: tuple[int, ...], counts: tuple[int, ...]) -> tuple:
    """Taps and row offsets into an item of shape ``item`` (output 0 of the box reading from
    ``firsts``), the box's output offsets into an output of shape ``counts``, its row length."""
    nd = len(item)
    est, out_est = _taps.element_strides(item), _taps.element_strides(counts)
    box_counts = tuple(b - a for a, b, _ in box)
    taps = _taps.tap_offsets(kernel_shape, dilations, item)
    rows = _taps.grid_offsets(box_counts[:-1], firsts[:-1], strides[:-1], est[:-1]) + firsts[-1]
    outs = _taps.grid_offsets(box_counts[:-1], tuple(a for a, _, _ in box[:-1]), (1,) * (nd - 1),
                              out_est[:-1]) + box[-1][0]
    return taps, rows, outs, box_counts[-1]


#: the offsets of padded boxes (small inputs' single box, a problem's single border box)
#: of at most CACHED_ROWS rows, kept like the layout: building them was a sixth of a
#: small 1-D call
_padded_offsets = functools.lru_cache(maxsize=64)(_box_offsets)

#: interior boxes of at most this many rows keep their offsets in the layout cache: 256 KiB
#: of row and output offsets each, so the 32 layouts hold at most 8 MiB of them (a 128³
#: volume has 15376 rows; a 256³ one, 63504, builds its offsets in each call, a sliver of
#: its sums)
CACHED_ROWS = 1 << 14


def _inner_offsets(box: tuple, layout: Sampled) -> tuple:
    """:func:`_box_offsets` of an interior box, reading z in place."""
    firsts = tuple(st + a * s - (kd - 1) for st, (a, _, _), s, kd in zip(layout.starts, box, layout.strides,
                                                                         layout.dilated_shape))
    return _box_offsets(box, layout.input_shape, firsts, layout.kernel_shape, layout.dilations, layout.strides,
                        layout.counts)


@functools.lru_cache(maxsize=32)
def _layout(shape: tuple[int, ...], kernel_shape: tuple[int, ...], starts: tuple[int, ...], counts: tuple[int, ...],
            strides: tuple[int, ...], dilations: tuple[int, ...], boundary: str, small: int) -> _Layout:
    """The boxes of :func:`_run_numba` and their index arrays, for a problem of this geometry.

    Depends on the geometry only, so it is kept between calls: building the index
    arrays (positions, maps, row and output offsets: about 60 small NumPy calls) had
    cost 0.3–0.5 ms a call, a third of a 1024² 3×3 filter.  The border boxes of 2-D
    and n-D problems with more than one box go to frames (:func:`_border_frames`).
    ``small`` is :data:`SMALL_INPUT`, a key of the cache (tests lower it).
    """
    nd = len(counts)
    layout = Sampled(np.broadcast_to(np.zeros((), np.uint8), shape), np.zeros(kernel_shape, np.uint8), starts,
                     counts, strides, dilations, boundary)
    boxes = _boxes(layout, small)
    inside = [box for box in boxes if all(flag for _, _, flag in box)]
    border = [box for box in boxes if box not in inside]
    inner = tuple((box, _inner_offsets(box, layout) if math.prod(b - a for a, b, _ in box[:-1]) <= CACHED_ROWS
                   else None) for box in inside)
    if nd < 2 or len(boxes) < 2:
        return _Layout(inner, tuple((box, _window(box, layout)) for box in border), ())
    maps = [extension_index(n, st - (kd - 1), st + (c - 1) * s, boundary) for n, kd, st, c, s in zip(
        layout.input_shape, layout.dilated_shape, starts, counts, strides)]
    by_axis: dict[int, list] = {}
    for box in border:   # _boxes peels axis by axis: a box's axis is its first one not inside
        by_axis.setdefault(next(a for a, (_, _, flag) in enumerate(box) if not flag), []).append(box)
    return _Layout(inner, (), tuple(_frame(axis, peeled, maps, layout) for axis, peeled in by_axis.items()))


def _window(box: tuple, layout: Sampled) -> _Window | None:
    """The :class:`_Window` of a padded box of at most :data:`KEPT_WINDOW` samples whose
    rows are not short (those run transposed, :func:`_thin_box`); None otherwise."""
    counts = tuple(b - a for a, b, _ in box)
    if _thin(counts):
        return None
    starts = tuple(st + a * s for st, (a, _, _), s in zip(layout.starts, box, layout.strides))
    item = tuple((c - 1) * s + kd for c, s, kd in zip(counts, layout.strides, layout.dilated_shape))
    if math.prod(item) > KEPT_WINDOW:
        return None
    taps, rows, outs, ncols = _box_offsets(box, item, (0,) * len(item), layout.kernel_shape, layout.dilations,
                                           layout.strides, layout.counts)
    sub = Sampled(np.broadcast_to(np.zeros((), np.uint8), (1,) + layout.input_shape), layout.h, starts, counts,
                  layout.strides, layout.dilations, layout.boundary)   # the box in a batch of items, as zi is read
    return _Window(sub.window_plan(), (taps, rows, outs), ncols)


def _frame(axis: int, boxes: list, maps: list, layout: Sampled) -> _Frame:
    """The frame of the border boxes peeled off along ``axis`` (see :func:`_border_frames`)."""
    nd = layout.ndim
    counts, strides, dilated = layout.counts, layout.strides, layout.dilated_shape
    # frame positions of x̃ per axis: the interior (axes before), the boxes' stretches one after
    # the other (this axis), every position (axes after)
    stretches = [np.arange(box[axis][0] * strides[axis], (box[axis][1] - 1) * strides[axis] + dilated[axis])
                 for box in boxes]
    starts = np.cumsum([0] + [r.size for r in stretches])[:-1]
    positions = [np.arange(box_lo * s, (box_hi - 1) * s + kd) if a < axis else
                 (np.concatenate(stretches) if a == axis else np.arange(maps[a][0].size))
                 for a, ((box_lo, box_hi, _), s, kd) in enumerate(zip(boxes[0], strides, dilated))]
    plan = gather_plan([maps[a][0][p] for a, p in enumerate(positions)],
                       [maps[a][1][p] for a, p in enumerate(positions)], 1)
    swap = axis == nd - 1   # sum with the last two axes swapped
    order = tuple(range(nd - 2)) + ((nd - 1, nd - 2) if swap else (nd - 2, nd - 1))
    item = tuple(positions[a].size for a in order)
    est = _taps.element_strides(item)
    taps = _taps.tap_offsets(tuple(layout.kernel_shape[a] for a in order), tuple(layout.dilations[a] for a in order),
                             item)
    steps = tuple(strides[a] for a in order)
    # each box's output counts in the summing order; on the peeled axis, where its stretch starts
    box_counts = [tuple(box[a][1] - box[a][0] for a in order) for box in boxes]
    origins = [tuple(int(start) if a == axis else 0 for a in order) for start in starts]
    rows = np.concatenate([_taps.grid_offsets(c[:-1], o[:-1], steps[:-1], est[:-1]) + o[-1] * est[-1]
                           for c, o in zip(box_counts, origins)])
    if not swap:
        out_est = _taps.element_strides(counts)
        outs = np.concatenate([_taps.grid_offsets(c[:-1], tuple(box[a][0] for a in order[:-1]), (1,) * (nd - 1),
                                                  out_est[:-1]) for c, box in zip(box_counts, boxes)])
        return _Frame(plan, order, taps, rows, counts[-1], outs)
    # swapped: the boxes' outputs one after the other along the peeled axis, then put in place
    widths = [c[-2] for c in box_counts]
    firsts = np.cumsum([0] + widths)[:-1]
    shape = box_counts[0][:-2] + (sum(widths), box_counts[0][-1])
    result_est = _taps.element_strides(shape)[:-1]
    outs = np.concatenate([_taps.grid_offsets(c[:-1], (0,) * (nd - 2) + (int(first),), (1,) * (nd - 1), result_est)
                           for c, first in zip(box_counts, firsts)])
    places = tuple(((slice(None),) + tuple(slice(lo, hi) for lo, hi, _ in box), int(first), int(first) + width)
                   for box, first, width in zip(boxes, firsts, widths))
    return _Frame(plan, order, taps, rows, shape[-1], outs, shape, places)


def _border_frames(frames: tuple[_Frame, ...], zi: np.ndarray, gi: np.ndarray, oi: np.ndarray, sampled: Sampled,
                   acc_dtype: np.dtype) -> None:
    """The border boxes of a 2-D or n-D problem, in one call of the row loops per axis.

    The border boxes peeled off along one axis (before and after the interior) span
    the interior on the axes before it and every output on the axes after it: the
    samples of x̃ they read are gathered, one box after the other along that axis,
    into one frame, and one call sums them (row offsets point each output row at its
    box's part of the frame).  The boxes peeled off along the last axis are gathered
    and summed with their last two axes swapped (kernel too), so that the long axis is
    last: a row of one or two outputs costs the loops a row set-up each.  Each frame
    reads x̃ through the source index in x of each of its positions and whether it lies
    inside x (``extension_index``); outside, it holds the fill value.  The loops are the
    per-box path's and each sum has the same terms; where that path transposed a box
    differently (3-D, or columns wider than ``THIN_ROWS``) they are added in another
    order.  Per box, a window, a call and (last-axis boxes) a transposed problem had
    cost about 3 ms of a 2048² float32 5×5 reflect call's 8–9; with the frames the
    whole call takes 0.87–0.95 of its time (interleaved runs), 0.69–0.76 for a batch of
    eight 256² images, and 0.86–0.89 for 3-D 3×3×3 filters and a batch of four 64³ with
    5×5×5 (128³ with 5×5×5 and 64³ with 7×7×7: unchanged).  The frames' index arrays
    come from :func:`_layout`, built once per geometry.
    """
    correlate_rows = _numba_kernels.correlate_rows
    batch = zi.shape[0]
    target = oi.reshape((batch,) + sampled.counts)
    for f in frames:
        frame = apply_gather(zi, f.gather, sampled.fill_value)
        swap = f.result_shape is not None
        if swap:
            frame = np.ascontiguousarray(frame.transpose((0,) + tuple(1 + a for a in f.order)))
        g = np.ascontiguousarray(gi.transpose(f.order), dtype=acc_dtype).ravel()
        step = sampled.strides[f.order[-1]]
        if not swap:
            correlate_rows(frame.reshape(batch, -1), g, f.taps, f.rows, step, f.ncols, oi, f.outs)
            continue
        result = np.empty((batch,) + f.result_shape, dtype=acc_dtype)
        correlate_rows(frame.reshape(batch, -1), g, f.taps, f.rows, step, f.ncols, result.reshape(batch, -1), f.outs)
        for place, lo, hi in f.places:
            target[place] = result[..., lo:hi, :].swapaxes(-1, -2)


#: a box with at most this many outputs along its last axis, and a longer axis, runs
#: with that axis last (rows of one or two outputs cost the loops a row set-up each: the
#: far slabs of a 96³ 3×3×3 filter took 2 of its 6.5 ms that way).  Border slabs are
#: summed in frames (:func:`_border_frames`); this serves the single padded box of a
#: small 1-D or n-D input, and a problem's single border box
THIN_ROWS = 8


def _thin(counts: tuple[int, ...]) -> bool:
    return len(counts) > 1 and counts[-1] <= THIN_ROWS and max(counts[:-1]) > 2 * counts[-1]


def _thin_box(zp: np.ndarray, g: np.ndarray, sub: Sampled, acc_dtype: np.dtype, target: np.ndarray) -> None:
    """``target`` (batch, *counts) ← a border box whose rows are short, computed with its
    longest axis last.  ``zp`` is the box's window (every read in range, output 0 at 0)
    and ``g`` the flipped kernel; permuting the axes of both permutes those of the result."""
    nd = len(sub.counts)
    longest = int(np.argmax(sub.counts))
    perm = tuple(a for a in range(nd) if a != longest) + (longest,)
    z_t = np.ascontiguousarray(zp.transpose((0,) + tuple(1 + a for a in perm)))
    # unflipped (_run_numba flips it again), with the batch axis a sampled kernel carries
    h_t = g[(slice(None, None, -1),) * nd].transpose(perm)[np.newaxis]
    dilated = sub.dilated_shape
    moved = Sampled(z_t, h_t, tuple(dilated[a] - 1 for a in perm), tuple(sub.counts[a] for a in perm),
                    tuple(sub.strides[a] for a in perm), tuple(sub.dilations[a] for a in perm))
    target[...] = _run_numba(moved, acc_dtype).transpose((0,) + tuple(1 + a for a in np.argsort(perm)))


def _run_python_ints(sampled: Sampled) -> np.ndarray:
    """Exact sum in Python integers (object arrays), tap by tap.  ``sampled`` may be
    unextended (fft's circular path for the wrap rule hands its guard x itself): the
    samples of x̃ are gathered by its boundary rule."""
    zp, firsts = sampled.window()
    nd = sampled.ndim
    nb = zp.ndim - nd
    zo = zp.astype(object)
    g = np.flip(sampled.h, axis=tuple(range(nb, sampled.h.ndim))).astype(object)
    out = np.zeros(sampled.output_shape, dtype=object)
    for m in np.ndindex(sampled.kernel_shape):
        window = tuple(slice(f + mi * d, f + mi * d + (c - 1) * s + 1, s)
                       for f, mi, d, c, s in zip(firsts, m, sampled.dilations, sampled.counts, sampled.strides))
        out += g[(Ellipsis,) + m].reshape(g.shape[:nb] + (1,) * nd) * zo[(Ellipsis,) + window]
    return out


#: below this bound every partial sum of the direct loops is an integer that
#: float64 represents exactly, so the (vectorised) float64 loops are exact
FLOAT64_EXACT_BOUND = 2**53


def _as_float64(sampled: Sampled) -> Sampled:
    """The problem in float64.  With the zero boundary, z is cast straight into its zero
    pad (one pass: the loops then read every sample in place, where the cast and then the
    pad of a small input copied it twice: a 2^18-sample, 16-tap call spent 0.25 ms padding)."""
    h = sampled.h.astype(np.float64)
    if sampled.boundary != "constant" or sampled.fill_value != 0:
        return replace(sampled, z=sampled.z.astype(np.float64), h=h)
    zp, firsts = sampled.padded(np.float64)
    starts = tuple(first + kd - 1 for first, kd in zip(firsts, sampled.dilated_shape))
    return Sampled(zp, h, starts, sampled.counts, sampled.strides, sampled.dilations)


def exact_integer(sampled: Sampled) -> np.ndarray:
    """int64 result of an integer problem, computed exactly.

    ``Σ|h| · max|z| < 2**53``: every product and partial sum (FMA included) is an
    integer below 2**53, exact in float64, whose loops vectorise (int64 ones
    do not); up to the int64 range: int64 loops; beyond: Python integers.
    """
    bound = integer_bound(sampled)
    if bound < FLOAT64_EXACT_BOUND:
        return _run_numba(_as_float64(sampled), np.dtype(np.float64)).astype(np.int64)
    if bound <= INT64_MAX:
        return _run_numba(sampled, np.dtype(np.int64))
    out = _run_python_ints(sampled)
    if out.size and (out.max() > INT64_MAX or out.min() < -INT64_MAX - 1):
        raise OverflowError("the exact integer result does not fit in int64 "
                            f"(largest magnitude {max(abs(out.max()), abs(out.min()))}); "
                            "convert the inputs to float64 for an approximate result")
    return out.astype(np.int64)


def compute_sampled(sampled: Sampled) -> np.ndarray:
    """Direct sum of a sampled problem in its own dtype (no engine dispatch)."""
    dtype = sampled.z.dtype
    if dtype.kind in "iu":
        return exact_integer(sampled)
    ntaps = math.prod(sampled.kernel_shape)
    return _run_numba(sampled, accumulator_dtype(dtype, ntaps))


#: the engine comparison per problem key (pricing both cost 60 µs a call)
_ENGINES: dict = {}


def use_opencv(problem: Problem) -> bool:
    """OpenCV's filter engine applies and the cost model rates it faster than the loops
    (kept per problem key, which holds everything both depend on: the geometry, the
    dtypes, the boundary, whether OpenCV is enabled and the cores may be used)."""
    return remembered(_ENGINES, problem, _opencv_faster)


def _opencv_faster(problem: Problem) -> bool:
    from ._registry import direct_engine  # the planner's own comparison of the two engines

    return _opencv.filter2d_applies(problem.spec) and direct_engine(problem)[0] == "opencv"


def opencv_keeps_nonfinite(problem: Problem) -> bool:
    """Whether OpenCV's sum treats NaN/±∞ in x exactly as the definition does.

    filter2D drops zero taps (so ``0·∞`` and a NaN under a zero tap vanish) and
    filters float64 images with 50 or more taps by DFT (which spreads them).
    With no zero tap and a direct sum the IEEE result does not depend on the
    order of the terms, so only then may non-finite inputs go to OpenCV.
    """
    spec = problem.spec
    if spec.compute_dtype == np.float64 and math.prod(spec.kernel_shape) >= OPENCV_F8_DFT_TAPS:
        return False
    return kernel_facts(spec.kernel)[1]


def kernel_facts(kernel: np.ndarray) -> tuple[bool, bool]:
    """``(every tap finite, no tap zero)``, kept per kernel of at most ``MAX_KEPT_TAPS`` taps
    (read afresh, both cost a small call 3 µs of its 25)."""
    if kernel.size > MAX_KEPT_TAPS:
        return all_finite(kernel), bool(np.all(kernel != 0))
    return _kernel_facts(np.ascontiguousarray(kernel).tobytes(), kernel.dtype.str)


#: kernels up to this many taps have their facts kept (by their bytes)
MAX_KEPT_TAPS = 1024


@functools.lru_cache(maxsize=256)
def _kernel_facts(key: bytes, dtype: str) -> tuple[bool, bool]:
    kernel = np.frombuffer(key, dtype=dtype)
    return all_finite(kernel), bool(np.all(kernel != 0))


#: OpenCV filters float64 images by DFT from this many taps on
OPENCV_F8_DFT_TAPS = 50


#: 1-D problems of at most this many output × tap products are summed by ``numpy.convolve``:
#: one C call of 1–10 µs, where the loops' set-up alone took 11 µs.  Measured (float64 and
#: float32, 100 to 65536 samples, 3 to 512 taps, 'full'): 0.09–0.95 of the loops' time up to
#: 2**17 products, 0.5–2 beyond (the loops use both cores and wider vectors); complex
#: inputs were slower through NumPy (1.1–1.8× at 3 to 8 taps) and stay with the loops.
NUMPY_WORK = 2**17


def numpy_applies(spec) -> bool:
    """A single 1-D float row, zero boundary, stride and dilation 1, a window inside the
    'full' one, few products, and a finite kernel short enough for float32 sums (as the
    loops'): ``numpy.convolve`` sums the definition's terms, zero taps included, but not
    the taps that fall on the zero extension, where an infinite tap makes NaN."""
    if spec.x.ndim != 1 or spec.kernel.ndim != 1 or spec.compute_dtype not in (np.float32, np.float64):
        return False
    if spec.boundary != "constant" or spec.fill_value != 0:
        return False
    g = spec.geometry[0]
    return (g.stride == 1 and g.dilation == 1 and g.start >= 0 and g.start + g.count <= g.n + g.k - 1
            and g.count * g.k <= NUMPY_WORK and accumulator_dtype(spec.compute_dtype, g.k) == spec.compute_dtype
            and kernel_facts(spec.kernel)[0])


def numpy_sum(spec) -> np.ndarray:
    """``y[i] = Σ_j h[j] x[start + i − j]``: the window of ``numpy.convolve``'s 'full' result."""
    g = spec.geometry[0]
    full = np.convolve(spec.x, spec.kernel)
    return full if g.count == full.size else full[g.start:g.start + g.count]


def run(problem: Problem) -> np.ndarray:
    spec = problem.spec
    if numpy_applies(spec):
        return numpy_sum(spec)
    if use_opencv(problem) and kernel_facts(spec.kernel)[0] and (opencv_keeps_nonfinite(problem)
                                                                 or all_finite(spec.x)):
        return _opencv.filter2d(problem.spec)
    if spec.compute_dtype.kind in "fc" and not padded_whole(spec.x.size, spec.ndim):
        # the bulk read in place, only the border boxes extended (2-D, and large 1-D and n-D inputs)
        return compute_sampled(problem.unextended)
    return compute_sampled(problem.sampled)
