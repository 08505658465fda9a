"""How much memory the machine can give us, read without extra dependencies."""

from __future__ import annotations

import os
import time
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
def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover
