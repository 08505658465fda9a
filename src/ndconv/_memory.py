"""How much memory the machine can give us, read without extra dependencies."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

_CACHE: list[float] = [-1.0, 0.0]  # [time read, bytes]
_CACHE_SECONDS = 0.25
#: a need at most 1/AMPLE_SHARE of the memory available at a look less than AMPLE_SECONDS
#: ago is answered from that look
AMPLE_SHARE = 16
AMPLE_SECONDS = 5.0


def available_bytes(need: float = 0) -> int:
    """Memory available to a new allocation now (MemAvailable on Linux), re-read
    at most every quarter second — or, for a ``need`` far below what the last look
    found (at most 1/16 of it, less than 5 s ago), not at all.

    Reading /proc/meminfo costs a call after a large engine call (caches cold)
    about 0.1 ms; where calls come more than a quarter second apart (interleaved
    benchmarks, a loop with other work between calls) every call paid it, 1 % of a
    2048² Gaussian and 5 % of a 2048² 3×3 filter.
    """
    now = time.monotonic()
    age = now - _CACHE[0]
    if age > _CACHE_SECONDS and not (age < AMPLE_SECONDS and need * AMPLE_SHARE <= _CACHE[1]):
        _CACHE[0], _CACHE[1] = now, float(_read_available())
    return int(_CACHE[1])


def _read_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


@lru_cache(maxsize=1)
def machine_cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _ThreadState(threading.local):
    """Per-thread flags; the class attribute is every thread's default (a missing
    attribute read through ``getattr(..., default)`` cost each small call 0.3 µs)."""

    one_core = False


_local = _ThreadState()


def cpu_count() -> int:
    """Cores a call in this thread may spread over: the process's, or 1 inside :func:`one_core`."""
    return 1 if on_one_core() else machine_cores()


def on_one_core() -> bool:
    return _local.one_core


@contextmanager
def one_core() -> Iterator[None]:
    """Run the core in this thread only: compiled loops unsplit, one FFT worker, no
    OpenCV (its thread pool is process-wide).  For callers that already keep every
    core busy with calls of their own, such as the tasks of ``ndconv.dask``: nested
    pools would put twice as many threads as cores on the machine."""
    previous = on_one_core()
    _local.one_core = True
    try:
        yield
    finally:
        _local.one_core = previous


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


#: results from this size on start half a page away from their input (see :func:`empty_apart`)
APART_BYTES = 1 << 20
_PAGE = 4096


def empty_apart(shape: tuple[int, ...], dtype, source: np.ndarray) -> np.ndarray:
    """An uninitialised C-order array whose first byte lies half a page (mod 4096)
    away from ``source``'s.

    The compiled loops read their input in place while they write the result.
    Where the result starts a few bytes after the input modulo 1 MiB — which is
    where the heap puts it when the input is the last large allocation before the
    call (``y = convolve(x, k)`` right after ``x`` is made) — every 5×5 row pass ran
    1.6–1.9× slower on this machine (2048² float32: 13.5–15.5 ms against 8.2–8.7 ms
    for the same call with the result 2 KiB further on; OpenCV, which copies rows
    into its own buffers, did not care).  Half a page keeps the two at least 2 KiB
    apart modulo every power of two from 4 KiB on.  The array is a view of a buffer
    one page longer (``owndata`` is False); small results are plain ``numpy.empty``.
    """
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    if n * dtype.itemsize < APART_BYTES or _PAGE % dtype.itemsize:
        return np.empty(shape, dtype)
    buffer = np.empty(n + _PAGE // dtype.itemsize, dtype)
    shift = (source.__array_interface__["data"][0] + _PAGE // 2 - buffer.ctypes.data) % _PAGE
    start = shift // dtype.itemsize
    return buffer[start:start + n].reshape(shape)
