"""Compiled loops of the direct method (Numba, cached on disk).

One loop form serves every dimension: the output is cut into rows along its
last axis (and rows into blocks of ``BLOCK`` samples, so two cores share even
a single 1-D row); each block accumulates the kernel taps four at a time over
zero-based views of the input, which LLVM vectorises.  ``tap_offsets``,
``row_offsets`` and ``out_offsets`` are flat element offsets into one batch
item of the input and of the output, so the same loop runs 1-D, 2-D and nD
problems, and any box of outputs (an interior or a border strip) can be
written in place.  With a stride along the rows (``_strided_rows``), the taps that
read the same decimated sequence share one gathered run per block, and sum over
the runs with unit steps.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from time import perf_counter

import numba
import numpy as np

from .._memory import cpu_count, machine_cores, one_core
from ._taps import ONE_PASS_TAPS, grid_shape, run_pass_cols, shares_cores  # shared with the cost model

BLOCK = 2048


_options = dict(cache=True, nogil=True, fastmath={"contract"}, boundscheck=False, error_model="numpy")


@numba.njit(**_options)
def _job_block(job, nrows, nblocks, ncols):  # pragma: no cover - compiled
    """Job → (batch item, output row, first column of its block, the block's length)."""
    b = job // (nrows * nblocks)
    rest = job - b * nrows * nblocks
    r = rest // nblocks
    c0 = (rest - r * nblocks) * BLOCK
    return b, r, c0, numba.uint64(min(ncols, c0 + BLOCK) - c0)


@numba.njit(**_options)
def _correlate_rows(z, weights, tap_offsets, row_offsets, stride, ncols, out, out_offsets,
                    job_lo, job_hi):  # pragma: no cover - compiled
    # Offsets are unsigned so that no negative-index wrap-around test sits in the
    # inner loops (it blocks vectorisation), and no array view is created per
    # tap (reference counting would dominate short rows).
    nrows = row_offsets.size
    ntaps = weights.size
    nblocks = (ncols + BLOCK - 1) // BLOCK
    step = numba.uint64(stride)
    for job in range(job_lo, job_hi):
        b, r, c0, m = _job_block(job, nrows, nblocks, ncols)
        zb = z[b]
        ob = out[b]
        o = numba.uint64(out_offsets[r] + c0)
        base = numba.uint64(row_offsets[r] + c0 * stride)
        for i in range(m):
            ob[o + i] = 0
        t = 0
        while stride == 1 and t + 4 <= ntaps:  # four taps fused per pass over the block
            w0 = weights[t]
            w1 = weights[t + 1]
            w2 = weights[t + 2]
            w3 = weights[t + 3]
            i0 = base + numba.uint64(tap_offsets[t])
            i1 = base + numba.uint64(tap_offsets[t + 1])
            i2 = base + numba.uint64(tap_offsets[t + 2])
            i3 = base + numba.uint64(tap_offsets[t + 3])
            for i in range(m):
                ob[o + i] += w0 * zb[i0 + i] + w1 * zb[i1 + i] + w2 * zb[i2 + i] + w3 * zb[i3 + i]
            t += 4
        while t < ntaps:
            w0 = weights[t]
            i0 = base + numba.uint64(tap_offsets[t])
            if stride == 1:
                for i in range(m):
                    ob[o + i] += w0 * zb[i0 + i]
            else:
                for i in range(m):
                    ob[o + i] += w0 * zb[i0 + i * step]
            t += 1


#: taps of a strided row share one gathered run while their samples lie at most this many
#: strides after the previous tap's (a 2-D kernel's rows lie a row of the image apart)
GATHER_GAP = 64
#: gather where the taps read each gathered run this many times on average, or more (2048²
#: float32, 5×5: stride 2, 2.5 taps per run, 4.4 → 2.9 ms; stride 4, 1.25, 1.4 → 1.5 ms)
GATHER_SHARE = 1.5


def stride_groups(tap_offsets: np.ndarray, stride: int, ncols: int) -> tuple:
    """How :func:`_strided_rows` gathers: taps whose offsets agree modulo ``stride``, in
    runs of at most ``GATHER_GAP`` strides between neighbours, share a group.  Returns each
    tap's start in the gathered runs (``reads``), each group's first offset (``starts``)
    and largest shift (``spans``), and the length of one run (``width``); read-only, kept
    per geometry (working them out took 21 µs, a 32² 5×5 stride-2 call's frames three times)."""
    return _stride_groups(np.ascontiguousarray(tap_offsets, dtype=np.intp).tobytes(), stride, min(ncols, BLOCK))


@lru_cache(maxsize=64)
def _stride_groups(taps: bytes, stride: int, block: int) -> tuple:
    tap_offsets = np.frombuffer(taps, dtype=np.intp)
    phase, whole = tap_offsets % stride, tap_offsets // stride
    order = np.lexsort((whole, phase))
    p, w = phase[order], whole[order]
    new = np.ones(order.size, dtype=bool)
    new[1:] = (p[1:] != p[:-1]) | (w[1:] - w[:-1] > GATHER_GAP)
    group_sorted = np.cumsum(new) - 1
    firsts = np.flatnonzero(new)
    shift_sorted = w - w[firsts][group_sorted]
    spans = np.maximum.reduceat(shift_sorted, firsts)
    width = block + int(spans.max())
    reads = np.empty(order.size, dtype=np.uint64)
    reads[order] = group_sorted * width + shift_sorted
    tables = reads, tap_offsets[order][firsts].astype(np.intp), spans.astype(np.intp)
    for table in tables:
        table.setflags(write=False)
    return (*tables, width)


@numba.njit(**_options)
def _strided_rows(z, weights, reads, starts, spans, width, stride, row_offsets, ncols, out, out_offsets,
                  job_lo, job_hi):  # pragma: no cover - compiled
    # A strided row read tap by tap loads every sample through a stride, once per tap,
    # which does not vectorise.  Taps whose offsets agree modulo the stride read the same
    # decimated sequence, shifted by whole steps: each such sequence (a group, see
    # :func:`stride_groups`) is gathered once per block into a contiguous run, and the taps
    # then sum over the runs with unit steps, four at a time, in the unit-stride loop's order.
    ntaps = weights.size
    ngroups = starts.size
    nrows = row_offsets.size
    nblocks = (ncols + BLOCK - 1) // BLOCK
    step = numba.uint64(stride)
    runs = np.empty(ngroups * width, dtype=out.dtype)
    # local copies of the tables: read from the caller's arrays, which LLVM cannot prove
    # apart from ``out``, the loops took 1.6x as long (2048² 5×5 stride 2 on one core)
    reads = reads.copy()
    starts = starts.copy()
    spans = spans.copy()
    for job in range(job_lo, job_hi):
        b, r, c0, m = _job_block(job, nrows, nblocks, ncols)
        zb = z[b]
        ob = out[b]
        o = numba.uint64(out_offsets[r] + c0)
        base = numba.uint64(row_offsets[r] + c0 * stride)
        for g in range(ngroups):
            src = base + numba.uint64(starts[g])
            dst = numba.uint64(g * width)
            for i in range(m + numba.uint64(spans[g])):
                runs[dst + i] = zb[src + i * step]
        for i in range(m):
            ob[o + i] = 0
        t = 0
        while t + 4 <= ntaps:
            w0 = weights[t]
            w1 = weights[t + 1]
            w2 = weights[t + 2]
            w3 = weights[t + 3]
            i0 = reads[t]
            i1 = reads[t + 1]
            i2 = reads[t + 2]
            i3 = reads[t + 3]
            for i in range(m):
                ob[o + i] += w0 * runs[i0 + i] + w1 * runs[i1 + i] + w2 * runs[i2 + i] + w3 * runs[i3 + i]
            t += 4
        while t < ntaps:
            w0 = weights[t]
            i0 = reads[t]
            for i in range(m):
                ob[o + i] += w0 * runs[i0 + i]
            t += 1


_pool: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=machine_cores(), thread_name_prefix="ndconv")
    return _pool


_UNROLLED = None


def _generated():
    """The generated loops (``_unrolled``), imported on first use (an import statement in
    ``correlate_rows`` cost 2 µs a call)."""
    global _UNROLLED
    if _UNROLLED is None:
        from . import _unrolled

        _UNROLLED = _unrolled
    return _UNROLLED


def correlate_rows(z: np.ndarray, weights: np.ndarray, tap_offsets: np.ndarray, row_offsets: np.ndarray,
                   stride: int, ncols: int, out: np.ndarray, out_offsets: np.ndarray,
                   first: Overlap | None = None) -> None:
    """``out[b, out_offsets[r] + i] = Σ_t w[t] · z[b, row_offsets[r] + i·stride + tap_offsets[t]]``.

    ``z`` and ``out`` are 2-D (batch, flat item), ``i = 0 … ncols−1``.  Large
    problems are shared by all cores: the compiled loop releases the GIL and
    each thread takes an equal range of (row, block) jobs.  ``first`` is other work
    of this thread that runs while the other cores start on their ranges (see
    :func:`run_jobs`).
    """
    jobs = z.shape[0] * row_offsets.size * ((ncols + BLOCK - 1) // BLOCK)
    work = z.shape[0] * row_offsets.size * ncols * max(1, weights.size)
    args = (z, weights, tap_offsets, row_offsets, stride, ncols, out, out_offsets)
    loop = _correlate_rows
    groups = stride_groups(tap_offsets, stride, ncols) if stride != 1 else None
    if groups is not None and weights.size >= GATHER_SHARE * groups[1].size:
        loop, args = _strided_rows, (z, weights, *groups, stride, row_offsets, ncols, out, out_offsets)
    elif stride == 1 and weights.size in ONE_PASS_TAPS:   # every tap in one pass (see _unrolled)
        loop = _generated().ROWS[weights.size]
    elif stride == 1 and z.dtype.kind != "c" and (shape := grid_shape(tap_offsets)) is not None:
        loop = _generated().GRID[shape]
    elif stride == 1 and z.dtype.kind != "c" and (cols := run_pass_cols(tap_offsets)) is not None:
        loop = _generated().RUNS[cols]   # more taps, in runs: one pass per run
    run_jobs(loop, args, jobs, parallel=shares_cores(work, z.dtype), first=first)


class Overlap:
    """Work of the calling thread to run before its share of a parallel loop
    (``job``, on one core), and what it cost last time against the loop: the share
    of a loop's time that ``job`` took, kept as a running mean (``ratio``)."""

    __slots__ = ("job", "ratio")

    def __init__(self, job, ratio: float = 0.0):
        self.job = job
        self.ratio = ratio


#: weight of the newest measurement in an Overlap's running mean (each clipped to [0, 1]:
#: a first call's job includes compiling its loops)
OVERLAP_MEMORY = 0.5
#: this thread keeps at least this share of its equal range, so that the loop's time is
#: measured on every call
OVERLAP_KEEP = 0.25


def run_jobs(loop, args: tuple, jobs: int, parallel: bool, first: Overlap | None = None) -> None:
    """``loop(*args, lo, hi)`` over jobs ``0 … jobs−1``: in this thread, or (``parallel``)
    in equal ranges on every core, this thread taking the first (the loops release the GIL).

    With ``first``, this thread runs ``first.job()`` before its range, and the ranges
    are cut so that every core ends at once: this thread's is shorter by what the job
    cost last time (``first.ratio``, its time over the loop's on all the jobs; measured
    and updated here).  Without other cores the job simply runs first.  Which core sums
    which rows never changes a result.
    """
    cores = cpu_count()
    if not parallel or jobs < 2 or cores < 2:
        if first is not None:
            first.job()
        loop(*args, 0, jobs)
        return
    parts = min(cores, jobs)
    if first is None:
        bounds = [jobs * p // parts for p in range(parts + 1)]
    else:   # others: (1 + f)/parts of the jobs each; this thread the rest, after the job (f of the jobs' time)
        f = min(first.ratio, (1 - OVERLAP_KEEP) / (parts - 1))
        head = max(1, round(jobs * (1 - (parts - 1) * f) / parts))
        bounds = [0] + [head + round((jobs - head) * p / (parts - 1)) for p in range(parts)]
    futures = [_threads().submit(loop, *args, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    try:
        if first is not None:
            start = perf_counter()
            with one_core():   # the others are busy: the job's own loops stay on this thread
                first.job()
            middle = perf_counter()
            loop(*args, bounds[0], bounds[1])
            loop_time = (perf_counter() - middle) * jobs / bounds[1]   # on all the jobs, from this thread's range
            ratio = min(1.0, (middle - start) / loop_time) if loop_time > 0 else 1.0
            first.ratio += OVERLAP_MEMORY * (ratio - first.ratio)
        else:
            loop(*args, bounds[0], bounds[1])
    finally:   # the other ranges are finished before anything is returned or raised
        for future in futures:
            future.result()
