"""BLAS on one thread while ndconv's own threads each run their share of GEMMs.

NumPy's OpenBLAS keeps its worker threads spinning for a while after every
multithreaded call (2^28 cycles, about 0.1 s, unless ``OPENBLAS_THREAD_TIMEOUT``
was set before NumPy loaded).  On a machine with few cores, compiled loops that
follow a GEMM then share their cores with a spinning thread: measured on 2
cores, the Winograd transforms of a CNN layer ran 1.7–1.9× slower right after
a GEMM than with the spin shortened.  Where a call can split its work by batch
item, it therefore gives every core a whole share — its own transforms and its own
single-threaded GEMMs — and keeps BLAS on one thread meanwhile
(:func:`serial_blas`), so that no BLAS worker is woken at all.

The limit is process-wide (that is how BLAS libraries work): a GEMM that another
thread of the program runs while such a call is under way uses one thread too.
Nested and concurrent uses are counted; the original thread count is restored
when the last one ends.  Without threadpoolctl, or where no BLAS library is
found, :func:`serial_blas` does nothing.  The limit is a request: OpenBLAS 0.3.31
was seen to ignore it when set from a thread other than the main one after BLAS
had run on several threads; the GEMMs then use BLAS's threads too (slower, the
same results).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from ._memory import cpu_count, one_core

_lock = threading.Lock()
_state: dict[str, Any] = {"depth": 0, "limiter": None}


@lru_cache(maxsize=1)
def _controller() -> Any:
    try:
        import numpy  # noqa: F401  - its BLAS must be loaded to be found
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    controller = ThreadpoolController().select(user_api="blas")
    return controller if controller.lib_controllers else None


@contextmanager
def serial_blas() -> Iterator[None]:
    """BLAS libraries use one thread inside this block (process-wide, counted)."""
    with _lock:
        if _state["depth"] == 0:
            controller = _controller()
            _state["limiter"] = None if controller is None else controller.limit(limits=1)
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["limiter"] is not None:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None


def blas_threads() -> int | None:
    """Threads of the first BLAS library found now (None without one): for tests."""
    controller = _controller()
    return None if controller is None else controller.lib_controllers[0].num_threads


def by_batch(job: Callable[[int, int], None], batch: int, parallel: bool) -> None:
    """``job(lo, hi)`` over batch items ``0 … batch−1``.

    With ``parallel`` and at least one item per core, every core takes an equal
    range of items and runs its whole share — compiled loops and GEMMs — on
    its own thread (:func:`ndconv._memory.one_core` inside, BLAS on one thread);
    otherwise one call covers the batch and its steps use the cores one after another.
    """
    from .methods._numba_kernels import run_jobs

    cores = cpu_count()
    if not parallel or cores < 2 or batch < cores:
        job(0, batch)
        return

    def share(lo: int, hi: int) -> None:
        with one_core():
            job(lo, hi)

    with serial_blas():
        run_jobs(share, (), batch, parallel=True)
