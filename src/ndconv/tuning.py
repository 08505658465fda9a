"""``ndconv.tune``: measure the cost-model constants on this machine."""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path

import numpy as np

from . import methods
from ._spec import make_spec
from .methods import _costs, _opencv
from .methods._problem import Problem


def _best_time(func, repeat: int) -> float:
    func()  # compile / warm up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def _calibration_problems(quick: bool):
    """``(constant, method, x, k, keywords)``: one problem dominated by each constant."""
    rng = np.random.default_rng(0)
    n = 1 << (16 if quick else 18)
    side = 256 if quick else 768
    cases = [("direct_stream", "direct", rng.standard_normal(n * 4), np.ones(1), {"mode": "same"})]
    for key, dtype in (("f4", np.float32), ("f8", np.float64), ("c8", np.complex64),
                       ("c16", np.complex128), ("i8", np.int64)):
        # twice the side: on a 768² image the loops' fixed costs per row and per hand-off
        # to the second core doubled the time per output × tap against 2048²
        big = side * 2
        if key == "i8":   # values large enough for the int64 loops (small ones run the float64 loops)
            x = rng.integers(-2**47, 2**47, (big, big))
            k = np.full((5, 5), 16, dtype=np.int64)                # Σ|h|·max|x| ≈ 2**55: beyond float64
            k[rng.random((5, 5)) < 0.5] *= -1
        else:
            x = (rng.standard_normal((big, big)) * 100).astype(dtype)
            k = (rng.standard_normal((5, 5)) * 10).astype(dtype)
        cases.append(("direct_" + key, "direct", x, k, {"mode": "same"}))
    for key, dtype in (("f4", np.float32), ("f8", np.float64)):
        image = rng.standard_normal((side, side)).astype(dtype)
        cases.append(("opencv_" + key, "direct", image, rng.standard_normal((5, 5)).astype(dtype),
                      {"mode": "same"}))
        cases.append(("fft_" + key, "fft", image, rng.standard_normal((side // 8, side // 8)).astype(dtype),
                      {"mode": "same"}))
        taps = np.exp(-0.5 * (np.arange(9) - 4.0) ** 2 / 2.0 ** 2)     # a 9×9 Gaussian: rank 1
        cases.append(("sep_rows_" + key, "separable", rng.standard_normal((2 * side, 2 * side)).astype(dtype),
                      np.outer(taps, taps).astype(dtype), {"mode": "same", "boundary": "reflect"}))
        if key == "f4":   # the set-up first, on an image small enough for it to be most of the time
            cases.append(("opencv_dft_setup", "fft", image[:256, :256], rng.standard_normal((31, 31)).astype(dtype),
                          {"mode": "same"}))
        cases.append(("opencv_dft_" + key, "fft", image, rng.standard_normal((31, 31)).astype(dtype),
                      {"mode": "same"}))
        signal = rng.standard_normal(n * 4).astype(dtype)
        cases.append(("overlap_add_" + key, "overlap_add", signal, rng.standard_normal(256).astype(dtype), {}))
        # tiles (2-D overlap-add) apply only where the whole transform leaves a core's cache
        tiled = rng.standard_normal((max(768, 2 * side),) * 2).astype(dtype)
        cases.append(("tiles_" + key, "overlap_add", tiled, rng.standard_normal((31, 31)).astype(dtype),
                      {"mode": "same"}))
    return cases


def measure(quick: bool = False) -> dict[str, float]:
    """Measure every constant of the cost model (seconds; ``quick``: smaller problems)."""
    repeat = 2 if quick else 5
    found = dict(_costs.DEFAULTS)
    big = np.random.default_rng(1).standard_normal(1 << 22)
    found["copy"] = _best_time(lambda: big.copy(), repeat) / big.size
    tiny = np.ones(4)
    found["call"] = _best_time(lambda: methods.REGISTRY["direct"].run(Problem(make_spec(tiny, tiny))), 20)
    saved = _opencv.ENABLED
    try:
        for key, name, x, k, kw in _calibration_problems(quick):
            is_opencv = key.startswith("opencv_")
            _opencv.ENABLED = saved
            if is_opencv and not _opencv.available():
                continue
            _opencv.ENABLED = is_opencv and saved
            problem = Problem(make_spec(x, k, method=name, **kw))
            if is_opencv:  # time the engine itself, whatever the constants now say
                terms = [("call", 1.0), ("direct_stream", float(problem.spec.x.size * 2 * x.dtype.itemsize))]
                if key.startswith("opencv_dft_"):
                    precision = "f4" if x.dtype == np.float32 else "f8"
                    terms += [("opencv_dft_setup", 1.0),
                              ("opencv_dft_" + precision, float(problem.spec.x.size * math.log2(k.size)))]
                else:
                    terms.append((key, float(problem.spec.x.size * k.size)))
                run = lambda: _opencv.filter2d(problem.spec)  # noqa: E731
            else:
                terms, _ = methods.REGISTRY[name].terms(problem)
                run = lambda: methods.REGISTRY[name].run(problem)  # noqa: E731
            units = dict(terms)
            other = sum(found[c] * u for c, u in terms if c != key)
            seconds = _best_time(run, repeat)
            found[key] = max(seconds - other, 0.05 * seconds) / units[key]
    finally:
        _opencv.ENABLED = saved
    return found


def tune(quick: bool = False) -> Path:
    """Measure the cost model's constants and store them for ``method='auto'``.

    The constants go, written atomically, to ``cost_model.json`` in the user
    cache directory (``$NDCONV_CACHE_DIR`` if set); later processes read them.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    OSError
        When the cache directory cannot be created or written (before measuring).
    """
    _costs.writable_dir()  # a cache that cannot be written fails before the measurements
    found = measure(quick=quick)
    machine = {"platform": platform.platform(), "processor": platform.processor(),
               "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__}
    return _costs.save(found, machine)
