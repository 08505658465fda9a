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

from .._memory import cpu_count
from . import _opencv, _sep_rows, _taps, direct, separable
from ._costs import constants
from ._finite import all_finite
from ._guards import guarded
from ._problem import Problem
from ._taps import sep_shares_cores, shares_cores
from .fft import (
    PARALLEL_POINTS,
    TILE_POINTS,
    TILE_RULES,
    block_length,
    blockwise_sampled,
    fft_sampled,
    fits_in_memory,
    periodic_sampled,
    periodic_sizes,
    tile_plan,
    tile_units,
    transform_sizes,
)

#: a cost: terms ``(constant name, units)`` and a reason; seconds = Σ constant · units
Terms = list[tuple[str, float]]
Cost = tuple[Terms | None, str]


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable[[Problem], np.ndarray]
    terms: Callable[[Problem], Cost]
    exact: bool
    summary: str

    def cost(self, problem: Problem) -> tuple[float, str]:
        """Predicted seconds (``inf`` where the method does not apply) and why."""
        terms, reason = self.terms(problem)
        if terms is None:
            return math.inf, reason
        return _seconds(terms), reason


def _dtype_key(dtype: np.dtype) -> str:
    """Suffix of the direct-loop constant: f4, f8, c8, c16, or i8 for integers."""
    key = np.dtype(dtype).str[1:]
    return key if key in ("f4", "f8", "c8", "c16") else "i8"


def _precision_key(dtype: np.dtype) -> str:
    return "f4" if np.dtype(dtype) in (np.float32, np.complex64) else "f8"


def _size(shape) -> int:
    return math.prod(shape)


#: below this many transform units, threads cost more than they save
PARALLEL_UNITS = 2**20


def _parallel(independent: int, units: float) -> float:
    """How many cores share ``units`` of work made of ``independent`` equal pieces."""
    if units < PARALLEL_UNITS:
        return 1.0
    return float(max(1, min(cpu_count(), independent)))


#: the one-pass loops (2 to 9 taps, stride 1) cost this share of the generic ones per
#: output × tap (measured: 3×3 on 2048² float32 5.2 → 3.6 ms, K=8 on 2^20 float64 2.0 → 1.4 ms)
ONE_PASS_FACTOR = 0.7
#: and the loops with one pass per run of taps (more than 25 taps in rows of 3 to 25,
#: ``_taps.run_passes``; measured against four taps per pass, whole calls, 2048² float32:
#: 6×6 to 11×11 0.85–0.97; 3-D 128³ 5³ 0.90–0.97, 96³ 7³ 0.89, 3×3×9 0.81)
RUN_PASS_FACTOR = 0.9
#: float32 (complex64) samples summed by float64 (complex128) loops, against all-float64
#: ones (measured: 512² 15×15 reflect, 8.2 ms against 7.7 ms; the float32 price was 2× low)
MIXED_FACTOR = 1.1


#: the border frames' fixed cost (two gathers, a transpose and two more loop calls), in
#: calls.  Without it the loops were priced below OpenCV's filter2D for small and mid-size
#: 2-D images where they ran 1.2–1.9× slower (96²–512², 3×3 to 5×5, 54 interleaved cases
#: against OpenCV, four runs: 7 choices cost over 1.1×, the worst 1.89×; with it 2, 1.34×)
FRAMES_CALLS = 1


#: the engine comparison (:func:`direct_engine`) prices the loops with these in place of
#: ONE_PASS_FACTOR, RUN_PASS_FACTOR and FRAMES_CALLS, and OpenCV's streamed bytes at
#: OPENCV_STREAM_SHARE of theirs.  Fitted to the loops against filter2D on 100 interleaved
#: 2-D cases (128² to 2048², 3×3 to 11×11, float32/float64, constant/reflect, on the
#: 2-core AVX-512 machines): the method ranking's factors priced the loops 2.6–3.5× above
#: their time and OpenCV 2–3×, so the comparison took OpenCV for 7×7 to 11×11 on 2048²
#: float32, where the loops were 1.11–1.16× faster, and the loops for 3×3 on 512², where
#: OpenCV was 2× faster.  Summed log regret of the engine choice over the 100 cases 3.9 →
#: 0.78; within 1.05× of the faster engine 80 → 94 %, the worst 2.26× → 1.35×.  The
#: method ranking keeps its own factors (refitting them moved the planner's regret grid
#: from 101 to 98 of 102 cases within 1.1×: small 3-D problems went to the loops)
ENGINE_ONE_PASS_FACTOR = 0.5
ENGINE_RUN_PASS_FACTOR = 0.5
ENGINE_FRAMES_CALLS = 4
OPENCV_STREAM_SHARE = 0.5


def _loops_terms(problem: Problem, one_pass_factor: float | None = None, run_pass_factor: float | None = None,
                 frames_calls: float | None = None) -> Cost:
    """The compiled loops: work per core, streamed bytes, the padded border strips (the
    factors default to ONE_PASS_FACTOR, RUN_PASS_FACTOR and FRAMES_CALLS)."""
    spec = problem.spec
    outputs = _size(spec.output_shape)
    taps = _size(spec.kernel_shape)
    work = outputs * taps
    border = _size(spec.x.shape[:spec.x.ndim - spec.ndim]) * sum(
        _size(spec.x.shape[spec.x.ndim - spec.ndim:]) // g.n * (g.pad_before + g.pad_after) for g in spec.geometry)
    streamed = outputs * 2 * spec.compute_dtype.itemsize
    # the loops share rows and blocks among the cores as _taps.shares_cores says
    cores = float(cpu_count()) if shares_cores(work, spec.compute_dtype) and outputs >= 2 else 1.0
    loops = (spec.kernel_shape, tuple(g.dilation for g in spec.geometry), spec.geometry[-1].stride,
             spec.compute_dtype.kind == "c")
    one_pass = _taps.one_pass(*loops)
    run_passes = not one_pass and _taps.run_passes(*loops)
    note = "compiled loops" + ("" if cores == 1 else f" on {cores:.0f} cores") + (
        ", one pass" if one_pass else ", one pass per kernel row" if run_passes else "")
    key = _dtype_key(spec.compute_dtype)
    one_pass_factor = ONE_PASS_FACTOR if one_pass_factor is None else one_pass_factor
    run_pass_factor = RUN_PASS_FACTOR if run_pass_factor is None else run_pass_factor
    frames_calls = FRAMES_CALLS if frames_calls is None else frames_calls
    factor = one_pass_factor if one_pass else run_pass_factor if run_passes else 1.0
    if key == "i8" and _float64_loops(spec):   # exact integers summed by the float64 loops
        key, border = "f8", border + spec.x.size + outputs        # the casts to float64 and back
    accumulator = direct.accumulator_dtype(spec.compute_dtype, taps)
    if accumulator != spec.compute_dtype:      # many float32 taps: summed in float64
        key, factor = _dtype_key(accumulator), factor * MIXED_FACTOR
        note += f", {accumulator.name} sums"
    calls = 1 + (frames_calls if spec.ndim >= 2 and border and not direct.padded_whole(spec.x.size, spec.ndim) else 0)
    return ([("call", calls), ("direct_" + key, work / cores * factor),
             ("direct_stream", streamed / cores), ("copy", border)], note)


def _float64_loops(spec) -> bool:
    """Whether an integer problem runs the float64 loops (``Σ|h|·max|x̃| < 2**53``, see direct.exact_integer)."""
    return direct.spec_integer_bound(spec) < direct.FLOAT64_EXACT_BOUND


def _opencv_filter2d_terms(problem: Problem) -> Cost:
    spec = problem.spec
    if not _opencv.filter2d_applies(spec) or not direct.kernel_facts(spec.kernel)[0]:
        return None, ""
    # OpenCV sums every sample of the image, zero-extended to a longer window ('full'); a
    # shorter one ('valid') is cut from the whole result
    below, right = _opencv.extension(spec)
    rows, cols = spec.geometry
    outputs = _size(spec.batch_shape) * (rows.n + below) * (cols.n + right)
    terms = [("call", 1), ("opencv_" + _precision_key(spec.compute_dtype), outputs * _size(spec.kernel_shape)),
             ("direct_stream", outputs * 2 * spec.compute_dtype.itemsize)]
    if below or right:   # the image copied with zeros appended (copyMakeBorder), one more call
        terms += [("call", 1), ("copy", outputs)]
    if not direct.opencv_keeps_nonfinite(problem):
        terms.append(_scan_term(spec))
    return terms, "OpenCV filter2D"


def direct_engine(problem: Problem) -> tuple[str, Cost]:
    """``('opencv' | 'loops', cost)``: the engine the direct method runs, and its price.

    The engine is the cheaper one by the engine comparison's factors (ENGINE_*,
    OPENCV_STREAM_SHARE); the price given to the planner is the cheaper engine's in
    the method ranking's own factors, the scale its other methods are priced in."""
    loops = _loops_terms(problem)
    other = _opencv_filter2d_terms(problem)
    if other[0] is None:
        return "loops", loops
    fit_loops = _loops_terms(problem, ENGINE_ONE_PASS_FACTOR, ENGINE_RUN_PASS_FACTOR, ENGINE_FRAMES_CALLS)[0]
    fit_opencv = [(key, units * OPENCV_STREAM_SHARE if key == "direct_stream" else units)
                  for key, units in other[0]]
    engine = "opencv" if _seconds(fit_opencv) <= _seconds(fit_loops) else "loops"
    price = other[0] if _seconds(other[0]) <= _seconds(loops[0]) else loops[0]
    return engine, (price, other[1] if engine == "opencv" else loops[1])


def _direct_terms(problem: Problem) -> Cost:
    return direct_engine(problem)[1]


def _scan_term(spec) -> tuple[str, float]:
    """The NaN/Inf scan of x that must precede an engine which would not keep them local."""
    return ("direct_stream", spec.x.size * spec.compute_dtype.itemsize)


def _fft_units(shape: tuple[int, ...], count: float, real: bool) -> float:
    size = float(math.prod(shape))
    return count * size * max(1.0, math.log2(max(size, 2))) * (0.5 if real else 1.0)


#: fixed cost of the fft method, in calls, plus one per transformed axis: the tiny problem
#: of each rank costs (measured, float32, calls of 28 µs on that machine) 1-D 16 samples
#: 2.6 calls, 2-D 8² 3.8, 3-D 4³ 4.8 (once small transforms ran on one thread, see
#: fft.PARALLEL_POINTS; before, 3-D cost 22)
FFT_CALLS = 2


def _scipy_fft_terms(problem: Problem) -> Cost:
    spec = problem.spec
    real = spec.compute_dtype.kind != "c"
    sizes = _periodic(problem) or transform_sizes(problem.layout, real)
    batch = _size(spec.batch_shape)
    kbatch = _size(spec.kernel.shape[:spec.kernel.ndim - spec.ndim])
    # input and inverse transforms per batch row, the kernel's (pruned: about half) per kernel;
    # one 1-D transform runs on one core, many rows of a large enough call share all cores
    units = _fft_units(sizes, 2 * batch + 0.5 * kbatch, real)
    if batch * _size(sizes) >= PARALLEL_POINTS:
        units /= _parallel(batch * _size(sizes[:-1]), units)
    return [("call", FFT_CALLS + spec.ndim), ("fft_" + _precision_key(spec.compute_dtype), units)], \
        f"transform sizes {sizes}"


def _periodic(problem: Problem) -> tuple[int, ...] | None:
    """Transform sizes of the wrap rule's circular path (fft.periodic_sampled), if it applies."""
    spec = problem.spec
    return periodic_sizes(spec.x.shape[spec.x.ndim - spec.ndim:], spec.boundary, spec.compute_dtype.kind != "c")


def _opencv_dft_terms(problem: Problem) -> Cost:
    """OpenCV's filter2D filters large kernels by blockwise DFT: about 2.5 ms of
    set-up, then a cost per output growing with the log of the kernel size
    (measured, float64 with 13² to 45² kernels: 256² 4 ms, 512² 8 ms, 1024² 24 ms,
    2048² 82–111 ms; without the set-up the model was 1.5–3× low below 1024²).
    Used only for finite inputs."""
    spec = problem.spec
    if not _opencv.window_applies(spec) or max(spec.kernel_shape) <= _opencv.MAX_SIDE:
        return None, ""
    units = _size(spec.output_shape) * math.log2(_size(spec.kernel_shape))
    return [("call", 1), ("opencv_dft_setup", 1),
            ("opencv_dft_" + _precision_key(spec.compute_dtype), units)], "OpenCV filter2D (DFT)"


def _fft_engine(problem: Problem) -> tuple[str, Cost]:
    """``('scipy' | 'opencv', cost)``: the cheaper engine of the fft method."""
    own = _scipy_fft_terms(problem)
    other = _opencv_dft_terms(problem)
    if other[0] is not None and _seconds(other[0]) < _seconds(own[0]):
        return "opencv", other
    return "scipy", own


def _seconds(terms: Terms) -> float:
    c = constants()
    return sum(c[key] * units for key, units in terms)


def _fft_terms(problem: Problem) -> Cost:
    if not fits_in_memory(problem.layout):
        return None, "its transform buffers would not fit in available memory (overlap_add splits it)"
    return _fft_engine(problem)[1]


#: fixed cost of an overlap-add call, in calls: on short signals it measured about 0.25 ms
#: above the direct loops' and the FFT's floors (1-D 4096 samples, 255 taps: 0.56–0.60 ms
#: against 0.42–0.49 ms for fft, which the planner had ranked the other way)
OVERLAP_ADD_CALLS = 8


def _overlap_add_terms(problem: Problem) -> Cost:
    spec = problem.spec
    if spec.ndim > 1:
        return _tile_terms(problem)
    axis = int(np.argmax([g.count for g in spec.geometry]))
    g = spec.geometry[axis]
    size, b = block_length(g.kd, g.count, g.stride, cpu_count())
    nblocks = -(-g.count // b)
    if nblocks < 2:
        return None, "a single block: the same as fft"
    real = spec.compute_dtype.kind != "c"
    sizes = list(transform_sizes(problem.layout, real))
    sizes[axis] = size
    batch = _size(spec.batch_shape)
    units = _fft_units(tuple(sizes), 2 * batch * nblocks + 0.5, real)
    units /= _parallel(batch * nblocks, units)
    return ([("call", OVERLAP_ADD_CALLS), ("overlap_add_" + _precision_key(spec.compute_dtype), units)],
            f"{nblocks} blocks of {b} outputs, transform size {size}")


def _tile_terms(problem: Problem) -> Cost:
    """2-D and nD overlap-add: tiles of fft.tile_plan, shared by the cores (the batch rows'
    tiles together), plus the kernel's transform per kernel row."""
    spec = problem.spec
    layout = problem.layout
    real = spec.compute_dtype.kind != "c"
    whole = _size(transform_sizes(layout, real))
    if whole <= TILE_POINTS:
        return None, f"the whole transform ({whole} points) fits a core's cache: fft is cheaper"
    sizes, outs, tiles, units = tile_plan(layout.dilated_shape, layout.counts, layout.strides, real, cpu_count())
    if tiles < 2:
        return None, "a single tile: the same as fft"
    jobs = _size(spec.batch_shape) * tiles
    kbatch = _size(spec.kernel.shape[:spec.kernel.ndim - spec.ndim])
    work = jobs * units / min(jobs, cpu_count()) + 0.5 * kbatch * tile_units(_size(sizes), real)
    return ([("call", OVERLAP_ADD_CALLS), ("tiles_" + _precision_key(spec.compute_dtype), work)],
            f"{tiles} tiles of {'×'.join(map(str, outs))} outputs, transform size {'×'.join(map(str, sizes))}")


#: x and y of the fused separable loops together up to this many bytes stay in the cores'
#: caches (a fitted line: 1 MiB of L2 per core and 32 MiB of shared L3 here): two item
#: sizes streamed per output, not four.  On 90 Gaussians (128² to 2048², 3 to 15 taps,
#: float32/float64, 2026-11-24) the four bytes everywhere left the direct sum for 5×5
#: float32 up to 384² and 3×3 float64 up to 384² (1.13–1.70× the fused loops' time; 81
#: of 90 within 1.1×); with this, 90 of 90
SEP_CACHED_BYTES = 4 << 20
#: the fused route's work per call beyond the direct sum's (the kernel's factors and their
#: NaN check looked up), in calls: about 1 µs on 8² to 32² images, where the two routes
#: otherwise tie to the nanosecond and the direct sum was 0.93–0.97 of its time
SEP_EXTRA_CALL = 0.02


def _separable_terms(problem: Problem) -> Cost:
    spec = problem.spec
    terms = separable.kernel_factors(spec.kernel, spec.ndim) if spec.compute_dtype.kind not in "iu" else None
    if terms is None:
        return None, "the kernel is not low-rank (or is batched, integer or a single axis)"
    rank = len(terms)
    outputs = _size(spec.output_shape)
    taps = sum(spec.kernel_shape)
    if spec.ndim == 2 and _opencv.sep_window_applies(spec):
        # sepFilter2D's sum.  ndconv's fused loops (up to MAX_TAPS per axis), shared by the
        # cores, keep each row's column sum in cache: x in, y out and the row buffer written
        # and read back once (its cost per output, as in 3×3 filters, where the one-pass direct
        # loops are faster).  Where x and y fit in the cores' caches together
        # (SEP_CACHED_BYTES), only x in and y out count.  OpenCV streams an image through
        # memory per pass (the row pass's result is the column pass's input).  Plus the
        # NaN/Inf scan when zero taps would hide 0·inf from OpenCV.
        itemsize, precision = spec.compute_dtype.itemsize, _precision_key(spec.compute_dtype)
        if max(spec.kernel_shape) <= _sep_rows.MAX_TAPS:
            cores = float(cpu_count()) if sep_shares_cores(outputs, taps) else 1.0
            streamed = 2 if spec.x.nbytes + outputs * itemsize <= SEP_CACHED_BYTES else 4
            cost = [("call", 1 + SEP_EXTRA_CALL), ("sep_rows_" + precision, rank * outputs * taps / cores),
                    ("direct_stream", rank * outputs * streamed * itemsize / cores)]
            note = "ndconv's fused row loops"
        else:
            cost = [("call", 1), ("opencv_" + precision, rank * outputs * taps),
                    ("direct_stream", rank * outputs * 4 * itemsize)]
            note = "OpenCV"
        if not separable.opencv_keeps_nonfinite(spec.kernel, terms):
            cost.append(_scan_term(spec))
        return cost, f"rank {rank}, sepFilter2D's sum ({note})"
    inputs = _size(spec.x.shape)
    # each pass is a direct sum with one axis of taps: its loops use all cores when large enough
    per_pass = max(outputs, inputs) * max(spec.kernel_shape)
    cores = float(cpu_count()) if shares_cores(per_pass, spec.compute_dtype) else 1.0
    return ([("call", spec.ndim * rank), ("direct_" + _dtype_key(spec.compute_dtype),
                                          rank * max(outputs, inputs) * taps / cores),
             ("copy", inputs * rank * spec.ndim)], f"rank {rank}, {spec.ndim} passes per term")


def _run_blocks(problem: Problem) -> np.ndarray:
    """overlap_add.  Tiles (2-D and nD) read x̃ from x itself under the rules of TILE_RULES:
    no extended copy of the whole input (8192² float32 with 31×31, reflect: 270 MB)."""
    if problem.spec.ndim > 1 and problem.spec.boundary in TILE_RULES:
        return _blockwise(problem.unextended)
    return _blockwise(problem.sampled)


def _run_fft(problem: Problem) -> np.ndarray:
    if not fits_in_memory(problem.layout):
        return _run_blocks(problem)
    spec = problem.spec
    if _fft_engine(problem)[0] == "opencv" and all_finite(spec.kernel) and all_finite(spec.x):
        y = _opencv.filter2d(spec)  # its DFT would spread NaN/Inf: finite inputs only (no warnings)
        if all_finite(y):           # else overflow in its DFT: the scipy path below rescales
            return y
    if _periodic(problem):
        return _fft_periodic(problem.unextended)
    return _fft(problem.sampled)


_fft = guarded(fft_sampled)
_fft_periodic = guarded(periodic_sampled)
_blockwise = guarded(blockwise_sampled)

REGISTRY: dict[str, Method] = {
    "direct": Method("direct", direct.run, _direct_terms, True,
                     "the sum of the definition (Numba loops; OpenCV for small 2-D float kernels)"),
    "fft": Method("fft", _run_fft, _fft_terms, False, "scipy.fft convolution theorem, whole array"),
    "overlap_add": Method("overlap_add", _run_blocks, _overlap_add_terms, False,
                          "blockwise FFT: blocks along a 1-D signal, cache-sized tiles in 2-D and nD"),
    "separable": Method("separable", separable.run, _separable_terms, False,
                        "SVD of the kernel, rank-r sums of 1-D passes"),
}
