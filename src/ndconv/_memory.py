"""How much memory the machine can give us, read without extra dependencies."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

_CACHE: list[float] = [-1.0, 0.0]  # [time read, bytes]
_CACHE_SECONDS = 0.25


def available_bytes() -> int:
    """Memory available to a new allocation now (MemAvailable on Linux), re-read
    at most every quarter second."""
    now = time.monotonic()
    if now - _CACHE[0] > _CACHE_SECONDS:
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


_local = threading.local()


def cpu_count() -> int:
    """Cores a call in this thread may spread over: the process's, or 1 inside :func:`one_core`."""
    return 1 if on_one_core() else machine_cores()


def on_one_core() -> bool:
    return getattr(_local, "one_core", False)


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
