"""``ndconv bench``: ndconv and the installed peers, side by side in one process.

The harness behind ``ndconv bench`` and ``benchmarks/run_benchmarks.py``:

* **cases**: one problem each (shapes, dtype, mode, boundary, kernel) at three
  scales, ``full`` (docs/benchmarks.md), ``quick`` (the command line) and
  ``tiny`` (the tests);
* **peers**: NumPy, SciPy (signal and ndimage), OpenCV and PyTorch, each
  behind an adapter that solves exactly ndconv's problem (same mode, boundary
  and alignment).  Peers are found with ``importlib.util.find_spec`` and
  imported only when a run starts;
* **timing**: every contender is called once (warm-up); its answer is checked
  against ndconv's and a peer that disagrees is reported, not timed.  Then the
  contenders run interleaved (A B C, B C A, …) and the median is kept: the
  machine's speed drifts, so only side-by-side ratios mean something;
* **report**: a Markdown table with ``ratio = ndconv / fastest agreeing peer``,
  the machine, and ndconv's first-call (compile) latency, measured in a fresh
  process with an empty Numba cache.
"""

from __future__ import annotations

import functools
import gc
import importlib.util
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from . import _info
from ._memory import cpu_count
from .api import choose_method, convolve
from .methods import REGISTRY

Call = Callable[[], np.ndarray]

# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Scale:
    """Problem sizes and time limits of one scale."""

    side2: int          # 2-D images are side2 × side2
    n1: int             # 1-D signals have n1 samples
    side3: int          # 3-D volumes are side3³
    kbig: int           # the long 1-D kernel
    repeat: int         # timed rounds
    max_seconds: float  # a contender predicted slower than this per call is not run
    budget: float       # a contender leaves the rounds once it has used this many seconds
    least: float = 0.0  # a fast contender stays past ``repeat`` rounds until it has used this many


SCALES: dict[str, Scale] = {
    # 15 rounds: the medians of 7 moved by ±0.05 on cases where ndconv and its peer run the same
    # engine (the Gaussian: 1.01-1.05 with 7, 1.00-1.02 with 21); a slow contender still leaves
    # once it has MIN_SAMPLES timings and has used its budget
    # least 0.5 s: a 2 ms contender's median over 15 rounds (30 ms of samples) moved by ±0.2
    # between runs (the 3×3 case against filter2D: 0.98, 1.12, 0.47 in three runs of the case)
    "full": Scale(2048, 1 << 20, 128, 65536, repeat=15, max_seconds=2.0, budget=4.0, least=0.5),
    "quick": Scale(512, 1 << 16, 40, 4096, repeat=5, max_seconds=0.1, budget=0.25),
    "tiny": Scale(128, 2048, 12, 256, repeat=2, max_seconds=0.2, budget=0.1),
}

#: every contender is timed at least this often (or ``repeat`` times if fewer)
MIN_SAMPLES = 3

#: a contender kept past ``repeat`` rounds by ``least`` stops at this many times ``repeat``
MAX_ROUNDS_FACTOR = 40


@dataclass(frozen=True)
class Case:
    """One benchmark problem: ``convolve(x, k, mode, boundary)``."""

    id: str
    x_shape: tuple[int, ...]
    k_shape: tuple[int, ...]
    dtype: str
    mode: str = "same"
    boundary: str = "constant"
    sigma: float | None = None  # the kernel is a separable Gaussian of this width

    @property
    def ndim(self) -> int:
        return len(self.x_shape)

    @property
    def work(self) -> int:
        """Outputs × taps: the size of the direct sum."""
        outputs = math.prod(n + k - 1 if self.mode == "full" else n for n, k in zip(self.x_shape, self.k_shape))
        return outputs * math.prod(self.k_shape)

    @property
    def title(self) -> str:
        shape = _shape_text(self.x_shape)
        kernel = f"K={self.k_shape[0]}" if self.ndim == 1 else \
            "×".join(map(str, self.k_shape)) if self.ndim == 2 else _shape_text(self.k_shape)
        if self.sigma is not None:
            kernel = f"Gaussian {kernel} σ={self.sigma:g}"
        boundary = "" if self.boundary == "constant" else f", {self.boundary}"
        return f"{self.ndim}-D {self.dtype} {shape} '{self.mode}' {kernel}{boundary}"

    def factors(self) -> list[np.ndarray] | None:
        """1-D vectors whose outer product is the kernel (Gaussian cases), else None."""
        if self.sigma is None:
            return None
        out = []
        for k in self.k_shape:
            t = np.arange(k) - (k - 1) / 2
            g = np.exp(-0.5 * (t / self.sigma) ** 2)
            out.append((g / g.sum()).astype(self.dtype))
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The input and kernel, the same on every call (seeded by the case id)."""
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        dtype = np.dtype(self.dtype)
        factors = self.factors()
        if dtype.kind in "iu":
            x = rng.integers(0, 256, self.x_shape).astype(dtype)
            k = rng.integers(-8, 9, self.k_shape).astype(dtype)
        elif dtype.kind == "c":
            x = (rng.standard_normal(self.x_shape) + 1j * rng.standard_normal(self.x_shape)).astype(dtype)
            k = (rng.standard_normal(self.k_shape) + 1j * rng.standard_normal(self.k_shape)).astype(dtype)
        else:
            x = rng.standard_normal(self.x_shape).astype(dtype)
            k = rng.standard_normal(self.k_shape).astype(dtype)
        if factors is not None:
            k = functools.reduce(np.multiply.outer, factors)
        return x, np.ascontiguousarray(k)


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        n = shape[0]
        return f"2^{n.bit_length() - 1}" if n >= 1024 and n & (n - 1) == 0 else str(n)
    if len(set(shape)) == 1:
        return f"{shape[0]}{'²³'[len(shape) - 2]}" if len(shape) <= 3 else "×".join(map(str, shape))
    return "×".join(map(str, shape))


def cases(scale: str = "full") -> list[Case]:
    """The benchmark cases at ``scale`` ('full', 'quick' or 'tiny')."""
    s = _scale(scale)
    image, signal, volume = (s.side2, s.side2), (s.n1,), (s.side3,) * 3
    small_image, short_signal = (s.side2 // 2,) * 2, (s.n1 // 4,)
    return [
        Case("2d-3x3", image, (3, 3), "float32"),
        Case("2d-5x5-reflect", image, (5, 5), "float32", boundary="reflect"),
        Case("2d-11x11", image, (11, 11), "float32"),
        Case("2d-31x31", image, (31, 31), "float32"),
        Case("2d-101x101", image, (101, 101), "float32"),
        Case("2d-gauss31", image, (31, 31), "float32", sigma=5.0),
        Case("1d-k8", signal, (8,), "float64", "full"),
        Case("1d-k64", signal, (64,), "float64", "full"),
        Case("1d-k512", signal, (512,), "float64", "full"),
        Case("1d-kbig", signal, (s.kbig,), "float64", "full"),
        Case("3d-5", volume, (5, 5, 5), "float32"),
        Case("2d-complex-5x5", small_image, (5, 5), "complex64"),
        Case("1d-complex-k64", short_signal, (64,), "complex128", "full"),
        Case("2d-int-3x3", small_image, (3, 3), "int64"),
        Case("1d-int-k16", short_signal, (16,), "int64", "full"),
    ]


def select(all_cases: Sequence[Case], patterns: str | None) -> list[Case]:
    """The cases whose id or title contains one of the comma-separated ``patterns``."""
    if not patterns:
        return list(all_cases)
    wanted = [p.strip().lower() for p in patterns.split(",") if p.strip()]
    chosen = [c for c in all_cases if any(p in c.id.lower() or p in c.title.lower() for p in wanted)]
    if not chosen:
        raise ValueError(f"cases={patterns!r} matches no case; the ids are: "
                         + ", ".join(c.id for c in all_cases))
    return chosen


def _scale(scale: str) -> Scale:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(map(repr, SCALES))}, got {scale!r}")
    return SCALES[scale]


# --------------------------------------------------------------------------- peers
#
# An adapter returns a zero-argument call computing ndconv's answer, None when
# the peer cannot express the case (silently left out), or a string saying why
# it is not run.

#: ndconv boundary → numpy.pad mode (peers without boundary rules pad, then take 'valid')
_NUMPY_PAD = {"reflect": "reflect", "symmetric": "symmetric", "edge": "edge", "wrap": "wrap"}
_NDIMAGE_MODE = {"constant": "constant", "reflect": "mirror", "symmetric": "reflect", "edge": "nearest",
                 "wrap": "wrap"}
_CV2_BORDER = {"constant": "BORDER_CONSTANT", "reflect": "BORDER_REFLECT_101", "symmetric": "BORDER_REFLECT",
               "edge": "BORDER_REPLICATE"}
_TORCH_PAD = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}
#: torch's CPU convolution falls off a cliff beyond this many taps (perf-notes: 101×101 took 138 s)
TORCH_MAX_TAPS = 32 * 32
#: outside float32, torch unrolls outputs × taps values (im2col); not run beyond this many bytes
TORCH_MAX_UNROLL_BYTES = 1 << 30


@dataclass(frozen=True)
class Peer:
    """A peer implementation: its name, the module it needs and its adapter."""

    name: str
    module: str
    adapter: Callable[[Case, np.ndarray, np.ndarray], Call | str | None]
    rate: tuple[float, float] | None = None  # rough seconds per output × tap of a direct sum, 1-D and nD

    def predicted(self, case: Case) -> float:
        """Rough seconds per call of a direct-sum peer (0 for FFT-based ones)."""
        return 0.0 if self.rate is None else self.rate[case.ndim > 1] * case.work


def threads() -> int:
    """The threads ndconv uses (its direct loops and FFT workers); peers get as many."""
    return cpu_count()


def _pad_widths(case: Case) -> list[tuple[int, int]]:
    """Per axis, how far the outputs read beyond ``x`` (before, after)."""
    if case.mode == "same":
        return [(k // 2, (k - 1) // 2) for k in case.k_shape]
    if case.mode == "full":
        return [(k - 1, k - 1) for k in case.k_shape]
    return [(0, 0)] * case.ndim


def _centred(case: Case) -> bool:
    """'same' with odd kernel sides: the window of the centred filters (ndimage, OpenCV)."""
    return case.mode == "same" and all(k % 2 for k in case.k_shape)


def _signal_call(func, case: Case, x: np.ndarray, k: np.ndarray) -> Call:
    """``func(x, k, mode)`` (NumPy/SciPy signature): the zero boundary natively,
    the others by extending ``x`` with ``numpy.pad`` and taking 'valid'."""
    if case.boundary == "constant":
        return lambda: func(x, k, case.mode)
    widths, pad_mode = _pad_widths(case), _NUMPY_PAD[case.boundary]
    return lambda: func(np.pad(x, widths, mode=pad_mode), k, "valid")


def _numpy_convolve(case, x, k):
    return _signal_call(np.convolve, case, x, k) if case.ndim == 1 else None


def _scipy_convolve(method: str):
    def adapter(case, x, k):
        from scipy import signal

        return _signal_call(lambda a, b, mode: signal.convolve(a, b, mode, method=method), case, x, k)
    return adapter


def _fftconvolve(case, x, k):
    from scipy import signal

    return _signal_call(signal.fftconvolve, case, x, k)


def _fftconvolve_workers(case, x, k):
    import scipy.fft
    from scipy import signal

    workers = threads()
    if workers < 2:
        return None

    def fftconvolve(a, b, mode):
        with scipy.fft.set_workers(workers):
            return signal.fftconvolve(a, b, mode)
    return _signal_call(fftconvolve, case, x, k)


def _oaconvolve(case, x, k):
    from scipy import signal

    return _signal_call(signal.oaconvolve, case, x, k)


def _ndimage_convolve(case, x, k):
    if not _centred(case):
        return None
    from scipy import ndimage

    return lambda: ndimage.convolve(x, k, mode=_NDIMAGE_MODE[case.boundary], cval=0)


def _ndimage_separable(case, x, k):
    factors = case.factors()
    if factors is None or not _centred(case):
        return None
    from scipy import ndimage

    mode = _NDIMAGE_MODE[case.boundary]

    def passes():
        y = x
        for axis, vector in enumerate(factors):
            y = ndimage.convolve1d(y, vector, axis=axis, mode=mode, cval=0)
        return y
    return passes


def _cv2_applies(case: Case) -> bool:
    return case.ndim == 2 and case.dtype in ("float32", "float64") and _centred(case) \
        and case.boundary in _CV2_BORDER


def _cv2_filter2d(case, x, k):
    if not _cv2_applies(case):
        return None
    import cv2

    border = getattr(cv2, _CV2_BORDER[case.boundary])
    flipped = np.ascontiguousarray(k[::-1, ::-1])  # filter2D correlates
    return lambda: cv2.filter2D(x, -1, flipped, borderType=border)


def _cv2_sep_filter2d(case, x, k):
    factors = case.factors()
    if factors is None or not _cv2_applies(case):
        return None
    import cv2

    border = getattr(cv2, _CV2_BORDER[case.boundary])
    along_rows, along_cols = (np.ascontiguousarray(v[::-1]) for v in factors)
    return lambda: cv2.sepFilter2D(x, -1, along_cols, along_rows, borderType=border)


def _torch_conv(case, x, k):
    if case.ndim > 3 or case.boundary not in _TORCH_PAD:
        return None
    taps = math.prod(case.k_shape)
    if taps > TORCH_MAX_TAPS:
        return f"{taps} taps: torch's CPU convolution slows down by orders of magnitude beyond {TORCH_MAX_TAPS}"
    unrolled = case.work * x.dtype.itemsize
    if x.dtype != np.float32 and unrolled > TORCH_MAX_UNROLL_BYTES:
        return f"torch would unroll {unrolled / 2**30:.0f} GiB (im2col outside float32)"
    import torch
    import torch.nn.functional as F

    conv = (F.conv1d, F.conv2d, F.conv3d)[case.ndim - 1]
    xt = torch.from_numpy(x)[None, None]
    weight = torch.from_numpy(np.ascontiguousarray(np.flip(k)))[None, None]  # torch correlates
    widths = _pad_widths(case)
    symmetric_zero = case.boundary == "constant" and all(b == a for b, a in widths)
    pads = [p for before, after in reversed(widths) for p in (before, after)]

    def run():
        with torch.no_grad():
            if symmetric_zero:
                y = conv(xt, weight, padding=[b for b, _ in widths])
            else:
                y = conv(F.pad(xt, pads, mode=_TORCH_PAD[case.boundary]), weight)
        return y[0, 0].numpy()
    return run


PEERS: tuple[Peer, ...] = (
    Peer("numpy.convolve", "numpy", _numpy_convolve, rate=(0.25e-9, 0.25e-9)),
    Peer("signal.convolve(direct)", "scipy", _scipy_convolve("direct"), rate=(0.25e-9, 30e-9)),
    Peer("signal.convolve(fft)", "scipy", _scipy_convolve("fft")),
    Peer("fftconvolve", "scipy", _fftconvolve),
    Peer("fftconvolve(workers)", "scipy", _fftconvolve_workers),
    Peer("oaconvolve", "scipy", _oaconvolve),
    Peer("ndimage.convolve", "scipy", _ndimage_convolve, rate=(2e-9, 2e-9)),
    Peer("ndimage.convolve1d passes", "scipy", _ndimage_separable),
    Peer("cv2.filter2D", "cv2", _cv2_filter2d),
    Peer("cv2.sepFilter2D", "cv2", _cv2_sep_filter2d),
    Peer("torch.convNd", "torch", _torch_conv, rate=(0.15e-9, 0.15e-9)),
)


def installed(peers: Sequence[Peer] = PEERS) -> list[Peer]:
    """The peers whose module is installed (found without importing it)."""
    return [p for p in peers if importlib.util.find_spec(p.module) is not None]


@contextmanager
def peer_threads(n: int):
    """Give PyTorch and OpenCV ``n`` threads for the run; restore theirs after."""
    restore = []
    if importlib.util.find_spec("torch") is not None:
        import torch

        restore.append((torch.set_num_threads, torch.get_num_threads()))
        torch.set_num_threads(n)
    if importlib.util.find_spec("cv2") is not None:
        import cv2

        restore.append((cv2.setNumThreads, cv2.getNumThreads()))
        cv2.setNumThreads(n)
    try:
        yield
    finally:
        for setter, value in restore:
            setter(value)


# --------------------------------------------------------------------------- timing


#: how a note on a contender whose answer is not ndconv's begins
DISAGREES = "DISAGREES"


def disagreement(reference: np.ndarray, answer, x: np.ndarray, k: np.ndarray) -> str | None:
    """None when ``answer`` is ``reference`` (ndconv's) within tolerance, else why not.

    Tolerance ``tol · Σ|h| · max|x|`` with tol 1e-4 (float32/complex64), 1e-10
    (float64/complex128); an integer problem needs exact integers (a float
    answer is another problem, not a wrong one).
    """
    answer = np.asarray(answer)
    if answer.shape != reference.shape:
        return f"{DISAGREES}: shape {answer.shape}, not {reference.shape}"
    if reference.dtype.kind in "iu":
        if answer.dtype.kind not in "iu":
            return f"not comparable: returns {answer.dtype}, not exact integers"
        return None if np.array_equal(answer, reference) else f"{DISAGREES}: integer results differ"
    tol = 1e-4 if reference.dtype in (np.float32, np.complex64) else 1e-10
    bound = tol * float(np.abs(k).sum(dtype=np.float64)) * float(np.abs(x).max())
    error = float(np.max(np.abs(answer.astype(np.complex128) - reference.astype(np.complex128))))
    return None if error <= bound else f"{DISAGREES}: max |diff| {error:.2g}, allowed {bound:.2g}"


def time_interleaved(calls: dict[str, Call], repeat: int, budget: float,
                     seed: int | None = None, rounds: list[dict[str, float]] | None = None,
                     least: float = 0.0) -> dict[str, float]:
    """Median seconds per call; contenders interleaved, the order rotating each round
    (or, with ``seed``, a fresh random order each round).

    A rotation keeps each contender after the same neighbour in most rounds; where
    one contender leaves worker threads spinning (BLAS, OpenMP) the next one pays for
    it every time, and a random order spreads that cost.  A contender is timed in
    ``repeat`` rounds, and leaves earlier once it has ``MIN_SAMPLES`` timings and has
    used ``budget`` seconds; with ``least``, one that has used less than ``least``
    seconds in ``repeat`` rounds stays on (up to ``MAX_ROUNDS_FACTOR · repeat`` rounds),
    so that a fast call's median is over enough of the machine's drift too.  The
    garbage collector is off while timing.  A list passed as ``rounds`` receives each
    round's seconds per contender (those still timed), for :func:`paired_ratio`.
    """
    names = list(calls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    enough = min(MIN_SAMPLES, repeat)
    most = repeat * MAX_ROUNDS_FACTOR if least > 0 else repeat
    rng = None if seed is None else random.Random(seed)

    def done(taken: list[float]) -> bool:
        return ((len(taken) >= enough and sum(taken) >= budget)
                or (len(taken) >= repeat and sum(taken) >= least) or len(taken) >= most)

    collecting = gc.isenabled()
    gc.disable()
    try:
        r = 0
        while not all(done(taken) for taken in samples.values()):
            order = (names[r % len(names):] + names[:r % len(names)] if rng is None
                     else rng.sample(names, len(names)))
            r += 1
            this_round = {}
            for name in order:
                taken = samples[name]
                if done(taken):
                    continue
                start = time.perf_counter()
                calls[name]()
                taken.append(time.perf_counter() - start)
                this_round[name] = taken[-1]
            if rounds is not None:
                rounds.append(this_round)
    finally:
        if collecting:
            gc.enable()
    return {name: statistics.median(s) for name, s in samples.items()}


def paired_ratio(rounds: Sequence[dict[str, float]], a: str, b: str) -> float | None:
    """Median over the rounds that timed both of ``a``'s seconds / ``b``'s (None if none did).

    The machine's speed drifts over seconds (up to 2–3× here) and a round takes
    milliseconds to a second: within a round both contenders see about the same
    machine, so the paired ratio is steadier than the ratio of the two medians.
    """
    both = [r[a] / r[b] for r in rounds if a in r and b in r and r[b] > 0]
    return statistics.median(both) if both else None


@dataclass
class CaseResult:
    """Times (median seconds) of one case."""

    case: Case
    method: str                                           # what method='auto' chose
    ndconv: float                                         # method='auto'
    methods: dict[str, float] = field(default_factory=dict)  # ndconv's other methods, forced
    peers: dict[str, float] = field(default_factory=dict)    # peers that agree with ndconv
    notes: dict[str, str] = field(default_factory=dict)      # contender → why it is not timed
    paired: float | None = None                           # ndconv / best peer, median of per-round ratios

    def best_peer(self) -> tuple[str, float] | None:
        return min(self.peers.items(), key=lambda item: item[1]) if self.peers else None

    @property
    def ratio(self) -> float | None:
        best = self.best_peer()
        return self.ndconv / best[1] if best else None


def _ndconv_call(case: Case, x: np.ndarray, k: np.ndarray, method: str = "auto") -> Call:
    return lambda: convolve(x, k, case.mode, case.boundary, method=method)


def _forced(method: str) -> str:
    """The contender name of ndconv with ``method=`` forced."""
    return f"ndconv[{method}]"


def _failed(exc: Exception) -> str:
    return f"failed: {type(exc).__name__}: {exc}"[:160]


#: the contender that runs ``auto`` with every kernel spectrum computed afresh (the FFT
#: methods keep the last ones, see ``ndconv.methods._spectra``): the time of a new kernel
NEW_KERNEL = "ndconv[auto, new kernel]"


def new_kernels(call: Call) -> Call:
    """``call`` with every kernel spectrum computed afresh, as for kernels (or templates)
    not seen before: the time a first call with a kernel costs."""
    from .methods import _spectra

    def fresh():
        with _spectra.disabled():
            return call()

    return fresh


def _contenders(case, x, k, scale: Scale, peers: Sequence[Peer]) -> tuple[str, dict[str, Call], dict[str, str]]:
    """ndconv's auto choice, every contender's call, and notes on those left out."""
    choice = choose_method(x, k, case.mode, case.boundary)
    calls = {"ndconv": _ndconv_call(case, x, k)}
    if str(choice) in ("fft", "overlap_add"):
        calls[NEW_KERNEL] = new_kernels(_ndconv_call(case, x, k))
    notes: dict[str, str] = {}
    for name, cost in choice.costs.items():
        if name == choice or math.isinf(cost):
            continue
        if cost > scale.max_seconds:
            notes[_forced(name)] = f"predicted {cost:.3g} s per call, not run"
        else:
            calls[_forced(name)] = _ndconv_call(case, x, k, name)
    for peer in peers:
        try:
            call = peer.adapter(case, x, k)
        except Exception as exc:  # noqa: BLE001 - a peer's quirk must not stop the benchmark
            notes[peer.name] = _failed(exc)
            continue
        if isinstance(call, str):
            notes[peer.name] = call
        elif call is not None and peer.predicted(case) > scale.max_seconds:
            notes[peer.name] = f"direct sum, about {peer.predicted(case):.3g} s per call, not run"
        elif call is not None:
            calls[peer.name] = call
    return str(choice), calls, notes


def _agreeing(calls: dict[str, Call], x, k, notes: dict[str, str]) -> dict[str, Call]:
    """Warm every contender up once and keep those whose answer is ndconv's."""
    reference = np.asarray(calls["ndconv"]())
    kept = {"ndconv": calls["ndconv"]}
    for name, call in calls.items():
        if name == "ndconv":
            continue
        try:
            why = disagreement(reference, call(), x, k)
        except Exception as exc:  # noqa: BLE001 - a peer's quirk must not stop the benchmark
            why = _failed(exc)
        if why is None:
            kept[name] = call
        else:
            notes[name] = why
    return kept


def run_case(case: Case, scale: Scale, peers: Sequence[Peer] | None = None,
             repeat: int | None = None) -> CaseResult:
    """Check and time ndconv, its other methods and the peers on one case."""
    x, k = case.arrays()
    method, calls, notes = _contenders(case, x, k, scale, installed() if peers is None else peers)
    calls = _agreeing(calls, x, k, notes)
    rounds: list[dict[str, float]] = []
    # a fresh order each round (seeded by the case): rotated, 'ndconv' always ran right after the
    # last peer, and the 2048² Gaussian read 1.12-1.19 against sepFilter2D behind torch's 660 ms
    # conv2d, 0.96-0.99 in random orders (the same engine call on both sides)
    times = time_interleaved(calls, repeat or scale.repeat, scale.budget, seed=zlib.crc32(case.id.encode()),
                             rounds=rounds, least=scale.least)
    result = CaseResult(case, method, times.pop("ndconv"), notes=notes)
    forced = {_forced(name): name for name in REGISTRY}
    forced[NEW_KERNEL] = "auto, new kernel"
    for name, seconds in times.items():
        if name in forced:
            result.methods[forced[name]] = seconds
        else:
            result.peers[name] = seconds
    best = result.best_peer()
    if best is not None:
        result.paired = paired_ratio(rounds, "ndconv", best[0])
    return result


# --------------------------------------------------------------------------- first call


_LATENCY_CHILD = """\
import json, sys, time
start = time.perf_counter()
import ndconv.bench
imported = time.perf_counter() - start
print(json.dumps(dict(ndconv.bench.first_call(sys.argv[1], sys.argv[2]), import_s=imported)))
"""


def first_call(case_id: str, scale: str) -> dict[str, float]:
    """Seconds of ndconv's first call of a case in this process, and of later calls (median of 3)."""
    case = next(c for c in cases(scale) if c.id == case_id)
    call = _ndconv_call(case, *case.arrays())
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    steady = time_interleaved({"ndconv": call}, 3, 0.0)["ndconv"]
    return {"first_s": first, "steady_s": steady}


def first_call_latency(case: Case, scale: str) -> dict[str, float]:
    """:func:`first_call` in a fresh interpreter with an empty Numba cache.

    ``latency_s`` is the first call minus a steady call: the compilation (and
    lazy imports) a new signature costs; ``import_s`` is ``import ndconv``.
    """
    with tempfile.TemporaryDirectory(prefix="ndconv-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        done = subprocess.run([sys.executable, "-c", _LATENCY_CHILD, case.id, scale], env=env,
                              capture_output=True, text=True, timeout=900, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    found["latency_s"] = found["first_s"] - found["steady_s"]
    return found


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _numba_layer() -> str:
    """Numba's threading layer; functions loaded from its cache start the pool
    without telling ``numba.threading_layer()``, so the loaded pool library is
    looked for too."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        pass
    try:
        with open("/proc/self/maps", encoding="utf-8") as handle:
            maps = handle.read()
    except OSError:
        maps = ""
    for library, layer in (("tbbpool", "tbb"), ("omppool", "omp"), ("workqueue", "workqueue")):
        if f"/numba/np/ufunc/{library}." in maps:
            return layer
    return "not started (no parallel Numba loop ran)"


def _native_pools() -> str:
    """The native thread pools loaded (OpenBLAS, OpenMP, MKL …) and their sizes."""
    if importlib.util.find_spec("threadpoolctl") is None:
        return "unknown (threadpoolctl not installed)"
    from threadpoolctl import threadpool_info

    return ", ".join(f"{pool['internal_api']} {pool['num_threads']} ({os.path.basename(pool['filepath'])})"
                     for pool in threadpool_info()) or "none loaded"


def machine() -> dict[str, str]:
    """The machine, the versions and the thread settings in force (call it during a run)."""
    import numba

    from . import __version__
    from .methods import _costs

    versions = {"ndconv": __version__, "python": platform.python_version(), **_info.engines()}
    thread_settings = [f"ndconv {threads()}",
                       f"Numba pool {numba.config.NUMBA_NUM_THREADS} (layer: {_numba_layer()})"]
    if "torch" in sys.modules:
        thread_settings.append(f"torch {sys.modules['torch'].get_num_threads()}")
    if "cv2" in sys.modules:
        thread_settings.append(f"OpenCV {sys.modules['cv2'].getNumThreads()}")
    env = [f"{name}={os.environ[name]}" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                     "NUMBA_NUM_THREADS", "OMP_WAIT_POLICY") if name in os.environ]
    return {
        "CPU": _cpu_model(),
        "cores": f"{os.cpu_count()} ({cpu_count()} usable)",
        "load average": "{:.2f}, {:.2f}, {:.2f} (1, 5, 15 min, at the end of the run)".format(*os.getloadavg()),
        "memory": _memory(),
        "platform": platform.platform(),
        "versions": ", ".join(f"{name} {v}" for name, v in versions.items() if v),
        "threads": ", ".join(thread_settings),
        "native thread pools": _native_pools(),
        "thread environment": ", ".join(env) or "none set",
        "cost model": "measured (" + str(_costs.cost_file()) + ")" if _costs.cost_file().exists()
        else "built-in defaults",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --------------------------------------------------------------------------- runs and reports


@dataclass
class Report:
    scale: str
    results: list[CaseResult]
    machine: dict[str, str]
    latencies: dict[str, dict[str, float]] = field(default_factory=dict)
    repeat: int | None = None   # the rounds, where not the scale's


def run(scale: str = "full", patterns: str | None = None, repeat: int | None = None, latency: bool = False,
        progress: Callable[[str], None] | None = None) -> Report:
    """Run the cases of ``scale`` matching ``patterns`` (see :func:`select`)."""
    size = _scale(scale)
    chosen = select(cases(scale), patterns)
    say = progress or (lambda message: None)
    results = []
    with peer_threads(threads()):
        peers = installed()
        for i, case in enumerate(chosen, 1):
            say(f"[{i}/{len(chosen)}] {case.title}")
            results.append(run_case(case, size, peers, repeat))
        info = machine()
    report = Report(scale, results, info, repeat=repeat)
    if latency:
        for i, case in enumerate(chosen, 1):
            say(f"[{i}/{len(chosen)}] first call, fresh process: {case.title}")
            report.latencies[case.id] = first_call_latency(case, scale)
    return report


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


#: ratios above this are shown in bold (ndconv clearly behind its best peer)
SLOW_RATIO = 1.25


def render_table(results: Sequence[CaseResult]) -> str:
    """The Markdown table: case, auto's method, ndconv, best peer, ratio, the rest."""
    columns = ("case", "auto method", "ndconv ms", "best peer", "peer ms", "ratio", "paired", "ndconv's methods, ms",
               "all peers, ms")
    lines = ["| " + " | ".join(columns) + " |", "|---|---|---:|---|---:|---:|---:|---|---|"]
    for r in results:
        best = r.best_peer()
        shown, paired = (_ratio_text(value) for value in (r.ratio, r.paired))
        methods = " · ".join(f"{name} {_ms(s)}" for name, s in sorted(r.methods.items(), key=lambda i: i[1]))
        peers = " · ".join(f"{name} {_ms(s)}" for name, s in sorted(r.peers.items(), key=lambda i: i[1]))
        disagree = [name for name, why in r.notes.items() if why.startswith(DISAGREES)]
        peers += "".join(f" · {name} ✗" for name in disagree)
        lines.append(f"| {r.case.title} | {r.method} | {_ms(r.ndconv)} | {best[0] if best else '–'} | "
                     f"{_ms(best[1]) if best else '–'} | {shown} | {paired} | {methods or '–'} | {peers or '–'} |")
    return "\n".join(lines)


def _ratio_text(ratio: float | None) -> str:
    return "–" if ratio is None else f"**{ratio:.2f}**" if ratio > SLOW_RATIO else f"{ratio:.2f}"


def render_notes(results: Sequence[CaseResult]) -> str:
    """Contenders that were not timed, and why (✗: the answer differs from ndconv's)."""
    lines = [f"- {r.case.id}: {name}: {why}" for r in results for name, why in r.notes.items()]
    return "\n".join(lines) or "- none"


def render_latencies(report: Report) -> str:
    titles = {r.case.id: r.case.title for r in report.results}
    lines = ["| case | first call ms | steady ms | latency s |", "|---|---:|---:|---:|"]
    for case_id, found in report.latencies.items():
        late = found["latency_s"]
        flag = f"**{late:.2f}**" if late > 2.0 else f"{late:.2f}"
        lines.append(f"| {titles[case_id]} | {_ms(found['first_s'])} | {_ms(found['steady_s'])} | {flag} |")
    imports = [found["import_s"] for found in report.latencies.values()]
    lines.append("")
    lines.append(f"`import ndconv` in a fresh process: {statistics.median(imports):.2f} s (median).")
    return "\n".join(lines)


def render_machine(info: dict[str, str]) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in info.items())


def render_summary(report: Report) -> str:
    """What ``ndconv bench`` prints: the table, the notes and the machine."""
    heading = f"ndconv bench ({report.scale} sizes); ratio = ndconv / fastest agreeing peer, bold above {SLOW_RATIO}"
    parts = [heading, "", render_table(report.results), "", "Not timed:", render_notes(report.results), "",
             "Machine:", render_machine(report.machine)]
    if report.latencies:
        parts += ["", "First call in a fresh process (empty Numba cache):", render_latencies(report)]
    return "\n".join(parts)


_METHOD = """\
ndconv (`method='auto'`) against every installed peer, in one process. Each contender is first
called once and its answer checked against ndconv's (max |diff| ≤ tol · Σ|h| · max|x|, tol 1e-4 for
float32, 1e-10 for float64, exact for integers); then all are timed interleaved, in a fresh random
order each round (seeded by the case: a rotation put each contender after the same neighbour every
round, and the one after the slowest paid for it), and the median is shown: {repeat} rounds, a
contender leaving early once it has used {budget:g} s{least}. **ratio = ndconv /
fastest agreeing peer** (below 1: ndconv is faster; bold above {slow}); **paired** = the median over
rounds of that round's ndconv / the same peer (the machine's speed drifts over seconds, by up to
2–3× here, and within a round both see about the same machine). "ndconv's methods" are the other
methods forced with `method=`, and, where `auto` runs an FFT method, "auto, new kernel": the FFT
methods keep the spectrum of the last kernels for the next call with the same kernel (as every timed
call here is), and this contender computes it afresh each call, the time of a kernel seen for the
first time. Peers get as many threads as ndconv. The machine's speed drifts, so compare ratios, not
milliseconds across runs."""

_NOT_TIMED = "Too slow for the time limit, not expressible, or (✗) a different answer from ndconv's:"

_LATENCY = """\
ndconv's first call of each case in a fresh interpreter with an empty Numba cache
(`NUMBA_CACHE_DIR` set to a new directory), minus a steady call: what compiling a new signature
(and the imports ndconv defers to its first call) costs. Target: below 2 s (bold above)."""

_REPRODUCE = """\
```bash
python benchmarks/run_benchmarks.py                 # all cases, writes docs/benchmarks.md
python benchmarks/run_benchmarks.py --cases 2d-3x3,1d --repeat 11 --output -
ndconv bench --quick                                # small sizes, table on stdout
```"""


_LEAST = """ and staying on until it has used {least:g} s (a 2 ms call's median over 15 rounds, 30 ms
of samples, moved by ±0.2 between runs)"""


def render_markdown(report: Report, command: str) -> str:
    """docs/benchmarks.md: the table, how it was measured, first-call latency, machine."""
    size = _scale(report.scale)
    sections = ["# Benchmarks", f"Generated by `{command}` (do not edit by hand; re-run it).",
                _METHOD.format(slow=SLOW_RATIO, repeat=report.repeat or size.repeat, budget=size.budget,
                               least=_LEAST.format(least=size.least) if size.least else ""),
                "## Results", render_table(report.results),
                "## Not timed", _NOT_TIMED, render_notes(report.results)]
    if report.latencies:
        sections += ["## First-call latency", _LATENCY, render_latencies(report)]
    sections += ["## Machine", render_machine(report.machine), "## How to reproduce", _REPRODUCE]
    return "\n\n".join(sections) + "\n"


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def passive_openmp() -> None:
    """Ask OpenMP threads to sleep, not spin, between parallel regions.

    torch's and Numba's OpenMP threads otherwise keep spinning after their work
    and steal the cores the next contender needs (measured: 2-3× on 2 cores).
    Only effective before an OpenMP runtime starts; ``OMP_WAIT_POLICY`` set by
    the user wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(quick: bool = False, calibrate: bool = False) -> int:
    """``ndconv bench``: print the table (``quick``: small sizes, a few seconds).

    ``calibrate`` first measures the cost model's constants (:func:`ndconv.tune`),
    prints them and where they were stored, then runs the quick sizes.
    ``$NDCONV_BENCH_SCALE`` overrides the sizes ('full', 'quick', 'tiny') and
    ``$NDCONV_BENCH_CASES`` picks cases (see :func:`select`); both are for tests.
    """
    if calibrate:
        from .tuning import tune

        path = tune(quick=quick)
        print(f"cost model written to {path}")
        measured = json.loads(path.read_text(encoding="utf-8"))["constants"]
        width = max(map(len, measured), default=0)
        for name, value in sorted(measured.items()):
            print(f"  {name:<{width}}  {value:.3e}")
        quick = True
    scale = os.environ.get("NDCONV_BENCH_SCALE") or ("quick" if quick else "full")
    passive_openmp()
    report = run(scale, os.environ.get("NDCONV_BENCH_CASES"), latency=not quick, progress=_to_stderr)
    print(render_summary(report))
    return 0
