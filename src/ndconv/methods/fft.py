"""``fft`` and ``overlap_add``: the convolution theorem with scipy.fft.

``fft`` transforms the whole (zero-extended) input once.  Along each axis a
transform of size ``F ≥ max(last + 1, n + kd − 1 − start)`` suffices: every
output read sits in ``[start, last]`` of the linear convolution, and the
circular wrap-around of a shorter transform lands only outside that window.
Sizes are ``scipy.fft.next_fast_len``; real inputs use ``rfftn``; a short kernel's
leading axes are transformed by a product with a few DFT-matrix columns; batch axes and
per-row kernels broadcast in the spectral product; all cores work
(``workers``).  The wrap rule needs no extension at all when x's own lengths are
fast: :func:`periodic_sampled` transforms the period itself.

``overlap_add`` cuts the output into blocks of ``b`` outputs per axis; each
block reads an input segment of ``(b−1)·s + kd`` samples per axis and is convolved
by a transform of size ``F`` just above that (the overlap-save form of overlap-add:
each output block is taken from its own segment, so nothing is added twice).  In
1-D the blocks are transformed in batches of bounded memory, in parallel; in 2-D
and nD the blocks are tiles small enough for a core's cache (:func:`tile_plan`),
each transformed on one core, the cores taking equal runs of tiles.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import sliding_window_view

from .. import _blas
from .._memory import available_bytes, cpu_count
from ..boundary import extension_index
from . import _spectra
from ._numba_kernels import run_jobs
from ._problem import Sampled, gather_plan

#: at most this share of the available memory goes to FFT buffers
MEMORY_SHARE = 0.5
#: bytes of segment buffers per batch of overlap-add blocks
BLOCK_BATCH_BYTES = 64 * 2**20


#: transforms of fewer points than this (all rows of the call together) run on one
#: thread: a call that hands its lines to scipy.fft's worker threads costs about 0.1 ms
#: more, which small transforms never win back.  Measured, ``rfftn`` float32 on 1 against
#: 2 workers (2 cores): 8³ 8.5 against 126 µs, 128² 38 against 165 µs, 256² 189 against
#: 288 µs, 32³ 157 against 149 µs; 512² 630–780 against 670–1050 µs; 64³ 1200 against
#: 925 µs, 1024² 4370 against 2380 µs.  (The method ``fft`` on a 4×4×4 float32 input with
#: a 3×3×3 kernel took 622 µs, nearly all of it in that hand-off.)
PARALLEL_POINTS = 2**18


def workers(points: int | None = None) -> int:
    """Threads for transforms of ``points`` points in all: one below :data:`PARALLEL_POINTS`."""
    return cpu_count() if points is None or points >= PARALLEL_POINTS else 1


def _points(a: np.ndarray, axes: tuple[int, ...], sizes: tuple[int, ...]) -> int:
    """Points of ``a`` transformed to ``sizes`` on ``axes`` (every other axis a batch of rows)."""
    return a.size // max(1, math.prod(a.shape[ax] for ax in axes)) * math.prod(sizes)


def dilate(h: np.ndarray, dilations: tuple[int, ...]) -> np.ndarray:
    """Insert ``d − 1`` zeros between taps on the last ``len(dilations)`` axes."""
    if all(d == 1 for d in dilations):
        return h
    nd = len(dilations)
    nb = h.ndim - nd
    shape = h.shape[:nb] + tuple(d * (k - 1) + 1 for k, d in zip(h.shape[nb:], dilations))
    out = np.zeros(shape, dtype=h.dtype)
    out[(Ellipsis,) + tuple(slice(None, None, d) for d in dilations)] = h
    return out


def transform_sizes(sampled: Sampled, real: bool) -> tuple[int, ...]:
    sizes = []
    for n, kd, start, count, s in zip(sampled.input_shape, sampled.dilated_shape, sampled.starts,
                                      sampled.counts, sampled.strides):
        last = start + (count - 1) * s
        sizes.append(max(last + 1, n + kd - 1 - start))
    return fast_sizes(sizes, real)


def fast_sizes(sizes, real: bool) -> tuple[int, ...]:
    """Fast transform lengths: 2·3·5-smooth on a real transform's axis (the last),
    2·3·5·7·11-smooth on the complex ones."""
    sizes = list(sizes)
    out = [sfft.next_fast_len(n, real=False) for n in sizes[:-1]]
    return tuple(out) + (sfft.next_fast_len(sizes[-1], real=real),)


def spectral_bytes(sampled: Sampled) -> int:
    """Bytes of the buffers one whole-array FFT convolution allocates."""
    real = sampled.z.dtype.kind != "c"
    sizes = transform_sizes(sampled, real)
    spectrum = math.prod(sizes[:-1]) * (sizes[-1] // 2 + 1 if real else sizes[-1])
    batch = math.prod(sampled.batch_shape)
    item = np.dtype(sampled.z.dtype).itemsize * (1 if sampled.z.dtype.kind == "c" else 2)
    return 3 * batch * spectrum * item + batch * math.prod(sizes) * item


#: the input is transformed on all axes by one ``rfftn``/``fftn`` call while the zero
#: padding at most doubles the rows along the last axis (the product of the other
#: axes' sizes); with more padding, one axis at a time.  Measured (2 cores, equal
#: results): 2048² float32 padded to 2079 × 2160, 29 against 36 ms (float64 38 against
#: 53); 1024² padded to 2025², 15 against 20 ms; 1024² unpadded equal; but 1024 rows
#: padded to 3024, 15 against 12 ms, and 64 rows padded to 4096, 77 against 48 ms
ND_PADDING = 2


def _forward(a: np.ndarray, axes: tuple[int, ...], sizes: tuple[int, ...], real: bool) -> np.ndarray:
    """N-D transform of ``a`` zero-padded to ``sizes`` on ``axes``: by one N-D call, or,
    when the padding is large (:data:`ND_PADDING`), one axis at a time, last axis
    first, so that the zero rows of the other axes are never transformed."""
    threads = workers(_points(a, axes, sizes))
    if len(axes) > 1 and math.prod(sizes[:-1]) <= ND_PADDING * math.prod(a.shape[ax] for ax in axes[:-1]):
        return (sfft.rfftn if real else sfft.fftn)(a, s=sizes, axes=axes, workers=threads)
    first = sfft.rfft if real else sfft.fft
    out = first(a, n=sizes[-1], axis=axes[-1], workers=threads)
    for axis, size in zip(reversed(axes[:-1]), reversed(sizes[:-1])):
        out = sfft.fft(out, n=size, axis=axis, workers=threads, overwrite_x=True)
    return out


#: a kernel axis of k taps is transformed by a product with k columns of the DFT matrix (one BLAS
#: call; the matrix is cached) instead of an FFT of the zero-padded axis when
#: k ≤ DFT_TAPS_PER_BIT · log2(size).  Measured, the product against the FFT: 2079 × 1081
#: points, 31 taps 4.9 against 24 ms (float32), 13 against 48 (float64), 128 taps 16 against 25
#: and 35 against 53; 1024 × 513 points (a power of two, the FFT's best case), 64 taps 2.2
#: against 5.0 and 4.4 against 8.3, 128 taps 3.5 against 4.8 and 7.5 against 7.7
DFT_TAPS_PER_BIT = 8
#: and when the matrix has at most this many entries (4 MiB in complex128; up to 8 are cached)
#: and the axis has at least ``k`` columns to transform (building the matrix costs about as
#: much as transforming ``k / 4 · log2(size)`` columns by FFT)
DFT_MAX_ENTRIES = 2**18


@lru_cache(maxsize=8)
def _dft_columns(size: int, taps: int, dtype: np.dtype) -> np.ndarray:
    """``E[u, r] = exp(−2πi·u·r/size)`` for ``r < taps``, from exact integer phases ``u·r mod size``."""
    phase = np.outer(np.arange(size), np.arange(taps)) % size
    out = np.exp(phase * (-2j * np.pi / size)).astype(dtype)
    out.flags.writeable = False
    return out


def _kernel_forward(h: np.ndarray, axes: tuple[int, ...], sizes: tuple[int, ...], real: bool) -> np.ndarray:
    """:func:`_forward` for a kernel (read-only: kept for the next call with the same kernel,
    see :mod:`._spectra`)."""
    points = math.prod(sizes[:-1]) * (sizes[-1] // 2 + 1 if real else sizes[-1])
    batch = h.size // max(1, math.prod(h.shape[ax] for ax in axes))
    item = np.result_type(h.dtype, np.complex64).itemsize
    return _spectra.spectrum(h, (axes, sizes, real), batch * points * item,
                             lambda: _kernel_transform(h, axes, sizes, real))


#: DFT-matrix products of at least this many multiply-adds share the matrix's rows among the
#: cores, each on single-threaded BLAS (see :func:`_dft_product`)
DFT_PARALLEL_WORK = 2**20


def _dft_product(e: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``e @ m`` with the rows of ``e`` shared by the cores, BLAS on one thread in each.

    A multithreaded OpenBLAS GEMM leaves its worker threads spinning for about 0.1 s
    (:mod:`ndconv._blas`), and the transforms and loops that follow shared a core with
    them: match_template's window scores after the template's product took 3.9–4.6 ms
    against 2.0–2.4.  Each core's share of rows on its own thread wakes no BLAS worker.
    """
    result = np.empty(m.shape[:-2] + (e.shape[0], m.shape[-1]), dtype=np.result_type(e, m))

    def rows(lo: int, hi: int) -> None:
        np.matmul(e[lo:hi], m, out=result[..., lo:hi, :])

    work = e.shape[0] * e.shape[1] * (m.size // max(1, m.shape[-2]))
    _blas.by_batch(rows, e.shape[0], parallel=work >= DFT_PARALLEL_WORK)
    return result


def _kernel_transform(h: np.ndarray, axes: tuple[int, ...], sizes: tuple[int, ...], real: bool) -> np.ndarray:
    """The kernel's transform: after the last axis, an axis of few taps is a DFT-matrix
    product instead of an FFT of mostly zeros (2048² with 31×31: 5 ms instead of 24)."""
    first = sfft.rfft if real else sfft.fft
    threads = workers(_points(h, axes, sizes))
    out = first(h, n=sizes[-1], axis=axes[-1], workers=threads)
    for axis, size in zip(reversed(axes[:-1]), reversed(sizes[:-1])):
        taps = out.shape[axis]
        columns = out.size // taps
        if taps < size and taps <= DFT_TAPS_PER_BIT * math.log2(size) and size * taps <= DFT_MAX_ENTRIES \
                and columns >= taps:
            product = _dft_product(_dft_columns(size, taps, out.dtype), np.moveaxis(out, axis, -2))
            out = np.moveaxis(product, -2, axis)
        else:
            out = sfft.fft(out, n=size, axis=axis, workers=threads, overwrite_x=True)
    return out


def _inverse(spec: np.ndarray, axes: tuple[int, ...], sizes: tuple[int, ...], real: bool,
             takes: tuple[slice, ...]) -> np.ndarray:
    """Inverse transform keeping, after each axis, only the samples ``takes`` selects."""
    threads = workers(_points(spec, axes, sizes))
    for axis, size, take in zip(axes[:-1], sizes[:-1], takes[:-1]):
        spec = sfft.ifft(spec, n=size, axis=axis, workers=threads, overwrite_x=True)
        index = [slice(None)] * spec.ndim
        index[axis] = take
        spec = spec[tuple(index)]
    last = sfft.irfft if real else sfft.ifft
    out = last(spec, n=sizes[-1], axis=axes[-1], workers=threads)
    index = [slice(None)] * out.ndim
    index[axes[-1]] = takes[-1]
    return out[tuple(index)]


def convolve_spectra(a: np.ndarray, h: np.ndarray, axes: tuple[int, ...], sizes: tuple[int, ...],
                     takes: tuple[slice, ...]) -> np.ndarray:
    """Circular convolution of size ``sizes`` on ``axes``, sampled by ``takes`` (also
    ``match_template``'s cross-correlation)."""
    real = a.dtype.kind != "c" and h.dtype.kind != "c"
    spec = _forward(a, axes, sizes, real)
    kernel_spec = _kernel_forward(h, axes, sizes, real)
    if np.broadcast_shapes(spec.shape, kernel_spec.shape) == spec.shape:
        spec *= kernel_spec
    else:  # per-row kernels broadcast the batch
        spec = spec * kernel_spec
    return _inverse(spec, axes, sizes, real, takes)


def fft_sampled(sampled: Sampled) -> np.ndarray:
    """Whole-array FFT convolution of finite values; result in the input dtype."""
    real = sampled.z.dtype.kind != "c"
    sizes = transform_sizes(sampled, real)
    nd = sampled.ndim
    axes = tuple(range(sampled.z.ndim - nd, sampled.z.ndim))
    takes = tuple(slice(st, st + (c - 1) * s + 1, s)
                  for st, c, s in zip(sampled.starts, sampled.counts, sampled.strides))
    out = convolve_spectra(sampled.z, dilate(sampled.h, sampled.dilations), axes, sizes, takes)
    return np.ascontiguousarray(out, dtype=sampled.z.dtype)


def periodic_sizes(input_shape: tuple[int, ...], boundary: str, real: bool) -> tuple[int, ...] | None:
    """The input's own lengths, when ``wrap`` lets ``fft`` transform x itself (see
    :func:`periodic_sampled`) and they are fast transform lengths; None otherwise."""
    if boundary != "wrap":
        return None
    sizes = tuple(int(n) for n in input_shape)
    return sizes if fast_sizes(sizes, real) == sizes else None


def _fold(h: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """The kernel folded onto the period on its last ``len(sizes)`` axes: ``h_f[j mod n] += h[j]``
    (only axes where the kernel is longer than the input change)."""
    nb = h.ndim - len(sizes)
    for axis, n in enumerate(sizes, start=nb):
        k = h.shape[axis]
        if k > n:
            reps = -(-k // n)
            widths = [(0, 0)] * h.ndim
            widths[axis] = (0, reps * n - k)
            padded = np.pad(h, widths)
            h = padded.reshape(h.shape[:axis] + (reps, n) + h.shape[axis + 1:]).sum(axis=axis)
    return h


def periodic_sampled(sampled: Sampled) -> np.ndarray:
    """``fft`` for the wrap rule: one circular convolution of the period itself.

    With x̃ periodic, ``y_full[m] = c[m mod n]`` where ``c = x ⊛ h_f`` is the circular
    convolution of length ``n`` of x with the kernel folded onto the period — for every
    mode, origin, stride and dilation.  No extended copy, and transforms of size ``n``
    instead of ``n + kd − 1`` rounded up (32³ with 7³: 32³ against 40³ points).
    ``sampled`` is the unextended problem (``Problem.unextended``) with ``boundary='wrap'``.
    """
    nd = sampled.ndim
    z = sampled.z
    nb = z.ndim - nd
    sizes = sampled.input_shape
    axes = tuple(range(nb, z.ndim))
    h = _fold(dilate(sampled.h, sampled.dilations), sizes)
    c = convolve_spectra(z, h, axes, sizes, (slice(None),) * nd)
    picks = [(st + np.arange(cnt) * s) % n for st, cnt, s, n in zip(sampled.starts, sampled.counts,
                                                                    sampled.strides, sizes)]
    if all(p.size == n and (p == np.arange(n)).all() for p, n in zip(picks, sizes)):
        return np.ascontiguousarray(c, dtype=z.dtype)
    return np.ascontiguousarray(c[(Ellipsis,) + np.ix_(*picks)], dtype=z.dtype)


def block_length(kd: int, count: int, stride: int, cores: int | None = None) -> tuple[int, int]:
    """``(F, b)``: transform size and outputs per block with the least predicted
    time, ``nblocks · F·log2 F / min(nblocks, cores)`` — blocks run in parallel."""
    cores = cores or workers()
    candidates = set()
    for shift in range(1, 8):  # segments a few times the kernel
        b = max(1, (sfft.next_fast_len(max(16, kd << shift), real=True) - kd) // stride + 1)
        candidates.add(min(b, count))
    for parts in range(1, 4 * cores + 1):  # or the outputs cut into equal parts
        candidates.add(-(-count // parts))
    best = None
    for b in sorted(candidates):
        size = sfft.next_fast_len((b - 1) * stride + kd, real=True)
        nblocks = -(-count // b)
        cost = nblocks * size * math.log2(size)
        if cost >= 2**20:  # threads pay off only on enough work
            cost /= min(nblocks, cores)
        if best is None or cost < best[0]:
            best = (cost, size, b)
    assert best is not None
    return best[1], best[2]


#: points of one tile's transform (the product of its sizes) up to which its spectrum and
#: the tile stay in a core's 1 MiB L2.  Measured, 2048² float32 'same', tiles of F² on two
#: cores against the whole-array fft: 11×11 F=256 18 ms, 384 20, 512 23, 768 23, 1024 47
#: (fft 43); 31×31 F=384 20, 512 24, 1024 45 (fft 29); 101×101 F=512 24, 640 25, 768 34
#: (fft 31); 8192² with 31×31, F=512 323 ms against 662
TILE_POINTS = 2**19
#: how much more a transform unit costs in a tile above TILE_POINTS (F=1024 on 2048²)
TILE_SPILL = 2.0
#: a tile's side is at most this many times another side that is cut into several tiles
#: (2048² with 31×31: tiles of 2079 × 250 cost 0.57 ns a unit, of 500² 0.45)
TILE_ASPECT = 2
#: fixed cost of one tile beyond its transforms (its Python steps, slicing, the spectra's
#: allocation, the product and the copy out), in transform units: 512² float32 with 31×31
#: in 36 tiles of 125², run serially, took 130 µs a tile, 83 of them in the transforms; with
#: 2^14 units the plan took tiles of 125² to 250² there and on 2048², 1.4–1.6× slower
TILE_UNITS = 2**17
#: tiles of fewer transform units than this in all run on the calling thread only
PARALLEL_TILE_UNITS = 2**20


def tile_units(points: int, real: bool) -> float:
    """Transform units of one tile: its forward and inverse transforms."""
    return points * math.log2(max(points, 2)) * (1.0 if real else 2.0)


@lru_cache(maxsize=256)
def tile_plan(kds: tuple[int, ...], counts: tuple[int, ...], strides: tuple[int, ...], real: bool,
              cores: int) -> tuple[tuple[int, ...], tuple[int, ...], int, float]:
    """``(F, b, tiles, units)`` for tiles: per axis the transform size and the outputs per
    tile; the number of tiles, and the predicted transform units of one tile (with
    :data:`TILE_UNITS` per tile and :data:`TILE_SPILL` above :data:`TILE_POINTS`).

    Per axis the candidates are fast sizes from 1.5 times the dilated kernel up, in steps
    of √2 (2 in 3-D and up), and the whole axis in one tile; the plan is the combination
    of least predicted time, the tiles shared by the cores, with no side more than
    :data:`TILE_ASPECT` times another side that is cut.
    """
    per_axis = []
    for axis, (kd, count, s) in enumerate(zip(kds, counts, strides)):
        last = axis == len(kds) - 1
        whole = (count - 1) * s + kd           # the segment of the whole axis
        step = 2 ** 0.5 if len(kds) <= 2 else 2.0   # fewer candidates per axis in 3-D and up
        lengths = {whole} | {m for j in range(64) if (m := int(max(16, 1.5 * kd) * step ** j)) < whole}
        options = {}
        for m in lengths:
            size = sfft.next_fast_len(max(m, 16), real=real and last)
            options[size] = min(count, (size - kd) // s + 1)
        per_axis.append(sorted(options.items()))
    best = None
    for combo in itertools.product(*per_axis):
        sizes = tuple(f for f, _ in combo)
        outs = tuple(b for _, b in combo)
        if any(fa > TILE_ASPECT * fb and bb < cb for fa in sizes for fb, bb, cb in zip(sizes, outs, counts)):
            continue   # long thin tiles: one axis much longer than another that is cut
        tiles = math.prod(-(-c // b) for c, b in zip(counts, outs))
        points = math.prod(sizes)
        units = tile_units(points, real) * (1.0 if points <= TILE_POINTS else TILE_SPILL) + TILE_UNITS
        per_core = tiles * units / min(tiles, cores)
        if best is None or per_core < best[0]:
            best = (per_core, sizes, outs, tiles, units)
    assert best is not None
    return best[1:]


#: the rules whose extension a tile reads straight from x (every sample of x̃ is one of x)
TILE_RULES = ("wrap", "reflect", "symmetric", "edge")


def _tile_axis(n: int, kd: int, count: int, b: int, start: int, s: int, boundary: str) -> list[tuple]:
    """Per tile position on one axis: ``(read, take, write, keep, place)`` — the slice of z
    the tile's segment reads, the indices into it that the boundary rule gathers (None: the
    slice itself), where the segment goes in the buffer, which of its circular
    convolution's samples are outputs, and where they go in the result."""
    parts = []
    for first in range(0, count, b):
        m = min(b, count - first)                  # outputs of this tile on this axis
        lo = start + first * s - (kd - 1)          # its segment: x̃[lo … lo + seg − 1]
        seg = (m - 1) * s + kd
        keep, place = slice(kd - 1, kd - 1 + (m - 1) * s + 1, s), slice(first, first + m)
        if boundary in TILE_RULES:                # gathered as Sampled.window gathers a box of x̃
            index, inside = extension_index(n, lo, lo + seg - 1, boundary)
            (read,), takes = gather_plan([index], [inside], 0)
            parts.append((read, takes[0][1] if takes else None, slice(0, seg), keep, place))
        else:                                      # z holds x̃ already; zeros beyond it
            a, e = max(lo, 0), min(lo + seg, n)
            parts.append((slice(a, max(a, e)), None, slice(a - lo, a - lo + max(0, e - a)), keep, place))
    return parts


def tiled_sampled(sampled: Sampled) -> np.ndarray:
    """Overlap-add (overlap-save form) in tiles on every convolved axis (2-D and nD).

    Each job is one batch row's tile: its segment of x̃ is copied into a buffer of the
    transform's size — read from x by the boundary rule when ``sampled`` keeps it aside
    (:data:`TILE_RULES`, ``Problem.unextended``: no extended copy of the whole input), else
    from z with zeros beyond it — transformed on one core, multiplied by the kernel's
    spectrum and transformed back; its outputs are taken with the stride.  The cores take
    equal runs of jobs (:func:`ndconv.methods._numba_kernels.run_jobs`), each on its own
    thread with one FFT worker; a tile's outputs come from its own transform only, so the
    result does not depend on how the jobs are shared.
    """
    nd = sampled.ndim
    z = sampled.z
    nb = z.ndim - nd
    real = z.dtype.kind != "c" and sampled.h.dtype.kind != "c"
    kds, counts, strides = sampled.dilated_shape, sampled.counts, sampled.strides
    sizes, outs, _, _ = tile_plan(kds, counts, strides, real, cpu_count())
    spectrum = _kernel_forward(dilate(sampled.h, sampled.dilations), tuple(range(nb, nb + nd)), sizes, real)
    batch = sampled.batch_shape
    out = np.empty(batch + counts, dtype=z.dtype)
    boundary = sampled.boundary if sampled.boundary in TILE_RULES else "constant"
    parts = [_tile_axis(n, kd, c, b, st, s, boundary)
             for n, kd, c, b, st, s in zip(sampled.input_shape, kds, counts, outs, sampled.starts, strides)]
    grid = tuple(len(p) for p in parts)
    ntiles = math.prod(grid)
    rows = list(np.ndindex(*batch)) if nb else [()]
    z_batch, h_batch = z.shape[:nb], spectrum.shape[:nb]
    forward = sfft.rfftn if real else sfft.fftn
    inverse = sfft.irfftn if real else sfft.ifftn
    axes = tuple(range(nd))
    # interior tiles fill the same leading block of the buffer, beyond which it stays zero;
    # any other tile (zeros beyond z, or the last, shorter one on an axis) zeroes it first
    standard = tuple(slice(0, (b - 1) * s + kd) for b, s, kd in zip(outs, strides, kds))

    def source(index: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(i if n > 1 else 0 for i, n in zip(index, shape))

    def run(lo: int, hi: int) -> None:
        buf = np.zeros(sizes, dtype=z.dtype)
        for job in range(lo, hi):
            row, tile = divmod(job, ntiles)
            index = rows[row]
            picked = [p[g] for p, g in zip(parts, np.unravel_index(tile, grid))]
            piece = z[source(index, z_batch) + tuple(p[0] for p in picked)]
            for axis, p in enumerate(picked):
                if p[1] is not None:               # samples the rule repeats or mirrors
                    piece = np.take(piece, p[1], axis=axis)
            write = tuple(p[2] for p in picked)
            if write != standard:
                buf.fill(0)
            buf[write] = piece
            spec = forward(buf, axes=axes, workers=1)
            spec *= spectrum[source(index, h_batch)]
            out[index + tuple(p[4] for p in picked)] = inverse(spec, s=sizes, axes=axes,
                                                               workers=1)[tuple(p[3] for p in picked)]

    jobs = len(rows) * ntiles
    run_jobs(run, (), jobs, parallel=tile_units(math.prod(sizes), real) * jobs >= PARALLEL_TILE_UNITS)
    return out


def blockwise_sampled(sampled: Sampled, axis: int | None = None) -> np.ndarray:
    """Overlap-add (overlap-save form): along one convolved axis in 1-D (or with
    ``axis``), in tiles on every axis in 2-D and nD (:func:`tiled_sampled`)."""
    nd = sampled.ndim
    if nd > 1 and axis is None:
        return tiled_sampled(sampled)
    nb = sampled.z.ndim - nd
    if axis is None:
        axis = int(np.argmax(sampled.counts))
    real = sampled.z.dtype.kind != "c"
    kd, count, s, start = sampled.dilated_shape[axis], sampled.counts[axis], sampled.strides[axis], sampled.starts[axis]
    size, b = block_length(kd, count, s)
    nblocks = -(-count // b)
    seg = (b - 1) * s + kd
    ax = nb + axis
    n = sampled.z.shape[ax]
    before = max(0, kd - 1 - start)
    first = start + before - (kd - 1)
    after = max(0, first + (nblocks - 1) * b * s + seg - (n + before))
    widths = [(0, 0)] * sampled.z.ndim
    widths[ax] = (before, after)
    zp = np.pad(sampled.z, widths) if before or after else sampled.z
    windows = sliding_window_view(zp, seg, axis=ax)  # new last axis: segment samples
    sel = [slice(None)] * windows.ndim
    sel[ax] = slice(first, first + (nblocks - 1) * b * s + 1, b * s)
    windows = windows[tuple(sel)]

    others = [a for a in range(nd) if a != axis]
    sizes_other = transform_sizes(sampled, real)
    axes = tuple(nb + a for a in others) + (windows.ndim - 1,)
    sizes = tuple(sizes_other[a] for a in others) + (size,)
    hd = dilate(sampled.h, sampled.dilations)
    hd = np.expand_dims(np.moveaxis(hd, nb + axis, -1), nb + axis)  # blocks broadcast over it

    takes = tuple(slice(sampled.starts[a], sampled.starts[a] + (sampled.counts[a] - 1) * sampled.strides[a] + 1,
                        sampled.strides[a]) for a in others) + (slice(kd - 1, kd - 1 + (b - 1) * s + 1, s),)

    per_block = max(1, windows[tuple([slice(None)] * ax + [slice(0, 1)])].size // seg * size * 16)
    group = max(1, min(nblocks, BLOCK_BATCH_BYTES // per_block))
    pieces = []
    for g0 in range(0, nblocks, group):
        sel = [slice(None)] * windows.ndim
        sel[ax] = slice(g0, g0 + group)
        pieces.append(convolve_spectra(windows[tuple(sel)], hd, axes, sizes, takes))
    blocks = np.concatenate(pieces, axis=ax) if len(pieces) > 1 else pieces[0]
    # (…, nblocks, …, b) → (…, nblocks·b, …) → first `count` outputs
    blocks = np.moveaxis(blocks, -1, ax + 1)
    shape = blocks.shape[:ax] + (nblocks * b,) + blocks.shape[ax + 2:]
    out = blocks.reshape(shape)
    sel = [slice(None)] * out.ndim
    sel[ax] = slice(0, count)
    return np.ascontiguousarray(out[tuple(sel)], dtype=sampled.z.dtype)


def fits_in_memory(sampled: Sampled) -> bool:
    need = spectral_bytes(sampled)
    return need <= MEMORY_SHARE * available_bytes(need / MEMORY_SHARE)
