"""``ndconv.tune``: measure the cost-model constants on this machine."""

from __future__ import annotations

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


def _per_unit(x, k, method: str, units: float, repeat: int, **kw) -> float:
    problem = Problem(make_spec(x, k, method=method, **kw))
    run = methods.REGISTRY[method].run
    seconds = _best_time(lambda: run(problem), repeat)
    return max(seconds - _costs.DEFAULTS["call"], 1e-9) / units


def measure(quick: bool = False) -> dict[str, float]:
    """Measure every constant of the cost model (a few seconds; ``quick``: fewer repeats)."""
    rng = np.random.default_rng(0)
    repeat = 2 if quick else 5
    n = 1 << (16 if quick else 18)
    found: dict[str, float] = {}
    saved = _opencv.ENABLED
    try:
        _opencv.ENABLED = False
        for key, dtype in (("f4", np.float32), ("f8", np.float64), ("c8", np.complex64),
                           ("c16", np.complex128), ("i8", np.int64)):
            x = (rng.standard_normal(n) * 100).astype(dtype)
            k = (rng.standard_normal(16) * 10).astype(dtype)
            found["direct_" + key] = _per_unit(x, k, "direct", n * 16.0, repeat, mode="same")
    finally:
        _opencv.ENABLED = saved
    if _opencv.available():
        side = 256 if quick else 512
        for key, dtype in (("f4", np.float32), ("f8", np.float64)):
            x = rng.standard_normal((side, side)).astype(dtype)
            k = rng.standard_normal((5, 5)).astype(dtype)
            found["opencv_" + key] = _per_unit(x, k, "direct", side * side * 25.0, repeat, mode="same")
    for key, dtype in (("f4", np.float32), ("f8", np.float64)):
        x = rng.standard_normal(n).astype(dtype)
        k = rng.standard_normal(n // 2).astype(dtype)
        size = 1.5 * n
        units = 3 * size * np.log2(size) * 0.5
        found["fft_" + key] = _per_unit(x, k, "fft", units, repeat, mode="same")
    big = rng.standard_normal(1 << 22)
    found["copy"] = _best_time(lambda: big.copy(), repeat) / big.size
    tiny = np.ones(4)
    found["call"] = _best_time(lambda: methods.REGISTRY["direct"].run(Problem(make_spec(tiny, tiny))), repeat)
    return found


def tune(quick: bool = False) -> Path:
    """Measure the cost model's constants and store them for ``method='auto'``.

    The constants go, written atomically, to ``cost_model.json`` in the user
    cache directory (``$NDCONV_CACHE_DIR`` if set); later processes read them.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    found = measure(quick=quick)
    machine = {"platform": platform.platform(), "processor": platform.processor(),
               "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__}
    return _costs.save(found, machine)
