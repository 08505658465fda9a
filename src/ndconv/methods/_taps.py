"""Flat element offsets of kernel taps and output rows for the row-wise loops."""

from __future__ import annotations

import functools
import math

import numpy as np

#: real output × tap products from which the row-wise loops share their jobs among all
#: cores (:func:`shares_cores`); the cost model divides the loops' work by the cores
#: from here on.  An empty task's round trip through the pool took 81 µs here (median;
#: p99 266 µs), and jobs of 2–4 M products (about 0.2–0.45 ms on one core) gained
#: nothing from the second core: two cores / one, paired over 60 alternating calls,
#: 2026-11-23 and 2026-11-24: 2-D float64 3×3 512² 1.16 and 1.30, 640² 1.14 and 1.30,
#: 5×5 320² 1.12 and 1.09, 1-D K=64 2^15 0.98 and 1.25, K=8 2^18 1.01 and 1.21.  From
#: 4 M on two cores mostly won (5×5 400² 0.92, 512² 0.86; 3×3 1024² 0.73)
PARALLEL_WORK = 1 << 22
#: a complex product is four real ones (complex64 5×5 384², 3.7 M products: 0.76 and 1.06)
COMPLEX_WORK = 4
#: the fused separable row loops' own line, on their measure n0·n1·(k0 + k1), which leaves
#: out the row buffer each output writes and reads back: float64 5×5 Gaussian 512² (2.6 M)
#: 0.97 and 1.00, 640² (4.1 M) 0.67; float32 512² 0.80–1.20, 640² 0.90
SEP_PARALLEL_WORK = 1 << 21


def sep_shares_cores(outputs: int, taps: int) -> bool:
    """Whether the fused separable row loops of ``outputs`` outputs and ``taps`` taps (both
    factors together) are shared among the cores: the one rule the loops and the planner use."""
    return outputs * taps >= SEP_PARALLEL_WORK


def shares_cores(work: int, dtype: np.dtype) -> bool:
    """Whether loops of ``work`` output × tap products in ``dtype`` are shared among the cores."""
    return work * (COMPLEX_WORK if dtype.kind == "c" else 1) >= PARALLEL_WORK
#: tap counts whose row loop keeps every tap in registers and runs in one pass
#: (``_unrolled``, stride 1); more taps run four at a time (``_numba_kernels``)
ONE_PASS_TAPS = range(2, 10)
#: up to this many taps, a kernel whose taps come in runs of consecutive samples
#: (its last axis undilated) also runs in one pass (``_unrolled._grid_RxC``) — for real
#: samples only: with complex ones these loops ran 1.3–2.4× slower than four taps per
#: pass (complex64 1024² 5×5: 16.9 against 7.0 ms; 2^16 × 16 taps: 1.8 against 0.9 ms)
ONE_PASS_RUN_TAPS = 25
#: kernels of more taps, in runs of consecutive samples of these lengths (the rows of a
#: 2-D or nD kernel with an undilated last axis), are summed one run per pass
#: (``_unrolled._runs_C``).  Runs of two taps gained nothing over four taps per pass,
#: nor did long 1-D kernels cut into runs of 16 (2^20 float64, 64 to 512 taps: 0.93 to
#: 1.06 of the time); complex samples stay with four taps per pass (as in ``_grid``)
RUN_PASS_COLS = range(3, 26)
#  (Tried and left out: a paired form, two output rows per job loading each run both
#  read once.  2048² float32 6×6 to 13×13 ran in 0.81–0.86 of these loops' time, 0.66–0.83
#  of OpenCV's filter2D, but compiling it on first use added 1.1–4.7 s to the call, past
#  the 2 s a new signature may cost.)


def _grid_taps(taps: int) -> bool:
    """Whether some ``_grid`` loop sums this many taps (the ``_rows`` loops take 2 to 9)."""
    return taps not in ONE_PASS_TAPS and taps <= ONE_PASS_RUN_TAPS


def one_pass_shape(taps: int, run: int) -> tuple[int, int] | None:
    """``(R, C)`` of the one-pass ``_grid`` loop for ``taps`` in runs of ``run``, if there is one."""
    if not _grid_taps(taps) or run < 2 or taps % run:
        return None
    return taps // run, run


def grid_shape(offsets: np.ndarray) -> tuple[int, int] | None:
    """:func:`one_pass_shape` of these tap offsets; their runs are worked out only for
    tap counts that a ``_grid`` loop sums."""
    return one_pass_shape(offsets.size, runs(offsets)) if _grid_taps(offsets.size) else None


def run_pass_cols(offsets: np.ndarray) -> int | None:
    """C of the ``_runs_C`` loop that sums these real taps one run per pass (stride 1), if
    any: for more taps than the one-pass loops take, in runs of a length it has."""
    if offsets.size <= ONE_PASS_RUN_TAPS:
        return None
    run = runs(offsets)
    return run if run in RUN_PASS_COLS else None


def runs(offsets: np.ndarray) -> int:
    """Length of the runs of consecutive offsets the taps come in (1: none).

    Remembered per offsets (the row loops ask on every call, and working it out took
    13–15 µs: half of a small 2-D 5×5 call's three loop calls' overhead)."""
    return _runs(offsets.tobytes(), offsets.dtype.str)


@functools.lru_cache(maxsize=256)
def _runs(key: bytes, dtype: str) -> int:
    offsets = np.frombuffer(key, dtype=dtype)
    n = offsets.size
    steps = np.flatnonzero(np.diff(offsets) != 1)
    run = int(steps[0]) + 1 if steps.size else n
    if run < 2 or n % run or not (np.diff(offsets.reshape(-1, run), axis=1) == 1).all():
        return 1
    return run


def one_pass(kernel_shape: tuple[int, ...], dilations: tuple[int, ...], stride: int, complex_: bool = False) -> bool:
    """Whether the row loops sum every tap in one pass (the cost model's question)."""
    taps = math.prod(kernel_shape)
    if stride != 1:
        return False
    run = _kernel_run(kernel_shape, dilations)
    return taps in ONE_PASS_TAPS or (not complex_ and one_pass_shape(taps, run) is not None)


def _kernel_run(kernel_shape: tuple[int, ...], dilations: tuple[int, ...]) -> int:
    """Length of the runs of consecutive samples a kernel's taps read: its last axis
    when that is undilated, else 1 (the cost model's stand-in for :func:`runs`)."""
    return kernel_shape[-1] if kernel_shape and dilations[-1] == 1 else 1


def run_passes(kernel_shape: tuple[int, ...], dilations: tuple[int, ...], stride: int,
               complex_: bool = False) -> bool:
    """Whether the row loops sum the taps one run per pass (the cost model's question)."""
    return (stride == 1 and not complex_ and math.prod(kernel_shape) > ONE_PASS_RUN_TAPS
            and _kernel_run(kernel_shape, dilations) in RUN_PASS_COLS)


def element_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """C-order strides of ``shape`` counted in elements."""
    strides = [1] * len(shape)
    for a in range(len(shape) - 2, -1, -1):
        strides[a] = strides[a + 1] * int(shape[a + 1])
    return tuple(strides)


def grid_offsets(counts: tuple[int, ...], origin: tuple[int, ...], steps: tuple[int, ...],
                 strides: tuple[int, ...]) -> np.ndarray:
    """``Σ_a (origin[a] + i[a]·steps[a]) · strides[a]`` over the C-order grid ``counts``."""
    total = int(sum(int(o) * int(s) for o, s in zip(origin, strides)))
    if not counts:   # one row (1-D problems): the common small call, kept cheap
        return np.full(1, total, dtype=np.int64)
    offsets = np.full(math.prod(counts), total, dtype=np.int64)
    grid = np.indices(counts, dtype=np.int64).reshape(len(counts), -1)
    for a in range(len(counts)):
        offsets += grid[a] * (int(steps[a]) * int(strides[a]))
    return offsets


@functools.lru_cache(maxsize=512)
def _tap_offsets(kernel_shape: tuple[int, ...], dilations: tuple[int, ...], item_shape: tuple[int, ...]) -> np.ndarray:
    return grid_offsets(kernel_shape, (0,) * len(kernel_shape), dilations, element_strides(item_shape))


def tap_offsets(kernel_shape: tuple[int, ...], dilations: tuple[int, ...], item_shape: tuple[int, ...]) -> np.ndarray:
    """Offsets of the taps of the flipped kernel (C order) in an item of ``item_shape``.

    Remembered (building them cost a small call 10 µs), so callers must not write to
    them; they stay writeable because the compiled loops would compile a second,
    read-only version of themselves."""
    return _tap_offsets(tuple(map(int, kernel_shape)), tuple(map(int, dilations)), tuple(map(int, item_shape)))
